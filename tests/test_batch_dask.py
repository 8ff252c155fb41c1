"""iris-image2 --dask-local N / --scheduler ADDRESS: one dask.distributed task per product."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from factories import default_sigint
from test_batch import _with_broken_product, data_bytes

from iris_gui.cli import main
from iris_gui.engine import batch_dask

distributed = pytest.importorskip("distributed", reason="the test extra installs distributed")


def run_cli(*args):
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from iris_gui.engine.demo import write_demo_dataset

    return write_demo_dataset(tmp_path_factory.mktemp("dask_demo"), size=64, seed=3)


@pytest.fixture(scope="module")
def serial_outputs(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    assert run_cli(demo.asn, "--output-dir", out, "-q", "--jobs", 1) == 0
    return out


def start_run(asn, out, *options) -> subprocess.Popen:
    """``iris-image2 ASN OPTIONS`` in its own process group, killed (group and all) if it has
    not ended within three minutes, so a hang fails the test instead of stalling the suite."""
    process = subprocess.Popen(
        [sys.executable, "-m", "iris_gui.cli", str(asn), "--output-dir", str(out),
         *map(str, options)], stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=default_sigint)

    def kill_if_running() -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)

    watchdog = threading.Timer(180, kill_if_running)
    watchdog.daemon = True
    watchdog.start()
    return process


def test_dask_local_outputs_are_the_same_bytes_and_a_broken_product_fails_alone(
        demo, serial_outputs, tmp_path):
    asn = _with_broken_product(demo, tmp_path / "data")
    summary = tmp_path / "run.json"
    process = start_run(asn, tmp_path / "out", "--dask-local", 2, "--summary", summary)
    err = process.stderr.read()
    assert process.wait(timeout=170) == 2, err  # the broken product: bad input
    assert "Dask LocalCluster of 2 worker(s)" in err
    assert "iris_demo: flat_field: COMPLETE" in err  # the workers' events reach the client
    assert "ERROR: broken:" in err and "4/5 product(s) done" in err
    outputs = data_bytes(tmp_path / "out")
    assert len(outputs) == 8 and outputs == data_bytes(serial_outputs)
    assert not list((tmp_path / "out").glob(".iris-*"))
    document = json.loads(summary.read_text())
    statuses = {p["name"]: p["status"] for p in document["products"]}
    assert statuses == {"iris_demo": "done", "broken": "failed", "iris_demo_sub": "done",
                        "iris_demo_submap": "done", "iris_demo_ints": "done"}
    assert [p["name"] for p in document["products"]][:2] == ["iris_demo", "broken"]  # job order


def test_scheduler_runs_the_products_on_an_existing_cluster(demo, serial_outputs, tmp_path,
                                                           capsys):
    out = tmp_path / "out"
    # workers as threads of this process: the run's client connects to it over loopback TCP
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None, protocol="tcp", host="127.0.0.1") as cluster:
        code = run_cli(demo.asn, "--output-dir", out, "--scheduler", cluster.scheduler_address)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "4/4 product(s) done" in err and "iris_demo_ints: resample: COMPLETE" in err
    assert data_bytes(out) == data_bytes(serial_outputs)
    assert logging.getLogger("iris_gui").propagate  # the task put the worker's logging back


def test_no_scheduler_at_the_address_is_one_line(demo, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(batch_dask, "CONNECT_TIMEOUT", 1)
    code = run_cli(demo.asn, "--output-dir", tmp_path, "--scheduler", "tcp://127.0.0.1:9")
    err = capsys.readouterr().err
    assert code == 2
    assert "--scheduler tcp://127.0.0.1:9: no Dask scheduler answered" in err
    assert "Traceback" not in err and not list(tmp_path.iterdir())


@pytest.mark.parametrize("options, message", [
    (["--jobs", "2", "--dask-local", "2"], "--jobs and --dask-local: choose one way"),
    (["--dask-local", "2", "--scheduler", "tcp://h:8786"], "--dask-local and --scheduler"),
    (["--scheduler", "tcp://h:8786", "--report", "rep"], "does not go with --report"),
    (["--scheduler", "localhost"], "give the scheduler's address"),
    (["--dask-local", "0"], "--dask-local"),
])
def test_dask_option_mistakes_are_usage_errors(demo, tmp_path, capsys, options, message):
    assert run_cli(demo.asn, "--output-dir", tmp_path / "out", *options) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_missing_distributed_is_said(monkeypatch):
    monkeypatch.setattr(batch_dask.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(batch_dask.DaskUnavailable, match=r"pip install 'iris_gui\[dask\]'"):
        batch_dask.run_dask([], local_workers=1)


def test_ctrl_c_of_a_dask_run_leaves_nothing_half_written(tmp_path):
    from iris_gui.engine.demo import write_demo_dataset

    dataset = write_demo_dataset(tmp_path / "data", size=512, seed=5)
    out = tmp_path / "out"
    process = start_run(dataset.asn, out, "--dask-local", 2)
    lines = []
    deadline = time.monotonic() + 60
    for line in process.stderr:  # stop it once a product is computing
        lines.append(line)
        if ": bkg_subtract: COMPLETE" in line or time.monotonic() > deadline:
            break
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    rest = process.stderr.read()
    code = process.wait(timeout=60)
    assert code == 130, "".join(lines) + rest
    assert time.monotonic() - started < 20
    assert not list(out.glob(".iris-*")) if out.exists() else True
    names = sorted(p.name for p in out.glob("*.fits")) if out.exists() else []
    # whole products only: each product's _cal/_calints goes with its _i2d
    cals = {n.rsplit("_", 1)[0] for n in names if not n.endswith("_i2d.fits")}
    i2ds = {n[:-len("_i2d.fits")] for n in names if n.endswith("_i2d.fits")}
    assert cals == i2ds, names
    assert len(names) < 8, "the run was not stopped"


class _Closable:
    def __init__(self, calls: list, name: str) -> None:
        self.calls, self.name = calls, name

    def unsubscribe_topic(self, topic) -> None:
        pass

    def close(self, timeout=None) -> None:
        self.calls.append(self.name)


def test_an_early_cluster_is_closed_when_the_run_ends_before_using_it(demo, tmp_path,
                                                                      monkeypatch, capsys):
    """The cluster starts while the run is planned; a run that stops at a bad input closes it."""
    calls: list = []
    monkeypatch.setattr(batch_dask, "_start", lambda *args: (_Closable(calls, "client"),
                                                             _Closable(calls, "cluster")))
    code = run_cli(tmp_path / "missing_asn.json", "--output-dir", tmp_path / "out",
                   "--dask-local", 2)
    assert code != 0
    assert "missing_asn.json" in capsys.readouterr().err
    assert calls == ["client", "cluster"]


def test_an_early_cluster_that_failed_to_start_says_why_when_the_run_needs_it(monkeypatch):
    def fails(*args):
        raise batch_dask.DaskUnavailable("--scheduler tcp://nowhere:1: no Dask scheduler answered")

    monkeypatch.setattr(batch_dask, "_start", fails)
    started = batch_dask.ClusterStart("tcp://nowhere:1", None, True)
    with pytest.raises(batch_dask.DaskUnavailable, match="no Dask scheduler answered"):
        started.get()
    started.close()  # nothing was started: nothing to close, no error


def test_an_early_cluster_taken_by_the_run_is_not_closed_twice(monkeypatch):
    calls: list = []
    monkeypatch.setattr(batch_dask, "_start", lambda *args: (_Closable(calls, "client"),
                                                             _Closable(calls, "cluster")))
    started = batch_dask.ClusterStart(None, 2, True)
    client, cluster = started.get()
    started.close()
    assert calls == []  # run_dask closes what it took


def test_a_task_runs_its_product_on_its_share_of_the_cores(monkeypatch):
    """A LocalCluster of N workers shares this machine's cores N ways, as --jobs N does; a
    scheduler's workers give each task one core (a task per worker thread)."""
    from iris_gui.engine import cores

    monkeypatch.setattr(batch_dask, "usable_cores", lambda: 8)
    assert batch_dask.task_cores(None, 2) == 4
    assert batch_dask.task_cores(None, 3) == 2
    assert batch_dask.task_cores(None, 16) == 1
    assert batch_dask.task_cores("tcp://node:8786", None) == 1

    class Worker:
        def log_event(self, topic, event):
            pass

    class NeverSet:
        def __init__(self, name):
            pass

        def is_set(self):
            return False

    monkeypatch.setattr(distributed, "get_worker", lambda: Worker())
    monkeypatch.setattr(distributed, "Event", NeverSet)
    seen = []
    monkeypatch.setattr(batch_dask, "run_job_with",
                        lambda job, post, cancel: seen.append(cores.core_budget()) or "record")
    monkeypatch.setattr(cores, "usable_cores", lambda: 8)
    cores.set_core_budget(None)
    logger = logging.getLogger("iris_gui")
    logging_before = (logger.level, logger.propagate, list(logger.handlers))

    class Job:
        class product:
            name = "p"
        source = "asn"

    assert batch_dask.run_dask_task(Job, "topic", "cancel", 20, 3) == "record"
    assert seen == [3]
    assert cores.core_budget() == 8                      # the worker's budget as it was
    assert (logger.level, logger.propagate, logger.handlers) == logging_before  # as it was


