"""The arithmetic behind the inspection views, free of Qt so it can be tested with numpy alone.

Display pipeline: a float frame is turned once (on a worker thread) into a ``uint8`` *index image*
— indices ``0 .. N_COLOURS - 1`` for finite values after the limits and the stretch, and
``NAN_INDEX`` for NaN — which Qt paints as an ``Indexed8`` image through a 256-entry colour table.
Changing the colormap only swaps the table; changing limits or stretch re-quantizes the frame.

The DQ overlay is a second ``uint8`` image (0 = transparent, 1.. = one colour per selected flag),
max-pooled by powers of two for zoomed-out display so a single flagged pixel stays visible.

Pixel conventions (as the engine's WCS): array index ``[y, x]``; view coordinates are
0-based pixel coordinates with the *centre* of ``data[0, 0]`` at (0, 0), so pixel ``(x, y)`` covers
``[x - 0.5, x + 0.5) x [y - 0.5, y + 0.5)`` and astropy's ``all_pix2world(x, y, 0)`` applies as is.
Readouts say whether they print 0-based (numpy, astropy ``origin=0``) or 1-based (FITS, DS9)
indices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from astropy.visualization import ZScaleInterval  # imported here, not in a worker: it holds the GIL

from ..engine.dq import DQ_BITS, decode

#: colour-table entries used for finite data (0 .. N_COLOURS - 1)
N_COLOURS = 254
#: colour-table entry for NaN pixels
NAN_INDEX = 255
#: fine linear quantization before the stretch table (65536 steps keep log/asinh smooth)
STRETCH_TABLE_SIZE = 65536
#: at most this many pixels go into the level / histogram sample
SAMPLE_PIXELS = 250_000
#: zscale samples taken from the regular subsample (IRAF uses 1000 by default, DS9 600)
ZSCALE_SAMPLES = 5000
#: rows processed per block (keeps temporaries in cache)
BLOCK_PIXELS = 1 << 18

STRETCHES = ("linear", "sqrt", "log", "asinh")
LIMIT_METHODS = ("zscale", "percentile", "minmax", "manual")
PERCENTILES = (99.9, 99.5, 99.0, 98.0, 95.0, 90.0)

#: log stretch: y = log10(a t + 1) / log10(a + 1)  (DS9's default exponent a = 1000)
LOG_A = 1000.0
#: asinh stretch: y = asinh(t / b) / asinh(1 / b)  (astropy AsinhStretch default a = 0.1)
ASINH_B = 0.1


# ---- stretch and limits ------------------------------------------------------------------------
def stretch_curve(name: str, t: np.ndarray) -> np.ndarray:
    """Map ``t`` in [0, 1] (position between the limits) to [0, 1] on the colour scale."""
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
    if name == "linear":
        return t
    if name == "sqrt":
        return np.sqrt(t)
    if name == "log":
        return np.log10(LOG_A * t + 1.0) / np.log10(LOG_A + 1.0)
    if name == "asinh":
        return np.arcsinh(t / ASINH_B) / np.arcsinh(1.0 / ASINH_B)
    raise ValueError(f"unknown stretch {name!r}; choose one of {', '.join(STRETCHES)}")


def inverse_stretch(name: str, y: np.ndarray) -> np.ndarray:
    """``t`` such that ``stretch_curve(name, t) == y`` (for colorbar ticks)."""
    y = np.clip(np.asarray(y, dtype=np.float64), 0.0, 1.0)
    if name == "linear":
        return y
    if name == "sqrt":
        return y * y
    if name == "log":
        return (np.power(LOG_A + 1.0, y) - 1.0) / LOG_A
    if name == "asinh":
        return np.sinh(y * np.arcsinh(1.0 / ASINH_B)) * ASINH_B
    raise ValueError(f"unknown stretch {name!r}")


@lru_cache(maxsize=8)
def stretch_table(name: str) -> np.ndarray:
    """``uint8`` colour index for each of ``STRETCH_TABLE_SIZE`` linear steps between the limits."""
    t = np.linspace(0.0, 1.0, STRETCH_TABLE_SIZE)
    table = np.rint(stretch_curve(name, t) * (N_COLOURS - 1)).astype(np.uint8)
    table.setflags(write=False)
    return table


def regular_sample(image: np.ndarray, max_pixels: int = SAMPLE_PIXELS) -> np.ndarray:
    """The finite values of a regular 2-D subsample of at most about ``max_pixels`` pixels."""
    image = np.asarray(image)
    step = max(1, math.ceil(math.sqrt(image.size / max_pixels)))
    sample = np.asarray(image[::step, ::step], dtype=np.float32).ravel()
    return sample[np.isfinite(sample)]


def finite_range(image: np.ndarray) -> tuple[float, float]:
    """Exact (min, max) of the finite pixels; (nan, nan) if there are none."""
    low = float(np.fmin.reduce(image, axis=None)) if image.size else math.nan
    high = float(np.fmax.reduce(image, axis=None)) if image.size else math.nan
    if math.isinf(low) or math.isinf(high):  # infinities: fall back to a finite scan
        finite = image[np.isfinite(image)]
        if finite.size == 0:
            return math.nan, math.nan
        return float(finite.min()), float(finite.max())
    return low, high


def ordered_limits(low: float, high: float) -> tuple[float, float]:
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return 0.0, 1.0
    if not high > low:
        spread = abs(low) * 1e-6 or 1.0
        return low - spread, low + spread
    return low, high


def zscale_limits(sample: np.ndarray, n_samples: int = ZSCALE_SAMPLES) -> tuple[float, float]:
    """astropy ``ZScaleInterval`` on a (finite) subsample."""
    sample = np.asarray(sample)
    if sample.size == 0:
        return 0.0, 1.0
    low, high = ZScaleInterval(n_samples=n_samples).get_limits(sample)
    return ordered_limits(low, high)


def percentile_limits(sample: np.ndarray, percent: float) -> tuple[float, float]:
    """Central ``percent`` of the sample: 99.5 -> the 0.25 and 99.75 percentiles."""
    sample = np.asarray(sample)
    if sample.size == 0:
        return 0.0, 1.0
    tail = (100.0 - float(percent)) / 2.0
    low, high = np.percentile(sample, [tail, 100.0 - tail])
    return ordered_limits(low, high)


@dataclass
class FrameInfo:
    """What the display needs to know about one frame, computed once per frame."""

    shape: tuple[int, int]
    sample: np.ndarray          # finite values of a regular subsample
    vmin: float                 # exact finite min / max
    vmax: float
    zscale: tuple[float, float] | None = None   # computed eagerly (the default limits)

    def limits(self, method: str, percent: float = 99.5,
               manual: tuple[float, float] | None = None) -> tuple[float, float]:
        if method == "zscale":
            if self.zscale is None:
                self.zscale = zscale_limits(self.sample)
            return self.zscale
        if method == "percentile":
            return percentile_limits(self.sample, percent)
        if method == "minmax":
            return ordered_limits(self.vmin, self.vmax)
        if method == "manual":
            if manual is None:
                return zscale_limits(self.sample)
            return ordered_limits(*manual)
        raise ValueError(f"unknown limits {method!r}; choose one of {', '.join(LIMIT_METHODS)}")

    def histogram(self, low: float, high: float, bins: int = 200) -> tuple[np.ndarray, np.ndarray]:
        """Counts and edges of the sample over a range a little wider than (low, high)."""
        span = high - low
        lo = low - 0.25 * span
        hi = high + 0.25 * span
        if self.sample.size and math.isfinite(self.vmin) and math.isfinite(self.vmax):
            lo = max(lo, self.vmin)
            hi = min(hi, self.vmax)
            lo, hi = min(lo, low), max(hi, high)
        if not hi - lo > 1e-4 * max(abs(lo), abs(hi), 1e-30):
            # a constant frame: numpy cannot make 200 float32 bins of a (nearly) empty range
            centre = 0.5 * (lo + hi)
            half = max(abs(centre) * 1e-3, 0.5)
            lo, hi = centre - half, centre + half
        counts, edges = np.histogram(self.sample, bins=bins, range=(float(lo), float(hi)))
        return counts, edges.astype(np.float64)


def frame_info(image: np.ndarray) -> FrameInfo:
    image = np.asarray(image)
    vmin, vmax = finite_range(image)
    sample = regular_sample(image)
    return FrameInfo(image.shape, sample, vmin, vmax, zscale_limits(sample))


# ---- quantization ------------------------------------------------------------------------------
def quantize(image: np.ndarray, low: float, high: float, stretch: str = "linear",
             out: np.ndarray | None = None) -> np.ndarray:
    """``uint8`` index image: limits and stretch applied, NaN -> ``NAN_INDEX``.

    Values below ``low`` get index 0, above ``high`` index ``N_COLOURS - 1``. The frame is processed
    in row blocks (temporaries stay in cache; ~4 passes over the data in all)."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError("quantize takes a 2-D frame")
    low, high = ordered_limits(low, high)
    table = stretch_table(stretch)
    ny, nx = image.shape
    if out is None:
        out = np.empty((ny, nx), np.uint8)
    scale = (STRETCH_TABLE_SIZE - 1) / (high - low)
    # (x - origin) * scale == (x - low) * scale + 0.5: truncation then rounds to nearest. The
    # subtraction comes first so large offsets do not eat float32 precision.
    origin = np.float32(low - 0.5 / scale)
    scale = np.float32(scale)
    top = np.float32(STRETCH_TABLE_SIZE - 1)
    rows = max(1, BLOCK_PIXELS // max(1, nx))
    buffer = np.empty((rows, nx), np.float32)
    indices = np.empty((rows, nx), np.uint16)
    is_float = image.dtype.kind == "f"
    nan_mask = np.empty((rows, nx), bool) if is_float else None
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, ny, rows):
            stop = min(ny, start + rows)
            n = stop - start
            block = image[start:stop]
            buf = buffer[:n]
            np.subtract(block, origin, out=buf, casting="unsafe")
            np.multiply(buf, scale, out=buf)
            np.clip(buf, 0, top, out=buf)
            idx = indices[:n]
            np.copyto(idx, buf, casting="unsafe")   # NaN -> some index, fixed below
            target = out[start:stop]
            np.take(table, idx, out=target)
            if is_float:
                mask = nan_mask[:n]
                np.isnan(block, out=mask)
                np.copyto(target, NAN_INDEX, where=mask)
    return out


