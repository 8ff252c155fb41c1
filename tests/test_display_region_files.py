"""DS9 region files (display/region_files.py) against astropy ``regions``' own parse, in image and
fk5 coordinates, and the pixels of each region shape (display/regions.py) worked out by hand."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import regions as rg
from astropy.coordinates import SkyCoord

from iris_gui.display import region_files as rf
from iris_gui.display.regions import Region, region_statistics
from iris_gui.engine.wcs import tan_wcs
from iris_gui.state.view_state import RegionSpec

SPECS = (RegionSpec("circle", 3.0, 4.0, 2.5), RegionSpec("box", 8.0, 3.5, 4.0, 3.0, 30.0),
         RegionSpec("ellipse", 5.0, 6.0, 6.0, 2.0, 10.0),
         RegionSpec("polygon", points=((1.0, 1.0), (5.0, 1.0), (3.0, 4.0))))
#: 4 mas pixels, rotated 25 degrees
WCS = tan_wcs((150.0, 2.2), (32.5, 24.5), 0.004 / 3600, 25.0)


def close(a: RegionSpec, b: RegionSpec, atol: float) -> bool:
    return a.kind == b.kind and np.allclose(
        [a.x0, a.y0, a.width, a.height, a.angle, *np.ravel(a.points)],
        [b.x0, b.y0, b.width, b.height, b.angle, *np.ravel(b.points)], atol=atol, rtol=0)


def test_image_round_trip_equals_the_regions_packages_parse():
    text = rf.specs_to_ds9(SPECS, "image")
    assert text.splitlines()[1] == "image"
    parsed = rg.Regions.parse(text, format="ds9")
    assert [type(r) for r in parsed] == [rg.CirclePixelRegion, rg.RectanglePixelRegion,
                                         rg.EllipsePixelRegion, rg.PolygonPixelRegion]
    assert (parsed[2].width, parsed[2].height, parsed[2].angle.to_value("deg")) == (6, 2, 10)
    assert [rf.region_to_spec(r) for r in parsed] == list(SPECS)
    assert rf.specs_from_ds9(text).specs == list(SPECS)


def test_hand_written_ds9_image_coordinates_are_one_based():
    text = ("# Region file format: DS9 version 4.1\nglobal color=green\nimage\n"
            "circle(4,5,2.5)\nbox(11,6,4,3,30)\nellipse(6,7,3,1,10)\npolygon(2,2,6,2,4,5)\n")
    assert rf.specs_from_ds9(text).specs == list(SPECS)
    assert "circle(4.000000000000,5.000000000000,2.500000000000)" in rf.specs_to_ds9(SPECS[:1])
    # DS9's ellipse radii are semi-axes: 3 x 1 in the file is 6 x 2 full axes
    assert "ellipse(6.000000000000,7.000000000000,3.000000000000,1.000000000000,10.000000000000)" \
        in rf.specs_to_ds9(SPECS[2:3])


def test_fk5_round_trip_equals_the_regions_packages_parse_through_the_wcs():
    text = rf.specs_to_ds9(SPECS, "fk5", WCS)
    assert text.splitlines()[1] == "fk5"
    parsed = rg.Regions.parse(text, format="ds9")
    assert all(r.center.frame.name == "fk5" for r in parsed if hasattr(r, "center"))
    theirs = [rf.region_to_spec(r.to_pixel(WCS)) for r in parsed]
    ours = rf.specs_from_ds9(text, WCS).specs
    assert ours == theirs
    for spec, back in zip(SPECS, ours, strict=True):
        assert close(spec, back, atol=1e-6), (spec, back)   # 12 decimals of a degree
    # the circle's centre is where astropy.wcs puts pixel (3, 4)
    ra, dec = WCS.all_pix2world([[3.0, 4.0]], 0)[0]
    centre = SkyCoord(ra, dec, unit="deg", frame="icrs").transform_to("fk5")
    assert abs(parsed[0].center.ra.deg - centre.ra.deg) < 1e-9
    assert abs(parsed[0].center.dec.deg - centre.dec.deg) < 1e-9
    assert parsed[0].radius.to_value(u.arcsec) == pytest.approx(2.5 * 0.004, rel=1e-6)


def test_hand_written_fk5_circle_in_arcsec():
    text = 'fk5\ncircle(150.0,2.2,0.36")\n'
    (spec,) = rf.specs_from_ds9(text, WCS).specs
    x, y = WCS.world_to_pixel(SkyCoord(150.0, 2.2, unit="deg", frame="fk5"))
    assert (spec.x0, spec.y0) == pytest.approx((float(x), float(y)), abs=1e-6)
    assert spec.width == pytest.approx(0.36 / 0.004, rel=1e-6)   # 90 pixels of 4 mas


def test_what_cannot_be_loaded_is_named():
    loaded = rf.specs_from_ds9("image\npoint(3,4)\nannulus(3,3,1,2)\nbox(5,5,2,2,0)\n")
    assert loaded.specs == [RegionSpec("box", 3.0, 3.0, 2.0, 2.0)]
    assert loaded.left_out == ["region 1: a point, which the view has no region for",
                               "region 2: a circleannulus, which the view has no region for"]
    with pytest.raises(rf.RegionFileError, match=r"night\.reg: region 1 .* no WCS"):
        rf.specs_from_ds9('fk5\ncircle(150,2.2,1")\n', None, "night.reg")
    with pytest.raises(rf.RegionFileError, match=r"notes\.reg has no regions"):
        rf.specs_from_ds9("this is a shopping list\n", None, "notes.reg")
    with pytest.raises(rf.RegionFileError, match="WCS"):
        rf.specs_to_ds9(SPECS, "fk5", None)


def test_the_session_keeps_every_shape():
    for spec in SPECS:
        assert RegionSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="three vertices"):
        RegionSpec("polygon", points=((0, 0), (1, 1)))
    with pytest.raises(ValueError, match="positive size"):
        RegionSpec("ellipse", 1, 1, 2, 0)


# ---- which pixels each shape holds (hand-worked) ----------------------------------------------

def members(region: Region, shape=(12, 14)) -> set[tuple[int, int]]:
    """(x, y) of the pixels ``region`` holds in a frame of ``shape``."""
    (rows, cols), inside = region.mask(shape)
    full = np.zeros(shape, bool)
    full[rows, cols] = True if inside is None else inside
    return {(int(x), int(y)) for y, x in zip(*np.nonzero(full), strict=True)}


def test_a_polygon_tracing_a_box_holds_exactly_the_boxs_pixels():
    box = Region("rect", 2.0, 3.0, 4.0, 2.0)   # centres x in [2, 6), y in [3, 5)
    assert members(box) == {(x, y) for x in range(2, 6) for y in range(3, 5)}
    poly = Region("polygon", 0, 0, 0, 0, points=((2.0, 3.0), (6.0, 3.0), (6.0, 5.0), (2.0, 5.0)))
    assert members(poly) == members(box)


def test_a_triangle_by_hand():
    # vertices (1,1), (7,1), (1,7): x >= 1, y >= 1, x + y < 8 (the hypotenuse is a right edge)
    tri = Region("polygon", 0, 0, 0, 0, points=((1.0, 1.0), (7.0, 1.0), (1.0, 7.0)))
    assert members(tri) == {(x, y) for x in range(1, 8) for y in range(1, 8) if x + y < 8}


def test_ellipses_and_rotated_boxes_by_hand():
    # axes 6 x 2 along x: (x-5)²/9 + (y-6)² <= 1 -> the row y = 6 from x = 2 to 8, and (5, 5), (5, 7)
    ellipse = Region("ellipse", 5.0, 6.0, 6.0, 2.0)
    assert members(ellipse) == {(x, 6) for x in range(2, 9)} | {(5, 5), (5, 7)}
    # turned 90 degrees it stands up
    upright = Region("ellipse", 5.0, 6.0, 6.0, 2.0, 90.0)
    assert members(upright) == {(5, y) for y in range(3, 10)} | {(4, 6), (6, 6)}
    # equal axes: the circle of half that diameter
    assert members(Region("ellipse", 6.0, 5.0, 7.0, 7.0, 33.0)) == \
        members(Region("circle", 6.0, 5.0, 3.5))
    # a 5 x 1 box turned 90 degrees about its centre (7, 5): the column x = 7, y = 3..7
    turned = Region("rect", 4.5, 4.5, 5.0, 1.0, 90.0)
    assert members(turned) == {(7, y) for y in range(3, 8)}
    # 45 degrees, 2.9 wide about (6, 6): in its own axes u = (dx + dy)/√2, v = (dy - dx)/√2,
    # and |u|, |v| < 1.45: (1, 1) -> (1.41, 0) in, (2, 0) -> (1.41, -1.41) in, (2, 2) out
    square = Region("rect", 4.55, 4.55, 2.9, 2.9, 45.0)
    expected = {(6 + dx, 6 + dy) for dx in range(-3, 4) for dy in range(-3, 4)
                if abs(dx + dy) / 2 ** 0.5 < 1.45 and abs(dy - dx) / 2 ** 0.5 < 1.45}
    assert members(square) == expected
    assert (8, 6) in expected and (7, 7) in expected and (8, 8) not in expected


def test_shapes_agree_with_the_regions_packages_centre_mask():
    image = np.zeros((40, 50), np.float32)
    for spec in (RegionSpec("ellipse", 20.3, 15.7, 17.0, 8.0, 23.0),
                 RegionSpec("polygon", points=((3.2, 4.1), (30.7, 6.3), (22.2, 31.9), (9.4, 20.6))),
                 RegionSpec("box", 10.2, 7.9, 13.0, 6.0, 38.0)):
        from iris_gui.gui.view_regions import to_region

        ours = members(to_region(spec), image.shape)
        mask = rf.spec_to_region(spec).to_mask(mode="center").to_image(image.shape)
        theirs = {(int(x), int(y)) for y, x in zip(*np.nonzero(mask), strict=True)}
        assert ours == theirs, spec.kind


def test_statistics_of_an_ellipse():
    image = np.arange(12 * 14, dtype=np.float32).reshape(12, 14)   # value = 14 y + x
    stats = region_statistics(image, Region("ellipse", 5.0, 6.0, 6.0, 2.0))
    values = [14 * y + x for x, y in {(x, 6) for x in range(2, 9)} | {(5, 5), (5, 7)}]
    assert stats.n == 9
    assert stats.mean == pytest.approx(np.mean(values))
    assert (stats.min, stats.max) == (14 * 5 + 5, 14 * 7 + 5)
