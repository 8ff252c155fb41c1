"""bkg_subtract: subtract the average of the association's background exposures (step 1).

Backgrounds are cut to the science window when they are larger (full-frame backgrounds for a
subarray exposure), combined with a sigma-clipped mean along the exposure axis (exactly
``astropy.stats.sigma_clip(stack, sigma, maxiters, axis=0)`` followed by the mean of the
unclipped values; see ``background_combine``), and subtracted from the science — from every
integration of a rateints exposure. ERR adds in quadrature, DQ is OR-ed.

With N backgrounds a value can only lie so far from the median in units of the standard
deviation: at most 2.12 sigma for N = 3, under 3 sigma up to about N = 7. So with the usual three
backgrounds a 3-sigma clip never rejects anything and the background is their plain mean. That is
the correct result, not a fault.

The header records whether every background was itself dark-subtracted (BKGDKSUB); dark_current
warns when it would remove the dark a second time.

The step reads its backgrounds (``read_backgrounds``) unless its context brings another way to
them (``StepContext.backgrounds``: the pipeline's ``BackgroundStore`` of prepared backgrounds for
live re-runs, whose combine gives the same bits); the rest is this module's either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..background_combine import CombinedBackground, combine_backgrounds
from ..blocks import run_image_blocks
from ..errors import InputError
from ..models import ImageModel, read_image
from ..parameters import Parameter
from ..pixel_math import add_in_quadrature
from .base import COMPLETE, SKIPPED, StepContext, StepResult, StepSpec


def background_for_science(path: str, science: ImageModel) -> ImageModel:
    """Read one background and cut it to the science window if it is larger."""
    background = read_image(path, what="background exposure")
    if background.data.ndim != 2:
        raise InputError(f"{path}: background exposures must be 2D rate files, "
                         f"found shape {background.data.shape}")
    for attribute, label in (("instrument", "INSTRUME"), ("detector", "DETECTOR")):
        ours, theirs = getattr(science, attribute), getattr(background, attribute)
        if ours and theirs and ours != theirs:
            raise InputError(f"{path}: background {label} = {theirs} but the science is {ours}")
    window = science.window
    if background.window == window:
        return background
    if not background.window.contains(window):
        raise InputError(
            f"{path}: background window {background.window.describe()} does not cover the "
            f"science window {window.describe()}"
        )
    return background.cutout(window)


#: the share of the step's progress that getting its backgrounds takes (reading them)
LOADED = 0.3


@dataclass
class Backgrounds:
    """A product's backgrounds, cut to the science window, as the step combines them.

    ``combine(sigma, maxiters, *, cancel=None, progress=None)`` gives their
    ``background_combine.CombinedBackground``: ``combine_backgrounds`` of the frames the step
    read, or ``combine_prepared`` of frames a ``BackgroundStore`` keeps (the same bits)."""

    names: list[str]  #: file names, for the warnings
    filters: list[str | None]
    dark_subtracted: bool  #: every background had S_DARK = COMPLETE
    combine: Callable[..., CombinedBackground]

    def filter_warnings(self, science: ImageModel) -> list[str]:
        return [f"background {name} has FILTER {bfilter}, the science {science.filter}"
                for name, bfilter in zip(self.names, self.filters, strict=True)
                if science.filter and bfilter and bfilter != science.filter]


#: how a step gets a product's backgrounds: (paths, science, context) -> Backgrounds, reporting
#: progress up to LOADED (``StepContext.backgrounds``; by default ``read_backgrounds``)
BackgroundSource = Callable[[list[str], ImageModel, StepContext], Backgrounds]


def is_dark_subtracted(background: ImageModel) -> bool:
    return str(background.header.get("S_DARK", "")).strip().upper() == COMPLETE


def each_background(paths: list[str], science: ImageModel, context: StepContext,
                    share: float) -> Iterator[ImageModel]:
    """The backgrounds ``paths`` one at a time, cut to the science window (checking cancel
    before each one and reporting progress up to ``share`` as they come)."""
    for number, path in enumerate(paths):
        context.check_cancel()
        yield background_for_science(path, science)
        context.progress(share * (number + 1) / len(paths))


def read_backgrounds(paths: list[str], science: ImageModel, context: StepContext) -> Backgrounds:
    """The step's own way to its backgrounds: read them all; combining them frees them."""
    models = list(each_background(paths, science, context, LOADED))
    return _of_models(models, [Path(p).name for p in paths], release=True)


def _of_models(backgrounds: list[ImageModel], names: list[str], release: bool) -> Backgrounds:
    def combine(sigma, maxiters, *, cancel=None, progress=None) -> CombinedBackground:
        combined = combine_backgrounds(
            [b.data for b in backgrounds], [b.err for b in backgrounds],
            [b.dq for b in backgrounds], sigma=sigma, maxiters=maxiters, cancel=cancel,
            progress=progress,
        )
        if release:
            backgrounds.clear()
        return combined

    return Backgrounds(names, [b.filter for b in backgrounds],
                       all(is_dark_subtracted(b) for b in backgrounds), combine)


