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
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .blocks import rows_per_block, run_row_blocks
from .cancel import CancelToken
from .dq import DO_NOT_USE
from .errors import InputError

__all__ = ["CombinedBackground", "combine_backgrounds"]

# Block sizes (measured on 2 cores, 4096**2): each numpy call costs a few microseconds of Python
# and GIL hand-over between the two threads, which outweighs L2 locality, so sub-blocks are
# L3-sized rather than L2-sized.
#: Pixels per block handed to a thread (the unit of progress and cancel).
BLOCK_PIXELS = 1 << 19
#: Pixels per sub-block of the float32 first pass (N + 7 float32 scratch rows per thread).
GENERAL_SUB_PIXELS = 1 << 17
#: Pixels per sub-block of the no-clipping shortcut.
SHORTCUT_SUB_PIXELS = 1 << 18
#: Unsettled pixels per call of the exact float64 pass (bounds its temporaries to ~10 MB).
HARD_CHUNK_PIXELS = 1 << 14

_U32 = 2.0**-24  # float32 unit roundoff
_U64 = 2.0**-53  # float64 unit roundoff


@dataclass
class CombinedBackground:
    """Result of :func:`combine_backgrounds`; all arrays have the members' 2D shape."""

    data: np.ndarray  # float32: mean of the unclipped values (NaN where none)
    err: np.ndarray  # float32: sqrt(sum of unclipped ERR**2) / n_used (NaN where none)
    dq: np.ndarray  # uint32: OR of every member's DQ, plus DO_NOT_USE where n_used == 0
    n_used: np.ndarray  # uint16: number of unclipped values


# --------------------------------------------------------------------------- sorting networks


def _sorting_pairs(n: int) -> list[tuple[int, int]]:
    """Compare-exchange pairs ``(i, j)``, ``i < j``, of Batcher's odd-even merge sort for n."""
    pairs: list[tuple[int, int]] = []
    p = 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return pairs


def _network_plan(n: int, outputs: Sequence[int]) -> list[tuple[int, int, bool, bool]]:
    """The sorting network pruned to what ``outputs`` (sorted positions) depend on.

    Each step is ``(i, j, want_min, want_max)``: wire i takes the min, wire j the max, and only
    the halves that something downstream reads are computed.
    """
    needed = set(outputs)
    plan = []
    for i, j in reversed(_sorting_pairs(n)):
        want_min, want_max = i in needed, j in needed
        if want_min or want_max:
            plan.append((i, j, want_min, want_max))
            needed.update((i, j))
    plan.reverse()
    return plan


def _run_network(
    wires: list[np.ndarray], plan: Sequence[tuple[int, int, bool, bool]], pool: list[np.ndarray]
) -> None:
    """Apply ``plan`` to ``wires`` (a list of equal-length 1D arrays).

    Wires start as read-only views of the inputs; results go to buffers taken from ``pool``, so
    inputs are never written. Buffers a wire no longer holds go back to the pool.
    """
    owned = [False] * len(wires)
    for i, j, want_min, want_max in plan:
        a, b = wires[i], wires[j]
        if want_min and want_max:
            low = pool.pop()
            np.minimum(a, b, out=low)
            if owned[j]:
                np.maximum(a, b, out=b)
            else:
                high = pool.pop()
                np.maximum(a, b, out=high)
                wires[j], owned[j] = high, True
            if owned[i]:
                pool.append(a)
            wires[i], owned[i] = low, True
        elif want_min:
            out = a if owned[i] else pool.pop()
            np.minimum(a, b, out=out)
            wires[i], owned[i] = out, True
        else:
            out = b if owned[j] else pool.pop()
            np.maximum(a, b, out=out)
            wires[j], owned[j] = out, True


def _sort_rows(rows: list[np.ndarray], pairs: Sequence[tuple[int, int]]) -> None:
    """Sort the values of each column of ``rows`` (list of 1D arrays) in place, ascending."""
    for i, j in pairs:
        low = np.minimum(rows[i], rows[j])
        np.maximum(rows[i], rows[j], out=rows[j])
        rows[i] = low