def index_of_value(value: float, low: float, high: float, stretch: str) -> int:
    """The colour index ``quantize`` gives one value (NaN -> ``NAN_INDEX``)."""
    return int(quantize(np.array([[value]], np.float32), low, high, stretch)[0, 0])


# ---- DQ overlay ----------------------------------------------------------------------------------
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


# ---- regions -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Region:
    """A rectangle (``x0, y0`` corner, ``width, height``) or a circle (centre ``x0, y0``, radius
    ``width``) in view coordinates (pixel centres at integers). A pixel belongs to a box when its
    centre is in ``[x0, x0 + width) x [y0, y0 + height)``, to a circle when its centre is within
    ``width`` of the circle's centre."""

    kind: str
    x0: float
    y0: float
    width: float
    height: float = 0.0

    def bounds(self, shape: tuple[int, int]) -> tuple[slice, slice]:
        """(rows, columns) of the smallest slice holding every pixel of the region."""
        ny, nx = shape[-2:]
        if self.kind == "circle":
            xa, xb = self.x0 - self.width, self.x0 + self.width
            ya, yb = self.y0 - self.width, self.y0 + self.width
        else:
            xa, xb = self.x0, self.x0 + self.width
            ya, yb = self.y0, self.y0 + self.height
        # box: centre i in [a, b)  <=>  ceil(a) <= i < ceil(b); circle: closed, i <= floor(b)
        end = (lambda b: math.floor(b) + 1) if self.kind == "circle" else math.ceil
        i0 = min(nx, max(0, math.ceil(xa)))
        i1 = min(nx, max(0, end(xb)))
        j0 = min(ny, max(0, math.ceil(ya)))
        j1 = min(ny, max(0, end(yb)))
        return slice(j0, max(j0, j1)), slice(i0, max(i0, i1))

    def mask(self, shape: tuple[int, int]) -> tuple[tuple[slice, slice], np.ndarray | None]:
        """The bounding slice and, for a circle, the boolean mask within it (None: all of it)."""
        rows, cols = self.bounds(shape)
        if self.kind != "circle":
            return (rows, cols), None
        y = np.arange(rows.start, rows.stop) - self.y0
        x = np.arange(cols.start, cols.stop) - self.x0
        inside = (y[:, None] ** 2 + x[None, :] ** 2) <= self.width ** 2
        return (rows, cols), inside

    def describe(self, one_based: bool = False) -> str:
        base = 1 if one_based else 0
        if self.kind == "circle":
            return (f"circle centre ({self.x0 + base:.1f}, {self.y0 + base:.1f}) "
                    f"r = {self.width:.1f} px")
        rows, cols = self.bounds((1 << 30, 1 << 30))
        return (f"box x {cols.start + base}..{cols.stop - 1 + base}, "
                f"y {rows.start + base}..{rows.stop - 1 + base}")


