"""Many products at once: each one in a worker process, as many at a time as memory allows.

``run_batch`` runs ``BatchJob``s (a product, its parameters, reference and output folders, and the
run's output plan, checked beforehand over the whole run) in a ``ProcessPoolExecutor`` with the
"spawn" context (never fork: the caller may have threads). Each worker runs the same
``Image2Pipeline.run_product`` and ``write_outputs`` as a one-process run, so the files are the
same bytes; each product's files are written whole or not at all by its worker.

Memory: ``estimate_peak_bytes`` reads only headers (NAXIS1/2/3 of SCI of the science and of each
background) and is deliberately generous; a product is started only when the estimates of the
running ones plus its own fit in the available memory (one product always runs, even alone too
big). Cancelling (Ctrl-C, SIGTERM: the caller's KeyboardInterrupt) sets a shared event that every
worker's CancelToken sees; pending products are not started, running ones stop at their next check,
workers that do not stop in time are terminated, and their temporaries are removed.

Workers report through one queue: ("step", product, step, status, seconds) and log records; the
caller's ``on_event`` gets them in the main process (progress display, warnings on stderr).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import time
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field

from .association import Product
from .cancel import CancelToken
from .config import PipelineConfig
from .errors import InputError
from .files import OutputWriteError
from .lazy import fits
from .output_plan import OutputPlan

log = logging.getLogger("iris_gui.engine.batch")

#: bytes per pixel of one image: float32 data, float32 err, uint32 dq
PIXEL_BYTES = 12
#: copies of the science kept while a product runs (one per step result, plus the input)
SCIENCE_COPIES = 8
#: a worker's interpreter with numpy, astropy and scipy imported
WORKER_BASE_BYTES = 250 * 2**20
#: seconds a cancelled worker gets to stop by itself before it is terminated
STOP_GRACE = 10.0


@dataclass
class StepRecord:
    name: str
    status: str
    seconds: float = 0.0
    reason: str = ""


@dataclass
class ProductRecord:
    """What a summary says of one product (picklable: a worker returns it)."""

    name: str
    source: str
    status: str = "pending"    # done, failed, cancelled, skipped (resume)
    seconds: float = 0.0
    steps: list[StepRecord] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str = ""
    error_is_input: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("done", "skipped")

    def to_dict(self) -> dict:
        return asdict(self)


def record_of(result, source: str) -> ProductRecord:
    """The record of a finished ``ProductResult``."""
    status = "cancelled" if result.cancelled else "failed" if result.error else "done"
    steps = [StepRecord(name, step.status, round(step.elapsed, 3), step.reason or "")
             for name, step in result.steps.items()]
    notes = [f"{name}: {message}" for name, step in result.steps.items()
             for message in step.warnings]
    if result.input_model is not None:
        notes = [str(m) for m in result.input_model.read_warnings] + notes
    return ProductRecord(result.product.name, source, status, round(result.elapsed, 3), steps,
                         [str(p) for p in result.outputs], notes, result.error or "",
                         result.error_is_input)


@dataclass
class BatchJob:
    product: Product
    config: PipelineConfig
    ref_dir: str | None
    output_dir: str
    plan: OutputPlan
    source: str
    peak_bytes: int = 0


# ---- memory ------------------------------------------------------------------------------------

def _frame_pixels(path: str) -> int:
    """NAXIS1*NAXIS2*NAXIS3 of the SCI extension (headers only); 0 if unreadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                for name in ("SCI", "DATA"):
                    if name in hdul:
                        header = hdul[name].header
                        naxis = int(header.get("NAXIS", 0))
                        pixels = 1
                        for axis in range(1, min(naxis, 3) + 1):
                            pixels *= int(header.get(f"NAXIS{axis}", 1))
                        return pixels if naxis else 0
    except Exception:  # the run itself says what is wrong with the file
        return 0
    return 0


