"""Star checks (ginga's Pick) as plain records: what was clicked, and what was measured in each
pane. ``ViewState.star_checks`` holds them (saved in the session); the maths that fills them is
``display.star_check``, the dock that shows them ``gui.view_star_check``.

A ``StarCheck`` is one click: the product, the step, the integration, the pane clicked and the
position there (0-based pixels), the radii used (pixels of the clicked pane), the views the two
panes showed, and one ``StarMeasure`` per pane. A pane where no star could be measured keeps
the reason in ``error`` (its numbers are None).

``position_by`` says how a pane's position was found: ``"clicked"`` (the pane clicked, centroid
searched around the click), ``"same pixel"`` (the other pane on the same pixel grid, centroid
searched around the first pane's centroid) or ``"WCS"`` (the other pane on another grid, e.g.
resample's i2d: the first centroid mapped through both WCS, then centroided there, with the
radii scaled to cover the same sky).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: (aperture radius, sky annulus inner radius, outer radius), pixels of the clicked pane
DEFAULT_STAR_RADII = (4.0, 8.0, 12.0)
POSITION_BY = ("clicked", "same pixel", "WCS")


@dataclass(frozen=True)
class StarMeasure:
    """What one pane showed of one star (numbers None where not measured; see ``error``)."""

    role: str
    label: str
    position_by: str = "clicked"
    #: centroid, 0-based pixels of this pane
    x: float | None = None
    y: float | None = None
    ra: float | None = None
    dec: float | None = None
    #: peak above the local sky, in the frame's units
    peak: float | None = None
    fwhm_px: float | None = None
    fwhm_arcsec: float | None = None
    #: aperture sum minus sky x area, frame units x pixels
    flux: float | None = None
    #: local sky: median of the annulus, per pixel; its scatter (1.4826 MAD)
    sky: float | None = None
    sky_std: float | None = None
    #: radii used in this pane (scaled from the clicked pane's when the grid differs)
    aperture: float | None = None
    #: pixels in the aperture with any DQ flag, and left out (NaN / DO_NOT_USE)
    flagged: int = 0
    masked: int = 0
    #: frame units (BUNIT) and pixel area (sr; None without WCS) for comparing fluxes
    unit: str = ""
    pixel_area_sr: float | None = None
    #: WCS position: how far the measured centroid is from where the WCS put the star (px)
    wcs_offset: float | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.flux is not None

    @property
    def surface_brightness(self) -> bool:
        """Units per solid angle (MJy/sr, ...): a sum over pixels needs the pixel area."""
        unit = self.unit.replace(" ", "").lower()
        return "/sr" in unit or "arcsec" in unit

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v != ""}

    @classmethod
    def from_dict(cls, data: Any) -> StarMeasure:
        if not isinstance(data, dict):
            raise ValueError("a star measurement must be a table")
        names = {f.name: f for f in fields(cls)}
        unknown = set(data) - set(names)
        if unknown:
            raise ValueError(f"unknown star measurement keys {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name in ("role", "label", "position_by", "unit", "error"):
                if not isinstance(value, str):
                    raise ValueError(f"star measurement {name} must be text")
            elif name in ("flagged", "masked"):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"star measurement {name} must be a whole number ≥ 0")
            elif value is not None:
                value = _number(f"star measurement {name}", value)
            values[name] = value
        if "role" not in values or "label" not in values:
            raise ValueError("a star measurement needs its pane (role) and view (label)")
        if values.get("position_by", "clicked") not in POSITION_BY:
            raise ValueError(f"position_by {values['position_by']!r} is not one of "
                             f"{', '.join(POSITION_BY)}")
        return cls(**values)


@dataclass(frozen=True)
class StarCheck:
    """One click of the pick tool and what both panes measured (module docstring)."""

    product: str
    step: str
    clicked: str
    x: float
    y: float
    plane: int = 0
    radii: tuple[float, float, float] = DEFAULT_STAR_RADII
    measures: tuple[StarMeasure, ...] = field(default_factory=tuple)

    def measure(self, role: str) -> StarMeasure | None:
        return next((m for m in self.measures if m.role == role), None)

    def flux_ratio(self) -> float | None:
        """Flux of pane B over pane A's, comparable across grids: for surface brightness
        (per sr) each flux is multiplied by its pixel area first."""
        a, b = self.measure("A"), self.measure("B")
        if a is None or b is None or not (a.ok and b.ok) or not a.flux:
            return None
        fa, fb = a.flux, b.flux
        if a.surface_brightness and b.surface_brightness and a.pixel_area_sr \
                and b.pixel_area_sr:
            fa, fb = fa * a.pixel_area_sr, fb * b.pixel_area_sr
        return fb / fa

    def fwhm_ratio(self) -> float | None:
        """FWHM of B over A's: in arcsec when both have a WCS, else in pixels."""
        a, b = self.measure("A"), self.measure("B")
        if a is None or b is None or not (a.ok and b.ok):
            return None
        if a.fwhm_arcsec and b.fwhm_arcsec:
            return b.fwhm_arcsec / a.fwhm_arcsec
        if a.fwhm_px and b.fwhm_px:
            return b.fwhm_px / a.fwhm_px
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"product": self.product, "step": self.step, "clicked": self.clicked,
                "x": self.x, "y": self.y, "plane": self.plane, "radii": list(self.radii),
                "measures": [m.to_dict() for m in self.measures]}

    @classmethod
    def from_dict(cls, data: Any) -> StarCheck:
        if not isinstance(data, dict):
            raise ValueError("a star check must be a table")
        for key in ("product", "step", "clicked"):
            if not isinstance(data.get(key), str):
                raise ValueError(f"a star check needs its {key} as text")
        if data["clicked"] not in ("A", "B"):
            raise ValueError(f"star check pane {data['clicked']!r} is not A or B")
        plane = data.get("plane", 0)
        if isinstance(plane, bool) or not isinstance(plane, int) or plane < 0:
            raise ValueError(f"star check plane {plane!r} is not a whole number ≥ 0")
        measures = data.get("measures", [])
        if not isinstance(measures, list):
            raise ValueError("star check measures must be a list")
        return cls(data["product"], data["step"], data["clicked"],
                   _number("star check x", data.get("x")), _number("star check y", data.get("y")),
                   plane, star_radii(data.get("radii", list(DEFAULT_STAR_RADII))),
                   tuple(StarMeasure.from_dict(m) for m in measures))


def star_radii(value: Any) -> tuple[float, float, float]:
    """(aperture, annulus inner, annulus outer) checked: positive, aperture < inner < outer."""
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ValueError(f"{value!r} is not three radii (aperture, sky inner, sky outer)")
    aperture, inner, outer = (_number("radius", v) for v in value)
    if not 0 < aperture <= inner < outer:
        raise ValueError(f"radii {aperture:g}, {inner:g}, {outer:g}: need 0 < aperture ≤ "
                         f"sky inner < sky outer")
    if outer > 200:
        raise ValueError(f"sky outer radius {outer:g} px is more than 200 px")
    return (aperture, inner, outer)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
            or abs(value) == float("inf"):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    return float(value)