def run(model: ImageModel, params: dict, context: StepContext) -> StepResult:
    paths = context.product.backgrounds
    if not paths:
        return StepResult(SKIPPED, model,
                          reason=f"product {context.product.name} has no background members")
    source: BackgroundSource = context.backgrounds or read_backgrounds
    backgrounds = source(paths, model, context)
    warnings = backgrounds.filter_warnings(model)
    started = time.perf_counter()
    out, background_model, combined = _subtract(
        model, backgrounds, params["sigma"], params["maxiters"], cancel=context.cancel,
        progress=lambda f: context.progress(LOADED + (1.0 - LOADED) * f),
    )
    clipped = int(len(paths) * combined.n_used.size - int(combined.n_used.sum(dtype=np.int64)))
    context.log.info("bkg_subtract: %d backgrounds, %d values clipped or invalid",
                     len(paths), clipped)
    return StepResult(
        COMPLETE, out, warnings=warnings, products={"background": background_model},
        compute=time.perf_counter() - started,
    )


def subtract_background(model: ImageModel, backgrounds: list[ImageModel], sigma: float,
                        maxiters: int | None, *, cancel=None, progress=None,
                        release_backgrounds: bool = False):
    """The arithmetic of the step on backgrounds already cut to the model's window.

    ``release_backgrounds``: empty the ``backgrounds`` list once they are combined, so their
    memory is free before the output is allocated (the output then reuses pages the process
    already has, instead of new ones, which cost ~2.5 ms/MB on a first touch on the
    development VM). Returns (output model, combined background model, CombinedBackground).
    """
    names = [Path(b.filename).name if b.filename else "" for b in backgrounds]
    return _subtract(model, _of_models(backgrounds, names, release_backgrounds), sigma,
                     maxiters, cancel=cancel, progress=progress)


def _subtract(model: ImageModel, backgrounds: Backgrounds, sigma: float, maxiters: int | None,
              *, cancel=None, progress=None):
    """Combine ``backgrounds`` and subtract them from every integration of ``model``."""
    def report(fraction: float) -> None:
        if progress is not None:
            progress(fraction)

    count = len(backgrounds.names)
    combined = backgrounds.combine(sigma, maxiters, cancel=cancel,
                                   progress=lambda f: report(0.7 * f))
    sci_out = np.empty_like(model.data)
    err_out = np.empty_like(model.err)
    dq_out = np.empty_like(model.dq)

    def work(index: tuple, rows: slice) -> None:
        np.subtract(model.data[index], combined.data[rows], out=sci_out[index])
        add_in_quadrature(model.err[index], combined.err[rows], out=err_out[index])
        np.bitwise_or(model.dq[index], combined.dq[rows], out=dq_out[index])

    run_image_blocks(model.shape, work, cancel=cancel, progress=lambda f: report(0.7 + 0.3 * f))
    out = model.derive(data=sci_out, err=err_out, dq=dq_out)
    out.header["NBKG"] = (count, "background exposures averaged")
    out.header["BKGDKSUB"] = (backgrounds.dark_subtracted, "all backgrounds were dark-subtracted")
    background_model = model.derive(data=combined.data, err=combined.err, dq=combined.dq,
                                    subarr_map=None, area=None)
    background_model.header["NBKG"] = count
    return out, background_model, combined


STEP = StepSpec(
    name="bkg_subtract",
    title="Background subtraction",
    summary="Subtract the sigma-clipped mean of the association's background exposures. "
            "Note: with 3 backgrounds a 3-sigma clip can never reject a value (the largest "
            "possible deviation is 2.12 sigma; under 3 sigma up to about 7 backgrounds), so the "
            "background is then their plain mean.",
    status_keyword="S_BKDSUB",
    class_name="iris_pipeline.background.SubtractImagerBackgroundStep",
    class_aliases=("jwst.background.background_step.BackgroundStep",
                   "liger_iris_pipeline.background.CalculateBackgroundImagerStep",
                   "liger_iris_pipeline.background.SubtractBackgroundImagerStep",
                   "liger_iris_pipeline.sky_subtraction.SkySubtractionImagerStep",
                   "calc_bkg_imager", "subtract_bkg"),
    # the upstream split the step in two (2025) after calling it sky_sub
    step_aliases=("sky_sub", "calc_background", "background_sub"),
    refused_parameters=tuple(
        (name, None, "the upstream's calc_background models the sky as a median-filtered, "
         "scaled frame (sigma_low, sigma_high, box_size, filter_size); iris_gui averages the "
         "association's background members with sigma clipping: use sigma and maxiters")
        for name in ("sigma_low", "sigma_high", "box_size", "filter_size")
    ) + (
        ("background", None, "iris_gui takes the backgrounds from the association: list them "
         "as its background (or SKY) members"),
        ("sky", None, "iris_gui takes the backgrounds from the association: list them as its "
         "background (or SKY) members"),
        ("scale", 1.0, "iris_gui subtracts the background unscaled"),
    ),
    jwst_only_parameters=("bkg_list", "save_combined_background", "wfss_mmag_extract",
                          "wfss_maxiter", "wfss_rms_stop", "wfss_outlier_percent",
                          "soss_source_percentile", "soss_bkg_percentile"),
    jwst_defaults=(("sigma", 3.0), ("maxiters", None)),
    parameters=(
        Parameter("sigma", "float", 3.0, "Clipping limit in standard deviations from the median, "
                  "along the stack of backgrounds.", minimum=0.0, exclusive_minimum=True),
        Parameter("maxiters", "int", None, "Maximum clipping iterations; None repeats until "
                  "nothing changes.", minimum=1, optional=True),
    ),
    run=run,
    default_suffix="bsub",
)
