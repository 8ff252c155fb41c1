"""Regions: the Region statistics panel (add a box, circle, ellipse or polygon, clear, copy,
load / save DS9 ``.reg`` files, leave out flagged pixels, the statistics text) and
``RegionOverlay``, which draws every region of ``ViewState.regions`` in both panes and reports
drags.

Regions are ``RegionSpec`` in image coordinates (pixel centres at integers); the statistics use
``display.regions.Region`` (``to_region``). Edits go through the view's ``edit_regions``
callback (the window routes them through its undo stack).

A pyqtgraph ROI turns about its ``pos``, its unrotated lower-left corner: a box or ellipse of
centre c, size (w, h) and angle θ has ``pos = c - R(θ) (w/2, h/2)``. A polygon is a closed
``PolyLineROI`` whose vertices are its handles (drag one to move it; click an edge to add one).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..display import maths as im
from ..state.view_state import REGION_COORDINATES, REGION_KINDS, RegionSpec
from .flow_layout import FlowLayout
from .view_binding import StateBinder
from .view_readout import mono_font

PENS = [pg.mkPen(colour, width=2) for colour in ((0, 255, 0), (0, 200, 255), (255, 120, 220),
                                                 (255, 200, 0))]
MIRROR_STYLE = Qt.PenStyle.DashLine


KIND_TIPS = {"box": "Add a rectangular region (drag to move, handle to resize)",
             "circle": "Add a circular region",
             "ellipse": "Add an elliptical region (handles resize and turn it)",
             "polygon": "Add a polygon (drag a vertex to move it, click an edge to add one)"}
KIND_LABELS = {"box": "□ Box", "circle": "○ Circle", "ellipse": "Ellipse",
               "polygon": "⬠ Polygon"}


def to_region(spec: RegionSpec) -> im.Region:
    return im.Region("rect" if spec.kind == "box" else spec.kind, spec.x0, spec.y0, spec.width,
                     spec.height, spec.angle, spec.points)


def _turned(dx: float, dy: float, angle: float) -> tuple[float, float]:
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return dx * c - dy * s, dx * s + dy * c


def spec_of(roi: pg.ROI) -> RegionSpec | None:
    """The region a ROI shows now (None if dragged to no size)."""
    kind = getattr(roi, "region_kind", "box")
    x, y = roi.pos()
    w, h = roi.size()
    try:
        if kind == "polygon":
            points = [roi.mapToParent(handle.pos()) for handle in roi.getHandles()]
            return RegionSpec("polygon", points=tuple((float(p.x()), float(p.y()))
                                                      for p in points))
        if kind == "circle":
            return RegionSpec("circle", float(x + w / 2), float(y + h / 2), float(w / 2))
        angle = float(roi.angle()) % 360.0
        ox, oy = _turned(w / 2, h / 2, angle)
        cx, cy = float(x + ox), float(y + oy)
        if kind == "ellipse":
            return RegionSpec("ellipse", cx, cy, float(w), float(h), angle)
        return RegionSpec("box", cx - w / 2, cy - h / 2, float(w), float(h), angle)
    except ValueError:
        return None


def new_region(kind: str, view_range, shape: tuple[int, int]) -> RegionSpec:
    """A region a quarter the size of the visible part of the frame, at its centre; a box's
    edges on pixel edges (exactly size x size pixels); an ellipse twice as wide as high; a
    polygon a regular pentagon."""
    (x0, x1), (y0, y1) = view_range
    ny, nx = shape
    x0, x1 = max(-0.5, x0), min(nx - 0.5, x1)
    y0, y1 = max(-0.5, y0), min(ny - 0.5, y1)
    size = max(4, round(min(x1 - x0, y1 - y0) / 4))
    cx, cy = round((x0 + x1) / 2), round((y0 + y1) / 2)
    if kind == "circle":
        return RegionSpec("circle", float(cx), float(cy), size / 2)
    if kind == "ellipse":
        return RegionSpec("ellipse", float(cx), float(cy), float(size), size / 2)
    if kind == "polygon":
        r = size / 2
        return RegionSpec("polygon", points=tuple(
            (round(cx + r * math.cos(math.radians(90 + 72 * k)), 2),
             round(cy + r * math.sin(math.radians(90 + 72 * k)), 2)) for k in range(5)))
    return RegionSpec("box", cx - size // 2 - 0.5, cy - size // 2 - 0.5, float(size), float(size))


class RegionOverlay:
    """The ROIs of every region in every pane (``rois[role][i]`` draws region i); dragging one
    moves its copy in the other pane and calls ``moved(regions)``."""

    def __init__(self, panes: dict, moved: Callable[[tuple[RegionSpec, ...]], None]) -> None:
        self.panes = panes
        self.moved = moved
        self.rois: dict[str, list[pg.ROI]] = {role: [] for role in panes}
        self.specs: tuple[RegionSpec, ...] = ()
        self._syncing = False

    def show(self, specs: tuple[RegionSpec, ...]) -> None:
        specs = tuple(specs)
        if specs == self.specs:
            return
        if [(s.kind, len(s.points)) for s in specs] != \
                [(s.kind, len(s.points)) for s in self.specs]:
            self._rebuild(specs)
            return
        self.specs = specs
        self._syncing = True
        try:
            for rois in self.rois.values():
                for roi, spec in zip(rois, specs, strict=True):
                    if spec_of(roi) != spec:
                        roi.setState(self._roi_state(spec, roi))
        finally:
            self._syncing = False

    def _rebuild(self, specs: tuple[RegionSpec, ...]) -> None:
        for role, rois in self.rois.items():
            for roi in rois:
                self.panes[role].plot.removeItem(roi)
            rois.clear()
        self.specs = specs
        for role, pane in self.panes.items():
            for index, spec in enumerate(specs):
                pen = pg.mkPen(PENS[index % len(PENS)])
                if role != "A":
                    pen.setStyle(MIRROR_STYLE)
                roi = self._make_roi(spec, pen)
                roi.region_kind = spec.kind
                roi.setZValue(30)
                roi.setToolTip(f"Region {index + 1}: drag to move, handle to resize")
                pane.plot.addItem(roi)
                roi.sigRegionChanged.connect(lambda r, role=role, i=index: self._dragged(role, i))
                self.rois[role].append(roi)

    @staticmethod
    def _make_roi(spec: RegionSpec, pen) -> pg.ROI:
        if spec.kind == "circle":
            r = spec.width
            return pg.CircleROI((spec.x0 - r, spec.y0 - r), size=(2 * r, 2 * r), pen=pen)
        if spec.kind == "polygon":
            return pg.PolyLineROI([list(p) for p in spec.points], closed=True, pen=pen)
        state = RegionOverlay._geometry(spec)
        if spec.kind == "ellipse":
            roi = pg.EllipseROI(state["pos"], state["size"], angle=state["angle"], pen=pen)
        else:
            roi = pg.RectROI(state["pos"], state["size"], angle=state["angle"], pen=pen)
            roi.addRotateHandle([1, 1], [0.5, 0.5])
        return roi

    @staticmethod
    def _geometry(spec: RegionSpec) -> dict:
        """pos, size and angle of the ROI of a box, circle or ellipse (module docstring)."""
        if spec.kind == "circle":
            r = spec.width
            return {"pos": pg.Point(spec.x0 - r, spec.y0 - r), "size": pg.Point(2 * r, 2 * r),
                    "angle": 0.0}
        w, h = spec.width, spec.height
        cx, cy = (spec.x0, spec.y0) if spec.kind == "ellipse" else \
            (spec.x0 + w / 2, spec.y0 + h / 2)
        ox, oy = _turned(w / 2, h / 2, spec.angle)
        return {"pos": pg.Point(cx - ox, cy - oy), "size": pg.Point(w, h), "angle": spec.angle}

    @staticmethod
    def _roi_state(spec: RegionSpec, roi: pg.ROI) -> dict:
        state = roi.getState()
        if spec.kind == "polygon":
            state.update(pos=pg.Point(0, 0), angle=0.0,
                         points=[pg.Point(*p) for p in spec.points])
        else:
            state.update(RegionOverlay._geometry(spec))
        return state

    def _dragged(self, role: str, index: int) -> None:
        if self._syncing:
            return
        roi = self.rois[role][index]
        spec = spec_of(roi)
        if spec is None:
            return
        self._syncing = True
        try:
            for other, rois in self.rois.items():
                if other != role:
                    rois[index].setState(roi.getState())
        finally:
            self._syncing = False
        specs = list(self.specs)
        specs[index] = spec
        self.specs = tuple(specs)
        self.moved(self.specs)


class RegionPanel(QWidget):
    """Box / circle / ellipse / polygon / clear / copy buttons, Load / Save of DS9 files and
    their coordinates, "leave out flagged pixels", the last file note and the statistics."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        holder = QWidget(self)
        row = FlowLayout(holder, spacing=4)
        self.add_buttons: dict[str, QPushButton] = {}
        for kind in REGION_KINDS:
            button = QPushButton(KIND_LABELS[kind], holder)
            button.setToolTip(KIND_TIPS[kind])
            row.addWidget(button)
            self.add_buttons[kind] = button
        self.box_button, self.circle_button = self.add_buttons["box"], self.add_buttons["circle"]
        self.clear_button = QPushButton("Clear", holder)
        self.copy_button = QPushButton("Copy", holder)
        self.load_button = QPushButton("Load .reg…", holder)
        self.save_button = QPushButton("Save .reg…", holder)
        self.coords = QComboBox(holder)
        self.coords.addItems(list(REGION_COORDINATES))
        for widget, tip in ((self.clear_button, "Remove every region"),
                            (self.copy_button, "Copy the statistics as text"),
                            (self.load_button, "Add the regions of a DS9 region file (image or "
                                               "sky coordinates; sky through pane A's WCS)"),
                            (self.save_button, "Save the regions as a DS9 region file in the "
                                               "coordinates chosen beside"),
                            (self.coords, "Coordinates of saved region files: image (1-based "
                                          "pixels) or fk5 (RA/Dec through pane A's WCS)")):
            widget.setToolTip(tip)
            row.addWidget(widget)
        layout.addWidget(holder)
        self.ignore_flagged = QCheckBox("Leave out DQ-flagged pixels", self)
        layout.addWidget(self.ignore_flagged)
        self.file_note = QLabel("", self)
        self.file_note.setWordWrap(True)
        self.file_note.hide()
        layout.addWidget(self.file_note)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        font = mono_font()
        font.setPointSize(max(7, font.pointSize() - 1))
        self.text.setFont(font)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setPlaceholderText("Add a region (or load a DS9 .reg file) for N, N flagged, "
                                     "mean, median, std, 3σ-clipped mean/std, min, max of each "
                                     "pane.")
        self.text.setMinimumHeight(120)
        layout.addWidget(self.text, 1)
        self.copy_button.clicked.connect(self.copy)

    def bind(self, binder: StateBinder, view) -> None:
        binder.check("region_ignores_flagged", self.ignore_flagged)
        binder.combo("region_coords", self.coords, REGION_COORDINATES)
        for kind, button in self.add_buttons.items():
            button.clicked.connect(lambda _=False, k=kind: view.add_region(k))
        self.clear_button.clicked.connect(view.clear_regions)
        self.load_button.clicked.connect(view.load_regions_dialog)
        self.save_button.clicked.connect(view.save_regions_dialog)

    def show_note(self, text: str) -> None:
        self.file_note.setText(text)
        self.file_note.setVisible(bool(text))

    def show_text(self, text: str) -> None:
        if self.text.toPlainText() != text:
            self.text.setPlainText(text)

    def copy(self) -> str:
        text = self.text.toPlainText()
        QGuiApplication.clipboard().setText(text)
        return text


def stats_text(specs: tuple[RegionSpec, ...], stats: list[dict[str, im.RegionStats]],
               names: list[str], roles: list[str], one_based: bool) -> str:
    """The statistics table of each region (headed "Region i:" when there are several)."""
    blocks = []
    for index, (spec, found) in enumerate(zip(specs, stats, strict=True)):
        table = im.format_stats_table(names, [found[r] for r in roles], to_region(spec),
                                      one_based, short_names=roles)
        blocks.append(table if len(specs) == 1 else f"Region {index + 1}: {table}")
    return "\n\n".join(blocks)
