"""The iris_gui main window: inputs, steps and parameters, run/cancel, live results, export.

Every action that reads or writes a file (open from the menu, a drop, the command line or the
recent list; the preview of a selected product; load/save parameters; new/save association;
export; copy command line; the PNG of the view) reports any failure, not only the engine's
InputError, in a dialog naming the file and in the log dock (``show_error``), through
``failures.failure_message``. Nothing may escape a Qt slot: each slot catches what it can meet.
A product whose science file cannot be read is marked on its item (⚠, red, the message as its
tooltip) and the view shows nothing, so it does not look like a normal, loaded input.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QToolBar,
    QWidget,
)

from .. import __version__
from ..engine.association import Association, Product, save_association
from ..engine.config import load_parameters, save_parameters
from ..engine.models import ImageModel
from ..engine.pipeline import ProductResult
from ..engine.step_plan import CACHED, CANNOT_RUN, OFF, current_steps
from ..engine.steps import STEP_BY_NAME, STEPS, StepResult, StepSpec
from .failures import failure_message
from .image_view import StepImageView
from .inputs_panel import BuildAssociationDialog, InputsPanel
from .log_dock import LogPanel
from .resources import resource_path
from .session import Session, product_key
from .steps_panel import StepsPanel, step_index
from .worker import WorkerThread

log = logging.getLogger("iris_gui.gui")

MAX_RECENT = 10
LIVE_DELAY_MS = 400


def default_window_size(screen) -> tuple[int, int]:
    """1500x950, or what fits the screen's free area (a 1024x700 or 1366x768 laptop)."""
    if screen is None:
        return 1500, 950
    area = screen.availableGeometry()
    return min(1500, area.width()), min(950, area.height())


