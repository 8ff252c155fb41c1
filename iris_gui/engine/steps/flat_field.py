"""flat_field: divide by the flat (image2 step 5).

Flat pixels that are NaN, 0, or flagged NO_FLAT_FIELD in the flat's DQ are replaced by 1 (with
ERR 0) and flagged NO_FLAT_FIELD (2**18) in the output — the upstream 2025 code forgot the flag.
ERR is propagated for a quotient: ERR_out² = (ERR/flat)² + (SCI_out·ERR_flat/flat)².
DQ is OR-ed with the flat's DQ. A flat smaller than the science skips the step (with the reason);
a subarray window outside the flat is an error. ``inverse`` multiplies instead (to re-apply a flat).

Suspicious references are said as warnings: no flat found in the reference folder (skipped, left
on); a flat with no usable pixel in the exposure's window (all NaN, zero or flagged): the data pass
uncorrected with every pixel flagged NO_FLAT_FIELD, which says so on each pixel, so the step
completes. A flat whose usable pixels in the window are all negative fails the product: dividing by
it would flip the sign of every pixel and look like data. An override_flat whose REFTYPE/DATAMODL
does not say FLAT is refused unless ``force_override`` (then still warned about).
"""

from __future__ import annotations

import time

import numpy as np

from ..blocks import run_image_blocks
from ..buffer_pool import recycle, take_like
from ..dq import NO_FLAT_FIELD
from ..errors import InputError
from ..fits_text import file_name_value
from ..models import ImageModel
from ..parameters import Parameter
from ..pixel_math import add_in_quadrature
from ..references import (
    ReferenceTooSmall,
    find_reference,
    load_reference_image,
    missing_reference_warning,
)
from .base import COMPLETE, SKIPPED, StepContext, StepResult, StepSpec

_NO_FLAT = np.uint32(NO_FLAT_FIELD)


def usable_flat(flat: ImageModel, rows: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, err, dq) of the flat's ``rows`` with unusable pixels set to 1, 0, NO_FLAT_FIELD."""
    value = flat.data[rows]
    dq = flat.dq[rows]
    bad = ~np.isfinite(value) | (value == 0) | ((dq & _NO_FLAT) != 0)
    value = np.where(bad, np.float32(1), value)
    err = np.where(bad | ~np.isfinite(flat.err[rows]), np.float32(0), flat.err[rows])
    dq = dq | (bad.astype(np.uint32) * _NO_FLAT)
    return value, err, dq


def flat_problem(flat: ImageModel, path: str, science: ImageModel) -> str | None:
    """The warning for a flat without one usable pixel; InputError if every usable one is
    negative (dividing would flip the data's sign)."""
    value = flat.data
    usable = np.isfinite(value) & (value != 0) & ((flat.dq & _NO_FLAT) == 0)
    name = path.rsplit("/", 1)[-1]
    if not usable.any():
        return (f"flat {name} has no usable pixel in the window of {science.name} (all NaN, zero "
                f"or flagged NO_FLAT_FIELD): nothing was divided, every pixel is flagged")
    if not (value[usable] > 0).any():
        raise InputError(f"flat {path}: every usable pixel in the window of {science.name} is "
                         f"negative; dividing by it would flip the sign of the data")
    return None


def apply_flat(model: ImageModel, flat: ImageModel, inverse: bool = False, *, cancel=None,
               progress=None) -> ImageModel:
    """The arithmetic of the step: ``flat`` is already cut to the model's window."""
    sci_out = take_like(model.data)
    err_out = take_like(model.err)
    dq_out = take_like(model.dq)

    def work(index: tuple, rows: slice) -> None:
        value, value_err, flat_dq = usable_flat(flat, rows)
        sci, sci_new, err_new = model.data[index], sci_out[index], err_out[index]
        if inverse:  # ERR_out² = (ERR·flat)² + (SCI·ERR_flat)²
            np.multiply(sci, value, out=sci_new)
            np.multiply(model.err[index], value, out=err_new)
            add_in_quadrature(err_new, sci * value_err, out=err_new)
        else:  # ERR_out² = (ERR/flat)² + (SCI_out·ERR_flat/flat)²
            np.divide(sci, value, out=sci_new)
            np.divide(model.err[index], value, out=err_new)
            relative = np.multiply(sci_new, value_err)
            np.divide(relative, value, out=relative)
            add_in_quadrature(err_new, relative, out=err_new)
        np.bitwise_or(model.dq[index], flat_dq, out=dq_out[index])

    run_image_blocks(model.shape, work, cancel=cancel, progress=progress)
    return model.derive(data=sci_out, err=err_out, dq=dq_out)


def run(model: ImageModel, params: dict, context: StepContext) -> StepResult:
    force = params["force_override"]
    choice, why_none = find_reference("flat", model, context.ref_dir, params["override_flat"],
                                      force=force)
    if choice is None:
        return StepResult(SKIPPED, model, reason=why_none,
                          warnings=[missing_reference_warning("flat", model, context.ref_dir)])
    context.note(f"flat_field: {choice.explanation}")
    warnings = list(choice.warnings)
    try:
        flat = load_reference_image("flat", choice.path, model, force=force)
    except ReferenceTooSmall as exc:
        return StepResult(SKIPPED, model, reason=str(exc), warnings=[*warnings, str(exc)])
    problem = flat_problem(flat, choice.path, model)
    if problem:
        warnings.append(problem)
    context.progress(0.2)

    started = time.perf_counter()
    out = apply_flat(model, flat, params["inverse"], cancel=context.cancel,
                     progress=lambda f: context.progress(0.2 + 0.8 * f))
    out.header["R_FLAT"] = file_name_value(choice.path)
    spent = [flat]  # its buffers go to the next arrays (photom's outputs, the next product)
    del flat
    recycle(spent)
    return StepResult(COMPLETE, out, references={"flat": choice.path}, warnings=warnings,
                      compute=time.perf_counter() - started)


STEP = StepSpec(
    name="flat_field",
    title="Flat field",
    summary="Divide by the flat for the exposure's filter. NaN, zero or NO_FLAT_FIELD flat "
            "pixels are left uncorrected and flagged NO_FLAT_FIELD; ERR is propagated.",
    status_keyword="S_FLAT",
    class_name="iris_pipeline.flatfield.FlatFieldStep",
    class_aliases=("jwst.flatfield.flat_field_step.FlatFieldStep",
                   "liger_iris_pipeline.flat_field.FlatFieldStep"),
    parameter_aliases=(("flat", "override_flat"),),
    refused_parameters=(
        ("flat_output_dir", None, "the upstream saves the CRDS flat into this folder; iris_gui "
         "records the flat used in R_FLAT instead (override_flat names one to use)"),
    ),
    jwst_only_parameters=("save_interpolated_flat", "user_supplied_flat"),
    jwst_defaults=(("inverse", False),),
    parameters=(
        Parameter("override_flat", "path", None, "Flat reference file to use instead of the one "
                  "chosen from the reference folder.", optional=True, reference="flat"),
        Parameter("force_override", "bool", False, "Use override_flat even if its "
                  "REFTYPE/DATAMODL does not say it is a flat (a warning is still given)."),
        Parameter("inverse", "bool", False, "Multiply by the flat instead of dividing "
                  "(re-applies a flat that was divided out)."),
    ),
    run=run,
    default_suffix="flat_field",
    reference_kind="flat",
)