# --------------------------------------------------------------------------- exact clipping


def _astropy_mask(x: np.ndarray, sigma: float, maxiters: int | None) -> np.ndarray:
    """astropy's own mask for the columns of ``x`` (N, M); non-finite values are pre-masked
    (same result as passing them in, but without astropy's warning, which is not thread-safe to
    silence)."""
    from astropy.stats import sigma_clip

    finite = np.isfinite(x)
    data = np.ma.array(np.where(finite, x, np.float32(0)), mask=~finite)
    clipped = sigma_clip(data, sigma=sigma, maxiters=maxiters, axis=0)
    return np.ma.getmaskarray(clipped).copy()


def _clip_columns(
    x: np.ndarray,
    sigma: float,
    maxiters: int | None,
    pairs: Sequence[tuple[int, int]],
    use_astropy_for_borderline: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """astropy's sigma-clip mask for each column of ``x`` (N, M float32), in float64.

    Returns ``(mask, borderline)``; borderline columns (a value within rounding distance of a
    bound) have been recomputed by astropy unless ``use_astropy_for_borderline`` is False.
    """
    n, m = x.shape
    finite = np.isfinite(x)
    count = np.count_nonzero(finite, axis=0)
    rows = list(np.where(finite, x, np.float32(np.inf)))
    _sort_rows(rows, pairs)
    bound_lo = np.full(m, np.nan)
    bound_hi = np.full(m, np.nan)
    borderline = np.zeros(m, dtype=bool)
    active = np.flatnonzero(count > 0)
    if not active.size:
        return ~finite, borderline

    # Sorted values of the active columns in float64: ``s`` with +inf for non-finite values (they
    # sort last, so the finite ones are rows [0, c)), ``z`` with 0 there instead (for sums).
    if active.size < m:
        rows = [row[active] for row in rows]
    s = np.empty((n, active.size))
    for i, row in enumerate(rows):
        s[i] = row
    z = np.where(s < np.inf, s, 0.0)
    c = count[active]
    a = np.zeros(active.size, dtype=np.intp)
    b = c.copy()
    small = np.uint8 if n < 255 else np.int32
    index = np.arange(n, dtype=small)[:, None]
    counter = np.uint8 if n < 255 else np.uint16
    # Rounding slack: sums taken in a different order than astropy's (and as prefix-sum
    # differences) move mean, std and the bounds by at most ~ 2 N**2 u (1 + sigma) max|x|.
    rel = max(1e-12 * (1.0 + sigma), 4.0 * _U64 * (1.0 + sigma) * (2 * n * n + 2 * n + 16))
    iteration = 0
    with np.errstate(invalid="ignore", over="ignore"):
        size = active.size
        cols = np.arange(size)
        flat = s.reshape(-1)

        def pick(row: np.ndarray) -> np.ndarray:
            return flat[row * size + cols]

        tol = np.maximum(np.abs(s[0]), np.abs(pick(c - 1))) * rel + 1e-300
        prefix = np.empty((n + 1, size))  # prefix[i] = sum of the i smallest (finite) values
        prefix[0] = 0.0
        for i in range(n):
            np.add(prefix[i], z[i], out=prefix[i + 1])
        while True:
            cnt = b - a
            # Median as Wirth select gives it: middle value, or the mean of the middle two.
            median = 0.5 * (pick(a + cnt // 2) + pick(a + (cnt - 1) // 2))
            pflat = prefix.reshape(-1)
            mean = (pflat[b * size + cols] - pflat[a * size + cols]) / cnt
            kept = (index >= a.astype(small)) & (index < b.astype(small))
            dev = z - mean
            dev *= kept
            dev *= dev
            std = np.sqrt(dev.sum(axis=0) / cnt)
            lo = median - sigma * std
            hi = median + sigma * std
            # Values are sorted, so the kept range shrinks to [#(s < lo), #(s <= hi)).
            below = np.add.reduce((s < lo).view(np.uint8), axis=0, dtype=counter).astype(np.intp)
            upto = np.add.reduce((s <= hi).view(np.uint8), axis=0, dtype=counter).astype(np.intp)
            new_a = np.clip(below, a, b)
            new_b = np.clip(upto, a, b)
            # Borderline: the nearest finite value on either side of either bound is within
            # tolerance. If every kept value is equal, mean, std and bounds are exact.
            inf = np.inf
            gap = np.where(below > 0, lo - pick(np.maximum(below - 1, 0)), inf)
            np.minimum(gap, np.where(below < c, pick(np.minimum(below, c - 1)) - lo, inf), out=gap)
            np.minimum(gap, np.where(upto > 0, hi - pick(np.maximum(upto - 1, 0)), inf), out=gap)
            np.minimum(gap, np.where(upto < c, pick(np.minimum(upto, c - 1)) - hi, inf), out=gap)
            exact = pick(a) == pick(b - 1)
            borderline[active] |= (gap <= tol) & ~exact
            iteration += 1
            new_cnt = new_b - new_a
            done = (new_cnt == cnt) | (new_cnt == 0)
            if maxiters is not None and iteration >= maxiters:
                done[:] = True
            bound_lo[active[done]] = lo[done]
            bound_hi[active[done]] = hi[done]
            go = np.flatnonzero(~done)
            if not go.size:
                break
            active, a, b, c, tol = active[go], new_a[go], new_b[go], c[go], tol[go]
            s, z, prefix = (np.take(v, go, axis=1) for v in (s, z, prefix))
            size = active.size
            cols = np.arange(size)
            flat = s.reshape(-1)
        mask = ~finite | (x < bound_lo) | (x > bound_hi)
    if use_astropy_for_borderline and borderline.any():
        which = np.flatnonzero(borderline)
        mask[:, which] = _astropy_mask(x[:, which], sigma, maxiters)
    return mask, borderline


# --------------------------------------------------------------------------- combine


def _flat(arrays: Sequence[np.ndarray], rows: slice) -> list[np.ndarray]:
    return [array[rows].reshape(-1) for array in arrays]


class _Block:
    """Flat views of one block of rows of the inputs and outputs.

    (Module level on purpose: a class defined inside ``combine_backgrounds`` would sit in a
    reference cycle holding the output arrays until the garbage collector ran.)
    """

    __slots__ = ("rows", "x", "e", "d", "data", "err", "dq", "n_used", "size")

    def __init__(self, rows: slice, sci, err, dq, outputs) -> None:
        self.rows = rows
        self.x = _flat(sci, rows)
        self.e = _flat(err, rows)
        self.d = _flat(dq, rows)
        self.data, self.err, self.dq, self.n_used = _flat(outputs, rows)
        self.size = self.data.size


def _validate(sci, err, dq, sigma, maxiters):
    members = len(sci)
    if members < 1:
        raise InputError("combine_backgrounds needs at least one background (got none)")
    if len(err) != members or len(dq) != members:
        raise InputError(
            f"combine_backgrounds needs as many ERR and DQ arrays as SCI arrays "
            f"(got {members} SCI, {len(err)} ERR, {len(dq)} DQ)"
        )
    if members > np.iinfo(np.uint16).max:
        raise InputError(f"too many backgrounds to combine ({members})")
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
    sci_arrays, err_arrays, dq_arrays = [], [], []
    shape = None
    for name, seq, out in (("SCI", sci, sci_arrays), ("ERR", err, err_arrays), ("DQ", dq, dq_arrays)):
        for index, item in enumerate(seq):
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
    return sci_arrays, err_arrays, dq_arrays, shape, float(sigma), maxiters


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

    shortcut = sigma > (math.sqrt(n - 1) + 1.0) * (1.0 + 1e-9) and not _force_general
    pairs = _sorting_pairs(n)
    # First pass: the median positions plus min and max (the pruned network yields min and max
    # for fewer operations than two separate reductions would take).
    median_at = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
    plan = _network_plan(n, sorted({0, n - 1, *median_at}))
    # Margin beyond which float32 first-pass bounds cannot be on the other side of astropy's
    # float64 bounds (worst-case rounding analysis, times 4).
    tol_coeff = np.float32(4.0 * _U32 * (4.0 + sigma * (2 * n + 16)))
    sigma32 = np.float32(sigma)
    n32 = np.float32(n)
    local = threading.local()

    def buffer(name: str, size: int) -> np.ndarray:
        """A per-thread float32 scratch array, reused across blocks."""
        buffers = getattr(local, "buffers", None)
        if buffers is None:
            buffers = local.buffers = {}
        array = buffers.get(name)
        if array is None or array.size < size:
            array = buffers[name] = np.empty(size, dtype=np.float32)
        return array[:size]

    outputs = (data, err_out, dq_out, n_used)

    def finish_all_used(blk: _Block, part: slice, sums: np.ndarray) -> None:
        """Outputs for pixels ``part`` of the block as if every member were used."""
        np.divide(sums, n32, out=blk.data[part])
        out_err = blk.err[part]
        e = [values[part] for values in blk.e]
        np.multiply(e[0], e[0], out=out_err)
        if n > 1:
            tmp = buffer("err_tmp", out_err.size)
            for values in e[1:]:
                np.multiply(values, values, out=tmp)
                np.add(out_err, tmp, out=out_err)
        np.sqrt(out_err, out=out_err)
        np.divide(out_err, n32, out=out_err)
        out_dq = blk.dq[part]
        d = [v[part] for v in blk.d]
        d = [v if v.dtype == np.uint32 else v.astype(np.uint32) for v in d]
        if n == 1:
            out_dq[...] = d[0]
        else:
            np.bitwise_or(d[0], d[1], out=out_dq)
            for values in d[2:]:
                np.bitwise_or(out_dq, values, out=out_dq)
        blk.n_used[part] = n
        if _mask_out is not None:
            _mask_out[:, blk.rows].reshape(n, -1)[:, part] = False

    def finish_subset(blk: _Block, where: np.ndarray, x: np.ndarray, mask: np.ndarray) -> None:
        """Overwrite data, err, n_used (and DQ bit 0) for block pixels ``where``, given their
        (N, len(where)) clipping mask and values ``x``."""
        keep = ~mask
        used = keep.sum(axis=0)
        zero = np.float32(0)
        total = np.zeros(where.size, dtype=np.float32)
        squares = np.zeros(where.size, dtype=np.float32)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            # Row by row, in member order: the same float32 sums as MaskedArray.mean(axis=0).
            for k, values in enumerate(blk.e):
                total += np.where(keep[k], x[k], zero)
                e = values[where]
                squares += np.where(keep[k], e * e, zero)
            count = used.astype(np.float32)
            mean = total / count
            sigma_mean = np.sqrt(squares) / count
        none = used == 0
        mean[none] = np.nan
        sigma_mean[none] = np.nan
        blk.data[where] = mean
        blk.err[where] = sigma_mean
        blk.n_used[where] = used
        blk.dq[where[none]] |= np.uint32(DO_NOT_USE)
        if _mask_out is not None:
            _mask_out[:, blk.rows].reshape(n, -1)[:, where] = mask

    def sum_members(x: Sequence[np.ndarray]) -> np.ndarray:
        """Float32 sum in member order (what numpy's axis-0 sum of the stack does)."""
        sums = buffer("sum", x[0].size)
        if n == 1:
            sums[...] = x[0]
        else:
            np.add(x[0], x[1], out=sums)
            for values in x[2:]:
                np.add(sums, values, out=sums)
        return sums

    def gather(x: Sequence[np.ndarray], where: np.ndarray) -> np.ndarray:
        return np.array([values[where] for values in x])

    def parts(size: int, step: int):
        return [slice(start, min(start + step, size)) for start in range(0, size, step)]

    def work_shortcut(rows: slice) -> None:
        blk = _Block(rows, sci_a, err_a, dq_a, outputs)
        for part in parts(blk.size, SHORTCUT_SUB_PIXELS):
            x = [values[part] for values in blk.x]
            with np.errstate(invalid="ignore", over="ignore"):
                sums = sum_members(x)
                all_finite = np.isfinite(np.add.reduce(sums))
            finish_all_used(blk, part, sums)
            if not all_finite:
                bad = np.flatnonzero(~np.isfinite(sums))
                if bad.size:
                    xs = gather(x, bad)
                    finish_subset(blk, bad + part.start, xs, ~np.isfinite(xs))

    def settled_pixels(x: Sequence[np.ndarray], sums: np.ndarray) -> np.ndarray:
        """First pass in float32: True where astropy certainly clips nothing (all finite and
        inside the first bounds by more than the rounding margin, or all equal)."""
        size = x[0].size
        pool = [buffer(f"wire{k}", size) for k in range(n + 1)]
        mean = buffer("mean", size)
        var = buffer("var", size)
        dev = buffer("dev", size)
        np.divide(sums, n32, out=mean)
        np.subtract(x[0], mean, out=var)
        np.multiply(var, var, out=var)
        for values in x[1:]:
            np.subtract(values, mean, out=dev)
            np.multiply(dev, dev, out=dev)
            np.add(var, dev, out=var)
        np.divide(var, n32, out=var)
        settled = np.isfinite(var)
        spread = np.sqrt(var, out=var)
        np.multiply(spread, sigma32, out=spread)  # sigma * std
        wires = list(x)
        _run_network(wires, plan, pool)
        if len(median_at) == 1:
            median = wires[median_at[0]]
        else:
            median = dev
            np.add(wires[median_at[0]], wires[median_at[1]], out=median)
            np.multiply(median, np.float32(0.5), out=median)
        low, high = wires[0], wires[n - 1]
        tol = mean
        np.maximum(np.negative(low, out=tol), high, out=tol)  # max |x|
        np.multiply(tol, tol_coeff, out=tol)
        margin = buffer("margin", size)
        np.subtract(low, median, out=margin)  # low - (median - sigma * std)
        np.add(margin, spread, out=margin)
        settled &= margin > tol
        np.add(median, spread, out=margin)  # (median + sigma * std) - high
        np.subtract(margin, high, out=margin)
        settled &= margin > tol
        settled |= (low == high) & np.isfinite(sums)
        return settled

    def work_general(rows: slice) -> None:
        blk = _Block(rows, sci_a, err_a, dq_a, outputs)
        hard = []
        for part in parts(blk.size, GENERAL_SUB_PIXELS):
            x = [values[part] for values in blk.x]
            with np.errstate(invalid="ignore", over="ignore"):
                sums = sum_members(x)
                settled = settled_pixels(x, sums)
            finish_all_used(blk, part, sums)
            unsettled = np.flatnonzero(~settled)
            if unsettled.size:
                hard.append(unsettled + part.start)
        if hard:
            hard = np.concatenate(hard)
            for chunk in parts(hard.size, HARD_CHUNK_PIXELS):
                where = hard[chunk]
                xs = gather(blk.x, where)
                mask, _ = _clip_columns(xs, sigma, maxiters, pairs)
                finish_subset(blk, where, xs, mask)

    work = work_shortcut if shortcut else work_general
    run_row_blocks(ny, rows_per_block(nx, BLOCK_PIXELS), work, progress=progress, cancel=cancel)
    return CombinedBackground(data=data, err=err_out, dq=dq_out, n_used=n_used)
