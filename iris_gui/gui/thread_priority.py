"""Lower the calling thread's CPU priority below the GUI thread's (Linux: a thread has a
niceness of its own, ``setpriority`` on its thread id; elsewhere nothing is changed).

On a two-core machine the window's helper threads (the quick-look reader, the inspection
views' pool) and the GUI thread compete for the cores just as a new exposure arrives; the
GUI thread must win them, or a paint waits for a core."""

from __future__ import annotations

import os
import threading

_lowered = threading.local()


def lower_thread_priority(niceness: int) -> None:
    """This thread's niceness raised by ``niceness`` (once per thread, however often asked)."""
    if getattr(_lowered, "done", False):
        return
    _lowered.done = True
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)
    except (AttributeError, OSError):  # not Linux, or not allowed: as it is
        pass
