"""The window's helper threads run below the GUI thread's CPU priority (Linux thread niceness)."""

from __future__ import annotations

import os
import threading

from iris_gui.gui import display_tasks
from iris_gui.gui.display_tasks import TaskRunner
from iris_gui.gui.thread_priority import lower_thread_priority


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_thread_is_lowered_once_however_often_asked():
    seen = []

    def body():
        before = niceness()
        lower_thread_priority(2)
        lower_thread_priority(2)
        seen.append(niceness() - before)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [2]


def test_the_views_pool_works_below_the_gui_thread(qtbot):
    runner = TaskRunner(threads=1)
    before = niceness()
    try:
        with qtbot.waitSignal(runner.finished, timeout=10_000) as done:
            runner.submit("nice", niceness)
        key, result, error = done.args
        assert (key, error) == ("nice", "")
        assert result == niceness() + display_tasks.POOL_NICENESS
        assert niceness() == before  # the GUI thread as it was
    finally:
        runner.shutdown()
