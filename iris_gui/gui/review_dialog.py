"""File ▸ Review report…: which products, where, and who reviews."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .path_field import path_row


class ReviewReportDialog(QDialog):
    """Tick the products (those with a result), choose the folder and name the reviewer."""

    def __init__(self, products: list, stale: set[int], folder: str, reviewer: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review report")
        self.resize(560, 420)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Products to report on (those that have run):", self))
        self.list = QListWidget(self)
        self.products = list(products)
        for index, product in enumerate(self.products):
            text = product.name + ("  — stale: reported as made, with the parameters it was "
                                   "run with" if index in stale else "")
            item = QListWidgetItem(text, self.list)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
        layout.addWidget(self.list, 1)
        self.folder = QLineEdit(folder, self)
        self.folder.setObjectName("reviewFolder")
        self.folder.setToolTip("review.html and review.pdf are written here")
        layout.addLayout(path_row(self, "Folder:", self.folder, self._choose_folder))
        self.checks = QLineEdit(self)
        self.checks.setObjectName("reviewChecks")
        self.checks.setPlaceholderText("optional: a checks.cfg with other thresholds "
                                       "(iris-image2 report --print-checks shows the defaults)")
        layout.addLayout(path_row(self, "Checks:", self.checks, self._choose_checks))
        row = QHBoxLayout()
        row.addWidget(QLabel("Reviewer:", self))
        self.reviewer = QLineEdit(reviewer, self)
        self.reviewer.setObjectName("reviewer")
        row.addWidget(self.reviewer, 1)
        layout.addLayout(row)
        self.message = QLabel("", self)
        self.message.setStyleSheet("color: #c0392b")
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Make report")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Write the report into", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _choose_checks(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Check thresholds", self.checks.text(),
                                              "Check thresholds (*.cfg);;All files (*)")
        if path:
            self.checks.setText(path)

    def checks_file(self) -> str:
        return self.checks.text().strip()

    def chosen(self) -> list:
        return [p for i, p in enumerate(self.products)
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def accept(self) -> None:  # noqa: D102 - refuses with the reason in the dialog
        if not self.chosen():
            self.message.setText("Tick at least one product.")
        elif not self.folder.text().strip():
            self.message.setText("Choose a folder for review.html and review.pdf.")
        elif Path(self.folder.text().strip()).is_file():
            self.message.setText("The folder is a file: choose a folder.")
        else:
            super().accept()
