"""Each step's own metrics (definitions in ``metrics``), from its input and output models.

A function per step takes (before, step result, ``StepInputs``, cache) and returns ``Metric``s.
What needs a file (a background's non-finite pixels, the dark's NaN pixels) is read once per
report through the cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engine.association import Product
from ..engine.errors import InputError
from ..engine.models import ImageModel, read_image
from ..engine.references import load_reference_image
from ..engine.steps import StepResult
from ..engine.steps.dark_current import dark_twice_warning
from ..engine.steps.parse_subarray_map import recorded_windows
from ..engine.steps.resample import _is_surface_brightness, parse_good_bits
from ..engine.wcs import pixel_area_sr, pixel_scale_deg, position_angle_deg
from . import metrics as mx
from .metrics import Metric


@dataclass
class StepInputs:
    """What a step's metrics need besides its models: the product and its parameters."""

    product: Product
    params: dict[str, dict]


def _good_sample(model: ImageModel, cache) -> np.ndarray:
    def compute() -> np.ndarray:
        step = mx.sample_step(model.data.shape)
        return mx.good_values(mx.sampled(model.data, step), mx.sampled(model.dq, step))

    return cache.get(("good", id(model.data), id(model.dq)), compute)


def _sky(model: ImageModel, cache) -> tuple[float, float]:
    return cache.get(("sky", id(model.data), id(model.dq)),
                     lambda: mx.median_and_sigma(_good_sample(model, cache)))


def _background_invalid(path: str, science: ImageModel, cache) -> int:
    """Non-finite SCI values of one background in the science window."""
    def mask() -> tuple[np.ndarray, object]:
        background = read_image(path, what="background exposure")
        return ~np.isfinite(background.data), background.window

    invalid, window = cache.get(("background-invalid", path), mask)
    rows, cols = science.window.slices_within(window)
    return int(np.count_nonzero(invalid[rows, cols]))


def _values_clipped(before: ImageModel, inputs: StepInputs, sigma: float, maxiters,
                    can_reject: bool, cache) -> int:
    paths = inputs.product.backgrounds
    if not can_reject:  # nothing can be clipped: only the values that are not finite are unused
        return sum(_background_invalid(p, before, cache) for p in paths)
    from ..engine.background_combine import combine_backgrounds
    from ..engine.steps.bkg_subtract import background_for_science

    def compute() -> int:
        backgrounds = [background_for_science(p, before) for p in paths]
        combined = combine_backgrounds([b.data for b in backgrounds],
                                       [b.err for b in backgrounds],
                                       [b.dq for b in backgrounds], sigma=sigma, maxiters=maxiters)
        return int(len(paths) * combined.n_used.size - int(combined.n_used.sum(dtype=np.int64)))

    return cache.get(("clipped", tuple(paths), id(before.data), sigma, maxiters), compute)


def bkg_subtract(before: ImageModel, result: StepResult, inputs: StepInputs, cache) -> list:
    params = inputs.params["bkg_subtract"]
    n = len(inputs.product.backgrounds)
    sigma, maxiters = float(params["sigma"]), params["maxiters"]
    limit = mx.max_clip_deviation(n)
    can_reject = sigma < limit
    try:
        clipped = _values_clipped(before, inputs, sigma, maxiters, can_reject, cache)
    except (InputError, OSError) as exc:
        clipped, note = None, f"not counted: {exc}"
    else:
        note = "" if can_reject else "nothing can be clipped: these are the values not finite"
    sky_before, sigma_before = _sky(before, cache)
    sky_after, sigma_after = _sky(result.model, cache)
    return [
        Metric("n_backgrounds", "backgrounds combined", n),
        Metric("clip_sigma", "clip sigma", sigma),
        Metric("max_clip_deviation", f"largest possible deviation for N = {n}", limit, "sigma"),
        Metric("clip_can_reject", "clip can reject a value", can_reject,
               note=f"sigma {sigma:g} {'<' if can_reject else '>='} {limit:.3f}"),
        Metric("values_clipped", "values clipped or not finite", clipped, note=note),
        Metric("sky_median_before", "sky median before", sky_before),
        Metric("sky_sigma_before", "sky robust sigma before", sigma_before),
        Metric("sky_median_after", "sky median after", sky_after),
        Metric("sky_sigma_after", "sky robust sigma after", sigma_after),
    ]


def dark_current(before: ImageModel, result: StepResult, inputs: StepInputs, cache) -> list:
    after = result.model
    step = mx.sample_step(before.data.shape)
    level = mx.subtracted_level(mx.sampled(before.data, step), mx.sampled(after.data, step))
    p1, p50, p99 = mx.percentiles(level)
    metrics = [Metric("dark_median", "dark subtracted: median", p50),
               Metric("dark_p1", "dark subtracted: 1st percentile", p1),
               Metric("dark_p99", "dark subtracted: 99th percentile", p99)]
    path = result.references.get("dark")
    nan_dark = None
    if path:
        window = before.window

        def count() -> int:
            dark = load_reference_image("dark", path, before, force=True)
            return int(np.count_nonzero(~np.isfinite(dark.data)))

        try:
            nan_dark = cache.get(("nan-dark", path, window), count)
        except (InputError, OSError):
            nan_dark = None
    metrics.append(Metric("nan_dark_pixels", "NaN dark pixels (counted as 0)", nan_dark))
    metrics.append(Metric("dark_twice", "dark counted twice", dark_twice_warning(before) is not None))
    return metrics


