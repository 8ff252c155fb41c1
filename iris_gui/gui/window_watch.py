"""The window's quick-look: File ▸ Watch folder…, the Night dock, following the newest product,
the badge of new arrivals, and blinking against the previous exposure of the same filter (P).

The watch runs in a process of its own (``engine.quicklook_process``); a ``WatchThread``
(``watch_panel``) only reads its pipe and hands rows and results to the GUI thread as signals.
Each calibrated product joins one "quick-look" association of the workbench with its result;
only the newest few stay there (``KEEP``; the product shown and its blink partner always do),
so a night of exposures does not fill the memory or the Inputs tree: a product let go is
closed, its cached steps dropped with it. The night table itself (``workbench.night``) keeps
every file; choosing an older one there reads its ``_cal`` back (``engine.quicklook_reopen``,
on a worker thread) and shows it again.

An arrival costs the GUI thread only its own rows: its Inputs row is added and the let-go ones
taken away (``MainWindow.product_added`` / ``product_removed``), never a rebuild of the tree or
every product's statuses. Installed by ``install_watch(window)``, from
``window_actions.build_actions``; ``MainWindow.shutdown`` stops the watch.
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget

from ..display.view_sources import AFTER, other_product_label
from ..engine.association import Association
from ..engine.night_log import DONE, EARLIER, FAILED
from ..state.view_state import BLINK, SIDE_BY_SIDE
from .display_tasks import TaskRunner
from .inputs_panel import QUICKLOOK_POOL
from .watch_panel import NightPanel, WatchThread

log = logging.getLogger("iris_gui.gui")

#: quick-look products kept in the workbench (with their results) besides the shown one
KEEP = 6


class WatchCommands(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.workbench = window.workbench
        self.night = window.workbench.night
        self.process = None
        self.thread: WatchThread | None = None
        self.association: Association | None = None
        self._selecting = False
        #: reads a let-go product's _cal back (engine.quicklook_reopen)
        self.tasks = TaskRunner(self, threads=1)
        self.tasks.finished.connect(self._reopened)
        self._reopening: set[str] = set()
        self._build()
        self.workbench.selection_changed.connect(self._selection_changed)
        self.workbench.parameters_changed.connect(self._parameters_changed)
        self.night.changed.connect(self._night_changed)

    # ---- construction -------------------------------------------------------------------------
    def _build(self) -> None:
        window = self.window
        self.panel = NightPanel(window)
        self.dock = QDockWidget("Night", window)
        self.dock.setObjectName("nightDock")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        window.tabifyDockWidget(window.log_dock, self.dock)
        window.log_dock.raise_()
        self.watch_action = QAction("&Watch folder…", window)
        self.watch_action.setToolTip("Quick-look: calibrate each new exposure of a folder as "
                                     "it lands, and show the newest")
        self.watch_action.triggered.connect(self.watch_dialog)
        self.stop_action = QAction("S&top watching", window)
        self.stop_action.setEnabled(False)
        self.stop_action.triggered.connect(self.stop)
        self.blink_action = QAction("Blink with the &previous exposure of this filter", window)
        self.blink_action.setShortcut(QKeySequence("P"))
        self.blink_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.blink_action.setCheckable(True)
        self.blink_action.toggled.connect(self.set_blink_previous)
        window.addAction(self.blink_action)
        self.blink_action.setIconText("Blink previous (P)")  # the dock's button
        self.panel.blink.setDefaultAction(self.blink_action)
        self.panel.stop.clicked.connect(self.stop)
        self.panel.retry.clicked.connect(self.retry_selected)
        self.panel.badge.clicked.connect(self.show_newest)
        self.panel.table.itemSelectionChanged.connect(self._table_selection)
        self.panel.table.itemDoubleClicked.connect(lambda item: self.show_file(
            item.data(Qt.ItemDataRole.UserRole)))
        self.panel.show_all(self.night.rows)

    def add_to_menus(self, file_menu, view_menu) -> None:
        """Watch folder… / Stop watching above File ▸ Quit; the dock and P in the View menu."""
        quit_action = self.window.quit_action
        file_menu.insertAction(quit_action, self.watch_action)
        file_menu.insertAction(quit_action, self.stop_action)
        file_menu.insertSeparator(quit_action)
        if view_menu is not None:
            view_menu.addSeparator()
            view_menu.addAction(self.dock.toggleViewAction())
            view_menu.addAction(self.blink_action)

    # ---- starting and stopping ----------------------------------------------------------------
    def watch_dialog(self):
        from .watch_dialog import WatchDialog

        dialog = WatchDialog(self.window, self.night.watch, self.workbench.output_dir)
        dialog.accepted.connect(lambda: self._start_from(dialog))
        dialog.open()
        self.dialog = dialog
        return dialog

    def _start_from(self, dialog) -> None:
        from .failures import failure_message

        try:
            self.start(dialog.settings(self.workbench.ref_dir))
        except Exception as exc:  # noqa: BLE001 - a dialog naming the folder
            self.window.show_error("Watch folder", failure_message(exc, "start watching"))

    def start(self, settings) -> None:
        """Watch with ``settings`` (``engine.quicklook.WatchSettings``) and the current
        parameters; a watch already running is stopped first."""
        from ..engine.quicklook_process import QuickLookProcess

        self.stop()
        self.night.watch = {"folder": settings.folder, "pattern": settings.pattern,
                            "output": settings.output_dir,
                            "backgrounds": settings.backgrounds.to_text()}
        self.night.follow()
        self.settings = settings
        self.process = QuickLookProcess(settings, self.workbench.config)
        self.thread = WatchThread(self.process, self, prepare=self._prepare)
        self.thread.rowReceived.connect(self._row)
        self.thread.resultReceived.connect(self._result)
        self.thread.logReceived.connect(lambda level, text: log.log(level, "quick-look: %s",
                                                                     text))
        self.thread.ended.connect(self._ended)
        self.thread.start()
        if self.workbench.current_step == "bkg_subtract":
            self.workbench.select_step("photom")  # the calibrated frame, Before / After
        self.panel.rule.setText(settings.describe())
        self.panel.rule.setToolTip(settings.describe())
        self.panel.stop.setEnabled(True)
        self.stop_action.setEnabled(True)
        self.dock.show()
        self.dock.raise_()
        self.window.statusBar().showMessage(f"Watching {settings.folder}", 5000)

    def stop(self) -> None:
        """Stop the watch (the product being run is not written) and wait for it."""
        process, thread = self.process, self.thread
        self.process = self.thread = None
        if process is not None:
            process.stop(wait=True)
        if thread is not None:
            thread.wait(15000)
        if process is not None:
            from ..engine.receive_pool import RECEIVE_POOL

            RECEIVE_POOL.clear()  # the blocks kept for arrivals (the products shown keep theirs)
        self.panel.stop.setEnabled(False)
        self.stop_action.setEnabled(False)
        if process is not None:
            self.panel.rule.setText(f"Stopped. {self.settings.describe()}")

    @property
    def watching(self) -> bool:
        return self.process is not None

    def shutdown(self) -> None:
        """Stop the watch and the reading of outputs (the window closes); safe to call twice."""
        self.stop()
        self.tasks.shutdown()

    def _ended(self, error: str) -> None:
        if error:
            self.window.show_error("Watch folder", error)
        if self.process is not None and not self.process.alive:
            self.stop()

    def _parameters_changed(self, _step: str) -> None:
        if self.process is not None:
            self.process.set_config(self.workbench.config)

    # ---- rows and results -----------------------------------------------------------------------
    def _row(self, row) -> None:
        self.night.update(row)
        self.panel.show_row(row)
        self._table_selection()

    def _prepare(self, result) -> None:
        """On the watch thread: scan the product's reference folder (the watched one unless
        the window has a reference folder), which now holds the new exposure, so the plan the
        GUI thread makes for its statuses does not read that file's header itself."""
        from pathlib import Path

        from ..engine.references import folder_signature

        ref_dir = self.workbench.ref_dir
        folder = Path(ref_dir) if ref_dir else Path(result.product.science).parent
        folder_signature(folder, "dark")

    def _result(self, result) -> None:
        """A product calibrated: into the workbench with its result, shown if following.
        Only its own rows change on screen (the workbench's inputs_changed and
        results_changed, which rebuild the tree and every status, are held back)."""
        wb = self.workbench
        following = self.night.following
        self._adopt(result, adopt=True,
                    shown=result.product if following else wb.current_product)
        if self.night.arrived():
            # shown at the next turn of the event loop: two short stalls, not one long one
            QTimer.singleShot(0, lambda product=result.product: self._show_arrival(product))

    def _show_arrival(self, product) -> None:
        if self.night.following and product is self.newest_product():
            self._select(product)  # the window refreshes from selection_changed

    def _adopt(self, result, *, adopt: bool, shown) -> None:
        """``result``'s product into the quick-look association with it (``adopt``: its steps
        into the pipeline's cache, so they count as current); the oldest ones let go, never
        ``shown`` (the product shown next)."""
        wb = self.workbench
        product = result.product
        with wb.inputs_changed.blocked(), wb.results_changed.blocked():
            if self.association is None or self.association not in wb.associations:
                self.association = Association([product], path=None, asn_pool=QUICKLOOK_POOL)
                wb.add_association(self.association)
            else:  # in the night's order (one read back is older than the newest)
                products = self.association.products
                order = self._night_order()
                later = [i for i, p in enumerate(products)
                         if order.get(p.science, -1) > order.get(product.science, -1)]
                products.insert(later[0] if later else len(products), product)
            wb.apply_locations()
            if adopt:
                wb.pipeline.adopt_result(result)
            wb.store_result(result)
            self.window.product_added(product)
            self._evict(shown)

    def _night_order(self) -> dict[str, int]:
        return {row.path: index for index, row in enumerate(self.night.rows)}

    def quicklook_products(self) -> list:
        return list(self.association.products) if self.association is not None else []

    def newest_product(self):
        products = self.quicklook_products()
        return products[-1] if products else None

    def _partner(self, product):
        """The product of the previous exposure of ``product``'s filter, if still kept."""
        if product is None:
            return None
        previous = self.night.previous_same_filter(product.science)
        if previous is None:
            return None
        return next((p for p in self.quicklook_products() if p.science == previous.path), None)

    def _evict(self, current) -> None:
        """Drop the oldest quick-look products beyond KEEP, never ``current`` (shown next),
        the newest, or their blink partners."""
        products = self.quicklook_products()
        if len(products) <= KEEP:
            return
        newest = self.newest_product()
        keep = {id(current), id(newest), id(self._partner(current)), id(self._partner(newest))}
        for product in products:
            if len(self.quicklook_products()) <= KEEP:
                break
            if id(product) not in keep:
                self.workbench.remove_product(product)
                # its cached steps (every frame, ~370 MB at 2048²) go with it
                self.workbench.pipeline.forget_product(product.science)
                self.window.product_removed(product)

    def _select(self, product) -> None:
        self._selecting = True
        try:
            self.workbench.select(product)
        finally:
            self._selecting = False
        if self.night.blink_previous:
            self.apply_blink()

    def _selection_changed(self) -> None:
        if self._selecting or self.association is None:
            return
        current = self.workbench.current_product
        self.night.picked(current is not None and current is self.newest_product())

    def _night_changed(self, path: str) -> None:
        if path:
            return
        unseen = self.night.unseen
        self.panel.badge.setVisible(unseen > 0)
        self.panel.badge.setText(f"{unseen} new ▸")
        if self.blink_action.isChecked() != self.night.blink_previous:
            self.blink_action.setChecked(self.night.blink_previous)

    def show_newest(self) -> None:
        product = self.newest_product()
        self.night.follow()
        if product is not None:
            self._select(product)

    def show_file(self, path: str | None) -> None:
        """Show the product of the night row ``path``: the one kept, else its ``_cal`` read
        back on a worker thread (``_reopened`` shows it)."""
        product = next((p for p in self.quicklook_products() if p.science == path), None)
        if product is not None:
            self.workbench.select(product)  # the user's pick: following stops unless newest
            return
        row = self.night.row(path) if path else None
        if row is None or row.status not in (DONE, EARLIER) or not row.outputs:
            self.window.statusBar().showMessage(
                f"{os.path.basename(path or '')}: nothing calibrated to show"
                + (f" ({row.status})" if row is not None else ""), 8000)
            return
        if path in self._reopening:
            return
        from ..engine.quicklook_reopen import reopen_result

        self._reopening.add(path)
        self.night.picked(False)  # an older exposure: following stops, arrivals are counted
        self.window.statusBar().showMessage(f"{row.name}: reading its _cal back…", 5000)
        self.tasks.submit(("reopen", path), reopen_result, row, self.workbench.config,
                          self.workbench.ref_dir or "")

    def _reopened(self, key, result, error: str) -> None:
        _kind, path = key
        self._reopening.discard(path)
        if error or result is None:
            self.window.show_error("Quick-look", error or f"{path}: could not be read back")
            return
        if any(p.science == path for p in self.quicklook_products()):
            return  # it arrived again meanwhile (a retry): that one is shown
        # not adopted into the pipeline's cache: only the written frame is back
        self._adopt(result, adopt=False, shown=result.product)
        if self.workbench.current_step not in result.steps:
            self.workbench.select_step(next(iter(result.steps)))  # the frame read back
        self.workbench.select(result.product)

    # ---- retry and blink ---------------------------------------------------------------------
    def _table_selection(self) -> None:
        path = self.panel.selected_path()
        row = self.night.row(path) if path else None
        self.panel.retry.setEnabled(self.watching and row is not None and row.status == FAILED)

    def retry_selected(self) -> None:
        path = self.panel.selected_path()
        if path and self.process is not None:
            self.process.retry(path)

    def set_blink_previous(self, on: bool) -> None:
        self.night.set_blink_previous(on)
        if on:
            self.apply_blink()
        elif self.window.image_view.state.layout == BLINK:
            self.window.image_view.set_mode(SIDE_BY_SIDE)

    def apply_blink(self) -> bool:
        """Blink the shown product's output against the previous exposure of its filter."""
        view = self.window.image_view
        partner = self._partner(self.workbench.current_product)
        if partner is None or self.workbench.result_for(partner) is None:
            self.window.statusBar().showMessage(
                "Blink previous: no earlier exposure of this filter is kept", 5000)
            return False
        step = self.workbench.current_step
        view.state.choose(step, "A", AFTER)
        view.state.choose(step, "B", other_product_label(partner.name))
        view.set_mode(BLINK)
        return True


def install_watch(window, file_menu, view_menu=None) -> WatchCommands:
    window.watch = WatchCommands(window)
    window.watch.add_to_menus(file_menu, view_menu)
    return window.watch
