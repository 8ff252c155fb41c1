"""The quick-look process's pipe: a result's buffers are read straight into writable arrays."""

from __future__ import annotations

import io
import multiprocessing
import pickle
import threading

import numpy as np
from factories import mapping_flags

from iris_gui.engine import pages
from iris_gui.engine.quicklook_process import _receive_buffer


def test_buffers_sent_with_send_bytes_are_read_whole_into_writable_arrays():
    receiver, sender = multiprocessing.Pipe(duplex=False)
    frame = np.arange(600_000, dtype=np.float32).reshape(600, 1000)  # 2.4 MB: several reads
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps({"frame": frame, "name": "e1"}, protocol=5,
                        buffer_callback=buffers.append)

    def send() -> None:  # the pipe holds 64 KiB: the sender must run beside the reader
        sender.send(("result", len(buffers)))
        sender.send_bytes(data)
        for buffer in buffers:
            sender.send_bytes(buffer.raw())
        sender.send(("stopped",))

    writer = threading.Thread(target=send)
    writer.start()
    stream = io.FileIO(receiver.fileno(), "rb", closefd=False)
    assert receiver.recv() == ("result", 1)
    pickled = _receive_buffer(stream)
    arrays = [_receive_buffer(stream) for _ in range(1)]
    got = pickle.loads(pickled, buffers=arrays)
    assert receiver.recv() == ("stopped",)  # the framing is left where Connection expects it
    writer.join()
    np.testing.assert_array_equal(got["frame"], frame)
    assert got["name"] == "e1" and got["frame"].flags.writeable
    got["frame"][0, 0] = -1.0  # writable, as the window's edits need
    assert got["frame"][0, 0] == -1.0


def test_a_result_is_received_into_memory_advised_never_to_get_huge_pages():
    # fresh huge pages took seconds per product on a VM; the window keeps numpy's advice on
    setter = pages._setter()
    previous = setter(True)
    try:
        receiver, sender = multiprocessing.Pipe(duplex=False)
        frame = np.ones((300, 1000), np.float32)
        writer = threading.Thread(target=sender.send_bytes, args=(memoryview(frame).cast("B"),))
        writer.start()
        got = _receive_buffer(io.FileIO(receiver.fileno(), "rb", closefd=False))
        writer.join()
    finally:
        setter(previous)
    np.testing.assert_array_equal(got.view(np.float32).reshape(frame.shape), frame)
    assert "nh" in mapping_flags(got)


def test_the_watch_process_runs_below_the_window_in_priority(tmp_path):
    import os
    import time

    from iris_gui.engine.config import PipelineConfig
    from iris_gui.engine.quicklook import WatchSettings
    from iris_gui.engine.quicklook_process import NICENESS, QuickLookProcess

    (tmp_path / "watched").mkdir()
    process = QuickLookProcess(WatchSettings(str(tmp_path / "watched"), str(tmp_path / "out"),
                                             poll_seconds=0.05), PipelineConfig())
    try:
        expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICENESS)
        deadline = time.monotonic() + 30
        while (os.getpriority(os.PRIO_PROCESS, process.process.pid) != expected
               and time.monotonic() < deadline):
            time.sleep(0.05)
        assert os.getpriority(os.PRIO_PROCESS, process.process.pid) == expected
    finally:
        process.stop(wait=True)
    assert not process.alive


def test_the_next_arrival_is_received_into_the_blocks_of_a_let_go_one():
    from iris_gui.engine.receive_pool import RECEIVE_POOL

    receiver, sender = multiprocessing.Pipe(duplex=False)
    stream = io.FileIO(receiver.fileno(), "rb", closefd=False)
    frames = [np.full((1024, 1024), value, np.float32) for value in (1.0, 2.0)]
    writer = threading.Thread(target=lambda: [sender.send_bytes(memoryview(f).cast("B"))
                                              for f in frames])
    writer.start()
    RECEIVE_POOL.clear()
    first = _receive_buffer(stream)
    address = first.ctypes.data
    del first  # the window let the product go
    second = _receive_buffer(stream)
    writer.join()
    assert second.ctypes.data == address
    np.testing.assert_array_equal(second.view(np.float32), frames[1].ravel())
    del second
    RECEIVE_POOL.clear()
