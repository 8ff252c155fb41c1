"""Inspection views for calibration review: what one step did to one product.

Two panes side by side (pan, zoom and crosshair synced) or one pane that blinks between them; for
each pane a view of the step: Before, After, Difference (and Ratio for flat_field), Background,
_bsub, ERR, DQ (``view_sources``). Around them: stretch / limits / colormap controls with a
histogram whose levels can be dragged, the DQ overlay per flag, region statistics, a cursor
readout with RA/Dec, an integration slider for ``_rateints`` and PNG export.

Speed: every frame is shown as a ``uint8`` index image with a 256-entry colour table (Qt paints
it as ``Indexed8``: ~5 ms for 4096², NaN included), computed on a worker pool and cached per
(frame, limits, stretch); the DQ overlay is a second ``uint8`` image, max-pooled to the zoom.
Nothing heavier than a lookup happens on the GUI thread. The arithmetic is in ``inspect_math``.

Keys (while the view has focus, also in the View menu): Space flip the blink (both directions),
B blink mode, A auto-blink, D DQ overlay, N newly flagged, L same levels, F fit, PgUp/PgDn
integration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QImage,
    QKeySequence,
    QPainter,
    QPen,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..display import maths as im
from ..display.colour_tables import (
    COLORMAPS,
    DEFAULT_NAN_COLOUR,
    NAN_MARK,
    colour_table,
    dq_colour,
    dq_colour_index,
    overlay_table,
)
from ..display.view_sources import (
    AFTER,
    BEFORE,
    I2D,
    StepViews,
    ViewSource,
    share_levels_by_default,
    step_views,
)
from ..engine.dq import DQ_BITS
from ..engine.pipeline import ProductResult
from .display_tasks import LRUCache, TaskRunner
from .flow_layout import FlowLayout

log = logging.getLogger("iris_gui.gui")

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

ROLES = ("A", "B")
SIDE_BY_SIDE, BLINK = "side", "blink"
DEFAULT_BLINK_HZ = 2.0
CROSSHAIR_PEN = pg.mkPen((255, 255, 0, 170), width=1, style=Qt.PenStyle.DashLine)
ROI_PEN = pg.mkPen((0, 255, 0), width=2)
MIRROR_PEN = pg.mkPen((0, 255, 0), width=2, style=Qt.PenStyle.DashLine)

__all__ = ["StepImageView", "ImagePane", "step_views"]


# ---- tasks run on the pool (module functions: nothing of the view is touched off its thread) ----
def _compute_frame(source: ViewSource, plane: int) -> np.ndarray:
    return source.frame(plane)


def _compute_flag_pixels(dq: np.ndarray, before_dq: np.ndarray | None) -> dict[str, np.ndarray]:
    return im.flag_pixels(dq, before_dq)


def _compute_nan_pixels(frame: np.ndarray) -> np.ndarray:
    if frame.dtype.kind != "f":
        return np.empty(0, np.intp)
    return np.flatnonzero(np.isnan(frame))


def _compute_mask(shape: tuple[int, int], pixels: dict[str, np.ndarray],
                  selected: tuple[str, ...]) -> list[np.ndarray]:
    mask = im.overlay_mask(shape, pixels, [(name, dq_colour_index(name)) for name in selected])
    return im.mask_pyramid(mask)


def _compute_stats(frame: np.ndarray, region: im.Region, dq: np.ndarray | None,
                   ignore_flagged: bool) -> im.RegionStats:
    return im.region_statistics(frame, region, dq, ignore_flagged=ignore_flagged)


@dataclass
class _Render:
    source: ViewSource
    key: tuple
    frame: np.ndarray | None = None
    info: im.FrameInfo | None = None
    levels: tuple[float, float] | None = None
    index_key: tuple | None = None
    index: np.ndarray | None = None
    flags_key: tuple | None = None
    flags: dict | None = None
    nans: np.ndarray | None = None
    mask_key: tuple | None = None
    mask: list | None = None


def _mono_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    return font


class ImagePane(QWidget):
    """One plot: the index image, the DQ overlay, the crosshair (and a region when drawn)."""

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
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setStyle(tickFont=QFont(self.font().family(), 8))
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
        layout.addWidget(self.plot, 1)
        #: set by the view: the header combo choosing what this pane shows
        self.choice: QComboBox | None = None
        self.source: ViewSource | None = None
        #: the raw 2-D frame shown (None while a derived frame is being computed)
        self.array: np.ndarray | None = None
        self.index_key: tuple | None = None
        self.index: np.ndarray | None = None
        self.lut: np.ndarray | None = None
        self._pyramid: list[np.ndarray] | None = None
        self._pyramid_key: tuple | None = None
        self._level = -1
        self._overlay_shape: tuple[int, int] | None = None
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
        self.index_key = self.index = None
        self.clear_overlay()
        self.source = None
        self.array = None

    # overlay
    def show_overlay(self, key: tuple, pyramid: list[np.ndarray], shape: tuple[int, int],
                     lut: np.ndarray) -> None:
        if key != self._pyramid_key:
            self._pyramid, self._pyramid_key, self._level = pyramid, key, -1
            self._overlay_shape = shape
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
        lut = self.overlay.lut
        self.overlay.setImage(pooled, autoLevels=False, levels=None, lut=lut)
        self.overlay.setRect(QRectF(-0.5, -0.5, pooled.shape[1] * factor,
                                    pooled.shape[0] * factor))

    # crosshair
    def set_crosshair(self, x: float | None, y: float | None) -> None:
        if x is None:
            self.vline.hide()
            self.hline.hide()
            return
        self.vline.setPos(x)
        self.hline.setPos(y)
        self.vline.show()
        self.hline.show()


class HistogramPanel(QWidget):
    """Histogram of a sample of the frame, with draggable levels and the colour bar under it."""

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
                             "manual limits for that pane (both panes when levels are shared)")
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
        self.curve = pg.PlotDataItem(stepMode="center", fillLevel=0, brush=(120, 160, 220, 150),
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
        top = float(heights.max()) if heights.size else 1.0
        self.curve.setData(edges, heights)
        low, high = levels
        # colour bar under the axis: the colours the pane gives values between the limits
        values = np.linspace(low, high, 512, dtype=np.float64)[None, :]
        strip = im.quantize(values, low, high, stretch)
        self.bar.setImage(strip, autoLevels=False, levels=None, lut=lut)
        self.bar.setRect(QRectF(low, -0.18 * max(top, 1.0), high - low, 0.14 * max(top, 1.0)))
        self._updating = True
        self.region.setRegion((low, high))
        self._updating = False
        first, last = float(edges[0]), float(edges[-1])
        span = last - first
        self.plot.setXRange(first - 0.02 * span, last + 0.02 * span, padding=0)
        self.plot.setYRange(-0.2 * max(top, 1.0), top * 1.05, padding=0)

    def clear(self) -> None:
        self._shown = None
        self.curve.setData([], [])
        self.bar.clear()

    def _dragged(self) -> None:
        if self._updating:
            return
        low, high = self.region.getRegion()
        if high > low:
            self.levelsDragged.emit(self.current_role, float(low), float(high))


class DQPanel(QWidget):
    """Overlay switch, "newly flagged" mode, opacity, and one row per flag present."""

    changed = Signal()
    COLUMNS = ("", "flag (bit)", "A", "B")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.enabled = QCheckBox("Overlay (D)", self)
        self.enabled.setToolTip("Show the selected DQ flags over the images")
        self.newly = QCheckBox("Newly flagged (N)", self)
        self.newly.setToolTip("Only the bits this step raised: after DQ & ~before DQ")
        row.addWidget(self.enabled)
        row.addWidget(self.newly)
        layout.addLayout(row)
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("Opacity", self))
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(10, 100)
        self.opacity.setValue(85)
        row2.addWidget(self.opacity, 1)
        self.all_button = QToolButton(self)
        self.all_button.setText("All")
        self.none_button = QToolButton(self)
        self.none_button.setText("None")
        row2.addWidget(self.all_button)
        row2.addWidget(self.none_button)
        layout.addLayout(row2)
        self.table = QTableWidget(0, len(self.COLUMNS), self)
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setToolTip("Tick a flag to overlay it; double-click its colour to change it. "
                              "Counts are pixels carrying the flag in pane A and B.")
        self.table.cellDoubleClicked.connect(self._pick_colour)
        self.table.itemChanged.connect(self._item_changed)
        layout.addWidget(self.table, 1)
        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: gray")
        layout.addWidget(self.note)
        #: flag -> ticked (flags not seen yet default to ticked)
        self.selected: dict[str, bool] = {}
        self.colours: dict[str, tuple[int, int, int]] = {}
        self.nan_colour = DEFAULT_NAN_COLOUR
        self._rows: list[str] = []
        self._content: tuple | None = None
        self._filling = False
        for widget in (self.enabled, self.newly):
            widget.toggled.connect(lambda _v: self.changed.emit())
        self.opacity.valueChanged.connect(lambda _v: self.changed.emit())
        self.all_button.clicked.connect(lambda: self._select_all(True))
        self.none_button.clicked.connect(lambda: self._select_all(False))

    def colour(self, name: str) -> tuple[int, int, int]:
        if name == NAN_MARK:
            return self.nan_colour
        return self.colours.get(name, dq_colour(name))

    def is_selected(self, name: str) -> bool:
        return self.selected.get(name, True)

    def selected_flags(self, present) -> tuple[str, ...]:
        """Ticked flags among ``present``, in bit order."""
        return tuple(name for name in DQ_BITS if name in present and self.is_selected(name))

    def show_counts(self, counts: dict[str, dict[str, int]], roles: tuple[str, ...]) -> None:
        """``counts``: role -> flag -> pixels. One row per flag present in any role."""
        names = [name for name in (*DQ_BITS, NAN_MARK)
                 if any(counts.get(r, {}).get(name) for r in roles)]
        content = (tuple(names), tuple((r, tuple(sorted(counts.get(r, {}).items()))) for r in roles),
                   tuple(self.is_selected(n) for n in names), tuple(self.colour(n) for n in names))
        if content == self._content:
            return
        self._content = content
        self._filling = True
        self.table.setRowCount(len(names))
        for row, name in enumerate(names):
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            tick.setCheckState(Qt.CheckState.Checked if self.is_selected(name)
                               else Qt.CheckState.Unchecked)
            tick.setBackground(QColor(*self.colour(name)))
            tick.setData(Qt.ItemDataRole.UserRole, name)
            self.table.setItem(row, 0, tick)
            if name == NAN_MARK:
                label = QTableWidgetItem("NaN pixels (not a flag)")
                label.setToolTip("Mark NaN pixels of the shown frames so they stay visible at "
                                 "any zoom (colour: the NaN button); shown with or without the "
                                 "DQ overlay")
            else:
                label = QTableWidgetItem(f"{name} ({DQ_BITS[name]})")
                label.setToolTip(f"{name}: bit {DQ_BITS[name]}, value {1 << DQ_BITS[name]}")
            self.table.setItem(row, 1, label)
            for column, role in ((2, "A"), (3, "B")):
                value = counts.get(role, {}).get(name) if role in roles else None
                cell = QTableWidgetItem("" if value is None else f"{value:,}")
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, cell)
        self._rows = names
        self._filling = False
        if not [n for n in names if n != NAN_MARK]:
            self.note.setText("No DQ flags set in the shown frames." if roles else "")
        else:
            self.note.setText("")

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 0:
            return
        name = item.data(Qt.ItemDataRole.UserRole)
        self.set_flag(name, item.checkState() == Qt.CheckState.Checked)

    def set_flag(self, name: str, on: bool) -> None:
        if self.selected.get(name, True) == on:
            return
        self.selected[name] = on
        self._content = None
        self.changed.emit()

    def _select_all(self, on: bool) -> None:
        for name in self._rows:
            self.selected[name] = on
        self._content = None
        self.changed.emit()

    def _pick_colour(self, row: int, column: int) -> None:
        if column != 0 or row >= len(self._rows) or self._rows[row] == NAN_MARK:
            return
        name = self._rows[row]
        colour = QColorDialog.getColor(QColor(*self.colour(name)), self, f"Colour of {name}")
        if colour.isValid():
            self.colours[name] = (colour.red(), colour.green(), colour.blue())
            self._content = None
            self.changed.emit()


class RegionPanel(QWidget):
    """Box / circle region tools and the statistics text."""

    requested = Signal(str)     # "box", "circle", "clear"
    optionsChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.box_button = QPushButton("□ Box", self)
        self.circle_button = QPushButton("○ Circle", self)
        self.clear_button = QPushButton("Clear", self)
        self.copy_button = QPushButton("Copy", self)
        for button, tip in ((self.box_button, "Add a rectangular region (drag to move, handle to "
                             "resize)"), (self.circle_button, "Add a circular region"),
                            (self.clear_button, "Remove the region"),
                            (self.copy_button, "Copy the statistics as text")):
            button.setToolTip(tip)
            row.addWidget(button)
        layout.addLayout(row)
        self.ignore_flagged = QCheckBox("Leave out DQ-flagged pixels", self)
        layout.addWidget(self.ignore_flagged)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        font = _mono_font()
        font.setPointSize(max(7, font.pointSize() - 1))
        self.text.setFont(font)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setPlaceholderText("Add a box or circle region for N, N flagged, mean, median, "
                                     "std, 3σ-clipped mean/std, min, max of each pane.")
        self.text.setMinimumHeight(120)
        layout.addWidget(self.text, 1)
        self.box_button.clicked.connect(lambda: self.requested.emit("box"))
        self.circle_button.clicked.connect(lambda: self.requested.emit("circle"))
        self.clear_button.clicked.connect(lambda: self.requested.emit("clear"))
        self.copy_button.clicked.connect(self.copy)
        self.ignore_flagged.toggled.connect(lambda _v: self.optionsChanged.emit())

    def copy(self) -> str:
        text = self.text.toPlainText()
        QGuiApplication.clipboard().setText(text)
        return text


class StepImageView(QWidget):
    """The inspection views of one step of one product (see the module docstring)."""

    #: emitted whenever the view has nothing left to compute for what it shows
    settled = Signal()
    #: a file action of the view failed: title, message naming the file (the window shows it)
    failed = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inspectionView")
        self.runner = TaskRunner(self, threads=2)
        self.runner.finished.connect(self._task_done)
        # sizes: at 4096² a derived frame is 64 MB, an index image 16 MB, a pyramid ~21 MB
        self._frames = LRUCache(4)       # derived frames
        self._infos = LRUCache(32)       # FrameInfo per frame
        self._indices = LRUCache(12)     # uint8 index images
        self._levels_cache = LRUCache(64)
        self._histograms = LRUCache(16)
        self._flag_pixels = LRUCache(16)
        self._nan_pixels = LRUCache(16)
        self._masks = LRUCache(8)        # overlay pyramids
        self._stats = LRUCache(32)
        self._pending_refs: dict[tuple, object] = {}
        self._failed: dict[tuple, str] = {}
        self.views = StepViews(sources={})
        self.result: ProductResult | None = None
        self.step_name = ""
        self.mode = SIDE_BY_SIDE
        self.blink_phase = 0
        self.manual: dict[str, tuple[float, float]] = {}
        self.resolved: dict[str, tuple[float, float]] = {}
        self.region: im.Region | None = None
        self._stats_region: im.Region | None = None
        self.stats_text = ""
        self.last_stats: dict[str, im.RegionStats] = {}
        self.nan_colour = DEFAULT_NAN_COLOUR
        self._lut_cache: dict[tuple, np.ndarray] = {}
        self._pair: tuple | None = None
        self._fitted_shape: tuple | None = None
        self._cursor: tuple[int, int] | None = None
        self._refresh_queued = False
        self._renders: dict[str, _Render] = {}
        self._closed = False

        self.blink_timer = QTimer(self)
        self.blink_timer.timeout.connect(self.flip)
        self._build()
        self._build_actions()
        self._update_mode_widgets()
        app = QGuiApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ---- construction --------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.setSpacing(3)

        self.caption = QLabel("Run a product to see each step's input and output.", self)
        self.caption.setStyleSheet("font-weight: bold")
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        outer.addWidget(self.caption)
        # the view controls wrap onto further lines in a narrow window (1024 px laptops)
        controls = QWidget(self)
        row1 = row2 = FlowLayout(controls, spacing=6)
        self.layout_choice = QComboBox(self)
        self.layout_choice.addItems(["Side by side", "Blink"])
        self.layout_choice.setToolTip("Two panes side by side, or one pane blinking between "
                                      "A and B (B)")
        row1.addWidget(self.layout_choice)
        self.flip_button = QPushButton("Flip ⇄", self)
        self.flip_button.setToolTip("Show the other image of the blink pair (Space, both ways)")
        row1.addWidget(self.flip_button)
        self.auto_blink = QCheckBox("Auto", self)
        self.auto_blink.setToolTip("Blink automatically at the rate beside (A)")
        row1.addWidget(self.auto_blink)
        self.blink_rate = QDoubleSpinBox(self)
        self.blink_rate.setRange(0.2, 20.0)
        self.blink_rate.setSingleStep(0.5)
        self.blink_rate.setValue(DEFAULT_BLINK_HZ)
        self.blink_rate.setSuffix(" Hz")
        self.blink_rate.setToolTip("Auto-blink rate (flips per second)")
        row1.addWidget(self.blink_rate)
        self.plane_label = QLabel("Integration —", self)
        row1.addWidget(self.plane_label)
        self.plane_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.plane_slider.setRange(0, 0)
        self.plane_slider.setFixedWidth(90)
        self.plane_slider.setEnabled(False)
        self.plane_slider.setToolTip("Integration of a _rateints exposure (PgUp / PgDn)")
        row1.addWidget(self.plane_slider)
        row2.addWidget(QLabel("Stretch", self))
        self.stretch = QComboBox(self)
        self.stretch.addItems(im.STRETCHES)
        row2.addWidget(self.stretch)
        row2.addWidget(QLabel("Limits", self))
        self.limits = QComboBox(self)
        self.limits.addItems(im.LIMIT_METHODS)
        self.limits.setToolTip("zscale: astropy ZScaleInterval on a subsample; percentile: the "
                               "central percent of a subsample; minmax: finite extremes")
        row2.addWidget(self.limits)
        self.percent = QComboBox(self)
        self.percent.setEditable(True)
        self.percent.addItems([f"{p:g}" for p in im.PERCENTILES])
        self.percent.setCurrentText("99.5")
        self.percent.setFixedWidth(64)
        self.percent.setToolTip("Percent of the pixels between the limits (percentile limits)")
        row2.addWidget(self.percent)
        self.low_edit = QLineEdit(self)
        self.high_edit = QLineEdit(self)
        for edit, tip in ((self.low_edit, "Lower limit of pane A (edit for manual limits)"),
                          (self.high_edit, "Upper limit of pane A (edit for manual limits)")):
            edit.setFixedWidth(78)
            edit.setToolTip(tip)
            row2.addWidget(edit)
        row2.addWidget(QLabel("Colours", self))
        self.colormap = QComboBox(self)
        self.colormap.addItems(list(COLORMAPS))
        row2.addWidget(self.colormap)
        self.nan_button = QToolButton(self)
        self.nan_button.setText("NaN")
        self.nan_button.setToolTip("Colour of NaN pixels")
        row2.addWidget(self.nan_button)
        self.same_levels = QCheckBox("Same levels (L)", self)
        self.same_levels.setToolTip("Pane B uses pane A's limits (on by default for Before/After)")
        self.same_levels.setChecked(True)
        row2.addWidget(self.same_levels)
        self.index_base = QComboBox(self)
        self.index_base.addItems(["0-based", "1-based (FITS)"])
        self.index_base.setToolTip("Pixel numbering in the readout and region text")
        row2.addWidget(self.index_base)
        self.fit_button = QToolButton(self)
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Show the whole frame (F)")
        row2.addWidget(self.fit_button)
        self.export_button = QToolButton(self)
        self.export_button.setText("PNG…")
        self.export_button.setToolTip("Export the panes as shown, with colour bars and labels")
        row2.addWidget(self.export_button)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        controls.setSizePolicy(policy)
        outer.addWidget(controls)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        centre = QWidget(self.splitter)
        grid = QGridLayout(centre)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(2)
        self.grid = grid
        self.left = ImagePane("A", centre)
        self.right = ImagePane("B", centre)
        self.panes = {"A": self.left, "B": self.right}
        self.pane_titles: dict[str, QLabel] = {}
        for column, (role, pane) in enumerate(self.panes.items()):
            header = QHBoxLayout()
            title = QLabel(f"{role}:", centre)
            title.setStyleSheet("font-weight: bold")
            self.pane_titles[role] = title
            header.addWidget(title)
            combo = QComboBox(centre)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.setMinimumContentsLength(14)
            pane.choice = combo
            header.addWidget(combo)
            header.addStretch(1)
            grid.addLayout(header, 0, column)
            grid.addWidget(pane, 1, column)
            grid.setColumnStretch(column, 1)
        self.right.plot.setXLink(self.left.plot)
        self.right.plot.setYLink(self.left.plot)
        self.blink_label = QLabel("", centre)
        self.blink_label.setStyleSheet("font-weight: bold; color: #c80")
        grid.addWidget(self.blink_label, 2, 0, 1, 2)
        self.blink_label.hide()
        self.readout = QLabel(" \n \n ", centre)
        self.readout.setFont(_mono_font())
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout.setToolTip("Pixel under the cursor in every shown pane")
        grid.addWidget(self.readout, 3, 0, 1, 2)
        grid.setRowStretch(1, 1)

        # the side panels scroll rather than force the window taller than a small screen
        side_scroller = QScrollArea(self.splitter)
        side_scroller.setWidgetResizable(True)
        side_scroller.setFrameShape(QFrame.Shape.NoFrame)
        side_scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(2, 0, 0, 0)
        levels_box = QGroupBox("Levels", side)
        QVBoxLayout(levels_box).setContentsMargins(4, 2, 4, 4)
        self.histogram = HistogramPanel(levels_box)
        levels_box.layout().addWidget(self.histogram)
        side_layout.addWidget(levels_box)
        dq_box = QGroupBox("DQ flags", side)
        QVBoxLayout(dq_box).setContentsMargins(4, 2, 4, 4)
        self.dq_panel = DQPanel(dq_box)
        dq_box.layout().addWidget(self.dq_panel)
        side_layout.addWidget(dq_box, 2)
        region_box = QGroupBox("Region statistics", side)
        QVBoxLayout(region_box).setContentsMargins(4, 2, 4, 4)
        self.region_panel = RegionPanel(region_box)
        region_box.layout().addWidget(self.region_panel)
        side_layout.addWidget(region_box, 3)
        side.setMinimumWidth(250)
        side_scroller.setWidget(side)
        side_scroller.setMinimumWidth(side.minimumWidth() + 16)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(side_scroller)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([880, 330])
        outer.addWidget(self.splitter, 1)

        self.rois: dict[str, pg.ROI] = {}
        self._roi_sync = False

        # wiring
        self.layout_choice.currentIndexChanged.connect(
            lambda i: self.set_mode(BLINK if i == 1 else SIDE_BY_SIDE))
        self.flip_button.clicked.connect(self.flip)
        self.auto_blink.toggled.connect(self.set_auto_blink)
        self.blink_rate.valueChanged.connect(lambda _v: self._update_blink_timer())
        self.plane_slider.valueChanged.connect(self._plane_changed)
        self.stretch.currentTextChanged.connect(lambda _t: self._settings_changed())
        self.limits.currentTextChanged.connect(self._limits_changed)
        self.percent.currentTextChanged.connect(lambda _t: self._settings_changed())
        self.low_edit.editingFinished.connect(self._levels_edited)
        self.high_edit.editingFinished.connect(self._levels_edited)
        self.colormap.currentTextChanged.connect(lambda _t: self._settings_changed())
        self.nan_button.clicked.connect(self._pick_nan_colour)
        self.same_levels.toggled.connect(lambda _v: self._settings_changed())
        self.index_base.currentIndexChanged.connect(lambda _i: self._index_base_changed())
        self.fit_button.clicked.connect(self.fit)
        self.export_button.clicked.connect(self.export_dialog)
        for pane in self.panes.values():
            pane.choice.currentTextChanged.connect(lambda _t: self._choice_changed())
            pane.plot.scene().sigMouseMoved.connect(
                lambda pos, p=pane: self._mouse_moved(p, pos))
        self.histogram.levelsDragged.connect(self.set_manual_levels)
        self.histogram.role.currentIndexChanged.connect(lambda _i: self._refresh())
        self.dq_panel.changed.connect(self._refresh)
        self.region_panel.requested.connect(self._region_requested)
        self.region_panel.optionsChanged.connect(self._refresh)
        self._update_nan_button()

    def _build_actions(self) -> None:
        def action(text, slot, key, checkable=False, tip=""):
            act = QAction(text, self)
            act.setShortcut(QKeySequence(key))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.setCheckable(checkable)
            act.setToolTip(tip or text)
            act.setStatusTip(tip or text)
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.flip_action = action("Blink: &flip", self.flip, "Space",
                                  tip="Show the other image of the blink pair (both ways)")
        self.blink_action = action("&Blink mode", lambda on: self.set_mode(BLINK if on else
                                                                           SIDE_BY_SIDE),
                                   "B", True)
        # (lambdas with an argument: PySide passes ``checked`` to them, not to builtin slots)
        self.auto_action = action("&Auto-blink", lambda on: self.set_auto_blink(on), "A", True)
        self.dq_action = action("&DQ overlay", lambda on: self.dq_panel.enabled.setChecked(on),
                                "D", True)
        self.newly_action = action("&Newly flagged by this step",
                                   lambda on: self.dq_panel.newly.setChecked(on), "N", True)
        self.same_action = action("Same &levels on both panes",
                                  lambda on: self.same_levels.setChecked(on), "L", True)
        self.fit_action = action("&Fit the frame", self.fit, "F")
        self.next_plane_action = action("Next integration", lambda: self.step_plane(1), "PgDown")
        self.prev_plane_action = action("Previous integration", lambda: self.step_plane(-1),
                                        "PgUp")
        self.export_action = action("&Export view as PNG…", self.export_dialog, "Ctrl+Shift+P")
        self.auto_blink.toggled.connect(self.auto_action.setChecked)
        self.dq_panel.enabled.toggled.connect(self.dq_action.setChecked)
        self.dq_panel.newly.toggled.connect(self.newly_action.setChecked)
        self.same_levels.toggled.connect(self.same_action.setChecked)
        self.same_action.setChecked(self.same_levels.isChecked())

    def menu_actions(self) -> list[QAction]:
        """Actions for the window's View menu (their keys work while the view has focus)."""
        return [self.blink_action, self.flip_action, self.auto_action, self.dq_action,
                self.newly_action, self.same_action, self.fit_action, self.next_plane_action,
                self.prev_plane_action, self.export_action]

    # ---- public API ------------------------------------------------------------------------------
    def show_step(self, result: ProductResult | None, step_name: str,
                  others: tuple[ProductResult, ...] | list[ProductResult] = ()) -> None:
        """Show what ``step_name`` did to ``result`` (None: nothing yet); ``others`` are other
        products' results, offered for blinking when their frames have the same shape."""
        self.result, self.step_name = result, step_name
        views = step_views(result, step_name, others)
        same = (list(views.sources) == list(self.views.sources)
                and all(views.sources[k].model is self.views.sources[k].model
                        and views.sources[k].other is self.views.sources[k].other
                        for k in views.sources))
        self.views = views
        if not same:
            names = list(views.sources)
            # resample leaves the _cal as it was (After = Before): its result is the i2d product
            right_default = I2D if I2D in names else AFTER
            for pane, preferred in ((self.left, BEFORE), (self.right, right_default)):
                keep = pane.choice.currentText()
                if pane is self.right and keep == AFTER:
                    keep = right_default
                pane.choice.blockSignals(True)
                pane.choice.clear()
                pane.choice.addItems(names)
                if keep in names:
                    pane.choice.setCurrentText(keep)
                elif preferred in names:
                    pane.choice.setCurrentText(preferred)
                elif names:
                    pane.choice.setCurrentIndex(min(1 if pane is self.right else 0, len(names) - 1))
                pane.choice.blockSignals(False)
            nints = views.nints
            self.plane_slider.blockSignals(True)
            self.plane_slider.setRange(0, max(0, nints - 1))
            self.plane_slider.setEnabled(nints > 1)
            self.plane_slider.blockSignals(False)
            self.dq_panel.newly.setEnabled(views.before is not None)
        if result is None:
            self.caption.setText("Run a product to see each step's input and output.")
            self.release_caches()
        elif not result.steps:
            self.caption.setText(f"{result.product.name} — the exposure as read; not run yet")
        else:
            step = result.steps.get(step_name)
            status = step.status if step else "not run"
            self.caption.setText(f"{result.product.name} — {step_name}: {status}")
        self._choice_changed()

    def release_caches(self) -> None:
        """Forget every cached frame, index image, mask and statistic (frees their memory)."""
        for cache in (self._frames, self._infos, self._indices, self._levels_cache,
                      self._histograms, self._flag_pixels, self._nan_pixels, self._masks,
                      self._stats):
            cache.clear()
        self._failed.clear()

    def source(self, role: str) -> ViewSource | None:
        pane = self.panes[role]
        return self.views.sources.get(pane.choice.currentText())

    def choose(self, role: str, label: str) -> None:
        """Show view ``label`` (e.g. ``view_sources.DIFFERENCE``) in pane ``role``."""
        self.panes[role].choice.setCurrentText(label)

    @property
    def plane(self) -> int:
        return self.plane_slider.value()

    def set_plane(self, plane: int) -> None:
        self.plane_slider.setValue(plane)

    def step_plane(self, delta: int) -> None:
        self.plane_slider.setValue(self.plane_slider.value() + delta)

    @property
    def one_based(self) -> bool:
        return self.index_base.currentIndex() == 1

    def set_one_based(self, on: bool) -> None:
        self.index_base.setCurrentIndex(1 if on else 0)

    def set_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        self.mode = mode
        self.blink_phase = 0
        if mode != BLINK:
            self.auto_blink.setChecked(False)
        self._update_mode_widgets()
        self._refresh()

    def flip(self) -> None:
        """Blink: show the other of A and B (switches to blink mode if needed)."""
        if self.mode != BLINK:
            self.set_mode(BLINK)
            return
        self.blink_phase ^= 1
        self._refresh()

    @property
    def shown_role(self) -> str:
        """In blink mode, the role the pane shows now."""
        return ROLES[self.blink_phase] if self.mode == BLINK else "A"

    def set_auto_blink(self, on: bool) -> None:
        if on and self.mode != BLINK:
            self.set_mode(BLINK)
        if self.auto_blink.isChecked() != on:
            self.auto_blink.setChecked(on)
            return
        self._update_blink_timer()

    def set_manual_levels(self, role: str, low: float, high: float) -> None:
        low, high = im.ordered_limits(low, high)
        roles = ROLES if self.same_levels.isChecked() else (role,)
        for r in roles:
            self.manual[r] = (low, high)
        if self.limits.currentText() != "manual":
            self.limits.blockSignals(True)
            self.limits.setCurrentText("manual")
            self.limits.blockSignals(False)
        self._settings_changed()

    def set_region(self, region: im.Region | None) -> None:
        """Place a region (``inspect_math.Region``) in both panes, or remove it."""
        for role, roi in self.rois.items():
            self.panes[role].plot.removeItem(roi)
        self.rois = {}
        self.region = region
        if region is not None:
            for role, pane in self.panes.items():
                roi = self._make_roi(region, role == "A")
                pane.plot.addItem(roi)
                roi.sigRegionChanged.connect(lambda r, role=role: self._roi_moved(role))
                self.rois[role] = roi
        if region is None:
            self.stats_text = ""
            self.last_stats = {}
            self.region_panel.text.setPlainText("")
        self._refresh()

    def fit(self) -> None:
        shape = self._shown_shape()
        if shape is None:
            return
        ny, nx = shape
        self.left.view_box.setRange(xRange=(-0.5, nx - 0.5), yRange=(-0.5, ny - 0.5), padding=0.02)

    def shutdown(self) -> None:
        """Stop the blink timer and wait for every worker thread; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.blink_timer.stop()
        self.runner.shutdown()

    @property
    def busy(self) -> bool:
        return self.runner.busy or self._refresh_queued

    # ---- state changes -----------------------------------------------------------------------------
    def _update_mode_widgets(self) -> None:
        blink = self.mode == BLINK
        self.layout_choice.blockSignals(True)
        self.layout_choice.setCurrentIndex(1 if blink else 0)
        self.layout_choice.blockSignals(False)
        self.blink_action.setChecked(blink)
        self.right.setVisible(not blink)
        self.grid.setColumnStretch(1, 0 if blink else 1)
        self.grid.removeWidget(self.left)
        self.grid.addWidget(self.left, 1, 0, 1, 2 if blink else 1)
        self.blink_label.setVisible(blink)
        for widget in (self.auto_blink, self.blink_rate):
            widget.setEnabled(blink)
        self._update_blink_timer()

    def _update_blink_timer(self) -> None:
        if self.mode == BLINK and self.auto_blink.isChecked():
            self.blink_timer.start(max(20, int(round(1000.0 / self.blink_rate.value()))))
        else:
            self.blink_timer.stop()

    def _choice_changed(self) -> None:
        pair = (self.step_name, self.left.choice.currentText(), self.right.choice.currentText())
        if pair != self._pair:
            self._pair = pair
            a, b = self.source("A"), self.source("B")
            default = a is not None and b is not None \
                and share_levels_by_default(self.step_name, {a.role, b.role})
            self.same_levels.blockSignals(True)
            self.same_levels.setChecked(default)
            self.same_levels.blockSignals(False)
            self.same_action.setChecked(default)
            self.manual = {}
        self._refresh()
        shape = self._shown_shape()
        if shape is not None and shape != self._fitted_shape:
            self._fitted_shape = shape
            self.fit()

    def _plane_changed(self, value: int) -> None:
        total = self.views.nints
        self.plane_label.setText(f"Integration {value + 1}/{total}" if total > 1 else
                                 "Integration —")
        self._refresh()
        self._update_readout()

    def _limits_changed(self, method: str) -> None:
        if method == "manual":
            for role in ROLES:
                if role not in self.manual and role in self.resolved:
                    self.manual[role] = self.resolved[role]
        self._settings_changed()

    def _levels_edited(self) -> None:
        try:
            low, high = float(self.low_edit.text()), float(self.high_edit.text())
        except ValueError:
            self._show_level_text()
            return
        current = self.resolved.get(self.histogram.current_role)
        if current is not None and (low, high) == (float(im.format_limit(current[0])),
                                                    float(im.format_limit(current[1]))):
            return
        self.set_manual_levels(self.histogram.current_role, low, high)

    def _settings_changed(self) -> None:
        self._refresh()

    def _index_base_changed(self) -> None:
        self._update_readout()
        if self.last_stats and self.region is not None:
            self._show_stats_text()

    def _pick_nan_colour(self) -> None:
        colour = QColorDialog.getColor(QColor(*self.nan_colour), self, "Colour of NaN pixels")
        if colour.isValid():
            self.set_nan_colour((colour.red(), colour.green(), colour.blue()))

    def set_nan_colour(self, rgb: tuple[int, int, int]) -> None:
        self.nan_colour = tuple(int(c) for c in rgb)
        self.dq_panel.nan_colour = self.nan_colour
        self.dq_panel._content = None
        self._update_nan_button()
        self._refresh()

    def _update_nan_button(self) -> None:
        r, g, b = self.nan_colour
        text = "black" if (r * 299 + g * 587 + b * 114) > 128_000 else "white"
        self.nan_button.setStyleSheet(f"background-color: rgb({r},{g},{b}); color: {text}")

    # ---- the refresh state machine ---------------------------------------------------------------
    def _schedule_refresh(self) -> None:
        if not self._refresh_queued and not self._closed:
            self._refresh_queued = True
            QTimer.singleShot(0, self._refresh)

    #: what the eye needs first: pixels, then the overlay, then the numbers
    PRIORITY = {"frame": 3, "info": 3, "index": 3, "flags": 2, "nan": 2, "mask": 2, "stats": 1}

    def _submit(self, key: tuple, keep_alive, fn, *args) -> None:
        if key in self._failed or self._closed:
            return
        if self.runner.submit(key, fn, *args, priority=self.PRIORITY[key[0]]):
            self._pending_refs[key] = keep_alive

    def _task_done(self, key: tuple, result, error: str) -> None:
        refs = self._pending_refs.pop(key, None)
        if error:
            self._failed[key] = error
            log.error("inspection view: %s", error)
            self.caption.setText(f"{self.caption.text().split('  ⚠')[0]}  ⚠ {error}")
        else:
            kind, inner = key[0], key[1:]
            cache = {"frame": self._frames, "info": self._infos, "index": self._indices,
                     "flags": self._flag_pixels, "nan": self._nan_pixels, "mask": self._masks,
                     "stats": self._stats}[kind]
            cache.put(inner, result, refs)
        self._schedule_refresh()

    def _lut(self) -> np.ndarray:
        key = (self.colormap.currentText(), self.nan_colour)
        lut = self._lut_cache.get(key)
        if lut is None:
            lut = colour_table(*key)
            self._lut_cache[key] = lut
        return lut

    def _wanted_roles(self) -> tuple[str, ...]:
        return tuple(r for r in ROLES if self.source(r) is not None)

    def _shown_shape(self) -> tuple[int, int] | None:
        source = self.source("A") or self.source("B")
        return source.shape if source is not None else None

    def _frame(self, source: ViewSource, plane: int, key: tuple) -> np.ndarray | None:
        if not source.is_derived:
            return source.frame(plane)
        frame = self._frames.get(key)
        if frame is None:
            self._submit(("frame",) + key, source.keep_alive(), _compute_frame, source, plane)
        return frame

    def _levels_for(self, role: str, render: _Render) -> tuple[float, float]:
        if render.source.kind == "dq":
            return (0.0, 1.0)
        method = self.limits.currentText()
        if method == "manual" and role in self.manual:
            return self.manual[role]
        percent = self._percent()
        key = (render.key, method, percent)
        levels = self._levels_cache.get(key)
        if levels is None:
            levels = render.info.limits(method if method != "manual" else "zscale", percent)
            self._levels_cache.put(key, levels, render.source.keep_alive())
        return levels

    def _percent(self) -> float:
        try:
            value = float(self.percent.currentText())
        except ValueError:
            return 99.5
        return min(100.0, max(1.0, value))

    def _refresh(self) -> None:
        """Bring the panes up to date with what is cached; queue what is missing."""
        self._refresh_queued = False
        if self._closed:
            return
        plane = self.plane
        stretch = self.stretch.currentText()
        renders: dict[str, _Render] = {}
        for role in self._wanted_roles():
            source = self.source(role)
            key = source.frame_key(plane)
            render = _Render(source, key)
            renders[role] = render
            render.frame = self._frame(source, plane, key)
            if render.frame is None:
                continue
            render.info = self._infos.get(key)
            if render.info is None:
                self._submit(("info",) + key, source.keep_alive(), im.frame_info, render.frame)
        # levels: B follows A when shared (and both are pixel images)
        shared = self.same_levels.isChecked()
        for role in ROLES:
            render = renders.get(role)
            if render is None or render.info is None:
                continue
            a = renders.get("A")
            if (role == "B" and shared and a is not None and render.source.kind != "dq"
                    and a.source.kind != "dq"):
                if a.levels is None:
                    continue
                render.levels = a.levels
            else:
                render.levels = self._levels_for(role, render)
            self.resolved[role] = render.levels
            low, high = render.levels
            render.index_key = (render.key, low, high, stretch)
            render.index = self._indices.get(render.index_key)
            if render.index is None:
                self._submit(("index",) + render.index_key, render.source.keep_alive(), im.quantize,
                             render.frame, low, high, stretch)
        # the overlay and the statistics queue up once the pixels are on their way or shown, so
        # a freed worker picks up the next frame's quantizing first
        pixels_first = all(r.index is not None or self.runner.in_flight(("index",) + r.index_key)
                           for r in renders.values() if r.index_key is not None) and \
            all(r.index_key is not None for r in renders.values())
        self._refresh_flags(renders, plane, pixels_first)
        self._renders = renders
        self._apply_display(renders)
        self._refresh_histogram(renders)
        self._refresh_stats(renders, plane, pixels_first)
        self._update_readout()
        if not self.runner.busy and not self._refresh_queued:
            self.settled.emit()

    def _refresh_flags(self, renders: dict[str, _Render], plane: int, may_submit: bool) -> None:
        newly = self.dq_panel.newly.isChecked() and self.views.before is not None
        counts: dict[str, dict[str, int]] = {}
        for role, render in renders.items():
            source = render.source
            if newly:
                before, after = self.views.before, self.views.after
                pb = plane if before.dq.ndim == 3 else 0
                key = ("new", id(before.dq), id(after.dq), pb)
                args = (source._plane(after.dq, plane), source._plane(before.dq, plane))
                refs = (before.dq, after.dq)
            else:
                key = source.dq_key(plane)
                args = (source.dq_frame(plane), None)
                refs = (source.model.dq,)
            render.flags_key = key
            render.flags = self._flag_pixels.get(key)
            if render.frame is not None:
                render.nans = self._nan_pixels.get(render.key)
                if render.nans is None and may_submit:
                    self._submit(("nan",) + render.key, source.keep_alive(), _compute_nan_pixels,
                                 render.frame)
            if render.flags is None and may_submit:
                self._submit(("flags",) + key, refs, _compute_flag_pixels, *args)
            if render.flags is None or render.nans is None:
                continue
            counts[role] = im.flag_pixel_counts(render.flags)
            counts[role][NAN_MARK] = int(render.nans.size)
            overlay = self.dq_panel.enabled.isChecked() or source.kind == "dq"
            selected = self.dq_panel.selected_flags(render.flags) if overlay else ()
            if render.nans.size and self.dq_panel.is_selected(NAN_MARK):
                selected += (NAN_MARK,)
            if not selected:
                continue
            render.mask_key = (key, render.key, selected)
            render.mask = self._masks.get(render.mask_key)
            if render.mask is None:
                pixels = {**render.flags, NAN_MARK: render.nans}
                self._submit(("mask",) + render.mask_key, refs + source.keep_alive(),
                             _compute_mask, source.shape, pixels, selected)
        self.dq_panel.show_counts(counts, tuple(renders))

    def _overlay_lut(self) -> np.ndarray:
        colours = {name: self.dq_panel.colour(name) for name in DQ_BITS}
        key = ("overlay", tuple(colours.values()), self.dq_panel.opacity.value(), self.nan_colour)
        lut = self._lut_cache.get(key)
        if lut is None:
            lut = overlay_table(colours, self.dq_panel.opacity.value() / 100.0, self.nan_colour)
            self._lut_cache[key] = lut
        return lut

    def _apply_display(self, renders: dict[str, _Render]) -> None:
        lut = self._lut()
        overlay_lut = self._overlay_lut()
        if self.mode == BLINK:
            pairs = [(self.left, self.shown_role)]
            self.right.clear()
            a, b = self.source("A"), self.source("B")
            shown = self.source(self.shown_role)
            self.blink_label.setText(
                f"Blink — showing {self.shown_role}: {shown.label if shown else '—'}    "
                f"(A: {a.label if a else '—'}  ⇄  B: {b.label if b else '—'};  Space flips)")
        else:
            pairs = [(self.left, "A"), (self.right, "B")]
        for pane, role in pairs:
            render = renders.get(role)
            if render is None:
                pane.clear()
                continue
            pane.source = render.source
            pane.array = render.frame
            if render.index is not None:
                pane.show_index(render.index_key, render.index, lut)
            if render.mask is not None:
                pane.show_overlay(render.mask_key, render.mask, render.source.shape, overlay_lut)
            elif render.mask_key is None:
                pane.clear_overlay()
        levels = self.resolved.get(self.histogram.current_role)
        self._show_level_text(levels)

    def _show_level_text(self, levels: tuple[float, float] | None = None) -> None:
        levels = levels or self.resolved.get(self.histogram.current_role)
        if levels is None:
            return
        for edit, value in ((self.low_edit, levels[0]), (self.high_edit, levels[1])):
            if not edit.hasFocus():
                edit.setText(im.format_limit(value))

    def _refresh_histogram(self, renders: dict[str, _Render]) -> None:
        if self.mode == BLINK and self.histogram.current_role != self.shown_role:
            # blinking: the histogram (and the limit fields) follow the image on screen
            self.histogram.role.blockSignals(True)
            self.histogram.role.setCurrentIndex(ROLES.index(self.shown_role))
            self.histogram.role.blockSignals(False)
            self._show_level_text()
        role = self.histogram.current_role
        render = renders.get(role) or renders.get("A")
        if render is None or render.info is None or render.levels is None:
            if not renders:
                self.histogram.clear()
            return
        key = (render.key, render.levels)
        hist = self._histograms.get(key)
        if hist is None:
            hist = render.info.histogram(*render.levels)
            self._histograms.put(key, hist, render.source.keep_alive())
        self.histogram.show_histogram(render.key, hist[0], hist[1], render.levels,
                                      self.stretch.currentText(), self._lut())

    # ---- regions -----------------------------------------------------------------------------------
    def _region_requested(self, what: str) -> None:
        if what == "clear":
            self.set_region(None)
            return
        shape = self._shown_shape()
        if shape is None:
            return
        (x0, x1), (y0, y1) = self.left.view_box.viewRange()
        ny, nx = shape
        x0, x1 = max(-0.5, x0), min(nx - 0.5, x1)
        y0, y1 = max(-0.5, y0), min(ny - 0.5, y1)
        size = max(4, round(min(x1 - x0, y1 - y0) / 4))
        cx, cy = round((x0 + x1) / 2), round((y0 + y1) / 2)
        if what == "circle":
            self.set_region(im.Region("circle", cx, cy, size / 2))
        else:  # edges on pixel edges: exactly size x size pixels
            corner_x, corner_y = cx - size // 2 - 0.5, cy - size // 2 - 0.5
            self.set_region(im.Region("rect", corner_x, corner_y, size, size))

    def _make_roi(self, region: im.Region, primary: bool) -> pg.ROI:
        pen = ROI_PEN if primary else MIRROR_PEN
        if region.kind == "circle":
            r = region.width
            roi = pg.CircleROI((region.x0 - r, region.y0 - r), size=(2 * r, 2 * r), pen=pen)
        else:
            roi = pg.RectROI((region.x0, region.y0), (region.width, region.height), pen=pen)
        roi.setZValue(30)
        return roi

    @staticmethod
    def _region_of(roi: pg.ROI) -> im.Region:
        x, y = roi.pos()
        w, h = roi.size()
        if isinstance(roi, pg.CircleROI):
            return im.Region("circle", x + w / 2, y + h / 2, w / 2)
        return im.Region("rect", x, y, w, h)

    def _roi_moved(self, role: str) -> None:
        if self._roi_sync:
            return
        roi = self.rois.get(role)
        if roi is None:
            return
        self._roi_sync = True
        try:
            for other_role, other in self.rois.items():
                if other_role != role:
                    other.setState(roi.getState())
        finally:
            self._roi_sync = False
        self.region = self._region_of(roi)
        self._refresh()

    def _refresh_stats(self, renders: dict[str, _Render], plane: int, may_submit: bool) -> None:
        region = self.region
        if region is None:
            return
        ignore = self.region_panel.ignore_flagged.isChecked()
        results: dict[str, im.RegionStats] = {}
        for role, render in renders.items():
            if render.frame is None:
                continue
            key = (render.key, region, ignore, render.source.dq_key(plane))
            stats = self._stats.get(key)
            if stats is None:
                busy = self.runner.matching(lambda k, fk=render.key: k[0] == "stats" and k[1] == fk)
                if may_submit and not busy:
                    self._submit(("stats",) + key, render.source.keep_alive(), _compute_stats,
                                 render.frame, region, render.source.dq_frame(plane), ignore)
                continue
            results[role] = stats
        if results and len(results) == len(renders):
            self.last_stats = results
            self._stats_region = region
            self._show_stats_text()
        elif renders and self.last_stats and self._stats_region != region:
            pass  # dragging: keep the last figures until the new ones land
        elif renders and set(results) != set(renders):
            self.last_stats = {}
            self.stats_text = ""
            self.region_panel.text.setPlainText("computing region statistics…")

    def _show_stats_text(self) -> None:
        roles = list(self.last_stats)
        names = [self.source(role).label if self.source(role) else "—" for role in roles]
        text = im.format_stats_table(names, [self.last_stats[r] for r in roles],
                                     self._stats_region or self.region, self.one_based,
                                     short_names=roles)
        if text != self.stats_text:
            self.stats_text = text
            self.region_panel.text.setPlainText(text)

    # ---- cursor readout ----------------------------------------------------------------------------
    def _mouse_moved(self, pane: ImagePane, position) -> None:
        if pane.source is None or not pane.view_box.sceneBoundingRect().contains(position):
            return
        point = pane.view_box.mapSceneToView(position)
        self.set_cursor(point.x(), point.y())

    def set_cursor(self, x: float, y: float) -> None:
        """Put the crosshair on view coordinates (x, y) and update the readout."""
        ix, iy = im.pixel_at(x, y)
        self._cursor = (ix, iy)
        for pane in (self.left, self.right):
            pane.set_crosshair(ix, iy)
        self._update_readout()

    def readout_values(self, ix: int, iy: int) -> list[im.PaneValue]:
        """Value, ERR and DQ of every shown view at 0-based pixel (ix, iy)."""
        plane = self.plane
        values = []
        roles = ROLES if self.mode == BLINK else self._wanted_roles()
        for role in roles:
            source = self.source(role)
            if source is None:
                continue
            value = source.value_at(plane, iy, ix)
            name = f"{role} {source.label}"
            if value is None:
                values.append(im.PaneValue(name, None))
                continue
            dq = source.dq_at(plane, iy, ix)
            if source.kind == "dq":
                values.append(im.PaneValue(name, float(value), None, dq))
            else:
                values.append(im.PaneValue(name, value, source.err_at(plane, iy, ix), dq))
        return values

    def sky_at(self, ix: int, iy: int) -> tuple[float, float] | None:
        for role in ROLES:
            source = self.source(role)
            if source is not None and source.model.wcs is not None:
                return im.sky_position(source.model.wcs, ix, iy)
        return None

    def _update_readout(self) -> None:
        if self._cursor is None:
            return
        ix, iy = self._cursor
        text = im.format_readout(ix, iy, self.one_based, self.readout_values(ix, iy),
                                 self.sky_at(ix, iy))
        self.readout.setText(text)

    # ---- export ----------------------------------------------------------------------------------------
    TITLE_HEIGHT = 44
    BAR_HEIGHT = 52
    LEGEND_HEIGHT = 24
    MARGIN = 10

    def export_image(self) -> QImage:
        """The panes as shown, each with its title, colour bar and limits, and the DQ legend.

        Layout: a caption line (product, step, integration), then per pane its title over its
        grab and its colour bar under it, side by side; the overlay legend along the bottom."""
        if self.mode == BLINK:
            panes = [(self.left, self.shown_role)]
        else:
            panes = [(self.left, "A"), (self.right, "B")]
        grabs = [(pane.plot.grab().toImage(), role) for pane, role in panes]
        legend = self._legend_entries()
        width = sum(g.width() for g, _ in grabs) + self.MARGIN * (len(grabs) + 1)
        height = (max(g.height() for g, _ in grabs) + self.TITLE_HEIGHT + self.BAR_HEIGHT
                  + (self.LEGEND_HEIGHT if legend else 0) + 2 * self.MARGIN)
        image = QImage(width, height, QImage.Format.Format_RGB32)
        image.fill(QColor(255, 255, 255))
        painter = QPainter(image)
        try:
            font = QFont(self.font())
            font.setPointSize(9)
            bold = QFont(font)
            bold.setBold(True)
            left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
            painter.setPen(QColor(0, 0, 0))
            caption = self.caption.text()
            if self.views.nints > 1:
                caption += f"   integration {self.plane + 1}/{self.views.nints}"
            painter.setFont(bold)
            painter.drawText(QRectF(self.MARGIN, self.MARGIN, width - 2 * self.MARGIN, 20), left,
                             caption)
            x = self.MARGIN
            top = self.MARGIN + 20
            for grab, role in grabs:
                source = self.source(role)
                levels = self.resolved.get(role)
                is_dq = source is not None and source.kind == "dq"
                detail = "DQ != 0" if is_dq else \
                    f"{self.stretch.currentText()}, {self.limits.currentText()}"
                painter.setFont(font)
                metrics = painter.fontMetrics()
                title = metrics.elidedText(f"{role}: {source.label if source else '—'}   "
                                           f"[{detail}]", Qt.TextElideMode.ElideRight,
                                           grab.width())
                painter.drawText(QRectF(x, top, grab.width(), 20), left, title)
                painter.drawImage(QPointF(x, self.TITLE_HEIGHT + self.MARGIN), grab)
                if levels is not None:
                    bar_top = self.TITLE_HEIGHT + self.MARGIN + grab.height() + 8
                    self._draw_colour_bar(painter, QRectF(x + 30, bar_top, grab.width() - 110, 14),
                                          levels, is_dq)
                x += grab.width() + self.MARGIN
            if legend:
                self._draw_legend(painter, QRectF(self.MARGIN, height - self.MARGIN
                                                  - self.LEGEND_HEIGHT, width - 2 * self.MARGIN,
                                                  self.LEGEND_HEIGHT), legend)
        finally:
            painter.end()
        return image

    def _draw_colour_bar(self, painter: QPainter, rect: QRectF, levels: tuple[float, float],
                         is_dq: bool) -> None:
        low, high = levels
        stretch = "linear" if is_dq else self.stretch.currentText()
        values = np.linspace(low, high, max(2, int(rect.width())))[None, :]
        indices = im.quantize(values, low, high, stretch)
        rgb = self._lut()[indices[0]]
        strip = np.ascontiguousarray(np.repeat(rgb[None, :, :], int(rect.height()), axis=0))
        qimage = QImage(strip.data, strip.shape[1], strip.shape[0], strip.strides[0],
                        QImage.Format.Format_RGB888)
        painter.drawImage(rect.topLeft(), qimage.copy())
        painter.setPen(QPen(QColor(0, 0, 0)))
        painter.drawRect(rect)
        # ticks at 0, 1/4 .. 1 of the colour scale, labelled with the data value there
        for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
            t = float(im.inverse_stretch(stretch, fraction))
            value = low + t * (high - low)
            px = rect.left() + fraction * rect.width()
            painter.drawLine(QPointF(px, rect.bottom()), QPointF(px, rect.bottom() + 4))
            painter.drawText(QRectF(px - 45, rect.bottom() + 5, 90, 16),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                             f"{value:.4g}")
        swatch = QRectF(rect.right() + 24, rect.top(), 14, rect.height())
        painter.fillRect(swatch, QColor(*self.nan_colour))
        painter.drawRect(swatch)
        painter.drawText(QRectF(swatch.right() + 4, rect.top() - 2, 40, rect.height() + 4),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "NaN")

    def _legend_entries(self) -> list[tuple[str, tuple[int, int, int]]]:
        names: set[str] = set()
        for role in (ROLES if self.mode != BLINK else (self.shown_role,)):
            render = self._renders.get(role)
            if render is None or render.mask_key is None or render.flags is None:
                continue
            names.update(render.mask_key[2])
        prefix = "new " if self.dq_panel.newly.isChecked() else ""
        return [(("" if name == NAN_MARK else prefix) + name, self.dq_panel.colour(name))
                for name in (*DQ_BITS, NAN_MARK) if name in names]

    def _draw_legend(self, painter: QPainter, rect: QRectF,
                     entries: list[tuple[str, tuple[int, int, int]]]) -> None:
        x = rect.left()
        painter.setPen(QColor(0, 0, 0))
        painter.drawText(QRectF(x, rect.top(), 30, rect.height()), Qt.AlignmentFlag.AlignVCenter,
                         "DQ:")
        x += 32
        metrics = painter.fontMetrics()
        for name, colour in entries:
            painter.fillRect(QRectF(x, rect.top() + 6, 12, 12), QColor(*colour))
            painter.drawText(QRectF(x + 16, rect.top(), 400, rect.height()),
                             Qt.AlignmentFlag.AlignVCenter, name)
            x += 16 + metrics.horizontalAdvance(name) + 14
            if x > rect.right():
                break

    def export_png(self, path: str) -> QImage:
        image = self.export_image()
        if not image.save(path, "PNG"):
            raise OSError("the image could not be written (check the folder exists and is "
                          "writable)")
        return image

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export view as PNG", "inspection.png",
                                              "PNG images (*.png)")
        if path:
            self.export_png_reporting(path)

    def export_png_reporting(self, path: str) -> bool:
        """``export_png`` with any failure emitted as ``failed`` (a dialog in the window)."""
        from .failures import failure_message

        try:
            self.export_png(path)
        except Exception as exc:
            self.failed.emit("Export view", failure_message(exc, "write the PNG", path))
            return False
        log.info("view exported to %s", path)
        return True

