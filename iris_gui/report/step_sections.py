"""One step of one product for the report: its pictures, DQ counts and metrics.

The pictures follow the window: Before / After / Difference for every step that changes the data
(After at Before's levels where the window shares them by default), Ratio too for flat_field, the
combined Background for bkg_subtract (whose After is the ``_bsub``), the ``_cal`` input and the
``_i2d`` for resample. A rateints product shows its first integration; its statistics and counts
cover every integration. What several steps share (a frame's limits and picture, a DQ array's
counts, a reference read) is computed once per report (``ArrayCache``).
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

from ..display.frames import difference, ratio
from ..display.view_sources import RATIO_STEPS, share_levels_by_default
from ..engine.cancel import CancelToken, check_cancel
from ..engine.dq import DQ_BITS
from ..engine.models import ImageModel
from ..engine.steps import COMPLETE, StepResult, StepSpec
from . import metrics as mx
from .images import DisplaySettings, Thumbnail, thumbnail
from .model import DQRow, StepReport
from .step_metrics import STEP_METRICS, StepInputs

#: steps whose new flags and NaN growth the checks look at (parse_subarray_map flags its windows
#: by design; resample's output is on another grid)
FLAG_CHECKED_STEPS = ("bkg_subtract", "dark_current", "flat_field", "photom")


def first_plane(array: np.ndarray) -> np.ndarray:
    return array[0] if array.ndim == 3 else array


class ArrayCache:
    """What is worked out once per report: pictures by (frame, levels), DQ counts by array,
    and anything else by key (``get``). Thread-safe: products are collected in parallel, and a
    value asked for by two threads is computed once. Keys hold ``id``s of arrays that the
    results being reported own, so they stay valid while the report is built."""

    def __init__(self, settings: DisplaySettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._values: dict[tuple, Future] = {}

    def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        with self._lock:
            future = self._values.get(key)
            owner = future is None
            if owner:
                future = self._values[key] = Future()
        if owner:
            try:
                future.set_result(compute())
            except BaseException as exc:
                future.set_exception(exc)
                with self._lock:
                    self._values.pop(key, None)  # a later ask tries again
                raise
        return future.result()

    def picture(self, label: str, key: tuple, frame: Callable[[], np.ndarray], keep: Any,
                levels: tuple[float, float] | None = None, note: str = "") -> Thumbnail:
        made = self.get(("picture", key, levels),
                        lambda: (keep, thumbnail(label, frame(), self.settings, levels)))[1]
        return dataclasses.replace(made, label=label, note=note)

    def dq_counts(self, dq: np.ndarray) -> dict[str, int]:
        return self.get(("dq-counts", id(dq)), lambda: (dq, mx.dq_counts(dq)))[1]


def _plane_note(model: ImageModel) -> str:
    return f"integration 1 of {model.nints}" if model.is_3d else ""


def step_pictures(step: StepSpec, before: ImageModel, result: StepResult,
                  cache: ArrayCache) -> tuple[list[Thumbnail], bool, str]:
    """(thumbnails, whether Before/After histograms share an axis, note)."""
    after = result.model
    note = _plane_note(before)
    b0 = lambda: first_plane(before.data)  # noqa: E731
    a0 = lambda: first_plane(after.data)  # noqa: E731
    keep = (before.data, after.data)
    if step.name == "resample":
        i2d = result.products.get("i2d")
        pictures = [cache.picture("_cal (resample input)", ("data", id(before.data)), b0,
                                  before.data, note=note)]
        if i2d is not None:
            pictures.append(cache.picture("_i2d (resampled)", ("data", id(i2d.data)),
                                          lambda: i2d.data, i2d.data))
        return pictures, False, ""
    if after.data is before.data:
        return [], True, "the data are not changed by this step (only its header, WCS or DQ)"
    shared = share_levels_by_default(step.name, {"before", "after"})
    first = cache.picture("Before (input)", ("data", id(before.data)), b0, before.data, note=note)
    after_label = "After (_bsub)" if step.name == "bkg_subtract" else "After (output)"
    second = cache.picture(after_label, ("data", id(after.data)), a0, after.data,
                           levels=first.levels if shared else None, note=note)
    pictures = [first, second,
                cache.picture("Difference (after − before)",
                              ("difference", id(after.data), id(before.data)),
                              lambda: difference(a0(), b0()), keep, note=note)]
    if step.name in RATIO_STEPS:
        pictures.append(cache.picture("Ratio (after / before)",
                                      ("ratio", id(after.data), id(before.data)),
                                      lambda: ratio(a0(), b0()), keep, note=note))
    background = result.products.get("background")
    if step.name == "bkg_subtract" and background is not None:
        pictures.append(cache.picture("Background (combined)", ("data", id(background.data)),
                                      lambda: first_plane(background.data), background.data))
    return pictures, shared, ""


def raised_bits(before: ImageModel, after: ImageModel, cache: ArrayCache) -> np.ndarray:
    """``metrics.new_dq`` of two models, once per pair."""
    if after.dq is before.dq:
        return np.zeros(0, after.dq.dtype)
    return cache.get(("raised", id(before.dq), id(after.dq)),
                     lambda: mx.new_dq(before.dq, after.dq))


def dq_rows(before: ImageModel, after: ImageModel, cache: ArrayCache,
            comparable: bool = True) -> list[DQRow]:
    """Pixels per flag before, after and newly; then the NaN pixels of SCI."""
    counts_before = cache.dq_counts(before.dq)
    counts_after = cache.dq_counts(after.dq)
    new: dict[str, int] | None = None
    if comparable:
        new = mx.dq_counts(raised_bits(before, after, cache))
    rows = []
    for name, bit in DQ_BITS.items():
        if name in counts_before or name in counts_after:
            rows.append(DQRow(name, bit, counts_before.get(name, 0), counts_after.get(name, 0),
                              None if new is None else new.get(name, 0)))
    nan_before = cache.get(("nan", id(before.data)), lambda: mx.nan_count(before.data))
    nan_after = cache.get(("nan", id(after.data)), lambda: mx.nan_count(after.data))
    new_nan = mx.new_nan_pixels(before.data, after.data) if comparable else None
    rows.append(DQRow("NaN", None, nan_before, nan_after, new_nan))
    return rows


def step_report(step: StepSpec, result: StepResult, before: ImageModel | None,
                inputs: StepInputs, cache: ArrayCache,
                cancel: CancelToken | None = None, *, pictures: bool = True) -> StepReport:
    """``pictures=False``: the counts and metrics only (the quick-look's night table)."""
    report = StepReport(step.name, step.title, result.status, float(result.elapsed),
                        result.reason, result.from_cache, list(result.warnings))
    if result.status != COMPLETE or before is None:
        return report
    check_cancel(cancel)
    after = result.model
    if pictures:
        report.thumbnails, report.overlay_histograms, report.note = step_pictures(
            step, before, result, cache)
    check_cancel(cancel)
    if step.name == "resample":
        i2d = result.products.get("i2d")
        if i2d is not None:
            report.dq_rows = dq_rows(before, i2d, cache, comparable=False)
    else:
        report.dq_rows = dq_rows(before, after, cache)
        pixels = after.data.size
        new_flags = int(np.count_nonzero(raised_bits(before, after, cache)))
        nan_row = report.dq_rows[-1]
        report.metrics.append(mx.Metric("new_flag_fraction", "newly flagged pixels",
                                        new_flags / pixels if pixels else math.nan, "fraction"))
        report.metrics.append(mx.Metric("new_nan_fraction", "pixels newly NaN",
                                        (nan_row.new or 0) / pixels if pixels else math.nan,
                                        "fraction"))
    compute = STEP_METRICS.get(step.name)
    if compute is not None:
        report.metrics.extend(compute(before, result, inputs, cache))
    if step.name == "flat_field":
        no_flat = next((r for r in report.dq_rows if r.flag == "NO_FLAT_FIELD"), None)
        report.metrics.append(mx.Metric("no_flat_field", "NO_FLAT_FIELD pixels after",
                                        no_flat.after if no_flat else 0, "pixels"))
        report.metrics.append(mx.Metric("no_flat_field_new", "NO_FLAT_FIELD pixels newly",
                                        no_flat.new if no_flat else 0, "pixels"))
    if before.is_3d:
        report.note = (report.note + "; " if report.note else "") + \
            f"counts and statistics over all {before.nints} integrations"
    return report


__all__ = ["ArrayCache", "FLAG_CHECKED_STEPS", "step_report"]
