"""Drizzle one exposure on every core: blocks of input rows in forked processes, each into its own
output, combined by their weights.

drizzle's C kernel holds the GIL for a whole ``add_image`` call (cdrizzle never releases it: its
shared object imports no ``PyEval_SaveThread``), so threads cannot drizzle side by side. Instead
the input rows are cut into one block per worker: the calling process drizzles the first block
into its output, each other block is drizzled by a forked child into an output of its own in
shared anonymous memory (untouched pages cost nothing), and the children's outputs are combined
into the caller's by their weights, over the rectangle each block can reach.

Equality with one drizzle call: drizzle adds the input pixels in row order, so an output pixel that
only one block reaches gets the same contributions in the same order: the same bits. A pixel two
blocks reach (a seam a few output rows wide, as wide as the rotation shears a row) is the weighted
mean of the two partial means, computed in double and rounded once to float32, as drizzle's own
running mean is after each pixel: it differs from one call by a few float32 ulp of the values
combined (tested). WHT is the float32 sum of the weights, DQ and the context the OR.

Why fork is safe here (the product pool spawns its workers, since a caller may have threads): the
child inherits the input planes, the pixel map and the weight function without a copy, runs only
numpy and drizzle on them, imports nothing, logs nothing, touches no Qt, and ends with
``os._exit``. SIGINT is blocked in it; the parent kills it on a cancel or an error.

Workers (``worker_count``): the process's core budget (``cores``: every core it may run on, or
``iris-image2 --jobs N``); 1 when
``IRIS_RESAMPLE_WORKERS`` says so, inside a worker process of a product pool (iris-image2 --jobs N
and Dask already run products side by side), where fork is missing, or for small frames, where
forking and combining cost more than they save. rateints: every worker drizzles its rows of every
integration, so the integrations are drizzled on all cores too.
"""

from __future__ import annotations

import logging
import math
import mmap
import multiprocessing
import os
import signal
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import buffer_pool
from .blocks import rows_per_block, run_row_blocks
from .cancel import CancelToken, check_cancel
from .cores import core_budget
from .dq import DQ_DTYPE
from .errors import InputError

log = logging.getLogger(__name__)

#: environment variable that sets the number of drizzle processes (1 = this process only)
WORKERS_ENV = "IRIS_RESAMPLE_WORKERS"
#: input pixels a worker must have for forking it to pay (fork, first touches, combine ~20 ms)
MIN_WORKER_PIXELS = 1 << 19
MAX_WORKERS = 8
#: input pixels per drizzle call: drizzle holds the GIL for a whole call, so a block of one
#: integration is drizzled in bands of rows (~45 ms each) with a cancel check and progress between
BAND_PIXELS = 1 << 20
MIN_BAND_ROWS = 4
#: seconds between checks of the children while the parent waits for them
WAIT_POLL = 0.005

Planes = Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]
FillWeights = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]


