"""Helpers for window tests (import them after ``pytest.importorskip("pytestqt")``)."""

from __future__ import annotations

RUN_TIMEOUT_MS = 60_000


def run_and_wait(qtbot, win, action=None) -> int:
    """Trigger Run (or ``action``) and wait for the run's results to be shown; 1 if cancelled."""
    with qtbot.waitSignal(win.runCompleted, timeout=RUN_TIMEOUT_MS) as blocker:
        (action or win.run_action).trigger()
    return blocker.args[0]
