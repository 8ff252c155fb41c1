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

Rate backgrounds that were not dark-subtracted carry the dark, so subtracting them removes it
from the science, and dark_current removes it again. By default (the seed iris_pipeline's way)
the backgrounds are used as they are: the header records whether every background was itself
dark-subtracted (BKGDKSUB) and dark_current warns when it would remove the dark a second time.
With ``subtract_dark_from_backgrounds`` the step first subtracts from each background not yet
dark-subtracted (its S_DARK is not COMPLETE) the dark dark_current would subtract from the
science (the same file: dark_current's ``override_dark`` and ``force_override``, or the folder's
choice for the science), as dark_current does it (a NaN dark pixel counts as 0, ERR added in
quadrature, DQ OR-ed), and then combines them: the upstream liger_iris_pipeline's order, where
every exposure is dark-subtracted before the sky is taken off. Backgrounds already
dark-subtracted are left as they are. No dark found: a warning, and the backgrounds are used as
they are. The backgrounds are then read by the step itself, not taken from the window's store of
prepared backgrounds (those hold them as read).

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
from ..buffer_pool import recycle, release, take, take_like
from ..dq import DQ_DTYPE
from ..errors import InputError
from ..fits_text import file_name_value
from ..models import ImageModel, read_image
from ..parameters import Parameter
from ..pixel_math import add_in_quadrature, finite_or_zero
from ..references import find_reference, load_reference_image
from .base import COMPLETE, SKIPPED, StepContext, StepResult, StepSpec


def background_for_science(path: str, science: ImageModel, *,
                           rows_from_file: bool = False) -> ImageModel:
    """Read one background and cut it to the science window if it is larger
    (``rows_from_file``: its SCI and ERR left in the file, read as the combine needs them)."""
    background = read_image(path, what="background exposure", rows_from_file=rows_from_file)
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
                    share: float, *, rows_from_file: bool = False) -> Iterator[ImageModel]:
    """The backgrounds ``paths`` one at a time, cut to the science window (checking cancel
    before each one and reporting progress up to ``share`` as they come)."""
    for number, path in enumerate(paths):
        context.check_cancel()
        yield background_for_science(path, science, rows_from_file=rows_from_file)
        context.progress(share * (number + 1) / len(paths))


def read_backgrounds(paths: list[str], science: ImageModel, context: StepContext,
                     dark: ImageModel | None = None) -> Backgrounds:
    """The step's own way to its backgrounds: read them all (with ``dark`` subtracted from each
    one not yet dark-subtracted, see ``subtract_dark_from_background``); combining them frees
    them."""
    models = []
    dq_or = None  # the combined DQ is the OR of every member's: kept as one array as they come
    # without a dark to subtract, SCI and ERR stay in the files until the combine reads them,
    # a block of rows at a time (file_rows): ten 4096² backgrounds are not 1.3 GB of copies
    backgrounds = each_background(paths, science, context, LOADED, rows_from_file=dark is None)
    for path, background in zip(paths, backgrounds, strict=True):
        if dark is not None and is_dark_subtracted(background):
            context.log.info("bkg_subtract: %s is dark-subtracted already (S_DARK = COMPLETE); "
                             "the dark is not subtracted from it again", Path(path).name)
        elif dark is not None:
            background = subtract_dark_from_background(background, dark)
        dq_or = _or_into(dq_or, background.dq)
        release(background, ("dq",))
        models.append(background)
    return _of_models(models, [Path(p).name for p in paths], release=True, dq_or=dq_or)


def _or_into(total: np.ndarray | None, dq: np.ndarray) -> np.ndarray:
    """``total | dq`` as uint32, in place into ``total`` (a new array at first)."""
    if total is None:
        whole = dq.base is None or dq.base.nbytes == dq.nbytes  # not a cut-out's view
        if dq.dtype == DQ_DTYPE and dq.flags.c_contiguous and dq.flags.writeable and whole:
            return dq  # the first background's own DQ (read for this step) becomes the OR
        total = take(dq.shape, DQ_DTYPE)
        np.copyto(total, dq, casting="unsafe")
        return total
    np.bitwise_or(total, dq, out=total, casting="unsafe")
    return total


def subtract_dark_from_background(background: ImageModel, dark: ImageModel) -> ImageModel:
    """``background`` - ``dark`` (both cut to the science window) as dark_current subtracts it:
    a NaN dark pixel counts as 0, ERR in quadrature, DQ OR-ed; S_DARK = COMPLETE."""
    dark_sci = finite_or_zero(dark.data)
    dark_err = finite_or_zero(dark.err)
    out = background.derive(data=np.subtract(background.data, dark_sci, dtype=np.float32),
                            err=add_in_quadrature(background.err, dark_err,
                                                  np.empty_like(background.err)),
                            dq=np.bitwise_or(background.dq, dark.dq))
    out.header["S_DARK"] = COMPLETE
    return out


