"""The Levels panel: a histogram of a sample of one pane's frame (log counts), the colour bar of
the stretch under it and the limits as a region that can be dragged (dragging sets manual
limits, ``levelsDragged``)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..display import maths as im
from ..state.view_state import ROLES
from .view_binding import StateBinder, quiet


class HistogramPanel(QWidget):
    levelsDragged = Signal(str, float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("Histogram of", self))
        self.role = QComboBox(self)
        self.role.addItems(["A (left)", "B (right)"])
        self.role.setToolTip("Which pane's pixels the histogram shows; dragging its levels sets "
                             "manual limits for that pane (both panes when levels are shared). "
                             "In blink layout it follows the pane on screen.")
        top.addWidget(self.role, 1)
        layout.addLayout(top)
        self.plot = pg.PlotWidget(self)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMinimumHeight(120)
        self.plot.setMaximumHeight(170)
        self.plot.getAxis("left").setWidth(28)
        self.plot.getAxis("left").setStyle(showValues=False)
        self.plot.getAxis("bottom").setStyle(tickFont=QFont(self.font().family(), 8))
        self.plot.setLabel("left", "log N")
        for axis in ("left", "bottom"):  # no units to prefix; each range change re-set them
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        # a PlotCurveItem, not a PlotDataItem: that one re-sets its curve's data and pen on
        # every range change of the plot (for its downsampling), ~8 ms a new frame
        # stepped: one more edge than heights, even when empty
        self.curve = pg.PlotCurveItem(x=np.zeros(1), y=np.zeros(0), stepMode="center", fillLevel=0,
                                      brush=(120, 160, 220, 150),
                                      pen=pg.mkPen((160, 190, 240), width=1))
        self.plot.addItem(self.curve)
        self.bar = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.bar)
        self.region = pg.LinearRegionItem(values=(0, 1), brush=(255, 255, 255, 30))
        self.region.setZValue(10)
        self.plot.addItem(self.region)
        self.region.sigRegionChangeFinished.connect(self._dragged)
        layout.addWidget(self.plot)
        self._updating = False
        self._shown: tuple | None = None

    def bind(self, binder: StateBinder, view) -> None:
        """The menu shows ``view.histogram_role`` (the pane on screen while blinking) and a
        pick goes to ``view.set_histogram_role``."""
        def show() -> None:
            with quiet(self.role):
                self.role.setCurrentIndex(ROLES.index(view.histogram_role))

        for name in ("histogram_role", "layout", "blink_phase"):
            binder.on(name, show)
        self.role.currentIndexChanged.connect(lambda i: view.set_histogram_role(ROLES[i]))

    @property
    def current_role(self) -> str:
        return ROLES[self.role.currentIndex()]

    def show_histogram(self, key: tuple, counts: np.ndarray, edges: np.ndarray,
                       levels: tuple[float, float], stretch: str, lut: np.ndarray) -> None:
        token = (key, levels, stretch, id(lut))
        if token == self._shown:
            return
        self._shown = token
        edges = np.asarray(edges, np.float64)
        heights = np.log10(counts.astype(np.float64) + 1.0)
        top = max(float(heights.max()) if heights.size else 1.0, 1.0)
        self.curve.setData(edges, heights)
        low, high = levels
        # colour bar under the axis: the colours the pane gives values between the limits
        values = np.linspace(low, high, 512, dtype=np.float64)[None, :]
        self.bar.setImage(im.quantize(values, low, high, stretch), autoLevels=False, levels=None,
                          lut=lut)
        self.bar.setRect(QRectF(low, -0.18 * top, high - low, 0.14 * top))
        self._updating = True
        self.region.setRegion((low, high))
        self._updating = False
        first, last = float(edges[0]), float(edges[-1])
        span = last - first
        self.plot.setRange(xRange=(first - 0.02 * span, last + 0.02 * span),
                           yRange=(-0.2 * top, top * 1.05), padding=0)

    def clear(self) -> None:
        self._shown = None
        self.curve.setData(np.zeros(1), np.zeros(0))
        self.bar.clear()

    def _dragged(self) -> None:
        if self._updating:
            return
        low, high = self.region.getRegion()
        if high > low:
            self.levelsDragged.emit(self.current_role, float(low), float(high))
