"""File ▸ New association…: mark each file science or background, name each product, and
optionally save the association as an ASN file."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..engine.association import Association, Member, Product, product_name_for
from .path_field import path_row

ROLE = Qt.ItemDataRole.UserRole


class BuildAssociationDialog(QDialog):
    """Make an image2 association from files: mark each science or background, name each
    product (refused if the name is already open or used twice), optionally save it as an ASN
    file with member names relative to it (or absolute)."""

    ROLES = ("science", "background", "leave out")

    def __init__(self, paths: list[str], parent: QWidget | None = None, *,
                 names_in_use: set[str] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New association")
        self.resize(720, 400)
        self.names_in_use = set(names_in_use or ())
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Each science file becomes a product; every file marked "
                                "background is its background.", self))
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["File", "Use as", "Product name"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        add = QPushButton("Add files…", self)
        add.clicked.connect(self._add_files)
        row.addWidget(add)
        row.addWidget(QLabel("Pool name:", self))
        self.pool = QLineEdit("iris_gui", self)
        row.addWidget(self.pool)
        layout.addLayout(row)
        self.save_edit = QLineEdit(self)
        self.save_edit.setObjectName("asnSavePath")
        self.save_edit.setPlaceholderText("optional: an _asn.json file (members relative to it)")
        save_row = path_row(self, "Save as:", self.save_edit, self._choose_save_path)
        self.absolute = QCheckBox("absolute member paths", self)
        self.absolute.setToolTip("Write members as absolute paths instead of names relative to "
                                 "the association file")
        save_row.addWidget(self.absolute)
        layout.addLayout(save_row)
        self.message = QLabel("", self)
        self.message.setObjectName("asnMessage")
        self.message.setStyleSheet("color: #c0392b")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        for path in paths:
            self.add_path(path)

    def add_path(self, path: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        item = QTableWidgetItem(Path(path).name)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        try:
            resolved = str(Path(path).resolve())
        except (OSError, RuntimeError):  # a symlink loop: keep the path; opening it says why
            resolved = os.path.abspath(path)
        item.setData(ROLE, resolved)
        item.setToolTip(str(path))
        self.table.setItem(row, 0, item)
        self.table.setItem(row, 2, QTableWidgetItem(product_name_for(resolved)))
        combo = QComboBox(self.table)
        combo.addItems(list(self.ROLES))
        name = Path(path).name.lower()
        combo.setCurrentText("background" if ("bkg" in name or "background" in name) else "science")
        combo.currentTextChanged.connect(lambda _t, r=row: self._role_changed(r))
        self.table.setCellWidget(row, 1, combo)
        self._role_changed(row)

    def _role_changed(self, row: int) -> None:
        name_item = self.table.item(row, 2)
        science = self.table.cellWidget(row, 1).currentText() == "science"
        flags = name_item.flags()
        name_item.setFlags(flags | Qt.ItemFlag.ItemIsEditable if science
                           else flags & ~Qt.ItemFlag.ItemIsEditable)
        name_item.setForeground(QBrush(QColor("#000000" if science else "#999999")))

    def set_role(self, row: int, role: str) -> None:
        self.table.cellWidget(row, 1).setCurrentText(role)

    def set_product_name(self, row: int, name: str) -> None:
        self.table.item(row, 2).setText(name)

    def _add_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add exposures", "",
                                                "FITS files (*.fits *.fit);;All files (*)")
        for path in paths:
            self.add_path(path)

    def _choose_save_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the association as", "",
                                              "Associations (*.json)")
        if path:
            self.save_edit.setText(path)

    def save_path(self) -> str:
        return self.save_edit.text().strip()

    def absolute_paths(self) -> bool:
        return self.absolute.isChecked()

    def problems(self) -> list[str]:
        """Why the dialog cannot be accepted yet (empty when it can)."""
        names = [name for _path, name in self._science()]
        problems = []
        for name in names:
            if not name:
                problems.append("every science file needs a product name")
            elif name in self.names_in_use:
                problems.append(f"product name {name!r} is already open: choose another")
            elif names.count(name) > 1:
                problems.append(f"product name {name!r} is used twice")
            elif "/" in name or "\\" in name or name in (".", ".."):
                problems.append(f"product name {name!r} must be a plain file name")
        if self.save_path() and not self.save_path().lower().endswith(".json"):
            problems.append("an association file name ends in .json")
        return sorted(set(problems), key=problems.index)

    def accept(self) -> None:  # noqa: D102 - refuses with the reason shown in the dialog
        problems = self.problems()
        self.message.setText("\n".join(problems))
        if not problems:
            super().accept()

    def _science(self) -> list[tuple[str, str]]:
        rows = []
        for row in range(self.table.rowCount()):
            if self.table.cellWidget(row, 1).currentText() == "science":
                rows.append((self.table.item(row, 0).data(ROLE),
                             self.table.item(row, 2).text().strip()))
        return rows

    def association(self) -> Association:
        backgrounds = [self.table.item(row, 0).data(ROLE) for row in range(self.table.rowCount())
                       if self.table.cellWidget(row, 1).currentText() == "background"]
        products = []
        for path, name in self._science():
            members = [Member(path, "science", Path(path).name)]
            members += [Member(b, "background", Path(b).name) for b in backgrounds]
            problems = [] if Path(path).exists() else [f"member {path} not found"]
            products.append(Product(name or product_name_for(path), members, problems))
        return Association(products, path=None, asn_pool=pool_name(self.pool.text()))


def pool_name(text: str) -> str:
    return text.strip() or "iris_gui"
