"""Coalesce a burst of cursor moves into few refreshes of a dock that follows the cursor.

A dock's refresh runs at once when the last one was at least ``interval_ms`` ago (a single
move shows without delay); a move sooner than that only starts a timer, and however many moves
come before it fires, one refresh then shows the latest position. So the docks follow the
cursor at up to 1000 / ``interval_ms`` updates/s and a slow frame never queues work for
positions already left behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

#: 15 ms: up to ~66 refreshes/s, above the 30/s the docks must keep up with
FOLLOW_INTERVAL_MS = 15


class CursorThrottle(QObject):
    """Call it on every cursor move; it calls ``refresh`` at most once per interval, always
    ending with a refresh after the last move."""

    def __init__(self, refresh: Callable[[], None], interval_ms: int = FOLLOW_INTERVAL_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._refresh = refresh
        self.interval = interval_ms / 1000.0
        self._last = -1e9
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._fire)

    def __call__(self) -> None:
        if self.timer.isActive():
            return                              # a refresh is due: it will show this move
        wait = self._last + self.interval - time.perf_counter()
        if wait <= 0:
            self._fire()
        else:
            self.timer.start(max(1, int(round(wait * 1000))))

    @property
    def pending(self) -> bool:
        return self.timer.isActive()

    def _fire(self) -> None:
        self._last = time.perf_counter()
        self._refresh()
