"""The window's Run all in worker processes: ``InspectionPool`` runs products for inspection.

``InspectionPool.run(pipeline, products, config, callbacks, cancel)`` runs each product in a
``product_pool.ProductPool`` worker with the window's parameters and folders
(``pool_results.run_spilled``; its resample on as many processes as it would get in the window's
process, so the same bits), and calls ``callbacks`` (a ``PipelineCallbacks``; in the thread
that called ``run``) as the window's own runs do: ``product_start(product, index, total)``,
``step_start``, ``step_progress``, ``step_done`` (with a ``StepResult`` that has the status,
time, reason and warnings but no model: the arrays stay in the worker until the product is done)
and ``product_done(result)`` with the whole result, its arrays memory-mapped from the pool's
spill folder (``pool_results.restore_result``). Before ``product_done`` the result is adopted by
``pipeline`` (``Image2Pipeline.adopt_result``), so its steps are cached exactly as if it had run
there: the statuses say current, and a re-run after one parameter change reuses the rest.

One run at a time. ``cancel`` stops the run within ``STOP_GRACE`` seconds and a little: running
products that have not stopped by then have their workers ended; ``product_done`` gets a
cancelled result for each product that had started, and nothing of theirs stays in the spill
folder. The pool keeps its workers between runs (``start()`` starts them ahead of a first run);
``shutdown()`` ends them and removes the spill folder. The workers run at ``WORKER_NICENESS``
above the window, so on a busy machine its GUI thread gets a core first.

``pool_candidates`` says which products of a run go to the pool: those with nothing cached.

This module is Qt-free: the window's worker turns the callbacks into signals; a folder watcher
can use it as it is.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures.process import BrokenProcessPool

from .association import Product
from .batch import estimate_peak_bytes
from .cancel import CancelToken
from .config import PipelineConfig
from .cores import WINDOW_HELPER_NICENESS
from .pipeline import Image2Pipeline, PipelineCallbacks, ProductResult
from .pool_results import (
    SpilledResult,
    SpillFolder,
    WindowJob,
    restore_result,
    run_spilled,
    window_resample_workers,
)
from .product_pool import PoolTask, ProductPool, pool_start_method
from .step_plan import CACHED, CANNOT_RUN, FAILED_STATE
from .steps import STEP_BY_NAME, StepResult

log = logging.getLogger("iris_gui.engine")

#: seconds a cancelled product gets to stop by itself before its worker is ended
STOP_GRACE = 0.6
#: below this many science pixels in all (about four 1024x1024 frames) a run stays in the
#: window's process when the number of workers is left to the window: the spill and the
#: processes cost more than they save
AUTO_POOL_PIXELS = 4 * 1024 * 1024


#: the workers' scheduling niceness above the window's, as the quick-look process's: with two
#: products calibrating on two cores, the GUI thread waited up to 0.3-0.8 s for a core to paint
WORKER_NICENESS = WINDOW_HELPER_NICENESS


def default_start_method() -> str:
    """forkserver where it can start, else spawn (``product_pool.pool_start_method``)."""
    return pool_start_method()


def auto_workers() -> int:
    return os.cpu_count() or 1


def pool_candidates(pipeline: Image2Pipeline, products: list[Product],
                    config: PipelineConfig) -> list[Product]:
    """The products of a run that go to the pool: those the plan can run with nothing cached
    (a product with cached steps runs in the window, reusing them); none unless two or more."""
    chosen = []
    for product in products:
        plans = pipeline.step_plan(product, config)
        if not any(plan.state in (CACHED, FAILED_STATE, CANNOT_RUN) for plan in plans):
            chosen.append(product)
    return chosen if len(chosen) >= 2 else []


def science_pixels(products: list[Product]) -> int:
    from .batch import _frame_pixels

    return sum(_frame_pixels(p.science) for p in products if p.science)


class InspectionPool:
    """A window's pool of worker processes and its spill folder (see the module docstring)."""

    def __init__(self, workers: int, *, start_method: str | None = None,
                 spill_parent: str | None = None) -> None:
        self.workers = max(1, int(workers))
        self.pool = ProductPool(self.workers, start_method=start_method or default_start_method(),
                                stop_grace=STOP_GRACE, niceness=WORKER_NICENESS)
        self.spill = SpillFolder(spill_parent)

    def start(self) -> None:
        """Start the workers in the background (a first run then need not wait for them)."""
        self.pool.start()

    def shutdown(self) -> None:
        self.pool.shutdown()
        self.spill.remove()

    def run(self, pipeline: Image2Pipeline, products: list[Product], config: PipelineConfig,
            callbacks: PipelineCallbacks, cancel: CancelToken | None = None) -> bool:
        """Run ``products``; True when all ran, False when ``cancel`` stopped the run."""
        ref_dir = None if pipeline.ref_dir is None else str(pipeline.ref_dir)
        # each resample on as many processes as it would get here: the same bits
        jobs = [WindowJob(index, product, config.copy(), ref_dir,
                          self.spill.job_folder(product.name), window_resample_workers(product))
                for index, product in enumerate(products)]
        tasks = [PoolTask(run_spilled, job, job.product.name,
                          estimate_peak_bytes(job.product, config)) for job in jobs]
        started: set[int] = set()
        finished: set[int] = set()
        total = len(jobs)

        def on_event(event: tuple) -> None:
            kind = event[0]
            if kind == "log":
                log.log(event[1], "%s", event[2])
                return
            if kind == "retry" or not isinstance(event[1], int) or event[1] >= total:
                return
            product = jobs[event[1]].product
            if kind == "start":
                started.add(event[1])
                if callbacks.product_start:
                    callbacks.product_start(product, event[1], total)
            elif kind == "progress" and callbacks.step_progress:
                callbacks.step_progress(product, STEP_BY_NAME[event[2]], event[3])
            elif kind == "step":
                _, _, name, status, seconds, reason, warnings = event
                step = STEP_BY_NAME[name]
                if status == "RUNNING":
                    if callbacks.step_start:
                        callbacks.step_start(product, step)
                elif callbacks.step_done:
                    callbacks.step_done(product, step, StepResult(
                        status, None, reason=reason, warnings=list(warnings),  # type: ignore[arg-type]
                        elapsed=seconds))

        def on_done(index: int, future) -> None:
            finished.add(index)
            job = jobs[index]
            result = self._result_of(pipeline, job, future)
            if callbacks.product_done:
                callbacks.product_done(result)

        def on_abandoned(index: int) -> None:
            self.spill.discard(jobs[index].folder)

        completed = self.pool.run(tasks, on_event=on_event, on_done=on_done,
                                  on_abandoned=on_abandoned, cancel=cancel)
        for index in sorted(started - finished):  # stopped in the middle
            job = jobs[index]
            self.spill.discard(job.folder)
            if callbacks.product_done:
                callbacks.product_done(ProductResult(job.product, job.config,
                                                     str(pipeline.ref_dir_for(job.product)),
                                                     cancelled=True))
        return completed

    def _result_of(self, pipeline: Image2Pipeline, job: WindowJob, future) -> ProductResult:
        """The restored, adopted result of a finished job (or one saying why there is none)."""
        ref_dir = str(pipeline.ref_dir_for(job.product))
        error = None
        try:
            spilled: SpilledResult = future.result()
            if spilled.cancelled:
                self.spill.discard(job.folder)
                return ProductResult(job.product, job.config, ref_dir, cancelled=True)
            if spilled.error:
                raise OSError(spilled.error)
            result = restore_result(spilled, job.product)
        except BrokenProcessPool:
            error = "its worker process died (killed, or out of memory?)"
        except OSError as exc:
            error = str(exc)
        except Exception as exc:  # a bug in the worker or the restore: this product fails alone
            log.debug("%s: pool result", job.product.name, exc_info=True)
            error = f"unexpected internal error in its worker: {type(exc).__name__}: {exc}"
        if error is not None:
            log.error("%s: %s", job.product.name, error)
            self.spill.discard(job.folder)
            return ProductResult(job.product, job.config, ref_dir, error=error)
        pipeline.adopt_result(result)
        return result
