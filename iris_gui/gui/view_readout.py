"""The cursor readout under the panes: the pixel under the cursor, its RA/Dec, and each shown
pane's value / ERR / DQ there (the text is ``display.readout.format_readout``)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from ..display import maths as im
from ..display.view_sources import ViewSource

BLANK = " \n \n "


def mono_font() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def pane_values(sources: dict[str, ViewSource], plane: int, ix: int, iy: int
                ) -> list[im.PaneValue]:
    """Value, ERR and DQ of every view in ``sources`` (role -> source) at 0-based (ix, iy)."""
    values = []
    for role, source in sources.items():
        value = source.value_at(plane, iy, ix)
        name = f"{role} {source.label}"
        if value is None:
            values.append(im.PaneValue(name, None))
        elif source.kind == "dq":
            values.append(im.PaneValue(name, float(value), None, source.dq_at(plane, iy, ix)))
        else:
            values.append(im.PaneValue(name, value, source.err_at(plane, iy, ix),
                                       source.dq_at(plane, iy, ix)))
    return values


def sky_at(sources: dict[str, ViewSource], ix: int, iy: int) -> tuple[float, float] | None:
    """RA/Dec at 0-based (ix, iy) from the first shown view with a WCS."""
    for source in sources.values():
        if source.model.wcs is not None:
            return im.sky_position(source.model.wcs, ix, iy)
    return None


class CursorReadout(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(BLANK, parent)
        self.setFont(mono_font())
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setToolTip("Pixel under the cursor in every shown pane")

    def show_at(self, cursor: tuple[int, int] | None, sources: dict[str, ViewSource],
                plane: int, one_based: bool) -> None:
        """Recomputed from the views shown now (after a re-run the new values appear without a
        mouse move); blank when there is no cursor or nothing is shown."""
        if cursor is None or not sources:
            self.setText(BLANK)
            return
        ix, iy = cursor
        self.setText(im.format_readout(ix, iy, one_based, pane_values(sources, plane, ix, iy),
                                       sky_at(sources, ix, iy)))
