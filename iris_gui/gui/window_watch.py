"""The window's quick-look: File ▸ Watch folder…, the Night dock, following the newest product,
the badge of new arrivals, and blinking against the previous exposure of the same filter (P).

The watch runs in a process of its own (``engine.quicklook_process``); a ``WatchThread`` only
reads its pipe and hands rows and results to the GUI thread as signals. Each calibrated product
joins one "quick-look" association of the workbench with its result; only the newest few stay
there (``KEEP``; the product shown and its blink partner always do), so a night of exposures
does not fill the memory or the Inputs tree. The night table itself (``workbench.night``) keeps
every file. Installed by ``install_watch(window)``, from ``window_actions.build_actions``; the
watch stops when the window closes (an event filter: the window's own shutdown is not changed).
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QEvent, QObject, Qt, QThread, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..display.view_sources import AFTER, other_product_label
from ..engine.association import Association
from ..engine.night_log import FAILED, NIGHT_COLUMNS, night_cells
from ..state.view_state import BLINK, SIDE_BY_SIDE

log = logging.getLogger("iris_gui.gui")

#: quick-look products kept in the workbench (with their results) besides the shown one
KEEP = 6
QUICKLOOK_POOL = "quick-look"
STATUS_COLOURS = {"done": "#2e7d32", "done earlier": "#558b2f", "failed": "#c62828",
                  "processing": "#1565c0", "sky": "#6d4c41"}
VERDICT_COLOURS = {"pass": "#2e7d32", "warn": "#ef6c00", "fail": "#c62828"}


class WatchThread(QThread):
    """Reads the quick-look process's messages; everything it does is emit them."""

    rowReceived = Signal(object)
    resultReceived = Signal(object)
    logReceived = Signal(int, str)
    ended = Signal(str)

    def __init__(self, process, parent=None) -> None:
        super().__init__(parent)
        self.process = process

    def run(self) -> None:
        error = ""
        for message in self.process.messages():
            kind = message[0]
            if kind == "row":
                self.rowReceived.emit(message[1])
            elif kind == "result":
                self.resultReceived.emit(message[1])
            elif kind == "log":
                self.logReceived.emit(message[1], message[2])
            elif kind == "error":
                error = message[1]
            self.msleep(0)  # let the GUI thread have the GIL between messages
        self.ended.emit(error)


class NightPanel(QWidget):
    """The Night dock: the rule, the badge, Stop / Retry, blink-previous, and the table."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        bar = QHBoxLayout()
        self.badge = QToolButton(self)
        self.badge.setObjectName("nightBadge")
        self.badge.setStyleSheet("QToolButton { background: #ef6c00; color: white; "
                                 "font-weight: bold; border-radius: 6px; padding: 1px 6px; }")
        self.badge.setToolTip("New exposures arrived while you look at another: show the newest")
        self.badge.hide()
        bar.addWidget(self.badge)
        self.blink = QToolButton(self)
        self.blink.setObjectName("nightBlink")
        bar.addWidget(self.blink)
        self.retry = QPushButton("Retry", self)
        self.retry.setObjectName("nightRetry")
        self.retry.setToolTip("Run the selected failed file again")
        self.retry.setEnabled(False)
        bar.addWidget(self.retry)
        self.stop = QPushButton("Stop", self)
        self.stop.setObjectName("nightStop")
        self.stop.setEnabled(False)
        bar.addWidget(self.stop)
        # the rule in words takes what is left of the line (all of it in the tooltip), so the
        # buttons stay on screen in a 1024-pixel window
        self.rule = QLabel("Not watching. File ▸ Watch folder… starts a quick-look.", self)
        self.rule.setObjectName("nightRule")
        self.rule.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.rule, 1)
        layout.addLayout(bar)
        self.table = QTableWidget(0, len(NIGHT_COLUMNS), self)
        self.table.setObjectName("nightTable")
        self.table.setHorizontalHeaderLabels(list(NIGHT_COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for column in range(len(NIGHT_COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        # a failure's reason is long: the Status column is cut (the tooltip has it all)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(3, 240)
        header.setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self._rows: dict[str, int] = {}

    def show_row(self, row) -> None:
        """Show one row (added at the top: the newest first), without redrawing the others."""
        index = self._rows.get(row.path)
        if index is None:
            self.table.insertRow(0)
            self._rows = {path: i + 1 for path, i in self._rows.items()}
            self._rows[row.path] = index = 0
        cells = night_cells(row)
        for column, text in enumerate(cells):
            item = self.table.item(index, column)
            if item is None:
                item = QTableWidgetItem()
                self.table.setItem(index, column, item)
            item.setText(text)
            item.setData(Qt.ItemDataRole.UserRole, row.path)
            if column == 3:
                item.setToolTip(row.reason or row.status)
                colour = STATUS_COLOURS.get(row.status)
                item.setForeground(QBrush(QColor(colour)) if colour else QBrush())
            if column == 6:
                colour = VERDICT_COLOURS.get(row.verdict)
                item.setForeground(QBrush(QColor(colour)) if colour else QBrush())
                item.setToolTip("\n".join(f"{name}: {verdict}"
                                          for name, verdict in row.checks.items()) or "")

    def show_all(self, rows) -> None:
        self.table.setRowCount(0)
        self._rows = {}
        for row in rows:
            self.show_row(row)

    def selected_path(self) -> str | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None


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
        self._build()
        self.workbench.selection_changed.connect(self._selection_changed)
        self.workbench.parameters_changed.connect(self._parameters_changed)
        self.night.changed.connect(self._night_changed)
        window.installEventFilter(self)

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
        self.thread = WatchThread(self.process, self)
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
        self.panel.stop.setEnabled(False)
        self.stop_action.setEnabled(False)
        if process is not None:
            self.panel.rule.setText(f"Stopped. {self.settings.describe()}")

    @property
    def watching(self) -> bool:
        return self.process is not None

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt naming)
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.stop()
        return False

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

    def _result(self, result) -> None:
        """A product calibrated: into the workbench with its result, shown if following. The
        window's refresh (the Inputs tree, every product's statuses) runs once, not per
        change: each is a GUI-thread cost."""
        wb = self.workbench
        product = result.product
        with wb.inputs_changed.blocked(), wb.results_changed.blocked():
            if self.association is None or self.association not in wb.associations:
                self.association = Association([product], path=None, asn_pool=QUICKLOOK_POOL)
                wb.add_association(self.association)
            else:
                self.association.products.append(product)
            wb.apply_locations()
            wb.pipeline.adopt_result(result)  # its steps count as current, not stale
            wb.store_result(result)
            self._evict(product if self.night.following else wb.current_product)
        if self.night.arrived():
            self._select(product)  # the window refreshes from selection_changed
        else:
            wb.inputs_changed.emit()

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
        """Show the product of the night row ``path`` (if it is still kept)."""
        product = next((p for p in self.quicklook_products() if p.science == path), None)
        if product is None:
            self.window.statusBar().showMessage(
                f"{os.path.basename(path or '')}: not kept in memory; its outputs are in "
                f"{self.night.watch.get('output', 'the output folder')}", 8000)
            return
        self.workbench.select(product)  # the user's pick: following stops unless the newest

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
