"""The numbers the review report gives for each step, computed from the arrays (numpy only).

Definitions (every statistic is over all integrations of a rateints product):

- *good pixels*: finite SCI whose DQ lacks DO_NOT_USE.
- *median*, *percentiles* and *robust sigma*: ``np.median`` / ``np.percentile`` of the good
  pixels and ``1.4826 * median(|x - m|)`` (the MAD scaled to a Gaussian sigma). Frames of more
  than ``SAMPLE_PIXELS`` pixels are first sampled on a regular grid (every s-th row and column,
  ``s = ceil(sqrt(pixels / SAMPLE_PIXELS))``, see ``sampled``): a 2048² frame uses every second
  pixel of every second row. Smaller frames use every pixel.
- bkg_subtract: number of backgrounds N, the clip's sigma, the largest deviation from the median
  any one of N values can have (``max_clip_deviation``), whether the clip can reject at all
  (``sigma < max_clip_deviation(N)``), the values clipped or not finite (N x pixels minus the
  values the combine used), sky median and robust sigma before and after.
- dark_current: the level subtracted (``before - after`` where both are finite): median, 1st and
  99th percentile (``np.percentile``, linear); pixels where the dark is NaN (they count as 0).
- flat_field: ``after / before`` (``display.frames.ratio``) where finite: median and robust sigma;
  pixels flagged NO_FLAT_FIELD after, and newly.
- resample: output shape and pixel scale, rotation, flux ratio ``F(_i2d) / F(_cal)`` (see
  ``flux_ratio``), the range of the weights where they are positive, the covered fraction.
- DQ: pixels carrying each flag before, after, and newly (``after & ~before``); NaN pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engine.dq import DO_NOT_USE, DQ_BITS

#: MAD -> Gaussian sigma
MAD_SCALE = 1.4826
#: at most about this many pixels go into a median or percentile
SAMPLE_PIXELS = 1 << 20


@dataclass(frozen=True)
class Metric:
    """One number of a step: ``key`` is stable (tests, HTML ``data-metric``), ``label`` is for
    people; ``value`` a float, int, bool, text or None (not available)."""

    key: str
    label: str
    value: object
    unit: str = ""
    note: str = ""


def max_clip_deviation(n: int) -> float:
    """The largest ``|x - median| / std`` (population std) that one of ``n`` values can reach.

    For n >= 3 the extreme is ``floor(n/2) + 1`` values at the median, the outlier, and the rest at
    the mean: ``sqrt(n (k + 2) / (k + 1))`` with ``k = floor(n / 2)`` — 2.12 for 3 values, 2.31
    for 4, 2.58 for 5, 3.10 for 8. Two values are always 1 sigma from their median (their mean).
    A sigma clip whose sigma is at least this can never reject a value.
    """
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    k = n // 2
    return math.sqrt(n * (k + 2) / (k + 1))


def sample_step(shape: tuple[int, ...]) -> int:
    """Row and column step of the regular sample of an array of ``shape``."""
    pixels = math.prod(shape)
    return max(1, math.ceil(math.sqrt(pixels / SAMPLE_PIXELS)))


def sampled(array: np.ndarray, step: int) -> np.ndarray:
    """Every ``step``-th row and column of a 2-D or 3-D array (a view)."""
    return array if step == 1 else array[..., ::step, ::step]


def good_values(data: np.ndarray, dq: np.ndarray) -> np.ndarray:
    """The good pixels' values (finite, no DO_NOT_USE) as a 1-D float32 array."""
    mask = np.isfinite(data)
    mask &= (dq & np.uint32(DO_NOT_USE)) == 0
    return data[mask]


def median_and_sigma(values: np.ndarray) -> tuple[float, float]:
    """(median, 1.4826 * MAD) of a 1-D array; NaN for an empty one."""
    if values.size == 0:
        return math.nan, math.nan
    median = float(np.median(values))
    deviation = np.abs(values - np.float32(median))
    return median, MAD_SCALE * float(np.median(deviation))