def test_tasks_side_by_side_put_the_log_back_when_the_last_ends(monkeypatch):
    """A worker's threads run tasks at once: the first to end must not put the logger back under
    the second, and the last must put back what there was before the first, not what the first
    had set."""
    logger = logging.getLogger("iris_gui")
    monkeypatch.setattr(logger, "level", logging.WARNING)  # a level other than the tasks'
    before = (logger.level, logger.propagate)
    first, second = logging.NullHandler(), logging.NullHandler()
    first_task = batch_dask._task_logging(first, logging.INFO)
    second_task = batch_dask._task_logging(second, logging.INFO)
    first_task.__enter__()
    second_task.__enter__()
    assert not logger.propagate and {first, second} <= set(logger.handlers)
    first_task.__exit__(None, None, None)                # the first ends, the second runs on
    assert not logger.propagate and logger.level == logging.INFO
    assert first not in logger.handlers and second in logger.handlers
    second_task.__exit__(None, None, None)
    assert (logger.level, logger.propagate) == before == (logging.WARNING, True)
    assert second not in logger.handlers


def test_local_workers_keep_glibc_s_heap_and_run_no_profiler(capsys):
    """--dask-local's workers run as the --jobs pool's: without the MALLOC_TRIM_THRESHOLD_ Dask's
    nanny sets (it makes every frame-sized array fresh memory), keeping what they free for the
    next product (engine.dask_local_worker), without huge-page advice and without the profiler's
    10 ms sampling, and are sent one product at a time; the caller's own Dask settings are left
    as they were."""
    import dask

    def freed_array_given_back_mb() -> float:  # nested: Dask sends it by value
        import numpy as np

        def resident_mb() -> float:
            with open("/proc/self/status") as status:
                return int(next(x for x in status if x.startswith("VmRSS:")).split()[1]) / 1024

        frame = np.ones(64 << 20, np.uint8)
        before = resident_mb()
        del frame
        return before - resident_mb()

    before = dask.config.get("distributed.nanny.pre-spawn-environ")
    client, cluster = batch_dask._start(distributed, None, 1, quiet=True)
    try:
        seen = client.run(lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                                   os.environ.get("OMP_NUM_THREADS"),
                                   os.environ.get("NUMPY_MADVISE_HUGEPAGE"),
                                   dask.config.get("distributed.worker.profile.enabled")))
        given_back = client.submit(freed_array_given_back_mb, pure=False).result()
        saturation = client.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.WORKER_SATURATION)
    finally:
        client.close()
        cluster.close()
    assert list(seen.values()) == [(None, "1", "0", False)]
    assert given_back < 4  # a worker without the setting gives back the whole 64 MB
    assert saturation == 1.0
    assert dask.config.get("distributed.nanny.pre-spawn-environ") == before
    assert dask.config.get("distributed.scheduler.worker-saturation") == 1.1  # Dask's own
    assert "MALLOC_TRIM_THRESHOLD_" in before  # Dask's default, which the test is about


