"""What each pane needs for the current settings, from the caches or computed on the worker pool.

Per pane: the 2-D frame (derived frames computed), its ``FrameInfo``, the levels, the ``uint8``
index image, the pixels of each DQ flag and NaN, the overlay mask pyramid; per region: the
statistics. ``Renderer.prepare`` takes what is cached and queues what is missing (highest
priority first: pixels, then the overlay, then the numbers); ``updated`` is emitted when a task
lands, and the view asks again. Nothing here touches a widget; the maths is in
``iris_gui.display``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal

from ..display import maths as im
from ..display.colour_tables import (
    NAN_MARK,
    colour_table,
    dq_colour,
    dq_colour_index,
    overlay_table,
)
from ..display.view_sources import StepViews, ViewSource
from ..engine.dq import DQ_BITS
from ..state.view_state import ROLES, ViewState
from .display_tasks import LRUCache, TaskRunner

log = logging.getLogger("iris_gui.gui")


# ---- tasks run on the pool (module functions: nothing of the view is touched off its thread) ----
def _compute_frame(source: ViewSource, plane: int) -> np.ndarray:
    return source.frame(plane)


def _compute_flag_pixels(dq: np.ndarray, before_dq: np.ndarray | None) -> dict[str, np.ndarray]:
    return im.flag_pixels(dq, before_dq)


def _compute_nan_pixels(frame: np.ndarray) -> np.ndarray:
    if frame.dtype.kind != "f":
        return np.empty(0, np.intp)
    return np.flatnonzero(np.isnan(frame))


def _compute_mask(shape: tuple[int, int], pixels: dict[str, np.ndarray],
                  selected: tuple[str, ...]) -> list[np.ndarray]:
    mask = im.overlay_mask(shape, pixels, [(name, dq_colour_index(name)) for name in selected])
    return im.mask_pyramid(mask)


def _compute_histogram(info, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    return info.histogram(low, high)


def _compute_stats(frame: np.ndarray, region: im.Region, dq: np.ndarray | None,
                   ignore_flagged: bool) -> im.RegionStats:
    return im.region_statistics(frame, region, dq, ignore_flagged=ignore_flagged)


def flag_colour(state: ViewState, name: str) -> tuple[int, int, int]:
    """The overlay colour of flag ``name`` (the NaN markers: the NaN colour)."""
    if name == NAN_MARK:
        return state.nan_colour
    return state.dq_colours.get(name, dq_colour(name))


@dataclass(frozen=True)
class Settings:
    """What the pixels depend on, read from the ``ViewState`` once per refresh."""

    plane: int
    stretch: str
    limits: str
    percent: float
    manual: dict
    shared: bool
    newly: bool
    overlay: bool
    hidden: frozenset


@dataclass
class Render:
    source: ViewSource
    key: tuple
    frame: np.ndarray | None = None
    info: im.FrameInfo | None = None
    levels: tuple[float, float] | None = None
    index_key: tuple | None = None
    index: np.ndarray | None = None
    flags_key: tuple | None = None
    flags: dict | None = None
    nans: np.ndarray | None = None
    mask_key: tuple | None = None
    mask: list | None = None


@dataclass
class RenderPass:
    """One refresh's renders (role -> Render), the DQ counts (role -> flag -> pixels) and whether
    every pane's pixels are shown or on their way (then the overlay and statistics may queue)."""

    renders: dict[str, Render] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    pixels_first: bool = True


