"""Run the inspection views' heavy numpy work (quantizing 4096² frames, DQ masks, region
statistics, zscale) on a private ``QThreadPool``; results come back to the GUI thread by signal.

Each task has a key; a key already in flight is not submitted twice. ``shutdown`` drops queued
tasks and waits for running ones and for the pool's threads to exit, so no thread outlives the
view (tests rely on it).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from .thread_priority import lower_thread_priority

log = logging.getLogger("iris_gui.gui")

#: the pool's threads' niceness above the GUI thread's: a new frame's quantizing must not take
#: the core a paint or a key press needs
POOL_NICENESS = 3
#: milliseconds an idle pool thread is kept: frames that come every few seconds (a watched
#: folder's exposures) reuse the threads instead of starting new ones on the GUI thread's submit
IDLE_THREAD_MS = 60_000


class _Relay(QObject):
    #: key, result, error message ("" on success) — emitted from a pool thread, received queued
    done = Signal(object, object, str)


class _Task(QRunnable):
    def __init__(self, relay: _Relay, key: Hashable, fn: Callable[..., Any], args: tuple) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.relay = relay
        self.key = key
        self.fn = fn
        self.args = args

    def run(self) -> None:  # pool thread
        lower_thread_priority(POOL_NICENESS)
        try:
            result, error = self.fn(*self.args), ""
        except Exception as exc:  # noqa: BLE001 - reported to the GUI thread
            log.exception("inspection task %r failed", self.key)
            result, error = None, f"{type(exc).__name__}: {exc}"
        self.fn = self.args = None
        self.relay.done.emit(self.key, result, error)


class TaskRunner(QObject):
    """Key-deduplicated background tasks; ``finished(key, result, error)`` on the GUI thread.

    The queue is kept here, not in the pool: ``QThreadPool.start(task, priority)`` drops the
    priority when it hands a task to an idle thread (Qt 6.11 ``tryStart`` enqueues at priority 0),
    so a later low-priority task could overtake it. Tasks are given to the pool only when a thread
    is free, highest priority first (first come first served within a priority).
    """

    finished = Signal(object, object, str)

    def __init__(self, parent: QObject | None = None, threads: int = 2) -> None:
        super().__init__(parent)
        self.threads = max(1, threads)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(self.threads)
        self.pool.setExpiryTimeout(IDLE_THREAD_MS)
        self._relay = _Relay(self)
        self._relay.done.connect(self._done)
        self._running: dict[Hashable, _Task] = {}
        self._queued: dict[Hashable, tuple[int, int, _Task]] = {}
        self._order = 0
        self.closed = False

    def submit(self, key: Hashable, fn: Callable[..., Any], *args: Any, priority: int = 0) -> bool:
        """Queue ``fn(*args)`` unless ``key`` is already queued or running; queued tasks of
        higher ``priority`` start first."""
        if self.closed or key in self._running or key in self._queued:
            return False
        self._order += 1
        self._queued[key] = (priority, self._order, _Task(self._relay, key, fn, args))
        self._pump()
        return True

    def _pump(self) -> None:
        while self._queued and len(self._running) < self.threads and not self.closed:
            key = min(self._queued, key=lambda k: (-self._queued[k][0], self._queued[k][1]))
            task = self._queued.pop(key)[2]
            self._running[key] = task
            self.pool.start(task)

    def discard(self, predicate: Callable[[Hashable], bool]) -> int:
        """Drop queued (not yet running) tasks whose key matches; returns how many."""
        drop = [key for key in self._queued if predicate(key)]
        for key in drop:
            del self._queued[key]
        return len(drop)

    def in_flight(self, key: Hashable) -> bool:
        return key in self._running or key in self._queued

    def matching(self, predicate: Callable[[Hashable], bool]) -> bool:
        return any(predicate(key) for key in (*self._running, *self._queued))

    @property
    def busy(self) -> bool:
        return bool(self._running or self._queued)

    def _done(self, key: Hashable, result: Any, error: str) -> None:
        self._running.pop(key, None)
        if not self.closed:
            self._pump()
            self.finished.emit(key, result, error)

    def shutdown(self) -> None:
        """Drop queued tasks, wait for running ones; the pool's threads exit. Safe to repeat."""
        self.closed = True
        self._queued.clear()
        self.pool.clear()
        self.pool.waitForDone(-1)
        self._running.clear()


class LRUCache:
    """A small LRU mapping; entries may carry objects to keep alive alongside the value."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return default
            self._items.move_to_end(key)
            return item[0]

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def put(self, key: Hashable, value: Any, keep_alive: Any = None) -> None:
        with self._lock:
            self._items[key] = (value, keep_alive)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
