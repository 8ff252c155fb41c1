"""assign_wcs: build the world coordinate system from the header (not implemented yet)."""

from .base import StepSpec

STEP = StepSpec(
    name="assign_wcs",
    title="Assign WCS",
    summary="Build the world coordinate system from the primary header's FITS WCS keywords "
            "(0-based detector pixel -> RA, Dec). Not implemented yet: reported SKIPPED.",
    status_keyword="S_WCS",
    class_name="iris_pipeline.assign_wcs.AssignWcsStep",
    class_aliases=("jwst.assign_wcs.assign_wcs_step.AssignWcsStep",),
    parameters=(),
    run=None,
    default_suffix="assign_wcs",
)