def flat_field(before: ImageModel, result: StepResult, inputs: StepInputs, cache) -> list:
    step = mx.sample_step(before.data.shape)
    values = mx.finite_ratio(mx.sampled(result.model.data, step), mx.sampled(before.data, step))
    median, sigma = mx.median_and_sigma(values)
    return [Metric("ratio_median", "ratio after / before: median", median),
            Metric("ratio_sigma", "ratio after / before: robust sigma", sigma),
            Metric("inverse", "inverse (multiplied)", bool(inputs.params["flat_field"]["inverse"]))]


def parse_subarray_map(before: ImageModel, result: StepResult, inputs: StepInputs, cache) -> list:
    windows = recorded_windows(result.model)
    text = "; ".join(f"{w.number}: x {w.xstart}, y {w.ystart}, {w.xsize}×{w.ysize}"
                     for w in windows) or "none"
    return [Metric("n_windows", "windows", len(windows)),
            Metric("windows", "windows (1-based start, size)", text)]


def _keyword(model: ImageModel, key: str):
    value = model.header.get(key)
    return None if value is None else value


def photom(before: ImageModel, result: StepResult, inputs: StepInputs, cache) -> list:
    after = result.model
    return [Metric("photmjsr", "PHOTMJSR", _keyword(after, "PHOTMJSR"), "MJy/sr per DN/s"),
            Metric("photuja2", "PHOTUJA2", _keyword(after, "PHOTUJA2"), "µJy/arcsec² per DN/s"),
            Metric("pixar_sr", "PIXAR_SR", _keyword(after, "PIXAR_SR"), "sr"),
            Metric("bunit_before", "BUNIT before", _keyword(before, "BUNIT") or "DN/s"),
            Metric("bunit", "BUNIT", _keyword(after, "BUNIT"))]


def _footprint(wcs, shape: tuple[int, int]) -> str:
    ny, nx = shape
    corners = wcs.all_pix2world([0, nx - 1, nx - 1, 0], [0, 0, ny - 1, ny - 1], 0)
    return "; ".join(f"({ra:.6f}, {dec:+.6f})" for ra, dec in zip(*corners, strict=True))


def assign_wcs(before: ImageModel, result: StepResult, inputs: StepInputs, cache) -> list:
    wcs = result.model.wcs
    if wcs is None:
        return []
    crval = [float(v) for v in wcs.wcs.crval]
    return [Metric("crval", "CRVAL (RA, Dec)", f"{crval[0]:.7f}, {crval[1]:+.7f}", "deg"),
            Metric("pixel_scale", "pixel scale", pixel_scale_deg(wcs) * 3600e3, "mas"),
            Metric("rotation", "position angle of +y", position_angle_deg(wcs), "deg E of N"),
            Metric("footprint", "footprint corners (RA, Dec) of pixels (0,0), (nx-1,0), ...",
                   _footprint(wcs, result.model.image_shape), "deg"),
            Metric("distortion", "distortion reference",
                   result.references.get("distortion") or "none")]


def resample(before: ImageModel, result: StepResult, inputs: StepInputs, cache) -> list:
    i2d = result.products.get("i2d")
    if i2d is None or i2d.wcs is None or before.wcs is None:
        return []
    params = inputs.params["resample"]
    good = mx.resample_good_pixels(before.data, before.err, before.dq,
                                   parse_good_bits(params["good_bits"]))
    ratio = mx.flux_ratio(before.data, good, pixel_area_sr(before.wcs), i2d.data,
                          pixel_area_sr(i2d.wcs), _is_surface_brightness(before))
    weights = i2d.extra_arrays.get("WHT")
    low, high, covered = mx.weight_range(weights) if weights is not None else \
        (math.nan, math.nan, math.nan)
    ny, nx = i2d.data.shape[-2:]
    return [Metric("output_shape", "output size (nx × ny)", f"{nx} × {ny}"),
            Metric("output_scale", "output pixel scale", pixel_scale_deg(i2d.wcs) * 3600e3, "mas"),
            Metric("input_scale", "input pixel scale", pixel_scale_deg(before.wcs) * 3600e3, "mas"),
            Metric("output_rotation", "output position angle of +y",
                   position_angle_deg(i2d.wcs), "deg E of N"),
            Metric("flux_ratio", "flux F(_i2d) / F(_cal)", ratio),
            Metric("weight_min", "weight: smallest positive", low),
            Metric("weight_max", "weight: largest", high),
            Metric("covered_fraction", "output pixels covered", covered, "fraction"),
            Metric("kernel", "kernel, pixfrac", f"{params['kernel']}, {params['pixfrac']:g}")]


STEP_METRICS = {"bkg_subtract": bkg_subtract, "dark_current": dark_current,
                "flat_field": flat_field, "parse_subarray_map": parse_subarray_map,
                "photom": photom, "assign_wcs": assign_wcs, "resample": resample}
