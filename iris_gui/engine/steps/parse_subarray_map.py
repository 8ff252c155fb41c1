"""parse_subarray_map: record the numbered windows of a SUBARR_MAP (image2 step 3).

A SUBARR_MAP extension marks up to ten windows read out alongside the full frame: pixel value k
(1..10) belongs to window k, 0 to none. For each window present the step records xstart, ystart
(1-based detector pixels, counting the exposure's own SUBSTRT offset), xsize and ysize, as header
keywords SMAP<k>XS, SMAP<k>YS, SMAP<k>NX, SMAP<k>NY and NSUBWIN, and raises DQ bit 4 (value 16)
wherever the map is non-zero. No SUBARR_MAP -> SKIPPED.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..dq import SUBARRAY_MAP_FLAG
from ..header_values import DETECTOR_LIMIT, integer
from ..models import ImageModel
from .base import COMPLETE, SKIPPED, StepContext, StepResult, StepSpec

MAX_WINDOWS = 10


@dataclass(frozen=True)
class MapWindow:
    number: int
    xstart: int  # 1-based detector pixel
    ystart: int
    xsize: int
    ysize: int


def _occupied_box(subarr_map: np.ndarray) -> tuple[slice, slice] | None:
    """Row and column slices of the smallest box holding every non-zero map value (None: all 0).

    Windows are usually small, so the per-window work below is done on this box only; finding it
    costs two reductions over the map, not a sort of it (np.unique on 4096² takes ~70 ms).
    """
    rows = np.flatnonzero(subarr_map.any(axis=1))
    if not rows.size:
        return None
    cols = np.flatnonzero(subarr_map[rows[0]:rows[-1] + 1].any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def windows_in_map(subarr_map: np.ndarray, xoffset: int = 0, yoffset: int = 0
                   ) -> tuple[list[MapWindow], list[str]]:
    """The bounding box of each window number 1..10 present, and notes on anything odd."""
    notes: list[str] = []
    windows: list[MapWindow] = []
    box = _occupied_box(subarr_map)
    if box is None:
        return windows, notes
    rows_box, cols_box = box
    sub = subarr_map[box]
    if sub.dtype.kind == "i" and sub.min() < 0:
        notes.append("SUBARR_MAP has negative values; they are flagged but not recorded as windows")
        sub = np.where(sub < 0, 0, sub)
    counts = np.bincount(sub.ravel())
    for value in np.flatnonzero(counts):
        value = int(value)
        if value == 0:
            continue
        if value > MAX_WINDOWS:
            notes.append(f"SUBARR_MAP value {value} is outside 1..{MAX_WINDOWS}; not recorded")
            continue
        mask = sub == value
        rows = np.flatnonzero(mask.any(axis=1)) + rows_box.start
        cols = np.flatnonzero(mask.any(axis=0)) + cols_box.start
        window = MapWindow(value, int(cols[0]) + 1 + xoffset, int(rows[0]) + 1 + yoffset,
                           int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))
        if int(counts[value]) != window.xsize * window.ysize:
            notes.append(f"SUBARR_MAP window {value} is not a filled rectangle; "
                         f"its bounding box is recorded")
        windows.append(window)
    return windows, notes


def flag_subarray_map(model: ImageModel) -> tuple[ImageModel, list[MapWindow], list[str]]:
    """The step's work on a model that has a SUBARR_MAP: (output, windows, notes)."""
    origin = model.window
    windows, notes = windows_in_map(model.subarr_map, origin.xstart - 1, origin.ystart - 1)
    dq = model.dq.copy()
    box = _occupied_box(model.subarr_map)
    if box is not None:
        flagged = (model.subarr_map[box] != 0).astype(np.uint32) * np.uint32(SUBARRAY_MAP_FLAG)
        dq[..., box[0], box[1]] |= flagged  # broadcasts over integrations
    out = model.derive(dq=dq)
    out.header["NSUBWIN"] = (len(windows), "windows found in SUBARR_MAP")
    for w in windows:
        out.header[f"SMAP{w.number}XS"] = (w.xstart, f"window {w.number} xstart (1-based)")
        out.header[f"SMAP{w.number}YS"] = (w.ystart, f"window {w.number} ystart (1-based)")
        out.header[f"SMAP{w.number}NX"] = (w.xsize, f"window {w.number} xsize")
        out.header[f"SMAP{w.number}NY"] = (w.ysize, f"window {w.number} ysize")
    return out, windows, notes


def run(model: ImageModel, params: dict, context: StepContext) -> StepResult:
    if model.subarr_map is None:
        return StepResult(SKIPPED, model, reason=f"{model.name} has no SUBARR_MAP extension")
    started = time.perf_counter()
    out, windows, notes = flag_subarray_map(model)
    for w in windows:
        context.log.info("parse_subarray_map: window %d at x=%d y=%d size %dx%d",
                         w.number, w.xstart, w.ystart, w.xsize, w.ysize)
    context.progress(1.0)
    return StepResult(COMPLETE, out, warnings=notes, compute=time.perf_counter() - started)


def recorded_windows(model: ImageModel) -> list[MapWindow]:
    """The windows parse_subarray_map wrote into a model's header."""
    windows = []
    for number in range(1, MAX_WINDOWS + 1):
        keys = [f"SMAP{number}{suffix}" for suffix in ("XS", "YS", "NX", "NY")]
        values = [integer(model.header, k, model.name, minimum=0, maximum=DETECTOR_LIMIT)
                  for k in keys]
        if all(v is not None for v in values):
            windows.append(MapWindow(number, *values))
    return windows


STEP = StepSpec(
    name="parse_subarray_map",
    title="Parse subarray map",
    summary="Record the numbered windows (1..10) of the SUBARR_MAP extension and flag their "
            "pixels with DQ bit 4 (value 16). Skipped when the file has no map.",
    status_keyword="S_SUBMAP",
    class_name="iris_pipeline.parse_subarray_map.ParseSubarrayMapStep",
    class_aliases=("liger_iris_pipeline.parse_subarray_map.ParseSubarrayMapStep",
                   "parse_subarrays"),
    step_aliases=("parse_subarrays",),
    parameters=(),
    run=run,
    default_suffix="parse_subarray_map",
)
