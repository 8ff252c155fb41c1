"""Sigma-clipped combination of background exposures, bit-for-bit like astropy.

``combine_backgrounds`` returns, per pixel, the mean of the values that
``astropy.stats.sigma_clip(np.stack(sci), sigma=sigma, maxiters=maxiters, axis=0)`` leaves
unmasked (median centre, population std, lower and upper bound ``median -/+ sigma * std``), the
propagated error ``sqrt(sum ERR**2) / n``, the OR of every input DQ and the number of values used.
The clipping mask is exactly astropy's, including its quirks: non-finite values are dropped
first; each iteration keeps ``lo <= x <= hi`` of the values still kept; the loop ends when nothing
changes, nothing is left or ``maxiters`` iterations ran; and the final mask is evaluated on *all*
values with the last bounds, so a value dropped early can come back if it lies inside them.

How it is done without stacking the inputs (10 x 4096**2 float32 would be 670 MB):

* Rows are processed in cache-sized blocks on the ``blocks`` thread pool.
* Shortcut: for n values ``|x - median| <= |x - mean| + |mean - median| <= (sqrt(n-1)+1) * std``,
  so when ``sigma`` exceeds ``sqrt(N-1) + 1`` nothing can be clipped and the mask is just "not
  finite". With the usual three backgrounds a 3-sigma clip therefore never rejects anything (the
  largest possible deviation for N = 3 is 2.12 sigma, and it stays under 3 sigma up to about N = 7):
  that is correct behaviour, not a bug, and the combine is a NaN-aware mean.
* General path, first pass (float32, per block): median from a pruned sorting network
  (``np.minimum``/``np.maximum`` compare-exchanges), mean, std, min and max. A pixel whose values
  are all finite and all inside the first bounds by a margin larger than the worst float32
  rounding error is settled: astropy stops after one iteration with nothing clipped. Constant
  columns are settled too.
* Remaining ("hard") pixels - outliers, non-finite values, near misses - are gathered and
  re-done in float64 exactly like astropy's C loop: sorted columns (non-finite last), the kept set
  is a contiguous range of the sorted values, and converged pixels drop out of later iterations.
* astropy's C code sums in the order its Wirth select leaves the buffer, so means and stds can
  differ from ours in the last bit. Pixels where any value lies within a tiny tolerance of a bound
  are handed to astropy itself, so the mask is identical even on adversarial data.

``data`` is accumulated in float32 in member order and divided by the count, which is what
``MaskedArray.mean(axis=0)`` does, so it normally matches astropy's mean bit for bit.

Where each part lives: this module validates the input and drives the row blocks (progress and
cancel); ``background_kernel`` is the per-block work (shortcut, float32 first pass, hard pixels);
``background_clip`` the sorting networks and the exact float64 clip; ``background_outputs`` the
data, ERR, DQ and n_used of each pixel once its mask is known; ``background_prepared`` the
re-combine of the same backgrounds with another sigma (live re-runs).
"""


from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .background_kernel import (
    BLOCK_PIXELS,
    GENERAL_SUB_PIXELS,
    HARD_CHUNK_PIXELS,
    SHORTCUT_SUB_PIXELS,
    CombineKernel,
)
from .blocks import rows_per_block, run_row_blocks
from .cancel import CancelToken
from .errors import InputError
from .file_rows import FileRows

__all__ = ["BLOCK_PIXELS", "GENERAL_SUB_PIXELS", "HARD_CHUNK_PIXELS", "SHORTCUT_SUB_PIXELS",
           "CombinedBackground", "check_clip_parameters", "combine_backgrounds"]


@dataclass
class CombinedBackground:
    """Result of :func:`combine_backgrounds`; all arrays have the members' 2D shape."""

    data: np.ndarray  # float32: mean of the unclipped values (NaN where none)
    err: np.ndarray  # float32: sqrt(sum of unclipped ERR**2) / n_used (NaN where none)
    dq: np.ndarray  # uint32: OR of every member's DQ, plus DO_NOT_USE where n_used == 0
    n_used: np.ndarray  # uint16: number of unclipped values


def check_clip_parameters(sigma, maxiters) -> tuple[float, int | None]:
    """``(sigma, maxiters)`` as float and int/None; InputError unless sigma is a finite number
    > 0 and maxiters None or an integer >= 1."""
    if not (isinstance(sigma, (int, float, np.integer, np.floating)) and math.isfinite(sigma)):
        raise InputError(f"sigma must be a finite number, got {sigma!r}")
    if sigma <= 0:
        raise InputError(f"sigma must be > 0, got {sigma!r}")
    if maxiters is not None:
        if isinstance(maxiters, bool) or not isinstance(maxiters, (int, np.integer)):
            raise InputError(f"maxiters must be None or an integer >= 1, got {maxiters!r}")
        if maxiters < 1:
            raise InputError(f"maxiters must be None or an integer >= 1, got {maxiters!r}")
        maxiters = int(maxiters)
    return float(sigma), maxiters