@dataclass
class RegionStats:
    n: int = 0                 # finite pixels used
    n_nan: int = 0
    n_flagged: int = 0         # pixels in the region with DQ != 0
    mean: float = math.nan
    median: float = math.nan
    std: float = math.nan
    clipped_mean: float = math.nan
    clipped_std: float = math.nan
    clipped_n: int = 0
    min: float = math.nan
    max: float = math.nan
    extra: dict = field(default_factory=dict)


#: below this many values numpy's sort beats the two-pass radix sort
RADIX_MIN = 60_000


def sort_float32(values: np.ndarray) -> np.ndarray:
    """Sorted copy of NaN-free float32 values. Large arrays use a two-pass LSD radix sort on the
    order-preserving integer keys of the floats (numpy's stable sort of 16-bit keys is a radix
    sort): ~18 ms for 1e6 values where ``np.sort`` takes ~30 ms."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    if values.size < RADIX_MIN:
        return np.sort(values)
    bits = values.view(np.uint32)
    # negative floats: flip every bit; positive: flip the sign bit -> unsigned order == float order
    keys = bits ^ np.where(bits >> np.uint32(31), np.uint32(0xFFFFFFFF), np.uint32(0x80000000))
    low = np.argsort((keys & np.uint32(0xFFFF)).astype(np.uint16), kind="stable")
    keys = keys[low]
    high = np.argsort((keys >> np.uint32(16)).astype(np.uint16), kind="stable")
    keys = keys[high]
    keys ^= np.where(keys >> np.uint32(31), np.uint32(0x80000000), np.uint32(0xFFFFFFFF))
    return keys.view(np.float32)


def sigma_clipped_sorted(values: np.ndarray, sigma: float = 3.0, maxiters: int | None = 5
                         ) -> tuple[int, int]:
    """Indices ``[i, j)`` of the values astropy's ``sigma_clip`` keeps (centre median, spread std,
    symmetric ``sigma``) for an already *sorted* 1-D array: the kept set is always a contiguous
    run of the sorted values, so each iteration is one std and two binary searches."""
    i, j = 0, values.size
    iteration = 0
    while j > i and (maxiters is None or iteration < maxiters):
        iteration += 1
        run = values[i:j]
        n = j - i
        half = n // 2
        centre = run[half] if n % 2 else (run[half - 1] + run[half]) / 2
        spread = float(run.std(dtype=np.float64))
        low, high = float(centre) - sigma * spread, float(centre) + sigma * spread
        new_i = i + int(np.searchsorted(run, low, side="left"))
        new_j = i + int(np.searchsorted(run, high, side="right"))
        if (new_i, new_j) == (i, j):
            break
        i, j = new_i, new_j
    return i, j


def region_values(image: np.ndarray, region: Region, dq: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixel values (and DQ) inside the region, flattened."""
    (rows, cols), inside = region.mask(image.shape)
    values = image[rows, cols]
    flags = dq[rows, cols] if dq is not None else None
    if inside is not None:
        values = values[inside]
        flags = flags[inside] if flags is not None else None
    return values.ravel(), (flags.ravel() if flags is not None else None)


