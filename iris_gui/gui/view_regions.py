"""Regions: the Region statistics panel (add a box or circle, clear, copy, leave out flagged
pixels, the statistics text) and ``RegionOverlay``, which draws every region of
``ViewState.regions`` in both panes and reports drags.

Regions are ``RegionSpec`` in image coordinates (pixel centres at integers); the statistics use
``display.regions.Region`` (``to_region``). Edits go through the view's ``edit_regions``
callback (the window routes them through its undo stack).
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from ..display import maths as im
from ..state.view_state import RegionSpec
from .view_binding import StateBinder
from .view_readout import mono_font

PENS = [pg.mkPen(colour, width=2) for colour in ((0, 255, 0), (0, 200, 255), (255, 120, 220),
                                                 (255, 200, 0))]
MIRROR_STYLE = Qt.PenStyle.DashLine


def to_region(spec: RegionSpec) -> im.Region:
    return im.Region("rect" if spec.kind == "box" else spec.kind, spec.x0, spec.y0, spec.width,
                     spec.height, spec.angle, spec.points)


def spec_of(roi: pg.ROI) -> RegionSpec | None:
    """The region a ROI shows now (None if dragged to no size)."""
    x, y = roi.pos()
    w, h = roi.size()
    try:
        if isinstance(roi, pg.CircleROI):
            return RegionSpec("circle", float(x + w / 2), float(y + h / 2), float(w / 2))
        return RegionSpec("box", float(x), float(y), float(w), float(h))
    except ValueError:
        return None


def new_region(kind: str, view_range, shape: tuple[int, int]) -> RegionSpec:
    """A region a quarter the size of the visible part of the frame, at its centre; a box's
    edges on pixel edges (exactly size x size pixels)."""
    (x0, x1), (y0, y1) = view_range
    ny, nx = shape
    x0, x1 = max(-0.5, x0), min(nx - 0.5, x1)
    y0, y1 = max(-0.5, y0), min(ny - 0.5, y1)
    size = max(4, round(min(x1 - x0, y1 - y0) / 4))
    cx, cy = round((x0 + x1) / 2), round((y0 + y1) / 2)
    if kind == "circle":
        return RegionSpec("circle", float(cx), float(cy), size / 2)
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
        if [s.kind for s in specs] != [s.kind for s in self.specs]:
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
                if spec.kind == "circle":
                    r = spec.width
                    roi = pg.CircleROI((spec.x0 - r, spec.y0 - r), size=(2 * r, 2 * r), pen=pen)
                else:
                    roi = pg.RectROI((spec.x0, spec.y0), (spec.width, spec.height), pen=pen)
                roi.setZValue(30)
                roi.setToolTip(f"Region {index + 1}: drag to move, handle to resize")
                pane.plot.addItem(roi)
                roi.sigRegionChanged.connect(lambda r, role=role, i=index: self._dragged(role, i))
                self.rois[role].append(roi)

    @staticmethod
    def _roi_state(spec: RegionSpec, roi: pg.ROI) -> dict:
        state = roi.getState()
        if spec.kind == "circle":
            r = spec.width
            state["pos"], state["size"] = pg.Point(spec.x0 - r, spec.y0 - r), pg.Point(2 * r, 2 * r)
        else:
            state["pos"], state["size"] = pg.Point(spec.x0, spec.y0), pg.Point(spec.width,
                                                                                spec.height)
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
    """Box / circle / clear / copy buttons, "leave out flagged pixels" and the statistics."""

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
                            (self.clear_button, "Remove every region"),
                            (self.copy_button, "Copy the statistics as text")):
            button.setToolTip(tip)
            row.addWidget(button)
        layout.addLayout(row)
        self.ignore_flagged = QCheckBox("Leave out DQ-flagged pixels", self)
        layout.addWidget(self.ignore_flagged)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        font = mono_font()
        font.setPointSize(max(7, font.pointSize() - 1))
        self.text.setFont(font)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setPlaceholderText("Add a box or circle region for N, N flagged, mean, median, "
                                     "std, 3σ-clipped mean/std, min, max of each pane.")
        self.text.setMinimumHeight(120)
        layout.addWidget(self.text, 1)
        self.copy_button.clicked.connect(self.copy)

    def bind(self, binder: StateBinder, view) -> None:
        binder.check("region_ignores_flagged", self.ignore_flagged)
        self.box_button.clicked.connect(lambda: view.add_region("box"))
        self.circle_button.clicked.connect(lambda: view.add_region("circle"))
        self.clear_button.clicked.connect(view.clear_regions)

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
