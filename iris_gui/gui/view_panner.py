"""The Panner dock's content: the whole frame of the pane on the left (A; in blink layout the
pane shown) in its colours and DQ overlay, downsampled, with the area the panes show drawn as a
box. Dragging the box (or clicking beside it) moves the view there: the new area is written to
``ViewState.view_range``, which the panes follow.

The thumbnail is made Qt-free (``display.magnifier.thumbnail``: every s-th pixel, the overlay
max-pooled so a lone flagged pixel shows) once per index image, only while the dock is visible.
The box follows the panes' range as it changes (wheel zoom, drag), not only once written.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..display import magnifier as mg
from ..state.view_state import BLINK

#: the thumbnail's longer side at most (frame pixels sampled)
THUMBNAIL_SIDE = 256
BOX_PEN = QPen(QColor(0, 255, 255), 2)


class PannerImage(QWidget):
    """The thumbnail scaled to fit, the view's box over it; ``moved(x, y)`` while the box is
    dragged: the frame position (view coordinates) its centre should go to."""

    moved = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rgb: np.ndarray | None = None
        self._image: QImage | None = None
        self.shape: tuple[int, int] | None = None
        self.box: tuple[float, float, float, float] | None = None
        self._grab: tuple[float, float] | None = None
        self.setMinimumSize(120, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.OpenHandCursor)

    def show_thumbnail(self, rgb: np.ndarray | None, shape: tuple[int, int] | None) -> None:
        self.rgb, self.shape = rgb, shape
        if rgb is None:
            self._image = None
        else:
            h, w = rgb.shape[:2]
            self._image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self.update()

    def show_box(self, box: tuple[float, float, float, float] | None) -> None:
        self.box = box
        self.update()

    # view coordinates (pixel centres at integers, y up) <-> widget pixels
    def _scale(self) -> tuple[float, float, float]:
        ny, nx = self.shape
        scale = min(self.width() / nx, self.height() / ny)
        return scale, (self.width() - nx * scale) / 2, (self.height() - ny * scale) / 2

    def to_widget(self, x: float, y: float) -> QPointF:
        ny, _ = self.shape
        scale, ox, oy = self._scale()
        return QPointF(ox + (x + 0.5) * scale, oy + (ny - 0.5 - y) * scale)

    def to_frame(self, point: QPointF) -> tuple[float, float]:
        ny, _ = self.shape
        scale, ox, oy = self._scale()
        return (point.x() - ox) / scale - 0.5, ny - 0.5 - (point.y() - oy) / scale

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(*mg.BACKGROUND))
        if self._image is not None and self.shape is not None:
            ny, nx = self.shape
            target = QRectF(self.to_widget(-0.5, ny - 0.5), self.to_widget(nx - 0.5, -0.5))
            painter.drawImage(target, self._image)
            if self.box is not None:
                x0, x1, y0, y1 = self.box
                painter.setPen(BOX_PEN)
                painter.setClipRect(target.adjusted(-2, -2, 2, 2))
                painter.drawRect(QRectF(self.to_widget(x0, y1), self.to_widget(x1, y0)).normalized())
        painter.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self.shape is None or self.box is None or event.button() != Qt.MouseButton.LeftButton:
            return
        x, y = self.to_frame(event.position())
        x0, x1, y0, y1 = self.box
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        inside = min(x0, x1) <= x <= max(x0, x1) and min(y0, y1) <= y <= max(y0, y1)
        # grabbed inside: the box keeps its offset to the mouse; beside it: it jumps there
        self._grab = (cx - x, cy - y) if inside else (0.0, 0.0)
        self.setCursor(Qt.CursorShape.ClosedHandCursor)
        self.moved.emit(x + self._grab[0], y + self._grab[1])

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._grab is None or self.shape is None:
            return
        x, y = self.to_frame(event.position())
        self.moved.emit(x + self._grab[0], y + self._grab[1])

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._grab = None
        self.setCursor(Qt.CursorShape.OpenHandCursor)


class PannerPanel(QWidget):
    """The pane's title and the panner (see the module docstring)."""

    def __init__(self, view, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.state = view.state
        self._thumbnail_key: tuple | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.title = QLabel("—", self)
        self.title.setStyleSheet("font-weight: bold")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setToolTip("Drag the box, or click beside it, to move the view")
        layout.addWidget(self.title)
        self.image = PannerImage(self)
        self.image.setObjectName("panner")
        layout.addWidget(self.image, 1)
        self.image.moved.connect(self.move_view_to)
        view.refreshed.connect(self.refresh)
        view.left.view_box.sigRangeChanged.connect(lambda *_: self._show_box())

    @property
    def role(self) -> str:
        return self.view.shown_role if self.state.layout == BLINK else "A"

    def showEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        if not self.isVisible():
            return
        view, st = self.view, self.state
        role = self.role
        render = view.renders.get(role)
        source = view.source(role)
        self.title.setText(f"{role}: {source.label if source else '—'}")
        if render is None or render.index is None:
            if source is None:
                self._thumbnail_key = None
                self.image.show_thumbnail(None, None)
            return
        lut = view.renderer.lut(st.colormap, st.nan_colour)
        overlay = view.renderer.overlay_lut(st) if render.mask else None
        key = (render.index_key, id(lut), render.mask_key, id(overlay))
        if key != self._thumbnail_key:
            self._thumbnail_key = key
            rgb, _step = mg.thumbnail(render.index, lut, THUMBNAIL_SIDE, render.mask, overlay)
            self.image.show_thumbnail(rgb, render.index.shape)
        self._show_box()

    def shown_range(self) -> tuple[float, float, float, float]:
        """The area the panes show now (x0, x1, y0, y1), as drawn (a pan still being made
        included)."""
        (x0, x1), (y0, y1) = self.view.left.view_box.viewRange()
        return float(x0), float(x1), float(y0), float(y1)

    def _show_box(self) -> None:
        if self.isVisible() and self.image.shape is not None:
            self.image.show_box(self.shown_range())

    def move_view_to(self, x: float, y: float) -> None:
        """Centre the view on frame position (x, y), its size kept (within the frame)."""
        shape = self.image.shape
        if shape is None:
            return
        ny, nx = shape
        x = min(max(x, -0.5), nx - 0.5)
        y = min(max(y, -0.5), ny - 0.5)
        x0, x1, y0, y1 = self.shown_range()
        dx, dy = x - (x0 + x1) / 2, y - (y0 + y1) / 2
        self.state.view_range = tuple(round(v, 3) for v in (x0 + dx, x1 + dx, y0 + dy, y1 + dy))