def estimate_peak_bytes(product: Product, config: PipelineConfig) -> int:
    """A generous estimate of one product's peak memory, from its headers."""
    science = _frame_pixels(product.science) if product.science else 0
    backgrounds = 0
    if not config.steps["bkg_subtract"]["skip"]:
        backgrounds = sum(_frame_pixels(path) for path in product.backgrounds)
    resample = 0 if config.steps["resample"]["skip"] else 2 * science
    return WORKER_BASE_BYTES + PIXEL_BYTES * (SCIENCE_COPIES * science + 2 * backgrounds
                                              + resample)


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
    """How many of the biggest products fit in ``available`` together (at least 1)."""
    total, count = 0, 0
    for estimate in sorted(estimates, reverse=True):
        total += estimate
        if total > available:
            break
        count += 1
    return max(1, count)


# ---- the worker ----------------------------------------------------------------------------------

_events = None
_cancel_event = None


_product = ""  # the product this worker is running, named in its log lines


class _QueueLog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if _product and not message.startswith(f"{_product}:"):
            message = f"{_product}: {message}"  # lines of products running at once interleave
        try:
            _events.put(("log", record.levelno, message))
        except Exception:  # the main process is gone: nothing to tell
            pass


@contextlib.contextmanager
def _sigint_blocked():
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


def _init_worker(events, cancel_event, level: int) -> None:
    global _events, _cancel_event
    # Ctrl-C reaches the whole process group: the main process decides, through cancel_event
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _events, _cancel_event = events, cancel_event
    root = logging.getLogger("iris_gui")
    root.handlers[:] = [_QueueLog()]
    root.setLevel(level)
    root.propagate = False


class _SharedCancel(CancelToken):
    def __init__(self, event) -> None:
        self._event = event


def run_job(job: BatchJob) -> ProductRecord:
    """One product, start to written files, in a pool worker (or in-process for tests)."""
    global _product
    _product = job.product.name

    def post(*event) -> None:
        if _events is not None:
            _events.put(event)

    cancel = _SharedCancel(_cancel_event) if _cancel_event is not None else None
    return run_job_with(job, post, cancel)


def run_job_with(job: BatchJob, post: Callable[..., None],
                 cancel: CancelToken | None, *,
                 on_result: Callable[..., None] | None = None) -> ProductRecord:
    """One product, start to written files; ``post(*event)`` carries its progress events
    (the pool's queue, or a Dask topic) and ``cancel`` stops it. ``on_result(result)`` gets
    the ``ProductResult`` once its files are written (the quick-look shows it)."""
    from .pipeline import Image2Pipeline, PipelineCallbacks

    name = job.product.name

    def step_start(product, step) -> None:
        post("step", name, step.name, "RUNNING", 0.0)

    def step_done(product, step, result) -> None:
        post("step", name, step.name, result.status, result.elapsed)

    started = time.perf_counter()
    post("start", name)
    callbacks = PipelineCallbacks(step_start=step_start, step_done=step_done)
    pipeline = Image2Pipeline(job.config, ref_dir=job.ref_dir, output_dir=job.output_dir,
                              callbacks=callbacks, cache=False)
    result = pipeline.run_product(job.product, cancel)
    if result.ok:
        try:
            pipeline.write_outputs(result, job.output_dir, job.plan)
        except OutputWriteError as exc:
            result.error, result.error_is_input = str(exc), False
            log.error("%s: %s", name, exc)
        except InputError as exc:
            result.error, result.error_is_input = str(exc), True
            log.error("%s: %s", name, exc)
    record = record_of(result, job.source)
    record.seconds = round(time.perf_counter() - started, 3)  # with the writing
    if on_result is not None:
        on_result(result)
    return record


# ---- the pool --------------------------------------------------------------------------------------

