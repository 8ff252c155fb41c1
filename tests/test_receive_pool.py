"""The window's received buffers: blocks of let-go products reused, never one still in use."""

from __future__ import annotations

import gc
import pickle
import threading

import numpy as np
import pytest
from factories import mapping_flags

from iris_gui.engine import receive_pool
from iris_gui.engine.receive_pool import MIN_BYTES, ReceivePool

MB = 1 << 20


@pytest.fixture(autouse=True)
def prepare_at_once(monkeypatch):
    monkeypatch.setattr(receive_pool, "PREPARE_DELAY", 0.0)


def received(pool: ReceivePool, array: np.ndarray) -> np.ndarray:
    """``array`` as the window gets it: its bytes copied into a taken buffer and unpickled."""
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(array, protocol=5, buffer_callback=buffers.append)
    raw = buffers[0].raw()
    buffer = pool.take(raw.nbytes)
    buffer[:] = np.frombuffer(raw, np.uint8)
    return pickle.loads(data, buffers=[buffer])


def test_a_block_comes_back_only_when_the_last_array_made_from_it_has_gone():
    pool = ReceivePool(budget=64 * MB)
    frame = received(pool, np.arange(4 * MB // 4, dtype=np.float32).reshape(1024, 1024))
    address = frame.ctypes.data
    corner = frame[:10, :10]  # a view the window keeps (a pane, a cache)
    del frame
    gc.collect()
    assert pool.held_bytes == 0
    assert pool.take(4 * MB).ctypes.data != address  # still in use: never handed out
    del corner
    gc.collect()  # the block just taken went back too
    assert pool.held_bytes == 8 * MB
    taken = [pool.take(4 * MB) for _ in range(2)]
    assert address in {block.ctypes.data for block in taken}
    assert (pool.reused, pool.held_bytes) == (2, 0)


def test_a_let_go_product_s_block_is_the_next_arrival_s_and_holds_the_new_bytes():
    pool = ReceivePool(budget=64 * MB)
    first = received(pool, np.full((1024, 1024), 1.5, np.float32))
    address = first.ctypes.data
    del first
    second = received(pool, np.full((1024, 1024), 2.5, np.float32))
    assert second.ctypes.data == address and (pool.reused, pool.fresh) == (1, 1)
    assert second.flags.writeable and np.all(second == 2.5)
    assert "nh" in mapping_flags(second)  # small pages, as a fresh block's


def test_only_a_request_of_exactly_a_block_s_size_gets_it():
    pool = ReceivePool(budget=64 * MB)
    block = pool.take(4 * MB)
    address = block.ctypes.data
    del block
    other = pool.take(4 * MB + 4096)
    assert other.ctypes.data != address and pool.held_bytes == 4 * MB
    assert pool.take(4 * MB).ctypes.data == address


def test_the_pool_keeps_no_more_than_its_budget_and_small_messages_are_not_kept():
    pool = ReceivePool(budget=10 * MB)
    blocks = [pool.take(4 * MB) for _ in range(3)]
    del blocks
    assert pool.held_bytes == 8 * MB  # the third would exceed 10 MB: unmapped
    small = pool.take(MIN_BYTES - 1)
    del small
    assert pool.held_bytes == 8 * MB
    pool.clear()
    assert pool.held_bytes == 0
    off = ReceivePool(budget=0)
    kept = off.take(4 * MB)
    del kept
    assert off.held_bytes == 0 and off.fresh == 0


def test_the_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(receive_pool.BUDGET_ENV, "12")
    assert ReceivePool().budget == 12 * MB
    monkeypatch.setenv(receive_pool.BUDGET_ENV, "not a number")
    assert ReceivePool().budget == receive_pool.DEFAULT_BUDGET_MB * MB


def test_blocks_may_come_back_from_any_thread():
    pool = ReceivePool(budget=64 * MB)
    blocks = [pool.take(2 * MB) for _ in range(8)]

    def let_go(own: list) -> None:
        own.clear()

    halves = [blocks[:4], blocks[4:]]
    del blocks
    threads = [threading.Thread(target=let_go, args=(half,)) for half in halves]
    del halves
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pool.held_bytes == 16 * MB
    taken = [pool.take(2 * MB) for _ in range(8)]
    assert pool.reused == 8 and pool.held_bytes == 0
    assert len({block.ctypes.data for block in taken}) == 8


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_prepare_touches_blocks_for_one_more_product_that_the_next_takes_use():
    pool = ReceivePool(budget=64 * MB)
    before = resident_mb()
    pool.prepare([4 * MB, 4 * MB, 2 * MB, 100])  # the small message is not kept
    pool.wait_prepared(30)
    assert pool.held_bytes == 10 * MB
    assert resident_mb() - before > 9  # touched: resident before any arrival writes them
    taken = [pool.take(4 * MB), pool.take(4 * MB), pool.take(2 * MB)]
    assert (pool.reused, pool.fresh, pool.held_bytes) == (3, 0, 0)
    assert all("nh" in mapping_flags(block) for block in taken)
    del taken
    pool.prepare([4 * MB, 4 * MB, 2 * MB])  # already kept: nothing more is made
    pool.wait_prepared(30)
    assert pool.held_bytes == 10 * MB


def test_prepare_stays_within_the_budget_and_clear_drops_what_it_still_makes(monkeypatch):
    pool = ReceivePool(budget=10 * MB)
    pool.prepare([4 * MB] * 4)
    pool.wait_prepared(30)
    assert pool.held_bytes == 8 * MB
    pool.clear()
    touching, cleared = threading.Event(), threading.Event()
    real_touch = receive_pool._touch

    def slow_touch(block) -> None:
        touching.set()
        cleared.wait(30)
        real_touch(block)

    monkeypatch.setattr(receive_pool, "_touch", slow_touch)
    pool.prepare([4 * MB] * 2)
    assert touching.wait(30)
    pool.prepare([2 * MB])  # one preparation at a time: ignored
    pool.clear()  # the watch stopped while a block was being made
    cleared.set()
    pool.wait_prepared(30)
    assert pool.held_bytes == 0 and not pool._free


def test_a_block_still_in_use_when_the_pool_is_cleared_is_not_kept_when_it_goes():
    pool = ReceivePool(budget=64 * MB)
    shown = pool.take(4 * MB)  # a product still on screen when the watch stops
    pool.clear()
    del shown
    assert pool.held_bytes == 0 and not pool._free


def test_a_preparation_waits_its_delay_and_runs_at_the_idle_scheduling_class(monkeypatch):
    import os
    import time

    monkeypatch.setattr(receive_pool, "PREPARE_DELAY", 0.3)
    seen = {}

    def touch(block) -> None:
        seen["after"] = time.monotonic() - started
        seen["policy"] = os.sched_getscheduler(0)

    monkeypatch.setattr(receive_pool, "_touch", touch)
    pool = ReceivePool(budget=64 * MB)
    started = time.monotonic()
    pool.prepare([2 * MB])
    pool.wait_prepared(30)
    assert seen["after"] >= 0.3 and seen["policy"] == os.SCHED_IDLE
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the caller's thread as it was
