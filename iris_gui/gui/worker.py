"""Runs the engine off the GUI thread: a QObject living in a QThread, talking through signals.

The worker never touches widgets. The engine's callbacks (called on the worker thread) are turned
into queued signals, so every slot that updates the window runs on the GUI thread.

After a run of one product, while nothing else is asked, the worker keeps that product's
backgrounds read and prepared (``Image2Pipeline.prepare_backgrounds``, up to
``background_budget()`` bytes), so a Live re-run after a bkg_subtract edit neither reads them
again nor redoes the sigma-free part of the combine. Any new request stops that preparation
(``new_run_token`` and ``cancel`` do) within one background file or block.

Every request catches every exception (none may escape a slot) and emits ``failed(what, message)``
with a message naming the file (``failures.failure_message``): run, export (also listed in
``exportFinished``'s errors), preview (also ``previewFailed``, so the window marks the product)
and demo.
"""

from __future__ import annotations

import logging
import os
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
        try:
            pipeline.callbacks = self.callbacks()
            if pipeline.background_store is None and pipeline.use_cache:
                pipeline.keep_backgrounds(background_budget())
            for index, product in enumerate(products):
                if token.cancelled:
                    cancelled = True
                    break
                self.productStarted.emit(product, index, len(products))
                result: ProductResult = pipeline.run_product(product, token, config)
                self.productDone.emit(result)
                if result.cancelled:
                    cancelled = True
                    break
        except Exception as exc:  # the engine reports product failures itself; this is a bug
            self.failed.emit("run", failure_message(exc, "run"))
        # made before runFinished: a request it triggers (new_run_token) stops the preparation
        idle = self.idle_token = CancelToken()
        # A bool argument crossing threads trips a refcount bug in PySide6 6.12 at exit.
        self.runFinished.emit(int(cancelled))
        if not cancelled and len(products) == 1:
            self._prepare_backgrounds(pipeline, products[0], idle)

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
        return self.thread.wait(timeout_ms)
