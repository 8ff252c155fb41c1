"""Star check maths (display.star_check) on synthetic Gaussian stars whose numbers are known:
FWHM = 2 sqrt(2 ln 2) sigma, flux in a radius-r aperture = 2 pi sigma^2 A (1 - exp(-r^2 / 2 sigma^2)),
the centroid where the star was put; before / after a flat field (same pixels) and a resample
(another grid, placed through the WCS); the state's records through a session's JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.special import erf

from iris_gui.display.star_check import NoStar, StarFrame, measure_check, measure_star
from iris_gui.engine.wcs import tan_wcs
from iris_gui.state.star_checks import StarCheck, StarMeasure, star_radii
from iris_gui.state.view_state import ViewState

FWHM_PER_SIGMA = 2 * math.sqrt(2 * math.log(2))  # 2.35482


def gaussian_star(shape, x0, y0, sigma, amplitude, sky=10.0):
    """A star as a detector records it: the Gaussian (peak ``amplitude`` of its continuous
    profile) integrated over each pixel, on a flat sky."""
    def across(n, centre):
        edges = np.arange(n + 1) - 0.5
        return np.diff(0.5 * (1 + erf((edges - centre) / (math.sqrt(2) * sigma))))

    total = 2 * math.pi * sigma ** 2 * amplitude
    return (sky + total * np.outer(across(shape[0], y0), across(shape[1], x0))).astype(np.float64)


def enclosed(sigma, amplitude, radius):
    return 2 * math.pi * sigma ** 2 * amplitude * (1 - math.exp(-radius ** 2 / (2 * sigma ** 2)))


def test_a_gaussian_star_gives_its_centroid_fwhm_flux_and_sky():
    sigma, amplitude, r = 1.5, 300.0, 6.0
    data = gaussian_star((80, 80), 40.3, 38.6, sigma, amplitude, sky=10.0)
    found = measure_star(StarFrame("A", "Before", data), 41.0, 40.0, (r, 10.0, 15.0))
    assert found.x == pytest.approx(40.3, abs=1e-4)
    assert found.y == pytest.approx(38.6, abs=1e-4)
    assert found.fwhm_px == pytest.approx(FWHM_PER_SIGMA * sigma, rel=1e-4)  # 3.5322
    # the aperture holds 1 - exp(-8) of the star: 4241.15 of 4241.15 x (1 - 3.4e-4)
    assert found.flux == pytest.approx(enclosed(sigma, amplitude, r), rel=5e-4)
    assert found.sky == pytest.approx(10.0, abs=1e-9)
    # the brightest pixel holds the integral of the profile over it, below the peak of 300
    assert 250 < found.peak < amplitude
    assert found.position_by == "clicked" and not found.error


def test_a_smaller_aperture_holds_the_enclosed_fraction():
    sigma, amplitude = 2.0, 300.0
    data = gaussian_star((80, 80), 40.0, 40.0, sigma, amplitude)
    small = measure_star(StarFrame("A", "x", data), 40, 40, (3.0, 10.0, 15.0))
    # r = 1.5 sigma: 1 - exp(-1.125) = 67.5 % of the star. The exact overlap spreads each
    # pixel's value evenly over it, so where the profile is steep at the aperture's edge it
    # undercounts: 2.5 % here, 0.03 % at r = 4 sigma (the test above)
    assert small.flux == pytest.approx(enclosed(sigma, amplitude, 3.0), rel=0.03)
    assert small.flux < enclosed(sigma, amplitude, 3.0)
    assert small.flux / enclosed(sigma, amplitude, 60) == pytest.approx(0.675, abs=0.02)


def test_noise_moves_the_numbers_only_a_little():
    sigma, amplitude = 2.0, 500.0
    rng = np.random.default_rng(5)
    data = gaussian_star((80, 80), 39.7, 40.2, sigma, amplitude) + rng.normal(0, 1.0, (80, 80))
    found = measure_star(StarFrame("A", "x", data), 40, 40, (6.0, 10.0, 15.0))
    assert found.sky == pytest.approx(10.0, abs=0.1)
    assert found.sky_std == pytest.approx(1.0, rel=0.15)
    assert found.x == pytest.approx(39.7, abs=0.05) and found.y == pytest.approx(40.2, abs=0.05)
    assert found.fwhm_px == pytest.approx(FWHM_PER_SIGMA * sigma, rel=0.03)


def test_no_star_and_too_near_the_edge_say_why():
    rng = np.random.default_rng(2)
    sky_only = 10 + rng.normal(0, 1.0, (80, 80))
    with pytest.raises(NoStar, match=r"no star at x = 40.0, y = 40.0: the brightest pixel "
                                     r"within 5 px is \d.\dσ above the local sky \(a star needs 5σ\)"):
        measure_star(StarFrame("A", "x", sky_only), 40, 40)
    star = gaussian_star((80, 80), 8.0, 40.0, 1.5, 300)
    with pytest.raises(NoStar, match=r"too near the edge: x = 8.0, y = 40.0 is 8.5 px from the "
                                     r"frame's edge and the sky annulus reaches 12 px"):
        measure_star(StarFrame("A", "x", star), 8, 40)
    # smaller radii fit
    assert measure_star(StarFrame("A", "x", star), 8, 40, (3, 5, 8)).x == pytest.approx(8.0, abs=1e-3)
    with pytest.raises(NoStar, match="outside the frame"):
        measure_star(StarFrame("A", "x", star), -3, 40)


def test_nan_and_do_not_use_pixels_are_left_out_and_counted():
    data = gaussian_star((80, 80), 40, 40, 1.5, 300)
    dq = np.zeros((80, 80), np.uint32)
    data[40, 42] = np.nan
    dq[41, 40] = 1          # DO_NOT_USE: left out
    dq[39, 40] = 2048       # HOT: counted as flagged, still used
    found = measure_star(StarFrame("A", "x", data, dq), 40, 40, (4, 8, 12))
    assert found.masked == 2 and found.flagged == 2
    assert found.x == pytest.approx(40.0, abs=0.02)


def test_flat_field_before_and_after_on_the_same_pixels():
    """After = before / flat: the star's flux divides by the flat, its shape stays."""
    before = gaussian_star((90, 90), 45.2, 44.7, 1.8, 400.0, sky=20.0)
    flat = np.full_like(before, 0.8)
    check = measure_check({"A": StarFrame("A", "Before (input)", before),
                           "B": StarFrame("B", "After (output)", before / flat)},
                          "A", 46, 44, (6.0, 10.0, 15.0), product="p", step="flat_field")
    a, b = check.measure("A"), check.measure("B")
    assert b.position_by == "same pixel"
    assert (b.x, b.y) == pytest.approx((a.x, a.y), abs=1e-4)
    assert check.flux_ratio() == pytest.approx(1 / 0.8, rel=1e-6)
    assert check.fwhm_ratio() == pytest.approx(1.0, abs=1e-5)
    assert b.sky == pytest.approx(25.0)
    # clicking pane B measures the same star from there
    from_b = measure_check({"A": StarFrame("A", "Before", before),
                            "B": StarFrame("B", "After", before / flat)}, "B", 45, 45,
                           (6.0, 10.0, 15.0))
    assert from_b.clicked == "B" and from_b.measure("A").position_by == "same pixel"
    assert from_b.flux_ratio() == pytest.approx(1 / 0.8, rel=1e-6)


