"""A pool of worker processes that run one product each at a time, kept between runs.

``ProductPool`` is what ``iris-image2 --jobs`` (``batch.run_batch``) and the window's Run all
(``inspection_pool``) share: a ``ProcessPoolExecutor`` (never "fork": the caller has threads),
one queue on which the workers post their events, and one event that cancels what they run.

- ``start()`` starts the worker processes in the background, so a first run does not wait for
  their imports; ``run(tasks, ...)`` runs ``PoolTask``s in the caller's thread (one run at a time)
  and returns when each has finished, or when ``cancel`` (a ``CancelToken``) is set.
- Memory: a task is started only when the estimates (``PoolTask.peak_bytes``) of the running
  ones plus its own fit in the available memory; one always runs, even alone too big. The
  biggest go first (their size stands for their time too: the last to end is a small one).
- A worker ends itself when the process that made the pool is gone (killed without a word).
- A worker that dies (killed, out of memory) breaks the executor: its tasks run once more, alone,
  in a new one. Every break makes a new executor, queue and cancel event (a killed worker may
  hold the old queue's lock).
- Stopping (``cancel`` set, or a KeyboardInterrupt in ``run``): the cancel event is set, which
  every task's token sees at its next check (``worker_cancel_token``); tasks get ``stop_grace``
  seconds to return by themselves, then the workers are terminated and ``on_abandoned(index)``
  lets the caller remove what the task left (temporaries, spilled arrays).

In a worker: ``worker_post(*event)`` puts an event on the queue, ``worker_cancel_token()`` is the
run's token, ``set_worker_product(name)`` prefixes the worker's log lines with the product's name
(the lines of products running at once interleave). Log records of the ``iris_gui`` loggers
arrive as ``("log", level, message)`` events.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from .cancel import CancelToken
from .cores import lower_process_priority, set_core_budget
from .pages import keep_freed_memory, use_small_pages

log = logging.getLogger("iris_gui.engine.batch")

#: seconds between two looks at the running tasks, the events and the caller's cancel token
POLL_SECONDS = 0.05
#: what a worker imports when it starts (a forkserver imports them once, for every worker)
ENGINE_MODULES = ("iris_gui.engine.pipeline", "iris_gui.engine.steps", "astropy.io.fits",
                  "astropy.wcs", "drizzle.resample")
#: what the forkserver imports first, before any thread or worker: the workers' memory
FORKSERVER_SETUP = "iris_gui.engine.forkserver_memory"


@dataclass
class PoolTask:
    """``fn(arg)`` in a worker: ``fn`` a module-level function, ``arg`` picklable."""

    fn: Callable[[Any], Any]
    arg: Any
    name: str
    #: the estimated peak memory of the task (``batch.estimate_peak_bytes``)
    peak_bytes: int = 0


# ---- in a worker ------------------------------------------------------------------------------------

_events = None
_cancel_event = None
_product = ""


def worker_post(*event: Any) -> None:
    """Put ``event`` on the run's queue (nothing outside a pool worker)."""
    if _events is not None:
        try:
            _events.put(event)
        except Exception:  # the main process is gone: nothing to tell
            pass


#: the event a task's worker puts last (with the task's number): the queue's feeder thread may
#: deliver a task's events after its result, so the run reads up to this before handling it
TASK_END = "task-end"


def _run_task(call: tuple) -> Any:
    """A task in a worker: ``fn(arg)``, then its end marker on the queue."""
    fn, arg, number = call
    try:
        return fn(arg)
    finally:
        worker_post(TASK_END, number)


class _SharedCancel(CancelToken):
    def __init__(self, event) -> None:
        self._event = event


def worker_cancel_token() -> CancelToken | None:
    """The run's cancel token in a pool worker (None outside one)."""
    return _SharedCancel(_cancel_event) if _cancel_event is not None else None


def set_worker_product(name: str) -> None:
    global _product
    _product = name


class _QueueLog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if _product and not message.startswith(f"{_product}:"):
            message = f"{_product}: {message}"
        worker_post("log", record.levelno, message)


