"""Fresh memory for a run from files: numpy's transparent-huge-page advice turned off.

numpy advises the kernel to back every large array with 2 MB huge pages (``madvise``). With the
kernel's THP defrag setting ``madvise`` (Debian's default), the first touch of such memory may
wait while the kernel compacts memory to find a free huge page, and just after a run has read its
inputs, the page cache fills most of memory. A cold 4096² product then spent most of its time in
the kernel. Measured on a 2-core VM, with and without the advice, alternating:

- the whole ``iris-image2`` process, 4096², all seven steps, 4 runs each: wall median
  7.02 → 6.26 s, every pair faster;
- the cold chain from files, 5 runs each: compute median 1.07 → 0.69 s, wall 2.23 → 1.48 s.

So a command-line run turns the advice off (``small_pages``), and so do the processes that run
products from files for the window (the pool's workers, the quick-look process,
``use_small_pages``). Child processes inherit ``NUMPY_MADVISE_HUGEPAGE=0``.

The window's own process keeps numpy's default. Its re-runs work in memory it has already
touched, where huge pages save ~10 % (in-memory chain 0.46 against 0.51 s). A
``NUMPY_MADVISE_HUGEPAGE`` the user set is left as it is.
"""

from __future__ import annotations

import contextlib
import os

ENV = "NUMPY_MADVISE_HUGEPAGE"


def _setter():
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    return getattr(multiarray, "_set_madvise_hugepage", None)


def _advise_as_set():
    """Set ``NUMPY_MADVISE_HUGEPAGE=0`` unless the user set it, and numpy's flag to match;
    returns numpy's flag as it was (None where numpy has no such flag)."""
    os.environ.setdefault(ENV, "0")
    setter = _setter()
    return setter(os.environ[ENV] != "0") if setter is not None else None


def use_small_pages() -> None:
    """This process (and those it starts): no huge-page advice, unless the user set it."""
    _advise_as_set()


@contextlib.contextmanager
def small_pages():
    """``use_small_pages`` for a block, then as before (``main`` is also called in-process, by
    tests and the window's smoke test)."""
    saved_env = os.environ.get(ENV)
    previous = _advise_as_set()
    try:
        yield
    finally:
        setter = _setter()
        if setter is not None and previous is not None:
            setter(previous)
        if saved_env is None:
            os.environ.pop(ENV, None)
