"""The pixel table: the N x N values around the cursor of one pane, their DQ and its decoding,
and the table as text.

Facts the code relies on:

- N is odd, 3 to 11, so the cursor's pixel is the centre cell; cells outside the frame are
  empty (NaN value, no DQ, ``inside`` False).
- Rows go with y *decreasing* downwards, as the panes show the frame (y up, FITS convention),
  so the table looks like the patch of image it lists; ``values[r, c]`` is pixel
  ``(x0 + c, y_top - r)``.
- Only the N x N cut-out is read (``ViewSource.block``): a Difference or Ratio is worked out on
  the cut-out, so the cost does not depend on the frame's size.
- A cell is "flagged" when the pane's model has DQ != 0 there (for a DQ view, that is its
  value). Flag names come from the engine's table (``engine.dq.decode``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..engine.dq import decode
from ..state.view_state import PIXEL_TABLE_SIZES
from .readout import format_dq, format_value
from .view_sources import ViewSource

__all__ = ["TABLE_SIZES", "PixelBlock", "pixel_block", "cell_description", "block_text"]

TABLE_SIZES = PIXEL_TABLE_SIZES
CORNER = "y \\ x"


@dataclass(frozen=True)
class PixelBlock:
    """``values`` / ``dq`` / ``inside`` are N x N, row 0 at the top (y = ``y_top``), column 0 at
    ``x0``; ``centre`` is the cursor's pixel (0-based)."""

    name: str
    centre: tuple[int, int]
    x0: int
    y_top: int
    values: np.ndarray
    dq: np.ndarray
    inside: np.ndarray
    is_dq: bool = False

    @property
    def n(self) -> int:
        return self.values.shape[0]

    def pixel(self, row: int, column: int) -> tuple[int, int]:
        return self.x0 + column, self.y_top - row

    @property
    def flagged(self) -> np.ndarray:
        return self.inside & (self.dq != 0)


def pixel_block(source: ViewSource, plane: int, ix: int, iy: int, n: int) -> PixelBlock:
    """The N x N cells of ``source`` centred on 0-based pixel (ix, iy)."""
    if n not in TABLE_SIZES:
        raise ValueError(f"pixel table size {n} is not one of {', '.join(map(str, TABLE_SIZES))}")
    half = n // 2
    ny, nx = source.shape
    values = np.full((n, n), np.nan)
    dq = np.zeros((n, n), np.int64)
    inside = np.zeros((n, n), bool)
    xa, xb = max(0, ix - half), min(nx, ix + half + 1)
    ya, yb = max(0, iy - half), min(ny, iy + half + 1)
    if xa < xb and ya < yb:
        rows, cols = slice(ya, yb), slice(xa, xb)
        # rows of the table: y from iy + half down to iy - half
        r0, r1 = (iy + half) - (yb - 1), (iy + half) - ya + 1
        c0, c1 = xa - (ix - half), xb - (ix - half)
        values[r0:r1, c0:c1] = source.block(plane, rows, cols)[::-1]
        dq[r0:r1, c0:c1] = source.dq_frame(plane)[rows, cols][::-1]
        inside[r0:r1, c0:c1] = True
    return PixelBlock(source.label, (ix, iy), ix - half, iy + half, values, dq, inside,
                      is_dq=source.kind == "dq")


def cell_value_text(block: PixelBlock, row: int, column: int, short: bool = False) -> str:
    """A cell's value: 6 significant digits (as the readout), 5 when ``short`` (the table's
    narrow cells; the tooltip and the copied text keep 6); DQ as its integer."""
    if not block.inside[row, column]:
        return ""
    value = block.values[row, column]
    if block.is_dq:
        return str(int(value))
    return f"{value:.5g}" if short and value == value else format_value(value)


def cell_description(block: PixelBlock, row: int, column: int, one_based: bool = False) -> str:
    """What the cell's tooltip says: pixel, value and DQ decoded (``DQ 1025 = DO_NOT_USE+HOT``)."""
    x, y = block.pixel(row, column)
    base = 1 if one_based else 0
    where = f"x = {x + base}, y = {y + base}"
    if not block.inside[row, column]:
        return f"{where}: outside the frame"
    text = f"{where}: {block.name} {cell_value_text(block, row, column)}; " \
           f"{format_dq(int(block.dq[row, column]))}"
    return text


def flag_names(block: PixelBlock, row: int, column: int) -> list[str]:
    return decode(int(block.dq[row, column])) if block.inside[row, column] else []


def block_text(blocks: Sequence[PixelBlock], one_based: bool = False) -> str:
    """The tables as text for the clipboard: per pane a title, the x of each column, then one
    line per row headed by its y; flagged cells carry a ``*`` and the flags are listed below."""
    base = 1 if one_based else 0
    out: list[str] = []
    for block in blocks:
        cx, cy = block.centre
        out.append(f"{block.name} — {block.n}x{block.n} around x = {cx + base}, y = {cy + base} "
                   f"({'1-based' if one_based else '0-based'}; * = DQ flagged)")
        cells = [[cell_value_text(block, r, c) + ("*" if block.flagged[r, c] else "")
                  for c in range(block.n)] for r in range(block.n)]
        width = max(8, *(len(text) for row in cells for text in row))
        out.append(f"{CORNER:>6} " + " ".join(f"{block.x0 + c + base:>{width}}"
                                               for c in range(block.n)))
        for r, row in enumerate(cells):
            out.append(f"{block.y_top - r + base:>6} " + " ".join(f"{t:>{width}}" for t in row))
        for r, c in zip(*np.nonzero(block.flagged), strict=True):
            x, y = block.pixel(int(r), int(c))
            out.append(f"  ({x + base}, {y + base}): {format_dq(int(block.dq[r, c]))}")
        out.append("")
    return "\n".join(out).rstrip("\n")
