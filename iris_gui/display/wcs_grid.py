"""The RA/Dec grid, its labels, the compass and the scale bar over a frame, from the frame's
astropy WCS; Qt-free (the view computes them on its worker pool for the area shown and draws
the result).

Facts the code relies on:

- Pixel coordinates are the view's: 0-based, pixel centres at integers (``origin=0`` in
  ``all_pix2world`` / ``all_world2pix``, SIP included); the frame spans ``-0.5 .. n - 0.5``.
- The grid spacing is a sexagesimal step: RA in seconds of time (…, 1s, 2s, 5s, 10s, 15s, 30s,
  1m, …), Dec in arcseconds (…, 1″, 2″, 5″, 10″, 15″, 30″, 1′, …); the step is the smallest one at
  least a fifth of the area's extent, so 2 to 5 lines of each cross it. Values are whole
  multiples of the step counted in milliseconds of time / milliarcseconds, so a label never reads
  59.999s.
- RA is unwrapped about the area's centre (a field across RA = 0 gets lines 23h59m… and 0h00m…);
  an area holding a pole gets every RA and Dec up to the pole.
- A line is sampled along its length and cut exactly at the edges of the frame (the points
  where it leaves are interpolated onto the edge), NaN rows between its pieces; it reaches a
  margin beyond the area shown. Its label goes where its part inside the area shown is lowest
  (an RA line) or leftmost (a Dec line): on the area's bottom / left edge when it crosses it.
- The compass is worked out at a point of the area (upper right): north and east are the pixel
  directions of a small step in Dec and in RA·cos(Dec); the scale bar is a round number of
  arcseconds near a fifth of the area's width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["RA_STEPS_MS", "DEC_STEPS_MAS", "GridLine", "Compass", "WcsGrid", "grid_step",
           "format_ra", "format_dec", "sky_extent", "wcs_grid", "compass_at", "frame_box",
           "clip_polyline"]

#: RA steps in milliseconds of time (1 ms of time = 15 mas at the equator)
RA_STEPS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000,
               60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000,
               10_800_000, 21_600_000)
#: Dec steps in milliarcseconds
DEC_STEPS_MAS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000,
                 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000,
                 18_000_000, 36_000_000, 54_000_000, 108_000_000)
#: scale bar lengths in milliarcseconds
BAR_MAS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 30_000,
           60_000, 120_000, 300_000, 600_000, 1_200_000, 1_800_000, 3_600_000)
MS_PER_DEG_RA = 3_600_000 / 15      # ms of time per degree of RA
MAS_PER_DEG = 3_600_000
#: lines per step at least (the step is the smallest >= extent / LINES)
LINES = 5
#: samples along each line across the area
SAMPLES = 200


@dataclass(frozen=True)
class GridLine:
    """One line of constant RA (``axis`` "ra") or Dec ("dec"); ``value_units`` its value in ms of
    time / mas, ``x, y`` its pixels (NaN between pieces), the label and where it goes."""

    axis: str
    value_units: int
    x: np.ndarray
    y: np.ndarray
    label: str
    label_at: tuple[float, float] | None

    @property
    def degrees(self) -> float:
        scale = MS_PER_DEG_RA if self.axis == "ra" else MAS_PER_DEG
        return (self.value_units / scale) % 360.0 if self.axis == "ra" \
            else self.value_units / scale


@dataclass(frozen=True)
class Compass:
    """At ``origin`` (pixels): unit pixel vectors to north and east, the pixel scale there
    (arcsec per pixel), and a scale bar ``bar_mas`` long (``bar_pixels``) with its label."""

    origin: tuple[float, float]
    north: tuple[float, float]
    east: tuple[float, float]
    arcsec_per_pixel: float
    bar_mas: int
    bar_pixels: float
    bar_label: str


@dataclass(frozen=True)
class WcsGrid:
    box: tuple[float, float, float, float]
    ra_step_ms: int
    dec_step_mas: int
    lines: list[GridLine] = field(default_factory=list)
    compass: Compass | None = None

    def of_axis(self, axis: str) -> list[GridLine]:
        return [line for line in self.lines if line.axis == axis]


# ---- steps and labels -----------------------------------------------------------------------------
def grid_step(extent_units: float, steps: tuple[int, ...]) -> int:
    """The smallest step of ``steps`` that is at least ``extent / LINES``."""
    wanted = extent_units / LINES
    for step in steps:
        if step >= wanted:
            return step
    return steps[-1]


def _decimals(step_units: int) -> int:
    """Decimals of the seconds field for a step in thousandths of a second."""
    for decimals, unit in ((0, 1000), (1, 100), (2, 10)):
        if step_units % unit == 0:
            return decimals
    return 3


def format_ra(value_ms: int, step_ms: int) -> str:
    """RA of ``value_ms`` milliseconds of time as the step needs it: 10h, 10h05m, 10h05m30s,
    10h05m30.5s."""
    total = value_ms % (24 * 3_600_000)
    hours, rest = divmod(total, 3_600_000)
    minutes, ms = divmod(rest, 60_000)
    if step_ms % 3_600_000 == 0:
        return f"{hours}h"
    if step_ms % 60_000 == 0:
        return f"{hours}h{minutes:02d}m"
    decimals = _decimals(step_ms)
    seconds = f"{ms / 1000:0{3 + decimals if decimals else 2}.{decimals}f}"
    return f"{hours}h{minutes:02d}m{seconds}s"


def format_dec(value_mas: int, step_mas: int) -> str:
    """Dec of ``value_mas`` milliarcseconds: +02°, +02°12′, +02°12′03″, +02°12′03.5″ (the sign
    always shown)."""
    sign = "−" if value_mas < 0 else "+"
    total = abs(value_mas)
    degrees, rest = divmod(total, 3_600_000)
    minutes, mas = divmod(rest, 60_000)
    if step_mas % 3_600_000 == 0:
        return f"{sign}{degrees:02d}°"
    if step_mas % 60_000 == 0:
        return f"{sign}{degrees:02d}°{minutes:02d}′"
    decimals = _decimals(step_mas)
    seconds = f"{mas / 1000:0{3 + decimals if decimals else 2}.{decimals}f}"
    return f"{sign}{degrees:02d}°{minutes:02d}′{seconds}″"


# ---- geometry ---------------------------------------------------------------------------------------
def frame_box(shape: tuple[int, int], view_range=None) -> tuple[float, float, float, float] | None:
    """(x0, x1, y0, y1): the frame's extent, cut to ``view_range`` (x0, x1, y0, y1) when given;
    None when they do not overlap."""
    ny, nx = shape
    box = [-0.5, nx - 0.5, -0.5, ny - 0.5]
    if view_range is not None:
        x0, x1, y0, y1 = view_range
        box = [max(box[0], min(x0, x1)), min(box[1], max(x0, x1)),
               max(box[2], min(y0, y1)), min(box[3], max(y0, y1))]
    if box[1] <= box[0] or box[3] <= box[2]:
        return None
    return tuple(float(v) for v in box)  # type: ignore[return-value]


def _inside(x: np.ndarray, y: np.ndarray, box) -> np.ndarray:
    x0, x1, y0, y1 = box
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def _edge_point(xa, ya, xb, yb, box) -> tuple[float, float]:
    """Where the segment from inside point a to outside point b leaves the box."""
    x0, x1, y0, y1 = box
    t = 1.0
    for start, end, low, high in ((xa, xb, x0, x1), (ya, yb, y0, y1)):
        delta = end - start
        if delta > 0 and end > high:
            t = min(t, (high - start) / delta)
        elif delta < 0 and end < low:
            t = min(t, (low - start) / delta)
    return xa + t * (xb - xa), ya + t * (yb - ya)


def clip_polyline(x: np.ndarray, y: np.ndarray, box) -> tuple[np.ndarray, np.ndarray]:
    """The parts of the polyline inside ``box``, each cut exactly at the box's edge, NaN between
    parts (a non-finite sample breaks the line too)."""
    finite = np.isfinite(x) & np.isfinite(y)
    inside = finite & _inside(np.where(finite, x, 0), np.where(finite, y, 0), box)
    out_x: list[float] = []
    out_y: list[float] = []
    n = len(x)
    k = 0
    while k < n:
        if not inside[k]:
            k += 1
            continue
        start = k
        while k < n and inside[k]:
            k += 1
        piece_x, piece_y = list(x[start:k]), list(y[start:k])
        if start > 0 and finite[start - 1]:
            ex, ey = _edge_point(x[start], y[start], x[start - 1], y[start - 1], box)
            piece_x.insert(0, ex)
            piece_y.insert(0, ey)
        if k < n and finite[k]:
            ex, ey = _edge_point(x[k - 1], y[k - 1], x[k], y[k], box)
            piece_x.append(ex)
            piece_y.append(ey)
        if len(piece_x) >= 2:
            if out_x:
                out_x.append(np.nan)
                out_y.append(np.nan)
            out_x += piece_x
            out_y += piece_y
    return np.asarray(out_x, float), np.asarray(out_y, float)


def sky_extent(wcs, box) -> tuple[float, float, float, float, bool]:
    """(ra_low, ra_high, dec_low, dec_high, holds_pole) of the sky the pixel box covers, RA
    unwrapped about the box's centre (so ``ra_low`` may be negative or ``ra_high`` > 360)."""
    x0, x1, y0, y1 = box
    gx, gy = np.meshgrid(np.linspace(x0, x1, 21), np.linspace(y0, y1, 21))
    ra, dec = wcs.all_pix2world(gx.ravel(), gy.ravel(), 0)
    ok = np.isfinite(ra) & np.isfinite(dec)
    if not ok.any():
        raise ValueError("the WCS gives no sky position inside the area shown")
    ra, dec = ra[ok], dec[ok]
    centre_ra = float(wcs.all_pix2world([(x0 + x1) / 2], [(y0 + y1) / 2], 0)[0][0])
    if not math.isfinite(centre_ra):
        centre_ra = float(ra[0])
    unwrapped = centre_ra + ((ra - centre_ra + 180.0) % 360.0 - 180.0)
    dec_low, dec_high = float(dec.min()), float(dec.max())
    for pole in (90.0, -90.0):
        with np.errstate(all="ignore"):
            try:
                px, py = wcs.all_world2pix([centre_ra], [pole], 0, quiet=True)
            except Exception:  # noqa: BLE001 - no inverse there: the pole is not in the box
                continue
        if np.isfinite(px[0]) and np.isfinite(py[0]) and _inside(px, py, box)[0]:
            return 0.0, 360.0, min(dec_low, pole), max(dec_high, pole), True
    return float(unwrapped.min()), float(unwrapped.max()), dec_low, dec_high, False