class Renderer(QObject):
    #: a task finished (its result is cached): ask ``prepare`` again
    updated = Signal()
    #: a task failed: the message (the task is not retried for the same key)
    failed = Signal(str)

    #: what the eye needs first: pixels, then the overlay, then the numbers
    PRIORITY = {"frame": 3, "info": 3, "index": 3, "flags": 2, "nan": 2, "mask": 2,
                "histogram": 2, "stats": 1}

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = TaskRunner(self, threads=2)
        self.runner.finished.connect(self._task_done)
        # sizes: at 4096² a derived frame is 64 MB, an index image 16 MB, a pyramid ~21 MB
        self._caches = {
            "frame": LRUCache(4), "info": LRUCache(32), "index": LRUCache(12),
            "flags": LRUCache(16), "nan": LRUCache(16), "mask": LRUCache(8), "stats": LRUCache(32),
            "histogram": LRUCache(16),
        }
        self._levels = LRUCache(64)
        self._luts: dict[tuple, np.ndarray] = {}
        self._pending_refs: dict[tuple, object] = {}
        self._failed: dict[tuple, str] = {}

    # ---- tasks ---------------------------------------------------------------------------------
    def _submit(self, key: tuple, keep_alive, fn, *args) -> None:
        if key in self._failed or self.runner.closed:
            return
        if self.runner.submit(key, fn, *args, priority=self.PRIORITY[key[0]]):
            self._pending_refs[key] = keep_alive

    def _task_done(self, key: tuple, result, error: str) -> None:
        if key[0] not in self._caches:  # another part's task on the pool (its owner listens)
            return
        refs = self._pending_refs.pop(key, None)
        if error:
            self._failed[key] = error
            log.error("inspection view: %s", error)
            self.failed.emit(error)
        else:
            self._caches[key[0]].put(key[1:], result, refs)
        self.updated.emit()

    @property
    def busy(self) -> bool:
        return self.runner.busy

    def release(self) -> None:
        """Forget every cached frame, index image, mask and statistic (frees their memory)."""
        for cache in (*self._caches.values(), self._levels):
            cache.clear()
        self._failed.clear()

    def shutdown(self) -> None:
        self.runner.shutdown()

    # ---- colour tables -------------------------------------------------------------------------
    def lut(self, colormap: str, nan_colour: tuple[int, int, int]) -> np.ndarray:
        key = (colormap, tuple(nan_colour))
        if key not in self._luts:
            self._luts[key] = colour_table(*key)
        return self._luts[key]

    def overlay_lut(self, state: ViewState) -> np.ndarray:
        colours = {name: flag_colour(state, name) for name in DQ_BITS}
        key = ("overlay", tuple(colours.values()), state.overlay_opacity, state.nan_colour)
        if key not in self._luts:
            self._luts[key] = overlay_table(colours, state.overlay_opacity, state.nan_colour)
        return self._luts[key]

    # ---- the pixels ------------------------------------------------------------------------------
    def prepare(self, sources: dict[str, ViewSource], views: StepViews, s: Settings) -> RenderPass:
        plane = s.plane
        out = RenderPass()
        renders = out.renders
        for role, source in sources.items():
            key = source.frame_key(plane)
            render = renders[role] = Render(source, key)
            if not source.is_derived:
                render.frame = source.frame(plane)
            else:
                render.frame = self._caches["frame"].get(key)
                if render.frame is None:
                    self._submit(("frame",) + key, source.keep_alive(), _compute_frame, source,
                                 plane)
                    continue
            render.info = self._caches["info"].get(key)
            if render.info is None:
                self._submit(("info",) + key, source.keep_alive(), im.frame_info, render.frame)
        # levels: B follows A when shared (and both are pixel images)
        for role in ROLES:
            render = renders.get(role)
            if render is None or render.info is None:
                continue
            a = renders.get("A")
            if (role == "B" and s.shared and a is not None and render.source.kind != "dq"
                    and a.source.kind != "dq"):
                if a.levels is None:
                    continue
                render.levels = a.levels
            else:
                render.levels = self._levels_for(role, render, s)
            low, high = render.levels
            render.index_key = (render.key, low, high, s.stretch)
            render.index = self._caches["index"].get(render.index_key)
            if render.index is None:
                self._submit(("index",) + render.index_key, render.source.keep_alive(),
                             im.quantize, render.frame, low, high, s.stretch)
        # the overlay and the statistics queue up once the pixels are on their way or shown, so
        # a freed worker picks up the next frame's quantizing first
        out.pixels_first = all(
            r.index_key is not None
            and (r.index is not None or self.runner.in_flight(("index",) + r.index_key))
            for r in renders.values())
        self._prepare_flags(out, views, s)
        return out

    def _levels_for(self, role: str, render: Render, s: Settings) -> tuple[float, float]:
        if render.source.kind == "dq":
            return (0.0, 1.0)
        if s.limits == "manual" and role in s.manual:
            return tuple(s.manual[role])
        method = s.limits if s.limits != "manual" else "zscale"
        key = (render.key, method, s.percent)
        levels = self._levels.get(key)
        if levels is None:
            levels = render.info.limits(method, s.percent)
            self._levels.put(key, levels, render.source.keep_alive())
        return levels

    def _prepare_flags(self, out: RenderPass, views: StepViews, s: Settings) -> None:
        plane, may_submit = s.plane, out.pixels_first
        newly = s.newly and views.before is not None
        for role, render in out.renders.items():
            source = render.source
            if newly:  # after & ~before, the same pixels on both panes
                before, after = views.before, views.after
                pb = plane if before.dq.ndim == 3 else 0
                key = ("new", id(before.dq), id(after.dq), pb)
                args = (source._plane(after.dq, plane), source._plane(before.dq, plane))
                refs = (before.dq, after.dq)
            else:  # each pane its own flags
                key = source.dq_key(plane)
                args = (source.dq_frame(plane), None)
                refs = (source.model.dq,)
            render.flags_key = key
            render.flags = self._caches["flags"].get(key)
            if render.frame is not None:
                render.nans = self._caches["nan"].get(render.key)
                if render.nans is None and may_submit:
                    self._submit(("nan",) + render.key, source.keep_alive(), _compute_nan_pixels,
                                 render.frame)
            if render.flags is None and may_submit:
                self._submit(("flags",) + key, refs, _compute_flag_pixels, *args)
            if render.flags is None or render.nans is None:
                continue
            counts = out.counts[role] = im.flag_pixel_counts(render.flags)
            counts[NAN_MARK] = int(render.nans.size)
            overlay = s.overlay or source.kind == "dq"
            selected = tuple(name for name in DQ_BITS if name in render.flags
                             and name not in s.hidden) if overlay else ()
            if render.nans.size and NAN_MARK not in s.hidden:
                selected += (NAN_MARK,)
            if not selected:
                continue
            render.mask_key = (key, render.key, selected)
            render.mask = self._caches["mask"].get(render.mask_key)
            if render.mask is None:
                pixels = {**render.flags, NAN_MARK: render.nans}
                self._submit(("mask",) + render.mask_key, refs + source.keep_alive(),
                             _compute_mask, source.shape, pixels, selected)

    def histogram(self, render: Render) -> tuple[np.ndarray, np.ndarray] | None:
        """(counts, edges) of the Levels panel for ``render``'s frame and levels, or None while
        they are counted on the pool (one task per frame at a time: a drag of the limits does
        not pile up work; ``updated`` says when they land)."""
        key = (render.key, render.levels)
        hist = self._caches["histogram"].get(key)
        if hist is None and not self.runner.matching(
                lambda k, fk=render.key: k[0] == "histogram" and k[1] == fk):
            self._submit(("histogram",) + key, render.source.keep_alive(), _compute_histogram,
                         render.info, *render.levels)
        return hist

    def region_stats(self, out: RenderPass, regions: list[im.Region], ignore: bool,
                     plane: int) -> list[dict[str, im.RegionStats] | None]:
        """Per region: role -> statistics, or None while some pane's are being computed. One
        task per frame and region at a time, so dragging a region does not pile up work."""
        results: list[dict[str, im.RegionStats] | None] = []
        for index, region in enumerate(regions):
            found: dict[str, im.RegionStats] = {}
            for role, render in out.renders.items():
                if render.frame is None:
                    continue
                key = (render.key, index, region, ignore, render.source.dq_key(plane))
                stats = self._caches["stats"].get(key)
                if stats is None:
                    busy = self.runner.matching(
                        lambda k, fk=render.key, i=index: k[0] == "stats" and k[1] == fk
                        and k[2] == i)
                    if out.pixels_first and not busy:
                        self._submit(("stats",) + key, render.source.keep_alive(),
                                     _compute_stats, render.frame, region,
                                     render.source.dq_frame(plane), ignore)
                    continue
                found[role] = stats
            results.append(found if found and len(found) == len(out.renders) else None)
        return results