class MainWindow(QMainWindow):
    #: emitted on the GUI thread once a run's results are shown (1 if it was cancelled)
    runCompleted = Signal(int)
    #: emitted on the GUI thread once an export is done: written paths, error messages
    exportCompleted = Signal(list, list)

    def __init__(self, settings: QSettings | None = None, session: Session | None = None) -> None:
        super().__init__()
        self.setWindowTitle(f"iris_gui {__version__} — image2 workbench")
        icon = resource_path("iris_gui.svg")
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        self.settings = settings or QSettings("iris_gui", "iris_gui")
        self.session = session or Session()
        self.engine = WorkerThread()
        self.worker = self.engine.worker
        self.running = False
        self.rerun_when_done = False
        #: run the first product as soon as the demo dataset is open (iris-gui --demo)
        self.run_when_demo_ready = False
        #: the output folder was given explicitly (set_output_dir), not a default
        self.output_dir_chosen = False
        self.error_dialogs: list[QMessageBox] = []
        #: the open "export stale results?" question (None when none is open)
        self.stale_export_box: QMessageBox | None = None
        #: product keys to export once the run "Run first" started has finished
        self._export_after_run: list[str] | None = None
        self.partial: dict[str, ProductResult] = {}
        #: (product key, science model) shown before the product's first run; see _preview_result
        self._preview: tuple[str, ImageModel] | None = None
        self._preview_requested: str | None = None
        #: product key -> why its science file could not be read (shown on its item)
        self.open_failures: dict[str, str] = {}
        self.run_started = 0.0
        self.last_run_seconds: float | None = None
        self._run_total = 1
        self._run_index = 0
        self.console = None

        self._build_central()
        self._build_docks()
        self._build_actions()
        self._connect_worker()
        self._restore_settings()
        self.steps_panel.show_config(self.session.config)
        self.steps_panel.set_folders(self.session.output_dir, self.session.ref_dir)
        self.live_timer = QTimer(self)
        self.live_timer.setSingleShot(True)
        self.live_timer.timeout.connect(self.run_current)
        self.statusBar().showMessage("Open rate files or an association (File ▸ Open).")

    # ---- construction ---------------------------------------------------------------------------
    def _build_central(self) -> None:
        self.image_view = StepImageView(self)
        self.setCentralWidget(self.image_view)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("runProgress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(260)
        self.progress.setFormat("%p%")
        self.progress_label = QLabel("", self)
        self.statusBar().addPermanentWidget(self.progress_label)
        self.statusBar().addPermanentWidget(self.progress)

    def _dock(self, title: str, widget: QWidget, area, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        # docks scroll rather than force the window taller or wider than a small screen
        scroller = QScrollArea(dock)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setWidget(widget)
        dock.setWidget(scroller)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.inputs_panel = InputsPanel(self)
        self.inputs_dock = self._dock("Inputs", self.inputs_panel,
                                      Qt.DockWidgetArea.LeftDockWidgetArea, "inputsDock")
        self.steps_panel = StepsPanel(self)
        self.steps_dock = self._dock("Steps", self.steps_panel,
                                     Qt.DockWidgetArea.LeftDockWidgetArea, "stepsDock")
        self.splitDockWidget(self.inputs_dock, self.steps_dock, Qt.Orientation.Vertical)
        self.log_panel = LogPanel(self)
        self.log_dock = self._dock("Log", self.log_panel, Qt.DockWidgetArea.BottomDockWidgetArea,
                                   "logDock")
        self.console_dock = QDockWidget("Console", self)
        self.console_dock.setObjectName("consoleDock")
        self.console_dock.setWidget(QLabel("The console starts when this dock is first shown.",
                                           self.console_dock))
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.console_dock)
        self.tabifyDockWidget(self.log_dock, self.console_dock)
        self.log_dock.raise_()
        self.resizeDocks([self.inputs_dock, self.steps_dock], [200, 600], Qt.Orientation.Vertical)
        self.resizeDocks([self.log_dock], [150], Qt.Orientation.Vertical)
        self.resizeDocks([self.inputs_dock], [430], Qt.Orientation.Horizontal)
        self.console_dock.visibilityChanged.connect(self._console_visibility)

        self.inputs_panel.productSelected.connect(self.select_product)
        self.inputs_panel.removeRequested.connect(self.remove_input)
        self.inputs_panel.filesDropped.connect(self.open_paths)
        self.steps_panel.stepSelected.connect(self._show_step)
        self.steps_panel.skipChanged.connect(self._skip_changed)
        self.steps_panel.parameterChanged.connect(self._parameter_changed)
        self.steps_panel.pipelineOptionChanged.connect(self._pipeline_option_changed)
        self.steps_panel.outputDirChanged.connect(self._output_dir_changed)
        self.steps_panel.refDirChanged.connect(self._ref_dir_changed)

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(tip or text)
        action.setStatusTip(tip or text)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open…", self.open_dialog, QKeySequence.StandardKey.Open,
                                        "Open rate files or image2 associations")
        self.new_asn_action = self._action("&New association…", self.new_association_dialog,
                                           tip="Build an association from rate files")
        self.save_asn_action = self._action("&Save association as…", self.save_association_dialog)
        self.load_params_action = self._action("&Load parameters…", self.load_parameters_dialog,
                                               "Ctrl+L", "Load image2.cfg or .asdf parameters")
        self.save_params_action = self._action("Save &parameters…", self.save_parameters_dialog,
                                               "Ctrl+Shift+S", "Save image2.cfg or .asdf")
        self.export_action = self._action("&Export selected", self.export_selected, "Ctrl+E",
                                          "Write _cal (and _bsub, _i2d) of the selected product")
        self.export_all_action = self._action("Export &all", self.export_all,
                                              tip="Write the outputs of every product run")
        self.copy_cli_action = self._action("&Copy command line", self.copy_command_line,
                                            tip="Save the parameters and copy the equivalent "
                                                "iris-image2 command")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.run_action = self._action("&Run", self.run_or_cancel, "F5",
                                       "Run the selected product (Cancel while running)")
        self.run_all_action = self._action("Run a&ll", self.run_all, "Shift+F5",
                                           "Run every product")
        self.live_box = QCheckBox("Live", self)
        self.live_box.setToolTip("Re-run automatically when a parameter changes")

        menu = self.menuBar().addMenu("&File")
        for action in (self.open_action, self.new_asn_action, self.save_asn_action):
            menu.addAction(action)
        self.recent_menu = menu.addMenu("Open &recent")
        menu.addSeparator()
        menu.addAction(self.load_params_action)
        menu.addAction(self.save_params_action)
        menu.addSeparator()
        for action in (self.export_action, self.export_all_action, self.copy_cli_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        run_menu = self.menuBar().addMenu("&Run")
        run_menu.addAction(self.run_action)
        run_menu.addAction(self.run_all_action)
        view_menu = self.menuBar().addMenu("&View")
        for dock in (self.inputs_dock, self.steps_dock, self.log_dock, self.console_dock):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        for action in self.image_view.menu_actions():
            view_menu.addAction(action)

        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (self.open_action, self.load_params_action, self.save_params_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.run_action)
        toolbar.addAction(self.run_all_action)
        toolbar.addWidget(self.live_box)
        toolbar.addSeparator()
        toolbar.addAction(self.export_action)
        toolbar.addAction(self.copy_cli_action)
        self.addToolBar(toolbar)
        self._update_recent_menu()

    def _connect_worker(self) -> None:
        w = self.worker
        w.productStarted.connect(self._product_started)
        w.inputReady.connect(self._input_ready)
        w.stepStarted.connect(self._step_started)
        w.stepProgress.connect(self._step_progress)
        w.stepDone.connect(self._step_done)
        # Only bound methods of this window here: a lambda would run on the worker's thread.
        # (Step warnings need no slot: the engine logs them and the step's status shows them.)
        w.productDone.connect(self._product_done)
        w.runFinished.connect(self._run_finished)
        w.exportFinished.connect(self._export_finished)
        w.demoReady.connect(self._demo_ready)
        w.previewReady.connect(self._preview_ready)
        w.previewFailed.connect(self._preview_failed)
        w.failed.connect(self._worker_failed)
        self.image_view.failed.connect(self.show_error)

    def set_output_dir(self, folder: str, *, chosen: bool = True) -> None:
        """Export to ``folder``; ``chosen``: the user asked for it (e.g. --output-dir), so the
        demo does not replace it with its own output folder."""
        self.session.output_dir = str(Path(folder).resolve())
        self.steps_panel.set_folders(self.session.output_dir, self.session.ref_dir)
        self.session.apply_locations()
        self.output_dir_chosen = self.output_dir_chosen or chosen

    def _demo_ready(self, asn) -> None:
        self.statusBar().clearMessage()
        if not self.output_dir_chosen and not self.settings.value("folders/output"):
            self.set_output_dir(str(Path(asn).parent / "output"), chosen=False)
        self.open_paths([str(asn)])
        if self.run_when_demo_ready and self.session.current_product is not None:
            # a newcomer's first look: the first product processed, each step's result in view
            self.run_current()

    WORKER_TITLES = {"open": "Cannot open input", "run": "Run failed", "export": "Export failed",
                     "demo": "Demo dataset"}

    def _worker_failed(self, what: str, message: str) -> None:
        self.show_error(self.WORKER_TITLES.get(what, f"{what} failed"), message)

    # ---- settings ---------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(*default_window_size(self.screen()))
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        output_dir = self.settings.value("folders/output")
        if output_dir and Path(str(output_dir)).is_dir():
            self.session.output_dir = str(output_dir)
        self.session.apply_locations()

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("folders/output", self.session.output_dir)
        self.settings.sync()

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent/files") or []
        return [value] if isinstance(value, str) else list(value)

    def _add_recent(self, path: str) -> None:
        recent = [p for p in self.recent_files() if p != path]
        recent.insert(0, path)
        self.settings.setValue("recent/files", recent[:MAX_RECENT])
        self._update_recent_menu()

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            self.recent_menu.addAction(path, lambda p=path: self.open_paths([p]))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def _last_folder(self, key: str) -> str:
        return str(self.settings.value(f"folders/{key}") or Path.home())

    def _remember_folder(self, key: str, path: str) -> None:
        self.settings.setValue(f"folders/{key}", str(Path(path).parent))

    # ---- errors -----------------------------------------------------------------------------------
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

    # ---- inputs -----------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open rate files or associations", self._last_folder("open"),
            "Associations and rate files (*.json *.fits *.fit);;All files (*)")
        if paths:
            self._remember_folder("open", paths[0])
            self.open_paths(paths)

    def open_paths(self, paths: list[str]) -> None:
        """Open ASNs / rate files (the menu, drops, the command line and --demo all come here)."""
        opened = None
        for path in paths:
            try:
                association = self.session.open_path(path)
            except Exception as exc:  # any failure: a dialog naming the file, nothing added
                self.show_error("Cannot open input", failure_message(exc, "open", path))
                continue
            for product in association.products:  # opened again: read it again
                key = product_key(product)
                self.open_failures.pop(key, None)
                if key == self._preview_requested:
                    self._preview_requested = None
                if self._preview is not None and self._preview[0] == key:
                    self._preview = None
            self._add_recent(os.path.abspath(path))
            for problem in association.problems:
                log.warning("%s", problem)
            log.info("opened %s (%d product(s))", path, len(association.products))
            opened = opened or (association.products[0] if association.products else None)
        if opened is not None:
            self.session.current_product = opened
        self._refresh_inputs()
        self.select_product(self.session.current_product)

    def new_association_dialog(self, paths: list[str] | None = None) -> BuildAssociationDialog:
        dialog = BuildAssociationDialog(paths or [], self)
        dialog.accepted.connect(lambda: self._association_built(dialog))
        dialog.open()
        return dialog

    def _association_built(self, dialog: BuildAssociationDialog) -> None:
        try:
            association = dialog.association()
        except Exception as exc:
            self.show_error("New association", failure_message(exc, "build the association"))
            return
        if not association.products:
            self.show_error("New association", "Mark at least one file as science.")
            return
        self.session.add_association(association)
        self.session.current_product = association.products[0]
        self._refresh_inputs()
        self.select_product(self.session.current_product)

    def save_association_dialog(self) -> None:
        association = self._current_association()
        if association is None:
            self.show_error("Save association", "Open or build an association first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save association", self._last_folder("asn"),
                                              "Associations (*.json)")
        if path:
            self.save_association_to(association, path)

    def save_association_to(self, association: Association, path: str) -> None:
        try:
            save_association(association, path)
        except Exception as exc:
            self.show_error("Save association",
                            failure_message(exc, "save the association to", path))
            return
        association.path = os.path.abspath(path)
        self._remember_folder("asn", path)
        log.info("association saved to %s", path)
        self._refresh_inputs()

    def _current_association(self) -> Association | None:
        for association in self.session.associations:
            if self.session.current_product in association.products:
                return association
        return self.session.associations[0] if self.session.associations else None

    def remove_input(self, obj: Any) -> None:
        if isinstance(obj, Association):
            self.session.remove_association(obj)
        elif isinstance(obj, Product):
            self.session.remove_product(obj)
        self._refresh_inputs()
        self.select_product(self.session.current_product)

    def _refresh_inputs(self) -> None:
        self.inputs_panel.show_associations(self.session.associations,
                                            self.session.current_product, self.open_failures)
        self._mark_inputs()

    def select_product(self, product: Product | None) -> None:
        self.session.current_product = product
        self._show_plan(product)
        self._show_step(self.steps_panel.current_step())

    # ---- parameters -------------------------------------------------------------------------------
    def _skip_changed(self, step: str, skip: bool) -> None:
        self.session.config.set(f"steps.{step}.skip", skip)
        self._parameters_changed(step)

    def _parameter_changed(self, step: str, name: str, value: Any) -> None:
        try:
            self.session.config.set(f"steps.{step}.{name}", value)
        except Exception as exc:
            self.show_error("Invalid parameter", failure_message(exc, f"set steps.{step}.{name}"))
            self.steps_panel.show_config(self.session.config)
            return
        self._parameters_changed(step)

    def _pipeline_option_changed(self, name: str, value: Any) -> None:
        try:
            self.session.config.set(name, value)
        except Exception as exc:
            self.show_error("Invalid parameter", failure_message(exc, f"set {name}"))
            self.steps_panel.show_config(self.session.config)
        self.refresh_statuses()

    def _output_dir_changed(self, folder: str) -> None:
        if folder:
            self.session.output_dir = folder
            self.session.apply_locations()
            self.refresh_statuses()

    def _ref_dir_changed(self, folder: str) -> None:
        self.session.ref_dir = folder or None
        self.session.apply_locations()
        self._parameters_changed(STEPS[0].name)

    def _parameters_changed(self, step: str) -> None:
        """Show what the change makes stale, for every product; re-run if live."""
        self.refresh_statuses()
        if self.live_box.isChecked() and self.session.current_product is not None:
            self.live_timer.start(LIVE_DELAY_MS)

    def load_parameters_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load parameters", self._last_folder("params"),
                                              "Parameter files (*.cfg *.asdf);;All files (*)")
        if path:
            self.load_parameters_from(path)

    def load_parameters_from(self, path: str) -> bool:
        try:
            config = load_parameters(path)
        except Exception as exc:  # the form keeps the parameters it had
            self.show_error("Cannot load parameters",
                            failure_message(exc, "load parameters from", path))
            return False
        self._remember_folder("params", path)
        self.session.set_config(config)
        self.steps_panel.show_config(config)
        log.info("parameters loaded from %s", path)
        self._parameters_changed(STEPS[0].name)
        return True

    def save_parameters_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save parameters", self._last_folder("params"),
                                              "stpipe cfg (*.cfg);;asdf (*.asdf)")
        if path:
            self.save_parameters_to(path)

    def save_parameters_to(self, path: str) -> bool:
        try:
            save_parameters(self.session.config, path)
        except Exception as exc:
            self.show_error("Cannot save parameters",
                            failure_message(exc, "save parameters to", path))
            return False
        self._remember_folder("params", path)
        log.info("parameters saved to %s", path)
        return True

    # ---- running ----------------------------------------------------------------------------------
    def run_or_cancel(self) -> None:
        if self.running:
            self.cancel_run()
        else:
            self.run_current()

    def run_current(self) -> None:
        product = self.session.current_product
        if product is None:
            self.show_error("Run", "Open a rate file or an association first.")
            return
        self.start_run([product])

    def run_all(self) -> None:
        if not self.session.all_products:
            self.show_error("Run", "Open a rate file or an association first.")
            return
        self.start_run(self.session.all_products)

    def start_run(self, products: list[Product]) -> None:
        if self.running:
            self.rerun_when_done = True
            self.worker.cancel()
            return
        self.running = True
        self.rerun_when_done = False
        self.run_started = time.perf_counter()
        self._run_total = len(products)
        self._run_index = 0
        self.run_action.setText("&Cancel")
        self.run_action.setToolTip("Cancel the run")
        self.run_all_action.setEnabled(False)
        self.progress.setValue(0)
        self.session.apply_locations()
        token = self.worker.new_run_token()
        self.worker.requestRun.emit(self.session.pipeline, list(products),
                                    self.session.config.copy(), token)

    def cancel_run(self) -> None:
        if self.running:
            self.worker.cancel()
            self.progress_label.setText("cancelling…")

    def _is_current(self, product: Product) -> bool:
        current = self.session.current_product
        return current is not None and product_key(product) == product_key(current)

    def _product_started(self, product: Product, index: int, total: int) -> None:
        self._run_index = index
        self.partial[product_key(product)] = ProductResult(product, self.session.config.copy(),
                                                           self.session.ref_dir or "")
        self.progress_label.setText(f"{product.name} ({index + 1}/{total})")

    def _preview_result(self, product: Product) -> ProductResult | None:
        """Before a product has run: its science exposure alone (read on the worker, asked for
        once), so opening a file shows it."""
        key = product_key(product)
        if self._preview is not None and self._preview[0] == key:
            return ProductResult(product, self.session.config.copy(), self.session.ref_dir or "",
                                 input_model=self._preview[1])
        # a product with problems (missing or two science members) says so on its tree item
        if key != self._preview_requested and not product.problems:
            self._preview_requested = key
            self.worker.requestPreview.emit(product)
        return None

    def _preview_failed(self, product: Product, message: str) -> None:
        """The science file of ``product`` cannot be read (the dialog came through ``failed``):
        mark its item so it does not look like a normal input; the view stays empty."""
        self.open_failures[product_key(product)] = message
        self._refresh_inputs()
        if self._is_current(product):
            self.statusBar().showMessage(f"{product.name}: cannot be read", 10000)

    def _preview_ready(self, product: Product, model: ImageModel) -> None:
        # only the latest preview is kept: a 4096² exposure is 192 MB
        if self.open_failures.pop(product_key(product), None) is not None:
            self._refresh_inputs()
        self._preview = (product_key(product), model)
        if self._is_current(product) and self.session.current_result is None \
                and product_key(product) not in self.partial:
            self._show_step(self.steps_panel.current_step())

    def _input_ready(self, product: Product, model: ImageModel) -> None:
        partial = self.partial.get(product_key(product))
        if partial is not None:
            partial.input_model = model

    def _step_started(self, product: Product, step: StepSpec) -> None:
        if self._is_current(product):
            self.steps_panel.set_status(step.name, "running", "running…")
        self.progress_label.setText(f"{product.name}: {step.name}")

    def _step_progress(self, product: Product, step: StepSpec, fraction: float) -> None:
        steps_done = step_index(step.name) + fraction
        overall = (self._run_index + steps_done / len(STEPS)) / max(1, self._run_total)
        self.progress.setValue(int(1000 * overall))
        if self._is_current(product):
            self.steps_panel.set_status(step.name, "running", f"running {fraction * 100:.0f}%")

    def _step_done(self, product: Product, step: StepSpec, result: StepResult) -> None:
        partial = self.partial.get(product_key(product))
        if partial is not None:
            partial.steps[step.name] = result
        overall = (self._run_index + (step_index(step.name) + 1) / len(STEPS)) / max(1, self._run_total)
        self.progress.setValue(int(1000 * overall))
        if self._is_current(product):
            self._show_step_status(step.name, result)
            if partial is not None and step.name == self.steps_panel.current_step():
                self.image_view.show_step(partial, step.name)

    def _product_done(self, result: ProductResult) -> None:
        self.partial.pop(product_key(result.product), None)
        if self._preview is not None and self._preview[0] == product_key(result.product):
            self._preview = None  # the run's own input model replaces it
        if result.cancelled:
            log.info("%s: cancelled; previous results kept", result.product.name)
            self.refresh_statuses()
            return
        self.session.store_result(result)
        if result.error:
            self.show_error(f"{result.product.name} failed", result.error)
        elif self.open_failures.pop(product_key(result.product), None) is not None:
            self._refresh_inputs()  # it was read after all
        self.refresh_statuses()
        if self._is_current(result.product):
            self._show_step(self.steps_panel.current_step())

    def _run_finished(self, cancelled: bool) -> None:
        self.running = False
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
                self._export([self.session.product_results.get(key) for key in pending])
        if self.rerun_when_done:
            self.rerun_when_done = False
            self.run_current()

    # ---- statuses and views -------------------------------------------------------------------------
    def _show_step_status(self, name: str, result: StepResult) -> None:
        if result.status == "FAILED":
            self.steps_panel.set_status(name, "FAILED", "failed", result.reason)
            return
        timing = f" {result.elapsed:.2f} s" if result.status == "COMPLETE" else ""
        cached = " (cached)" if result.from_cache else ""
        text = f"{result.status.lower()}{timing}{cached}"
        tooltip = result.reason or text
        state = result.status
        if result.status == "SKIPPED" and result.reason:
            text = f"skipped: {result.reason}"
        if result.warnings:  # the step says what is suspicious; its reason stays in view too
            state, text = "warning", f"⚠ {text}"
            tooltip = "\n".join(([result.reason] if result.reason else []) + result.warnings)
        self.steps_panel.set_status(name, state, text, tooltip)

    def refresh_statuses(self) -> None:
        """Every status shown, for every product, from the engine's plan and its last result."""
        self._mark_inputs()
        product = self.session.current_product
        if product is None or product_key(product) not in self.partial:  # a run shows its own
            self._show_plan(product)

    def _show_plan(self, product: Product | None) -> None:
        """The Steps list of ``product``: its last result where the current plan would give
        that very result, otherwise what a run would do (stale, off, to run, cannot run)."""
        panel = self.steps_panel
        if product is None:
            panel.reset_statuses()
            return
        config = self.session.config
        plans = self.session.plan_for(product)
        result = self.session.result_for(product)
        current = current_steps(plans, result)
        same_config = result is not None and result.config.to_dict() == config.to_dict()
        upstream_current = True
        for plan in plans:
            name = plan.step
            step = result.steps.get(name) if result is not None else None
            if plan.state == CANNOT_RUN:
                panel.set_status(name, "FAILED", "cannot run", plan.reason)
            elif step is not None and (current[name] or (
                    step.status == "FAILED" and same_config and upstream_current)):
                self._show_step_status(name, step)
            elif plan.state == OFF:
                text = "off (skip = True)" + (" — stale: the last run ran it"
                                              if step is not None else "")
                panel.set_status(name, "off", text, plan.reason)
            elif step is not None:
                panel.set_status(name, "stale", "stale (parameters changed)",
                                 f"the shown result was made with other parameters, inputs or "
                                 f"references; a run would recompute it ({plan.reason})")
            elif plan.state == CACHED:
                panel.set_status(name, "cached", "cached", plan.reason)
            else:
                panel.set_status(name, "pending", "to run", plan.reason)
            upstream_current = upstream_current and current[name]

    def _mark_inputs(self) -> None:
        """Each product's item says whether its last result is current, stale or failed."""
        tree = self.inputs_panel.tree
        for top_index in range(tree.topLevelItemCount()):
            top = tree.topLevelItem(top_index)
            for index in range(top.childCount()):
                item = top.child(index)
                product = item.data(0, Qt.ItemDataRole.UserRole)
                if not isinstance(product, Product) or product_key(product) in self.open_failures:
                    continue
                result = self.session.result_for(product)
                if result is None:
                    text, tip = "product", "not run yet"
                elif not result.ok:
                    text, tip = "failed", result.error or "the last run failed"
                elif self.session.is_stale(product):
                    text, tip = "● stale", ("its result was made with other parameters, inputs "
                                           "or references than the current ones: run it again")
                else:
                    text, tip = "done", "its result matches the current parameters"
                item.setText(1, text)
                item.setToolTip(1, tip)

    def _show_step(self, name: str) -> None:
        product = self.session.current_product
        result = None
        if product is not None:
            result = self.partial.get(product_key(product)) or self.session.current_result
            if result is None:
                result = self._preview_result(product)
        others = [r for r in map(self.session.result_for, self.session.all_products)
                  if r is not None and r is not result]
        self.image_view.show_step(result, name, others)

    # ---- export -------------------------------------------------------------------------------------
    def export_selected(self) -> None:
        result = self.session.current_result
        self._export([result] if result is not None else [])

    def export_all(self) -> None:
        self._export([self.session.result_for(p) for p in self.session.all_products])

    def _export(self, results: list[ProductResult | None]) -> None:
        ready = [r for r in results if r is not None and r.ok]
        if not ready:
            self.show_error("Export", "Nothing to export: run the product first.")
            return
        stale = [r for r in ready if self.session.is_stale(r.product)]
        if stale:
            self.ask_stale_export(ready, stale)
            return
        self._start_export(ready)

    def _start_export(self, ready: list[ProductResult]) -> None:
        self.session.apply_locations()
        self.worker.requestExport.emit(self.session.pipeline, ready, self.session.output_dir)

    STALE_CHOICES = (("Run first", "run"), ("Export as made", "as made"), ("Cancel", "cancel"))

    def ask_stale_export(self, ready: list[ProductResult],
                         stale: list[ProductResult]) -> QMessageBox:
        """Some results no longer match the current parameters: run them first, export them as
        they were made, or cancel. Non-blocking (``stale_export_box`` until answered)."""
        names = ", ".join(r.product.name for r in stale)
        box = QMessageBox(QMessageBox.Icon.Question, "Export stale results",
                          f"{len(stale)} product(s) were run with other parameters, inputs or "
                          f"references than the current ones: {names}.\n\n"
                          "Run first: run them with the current parameters, then export.\n"
                          "Export as made: write them as they were made (their PROVENANCE "
                          "records the parameters they were made with).",
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("staleExportDialog")
        for text, choice in self.STALE_CHOICES:
            role = (QMessageBox.ButtonRole.RejectRole if choice == "cancel"
                    else QMessageBox.ButtonRole.AcceptRole)
            button = box.addButton(text, role)
            button.setProperty("choice", choice)
            if choice == "run":
                box.setDefaultButton(button)
            if choice == "cancel":
                box.setEscapeButton(button)
        box.buttonClicked.connect(
            lambda button, r=ready, s=stale: self._stale_export_answered(
                button.property("choice") or "cancel", r, s))
        box.finished.connect(lambda _r, b=box: self._stale_box_closed(b))
        self.stale_export_box = box
        box.open()
        return box

    def _stale_box_closed(self, box: QMessageBox) -> None:
        if self.stale_export_box is box:
            self.stale_export_box = None

    def _stale_export_answered(self, choice: str, ready: list[ProductResult],
                               stale: list[ProductResult]) -> None:
        self.stale_export_box = None
        if choice == "as made":
            for result in stale:
                log.warning("%s: exported as made, with the parameters of its last run, not the "
                            "current ones; its PROVENANCE records the parameters it was made with",
                            result.product.name)
            self._start_export(ready)
        elif choice == "run":
            if self.running:
                self.show_error("Export", "A run is in progress: export when it has finished.")
                return
            log.info("running %s before exporting", ", ".join(r.product.name for r in stale))
            self._export_after_run = [product_key(r.product) for r in ready]
            self.start_run([r.product for r in stale])
        else:
            log.info("export cancelled: nothing written")
            self.statusBar().showMessage("export cancelled", 10000)

    def _export_finished(self, written: list, errors: list) -> None:
        for path in written:
            log.info("exported %s", path)
        # errors were shown already: the worker's failed signal (a dialog and the log)
        self.statusBar().showMessage(f"exported {len(written)} file(s) to "
                                     f"{self.session.output_dir}"
                                     + (f"; {len(errors)} failed" if errors else ""), 10000)
        self.exportCompleted.emit(written, errors)

    def copy_command_line(self) -> str | None:
        cfg = Path(self.session.output_dir) / "iris_gui_image2.cfg"
        try:
            text = self.session.command_line(cfg)
        except Exception as exc:
            self.show_error("Copy command line", failure_message(exc, "save parameters to", cfg))
            return None
        QGuiApplication.clipboard().setText(text)
        log.info("copied: %s", text)
        self.statusBar().showMessage("command line copied to the clipboard", 10000)
        return text

    # ---- console ------------------------------------------------------------------------------------
    def _console_visibility(self, visible: bool) -> None:
        if visible:
            self.ensure_console()

    def console_namespace(self) -> dict[str, Any]:
        import numpy as np
        from astropy.io import fits

        return {"session": self.session, "pipeline": self.session.pipeline, "window": self,
                "config": self.session.config, "np": np, "fits": fits, "STEPS": STEP_BY_NAME}

    def ensure_console(self):
        if self.console is None:
            from .console_dock import ConsolePanel

            self.console = ConsolePanel(self.console_namespace(), self.console_dock)
            self.console_dock.setWidget(self.console)
        else:
            self.console.push(self.console_namespace())
        return self.console

    # ---- closing ------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the worker thread and the console; safe to call twice."""
        self.image_view.shutdown()
        if self.engine is not None:
            self.engine.stop()
            self.engine = None
        if self.console is not None:
            self.console.shutdown()
        self.log_panel.detach()

    def closeEvent(self, event) -> None:  # noqa: N802
        self._save_settings()
        self.shutdown()
        super().closeEvent(event)
