"""The per-block work of the background combine: the no-clipping shortcut, the float32 first
pass and the exact pass over the pixels it could not settle.

``CombineKernel(sci, err, dq, outputs, sigma, maxiters)`` holds what every block shares (the
pruned sorting network, the rounding margins, per-thread scratch arrays); ``kernel.work`` is the
function ``blocks.run_row_blocks`` calls for each block of rows. See ``background_combine`` for
why each pass gives astropy's mask exactly.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np

from .background_clip import clip_columns, network_plan, run_network, sorting_pairs
from .background_outputs import Block, finish_all_used, finish_subset

__all__ = ["BLOCK_PIXELS", "GENERAL_SUB_PIXELS", "HARD_CHUNK_PIXELS", "SHORTCUT_SUB_PIXELS",
           "CombineKernel"]

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


def _parts(size: int, step: int) -> list[slice]:
    return [slice(start, min(start + step, size)) for start in range(0, size, step)]


def _gather(x: Sequence[np.ndarray], where: np.ndarray) -> np.ndarray:
    return np.array([values[where] for values in x])


class CombineKernel:
    """Everything the blocks of one ``combine_backgrounds`` call share."""

    def __init__(self, sci: list[np.ndarray], err: list[np.ndarray], dq: list[np.ndarray],
                 outputs: tuple[np.ndarray, ...], sigma: float, maxiters: int | None, *,
                 force_general: bool = False, mask_out: np.ndarray | None = None) -> None:
        n = len(sci)
        self.sci, self.err, self.dq, self.outputs = sci, err, dq, outputs
        self.n = n
        self.sigma, self.maxiters = sigma, maxiters
        self.mask_out = mask_out
        #: for n values |x - median| <= (sqrt(n-1) + 1) * std: above that nothing is clipped
        self.shortcut = sigma > (math.sqrt(n - 1) + 1.0) * (1.0 + 1e-9) and not force_general
        self.pairs = sorting_pairs(n)
        # First pass: the median positions plus min and max (the pruned network yields min and
        # max for fewer operations than two separate reductions would take).
        self.median_at = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
        self.plan = network_plan(n, sorted({0, n - 1, *self.median_at}))
        # Margin beyond which float32 first-pass bounds cannot be on the other side of astropy's
        # float64 bounds (worst-case rounding analysis, times 4).
        self.tol_coeff = np.float32(4.0 * _U32 * (4.0 + sigma * (2 * n + 16)))
        self.sigma32 = np.float32(sigma)
        self.n32 = np.float32(n)
        self._local = threading.local()

    def scratch(self, name: str, size: int) -> np.ndarray:
        """A per-thread float32 scratch array, reused across blocks."""
        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            buffers = self._local.buffers = {}
        array = buffers.get(name)
        if array is None or array.size < size:
            array = buffers[name] = np.empty(size, dtype=np.float32)
        return array[:size]

    def work(self, rows: slice) -> None:
        """Combine one block of rows into the outputs."""
        if self.shortcut:
            self._work_shortcut(rows)
        else:
            self._work_general(rows)

    # ---- passes -----------------------------------------------------------------------------------
    def sum_members(self, x: Sequence[np.ndarray]) -> np.ndarray:
        """Float32 sum in member order (what numpy's axis-0 sum of the stack does)."""
        sums = self.scratch("sum", x[0].size)
        if self.n == 1:
            sums[...] = x[0]
        else:
            np.add(x[0], x[1], out=sums)
            for values in x[2:]:
                np.add(sums, values, out=sums)
        return sums

    def _work_shortcut(self, rows: slice) -> None:
        blk = Block(rows, self.sci, self.err, self.dq, self.outputs)
        for part in _parts(blk.size, SHORTCUT_SUB_PIXELS):
            x = [values[part] for values in blk.x]
            with np.errstate(invalid="ignore", over="ignore"):
                sums = self.sum_members(x)
                all_finite = np.isfinite(np.add.reduce(sums))
            finish_all_used(blk, part, sums, self.scratch, self.mask_out)
            if not all_finite:
                bad = np.flatnonzero(~np.isfinite(sums))
                if bad.size:
                    xs = _gather(x, bad)
                    finish_subset(blk, bad + part.start, xs, ~np.isfinite(xs), self.mask_out)

    def first_pass(self, x: Sequence[np.ndarray], sums: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                              np.ndarray]:
        """The float32 first-pass statistics of each pixel from its member-order ``sums``.

        Returns ``(finite, std, median, low, high, spare)``: where the variance is finite, the
        population std, the median, min and max (scratch arrays or views of ``x``, valid until
        the next call on this thread) and a scratch array of the same size free for the caller.
        """
        n, buffer = self.n, self.scratch
        size = x[0].size
        pool = [buffer(f"wire{k}", size) for k in range(n + 1)]
        mean = buffer("mean", size)
        var = buffer("var", size)
        dev = buffer("dev", size)
        np.divide(sums, self.n32, out=mean)
        np.subtract(x[0], mean, out=var)
        np.multiply(var, var, out=var)
        for values in x[1:]:
            np.subtract(values, mean, out=dev)
            np.multiply(dev, dev, out=dev)
            np.add(var, dev, out=var)
        np.divide(var, self.n32, out=var)
        finite = np.isfinite(var)
        std = np.sqrt(var, out=var)
        wires = list(x)
        run_network(wires, self.plan, pool)
        median_at = self.median_at
        if len(median_at) == 1:
            median = wires[median_at[0]]
        else:
            median = dev
            np.add(wires[median_at[0]], wires[median_at[1]], out=median)
            np.multiply(median, np.float32(0.5), out=median)
        return finite, std, median, wires[0], wires[n - 1], mean

    def _settled_pixels(self, x: Sequence[np.ndarray], sums: np.ndarray) -> np.ndarray:
        """First pass in float32: True where astropy certainly clips nothing (all finite and
        inside the first bounds by more than the rounding margin, or all equal)."""
        settled, std, median, low, high, tol = self.first_pass(x, sums)
        spread = np.multiply(std, self.sigma32, out=std)  # sigma * std
        np.maximum(np.negative(low, out=tol), high, out=tol)  # max |x|
        np.multiply(tol, self.tol_coeff, out=tol)
        margin = self.scratch("margin", x[0].size)
        np.subtract(low, median, out=margin)  # low - (median - sigma * std)
        np.add(margin, spread, out=margin)
        settled &= margin > tol
        np.add(median, spread, out=margin)  # (median + sigma * std) - high
        np.subtract(margin, high, out=margin)
        settled &= margin > tol
        settled |= (low == high) & np.isfinite(sums)
        return settled

    def _work_general(self, rows: slice) -> None:
        blk = Block(rows, self.sci, self.err, self.dq, self.outputs)
        hard = []
        for part in _parts(blk.size, GENERAL_SUB_PIXELS):
            x = [values[part] for values in blk.x]
            with np.errstate(invalid="ignore", over="ignore"):
                sums = self.sum_members(x)
                settled = self._settled_pixels(x, sums)
            finish_all_used(blk, part, sums, self.scratch, self.mask_out)
            unsettled = np.flatnonzero(~settled)
            if unsettled.size:
                hard.append(unsettled + part.start)
        if hard:
            hard = np.concatenate(hard)
            for chunk in _parts(hard.size, HARD_CHUNK_PIXELS):
                where = hard[chunk]
                xs = _gather(blk.x, where)
                mask, _ = clip_columns(xs, self.sigma, self.maxiters, self.pairs)
                finish_subset(blk, where, xs, mask, self.mask_out)
