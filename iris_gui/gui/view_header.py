"""The Header dock's content: every extension's header of the product a pane shows, searchable,
the keywords the step wrote, changed or removed against its input tinted, copy as text.

Which pane, the search text and "only what the step changed" are ``ViewState`` fields
(``header_role``, ``header_search``, ``header_changed_only``); the comparison is Qt-free
(``display.headers``). The list is rebuilt only while the dock is visible, and a product's rows
are cached by the identity of its model and of the input (a header is a few hundred cards: a
few milliseconds).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..display import headers as hd
from ..state.view_state import ROLES
from .view_binding import quiet
from .view_readout import mono_font

TINTS = {hd.ADDED: QColor(150, 230, 150), hd.CHANGED: QColor(255, 215, 120),
         hd.REMOVED: QColor(215, 215, 215)}
STATUS_TIPS = {hd.ADDED: "written by this step (not in its input)",
               hd.CHANGED: "changed by this step", hd.REMOVED: "in the input, removed by this step"}
COLUMNS = ("Keyword", "Value", "Input value", "Comment")


class HeaderPanel(QWidget):
    """Pane chooser, search field, "changed only", counts, Copy, and the cards by extension."""

    def __init__(self, view, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.state = view.state
        self.rows: list[hd.HeaderRow] = []
        self.shown_rows: list[hd.HeaderRow] = []
        self.title = ""
        #: (model id, input id) -> (rows, model, input): the models are held so an id is never
        #: reused under an entry
        self._cache: dict[tuple, tuple] = {}
        self._build()
        binder = view.binder
        binder.combo("header_role", self.role, ROLES)
        binder.check("header_changed_only", self.changed_only)
        binder.on("header_search", self._show_search)
        self.search.textEdited.connect(lambda text: setattr(self.state, "header_search", text))
        for name in ("header_role", "header_search", "header_changed_only", "pane_choices"):
            binder.on(name, self.refresh)
        view.stepShown.connect(self.refresh)
        self.copy_button.clicked.connect(self.copy)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        row = QHBoxLayout()
        self.role = QComboBox(self)
        self.role.addItems([f"Pane {r}" for r in ROLES])
        self.role.setToolTip("Whose product's headers: the left (A) or the right (B) pane's")
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search keyword, value or comment")
        self.search.setClearButtonEnabled(True)
        self.changed_only = QCheckBox("Changed only", self)
        self.changed_only.setToolTip("Only the keywords this step wrote, changed or removed")
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setToolTip("Copy the cards listed as text (+ written, ~ changed, "
                                    "- removed)")
        row.addWidget(self.role)
        row.addWidget(self.search, 1)
        row.addWidget(self.changed_only)
        row.addWidget(self.copy_button)
        layout.addLayout(row)
        self.summary = QLabel("", self)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setFont(mono_font())
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        # a keyword is 8 characters (under its extension's indentation), values are wider
        char = self.tree.fontMetrics().horizontalAdvance("M")
        for column, chars in enumerate((9, 18, 12)):
            self.tree.setColumnWidth(column, chars * char + (self.tree.indentation() if column == 0
                                                             else 8))
        layout.addWidget(self.tree, 1)

    def _show_search(self) -> None:
        if self.search.text() != self.state.header_search:
            with quiet(self.search):
                self.search.setText(self.state.header_search)

    # ---- what is listed ----------------------------------------------------------------------
    def product_rows(self) -> tuple[str, list[hd.HeaderRow]]:
        """(title, rows) of the chosen pane's product (rows cached per model and input)."""
        source = self.view.source(self.state.header_role)
        if source is None:
            return "", []
        compared = hd.compared_input(self.view.views, source)
        key = (id(source.model), id(compared) if compared is not None else 0)
        entry = self._cache.get(key)
        if entry is None:
            inputs = hd.model_headers(compared) if compared is not None else None
            entry = (hd.compare_headers(hd.model_headers(source.model), inputs), source.model,
                     compared)
            # models are immutable once made; the cache holds the last few products only
            self._cache = dict(list(self._cache.items())[-7:])
            self._cache[key] = entry
        rows = entry[0]
        against = "against the step's input (Before)" if compared is not None else \
            "nothing of this step to compare with"
        return f"{self.view.step_name}: {source.label} — {against}", rows

    def refresh(self) -> None:
        if not self.isVisible():
            return
        self.title, self.rows = self.product_rows()
        st = self.state
        self.shown_rows = hd.matching(self.rows, st.header_search, st.header_changed_only)
        counts = hd.status_counts(self.rows)
        if not self.rows:
            self.summary.setText("No product in this pane.")
        else:
            self.summary.setText(
                f"{self.title}.  {counts[hd.ADDED]} written, {counts[hd.CHANGED]} changed, "
                f"{counts[hd.REMOVED]} removed; {len(self.shown_rows)} of {len(self.rows)} "
                f"cards listed")
        self._fill()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().showEvent(event)
        self.refresh()

    def _fill(self) -> None:
        tree = self.tree
        tree.setUpdatesEnabled(False)
        try:
            tree.clear()
            parents: dict[str, QTreeWidgetItem] = {}
            struck = QFont(tree.font())
            struck.setStrikeOut(True)
            for row in self.shown_rows:
                parent = parents.get(row.extension)
                if parent is None:
                    parent = QTreeWidgetItem(tree, [row.extension])
                    bold = QFont(tree.font())
                    bold.setBold(True)
                    parent.setFont(0, bold)
                    parent.setFirstColumnSpanned(True)
                    parents[row.extension] = parent
                item = QTreeWidgetItem(parent, [row.keyword, row.value, row.before or "",
                                                row.comment])
                item.setData(0, Qt.ItemDataRole.UserRole, row.status)
                tint = TINTS.get(row.status)
                if tint is not None:
                    for column in range(len(COLUMNS)):
                        item.setBackground(column, QBrush(tint))
                        item.setForeground(column, QBrush(QColor(0, 0, 0)))
                        item.setToolTip(column, f"{row.keyword}: {STATUS_TIPS[row.status]}")
                if row.status == hd.REMOVED:
                    for column in range(len(COLUMNS)):
                        item.setFont(column, struck)
            tree.expandAll()
        finally:
            tree.setUpdatesEnabled(True)

    def copy(self) -> str:
        """The listed cards as text on the clipboard (and returned)."""
        text = hd.rows_text(self.shown_rows, self.title)
        QGuiApplication.clipboard().setText(text)
        return text
