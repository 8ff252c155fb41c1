"""Every setting of the inspection view, as one observable object (``ViewState``).

The view's widgets show these values and write the user's edits here; the view computes what it
draws from this state alone (never from its combo boxes), so a saved session reproduces the same
screen and undo can restore any of it.

Pane choices are kept per step (``pane_choices[step] = {"A": label, "B": label}``): the
flat_field's Ratio stays chosen when you look at dark_current and come back. Choices naming
another product ("After — other_product") are dropped when the product changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine.dq import DQ_BITS
from .evented import EventedModel
from .star_checks import DEFAULT_STAR_RADII, StarCheck, star_radii

SIDE_BY_SIDE, BLINK = "side", "blink"
LAYOUTS = (SIDE_BY_SIDE, BLINK)
ROLES = ("A", "B")
STRETCHES = ("linear", "sqrt", "log", "asinh")
LIMIT_METHODS = ("zscale", "percentile", "minmax", "manual")
COLORMAP_NAMES = ("grey", "viridis", "magma", "inferno", "cividis", "heat", "turbo",
                  "blue-white-red")
REGION_KINDS = ("box", "circle", "ellipse", "polygon")
#: coordinates of saved DS9 region files
REGION_COORDINATES = ("image", "fk5")
#: the inspection docks whose visibility the state keeps (``docks``)
DOCK_NAMES = ("header", "pixels", "stars", "magnifier", "panner", "flags", "overlays")
#: sides of the pixel table (odd: the cursor's pixel is the centre cell)
PIXEL_TABLE_SIZES = (3, 5, 7, 9, 11)
#: Magnifier dock: screen pixels per frame pixel
MAGNIFIER_FACTORS = (2, 4, 8, 16)
#: contours of the pane's own frame or of the other pane's; levels by count or listed
CONTOUR_FRAMES = ("own", "other")
CONTOUR_MODES = ("count", "list")
MAX_CONTOUR_LEVELS = 50
#: block sides the frame is averaged over before contouring (0: automatic)
MAX_CONTOUR_BLOCK = 32
#: flagged-pixel navigator: the whole frame, the area shown, inside the view's regions
FLAG_SCOPES = ("frame", "shown", "regions")
#: the marker a pane choice carries when it shows another product's frame
OTHER_PRODUCT_MARK = " — "


@dataclass(frozen=True)
class RegionSpec:
    """A region in image coordinates (pixel centres at integers, 0-based; angles in degrees,
    counter-clockwise from +x, as DS9 and astropy ``regions`` count them):

    - box: corner ``x0, y0`` and size ``width, height`` before rotation; ``angle`` turns it
      about its centre
    - circle: centre ``x0, y0``, radius ``width``
    - ellipse: centre ``x0, y0``, full axes ``width`` (along x before rotation) and ``height``,
      turned by ``angle`` about the centre (``regions``' EllipsePixelRegion: full widths)
    - polygon: vertices ``points``; ``x0, y0, width, height`` are their bounding box (derived)
    """

    kind: str
    x0: float = 0.0
    y0: float = 0.0
    width: float = 0.0
    height: float = 0.0
    angle: float = 0.0
    points: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in REGION_KINDS:
            raise ValueError(f"region kind {self.kind!r} is not one of {', '.join(REGION_KINDS)}")
        if self.kind == "polygon":
            points = tuple((float(_finite("vertex x", x)), float(_finite("vertex y", y)))
                           for x, y in self.points)
            if len(points) < 3:
                raise ValueError("a polygon needs at least three vertices")
            xs, ys = [x for x, _ in points], [y for _, y in points]
            for name, value in (("points", points), ("x0", min(xs)), ("y0", min(ys)),
                                ("width", max(xs) - min(xs)), ("height", max(ys) - min(ys)),
                                ("angle", 0.0)):
                object.__setattr__(self, name, value)
        elif self.points:
            raise ValueError(f"a {self.kind} has no vertices")
        for name in ("x0", "y0", "width", "height", "angle"):
            _finite(f"region {name}", getattr(self, name))
        if self.width <= 0 or (self.kind != "circle" and self.height <= 0):
            raise ValueError("a region must have a positive size")

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "polygon":
            return {"kind": self.kind, "points": [list(p) for p in self.points]}
        data = {"kind": self.kind, "x0": self.x0, "y0": self.y0, "width": self.width,
                "height": self.height}
        if self.angle:
            data["angle"] = self.angle
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegionSpec:
        if data.get("kind") == "polygon":
            points = data.get("points")
            if not isinstance(points, list) or not all(
                    isinstance(p, (list, tuple)) and len(p) == 2 for p in points):
                raise ValueError("polygon points must be a list of [x, y]")
            return cls("polygon", points=tuple((_number(x), _number(y)) for x, y in points))
        return cls(str(data["kind"]), _number(data["x0"]), _number(data["y0"]),
                   _number(data["width"]), _number(data.get("height", 0.0)),
                   _number(data.get("angle", 0.0)))


def _finite(name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) \
            or value != value or abs(value) == float("inf"):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    return value


@dataclass(eq=False)
class ViewState(EventedModel):
    """What the inspection view shows and how (see the module docstring)."""

    layout: str = SIDE_BY_SIDE
    #: in blink layout, 0 shows pane A, 1 pane B
    blink_phase: int = 0
    auto_blink: bool = False
    blink_hz: float = 2.0
    #: step name -> {"A": label, "B": label} the user chose (absent: the step's defaults)
    pane_choices: dict[str, dict[str, str]] = field(default_factory=dict)
    stretch: str = "linear"
    limits: str = "zscale"
    percent: float = 99.5
    #: role -> (low, high) while ``limits == "manual"``
    manual_levels: dict[str, tuple[float, float]] = field(default_factory=dict)
    colormap: str = "grey"
    nan_colour: tuple[int, int, int] = (255, 0, 255)
    #: None: the default for the pair shown (shared for Before/After, not for Difference)
    same_levels: bool | None = None
    one_based: bool = False
    dq_overlay: bool = False
    newly_flagged: bool = False
    overlay_opacity: float = 0.85
    #: DQ flags the user unticked (every other flag present is overlaid)
    dq_hidden: tuple[str, ...] = ()
    dq_colours: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    regions: tuple[RegionSpec, ...] = ()
    region_ignores_flagged: bool = False
    #: coordinates DS9 region files are saved in
    region_coords: str = "image"
    #: integration shown of a _rateints product (0-based)
    plane: int = 0
    histogram_role: str = "A"
    #: (x0, x1, y0, y1) of the shown area, None: fit the frame
    view_range: tuple[float, float, float, float] | None = None
    #: a colour bar beside each pane
    colour_bars: bool = True
    #: inspection docks shown (names from ``DOCK_NAMES``)
    docks: tuple[str, ...] = ()
    #: Header dock: whose product (pane A or B), the search text, only what the step changed
    header_role: str = "A"
    header_search: str = ""
    header_changed_only: bool = False
    #: Pixel table dock: N x N cells around the cursor
    pixel_table_size: int = 5
    #: Magnifier dock: screen pixels per frame pixel
    magnifier_factor: int = 4
    #: contours: the panes carrying them, of whose frame ("own" / "other" pane's), levels by
    #: count (evenly between that frame's display limits) or the listed ones, and the block
    #: side the frame is averaged over first (0: automatic, <= 1024 blocks a side)
    contours: tuple[str, ...] = ()
    contour_frame: str = "own"
    contour_mode: str = "count"
    contour_count: int = 5
    contour_levels: tuple[float, ...] = ()
    contour_block: int = 0
    #: the panes carrying the RA/Dec grid, and the compass with its scale bar
    wcs_grid: tuple[str, ...] = ()
    compass: tuple[str, ...] = ()
    #: flagged-pixel navigator: whose DQ (pane), which flags (none: any), where, new bits only
    flag_nav_role: str = "B"
    flag_nav_flags: tuple[str, ...] = ()
    flag_nav_scope: str = "frame"
    flag_nav_newly: bool = False
    #: Star check: clicks on a pane measure the star there (pick mode); the checks made; radii
    star_pick: bool = False
    star_checks: tuple[StarCheck, ...] = ()
    star_radii: tuple[float, float, float] = DEFAULT_STAR_RADII

    # ---- edits that keep the rules ------------------------------------------------------------
    def choice(self, step: str, role: str) -> str | None:
        return self.pane_choices.get(step, {}).get(role)

    def choose(self, step: str, role: str, label: str) -> None:
        """Show view ``label`` in pane ``role`` for ``step``; manual levels are dropped since
        they belonged to the other frame."""
        choices = {s: dict(c) for s, c in self.pane_choices.items()}
        choices.setdefault(step, {})[role] = label
        self.pane_choices = choices
        if self.manual_levels:
            self.manual_levels = {}
            if self.limits == "manual":
                self.limits = "zscale"

    def forget_other_products(self) -> None:
        """A new product is shown: choices of other products' frames do not carry over."""
        kept = {step: {role: label for role, label in roles.items()
                       if OTHER_PRODUCT_MARK not in label}
                for step, roles in self.pane_choices.items()}
        self.pane_choices = {step: roles for step, roles in kept.items() if roles}
        self.view_range = None
        self.plane = 0

    def set_manual_levels(self, role: str, low: float, high: float, shared: bool) -> None:
        low, high = (low, high) if low <= high else (high, low)
        levels = dict(self.manual_levels)
        for r in (ROLES if shared else (role,)):
            levels[r] = (float(low), float(high))
        self.manual_levels = levels
        self.limits = "manual"

    def set_flag_shown(self, name: str, shown: bool) -> None:
        hidden = [n for n in self.dq_hidden if n != name]
        if not shown:
            hidden.append(name)
        self.dq_hidden = tuple(hidden)

    def flag_shown(self, name: str) -> bool:
        return name not in self.dq_hidden

    # ---- saving --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = self.snapshot()
        data["regions"] = [r.to_dict() for r in self.regions]
        data["manual_levels"] = {r: list(v) for r, v in self.manual_levels.items()}
        data["nan_colour"] = list(self.nan_colour)
        data["dq_hidden"] = list(self.dq_hidden)
        data["dq_colours"] = {k: list(v) for k, v in self.dq_colours.items()}
        data["view_range"] = list(self.view_range) if self.view_range else None
        data["docks"] = list(self.docks)
        for name in ("contours", "contour_levels", "wcs_grid", "compass", "flag_nav_flags"):
            data[name] = list(getattr(self, name))
        data["star_checks"] = [c.to_dict() for c in self.star_checks]
        data["star_radii"] = list(self.star_radii)
        return data

    def apply_dict(self, data: dict[str, Any]) -> list[str]:
        """Set the fields found in ``data`` (a saved ``to_dict``); returns what was refused, one
        line each, and keeps the current value for those."""
        problems: list[str] = []
        for name in self.field_names():
            if name not in data:
                continue
            try:
                setattr(self, name, _checked(name, data[name]))
            except (TypeError, ValueError, KeyError) as exc:
                problems.append(f"view setting {name}: {exc}")
        return problems


def _rgb(value: Any) -> tuple[int, int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 3 or not all(
            isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value):
        raise ValueError(f"{value!r} is not three integers 0-255")
    return (value[0], value[1], value[2])


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


def _one_of(options: tuple[str, ...]):
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError(f"{value!r} is not one of {', '.join(options)}")
        return value
    return check


def _levels(value: Any) -> dict[str, tuple[float, float]]:
    if not isinstance(value, dict):
        raise ValueError("is not a table of pane levels")
    out = {}
    for role, pair in value.items():
        if role not in ROLES or not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"pane {role!r}: expected two numbers")
        out[role] = (_number(pair[0]), _number(pair[1]))
    return out


def _choices(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict) or not all(
            isinstance(step, str) and isinstance(roles, dict)
            and all(r in ROLES and isinstance(label, str) for r, label in roles.items())
            for step, roles in value.items()):
        raise ValueError("is not a table of step -> pane -> view")
    return {step: dict(roles) for step, roles in value.items()}


def _range(value: Any) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise ValueError("is not four numbers")
    return tuple(_number(v) for v in value)  # type: ignore[return-value]


def _int_at_least_zero(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a whole number ≥ 0")
    return value


_CHECKS = {
    "layout": _one_of(LAYOUTS),
    "blink_phase": lambda v: _int_at_least_zero(v) % 2,
    "auto_blink": _flag,
    "blink_hz": lambda v: min(20.0, max(0.2, _number(v))),
    "pane_choices": _choices,
    "stretch": _one_of(STRETCHES),
    "limits": _one_of(LIMIT_METHODS),
    "percent": lambda v: min(100.0, max(1.0, _number(v))),
    "manual_levels": _levels,
    "colormap": _one_of(COLORMAP_NAMES),
    "nan_colour": _rgb,
    "same_levels": lambda v: None if v is None else _flag(v),
    "one_based": _flag,
    "dq_overlay": _flag,
    "newly_flagged": _flag,
    "overlay_opacity": lambda v: min(1.0, max(0.1, _number(v))),
    "dq_hidden": lambda v: tuple(str(n) for n in v) if isinstance(v, list) else _bad(v),
    "dq_colours": lambda v: {str(k): _rgb(c) for k, c in v.items()} if isinstance(v, dict)
    else _bad(v),
    "regions": lambda v: tuple(RegionSpec.from_dict(r) for r in v) if isinstance(v, list)
    else _bad(v),
    "region_ignores_flagged": _flag,
    "region_coords": _one_of(REGION_COORDINATES),
    "plane": _int_at_least_zero,
    "histogram_role": _one_of(ROLES),
    "view_range": _range,
    "colour_bars": _flag,
    "docks": lambda v: _names(v, DOCK_NAMES),
    "header_role": _one_of(ROLES),
    "header_search": lambda v: v if isinstance(v, str) else _bad(v),
    "header_changed_only": _flag,
    "pixel_table_size": lambda v: v if v in PIXEL_TABLE_SIZES and not isinstance(v, bool)
    else _bad_choice(v, PIXEL_TABLE_SIZES),
    "magnifier_factor": lambda v: v if v in MAGNIFIER_FACTORS and not isinstance(v, bool)
    else _bad_choice(v, MAGNIFIER_FACTORS),
    "contours": lambda v: _names(v, ROLES),
    "contour_frame": _one_of(CONTOUR_FRAMES),
    "contour_mode": _one_of(CONTOUR_MODES),
    "contour_count": lambda v: _int_in(v, 1, MAX_CONTOUR_LEVELS),
    "contour_levels": lambda v: _levels_list(v),
    "contour_block": lambda v: _int_in(v, 0, MAX_CONTOUR_BLOCK),
    "wcs_grid": lambda v: _names(v, ROLES),
    "compass": lambda v: _names(v, ROLES),
    "flag_nav_role": _one_of(ROLES),
    "flag_nav_flags": lambda v: _flag_names(v),
    "flag_nav_scope": _one_of(FLAG_SCOPES),
    "flag_nav_newly": _flag,
    "star_pick": _flag,
    "star_checks": lambda v: tuple(StarCheck.from_dict(c) for c in v) if isinstance(v, list)
    else _bad(v),
    "star_radii": star_radii,
}


def _int_in(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{value!r} is not a whole number {low} to {high}")
    return value


def _flag_names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError("is not a list of DQ flag names")
    unknown = [v for v in value if v not in DQ_BITS]
    if unknown:
        raise ValueError(f"unknown DQ flag {unknown[0]!r}")
    return tuple(dict.fromkeys(value))


def _levels_list(value: Any) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) > MAX_CONTOUR_LEVELS:
        raise ValueError(f"is not a list of at most {MAX_CONTOUR_LEVELS} numbers")
    levels = [_number(v) for v in value]
    if not all(abs(v) != float("inf") for v in levels):
        raise ValueError("contour levels must be finite")
    return tuple(sorted(set(levels)))


def _names(value: Any, options: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(v in options for v in value):
        raise ValueError(f"{value!r} is not a list of {', '.join(options)}")
    return tuple(dict.fromkeys(value))


def _bad_choice(value: Any, options: tuple) -> Any:
    raise ValueError(f"{value!r} is not one of {', '.join(map(str, options))}")


def _bad(value: Any):
    raise ValueError(f"unexpected {type(value).__name__}")


def _checked(name: str, value: Any) -> Any:
    return _CHECKS[name](value)