def _exit_with_parent() -> None:
    """End this worker when the process that made the pool is gone (killed: nothing told the
    worker, whose queue would keep it waiting forever)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        with contextlib.suppress(Exception):
            multiprocessing.connection.wait([parent.sentinel])
            os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _init_worker(events, cancel_event, level: int, modules: tuple[str, ...],
                 cores: int | None = None, niceness: int = 0) -> None:
    global _events, _cancel_event
    _exit_with_parent()
    if niceness:  # the window's workers: its GUI thread gets a core first when it wakes
        lower_process_priority(niceness)
    if cores is not None:  # products side by side: each worker's row blocks on its share
        set_core_budget(cores)
    # Ctrl-C reaches the whole process group: the main process decides, through cancel_event
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _events, _cancel_event = events, cancel_event
    use_small_pages()  # products from files: fresh memory without huge pages (pages.py)
    keep_freed_memory()  # the next product works in this one's pages (pages.py)
    root = logging.getLogger("iris_gui")
    root.handlers[:] = [_QueueLog()]
    root.setLevel(level)
    root.propagate = False
    for name in modules:
        with contextlib.suppress(ImportError):  # the task itself says what is missing
            importlib.import_module(name)


def _ready() -> bool:
    return True


@contextlib.contextmanager
def sigint_blocked():
    """Block SIGINT while processes are started: they inherit the mask, so a Ctrl-C to the
    process group cannot hit a worker before it ignores it (the main process gets it after)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    saved = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, saved)


# ---- the forkserver ---------------------------------------------------------------------------------

FORKSERVER = "forkserver"


def forkserver_usable() -> bool:
    """POSIX, and not a frozen bundle (its program does not take Python's ``-c``, which is how
    multiprocessing starts a forkserver)."""
    return (FORKSERVER in multiprocessing.get_all_start_methods()
            and not getattr(sys, "frozen", False))


def pool_start_method() -> str:
    """"forkserver" where it can start (a worker is ready in milliseconds, also after a cancel
    ended the workers), else "spawn"."""
    return FORKSERVER if forkserver_usable() else "spawn"


def forkserver_preload(modules: Sequence[str]) -> list[str]:
    """The forkserver's preload list: its memory setup first (``FORKSERVER_SETUP``), then
    ``modules``."""
    return [FORKSERVER_SETUP, *(name for name in modules if name != FORKSERVER_SETUP)]


def start_forkserver(modules: Sequence[str] = ENGINE_MODULES) -> None:
    """Start the forkserver that workers are forked from, importing ``modules`` once in a
    process of its own, so it does so while the caller still plans its run; a server already
    running is left as it is (the preload list is taken when the server starts). It inherits a
    blocked SIGINT, as workers do. Nothing where there is no forkserver (``forkserver_usable``)."""
    if not forkserver_usable():
        return
    from multiprocessing import forkserver

    if getattr(forkserver._forkserver, "_forkserver_pid", None) is not None:
        return
    multiprocessing.get_context(FORKSERVER).set_forkserver_preload(forkserver_preload(modules))
    with sigint_blocked():
        forkserver.ensure_running()


# ---- memory ------------------------------------------------------------------------------------------

