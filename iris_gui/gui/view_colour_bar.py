"""The colour bar beside each pane in the live view: the pane's colour table from its low limit
(bottom) to its high limit (top), drawn linear in colour, ticks at 0, ¼, ½, ¾ and 1 of the colour
scale labelled with the data value shown in that colour (``display.stretch.colour_bar_ticks``,
as the PNG export's bar), and the NaN colour under it.

It is painted from the LUT the pane uses (the same array object) and the pane's resolved limits,
so it can never disagree with the image; ``ViewState.colour_bars`` shows or hides them all.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..display import maths as im

STRIP_WIDTH = 14
MARGIN = 8
NAN_HEIGHT = 12


class ColourBar(QWidget):
    """A vertical colour bar; ``show_scale(levels, stretch, lut, nan_colour)`` or ``clear()``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.levels: tuple[float, float] | None = None
        self.stretch = "linear"
        self.ticks: list[tuple[float, float]] = []
        self.nan_colour = (255, 0, 255)
        self._strip: QImage | None = None
        self._lut_id = 0
        font = QFont(self.font())
        font.setPointSize(max(6, font.pointSize() - 2))
        self.setFont(font)
        width = STRIP_WIDTH + 12 + self.fontMetrics().horizontalAdvance("-8.888e+88")
        self.setFixedWidth(width)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setToolTip("Colour bar: the pane's colours from its low limit (bottom) to its high "
                        "limit (top); ticks name the value at each quarter of the colour scale")

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt naming)
        return QSize(self.width(), 200)

    def show_scale(self, levels: tuple[float, float], stretch: str, lut: np.ndarray,
                   nan_colour: tuple[int, int, int]) -> None:
        changed = (levels, stretch, nan_colour) != (self.levels, self.stretch, self.nan_colour) \
            or id(lut) != self._lut_id
        if not changed:
            return
        if id(lut) != self._lut_id:
            # one column, the top row the highest colour index (the painter stretches it)
            column = np.ascontiguousarray(lut[:im.N_COLOURS][::-1, :3].astype(np.uint8))
            self._strip = QImage(column.data, 1, column.shape[0], 3,
                                 QImage.Format.Format_RGB888).copy()
            self._lut_id = id(lut)
        self.levels, self.stretch, self.nan_colour = levels, stretch, nan_colour
        self.ticks = im.colour_bar_ticks(levels[0], levels[1], stretch)
        self.update()

    def clear(self) -> None:
        if self.levels is not None:
            self.levels, self.ticks = None, []
            self.update()

    def strip_rect(self) -> QRectF:
        return QRectF(2, MARGIN, STRIP_WIDTH, max(10, self.height() - 2 * MARGIN - NAN_HEIGHT - 6))

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        if self.levels is None or self._strip is None:
            return
        painter = QPainter(self)
        try:
            rect = self.strip_rect()
            painter.drawImage(rect, self._strip)
            pen = QPen(self.palette().windowText().color())
            painter.setPen(pen)
            painter.drawRect(rect)
            metrics = self.fontMetrics()
            for fraction, value in self.ticks:
                y = rect.bottom() - fraction * rect.height()
                painter.drawLine(int(rect.right()), int(y), int(rect.right() + 4), int(y))
                text_y = min(max(y, rect.top() + metrics.ascent() / 2),
                             rect.bottom() - metrics.ascent() / 2)
                painter.drawText(QRectF(rect.right() + 6, text_y - metrics.height() / 2,
                                        self.width() - rect.right() - 6, metrics.height()),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                 f"{value:.4g}")
            swatch = QRectF(rect.left(), rect.bottom() + 6, STRIP_WIDTH, NAN_HEIGHT)
            painter.fillRect(swatch, QColor(*self.nan_colour))
            painter.drawRect(swatch)
            painter.drawText(QRectF(swatch.right() + 6, swatch.top() - 2,
                                    self.width() - swatch.right() - 6, NAN_HEIGHT + 4),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "NaN")
        finally:
            painter.end()
