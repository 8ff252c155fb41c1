"""The view's actions, for the window's View menu and as keys anywhere in the window: Space flip
the blink (both ways), B blink layout, A auto-blink, D DQ overlay, N newly flagged, L same
levels, C colour bars, K star check (pick), O contours, G RA/Dec grid, Shift+G compass, F fit,
PgUp / PgDn integration, Ctrl+Shift+P export (and from the docks: M magnifier, Shift+M panner,
[ / ] previous / next flagged pixel).

They are window shortcuts (``Qt.WindowShortcut``): they work wherever the focus is in the
window, except that a text field keeps its printable keys (Qt asks the focused line edit first,
``ShortcutOverride``), so typing "D" in a parameter field types a D. The checkable ones show and
edit their ``ViewState`` field.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from ..state.view_state import BLINK, SIDE_BY_SIDE
from .view_binding import StateBinder


class ViewActions:
    def __init__(self, view, binder: StateBinder) -> None:
        def action(text, slot, key, tip=""):
            act = QAction(text, view)
            act.setShortcut(QKeySequence(key))
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.setToolTip(tip or text)
            act.setStatusTip(tip or text)
            if slot is not None:
                act.triggered.connect(slot)
            view.addAction(act)
            return act

        def checkable(text, key, name, shown=None, write=None):
            act = action(text, None, key)
            act.setCheckable(True)
            binder.check(name, act, shown=shown, write=write)
            return act

        state = binder.state
        self.flip = action("Blink: &flip", view.flip, "Space",
                           tip="Show the other image of the blink pair (both ways)")
        self.blink = checkable("&Blink mode", "B", "layout", shown=lambda: state.layout == BLINK,
                               write=lambda on: view.set_mode(BLINK if on else SIDE_BY_SIDE))
        self.auto = checkable("&Auto-blink", "A", "auto_blink", write=view.set_auto_blink)
        self.dq = checkable("&DQ overlay", "D", "dq_overlay")
        self.newly = checkable("&Newly flagged by this step", "N", "newly_flagged")
        self.same = checkable("Same &levels on both panes", "L", "same_levels",
                              shown=view.same_levels_on)
        self.colour_bars = checkable("&Colour bars beside the panes", "C", "colour_bars")
        self.star_pick = checkable("Star check: pic&k a star", "K", "star_pick")
        self.star_pick.setStatusTip("While on, a click on a pane measures the star there and in "
                                    "the other pane (Star check dock)")
        # contours / grid / compass on both panes (the Contours & grid dock picks one pane)
        def on_both(name):
            return {"shown": lambda: bool(getattr(state, name)),
                    "write": lambda on: setattr(state, name, ("A", "B") if on else ())}

        self.contours = checkable("C&ontours on the panes", "O", "contours", **on_both("contours"))
        self.wcs_grid = checkable("RA/Dec &grid on the panes", "G", "wcs_grid",
                                  **on_both("wcs_grid"))
        self.compass = checkable("Compass and scale bar on the panes", "Shift+G", "compass",
                                 **on_both("compass"))
        self.fit = action("&Fit the frame", view.fit, "F")
        self.next_plane = action("Next integration", lambda: view.step_plane(1), "PgDown")
        self.prev_plane = action("Previous integration", lambda: view.step_plane(-1), "PgUp")
        self.export = action("&Export view as PNG…", view.export_dialog, "Ctrl+Shift+P")

    def menu(self) -> list[QAction]:
        return [self.blink, self.flip, self.auto, self.dq, self.newly, self.same,
                self.colour_bars, self.star_pick, self.contours, self.wcs_grid, self.compass,
                self.fit,
                self.next_plane, self.prev_plane, self.export]
