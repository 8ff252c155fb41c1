"""photom: convert DN/s to surface brightness, MJy/sr (image2 step 6).

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

No table found, no FILTER keyword, no table row for the exposure's FILTER, or a row whose PHOTMJSR
is 0, negative or NaN -> SKIPPED with the reason and a warning (the step was left on and did
nothing; the data stay in DN/s and say so, so this is not a failure); a table without the FILTER,
PHOTMJSR and UNCERTAINTY columns -> an error naming the file and the missing columns. An
override_photom whose REFTYPE/DATAMODL does not say PHOTOM is refused unless ``force_override``
(then still warned about).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..blocks import run_image_blocks
from ..buffer_pool import take_like
from ..fits_text import file_name_value
from ..models import ImageModel, read_photom
from ..parameters import Parameter
from ..references import find_reference, missing_reference_warning
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
    sci_out = take_like(model.data)
    err_out = take_like(model.err)

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
    warnings: list[str] = []

    def skipped(reason: str, warning: str | None = None) -> StepResult:
        return StepResult(SKIPPED, model, reason=reason,
                          warnings=[*warnings, warning or f"photom skipped: {reason}"])

    if params["photmjsr"] is not None:
        factor = float(params["photmjsr"])
        source = "N/A"
        context.log.info("photom: PHOTMJSR = %g from the photmjsr parameter", factor)
    else:
        choice, why_none = find_reference("photom", model, context.ref_dir,
                                          params["override_photom"],
                                          force=params["force_override"])
        if choice is None:
            return skipped(why_none, missing_reference_warning("photom", model, context.ref_dir))
        context.note(f"photom: {choice.explanation}")
        warnings.extend(choice.warnings)
        table = read_photom(choice.path)
        if model.filter is None:
            return skipped(
                f"{model.name} has no FILTER keyword, so no row of {choice.path} can be chosen")
        row = table.row_for(model.filter)
        if row is None:
            filters = ", ".join(r.filter for r in table.rows) or "none"
            return skipped(f"photom table {choice.path} has no row for FILTER={model.filter} "
                           f"(rows: {filters})")
        factor = row.photmjsr
        if not math.isfinite(factor) or factor <= 0:
            return skipped(f"photom table {choice.path}: PHOTMJSR for FILTER={model.filter} is "
                           f"{factor}, not a positive number")
        references["photom"] = choice.path
        source = file_name_value(choice.path)
    context.progress(0.1)

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
    jwst_only_parameters=("source_type", "mrs_time_correction", "apply_time_correction"),
    jwst_defaults=(("inverse", False),),
    parameters=(
        Parameter("override_photom", "path", None, "Photom reference table to use instead of "
                  "the one chosen from the reference folder.", optional=True, reference="photom"),
        Parameter("force_override", "bool", False, "Use override_photom even if its "
                  "REFTYPE/DATAMODL does not say it is a photom table (a warning is still given)."),
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
