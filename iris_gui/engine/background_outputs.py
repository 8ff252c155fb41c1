"""The outputs of the background combine for one block: data, ERR, DQ and n_used.

Given which values of a pixel survive the clip, a pixel's outputs are the float32 mean of the
kept values summed in member order (what ``MaskedArray.mean(axis=0)`` does), the propagated
error ``sqrt(sum of kept ERR**2) / n_used``, the OR of every member's DQ (clipped or not) and
``n_used``; a pixel with nothing kept gets NaN data and error and DO_NOT_USE in DQ.

``finish_all_used`` writes the common case (every member kept) for a contiguous part of a block;
``finish_subset`` overwrites the pixels whose clipping mask is known to keep fewer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .dq import DO_NOT_USE

__all__ = ["Block", "finish_all_used", "finish_subset"]

#: ``scratch(name, size)``: a float32 work array of ``size`` values owned by the calling thread
Scratch = Callable[[str, int], np.ndarray]


def _flat(arrays: Sequence[np.ndarray], rows: slice) -> list[np.ndarray]:
    return [array[rows].reshape(-1) for array in arrays]


class Block:
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


def finish_all_used(blk: Block, part: slice, sums: np.ndarray, scratch: Scratch,
                    mask_out: np.ndarray | None) -> None:
    """Outputs for pixels ``part`` of the block as if every member were used; ``sums`` is the
    float32 member-order sum of their values."""
    n = len(blk.x)
    n32 = np.float32(n)
    np.divide(sums, n32, out=blk.data[part])
    out_err = blk.err[part]
    e = [values[part] for values in blk.e]
    np.multiply(e[0], e[0], out=out_err)
    if n > 1:
        tmp = scratch("err_tmp", out_err.size)
        for values in e[1:]:
            np.multiply(values, values, out=tmp)
            np.add(out_err, tmp, out=out_err)
    np.sqrt(out_err, out=out_err)
    np.divide(out_err, n32, out=out_err)
    out_dq = blk.dq[part]
    d = [v[part] for v in blk.d]
    d = [v if v.dtype == np.uint32 else v.astype(np.uint32) for v in d]
    if len(d) == 1:  # one member, or the members' DQ OR-ed already (read_backgrounds)
        out_dq[...] = d[0]
    else:
        np.bitwise_or(d[0], d[1], out=out_dq)
        for values in d[2:]:
            np.bitwise_or(out_dq, values, out=out_dq)
    blk.n_used[part] = n
    if mask_out is not None:
        mask_out[:, blk.rows].reshape(n, -1)[:, part] = False


def finish_subset(blk: Block, where: np.ndarray, x: np.ndarray, mask: np.ndarray,
                  mask_out: np.ndarray | None) -> None:
    """Overwrite data, err, n_used (and DQ bit 0) for block pixels ``where``, given their
    (N, len(where)) clipping mask and values ``x``."""
    n = len(blk.x)
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
    if mask_out is not None:
        mask_out[:, blk.rows].reshape(n, -1)[:, where] = mask
