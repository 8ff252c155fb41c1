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

What the window receives from the quick-look process (~370 MB per 2048² product) is fresh memory
every time, so its buffers are mappings of their own on 4 KB pages (``small_page_bytes``), never
numpy's huge-page advice. On this VM (the host takes back the guest's free 2 MB blocks, which is
where huge pages come from) the first touch of 1 GB took 10 s with the advice against 0.4 s
without; receiving into such memory made each arrival ~2.5 s later and stalled the window's GUI
thread by up to 45 ms.
"""

from __future__ import annotations

import contextlib
import mmap
import os

import numpy as np

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


def small_page_bytes(size: int) -> np.ndarray:
    """``size`` writable bytes (a uint8 array; they read as zero until written) in an anonymous
    private mapping of their own, advised never to get huge pages (also where the system gives
    them to every mapping); unmapped when the last array made from them has gone."""
    if size <= 0:
        return np.empty(0, np.uint8)
    block = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    with contextlib.suppress(AttributeError, OSError):  # not Linux: the system's default
        block.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(block, dtype=np.uint8)
