"""The graphics items of the pane overlays (contours, RA/Dec grid and labels, compass) and the
drawing data made for them on the worker pool.

Why these items and not pyqtgraph's ``PlotCurveItem`` / ``TextItem``: a curve item of 50 000
contour vertices spends ~50-150 ms on the GUI thread at its first paint (its path and the
stroked shape behind its bounding box), and a ``TextItem`` costs ~3 ms to make. Here the
``QPainterPath`` is built on the worker (``line_path``; a path is a plain value, safe to make
off the GUI thread) with its bounding box, and the item only strokes it with a cosmetic pen
(~5-15 ms for 60 000 vertices); labels are ``QGraphicsSimpleTextItem`` kept at screen size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
)

from ..display import wcs_grid as wg

CONTOUR_COLOUR = (60, 255, 90)
GRID_COLOUR = (120, 200, 255, 200)
COMPASS_COLOUR = (255, 230, 80)
LABEL_COLOUR = (160, 215, 255)


@dataclass(frozen=True)
class LineDrawing:
    """Polylines ready to draw: ``x, y`` (NaN between lines, kept for reading back), the path
    and its bounding box in view coordinates."""

    x: np.ndarray
    y: np.ndarray
    path: QPainterPath
    rect: QRectF

    @property
    def n_vertices(self) -> int:
        return int(np.count_nonzero(np.isfinite(self.x)))


def joined(parts) -> tuple[np.ndarray, np.ndarray]:
    """One x and one y array of polylines ``parts`` ((N, 2) arrays), NaN between them."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return np.empty(0), np.empty(0)
    gap = np.full((1, 2), np.nan)
    stacked = np.concatenate([q for p in parts for q in (p, gap)][:-1])
    return stacked[:, 0], stacked[:, 1]


def line_path(x: np.ndarray, y: np.ndarray) -> LineDrawing:
    """The drawing of polylines ``x, y`` (NaN breaks them); safe on a worker thread."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return LineDrawing(x, y, QPainterPath(), QRectF())
    path = pg.arrayToQPath(x, y, connect="finite")
    x0, x1 = float(x[finite].min()), float(x[finite].max())
    y0, y1 = float(y[finite].min()), float(y[finite].max())
    return LineDrawing(x, y, path, QRectF(x0, y0, max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)))


class LinesItem(QGraphicsObject):
    """Strokes one ``LineDrawing`` with a cosmetic pen (one screen pixel wide, or ``width``)."""

    def __init__(self, colour, width: int = 1) -> None:
        super().__init__()
        self.pen = QPen(QColor(*colour))
        self.pen.setCosmetic(True)
        self.pen.setWidth(width)
        self.drawing: LineDrawing | None = None
        # painted once into a pixmap of the pane's pixels and blitted after: a crosshair move
        # repaints the pane, and stroking 50 000 vertices each time halved the cursor's rate
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # the box grows by the pen's half width on screen; a little room in view units is
        # not needed: the pane repaints whole on pan and zoom
        self._rect = QRectF()

    def set_drawing(self, drawing: LineDrawing | None) -> None:
        self.prepareGeometryChange()
        self.drawing = drawing
        self._rect = QRectF() if drawing is None else drawing.rect
        self.update()

    def drawn_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The (x, y) drawn, NaN between lines."""
        if self.drawing is None:
            return np.empty(0), np.empty(0)
        return self.drawing.x, self.drawing.y

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt naming)
        return self._rect

    def paint(self, painter, option, widget=None) -> None:
        if self.drawing is not None:
            painter.setPen(self.pen)
            painter.drawPath(self.drawing.path)


class Labels:
    """A pool of screen-size text items on one plot (made as needed, hidden when unused)."""

    def __init__(self, plot, colour, z: float) -> None:
        self.plot = plot
        self.brush = QBrush(QColor(*colour))
        self.z = z
        self.items: list[QGraphicsSimpleTextItem] = []

    def show(self, texts, no_overlap: bool = False) -> None:
        """``texts``: (text, x, y, anchor) with anchor (ax, ay) the fraction of the text's width
        and height that sits at (x, y) (0, 0 its top left on screen). ``no_overlap``: a text
        is moved inside the pane sideways (left out if that takes it far from its point), and
        one that would cover a text already placed on screen is left out (a small pane's RA
        labels)."""
        texts = list(texts)
        while len(self.items) < len(texts):
            item = QGraphicsSimpleTextItem()
            item.setBrush(self.brush)
            item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            item.setZValue(self.z)
            # a dark box behind the text: readable over the lines and the image
            backing = QGraphicsRectItem(item)
            backing.setBrush(QBrush(QColor(0, 0, 0, 150)))
            backing.setPen(QPen(Qt.PenStyle.NoPen))
            backing.setFlag(QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent)
            self.plot.addItem(item, ignoreBounds=True)
            self.items.append(item)
        view_box = self.plot.getViewBox()
        corners = [view_box.mapViewToDevice(QPointF(x, y))
                   for x, y in zip(*view_box.viewRange(), strict=True)] if no_overlap else []
        left, right = (min(c.x() for c in corners), max(c.x() for c in corners)) \
            if corners and None not in corners else (None, None)
        placed: list[QRectF] = []
        for item, (text, x, y, (ax, ay)) in zip(self.items, texts, strict=False):
            item.setText(text)
            box = item.boundingRect()
            item.childItems()[0].setRect(box.adjusted(-2, 0, 2, 0))
            dx, dy = -box.width() * ax, -box.height() * ay
            at = view_box.mapViewToDevice(QPointF(x, y)) if no_overlap else None
            if at is not None:
                if left is not None:   # inside the pane sideways, if not moved far off its line
                    inside = min(max(dx, left + 2 - at.x()), right - 2 - box.width() - at.x())
                    if abs(inside - dx) > 0.3 * box.width():
                        item.hide()
                        continue
                    dx = inside
                rect = QRectF(at.x() + dx, at.y() + dy, box.width(), box.height()
                              ).adjusted(-4, -1, 4, 1)
                if any(rect.intersects(other) for other in placed):
                    item.hide()
                    continue
                placed.append(rect)
            item.setTransform(QTransform.fromTranslate(dx, dy))
            item.setPos(x, y)
            item.show()
        for item in self.items[len(texts):]:
            item.hide()

    def shown(self) -> list[str]:
        return [item.text() for item in self.items if item.isVisible()]


