"""The main window's docks: Inputs and Steps on the left, Log and Console tabbed at the bottom,
the inspection docks (Header, ...; ``view_docks``) tabbed on the right, hidden until asked for;
and ``window.samp`` (View ▸ SAMP, ``view_samp``).

Each dock's content scrolls rather than force the window larger than a small screen (1024x700);
default sizes give the Inputs list ~10 rows and the bottom dock ~10 lines. The bottom dock is
resizable (its splitter handle is above it) and every dock can be closed, floated or moved.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QLabel, QMainWindow, QScrollArea, QWidget

from ..engine.steps import STEP_BY_NAME
from .inputs_panel import InputsPanel
from .log_dock import LogPanel
from .steps_panel import StepsPanel
from .view_docks import build_inspection_docks
from .view_samp import build_samp


class ConsoleCommands:
    """The Console dock's content, made the first time the dock is shown (qtconsole and its
    kernel load then, not at start), as a mix-in of the main window."""

    def _console_visibility(self, visible: bool) -> None:
        if visible:
            self.ensure_console()

    def console_namespace(self) -> dict[str, Any]:
        import numpy as np
        from astropy.io import fits

        return {"workbench": self.workbench, "pipeline": self.workbench.pipeline,
                "window": self, "config": self.workbench.config, "np": np, "fits": fits,
                "STEPS": STEP_BY_NAME}

    def ensure_console(self):
        if self.console is None:
            from .console_dock import ConsolePanel

            self.console = ConsolePanel(self.console_namespace(), self.console_dock)
            self.console_dock.setWidget(self.console)
        else:
            self.console.push(self.console_namespace())
        return self.console


def scrolling_dock(window: QMainWindow, title: str, widget: QWidget, area,
                   name: str) -> QDockWidget:
    dock = QDockWidget(title, window)
    dock.setObjectName(name)
    scroller = QScrollArea(dock)
    scroller.setWidgetResizable(True)
    scroller.setFrameShape(QFrame.Shape.NoFrame)
    scroller.setWidget(widget)
    dock.setWidget(scroller)
    window.addDockWidget(area, dock)
    return dock


def build_docks(window) -> None:
    """Give ``window`` inputs_panel/_dock, steps_panel/_dock, log_panel/_dock, console_dock."""
    left, bottom = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
    window.inputs_panel = InputsPanel(window)
    window.inputs_dock = scrolling_dock(window, "Inputs", window.inputs_panel, left, "inputsDock")
    window.steps_panel = StepsPanel(window)
    window.steps_dock = scrolling_dock(window, "Steps", window.steps_panel, left, "stepsDock")
    window.splitDockWidget(window.inputs_dock, window.steps_dock, Qt.Orientation.Vertical)
    window.log_panel = LogPanel(window)
    window.log_dock = scrolling_dock(window, "Log", window.log_panel, bottom, "logDock")
    window.console_dock = QDockWidget("Console", window)
    window.console_dock.setObjectName("consoleDock")
    window.console_dock.setWidget(QLabel("The console starts when this dock is first shown.",
                                         window.console_dock))
    window.addDockWidget(bottom, window.console_dock)
    window.tabifyDockWidget(window.log_dock, window.console_dock)
    window.log_dock.raise_()
    build_inspection_docks(window)
    build_samp(window)  # View ▸ SAMP (its menu entry joins the view's actions)
    default_dock_sizes(window)


def default_dock_sizes(window) -> None:
    """Inputs (two fifths of the height: the list, the note and the sign-off) over the Steps
    list, the left column ~430 px and the bottom dock ~10 lines (less on a small screen)."""
    height = window.height() or 950
    width = window.width() or 1500
    window.resizeDocks([window.inputs_dock, window.steps_dock],
                       [max(200, int(height * 0.4)), max(300, int(height * 0.45))],
                       Qt.Orientation.Vertical)
    window.resizeDocks([window.log_dock], [max(110, min(200, height // 5))],
                       Qt.Orientation.Vertical)
    window.resizeDocks([window.inputs_dock], [max(300, min(430, width // 3))],
                       Qt.Orientation.Horizontal)