@pytest.fixture()
def stand_in_forkserver(monkeypatch):
    """multiprocessing's forkserver replaced by a fresh one whose start only records the
    preload list it would import: (server, [preload list of each start])."""
    from multiprocessing import forkserver

    fresh = forkserver.ForkServer()
    started = []
    monkeypatch.setattr(forkserver, "_forkserver", fresh)
    monkeypatch.setattr(forkserver, "set_forkserver_preload", fresh.set_forkserver_preload)
    monkeypatch.setattr(forkserver, "ensure_running", lambda: started.append(
        list(fresh._preload_modules)))
    return fresh, started


def test_local_workers_fork_from_a_server_that_imported_dask_and_the_engine(
        stand_in_forkserver):
    """POSIX: --dask-local's workers are forked from a forkserver that imported Dask and the
    engine once (not each spawned worker importing both), however the cluster is started."""
    import dask

    from iris_gui.engine.product_pool import ENGINE_MODULES, FORKSERVER_SETUP

    settings = batch_dask.local_worker_settings()
    assert settings["distributed.worker.multiprocessing-method"] == "forkserver"
    fresh, started = stand_in_forkserver

    class Cluster:
        def __init__(self, **kwargs):
            self.environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))

    class Distributed:
        LocalCluster = Cluster

        @staticmethod
        def Client(cluster):  # noqa: N802 - distributed's name
            return "client"

    client, cluster = batch_dask._start(Distributed, None, 2, quiet=True)
    assert started == [[FORKSERVER_SETUP, "distributed", *ENGINE_MODULES]]
    assert "MALLOC_TRIM_THRESHOLD_" not in cluster.environ


