"""The image2 steps in pipeline order: the one list every other part derives from."""

from . import (
    assign_wcs,
    bkg_subtract,
    dark_current,
    flat_field,
    parse_subarray_map,
    photom,
    resample,
)
from .base import COMPLETE, FAILED, SKIPPED, StepContext, StepResult, StepSpec

STEPS: tuple[StepSpec, ...] = (
    bkg_subtract.STEP,
    assign_wcs.STEP,
    parse_subarray_map.STEP,
    dark_current.STEP,
    flat_field.STEP,
    photom.STEP,
    resample.STEP,
)

STEP_BY_NAME: dict[str, StepSpec] = {step.name: step for step in STEPS}


__all__ = [
    "COMPLETE", "FAILED", "SKIPPED", "STEPS", "STEP_BY_NAME", "StepContext",
    "StepResult", "StepSpec",
]
