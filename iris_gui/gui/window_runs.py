"""Run, Run all and Cancel, as a mix-in of the main window.

Runs go to the engine's worker (``gui.worker``), which runs products with nothing cached in its
pool of worker processes when there are two or more of them, and the rest in the window's process.
Each product's progress is recorded in the workbench (``state.run_progress``: queued, running
which step, finished); the Inputs list, the Steps list of a product running in the pool, the
progress bar (each product counts alike) and its label are derived from it. A product run in
the window's process shows each step's result as it comes (``workbench.partial``); one run in
the pool shows its steps' statuses as they come and its arrays when it is done.
"""

from __future__ import annotations

import logging
import time

from ..engine.association import Product
from ..engine.models import ImageModel
from ..engine.pipeline import ProductResult
from ..engine.steps import StepResult, StepSpec
from ..state.statuses import live_step_statuses, result_status

log = logging.getLogger("iris_gui.gui")

#: QSettings key of the number of worker processes for Run all ("" or absent: automatic)
POOL_WORKERS_KEY = "run/pool_workers"


class RunCommands:
    # ---- settings ---------------------------------------------------------------------------------
    def _restore_pool_workers(self) -> None:
        value = self.settings.value(POOL_WORKERS_KEY, "")
        try:
            self.worker.pool_workers = None if value in ("", None) else max(0, int(value))
        except (TypeError, ValueError):
            log.warning("setting %s = %r is not a number of processes: automatic",
                        POOL_WORKERS_KEY, value)

    @property
    def pool_workers(self) -> int | None:
        """Worker processes Run all may use: None automatic (the cores, when the products are
        big enough to gain), 0 none (everything in the window's process). Kept in the
        settings."""
        return self.worker.pool_workers

    @pool_workers.setter
    def pool_workers(self, value: int | None) -> None:
        self.worker.pool_workers = None if value is None else max(0, int(value))
        self.settings.setValue(POOL_WORKERS_KEY, "" if value is None else str(value))

    def _connect_runs(self) -> None:
        w = self.worker
        # Only bound methods of this window here: a lambda would run on the worker's thread.
        w.productStarted.connect(self._product_started)
        w.poolProductStarted.connect(self._pool_product_started)
        w.inputReady.connect(self._input_ready)
        w.stepStarted.connect(self._step_started)
        w.stepProgress.connect(self._step_progress)
        w.stepDone.connect(self._step_done)
        w.productDone.connect(self._product_done)
        w.runFinished.connect(self._run_finished)
        self.workbench.run_progress.changed.connect(self._run_progress_changed)

    # ---- running --------------------------------------------------------------------------------
    def run_or_cancel(self) -> None:
        if self.running:
            self.cancel_run()
        else:
            self.run_current()

    def run_current(self) -> None:
        product = self.workbench.current_product
        if product is None:
            self.show_error("Run", "Open a rate file or an association first.")
            return
        self.start_run([product])

    def run_all(self) -> None:
        if not self.workbench.all_products:
            self.show_error("Run", "Open a rate file or an association first.")
            return
        self.start_run(self.workbench.all_products)

    def start_run(self, products: list[Product]) -> None:
        if self.running:  # the newer request wins: cancel, then run again when stopped
            self.rerun_when_done = True
            self.worker.cancel()
            return
        self.running = True
        self.rerun_when_done = False
        self.run_started = time.perf_counter()
        self.run_action.setText("&Cancel")
        self.run_action.setToolTip("Cancel the run")
        self.run_all_action.setEnabled(False)
        self.progress.setValue(0)
        self.workbench.apply_locations()
        self.workbench.run_progress.begin([self.workbench.key(p) for p in products])
        token = self.worker.new_run_token()
        self.worker.requestRun.emit(self.workbench.pipeline, list(products),
                                    self.workbench.config.copy(), token)

    def cancel_run(self) -> None:
        if self.running:
            self.worker.cancel()
            self.progress_label.setText("cancelling…")

    def _is_current(self, product: Product) -> bool:
        return product is self.workbench.current_product

    def _product_started(self, product: Product, _index: int, _total: int) -> None:
        key = self.workbench.key(product)
        self.workbench.partial[key] = ProductResult(
            product, self.workbench.config.copy(), self.workbench.ref_dir or "")
        self.workbench.run_progress.started(key)

    def _pool_product_started(self, product: Product) -> None:
        self.workbench.run_progress.started(self.workbench.key(product), in_pool=True)

    def _input_ready(self, product: Product, model: ImageModel) -> None:
        partial = self.workbench.partial.get(self.workbench.key(product))
        if partial is not None:
            partial.input_model = model

    def _step_started(self, product: Product, step: StepSpec) -> None:
        if self._is_current(product):
            self.steps_panel.set_status(step.name, "running", "running…")
        self.workbench.run_progress.step_started(self.workbench.key(product), step.name)

    def _step_progress(self, product: Product, step: StepSpec, fraction: float) -> None:
        if self._is_current(product):
            self.steps_panel.set_status(step.name, "running", f"running {fraction * 100:.0f}%")
        self.workbench.run_progress.step_progress(self.workbench.key(product), step.name,
                                                  fraction)

    def _step_done(self, product: Product, step: StepSpec, result: StepResult) -> None:
        key = self.workbench.key(product)
        partial = self.workbench.partial.get(key)
        if partial is not None:
            partial.steps[step.name] = result
        if self._is_current(product):
            status = result_status(step.name, result)
            self.steps_panel.set_status(step.name, status.state, status.text, status.tooltip)
            if partial is not None and step.name == self.workbench.current_step:
                self._show_view()
        self.workbench.run_progress.step_done(key, step.name, result)

    def _run_progress_changed(self, key: str) -> None:
        """One product's progress (or the whole run's, key ""): its Inputs item, the bar."""
        wb = self.workbench
        progress = wb.run_progress
        if key:
            product = wb.product_for(key)
            if product is not None:
                self.inputs_panel.show_product_status(product, *self._product_status(product))
        else:
            self.inputs_panel.update_statuses(self._product_status)
        if self.running and progress.keys:
            self.progress.setValue(int(1000 * progress.overall))
            if len(progress.keys) > 1:
                self.progress_label.setText(progress.summary(
                    lambda k: p.name if (p := wb.product_for(k)) is not None else k))
            else:
                product = wb.product_for(progress.keys[0])
                running = progress.get(progress.keys[0])
                if product is not None and running is not None and running.step:
                    self.progress_label.setText(f"{product.name}: {running.step}")

    def _product_done(self, result: ProductResult) -> None:
        wb = self.workbench
        key = wb.key(result.product)
        wb.partial.pop(key, None)
        wb.run_progress.product_done(key)
        if wb.preview is not None and wb.preview[0] == key:
            wb.preview = None  # the run's own input model replaces it
        if result.cancelled:
            log.info("%s: cancelled; previous results kept", result.product.name)
            self.refresh_statuses()
            return
        if result.error:
            self.show_error(f"{result.product.name} failed", result.error)
        elif wb.open_failures.pop(key, None) is not None:
            self._inputs_changed()  # it was read after all
        wb.store_result(result)  # emits results_changed: every status refreshed

    def _run_finished(self, cancelled: bool) -> None:
        self.running = False
        self.workbench.run_progress.end()
        self.last_run_seconds = time.perf_counter() - self.run_started
        self.run_action.setText("&Run")
        self.run_action.setToolTip("Run the selected product (Cancel while running)")
        self.run_all_action.setEnabled(True)
        self.progress.setValue(0 if cancelled else 1000)
        self.progress_label.setText("cancelled" if cancelled else
                                    f"done in {self.last_run_seconds:.2f} s")
        self.refresh_statuses()
        pending, self._export_after_run = self._export_after_run, None
        self.runCompleted.emit(int(cancelled))
        if pending is not None:
            if cancelled:
                log.info("export cancelled: the run before it was cancelled")
            else:  # asks again if a result is still stale (a parameter changed meanwhile)
                self._export([self.workbench.product_results.get(key) for key in pending])
        if self.rerun_when_done:
            self.rerun_when_done = False
            self.run_current()

    def _live_statuses(self, product: Product):
        """The Steps list of ``product`` while its run is in progress in the pool (or waits):
        what the run reported so far; None when it is not (a run here shows its own)."""
        wb = self.workbench
        key = wb.key(product)
        progress = wb.run_progress.get(key)
        if progress is None or key in wb.partial:
            return None
        return live_step_statuses(progress)
