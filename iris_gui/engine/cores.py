"""The cores one process may keep busy: a single budget shared by the row-block threads
(``blocks``) and resample's drizzle processes (``resample_parallel``).

By default the budget is every core this process may run on (``os.sched_getaffinity``, at most
``MAX_CORES``). ``iris-image2 --jobs N`` makes N the whole run's budget: products run side by side
in N worker processes (whose drizzle stays in the worker), and a product run in this process may
use N cores. So ``--jobs 1`` means one core throughout, as before any of the work was parallel, and
comparing ``--jobs 2`` with ``--jobs 1`` measures what two cores give.
"""

from __future__ import annotations

import contextlib
import os

#: more threads or drizzle processes than this gain nothing on these memory-bound loops
MAX_CORES = 8
#: the scheduling niceness, above the window's, of the processes that calibrate for it (the
#: quick-look process, Run all's workers): on a busy machine the window's GUI thread gets a
#: core first when it wakes (a calibration is seconds long, a frame of the window milliseconds)
WINDOW_HELPER_NICENESS = 10

_budget: int | None = None


def lower_process_priority(niceness: int) -> None:
    """This process's niceness (and its children's) raised by ``niceness``; as it is where that
    is not possible (not POSIX, not allowed)."""
    with contextlib.suppress(AttributeError, OSError):
        os.nice(niceness)


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def core_budget() -> int:
    """The cores work in this process may use at once (see the module docstring)."""
    cores = usable_cores() if _budget is None else min(_budget, usable_cores())
    return max(1, min(MAX_CORES, cores))


def set_core_budget(cores: int | None) -> None:
    """Limit this process to ``cores`` (None: every usable core again)."""
    global _budget
    if cores is not None and int(cores) < 1:
        raise ValueError(f"a core budget of {cores} is not a whole number >= 1")
    _budget = None if cores is None else int(cores)


@contextlib.contextmanager
def budget(cores: int | None):
    """``set_core_budget(cores)`` for the block; the budget before it afterwards."""
    global _budget
    previous = _budget
    set_core_budget(cores)
    try:
        yield
    finally:
        _budget = previous
