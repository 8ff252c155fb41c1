"""The image2 steps in pipeline order: the one list every other part derives from."""

from typing import Any

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

#: reference kind -> the step that owns its choice (override_<kind>, force_override)
REFERENCE_OWNER: dict[str, StepSpec] = {step.reference_kind: step for step in STEPS
                                        if step.reference_kind}


def references_read(step: StepSpec, parameters: dict[str, dict[str, Any]]
                    ) -> list[tuple[str, str | None, bool]]:
    """(kind, override, force_override) of each reference kind ``step`` reads under
    ``parameters`` (every step's values): its own ``reference_kind``, then each borrowed one
    switched on, with the owning step's override and force_override."""
    own = parameters[step.name]
    kinds = [step.reference_kind] if step.reference_kind else []
    kinds += [kind for flag, kind in step.borrowed_references if own.get(flag)]
    read = []
    for kind in kinds:
        owner = parameters[REFERENCE_OWNER[kind].name]
        read.append((kind, owner.get(f"override_{kind}"), bool(owner.get("force_override"))))
    return read


__all__ = [
    "COMPLETE", "FAILED", "REFERENCE_OWNER", "SKIPPED", "STEPS", "STEP_BY_NAME", "StepContext",
    "StepResult", "StepSpec", "references_read",
]
