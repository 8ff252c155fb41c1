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
``use_small_pages``) and the window itself (``gui.app.prepare_event_loop``). Child processes
inherit ``NUMPY_MADVISE_HUGEPAGE=0``; a ``NUMPY_MADVISE_HUGEPAGE`` the user set is left as it is.

The window once kept the advice, for the ~10 % huge pages saved its re-runs in memory it had
already touched (in-memory chain 0.46 against 0.51 s). On a VM whose host takes back the
guest's free 2 MB blocks — exactly where huge pages come from — fresh huge pages cost ~10 s per
GB against 0.4 s for small ones, and Run in the window (2048², 3 runs in each of 2 fresh
windows, alternating) took 1.25–3.49 s with the advice and 1.23–1.29 s without.

What the window receives from the quick-look process (~370 MB per 2048² product, fresh memory
every time) goes into mappings of its own on 4 KB pages (``small_page_bytes``) whatever the
setting. Received into huge pages, each arrival came ~2.5 s later (median 6.4–6.7 s against
3.6–3.9 s from complete to shown, 5 exposures, alternating).

The processes that run product after product — the quick-look process, the pool's workers
(``--jobs``, the window's Run all) — keep the memory they free for their next allocations
(``keep_freed_memory``: glibc's ``mallopt``, no ``mmap`` of their own for large blocks, no
trimming of the heap), so each product works in pages the host has already backed instead of
fresh ones; their resident size stays at its peak while they run. ``IRIS_KEEP_FREED_MEMORY=0``
turns it off. 8 products of 2048², 3 backgrounds, ``--jobs 2``, 4 runs each alternating on that
VM: median 8.65 s without, 7.61 s with (best 8.00 and 6.96 s; faster in each of the 4 pairs). A
single pair once gave 9.26 s with against 8.68 s without: one run each is not enough here.
"""

from __future__ import annotations

import contextlib
import ctypes
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


def small_page_block(size: int) -> mmap.mmap:
    """An anonymous private mapping of ``size`` bytes (zero until written) advised never to get
    huge pages (also where the system gives them to every mapping)."""
    block = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    with contextlib.suppress(AttributeError, OSError):  # not Linux: the system's default
        block.madvise(mmap.MADV_NOHUGEPAGE)
    return block


def small_page_bytes(size: int) -> np.ndarray:
    """``size`` writable bytes (a uint8 array) in a ``small_page_block`` of their own, unmapped
    when the last array made from them has gone."""
    if size <= 0:
        return np.empty(0, np.uint8)
    return np.frombuffer(small_page_block(size), dtype=np.uint8)


KEEP_ENV = "IRIS_KEEP_FREED_MEMORY"
#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8


def keep_freed_memory() -> bool:
    """From now on, memory this process frees stays its own for its next allocations (glibc:
    large blocks from the heap, never a mapping of their own, and the heap never trimmed).
    False where the C library has no such setting or ``IRIS_KEEP_FREED_MEMORY`` is 0."""
    mallopt = _mallopt()
    if mallopt is None or os.environ.get(KEEP_ENV, "").strip() == "0":
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def _mallopt():
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return None
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt


def one_heap_for_every_thread() -> bool:
    """glibc: the threads this process starts from now on allocate from its main heap, as its
    main thread does, instead of from heaps of their own. Those give a block back to the system
    whenever one of their 64 MB heaps is wholly free, whatever ``keep_freed_memory`` says, and a
    Dask worker runs its tasks in such a thread. Only takes effect in a process that has not yet
    started a thread (e.g. a forkserver, whose workers inherit it). False where there is no such
    setting or ``IRIS_KEEP_FREED_MEMORY`` is 0."""
    mallopt = _mallopt()
    if mallopt is None or os.environ.get(KEEP_ENV, "").strip() == "0":
        return False
    return bool(mallopt(_M_ARENA_MAX, 1))
