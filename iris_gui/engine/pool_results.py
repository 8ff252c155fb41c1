"""Results computed in a worker process, brought back to the window lazily.

A worker runs one product as the window would in its own process (``run_spilled``: the same
``Image2Pipeline.run_product`` with the window's parameters and folders) and returns a
``SpilledResult``: the ``ProductResult`` pickled, with every distinct array of at least
``SPILL_MIN_BYTES`` (the input's, each step's output's, the step products') written to a .npy
file of the job's spill folder instead. ``restore_result`` unpickles it with each such array
memory-mapped read-only from its file: nothing is read until something looks at the pixels, so
a window holding the results of many products holds their pages only while they are used.
``release_arrays`` gives the pages of a result back (the window does it for every product but
the selected one); they are read again from the files when looked at.

A restored array's file is deleted once no object uses the array any more (the whole folder is
removed by ``SpillFolder.remove`` when the window closes). Arrays are the same bytes as the
worker's (``np.save``/``np.load``; a WCS is exact too: ``pool_wcs``), and arrays shared by
several models in the worker (a step leaves what it does not change) are one file and one array
again.

Spill folders are made by ``SpillFolder`` in the system's temporary folder, never beside an
input or an output.
"""

from __future__ import annotations

import contextlib
import io
import logging
import mmap
import os
import pickle
import queue
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .association import Product
from .config import PipelineConfig
from .pool_wcs import is_wcs, reduce_wcs
from .resample_parallel import WORKERS_ENV

log = logging.getLogger("iris_gui.engine")

#: arrays smaller than this travel inside the pickled result
SPILL_MIN_BYTES = 64 * 1024
#: a worker reports a step's progress at most this often (seconds)
PROGRESS_INTERVAL = 0.1
#: the resample process count the environment gave this process (a worker's, as it started)
_INHERITED_RESAMPLE_WORKERS = os.environ.get(WORKERS_ENV)


@dataclass
class WindowJob:
    """One product to run in a worker for the window; ``tag`` names it in the events."""

    tag: int
    product: Product
    config: PipelineConfig
    #: the window's reference folder (None: each product's own folder)
    ref_dir: str | None
    #: the folder this job's arrays are written to (made by the worker)
    folder: str
    #: processes its resample drizzles with: what the window's own process would use for this
    #: frame (``window_resample_workers``), so the blocks and the bits are the same (a seam
    #: between blocks is a few ulp off one drizzle call); None: resample's rule in a pool worker
    resample_workers: int | None = None


@dataclass
class SpilledResult:
    tag: int
    folder: str
    #: the ProductResult, pickled with its big arrays replaced by their file names
    payload: bytes = b""
    files: list[str] = field(default_factory=list)
    cancelled: bool = False
    #: why there is no result (the spill could not be written)
    error: str = ""


# ---- spilling (in the worker) ---------------------------------------------------------------------

def _spillable(obj: Any) -> bool:
    return (type(obj) is np.ndarray and obj.nbytes >= SPILL_MIN_BYTES
            and not obj.dtype.hasobject)


def _model_arrays(model) -> list[np.ndarray]:
    arrays = [model.data, model.err, model.dq, model.subarr_map, model.area,
              *model.extra_arrays.values()]
    return [a for a in arrays if _spillable(a)]


