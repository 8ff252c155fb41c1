"""The RA/Dec grid, its labels, the compass and the scale bar (display.wcs_grid), against
astropy.wcs at the lines' own points and against positions worked out by hand for a north-up
TAN frame on the equator (where TAN's meridians are straight lines x = tan(dRA))."""

from __future__ import annotations

import math

import numpy as np
import pytest

from iris_gui.display import wcs_grid as wg
from iris_gui.engine.wcs import tan_wcs

NY, NX = 100, 200


@pytest.fixture()
def equator():
    """1″ pixels, north up, east left; (150°, 0°) at the 0-based pixel (99.5, 49.5)."""
    return tan_wcs((150.0, 0.0), (NX / 2 + 0.5, NY / 2 + 0.5), 1 / 3600, 0.0)


def test_steps_are_sexagesimal_and_lines_where_worked_out_by_hand(equator):
    grid = wg.wcs_grid(equator, (NY, NX))
    # 200″ = 13.3 s of time across: a fifth is 2.7 s -> 5 s; 100″ high: a fifth 20″ -> 30″
    assert grid.ra_step_ms == 5000 and grid.dec_step_mas == 30_000
    ra = {line.label: line for line in grid.of_axis("ra")}
    assert list(ra) == ["9h59m55s", "10h00m00s", "10h00m05s"]
    # 5 s of time = 75″: x = 99.5 -+ tan(75″)/1″ (east to the left)
    offset = math.degrees(math.tan(math.radians(75 / 3600))) * 3600
    for label, x in (("10h00m00s", 99.5), ("10h00m05s", 99.5 - offset),
                     ("9h59m55s", 99.5 + offset)):
        np.testing.assert_allclose(ra[label].x, x, atol=1e-6)
        # cut exactly at the frame's bottom and top edges
        assert ra[label].y[0] == pytest.approx(-0.5) and ra[label].y[-1] == pytest.approx(99.5)
        assert ra[label].label_at == pytest.approx((x, -0.5))
    dec = {line.label: line for line in grid.of_axis("dec")}
    assert set(dec) == {"−00°00′30″", "+00°00′00″", "+00°00′30″"}
    # the equator is y = 49.5 on every meridian; the parallels bend away from it slightly
    np.testing.assert_allclose(dec["+00°00′00″"].y, 49.5, atol=1e-9)
    assert dec["+00°00′30″"].label_at == pytest.approx((-0.5, 79.5), abs=1e-4)
    assert dec["−00°00′30″"].label_at[0] == pytest.approx(-0.5)


@pytest.mark.parametrize("crval, rotation, scale", [
    ((10.0, 45.0), 30.0, 0.004 / 3600),       # the IRIS imager's 4 mas pixels, turned
    ((359.9999, -20.0), -70.0, 0.5 / 3600),   # across RA = 0
    ((120.0, 89.95), 10.0, 0.5 / 3600),       # the pole in the frame
])
def test_every_line_point_is_on_its_line_by_astropy(crval, rotation, scale):
    shape = (300, 400)
    wcs = tan_wcs(crval, (180.5, 140.5), scale, rotation)
    grid = wg.wcs_grid(wcs, shape)
    assert 2 <= len(grid.of_axis("ra")) and 2 <= len(grid.of_axis("dec"))
    for line in grid.lines:
        finite = np.isfinite(line.x)
        # the ends of each piece are where it was cut at the frame's edge (on a chord)
        edge = finite & ~(np.r_[False, finite[:-1]] & np.r_[finite[1:], False])
        inner = finite & ~edge
        assert edge.sum() >= 2 and inner.sum() >= 10
        x, y = line.x[finite], line.y[finite]
        assert (x >= -0.5 - 1e-9).all() and (x <= shape[1] - 0.5 + 1e-9).all()
        assert (y >= -0.5 - 1e-9).all() and (y <= shape[0] - 0.5 + 1e-9).all()
        # astropy puts the line's sky points exactly where the grid drew them
        if line.axis == "ra":
            dec = wcs.all_pix2world(line.x[inner], line.y[inner], 0)[1]
            ra = np.full(dec.shape, line.degrees)
        else:
            ra = wcs.all_pix2world(line.x[inner], line.y[inner], 0)[0]
            dec = np.full(ra.shape, line.degrees)
        px, py = wcs.world_to_pixel_values(ra, dec)
        np.testing.assert_allclose(px, line.x[inner], atol=1e-6)
        np.testing.assert_allclose(py, line.y[inner], atol=1e-6)
        # the cut ends lie on the frame's edge and within 0.01 pixel of the line
        ex, ey = line.x[edge], line.y[edge]
        on_edge = np.isclose(ex, -0.5) | np.isclose(ex, shape[1] - 0.5) \
            | np.isclose(ey, -0.5) | np.isclose(ey, shape[0] - 0.5)
        assert on_edge.all()
        ra, dec = wcs.all_pix2world(ex, ey, 0)
        if line.axis == "ra":
            off = ((ra - line.degrees + 180) % 360 - 180) * np.cos(np.radians(dec))
        else:
            off = dec - line.degrees
        assert np.abs(off).max() < 0.01 * scale