def dark_for_backgrounds(science: ImageModel, context: StepContext
                         ) -> tuple[ImageModel | None, str | None, list[str]]:
    """(dark cut to the science window, its path, warnings): the dark dark_current chooses for
    ``science`` with its own parameters (``context.parameters``); (None, None, [why]) when
    there is none."""
    dark_params = context.parameters.get("dark_current", {})
    force = bool(dark_params.get("force_override", False))
    choice, why_none = find_reference("dark", science, context.ref_dir,
                                      dark_params.get("override_dark"), force=force)
    if choice is None:
        return None, None, [f"subtract_dark_from_backgrounds: {why_none}; the backgrounds are "
                            f"combined as they are"]
    context.note(f"bkg_subtract: dark for the backgrounds: {choice.explanation}")
    return load_reference_image("dark", choice.path, science, force=force), choice.path, \
        list(choice.warnings)


def _of_models(backgrounds: list[ImageModel], names: list[str], release: bool,
               dq_or: np.ndarray | None = None) -> Backgrounds:
    def combine(sigma, maxiters, *, cancel=None, progress=None) -> CombinedBackground:
        nonlocal dq_or
        combined = combine_backgrounds(
            [b.data for b in backgrounds], [b.err for b in backgrounds],
            [b.dq for b in backgrounds] if dq_or is None else [dq_or], sigma=sigma,
            maxiters=maxiters, cancel=cancel, progress=progress,
        )
        if release:
            dq_or = None  # their buffers go to the next arrays (this step's outputs, the dark)
            recycle(backgrounds)
        return combined

    return Backgrounds(names, [b.filter for b in backgrounds],
                       all(is_dark_subtracted(b) for b in backgrounds), combine)


def run(model: ImageModel, params: dict, context: StepContext) -> StepResult:
    paths = context.product.backgrounds
    if not paths:
        return StepResult(SKIPPED, model,
                          reason=f"product {context.product.name} has no background members")
    warnings: list[str] = []
    references: dict[str, str] = {}
    dark = None
    if params["subtract_dark_from_backgrounds"]:
        dark, dark_path, warnings = dark_for_backgrounds(model, context)
        if dark_path is not None:
            references["dark"] = dark_path
    if dark is not None:
        backgrounds = read_backgrounds(paths, model, context, dark)
    else:
        source: BackgroundSource = context.backgrounds or read_backgrounds
        backgrounds = source(paths, model, context)
    del dark
    warnings += backgrounds.filter_warnings(model)
    started = time.perf_counter()
    out, background_model, combined = _subtract(
        model, backgrounds, params["sigma"], params["maxiters"], cancel=context.cancel,
        progress=lambda f: context.progress(LOADED + (1.0 - LOADED) * f),
    )
    clipped = int(len(paths) * combined.n_used.size - int(combined.n_used.sum(dtype=np.int64)))
    context.log.info("bkg_subtract: %d backgrounds, %d values clipped or invalid",
                     len(paths), clipped)
    if references:
        out.header["R_BKGDRK"] = (file_name_value(references["dark"]),
                                  "dark subtracted from the backgrounds")
    return StepResult(
        COMPLETE, out, warnings=warnings, products={"background": background_model},
        references=references, compute=time.perf_counter() - started,
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
    sci_out = take_like(model.data)
    err_out = take_like(model.err)
    dq_out = take_like(model.dq)

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
    # the seed iris_pipeline's class; the name iris_gui wrote before is still read
    class_name="iris_pipeline.background.BackgroundStep",
    class_aliases=("iris_pipeline.background.SubtractImagerBackgroundStep",
                   "jwst.background.background_step.BackgroundStep",
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
        Parameter("subtract_dark_from_backgrounds", "bool", False, "First subtract from each "
                  "background not yet dark-subtracted the dark dark_current uses (its "
                  "override_dark, or the folder's choice), then combine them: the upstream "
                  "liger_iris_pipeline's order. Off: backgrounds as they are (the seed "
                  "iris_pipeline's way); rate backgrounds that carry the dark then remove it "
                  "from the science, and dark_current removes it a second time."),
    ),
    borrowed_references=(("subtract_dark_from_backgrounds", "dark"),),
    run=run,
    default_suffix="bsub",
)
