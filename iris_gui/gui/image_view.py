"""``StepImageView``: what one step did to one product, shown from a ``ViewState``.

Every setting is read from the view state (``iris_gui.state.view_state.ViewState``) and every
edit is written there: the widgets are editors of its fields (``view_binding``), and a change of
the state, whoever made it (a widget, a key, undo, a restored session, the console), re-shows the
controls and schedules one refresh. The refresh computes what the panes show from the state and
the step's views alone (``view_renderer``), never from a widget.

Where things are (``iris_gui/gui/``):

- ``image_view``      this module: construction, ``show_step``, the state-change -> refresh cycle
- ``view_edits``      what each user edit writes to the state (layout, blink, levels, regions, ...)
- ``view_panes``      ``ImagePane`` (index image, DQ overlay, crosshair, colour bar —
                      ``view_colour_bar``) and ``PaneArea`` (A and B
                      with their view menus, the blink line, the readout)
- ``view_controls``   the control bar: layout / blink, integration, stretch, limits and the low /
                      high fields, colour map, NaN colour, same levels, numbering, Fit, PNG
- ``view_histogram``  the Levels panel (histogram, colour bar, draggable limits)
- ``view_dq_panel``   the DQ flags panel (overlay, newly flagged, opacity, per-flag tick / colour)
- ``view_regions``    region tools, the regions drawn on the panes, the statistics text
- ``view_readout``    the cursor readout
- ``view_zoom``       zoom / pan kept in ``ViewState.view_range``
- ``view_renderer``   caches and worker tasks: frames, levels, index images, masks, statistics
- ``view_actions``    the keys (Space, B, A, D, N, L, F, PgUp / PgDn) as window shortcuts
- ``view_binding``    widgets as editors of ``ViewState`` fields
- ``view_export``     the PNG with colour bars and the DQ legend

The maths (stretches, limits, DQ flags, region statistics, readout text) is Qt-free in
``iris_gui.display`` (the stretch maths: ``display/stretch.py``).
"""

from __future__ import annotations

