"""Star check picks measured in a process of their own, on cut-outs of the frames (no Qt).

Why a process: photutils' fits (``centroid_2dg``, ``fit_fwhm``, ``ApertureStats``) are ~40 ms
of Python (astropy tables and models) per pick. On a thread they hold Python's lock, and the GUI
thread, which needs it for every Python call it makes while painting (pyqtgraph's items are
Python), waits up to the switch interval (5 ms) at each one: a pick stalled the GUI 60-90 ms.
In another process it holds no lock of ours.

What it is sent: for each pane's ``measure_star``, the cut-out of the frame and DQ it reads
(~50 x 50 pixels, not the 4096² frame). ``measure_check``'s steps between (the other pane, the
WCS) run in the calling thread with the panes' own WCS, so the numbers are the same to the
bit. The process (``star_check_worker``, a module run on its own: nothing of the GUI is copied
or imported again) is started on first use and kept; photutils is imported in it when pick mode is switched on
(``warm_up``). If the process cannot be used (it died or hangs) the pane is measured in the
calling thread instead, as before.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from dataclasses import replace

import numpy as np

from . import star_check as sc
from . import star_check_worker as worker

log = logging.getLogger("iris_gui.display")

__all__ = ["measure_in_process", "warm_up", "shutdown", "MeasuringProcess"]

#: a pick that takes longer than this in the process is measured here instead
PICK_TIMEOUT_S = 60.0

_lock = threading.Lock()
_worker: MeasuringProcess | None = None


def _cut(frame: sc.StarFrame, x: float, y: float, half: int) -> sc.StarFrame:
    """``frame`` cut to the pixels within ``half`` of (x, y) (a copy: it is pickled)."""
    ny, nx = frame.shape
    x0, y0 = max(0, int(math.floor(x)) - half), max(0, int(math.floor(y)) - half)
    x1 = min(nx, max(x0, int(math.floor(x)) + half + 1))
    y1 = min(ny, max(y0, int(math.floor(y)) + half + 1))
    ox, oy = frame.origin
    rows, cols = slice(y0 - oy, y1 - oy), slice(x0 - ox, x1 - ox)
    dq = frame.dq[rows, cols].copy() if frame.dq is not None else None
    return replace(frame, data=np.ascontiguousarray(frame.data[rows, cols]), dq=dq,
                   origin=(x0, y0), full_shape=(ny, nx))


class WorkerFailed(RuntimeError):
    """The measuring process died, hangs or answered garbage."""


#: what the process runs (``sys.executable -m WORKER_MODULE``; the bundle's window program
#: answers to the same arguments, packaging/launch_iris_gui.py)
WORKER_MODULE = "iris_gui.display.star_check_worker"


class MeasuringProcess:
    """``python -m iris_gui.display.star_check_worker`` and its pipes; one call at a time."""

    def __init__(self) -> None:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        self.lock = threading.Lock()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def call(self, name: str, *args, timeout: float = PICK_TIMEOUT_S, **kwargs):
        """``TASKS[name](*args, **kwargs)`` in the process; its exception raised here."""
        return self.send(pickle.dumps((name, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL),
                         timeout)

    def send(self, request: bytes, timeout: float = PICK_TIMEOUT_S):
        """The answer to a pickled request ``(name, args, kwargs)``."""
        with self.lock:
            deadline = time.monotonic() + timeout
            try:
                worker.write_payload(self.process.stdin, request)
                size = int.from_bytes(self._read(worker.HEADER, deadline), "little")
                status, value = pickle.loads(self._read(size, deadline))
            except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
                raise WorkerFailed(f"{type(exc).__name__}: {exc}") from exc
        if status == "error":
            raise value
        return value

    def _read(self, size: int, deadline: float) -> bytes:
        fd, chunks, left = self.process.stdout.fileno(), [], size
        while left:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise WorkerFailed(f"no answer within {PICK_TIMEOUT_S:g} s")
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise WorkerFailed(f"the process ended (exit code {self.process.poll()})")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self, wait: float = 2.0) -> None:
        try:
            self.process.stdin.close()           # the worker ends at the end of its input
            self.process.wait(wait)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


def _process() -> MeasuringProcess:
    global _worker
    with _lock:
        if _worker is None or not _worker.alive:
            _worker = MeasuringProcess()
        return _worker


def _drop(process: MeasuringProcess) -> None:
    """Forget (and stop) a process that failed: the next pick starts a new one."""
    global _worker
    with _lock:
        if _worker is process:
            _worker = None
    process.close(wait=0.5)


def warm_up() -> bool:
    """Start the process and import photutils there (~2 s, before the first click needs it)."""
    process = None
    try:
        process = _process()
        return process.call("warm_up")
    except Exception as exc:  # noqa: BLE001 - the picks fall back to the calling thread
        log.warning("star check: the measuring process could not start (%s); picks are "
                    "measured on a thread", exc)
        if process is not None:
            _drop(process)
        return False


def measure_in_process(frames: dict[str, sc.StarFrame], clicked: str, x: float, y: float,
                       radii: tuple[float, float, float], **names) -> sc.StarCheck:
    """``sc.measure_check`` with each pane's ``measure_star`` done in the process on a cut-out
    (raises ``sc.NoStar`` as it does); where the process cannot do it, in this thread."""
    return sc.measure_check(frames, clicked, x, y, radii, measure=_measure_there, **names)


def _measure_there(frame: sc.StarFrame, x: float, y: float, radii, *,
                   search: float = sc.SEARCH_RADIUS, position_by: str = "clicked"):
    """``sc.measure_star`` in the process, on the cut-out it reads, sent without the WCS (it is
    placed on the sky here, with the pane's own WCS object: the same numbers to the last bit)."""
    cut = replace(_cut(frame, x, y, sc.window_room(radii, search) + 1), wcs=None)
    request = pickle.dumps(("measure_star", (cut, x, y, radii),
                            {"search": search, "position_by": position_by}),
                           protocol=pickle.HIGHEST_PROTOCOL)
    try:
        process = _process()
    except OSError as exc:
        log.warning("star check: no measuring process (%s); measuring on this thread", exc)
        return sc.measure_star(frame, x, y, radii, search=search, position_by=position_by)
    try:
        measure = process.send(request)
    except WorkerFailed as exc:
        log.warning("star check: the measuring process failed (%s); measuring on this thread",
                    exc)
        _drop(process)
        return sc.measure_star(frame, x, y, radii, search=search, position_by=position_by)
    return sc.placed_on_sky(measure, frame.wcs)


def shutdown() -> None:
    """Stop the process (it is started again on the next pick)."""
    global _worker
    with _lock:
        process, _worker = _worker, None
    if process is not None:
        process.close()


atexit.register(shutdown)