def available_memory() -> int:
    """Bytes the system can give without swapping (MemAvailable; free pages if not known)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**62


def fitting_at_once(estimates: list[int], available: int) -> int:
    """How many of the biggest tasks fit in ``available`` together (at least 1)."""
    total, count = 0, 0
    for estimate in sorted(estimates, reverse=True):
        total += estimate
        if total > available:
            break
        count += 1
    return max(1, count)


# ---- in the caller -----------------------------------------------------------------------------------

class ProductPool:
    """Worker processes kept between runs (see the module docstring).

    ``start_method``: "spawn" (every worker imports the engine itself) or "forkserver" (one
    server process imports it once and forks each worker from itself: a worker is ready in a few
    milliseconds, also after a cancel ended the workers; POSIX only).
    """

    def __init__(self, workers: int, *, start_method: str = "spawn", level: int = logging.INFO,
                 stop_grace: float = 10.0, modules: Sequence[str] = ENGINE_MODULES,
                 worker_cores: int | None = None, niceness: int = 0) -> None:
        self.workers = max(1, int(workers))
        #: the workers' scheduling niceness above the caller's (0: as the caller)
        self.niceness = niceness
        #: each worker's core budget (``cores``; None: every core, as any process)
        self.worker_cores = worker_cores
        self.level = level
        self.stop_grace = stop_grace
        self.modules = tuple(modules)
        self.context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self.context.set_forkserver_preload(forkserver_preload(self.modules))
        self._lock = threading.RLock()
        self._executor: ProcessPoolExecutor | None = None
        self._events = None
        self._cancel_event = None
        self._closed = False
        self._ended: set[int] = set()  # tasks whose end marker was read
        self._numbers = itertools.count()

    # ---- the executor and its queue, made again after a break ------------------------------------
    def _executor_now(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("the product pool is shut down")
            if self._executor is not None and getattr(self._executor, "_broken", False):
                self._discard_executor()
            if self._executor is None:
                with sigint_blocked():  # the queue starts multiprocessing's resource tracker
                    self._events = self.context.Queue()
                    self._cancel_event = self.context.Event()
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=self.context, initializer=_init_worker,
                    initargs=(self._events, self._cancel_event, self.level, self.modules,
                              self.worker_cores, self.niceness))
            return self._executor

    def _discard_executor(self) -> None:
        executor, events = self._executor, self._events
        self._executor = self._events = self._cancel_event = None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        if events is not None:
            events.close()
            events.cancel_join_thread()

    def _submit(self, fn, arg) -> Future:
        executor = self._executor_now()
        with sigint_blocked():  # the executor starts its workers as work is submitted
            return executor.submit(fn, arg)

    def start(self) -> threading.Thread:
        """Start the worker processes in a background thread (returned); a run started meanwhile
        uses them as they come."""
        def start_workers() -> None:
            try:
                futures = [self._submit(_ready, None) for _ in range(self.workers)]
                wait(futures)
            except Exception:  # shut down meanwhile, or broken: the next run says so
                log.debug("product pool: workers not started", exc_info=True)

        thread = threading.Thread(target=start_workers, name="iris-gui-pool-start", daemon=True)
        thread.start()
        return thread

    @property
    def processes(self) -> list:
        """The live worker processes (for tests and diagnostics)."""
        executor = self._executor
        found = list(getattr(executor, "_processes", {}).values()) if executor else []
        return [p for p in found if p.is_alive()]

    def shutdown(self) -> None:
        """End the workers (call when no run is going on; a run is stopped first by its
        token)."""
        with self._lock:
            self._closed = True
            executor, events = self._executor, self._events
            self._executor = self._events = self._cancel_event = None
        if executor is not None:
            processes = list(getattr(executor, "_processes", {}).values())
            executor.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.join(5.0)
                if process.is_alive():
                    process.terminate()
        if events is not None:
            events.close()
            events.cancel_join_thread()

    # ---- a run -----------------------------------------------------------------------------------------
    def _drain(self, on_event: Callable[[tuple], None], until: set[int] | None = None,
               timeout: float = 2.0) -> None:
        """Hand the queued events to ``on_event``; with ``until``, wait (at most ``timeout``)
        for those tasks' end markers, so none of their events comes after their result."""
        events = self._events
        deadline = time.monotonic() + timeout
        while events is not None:
            waiting = bool(until) and time.monotonic() < deadline
            try:
                event = events.get(timeout=0.05) if waiting else events.get_nowait()
            except queue.Empty:
                if waiting:
                    continue
                return
            except (OSError, EOFError, ValueError):
                return
            if event and event[0] == TASK_END:
                self._ended.add(event[1])
                if until:
                    until.difference_update(self._ended)
                continue
            on_event(event)

    def run(self, tasks: Sequence[PoolTask], *,
            on_event: Callable[[tuple], None] | None = None,
            on_done: Callable[[int, Future], None] | None = None,
            on_abandoned: Callable[[int], None] | None = None,
            cancel: CancelToken | None = None, available: int | None = None) -> bool:
        """Run ``tasks`` ``workers`` at a time (fewer when memory says so), the biggest first.

        ``on_done(index, future)`` for each task that returned or raised (a task whose worker
        died once is run again first, alone); ``on_event(event)`` for the workers' events;
        ``on_abandoned(index)`` for each task stopped in the middle (its worker died before a
        retry, or a stop ended it). All three are called in this thread. True when every task
        ran; False when ``cancel`` stopped the run. A KeyboardInterrupt stops it too, then goes
        on once the workers are stopped.
        """
        on_event = on_event or (lambda event: None)
        on_done = on_done or (lambda index, future: None)
        on_abandoned = on_abandoned or (lambda index: None)
        available = available_memory() if available is None else available
        pending = sorted(range(len(tasks)), key=lambda i: -tasks[i].peak_bytes)
        running: dict[Future, int] = {}
        broken = alone = False
        retried: set[int] = set()  # tasks whose worker died once: run again, alone
        numbers: dict[int, int] = {}  # task index -> the number its end marker carries
        try:
            while pending or running:
                if cancel is not None and cancel.cancelled:
                    self._stop(running, on_event, on_done, on_abandoned, self.stop_grace)
                    return False
                if broken and not running:  # a worker died: a new executor (and queue)
                    self._drain(on_event)
                    with self._lock:
                        self._discard_executor()
                    broken = False
                used = sum(tasks[i].peak_bytes for i in running.values())
                while not broken and pending and len(running) < self.workers and (
                        not running or used + tasks[pending[0]].peak_bytes <= available) and not (
                        running and (pending[0] in retried or alone)):
                    index = pending.pop(0)
                    alone = index in retried
                    used += tasks[index].peak_bytes
                    number = next(self._numbers)
                    numbers[index] = number
                    running[self._submit(_run_task, (tasks[index].fn, tasks[index].arg,
                                                     number))] = index
                done, _ = wait(list(running), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                returned = {numbers[running[f]] for f in done
                            if not isinstance(f.exception(), BrokenProcessPool)}
                self._drain(on_event, until=returned - self._ended)
                for future in done:
                    index = running.pop(future)
                    died = isinstance(future.exception(), BrokenProcessPool)
                    broken = broken or died
                    if died and index not in retried:  # maybe not its fault: once more, alone
                        retried.add(index)
                        pending.insert(0, index)
                        on_abandoned(index)
                        log.warning("%s: its worker process died; running it again, alone",
                                    tasks[index].name)
                        on_event(("retry", tasks[index].name))
                        continue
                    on_done(index, future)
                if not running:
                    alone = False
        except BaseException:
            self._stop(running, on_event, on_done, on_abandoned, self.stop_grace)
            raise
        return True

    def _stop(self, running: dict[Future, int], on_event, on_done, on_abandoned,
              grace: float) -> None:
        """Stop the running tasks: the cancel event, ``grace`` seconds to return by themselves,
        then their workers are ended (and the executor made again at the next run)."""
        if self._cancel_event is not None:
            self._cancel_event.set()
        for future in running:
            future.cancel()
        deadline = time.monotonic() + grace
        try:
            while any(not f.done() for f in running) and time.monotonic() < deadline:
                wait(list(running), timeout=min(POLL_SECONDS, grace))
                self._drain(on_event)
        except BaseException:  # a second Ctrl-C: stop waiting
            pass
        stuck = [f for f in running if not f.done()]
        for future, index in running.items():
            if future.done() and not future.cancelled() and future not in stuck:
                on_done(index, future)
        with self._lock:
            executor = self._executor
            if stuck and executor is not None:
                processes = list(getattr(executor, "_processes", {}).values())
                for process in processes:
                    if process.is_alive():
                        process.terminate()
                for process in processes:
                    process.join(0.5)
                self._discard_executor()  # its queue may be held by a worker that was ended
            elif self._cancel_event is not None:
                self._cancel_event.clear()  # every task returned: the workers serve on
        for future in stuck:
            on_abandoned(running[future])
