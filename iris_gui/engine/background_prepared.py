"""Combining the same backgrounds again with another sigma, without redoing the sigma-free work.

``prepare_backgrounds(sci, err, dq)`` does once what every sigma shares: the outputs as if every
member were kept (the float32 member-order mean, ``sqrt(sum ERR**2) / N``, the OR of the DQ) and,
per pixel, a *critical sigma*: above it the float32 first pass of ``combine_backgrounds`` settles
the pixel (astropy clips nothing there). ``combine_prepared(prepared, sigma, maxiters)`` then
copies the all-kept outputs and redoes, exactly as ``combine_backgrounds`` does, only the pixels
whose critical sigma is not below ``sigma``: non-finite values, outliers and near misses. The
result is bit for bit that of ``combine_backgrounds(sci, err, dq, sigma, maxiters)``.

Why the critical sigma gives the same settled pixels or fewer: the first pass settles a pixel when
``sigma * std - (median - min) > tol`` and ``sigma * std - (max - median) > tol`` with
``tol = max|x| * 4u (4 + sigma (2N + 16))`` (u = 2**-24). Both are linear in sigma::

    sigma * (std - 4u (2N + 16) max|x|) > (median - min) + 16u max|x|    (and likewise for max)

so the pixel is settled exactly when sigma exceeds the ratio of the two sides, computed here in
float64 from the first pass's float32 median, std, min and max, and stored rounded up. Pixels that
the test does not settle are computed exactly (``background_clip.clip_columns``), so a stricter
test costs time, never correctness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .background_clip import clip_columns, sorting_pairs
from .background_combine import CombinedBackground, check_clip_parameters
from .background_kernel import (
    BLOCK_PIXELS,
    GENERAL_SUB_PIXELS,
    HARD_CHUNK_PIXELS,
    CombineKernel,
)
from .background_outputs import Block, finish_all_used, finish_subset
from .blocks import rows_per_block, run_row_blocks
from .cancel import CancelToken

__all__ = ["PreparedBackgrounds", "combine_prepared", "prepare_backgrounds"]

_U32 = 2.0**-24
#: a pixel never settled by the first pass (non-finite values, or no spread to clip with)
_NEVER = np.float32(np.inf)
#: a pixel settled for every sigma (all values equal and finite)
_ALWAYS = np.float32(-1.0)


@dataclass
class PreparedBackgrounds:
    """What every sigma shares for one set of backgrounds (arrays of the members' 2D shape)."""

    sci: list[np.ndarray]
    err: list[np.ndarray]
    data: np.ndarray  #: float32 mean of all N values
    err_all: np.ndarray  #: float32 sqrt(sum ERR**2) / N
    dq: np.ndarray  #: uint32 OR of every member's DQ
    critical_sigma: np.ndarray  #: float32: above it no value of the pixel is clipped

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes + self.err_all.nbytes + self.dq.nbytes
                   + self.critical_sigma.nbytes)


def prepare_backgrounds(
    sci: list[np.ndarray], err: list[np.ndarray], dq: list[np.ndarray], *,
    progress: Callable[[float], None] | None = None, cancel: CancelToken | None = None,
) -> PreparedBackgrounds:
    """The sigma-free part of ``combine_backgrounds`` for float32 ``sci``/``err`` and integer
    ``dq`` arrays (already validated by ``combine_backgrounds``'s rules: same 2D shape, at least
    one member). The arrays are kept by reference and must not change afterwards."""
    sci = [np.ascontiguousarray(a, dtype=np.float32) for a in sci]
    err = [np.ascontiguousarray(a, dtype=np.float32) for a in err]
    dq = [np.ascontiguousarray(a) for a in dq]
    shape = sci[0].shape
    ny, nx = shape
    data = np.empty(shape, np.float32)
    err_all = np.empty(shape, np.float32)
    dq_out = np.empty(shape, np.uint32)
    critical = np.empty(shape, np.float32)
    n_used = np.empty(shape, np.uint16)  # filled by finish_all_used, not kept
    outputs = (data, err_all, dq_out, n_used)
    # sigma only enters the kernel's tolerance, which the critical sigma takes apart again
    kernel = CombineKernel(sci, err, dq, outputs, 1.0, None, force_general=True)
    flat_critical = critical.reshape(-1)

    def work(rows: slice) -> None:
        blk = Block(rows, sci, err, dq, outputs)
        offset = rows.start * nx
        for start in range(0, blk.size, GENERAL_SUB_PIXELS):
            part = slice(start, min(start + GENERAL_SUB_PIXELS, blk.size))
            x = [values[part] for values in blk.x]
            target = flat_critical[offset + part.start: offset + part.stop]
            with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
                sums = kernel.sum_members(x)
                _critical_sigma(kernel, x, sums, target)
            finish_all_used(blk, part, sums, kernel.scratch, None)

    run_row_blocks(ny, rows_per_block(nx, BLOCK_PIXELS), work, progress=progress, cancel=cancel)
    return PreparedBackgrounds(list(sci), list(err), data, err_all, dq_out, critical)