def run_batch(jobs: list[BatchJob], workers: int, *, level: int = logging.INFO,
              on_event: Callable[[tuple], None] | None = None,
              available: int | None = None) -> list[ProductRecord]:
    """Run ``jobs`` ``workers`` at a time (fewer when memory says so), the biggest first;
    records in job order.

    A KeyboardInterrupt (Ctrl-C; SIGTERM turned into one by the caller) stops everything and
    goes on once the workers are stopped and their temporaries are removed.
    """
    context = multiprocessing.get_context("spawn")
    with _sigint_blocked():  # the queue starts multiprocessing's resource tracker
        events = context.Queue()
        cancel_event = context.Event()
    available = available_memory() if available is None else available
    records: dict[int, ProductRecord] = {}
    # the biggest first (their size stands for their time too): the last to finish is a small one
    pending = sorted(range(len(jobs)), key=lambda i: -jobs[i].peak_bytes)
    running: dict[Future, int] = {}
    on_event = on_event or (lambda event: None)

    def drain() -> None:
        while True:
            try:
                event = events.get_nowait()
            except (queue.Empty, OSError, EOFError):
                return
            on_event(event)

    def submit(index: int) -> Future:
        with _sigint_blocked():  # the executor starts its workers as work is submitted
            return executor.submit(run_job, jobs[index])

    def new_executor() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                   initializer=_init_worker,
                                   initargs=(events, cancel_event, level))

    executor = new_executor()
    broken = alone = stopping = False
    retried: set[int] = set()  # products whose worker died once: run again, alone
    try:
        while pending or running:
            if broken and not running:  # a worker died (killed, out of memory): a fresh pool
                executor.shutdown(wait=True)
                executor, broken = new_executor(), False
            used = sum(jobs[i].peak_bytes for i in running.values())
            while not broken and pending and len(running) < workers and (
                    not running or used + jobs[pending[0]].peak_bytes <= available) and not (
                    running and (pending[0] in retried or alone)):
                index = pending.pop(0)
                alone = index in retried
                used += jobs[index].peak_bytes
                running[submit(index)] = index
            done, _ = wait(list(running), timeout=0.1, return_when=FIRST_COMPLETED)
            drain()
            for future in done:
                index = running.pop(future)
                died = isinstance(future.exception(), BrokenProcessPool)
                broken = broken or died
                if died and index not in retried:  # maybe not its fault: once more, alone
                    retried.add(index)
                    pending.insert(0, index)
                    remove_temporaries(jobs[index])
                    log.warning("%s: its worker process died; running it again, alone",
                                jobs[index].product.name)
                    on_event(("retry", jobs[index].product.name))
                    continue
                records[index] = _outcome(future, jobs[index])
                on_event(("done", records[index]))
            if not running:
                alone = False
    except BaseException:
        stopping = True
        cancel_event.set()
        _stop(executor, running, jobs)
        drain()
        raise
    finally:
        # after a stop the workers are gone already; waiting on the pool could hang
        executor.shutdown(wait=not stopping, cancel_futures=True)
        drain()
        events.close()
    return [records[i] for i in range(len(jobs))]


def _outcome(future: Future, job: BatchJob) -> ProductRecord:
    try:
        return future.result()
    except BrokenProcessPool:
        error = "its worker process died (killed, or out of memory?)"
    except Exception as exc:  # a bug in the worker: that product fails, the others go on
        error = f"unexpected internal error in its worker: {type(exc).__name__}: {exc}"
    log.error("%s: %s", job.product.name, error)
    remove_temporaries(job)
    return ProductRecord(job.product.name, job.source, "failed", error=error)


def remove_temporaries(job: BatchJob) -> None:
    from .files import remove_stale_temporaries

    for path in job.plan.paths_for(job.product.name, job.source):
        remove_stale_temporaries(path)


def _stop(executor: ProcessPoolExecutor, running: dict[Future, int],
          jobs: list[BatchJob]) -> None:
    """After a cancel: wait a little for the workers to stop by themselves, then end them."""
    for future in running:
        future.cancel()
    deadline = time.monotonic() + STOP_GRACE
    try:
        while any(not f.done() for f in running) and time.monotonic() < deadline:
            wait(list(running), timeout=0.2)
    except BaseException:  # a second Ctrl-C: stop waiting
        pass
    processes = list(getattr(executor, "_processes", {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(2.0)
    for index in running.values():
        remove_temporaries(jobs[index])
