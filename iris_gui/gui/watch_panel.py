"""The Night dock's widgets: the table of the night (newest first), the rule in words, the badge
of new arrivals, Retry, Stop and blink-previous; and ``WatchThread``, which reads the quick-look
process's pipe off the GUI thread. The commands behind them are ``window_watch``."""

from __future__ import annotations

from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
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

from ..engine.night_log import NIGHT_COLUMNS, night_cells
from .thread_priority import lower_thread_priority

STATUS_COLOURS = {"done": "#2e7d32", "done earlier": "#558b2f", "failed": "#c62828",
                  "processing": "#1565c0", "sky": "#6d4c41"}
VERDICT_COLOURS = {"pass": "#2e7d32", "warn": "#ef6c00", "fail": "#c62828"}


#: this thread's niceness above the GUI thread's: reading a 2048² product off the pipe is
#: ~370 MB of copying that must not take the core the GUI thread wakes up on
THREAD_NICENESS = 5


class WatchThread(QThread):
    """Reads the quick-look process's messages and emits them (a result once prepared)."""

    rowReceived = Signal(object)
    resultReceived = Signal(object)
    logReceived = Signal(int, str)
    ended = Signal(str)

    def __init__(self, process, parent=None, prepare=None) -> None:
        super().__init__(parent)
        self.process = process
        #: ``prepare(result)``, on this thread before a result is handed on: what the GUI
        #: thread would otherwise do first (reading the new exposure's header for the
        #: reference scan)
        self.prepare = prepare

    def run(self) -> None:
        lower_thread_priority(THREAD_NICENESS)
        error = ""
        for message in self.process.messages():
            kind = message[0]
            if kind == "row":
                self.rowReceived.emit(message[1])
            elif kind == "result":
                if self.prepare is not None:
                    try:
                        self.prepare(message[1])
                    except Exception:  # noqa: BLE001 - the GUI thread does it then, and says why
                        pass
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