def _to_pixels(wcs, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(all="ignore"):
        try:
            x, y = wcs.all_world2pix(ra, dec, 0, quiet=True)
        except Exception:  # noqa: BLE001 - a SIP inverse that does not converge: no line
            return np.full(ra.shape, np.nan), np.full(ra.shape, np.nan)
    return np.asarray(x, float), np.asarray(y, float)


def _multiples(low: float, high: float, step: int) -> range:
    return range(math.ceil(low / step), math.floor(high / step) + 1)


def wcs_grid(wcs, shape: tuple[int, int], view_range=None, compass: bool = True,
             margin: float = 0.5) -> WcsGrid | None:
    """The grid (and compass) for the part of a frame of ``shape`` shown in ``view_range``
    (None: the whole frame); None if the area shown is off the frame. The step, the labels and
    the compass follow the area shown; the lines reach ``margin`` of its size beyond it (within
    the frame) so a pan shows lines at once while the grid for the new area is worked out."""
    box = frame_box(shape, view_range)
    if box is None:
        return None
    x0, x1, y0, y1 = box
    width, height = x1 - x0, y1 - y0
    draw = frame_box(shape, (x0 - margin * width, x1 + margin * width,
                             y0 - margin * height, y1 + margin * height))
    ra_low, ra_high, dec_low, dec_high, _ = sky_extent(wcs, box)
    # extents in step units; RA's in ms of time (an RA line's spacing on the sky shrinks by
    # cos(Dec), and so does the span in RA of the area: the count of lines is what matters)
    ra_step = grid_step((ra_high - ra_low) * MS_PER_DEG_RA, RA_STEPS_MS)
    dec_step = grid_step((dec_high - dec_low) * MAS_PER_DEG, DEC_STEPS_MAS)
    grid = WcsGrid(box, ra_step, dec_step)
    ra_low, ra_high, dec_low, dec_high, pole = sky_extent(wcs, draw)
    margin_dec = (dec_high - dec_low) * 0.02
    dec_samples = np.clip(np.linspace(dec_low - margin_dec, dec_high + margin_dec, SAMPLES),
                          -90.0, 90.0)
    for k in _multiples(ra_low * MS_PER_DEG_RA, ra_high * MS_PER_DEG_RA, ra_step):
        value = k * ra_step
        if pole and value >= 24 * 3_600_000:
            continue
        ra = np.full(SAMPLES, value / MS_PER_DEG_RA)
        _add_line(grid, "ra", value, format_ra(value, ra_step),
                  _to_pixels(wcs, ra, dec_samples), draw, box)
    margin_ra = (ra_high - ra_low) * 0.02
    ra_samples = np.linspace(ra_low - margin_ra, ra_high + margin_ra, SAMPLES)
    for k in _multiples(dec_low * MAS_PER_DEG, dec_high * MAS_PER_DEG, dec_step):
        value = k * dec_step
        if abs(value) >= 90 * MAS_PER_DEG:
            continue
        dec = np.full(SAMPLES, value / MAS_PER_DEG)
        _add_line(grid, "dec", value, format_dec(value, dec_step),
                  _to_pixels(wcs, ra_samples, dec), draw, box)
    if compass:
        grid = WcsGrid(box, ra_step, dec_step, grid.lines, compass_at(wcs, box))
    return grid


def _add_line(grid: WcsGrid, axis: str, value: int, label: str, pixels, draw, box) -> None:
    x, y = clip_polyline(*pixels, draw)
    if not x.size:
        return
    shown_x, shown_y = clip_polyline(x, y, box)
    at = _label_point(shown_x, shown_y, axis) if shown_x.size else None
    grid.lines.append(GridLine(axis, value, x, y, label, at))


def _label_point(x: np.ndarray, y: np.ndarray, axis: str) -> tuple[float, float] | None:
    finite = np.isfinite(x)
    if not finite.any():
        return None
    along = y if axis == "ra" else x
    k = int(np.nanargmin(np.where(finite, along, np.inf)))
    return float(x[k]), float(y[k])


def compass_at(wcs, box) -> Compass | None:
    """North / east directions and a scale bar at the upper right of ``box`` (see the module
    docstring); None where the WCS gives no sky position there."""
    x0, x1, y0, y1 = box
    width, height = x1 - x0, y1 - y0
    ox, oy = x1 - 0.16 * width, y1 - 0.16 * height
    ra, dec = wcs.all_pix2world([ox], [oy], 0)
    ra, dec = float(ra[0]), float(dec[0])
    if not (math.isfinite(ra) and math.isfinite(dec)):
        return None
    scale = _local_scale_deg(wcs, ox, oy)
    step = scale * 10.0                  # ten pixels on the sky, in degrees
    cos_dec = max(1e-6, math.cos(math.radians(dec)))
    north_dec = dec + step if dec + step <= 90.0 else dec - step
    px, py = _to_pixels(wcs, np.array([ra, ra + step / cos_dec]), np.array([north_dec, dec]))
    if not np.isfinite(px).all():
        return None
    sign = 1.0 if north_dec > dec else -1.0
    north = _unit(sign * (px[0] - ox), sign * (py[0] - oy))
    east = _unit(px[1] - ox, py[1] - oy)
    arcsec_per_pixel = scale * 3600.0
    wanted = width * arcsec_per_pixel * 1000.0 / 5.0
    bar = next((b for b in reversed(BAR_MAS) if b <= wanted), BAR_MAS[0])
    return Compass((ox, oy), north, east, arcsec_per_pixel, bar,
                   bar / 1000.0 / arcsec_per_pixel, _bar_label(bar))


def _local_scale_deg(wcs, x: float, y: float) -> float:
    """Degrees per pixel at (x, y): the square root of the area of one pixel on the sky."""
    ra, dec = wcs.all_pix2world([x, x + 1, x], [y, y, y + 1], 0)
    cos_dec = math.cos(math.radians(dec[0]))
    dx = np.array([(ra[1] - ra[0] + 180) % 360 - 180, dec[1] - dec[0]])
    dy = np.array([(ra[2] - ra[0] + 180) % 360 - 180, dec[2] - dec[0]])
    dx[0] *= cos_dec
    dy[0] *= cos_dec
    return math.sqrt(abs(dx[0] * dy[1] - dx[1] * dy[0]))


def _unit(dx: float, dy: float) -> tuple[float, float]:
    norm = math.hypot(dx, dy) or 1.0
    return dx / norm, dy / norm


def _bar_label(mas: int) -> str:
    if mas >= 60_000 and mas % 60_000 == 0:
        return f"{mas // 60_000}′"
    return f"{mas / 1000:g}″"
