"""What can be looked at for one step of one product: Before, After, Difference, Ratio, Background,
_bsub, ERR, DQ and the step's other products.

A ``ViewSource`` names one image (a model's SCI, ERR or DQ, or a difference / ratio of two models)
and knows how to give a 2-D frame of it for an integration, the value / ERR / DQ at one pixel, and
a key for caching what is derived from that frame (the key holds array identities; caches keep
the source alive while they hold an entry, so an identity is never reused under them).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..engine.models import ImageModel
from ..engine.pipeline import ProductResult
from .frames import difference, difference_err, ratio

BEFORE = "Before (input)"
AFTER = "After (output)"
DIFFERENCE = "Difference (after − before)"
RATIO = "Ratio (after / before)"
BACKGROUND = "Background (combined)"
BSUB = "_bsub product"
ERR_AFTER = "ERR (after)"
DQ_AFTER = "DQ (after)"
ERR_BEFORE = "ERR (before)"
DQ_BEFORE = "DQ (before)"
INPUT = "Exposure (rate input)"

I2D = "i2d (resampled)"

#: names the step products get in the menu (others: "<key> (product)")
PRODUCT_LABELS = {"background": BACKGROUND, "dark": "Dark (reference used)", "i2d": I2D}

#: roles whose pixels are in the same units, for the "same levels" default
SCIENCE_ROLES = frozenset({"before", "after"})

#: steps whose output is on another level or in other units than their input (the sky removed;
#: DN/s -> MJy/sr): shared Before/After levels would show one pane blank, so not by default
LEVEL_CHANGING_STEPS = frozenset({"bkg_subtract", "photom"})


def share_levels_by_default(step_name: str | None, roles: set[str]) -> bool:
    return roles <= SCIENCE_ROLES and step_name not in LEVEL_CHANGING_STEPS

#: roles of views that are not what the shown step made (the Header dock compares nothing)
OTHER_ROLES_NOT_COMPARED = frozenset({"before", "input", "step", "background", "bsub"})

#: steps that also get a Ratio view
RATIO_STEPS = frozenset({"flat_field"})


@dataclass(eq=False)
class ViewSource:
    label: str
    kind: str                     # "data", "err", "dq", "difference", "ratio"
    model: ImageModel             # whose ERR / DQ / WCS belong to this view
    role: str                     # "before", "after", "difference", "ratio", "background", ...
    other: ImageModel | None = None   # the "before" of a difference / ratio

    @property
    def nints(self) -> int:
        return self.model.nints

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.model.image_shape)

    @property
    def is_derived(self) -> bool:
        """True when the frame must be computed (not a view of a model array)."""
        return self.kind in ("difference", "ratio", "dq")

    def _plane(self, array: np.ndarray, plane: int) -> np.ndarray:
        if array.ndim == 3:
            return array[min(max(plane, 0), array.shape[0] - 1)]
        return array

    def _base(self) -> np.ndarray:
        if self.kind == "err":
            return self.model.err
        if self.kind == "dq":
            return self.model.dq
        return self.model.data

    def frame_key(self, plane: int) -> tuple:
        plane = plane if self.model.data.ndim == 3 else 0
        other = id(self.other.data) if self.other is not None else 0
        return (self.kind, id(self._base()), other, plane)

    def keep_alive(self) -> tuple:
        """Objects a cache entry keyed by ``frame_key`` must hold."""
        return (self._base(), self.other.data if self.other is not None else None)

    def frame(self, plane: int) -> np.ndarray:
        """The 2-D frame shown for ``plane`` (computed for difference / ratio / DQ)."""
        if self.kind == "difference":
            return difference(self._plane(self.model.data, plane), self._plane(self.other.data, plane))
        if self.kind == "ratio":
            return ratio(self._plane(self.model.data, plane), self._plane(self.other.data, plane))
        if self.kind == "dq":
            return (self._plane(self.model.dq, plane) != 0).astype(np.float32)
        return self._plane(self._base(), plane)

    def dq_frame(self, plane: int) -> np.ndarray:
        return self._plane(self.model.dq, plane)

    def dq_key(self, plane: int) -> tuple:
        plane = plane if self.model.dq.ndim == 3 else 0
        return ("dq", id(self.model.dq), plane)

    def value_at(self, plane: int, iy: int, ix: int) -> float | None:
        """The value shown at pixel (iy, ix): for DQ the integer DQ value."""
        ny, nx = self.shape
        if not (0 <= iy < ny and 0 <= ix < nx):
            return None
        if self.kind in ("difference", "ratio"):
            pixel = (slice(iy, iy + 1), slice(ix, ix + 1))
            combine = difference if self.kind == "difference" else ratio
            return float(combine(self._plane(self.model.data, plane)[pixel],
                                 self._plane(self.other.data, plane)[pixel])[0, 0])
        if self.kind == "dq":
            return int(self._plane(self.model.dq, plane)[iy, ix])
        return float(self._plane(self._base(), plane)[iy, ix])

    def block(self, plane: int, rows: slice, cols: slice) -> np.ndarray:
        """The values shown in ``[rows, cols]`` (a cut-out of ``frame``, computed on the cut-out
        alone: a difference or ratio costs the block, not the frame); DQ as its integers."""
        if self.kind in ("difference", "ratio"):
            combine = difference if self.kind == "difference" else ratio
            return combine(self._plane(self.model.data, plane)[rows, cols],
                           self._plane(self.other.data, plane)[rows, cols])
        if self.kind == "dq":
            return self._plane(self.model.dq, plane)[rows, cols]
        return self._plane(self._base(), plane)[rows, cols]

    def err_at(self, plane: int, iy: int, ix: int) -> float | None:
        if self.kind in ("dq", "err", "ratio"):
            return None
        if self.kind == "difference":
            pixel = (slice(iy, iy + 1), slice(ix, ix + 1))
            return float(difference_err(self._plane(self.model.err, plane)[pixel],
                                        self._plane(self.other.err, plane)[pixel])[0, 0])
        return float(self._plane(self.model.err, plane)[iy, ix])

    def dq_at(self, plane: int, iy: int, ix: int) -> int:
        return int(self._plane(self.model.dq, plane)[iy, ix])


@dataclass
class StepViews:
    """The views of one step, in menu order, and the step's input / output for "newly flagged"."""

    sources: OrderedDict[str, ViewSource]
    before: ImageModel | None = None
    after: ImageModel | None = None

    @property
    def nints(self) -> int:
        return max((s.nints for s in self.sources.values()), default=1)


