"""Each step's arithmetic on small arrays whose answers were worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from factories import context_for, make_model, write_model, write_reference

from iris_gui.engine.dq import DQ_FLAGS, NO_FLAT_FIELD
from iris_gui.engine.errors import InputError
from iris_gui.engine.steps import SKIPPED, STEP_BY_NAME, STEPS

NAN = float("nan")
HOT = DQ_FLAGS["HOT"]


def params(step_name: str, **changes):
    values = STEP_BY_NAME[step_name].defaults()
    values.update(changes)
    return values


def run_step(step_name, model, context, **changes):
    return STEP_BY_NAME[step_name].run(model, params(step_name, **changes), context)


def test_step_order_is_the_image2_order():
    assert [s.name for s in STEPS] == [
        "bkg_subtract", "assign_wcs", "parse_subarray_map", "dark_current", "flat_field",
        "photom", "resample",
    ]
    assert [s.status_keyword for s in STEPS] == [
        "S_BKDSUB", "S_WCS", "S_SUBMAP", "S_DARK", "S_FLAT", "S_PHOTOM", "S_RESAMP",
    ]


# ---- dark_current ---------------------------------------------------------------------------

def test_dark_subtracts_with_nan_as_zero_err_in_quadrature_and_dq_or(tmp_path):
    write_reference(tmp_path / "dark.fits", "DARK",
                    [[1, NAN], [2, 3]], [[4, 1], [NAN, 0]], [[HOT, 0], [0, 4]])
    science = make_model([[10, 20], [30, 40]], [[3, 0], [1, 1]], [[0, 1], [0, 0]])
    result = run_step("dark_current", science, context_for(ref_dir=tmp_path))
    assert result.status == "COMPLETE"
    np.testing.assert_array_equal(result.model.data, [[9, 20], [28, 37]])
    np.testing.assert_array_equal(result.model.err, [[5, 1], [1, 1]])
    np.testing.assert_array_equal(result.model.dq, [[HOT, 1], [0, 4]])
    assert result.model.header["R_DARK"] == "dark.fits"
    assert result.references["dark"].endswith("dark.fits")
    # the input model is untouched (results are cached and shared)
    np.testing.assert_array_equal(science.data, [[10, 20], [30, 40]])
    assert "R_DARK" not in science.header


def test_dark_applies_to_every_integration(tmp_path):
    write_reference(tmp_path / "dark.fits", "DARK", [[1, 2], [3, 4]])
    cube = make_model([[[10, 10], [10, 10]], [[20, 20], [20, 20]]])
    result = run_step("dark_current", cube, context_for(ref_dir=tmp_path))
    np.testing.assert_array_equal(result.model.data, [[[9, 8], [7, 6]], [[19, 18], [17, 16]]])


def test_dark_is_cut_to_the_subarray_window(tmp_path):
    full = np.arange(20, dtype=np.float32).reshape(4, 5)  # value = 5*y + x (0-based)
    write_reference(tmp_path / "dark.fits", "DARK", full)
    # 2x2 window starting at 1-based x=2, y=3 -> rows 2..3, columns 1..2 (0-based)
    science = make_model([[100, 100], [100, 100]], window=(2, 3))
    result = run_step("dark_current", science, context_for(ref_dir=tmp_path))
    np.testing.assert_array_equal(result.model.data, [[100 - 11, 100 - 12], [100 - 16, 100 - 17]])


def test_dark_override_and_none_found(tmp_path):
    science = make_model([[1.0]])
    result = run_step("dark_current", science, context_for(ref_dir=tmp_path))
    assert result.status == SKIPPED
    assert "no dark reference" in result.reason and str(tmp_path) in result.reason
    other = tmp_path / "elsewhere"
    other.mkdir()
    write_reference(other / "d.fits", "DARK", [[0.25]])
    result = run_step("dark_current", science, context_for(ref_dir=tmp_path),
                      override_dark=str(other / "d.fits"))
    assert result.model.data[0, 0] == 0.75


def test_dark_chooses_matching_detector_and_exact_window(tmp_path):
    write_reference(tmp_path / "a_wrong_detector.fits", "DARK", [[5.0, 5.0], [5.0, 5.0]],
                    DETECTOR="OTHER")
    write_reference(tmp_path / "b_full.fits", "DARK", np.ones((4, 4)))
    write_model(tmp_path / "c_sub.fits", [[2.0, 2.0], [2.0, 2.0]], window=(2, 2), REFTYPE="DARK")
    full_science = make_model(np.full((4, 4), 10.0))
    result = run_step("dark_current", full_science, context_for(ref_dir=tmp_path))
    assert result.references["dark"].endswith("b_full.fits")
    sub_science = make_model([[10.0, 10.0], [10.0, 10.0]], window=(2, 2))
    result = run_step("dark_current", sub_science, context_for(ref_dir=tmp_path))
    assert result.references["dark"].endswith("c_sub.fits")  # same window beats full frame
    np.testing.assert_array_equal(result.model.data, 8.0)


def test_dark_window_outside_reference_is_an_error(tmp_path):
    write_model(tmp_path / "dark.fits", [[1.0, 1.0], [1.0, 1.0]], window=(1, 1), REFTYPE="DARK")
    science = make_model([[1.0, 1.0], [1.0, 1.0]], window=(2, 2))
    with pytest.raises(InputError, match="outside"):
        run_step("dark_current", science, context_for(), override_dark=str(tmp_path / "dark.fits"))


def test_dark_counted_twice_warning(tmp_path):
    write_reference(tmp_path / "dark.fits", "DARK", [[1.0]])
    science = make_model([[5.0]], S_BKDSUB="COMPLETE", BKGDKSUB=False)
    result = run_step("dark_current", science, context_for(ref_dir=tmp_path))
    assert result.status == "COMPLETE" and result.model.data[0, 0] == 4.0
    assert any("dark counted twice" in w for w in result.warnings)
    fine = make_model([[5.0]], S_BKDSUB="COMPLETE", BKGDKSUB=True)
    assert run_step("dark_current", fine, context_for(ref_dir=tmp_path)).warnings == []


# ---- flat_field -----------------------------------------------------------------------------

def _write_flat(path, **keywords):
    # pixel 0 good (2 +- 0.1); 1 NaN; 2 zero; 3 flagged NO_FLAT_FIELD (value 4 ignored)
    return write_reference(path, "FLAT", [[2, NAN, 0, 4]], [[0.1, 5, 5, 0.2]],
                           [[0, 0, 0, NO_FLAT_FIELD]], **keywords)


def test_flat_divides_flags_unusable_pixels_and_propagates_err(tmp_path):
    _write_flat(tmp_path / "flat.fits")
    science = make_model([[10, 20, 30, 40]], [[1, 2, 3, 4]], [[0, 0, 1, 0]])
    result = run_step("flat_field", science, context_for(ref_dir=tmp_path))
    assert result.status == "COMPLETE"
    np.testing.assert_allclose(result.model.data, [[5, 20, 30, 40]])
    # err0 = sqrt((1/2)^2 + (5 * 0.1 / 2)^2) = sqrt(0.3125)
    np.testing.assert_allclose(result.model.err, [[math.sqrt(0.3125), 2, 3, 4]], rtol=1e-6)
    np.testing.assert_array_equal(
        result.model.dq, [[0, NO_FLAT_FIELD, NO_FLAT_FIELD | 1, NO_FLAT_FIELD]])
    assert result.model.header["R_FLAT"] == "flat.fits"


def test_flat_inverse_multiplies(tmp_path):
    _write_flat(tmp_path / "flat.fits")
    science = make_model([[10, 20, 30, 40]], [[1, 2, 3, 4]])
    result = run_step("flat_field", science, context_for(ref_dir=tmp_path), inverse=True)
    np.testing.assert_allclose(result.model.data, [[20, 20, 30, 40]])
    # sqrt((1*2)^2 + (10*0.1)^2) = sqrt(5)
    np.testing.assert_allclose(result.model.err, [[math.sqrt(5), 2, 3, 4]], rtol=1e-6)


def test_flat_matches_filter(tmp_path):
    write_reference(tmp_path / "a_flat_h.fits", "FLAT", [[4.0]], FILTER="H")
    write_reference(tmp_path / "b_flat_kn3.fits", "FLAT", [[2.0]], FILTER="KN3")
    result = run_step("flat_field", make_model([[8.0]]), context_for(ref_dir=tmp_path))
    assert result.references["flat"].endswith("b_flat_kn3.fits")
    assert result.model.data[0, 0] == 4.0
    result = run_step("flat_field", make_model([[8.0]], FILTER="J"), context_for(ref_dir=tmp_path))
    assert result.status == SKIPPED and "FILTER=J" in result.reason


def test_flat_smaller_than_science_skips_with_reason(tmp_path):
    write_reference(tmp_path / "flat.fits", "FLAT", [[2.0]])
    science = make_model([[1.0, 1.0], [1.0, 1.0]])
    result = run_step("flat_field", science, context_for(),
                      override_flat=str(tmp_path / "flat.fits"))
    assert result.status == SKIPPED and "smaller than the science" in result.reason
    assert result.model is science


def test_flat_per_integration_and_subarray(tmp_path):
    write_reference(tmp_path / "flat.fits", "FLAT", [[1, 2, 4], [8, 16, 32]])
    cube = make_model([[[8.0, 8.0]], [[16.0, 16.0]]], window=(2, 2))  # row y=2, x=2..3
    result = run_step("flat_field", cube, context_for(ref_dir=tmp_path))
    np.testing.assert_array_equal(result.model.data, [[[0.5, 0.25]], [[1.0, 0.5]]])


# ---- parse_subarray_map ---------------------------------------------------------------------

def test_parse_subarray_map_records_windows_and_flags_dq():
    subarr_map = np.zeros((6, 8), np.uint16)
    subarr_map[1:3, 2:5] = 1   # 0-based rows 1..2, cols 2..4 -> x 3, y 2, 3x2
    subarr_map[5, 7] = 2       # one pixel at x 8, y 6
    dq = np.zeros((6, 8), np.uint32)
    dq[1, 2] = 1
    science = make_model(np.ones((6, 8)), dq=dq, subarr_map=subarr_map)
    result = run_step("parse_subarray_map", science, context_for())
    header = result.model.header
    assert header["NSUBWIN"] == 2
    assert (header["SMAP1XS"], header["SMAP1YS"], header["SMAP1NX"], header["SMAP1NY"]) == (3, 2, 3, 2)
    assert (header["SMAP2XS"], header["SMAP2YS"], header["SMAP2NX"], header["SMAP2NY"]) == (8, 6, 1, 1)
    expected = np.where(subarr_map != 0, 16, 0).astype(np.uint32)
    expected[1, 2] |= 1
    np.testing.assert_array_equal(result.model.dq, expected)
    assert result.model.data is science.data  # unchanged arrays are shared, not copied


def test_parse_subarray_map_counts_the_exposure_offset_and_ints():
    subarr_map = np.array([[0, 3], [0, 0]], np.uint16)
    cube = make_model(np.zeros((2, 2, 2)), window=(101, 51), subarr_map=subarr_map)
    result = run_step("parse_subarray_map", cube, context_for())
    assert (result.model.header["SMAP3XS"], result.model.header["SMAP3YS"]) == (102, 51)
    assert result.model.dq[:, 0, 1].tolist() == [16, 16]
    assert result.model.dq.sum() == 32


def test_parse_subarray_map_odd_values_are_flagged_and_reported():
    subarr_map = np.zeros((5, 5), np.uint16)
    subarr_map[1, 1] = 12                 # not a window number
    subarr_map[2:4, 2] = 4
    subarr_map[3, 3] = 4                  # window 4 is an L shape: its bounding box is 2x2
    science = make_model(np.ones((5, 5)), subarr_map=subarr_map)
    result = run_step("parse_subarray_map", science, context_for())
    header = result.model.header
    assert header["NSUBWIN"] == 1
    assert (header["SMAP4XS"], header["SMAP4YS"], header["SMAP4NX"], header["SMAP4NY"]) == (3, 3, 2, 2)
    assert any("12 is outside 1..10" in w for w in result.warnings)
    assert any("window 4 is not a filled rectangle" in w for w in result.warnings)
    np.testing.assert_array_equal(result.model.dq, np.where(subarr_map != 0, 16, 0))
    # an all-zero map: no windows, nothing flagged, input DQ not modified in place
    empty = make_model(np.ones((3, 3)), dq=np.full((3, 3), 2), subarr_map=np.zeros((3, 3)))
    result = run_step("parse_subarray_map", empty, context_for())
    assert result.model.header["NSUBWIN"] == 0
    np.testing.assert_array_equal(result.model.dq, 2)
    assert result.model.dq is not empty.dq


def test_add_in_quadrature_and_finite_or_zero():
    from iris_gui.engine.pixel_math import add_in_quadrature, finite_or_zero

    a = np.array([3.0, 5.0, 0.0], np.float32)
    b = np.array([4.0, 12.0, 0.5], np.float32)
    np.testing.assert_array_equal(add_in_quadrature(a, b, out=a), [5.0, 13.0, 0.5])
    finite = np.array([1.0, 2.0], np.float32)
    assert finite_or_zero(finite) is finite
    np.testing.assert_array_equal(finite_or_zero(np.array([np.nan, 1, -np.inf], np.float32)),
                                  [0, 1, 0])


def test_parse_subarray_map_without_map_skips():
    result = run_step("parse_subarray_map", make_model([[1.0]]), context_for())
    assert result.status == SKIPPED and "no SUBARR_MAP" in result.reason


# ---- bkg_subtract ---------------------------------------------------------------------------

def _backgrounds(tmp_path, values, errs, dqs, dark_done=(True, True, True), shape=(1, 1), **kw):
    paths = []
    for index, (value, err, dq, dark) in enumerate(zip(values, errs, dqs, dark_done, strict=True)):
        extra = {"S_DARK": "COMPLETE"} if dark else {}
        paths.append(write_model(tmp_path / f"bkg{index}_rate.fits", np.full(shape, value),
                                 np.full(shape, err), np.full(shape, dq), **extra, **kw))
    return paths


def test_bkg_subtract_mean_err_and_dq(tmp_path):
    # backgrounds 1, 2, 3 (errors 3, 0, 4): mean 2, err sqrt(9 + 0 + 16) / 3 = 5/3
    paths = _backgrounds(tmp_path, [1, 2, 3], [3, 0, 4], [0, 4, HOT])
    science = make_model([[10.0]], [[4.0]], [[1]])
    result = run_step("bkg_subtract", science, context_for(backgrounds=paths))
    assert result.status == "COMPLETE"
    assert result.model.data[0, 0] == pytest.approx(8.0)
    assert result.model.err[0, 0] == pytest.approx(13 / 3)  # sqrt(16 + 25/9)
    assert result.model.dq[0, 0] == 1 | 4 | HOT
    background = result.products["background"]
    assert background.data[0, 0] == pytest.approx(2.0)
    assert background.err[0, 0] == pytest.approx(5 / 3)
    assert result.model.header["NBKG"] == 3 and result.model.header["BKGDKSUB"] is True


def test_bkg_subtract_clips_an_outlier_among_seven(tmp_path):
    # six values of 10 and one of 1000: median 10, std 346.5 -> 1000 is 2.86 sigma: kept at 3.
    values = [10, 10, 10, 10, 10, 10, 1000]
    paths = _backgrounds(tmp_path, values, [1] * 7, [0] * 7, dark_done=[True] * 7)
    science = make_model([[100.0]])
    kept = run_step("bkg_subtract", science, context_for(backgrounds=paths), sigma=3.0)
    assert kept.products["background"].data[0, 0] == pytest.approx(1060 / 7)
    # at sigma 2 it is clipped; the six 10s then have std 0 and stay: background 10, err 1/sqrt(6)
    clipped = run_step("bkg_subtract", science, context_for(backgrounds=paths), sigma=2.0)
    assert clipped.products["background"].data[0, 0] == pytest.approx(10.0)
    assert clipped.products["background"].err[0, 0] == pytest.approx(math.sqrt(6) / 6)
    assert clipped.model.data[0, 0] == pytest.approx(90.0)


def test_bkg_subtract_full_frame_backgrounds_cut_to_subarray(tmp_path):
    full = np.arange(12, dtype=np.float32).reshape(3, 4)
    paths = []
    for index in range(3):
        paths.append(write_model(tmp_path / f"bkg{index}_rate.fits", full + index))
    science = make_model([[100.0, 100.0]], window=(3, 2))  # y=2 (row 1), x=3..4 (cols 2..3)
    result = run_step("bkg_subtract", science, context_for(backgrounds=paths))
    # backgrounds at those pixels: 6+k, 7+k for k = 0, 1, 2 -> means 7 and 8
    np.testing.assert_allclose(result.model.data, [[93.0, 92.0]])
    assert result.model.header["BKGDKSUB"] is False


def test_bkg_subtract_per_integration_and_all_nan_pixel(tmp_path):
    paths = []
    for index in range(3):
        paths.append(write_model(tmp_path / f"bkg{index}_rate.fits", [[1.0 + index, NAN]]))
    cube = make_model([[[10.0, 10.0]], [[20.0, 20.0]]])
    result = run_step("bkg_subtract", cube, context_for(backgrounds=paths))
    np.testing.assert_array_equal(result.model.data[:, 0, 0], [8.0, 18.0])
    assert np.isnan(result.model.data[:, 0, 1]).all()
    assert (result.model.dq[:, 0, 1] & 1).all()  # DO_NOT_USE where no background value survived


def test_bkg_subtract_without_backgrounds_skips():
    result = run_step("bkg_subtract", make_model([[1.0]]), context_for())
    assert result.status == SKIPPED and "no background members" in result.reason


def test_bkg_subtract_background_not_covering_window_is_an_error(tmp_path):
    paths = [write_model(tmp_path / "bkg_rate.fits", [[1.0]], window=(1, 1))]
    science = make_model([[1.0]], window=(5, 5))
    with pytest.raises(InputError, match="does not cover"):
        run_step("bkg_subtract", science, context_for(backgrounds=paths))
