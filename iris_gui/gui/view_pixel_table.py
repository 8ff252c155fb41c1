"""The Pixel table dock's content: the N x N values around the cursor for each pane, DQ-flagged
cells tinted, each cell's flags decoded in its tooltip and in the line under the table when the
mouse is over it; copy as text.

N is ``ViewState.pixel_table_size``; the cells are Qt-free (``display.pixel_table``), read from
the N x N cut-out only, so following the cursor costs the same on a 4096² frame as on a small
one (``tests/benchmarks/bench_inspect_docks.py`` measures it). The tables are filled only while
the dock is visible.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..display import pixel_table as pt
from ..state.view_state import PIXEL_TABLE_SIZES, ROLES
from .view_readout import mono_font

FLAGGED_TINT = QColor(255, 170, 90)
CENTRE_TINT = QColor(200, 225, 255)
FLAGGED_BRUSH, CENTRE_BRUSH, BLACK_BRUSH = (QBrush(FLAGGED_TINT), QBrush(CENTRE_TINT),
                                            QBrush(QColor(0, 0, 0)))
_Role = Qt.ItemDataRole
DISPLAY, BACKGROUND, FOREGROUND, FONT, TOOLTIP, ALIGNMENT = (
    _Role.DisplayRole, _Role.BackgroundRole, _Role.ForegroundRole, _Role.FontRole,
    _Role.ToolTipRole, _Role.TextAlignmentRole)
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class BlockModel(QAbstractTableModel):
    """One pane's ``PixelBlock`` as a table model (rows top to bottom = y down)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.block: pt.PixelBlock | None = None
        self.one_based = False
        self.bold = QFont(mono_font())
        self.bold.setBold(True)

    def set_block(self, block: pt.PixelBlock | None, one_based: bool) -> None:
        old = self.block.n if self.block is not None else 0
        new = block.n if block is not None else 0
        reset = old != new
        if reset:
            self.beginResetModel()
        self.block, self.one_based = block, one_based
        # what data() answers, worked out once per block (a repaint asks ~4 roles per cell)
        if block is not None:
            self._text = [[pt.cell_value_text(block, r, c, short=True) for c in range(new)]
                          for r in range(new)]
            self._flagged = block.flagged.tolist()
        if reset:
            self.endResetModel()
        elif new:
            self.dataChanged.emit(self.index(0, 0), self.index(new - 1, new - 1))
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, new - 1)
            self.headerDataChanged.emit(Qt.Orientation.Vertical, 0, new - 1)

    def rowCount(self, parent=None) -> int:  # noqa: N802 (Qt naming)
        if (parent is not None and parent.isValid()) or self.block is None:
            return 0
        return self.block.n

    def columnCount(self, parent=None) -> int:  # noqa: N802
        return self.rowCount(parent)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role != Qt.ItemDataRole.DisplayRole or self.block is None:
            return None
        base = 1 if self.one_based else 0
        if orientation == Qt.Orientation.Horizontal:
            return str(self.block.x0 + section + base)
        return str(self.block.y_top - section + base)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        block = self.block
        if block is None or not index.isValid():
            return None
        r, c = index.row(), index.column()
        if role == DISPLAY:
            return self._text[r][c]
        centre = r == c == block.n // 2
        if role == BACKGROUND:
            if self._flagged[r][c]:
                return FLAGGED_BRUSH
            return CENTRE_BRUSH if centre else None
        if role == FOREGROUND:
            return BLACK_BRUSH if self._flagged[r][c] or centre else None
        if role == ALIGNMENT:
            return RIGHT
        if role == FONT:
            return self.bold if centre else None
        if role == TOOLTIP:
            return pt.cell_description(block, r, c, self.one_based)
        return None