def region_statistics(image: np.ndarray, region: Region, dq: np.ndarray | None = None,
                      sigma: float = 3.0, maxiters: int | None = 5,
                      ignore_flagged: bool = False) -> RegionStats:
    """N, N flagged, mean, median, std, sigma-clipped mean/std, min, max of the finite pixels in
    ``region`` (NaN excluded; flagged pixels excluded too when ``ignore_flagged``)."""
    values, flags = region_values(image, region, dq)
    stats = RegionStats()
    if flags is not None:
        flagged = flags != 0
        stats.n_flagged = int(np.count_nonzero(flagged))
        if ignore_flagged:
            values = values[~flagged]
    finite = np.isfinite(values)
    stats.n_nan = int(values.size - np.count_nonzero(finite))
    if stats.n_nan:
        values = values[finite]
    stats.n = int(values.size)
    if values.size == 0:
        return stats
    ordered = sort_float32(values)
    stats.min = float(ordered[0])
    stats.max = float(ordered[-1])
    half = ordered.size // 2
    stats.median = float(ordered[half] if ordered.size % 2 else
                         (float(ordered[half - 1]) + float(ordered[half])) / 2)
    stats.mean = float(ordered.mean(dtype=np.float64))
    stats.std = float(ordered.std(dtype=np.float64))
    i, j = sigma_clipped_sorted(ordered, sigma, maxiters)
    kept = ordered[i:j]
    stats.clipped_n = int(kept.size)
    if kept.size:
        stats.clipped_mean = float(kept.mean(dtype=np.float64))
        stats.clipped_std = float(kept.std(dtype=np.float64))
    return stats


