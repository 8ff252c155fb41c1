"""Zoom and pan kept in ``ViewState.view_range``: a pan or zoom by the user (mouse drag or wheel
on either pane; the panes are linked) is written there once the mouse rests, and a range set in
the state (a restored session, undo) is applied; ``None`` means "fit the frame"."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from ..state.view_state import ViewState

#: a pan / zoom is written to the state this long after the last mouse move (ms)
DEBOUNCE_MS = 300


class ViewRangeKeeper(QObject):
    def __init__(self, state: ViewState, panes: dict, shape: Callable[[], tuple | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.view_box = panes["A"].view_box
        self.shape = shape
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self._write)
        self._writing = False
        self._fitted_shape: tuple | None = None
        for pane in panes.values():
            pane.view_box.sigRangeChangedManually.connect(lambda *_: self.timer.start())

    def state_changed(self) -> None:
        """``view_range`` changed in the state (not by this keeper): show it."""
        if not self._writing:
            self.apply()

    def shape_shown(self, shape: tuple | None) -> None:
        """A frame of another shape is shown (or the first one): show the state's range."""
        if shape != self._fitted_shape:
            self._fitted_shape = shape
            self.apply()

    def apply(self) -> None:
        shape = self.shape()
        if shape is None:
            return
        if self.state.view_range is None:
            ny, nx = shape
            self.view_box.setRange(xRange=(-0.5, nx - 0.5), yRange=(-0.5, ny - 0.5),
                                   padding=0.02)
        else:
            x0, x1, y0, y1 = self.state.view_range
            self.view_box.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def fit(self) -> None:
        self.timer.stop()
        if self.state.view_range is not None:
            self.state.view_range = None   # -> state_changed -> apply
        else:
            self.apply()

    def sync(self) -> None:
        """Write a pan / zoom still waiting for its debounce now (before saving)."""
        if self.timer.isActive():
            self.timer.stop()
            self._write()

    def _write(self) -> None:
        if self.shape() is None:
            return
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        self._writing = True
        try:
            self.state.view_range = tuple(round(float(v), 3) for v in (x0, x1, y0, y1))
        finally:
            self._writing = False
