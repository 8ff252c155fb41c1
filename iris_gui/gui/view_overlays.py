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
import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal

from ..display import contours as ct
from ..display import wcs_grid as wg
from ..state.view_state import BLINK, ROLES
from .display_tasks import LRUCache

log = logging.getLogger("iris_gui.gui")

CONTOUR_PEN = pg.mkPen((60, 255, 90), width=1)
GRID_PEN = pg.mkPen((120, 200, 255, 200), width=1)
COMPASS_PEN = pg.mkPen((255, 230, 80), width=2)
LABEL_COLOUR = (160, 215, 255)
#: the pool's priorities: below the pixels (3) and overlay (2), above statistics (1)
PRIORITY = 2
KINDS = ("contours", "grid")
MISSING = object()


def _contours_task(frame, levels, block):
    return ct.contour_lines(frame, levels, block)


def _grid_task(wcs, shape, view_range):
    return wg.wcs_grid(wcs, shape, view_range)


def other_role(role: str) -> str:
    return "B" if role == "A" else "A"


class PaneItems:
    """The pyqtgraph items of one pane's overlays (made once, shown / hidden)."""

    def __init__(self, pane) -> None:
        self.pane = pane
        plot = pane.plot
        self.contours = pg.PlotCurveItem(pen=CONTOUR_PEN, connect="finite", skipFiniteCheck=True)
        self.grid = pg.PlotCurveItem(pen=GRID_PEN, connect="finite", skipFiniteCheck=True)
        self.compass = pg.PlotCurveItem(pen=COMPASS_PEN, connect="finite", skipFiniteCheck=True)
        for z, item in ((15, self.contours), (16, self.grid), (17, self.compass)):
            item.setZValue(z)
            item.hide()
            plot.addItem(item, ignoreBounds=True)
        self.labels: list[pg.TextItem] = []
        self.compass_labels: list[pg.TextItem] = []
        #: what each item shows now (a key; None: nothing)
        self.shown: dict[str, object] = {"contours": None, "grid": None, "compass": None}

    def _text_items(self, pool: list[pg.TextItem], n: int, colour) -> list[pg.TextItem]:
        while len(pool) < n:
            item = pg.TextItem("", color=colour, anchor=(0, 1))
            item.setZValue(18)
            self.pane.plot.addItem(item, ignoreBounds=True)
            pool.append(item)
        for item in pool[n:]:
            item.hide()
        return pool[:n]

    def show_contours(self, key, sets) -> None:
        if self.shown["contours"] == key:
            return
        self.shown["contours"] = key
        xs, ys = _joined([s.points for s in sets])
        self.contours.setData(xs, ys, connect="finite")
        self.contours.setVisible(xs.size > 0)

    def hide_contours(self) -> None:
        self.shown["contours"] = None
        self.contours.hide()

    def show_grid(self, key, grid: wg.WcsGrid) -> None:
        if self.shown["grid"] == key:
            return
        self.shown["grid"] = key
        xs, ys = _joined([np.column_stack([line.x, line.y]) for line in grid.lines])
        self.grid.setData(xs, ys, connect="finite")
        self.grid.show()
        placed = [line for line in grid.lines if line.label_at is not None]
        for item, line in zip(self._text_items(self.labels, len(placed), LABEL_COLOUR), placed,
                              strict=True):
            item.setText(line.label)
            # RA labels sit above the bottom edge, Dec labels right of the left edge
            item.setAnchor((0.5, 1.0) if line.axis == "ra" else (0.0, 0.5))
            item.setPos(*line.label_at)
            item.show()

    def hide_grid(self) -> None:
        self.shown["grid"] = None
        self.grid.hide()
        self._text_items(self.labels, 0, LABEL_COLOUR)

    def show_compass(self, key, compass: wg.Compass | None, box) -> None:
        if self.shown["compass"] == key:
            return
        self.shown["compass"] = key
        if compass is None:
            self.hide_compass()
            return
        xs, ys, texts = compass_lines(compass, box)
        self.compass.setData(xs, ys, connect="finite")
        self.compass.show()
        for item, (text, x, y, anchor) in zip(
                self._text_items(self.compass_labels, len(texts), (255, 230, 80)), texts,
                strict=True):
            item.setText(text)
            item.setAnchor(anchor)
            item.setPos(x, y)
            item.show()

    def hide_compass(self) -> None:
        self.shown["compass"] = None
        self.compass.hide()
        self._text_items(self.compass_labels, 0, (255, 230, 80))

    def hide_all(self) -> None:
        self.hide_contours()
        self.hide_grid()
        self.hide_compass()


