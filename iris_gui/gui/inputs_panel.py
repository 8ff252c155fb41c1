"""The inputs: associations -> products -> members, with problems shown on the item (a missing
or doubled science member, a science file that could not be read)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
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
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..engine.association import Association, Member, Product, product_name_for

ROLE = Qt.ItemDataRole.UserRole
PROBLEM_COLOUR = QColor("#c0392b")


class InputsTree(QTreeWidget):
    """Accepts dropped files; emits ``filesDropped(paths)``."""

    filesDropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.filesDropped.emit(paths)


class InputsPanel(QWidget):
    """Signals: ``productSelected(Product)``, ``removeRequested(object)``,
    ``filesDropped(paths)``."""

    productSelected = Signal(object)
    removeRequested = Signal(object)
    filesDropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.tree = InputsTree(self)
        self.tree.setObjectName("inputsTree")
        self.tree.setHeaderLabels(["Input", "Type"])
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.filesDropped.connect(self.filesDropped)
        self.tree.currentItemChanged.connect(self._current_changed)
        layout.addWidget(self.tree)
        hint = QLabel("Open or drop rate files and associations here.", self)
        hint.setStyleSheet("color: #777")
        layout.addWidget(hint)
        buttons = QHBoxLayout()
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.clicked.connect(self._remove_selected)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

    def show_associations(self, associations: list[Association], current: Product | None,
                          failures: dict[str, str] | None = None) -> None:
        """``failures``: product key -> why its science file could not be read."""
        from .session import product_key

        failures = failures or {}
        self.tree.blockSignals(True)
        try:
            self.tree.clear()
            current_item = None
            for association in associations:
                label = Path(association.path).name if association.path else "exposure"
                top = QTreeWidgetItem([label, "association" if association.path else "file"])
                top.setData(0, ROLE, association)
                top.setToolTip(0, association.path or "a rate file opened on its own")
                self.tree.addTopLevelItem(top)
                for product in association.products:
                    item = QTreeWidgetItem([product.name, "product"])
                    item.setData(0, ROLE, product)
                    problems = list(product.problems)
                    if product_key(product) in failures:
                        problems.append(failures[product_key(product)])
                        item.setText(1, "unreadable")
                    if problems:
                        item.setText(0, f"⚠ {product.name}")
                        item.setForeground(0, QBrush(PROBLEM_COLOUR))
                        item.setToolTip(0, "\n".join(problems))
                    top.addChild(item)
                    for member in product.members:
                        child = QTreeWidgetItem([Path(member.path).name, member.exptype])
                        child.setData(0, ROLE, member)
                        child.setToolTip(0, member.path)
                        if not Path(member.path).exists():
                            child.setForeground(0, QBrush(PROBLEM_COLOUR))
                            child.setToolTip(0, f"missing: {member.path}")
                        item.addChild(child)
                    if product is current:
                        current_item = item
                top.setExpanded(True)
                for index in range(top.childCount()):
                    top.child(index).setExpanded(True)
            if current_item is not None:
                self.tree.setCurrentItem(current_item)
        finally:
            self.tree.blockSignals(False)

    def _current_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        if current is None:
            return
        data = current.data(0, ROLE)
        if isinstance(data, Member):
            data = current.parent().data(0, ROLE)
        if isinstance(data, Association):
            data = data.products[0] if data.products else None
        if isinstance(data, Product):
            self.productSelected.emit(data)

    def selected_objects(self) -> list:
        return [item.data(0, ROLE) for item in self.tree.selectedItems()]

    def _remove_selected(self) -> None:
        for obj in self.selected_objects():
            if isinstance(obj, (Association, Product)):
                self.removeRequested.emit(obj)


class BuildAssociationDialog(QDialog):
    """Make an image2 association from files: mark each science or background."""

    ROLES = ("science", "background", "leave out")

    def __init__(self, paths: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New association")
        self.resize(640, 360)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Each science file becomes a product; every file marked "
                                "background is its background.", self))
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["File", "Use as"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        add = QPushButton("Add files…", self)
        add.clicked.connect(self._add_files)
        row.addWidget(add)
        row.addWidget(QLabel("Pool name:", self))
        self.pool = QLineEdit("iris_gui", self)
        row.addWidget(self.pool)
        layout.addLayout(row)
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
        try:
            resolved = str(Path(path).resolve())
        except (OSError, RuntimeError):  # a symlink loop: keep the path; opening it says why
            resolved = os.path.abspath(path)
        item.setData(ROLE, resolved)
        item.setToolTip(str(path))
        self.table.setItem(row, 0, item)
        combo = QComboBox(self.table)
        combo.addItems(list(self.ROLES))
        name = Path(path).name.lower()
        combo.setCurrentText("background" if ("bkg" in name or "background" in name) else "science")
        self.table.setCellWidget(row, 1, combo)

    def set_role(self, row: int, role: str) -> None:
        self.table.cellWidget(row, 1).setCurrentText(role)

    def _add_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add exposures", "",
                                                "FITS files (*.fits *.fit);;All files (*)")
        for path in paths:
            self.add_path(path)

    def association(self) -> Association:
        science, backgrounds = [], []
        for row in range(self.table.rowCount()):
            path = self.table.item(row, 0).data(ROLE)
            role = self.table.cellWidget(row, 1).currentText()
            if role == "science":
                science.append(path)
            elif role == "background":
                backgrounds.append(path)
        products = []
        for path in science:
            members = [Member(path, "science", Path(path).name)]
            members += [Member(b, "background", Path(b).name) for b in backgrounds]
            problems = [] if Path(path).exists() else [f"member {path} not found"]
            products.append(Product(product_name_for(path), members, problems))
        return Association(products, path=None, asn_pool=pool_name(self.pool.text()))


def pool_name(text: str) -> str:
    return text.strip() or "iris_gui"
