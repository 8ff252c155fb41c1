"""The inputs: associations -> products -> members, with problems shown on the item (a missing
or doubled science member, a science file that could not be read)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..engine.association import Association, Member, Product, product_name_for
from ..state.workbench import VERDICTS
from .path_field import path_row

ROLE = Qt.ItemDataRole.UserRole
PROBLEM_COLOUR = QColor("#c0392b")
#: the Type column of a product in the run in progress (queued / running ...), of a failed one
RUNNING_COLOUR = QColor("#2471a3")
FAILED_COLOUR = PROBLEM_COLOUR


def _colour_status(item: QTreeWidgetItem, word: str) -> None:
    """Blue while queued or running, red when failed, the palette's otherwise."""
    if word.startswith(("queued", "running", "starting")):
        item.setForeground(1, QBrush(RUNNING_COLOUR))
    elif word == "failed" or word.startswith("⚠"):
        item.setForeground(1, QBrush(FAILED_COLOUR))
    else:
        item.setData(1, Qt.ItemDataRole.ForegroundRole, None)


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
    noteEdited = Signal(str)
    signoffEdited = Signal(str)

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
        layout.addWidget(self.tree, 1)
        buttons = QHBoxLayout()
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.clicked.connect(self._remove_selected)
        buttons.addWidget(self.remove_button)
        hint = QLabel("Open or drop rate files and associations here.", self)
        hint.setStyleSheet("color: #777")
        # a narrow dock cuts the hint rather than scroll sideways for it
        hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        buttons.addWidget(hint, 1)
        layout.addLayout(buttons)
        self.note_label = QLabel("Review note", self)
        layout.addWidget(self.note_label)
        self.note = QPlainTextEdit(self)
        self.note.setObjectName("productNote")
        self.note.setPlaceholderText("Notes on the selected product (saved in the session)")
        self.note.setMaximumHeight(48)
        self.note.textChanged.connect(self._note_edited)
        self._showing_note = False
        layout.addWidget(self.note)
        signoff_row = QHBoxLayout()
        signoff_row.addWidget(QLabel("Sign-off", self))
        self.signoff = QComboBox(self)
        self.signoff.setObjectName("productSignoff")
        self.signoff.addItems(["—", *VERDICTS])
        self.signoff.setToolTip("The reviewer's verdict on the selected product (in the session "
                                "and the review report)")
        self.signoff.currentIndexChanged.connect(self._signoff_edited)
        signoff_row.addWidget(self.signoff, 1)
        self.signoff_by = QLabel("", self)
        self.signoff_by.setStyleSheet("color: #777")
        signoff_row.addWidget(self.signoff_by)
        layout.addLayout(signoff_row)

    def show_note(self, product: Product | None, text: str, signoff=None) -> None:
        """Show the note and sign-off of the selected product (None: nothing selected)."""
        self._showing_note = True
        try:
            if self.note.toPlainText() != text:
                self.note.setPlainText(text)
            self.signoff.setCurrentIndex(VERDICTS.index(signoff.verdict) + 1 if signoff else 0)
        finally:
            self._showing_note = False
        self.signoff_by.setText(f"{signoff.by or 'reviewer not named'}, {signoff.when[:10]}"
                                if signoff else "")
        for widget in (self.note, self.signoff):
            widget.setEnabled(product is not None)
        self.note_label.setText(f"Review note — {product.name}" if product else "Review note")

    def _note_edited(self) -> None:
        if not self._showing_note:
            self.noteEdited.emit(self.note.toPlainText())

    def _signoff_edited(self, index: int) -> None:
        if not self._showing_note:
            self.signoffEdited.emit(VERDICTS[index - 1] if index > 0 else "")

    def show_associations(self, associations: list[Association], current: Product | None,
                          status_of=None) -> None:
        """``status_of(product) -> (word, tooltip)`` fills the Type column (the workbench's
        ``statuses.product_status``); an unreadable or unrunnable product is marked ⚠ in red.
        The members of the selected product (of every product of a one-product association)
        are shown; the other products are one line each."""
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
                    word, tip = status_of(product) if status_of else ("product", "")
                    item = QTreeWidgetItem([product.name, word])
                    item.setData(0, ROLE, product)
                    item.setToolTip(1, tip)
                    _colour_status(item, word)
                    if word.startswith("⚠"):
                        item.setText(0, f"⚠ {product.name}")
                        item.setForeground(0, QBrush(PROBLEM_COLOUR))
                        item.setForeground(1, QBrush(PROBLEM_COLOUR))
                        item.setToolTip(0, tip)
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
                # the selected product shows its members; the others one line each, so every
                # product's status (a run's progress) is in view
                for index in range(top.childCount()):
                    item = top.child(index)
                    item.setExpanded(item.data(0, ROLE) is current
                                     or len(association.products) == 1)
            if current_item is not None:
                self.tree.setCurrentItem(current_item)
        finally:
            self.tree.blockSignals(False)

    def update_statuses(self, status_of) -> None:
        """Refresh each product's Type column (``status_of(product) -> (word, tooltip)``)
        without rebuilding the tree."""
        for top_index in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(top_index)
            for index in range(top.childCount()):
                item = top.child(index)
                product = item.data(0, ROLE)
                if isinstance(product, Product):
                    word, tip = status_of(product)
                    self._set_status(item, word, tip)

    def show_product_status(self, product: Product, word: str, tip: str) -> None:
        """Refresh one product's Type column (its run's progress: "running flat_field (5/7)")."""
        for top_index in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(top_index)
            for index in range(top.childCount()):
                item = top.child(index)
                if item.data(0, ROLE) is product:
                    self._set_status(item, word, tip)
                    return

    @staticmethod
    def _set_status(item: QTreeWidgetItem, word: str, tip: str) -> None:
        if item.text(1) != word:
            item.setText(1, word)
            _colour_status(item, word)
        item.setToolTip(1, tip)

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
