"""Sorting networks and the exact (float64) sigma clip of a few columns, like astropy's C loop.

The kernel under :func:`iris_gui.engine.background_combine.combine_backgrounds`:

* ``sorting_pairs`` / ``network_plan`` / ``run_network``: Batcher's odd-even merge sort as
  ``np.minimum``/``np.maximum`` compare-exchanges over whole rows (one row per background), pruned
  to the sorted positions needed (median, min, max) for the float32 first pass.
* ``clip_columns``: astropy's clipping mask for the unsettled ("hard") pixels, in float64:
  sorted columns (non-finite last), the kept set is a contiguous range of the sorted values, and
  converged pixels drop out of later iterations. Columns where a value lies within rounding
  distance of a bound are handed to ``astropy_mask`` (astropy itself), so the mask is identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["astropy_mask", "clip_columns", "network_plan", "run_network", "sort_rows",
           "sorting_pairs"]

_U64 = 2.0**-53  # float64 unit roundoff


def sorting_pairs(n: int) -> list[tuple[int, int]]:
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


def network_plan(n: int, outputs: Sequence[int]) -> list[tuple[int, int, bool, bool]]:
    """The sorting network pruned to what ``outputs`` (sorted positions) depend on.

    Each step is ``(i, j, want_min, want_max)``: wire i takes the min, wire j the max, and only
    the halves that something downstream reads are computed.
    """
    needed = set(outputs)
    plan = []
    for i, j in reversed(sorting_pairs(n)):
        want_min, want_max = i in needed, j in needed
        if want_min or want_max:
            plan.append((i, j, want_min, want_max))
            needed.update((i, j))
    plan.reverse()
    return plan


def run_network(
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


def sort_rows(rows: list[np.ndarray], pairs: Sequence[tuple[int, int]]) -> None:
    """Sort the values of each column of ``rows`` (list of 1D arrays) in place, ascending."""
    for i, j in pairs:
        low = np.minimum(rows[i], rows[j])
        np.maximum(rows[i], rows[j], out=rows[j])
        rows[i] = low


def astropy_mask(x: np.ndarray, sigma: float, maxiters: int | None) -> np.ndarray:
    """astropy's own mask for the columns of ``x`` (N, M); non-finite values are pre-masked
    (same result as passing them in, but without astropy's warning, which is not thread-safe to
    silence)."""
    from astropy.stats import sigma_clip

    finite = np.isfinite(x)
    data = np.ma.array(np.where(finite, x, np.float32(0)), mask=~finite)
    clipped = sigma_clip(data, sigma=sigma, maxiters=maxiters, axis=0)
    return np.ma.getmaskarray(clipped).copy()


def clip_columns(
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
    sort_rows(rows, pairs)
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
        mask[:, which] = astropy_mask(x[:, which], sigma, maxiters)
    return mask, borderline
