"""The image panes: ``ImagePane`` (one plot: the index image, the DQ overlay, the crosshair, its
colour bar beside it) and
``PaneArea`` (panes A and B side by side with their "what this pane shows" menus, pan and zoom
linked, one wide pane in blink layout, the blink line and the cursor readout under them)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..display import maths as im
from ..state.view_state import ROLES
from .view_binding import quiet
from .view_colour_bar import ColourBar
from .view_readout import CursorReadout

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

CROSSHAIR_PEN = pg.mkPen((255, 255, 0, 170), width=1, style=Qt.PenStyle.DashLine)


#: the widest y-axis label a pane shows (pixel rows of a 4096² frame, zoomed out)
WIDEST_Y_LABEL = "-10000"


class ImagePane(QWidget):
    """One plot: the index image, the DQ overlay, the crosshair (and the regions, drawn by
    ``regions.RegionOverlay``)."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget(self)
        self.plot.setObjectName(f"pane{name}")
        self.plot.setAspectLocked(True)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setBackground((40, 40, 40))
        self.plot.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.plot.setMinimumSize(200, 200)
        tick_font = QFont(self.font().family(), 8)
        for axis in ("left", "bottom"):
            # two levels of ticks, numbers on the major ones only (a small pane shows fewer):
            # every pan step lays the axes out again, their text measured tick by tick
            self.plot.getAxis(axis).setStyle(tickFont=tick_font, maxTickLevel=1, maxTextLevel=0)
            # no unit label to prefix: without this, every range change re-set the hidden
            # label's HTML (~1 ms an axis when the machine is busy)
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        # the y axis as wide as its widest label ever is: otherwise its width follows the labels,
        # and each change (the first image, a zoom from 500 to 1000) lays the plot out again
        # (~5-20 ms of the GUI thread at a new product)
        left = self.plot.getAxis("left")
        left.setWidth(QFontMetrics(tick_font).horizontalAdvance(WIDEST_Y_LABEL)
                      + left.style["tickTextOffset"][0] + max(0, left.style["tickLength"]))
        self.view_box = self.plot.getViewBox()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.overlay.setZValue(10)
        self.plot.addItem(self.image)
        self.plot.addItem(self.overlay)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=CROSSHAIR_PEN)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=CROSSHAIR_PEN)
        for line in (self.vline, self.hline):
            line.setZValue(20)
            line.hide()
            self.plot.addItem(line, ignoreBounds=True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addWidget(self.plot, 1)
        self.colour_bar = ColourBar(self)
        row.addWidget(self.colour_bar)
        layout.addLayout(row, 1)
        #: the header menu choosing what this pane shows (set by ``PaneArea``)
        self.choice: QComboBox | None = None
        self.source = None
        #: the raw 2-D frame shown (None while a derived frame is being computed)
        self.array: np.ndarray | None = None
        self.index_key: tuple | None = None
        self.index: np.ndarray | None = None
        self.lut: np.ndarray | None = None
        self._pyramid: list[np.ndarray] | None = None
        self._pyramid_key: tuple | None = None
        self._level = -1
        # pyqtgraph moves the image to a new range only when it next paints, which marks it
        # dirty again: every pan or zoom step then painted the pane twice. Moved at once, the
        # one screen update shows it.
        self.view_box.sigRangeChanged.connect(lambda *_: self.view_box.updateMatrix())
        self.view_box.sigRangeChanged.connect(self._range_changed)
        self.view_box.sigResized.connect(self._range_changed)

    # image
    def show_index(self, key: tuple, index: np.ndarray, lut: np.ndarray) -> None:
        if key == self.index_key and self.lut is lut:
            return
        if key == self.index_key:
            self.image.setLookupTable(lut)
        else:
            self.image.setImage(index, autoLevels=False, levels=None, lut=lut)
            # pixel centres on integer coordinates, as the engine's 0-based WCS
            self.image.setRect(QRectF(-0.5, -0.5, index.shape[1], index.shape[0]))
        self.index_key, self.index, self.lut = key, index, lut

    def clear(self) -> None:
        self.image.clear()
        self.colour_bar.clear()
        self.index_key = self.index = None
        self.clear_overlay()
        self.source = None
        self.array = None

    # overlay
    def show_overlay(self, key: tuple, pyramid: list[np.ndarray], lut: np.ndarray) -> None:
        if key != self._pyramid_key:
            self._pyramid, self._pyramid_key, self._level = pyramid, key, -1
        self.overlay.setLookupTable(lut)
        self.overlay.show()
        self._update_level()

    def clear_overlay(self) -> None:
        self._pyramid = self._pyramid_key = None
        self._level = -1
        self.overlay.hide()

    @property
    def overlay_level(self) -> int:
        return self._level

    def screen_pixels_per_image_pixel(self) -> float:
        size = self.view_box.viewPixelSize()
        return 1.0 / size[0] if size and size[0] > 0 else 1.0

    def _range_changed(self, *_args) -> None:
        if self._pyramid is not None:
            self._update_level()

    def _update_level(self) -> None:
        pyramid = self._pyramid
        if pyramid is None:
            return
        level = im.pyramid_level(self.screen_pixels_per_image_pixel(), len(pyramid))
        if level == self._level:
            return
        self._level = level
        pooled = pyramid[level]
        factor = 1 << level
        self.overlay.setImage(pooled, autoLevels=False, levels=None, lut=self.overlay.lut)
        self.overlay.setRect(QRectF(-0.5, -0.5, pooled.shape[1] * factor,
                                    pooled.shape[0] * factor))

    # crosshair
    def set_crosshair(self, x: float | None, y: float | None) -> None:
        for line, value in ((self.vline, x), (self.hline, y)):
            if x is None:
                line.hide()
            else:
                line.setPos(value)
                line.show()


class PaneArea(QWidget):
    """Panes A (``left``) and B (``right``) under their view menus; ``chosen(role, label)`` when
    the user picks what a pane shows."""

    chosen = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(2)
        self.grid = grid
        self.left = ImagePane("A", self)
        self.right = ImagePane("B", self)
        self.panes = {"A": self.left, "B": self.right}
        self.titles: dict[str, QLabel] = {}
        for column, (role, pane) in enumerate(self.panes.items()):
            header = QHBoxLayout()
            title = QLabel(f"{role}:", self)
            title.setStyleSheet("font-weight: bold")
            self.titles[role] = title
            header.addWidget(title)
            combo = QComboBox(self)
            combo.setObjectName(f"paneChoice{role}")
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setMinimumContentsLength(14)
            combo.setToolTip(f"What pane {role} shows (kept per step)")
            combo.textActivated.connect(lambda text, r=role: self.chosen.emit(r, text))
            pane.choice = combo
            header.addWidget(combo)
            header.addStretch(1)
            grid.addLayout(header, 0, column)
            grid.addWidget(pane, 1, column)
            grid.setColumnStretch(column, 1)
        self.right.plot.setXLink(self.left.plot)
        self.right.plot.setYLink(self.left.plot)
        self.blink_label = QLabel("", self)
        self.blink_label.setStyleSheet("font-weight: bold; color: #c80")
        grid.addWidget(self.blink_label, 2, 0, 1, 2)
        self.blink_label.hide()
        self.readout = CursorReadout(self)
        grid.addWidget(self.readout, 3, 0, 1, 2)
        grid.setRowStretch(1, 1)

    def show_choices(self, names: list[str], chosen: dict[str, str | None]) -> None:
        """Offer ``names`` in both menus and show ``chosen[role]`` (None: nothing to show)."""
        for role in ROLES:
            combo = self.panes[role].choice
            with quiet(combo):
                if [combo.itemText(i) for i in range(combo.count())] != names:
                    combo.clear()
                    combo.addItems(names)
                label = chosen.get(role)
                if label is None:
                    combo.setCurrentIndex(-1)
                elif combo.currentText() != label:
                    combo.setCurrentText(label)
            combo.setEnabled(bool(names))

    def set_blink(self, blink: bool) -> None:
        """Blink: pane A alone, across both columns; side by side: both panes."""
        self.right.setVisible(not blink)
        self.grid.setColumnStretch(1, 0 if blink else 1)
        self.grid.removeWidget(self.left)
        self.grid.addWidget(self.left, 1, 0, 1, 2 if blink else 1)
        self.blink_label.setVisible(blink)
