"""Contours, the RA/Dec grid and the compass drawn over the panes (``PaneOverlays``).

What is drawn comes from the ``ViewState`` alone (``contours`` / ``contour_*``, ``wcs_grid``,
``compass``); the lines are worked out on the view's worker pool (``display.contours``,
``display.wcs_grid``) and drawn when they land; nothing heavier than placing the items runs on
the GUI thread. A pane's overlay follows its role (A / B): in blink layout the one pane carries
the overlays of the role it shows.

- Contours of a pane's own frame, or of the other pane's frame (e.g. the input's contours over
  the output); levels by count are spaced between the limits of the pane whose frame is traced.
- The grid and compass use the WCS of the pane's own product (``ViewSource.model.wcs``), so for
  assign_wcs Before has none and After has the step's. The grid is worked out for the area
  shown (``ViewState.view_range``), so its step and labels follow the zoom.

``notes[role]`` says what each pane carries (levels, steps, or why nothing); ``notesChanged``
tells the Contours & grid dock; ``drawn(kind, role)`` is emitted when lines land on a pane.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, Signal

from ..display import contours as ct
from ..display import wcs_grid as wg
from ..state.view_state import BLINK, ROLES
from .display_tasks import LRUCache
from .view_overlay_items import PaneItems, joined, line_path

log = logging.getLogger("iris_gui.gui")

#: the pool's priorities: below the pixels (3) and overlay (2), above statistics (1)
PRIORITY = 2
KINDS = ("contours", "grid")
MISSING = object()


# ---- tasks run on the pool -------------------------------------------------------------------------
def _contours_task(frame, levels, block):
    sets, factor = ct.contour_lines(frame, levels, block)
    return sets, factor, line_path(*joined([s.points for s in sets]))


def _grid_task(wcs, shape, view_range):
    grid = wg.wcs_grid(wcs, shape, view_range)
    if grid is None:
        return None
    return grid, line_path(*joined([np.column_stack([ln.x, ln.y]) for ln in grid.lines]))


class lazy:  # noqa: N801 - reads as a marker in a call
    """An argument of ``_submit`` made only when the task is really queued."""

    def __init__(self, make) -> None:
        self.make = make

    def __call__(self):
        return self.make()


def other_role(role: str) -> str:
    return "B" if role == "A" else "A"


class PaneOverlays(QObject):
    """See the module docstring; ``update`` runs after each refresh of the view."""

    notesChanged = Signal()
    drawn = Signal(str, str)

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.state = view.state
        self.items = {name: PaneItems(pane) for name, pane in view.panes.items()}
        self.cache = LRUCache(16)
        self.notes: dict[str, dict[str, str]] = {role: {} for role in ROLES}
        self._failed: dict[tuple, str] = {}
        self._keep: dict[tuple, object] = {}
        view.runner.finished.connect(self._task_done)

    # ---- what is asked -------------------------------------------------------------------------
    def displayed(self) -> list[tuple[object, str]]:
        """(pane, role) of each pane shown."""
        view = self.view
        if self.state.layout == BLINK:
            return [(view.left, view.shown_role)]
        return [(view.left, "A"), (view.right, "B")]

    def update(self) -> None:
        notes = {role: {} for role in ROLES}
        shown = self.displayed()
        shown_panes = {pane.name for pane, _ in shown}
        for name, items in self.items.items():
            if name not in shown_panes:
                items.hide_all()
        for pane, role in shown:
            items = self.items[pane.name]
            self._update_contours(items, role, notes[role])
            self._update_wcs(items, role, notes[role])
        if notes != self.notes:
            self.notes = notes
            self.notesChanged.emit()

    def _submit(self, key: tuple, keep_alive, fn, *args) -> None:
        """Queue ``fn(*args)`` (an arg may be a callable made only then: ``lazy``) unless done
        or on its way; a queued, not yet started task of the same kind for the same frame or WCS
        is dropped (a pan or a count being typed asks again and again: only the last counts)."""
        runner = self.view.runner
        if key in self._failed or key in self.cache or runner.closed or runner.in_flight(key):
            return
        dropped = []

        def stale(k) -> bool:
            if isinstance(k, tuple) and k[:2] == key[:2] and k != key:
                dropped.append(k)
                return True
            return False

        runner.discard(stale)
        for k in dropped:
            self._keep.pop(k, None)
        args = tuple(a() if isinstance(a, lazy) else a for a in args)
        if runner.submit(key, fn, *args, priority=PRIORITY):
            self._keep[key] = keep_alive

    def _task_done(self, key, result, error: str) -> None:
        if not (isinstance(key, tuple) and key and key[0] in KINDS):
            return
        keep = self._keep.pop(key, None)
        if error:
            self._failed[key] = error
            log.error("inspection view overlay: %s", error)
        else:
            self.cache.put(key, result, keep)
        self.update()

    # ---- contours ------------------------------------------------------------------------------
    def contour_levels(self, role: str) -> tuple[str, ct.ContourLevels | None, str]:
        """(frame role, levels, why none) for the contours on pane ``role``."""
        st, view = self.state, self.view
        frame_role = role if st.contour_frame == "own" else other_role(role)
        source = view.source(frame_role)
        if source is None:
            return frame_role, None, f"pane {frame_role} shows nothing"
        if st.contour_mode == "list":
            if not st.contour_levels:
                return frame_role, None, "no levels listed"
            return frame_role, ct.ContourLevels(
                st.contour_levels, f"{len(st.contour_levels)} listed levels"), ""
        limits = view.resolved.get(frame_role)
        if limits is None:
            return frame_role, None, "waiting for the limits"
        values = ct.levels_by_count(st.contour_count, *limits)
        method = "manual" if st.limits == "manual" else st.limits
        return frame_role, ct.ContourLevels(values, (
            f"{st.contour_count} levels evenly spaced between pane {frame_role}'s {method} "
            f"limits {limits[0]:.5g} and {limits[1]:.5g} (the limits left out)")), ""

    def _update_contours(self, items: PaneItems, role: str, notes: dict) -> None:
        st, view = self.state, self.view
        if role not in st.contours:
            items.hide_contours()
            return
        frame_role, levels, why = self.contour_levels(role)
        own = view.source(role)
        source = view.source(frame_role)
        if levels is None:
            notes["contours"] = f"Contours: {why}"
            items.hide_contours()
            return
        if own is not None and source.shape != own.shape:
            notes["contours"] = (f"Contours: pane {frame_role}'s frame is {source.shape[1]} x "
                                 f"{source.shape[0]}, this pane's {own.shape[1]} x "
                                 f"{own.shape[0]}: its contours would not line up")
            items.hide_contours()
            return
        render = view.renders.get(frame_role)
        of = f"of pane {frame_role} ({source.label})"
        if render is None or render.frame is None:
            notes["contours"] = f"Contours {of}: waiting for the frame"
            return
        factor = ct.block_factor(render.frame.shape, st.contour_block)
        key = ("contours", render.key, levels.values, st.contour_block)
        found = self.cache.get(key)
        block = f"{factor} x {factor} blocks" if factor > 1 else "full resolution"
        head = f"Contours {of}, traced on {block}: {levels.explanation}: " \
               f"{ct.format_levels(levels.values)}"
        if found is None:
            notes["contours"] = f"{head} — computing…"
            if key in self._failed:
                notes["contours"] = f"{head} — failed: {self._failed[key]}"
            self._submit(key, render.source.keep_alive(), _contours_task, render.frame,
                         levels.values, st.contour_block)
            return
        _sets, _factor, drawing = found
        notes["contours"] = head
        if items.show_contours(key, drawing):
            self.drawn.emit("contours", role)

    # ---- WCS grid and compass ------------------------------------------------------------------
    def _update_wcs(self, items: PaneItems, role: str, notes: dict) -> None:
        st = self.state
        want_grid, want_compass = role in st.wcs_grid, role in st.compass
        if not (want_grid or want_compass):
            items.hide_grid()
            items.hide_compass()
            return
        source = self.view.source(role)
        wcs = getattr(source.model, "wcs", None) if source is not None else None
        if wcs is None:
            notes["grid"] = ("RA/Dec grid: this pane's product has no WCS (assign_wcs has not "
                             "run on it)" if source is not None else "RA/Dec grid: nothing shown")
            items.hide_grid()
            items.hide_compass()
            return
        key = ("grid", id(wcs), source.shape, st.view_range)
        grid = self.cache.get(key, MISSING)
        if grid is MISSING:
            if key in self._failed:
                notes["grid"] = f"RA/Dec grid: failed: {self._failed[key]}"
                return
            notes["grid"] = "RA/Dec grid: computing…"
            # the worker gets its own copy: wcslib's structures are not shared across threads
            self._submit(key, wcs, _grid_task, lazy(wcs.deepcopy), source.shape, st.view_range)
            return
        if grid is None:
            notes["grid"] = "RA/Dec grid: the area shown is off the frame"
            items.hide_grid()
            items.hide_compass()
            return
        grid, drawing = grid
        notes["grid"] = (f"RA/Dec grid of pane {role}'s WCS: every {_ra_step(grid.ra_step_ms)} "
                         f"in RA, {_dec_step(grid.dec_step_mas)} in Dec")
        if grid.compass is not None:
            notes["grid"] += f"; {grid.compass.arcsec_per_pixel:.4g}″/pixel"
        new = False
        if want_grid:
            new |= items.show_grid(key, grid, drawing)
        else:
            items.hide_grid()
        if want_compass:
            new |= items.show_compass(key, grid.compass, grid.box)
        else:
            items.hide_compass()
        if new:
            self.drawn.emit("grid", role)


def _ra_step(ms: int) -> str:
    if ms >= 3_600_000:
        return f"{ms // 3_600_000}h"
    if ms >= 60_000:
        return f"{ms // 60_000}m"
    return f"{ms / 1000:g}s"


def _dec_step(mas: int) -> str:
    if mas >= 3_600_000:
        return f"{mas / 3_600_000:g}°"
    if mas >= 60_000:
        return f"{mas / 60_000:g}′"
    return f"{mas / 1000:g}″"


__all__ = ["PaneOverlays", "other_role"]
