"""The engine's log records in a dock, with a level filter. Records from any thread arrive
through a queued signal, so the text widget is only touched on the GUI thread."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

LEVELS = {"Debug": logging.DEBUG, "Info": logging.INFO, "Warning": logging.WARNING,
          "Error": logging.ERROR}


class _Relay(QObject):
    record = Signal(int, str)


class QtLogHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.relay = _Relay()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.relay.record.emit(record.levelno, self.format(record))
        except RuntimeError:  # the window is gone
            pass


class LogPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        row.addWidget(QLabel("Show", self))
        self.level = QComboBox(self)
        self.level.addItems(list(LEVELS))
        self.level.setCurrentText("Info")
        self.level.currentTextChanged.connect(self._refilter)
        row.addWidget(self.level)
        row.addStretch(1)
        layout.addLayout(row)
        self.text = QPlainTextEdit(self)
        self.text.setObjectName("logText")
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(20000)
        layout.addWidget(self.text)
        self.records: list[tuple[int, str]] = []
        self.handler = QtLogHandler()
        self.handler.relay.record.connect(self.add_record)
        for name in ("iris_gui",):
            logger = logging.getLogger(name)
            logger.addHandler(self.handler)
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)

    def detach(self) -> None:
        logging.getLogger("iris_gui").removeHandler(self.handler)

    def add_record(self, level: int, text: str) -> None:
        self.records.append((level, text))
        if len(self.records) > 20000:
            del self.records[:5000]
        if level >= LEVELS[self.level.currentText()]:
            self.text.appendPlainText(text)
            self.text.moveCursor(QTextCursor.MoveOperation.End)

    def _refilter(self) -> None:
        threshold = LEVELS[self.level.currentText()]
        self.text.setPlainText("\n".join(t for lvl, t in self.records if lvl >= threshold))
        self.text.moveCursor(QTextCursor.MoveOperation.End)

    def plain_text(self) -> str:
        return self.text.toPlainText()
