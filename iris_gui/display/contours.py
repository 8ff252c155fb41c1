"""Contour lines of a frame: the levels (N evenly spaced between the pane's display limits, or an
explicit list) and the lines themselves, Qt-free (the view runs ``contour_lines`` on its worker
pool and draws the result).

Facts the code relies on:

- Levels by count are evenly spaced in value strictly *between* the limits the pane's stretch
  uses (``low + (high - low) * k / (N + 1)``, k = 1..N): a contour at the low limit of a zscale
  traces the sky noise everywhere, one at the high limit only the saturated cores.
- The lines are traced by ``contourpy`` (matplotlib's contour code as a small library) on the
  frame block-averaged (DS9's "smoothness" by block; automatically 4 x 4 as DS9's default, more
  to stay within ``WORK_SIDE`` blocks a side): at 4096² a full-resolution trace of a noisy
  frame takes ~2 s and makes millions of vertices of noise; 4 x 4 blocks take ~40 ms and show
  the structure. contourpy holds Python's lock while it traces (its ``serial`` algorithm held
  it ~1 s on a 4096² frame, freezing the window's thread), so the frame is traced in bands of
  ``BAND_ROWS`` rows of blocks, one call per band and level (a few ms each), and the window's
  thread gets the lock between calls. (Its ``threaded`` algorithm lets go of the lock, but
  crashed the process under the window's load, so it is not used.)
- Coordinates are the view's: pixel centres at integers, 0-based (a block of ``f`` pixels
  starting at ``i*f`` has its centre at ``i*f + (f - 1) / 2``). NaN pixels are left out of the
  block means; an all-NaN block is masked, so no line crosses it.
- Each level's lines come as one (N, 2) array whose separate lines are split by a NaN row (one
  curve item per pane draws them all).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["WORK_SIDE", "MAX_LEVELS", "ContourLevelError", "ContourLevels", "levels_by_count",
           "parse_levels", "format_levels", "block_factor", "block_mean", "contour_lines",
           "ContourSet"]

#: the frame is block-averaged to at most this many pixels a side before tracing
WORK_SIDE = 1024
#: the automatic block side at least (DS9's default contour smoothness), unless the frame is
#: small: then at least ``MIN_BLOCKS`` blocks a side
DEFAULT_BLOCK = 4
MIN_BLOCKS = 64
#: the most levels one pane draws
MAX_LEVELS = 50
#: rows of blocks traced in one call (see the module docstring)
BAND_ROWS = 64


class ContourLevelError(ValueError):
    """A level list that cannot be used; the message says why, in the user's terms."""


@dataclass(frozen=True)
class ContourLevels:
    """The levels and a sentence saying where they came from (shown beside the controls)."""

    values: tuple[float, ...]
    explanation: str


