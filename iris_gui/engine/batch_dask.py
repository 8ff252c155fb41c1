"""Many products on a Dask cluster: one ``dask.distributed`` task per product.

``run_dask`` takes the same ``BatchJob``s as ``batch.run_batch`` (the run's output plan was checked
beforehand over the whole run) and submits each to a Dask scheduler: an existing one
(``--scheduler ADDRESS``, the workers reading the inputs and writing the outputs at the same
shared-file-system paths) or a ``LocalCluster`` started for the run (``--dask-local N``: N worker
processes of one thread each on this machine, for Dask's dashboard). Each task runs
``batch.run_job_with``, so a product's files are the same bytes as in a one-process run and are
written whole or not at all by the worker that ran it.

Progress: a task reports the pool's events (product started, step started or done, its log records)
with ``Worker.log_event`` on a topic of its own run; the caller's ``on_event`` gets them in the main
process. Products run the biggest first (their estimated peak memory is the task's priority); Dask's
own worker memory limits stand for the pool's memory check.

Cores: a task's product runs on ``task_cores`` cores (``cores.core_budget``): on a LocalCluster
of N workers, this machine's cores shared by N, as the ``--jobs N`` pool's workers have them;
on a scheduler's workers, one core, Dask's own model (a task per worker thread: give workers more
threads or processes for more products at once). Without it each of the N local workers drizzled
and ran its row blocks on every core, N times too many threads and a drizzle process forked
per product.

Cancelling (Ctrl-C, SIGTERM: the caller's KeyboardInterrupt) sets a ``distributed.Event`` that every
task checks at each of its cancel points (at most every ``CANCEL_POLL`` seconds, one scheduler round
trip); tasks not yet started return at once. The caller waits ``batch.STOP_GRACE`` seconds for the
tasks to stop, cancels what is left, and removes the temporaries of every product not finished,
so nothing half-written stays. A worker that dies is Dask's to retry (its ``allowed-failures``);
a product whose task fails for good is reported failed and the others go on.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable

from .batch import (
    STOP_GRACE,
    BatchJob,
    ProductRecord,
    _sigint_blocked,
    remove_temporaries,
    run_job_with,
)
from .cancel import CancelToken
from .cores import budget, usable_cores
from .errors import InputError
from .product_pool import ENGINE_MODULES, FORKSERVER, forkserver_usable
from .product_pool import start_forkserver as start_pool_forkserver

log = logging.getLogger("iris_gui.engine.batch")

#: the preload module of ``--dask-local``'s workers (memory as the ``--jobs`` pool's workers)
LOCAL_WORKER_SETUP = "iris_gui.engine.dask_local_worker"
#: seconds between two looks at the run's cancel event from a task (each is a round trip)
CANCEL_POLL = 0.25
#: seconds to wait for a scheduler given with --scheduler
CONNECT_TIMEOUT = 15


class DaskUnavailable(InputError):
    """dask.distributed is not installed, or the scheduler cannot be reached."""


def _distributed():
    if importlib.util.find_spec("distributed") is None:
        raise DaskUnavailable("--scheduler and --dask-local need dask.distributed, which is not "
                              "installed: pip install 'iris_gui[dask]' (or: pip install distributed)")
    import distributed

    return distributed


# ---- in the task ---------------------------------------------------------------------------------

class _PolledFlag:
    """A ``distributed.Event`` looked at no more often than every CANCEL_POLL seconds."""

    def __init__(self, event) -> None:
        self._event = event
        self._seen = False
        self._last = 0.0

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self._seen and now - self._last >= CANCEL_POLL:
            self._last = now
            try:
                self._seen = self._event.is_set()
            except Exception:  # the scheduler is gone: the run is over
                self._seen = True
        return self._seen

    def set(self) -> None:
        self._event.set()


class _DaskCancel(CancelToken):
    def __init__(self, event) -> None:
        self._event = _PolledFlag(event)


class _TopicLog(logging.Handler):
    """This task's log records (and only its thread's: a worker may run several tasks) to the
    run's topic."""

    def __init__(self, post: Callable[..., None], product: str) -> None:
        super().__init__()
        self.post, self.product, self.thread = post, product, threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        message = record.getMessage()
        if not message.startswith(f"{self.product}:"):
            message = f"{self.product}: {message}"
        self.post("log", record.levelno, message)


