"""A run from files allocates fresh memory without numpy's huge-page advice (engine.pages)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from factories import mapping_flags

from iris_gui.engine import pages, product_pool


def huge_page_advice() -> bool:
    setter = pages._setter()
    previous = setter(True)
    setter(previous)
    return previous


@pytest.fixture
def no_user_setting(monkeypatch):
    monkeypatch.delenv(pages.ENV, raising=False)
    setter = pages._setter()
    previous = setter(True)  # numpy's default on Linux
    yield
    setter(previous)


def test_a_run_turns_the_advice_off_and_puts_it_back(no_user_setting):
    with pages.small_pages():
        assert os.environ[pages.ENV] == "0"  # for the processes the run starts
        assert huge_page_advice() is False
    assert pages.ENV not in os.environ
    assert huge_page_advice() is True


def test_the_user_s_own_setting_wins(no_user_setting, monkeypatch):
    monkeypatch.setenv(pages.ENV, "1")
    with pages.small_pages():
        assert huge_page_advice() is True
    assert os.environ[pages.ENV] == "1"


def test_the_command_line_runs_without_the_advice_and_leaves_the_caller_as_it_was(
        no_user_setting, tmp_path, monkeypatch):
    from iris_gui import cli
    from iris_gui.engine.demo import write_demo_dataset

    seen = []
    real = cli._run_configured
    monkeypatch.setattr(cli, "_run_configured", lambda *args: (
        seen.append((os.environ.get(pages.ENV), huge_page_advice())), real(*args))[1])
    demo = write_demo_dataset(tmp_path / "demo", size=64, seed=2)
    assert cli.main([str(demo.asn), "--output-dir", str(tmp_path / "out"), "-q"]) == 0
    assert seen == [("0", False)]
    assert pages.ENV not in os.environ and huge_page_advice() is True


def _advice_in_worker(_arg) -> tuple[str | None, bool]:
    return os.environ.get(pages.ENV), huge_page_advice()


def test_the_window_s_pool_workers_run_without_the_advice(no_user_setting):
    """The workers turn the advice off themselves, whatever the process that starts them
    does."""
    from iris_gui.engine.product_pool import PoolTask, ProductPool

    done = {}
    pool = ProductPool(1, modules=())
    try:
        pool.run([PoolTask(_advice_in_worker, None, "a")],
                 on_done=lambda index, future: done.update({index: future.result()}))
    finally:
        pool.shutdown()
    assert done == {0: ("0", False)}
    assert huge_page_advice() is True  # this process as it was


def resident_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_small_page_bytes_are_never_advised_huge_pages_and_go_when_the_last_view_goes(
        no_user_setting):
    assert huge_page_advice()  # numpy advises huge pages for its own arrays here
    assert "nh" not in mapping_flags(np.ones(1 << 23, np.uint8))
    block = pages.small_page_bytes(64 << 20)
    assert block.dtype == np.uint8 and block.shape == (64 << 20,) and block.flags.writeable
    assert "nh" in mapping_flags(block)
    assert not block.any()  # untouched memory reads as zero
    before = resident_mb()
    block[:] = 7
    frame = block[16:].view(np.float32)[: 1 << 20]  # a view, as pickle.loads makes them
    del block
    assert resident_mb() - before > 60 and frame.base is not None
    del frame
    assert resident_mb() - before < 4  # unmapped with the last view
    assert pages.small_page_bytes(0).shape == (0,)


def _resident_after_a_freed_array(keep: bool) -> float:
    if keep:
        assert pages.keep_freed_memory()
    frame = np.ones(64 << 20, np.uint8)
    before = resident_mb()
    del frame
    return before - resident_mb()  # MB given back to the kernel by the free


def test_a_process_that_keeps_freed_memory_gives_nothing_back_and_one_that_does_not_does():
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # glibc's settings are per process
    with context.Pool(1) as pool:
        given_back = pool.apply(_resident_after_a_freed_array, (False,))
    with context.Pool(1) as pool:
        kept = pool.apply(_resident_after_a_freed_array, (True,))
    assert given_back > 60 and kept < 4


def _given_back_in_worker(_arg) -> float:
    return _resident_after_a_freed_array(False)


def test_the_pool_s_workers_keep_their_freed_memory_for_the_next_product():
    from iris_gui.engine.product_pool import PoolTask, ProductPool

    done = {}
    pool = ProductPool(1, modules=())
    try:
        pool.run([PoolTask(_given_back_in_worker, None, "a")],
                 on_done=lambda index, future: done.update({index: future.result()}))
    finally:
        pool.shutdown()
    assert done[0] < 4


def _given_back_in_a_thread(_arg) -> float:
    import threading

    given_back = []
    thread = threading.Thread(target=lambda: given_back.append(_resident_after_a_freed_array(False)))
    thread.start()
    thread.join()
    return given_back[0]


@pytest.mark.skipif(not product_pool.forkserver_usable(), reason="POSIX: workers from a forkserver")
def test_workers_from_the_forkserver_keep_what_any_of_their_threads_frees():
    """A thread has a heap of its own that gives back a wholly free 64 MB block whatever
    keep_freed_memory says (a Dask worker runs its products in such a thread); the forkserver
    sets every worker's threads to the main heap before it forks them."""
    done = {}
    pool = product_pool.ProductPool(1, start_method="forkserver", modules=())
    try:
        pool.run([product_pool.PoolTask(_given_back_in_a_thread, None, "a")],
                 on_done=lambda index, future: done.update({index: future.result()}))
    finally:
        pool.shutdown()
    assert done[0] < 4


def test_the_forkserver_imports_its_memory_setup_first_and_once():
    setup = product_pool.FORKSERVER_SETUP
    assert product_pool.forkserver_preload(["a", setup, "b"]) == [setup, "a", "b"]
    assert product_pool.forkserver_preload(()) == [setup]


def test_a_thread_in_a_spawned_process_with_the_setting_keeps_what_it_frees():
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(1, initializer=_one_heap) as pool:
        kept = pool.apply(_given_back_in_a_thread, (None,))
    with context.Pool(1) as pool:
        given_back = pool.apply(_given_back_in_a_thread, (None,))
    assert given_back > 60 and kept < 4


def _one_heap() -> None:
    assert pages.keep_freed_memory() and pages.one_heap_for_every_thread()


def test_keeping_freed_memory_can_be_turned_off(monkeypatch):
    monkeypatch.setenv(pages.KEEP_ENV, "0")
    assert pages.keep_freed_memory() is False
    assert pages.one_heap_for_every_thread() is False


def test_the_quick_look_process_keeps_its_freed_memory_for_the_next_exposure():
    import inspect

    from iris_gui.engine import quicklook_process

    source = inspect.getsource(quicklook_process._child)
    assert "keep_freed_memory()" in source and source.index("keep_freed_memory()") < \
        source.index("QuickLook(")
