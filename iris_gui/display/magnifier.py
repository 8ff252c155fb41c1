"""The magnifier's picture and the panner's thumbnail, as RGB arrays, from a pane's index image
and colour table (the pane's stretch and limits are already in the index) and its DQ overlay
mask; Qt-free.

Facts the code relies on:

- The magnifier shows ``factor`` x ``factor`` screen pixels per frame pixel (nearest
  neighbour: each frame pixel a square block), the cursor's pixel in the middle block; rows go
  top to bottom with y decreasing (y up, as the panes). Only the cut-out is read, so the cost
  does not depend on the frame's size. Outside the frame: the panes' background colour.
- The overlay is painted over as the pane does: the overlay table's colour at its alpha
  (``colour * a + pixel * (1 - a)``, a = alpha / 255).
- The panner's thumbnail samples every s-th pixel (s the smallest power of two that brings the
  longer side to at most ``size``), and the overlay as its max over each s x s block (a level
  of the overlay's pyramid), so a single flagged pixel stays visible in it.
"""

from __future__ import annotations

import numpy as np

from .dq_flags import max_pool

__all__ = ["BACKGROUND", "MAGNIFIER_FACTORS", "magnified", "cut_out", "thumbnail_step",
           "thumbnail"]

#: the panes' background (outside the frame)
BACKGROUND = (40, 40, 40)
MAGNIFIER_FACTORS = (2, 4, 8, 16)


def cut_out(index: np.ndarray, centre: tuple[int, int], half_x: int, half_y: int,
            fill: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(values, inside): the (2 half_y + 1) x (2 half_x + 1) pixels around ``centre`` (x, y),
    row 0 the top (y = cy + half_y); ``inside`` False off the frame."""
    ny, nx = index.shape
    cx, cy = int(centre[0]), int(centre[1])
    h, w = 2 * half_y + 1, 2 * half_x + 1
    values = np.zeros((h, w), index.dtype) if fill is None else np.full((h, w), fill, index.dtype)
    inside = np.zeros((h, w), bool)
    xa, xb = max(0, cx - half_x), min(nx, cx + half_x + 1)
    ya, yb = max(0, cy - half_y), min(ny, cy + half_y + 1)
    if xa < xb and ya < yb:
        r0, r1 = (cy + half_y) - (yb - 1), (cy + half_y) - ya + 1
        c0, c1 = xa - (cx - half_x), xb - (cx - half_x)
        values[r0:r1, c0:c1] = index[ya:yb, xa:xb][::-1]
        inside[r0:r1, c0:c1] = True
    return values, inside


def _paint(index: np.ndarray, inside: np.ndarray, lut: np.ndarray, mask: np.ndarray | None,
           overlay_lut: np.ndarray | None) -> np.ndarray:
    rgb = lut[index][..., :3].astype(np.float32)
    if mask is not None and overlay_lut is not None:
        colours = overlay_lut[mask]
        alpha = colours[..., 3:4].astype(np.float32) / 255.0
        rgb = rgb * (1.0 - alpha) + colours[..., :3] * alpha
    rgb = np.rint(rgb).astype(np.uint8)
    rgb[~inside] = BACKGROUND
    return rgb


def magnified(index: np.ndarray, lut: np.ndarray, centre: tuple[int, int], factor: int,
              size: tuple[int, int], mask: np.ndarray | None = None,
              overlay_lut: np.ndarray | None = None) -> np.ndarray:
    """``size`` = (width, height) screen pixels of the frame around ``centre`` magnified
    ``factor`` times, as an (height, width, 3) ``uint8`` RGB array; the cursor's pixel is the
    block whose top-left corner is at ``magnified_origin(factor, size)``."""
    width, height = size
    half_x = -(-(width // 2 + factor) // factor)
    half_y = -(-(height // 2 + factor) // factor)
    values, inside = cut_out(index, centre, half_x, half_y)
    pooled = cut_out(mask, centre, half_x, half_y)[0] if mask is not None else None
    rgb = _paint(values, inside, lut, pooled, overlay_lut)
    # the centre pixel's block starts at half * factor; put it at the origin the widget expects
    ox, oy = magnified_origin(factor, size)
    left, top = half_x * factor - ox, half_y * factor - oy
    # screen row v shows cut-out row (v + top) // factor: two gathers of just the pixels
    # shown (half the time of repeating every block and cropping)
    rows = (np.arange(height) + top) // factor
    columns = (np.arange(width) + left) // factor
    return np.take(np.take(rgb, rows, axis=0), columns, axis=1)


def magnified_origin(factor: int, size: tuple[int, int]) -> tuple[int, int]:
    """Top-left corner (screen pixels) of the cursor pixel's block in the magnified picture:
    the block centred in the picture."""
    width, height = size
    return width // 2 - factor // 2, height // 2 - factor // 2


def thumbnail_step(shape: tuple[int, int], size: int) -> int:
    """The power of two that brings the longer side of ``shape`` to at most ``size``."""
    step = 1
    while -(-max(shape) // step) > max(1, size):
        step *= 2
    return step


def thumbnail(index: np.ndarray, lut: np.ndarray, size: int,
              pyramid: list[np.ndarray] | None = None, overlay_lut: np.ndarray | None = None
              ) -> tuple[np.ndarray, int]:
    """(rgb, step): the frame's index image sampled every ``step`` pixels (rows top to bottom,
    y decreasing) painted with ``lut``, and the overlay's max over each block from its pyramid
    (``dq_flags.mask_pyramid``: level k is pooled 2^k, so level log2(step) is the block max)."""
    step = thumbnail_step(index.shape, size)
    sampled = index[::step, ::step]
    pooled = None
    if pyramid:
        level = min(step.bit_length() - 1, len(pyramid) - 1)
        pooled = max_pool(pyramid[level], step >> level)[:sampled.shape[0], :sampled.shape[1]]
    rgb = _paint(sampled, np.ones(sampled.shape, bool), lut, pooled, overlay_lut)
    return np.ascontiguousarray(rgb[::-1]), step
