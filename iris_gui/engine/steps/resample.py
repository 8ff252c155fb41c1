"""resample: drizzle onto an undistorted north-up grid, writing _i2d (image2 step 7).

Uses the ``drizzle`` package (spacetelescope, v3 API). The output grid is an undistorted TAN
projection, north up (``rotation`` = 0; None keeps the detector's orientation), with the input
pixel scale at the WCS reference pixel unless ``pixel_scale_ratio`` or ``pixel_scale`` say
otherwise, centred on the input (``crval``, ``crpix``, ``output_shape`` override that).

Pixel map: input pixel -> sky -> output pixel, evaluated on a coarse grid and interpolated to
within 5e-7 output pixels (``iris_gui.engine.pixel_map``).

Weights (``weight_type``): ``exptime`` (default) = the exposure's time, ``ivm`` = 1/ERR² per
pixel. The exptime weight follows jwst's resample (stcal ``build_driz_weight``: the measurement
time when the exposure has one, else the effective exposure time); in this order, the first
keyword holding a positive number is used, from PRIMARY or else SCI:

1. ``TMEASURE`` (jwst's measurement time),
2. ``EFFEXPTM`` (effective exposure time, jwst's ``meta.exposure.exposure_time``),
3. ``XPOSURE`` (the same effective time as jwst writes it in SCI),
4. ``EXPTIME``,
5. ``EFFINTTM`` (a file that says only its integration time), else 1.

rateints: each integration is weighted by its own time, ``EFFINTTM`` first, else the exposure's
time above divided by the number of integrations. A keyword that is there but not a positive
number is passed over with a note. The weight and the keyword it came from are recorded
(``RESWTIME``).

ERR includes the source's own Poisson noise, so ivm gives a star's bright core less weight than
its fainter neighbours wherever an output pixel overlaps both, and the resampled star comes out
too faint: -17 % on the demo stars (FWHM 3 px, 0.5 deg rotation; JWST avoids this by
weighting with the read-noise variance only, which these files do not carry). exptime weights
are uniform within an exposure and conserve flux. Pixels whose DQ has a flag outside
``good_bits``, and pixels with non-finite SCI or ERR, get weight 0 and are excluded.

Units: surface brightness (BUNIT MJy/sr, after photom) is resampled as is; per-pixel rates
(DN/s, photom skipped) are scaled by the output/input pixel area so total flux is conserved.
ERR: the variance (ERR²) is drizzled with squared weights, ERR = its square root.

Output: ``<product>_i2d.fits`` with SCI, ERR, DQ (OR of the contributing pixels' DQ, DO_NOT_USE
where nothing contributed; there SCI is ``fillval`` and ERR NaN), WHT (summed weights), CON
(context: bit k set where integration k contributed) and the output WCS in the primary and SCI
headers. The _cal is not changed.

rateints: every integration is drizzled into the same output with its own weights and DQ, so
the _i2d is the weighted mean of the integrations (one 2D image, not a cube). The pixel map is
computed once and the per-integration work buffers are reused, so memory does not grow with
the number of integrations.

Limits (checked when a configuration is loaded, and the grid size again before any output array
is allocated): the output grid may have at most ``MAX_OUTPUT_PIXELS`` = 2**28 pixels (16384²;
1 GiB per float32 array, and drizzle keeps about five such arrays, so ~5 GiB in all).
``output_shape`` is refused above it when read; otherwise the grid the input needs (its footprint
at the output pixel scale, or out to ``crpix``) is estimated first and an over-large grid is
refused with an InputError that names the parameters to change. At load time
``pixel_scale_ratio`` must be within 0.01..100, ``pixel_scale`` within 0.0001..3600 arcsec,
``crpix`` within ±2**20 pixels, ``crval`` RA within 0..360 and Dec within -90..90 degrees,
``good_bits`` a 32-bit mask or known DQ flag names, ``fillval`` a number or NaN.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..dq import DO_NOT_USE, DQ_FLAGS, encode
from ..errors import InputError, ParameterError
from ..fits_text import ascii_text
from ..models import ImageModel
from ..parameters import Parameter
from ..pixel_map import pixel_map
from ..resample_parallel import DrizzleJob, drizzle_exposure, worker_count
from ..resample_weights import exptime_weight, fill_weights
from ..wcs import (
    ARCSEC2_PER_SR,
    output_grid,
    pixel_area_sr,
    pixel_scale_deg,
    replace_wcs_keywords,
)
from .base import COMPLETE, SKIPPED, StepContext, StepResult, StepSpec

KERNELS = ("square", "gaussian", "point", "turbo", "lanczos2", "lanczos3")
FLUX_CONSERVING = ("square", "point", "turbo")
WEIGHT_TYPES = ("exptime", "ivm")
ALL_BITS = 0xFFFFFFFF
#: most output pixels a resample may make: 2**28 = 16384², 1 GiB per float32 array
MAX_OUTPUT_PIXELS = 2 ** 28
#: largest |crpix| accepted (the grid must reach the reference pixel when output_shape is not set)
MAX_CRPIX = 2 ** 20
PIXEL_SCALE_RATIO_RANGE = (0.01, 100.0)
PIXEL_SCALE_RANGE_ARCSEC = (0.0001, 3600.0)
_GOOD_BITS = "steps.resample.good_bits"


# ---- parameter text -------------------------------------------------------------------------------

def parse_good_bits(text: str, label: str = _GOOD_BITS) -> int:
    """The DQ bits that still count as good: ``"~DO_NOT_USE+NON_SCIENCE"`` (every flag but those),
    ``"SATURATED,JUMP_DET"`` (only those), a number (``"6"``), or ``"0"``/``""`` (only DQ = 0)."""
    text = (text or "").strip()
    invert = text.startswith("~")
    body = text[1:].strip() if invert else text
    if not body:
        mask = 0
    else:
        try:
            mask = int(body, 0)
        except ValueError:
            for part in body.replace("+", ",").split(","):
                if part.strip() and part.strip().upper() not in DQ_FLAGS:
                    raise ParameterError(
                        f"{label}: {part.strip()[:40]!r} is not a DQ flag name (names as in the "
                        f"DQ table, e.g. DO_NOT_USE, SATURATED, or a number)") from None
            mask = encode(body)
        if not 0 <= mask <= ALL_BITS:
            raise ParameterError(f"{label}: {body[:40]} is not a 32-bit mask (0 .. 0xFFFFFFFF)")
    return (~mask & ALL_BITS) if invert else mask


def _label(name: str, label: str | None) -> str:
    return label or f"steps.resample.{name}"


def _numbers(text: str | None, name: str, count: int = 2,
             label: str | None = None) -> tuple[float, ...] | None:
    if text is None or not str(text).strip():
        return None
    parts = [p for p in str(text).replace(",", " ").replace("(", " ").replace(")", " ")
             .replace("[", " ").replace("]", " ").split()]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        shown = str(text) if len(str(text)) <= 40 else str(text)[:37] + "..."
        raise ParameterError(f"{_label(name, label)}: expected {count} numbers like "
                             f"'1024, 1024', got {shown!r}")
    return values


def parse_output_shape(text: str | None, label: str | None = None) -> tuple[int, int] | None:
    """(nx, ny) from 'nx, ny', at most MAX_OUTPUT_PIXELS in all; None when not given."""
    label = _label("output_shape", label)
    values = _numbers(text, "output_shape", label=label)
    if values is None:
        return None
    if not all(v.is_integer() and v >= 1 for v in values):
        raise ParameterError(f"{label}: expected two whole numbers >= 1 (nx, ny), got {text!r}")
    nx, ny = int(values[0]), int(values[1])
    if nx * ny > MAX_OUTPUT_PIXELS:
        raise ParameterError(f"{label}: {nx} x {ny} = {nx * ny:.3g} pixels, over the limit "
                             f"of 2**28 (16384 x 16384)")
    return nx, ny


def parse_crpix(text: str | None, label: str | None = None) -> tuple[float, float] | None:
    """(x, y), 1-based, each within ±MAX_CRPIX; None when not given."""
    label = _label("crpix", label)
    values = _numbers(text, "crpix", label=label)
    if values is None:
        return None
    if not all(abs(v) <= MAX_CRPIX for v in values):
        raise ParameterError(f"{label}: {values[0]:g}, {values[1]:g} is out of range; each must "
                             f"be within -{MAX_CRPIX} .. {MAX_CRPIX}")
    return values[0], values[1]


def parse_crval(text: str | None, label: str | None = None) -> tuple[float, float] | None:
    """(RA, Dec) in degrees, RA within 0..360, Dec within -90..90; None when not given."""
    label = _label("crval", label)
    values = _numbers(text, "crval", label=label)
    if values is None:
        return None
    ra, dec = values
    if not 0.0 <= ra <= 360.0:
        raise ParameterError(f"{label}: RA {ra:g} is out of range; it must be within 0 .. 360")
    if not -90.0 <= dec <= 90.0:
        raise ParameterError(f"{label}: Dec {dec:g} is out of range; it must be within -90 .. 90")
    return ra, dec


def parse_fillval(text: str, label: str | None = None) -> tuple[float, str]:
    """(value, the text drizzle is given): 'NaN' or 'INDEF' -> NaN; otherwise a number."""
    text = str(text).strip()
    if text.upper() in ("NAN", "INDEF", ""):
        return float("nan"), "NaN"
    try:
        value = float(text)
    except ValueError:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise ParameterError(f"{_label('fillval', label)}: expected a number or NaN, "
                             f"got {shown!r}") from None
    return value, repr(value)


def check_output_size(out_shape: tuple[int, int], name: str) -> None:
    """Refuse an output grid (ny, nx) above MAX_OUTPUT_PIXELS before anything is allocated."""
    ny, nx = out_shape
    if nx * ny > MAX_OUTPUT_PIXELS:
        raise InputError(
            f"resample: {name} needs a {nx} x {ny} output grid, over the limit of 2**28 pixels; "
            f"raise steps.resample.pixel_scale_ratio or pixel_scale, or set output_shape")


def _is_surface_brightness(model: ImageModel) -> bool:
    unit = str(model.sci_header.get("BUNIT") or model.header.get("BUNIT") or "").lower()
    return "/sr" in unit or "arcsec" in unit


# ---- the arithmetic --------------------------------------------------------------------------------

def _plane(array: np.ndarray, k: int) -> np.ndarray:
    return array[k] if array.ndim == 3 else array


def resample_model(
    model: ImageModel,
    out_wcs,
    out_shape: tuple[int, int],
    *,
    kernel: str = "square",
    pixfrac: float = 1.0,
    fillval: str = "NaN",
    weight_type: str = "exptime",
    good_bits: int = ALL_BITS & ~DO_NOT_USE & ~(1 << 9),
    cancel=None,
    progress=None,
    workers: int | None = None,
) -> tuple[ImageModel, list[str]]:
    """Drizzle ``model`` (with ``model.wcs``) onto ``out_wcs`` / ``out_shape`` (ny, nx).

    Returns the resampled model (extra arrays WHT and CON) and notes for the user.

    Drizzled on every core by ``resample_parallel``: ``workers`` processes (None: as many as
    ``worker_count`` gives) each drizzle a block of input rows, combined by their weights. The
    pixel map is computed once and each block's weight buffers are reused for every integration.
    """
    notes: list[str] = []
    report = progress or (lambda fraction: None)
    in_wcs = model.wcs
    ny, nx = model.image_shape
    nints = model.nints
    pixmap = pixel_map(in_wcs, out_wcs, (ny, nx), cancel=cancel)
    report(0.1)

    ratio = pixel_scale_deg(out_wcs) / pixel_scale_deg(in_wcs)
    iscale = 1.0 if _is_surface_brightness(model) else ratio * ratio
    exptime, exptime_source = exptime_weight(model, notes)
    bad_bits = np.uint32(~good_bits & ALL_BITS)
    if weight_type == "ivm" and not bool(np.any(model.err > 0)):
        notes.append("weight_type = ivm but ERR is nowhere positive: exptime weights used")
        weight_type = "exptime"

    fill_value, _ = parse_fillval(fillval)
    planes = [(_plane(model.data, k), _plane(model.err, k), _plane(model.dq, k))
              for k in range(nints)]

    def block_weights(data, err, dq, weight, variance) -> None:
        fill_weights(data, err, dq, bad_bits, weight_type, exptime, weight, variance, cancel)

    # drizzle fills nothing (pixels nothing reached are filled once below); one integration's
    # context is simply "weight > 0", several get bit k for integration k
    job = DrizzleJob(planes, pixmap, out_shape, block_weights, exptime, kernel=kernel,
                     pixfrac=pixfrac, iscale=iscale, pixel_scale_ratio=ratio)
    drizzled = drizzle_exposure(job, workers=worker_count(ny * nx, workers), cancel=cancel,
                                progress=lambda fraction: report(0.1 + 0.85 * fraction))
    del pixmap, job, planes

    wht = drizzled.wht
    out_dq = drizzled.dq
    uncovered = wht <= 0
    out_dq[uncovered] |= np.uint32(DO_NOT_USE)
    sci_out = drizzled.sci
    sci_out[uncovered] = fill_value
    err_out = drizzled.var
    np.sqrt(err_out, out=err_out)
    err_out[uncovered] = np.nan
    if nints == 1:
        con = (~uncovered).astype(np.int32)
    else:
        con = drizzled.ctx[0] if drizzled.ctx.shape[0] == 1 else drizzled.ctx
    extra = {"WHT": wht, "CON": con}

    header = model.header.copy()
    replace_wcs_keywords(header, out_wcs)
    for key in ("SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2"):
        header.remove(key, ignore_missing=True)
    if "SUBARRAY" in header:
        header["SUBARRAY"] = ("FULL", "resampled: the array is the output grid")
    if "DATAMODL" in header:
        header["DATAMODL"] = "ImageModel"
    if "PIXAR_SR" in header:
        area = pixel_area_sr(out_wcs)
        header["PIXAR_SR"] = area
        header["PIXAR_A2"] = area * ARCSEC2_PER_SR
    header["PIXFRAC"] = (pixfrac, "drizzle pixfrac")
    header["PXSCLRT"] = (ratio, "output / input pixel scale")
    header["RESWHT"] = (weight_type, "drizzle weight type")
    if weight_type == "exptime":
        header["RESWTIME"] = (exptime, ascii_text(f"[s] weight, from {exptime_source}")[:47])
    sci_header = model.sci_header.copy()
    replace_wcs_keywords(sci_header, out_wcs)
    out = ImageModel(data=sci_out, err=err_out, dq=out_dq, header=header,
                     filename=model.filename, asdf_tree=model.asdf_tree, sci_header=sci_header,
                     wcs=out_wcs, extra_arrays=extra)
    report(1.0)
    return out, notes


# ---- the step --------------------------------------------------------------------------------------

#: drizzle's pixel map needs neighbours in both directions to find each pixel's corners
MIN_RESAMPLE_SIDE = 2


def run(model: ImageModel, params: dict, context: StepContext) -> StepResult:
    if model.wcs is None:
        return StepResult(SKIPPED, model, reason=(
            f"{model.name} has no WCS (assign_wcs skipped or the header has no WCS keywords), "
            f"so there is no sky grid to resample onto"))
    ny, nx = model.image_shape
    if ny < MIN_RESAMPLE_SIDE or nx < MIN_RESAMPLE_SIDE:
        return StepResult(SKIPPED, model, reason=(
            f"{model.name} is {nx}x{ny} pixels; drizzling needs at least "
            f"{MIN_RESAMPLE_SIDE} pixels on each side"))
    good_bits = parse_good_bits(params["good_bits"])
    _, fill_text = parse_fillval(params["fillval"])
    crval = parse_crval(params["crval"])
    crpix = parse_crpix(params["crpix"])
    output_shape = parse_output_shape(params["output_shape"])

    started = time.perf_counter()
    out_wcs, out_shape = output_grid(
        model.wcs, model.image_shape, pixel_scale_ratio=params["pixel_scale_ratio"],
        pixel_scale=params["pixel_scale"], rotation=params["rotation"],
        output_shape=output_shape, crpix=crpix, crval=crval,
    )
    check_output_size(out_shape, model.name)
    context.log.info("resample: %s -> %d x %d output pixels of %.4g arcsec", model.name,
                     out_shape[1], out_shape[0], pixel_scale_deg(out_wcs) * 3600.0)
    i2d, notes = resample_model(
        model, out_wcs, out_shape, kernel=params["kernel"], pixfrac=params["pixfrac"],
        fillval=fill_text, weight_type=params["weight_type"], good_bits=good_bits,
        cancel=context.cancel, progress=context.progress,
    )
    warnings_out = list(notes)
    if params["kernel"] not in FLUX_CONSERVING:
        warnings_out.append(f"kernel {params['kernel']} does not conserve flux")
    return StepResult(COMPLETE, model, products={"i2d": i2d}, warnings=warnings_out,
                      compute=time.perf_counter() - started)


STEP = StepSpec(
    name="resample",
    title="Resample",
    summary="Drizzle the calibrated exposure onto an undistorted, north-up grid and write "
            "<product>_i2d.fits (SCI, ERR, DQ, WHT, CON) beside the _cal, which stays "
            "unrectified. rateints: every integration is drizzled into the same output "
            "(their weighted mean).",
    status_keyword="S_RESAMP",
    class_name="iris_pipeline.resample.ResampleStep",
    class_aliases=("jwst.resample.resample_step.ResampleStep",),
    jwst_only_parameters=("output_wcs", "single", "blendheaders", "allowed_memory",
                          "enable_ctx", "enable_err", "report_var", "compute_err",
                          "propagate_dq"),
    # jwst's ResampleStep spec (jwst 1.x): weight_type and rotation differ from ours
    jwst_defaults=(("pixfrac", 1.0), ("kernel", "square"), ("fillval", "NAN"),
                   ("weight_type", "ivm"), ("output_shape", None), ("crpix", None),
                   ("crval", None), ("rotation", None), ("pixel_scale_ratio", 1.0),
                   ("pixel_scale", None), ("good_bits", "~DO_NOT_USE+NON_SCIENCE")),
    parameters=(
        Parameter("pixel_scale_ratio", "float", 1.0, "Output pixel scale / input pixel scale "
                  "(ignored when pixel_scale is given). The output grid may have at most 2**28 "
                  "pixels (16384²).", minimum=PIXEL_SCALE_RATIO_RANGE[0],
                  maximum=PIXEL_SCALE_RATIO_RANGE[1]),
        Parameter("pixel_scale", "float", None, "Output pixel scale in arcsec (default: the "
                  "input's, times pixel_scale_ratio). The output grid may have at most 2**28 "
                  "pixels (16384²).", minimum=PIXEL_SCALE_RANGE_ARCSEC[0],
                  maximum=PIXEL_SCALE_RANGE_ARCSEC[1], optional=True),
        Parameter("rotation", "float", 0.0, "Position angle of the output +y axis, degrees east "
                  "of north: 0 = north up; None keeps the detector orientation.",
                  minimum=-360.0, maximum=360.0, optional=True),
        Parameter("output_shape", "string", None, "Output size 'nx, ny', at most 2**28 pixels "
                  "in all (default: just large enough for the whole input).", optional=True,
                  check=parse_output_shape),
        Parameter("crpix", "string", None, "Output reference pixel 'x, y', 1-based as in the "
                  "FITS CRPIX keywords, each within ±2**20 (default: input centred in the "
                  "output).", optional=True,
                  check=parse_crpix),
        Parameter("crval", "string", None, "Sky position 'RA, Dec' (degrees, RA 0..360, Dec "
                  "-90..90) at the output reference pixel (default: the input's centre).",
                  optional=True, check=parse_crval),
        Parameter("kernel", "choice", "square", "Drizzle kernel; gaussian and lanczos do not "
                  "conserve flux.", choices=KERNELS),
        Parameter("pixfrac", "float", 1.0, "Linear fraction of an input pixel its flux is "
                  "dropped onto.", minimum=0.0, maximum=1.0, exclusive_minimum=True),
        Parameter("fillval", "string", "NaN", "SCI value of output pixels no input pixel "
                  "reached (a number, or NaN); their ERR is NaN, WHT 0 and DQ DO_NOT_USE.",
                  check=parse_fillval),
        Parameter("weight_type", "choice", "exptime", "Pixel weights: exptime = the "
                  "exposure's time, from TMEASURE, EFFEXPTM, XPOSURE or EXPTIME, the first "
                  "present (conserves flux); ivm = 1/ERR², which includes the source's Poisson noise "
                  "and so makes bright stars come out too faint (-17 % on the demo stars).",
                  choices=WEIGHT_TYPES),
        Parameter("good_bits", "string", "~DO_NOT_USE+NON_SCIENCE", "DQ flags that still count "
                  "as good: '~A+B' = every flag but A and B, 'A+B' = only those, a number, or 0 "
                  "= only DQ 0.", check=parse_good_bits),
    ),
    run=run,
    default_suffix="i2d",
    saved_products=(("i2d", "i2d"),),
)
