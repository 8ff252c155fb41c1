"""Runs the engine off the GUI thread: a QObject living in a QThread, talking through signals.

The worker never touches widgets. The engine's callbacks (called on the worker thread) are turned
into queued signals, so every slot that updates the window runs on the GUI thread.

After a run of one product, while nothing else is asked, the worker keeps that product's
backgrounds read and prepared (``Image2Pipeline.prepare_backgrounds``, up to
``background_budget()`` bytes), so a Live re-run after a bkg_subtract edit neither reads them
again nor redoes the sigma-free part of the combine. Any new request stops that preparation
(``new_run_token`` and ``cancel`` do) within one background file or block.

A run of two or more products with nothing cached goes to a pool of worker processes
(``engine.inspection_pool``, kept between runs, the spill folder its results come back through)
while the others run here as before; ``pool_workers`` says how many processes (None: the number of
cores when the products are big enough to gain, 0: never). The pool's reports come from a thread
of its own as the same signals (``poolProductStarted`` instead of ``productStarted``, and
``stepDone`` with a StepResult that has no model: the arrays come with ``productDone``).
``requestPoolWarmUp(products)`` starts the pool's processes ahead of a Run all that would use it.

Every request catches every exception (none may escape a slot) and emits ``failed(what, message)``
with a message naming the file (``failures.failure_message``): run, export (also listed in
``exportFinished``'s errors), preview (also ``previewFailed``, so the window marks the product)
and demo.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from ..engine.cancel import CancelToken
from ..engine.config import PipelineConfig
from ..engine.errors import Cancelled
from ..engine.pipeline import Image2Pipeline, PipelineCallbacks, ProductResult
from .failures import failure_message

log = logging.getLogger("iris_gui.gui")

#: the engine's heaviest imports (astropy.io.fits with astropy.units ~0.25 s, astropy.wcs with
#: astropy.coordinates ~0.15 s) are left out of the window's start and made this long after it,
#: on the worker's thread, before a first file or run needs them
WARM_UP_DELAY_MS = 1500

#: the most memory kept for prepared backgrounds between runs (5 backgrounds at 4096²: ~0.9 GB)
MAX_BACKGROUND_BUDGET = 2 << 30


def background_budget() -> int:
    """Bytes of prepared backgrounds a window's pipeline may keep: a quarter of the memory, at
    most MAX_BACKGROUND_BUDGET."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        memory = 8 << 30
    return int(min(MAX_BACKGROUND_BUDGET, memory // 4))


class PipelineWorker(QObject):
    """Executes runs, exports and demo generation requested through ``request_*`` signals."""

    productStarted = Signal(object, int, int)        # Product, index, total
    poolProductStarted = Signal(object)              # Product (started in a worker process)
    inputReady = Signal(object, object)              # Product, ImageModel
    stepStarted = Signal(object, object)             # Product, StepSpec
    stepProgress = Signal(object, object, float)     # Product, StepSpec, fraction
    stepDone = Signal(object, object, object)        # Product, StepSpec, StepResult
    warning = Signal(object, object, str)            # Product, StepSpec | None, message
    productDone = Signal(object)                     # ProductResult
    runFinished = Signal(int)                        # 1 if cancelled (int: see note)
    exportFinished = Signal(list, list)              # written paths, error messages
    demoReady = Signal(object)                       # DemoDataset
    previewReady = Signal(object, object)            # Product, ImageModel (its science file)
    previewFailed = Signal(object, str)              # Product, message (also sent as failed)
    failed = Signal(str, str)                        # what, message

    # requests (emitted from the GUI thread, executed here)
    requestRun = Signal(object, list, object, object)  # pipeline, products, config, token
    requestExport = Signal(object, list, str)        # pipeline, [ProductResult], output dir
    requestDemo = Signal(str, int)                   # folder, size
    requestPreview = Signal(object)                  # Product: read its science exposure
    requestPoolWarmUp = Signal(list)                 # [Product]: start the pool if it would run

    def __init__(self) -> None:
        super().__init__()
        self.cancel_token = CancelToken()
        #: stops the preparation of backgrounds the worker does when idle after a run
        self.idle_token = CancelToken()
        # any request stops the idle preparation at once (on the requesting thread)
        for request in (self.requestRun, self.requestExport, self.requestDemo,
                        self.requestPreview):
            request.connect(self.idle_token_cancel, Qt.ConnectionType.DirectConnection)
        self.requestRun.connect(self._run)
        self.requestExport.connect(self._export)
        self.requestDemo.connect(self._demo)
        self.requestPreview.connect(self._preview)
        self.requestPoolWarmUp.connect(self._warm_up_pool)
        #: worker processes for Run all (None: the cores, if the products are big enough)
        self.pool_workers: int | None = None
        self.pool = None  # an engine.inspection_pool.InspectionPool, made when first needed
        self._pool_lock = threading.Lock()

    def idle_token_cancel(self, *_request) -> None:
        self.idle_token.cancel()

    def new_run_token(self) -> CancelToken:
        """Called on the GUI thread when a run is requested, so a Cancel clicked before the
        worker picks the request up still counts."""
        self.idle_token.cancel()  # the new run goes first
        self.cancel_token = CancelToken()
        return self.cancel_token

    def cancel(self) -> None:
        """Thread-safe: the running loop checks the token between steps and between blocks."""
        self.idle_token.cancel()
        self.cancel_token.cancel()

    def callbacks(self) -> PipelineCallbacks:
        return PipelineCallbacks(
            input_ready=lambda p, m: self.inputReady.emit(p, m),
            step_start=lambda p, s: self.stepStarted.emit(p, s),
            step_progress=lambda p, s, f: self.stepProgress.emit(p, s, f),
            step_done=lambda p, s, r: self.stepDone.emit(p, s, r),
            warning=lambda p, s, m: self.warning.emit(p, s, m),
        )

    @Slot(object, list, object, object)
    def _run(self, pipeline: Image2Pipeline, products: list, config: PipelineConfig,
             token: CancelToken) -> None:
        cancelled = False
        pool_thread = None
        try:
            pipeline.callbacks = self.callbacks()
            if pipeline.background_store is None and pipeline.use_cache:
                pipeline.keep_backgrounds(background_budget())
            in_pool = self._pool_products(pipeline, products, config)
            if in_pool:
                pool_thread = self._start_pool_run(pipeline, in_pool, config, token)
            here = [p for p in products if not any(p is q for q in in_pool)]
            for index, product in enumerate(here):
                if token.cancelled:
                    cancelled = True
                    break
                self.productStarted.emit(product, index, len(here))
                result: ProductResult = pipeline.run_product(product, token, config)
                self.productDone.emit(result)
                if result.cancelled:
                    cancelled = True
                    break
        except Exception as exc:  # the engine reports product failures itself; this is a bug
            self.failed.emit("run", failure_message(exc, "run"))
        if pool_thread is not None:
            pool_thread.join()  # this thread waits, not the window's
            cancelled = cancelled or token.cancelled or not pool_thread.completed
        # made before runFinished: a request it triggers (new_run_token) stops the preparation
        idle = self.idle_token = CancelToken()
        # A bool argument crossing threads trips a refcount bug in PySide6 6.12 at exit.
        self.runFinished.emit(int(cancelled))
        if not cancelled and len(products) == 1:
            self._prepare_backgrounds(pipeline, products[0], idle)

    # ---- the pool ----------------------------------------------------------------------------------
    def _wanted_workers(self, products: list) -> int:
        """Worker processes a run of ``products`` (nothing cached) would use; 0: none."""
        from ..engine import inspection_pool

        if self.pool_workers is not None:
            return max(0, int(self.pool_workers))
        workers = inspection_pool.auto_workers()
        if workers < 2 or len(products) < 2 or (
                inspection_pool.science_pixels(products) < inspection_pool.AUTO_POOL_PIXELS):
            return 0
        return workers

    def _pool_products(self, pipeline: Image2Pipeline, products: list,
                       config: PipelineConfig) -> list:
        if len(products) < 2 or self.pool_workers == 0:
            return []
        from ..engine.inspection_pool import pool_candidates

        candidates = pool_candidates(pipeline, products, config)
        return candidates if candidates and self._wanted_workers(candidates) else []

    def _pool_for(self, workers: int):
        """The pool, made (or made again for another number of workers) when needed."""
        from ..engine.inspection_pool import InspectionPool

        with self._pool_lock:
            if self.pool is not None and self.pool.workers != workers:
                self.pool.shutdown()
                self.pool = None
            if self.pool is None:
                self.pool = InspectionPool(workers)
            return self.pool

    @Slot(list)
    def _warm_up_pool(self, products: list) -> None:
        """Start the pool's processes if a Run all of ``products`` would use them."""
        try:
            workers = self._wanted_workers(products) if len(products) >= 2 else 0
            if workers:
                self._pool_for(workers).start()
        except Exception:  # the run itself will report it
            log.debug("pool warm-up failed", exc_info=True)

    def _start_pool_run(self, pipeline: Image2Pipeline, products: list,
                        config: PipelineConfig, token: CancelToken) -> _PoolRun:
        callbacks = PipelineCallbacks(
            product_start=lambda p, i, n: self.poolProductStarted.emit(p),
            step_start=lambda p, s: self.stepStarted.emit(p, s),
            step_progress=lambda p, s, f: self.stepProgress.emit(p, s, f),
            step_done=lambda p, s, r: self.stepDone.emit(p, s, r),
            product_done=lambda r: self.productDone.emit(r),
        )
        run = _PoolRun(self, self._pool_for(self._wanted_workers(products)),
                       (pipeline, products, config, callbacks, token))
        run.start()
        return run

    def shutdown_pool(self) -> None:
        """End the pool's processes and remove its spill folder (the window is closing)."""
        with self._pool_lock:
            pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown()

    def _prepare_backgrounds(self, pipeline: Image2Pipeline, product, idle: CancelToken) -> None:
        """Keep ``product``'s backgrounds ready for the next run, unless a request comes first."""
        if idle.cancelled or pipeline.background_store is None:
            return
        try:
            pipeline.prepare_backgrounds(product, idle)
        except Cancelled:
            log.debug("%s: background preparation stopped for a new request", product.name)
        except Exception:  # idle work: the next run reports whatever is wrong
            log.debug("%s: background preparation failed", product.name, exc_info=True)

    @Slot(object, list, str)
    def _export(self, pipeline: Image2Pipeline, results: list, output_dir: str) -> None:
        # one output plan over every exported product, checked before anything is written
        try:
            paths, errors = pipeline.export_results(results, output_dir)
            written = [str(p) for p in paths]
        except Exception as exc:
            written, errors = [], [failure_message(exc, "export to", output_dir)]
        if errors:
            self.failed.emit("export", "\n".join(errors))
        self.exportFinished.emit(written, errors)

    @Slot(object)
    def _preview(self, product) -> None:
        """Read a product's science exposure so the window can show it before any run."""
        from ..engine import models

        try:
            model = models.read_image(product.science)
        except Exception as exc:
            message = failure_message(exc, "open", getattr(product, "science", None))
            self.failed.emit("open", message)
            self.previewFailed.emit(product, message)
            return
        self.previewReady.emit(product, model)

    @Slot()
    def warm_up(self) -> None:
        """Import what a first run needs and the window's start did not (see WARM_UP_DELAY_MS)."""
        try:
            import astropy.io.fits  # noqa: F401
            import astropy.visualization  # noqa: F401 - the view's zscale limits
            import astropy.wcs  # noqa: F401
            import drizzle.resample  # noqa: F401
        except Exception:  # pragma: no cover - the run itself will report it
            log.debug("warm-up import failed", exc_info=True)

    @Slot(str, int)
    def _demo(self, folder: str, size: int) -> None:
        from ..engine.demo import DEMO_ASN, write_demo_dataset

        try:
            if (Path(folder) / DEMO_ASN).exists():
                self.demoReady.emit(Path(folder) / DEMO_ASN)
                return
            dataset = write_demo_dataset(folder, size=size)
            self.demoReady.emit(dataset.asn)
        except Exception as exc:
            self.failed.emit("demo", failure_message(exc, "write the demo dataset in", folder))


class _PoolRun(threading.Thread):
    """One run of the pool, on a thread of its own (the worker's runs the other products)."""

    def __init__(self, worker: PipelineWorker, pool, arguments: tuple) -> None:
        super().__init__(name="iris-gui-pool-run", daemon=True)
        self.worker, self.pool, self.arguments = worker, pool, arguments
        #: False when cancelled (or broken by a bug)
        self.completed = False

    def run(self) -> None:
        try:
            self.completed = self.pool.run(*self.arguments)
        except Exception as exc:  # a bug: the window says so; the run ends
            log.debug("pool run", exc_info=True)
            self.worker.failed.emit("run", failure_message(exc, "run"))


class WorkerThread:
    """Owns the QThread and the worker; ``stop()`` quits and waits (call before exit)."""

    def __init__(self) -> None:
        self.thread = QThread()
        self.thread.setObjectName("iris-gui-engine")
        self.worker = PipelineWorker()
        self.worker.moveToThread(self.thread)
        self.thread.start()
        QTimer.singleShot(WARM_UP_DELAY_MS, self.worker, self.worker.warm_up)

    def stop(self, timeout_ms: int = 30000) -> bool:
        self.worker.cancel()
        self.thread.quit()
        stopped = self.thread.wait(timeout_ms)
        self.worker.shutdown_pool()
        return stopped