def compass_lines(compass: wg.Compass, box) -> tuple[np.ndarray, np.ndarray, list]:
    """(x, y, texts) of the compass (N and E arrows with heads) and the scale bar in view
    coordinates; texts are (text, x, y, anchor) for ``Labels.show``."""
    x0, x1, y0, y1 = box
    length = 0.1 * min(x1 - x0, y1 - y0)
    ox, oy = compass.origin
    xs: list[float] = []
    ys: list[float] = []
    texts = []
    for name, (ux, uy) in (("N", compass.north), ("E", compass.east)):
        tx, ty = ox + ux * length, oy + uy * length
        head = 0.25 * length
        for turn in (0.45, -0.45):   # arrow head: two strokes back from the tip
            c, s = np.cos(turn), np.sin(turn)
            hx, hy = -(ux * c - uy * s) * head, -(ux * s + uy * c) * head
            xs += [tx + hx, tx, np.nan]
            ys += [ty + hy, ty, np.nan]
        xs += [ox, tx, np.nan]
        ys += [oy, ty, np.nan]
        texts.append((name, ox + ux * length * 1.3, oy + uy * length * 1.3, (0.5, 0.5)))
    # the scale bar: along x, at the bottom right of the area shown, its length above it
    bar = min(compass.bar_pixels, 0.45 * (x1 - x0))
    right, level = x1 - 0.05 * (x1 - x0), y0 + 0.1 * (y1 - y0)
    tick = 0.015 * (y1 - y0)
    xs += [right - bar, right, np.nan, right - bar, right - bar, np.nan, right, right]
    ys += [level, level, np.nan, level - tick, level + tick, np.nan, level - tick, level + tick]
    texts.append((compass.bar_label, right - bar / 2, level + tick, (0.5, 1.0)))
    return np.asarray(xs), np.asarray(ys), texts


class PaneItems:
    """The overlay items of one pane (made once, shown / hidden); ``shown[kind]`` is the key of
    what each shows (None: nothing)."""

    def __init__(self, pane) -> None:
        self.pane = pane
        plot = pane.plot
        self.contours = LinesItem(CONTOUR_COLOUR)
        self.grid = LinesItem(GRID_COLOUR)
        self.compass = LinesItem(COMPASS_COLOUR, width=2)
        for z, item in ((15, self.contours), (16, self.grid), (17, self.compass)):
            item.setZValue(z)
            item.hide()
            plot.addItem(item, ignoreBounds=True)
        self.labels = Labels(plot, LABEL_COLOUR, 18)
        self.compass_labels = Labels(plot, COMPASS_COLOUR, 18)
        self.shown: dict[str, object] = {"contours": None, "grid": None, "compass": None}

    def show_contours(self, key, drawing: LineDrawing) -> bool:
        """True if something new is drawn."""
        if self.shown["contours"] == key:
            return False
        self.shown["contours"] = key
        self.contours.set_drawing(drawing)
        self.contours.setVisible(drawing.n_vertices > 0)
        return True

    def hide_contours(self) -> None:
        self.shown["contours"] = None
        self.contours.hide()

    def show_grid(self, key, grid: wg.WcsGrid, drawing: LineDrawing) -> bool:
        if self.shown["grid"] == key:
            return False
        self.shown["grid"] = key
        self.grid.set_drawing(drawing)
        self.grid.show()
        # RA labels above the bottom edge just right of their line, Dec labels just above
        # theirs at the left edge: no line runs through its label
        self.labels.show([(line.label, *line.label_at,
                           (-0.04, 1.0) if line.axis == "ra" else (0.0, 1.0))
                          for line in grid.lines if line.label_at is not None], no_overlap=True)
        return True

    def hide_grid(self) -> None:
        self.shown["grid"] = None
        self.grid.hide()
        self.labels.show(())

    def show_compass(self, key, compass: wg.Compass | None, box) -> bool:
        if self.shown["compass"] == key:
            return False
        self.shown["compass"] = key
        if compass is None:
            self.compass.hide()
            self.compass_labels.show(())
            return True
        xs, ys, texts = compass_lines(compass, box)
        self.compass.set_drawing(line_path(xs, ys))
        self.compass.show()
        self.compass_labels.show(texts)
        return True

    def hide_compass(self) -> None:
        self.shown["compass"] = None
        self.compass.hide()
        self.compass_labels.show(())

    def hide_all(self) -> None:
        self.hide_contours()
        self.hide_grid()
        self.hide_compass()