def _validate(sci, err, dq, sigma, maxiters):
    members = len(sci)
    if members < 1:
        raise InputError("combine_backgrounds needs at least one background (got none)")
    # one DQ for several members: their DQ OR-ed already (the output DQ is that OR anyway)
    if len(err) != members or len(dq) not in (members, 1):
        raise InputError(
            f"combine_backgrounds needs as many ERR and DQ arrays as SCI arrays, or one DQ "
            f"(their OR) (got {members} SCI, {len(err)} ERR, {len(dq)} DQ)"
        )
    if members > np.iinfo(np.uint16).max:
        raise InputError(f"too many backgrounds to combine ({members})")
    sigma, maxiters = check_clip_parameters(sigma, maxiters)
    sci_arrays, err_arrays, dq_arrays = [], [], []
    shape = None
    for name, seq, out in (("SCI", sci, sci_arrays), ("ERR", err, err_arrays), ("DQ", dq, dq_arrays)):
        for index, item in enumerate(seq):
            if isinstance(item, FileRows) and name != "DQ":
                # left in its file, read a block of rows at a time by the kernel (file_rows)
                if shape is None:
                    shape = item.shape
                elif item.shape != shape:
                    raise InputError(f"{name} member {index} has shape {item.shape}, "
                                     f"but SCI member 0 has shape {shape}")
                out.append(item)
                continue
            array = np.asarray(item)
            if array.ndim != 2:
                raise InputError(f"{name} member {index} is not 2D (shape {array.shape})")
            if shape is None:
                shape = array.shape
            elif array.shape != shape:
                raise InputError(
                    f"{name} member {index} has shape {array.shape}, "
                    f"but SCI member 0 has shape {shape}"
                )
            if name == "DQ":
                if array.dtype.kind not in "uib":
                    raise InputError(f"DQ member {index} is not an integer array ({array.dtype})")
                array = np.ascontiguousarray(array)
            else:
                if array.dtype.kind not in "fiu":
                    raise InputError(f"{name} member {index} is not numeric ({array.dtype})")
                array = np.ascontiguousarray(array, dtype=np.float32)
            out.append(array)
    return sci_arrays, err_arrays, dq_arrays, shape, sigma, maxiters


def combine_backgrounds(
    sci: Sequence[np.ndarray],
    err: Sequence[np.ndarray],
    dq: Sequence[np.ndarray],
    sigma: float = 3.0,
    maxiters: int | None = None,
    *,
    progress: Callable[[float], None] | None = None,
    cancel: CancelToken | None = None,
    _force_general: bool = False,
    _mask_out: np.ndarray | None = None,
) -> CombinedBackground:
    """Sigma-clip N background exposures pixel by pixel and average what survives.

    ``sci``, ``err`` (float32) and ``dq`` (unsigned integer) are sequences of N 2D arrays of one
    shape. The clipping mask equals ``astropy.stats.sigma_clip(np.stack(sci), sigma=sigma,
    maxiters=maxiters, axis=0).mask`` (``maxiters=None``: iterate to convergence). Pixels with no
    surviving value get NaN data and error, ``n_used`` 0 and DO_NOT_USE set in DQ.
    ``progress`` receives fractions 0..1; ``cancel`` (a CancelToken) stops the work and raises
    Cancelled. Raises InputError for inconsistent input.

    Private, for tests: ``_force_general`` skips the no-clipping shortcut; ``_mask_out``, a bool
    array of shape (N, ny, nx), receives the clipping mask.
    """
    sci_a, err_a, dq_a, shape, sigma, maxiters = _validate(sci, err, dq, sigma, maxiters)
    n = len(sci_a)
    ny, nx = shape
    if _mask_out is not None and _mask_out.shape != (n, ny, nx):
        raise InputError(f"_mask_out must have shape {(n, ny, nx)}, not {_mask_out.shape}")
    data = np.empty(shape, dtype=np.float32)
    err_out = np.empty(shape, dtype=np.float32)
    dq_out = np.empty(shape, dtype=np.uint32)
    n_used = np.empty(shape, dtype=np.uint16)
    kernel = CombineKernel(sci_a, err_a, dq_a, (data, err_out, dq_out, n_used), sigma, maxiters,
                           force_general=_force_general, mask_out=_mask_out)
    run_row_blocks(ny, rows_per_block(nx, BLOCK_PIXELS), kernel.work, progress=progress,
                   cancel=cancel)
    return CombinedBackground(data=data, err=err_out, dq=dq_out, n_used=n_used)