def _same_shape(a: ImageModel, b: ImageModel) -> bool:
    return a.data.shape == b.data.shape


def other_product_label(product_name: str) -> str:
    return f"After — {product_name}"


def step_views(result: ProductResult | None, step_name: str,
               others: tuple[ProductResult, ...] | list[ProductResult] = ()) -> StepViews:
    """Everything that can be shown for ``step_name`` of ``result``; ``others``: results of
    other products, whose output of the same step is offered when it has the same shape (to
    blink one exposure against another)."""
    sources: OrderedDict[str, ViewSource] = OrderedDict()
    if result is None:
        return StepViews(sources)
    before = result.before(step_name)
    step = result.steps.get(step_name)
    after = step.model if step is not None and step.model is not None and step.status != "FAILED" \
        else None
    if before is not None:
        sources[BEFORE] = ViewSource(BEFORE, "data", before, "before")
    if after is not None:
        sources[AFTER] = ViewSource(AFTER, "data", after, "after")
    if before is not None and after is not None and _same_shape(before, after):
        sources[DIFFERENCE] = ViewSource(DIFFERENCE, "difference", after, "difference", before)
        if step_name in RATIO_STEPS:
            sources[RATIO] = ViewSource(RATIO, "ratio", after, "ratio", before)
    if step is not None and step.status != "FAILED":
        for key, model in step.products.items():
            label = PRODUCT_LABELS.get(key, f"{key} (product)")
            sources[label] = ViewSource(label, "data", model, key)
    bkg = result.steps.get("bkg_subtract")
    if bkg is not None and bkg.status == "COMPLETE":
        background = bkg.products.get("background")
        if background is not None and BACKGROUND not in sources:
            sources[BACKGROUND] = ViewSource(BACKGROUND, "data", background, "background")
        if result.bsub is not None:
            sources[BSUB] = ViewSource(BSUB, "data", result.bsub, "bsub")
    # the exposure and every other step's output, to blink across steps
    if result.input_model is not None and result.input_model is not before:
        sources[INPUT] = ViewSource(INPUT, "data", result.input_model, "input")
    for name, other in result.steps.items():
        if name != step_name and other.status == "COMPLETE" and other.model is not None \
                and other.model is not after and other.model is not before:
            label = f"{name} output"
            sources[label] = ViewSource(label, "data", other.model, "step")
    for other_result in others:
        if other_result is result or other_result.product.name == result.product.name:
            continue
        other_step = other_result.steps.get(step_name)
        if other_step is None or other_step.status != "COMPLETE" or other_step.model is None:
            continue
        if after is not None and not _same_shape(after, other_step.model):
            continue
        label = other_product_label(other_result.product.name)
        sources[label] = ViewSource(label, "data", other_step.model, "after")
    if after is not None:
        sources[ERR_AFTER] = ViewSource(ERR_AFTER, "err", after, "err")
        sources[DQ_AFTER] = ViewSource(DQ_AFTER, "dq", after, "dq")
    if before is not None:
        sources[ERR_BEFORE] = ViewSource(ERR_BEFORE, "err", before, "err")
        sources[DQ_BEFORE] = ViewSource(DQ_BEFORE, "dq", before, "dq")
    newly_ok = before is not None and after is not None and before.dq.shape == after.dq.shape
    return StepViews(sources, before if newly_ok else None, after if newly_ok else None)
