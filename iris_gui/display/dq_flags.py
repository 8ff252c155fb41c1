"""DQ flags for display: which pixels carry each flag, which flags a step newly raised
(``after & ~before``), and the ``uint8`` overlay mask painted over a frame.

The overlay is a second ``uint8`` image (0 = transparent, 1.. = one colour per selected flag,
``colour_tables.dq_colour_index``), max-pooled by powers of two for zoomed-out display so a single
flagged pixel stays visible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..engine.dq import DQ_BITS, SUBARRAY_MAP_FLAG
from .colour_tables import NAN_MARK
from .stretch import BLOCK_PIXELS

__all__ = [
    "flag_pixels", "flag_pixel_counts", "newly_flagged", "overlay_mask", "max_pool2",
    "max_pool", "mask_pyramid", "pyramid_level", "dq_row_label",
]


def flag_pixels(dq: np.ndarray, before: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Flat indices of the pixels carrying each flag present in ``dq`` (engine table order).
    With ``before``: only the bits ``dq`` has and ``before`` has not (``newly_flagged``), worked
    out block by block without a full-size temporary."""
    flat = np.asarray(dq).reshape(-1)
    # (np.flatnonzero of a bool array is ~5x faster than of the uint32 array itself)
    if before is None:
        nonzero = np.flatnonzero(flat != 0)
        values = flat[nonzero].astype(np.uint32, copy=False)
    else:
        old = np.asarray(before).reshape(-1)
        indices, chunks = [], []
        for start in range(0, flat.size, BLOCK_PIXELS * 4):
            block = newly_flagged(old[start:start + BLOCK_PIXELS * 4],
                                  flat[start:start + BLOCK_PIXELS * 4])
            where = np.flatnonzero(block != 0)
            if where.size:
                indices.append(where + start)
                chunks.append(block[where].astype(np.uint32, copy=False))
        if not indices:
            return {}
        nonzero = np.concatenate(indices)
        values = np.concatenate(chunks)
    if nonzero.size == 0:
        return {}
    present = int(np.bitwise_or.reduce(values))
    pixels: dict[str, np.ndarray] = {}
    for name, bit in DQ_BITS.items():
        if present >> bit & 1:
            pixels[name] = nonzero[(values & np.uint32(1 << bit)) != 0]
    return pixels


def flag_pixel_counts(pixels: dict[str, np.ndarray]) -> dict[str, int]:
    return {name: int(idx.size) for name, idx in pixels.items()}


def newly_flagged(before_dq: np.ndarray, after_dq: np.ndarray) -> np.ndarray:
    """Bits the step raised: ``after & ~before``."""
    return np.bitwise_and(after_dq, np.bitwise_not(before_dq.astype(after_dq.dtype, copy=False)))


def overlay_mask(shape: tuple[int, int], pixels: dict[str, np.ndarray],
                 selected: Sequence[tuple[str, int]]) -> np.ndarray:
    """``uint8`` mask: 0 where no selected flag is set, else the colour index of the last
    selected flag (in the order given) that the pixel carries."""
    mask = np.zeros(shape, np.uint8)
    flat = mask.reshape(-1)
    for name, colour in selected:
        idx = pixels.get(name)
        if idx is not None and idx.size:
            flat[idx] = colour
    return mask


def max_pool2(mask: np.ndarray) -> np.ndarray:
    """2x2 max-pool (odd edges padded with 0)."""
    ny, nx = mask.shape
    if ny % 2 or nx % 2:
        padded = np.zeros((ny + ny % 2, nx + nx % 2), mask.dtype)
        padded[:ny, :nx] = mask
        mask = padded
    return np.maximum(np.maximum(mask[0::2, 0::2], mask[1::2, 0::2]),
                      np.maximum(mask[0::2, 1::2], mask[1::2, 1::2]))


def max_pool(mask: np.ndarray, factor: int) -> np.ndarray:
    """``factor`` x ``factor`` max-pool (any factor; edges padded with 0)."""
    if factor <= 1:
        return mask
    ny, nx = mask.shape
    py, px = -(-ny // factor), -(-nx // factor)
    padded = np.zeros((py * factor, px * factor), mask.dtype)
    padded[:ny, :nx] = mask
    return padded.reshape(py, factor, px, factor).max(axis=(1, 3))


def mask_pyramid(mask: np.ndarray, smallest: int = 64) -> list[np.ndarray]:
    """``[mask, pooled x2, pooled x4, ...]`` until the longer side is at most ``smallest``."""
    levels = [mask]
    while max(levels[-1].shape) > smallest:
        levels.append(max_pool2(levels[-1]))
    return levels


def pyramid_level(screen_pixels_per_image_pixel: float, n_levels: int) -> int:
    """Pyramid level whose pooled pixels are at least one screen pixel wide."""
    s = float(screen_pixels_per_image_pixel)
    if not s > 0 or s >= 1.0:
        return 0
    return min(n_levels - 1, max(0, math.ceil(math.log2(1.0 / s) - 1e-9)))




#: what sets a bit in this pipeline when it is not the bit's JWST meaning (bit -> note)
BIT_NOTES = {SUBARRAY_MAP_FLAG.bit_length() - 1:
             "parse_subarray_map sets it where SUBARR_MAP != 0"}


def dq_row_label(name: str, newly: bool = False) -> tuple[str, str]:
    """(label, tooltip) of a row of the DQ counts table. The ``NAN_MARK`` row counts the NaN
    values of the shown frame — the data, not the DQ array — so it says so, and that it counts
    every NaN even when the flag rows count only newly flagged pixels (``newly``)."""
    if name == NAN_MARK:
        tip = ("Pixels whose value is NaN in the shown frame (from the data, not a DQ bit); "
               "ticked, they are marked so they stay visible at any zoom (colour: the NaN "
               "button), with or without the DQ overlay")
        if newly:
            tip += ". Every NaN is counted, not only new ones"
        return "NaN in frame (not a DQ flag)", tip
    bit = DQ_BITS[name]
    tip = f"{name}: DQ bit {bit}, value {1 << bit}"
    if bit in BIT_NOTES:
        tip += f"; {BIT_NOTES[bit]}"
    if newly:
        tip += ". Counts: pixels where After has the bit and Before has not"
    return f"{name} ({bit})", tip