def levels_by_count(count: int, low: float, high: float) -> tuple[float, ...]:
    """``count`` levels evenly spaced strictly between ``low`` and ``high``."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_LEVELS:
        raise ContourLevelError(f"the number of contour levels must be 1 to {MAX_LEVELS}, "
                                f"not {count!r}")
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ContourLevelError("the pane's limits are not finite numbers")
    if high < low:
        low, high = high, low
    step = (high - low) / (count + 1)
    return tuple(low + step * k for k in range(1, count + 1))


_SEPARATORS = re.compile(r"[\s,;]+")


def parse_levels(text: str) -> tuple[float, ...]:
    """The levels typed as a list ("10, 20 35.5" — commas, semicolons or spaces between), sorted
    and without repeats. A bad list raises ``ContourLevelError`` naming the bad entry."""
    entries = [e for e in _SEPARATORS.split(text.strip()) if e]
    if not entries:
        raise ContourLevelError("no contour levels given: type numbers separated by commas "
                                "or spaces, e.g. 10, 20, 50")
    values = []
    for entry in entries:
        try:
            value = float(entry)
        except ValueError:
            raise ContourLevelError(f"contour level {entry!r} is not a number") from None
        if not math.isfinite(value):
            raise ContourLevelError(f"contour level {entry!r} is not a finite number")
        values.append(value)
    unique = sorted(set(values))
    if len(unique) > MAX_LEVELS:
        raise ContourLevelError(f"{len(unique)} contour levels given; at most {MAX_LEVELS}")
    return tuple(unique)


def format_levels(values: tuple[float, ...]) -> str:
    """The levels as the list field shows them (``parse_levels`` reads it back equal)."""
    return ", ".join(f"{v:.6g}" for v in values)


def block_factor(shape: tuple[int, int], block: int = 0) -> int:
    """The block side used: ``block`` when given (>= 1), else DS9's default smoothness of
    ``DEFAULT_BLOCK`` or the smallest that brings the longer side to at most ``WORK_SIDE``,
    whichever is larger, but never fewer than ``MIN_BLOCKS`` blocks a side."""
    if block >= 1:
        return int(block)
    side = max(shape)
    wanted = max(DEFAULT_BLOCK, -(-side // WORK_SIDE))
    return max(1, min(wanted, side // MIN_BLOCKS))


def _block_sums(frame: np.ndarray, factor: int) -> np.ndarray:
    """Sums of ``factor`` x ``factor`` blocks of a frame whose sides are multiples of ``factor``,
    as strided slices added in float32 (a reshape-and-sum over the block axes is 4x slower)."""
    rows = frame[0::factor].astype(np.float32)
    for k in range(1, factor):
        rows += frame[k::factor]
    sums = rows[:, 0::factor].copy()
    for k in range(1, factor):
        sums += rows[:, k::factor]
    return sums


def block_mean(frame: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, x, y): the mean of the finite pixels of each ``factor`` x ``factor`` block (NaN where
    none is finite; a partial last row / column of blocks averages what it has) and the view
    coordinates of the block centres."""
    frame = np.asarray(frame)
    ny, nx = frame.shape
    if factor <= 1:
        z = frame.astype(np.float64, copy=False)
        return z, np.arange(nx, dtype=np.float64), np.arange(ny, dtype=np.float64)
    by, bx = -(-ny // factor), -(-nx // factor)
    if (by * factor, bx * factor) != (ny, nx):   # partial blocks: pad with NaN (left out)
        padded = np.full((by * factor, bx * factor), np.nan, np.float32)
        padded[:ny, :nx] = frame
        frame = padded
    finite = np.isfinite(frame)
    with np.errstate(invalid="ignore", divide="ignore"):
        if finite.all():
            z = _block_sums(frame, factor) / np.float32(factor * factor)
        else:
            z = _block_sums(np.where(finite, frame, np.float32(0)), factor) \
                / _block_sums(finite, factor)
    # centre of block i: the mean of the pixel centres it holds
    x = np.minimum(np.arange(bx) * factor + (factor - 1) / 2, (np.arange(bx) * factor + nx - 1) / 2)
    y = np.minimum(np.arange(by) * factor + (factor - 1) / 2, (np.arange(by) * factor + ny - 1) / 2)
    return z.astype(np.float64), x, y


@dataclass(frozen=True)
class ContourSet:
    """One level's lines: ``points`` (N, 2) x, y in view coordinates, lines split by NaN rows."""

    level: float
    points: np.ndarray

    @property
    def n_vertices(self) -> int:
        return int(np.count_nonzero(np.isfinite(self.points[:, 0])))


def contour_lines(frame: np.ndarray, levels: tuple[float, ...], block: int = 0
                  ) -> tuple[list[ContourSet], int]:
    """The lines of ``frame`` at each of ``levels`` and the block side used (see the module
    docstring)."""
    import contourpy

    factor = block_factor(frame.shape, block)
    z, x, y = block_mean(frame, factor)
    if not np.isfinite(z).all():
        z = np.ma.masked_invalid(z)
    if z.shape[0] < 2 or z.shape[1] < 2:
        return [ContourSet(float(level), np.empty((0, 2))) for level in levels], factor
    # bands of BAND_ROWS blocks, each sharing its last row with the next one, traced one level
    # at a time: a line crossing a band's edge is cut there, its two pieces meeting exactly
    bands = []
    for start in range(0, z.shape[0] - 1, BAND_ROWS):
        rows = slice(start, min(start + BAND_ROWS + 1, z.shape[0]))
        bands.append(contourpy.contour_generator(
            x, y[rows], z[rows], name="serial", line_type=contourpy.LineType.ChunkCombinedNan))
    out = []
    gap = np.full((1, 2), np.nan)
    for level in levels:
        pieces = [c for band in bands for c in band.lines(float(level))[0]
                  if c is not None and len(c)]
        points = np.concatenate([part for c in pieces for part in (c, gap)][:-1]) if pieces \
            else np.empty((0, 2))
        out.append(ContourSet(float(level), points))
    return out, factor
