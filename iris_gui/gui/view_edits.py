"""What the user's edits mean, each as writes to the ``ViewState`` (the view re-shows itself
from the state's ``changed`` event): integration, numbering, layout and blink, shared and manual
levels, the histogram's pane, the limits method, regions.

``ViewEdits`` is a base of ``StepImageView``; it uses the view's ``state``, ``views``,
``step_name``, ``source``, ``resolved``, ``edit_regions`` and ``left`` pane.
"""

from __future__ import annotations

from ..display import maths as im
from ..display.view_sources import share_levels_by_default
from ..state.view_state import BLINK, ROLES, RegionSpec
from . import view_region_files as region_files
from .view_regions import new_region


class ViewEdits:
    @property
    def plane(self) -> int:
        """The integration shown: the state's, clamped to the product's integrations."""
        return max(0, min(self.state.plane, self.views.nints - 1))

    def set_plane(self, plane: int) -> None:
        self.state.plane = max(0, min(int(plane), self.views.nints - 1))

    def step_plane(self, delta: int) -> None:
        self.set_plane(self.plane + delta)

    @property
    def one_based(self) -> bool:
        return self.state.one_based

    def set_one_based(self, on: bool) -> None:
        self.state.one_based = bool(on)

    def set_mode(self, mode: str) -> None:
        """Side by side or blink (from pane A); leaving blink stops auto-blink."""
        if mode == self.state.layout:
            return
        self.state.update(layout=mode, blink_phase=0)
        if mode != BLINK:
            self.state.auto_blink = False

    def flip(self) -> None:
        """Blink: show the other of A and B (switches to blink layout if needed)."""
        if self.state.layout != BLINK:
            self.set_mode(BLINK)
        else:
            self.state.blink_phase ^= 1

    @property
    def shown_role(self) -> str:
        """In blink layout, the role the pane shows now."""
        return ROLES[self.state.blink_phase] if self.state.layout == BLINK else "A"

    def set_auto_blink(self, on: bool) -> None:
        if on and self.state.layout != BLINK:
            self.set_mode(BLINK)
        self.state.auto_blink = bool(on)

    def same_levels_on(self) -> bool:
        """Shared levels: the state's choice, else the default for the pair shown."""
        if self.state.same_levels is not None:
            return self.state.same_levels
        a, b = self.source("A"), self.source("B")
        return a is not None and b is not None and \
            share_levels_by_default(self.step_name, {a.role, b.role})

    @property
    def histogram_role(self) -> str:
        """The pane the histogram and limit fields describe (blinking: the one on screen)."""
        return self.shown_role if self.state.layout == BLINK else self.state.histogram_role

    def set_histogram_role(self, role: str) -> None:
        if self.state.layout == BLINK:
            self.state.blink_phase = ROLES.index(role)
        else:
            self.state.histogram_role = role

    def choose_limits(self, method: str) -> None:
        """Choosing "manual" keeps the limits shown as the manual ones."""
        if method == "manual":
            levels = dict(self.state.manual_levels)
            for role, shown in self.resolved.items():
                levels.setdefault(role, shown)
            self.state.manual_levels = levels
        self.state.limits = method

    def set_manual_levels(self, role: str, low: float, high: float) -> None:
        self.state.set_manual_levels(role, low, high, shared=self.same_levels_on())

    def add_region(self, kind: str) -> None:
        """Add a box, circle, ellipse or polygon at the centre of what is visible."""
        shape = self._shown_shape()
        if shape is not None:
            spec = new_region(kind, self.left.view_box.viewRange(), shape)
            self.edit_regions(self.state.regions + (spec,), f"add {kind}")

    def load_regions(self, path) -> bool:
        """Add the regions of DS9 file ``path`` (``view_region_files``)."""
        return region_files.load_regions(self, path)

    def save_regions(self, path) -> bool:
        """Save the regions as DS9 file ``path`` in ``state.region_coords``."""
        return region_files.save_regions(self, path)

    def load_regions_dialog(self) -> None:
        region_files.load_dialog(self)

    def save_regions_dialog(self) -> None:
        region_files.save_dialog(self)

    def clear_regions(self) -> None:
        if self.state.regions:
            self.edit_regions((), "clear regions")

    def set_region(self, region: im.Region | None) -> None:
        """Make ``region`` (``display.regions.Region``) the only region, or remove them all."""
        if region is None:
            spec = None
        elif region.kind == "polygon":
            spec = RegionSpec("polygon", points=region.points)
        else:
            spec = RegionSpec("box" if region.kind == "rect" else region.kind, region.x0,
                              region.y0, region.width, region.height, region.angle)
        self.edit_regions(() if spec is None else (spec,), "edit regions")