def test_resample_places_the_star_through_the_wcs_with_scaled_radii():
    """The i2d has pixels half the size: the star is found where the WCS puts it, with the
    aperture doubled to cover the same sky; a per-pixel rate keeps its flux."""
    scale = 0.1 / 3600
    wcs_in = tan_wcs((150.0, 2.0), (40.5, 40.5), scale, 0.0)
    wcs_out = tan_wcs((150.0, 2.0), (80.5, 80.5), scale / 2, 0.0)
    x_in, y_in = 35.4, 42.3
    (x_out, y_out), = wcs_out.all_world2pix(wcs_in.all_pix2world([[x_in, y_in]], 0), 0)
    sigma, amplitude = 1.6, 400.0
    before = gaussian_star((80, 80), x_in, y_in, sigma, amplitude, sky=5.0)
    # the same star on the finer grid: sigma twice the pixels, a quarter the value per pixel
    after = gaussian_star((160, 160), x_out, y_out, 2 * sigma, amplitude / 4, sky=5.0 / 4)
    frames = {"A": StarFrame("A", "Before (input)", before, wcs=wcs_in, unit="DN/s"),
              "B": StarFrame("B", "i2d (resampled)", after, wcs=wcs_out, unit="DN/s",
                             resampled=True)}
    check = measure_check(frames, "A", 35, 42, (6.0, 9.0, 14.0), step="resample")
    a, b = check.measure("A"), check.measure("B")
    assert b.position_by == "WCS" and b.aperture == pytest.approx(12.0)
    assert (b.x, b.y) == pytest.approx((x_out, y_out), abs=1e-3)
    assert b.wcs_offset < 1e-3
    assert (b.ra, b.dec) == pytest.approx((a.ra, a.dec), abs=1e-9)
    assert a.fwhm_arcsec == pytest.approx(FWHM_PER_SIGMA * sigma * 0.1, rel=1e-3)
    assert b.fwhm_px == pytest.approx(2 * a.fwhm_px, rel=1e-3)
    assert check.fwhm_ratio() == pytest.approx(1.0, abs=1e-3)
    assert check.flux_ratio() == pytest.approx(1.0, rel=2e-3)


