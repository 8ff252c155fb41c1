"""The inputs: associations -> products -> members, with problems shown on the item (a missing
or doubled science member, a science file that could not be read). The tree is rebuilt when
the inputs change; a selection, a product added or closed (the quick-look's arrivals) change
only their rows. The New association dialog is ``association_dialog``."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..engine.association import Association, Member, Product
from ..state.workbench import VERDICTS
from .association_dialog import BuildAssociationDialog, pool_name  # noqa: F401 (their old home)

ROLE = Qt.ItemDataRole.UserRole
PROBLEM_COLOUR = QColor("#c0392b")
#: the Type column of a product in the run in progress (queued / running ...), of a failed one
RUNNING_COLOUR = QColor("#2471a3")
FAILED_COLOUR = PROBLEM_COLOUR
#: the asn_pool of the association the quick-look's products join (File ▸ Watch folder…)
QUICKLOOK_POOL = "quick-look"


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
        """Rebuild the tree. ``status_of(product) -> (word, tooltip)`` fills the Type column
        (the workbench's ``statuses.product_status``); an unreadable or unrunnable product is
        marked ⚠ in red. The members of the selected product (of every product of a
        one-product association) are shown; the other products are one line each."""
        self.tree.blockSignals(True)
        try:
            self.tree.clear()
            for association in associations:
                top = self._association_item(association)
                self.tree.addTopLevelItem(top)
                for product in association.products:
                    top.addChild(self._product_item(product, status_of))
                top.setExpanded(True)
            self._show_current(current)
        finally:
            self.tree.blockSignals(False)

    def show_current(self, current: Product | None) -> bool:
        """Select ``current``'s row and show its members, the other products one line each,
        without rebuilding; False when the tree has no row of it (the caller rebuilds)."""
        if current is not None and self.product_item(current) is None:
            return False
        self.tree.blockSignals(True)
        try:
            self._show_current(current)
        finally:
            self.tree.blockSignals(False)
        return True

    def add_product(self, association: Association, product: Product, status_of) -> None:
        """Add the row of ``product``, just added to ``association`` (the association's row
        too if it is new), leaving every other row as it is."""
        top = self._top_item(association)
        self.tree.blockSignals(True)
        try:
            if top is None:
                top = self._association_item(association)
                self.tree.addTopLevelItem(top)
                top.setExpanded(True)
            item = self._product_item(product, status_of)
            top.insertChild(min(association.products.index(product), top.childCount()), item)
            item.setExpanded(len(association.products) == 1)
        finally:
            self.tree.blockSignals(False)

    def remove_product(self, product: Product) -> None:
        """Take the row of a closed ``product`` away (its association's if it was the last)."""
        item = self.product_item(product)
        if item is None:
            return
        self.tree.blockSignals(True)
        try:
            top = item.parent()
            top.removeChild(item)
            if top.childCount() == 0:
                self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(top))
        finally:
            self.tree.blockSignals(False)

    def product_item(self, product: Product) -> QTreeWidgetItem | None:
        for top_index in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(top_index)
            for index in range(top.childCount()):
                if top.child(index).data(0, ROLE) is product:
                    return top.child(index)
        return None

    def _top_item(self, association: Association) -> QTreeWidgetItem | None:
        for top_index in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(top_index)
            if top.data(0, ROLE) is association:
                return top
        return None

    def _show_current(self, current: Product | None) -> None:
        # the selected product shows its members; the others one line each, so every
        # product's status (a run's progress) is in view
        current_item = None
        for top_index in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(top_index)
            for index in range(top.childCount()):
                item = top.child(index)
                product = item.data(0, ROLE)
                item.setExpanded(product is current or top.childCount() == 1)
                if product is current:
                    current_item = item
        if current_item is not None and self.tree.currentItem() is not current_item:
            self.tree.setCurrentItem(current_item)

    @staticmethod
    def _association_item(association: Association) -> QTreeWidgetItem:
        """An association's row: its file; a rate file opened on its own reads
        "exposure · NAME_rate.fits"; the quick-look's, "quick-look · FOLDER"."""
        products = association.products
        if association.path:
            label, kind, tip = Path(association.path).name, "association", association.path
        elif association.asn_pool == QUICKLOOK_POOL:
            first = products[0].members[0].path if products and products[0].members else ""
            folder = str(Path(first).parent) if first else ""
            label, kind = f"quick-look · {Path(folder).name or 'watched folder'}", "watched"
            tip = (f"the newest exposures of {folder or 'the watched folder'}, calibrated as "
                   f"they land (the Night dock lists every one)")
        else:
            science = products[0].members[0].path if products and products[0].members else ""
            name = Path(science).name if science else ""
            label = f"exposure · {name}" if name and len(products) == 1 else "exposures"
            kind, tip = "file", science or "rate files opened on their own"
        top = QTreeWidgetItem([label, kind])
        top.setData(0, ROLE, association)
        top.setToolTip(0, tip)
        return top

    @staticmethod
    def _product_item(product: Product, status_of) -> QTreeWidgetItem:
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
        for member in product.members:
            child = QTreeWidgetItem([Path(member.path).name, member.exptype])
            child.setData(0, ROLE, member)
            child.setToolTip(0, member.path)
            if not Path(member.path).exists():
                child.setForeground(0, QBrush(PROBLEM_COLOUR))
                child.setToolTip(0, f"missing: {member.path}")
            item.addChild(child)
        return item

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
