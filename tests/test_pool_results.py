"""The window's pool without the window: results spilled by a worker and restored lazily are the
in-process run's, are cached as if run here, and a cancel stops the pool within a second leaving
nothing behind (engine.pool_results, engine.inspection_pool, engine.product_pool)."""

from __future__ import annotations

import gc
import os
import threading
import time

import numpy as np
import pytest
from result_compare import assert_same_result

from iris_gui.engine.association import load_inputs
from iris_gui.engine.cancel import CancelToken
from iris_gui.engine.inspection_pool import InspectionPool, pool_candidates
from iris_gui.engine.pipeline import Image2Pipeline, PipelineCallbacks
from iris_gui.engine.pool_results import (
    OWNER_FILE,
    SPILL_MIN_BYTES,
    SpillFolder,
    is_spilled,
    release_arrays,
    restore_result,
    result_arrays,
    spill_result,
)
from iris_gui.engine.product_pool import PoolTask, ProductPool


@pytest.fixture(scope="module")
def products(demo_dataset):
    return load_inputs(demo_dataset.asn).products


@pytest.fixture(scope="module")
def pool():
    pool = InspectionPool(2)
    yield pool
    pool.shutdown()
    assert pool.spill.removed and not os.path.exists(pool.spill.path)


def test_a_spilled_result_restores_the_same_bytes_lazily_and_its_files_go_with_it(
        products, tmp_path):
    product = products[0]
    result = Image2Pipeline(cache=False).run_product(product)
    spilled = spill_result(result, 0, str(tmp_path / "job"))
    big = [a for a in result_arrays(result) if a.nbytes >= SPILL_MIN_BYTES]
    # distinct arrays only: the steps that leave an array share it, and so do the files
    assert len(spilled.files) == len({id(a) for a in big}) < len(big)
    assert len(spilled.payload) < 1 << 20  # headers and small things; the pixels are in files

    restored = restore_result(spilled, product)
    assert restored.product is product
    assert_same_result(restored, result)
    assert is_spilled(restored) and not is_spilled(result)
    data = restored.input_model.data
    assert not data.flags.writeable  # mapped read-only: nothing can change a cached result
    # what the worker shared is shared again (one mapping, one array object)
    assert restored.steps["assign_wcs"].model.data is restored.steps["bkg_subtract"].model.data
    assert release_arrays(restored) == len(spilled.files)
    assert restored.input_model.data.tobytes() == result.input_model.data.tobytes()  # read again

    del restored, data
    gc.collect()
    assert sorted(os.listdir(tmp_path / "job")) == []  # each file went with its last array


def test_pool_results_are_the_in_process_run_and_are_cached_as_if_run_here(products, pool):
    pipeline = Image2Pipeline(cache=True)
    assert pool_candidates(pipeline, products, pipeline.config) == products
    events, results = [], []
    callbacks = PipelineCallbacks(
        product_start=lambda p, i, n: events.append(("start", p.name)),
        step_start=lambda p, s: events.append(("step", p.name, s.name)),
        step_done=lambda p, s, r: events.append(("done", p.name, s.name, r.status, r.model)),
        product_done=results.append)
    assert pool.run(pipeline, products, pipeline.config, callbacks) is True
    assert sorted(r.product.name for r in results) == sorted(p.name for p in products)
    assert all(any(r.product is p for p in products) for r in results)  # the caller's objects
    done = [e for e in events if e[0] == "done"]
    assert len(done) == 7 * len(products) and all(e[4] is None for e in done)  # no arrays yet
    assert sum(1 for e in events if e[0] == "start") == len(products)

    reference = Image2Pipeline(cache=False)
    for result in results:
        assert_same_result(result, reference.run_product(result.product))
        plans = pipeline.step_plan(result.product)
        assert [p.state for p in plans] == ["cached"] * 7
        assert all(plan.cached.model is result.steps[plan.step].model for plan in plans)
    assert pool_candidates(pipeline, products, pipeline.config) == []
    assert sum(pipeline.executions.values()) == 0  # nothing ran here

    # a change of one parameter then runs here from that step on, reusing the pool's steps
    config = pipeline.config.copy()
    config.set("steps.flat_field.inverse", True)
    again = pipeline.run_product(products[0], config=config)
    assert again.ok and again.steps["dark_current"].from_cache
    assert pipeline.executions["bkg_subtract"] == 0 and pipeline.executions["flat_field"] == 1
    assert again.steps["dark_current"].model is next(
        r for r in results if r.product is products[0]).steps["dark_current"].model


