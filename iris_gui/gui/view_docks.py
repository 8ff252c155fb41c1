"""The inspection docks (Header, Pixel table, ...): made by ``window_docks.build_docks``, on the right of the
window, tabbed together (the Panner under them), hidden until asked for in the View menu.

Which of them are shown is ``ViewState.docks`` (saved in the session): a dock shown or closed
by the user writes it, a change of it (a restored session, undo, the console) shows or hides
the docks. Each dock's content reads the view (``StepImageView``) and the state only.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QWidget

from ..state.view_state import DOCK_NAMES
from .view_flag_navigator import FlagNavigatorPanel
from .view_header import HeaderPanel
from .view_magnifier import MagnifierPanel
from .view_overlay_panel import OverlayPanel
from .view_panner import PannerPanel
from .view_pixel_table import PixelTablePanel
from .view_star_check import StarCheckPanel

#: name in ``ViewState.docks`` -> (dock title, object name, content class)
DOCKS = {"header": ("Header", "headerDock", HeaderPanel),
         "pixels": ("Pixel table", "pixelTableDock", PixelTablePanel),
         "stars": ("Star check", "starCheckDock", StarCheckPanel),
         "magnifier": ("Magnifier", "magnifierDock", MagnifierPanel),
         "panner": ("Panner", "pannerDock", PannerPanel),
         "flags": ("Flagged pixels", "flaggedPixelsDock", FlagNavigatorPanel),
         "overlays": ("Contours and grid", "overlaysDock", OverlayPanel)}
assert tuple(DOCKS) == DOCK_NAMES
#: keys of the docks' show / hide actions
DOCK_KEYS = {"magnifier": "M", "panner": "Shift+M"}
#: docks placed under the tabbed ones rather than as another tab (a small panner stays in
#: sight beside the magnifier or the pixel table)
BELOW = frozenset({"panner"})


def build_inspection_docks(window: QMainWindow) -> dict[str, QDockWidget]:
    """Make every inspection dock for ``window.image_view``; ``window.inspection_docks[name]``
    is the dock, ``window.inspection_panels[name]`` its content."""
    view = window.image_view
    state = view.state
    docks: dict[str, QDockWidget] = {}
    panels: dict[str, QWidget] = {}
    previous = None
    for name, (title, object_name, panel_class) in DOCKS.items():
        dock = QDockWidget(title, window)
        dock.setObjectName(object_name)
        panel = panel_class(view, dock)
        # the content scrolls rather than force the window wider than a small screen
        scroller = QScrollArea(dock)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setWidget(panel)
        dock.setWidget(scroller)
        if name in BELOW:
            window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock,
                                 Qt.Orientation.Vertical)
        else:
            window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            if previous is not None:
                window.tabifyDockWidget(previous, dock)
            previous = dock
        dock.hide()
        action = dock.toggleViewAction()
        action.setText(f"{title} dock")
        if name in DOCK_KEYS:
            action.setShortcut(DOCK_KEYS[name])
        action.setStatusTip(f"Show or hide the {title} dock")
        # explicit show / hide only (a tab behind another is still "shown")
        action.toggled.connect(lambda on, n=name: _write(state, n, on))
        view.dock_actions.append(action)
        docks[name], panels[name] = dock, panel
        # a dock's own commands (the navigator's next / previous) follow the view's in the menu
        view.tool_actions.extend(getattr(panel, "menu_actions", list)())

    def show() -> None:
        for name, dock in docks.items():
            if (name in state.docks) != (not dock.isHidden()):
                dock.setVisible(name in state.docks)
                if name in state.docks:
                    dock.raise_()
                    if not dock.isFloating():
                        # room for a 5 x 5 pixel table or a header's keyword and value
                        width = max(300, min(480, (window.width() or 1500) // 3))
                        window.resizeDocks([dock], [width], Qt.Orientation.Horizontal)

    view.binder.on("docks", show)
    window.inspection_docks, window.inspection_panels = docks, panels
    return docks


def _write(state, name: str, shown: bool) -> None:
    names = [n for n in state.docks if n != name]
    if shown:
        names.append(name)
    state.docks = tuple(n for n in DOCK_NAMES if n in names)