import logging

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QImage
from PySide6.QtWidgets import (
    QFrame,
    QGroupBox,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..display import maths as im
from ..display.view_sources import (
    AFTER,
    BEFORE,
    I2D,
    StepViews,
    ViewSource,
    step_views,
)
from ..engine.pipeline import ProductResult
from ..state.view_state import BLINK, ROLES, SIDE_BY_SIDE, RegionSpec, ViewState
from . import view_export as export
from .view_actions import ViewActions
from .view_binding import StateBinder
from .view_controls import ControlBar
from .view_dq_panel import DQPanel
from .view_edits import ViewEdits
from .view_histogram import HistogramPanel
from .view_overlays import PaneOverlays
from .view_panes import ImagePane, PaneArea
from .view_readout import pane_values, sky_at
from .view_regions import RegionOverlay, RegionPanel, stats_text, to_region
from .view_renderer import Renderer, RenderPass, Settings
from .view_zoom import ViewRangeKeeper

log = logging.getLogger("iris_gui.gui")

#: state fields only their own panel shows (each binds them itself): nothing the panes draw
#: depends on them, so a change of one (a star picked, a dock opened, the header searched)
#: costs no refresh of the panes
PANEL_ONLY = frozenset({
    "docks", "header_role", "header_search", "header_changed_only", "pixel_table_size",
    "magnifier_factor", "flag_nav_role", "flag_nav_flags", "flag_nav_scope", "flag_nav_newly",
    "star_pick", "star_checks", "star_radii",
})
NOTHING_YET = "Run a product to see each step's input and output."


class StepImageView(ViewEdits, QWidget):
    """The inspection views of one step of one product (see the module docstring)."""

    #: emitted whenever the view has nothing left to compute for what it shows
    settled = Signal()
    #: a file action of the view failed: title, message naming the file (the window shows it)
    failed = Signal(str, str)
    #: ``show_step`` showed another result or step (the inspection docks follow)
    stepShown = Signal()
    #: the cursor moved to another pixel (``cursor``; the pixel table and magnifier follow)
    cursorMoved = Signal()
    #: a refresh brought the panes up to date with the state (the magnifier, panner follow)
    refreshed = Signal()

    def __init__(self, state: ViewState | QWidget | None = None,
                 parent: QWidget | None = None) -> None:
        if isinstance(state, QWidget):  # StepImageView(parent): a view with its own state
            state, parent = None, state
        super().__init__(parent)
        self.setObjectName("inspectionView")
        self.state = state if state is not None else ViewState()
        #: region edits go here (the window routes them through its undo stack)
        self.edit_regions = lambda regions, text: setattr(self.state, "regions", tuple(regions))
        self.renderer = Renderer(self)
        self.runner = self.renderer.runner
        self.renderer.updated.connect(self._schedule_refresh)
        self.renderer.failed.connect(self._task_failed)
        self.views = StepViews(sources={})
        self.result: ProductResult | None = None
        self.step_name = ""
        self.renders = {}
        self.resolved: dict[str, tuple[float, float]] = {}
        self.region_stats: list[dict[str, im.RegionStats]] = []
        self.last_stats: dict[str, im.RegionStats] = {}
        self.stats_text = ""
        self._stats_specs: tuple[RegionSpec, ...] = ()
        self._caption = NOTHING_YET
        self._cursor: tuple[int, int] | None = None
        self._refresh_queued = False
        self._closed = False
        self.blink_timer = QTimer(self)
        self.blink_timer.timeout.connect(self.flip)
        #: the inspection docks' show / hide actions, first in the View menu (window_docks)
        self.dock_actions: list[QAction] = []
        #: further tools' menu entries (SAMP), after the view's own
        self.tool_actions: list[QAction] = []
        #: called by ``shutdown`` (the docks' own workers)
        self.shutdown_hooks: list = []
        self._build()
        self.binder = StateBinder(self.state)
        self._bind()
        self.view_actions = ViewActions(self, self.binder)
        #: contours, RA/Dec grid and compass over the panes (worked out on the pool)
        self.overlays = PaneOverlays(self)
        self.state.changed.connect(self._state_changed)
        self._show_layout()
        self._update_blink_timer()
        self.region_overlay.show(self.state.regions)
        app = QGuiApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._schedule_refresh()

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.setSpacing(3)
        self.caption = QLabel(NOTHING_YET, self)
        self.caption.setStyleSheet("font-weight: bold")
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        outer.addWidget(self.caption)
        self.controls = ControlBar(self)
        outer.addWidget(self.controls)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.pane_area = PaneArea(self.splitter)
        self.left, self.right = self.pane_area.left, self.pane_area.right
        self.panes = self.pane_area.panes
        self.readout = self.pane_area.readout
        # the side panels scroll rather than force the window taller than a small screen
        scroller = QScrollArea(self.splitter)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(2, 0, 0, 0)
        self.histogram = HistogramPanel()
        self.dq_panel = DQPanel(self.state)
        self.region_panel = RegionPanel()
        for title, panel, stretch in (("Levels", self.histogram, 0),
                                      ("DQ flags", self.dq_panel, 2),
                                      ("Region statistics", self.region_panel, 3)):
            box = QGroupBox(title, side)
            QVBoxLayout(box).setContentsMargins(4, 2, 4, 4)
            box.layout().addWidget(panel)
            side_layout.addWidget(box, stretch)
        side.setMinimumWidth(250)
        scroller.setWidget(side)
        scroller.setMinimumWidth(side.minimumWidth() + 16)
        self.splitter.addWidget(self.pane_area)
        self.splitter.addWidget(scroller)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([880, 330])
        outer.addWidget(self.splitter, 1)
        self.zoom = ViewRangeKeeper(self.state, self.panes, self._shown_shape, self)
        self.region_overlay = RegionOverlay(
            self.panes, lambda regions: self.edit_regions(regions, "move region"))

    def _bind(self) -> None:
        self.controls.bind(self.binder, self)
        self.histogram.bind(self.binder, self)
        self.dq_panel.bind(self.binder)
        self.region_panel.bind(self.binder, self)
        self.pane_area.chosen.connect(self.choose)
        self.histogram.levelsDragged.connect(self.set_manual_levels)
        for pane in self.panes.values():
            pane.plot.scene().sigMouseMoved.connect(lambda pos, p=pane: self._mouse_moved(p, pos))

    def menu_actions(self) -> list[QAction]:
        """Actions for the window's View menu (their keys work anywhere in the window)."""
        return [*self.dock_actions, *self.view_actions.menu(), *self.tool_actions]

    # ---- what is shown -----------------------------------------------------------------------
    def show_step(self, result: ProductResult | None, step_name: str,
                  others: tuple[ProductResult, ...] | list[ProductResult] = (),
                  caption: str | None = None) -> None:
        """Show what ``step_name`` did to ``result`` (None: nothing yet); ``others`` are other
        products' results, offered for blinking when their frames have the same shape;
        ``caption`` (the window's status of the step) heads the view, else a short default."""
        self.result, self.step_name = result, step_name
        self.views = step_views(result, step_name, others)
        self._caption = caption if caption is not None else self._default_caption()
        self.caption.setText(self._caption)
        self.dq_panel.newly.setEnabled(self.views.before is not None)
        if result is None:
            self.release_caches()
        self._show_choices()
        self._refresh()
        self.stepShown.emit()

    def _default_caption(self) -> str:
        result, step_name = self.result, self.step_name
        if result is None:
            return NOTHING_YET
        if not result.steps:
            text = f"{result.product.name} — the exposure as read; not run yet"
        else:
            step = result.steps.get(step_name)
            text = f"{result.product.name} — {step_name}: {step.status if step else 'not run'}"
        return text if self.views.sources else f"{text} — nothing to show"

    def chosen_label(self, role: str) -> str | None:
        """The view pane ``role`` shows: the step's stored choice, else the step's default
        (Before / After, the i2d for resample); the default is not written to the state."""
        names = list(self.views.sources)
        label = self.state.choice(self.step_name, role)
        if label in names:
            return label
        preferred = BEFORE if role == "A" else (I2D if I2D in names else AFTER)
        if preferred in names:
            return preferred
        return names[min(1 if role == "B" else 0, len(names) - 1)] if names else None

    def source(self, role: str) -> ViewSource | None:
        return self.views.sources.get(self.chosen_label(role) or "")

    def shown_sources(self) -> dict[str, ViewSource]:
        return {role: s for role in ROLES if (s := self.source(role)) is not None}

    def choose(self, role: str, label: str) -> None:
        """Show view ``label`` (e.g. ``view_sources.DIFFERENCE``) in pane ``role`` for this
        step; levels go back to the pair's default sharing."""
        if label == self.chosen_label(role) or label not in self.views.sources:
            return
        self.state.choose(self.step_name, role, label)
        self.state.same_levels = None

    def _show_choices(self) -> None:
        self.pane_area.show_choices(list(self.views.sources),
                                    {role: self.chosen_label(role) for role in ROLES})
        self.binder.show("same_levels")

    def _shown_shape(self) -> tuple[int, int] | None:
        source = self.source("A") or self.source("B")
        return source.shape if source is not None else None

    def fit(self) -> None:
        """Show the whole frame (the state's zoom goes back to "fit")."""
        self.zoom.fit()

    def sync_view_range(self) -> None:
        """Write a pan / zoom still waiting for its debounce to the state now (before saving)."""
        self.zoom.sync()

    def release_caches(self) -> None:
        """Forget every cached frame, index image, mask and statistic (frees their memory)."""
        self.renderer.release()

    def shutdown(self) -> None:
        """Stop the timers, let go of the state and wait for every worker; safe to call twice."""
        if self._closed:
            return
        self.zoom.sync()
        self._closed = True
        self.blink_timer.stop()
        self.state.changed.disconnect(self._state_changed)
        for stop in self.shutdown_hooks:
            stop()
        self.renderer.shutdown()

    @property
    def busy(self) -> bool:
        return self.renderer.busy or self._refresh_queued

    # ---- the state changed -----------------------------------------------------------------------
    def _state_changed(self, name: str, value) -> None:
        if self._closed or not shiboken6.isValid(self):
            self.state.changed.disconnect(self._state_changed)
            return
        self.binder.show(name)
        if name == "layout":
            self._show_layout()
        if name in ("layout", "auto_blink", "blink_hz"):
            self._update_blink_timer()
        if name == "view_range":
            # the panes follow the range themselves: only the RA/Dec grid's step depends on it
            self.zoom.state_changed()
            self.overlays.update()
            return
        if name in PANEL_ONLY:
            return
        if name == "regions":
            self.region_overlay.show(value)
        if name == "pane_choices":
            self._show_choices()
        self._schedule_refresh()

    def _show_layout(self) -> None:
        blink = self.state.layout == BLINK
        self.pane_area.set_blink(blink)
        self.controls.show_layout(blink)

    def _update_blink_timer(self) -> None:
        if self.state.layout == BLINK and self.state.auto_blink and not self._closed:
            interval = max(20, int(round(1000.0 / self.state.blink_hz)))
            if not self.blink_timer.isActive() or self.blink_timer.interval() != interval:
                self.blink_timer.start(interval)
        else:
            self.blink_timer.stop()

    def _task_failed(self, error: str) -> None:
        self.caption.setText(f"{self._caption}  ⚠ {error}")

    # ---- the refresh -----------------------------------------------------------------------------
    def _schedule_refresh(self) -> None:
        if not self._refresh_queued and not self._closed:
            self._refresh_queued = True
            QTimer.singleShot(0, self._refresh)

    def _refresh(self) -> None:
        """Bring the panes up to date with the state and what is cached; queue what is missing."""
        self._refresh_queued = False
        if self._closed:
            return
        st, plane = self.state, self.plane
        newly = st.newly_flagged and self.views.before is not None
        settings = Settings(plane, st.stretch, st.limits, st.percent, dict(st.manual_levels),
                            self.same_levels_on(), newly, st.dq_overlay, frozenset(st.dq_hidden))
        rp = self.renderer.prepare(self.shown_sources(), self.views, settings)
        self.renders = rp.renders
        self.resolved = {r: x.levels for r, x in rp.renders.items() if x.levels is not None}
        self.dq_panel.show_counts(rp.counts, tuple(rp.renders), newly)
        self._apply_display(rp)
        self.overlays.update()
        self._refresh_stats(rp, plane)
        self._update_readout()
        self.controls.show_plane(plane, self.views.nints)
        self.zoom.shape_shown(self._shown_shape())
        self.refreshed.emit()
        if not self.renderer.busy and not self._refresh_queued:
            self.settled.emit()

    def _apply_display(self, rp: RenderPass) -> None:
        st, renders = self.state, rp.renders
        lut = self.renderer.lut(st.colormap, st.nan_colour)
        overlay_lut = self.renderer.overlay_lut(st)
        if st.layout == BLINK:
            pairs = [(self.left, self.shown_role)]
            self.right.clear()
            a, b, shown = self.source("A"), self.source("B"), self.source(self.shown_role)
            self.pane_area.blink_label.setText(
                f"Blink — showing {self.shown_role}: {shown.label if shown else '—'}    "
                f"(A: {a.label if a else '—'}  ⇄  B: {b.label if b else '—'};  Space flips)")
        else:
            pairs = [(self.left, "A"), (self.right, "B")]
        for pane, role in pairs:
            render = renders.get(role)
            if render is None:
                pane.clear()
                continue
            pane.source, pane.array = render.source, render.frame
            if render.index is not None:
                pane.show_index(render.index_key, render.index, lut)
            if render.levels is not None and pane.index is not None:
                pane.colour_bar.show_scale(render.levels, st.stretch, lut, st.nan_colour)
            pane.colour_bar.setVisible(st.colour_bars)
            if render.mask is not None:
                pane.show_overlay(render.mask_key, render.mask, overlay_lut)
            elif render.mask_key is None:
                pane.clear_overlay()
        role = self.histogram_role
        self.controls.show_levels(self.resolved.get(role), role)
        render = renders.get(role) or renders.get("A")
        if render is None or render.info is None or render.levels is None:
            if not renders:
                self.histogram.clear()
            return
        counted = self.renderer.histogram(render)  # None: on its way (the last one stays)
        if counted is not None:
            self.histogram.show_histogram(render.key, *counted, render.levels, st.stretch, lut)

    def _refresh_stats(self, rp: RenderPass, plane: int) -> None:
        specs = self.state.regions
        if not specs or not rp.renders:
            self.region_stats, self.last_stats, self.stats_text = [], {}, ""
            self.region_panel.show_text("")
            return
        results = self.renderer.region_stats(rp, [to_region(s) for s in specs],
                                             self.state.region_ignores_flagged, plane)
        if all(found is not None for found in results):
            self.region_stats, self.last_stats, self._stats_specs = results, results[0], specs
            roles = list(results[0])
            names = [self.source(r).label if self.source(r) else "—" for r in roles]
            self.stats_text = stats_text(specs, results, names, roles, self.state.one_based)
            self.region_panel.show_text(self.stats_text)
        elif not (self.stats_text and len(self._stats_specs) == len(specs)
                  and self._stats_specs != specs):  # dragging: keep the last figures a moment
            self.region_stats, self.last_stats, self.stats_text = [], {}, ""
            self.region_panel.show_text("computing region statistics…")

    # ---- cursor readout --------------------------------------------------------------------------
    def _mouse_moved(self, pane, position) -> None:
        if pane.source is None or not pane.view_box.sceneBoundingRect().contains(position):
            return
        point = pane.view_box.mapSceneToView(position)
        self.set_cursor(point.x(), point.y())

    def set_cursor(self, x: float, y: float) -> None:
        """Put the crosshair on view coordinates (x, y) and update the readout."""
        pixel = im.pixel_at(x, y)
        moved = pixel != self._cursor
        self._cursor = pixel
        for pane in self.panes.values():
            pane.set_crosshair(*self._cursor)
        self._update_readout()
        if moved:
            self.cursorMoved.emit()

    @property
    def cursor(self) -> tuple[int, int] | None:
        """The 0-based pixel under the crosshair (None before the mouse came over a pane)."""
        return self._cursor

    def readout_values(self, ix: int, iy: int) -> list[im.PaneValue]:
        """Value, ERR and DQ of every shown view at 0-based pixel (ix, iy)."""
        return pane_values(self.shown_sources(), self.plane, ix, iy)

    def sky_at(self, ix: int, iy: int) -> tuple[float, float] | None:
        return sky_at(self.shown_sources(), ix, iy)

    def _update_readout(self) -> None:
        self.readout.show_at(self._cursor, self.shown_sources(), self.plane, self.one_based)

    # ---- export ----------------------------------------------------------------------------------
    def export_image(self) -> QImage:
        """The panes as shown, each with its title, colour bar and limits, and the DQ legend."""
        return export.export_image(self)

    def export_png(self, path: str) -> QImage:
        return export.write_png(self, path)

    def export_dialog(self) -> None:
        export.export_dialog(self)

    def export_png_reporting(self, path: str) -> bool:
        """``export_png`` with any failure emitted as ``failed`` (a dialog in the window)."""
        return export.write_png_reporting(self, path)


__all__ = ["StepImageView", "ImagePane", "step_views", "BLINK", "SIDE_BY_SIDE"]