def task_cores(address: str | None, local_workers: int | None) -> int:
    """The cores one task's product may use (module docstring)."""
    if address or not local_workers:
        return 1
    return max(1, usable_cores() // local_workers)


_logging_lock = threading.Lock()
_logging_tasks: list = [0, None]  # tasks running in this process, the logger's state before them


@contextlib.contextmanager
def _task_logging(handler: logging.Handler, level: int):
    """iris_gui's log to ``handler`` only (the client shows these lines; the worker's own log need
    not) while a task runs; the logger is put back as found when the last task of this process
    ends (a worker in the caller's process, ``processes=False``, shares its loggers, and a
    worker's threads run tasks side by side)."""
    logger = logging.getLogger("iris_gui")
    with _logging_lock:
        if _logging_tasks[0] == 0:
            _logging_tasks[1] = (logger.level, logger.propagate)
        _logging_tasks[0] += 1
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    try:
        yield
    finally:
        with _logging_lock:
            logger.removeHandler(handler)
            _logging_tasks[0] -= 1
            if _logging_tasks[0] == 0:
                logger.level, logger.propagate = _logging_tasks[1]


def run_dask_task(job: BatchJob, topic: str, cancel_name: str, level: int,
                  cores: int = 1) -> ProductRecord:
    """One product on a Dask worker, on ``cores`` cores: the task every ``run_dask`` submits."""
    from distributed import Event, get_worker

    worker = get_worker()

    def post(*event) -> None:
        try:
            worker.log_event(topic, list(event))
        except Exception:  # the client is gone: nothing to tell
            pass

    cancel = _DaskCancel(Event(cancel_name))
    if cancel.cancelled:  # the run was stopped before this product started
        return ProductRecord(job.product.name, job.source, "cancelled")
    with _task_logging(_TopicLog(post, job.product.name), level), budget(cores):
        return run_job_with(job, post, cancel)


# ---- in the caller ---------------------------------------------------------------------------------

def local_worker_settings() -> dict:
    """Dask settings for the workers of ``--dask-local``, as the ``--jobs`` pool's workers run:

    - no ``MALLOC_TRIM_THRESHOLD_`` (Dask's nanny sets 65536 in each worker's environment): set
      at all, it turns off glibc's growing mmap threshold, so every frame-sized array (16 MB at
      2048²) is fresh memory from the kernel again instead of reused heap, and on a VM first
      touches cost more than the arithmetic;
    - no statistical profiler sampling the task's thread every 10 ms (the dashboard's Profile
      tab is empty);
    - one product sent to a worker at a time (``worker-saturation`` 1.0; Dask's 1.1 sends a
      worker of one thread two, and a run's last product may wait behind another on a busy
      worker while the other worker has nothing left);
    - where there is one (POSIX), workers forked from a forkserver that has imported Dask and
      the engine once (``start_forkserver``), instead of each spawned worker importing both
      while this process plans the run on the same cores.

    8 products of 2048² on 2 cores, median of 3-4 alternating: 9.96 -> 9.04 s for the first two,
    8.99 -> 8.71 s for the forkserver (not in a frozen bundle: its workers are spawned)."""
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    settings = {"distributed.nanny.pre-spawn-environ": environ,
                "distributed.worker.profile.enabled": False,
                "distributed.scheduler.worker-saturation": 1.0}
    if forkserver_usable():
        settings["distributed.worker.multiprocessing-method"] = FORKSERVER
    return settings


def start_forkserver() -> None:
    """POSIX: the forkserver ``--dask-local``'s workers are forked from, started first, so that
    it imports Dask and the engine (~0.8 s, in a process of its own) while this process imports
    Dask and plans the run (``product_pool.start_forkserver``)."""
    if importlib.util.find_spec("distributed") is None:
        return  # without Dask the run stops with what to install; no server for nothing
    start_pool_forkserver(["distributed", *ENGINE_MODULES])


def _start(distributed, address: str | None, local_workers: int | None, quiet: bool):
    """A client of the scheduler at ``address``, or of a new LocalCluster; (client, cluster)."""
    if address:
        try:
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise DaskUnavailable(f"--scheduler {address}: no Dask scheduler answered "
                                  f"({type(exc).__name__}: {exc})") from None
        except ValueError as exc:
            raise DaskUnavailable(f"--scheduler {address}: not a scheduler address "
                                  f"(e.g. tcp://host:8786): {exc}") from None
        return client, None
    with_dashboard = importlib.util.find_spec("bokeh") is not None
    # the cluster's processes inherit a blocked SIGINT: a Ctrl-C reaches only this process, which
    # stops the run through the cancel event and then closes the cluster
    import dask

    with _sigint_blocked(), dask.config.set(local_worker_settings()):
        start_forkserver()  # already running when ClusterStart made this
        cluster = distributed.LocalCluster(
            n_workers=local_workers, threads_per_worker=1, processes=True,
            dashboard_address=":8787" if with_dashboard else None,
            silence_logs=logging.ERROR,
            # each worker imports the engine as it starts, as the --jobs pool's workers do,
            # instead of during its first product, and keeps the memory it frees for the next
            preload=[*ENGINE_MODULES, LOCAL_WORKER_SETUP])
        client = distributed.Client(cluster)
    if not quiet:
        where = (f"dashboard {client.dashboard_link}" if with_dashboard
                 else "no dashboard: pip install bokeh for Dask's dashboard")
        print(f"iris-image2: Dask LocalCluster of {local_workers} worker(s); {where}",
              file=sys.stderr)
    return client, cluster


class ClusterStart:
    """The scheduler's client (and the LocalCluster) made on a thread of its own, started as soon
    as the options are known, so the cluster comes up while the run reads its inputs and checks
    its output plan. ``get()`` waits for it (raising what starting raised); ``close()`` closes
    what was started if the run ends before using it."""

    def __init__(self, address: str | None, local_workers: int | None, quiet: bool) -> None:
        self._done = threading.Event()
        self._outcome: tuple | None = None
        self._error: BaseException | None = None
        self._taken = False

        def start() -> None:
            try:
                if local_workers and not address:
                    start_forkserver()
                self._outcome = _start(_distributed(), address, local_workers, quiet)
            except BaseException as exc:  # handed to get()
                self._error = exc
            finally:
                self._done.set()

        threading.Thread(target=start, name="iris-dask-start", daemon=True).start()

    def get(self) -> tuple:
        self._done.wait()
        if self._error is not None:
            raise self._error
        self._taken = True
        return self._outcome

    def close(self) -> None:
        """Close the cluster if nobody took it (waits for the start to finish first)."""
        self._done.wait()
        if not self._taken and self._outcome is not None:
            _close(self._outcome[0], self._outcome[1], "")
            self._taken = True


def run_dask(jobs: list[BatchJob], *, address: str | None = None,
             local_workers: int | None = None, level: int = logging.INFO,
             on_event: Callable[[tuple], None] | None = None,
             quiet: bool = False, started: ClusterStart | None = None) -> list[ProductRecord]:
    """Run ``jobs`` on the scheduler at ``address`` or on a new LocalCluster of
    ``local_workers`` processes (or on what ``started`` made); records in job order."""
    distributed = _distributed()
    on_event = on_event or (lambda event: None)
    run_id = uuid.uuid4().hex[:12]
    topic, cancel_name = f"iris-image2-{run_id}", f"iris-image2-cancel-{run_id}"
    if started is not None:
        client, cluster = started.get()
    else:
        client, cluster = _start(distributed, address, local_workers, quiet)
    events: queue.Queue = queue.Queue()
    records: dict[int, ProductRecord] = {}
    futures = {}
    cores = task_cores(address, local_workers)
    cancel_event = None
    try:
        client.subscribe_topic(topic, lambda item: events.put(tuple(item[1])))
        cancel_event = distributed.Event(cancel_name, client=client)
        for index, job in enumerate(jobs):
            future = client.submit(run_dask_task, job, topic, cancel_name, level, cores,
                                   key=f"iris-image2-{run_id}-{index}", pure=False,
                                   priority=job.peak_bytes)
            futures[future] = index
        remaining = dict(futures)
        while remaining:
            time.sleep(0.05)
            _drain(events, on_event)
            for future in [f for f in remaining if f.done()]:
                index = remaining.pop(future)
                records[index] = _outcome(future, jobs[index])
                on_event(("done", records[index]))
        _drain(events, on_event)
    except BaseException:
        if cancel_event is not None:
            try:
                cancel_event.set()
            except Exception:
                pass
        _stop(client, futures, records, jobs)
        _drain(events, on_event)
        raise
    finally:
        _close(client, cluster, topic)
    return [records[i] for i in range(len(jobs))]


def _drain(events: queue.Queue, on_event: Callable[[tuple], None]) -> None:
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return
        on_event(event)


def _outcome(future, job: BatchJob) -> ProductRecord:
    try:
        return future.result()
    except Exception as exc:
        name = type(exc).__name__
        if name == "KilledWorker":
            error = "the Dask workers running it died (killed, or out of memory?)"
        elif name == "CancelledError":
            error = "its Dask task was cancelled"
        else:  # a bug in the task: that product fails, the others go on
            error = f"unexpected internal error in its Dask task: {name}: {exc}"
    log.error("%s: %s", job.product.name, error)
    remove_temporaries(job)
    return ProductRecord(job.product.name, job.source, "failed", error=error)


def _stop(client, futures: dict, records: dict, jobs: list[BatchJob]) -> None:
    """After a cancel: let the tasks see the event and stop, then cancel what is left and
    remove the temporaries of every product not finished."""
    deadline = time.monotonic() + STOP_GRACE
    try:
        while any(not f.done() for f in futures) and time.monotonic() < deadline:
            time.sleep(0.1)
    except BaseException:  # a second Ctrl-C: stop waiting
        pass
    try:
        client.cancel(list(futures), force=True)
    except Exception:
        pass
    for index in futures.values():
        if index not in records:
            remove_temporaries(jobs[index])


def _close(client, cluster, topic: str) -> None:
    try:
        client.unsubscribe_topic(topic)
    except Exception:
        pass
    try:
        client.close(timeout=10)
    except Exception:
        pass
    if cluster is not None:
        try:
            cluster.close(timeout=10)
        except Exception:
            pass
