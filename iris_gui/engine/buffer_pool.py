"""A small pool of frame-sized buffers, reused across steps and products in one process.

On this kind of VM the first touch of fresh memory costs more than the arithmetic done in it
(~2.5 ms/MB, most of a cold run's system time: the host backs each new page), and numpy hands
every frame-sized array back to the kernel when it is freed, so each step's new outputs are
fresh memory again. The pool keeps the buffers of arrays that are finished with — the
backgrounds once combined, a reference once applied — and gives them to the next arrays of the
same size (the steps' outputs, the next file read), whose pages are then already resident.

``take(shape, dtype)`` is ``np.empty`` (contents undefined) from a pooled buffer of the same
byte size when there is one; the array is a view of a 1-D uint8 buffer the pool made.
``recycle(models)`` empties a list of models the caller is done with and puts back the buffers
of their arrays — only those the pool made, and only when nothing else refers to the model, the
array or any other view of its buffer (reference counts), so a buffer still in use elsewhere (a
cached result, a product shown in the window, a view) is never handed out twice; anything else
is simply freed as before. ``release(model)`` is for a step result no later step or write needs
(a run that keeps no intermediates): its arrays become placeholders and their buffers go back.
The pool holds at most ``budget`` bytes (``IRIS_BUFFER_POOL_MB``,
default 1024; 0 turns it off); ``clear()`` frees it all.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref

import numpy as np

#: arrays smaller than this are not pooled (malloc reuses small blocks by itself)
MIN_BYTES = 1 << 20
BUDGET_ENV = "IRIS_BUFFER_POOL_MB"
DEFAULT_BUDGET_MB = 1024
#: array attributes of an ImageModel whose buffers may go back to the pool
MODEL_ARRAYS = ("data", "err", "dq", "subarr_map", "area")


def budget_from_env(name: str = BUDGET_ENV, default_mb: float = DEFAULT_BUDGET_MB) -> int:
    """Bytes of a pool's budget given in megabytes by environment variable ``name`` (not set, or
    not a number: ``default_mb``; never below 0)."""
    text = os.environ.get(name, "").strip()
    try:
        megabytes = float(text) if text else default_mb
    except ValueError:
        megabytes = default_mb
    return max(0, int(megabytes * 2**20))


class BufferPool:
    """Frame-sized buffers kept for reuse (see the module docstring)."""

    def __init__(self, budget: int | None = None) -> None:
        self.budget = budget_from_env() if budget is None else int(budget)
        self._free: dict[int, list[np.ndarray]] = {}
        self._held = 0
        #: id -> weak reference of every buffer the pool made (ndarrays are not hashable)
        self._born: dict[int, weakref.ref] = {}
        # re-entrant: freeing a buffer runs its weak reference's callback, which takes it too
        self._lock = threading.RLock()
        #: how many takes were served from the pool, and how many needed new memory
        self.reused = 0
        self.fresh = 0

    @property
    def held_bytes(self) -> int:
        return self._held

    def take(self, shape, dtype) -> np.ndarray:
        """A new array of ``shape`` and ``dtype``, contents undefined (like ``np.empty``)."""
        dtype = np.dtype(dtype)
        shape = tuple(int(n) for n in np.atleast_1d(shape)) if not isinstance(shape, int) \
            else (int(shape),)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        if nbytes < MIN_BYTES or self.budget <= 0:
            return np.empty(shape, dtype)
        with self._lock:
            buffers = self._free.get(nbytes)
            buffer = buffers.pop() if buffers else None
            if buffer is not None:
                self._held -= nbytes
                self.reused += 1
            else:
                self.fresh += 1
        if buffer is None:
            buffer = np.empty(nbytes, np.uint8)
            key = id(buffer)
            with self._lock:
                self._born[key] = weakref.ref(buffer, lambda _ref, key=key: self._forget(key))
        return buffer.view(dtype).reshape(shape)

    def _forget(self, key: int) -> None:
        with self._lock:
            self._born.pop(key, None)

    def _made_here(self, buffer) -> bool:
        ref = self._born.get(id(buffer))
        return ref is not None and ref() is buffer

    def take_like(self, array: np.ndarray) -> np.ndarray:
        return self.take(array.shape, array.dtype)

    def _put(self, buffer: np.ndarray) -> None:
        with self._lock:
            if self._held + buffer.nbytes > self.budget:
                return
            self._free.setdefault(buffer.nbytes, []).append(buffer)
            self._held += buffer.nbytes

    def recycle(self, models: list) -> int:
        """Empty ``models`` (ImageModels the caller is done with) and keep the buffers nothing
        else refers to; returns how many were kept."""
        kept = 0
        while models:
            model = models.pop()
            # references: this local and getrefcount's argument; more = someone else has it
            if sys.getrefcount(model) > 2:
                continue
            for name in MODEL_ARRAYS:
                kept += self._recycle_attribute(model, name)
            del model
        return kept

    def _recycle_attribute(self, model, name: str) -> int:
        array = getattr(model, name, None)
        if not isinstance(array, np.ndarray) or array.nbytes < MIN_BYTES:
            return 0
        buffer = array.base
        # the array: the model's attribute, this local, the argument; its buffer: the array's
        # base, this local, the argument (another view of the buffer would add one)
        if (buffer is None or not self._made_here(buffer) or buffer.nbytes != array.nbytes
                or sys.getrefcount(array) > 3 or sys.getrefcount(buffer) > 3):
            return 0
        del array
        setattr(model, name, None)
        self._put(buffer)
        return 1

    def release(self, model, names: tuple[str, ...] = MODEL_ARRAYS) -> int:
        """Replace ``model``'s arrays (``names``) by read-only placeholders of the same shape and
        dtype (NaN, 0 for integers: shape, window and header still answer) and keep the buffers
        nothing else refers to; other models sharing an array keep it. Returns buffers kept."""
        kept = 0
        for name in names:
            array = getattr(model, name, None)
            if not isinstance(array, np.ndarray) or array.nbytes < MIN_BYTES:
                continue
            fill = np.nan if array.dtype.kind in "fc" else 0
            setattr(model, name, np.broadcast_to(np.array(fill, array.dtype), array.shape))
            buffer = array.base
            # now only this local and the argument hold the array; the buffer: its base
            # pointer, this local and the argument
            if (buffer is not None and self._made_here(buffer) and buffer.nbytes == array.nbytes
                    and sys.getrefcount(array) <= 2 and sys.getrefcount(buffer) <= 3):
                del array
                self._put(buffer)
                kept += 1
        return kept

    def clear(self) -> None:
        with self._lock:
            free, self._free = self._free, {}
            self._held = 0
        free.clear()  # the buffers are freed here, outside the lock


#: the process's pool (the steps and the reader share it)
POOL = BufferPool()


def take(shape, dtype) -> np.ndarray:
    return POOL.take(shape, dtype)


def take_like(array: np.ndarray) -> np.ndarray:
    return POOL.take_like(array)


def recycle(models: list) -> int:
    return POOL.recycle(models)


def release(model, names: tuple[str, ...] = MODEL_ARRAYS) -> int:
    return POOL.release(model, names)