def worker_count(input_pixels: int, requested: int | None = None) -> int:
    """Processes to drizzle ``input_pixels`` with (see the module docstring)."""
    if requested is None:
        text = os.environ.get(WORKERS_ENV, "").strip()
        if text:
            try:
                requested = int(text)
            except ValueError:
                requested = 0
            if requested < 1:
                raise InputError(f"{WORKERS_ENV}={text[:20]!r}: expected a whole number >= 1")
    if requested is not None:
        wanted = max(1, int(requested))
    elif multiprocessing.parent_process() is not None:
        return 1  # a product worker: its pool already keeps the cores busy
    else:
        wanted = min(core_budget(), MAX_WORKERS, max(1, input_pixels // MIN_WORKER_PIXELS))
    return wanted if hasattr(os, "fork") else 1


def row_bands(first: int, stop: int, nx: int) -> list[tuple[int, int]]:
    """(first, last) input rows, inclusive, of each drizzle call for rows first..stop-1 of one
    integration. Drizzling the bands in row order adds the same contributions in the same order as
    one call, so the output is the same to the bit; several integrations are not banded (drizzle's
    context bookkeeping counts calls)."""
    rows = max(MIN_BAND_ROWS, BAND_PIXELS // max(1, nx))
    bands = [(start, min(stop, start + rows) - 1) for start in range(first, stop, rows)]
    if len(bands) > 1 and bands[-1][1] - bands[-1][0] + 1 < MIN_BAND_ROWS:
        # drizzle refuses a band of one row ("too few valid pixels"): join it to the one before
        bands[-2:] = [(bands[-2][0], stop - 1)]
    return bands


@dataclass
class DrizzleOutput:
    """What drizzle accumulates: mean SCI, variance (drizzled with squared weights), summed
    weight, OR of DQ, and the context (planes, ny, nx) when there are several integrations."""

    sci: np.ndarray
    var: np.ndarray
    wht: np.ndarray
    dq: np.ndarray
    ctx: np.ndarray | None

    @classmethod
    def zeros(cls, out_shape: tuple[int, int], context_planes: int, *,
              shared: bool = False) -> DrizzleOutput:
        make = _shared_zeros if shared else np.zeros
        ctx = make((context_planes,) + tuple(out_shape), np.int32) if context_planes else None
        return cls(make(out_shape, np.float32), make(out_shape, np.float32),
                   make(out_shape, np.float32), make(out_shape, DQ_DTYPE), ctx)


def _shared_zeros(shape: tuple[int, ...], dtype) -> np.ndarray:
    """Zeros in anonymous shared memory (mmap(-1) is MAP_SHARED): a forked child's writes are
    seen by its parent; pages never written are never allocated."""
    count = int(np.prod(shape))
    buffer = mmap.mmap(-1, max(1, count * np.dtype(dtype).itemsize))
    return np.frombuffer(buffer, dtype=dtype, count=count).reshape(shape)


@dataclass(frozen=True)
class DrizzleJob:
    """One exposure to drizzle: its planes (data, err, dq per integration), the pixel map, the
    output grid and drizzle's settings; ``fill_weights(data, err, dq, weight, variance)`` fills a
    block's weights and variance (ERR**2) in place."""

    planes: Planes
    pixmap: np.ndarray
    out_shape: tuple[int, int]
    fill_weights: FillWeights
    exptime: float
    kernel: str = "square"
    pixfrac: float = 1.0
    iscale: float = 1.0
    pixel_scale_ratio: float = 1.0

    @property
    def nints(self) -> int:
        return len(self.planes)

    @property
    def input_shape(self) -> tuple[int, int]:
        return self.planes[0][0].shape


def _drizzle_block(job: DrizzleJob, first: int, stop: int, out: DrizzleOutput,
                   after_call: Callable[[float], None]) -> None:
    """Drizzle input rows first..stop-1 of every integration into ``out``.

    drizzle gets rows first-1 .. stop+1 (views) and ``ymin``/``ymax`` relative to them: its corner
    interpolation reads one neighbour row each side and takes its exact path only away from the
    array's last two rows, so the block's pixels are drizzled as in a call on the whole frame.
    ``after_call(fraction done)`` runs after every drizzle call."""
    from drizzle.resample import Drizzle

    ny, nx = job.input_shape
    lo, hi = max(first - 1, 0), min(stop + 2, ny)
    nints = job.nints
    driz = Drizzle(kernel=job.kernel, fillval="INDEF", fillval2="INDEF", out_img=out.sci,
                   out_wht=out.wht, out_img2=[out.var], out_dq=out.dq, out_ctx=out.ctx,
                   disable_ctx=nints == 1, max_ctx_id=max(nints - 1, 0))
    pixmap = job.pixmap[lo:hi]
    weight = np.empty((hi - lo, nx), np.float32)
    variance = np.empty((hi - lo, nx), np.float32)
    bands = row_bands(first, stop, nx) if nints == 1 else [(first, stop - 1)]
    calls = nints * len(bands)
    for k, (data, err, dq) in enumerate(job.planes):
        data, err, dq = data[lo:hi], err[lo:hi], dq[lo:hi]
        job.fill_weights(data, err, dq, weight, variance)
        for band, (top, bottom) in enumerate(bands):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # drizzle warns about non-conserving kernels
                driz.add_image(data, job.exptime, pixmap, data2=[variance], dq=dq,
                               weight_map=weight, pixfrac=job.pixfrac, iscale=job.iscale,
                               pixel_scale_ratio=job.pixel_scale_ratio, in_units="cps",
                               ymin=top - lo, ymax=bottom - lo)
            after_call((k * len(bands) + band + 1) / calls)


# ---- where a block's contributions can land ------------------------------------------------------

def reach_rectangle(pixmap: np.ndarray, first: int, stop: int, out_shape: tuple[int, int],
                    pixel_scale_ratio: float) -> tuple[slice, slice] | None:
    """(rows, columns) of the output that input rows first..stop-1 can reach, or None.

    The image of a block under a continuous one-to-one map is bounded by the image of the block's
    edge, so its four edges give the extent (every pixel when an edge holds NaN); the margin is
    4 input pixels (lanczos3 reaches 3, the square kernel's corners 1) at the largest output step
    between neighbouring edge pixels or 1/pixel_scale_ratio, plus 2."""
    block = pixmap[first:stop]
    edges = [block[0], block[-1], block[:, 0], block[:, -1]]
    if any(np.isnan(edge).any() for edge in edges):
        points = block.reshape(-1, 2)
        if np.isnan(points).all():
            return None
        low, high = np.nanmin(points, axis=0), np.nanmax(points, axis=0)
    else:
        low = np.min([edge.min(axis=0) for edge in edges], axis=0)
        high = np.max([edge.max(axis=0) for edge in edges], axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an edge of NaNs: no step from it
        steps = [np.nanmax(np.abs(np.diff(edge, axis=0))) for edge in edges if len(edge) > 1]
    step = max([float(s) for s in steps if np.isfinite(s)] + [0.0])
    margin = math.ceil(4.0 * max(step, 1.0 / pixel_scale_ratio)) + 2
    ny_out, nx_out = out_shape
    y0, y1 = max(0, math.floor(low[1]) - margin), min(ny_out, math.ceil(high[1]) + margin + 1)
    x0, x1 = max(0, math.floor(low[0]) - margin), min(nx_out, math.ceil(high[0]) + margin + 1)
    if y0 >= y1 or x0 >= x1:
        return None
    return slice(y0, y1), slice(x0, x1)


def combine_into(total: DrizzleOutput, part: DrizzleOutput,
                 region: tuple[slice, slice] | None) -> None:
    """Add ``part`` (drizzled from other input pixels) into ``total`` within ``region``: where
    only part has weight its values are taken as they are; where both have, SCI is the weighted
    mean and the variance sum(w² var) / (sum w)², in double, rounded once to float32 as drizzle
    rounds its running means; WHT the float32 sum; DQ and context OR-ed."""
    if region is None:
        return
    rows, cols = region

    def work(block: slice) -> None:
        r = slice(rows.start + block.start, rows.start + block.stop)
        w_total, w_part = total.wht[r, cols], part.wht[r, cols]
        has_part = w_part != 0
        if not has_part.any():
            return
        both = has_part & (w_total != 0)
        only_part = has_part & ~both
        if both.any():
            at = np.nonzero(both)
            a = w_total[at].astype(np.float64)
            b = w_part[at].astype(np.float64)
            wsum = a + b
            sci = total.sci[r, cols]
            sci[at] = (sci[at] * a + part.sci[r, cols][at] * b) / wsum
            var = total.var[r, cols]
            var[at] = (var[at] * (a * a) + part.var[r, cols][at] * (b * b)) / (wsum * wsum)
            w_total[at] = wsum
        for name in ("sci", "var", "wht"):
            np.copyto(getattr(total, name)[r, cols], getattr(part, name)[r, cols],
                      where=only_part)
        np.bitwise_or(total.dq[r, cols], part.dq[r, cols], out=total.dq[r, cols])
        if total.ctx is not None:
            np.bitwise_or(total.ctx[:, r, cols], part.ctx[:, r, cols],
                          out=total.ctx[:, r, cols])

    n_rows = rows.stop - rows.start
    run_row_blocks(n_rows, rows_per_block(cols.stop - cols.start), work)


# ---- the run ---------------------------------------------------------------------------------------

def block_rows(ny: int, workers: int) -> list[tuple[int, int]]:
    """(first, stop) input rows of each worker's block: equal shares, in order, none empty."""
    workers = max(1, min(workers, ny // (2 * MIN_BAND_ROWS) or 1))
    edges = [round(ny * i / workers) for i in range(workers + 1)]
    return [(edges[i], edges[i + 1]) for i in range(workers)]


@dataclass
class _Child:
    pid: int
    status: int  # read end of the pipe the child writes its error to
    first: int
    stop: int
    out: DrizzleOutput | None
    exit_code: int | None = None
    error: str = ""


def _start_child(job: DrizzleJob, first: int, stop: int, out: DrizzleOutput,
                 progress: np.ndarray, slot: int) -> _Child:
    """Fork a child drizzling rows first..stop-1 into ``out``; a fork that fails (no memory, no
    processes left) gives a child that has already failed, so the parent drizzles the block."""
    try:
        read_end, write_end = os.pipe()
    except OSError as error:
        return _Child(0, -1, first, stop, out, exit_code=-1, error=str(error))
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        with warnings.catch_warnings():
            # Python >= 3.12 warns about forking a process that has threads (see above)
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                pid = os.fork()
            except OSError as error:
                os.close(read_end)
                os.close(write_end)
                return _Child(0, -1, first, stop, out, exit_code=-1, error=str(error))
            if pid == 0:  # the child: drizzle, report, leave without any clean-up of the parent's
                code = 1
                try:
                    os.close(read_end)

                    def after_call(fraction: float) -> None:
                        progress[slot] = fraction

                    _drizzle_block(job, first, stop, out, after_call)
                    code = 0
                except BaseException as error:  # noqa: BLE001 - reported to the parent
                    try:
                        os.write(write_end, f"{type(error).__name__}: {error}"[:2000].encode())
                    except BaseException:  # noqa: BLE001
                        pass
                finally:
                    os._exit(code)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    os.close(write_end)
    return _Child(pid, read_end, first, stop, out)


def _poll(child: _Child, block: bool) -> bool:
    """True once the child has ended (its exit code recorded)."""
    if child.exit_code is None:
        pid, status = os.waitpid(child.pid, 0 if block else os.WNOHANG)
        if pid == 0:
            return False
        child.exit_code = os.waitstatus_to_exitcode(status)
    return True


def _child_error(child: _Child) -> str:
    if child.status < 0:
        return child.error
    chunks = []
    while chunk := os.read(child.status, 4096):
        chunks.append(chunk)
    message = b"".join(chunks).decode(errors="replace").strip()
    return message or f"exit code {child.exit_code}"


def _stop_children(children: list[_Child]) -> None:
    for child in children:
        if child.pid and child.exit_code is None:
            try:
                os.kill(child.pid, signal.SIGKILL)
            except ProcessLookupError:  # pragma: no cover - already gone
                pass
            _poll(child, block=True)
        if child.status >= 0:
            os.close(child.status)
            child.status = -1


def drizzle_exposure(job: DrizzleJob, *, workers: int = 1, cancel: CancelToken | None = None,
                     progress: Callable[[float], None] | None = None) -> DrizzleOutput:
    """Drizzle every plane of ``job`` with ``workers`` processes; progress 0..1."""
    report = progress or (lambda fraction: None)
    # the pool's buffers are frame-sized and fit none of drizzle's arrays (the output grid, the
    # pixel map): held through the drizzle they would only add to the peak
    buffer_pool.POOL.clear()
    ny, _nx = job.input_shape
    blocks = block_rows(ny, workers)
    context_planes = 0 if job.nints == 1 else (job.nints - 1) // 32 + 1
    done = np.zeros(len(blocks)) if len(blocks) == 1 else _shared_zeros((len(blocks),),
                                                                         np.float64)
    total = DrizzleOutput.zeros(job.out_shape, context_planes)

    def after_own_call(fraction: float) -> None:
        done[0] = fraction
        report(float(done.mean()))
        check_cancel(cancel)

    if len(blocks) == 1:
        _drizzle_block(job, 0, ny, total, after_own_call)
        return total

    children: list[_Child] = []
    try:
        for slot, (first, stop) in enumerate(blocks[1:], start=1):
            part = DrizzleOutput.zeros(job.out_shape, context_planes, shared=True)
            children.append(_start_child(job, first, stop, part, done, slot))
        _drizzle_block(job, *blocks[0], total, after_own_call)
        while not all(_poll(child, block=False) for child in children):
            report(float(done.mean()))
            check_cancel(cancel)
            time.sleep(WAIT_POLL)
        for child in children:
            if child.exit_code != 0:
                # the block is drizzled here instead (a child killed for memory, say); a bug in
                # the block raises here as it would have in one process
                log.warning("resample: the process drizzling input rows %d..%d failed (%s); "
                            "drizzling them here", child.first, child.stop - 1,
                            _child_error(child))
                child.out = DrizzleOutput.zeros(job.out_shape, context_planes)
                _drizzle_block(job, child.first, child.stop, child.out,
                               lambda fraction: check_cancel(cancel))
            combine_into(total, child.out,
                         reach_rectangle(job.pixmap, child.first, child.stop, job.out_shape,
                                         job.pixel_scale_ratio))
            child.out = None
    finally:
        _stop_children(children)
    return total
