"""One pane's pixel table drawn directly with QPainter: the x of each column on top, the y of
each row at the left, the N x N cells (flagged cells tinted, the cursor's cell tinted and bold),
each cell's pixel, value and decoded DQ in its tooltip.

Not a QTableView: a model/view repaint asks the model several roles per cell through Python
and lays out every cell with the style, ~7 ms for 11 x 11 cells — the slowest part of following
the cursor on a 4096² frame. Here the texts are worked out once per block (``set_block``) and a
repaint is N² ``drawText`` calls.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QLineF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from ..display import pixel_table as pt

FLAGGED_TINT = QColor(255, 170, 90)
CENTRE_TINT = QColor(200, 225, 255)
CELL_TEXT = QColor(0, 0, 0)             # on a tinted cell, whatever the palette
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CENTRED = Qt.AlignmentFlag.AlignCenter
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
PAD = 3


class PixelGrid(QWidget):
    """Paints a ``PixelBlock``; ``hovered(row, column)`` when the mouse enters a cell."""

    hovered = Signal(int, int)

    def __init__(self, font: QFont, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFont(font)
        self.bold = QFont(font)
        self.bold.setBold(True)
        metrics, bold = QFontMetricsF(font), QFontMetricsF(self.bold)
        #: characters per cell when every character has the same advance (rows drawn as one
        #: string), else 0; fontconfig's fixed-pitch flag is not reliable, the advances are
        self.chars = 0
        widest = "-1.2346e+06"
        advance = metrics.horizontalAdvance("0" * 100) / 100
        if all(abs(m.horizontalAdvance(text) - advance * len(text)) < 0.05 * len(text)
               for m in (metrics, bold) for text in (widest, "ex", "y \\ x")):
            self.chars = len(widest)
            self.cell_w = advance * (self.chars + 1)
        else:
            self.cell_w = float(bold.horizontalAdvance(widest) + 2 * PAD)
        self.cell_h = float(round(metrics.height()) + 4)
        self.head_w = float(round(metrics.horizontalAdvance("000000")) + 2 * PAD)
        self.head_h = self.cell_h
        self.block: pt.PixelBlock | None = None
        self.one_based = False
        self._texts: list[list[str]] = []
        self._tints: list[list[QColor | None]] = []
        self._columns: list[str] = []
        self._rows: list[str] = []
        self._hover: tuple[int, int] | None = None
        self.header_left = 0.0               # the row numbers' x (the scroll area's offset)
        self.paints = 0                      # repaints done (the tests count them)
        self.setMouseTracking(True)
        # every pixel is painted here: Qt need not paint the scroll area behind it first
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    # ---- content -------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return self.block.n if self.block is not None else 0

    def set_block(self, block: pt.PixelBlock | None, one_based: bool) -> None:
        """Show ``block`` (None: nothing); the texts and tints are worked out here, once."""
        resized = self.n != (block.n if block is not None else 0)
        self.block, self.one_based = block, one_based
        if block is None:
            self._texts, self._tints, self._columns, self._rows = [], [], [], []
        else:
            n, base, mid = block.n, 1 if one_based else 0, block.n // 2
            flagged = block.flagged.tolist()
            self._texts = [[pt.cell_value_text(block, r, c, short=True) for c in range(n)]
                           for r in range(n)]
            self._tints = [[FLAGGED_TINT if flagged[r][c] else
                            CENTRE_TINT if r == c == mid else None for c in range(n)]
                           for r in range(n)]
            self._columns = [str(block.x0 + c + base) for c in range(n)]
            self._rows = [str(block.y_top - r + base) for r in range(n)]
        if resized:
            self.setFixedSize(self.sizeHint())
        self.update()

    def text(self, row: int, column: int) -> str:
        """The cell's text as painted."""
        return self._texts[row][column]

    def tint(self, row: int, column: int) -> QColor | None:
        """The cell's background (None: the palette's)."""
        return self._tints[row][column]

    def column_label(self, column: int) -> str:
        return self._columns[column]

    def row_label(self, row: int) -> str:
        return self._rows[row]

    def description(self, row: int, column: int) -> str:
        """The cell's tooltip: its pixel, value and DQ decoded."""
        return pt.cell_description(self.block, row, column, self.one_based)

    # ---- geometry ------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:  # noqa: N802 (Qt naming)
        n = max(self.n, 1)
        return QSize(math.ceil(self.head_w + n * self.cell_w) + 1,
                     math.ceil(self.head_h + n * self.cell_h) + 1)

    def cell_rect(self, row: int, column: int) -> QRectF:
        return QRectF(self.head_w + column * self.cell_w, self.head_h + row * self.cell_h,
                      self.cell_w, self.cell_h)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        if self.block is None or x < self.header_left + self.head_w or y < self.head_h:
            return None
        row, column = int((y - self.head_h) // self.cell_h), int((x - self.head_w) // self.cell_w)
        return (row, column) if row < self.n and column < self.n else None

    # ---- painting and the mouse ----------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        self.paints += 1
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        n = self.n
        if n:
            self._paint_cells(painter, palette, n)
        painter.end()

    def _paint_cells(self, painter: QPainter, palette: QPalette, n: int) -> None:
        width, height = self.head_w + n * self.cell_w, self.head_h + n * self.cell_h
        button = palette.color(QPalette.ColorRole.Button)
        painter.fillRect(QRectF(0, 0, width, self.head_h), button)
        tints, texts, mid = self._tints, self._texts, n // 2
        # on their own: tinted cells (black text on the tint) and the cursor's cell (bold)
        apart = [(r, c) for r in range(n) for c in range(n)
                 if tints[r][c] is not None or r == c == mid]
        for r, c in apart:
            if tints[r][c] is not None:
                painter.fillRect(self.cell_rect(r, c), tints[r][c])
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        # the grid in one call (a drawLine each was a tenth of the paint)
        xs = [self.head_w + k * self.cell_w for k in range(n + 1)]
        ys = [self.head_h + k * self.cell_h for k in range(n + 1)]
        painter.drawLines([QLineF(x, 0, x, height) for x in xs]
                          + [QLineF(0, y, width, y) for y in ys])
        painter.setPen(palette.color(QPalette.ColorRole.ButtonText))
        for k in range(n):
            painter.drawText(QRectF(self.head_w + k * self.cell_w, 0, self.cell_w, self.head_h),
                             CENTRED, self._columns[k])
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        if self.chars:
            # a fixed-pitch font: a row is one string, each cell right-aligned in its columns
            # of characters (a drawText per row, not per cell: the paint's main cost)
            skip = set(apart)
            w = self.chars
            for r in range(n):
                line = "".join(" " * (w + 1) if (r, c) in skip else f"{texts[r][c]:>{w}} "
                               for c in range(n))
                painter.drawText(QRectF(self.head_w, self.head_h + r * self.cell_h,
                                       n * self.cell_w, self.cell_h), LEFT, line)
        else:
            for r in range(n):
                for c in range(n):
                    if tints[r][c] is None and not r == c == mid and texts[r][c]:
                        painter.drawText(self.cell_rect(r, c).adjusted(0, 0, -PAD, 0), RIGHT,
                                         texts[r][c])
        for r, c in apart:
            if not texts[r][c]:
                continue
            painter.setFont(self.bold if r == c == mid else self.font())
            painter.setPen(CELL_TEXT if tints[r][c] is not None
                           else palette.color(QPalette.ColorRole.Text))
            painter.drawText(self.cell_rect(r, c).adjusted(0, 0, -PAD, 0), RIGHT, texts[r][c])
        painter.setFont(self.font())
        # the y of each row last, over the cells at the left of what the scroll area shows,
        # so a table wider than the dock keeps its row numbers in view
        left = self.header_left
        if left > 0:  # blank the cells the row numbers cut, so no number is read half
            first_whole = self.head_w + math.ceil(left / self.cell_w) * self.cell_w
            painter.fillRect(QRectF(left, 0, first_whole - left, self.head_h), button)
            painter.fillRect(QRectF(left, self.head_h, first_whole - left, height - self.head_h),
                             palette.color(QPalette.ColorRole.Base))
        painter.fillRect(QRectF(left, 0, self.head_w, height), button)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawLines([QLineF(left + self.head_w, 0, left + self.head_w, height)]
                          + [QLineF(left, y, left + self.head_w, y) for y in ys])
        painter.setPen(palette.color(QPalette.ColorRole.ButtonText))
        for k in range(n):
            painter.drawText(QRectF(left, self.head_h + k * self.cell_h, self.head_w - PAD,
                                    self.cell_h), RIGHT, self._rows[k])

    def set_header_left(self, left: float) -> None:
        """Where the row numbers are drawn: the left edge of the part in view (scrolled)."""
        if left != self.header_left:
            self.header_left = float(left)
            self.update()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        position = event.position()
        cell = self.cell_at(position.x(), position.y())
        if cell is not None and cell != self._hover:
            self.hovered.emit(*cell)
        self._hover = cell
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._hover = None
        super().leaveEvent(event)

    def event(self, event) -> bool:
        if event.type() == event.Type.ToolTip:
            position = event.pos()
            cell = self.cell_at(position.x(), position.y())
            if cell is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(event.globalPos(), self.description(*cell), self,
                                  self.cell_rect(*cell).toRect())
            return True
        return super().event(event)
