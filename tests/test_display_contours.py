"""Contour levels (count -> values, list parsing, bad lists in words) and the lines
(display.contours) on frames whose contours are known by hand: a ramp's are straight lines, a
cone's circles."""

from __future__ import annotations

import numpy as np
import pytest

from iris_gui.display import contours as ct


def test_levels_by_count_are_evenly_spaced_strictly_between_the_limits():
    assert ct.levels_by_count(4, 0.0, 10.0) == (2.0, 4.0, 6.0, 8.0)
    assert ct.levels_by_count(1, 100.0, 200.0) == (150.0,)
    assert ct.levels_by_count(3, 8.0, 0.0) == (2.0, 4.0, 6.0)       # limits either way round
    for bad in (0, 51, 2.5, True):
        with pytest.raises(ct.ContourLevelError, match="number of contour levels must be 1 to 50"):
            ct.levels_by_count(bad, 0.0, 1.0)
    with pytest.raises(ct.ContourLevelError, match="not finite"):
        ct.levels_by_count(3, float("nan"), 1.0)


def test_a_typed_list_is_sorted_without_repeats_and_reads_back():
    assert ct.parse_levels("10, 20 5;5\t-1e3") == (-1000.0, 5.0, 10.0, 20.0)
    assert ct.parse_levels(ct.format_levels((0.125, 3.0, 1e-7))) == (1e-7, 0.125, 3.0)


@pytest.mark.parametrize("text, message", [
    ("", "no contour levels given"),
    (" , ;", "no contour levels given"),
    ("10, abc, 30", "contour level 'abc' is not a number"),
    ("10, 1.2.3", "contour level '1.2.3' is not a number"),
    ("5 inf", "contour level 'inf' is not a finite number"),
    ("nan", "contour level 'nan' is not a finite number"),
    (" ".join(str(k) for k in range(51)), "51 contour levels given; at most 50"),
])
def test_a_bad_list_says_what_is_wrong(text, message):
    with pytest.raises(ct.ContourLevelError) as caught:
        ct.parse_levels(text)
    assert str(caught.value).startswith(message)


def test_a_ramps_contours_are_straight_lines_at_the_level():
    ny, nx = 20, 30
    frame = np.tile(np.arange(nx, dtype=np.float32), (ny, 1))     # value = x
    (line,), factor = ct.contour_lines(frame, (10.25,), block=1)
    assert factor == 1
    np.testing.assert_allclose(line.points[:, 0], 10.25)
    assert line.points[:, 1].min() == 0 and line.points[:, 1].max() == ny - 1
    # 2 x 2 blocks: block means 2i + 0.5 at block centres x = 2i + 0.5: the same line
    (line,), factor = ct.contour_lines(frame, (10.25,), block=2)
    assert factor == 2
    np.testing.assert_allclose(line.points[:, 0], 10.25)


def test_a_cones_contour_is_a_circle_and_nan_blocks_are_left_out():
    n = 101
    yy, xx = np.mgrid[0:n, 0:n]
    frame = np.hypot(xx - 50.0, yy - 40.0).astype(np.float32)
    (ring,), _ = ct.contour_lines(frame, (20.0,), block=1)
    radius = np.hypot(ring.points[:, 0] - 50.0, ring.points[:, 1] - 40.0)
    np.testing.assert_allclose(radius, 20.0, atol=0.02)    # linear interpolation on a cone
    # a NaN hole across the ring's top: no vertex inside it
    frame[55:65, 40:61] = np.nan
    (ring,), _ = ct.contour_lines(frame, (20.0,), block=1)
    points = ring.points[np.isfinite(ring.points[:, 0])]
    inside = (points[:, 1] > 55) & (points[:, 1] < 64) & (points[:, 0] > 40) & (points[:, 0] < 60)
    assert not inside.any()


def test_block_means_leave_nan_out_and_average_partial_blocks():
    frame = np.arange(30, dtype=np.float32).reshape(5, 6)
    frame[0, 0] = np.nan
    z, x, y = ct.block_mean(frame, 4)
    # block (0, 0): rows 0-3, columns 0-3 without the NaN; the partial ones what they hold
    assert z[0, 0] == pytest.approx((np.nansum(frame[:4, :4])) / 15)
    assert z[0, 1] == pytest.approx(frame[:4, 4:].mean())
    assert z[1, 1] == pytest.approx(frame[4:, 4:].mean())
    np.testing.assert_allclose(x, [1.5, 4.5])     # pixel centres 0..3 and 4..5
    np.testing.assert_allclose(y, [1.5, 4.0])     # rows 0..3 and 4


def test_the_automatic_block_is_ds9s_4_within_1024_a_side_and_64_blocks():
    assert ct.block_factor((4096, 4096)) == 4
    assert ct.block_factor((8192, 100)) == 8       # <= 1024 blocks a side
    assert ct.block_factor((8193, 100)) == 9
    assert ct.block_factor((1024, 700)) == 4
    assert ct.block_factor((256, 256)) == 4
    assert ct.block_factor((128, 100)) == 2        # >= 64 blocks a side
    assert ct.block_factor((48, 64)) == 1
    assert ct.block_factor((4096, 4096), block=1) == 1


def test_a_line_across_the_tracing_bands_meets_itself_at_their_edges():
    ny = 2 * ct.BAND_ROWS + 22                          # three bands of rows
    frame = np.tile(np.arange(30, dtype=np.float32), (ny, 1))
    (line,), _ = ct.contour_lines(frame, (10.25,), block=1)
    np.testing.assert_allclose(line.points[np.isfinite(line.points[:, 0]), 0], 10.25)
    pieces = np.split(line.points, np.flatnonzero(np.isnan(line.points[:, 0])))
    spans = sorted((np.nanmin(p[:, 1]), np.nanmax(p[:, 1])) for p in pieces)
    # each band's piece starts where the one below ends
    assert spans == [(0, ct.BAND_ROWS), (ct.BAND_ROWS, 2 * ct.BAND_ROWS),
                     (2 * ct.BAND_ROWS, ny - 1)]
