"""resample: drizzle onto an undistorted north-up grid, writing _i2d (not implemented yet)."""

from .base import StepSpec

STEP = StepSpec(
    name="resample",
    title="Resample",
    summary="Drizzle the calibrated exposure onto an undistorted, north-up grid and write "
            "<product>_i2d.fits. Not implemented yet: reported SKIPPED.",
    status_keyword="S_RESAMP",
    class_name="iris_pipeline.resample.ResampleStep",
    class_aliases=("jwst.resample.resample_step.ResampleStep",),
    parameters=(),
    run=None,
    default_suffix="i2d",
)