def _joined(parts):
    """One x and one y array of polylines ``parts`` ((N, 2) arrays), NaN between them."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return np.empty(0), np.empty(0)
    gap = np.full((1, 2), np.nan)
    joined = np.concatenate([q for p in parts for q in (p, gap)][:-1])
    return joined[:, 0], joined[:, 1]


def compass_lines(compass: wg.Compass, box):
    """(x, y, texts) of the compass (N and E arrows with heads) and the scale bar in view
    coordinates; texts are (text, x, y, anchor)."""
    x0, x1, y0, y1 = box
    length = 0.1 * min(x1 - x0, y1 - y0)
    ox, oy = compass.origin
    xs: list[float] = []
    ys: list[float] = []
    texts = []
    for name, (ux, uy) in (("N", compass.north), ("E", compass.east)):
        tx, ty = ox + ux * length, oy + uy * length
        head = 0.25 * length
        for turn in (0.45, -0.45):   # arrow head: two strokes back from the tip
            c, s = np.cos(turn), np.sin(turn)
            hx, hy = -(ux * c - uy * s) * head, -(ux * s + uy * c) * head
            xs += [tx + hx, tx, np.nan]
            ys += [ty + hy, ty, np.nan]
        xs += [ox, tx, np.nan]
        ys += [oy, ty, np.nan]
        texts.append((name, ox + ux * length * 1.25, oy + uy * length * 1.25, (0.5, 0.5)))
    # scale bar: along x, at the bottom right of the area shown
    bar = min(compass.bar_pixels, 0.45 * (x1 - x0))
    bx1, by = x1 - 0.05 * (x1 - x0), y0 + 0.1 * (y1 - y0)
    tick = 0.015 * (y1 - y0)
    xs += [bx1 - bar, bx1, np.nan, bx1 - bar, bx1 - bar, np.nan, bx1, bx1]
    ys += [by, by, np.nan, by - tick, by + tick, np.nan, by - tick, by + tick]
    texts.append((compass.bar_label, bx1 - bar / 2, by + tick, (0.5, 1.0)))
    return np.asarray(xs), np.asarray(ys), texts


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
        if key in self._failed or key in self.cache or self.view.runner.closed:
            return
        if self.view.runner.submit(key, fn, *args, priority=PRIORITY):
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
        sets, _factor = found
        notes["contours"] = head
        was = items.shown["contours"]
        items.show_contours(key, sets)
        if was != key:
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
            self._submit(key, wcs, _grid_task, wcs.deepcopy(), source.shape, st.view_range)
            return
        if grid is None or not grid.lines and grid.compass is None:
            notes["grid"] = "RA/Dec grid: the area shown is off the frame"
        else:
            notes["grid"] = (f"RA/Dec grid of pane {role}'s WCS: every "
                             f"{_ra_step(grid.ra_step_ms)} in RA, {_dec_step(grid.dec_step_mas)} "
                             f"in Dec")
            if grid.compass is not None:
                notes["grid"] += f"; {grid.compass.arcsec_per_pixel:.4g}″/pixel"
        if grid is None:
            items.hide_grid()
            items.hide_compass()
            return
        was = items.shown["grid"], items.shown["compass"]
        if want_grid:
            items.show_grid(key, grid)
        else:
            items.hide_grid()
        if want_compass:
            items.show_compass(key, grid.compass, grid.box)
        else:
            items.hide_compass()
        if was != (items.shown["grid"], items.shown["compass"]):
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


__all__ = ["PaneOverlays", "compass_lines", "other_role"]