def test_labels_never_read_59_999_seconds():
    assert wg.format_ra(10 * 3_600_000 + 5 * 60_000 + 30_500, 500) == "10h05m30.5s"
    assert wg.format_ra(10 * 3_600_000 + 60_000, 60_000) == "10h01m"
    assert wg.format_ra(-1000, 1000) == "23h59m59s"
    assert wg.format_ra(24 * 3_600_000, 3_600_000) == "0h"
    assert wg.format_dec(-(2 * 3_600_000 + 12 * 60_000 + 3_400), 100) == "−02°12′03.4″"
    assert wg.format_dec(30 * 60_000, 600_000) == "+00°30′"
    assert wg.format_dec(0, 3_600_000) == "+00°"
    assert wg.grid_step(26_667, wg.RA_STEPS_MS) == 10_000   # 26.7 s across -> 10 s
    assert wg.grid_step(3.0, wg.DEC_STEPS_MAS) == 1


def test_the_grid_follows_the_area_shown(equator):
    # a 40 x 20 pixel area: 40″ across -> 8″ -> 10″ steps (1 s of time = 15″ -> 1 s)
    grid = wg.wcs_grid(equator, (NY, NX), view_range=(80.0, 120.0, 40.0, 60.0))
    assert grid.box == (80.0, 120.0, 40.0, 60.0)
    assert grid.ra_step_ms == 1000 and grid.dec_step_mas == 5000
    # lines reach half the area's size beyond it, labels stay on the area's edges
    line = next(line for line in grid.of_axis("ra") if line.label == "10h00m00s")
    assert line.y.min() == pytest.approx(30.0) and line.y.max() == pytest.approx(70.0)
    assert line.label_at == pytest.approx((99.5, 40.0))
    assert wg.wcs_grid(equator, (NY, NX), view_range=(300.0, 400.0, 0.0, 10.0)) is None


def test_compass_and_scale_bar(equator):
    compass = wg.wcs_grid(equator, (NY, NX)).compass
    assert compass.north == pytest.approx((0.0, 1.0), abs=1e-6)
    assert compass.east == pytest.approx((-1.0, 0.0), abs=1e-6)
    assert compass.arcsec_per_pixel == pytest.approx(1.0, rel=1e-6)
    # a fifth of 200″ is 40″: the bar is the round length below it, 30″ = 30 pixels
    assert (compass.bar_mas, compass.bar_label) == (30_000, "30″")
    assert compass.bar_pixels == pytest.approx(30.0, rel=1e-5)
    turned = tan_wcs((150.0, 0.0), (100.5, 50.5), 1 / 3600, 90.0)
    compass = wg.compass_at(turned, (-0.5, 199.5, -0.5, 99.5))
    # the +y axis 90° east of north: +y is east, and north (90° counter-clockwise from east
    # on the sky seen from inside, with east left of north) is +x
    assert compass.north == pytest.approx((1.0, 0.0), abs=1e-6)
    assert compass.east == pytest.approx((0.0, 1.0), abs=1e-6)


def test_clip_polyline_cuts_at_the_edges_and_breaks_on_nan():
    box = (0.0, 10.0, 0.0, 10.0)
    x = np.array([-5.0, 5.0, 15.0, np.nan, 2.0, 4.0])
    y = np.array([5.0, 5.0, 5.0, np.nan, 2.0, 12.0])
    cx, cy = wg.clip_polyline(x, y, box)
    np.testing.assert_allclose(cx, [0, 5, 10, np.nan, 2, 3.6])   # 2 + 0.8 * 2
    np.testing.assert_allclose(cy, [5, 5, 5, np.nan, 2, 10])
