"""The quick-look in a process of its own, for the window: its GUI thread never waits on it.

Why a process and not a thread: drizzle's resample (and other C code) holds the GIL for half a
second at a time on a 2048² frame, which would freeze the window. The child runs ``QuickLook``
("spawn", never fork: the window has threads) and sends through one pipe:

- ``("row", NightRow)`` whenever a row changes, ``("log", level, text)`` for warnings and
  errors, ``("error", text)`` if the watch cannot go on, and at the end ``("stopped",)``;
- ``("result", n)`` for a calibrated product, followed by its pickle (protocol 5) and the ``n``
  array buffers of it, each as its own message: the receiver reads each straight into a
  buffer of its size (``_receive_buffer``: ``readinto`` from the pipe, the GIL released
  while the kernel copies; the buffer is a block of a product the window let go, when there is
  one: ``receive_pool``) and unpickles without copying (``pickle.loads(..., buffers=...)``).
  ``Connection.recv_bytes`` would not do: it gathers the message in a BytesIO and copies it
  into a bytes object, then into a bytearray — tens of milliseconds per 2048² array with the
  GIL held, which the window's GUI thread waits for (a 2048² product is ~370 MB).

``QuickLookProcess.messages()`` yields those (the results as ``("result", ProductResult)``)
until the child has stopped; ``retry``, ``set_config`` and ``stop`` may be called from any
thread. ``stop`` lets the product being run stop at its next check (nothing of it is written),
and ends the child if it has not stopped within ``STOP_GRACE`` seconds.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import pickle
import queue
import struct
import time
from collections.abc import Iterator

import numpy as np

from .cancel import CancelToken
from .config import PipelineConfig
from .cores import WINDOW_HELPER_NICENESS, lower_process_priority
from .pages import keep_freed_memory, use_small_pages
from .receive_pool import RECEIVE_POOL

#: seconds the child gets to stop by itself
STOP_GRACE = 10.0


class _EventCancel(CancelToken):
    """A CancelToken on a multiprocessing Event (set by the window's process)."""

    def __init__(self, event) -> None:
        self._event = event


class _PipeLog(logging.Handler):
    def __init__(self, send) -> None:
        super().__init__(logging.WARNING)
        self.send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.send(("log", record.levelno, record.getMessage()))
        except Exception:  # noqa: BLE001 - the window has gone: nothing to tell
            pass


#: bytes read from the pipe per call: small enough that the GIL is taken back often
READ_CHUNK = 1 << 20


def _read_exactly(stream: io.FileIO, view: memoryview) -> None:
    filled, size = 0, len(view)
    while filled < size:
        n = stream.readinto(view[filled:filled + READ_CHUNK])  # releases the GIL
        if not n:
            raise EOFError("the quick-look process ended in the middle of a message")
        filled += n


def _receive_buffer(stream: io.FileIO) -> np.ndarray:
    """One ``Connection.send_bytes`` message read into a writable buffer of its own size:
    the frame is a 4-byte big-endian length (-1, then an 8-byte one, beyond 2 GiB)."""
    header = bytearray(4)
    _read_exactly(stream, memoryview(header))
    (size,) = struct.unpack("!i", header)
    if size == -1:
        header = bytearray(8)
        _read_exactly(stream, memoryview(header))
        (size,) = struct.unpack("!Q", header)
    # not bytearray(size): bytearray zero-fills every page with the GIL held (tens of ms for
    # 16 MB); untouched pages are first written by the kernel in read(), GIL released. Blocks
    # of let-go products again (receive_pool), or small pages, never huge ones (pages.py)
    buffer = RECEIVE_POOL.take(size)
    _read_exactly(stream, memoryview(buffer))
    return buffer


def _send_result(connection, result) -> None:
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(result, protocol=5, buffer_callback=buffers.append)
    connection.send(("result", len(buffers)))
    connection.send_bytes(data)
    for buffer in buffers:
        connection.send_bytes(buffer.raw())


#: the child's (and its drizzle workers') scheduling niceness above the window's
NICENESS = WINDOW_HELPER_NICENESS


def _child(connection, control, stop_event, settings, config) -> None:
    import signal

    from ..report.night_checks import night_measurements
    from .quicklook import QuickLook

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the window decides, through stop_event
    lower_process_priority(NICENESS)
    use_small_pages()  # products from files: fresh memory without huge pages (pages.py)
    keep_freed_memory()  # the next exposure works in this one's pages (pages.py)
    root = logging.getLogger("iris_gui")
    root.handlers[:] = [_PipeLog(connection.send)]
    root.setLevel(logging.INFO)
    root.propagate = False
    try:
        quicklook = QuickLook(settings, config, measure=night_measurements,
                              on_row=lambda row: connection.send(("row", row)),
                              on_result=lambda result: _send_result(connection, result))
        quicklook.cancel = _EventCancel(stop_event)
        quicklook.start()
        while not stop_event.is_set():
            while True:
                try:
                    kind, value = control.get_nowait()
                except queue.Empty:
                    break
                if kind == "retry":
                    quicklook.request_retry(value)
                elif kind == "config":
                    quicklook.config = value.copy()
            started = time.monotonic()
            quicklook.poll_once()
            # a poll that ran a product took seconds: look again at once, a new file may wait
            stop_event.wait(max(0.0, settings.poll_seconds - (time.monotonic() - started)))
    except Exception as exc:  # noqa: BLE001 - the window shows it; the child ends
        try:
            connection.send(("error", str(exc)))
        except Exception:  # noqa: BLE001
            pass
    finally:
        try:
            connection.send(("stopped",))
        except Exception:  # noqa: BLE001
            pass
        connection.close()


class QuickLookProcess:
    def __init__(self, settings, config: PipelineConfig) -> None:
        context = multiprocessing.get_context("spawn")
        self._receiver, sender = context.Pipe(duplex=False)
        self._control = context.Queue()
        self._stop = context.Event()
        self.process = context.Process(target=_child, name="iris-quicklook", daemon=True,
                                       args=(sender, self._control, self._stop, settings,
                                             config.copy()))
        self.process.start()
        sender.close()  # the child's end: EOF here once the child has gone

    def messages(self) -> Iterator[tuple]:
        """Every message of the child, until it has stopped (call from one thread)."""
        receiver = self._receiver
        # the Connection reads exactly each message's bytes (no buffering of its own), so the
        # result's buffers can be read from the same pipe between its recv() calls
        stream = io.FileIO(receiver.fileno(), "rb", closefd=False)
        while True:
            try:
                message = receiver.recv()
                if message[0] == "result":
                    data = _receive_buffer(stream)
                    # writable buffers: the arrays made from them are too
                    buffers = [_receive_buffer(stream) for _ in range(message[1])]
                    message = ("result", pickle.loads(data, buffers=buffers))
                    # the next exposure's memory, touched before it is complete
                    RECEIVE_POOL.prepare([buffer.nbytes for buffer in buffers])
            except (EOFError, OSError):
                return
            yield message
            if message[0] == "stopped":
                return

    def retry(self, path: str) -> None:
        self._control.put(("retry", path))

    def set_config(self, config: PipelineConfig) -> None:
        self._control.put(("config", config.copy()))

    def stop(self, wait: bool = True) -> None:
        """Ask the child to stop; with ``wait``, wait for it (ending it after STOP_GRACE)."""
        self._stop.set()
        if wait:
            self.process.join(STOP_GRACE)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(2.0)

    @property
    def alive(self) -> bool:
        return self.process.is_alive()
