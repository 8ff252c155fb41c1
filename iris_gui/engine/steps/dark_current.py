"""dark_current: subtract the dark rate (image2 step 4).

SCI - dark, with a NaN (or infinite) dark pixel counting as 0 — what the upstream documentation
says, not what its 2025 code does; ERR added in quadrature (NaN dark ERR counts as 0); DQ OR-ed
with the dark's DQ. rateints: the same 2D dark is subtracted from every integration.

If bkg_subtract already ran with backgrounds that were not dark-subtracted, those backgrounds
carried the dark and removed it once; subtracting it again here removes it twice. The step still
does what it is told, but says so loudly (a warning in the log and on the step in the GUI).

Also said as warnings: no dark found in the reference folder (the step is skipped, left on); a dark
with no finite pixel in the exposure's window (nothing is subtracted, since a NaN dark pixel counts
as 0: the output is the input with the dark's DQ, so the step completes rather than fails); the
reference-choice warnings of ``find_reference`` (identity unchecked, forced override). An
override_dark whose REFTYPE/DATAMODL does not say DARK is refused unless ``force_override``.
"""

from __future__ import annotations

import time

import numpy as np

from ..blocks import run_image_blocks
from ..buffer_pool import recycle, take_like
from ..fits_text import file_name_value
from ..models import ImageModel
from ..parameters import Parameter
from ..pixel_math import add_in_quadrature, finite_or_zero
from ..references import find_reference, load_reference_image, missing_reference_warning
from .base import COMPLETE, SKIPPED, StepContext, StepResult, StepSpec


def dark_twice_warning(model: ImageModel) -> str | None:
    """The dark-counted-twice message if the input's background was not dark-subtracted."""
    if str(model.header.get("S_BKDSUB", "")).upper() != COMPLETE:
        return None
    if model.header.get("BKGDKSUB", True):
        return None
    return (
        "dark counted twice: bkg_subtract used background exposures whose S_DARK is not COMPLETE, "
        "so they already carried the dark and removed it; dark_current now removes it again. "
        "Set bkg_subtract's subtract_dark_from_backgrounds = True (the dark is then taken off "
        "each background first, the upstream's order), use dark-subtracted backgrounds, or "
        "skip one of the two steps."
    )


def subtract_dark(model: ImageModel, dark: ImageModel, *, cancel=None, progress=None) -> ImageModel:
    """The arithmetic of the step: ``dark`` is already cut to the model's window."""
    sci_out = take_like(model.data)
    err_out = take_like(model.err)
    dq_out = take_like(model.dq)

    def work(index: tuple, rows: slice) -> None:
        dark_sci = finite_or_zero(dark.data[rows])
        dark_err = finite_or_zero(dark.err[rows])
        np.subtract(model.data[index], dark_sci, out=sci_out[index])
        add_in_quadrature(model.err[index], dark_err, out=err_out[index])
        np.bitwise_or(model.dq[index], dark.dq[rows], out=dq_out[index])

    run_image_blocks(model.shape, work, cancel=cancel, progress=progress)
    return model.derive(data=sci_out, err=err_out, dq=dq_out)


def run(model: ImageModel, params: dict, context: StepContext) -> StepResult:
    force = params["force_override"]
    choice, why_none = find_reference("dark", model, context.ref_dir, params["override_dark"],
                                      force=force)
    if choice is None:
        return StepResult(SKIPPED, model, reason=why_none,
                          warnings=[missing_reference_warning("dark", model, context.ref_dir)])
    context.note(f"dark_current: {choice.explanation}")
    dark = load_reference_image("dark", choice.path, model, force=force)
    warnings = list(choice.warnings)
    if not np.isfinite(dark.data).any():
        warnings.append(f"dark {choice.path.rsplit('/', 1)[-1]} has no finite pixel in the "
                        f"window of {model.name}: nothing was subtracted")
    context.progress(0.2)

    started = time.perf_counter()
    out = subtract_dark(model, dark, cancel=context.cancel,
                        progress=lambda f: context.progress(0.2 + 0.8 * f))
    out.header["R_DARK"] = file_name_value(choice.path)
    result = StepResult(COMPLETE, out, references={"dark": choice.path}, warnings=warnings,
                        compute=time.perf_counter() - started)
    warning = dark_twice_warning(model)
    if warning:
        result.warnings.append(warning)
    if params["dark_output"]:
        result.products["dark"] = dark
        result.extra_outputs[params["dark_output"]] = dark
    else:  # its buffers go to the next arrays (the flat, the flat's outputs)
        spent = [dark]
        del dark
        recycle(spent)
    return result


STEP = StepSpec(
    name="dark_current",
    title="Dark current",
    summary="Subtract the dark rate. NaN dark pixels count as 0; ERR is added in quadrature "
            "and DQ is OR-ed with the dark's DQ.",
    status_keyword="S_DARK",
    class_name="iris_pipeline.dark_current.DarkCurrentStep",
    class_aliases=("jwst.dark_current.dark_current_step.DarkCurrentStep",
                   "liger_iris_pipeline.dark_subtraction.DarkSubtractionStep",
                   "liger_iris_pipeline.DarkSubtraction", "dark_sub"),
    step_aliases=("dark_sub",),
    parameter_aliases=(("dark", "override_dark"),),
    refused_parameters=(
        ("dark_output_dir", None, "the upstream saves the CRDS dark into this folder; set "
         "dark_output = <file> to save the dark actually subtracted"),
    ),
    jwst_only_parameters=("average_dark_current",),
    jwst_defaults=(("dark_output", None),),
    parameters=(
        Parameter("override_dark", "path", None, "Dark reference file to use instead of the one "
                  "chosen from the reference folder.", optional=True, reference="dark"),
        Parameter("force_override", "bool", False, "Use override_dark even if its "
                  "REFTYPE/DATAMODL does not say it is a dark (a warning is still given)."),
        Parameter("dark_output", "path", None, "Also save the dark actually subtracted (cut to "
                  "the exposure's window) to this file.", optional=True),
    ),
    run=run,
    default_suffix="dark_current",
    reference_kind="dark",
)
