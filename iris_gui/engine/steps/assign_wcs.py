"""assign_wcs: build the world coordinate system from the header (image2 step 2).

The WCS comes from the primary header's FITS keywords (the SCI header's when only it has them):
any standard projection (TAN, SIN, ...), CDi_j or CDELTi with optional PCi_j, CRPIX, CRVAL,
RADESYS (or the old RADECSYS), and SIP coefficients when CTYPE ends in ``-SIP``. It is built with
``astropy.wcs`` from a copy of the header with NAXIS = 2 and NAXIS1/NAXIS2 set to the image shape.

Forward transform: 0-based array index (x = column, y = row) -> (RA, Dec), exactly as the FITS
standard says: array index i is FITS pixel i + 1 (``wcs.all_pix2world(x, y, 0)``). The 2025
upstream code is one pixel off here; this is not.

Subarrays: the header WCS describes the array as stored, i.e. a subarray's CRPIX is relative to
its own first pixel (full-frame CRPIX - (SUBSTRT - 1)); the demo subarray file is written so.

A distortion reference (REFTYPE DISTORTION: a FITS file with SIP keywords A_ORDER, A_p_q,
B_ORDER, B_p_q, optionally AP_/BP_) replaces any SIP terms of the header. SIP polynomials are
in offsets from CRPIX, so if the reference records CRPIX1/CRPIX2 they must be the same detector
pixel as the exposure's reference pixel, else the step fails with a clear message.

The model carries the WCS object (``model.wcs``) and its standard keywords are written into the
SCI header. rateints: one WCS for every integration. Missing keywords -> SKIPPED with the reason.

A degenerate linear part (an all-zero or singular CD matrix, CDELT 0: pixels that do not map to
the sky) -> SKIPPED with the reason, like a missing WCS: the calibration steps do not need it and
the _cal is still written, S_WCS = SKIPPED says its WCS is unusable, and resample skips. (wcslib
would have read an all-zero CD matrix as 1 degree per pixel and gone on.) A pixel scale above
``ABSURD_SCALE_DEG`` gives a warning.
"""

from __future__ import annotations

import time

import numpy as np

from ..header_values import degenerate_reason
from ..models import ImageModel
from ..parameters import Parameter
from ..references import find_reference
from ..wcs import (
    build_wcs,
    check_distortion_centre,
    missing_wcs_keywords,
    pixel_scale_deg,
    read_distortion,
    replace_wcs_keywords,
    wcs_source,
)
from .base import COMPLETE, SKIPPED, StepContext, StepResult, StepSpec

#: a pixel scale above this (degrees per pixel) is reported as a warning
ABSURD_SCALE_DEG = 1.0


def run(model: ImageModel, params: dict, context: StepContext) -> StepResult:
    started = time.perf_counter()
    header, where = wcs_source(model.header, model.sci_header)
    missing = missing_wcs_keywords(header)
    if missing:
        return StepResult(SKIPPED, model, reason=(
            f"{model.name}: no WCS: the {where} lacks {', '.join(missing)}"))
    degenerate = degenerate_reason(header, f"{model.name}: {where}")
    if degenerate:
        return StepResult(SKIPPED, model, reason=(
            f"the WCS of {model.name} is degenerate: {degenerate} ({where})"))

    distortion = None
    references: dict[str, str] = {}
    choice, why_none = find_reference("distortion", model, context.ref_dir,
                                      params["override_distortion"],
                                      force=params["force_override"])
    warnings = list(choice.warnings) if choice is not None else []
    if choice is not None:
        context.note(f"assign_wcs: distortion {choice.explanation}")
        distortion = read_distortion(choice.path)
        window = model.window
        check_distortion_centre(distortion, header, window.xstart, window.ystart, choice.path)
        references["distortion"] = choice.path
    else:
        context.log.debug("assign_wcs: no distortion reference (%s)", why_none)

    wcs = build_wcs(header, model.image_shape, distortion, where=f"{model.name}: {where}")
    matrix = wcs.pixel_scale_matrix
    if not np.all(np.isfinite(matrix)) or np.linalg.det(matrix) == 0:  # e.g. a singular SIP term
        return StepResult(SKIPPED, model, reason=(
            f"the WCS of {model.name} is degenerate: its pixel-to-sky matrix is singular"))
    scale = pixel_scale_deg(wcs)
    if scale > ABSURD_SCALE_DEG:
        warnings.append(f"{model.name}: the WCS pixel scale is {scale:.3g} degrees per pixel "
                        f"(imager pixels are milliarcseconds); check CDELT/CD in the {where}")
    out = model.derive(wcs=wcs)
    replace_wcs_keywords(out.sci_header, wcs)
    return StepResult(COMPLETE, out, references=references, warnings=warnings,
                      compute=time.perf_counter() - started)


STEP = StepSpec(
    name="assign_wcs",
    title="Assign WCS",
    summary="Build the world coordinate system from the primary header's FITS WCS keywords "
            "(0-based detector pixel -> RA, Dec, as the FITS standard says) and write it into "
            "the SCI header. An optional distortion reference adds SIP coefficients. Skipped, "
            "with the reason, when the header has no WCS.",
    status_keyword="S_WCS",
    class_name="iris_pipeline.assign_wcs.AssignWcsStep",
    class_aliases=("jwst.assign_wcs.assign_wcs_step.AssignWcsStep",
                   "liger_iris_pipeline.assign_wcs.AssignWCSStep"),
    jwst_only_parameters=("sip_approx", "sip_max_pix_error", "sip_degree",
                          "sip_max_inv_pix_error", "sip_inv_degree", "sip_npoints",
                          "slit_y_low", "slit_y_high", "nrs_ifu_slice_wcs"),
    parameters=(
        Parameter("override_distortion", "path", None, "Distortion reference (FITS file with "
                  "SIP keywords) to use instead of the one chosen from the reference folder; "
                  "none found there means no distortion beyond the header's.", optional=True,
                  reference="distortion"),
        Parameter("force_override", "bool", False, "Use override_distortion even if its "
                  "REFTYPE/DATAMODL does not say it is a distortion reference (a warning is "
                  "still given)."),
    ),
    run=run,
    default_suffix="assign_wcs",
    reference_kind="distortion",
)
