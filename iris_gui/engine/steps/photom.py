"""photom: convert DN/s to MJy/sr with the filter's conversion (not implemented yet)."""

from .base import StepSpec

STEP = StepSpec(
    name="photom",
    title="Photometric calibration",
    summary="Convert DN/s to surface brightness (MJy/sr) with the photom reference row for the "
            "exposure's filter. Not implemented yet: reported SKIPPED.",
    status_keyword="S_PHOTOM",
    class_name="iris_pipeline.photom.PhotomStep",
    class_aliases=("jwst.photom.photom_step.PhotomStep",),
    parameters=(),
    run=None,
    default_suffix="photom",
    reference_kind="photom",
)