def format_stats_table(names: Sequence[str], stats: Sequence[RegionStats], region: Region,
                       one_based: bool, short_names: Sequence[str] | None = None) -> str:
    """Plain-text table, one column per pane (headed by ``short_names``, e.g. "A", "B", with
    ``names`` spelt out above), for the panel and the clipboard."""
    rows = [
        ("N (finite)", "n", "d"), ("N NaN", "n_nan", "d"), ("N flagged", "n_flagged", "d"),
        ("mean", "mean", "g"), ("median", "median", "g"), ("std", "std", "g"),
        ("clip mean", "clipped_mean", "g"), ("clip std", "clipped_std", "g"),
        ("clip N kept", "clipped_n", "d"), ("min", "min", "g"), ("max", "max", "g"),
    ]
    heads = list(short_names) if short_names is not None else list(names)
    width = max(11, *(len(h) for h in heads))
    lines = [f"{region.describe(one_based)} ({'1' if one_based else '0'}-based)"]
    if short_names is not None:
        lines += [f"{short} = {name}" for short, name in zip(short_names, names, strict=True)]
    lines.append("clip: 3σ about the median, ≤ 5 iterations")
    lines.append(f"{'':<12}" + "".join(f"{head:>{width + 1}}" for head in heads))
    for label, attr, kind in rows:
        cells = []
        for s in stats:
            value = getattr(s, attr)
            cells.append(f"{value:>{width + 1}d}" if kind == "d" else
                         f"{format_value(value):>{width + 1}}")
        lines.append(f"{label:<12}" + "".join(cells))
    return "\n".join(lines)


# ---- readout -----------------------------------------------------------------------------------
def format_value(value: float) -> str:
    if value is None:
        return "—"
    value = float(value)
    if math.isnan(value):
        return "NaN"
    return f"{value:.6g}"


def pixel_at(x: float, y: float) -> tuple[int, int]:
    """0-based pixel under view coordinates (x, y) (pixel centres at integers)."""
    return int(math.floor(x + 0.5)), int(math.floor(y + 0.5))


def pixel_label(ix: int, iy: int, one_based: bool) -> str:
    base = 1 if one_based else 0
    return f"x = {ix + base}, y = {iy + base} ({'1-based, FITS' if one_based else '0-based'})"


def sexagesimal(value_deg: float, hours: bool, decimals: int) -> str:
    """``hh:mm:ss.sss`` (RA, ``hours``) or ``±dd:mm:ss.ss`` with carries rounded correctly."""
    value = float(value_deg)
    if hours:
        value = (value % 360.0) / 15.0
    sign = "-" if value < 0 else ("+" if not hours else "")
    scale = 10 ** decimals
    total = round(abs(value) * 3600.0 * scale)  # in units of 10**-decimals seconds
    if hours:
        total %= 24 * 3600 * scale
    whole_seconds, fraction = divmod(total, scale)
    degrees, rest = divmod(whole_seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{degrees:02d}:{minutes:02d}:{seconds:02d}"
    if decimals:
        text += f".{fraction:0{decimals}d}"
    return text


def sky_position(wcs, ix: float, iy: float) -> tuple[float, float] | None:
    """(RA, Dec) in degrees at 0-based pixel (ix, iy) from an astropy WCS (``origin=0``)."""
    if wcs is None:
        return None
    try:
        world = wcs.all_pix2world(np.array([[float(ix), float(iy)]]), 0)
    except Exception:  # noqa: BLE001 - a failing transform only means no sky position
        return None
    ra, dec = float(world[0][0]), float(world[0][1])
    if not (math.isfinite(ra) and math.isfinite(dec)):
        return None
    return ra, dec


def format_sky(ra: float, dec: float) -> str:
    return (f"RA {sexagesimal(ra, True, 3)}  Dec {sexagesimal(dec, False, 2)}   "
            f"({ra:.6f}°, {dec:+.6f}°)")


def format_dq(value: int) -> str:
    value = int(value)
    if value == 0:
        return "DQ 0"
    return f"DQ {value} = {'+'.join(decode(value))}"


@dataclass
class PaneValue:
    name: str
    value: float | None
    err: float | None = None
    dq: int | None = None


def format_readout(ix: int, iy: int, one_based: bool, panes: Sequence[PaneValue],
                   sky: tuple[float, float] | None) -> str:
    """Multi-line readout: position (and sky), then one line per shown pane."""
    head = pixel_label(ix, iy, one_based)
    if sky is not None:
        head += "    " + format_sky(*sky)
    lines = [head]
    width = max((len(p.name) for p in panes), default=0)
    for pane in panes:
        if pane.value is None:
            lines.append(f"{pane.name:<{width}}  (outside)")
            continue
        text = f"{pane.name:<{width}}  {format_value(pane.value):>12}"
        if pane.err is not None:
            text += f"   ERR {format_value(pane.err):>10}"
        if pane.dq is not None:
            text += f"   {format_dq(pane.dq)}"
        lines.append(text)
    return "\n".join(lines)