def nan_count(data: np.ndarray) -> int:
    return int(np.count_nonzero(np.isnan(data)))


def dq_counts(dq: np.ndarray) -> dict[str, int]:
    """Pixels carrying each flag present in ``dq`` (only nonzero pixels are looked at)."""
    flat = np.asarray(dq).reshape(-1)
    values = flat[flat != 0]
    if values.size == 0:
        return {}
    present = int(np.bitwise_or.reduce(values))
    return {name: int(np.count_nonzero(values & np.uint32(1 << bit)))
            for name, bit in DQ_BITS.items() if present >> bit & 1}


def new_dq(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The bits a step raised, ``after & ~before``, for the pixels where ``after`` has any bit
    (a 1-D array: the other pixels have raised nothing). Both arrays have the same shape."""
    flat_after = np.asarray(after).reshape(-1)
    where = np.flatnonzero(flat_after)
    raised = flat_after[where] & ~np.asarray(before).reshape(-1)[where].astype(flat_after.dtype)
    return raised


def newly_flagged_pixels(before: np.ndarray, after: np.ndarray) -> int:
    """Pixels with any bit the step raised."""
    if before is after:
        return 0
    return int(np.count_nonzero(new_dq(before, after)))


def new_nan_pixels(before: np.ndarray, after: np.ndarray) -> int:
    """Pixels NaN after and not before."""
    if before is after:
        return 0
    return int(np.count_nonzero(np.isnan(after) & ~np.isnan(before)))


def percentiles(values: np.ndarray, points=(1.0, 50.0, 99.0)) -> list[float]:
    if values.size == 0:
        return [math.nan for _ in points]
    return [float(v) for v in np.percentile(values, points)]


def subtracted_level(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``before - after`` where both are finite (the level a subtraction removed)."""
    difference = np.subtract(before, after, dtype=np.float32)
    return difference[np.isfinite(difference)]


def finite_ratio(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    from ..display.frames import ratio

    values = ratio(after, before)
    return values[np.isfinite(values)]


def flux_ratio(cal_data: np.ndarray, cal_good: np.ndarray, cal_area_sr: float | None,
               i2d_data: np.ndarray, i2d_area_sr: float | None,
               surface_brightness: bool) -> float:
    """``F(_i2d) / F(_cal)``: sums of finite SCI, each times its pixel solid angle for a surface
    brightness (MJy/sr, resample's own rule); a rate per pixel (DN/s) is summed as it is
    (resample scales it by the pixel areas). The _cal sum is over the pixels resample uses (``cal_good``)
    and divided by the number of integrations (the _i2d is their weighted mean)."""
    nints = cal_data.shape[0] if cal_data.ndim == 3 else 1
    cal_sum = float(np.sum(cal_data[cal_good], dtype=np.float64)) / nints
    i2d_sum = float(np.nansum(i2d_data, dtype=np.float64))
    if surface_brightness:
        if not cal_area_sr or not i2d_area_sr:
            return math.nan
        cal_sum *= cal_area_sr
        i2d_sum *= i2d_area_sr
    if cal_sum == 0:
        return math.nan
    return i2d_sum / cal_sum


def resample_good_pixels(data: np.ndarray, err: np.ndarray, dq: np.ndarray,
                         good_bits: int) -> np.ndarray:
    """The pixels resample gives a weight: no DQ bit outside ``good_bits``, finite SCI and ERR."""
    bad_bits = np.uint32(~good_bits & 0xFFFFFFFF)
    good = (dq & bad_bits) == 0
    good &= np.isfinite(data)
    good &= np.isfinite(err)
    return good


def weight_range(weights: np.ndarray) -> tuple[float, float, float]:
    """(min, max) of the positive weights and the fraction of output pixels with weight > 0."""
    positive = weights[weights > 0]
    if positive.size == 0:
        return math.nan, math.nan, 0.0
    return float(positive.min()), float(positive.max()), positive.size / weights.size
