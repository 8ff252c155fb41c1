"""Memory for what the window receives from the quick-look process, kept for the next arrival.

Each 2048² quick-look product is ~370 MB of arrays that arrive through a pipe (``quicklook_process``)
and stay in the window until it lets the product go (``window_watch.KEEP``). Freed, that memory
goes back to the kernel and, on a VM whose host takes back the guest's free memory, the next
arrival's first touch of the same amount costs up to ~40 µs per 4 KB page (4–12 s per GB measured
here, against 0.4 s for memory still backed) — seconds per product, every product.

``ReceivePool.take(size)`` gives ``size`` writable bytes (a uint8 array, contents undefined) from a
block this pool mapped (``pages.small_page_block``: 4 KB pages, never huge ones). The
block is leased: the lease is the buffer every array made from the bytes refers to (numpy keeps it
as their ``base``), so the block comes back to the pool only when the last of them has gone — a
product still shown, blinked or cached is never written into. Blocks come back whole and are
handed out again for a request of exactly their size (a night's exposures are all one shape). The
pool keeps at most ``budget`` bytes of free blocks (``IRIS_RECEIVE_POOL_MB``, default 1024: two
2048² products; 0 turns it off); beyond that, a block coming back is unmapped as before.

Until the window lets products go (it keeps the newest few), every arrival would still need fresh
memory. So once a product has been received, ``prepare(sizes)`` maps and touches blocks for one
more product of the same sizes on a thread of its own (the C library's ``memset``, the GIL
released), in the seconds before the next exposure is complete: that first touch is no longer
on the way from "complete" to "shown". The thread waits ``PREPARE_DELAY`` seconds first (the
product just received is being shown) and runs at the idle scheduling class where there is one
(Linux's ``SCHED_IDLE``): a probe of the window's thread found it waiting 24–28 ms for a core
while the receiving and the touching ran beside it.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import threading
from collections import Counter, deque

import numpy as np

from .buffer_pool import budget_from_env
from .pages import small_page_block, small_page_bytes

BUDGET_ENV = "IRIS_RECEIVE_POOL_MB"
DEFAULT_BUDGET_MB = 1024
#: smaller messages (the pickled product itself, small arrays) are not worth keeping
MIN_BYTES = 1 << 20
#: seconds a preparation waits before it touches memory (the arrival is shown meanwhile)
PREPARE_DELAY = 1.0


def _touch(block: mmap.mmap) -> None:
    """Write every page of ``block`` once, without the GIL (ctypes releases it)."""
    view = ctypes.c_char.from_buffer(block)
    address = ctypes.addressof(view)
    del view  # the export ends here; the mapping is ``block``'s
    ctypes.memset(address, 0, len(block))


def _idle_priority() -> None:
    """The calling thread runs only when a core has nothing else to do (Linux), or as it was."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread, on Linux
    except (AttributeError, OSError):
        pass


class ReceivePool:
    """Leased blocks for received buffers (see the module docstring)."""

    def __init__(self, budget: int | None = None) -> None:
        self.budget = budget_from_env(BUDGET_ENV, DEFAULT_BUDGET_MB) if budget is None else int(budget)
        self._free: dict[int, deque[mmap.mmap]] = {}
        self._held = 0
        # re-entrant: a lease may end (and give its block back) while this thread holds it
        self._lock = threading.RLock()
        self._lease_types: dict[int, type] = {}
        #: how many takes were served from kept blocks, and how many mapped new memory
        self.reused = 0
        self.fresh = 0
        self._preparer: threading.Thread | None = None
        self._generation = 0  # clear() makes what a preparation still makes unwanted
        self._cleared = threading.Event()  # wakes a preparation still waiting to start

    @property
    def held_bytes(self) -> int:
        """Bytes of free blocks kept for the next takes."""
        return self._held

    def take(self, size: int) -> np.ndarray:
        size = int(size)
        if size < MIN_BYTES or self.budget <= 0:
            return small_page_bytes(size)
        with self._lock:
            blocks = self._free.get(size)
            block = blocks.popleft() if blocks else None
            if block is not None:
                self._held -= size
                self.reused += 1
            else:
                self.fresh += 1
        if block is None:
            block = small_page_block(size)
        lease = self._lease_type(size).from_buffer(block)
        lease.block, lease.generation = block, self._generation
        return np.frombuffer(lease, dtype=np.uint8)

    def _lease_type(self, size: int) -> type:
        with self._lock:
            kind = self._lease_types.get(size)
            if kind is None:
                pool = self

                def give_back(lease) -> None:  # the last array made from the block has gone
                    block = lease.block
                    del lease.block
                    if lease.generation == pool._generation:  # not taken before a clear()
                        pool._give_back(block)

                kind = type("Lease", (ctypes.c_ubyte * size,), {"__del__": give_back})
                self._lease_types[size] = kind
            return kind

    def prepare(self, sizes) -> None:
        """Blocks for one more message of each of ``sizes`` (those not already kept), mapped and
        touched on a thread of its own; a call while a preparation runs does nothing."""
        wanted = Counter(int(size) for size in sizes if int(size) >= MIN_BYTES)
        if not wanted or self.budget <= 0:
            return
        with self._lock:
            if self._preparer is not None and self._preparer.is_alive():
                return
            self._preparer = threading.Thread(target=self._prepare,
                                              args=(wanted, self._generation, self._cleared),
                                              name="iris-receive-prepare", daemon=True)
            self._preparer.start()

    def wait_prepared(self, timeout: float | None = None) -> None:
        preparer = self._preparer
        if preparer is not None:
            preparer.join(timeout)

    def _prepare(self, wanted: Counter, generation: int,
                 cleared: threading.Event) -> None:  # its own thread
        _idle_priority()
        cleared.wait(PREPARE_DELAY)
        for size, count in wanted.items():
            with self._lock:
                missing = count - len(self._free.get(size, ()))
            for _ in range(missing):
                with self._lock:
                    if generation != self._generation or self._held + size > self.budget:
                        return
                block = small_page_block(size)
                _touch(block)
                with self._lock:
                    if generation != self._generation:
                        return
                    self._give_back(block)

    def _give_back(self, block: mmap.mmap) -> None:
        with self._lock:
            if self._held + len(block) > self.budget:
                return  # unmapped when ``block`` goes, after this
            self._free.setdefault(len(block), deque()).append(block)
            self._held += len(block)

    def clear(self) -> None:
        with self._lock:
            free, self._free, self._held = self._free, {}, 0
            self._generation += 1
            self._cleared.set()
            self._cleared = threading.Event()
        free.clear()  # unmapped here, outside the lock


#: the window's pool for what the quick-look process sends
RECEIVE_POOL = ReceivePool()