def spill_files(folder) -> set[str]:
    return {os.path.join(d, f) for d, _, files in os.walk(folder) for f in files
            if f != OWNER_FILE}


def files_in_use(result) -> set[str]:
    found = set()
    for array in result_arrays(result):
        base = array
        while base is not None and not isinstance(base, np.memmap):
            base = base.base if isinstance(base, np.ndarray) else None
        if base is not None:
            found.add(base.filename)
    return found


def test_a_failing_product_fails_alone(products, pool, tmp_path):
    broken_file = tmp_path / "broken_rate.fits"
    broken_file.write_bytes(b"SIMPLE  = not a FITS file" + b" " * 3000)
    broken = load_inputs(str(broken_file)).products[0]
    pipeline = Image2Pipeline(cache=True)
    results = []
    assert pool.run(pipeline, [products[1], broken, products[2]], pipeline.config,
                    PipelineCallbacks(product_done=results.append))
    by_name = {r.product.name: r for r in results}
    assert by_name[products[1].name].ok and by_name[products[2].name].ok
    failed = by_name[broken.name]
    assert not failed.ok and "broken_rate.fits" in failed.error
    assert not failed.error.startswith("unexpected")  # the reader's own words, naming the file
    in_use = files_in_use(by_name[products[1].name]) | files_in_use(by_name[products[2].name])
    assert spill_files(pool.spill.path) == in_use  # nothing of the failed one


def test_a_cancel_ends_workers_that_do_not_stop_within_the_grace():
    """Workers that do not look at the cancel event (a task sleeping 60 s) are ended after the
    grace; the pool runs again afterwards (a new executor, a new queue)."""
    pool = ProductPool(2, start_method="forkserver", stop_grace=0.6)
    try:
        pool.start().join()
        cancel = CancelToken()
        abandoned = []
        started = time.monotonic()
        tasks = [PoolTask(time.sleep, 60, f"sleeper {i}") for i in range(3)]

        threading.Timer(0.5, cancel.cancel).start()
        assert pool.run(tasks, on_abandoned=abandoned.append, cancel=cancel) is False
        stopped = time.monotonic() - started - 0.5
        assert stopped < 1.0, f"stopped {stopped:.2f} s after the cancel"
        assert sorted(abandoned) == [0, 1]  # the third never started
        assert not pool.processes  # its workers were ended
        outcome = []
        assert pool.run([PoolTask(abs, -3, "abs")],
                        on_done=lambda i, f: outcome.append(f.result()))
        assert outcome == [3]
    finally:
        pool.shutdown()


def test_cancel_of_a_window_run_reports_the_started_products_and_keeps_no_spill(
        products, tmp_path):
    pool = InspectionPool(2, spill_parent=str(tmp_path))
    try:
        pipeline = Image2Pipeline(cache=True)
        cancel = CancelToken()
        cancelled_at = []
        results = []

        def step_start(product, step):
            if not cancelled_at:
                cancelled_at.append(time.monotonic())
                cancel.cancel()

        callbacks = PipelineCallbacks(step_start=step_start, product_done=results.append)
        assert pool.run(pipeline, products, pipeline.config, callbacks, cancel) is False
        assert time.monotonic() - cancelled_at[0] < 1.0
        assert results and all(r.cancelled or r.ok for r in results)
        assert len(results) < len(products)  # those not started are not reported
        kept = set().union(*(files_in_use(r) for r in results if r.ok))
        assert spill_files(pool.spill.path) == kept
        del results
        gc.collect()
        assert spill_files(pool.spill.path) == set()
    finally:
        pool.shutdown()
    assert os.listdir(tmp_path) == []


