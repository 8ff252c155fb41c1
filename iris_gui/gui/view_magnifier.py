"""The Magnifier dock's content: the frame around the cursor magnified ×2 to ×16
(``ViewState.magnifier_factor``) for each pane, in the pane's own colours — its index image
(stretch and limits already applied), colour table and DQ overlay — with the cursor's pixel
framed.

The picture is made Qt-free from the cut-out alone (``display.magnifier.magnified``), so it
follows the cursor at the same cost on a 4096² frame as on a small one
(``tests/benchmarks/bench_inspect_docks.py`` measures it); a burst of cursor moves makes one
picture per ~15 ms (``cursor_throttle``), ending at the last position. Pictures are made only
while the dock is visible.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..display import magnifier as mg
from ..state.view_state import MAGNIFIER_FACTORS, ROLES
from .cursor_throttle import CursorThrottle

CURSOR_PEN = QPen(QColor(255, 255, 0), 1)


class MagnifierImage(QWidget):
    """Paints one magnified picture (an RGB array the size of the widget) and frames the
    cursor's pixel."""

    def __init__(self, on_resize, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.on_resize = on_resize
        self.rgb: np.ndarray | None = None
        self.factor = 4
        self._image: QImage | None = None
        self.setMinimumSize(96, 96)
        # every pixel is painted here: Qt need not paint the dock behind it first
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def picture_size(self) -> tuple[int, int]:
        return max(1, self.width()), max(1, self.height())

    def show_picture(self, rgb: np.ndarray | None, factor: int) -> None:
        self.rgb, self.factor = rgb, factor
        if rgb is None:
            self._image = None
        else:
            h, w = rgb.shape[:2]
            # the QImage borrows the array's buffer: ``self.rgb`` keeps it alive
            self._image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(*mg.BACKGROUND))
        if self._image is not None:
            painter.drawImage(0, 0, self._image)
            ox, oy = mg.magnified_origin(self.factor, (self._image.width(), self._image.height()))
            painter.setPen(CURSOR_PEN)
            painter.drawRect(QRect(ox - 1, oy - 1, self.factor + 1, self.factor + 1))
        painter.end()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.on_resize()


class MagnifierPanel(QWidget):
    """Factor, the cursor's pixel, and per pane its title and magnified picture."""

    def __init__(self, view, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.state = view.state
        self.refreshes = 0                   # pictures made (the benchmark counts them)
        self._build()
        binder = view.binder
        binder.combo("magnifier_factor", self.factor_box, MAGNIFIER_FACTORS)
        for name in ("magnifier_factor", "one_based"):
            binder.on(name, self.refresh)
        # a burst of moves: one picture per ~15 ms, the last position's always shown
        self.follow = CursorThrottle(self.refresh, parent=self)
        view.cursorMoved.connect(self.follow)
        view.refreshed.connect(self.refresh)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        row = QHBoxLayout()
        row.addWidget(QLabel("Zoom", self))
        self.factor_box = QComboBox(self)
        self.factor_box.addItems([f"×{f}" for f in MAGNIFIER_FACTORS])
        self.factor_box.setToolTip("Screen pixels per frame pixel")
        row.addWidget(self.factor_box)
        self.where = QLabel("Move the mouse over a pane.", self)
        self.where.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(self.where, 1)
        layout.addLayout(row)
        self.titles: dict[str, QLabel] = {}
        self.images: dict[str, MagnifierImage] = {}
        for role in ROLES:
            title = QLabel(f"{role}: —", self)
            title.setStyleSheet("font-weight: bold")
            title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            image = MagnifierImage(self.refresh, self)
            image.setObjectName(f"magnifier{role}")
            layout.addWidget(title)
            layout.addWidget(image, 1)
            self.titles[role], self.images[role] = title, image

    def showEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().showEvent(event)
        self.refresh()

    def picture(self, role: str, size: tuple[int, int]) -> np.ndarray | None:
        """The magnified picture of pane ``role`` around the cursor (None: nothing to show)."""
        view, st = self.view, self.state
        render = view.renders.get(role)
        cursor = view.cursor
        if cursor is None or render is None or render.index is None:
            return None
        lut = view.renderer.lut(st.colormap, st.nan_colour)
        mask = render.mask[0] if render.mask else None
        overlay = view.renderer.overlay_lut(st) if mask is not None else None
        return mg.magnified(render.index, lut, cursor, st.magnifier_factor, size, mask, overlay)

    def refresh(self) -> None:
        if not self.isVisible():
            return
        self.refreshes += 1
        cursor = self.view.cursor
        base = 1 if self.state.one_based else 0
        self.where.setText("Move the mouse over a pane." if cursor is None else
                           f"x = {cursor[0] + base}, y = {cursor[1] + base} "
                           f"({'1' if base else '0'}-based)")
        for role in ROLES:
            source = self.view.source(role)
            self.titles[role].setText(f"{role}: {source.label if source else '—'}")
            image = self.images[role]
            rgb = self.picture(role, image.picture_size())
            if rgb is not None or source is None or cursor is None:
                image.show_picture(rgb, self.state.magnifier_factor)
