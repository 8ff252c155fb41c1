"""PNG export of the view: the panes as shown, each with its title, colour bar and limits, and the
DQ overlay's legend.

Layout: a caption line (product, step, integration), then per pane its title over its grab and
its colour bar under it, side by side; the legend along the bottom.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QFileDialog

from ..display import maths as im
from ..display.colour_tables import NAN_MARK
from ..engine.dq import DQ_BITS
from ..state.view_state import BLINK, ROLES
from .failures import failure_message
from .view_renderer import flag_colour

log = logging.getLogger("iris_gui.gui")

TITLE_HEIGHT = 44
BAR_HEIGHT = 52
LEGEND_HEIGHT = 24
MARGIN = 10


@dataclass
class Sheet:
    """One pane in the export: its grab, title and the levels of its colour bar."""

    grab: QImage
    title: str
    levels: tuple[float, float] | None
    is_dq: bool


def view_sheets(view) -> list[Sheet]:
    """The panes of ``view`` (a ``StepImageView``) as shown: one in blink layout, else two."""
    state = view.state
    panes = [(view.left, view.shown_role)] if state.layout == BLINK else \
        [(view.left, "A"), (view.right, "B")]
    sheets = []
    for pane, role in panes:
        source = view.source(role)
        is_dq = source is not None and source.kind == "dq"
        detail = "DQ != 0" if is_dq else f"{state.stretch}, {state.limits}"
        sheets.append(Sheet(pane.plot.grab().toImage(),
                            f"{role}: {source.label if source else '—'}   [{detail}]",
                            view.resolved.get(role), is_dq))
    return sheets


def legend_entries(view) -> list[tuple[str, tuple[int, int, int]]]:
    """The flags (and NaN markers) overlaid on the panes shown, with their colours."""
    names: set[str] = set()
    roles = (view.shown_role,) if view.state.layout == BLINK else ROLES
    for role in roles:
        render = view.renders.get(role)
        if render is not None and render.mask_key is not None and render.flags is not None:
            names.update(render.mask_key[2])
    prefix = "new " if view.state.newly_flagged else ""
    return [(("" if name == NAN_MARK else prefix) + name, flag_colour(view.state, name))
            for name in (*DQ_BITS, NAN_MARK) if name in names]


def export_image(view) -> QImage:
    """The view rendered for a PNG (see the module docstring)."""
    sheets = view_sheets(view)
    legend = legend_entries(view)
    lut = view.renderer.lut(view.state.colormap, view.state.nan_colour)
    caption = view.caption.text()
    if view.views.nints > 1:
        caption += f"   integration {view.plane + 1}/{view.views.nints}"
    width = sum(s.grab.width() for s in sheets) + MARGIN * (len(sheets) + 1)
    height = (max(s.grab.height() for s in sheets) + TITLE_HEIGHT + BAR_HEIGHT
              + (LEGEND_HEIGHT if legend else 0) + 2 * MARGIN)
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(255, 255, 255))
    painter = QPainter(image)
    try:
        font = QFont(view.font())
        font.setPointSize(9)
        bold = QFont(font)
        bold.setBold(True)
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.setPen(QColor(0, 0, 0))
        painter.setFont(bold)
        painter.drawText(QRectF(MARGIN, MARGIN, width - 2 * MARGIN, 20), left, caption)
        x = MARGIN
        for sheet in sheets:
            grab = sheet.grab
            painter.setFont(font)
            title = painter.fontMetrics().elidedText(sheet.title, Qt.TextElideMode.ElideRight,
                                                     grab.width())
            painter.drawText(QRectF(x, MARGIN + 20, grab.width(), 20), left, title)
            painter.drawImage(QPointF(x, TITLE_HEIGHT + MARGIN), grab)
            if sheet.levels is not None:
                bar_top = TITLE_HEIGHT + MARGIN + grab.height() + 8
                stretch = "linear" if sheet.is_dq else view.state.stretch
                draw_colour_bar(painter, QRectF(x + 30, bar_top, grab.width() - 110, 14),
                                sheet.levels, stretch, lut, view.state.nan_colour)
            x += grab.width() + MARGIN
        if legend:
            draw_legend(painter, QRectF(MARGIN, height - MARGIN - LEGEND_HEIGHT,
                                        width - 2 * MARGIN, LEGEND_HEIGHT), legend)
    finally:
        painter.end()
    return image


def draw_colour_bar(painter: QPainter, rect: QRectF, levels: tuple[float, float], stretch: str,
                    lut: np.ndarray, nan_colour: tuple[int, int, int]) -> None:
    low, high = levels
    values = np.linspace(low, high, max(2, int(rect.width())))[None, :]
    rgb = lut[im.quantize(values, low, high, stretch)[0]]
    strip = np.ascontiguousarray(np.repeat(rgb[None, :, :], int(rect.height()), axis=0))
    qimage = QImage(strip.data, strip.shape[1], strip.shape[0], strip.strides[0],
                    QImage.Format.Format_RGB888)
    painter.drawImage(rect.topLeft(), qimage.copy())
    painter.setPen(QPen(QColor(0, 0, 0)))
    painter.drawRect(rect)
    # ticks at 0, 1/4 .. 1 of the colour scale, labelled with the data value there
    for fraction, value in im.colour_bar_ticks(low, high, stretch):
        px = rect.left() + fraction * rect.width()
        painter.drawLine(QPointF(px, rect.bottom()), QPointF(px, rect.bottom() + 4))
        painter.drawText(QRectF(px - 45, rect.bottom() + 5, 90, 16),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                         f"{value:.4g}")
    swatch = QRectF(rect.right() + 24, rect.top(), 14, rect.height())
    painter.fillRect(swatch, QColor(*nan_colour))
    painter.drawRect(swatch)
    painter.drawText(QRectF(swatch.right() + 4, rect.top() - 2, 40, rect.height() + 4),
                     Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "NaN")


def draw_legend(painter: QPainter, rect: QRectF,
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


def write_png(view, path: str) -> QImage:
    image = export_image(view)
    if not image.save(path, "PNG"):
        raise OSError("the image could not be written (check the folder exists and is "
                      "writable)")
    return image


def write_png_reporting(view, path: str) -> bool:
    """``write_png`` with any failure emitted as the view's ``failed`` (a dialog in the window)."""
    try:
        write_png(view, path)
    except Exception as exc:
        view.failed.emit("Export view", failure_message(exc, "write the PNG", path))
        return False
    log.info("view exported to %s", path)
    return True


def export_dialog(view) -> None:
    path, _ = QFileDialog.getSaveFileName(view, "Export view as PNG", "inspection.png",
                                          "PNG images (*.png)")
    if path:
        write_png_reporting(view, path)