class SpillWriter:
    """Writes arrays into a job's folder on a thread of its own while the product runs on: a
    step's output is written while the next step computes. ``name_of(array)`` gives the file an
    array is (or is being) written to, writing it now if it was never handed over."""

    def __init__(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        self.folder = folder
        self.files: list[str] = []
        self._names: dict[int, str] = {}
        self._arrays: list[np.ndarray] = []  # kept alive: their ids name their files
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write_queued, name="spill", daemon=True)
        self._thread.start()

    def _name_for(self, array: np.ndarray) -> tuple[str, bool]:
        name = self._names.get(id(array))
        if name is not None:
            return name, False
        name = f"{len(self.files):04d}.npy"
        self._names[id(array)] = name
        self._arrays.append(array)
        self.files.append(name)
        return name, True

    def _write(self, name: str, array: np.ndarray) -> None:
        np.save(os.path.join(self.folder, name), array, allow_pickle=False)

    def _write_queued(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is None:
                try:
                    self._write(*item)
                except BaseException as exc:  # disk full: the result says so at the end
                    self._error = exc

    def add_model(self, model) -> None:
        """Write ``model``'s arrays in the background (those not written yet)."""
        if model is None:
            return
        for array in _model_arrays(model):
            name, new = self._name_for(array)
            if new:
                self._queue.put((name, array))

    def add_step(self, result) -> None:
        for model in (result.model, *result.products.values(), *result.extra_outputs.values()):
            self.add_model(model)

    def name_of(self, array: np.ndarray) -> str:
        name, new = self._name_for(array)
        if new:
            self._write(name, array)
        return name

    def finish(self) -> None:
        """Wait for every write; raises the first write error."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


class _SpillingPickler(pickle.Pickler):
    def __init__(self, file, writer: SpillWriter) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.writer = writer

    def persistent_id(self, obj: Any) -> Any:
        return ("npy", self.writer.name_of(obj)) if _spillable(obj) else None

    def reducer_override(self, obj: Any) -> Any:
        return reduce_wcs(obj) if is_wcs(obj) else NotImplemented


def spill_result(result, tag: int, folder: str, writer: SpillWriter | None = None
                 ) -> SpilledResult:
    """``result`` (a ProductResult) as a SpilledResult, its big arrays written into ``folder``
    (by ``writer``, which may have written some already)."""
    writer = writer or SpillWriter(folder)
    buffer = io.BytesIO()
    try:
        _SpillingPickler(buffer, writer).dump(result)
    finally:
        writer.finish()
    return SpilledResult(tag, folder, buffer.getvalue(), list(writer.files))


def window_resample_workers(product: Product) -> int | None:
    """The processes the calling (the window's) process would drizzle ``product``'s frame with
    (``resample_parallel.worker_count``); None when its header cannot say."""
    from .batch import frame_axes
    from .resample_parallel import worker_count

    axes = frame_axes(product.science) if product.science else ()
    if len(axes) < 2:
        return None
    try:
        return worker_count(axes[0] * axes[1])
    except Exception:  # a bad IRIS_RESAMPLE_WORKERS: the run says so
        return None


def run_spilled(job: WindowJob) -> SpilledResult:
    """The pool task of the window's runs: one product, its result spilled (nothing else is
    written). Events: ("start", tag), ("step", tag, step, status, seconds, reason, warnings)
    with status RUNNING when a step starts, ("progress", tag, step, fraction)."""
    from .pipeline import Image2Pipeline, PipelineCallbacks
    from .product_pool import set_worker_product, worker_cancel_token, worker_post

    set_worker_product(job.product.name)
    # (a worker runs many jobs: each sets it, or puts back what the worker inherited)
    if job.resample_workers is not None:
        os.environ[WORKERS_ENV] = str(max(1, int(job.resample_workers)))
    elif _INHERITED_RESAMPLE_WORKERS is None:
        os.environ.pop(WORKERS_ENV, None)
    else:
        os.environ[WORKERS_ENV] = _INHERITED_RESAMPLE_WORKERS
    tag = job.tag
    last_progress = [0.0]
    writer = SpillWriter(job.folder)

    def step_start(product, step) -> None:
        worker_post("step", tag, step.name, "RUNNING", 0.0, "", [])

    def step_progress(product, step, fraction: float) -> None:
        now = time.monotonic()
        if now - last_progress[0] >= PROGRESS_INTERVAL:
            last_progress[0] = now
            worker_post("progress", tag, step.name, fraction)

    def step_done(product, step, result) -> None:
        writer.add_step(result)
        worker_post("step", tag, step.name, result.status, result.elapsed, result.reason or "",
                    list(result.warnings))

    worker_post("start", tag)
    callbacks = PipelineCallbacks(input_ready=lambda product, model: writer.add_model(model),
                                  step_start=step_start, step_progress=step_progress,
                                  step_done=step_done)
    # every step's arrays are kept (the window shows them all): none may be released for reuse
    # while the spill writer may still be writing it
    pipeline = Image2Pipeline(job.config, ref_dir=job.ref_dir, callbacks=callbacks, cache=False,
                              keep_intermediates=True)
    cancel = worker_cancel_token()
    result = pipeline.run_product(job.product, cancel)
    if result.cancelled or (cancel is not None and cancel.cancelled):
        writer.finish()
        return SpilledResult(tag, job.folder, cancelled=True)
    try:
        return spill_result(result, tag, job.folder, writer)
    except OSError as exc:
        return SpilledResult(tag, job.folder, error=f"its arrays could not be written to the "
                                                    f"spill folder {job.folder}: {exc}")


# ---- restoring (in the window) ----------------------------------------------------------------------

def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


class _RestoringUnpickler(pickle.Unpickler):
    def __init__(self, file, folder: str) -> None:
        super().__init__(file)
        self.folder = folder
        self._arrays: dict[str, np.ndarray] = {}

    def persistent_load(self, pid: Any) -> np.ndarray:
        kind, name = pid
        if kind != "npy" or os.sep in name or name.startswith("."):
            raise pickle.UnpicklingError(f"unexpected spilled array {pid!r}")
        array = self._arrays.get(name)
        if array is None:
            path = os.path.join(self.folder, name)
            mapped = np.load(path, mmap_mode="r", allow_pickle=False)
            # the file goes when the last array using its mapping does
            weakref.finalize(mapped, _unlink, path)
            array = self._arrays[name] = mapped.view(np.ndarray)
        return array


def restore_result(spilled: SpilledResult, product: Product):
    """The ProductResult of ``spilled`` (for the window's ``product`` object), its big arrays
    memory-mapped from their files."""
    result = _RestoringUnpickler(io.BytesIO(spilled.payload), spilled.folder).load()
    result.product = product  # the window's own object: it keys everything on it
    return result


def result_arrays(result) -> list[np.ndarray]:
    """Every array of every model of ``result`` (input, step outputs, step products)."""
    models = [result.input_model]
    for step in result.steps.values():
        models.append(step.model)
        models.extend(step.products.values())
        models.extend(step.extra_outputs.values())
    arrays: list[np.ndarray] = []
    for model in models:
        if model is None:
            continue
        arrays.extend(a for a in (model.data, model.err, model.dq, model.subarr_map, model.area)
                      if isinstance(a, np.ndarray))
        arrays.extend(a for a in model.extra_arrays.values() if isinstance(a, np.ndarray))
    return arrays


def _mapping_of(array: np.ndarray) -> mmap.mmap | None:
    base = array
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)
        if not isinstance(base, np.ndarray):
            return None
    return getattr(base, "_mmap", None)


def release_arrays(result) -> int:
    """Give back the memory pages of ``result``'s memory-mapped arrays (read again from their
    files when next looked at); returns how many mappings were released. Arrays in memory (an
    in-process result) are left alone."""
    if not hasattr(mmap, "MADV_DONTNEED"):  # pragma: no cover - not Linux / macOS
        return 0
    released = 0
    seen: set[int] = set()
    for array in result_arrays(result):
        mapping = _mapping_of(array)
        if mapping is None or id(mapping) in seen:
            continue
        seen.add(id(mapping))
        with contextlib.suppress(ValueError, OSError):  # closed meanwhile
            mapping.madvise(mmap.MADV_DONTNEED)
            released += 1
    return released


def is_spilled(result) -> bool:
    """True when ``result``'s arrays are memory-mapped from spill files."""
    return any(_mapping_of(a) is not None for a in result_arrays(result)[:3])


#: the names of spill folders in the temporary folder, and the file naming the window's process
SPILL_PREFIX = "iris-gui-spill-"
OWNER_FILE = "owner.pid"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive as far as we can tell
        return True
    return True


def remove_abandoned_spill_folders(parent: str | None = None) -> list[str]:
    """Remove the spill folders (ours: same user) of windows whose process is gone (killed:
    nothing removed them); returns those removed."""
    parent = parent or tempfile.gettempdir()
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(parent):
            if not entry.name.startswith(SPILL_PREFIX) or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                    continue
                with open(os.path.join(entry.path, OWNER_FILE)) as handle:
                    pid = int(handle.read().strip())
            except (OSError, ValueError):
                continue  # being made, or not one of ours
            if pid != os.getpid() and not _process_alive(pid):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.path)
    return removed


class SpillFolder:
    """A window's spill folder (in the system's temporary folder), one subfolder per job;
    ``remove()`` deletes it all (the window does when it closes; also at exit). Making one
    first removes those left by windows that were killed."""

    def __init__(self, parent: str | None = None) -> None:
        for path in remove_abandoned_spill_folders(parent):
            log.info("removed the spill folder of a window that is gone: %s", path)
        self.path = tempfile.mkdtemp(prefix=SPILL_PREFIX, dir=parent)
        with open(os.path.join(self.path, OWNER_FILE), "w") as handle:
            handle.write(str(os.getpid()))
        self._count = 0
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, True)

    def job_folder(self, name: str) -> str:
        self._count += 1
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40]
        return os.path.join(self.path, f"{self._count:05d}-{safe}")

    def discard(self, folder: str) -> None:
        """Delete a job's folder (a cancelled or failed job)."""
        if os.path.dirname(folder) == self.path:
            shutil.rmtree(folder, ignore_errors=True)

    def remove(self) -> None:
        self._finalizer()

    @property
    def removed(self) -> bool:
        return not self._finalizer.alive
