"""photom: convert DN/s to surface brightness, MJy/sr (DESIGN.md §2, step 6).

The conversion factor PHOTMJSR (MJy/sr per DN/s) comes from the photom reference table row whose
FILTER matches the exposure's, or from the ``photmjsr`` parameter (then no table is read).
SCI and ERR are multiplied by it (``inverse``: divided, which undoes a previous photom);
DQ is unchanged. rateints: every integration is multiplied by the same factor.

Keywords written in the primary header: PHOTMJSR; PHOTUJA2, the same conversion in
µJy/arcsec² per DN/s::

    PHOTUJA2 = PHOTMJSR * 1e12 / (180/pi * 3600)**2 = PHOTMJSR * 23.5045

(1 MJy = 1e12 µJy and 1 sr = 4.25452e10 arcsec²); PIXAR_SR and PIXAR_A2, the solid angle of a
pixel at the WCS reference pixel (|det CD| there, in sr and arcsec²) — left out, with a note,
when the model has no WCS (assign_wcs skipped); BUNIT = 'MJy/sr' (also in the SCI header);
R_PHOTOM (the table's file name, or 'N/A' with the ``photmjsr`` parameter).

No table row for the exposure's FILTER -> SKIPPED with the reason; a table without the FILTER,
PHOTMJSR and UNCERTAINTY columns -> an error naming the file and the missing columns.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..blocks import run_image_blocks
from ..models import ImageModel, read_photom
from ..parameters import Parameter
from ..references import find_reference
from ..wcs import ARCSEC2_PER_SR, pixel_area_sr
from .base import COMPLETE, SKIPPED, StepContext, StepResult, StepSpec

#: 1 MJy/sr in µJy/arcsec²
MJYSR_TO_UJYA2 = 1e12 / ARCSEC2_PER_SR

SURFACE_BRIGHTNESS_UNIT = "MJy/sr"
RATE_UNIT = "DN/s"


def apply_photom(model: ImageModel, factor: float, inverse: bool = False, *, cancel=None,
                 progress=None) -> ImageModel:
    """SCI and ERR times ``factor`` (divided by it with ``inverse``); DQ shared unchanged."""
    scale = np.float32(1.0 / factor if inverse else factor)
    sci_out = np.empty_like(model.data)
    err_out = np.empty_like(model.err)

    def work(index: tuple, rows: slice) -> None:
        np.multiply(model.data[index], scale, out=sci_out[index])
        np.multiply(model.err[index], scale, out=err_out[index])

    run_image_blocks(model.shape, work, cancel=cancel, progress=progress)
    return model.derive(data=sci_out, err=err_out)


def photometry_keywords(factor: float, wcs) -> dict[str, tuple[float, str]]:
    """PHOTMJSR, PHOTUJA2 and (with a WCS) PIXAR_SR, PIXAR_A2 for the header."""
    keywords = {
        "PHOTMJSR": (factor, "[MJy/sr per DN/s] flux conversion"),
        "PHOTUJA2": (factor * MJYSR_TO_UJYA2, "[uJy/arcsec2 per DN/s] flux conversion"),
    }
    if wcs is not None:
        area = pixel_area_sr(wcs)
        keywords["PIXAR_SR"] = (area, "[sr] pixel area at the WCS reference pixel")
        keywords["PIXAR_A2"] = (area * ARCSEC2_PER_SR, "[arcsec2] pixel area at the reference pixel")
    return keywords


def run(model: ImageModel, params: dict, context: StepContext) -> StepResult:
    references: dict[str, str] = {}
    if params["photmjsr"] is not None:
        factor = float(params["photmjsr"])
        source = "N/A"
        context.log.info("photom: PHOTMJSR = %g from the photmjsr parameter", factor)
    else:
        choice, why_none = find_reference("photom", model, context.ref_dir, params["override_photom"])
        if choice is None:
            return StepResult(SKIPPED, model, reason=why_none)
        context.log.info("photom: %s", choice.explanation)
        table = read_photom(choice.path)
        if model.filter is None:
            return StepResult(SKIPPED, model, reason=(
                f"{model.name} has no FILTER keyword, so no row of {choice.path} can be chosen"))
        row = table.row_for(model.filter)
        if row is None:
            filters = ", ".join(r.filter for r in table.rows) or "none"
            return StepResult(SKIPPED, model, reason=(
                f"photom table {choice.path} has no row for FILTER={model.filter} "
                f"(rows: {filters})"))
        factor = row.photmjsr
        if not math.isfinite(factor) or factor <= 0:
            return StepResult(SKIPPED, model, reason=(
                f"photom table {choice.path}: PHOTMJSR for FILTER={model.filter} is {factor}, "
                f"not a positive number"))
        references["photom"] = choice.path
        source = choice.path.rsplit("/", 1)[-1]
    context.progress(0.1)

    warnings = []
    if not params["inverse"] and str(model.header.get("S_PHOTOM", "")).upper() == COMPLETE:
        warnings.append("photom already applied to this input (S_PHOTOM = COMPLETE): the data "
                        "are converted a second time")
    started = time.perf_counter()
    out = apply_photom(model, factor, params["inverse"], cancel=context.cancel,
                       progress=lambda f: context.progress(0.1 + 0.9 * f))
    header = out.header
    for key, value in photometry_keywords(factor, model.wcs).items():
        header[key] = value
    if model.wcs is None:
        note = "photom: no WCS (assign_wcs did not run), so PIXAR_SR/PIXAR_A2 are not written"
        context.log.info("%s: %s", model.name, note)
        header.add_history(note[:72])
        for key in ("PIXAR_SR", "PIXAR_A2"):
            header.remove(key, ignore_missing=True)
    unit = RATE_UNIT if params["inverse"] else SURFACE_BRIGHTNESS_UNIT
    header["BUNIT"] = (unit, "units of SCI and ERR")
    out.sci_header["BUNIT"] = unit
    header["R_PHOTOM"] = source
    return StepResult(COMPLETE, out, references=references, warnings=warnings,
                      compute=time.perf_counter() - started)


STEP = StepSpec(
    name="photom",
    title="Photometric calibration",
    summary="Convert DN/s to surface brightness (MJy/sr) with the photom reference row for the "
            "exposure's filter: SCI and ERR are multiplied by PHOTMJSR, and PHOTMJSR, PHOTUJA2, "
            "PIXAR_SR, PIXAR_A2 and BUNIT are recorded. Skipped, with the reason, when the table "
            "has no row for the filter.",
    status_keyword="S_PHOTOM",
    class_name="iris_pipeline.photom.PhotomStep",
    class_aliases=("jwst.photom.photom_step.PhotomStep",),
    parameters=(
        Parameter("override_photom", "path", None, "Photom reference table to use instead of "
                  "the one chosen from the reference folder.", optional=True, reference="photom"),
        Parameter("photmjsr", "float", None, "Use this conversion factor (MJy/sr per DN/s) "
                  "instead of the table's; no reference table is read.", minimum=0.0,
                  exclusive_minimum=True, optional=True),
        Parameter("inverse", "bool", False, "Divide by the factor instead of multiplying "
                  "(undoes a previous photom: MJy/sr back to DN/s)."),
    ),
    run=run,
    default_suffix="photom",
    reference_kind="photom",
)
