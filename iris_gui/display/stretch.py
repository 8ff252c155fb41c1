"""Stretches, display limits and the ``uint8`` index image a frame is painted from.

A float frame is turned once (on a worker thread) into a ``uint8`` *index image* — indices
``0 .. N_COLOURS - 1`` for finite values after the limits and the stretch, and ``NAN_INDEX`` for
NaN — which Qt paints as an ``Indexed8`` image through a 256-entry colour table
(``colour_tables``). Changing the colormap only swaps the table; changing limits or stretch
re-quantizes the frame. Limits come from zscale, a central percentile, min/max or the user
(``format_limit`` writes a limit into an edit field without losing digits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "N_COLOURS", "NAN_INDEX", "STRETCH_TABLE_SIZE", "SAMPLE_PIXELS", "HISTOGRAM_PIXELS",
    "ZSCALE_SAMPLES",
    "BLOCK_PIXELS", "STRETCHES", "LIMIT_METHODS", "PERCENTILES", "LOG_A", "ASINH_B",
    "stretch_curve", "inverse_stretch", "stretch_table", "regular_sample", "finite_range",
    "ordered_limits", "zscale_limits", "percentile_limits", "FrameInfo", "frame_info",
    "histogram_sample",
    "quantize", "index_of_value", "format_limit", "colour_bar_ticks",
]

#: colour-table entries used for finite data (0 .. N_COLOURS - 1)
N_COLOURS = 254
#: colour-table entry for NaN pixels
NAN_INDEX = 255
#: fine linear quantization before the stretch table (65536 steps keep log/asinh smooth)
STRETCH_TABLE_SIZE = 65536
#: at most this many pixels go into the level / histogram sample
SAMPLE_PIXELS = 250_000
#: at most this many of the sample's pixels are counted in the histogram: 200 bins need no
#: more, and the window bins on its GUI thread whenever a frame or its limits change
HISTOGRAM_PIXELS = 50_000
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


@lru_cache(maxsize=1)
def _astropy_stretches() -> dict:
    """astropy.visualization's stretches (imported on first use: ~0.3 s)."""
    from astropy.visualization import AsinhStretch, LinearStretch, LogStretch, SqrtStretch

    return {"linear": LinearStretch(), "sqrt": SqrtStretch(), "log": LogStretch(a=LOG_A),
            "asinh": AsinhStretch(a=ASINH_B)}


def _stretch(name: str):
    try:
        return _astropy_stretches()[name]
    except KeyError:
        raise ValueError(f"unknown stretch {name!r}; choose one of {', '.join(STRETCHES)}") \
            from None


def stretch_curve(name: str, t: np.ndarray) -> np.ndarray:
    """Map ``t`` in [0, 1] (position between the limits) to [0, 1] on the colour scale:
    astropy.visualization's stretch of that name (clipped to [0, 1] first)."""
    stretch = _stretch(name)
    return stretch(np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0), clip=False)[()]


def inverse_stretch(name: str, y: np.ndarray) -> np.ndarray:
    """``t`` such that ``stretch_curve(name, t) == y`` (for colorbar ticks): the astropy
    stretch's inverse."""
    stretch = _stretch(name)
    return stretch.inverse(np.clip(np.asarray(y, dtype=np.float64), 0.0, 1.0), clip=False)[()]


def colour_bar_ticks(low: float, high: float, stretch: str,
                     fractions: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
                     ) -> list[tuple[float, float]]:
    """``(fraction, value)`` ticks of a colour bar drawn linear in colour (fraction 0 = the low
    limit's colour, 1 = the high's): each labelled with the data value shown in that colour
    (``low + inverse_stretch(f) * (high - low)``), as the live bar and the PNG's bar show."""
    return [(f, float(low + float(inverse_stretch(stretch, f)) * (high - low))) for f in fractions]


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
    # imported at first use (~0.3 s with astropy.units: not at start); the engine's worker
    # imports it in the background soon after the window is up (worker.warm_up)
    from astropy.visualization import ZScaleInterval

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


#: ``format_limit`` writes magnitudes in [POSITIONAL_MIN, POSITIONAL_MAX) without an exponent
POSITIONAL_MIN, POSITIONAL_MAX = 1e-4, 1e6
FLOAT32_MAX = float(np.finfo(np.float32).max)


def format_limit(value: float) -> str:
    """A display limit as text for an edit field: the shortest text that ``float()`` reads back
    to the same float32 value (the data's precision), sign always kept; magnitudes below
    ``POSITIONAL_MIN`` or from ``POSITIONAL_MAX`` up in scientific notation
    (``-0.000564617``, ``-5.64617e-05``, ``1.2345679e+07``)."""
    value = float(value)
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if abs(value) > FLOAT32_MAX:  # beyond float32: keep the float64 value
        return np.format_float_scientific(value, unique=True, trim="-", exp_digits=2)
    v = np.float32(value)
    if v == 0:
        return "0"
    if POSITIONAL_MIN <= abs(v) < POSITIONAL_MAX:
        return np.format_float_positional(v, unique=True, trim="-")
    return np.format_float_scientific(v, unique=True, trim="-", exp_digits=2)


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
        counts, edges = np.histogram(histogram_sample(self.sample), bins=bins,
                                     range=(float(lo), float(hi)))
        return counts, edges.astype(np.float64)


def histogram_sample(sample: np.ndarray, max_pixels: int = HISTOGRAM_PIXELS) -> np.ndarray:
    """Every k-th value of the (regular) sample, at most about ``max_pixels`` of them."""
    return sample[::max(1, math.ceil(sample.size / max_pixels))]


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


