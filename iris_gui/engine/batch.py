"""Many products at once: each one in a worker process, as many at a time as memory allows.

``run_batch`` runs ``BatchJob``s (a product, its parameters, reference and output folders, and the
run's output plan, checked beforehand over the whole run) in a ``product_pool.ProductPool`` whose
workers are forked from a forkserver that imported the engine once (spawned where there is none;
never forked from the caller, which may have threads). Each worker runs the same
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

import logging
import math
import time
import warnings
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field

from .association import Product
from .cancel import CancelToken
from .config import PipelineConfig
from .cores import usable_cores
from .errors import InputError
from .files import OutputWriteError
from .lazy import fits
from .output_plan import OutputPlan
from .product_pool import (  # noqa: F401 (available_memory, fitting_at_once: batch's own names)
    PoolTask,
    ProductPool,
    available_memory,
    fitting_at_once,
    pool_start_method,
    set_worker_product,
    worker_cancel_token,
    worker_post,
)
from .product_pool import sigint_blocked as _sigint_blocked  # noqa: F401 (batch_dask's name)

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

def frame_axes(path: str) -> tuple[int, ...]:
    """(NAXIS1, NAXIS2[, NAXIS3]) of the SCI extension (headers only); () if unreadable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                for name in ("SCI", "DATA"):
                    if name in hdul:
                        header = hdul[name].header
                        naxis = int(header.get("NAXIS", 0))
                        return tuple(int(header.get(f"NAXIS{axis}", 1))
                                     for axis in range(1, min(naxis, 3) + 1))
    except Exception:  # the run itself says what is wrong with the file
        return ()
    return ()


def _frame_pixels(path: str) -> int:
    """NAXIS1*NAXIS2*NAXIS3 of the SCI extension (headers only); 0 if unreadable."""
    axes = frame_axes(path)
    return math.prod(axes) if axes else 0


def estimate_peak_bytes(product: Product, config: PipelineConfig) -> int:
    """A generous estimate of one product's peak memory, from its headers."""
    science = _frame_pixels(product.science) if product.science else 0
    backgrounds = 0
    if not config.steps["bkg_subtract"]["skip"]:
        backgrounds = sum(_frame_pixels(path) for path in product.backgrounds)
    resample = 0 if config.steps["resample"]["skip"] else 2 * science
    return WORKER_BASE_BYTES + PIXEL_BYTES * (SCIENCE_COPIES * science + 2 * backgrounds
                                              + resample)


# ---- the worker ----------------------------------------------------------------------------------

def run_job(job: BatchJob) -> ProductRecord:
    """One product, start to written files, in a pool worker (or in-process for tests)."""
    set_worker_product(job.product.name)
    return run_job_with(job, worker_post, worker_cancel_token())


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
    records in job order (``product_pool.ProductPool.run``).

    A KeyboardInterrupt (Ctrl-C; SIGTERM turned into one by the caller) stops everything and
    goes on once the workers are stopped and their temporaries are removed.
    """
    records: dict[int, ProductRecord] = {}
    on_event = on_event or (lambda event: None)

    def done(index: int, future) -> None:
        records[index] = _outcome(future, jobs[index])
        on_event(("done", records[index]))

    # N products at once share the cores: each worker's row blocks run on its share of them
    pool = ProductPool(workers, start_method=pool_start_method(), level=level,
                       stop_grace=STOP_GRACE,
                       worker_cores=max(1, usable_cores() // workers))
    tasks = [PoolTask(run_job, job, job.product.name, job.peak_bytes) for job in jobs]
    try:
        pool.run(tasks, on_event=on_event, on_done=done,
                 on_abandoned=lambda index: remove_temporaries(jobs[index]), available=available)
    finally:
        pool.shutdown()
    return [records[i] for i in range(len(jobs))]


def _outcome(future, job: BatchJob) -> ProductRecord:
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