def test_the_forkserver_is_started_first_with_the_imports(monkeypatch, stand_in_forkserver):
    """ClusterStart starts the forkserver before it imports Dask, so the server's imports run
    beside this process's; a server already running is not started again."""
    from iris_gui.engine.product_pool import ENGINE_MODULES, FORKSERVER_SETUP

    fresh, started = stand_in_forkserver
    batch_dask.start_forkserver()
    assert started == [[FORKSERVER_SETUP, "distributed", *ENGINE_MODULES]]
    fresh._forkserver_pid = 12345
    batch_dask.start_forkserver()
    assert len(started) == 1

    order = []
    monkeypatch.setattr(batch_dask, "start_forkserver", lambda: order.append("forkserver"))
    monkeypatch.setattr(batch_dask, "_distributed", lambda: order.append("import") or distributed)
    monkeypatch.setattr(batch_dask, "_start", lambda *args: ("client", "cluster"))
    assert batch_dask.ClusterStart(None, 2, True).get() == ("client", "cluster")
    assert order == ["forkserver", "import"]
    order.clear()
    batch_dask.ClusterStart("tcp://h:8786", None, True).get()   # a scheduler's: no forkserver
    assert order == ["import"]


def test_a_frozen_bundle_spawns_its_workers(monkeypatch):
    """A PyInstaller program does not take Python's -c, which is how a forkserver starts."""
    from multiprocessing import forkserver

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(forkserver, "ensure_running", lambda: pytest.fail("started"))
    assert "distributed.worker.multiprocessing-method" not in batch_dask.local_worker_settings()
    batch_dask.start_forkserver()
