"""The iris_gui main window: it shows the workbench (``iris_gui.state``) and sends the user's
edits to it; runs go to the engine's worker thread.

Where things are: Run, Run all, Cancel and their progress (``window_runs``), the docks
(``window_docks``), actions, menus and keys (``window_actions``),
opening and saving inputs, parameters and sessions (``window_files``), Export and Copy command
line (``window_export``), the inspection view (``image_view``). Every status on screen is derived
from the workbench (``state.statuses``), for every product, after every change; no widget is read
back as the truth.

Every action that reads or writes a file reports any failure in a dialog naming the file and in
the log dock (``show_error``, ``failures.failure_message``). Nothing may escape a Qt slot.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QProgressBar

from .. import __version__
from ..engine.association import Product
from ..engine.models import ImageModel
from ..engine.quicklook_reopen import REOPENED_STEP, read_back_from
from ..engine.steps import COMPLETE
from ..state import autosave
from ..state.statuses import StepStatus, caption, product_status, step_statuses
from ..state.workbench import Workbench
from .display_tasks import TaskRunner
from .failures import failure_message
from .image_view import StepImageView
from .resources import resource_path
from .window_actions import build_actions, update_undo_actions
from .window_docks import ConsoleCommands, build_docks, default_dock_sizes
from .window_export import ExportCommands
from .window_files import FileCommands
from .window_review import ReviewCommands
from .window_runs import RunCommands
from .worker import WorkerThread

log = logging.getLogger("iris_gui.gui")

#: Live: wait this long after an edit before re-running; a newer edit supersedes the run
#: (typing a number is several edits: each cancels the one before within a block of rows)
LIVE_DELAY_MS = 30


def default_window_size(screen) -> tuple[int, int]:
    """At least 1500x950 or 80 % of a large screen, never more than the screen's free area
    (a 1024x700 or 1366x768 laptop gets all of it)."""
    if screen is None:
        return 1500, 950
    area = screen.availableGeometry()
    width = max(1500, int(area.width() * 0.8))
    height = max(950, int(area.height() * 0.8))
    return min(width, area.width()), min(height, area.height())


class MainWindow(RunCommands, FileCommands, ExportCommands, ReviewCommands, ConsoleCommands,
                 QMainWindow):
    #: emitted on the GUI thread once a run's results are shown (1 if it was cancelled)
    runCompleted = Signal(int)
    #: emitted on the GUI thread once an export is done: written paths, error messages
    exportCompleted = Signal(list, list)
    #: a session file was written (path, error message or "")
    sessionSaved = Signal(str, str)
    #: a review report was made (ReportFiles or None, error message or "")
    reviewReportDone = Signal(object, str)

    def __init__(self, settings: QSettings | None = None,
                 workbench: Workbench | None = None) -> None:
        super().__init__()
        self.setWindowTitle(f"iris_gui {__version__} — image2 workbench")
        icon = resource_path("iris_gui.svg")
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        self.settings = settings or QSettings("iris_gui", "iris_gui")
        self.workbench = workbench or Workbench()
        self.engine = WorkerThread()
        self.worker = self.engine.worker
        self.file_tasks = TaskRunner(self, threads=1)
        self.file_tasks.finished.connect(self._file_task_done)
        self.running = False
        self.rerun_when_done = False
        #: run the first product as soon as the demo dataset is open (iris-gui --demo)
        self.run_when_demo_ready = False
        #: the output folder was given explicitly (set_output_dir), not the demo's default
        self.output_dir_chosen = False
        self.error_dialogs: list[QMessageBox] = []
        self.stale_export_box: QMessageBox | None = None
        self.recovery_box: QMessageBox | None = None
        #: product keys to export once the run "Run first" started has finished
        self._export_after_run: list[str] | None = None
        self.run_started = 0.0
        self.last_run_seconds: float | None = None
        self.console = None
        self._restore_pool_workers()

        self.image_view = StepImageView(self.workbench.view, self)
        self.image_view.edit_regions = self.workbench.set_regions
        self.setCentralWidget(self.image_view)
        self._build_status_bar()
        build_docks(self)
        build_actions(self)
        self._connect()
        self._restore_settings()
        self.steps_panel.show_config(self.workbench.config)
        self.steps_panel.set_folders(self.workbench.output_dir, self.workbench.ref_dir)
        self.live_timer = QTimer(self)
        self.live_timer.setSingleShot(True)
        self.live_timer.timeout.connect(self.run_current)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave_now)
        self.autosave_timer.start(autosave.INTERVAL_MINUTES * 60_000)
        self.statusBar().showMessage("Open rate files or an association (File ▸ Open).")

    # ---- construction ---------------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        self.progress = QProgressBar(self)
        self.progress.setObjectName("runProgress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(260)
        self.progress.setFormat("%p%")
        self.progress_label = QLabel("", self)
        self.statusBar().addPermanentWidget(self.progress_label)
        self.statusBar().addPermanentWidget(self.progress)

    def _connect(self) -> None:
        wb = self.workbench
        wb.inputs_changed.connect(self._inputs_changed)
        wb.parameters_changed.connect(self._parameters_changed)
        wb.results_changed.connect(self._result_changed)
        wb.selection_changed.connect(self._selection_changed)
        wb.locations_changed.connect(self._locations_changed)
        wb.undo.changed.connect(lambda: update_undo_actions(self))
        panel = self.steps_panel
        panel.stepSelected.connect(wb.select_step)
        panel.skipChanged.connect(lambda step, skip: wb.set_step_enabled(step, not skip))
        panel.parameterChanged.connect(
            lambda step, name, value: self._edit_parameter(f"steps.{step}.{name}", value))
        panel.pipelineOptionChanged.connect(self._edit_parameter)
        panel.outputDirChanged.connect(self._output_dir_edited)
        panel.refDirChanged.connect(lambda folder: wb.set_ref_dir(folder or None))
        self.inputs_panel.productSelected.connect(wb.select)
        self.inputs_panel.removeRequested.connect(self.remove_input)
        self.inputs_panel.filesDropped.connect(self.open_paths)
        self.inputs_panel.noteEdited.connect(self._note_edited)
        self.inputs_panel.signoffEdited.connect(self._signoff_edited)
        wb.notes_changed.connect(lambda _key: self._show_note())
        self.console_dock.visibilityChanged.connect(self._console_visibility)
        self._connect_runs()
        w = self.worker
        # Only bound methods of this window here: a lambda would run on the worker's thread.
        w.exportFinished.connect(self._export_finished)
        w.demoReady.connect(self._demo_ready)
        w.previewReady.connect(self._preview_ready)
        w.previewFailed.connect(self._preview_failed)
        w.failed.connect(self._worker_failed)
        self.image_view.failed.connect(self.show_error)

    # ---- folders and settings -------------------------------------------------------------------
    def set_output_dir(self, folder: str, *, chosen: bool = True) -> None:
        """Export to ``folder``; ``chosen``: the user asked for it (e.g. --output-dir), so the
        demo does not replace it with its own output folder."""
        self.workbench.set_output_dir(folder)
        self.output_dir_chosen = self.output_dir_chosen or chosen
        self.settings.setValue("folders/output", str(Path(folder).resolve()))

    def _output_dir_edited(self, folder: str) -> None:
        if folder:
            self.set_output_dir(folder)
        else:
            self.workbench.set_output_dir(None)

    def _locations_changed(self) -> None:
        self.steps_panel.set_folders(self.workbench.output_dir, self.workbench.ref_dir)
        self.refresh_statuses()

    def _demo_ready(self, asn) -> None:
        self.statusBar().clearMessage()
        if not self.output_dir_chosen:
            self.set_output_dir(str(Path(asn).parent / "output"), chosen=False)
        self.open_paths([str(asn)])
        if self.run_when_demo_ready and self.workbench.current_product is not None:
            # a newcomer's first look: the first product processed, each step's result in view
            self.run_current()

    WORKER_TITLES = {"open": "Cannot open input", "run": "Run failed", "export": "Export failed",
                     "demo": "Demo dataset"}

    def _worker_failed(self, what: str, message: str) -> None:
        self.show_error(self.WORKER_TITLES.get(what, f"{what} failed"), message)

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(*default_window_size(self.screen()))
        state = self.settings.value("window/state")
        #: dock sizes only hold once the window is laid out: set them at the first show
        self._default_docks_pending = state is None
        if state is not None:
            self.restoreState(state)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().showEvent(event)
        if self._default_docks_pending:
            self._default_docks_pending = False
            QTimer.singleShot(0, lambda: default_dock_sizes(self))

    def reset_layout(self) -> None:
        for dock in (self.inputs_dock, self.steps_dock, self.log_dock, self.console_dock):
            dock.setFloating(False)
            dock.show()
        self.log_dock.raise_()
        default_dock_sizes(self)

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()

    def show_error(self, title: str, message: str) -> QMessageBox:
        """A non-blocking dialog plus a log line; the window stays usable."""
        log.error("%s: %s", title, message)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok,
                          self)
        box.setObjectName("errorDialog")
        box.finished.connect(lambda _r, b=box: self.error_dialogs.remove(b)
                             if b in self.error_dialogs else None)
        self.error_dialogs.append(box)
        box.open()
        return box

    # ---- edits ----------------------------------------------------------------------------------
    def _edit_parameter(self, key: str, value: Any) -> None:
        try:
            self.workbench.set_parameter(key, value)
        except Exception as exc:  # the form goes back to the value in force
            self.show_error("Invalid parameter", failure_message(exc, f"set {key}"))
            self.steps_panel.forget_shown()
            self.steps_panel.show_config(self.workbench.config)

    def toggle_current_step(self) -> None:
        step = self.workbench.current_step
        self.workbench.set_step_enabled(step, self.workbench.config.steps[step]["skip"])

    def undo(self) -> None:
        text = self.workbench.undo.undo()
        if text:
            self.statusBar().showMessage(f"undone: {text}", 5000)

    def redo(self) -> None:
        text = self.workbench.undo.redo()
        if text:
            self.statusBar().showMessage(f"redone: {text}", 5000)

    def _parameters_changed(self, _step: str) -> None:
        """Every product's statuses follow the new parameters; Live re-runs the shown one."""
        self.steps_panel.show_config(self.workbench.config)
        self.refresh_statuses()
        if self.live_box.isChecked() and self.workbench.current_product is not None:
            self.live_timer.start(LIVE_DELAY_MS)

    # ---- inputs and selection -------------------------------------------------------------------
    def _inputs_changed(self) -> None:
        self.inputs_panel.show_associations(self.workbench.associations,
                                            self.workbench.current_product, self._product_status)
        self._selection_changed()
        if len(self.workbench.all_products) >= 2:  # a Run all may use the pool: start it
            self.worker.requestPoolWarmUp.emit(list(self.workbench.all_products))

    def _product_status(self, product: Product) -> tuple[str, str]:
        word, tip = product_status(self.workbench, product)
        if word == "● stale" and (note := read_back_from(self.workbench.result_for(product))):
            # a quick-look product let go and shown again from its _cal: not the window's own
            # computation, yet nothing changed since it was made
            return "_cal read back", f"{note}; a run computes every step again"
        return word, tip

    def select_product(self, product: Product | None) -> None:
        self.workbench.select(product)

    def _selection_changed(self) -> None:
        """Another product or step: its row selected, its statuses and view; the other rows
        stay as they are (nothing of theirs changed)."""
        wb = self.workbench
        if self.steps_panel.current_step() != wb.current_step:
            self.steps_panel.select_step(wb.current_step)
        if not self.inputs_panel.show_current(wb.current_product):
            self.inputs_panel.show_associations(wb.associations, wb.current_product,
                                                self._product_status)
        self._show_note()
        self.refresh_statuses(only=wb.current_product)

    def _result_changed(self, key: str) -> None:
        self.refresh_statuses(only=self.workbench.product_for(key))

    def product_added(self, product: Product) -> None:
        """``product`` joined an open association (the quick-look's arrivals; the workbench's
        inputs_changed not emitted): its row alone is added."""
        association = self.workbench.association_of(product)
        if association is not None:
            self.inputs_panel.add_product(association, product, self._product_status)

    def product_removed(self, product: Product) -> None:
        """``product`` was closed without inputs_changed (the quick-look keeping the newest)."""
        self.inputs_panel.remove_product(product)

    # ---- previews ------------------------------------------------------------------------------
    def _preview_failed(self, product: Product, message: str) -> None:
        """The science file of ``product`` cannot be read (the dialog came through ``failed``):
        mark it unreadable; the view shows empty panes saying why."""
        self.workbench.open_failures[self.workbench.key(product)] = message
        self._inputs_changed()
        if self._is_current(product):
            self.statusBar().showMessage(f"{product.name}: cannot be read", 10000)

    def _preview_ready(self, product: Product, model: ImageModel) -> None:
        key = self.workbench.key(product)
        # only the latest preview is kept: a 4096² exposure is 192 MB
        if self.workbench.open_failures.pop(key, None) is not None:
            self._inputs_changed()
        self.workbench.preview = (key, model)
        if self._is_current(product):
            self._show_view()

    # ---- statuses and the view ------------------------------------------------------------------
    def refresh_statuses(self, *, only: Product | None | bool = False) -> None:
        """Every status shown, for every product, from the engine's plan and its last result;
        ``only``: that product's Inputs status alone (and the current product's steps and
        view) — a result or a selection changes nothing of the other products."""
        wb = self.workbench
        if only is False:
            self.inputs_panel.update_statuses(self._product_status)
        else:
            for shown in {id(p): p for p in (only, wb.current_product) if p is not None}.values():
                self.inputs_panel.show_product_status(shown, *self._product_status(shown))
        product = wb.current_product
        statuses = None
        if product is None:
            self.steps_panel.reset_statuses()
        elif wb.key(product) not in wb.partial:  # a run here shows its own as they come
            live = self._live_statuses(product)
            statuses = step_statuses(wb, product) if live is None else None
            if statuses is not None and (note := read_back_from(wb.result_for(product))):
                statuses = [StepStatus(s.step, COMPLETE, "_cal read back", note)
                            if s.step == REOPENED_STEP else s for s in statuses]
            for status in live or statuses:
                self.steps_panel.set_status(status.step, status.state, status.text,
                                            status.tooltip)
        self._show_view(statuses)

    def _show_view(self, statuses=None) -> None:
        """Show the current product's step; ``statuses``: its step statuses if just derived
        (the caption uses them rather than asking the engine's plan again)."""
        wb = self.workbench
        product = wb.current_product
        result = wb.shown_result(product)
        key = wb.key(product) if product is not None else None
        if (product is not None and result is None and not product.problems
                and key not in wb.open_failures and key != wb.preview_requested):
            wb.preview_requested = key  # read its science exposure once, on the worker
            self.worker.requestPreview.emit(product)
        others = [r for r in map(wb.result_for, wb.all_products)
                  if r is not None and r is not result]
        if key in wb.open_failures or (product is not None and product.problems):
            result = None  # nothing of it to show: empty panes, the caption says why
        self.image_view.show_step(result, wb.current_step, others,
                                  caption=caption(wb, product, wb.current_step, statuses))

    # ---- closing --------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel any run, stop the quick-look, the worker thread, the file tasks and the
        console; safe to call twice."""
        self.autosave_timer.stop()
        watch = getattr(self, "watch", None)  # installed by build_actions
        if watch is not None:
            watch.shutdown()
        self.live_timer.stop()
        self.stop_report()
        self.image_view.shutdown()
        self.file_tasks.shutdown()
        if self.engine is not None:
            self.engine.stop()
            self.engine = None
        if self.console is not None:
            self.console.shutdown()
        self.log_panel.detach()

    def closeEvent(self, event) -> None:  # noqa: N802
        self._save_settings()
        self.shutdown()
        autosave.discard()  # a normal exit: nothing to recover
        super().closeEvent(event)