class PixelTablePanel(QWidget):
    """Size, Copy, the cursor's pixel, and per pane its title, table and hovered-cell line."""

    def __init__(self, view, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.state = view.state
        self.blocks: dict[str, pt.PixelBlock] = {}
        self._build()
        binder = view.binder
        binder.number("pixel_table_size", self.size_box,
                      from_widget=lambda v: v if v % 2 else min(PIXEL_TABLE_SIZES[-1], v + 1))
        for name in ("pixel_table_size", "pane_choices", "plane", "one_based"):
            binder.on(name, self.refresh)
        view.stepShown.connect(self.refresh)
        view.cursorMoved.connect(self.refresh)
        self.copy_button.clicked.connect(self.copy)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        row = QHBoxLayout()
        row.addWidget(QLabel("Size", self))
        self.size_box = QSpinBox(self)
        self.size_box.setRange(PIXEL_TABLE_SIZES[0], PIXEL_TABLE_SIZES[-1])
        self.size_box.setSingleStep(2)
        self.size_box.setSuffix(" px")
        self.size_box.setToolTip("Cells on a side (odd: the cursor's pixel is the centre cell)")
        row.addWidget(self.size_box)
        self.where = QLabel("Move the mouse over a pane.", self)
        row.addWidget(self.where, 1)
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setToolTip("Copy the tables as text (* marks DQ-flagged cells)")
        row.addWidget(self.copy_button)
        layout.addLayout(row)
        font = mono_font()
        font.setPointSize(max(7, font.pointSize() - 1))
        self.titles: dict[str, QLabel] = {}
        self.tables: dict[str, QTableView] = {}
        self.models: dict[str, BlockModel] = {}
        self.hover: dict[str, QLabel] = {}
        for role in ROLES:
            title = QLabel(f"{role}: —", self)
            title.setStyleSheet("font-weight: bold")
            table = QTableView(self)
            model = BlockModel(table)
            table.setModel(model)
            table.setFont(font)
            table.setMouseTracking(True)
            table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.setWordWrap(False)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            table.horizontalHeader().setDefaultSectionSize(
                table.fontMetrics().horizontalAdvance("-1.2346e+06") + 6)
            table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 4)
            table.entered.connect(lambda index, r=role: self._hovered(r, index))
            hover = QLabel("", self)
            hover.setWordWrap(True)
            hover.setToolTip("The cell under the mouse, its DQ flags decoded")
            layout.addWidget(title)
            layout.addWidget(table)
            layout.addWidget(hover)
            self.titles[role], self.tables[role], self.models[role], self.hover[role] = \
                title, table, model, hover
        layout.addStretch(1)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        if not self.isVisible():
            return
        cursor = self.view.cursor
        st = self.state
        self.blocks = {}
        if cursor is not None:
            for role, source in self.view.shown_sources().items():
                self.blocks[role] = pt.pixel_block(source, self.view.plane, *cursor,
                                                   st.pixel_table_size)
        base = 1 if st.one_based else 0
        self.where.setText("Move the mouse over a pane." if cursor is None else
                           f"x = {cursor[0] + base}, y = {cursor[1] + base} "
                           f"({'1' if base else '0'}-based)")
        for role in ROLES:
            block = self.blocks.get(role)
            source = self.view.source(role)
            self.titles[role].setText(f"{role}: {source.label if source else '—'}")
            table = self.tables[role]
            resized = self.models[role].rowCount() != (block.n if block is not None else 0)
            self.models[role].set_block(block, st.one_based)
            table.setVisible(block is not None)
            if block is not None:
                if resized:
                    self._fit_height(table, block.n)
                # a table wider than the dock keeps the cursor's cell in view
                table.scrollTo(self.models[role].index(block.n // 2, block.n // 2),
                               QAbstractItemView.ScrollHint.PositionAtCenter)

    @staticmethod
    def _fit_height(table: QTableView, n: int) -> None:
        """Exactly N rows high (and a horizontal scroll bar's room), no empty space below."""
        rows = table.verticalHeader().defaultSectionSize() * n
        bar = table.horizontalScrollBar().sizeHint().height()
        table.setFixedHeight(rows + table.horizontalHeader().sizeHint().height() + bar
                             + 2 * table.frameWidth())

    def _hovered(self, role: str, index) -> None:
        block = self.blocks.get(role)
        if block is None or not index.isValid():
            return
        self.hover[role].setText(pt.cell_description(block, index.row(), index.column(),
                                                     self.state.one_based))

    def copy(self) -> str:
        """The tables as text on the clipboard (and returned)."""
        text = pt.block_text([self.blocks[r] for r in ROLES if r in self.blocks],
                             self.state.one_based)
        QGuiApplication.clipboard().setText(text)
        return text
