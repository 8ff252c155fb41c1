"""DS9 region files (``.reg``) through astropy's ``regions`` package: the view's regions
(``state.view_state.RegionSpec``) to DS9 text in image or fk5 coordinates, and DS9 text back.

Facts the code relies on:

- ``regions`` keeps pixel positions 0-based (``PixCoord``), as ``RegionSpec`` does; DS9 image
  coordinates are 1-based, and ``regions`` adds or removes the 1 when it writes or reads.
- DS9 box and ellipse sizes: a box's full width and height; an ellipse's semi-axes in the file,
  full axes in ``regions`` (``EllipsePixelRegion.width``) and in ``RegionSpec``.
- Angles are degrees counter-clockwise from +x in image coordinates; in sky coordinates from the
  WCS's +x too (``regions`` converts through the WCS's local north angle).
- fk5 positions and sizes are written in degrees with 12 decimals (4 micro-arcseconds; an IRIS
  pixel is 4 mas, and a radius of a few pixels needs more than DS9's usual 8 decimals); sky
  regions of any frame are read and converted to pixels with the pane's WCS.
- ``regions`` names the FK5 frame ``j2000`` when it writes (its DS9 synonym); the files say
  ``fk5``, as DS9 itself writes them (both read back as FK5).
- Shapes the view has no region for (point, line, text, annulus, ...) are left out and named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..state.view_state import REGION_COORDINATES, RegionSpec

__all__ = ["COORDINATE_SYSTEMS", "RegionFileError", "LoadedRegions", "spec_to_region",
           "region_to_spec", "specs_to_ds9", "specs_from_ds9"]

COORDINATE_SYSTEMS = REGION_COORDINATES
PRECISION = 12


class RegionFileError(ValueError):
    """A region file that cannot be read or written as asked (the message names it)."""


@dataclass
class LoadedRegions:
    specs: list[RegionSpec] = field(default_factory=list)
    #: one line per region left out ("region 4: a point, which the view has no region for")
    left_out: list[str] = field(default_factory=list)
    #: how many of ``specs`` were in sky coordinates (converted through the WCS)
    from_sky: int = 0


def _deg(value: float):
    import astropy.units as u

    return value * u.deg


def spec_to_region(spec: RegionSpec):
    """The ``regions`` pixel region of ``spec``."""
    import regions as rg

    if spec.kind == "circle":
        return rg.CirclePixelRegion(rg.PixCoord(spec.x0, spec.y0), spec.width)
    if spec.kind == "box":
        centre = rg.PixCoord(spec.x0 + spec.width / 2, spec.y0 + spec.height / 2)
        return rg.RectanglePixelRegion(centre, spec.width, spec.height, angle=_deg(spec.angle))
    if spec.kind == "ellipse":
        return rg.EllipsePixelRegion(rg.PixCoord(spec.x0, spec.y0), spec.width, spec.height,
                                     angle=_deg(spec.angle))
    xs, ys = zip(*spec.points, strict=True)
    return rg.PolygonPixelRegion(rg.PixCoord(list(xs), list(ys)))


def region_to_spec(region) -> RegionSpec | None:
    """The ``RegionSpec`` of a ``regions`` pixel region (None: a shape the view has not got)."""
    import regions as rg

    def angle() -> float:
        return float(region.angle.to_value("deg"))

    if isinstance(region, rg.CirclePixelRegion):
        return RegionSpec("circle", float(region.center.x), float(region.center.y),
                          float(region.radius))
    if isinstance(region, rg.RectanglePixelRegion):
        w, h = float(region.width), float(region.height)
        return RegionSpec("box", float(region.center.x) - w / 2, float(region.center.y) - h / 2,
                          w, h, angle())
    if isinstance(region, rg.EllipsePixelRegion):
        return RegionSpec("ellipse", float(region.center.x), float(region.center.y),
                          float(region.width), float(region.height), angle())
    if isinstance(region, rg.PolygonPixelRegion):
        return RegionSpec("polygon", points=tuple(
            (float(x), float(y)) for x, y in zip(region.vertices.x, region.vertices.y,
                                                 strict=True)))
    return None


def _in_fk5(sky_region):
    """``sky_region`` with its position(s) in FK5 (J2000), sizes and angle kept."""
    import regions as rg

    if isinstance(sky_region, rg.PolygonSkyRegion):
        return rg.PolygonSkyRegion(sky_region.vertices.transform_to("fk5"))
    sky_region = sky_region.copy()
    sky_region.center = sky_region.center.transform_to("fk5")
    return sky_region


def specs_to_ds9(specs: Sequence[RegionSpec], coordinates: str = "image", wcs=None) -> str:
    """DS9 text of ``specs`` in ``coordinates`` ("image" or "fk5"; fk5 needs ``wcs``, an
    astropy WCS of the frame the regions are on)."""
    import regions as rg

    if coordinates not in COORDINATE_SYSTEMS:
        raise RegionFileError(f"coordinates {coordinates!r} are not one of "
                              f"{', '.join(COORDINATE_SYSTEMS)}")
    shapes = [spec_to_region(spec) for spec in specs]
    if coordinates == "fk5":
        if wcs is None:
            raise RegionFileError("fk5 regions need the frame's WCS, and the pane shown has none "
                                  "(run assign_wcs, or save in image coordinates)")
        shapes = [_in_fk5(shape.to_sky(wcs)) for shape in shapes]
    text = rg.Regions(shapes).serialize(format="ds9", precision=PRECISION)
    if coordinates == "fk5":
        text = "\n".join("fk5" if line == "j2000" else line for line in text.split("\n"))
    return text


def specs_from_ds9(text: str, wcs=None, name: str = "the region file") -> LoadedRegions:
    """The regions of DS9 ``text`` as ``RegionSpec`` (sky regions through ``wcs``); shapes the
    view has not got go to ``left_out``. RegionFileError naming ``name`` if the text is not a
    DS9 region file, or has sky regions and no ``wcs`` is given."""
    import warnings

    import regions as rg

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parsed = rg.Regions.parse(text, format="ds9")
        except Exception as exc:  # noqa: BLE001 - regions raises several kinds; one message
            raise RegionFileError(f"{name} is not a DS9 region file: {exc}") from None
    loaded = LoadedRegions()
    loaded.left_out += [f"{str(w.message).split(':', 1)[-1].strip()} (not understood)"
                        for w in caught]
    for number, region in enumerate(parsed, start=1):
        if isinstance(region, rg.SkyRegion):
            if wcs is None:
                raise RegionFileError(
                    f"{name}: region {number} ({type(region).__name__}) is in sky coordinates "
                    f"and the pane shown has no WCS (run assign_wcs first); nothing loaded")
            region = region.to_pixel(wcs)
            sky = True
        else:
            sky = False
        try:
            spec = region_to_spec(region)
        except ValueError as exc:  # e.g. a zero-sized box
            loaded.left_out.append(f"region {number}: {exc}")
            continue
        if spec is None:
            kind = type(region).__name__.replace("PixelRegion", "").lower()
            loaded.left_out.append(f"region {number}: a {kind}, which the view has no region for")
        else:
            loaded.specs.append(spec)
            loaded.from_sky += sky
    if not len(parsed):
        raise RegionFileError(f"{name} has no regions DS9 can read"
                              + (f" ({'; '.join(loaded.left_out)})" if loaded.left_out else ""))
    return loaded