def test_surface_brightness_fluxes_compare_through_the_pixel_area():
    a = StarMeasure("A", "a", flux=100.0, unit="MJy/sr", pixel_area_sr=4e-12)
    b = StarMeasure("B", "b", flux=400.0, unit="MJy/sr", pixel_area_sr=1e-12)
    check = StarCheck("p", "resample", "A", 1, 1, measures=(a, b))
    assert check.flux_ratio() == pytest.approx(1.0)
    per_pixel = StarCheck("p", "resample", "A", 1, 1, measures=(
        StarMeasure("A", "a", flux=100.0, unit="DN/s", pixel_area_sr=4e-12),
        StarMeasure("B", "b", flux=400.0, unit="DN/s", pixel_area_sr=1e-12)))
    assert per_pixel.flux_ratio() == pytest.approx(4.0)


def test_another_grid_without_a_wcs_is_said_in_the_other_pane():
    before = gaussian_star((80, 80), 40, 40, 1.5, 300)
    after = gaussian_star((100, 100), 50, 50, 1.5, 300)
    check = measure_check({"A": StarFrame("A", "Before", before),
                           "B": StarFrame("B", "i2d", after, resampled=True)}, "A", 40, 40)
    assert check.measure("A").ok
    b = check.measure("B")
    assert not b.ok and "another pixel grid" in b.error and "no WCS" in b.error
    assert check.flux_ratio() is None


def test_star_checks_round_trip_through_the_session_json():
    data = gaussian_star((80, 80), 40.3, 38.6, 1.5, 300)
    check = measure_check({"A": StarFrame("A", "Before", data),
                           "B": StarFrame("B", "After", data * 2)}, "A", 40, 39,
                          (4.0, 8.0, 12.0), product="demo_001", step="flat_field", plane=0)
    view = ViewState()
    view.star_checks = (check,)
    view.star_radii = (5.0, 9.0, 13.0)
    view.star_pick = True
    saved = json.loads(json.dumps(view.to_dict()))
    restored = ViewState()
    assert restored.apply_dict(saved) == []
    assert restored.star_checks == (check,)
    assert restored.star_radii == (5.0, 9.0, 13.0) and restored.star_pick
    assert restored.star_checks[0].flux_ratio() == pytest.approx(2.0)


def test_bad_saved_star_checks_are_refused_by_name():
    view = ViewState()
    problems = view.apply_dict({"star_radii": [5, 4, 9], "star_checks": [{"product": "p"}]})
    assert any("star_radii" in p and "aperture ≤ sky inner" in p for p in problems)
    assert any("star_checks" in p for p in problems)
    assert view.star_radii == (4.0, 8.0, 12.0) and view.star_checks == ()
    with pytest.raises(ValueError, match="finite"):
        star_radii([1, 2, float("nan")])


def test_star_checks_come_back_with_a_saved_session_file(tmp_path):
    from iris_gui.state.session_file import restore_session, save_session
    from iris_gui.state.workbench import Workbench

    data = gaussian_star((80, 80), 40.3, 38.6, 1.5, 300)
    check = measure_check({"A": StarFrame("A", "Before", data),
                           "B": StarFrame("B", "After", data / 0.9)}, "A", 40, 39,
                          product="demo_001", step="flat_field")
    saved = Workbench()
    saved.view.star_checks = (check,)
    saved.view.star_radii = (3.0, 6.0, 9.0)
    path = save_session(saved, tmp_path / "review")
    restored = Workbench()
    report = restore_session(restored, path)
    assert report.lines == []
    assert restored.view.star_checks == (check,) and restored.view.star_radii == (3.0, 6.0, 9.0)
