"""Thumbnails, colour bars and histograms for the review report, painted like the window's panes.

A frame's display limits and its histogram come from the full-resolution frame exactly as the
window computes them (``display.stretch.frame_info``: zscale on a regular subsample by default).
The picture itself is the frame block-averaged to at most ``THUMB_SIDE`` pixels a side (the mean
of the finite pixels of each block; NaN where a block has none), quantized with the same limits
and stretch (``display.stretch.quantize``) and coloured with the window's colour table
(``display.colour_tables.colour_table``), written as an 8-bit palette PNG (Pillow).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import numpy as np

from ..display.colour_tables import DEFAULT_NAN_COLOUR, colour_table
from ..display.stretch import N_COLOURS, frame_info, inverse_stretch, quantize

#: longest side of a thumbnail, in (block-averaged) pixels
THUMB_SIDE = 256
#: histogram bins (the window's)
HISTOGRAM_BINS = 200


@dataclass(frozen=True)
class DisplaySettings:
    """How frames are painted: the window's stretch, limits and colour map (zscale by default)."""

    stretch: str = "linear"
    limits: str = "zscale"
    percent: float = 99.5
    colormap: str = "grey"
    nan_colour: tuple[int, int, int] = DEFAULT_NAN_COLOUR

    @classmethod
    def from_view_state(cls, view) -> DisplaySettings:
        """The settings of the window's ``state.view_state.ViewState`` (manual limits -> zscale)."""
        limits = view.limits if view.limits != "manual" else "zscale"
        return cls(view.stretch, limits, float(view.percent), view.colormap,
                   tuple(view.nan_colour))


@dataclass
class Histogram:
    """Counts of the frame's display sample over a range a little wider than its limits."""

    counts: np.ndarray
    edges: np.ndarray


@dataclass
class Thumbnail:
    label: str
    png: bytes
    #: display limits (low, high) the picture was quantized with
    levels: tuple[float, float]
    stretch: str
    colormap: str
    #: full-resolution frame shape and the block-average factor of the picture
    shape: tuple[int, int]
    block: int
    #: picture size (ny, nx)
    size: tuple[int, int]
    #: RGB of the picture (for the PDF), not kept in the HTML
    rgb: np.ndarray | None = field(default=None, repr=False)
    histogram: Histogram | None = field(default=None, repr=False)
    note: str = ""

    def ticks(self) -> list[tuple[float, float]]:
        """(position 0..1 along the colour bar, value) at both ends and the middle."""
        low, high = self.levels
        return [(p, low + float(inverse_stretch(self.stretch, p)) * (high - low))
                for p in (0.0, 0.5, 1.0)]


def block_factor(shape: tuple[int, int], side: int = THUMB_SIDE) -> int:
    return max(1, math.ceil(max(shape) / side))


def block_mean(frame: np.ndarray, factor: int) -> np.ndarray:
    """Mean of the finite pixels of each ``factor`` x ``factor`` block (NaN where none); edge
    blocks that are not full are averaged over the pixels they have."""
    frame = np.asarray(frame, dtype=np.float32)
    if factor <= 1:
        return frame.copy()
    ny, nx = frame.shape
    rows, cols = np.arange(0, ny, factor), np.arange(0, nx, factor)
    counts = np.outer(np.diff(np.append(rows, ny)), np.diff(np.append(cols, nx)))
    bad = np.flatnonzero(~np.isfinite(frame))
    values = frame
    if bad.size:
        values = frame.copy()
        values.reshape(-1)[bad] = 0
        blocks = (bad // nx // factor) * cols.size + (bad % nx) // factor
        counts = counts - np.bincount(blocks, minlength=counts.size).reshape(counts.shape)
    sums = np.add.reduceat(np.add.reduceat(values, cols, axis=1), rows, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts).astype(np.float32)


def _png(index: np.ndarray, table: np.ndarray) -> bytes:
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(index, dtype=np.uint8))  # "L"; the palette makes it "P"
    image.putpalette(table.reshape(-1).tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def levels_of(frame: np.ndarray, settings: DisplaySettings):
    """(FrameInfo, (low, high)) of a full-resolution frame, as the window computes them."""
    info = frame_info(frame)
    return info, info.limits(settings.limits, settings.percent)


def thumbnail(label: str, frame: np.ndarray, settings: DisplaySettings,
              levels: tuple[float, float] | None = None, note: str = "") -> Thumbnail:
    """The picture of a full-resolution 2-D ``frame`` at its own limits (or ``levels``)."""
    info, own = levels_of(frame, settings)
    low, high = levels if levels is not None else own
    counts, edges = info.histogram(low, high, HISTOGRAM_BINS)
    factor = block_factor(frame.shape)
    small = block_mean(frame, factor)
    index = quantize(small, low, high, settings.stretch)
    table = colour_table(settings.colormap, settings.nan_colour)
    return Thumbnail(label, _png(index, table), (float(low), float(high)), settings.stretch,
                     settings.colormap, tuple(frame.shape), factor, tuple(small.shape),
                     rgb=table[index], histogram=Histogram(counts, edges), note=note)


def colour_bar_png(colormap: str, nan_colour=DEFAULT_NAN_COLOUR) -> bytes:
    """A 1-pixel-high strip of the colour map's data colours (stretched by the page)."""
    index = np.arange(N_COLOURS, dtype=np.uint8).reshape(1, -1)
    return _png(index, colour_table(colormap, nan_colour))


def colour_bar_rgb(colormap: str, nan_colour=DEFAULT_NAN_COLOUR) -> np.ndarray:
    index = np.arange(N_COLOURS, dtype=np.uint8).reshape(1, -1)
    return colour_table(colormap, nan_colour)[index]


def rgb_png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()