def test_a_killed_windows_spill_folder_goes_when_the_next_one_is_made(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    abandoned = tmp_path / "iris-gui-spill-abandoned"
    (abandoned / "00001-x").mkdir(parents=True)
    (abandoned / "00001-x" / "0000.npy").write_bytes(b"x" * 100)
    (abandoned / OWNER_FILE).write_text(dead.stdout.strip())  # that process has ended
    alive = tmp_path / "iris-gui-spill-alive"
    alive.mkdir()
    (alive / OWNER_FILE).write_text("1")  # init: alive
    other = tmp_path / "iris-gui-spill-no-owner"  # being made, or not ours: left alone
    other.mkdir()
    folder = SpillFolder(str(tmp_path))
    try:
        assert not abandoned.exists() and alive.exists() and other.exists()
        assert (tmp_path / os.path.basename(folder.path) / OWNER_FILE).read_text() == \
            str(os.getpid())
    finally:
        folder.remove()
    assert not os.path.exists(folder.path)


POOL_THEN_WAIT = """
import sys, time
from iris_gui.engine.product_pool import ProductPool
pool = ProductPool(2, start_method=sys.argv[1])
pool.start().join()
print(" ".join(str(p.pid) for p in pool.processes), flush=True)
time.sleep(120)
"""


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_workers_end_when_the_process_that_made_the_pool_is_killed(start_method):
    import signal
    import subprocess
    import sys

    maker = subprocess.Popen([sys.executable, "-c", POOL_THEN_WAIT, start_method],
                             stdout=subprocess.PIPE, text=True)
    workers = []
    try:
        workers = [int(pid) for pid in maker.stdout.readline().split()]
        assert len(workers) == 2
        maker.send_signal(signal.SIGKILL)  # no cleanup of any kind
        maker.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(map(running, workers)):
            time.sleep(0.05)
        assert not any(map(running, workers))
    finally:
        if maker.poll() is None:
            maker.kill()
        for pid in filter(running, workers):  # the test failed: leave nothing behind
            os.kill(pid, signal.SIGKILL)


def test_a_frame_the_window_would_drizzle_on_several_processes_gives_the_same_bits(
        tmp_path_factory):
    """At 1024² the window's resample drizzles on every core (blocks whose seams are a few ulp
    off one drizzle call): a pool worker's must cut the same blocks."""
    from iris_gui.engine.demo import write_demo_dataset
    from iris_gui.engine.pool_results import window_resample_workers
    from iris_gui.engine.resample_parallel import worker_count

    dataset = write_demo_dataset(tmp_path_factory.mktemp("demo1024"), size=1024, seed=5)
    product = load_inputs(dataset.asn).products[0]
    assert window_resample_workers(product) == worker_count(1024 * 1024)
    if (os.cpu_count() or 1) >= 2 and hasattr(os, "fork"):
        assert worker_count(1024 * 1024) >= 2  # the case this test is for
    pool = InspectionPool(2)
    try:
        pipeline = Image2Pipeline(cache=True)
        results = []
        assert pool.run(pipeline, [product], pipeline.config,
                        PipelineCallbacks(product_done=results.append))
        assert_same_result(results[0], Image2Pipeline(cache=False).run_product(product))
    finally:
        pool.shutdown()


def test_every_event_of_a_task_is_read_before_its_result_is_handled():
    """A worker's queue delivers its events through a feeder thread, possibly after the task's
    result: the run reads up to the task's end marker first, so a last message (a product's
    error line) is never lost. Big events make the feeder the slow one."""
    from iris_gui.engine.product_pool import worker_post

    pool = ProductPool(2, start_method="forkserver", stop_grace=0.6)
    try:
        events, order = [], []
        tasks = [PoolTask(worker_post, ("log", 40, f"{i}:" + "x" * 4_000_000), f"task {i}")
                 for i in range(4)]
        def on_event(event):  # worker_post(arg) posts the event (arg,)
            if isinstance(event[0], tuple) and event[0][0] == "log":
                events.append(event[0][2][:2])
                order.append(f"event {event[0][2][0]}")

        assert pool.run(tasks, on_event=on_event, on_done=lambda i, f: order.append(f"done {i}"))
        assert sorted(events) == ["0:", "1:", "2:", "3:"]
        for i in range(4):  # each task's event before its result
            assert order.index(f"event {i}") < order.index(f"done {i}")
    finally:
        pool.shutdown()


def test_the_windows_workers_run_below_the_window_and_the_jobs_workers_as_the_caller():
    """With two products calibrating on two cores, the window's GUI thread must get a core
    first when it wakes: its pool's workers are niced; --jobs workers (no window) are not."""
    from iris_gui.engine.inspection_pool import WORKER_NICENESS, InspectionPool

    here = os.nice(0)
    window = InspectionPool(1)
    jobs = ProductPool(1, start_method="forkserver", stop_grace=0.6)
    try:
        seen = {}
        for name, pool in (("window", window.pool), ("jobs", jobs)):
            assert pool.run([PoolTask(os.nice, 0, "niceness")],
                            on_done=lambda i, f, name=name: seen.setdefault(name, f.result()))
        assert WORKER_NICENESS == 10
        assert seen == {"window": min(19, here + WORKER_NICENESS), "jobs": here}
    finally:
        window.shutdown()
        jobs.shutdown()
