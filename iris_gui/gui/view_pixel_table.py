"""The Pixel table dock's content: the N x N values around the cursor for each pane, DQ-flagged
cells tinted, each cell's flags decoded in its tooltip and in the line under the table when the
mouse is over it; copy as text.

N is ``ViewState.pixel_table_size``; the cells are Qt-free (``display.pixel_table``), read from
the N x N cut-out only, so following the cursor costs the same on a 4096² frame as on a small
one (``tests/benchmarks/bench_inspect_docks.py`` measures it). Each table is painted directly
(``pixel_grid.PixelGrid``, its texts made once per position), and a burst of cursor moves fills
the tables once per ~15 ms (``cursor_throttle``), ending at the last position. The tables are
filled only while the dock is visible.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..display import pixel_table as pt
from ..state.view_state import PIXEL_TABLE_SIZES, ROLES
from .cursor_throttle import CursorThrottle
from .pixel_grid import CENTRE_TINT, FLAGGED_TINT, PixelGrid
from .view_readout import mono_font

__all__ = ["PixelTablePanel", "CENTRE_TINT", "FLAGGED_TINT"]


class PixelTablePanel(QWidget):
    """Size, Copy, the cursor's pixel, and per pane its title, table and hovered-cell line."""

    def __init__(self, view, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.state = view.state
        self.blocks: dict[str, pt.PixelBlock] = {}
        self.refreshes = 0                   # tables filled (the tests and benchmark count them)
        self._build()
        binder = view.binder
        binder.number("pixel_table_size", self.size_box,
                      from_widget=lambda v: v if v % 2 else min(PIXEL_TABLE_SIZES[-1], v + 1))
        for name in ("pixel_table_size", "pane_choices", "plane", "one_based"):
            binder.on(name, self.refresh)
        view.stepShown.connect(self.refresh)
        # a burst of moves: one table per ~15 ms, the last position's always shown
        self.follow = CursorThrottle(self.refresh, parent=self)
        view.cursorMoved.connect(self.follow)
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
        self.grids: dict[str, PixelGrid] = {}
        self.areas: dict[str, QScrollArea] = {}
        self.hover: dict[str, QLabel] = {}
        for role in ROLES:
            title = QLabel(f"{role}: —", self)
            title.setStyleSheet("font-weight: bold")
            grid = PixelGrid(font)
            grid.setObjectName(f"pixelTable{role}")
            grid.hovered.connect(lambda r, c, role=role: self._hovered(role, r, c))
            # a table wider than the dock scrolls sideways, the cursor's cell kept in view
            area = QScrollArea(self)
            area.setWidget(grid)
            area.setWidgetResizable(False)
            area.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            area.horizontalScrollBar().rangeChanged.connect(
                lambda lo, hi, role=role: self._centre(role))
            area.horizontalScrollBar().valueChanged.connect(grid.set_header_left)
            hover = QLabel("", self)
            hover.setWordWrap(True)
            hover.setToolTip("The cell under the mouse, its DQ flags decoded")
            layout.addWidget(title)
            layout.addWidget(area)
            layout.addWidget(hover)
            self.titles[role], self.grids[role], self.areas[role], self.hover[role] = \
                title, grid, area, hover
        layout.addStretch(1)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        if not self.isVisible():
            return
        self.refreshes += 1
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
            grid, area = self.grids[role], self.areas[role]
            resized = grid.n != (block.n if block is not None else 0)
            grid.set_block(block, st.one_based)
            area.setVisible(block is not None)
            if block is not None and resized:
                # exactly N rows high (and a horizontal scroll bar's room), no space below
                area.setFixedHeight(grid.height() + area.horizontalScrollBar().sizeHint().height()
                                    + 2 * area.frameWidth())
                self._centre(role)

    def _centre(self, role: str) -> None:
        """Scroll so the cursor's (centre) cell is in the middle of a too narrow dock."""
        grid, bar = self.grids[role], self.areas[role].horizontalScrollBar()
        # the cells in view start after the row numbers (drawn at the view's left edge)
        middle = grid.head_w + grid.n * grid.cell_w / 2
        shown = (grid.head_w + self.areas[role].viewport().width()) / 2
        bar.setValue(min(bar.maximum(), max(0, round(middle - shown))))

    def _hovered(self, role: str, row: int, column: int) -> None:
        block = self.blocks.get(role)
        if block is None or not (0 <= row < block.n and 0 <= column < block.n):
            return
        self.hover[role].setText(pt.cell_description(block, row, column, self.state.one_based))

    def copy(self) -> str:
        """The tables as text on the clipboard (and returned)."""
        text = pt.block_text([self.blocks[r] for r in ROLES if r in self.blocks],
                             self.state.one_based)
        QGuiApplication.clipboard().setText(text)
        return text