def _critical_sigma(kernel: CombineKernel, x, sums: np.ndarray, out: np.ndarray) -> None:
    """Write each pixel's critical sigma into ``out`` (float32), from the first pass's float32
    min, max, median and population std, exactly as ``CombineKernel`` computes them.

    In float32 too: ``median - min`` and ``max - median`` are exact or within one rounding,
    and where ``D = std - 4u (2N + 16) max|x|`` keeps at least half of ``std`` it carries a few
    roundings at most, so the ratio is within ~8u of its exact value; it is raised by 64u and
    one ulp. Where D is under half of std (noise 10**5 times smaller than the level) the pixel
    is left to the exact pass."""
    n, buffer, size = kernel.n, kernel.scratch, x[0].size
    finite, std, median, low, high, maxabs = kernel.first_pass(x, sums)
    finite &= np.isfinite(sums)
    np.maximum(np.negative(low, out=maxabs), high, out=maxabs)
    numerator = buffer("numerator", size)
    np.subtract(median, low, out=numerator)
    spread_hi = buffer("spread_hi", size)
    np.subtract(high, median, out=spread_hi)
    np.maximum(numerator, spread_hi, out=numerator)
    denominator = spread_hi
    np.multiply(maxabs, np.float32(16.0 * _U32), out=denominator)
    np.add(numerator, denominator, out=numerator)
    np.multiply(maxabs, np.float32(4.0 * _U32 * (2 * n + 16)), out=denominator)
    np.subtract(std, denominator, out=denominator)
    usable = denominator > np.float32(0.5) * std
    usable &= finite
    np.divide(numerator, denominator, out=out)
    np.multiply(out, np.float32(1.0 + 64.0 * _U32), out=out)
    np.nextafter(out, _NEVER, out=out)
    out[~usable] = _NEVER
    out[finite & (low == high)] = _ALWAYS


def combine_prepared(
    prepared: PreparedBackgrounds, sigma: float, maxiters: int | None = None, *,
    progress: Callable[[float], None] | None = None, cancel: CancelToken | None = None,
) -> CombinedBackground:
    """``combine_backgrounds(sci, err, dq, sigma, maxiters)`` of the prepared backgrounds, bit
    for bit, computing only the pixels that sigma may clip (InputError for a bad sigma or
    maxiters, as there)."""
    sigma, maxiters = check_clip_parameters(sigma, maxiters)
    n = len(prepared.sci)
    shape = prepared.data.shape
    data = prepared.data.copy()
    err_out = prepared.err_all.copy()
    dq_out = prepared.dq.copy()
    n_used = np.full(shape, n, np.uint16)
    threshold = np.float32(sigma)
    if float(threshold) > sigma:  # compare with a float32 no larger than sigma
        threshold = np.nextafter(threshold, np.float32(-np.inf))
    hard = np.flatnonzero(~(prepared.critical_sigma.reshape(-1) < threshold))
    if hard.size:
        # one Block over the whole frame: the flat views the finishing functions work on
        whole = Block(slice(0, shape[0]), prepared.sci, prepared.err, [dq_out] * n,
                      (data, err_out, dq_out, n_used))
        pairs = sorting_pairs(n)
        chunks = -(-hard.size // HARD_CHUNK_PIXELS)

        def work(numbers: slice) -> None:
            for number in range(numbers.start, numbers.stop):
                where = hard[number * HARD_CHUNK_PIXELS:(number + 1) * HARD_CHUNK_PIXELS]
                xs = np.array([values[where] for values in whole.x])
                mask, _ = clip_columns(xs, sigma, maxiters, pairs)
                finish_subset(whole, where, xs, mask, None)  # pixels of this chunk only

        run_row_blocks(chunks, 4, work, progress=progress, cancel=cancel)
    elif progress is not None:
        progress(1.0)
    return CombinedBackground(data=data, err=err_out, dq=dq_out, n_used=n_used)
