"""The flagged-pixel navigator's list: the pixels of a DQ array carrying any of the chosen flags,
in the whole frame, the area shown or the view's regions, with the count of each flag; Qt-free
(the view builds it on its worker pool).

Facts the code relies on:

- "Newly flagged" means the bits After has and Before has not (``after & ~before``, as the DQ
  overlay's option): a pixel already DO_NOT_USE that the step made NO_FLAT_FIELD too is listed
  for NO_FLAT_FIELD only.
- No flag chosen means any flag. The counts are per flag over the pixels in the scope, for every
  flag present (chosen or not), so the choice can be made from them.
- The order is the frame's storage order: y ascending (from the bottom row up, as the panes
  show y up), then x ascending; "next" after a pixel is the first listed pixel after it in that
  order (so the list can change, e.g. with the area shown, and next / previous still go on from
  where the view is).
- The area shown is the pixels whose centres lie in it; a region's pixels are those
  ``display.regions`` gives (pixel-centre membership), the union of all regions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..engine.dq import DQ_BITS, decode
from .dq_flags import newly_flagged
from .regions import Region

__all__ = ["SCOPES", "FlaggedPixels", "flagged_pixels", "flag_mask", "region_of_spec",
           "centred_range"]

#: where pixels are listed: the whole frame, the area shown, inside the view's regions
SCOPES = ("frame", "shown", "regions")


@dataclass(frozen=True)
class FlaggedPixels:
    """``x``, ``y`` (0-based) and ``dq`` (the bits considered: new ones only when newly) of the
    listed pixels in order; ``counts[flag]`` per flag present in the scope; ``scope_pixels``
    how many pixels the scope holds."""

    x: np.ndarray
    y: np.ndarray
    dq: np.ndarray
    counts: dict[str, int]
    scope_pixels: int
    width: int

    def __len__(self) -> int:
        return int(self.x.size)

    @property
    def order(self) -> np.ndarray:
        """Each listed pixel's place in the frame's storage order (y * width + x)."""
        return self.y.astype(np.int64) * self.width + self.x

    def flags_at(self, k: int) -> list[str]:
        return decode(int(self.dq[k]))

    def next_after(self, pixel: tuple[int, int] | None, step: int) -> int | None:
        """Index of the first listed pixel after ``pixel`` (``step`` 1) or the last before it
        (-1), wrapping round; with no pixel, the first (or last). None if the list is empty."""
        n = len(self)
        if n == 0:
            return None
        if pixel is None:
            return 0 if step > 0 else n - 1
        where = int(pixel[1]) * self.width + int(pixel[0])
        order = self.order
        if step > 0:
            k = int(np.searchsorted(order, where, side="right"))
            return k % n
        k = int(np.searchsorted(order, where, side="left")) - 1
        return k % n


def flag_mask(names: Sequence[str]) -> int:
    """The DQ bits of ``names`` OR-ed (no name: every bit)."""
    if not names:
        return 0xFFFFFFFF
    mask = 0
    for name in names:
        if name not in DQ_BITS:
            raise ValueError(f"{name!r} is not a DQ flag")
        mask |= 1 << DQ_BITS[name]
    return mask


def region_of_spec(spec) -> Region:
    """``display.regions.Region`` of a ``state.view_state.RegionSpec`` (a box is a "rect")."""
    return Region("rect" if spec.kind == "box" else spec.kind, spec.x0, spec.y0, spec.width,
                  spec.height, spec.angle, spec.points)


def _shown_slices(shape: tuple[int, int], shown) -> tuple[slice, slice]:
    """Rows and columns whose pixel centres are inside the area (x0, x1, y0, y1)."""
    ny, nx = shape
    x0, x1, y0, y1 = shown
    i0, i1 = max(0, int(np.ceil(min(x0, x1)))), min(nx, int(np.floor(max(x0, x1))) + 1)
    j0, j1 = max(0, int(np.ceil(min(y0, y1)))), min(ny, int(np.floor(max(y0, y1))) + 1)
    return slice(j0, max(j0, j1)), slice(i0, max(i0, i1))


def flagged_pixels(dq: np.ndarray, flags: Sequence[str] = (), before: np.ndarray | None = None,
                   scope: str = "frame", shown=None, regions: Sequence[Region] = ()
                   ) -> FlaggedPixels:
    """The listed pixels of 2-D ``dq`` (see the module docstring). ``shown`` is the area shown
    (x0, x1, y0, y1) for scope "shown"; ``regions`` the regions for scope "regions"."""
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
    dq = np.asarray(dq)
    ny, nx = dq.shape
    rows, cols = slice(0, ny), slice(0, nx)
    inside = None
    if scope == "shown":
        if shown is None:
            raise ValueError("the area shown is needed for scope 'shown'")
        rows, cols = _shown_slices(dq.shape, shown)
    elif scope == "regions":
        if not regions:
            return FlaggedPixels(*(np.empty(0, np.int64),) * 2, np.empty(0, np.uint32), {}, 0, nx)
        inside = np.zeros(dq.shape, bool)
        for region in regions:
            (r, c), mask = region.mask(dq.shape)
            if mask is None:
                inside[r, c] = True
            else:
                inside[r, c] |= mask
        where = np.nonzero(inside.any(axis=1))[0]
        if where.size == 0:
            return FlaggedPixels(*(np.empty(0, np.int64),) * 2, np.empty(0, np.uint32), {}, 0, nx)
        cols_any = np.nonzero(inside.any(axis=0))[0]
        rows, cols = slice(int(where[0]), int(where[-1]) + 1), \
            slice(int(cols_any[0]), int(cols_any[-1]) + 1)
        inside = inside[rows, cols]
    values = dq[rows, cols]
    if before is not None:
        values = newly_flagged(np.asarray(before)[rows, cols], values)
    considered = values != 0
    if inside is not None:
        considered &= inside
    scope_pixels = int(inside.sum()) if inside is not None else int(values.size)
    jj, ii = np.nonzero(considered)
    found = values[jj, ii].astype(np.uint32, copy=False)
    present = int(np.bitwise_or.reduce(found)) if found.size else 0
    counts = {name: int(np.count_nonzero(found & np.uint32(1 << bit)))
              for name, bit in DQ_BITS.items() if present >> bit & 1}
    chosen = (found & np.uint32(flag_mask(flags))) != 0
    return FlaggedPixels((ii[chosen] + cols.start).astype(np.int64),
                         (jj[chosen] + rows.start).astype(np.int64), found[chosen], counts,
                         scope_pixels, nx)


def centred_range(pixel: tuple[int, int], current, shape: tuple[int, int],
                  widest: float = 101.0) -> tuple[float, float, float, float]:
    """A view range (x0, x1, y0, y1) centred on ``pixel``: the size of ``current`` (None: the
    whole frame), no wider than ``widest`` pixels on its longer side so the pixel is seen."""
    ny, nx = shape
    if current is None:
        width, height = float(nx), float(ny)
    else:
        x0, x1, y0, y1 = current
        width, height = abs(x1 - x0), abs(y1 - y0)
    longer = max(width, height)
    if longer > widest:
        width, height = width * widest / longer, height * widest / longer
    cx, cy = float(pixel[0]), float(pixel[1])
    return (round(cx - width / 2, 3), round(cx + width / 2, 3),
            round(cy - height / 2, 3), round(cy + height / 2, 3))
