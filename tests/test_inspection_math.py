"""The inspection views' arithmetic (iris_gui.display), checked with numpy and astropy
alone: stretch and quantization, zscale / percentile limits, DQ overlay masks and max-pooling,
region statistics, readout formatting."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.coordinates import Angle
from astropy.stats import sigma_clipped_stats
from astropy.visualization import ZScaleInterval

from iris_gui.display import maths as im
from iris_gui.engine.dq import DQ_FLAGS, decode, flag_counts
from iris_gui.engine.wcs import tan_wcs


# ---- stretch and quantization --------------------------------------------------------------------
@pytest.mark.parametrize("name", im.STRETCHES)
def test_stretches_run_from_0_to_1_and_invert(name):
    t = np.linspace(0, 1, 101)
    y = im.stretch_curve(name, t)
    assert y[0] == pytest.approx(0.0) and y[-1] == pytest.approx(1.0)
    assert np.all(np.diff(y) > 0)
    np.testing.assert_allclose(im.inverse_stretch(name, y), t, atol=1e-12)


def test_stretch_formulas():
    assert im.stretch_curve("sqrt", 0.25) == pytest.approx(0.5)
    assert im.stretch_curve("log", 0.1) == pytest.approx(math.log10(101) / math.log10(1001))
    assert im.stretch_curve("asinh", 0.5) == pytest.approx(math.asinh(5) / math.asinh(10))


def test_quantize_linear_known_values_nan_and_clipping():
    frame = np.array([[0.0, 1.0, 2.0, 3.0, 4.0],
                      [np.nan, -5.0, 9.0, np.inf, -np.inf]], np.float32)
    idx = im.quantize(frame, 0.0, 4.0, "linear")
    top = im.N_COLOURS - 1
    assert idx.dtype == np.uint8
    # t = 0, 1/4, 1/2, 3/4, 1 -> t * 253 rounded, halves up
    assert idx[0].tolist() == [math.floor(t * top + 0.5) for t in (0, 0.25, 0.5, 0.75, 1)]
    assert idx[1, 0] == im.NAN_INDEX
    assert idx[1, 1] == 0 and idx[1, 2] == top
    assert idx[1, 3] == top and idx[1, 4] == 0


@pytest.mark.parametrize("name", im.STRETCHES)
def test_quantize_matches_the_stretch_formula(name):
    rng = np.random.default_rng(3)
    frame = rng.uniform(-10, 110, (300, 257)).astype(np.float32)  # odd width: partial blocks
    frame[5, 7] = np.nan
    low, high = 0.0, 100.0
    idx = im.quantize(frame, low, high, name)
    t = np.clip((frame.astype(np.float64) - low) / (high - low), 0, 1)
    expected = np.rint(im.stretch_curve(name, t) * (im.N_COLOURS - 1))
    finite = np.isfinite(frame)
    diff = np.abs(idx[finite].astype(int) - expected[finite])
    assert diff.max() <= 1                      # the 65536-step table may round a boundary
    assert np.mean(diff == 0) > 0.995
    assert idx[5, 7] == im.NAN_INDEX


def test_quantize_keeps_precision_far_from_zero():
    # levels 1e7 .. 1e7 + 64 (float32 integers): scaling before subtracting would be off by ~4
    # colour steps; subtracting first is exact
    frame = (1e7 + np.arange(65)).astype(np.float32)[None, :]
    idx = im.quantize(frame, 1e7, 1e7 + 64, "linear")[0].astype(int)
    expected = np.floor(np.arange(65) / 64 * (im.N_COLOURS - 1) + 0.5)
    assert np.abs(idx - expected).max() <= 1


def test_frame_info_ignores_nan_and_reports_exact_range():
    rng = np.random.default_rng(1)
    frame = rng.normal(100, 5, (1000, 900)).astype(np.float32)
    frame[rng.integers(0, 1000, 500), rng.integers(0, 900, 500)] = np.nan
    frame[17, 23] = 1e4          # a hot pixel the subsample may miss; minmax must not
    info = im.frame_info(frame)
    assert np.all(np.isfinite(info.sample))
    assert info.sample.size <= im.SAMPLE_PIXELS * 1.1
    assert info.vmin == pytest.approx(float(np.nanmin(frame)))
    assert info.vmax == pytest.approx(1e4)
    assert info.limits("minmax") == (info.vmin, info.vmax)
    # zscale is astropy's ZScaleInterval on the subsample
    expected = ZScaleInterval(n_samples=im.ZSCALE_SAMPLES).get_limits(info.sample)
    assert info.limits("zscale") == pytest.approx(expected)
    low, high = info.limits("percentile", 99.0)
    assert (low, high) == pytest.approx(tuple(np.percentile(info.sample, [0.5, 99.5])))
    assert info.limits("manual", manual=(1.0, 3.0)) == (1.0, 3.0)


@pytest.mark.parametrize("value, text", [
    (-0.000564617, "-0.000564617"), (0.000564617, "0.000564617"), (-5.64617e-05, "-5.64617e-05"),
    (150.0, "150"), (-900.0, "-900"), (1234.5678, "1234.5677"), (999999.94, "999999.94"),
    (1e6, "1e+06"), (-12345678.9, "-1.2345679e+07"), (1e-30, "1e-30"), (0.0, "0"),
    (1e39, "1e+39"), (math.nan, "nan"), (-math.inf, "-inf"),
])
def test_format_limit_is_full_precision_keeps_the_sign_and_goes_scientific(value, text):
    assert im.format_limit(value) == text


def test_format_limit_round_trips_to_the_same_float32():
    rng = np.random.default_rng(11)
    values = (rng.standard_normal(3000) * 10.0 ** rng.integers(-12, 12, 3000)).astype(np.float32)
    for value in values.tolist():
        text = im.format_limit(value)
        assert np.float32(float(text)) == np.float32(value), (value, text)
        assert (text[0] == "-") == (value < 0)
        assert len(text) <= 15
    # ".6g" (what the edit fields showed) does not round-trip
    assert np.float32(float(f"{1234.5678:.6g}")) != np.float32(1234.5678)


def test_limits_of_flat_or_empty_frames_are_usable():
    flat = np.full((10, 10), 7.0, np.float32)
    low, high = im.frame_info(flat).limits("minmax")
    assert low < 7.0 < high
    empty = np.full((10, 10), np.nan, np.float32)
    info = im.frame_info(empty)
    assert info.sample.size == 0
    assert info.limits("zscale") == (0.0, 1.0)
    assert im.quantize(empty, 0, 1).max() == im.NAN_INDEX


# ---- DQ overlay -------------------------------------------------------------------------------------
def test_flag_pixels_counts_equal_the_engine():
    rng = np.random.default_rng(5)
    dq = np.zeros((97, 131), np.uint32)
    for name, count in (("DO_NOT_USE", 300), ("HOT", 40), ("NO_FLAT_FIELD", 25),
                        ("REFERENCE_PIXEL", 7), ("OUTLIER", 60)):
        dq.flat[rng.choice(dq.size, count, replace=False)] |= np.uint32(DQ_FLAGS[name])
    pixels = im.flag_pixels(dq)
    assert im.flag_pixel_counts(pixels) == flag_counts(dq)
    for name, idx in pixels.items():
        assert np.all(dq.flat[idx] & DQ_FLAGS[name])
        assert all(name in decode(int(v)) for v in dq.flat[idx[:5]])


def test_newly_flagged_hand_case():
    before = np.array([[0, 1, 2048], [3, 0, 0]], np.uint32)
    after = np.array([[1, 1, 2048 | 1], [3, 2 ** 18, 0]], np.uint32)
    new = im.newly_flagged(before, after)
    assert new.tolist() == [[1, 0, 1], [0, 2 ** 18, 0]]
    assert im.flag_pixel_counts(im.flag_pixels(new)) == {"DO_NOT_USE": 2, "NO_FLAT_FIELD": 1}
    pixels = im.flag_pixels(after, before)
    assert {k: v.tolist() for k, v in pixels.items()} == {"DO_NOT_USE": [0, 2], "NO_FLAT_FIELD": [4]}
    # a big frame goes block by block; same answer as the whole-array formula
    rng = np.random.default_rng(4)
    big_before = rng.integers(0, 4, (1100, 1000)).astype(np.uint32) * np.uint32(2 ** 11)
    big_after = big_before | (rng.random((1100, 1000)) < 0.01).astype(np.uint32)
    by_blocks = im.flag_pixels(big_after, big_before)
    whole = im.flag_pixels(im.newly_flagged(big_before, big_after))
    assert by_blocks.keys() == whole.keys() == {"DO_NOT_USE"}
    np.testing.assert_array_equal(by_blocks["DO_NOT_USE"], whole["DO_NOT_USE"])



def test_newly_flagged_ignores_cleared_bits_and_before_keeps_its_own_counts():
    dnu, hot, noflat = DQ_FLAGS["DO_NOT_USE"], DQ_FLAGS["HOT"], DQ_FLAGS["NO_FLAT_FIELD"]
    before = np.array([[dnu, hot | dnu, 0, hot, noflat]], np.uint32)
    # pixel 0 gains NO_FLAT_FIELD, pixel 1 loses HOT, pixel 2 gains NO_FLAT_FIELD + HOT, pixel 4
    # loses NO_FLAT_FIELD
    after = np.array([[dnu | noflat, dnu, noflat | hot, hot, 0]], np.uint32)
    new = {k: v.tolist() for k, v in im.flag_pixels(after, before).items()}
    assert new == {"HOT": [2], "NO_FLAT_FIELD": [0, 2]}       # cleared bits are not "new"
    assert im.newly_flagged(before, after).tolist() == [[noflat, 0, noflat | hot, 0, 0]]
    # without "newly": each pane its own counts (Before's are not After's)
    assert im.flag_pixel_counts(im.flag_pixels(before)) == \
        {"DO_NOT_USE": 2, "HOT": 2, "NO_FLAT_FIELD": 1} == flag_counts(before)
    assert im.flag_pixel_counts(im.flag_pixels(after)) == \
        {"DO_NOT_USE": 2, "HOT": 2, "NO_FLAT_FIELD": 2} == flag_counts(after)
    # a step that only clears: nothing new
    assert im.flag_pixels(before & ~np.uint32(hot), before) == {}


def test_dq_table_rows_say_what_set_them():
    label, tip = im.dq_row_label("NaN")
    assert label == "NaN in frame (not a DQ flag)"
    assert "NaN in the shown frame" in tip and "not a DQ bit" in tip
    assert "not only new ones" in im.dq_row_label("NaN", newly=True)[1]
    assert im.dq_row_label("HOT") == ("HOT (11)", "HOT: DQ bit 11, value 2048")
    assert "After has the bit and Before has not" in im.dq_row_label("HOT", newly=True)[1]
    # bit 4 is JWST's OUTLIER, but in this pipeline parse_subarray_map raises it
    label, tip = im.dq_row_label("OUTLIER")
    assert label == "OUTLIER (4)" and "parse_subarray_map" in tip and "SUBARR_MAP" in tip

def test_overlay_mask_colours_and_order():
    dq = np.array([[1, 2, 3, 0]], np.uint32)
    pixels = im.flag_pixels(dq)
    mask = im.overlay_mask(dq.shape, pixels, [("DO_NOT_USE", 1), ("SATURATED", 2)])
    assert mask.tolist() == [[1, 2, 2, 0]]          # the later flag wins on shared pixels
    mask = im.overlay_mask(dq.shape, pixels, [("DO_NOT_USE", 1)])
    assert mask.tolist() == [[1, 0, 1, 0]]


def test_max_pool_keeps_single_pixels_at_every_level():
    mask = np.zeros((1000, 777), np.uint8)
    mask[999, 776] = 5
    mask[3, 400] = 2
    pyramid = im.mask_pyramid(mask, smallest=8)
    assert pyramid[0] is mask
    for level, pooled in enumerate(pyramid):
        factor = 1 << level
        assert pooled.shape == (-(-1000 // factor), -(-777 // factor))
        assert pooled[999 // factor, 776 // factor] == 5
        assert pooled[3 // factor, 400 // factor] == 2
        assert np.count_nonzero(pooled) == 2 or level > 6
        np.testing.assert_array_equal(pooled, im.max_pool(mask, factor))
    assert max(pyramid[-1].shape) <= 8


def test_pyramid_level_makes_pooled_pixels_at_least_one_screen_pixel():
    assert im.pyramid_level(2.0, 8) == 0
    assert im.pyramid_level(1.0, 8) == 0
    assert im.pyramid_level(0.5, 8) == 1
    assert im.pyramid_level(0.3, 8) == 2      # 1/0.3 = 3.3 -> pool by 4
    assert im.pyramid_level(0.001, 5) == 4
    for s in (0.7, 0.26, 0.12, 0.051):
        level = im.pyramid_level(s, 20)
        assert (1 << level) * s >= 1.0 > (1 << max(0, level - 1)) * s or level == 0


# ---- regions -------------------------------------------------------------------------------------
def _frame_with_outliers(shape=(1200, 1100), seed=11):
    rng = np.random.default_rng(seed)
    frame = rng.normal(50, 3, shape).astype(np.float32)
    frame.flat[rng.choice(frame.size, 2000, replace=False)] = rng.uniform(500, 5000, 2000)
    frame.flat[rng.choice(frame.size, 300, replace=False)] = np.nan
    dq = np.zeros(shape, np.uint32)
    dq.flat[rng.choice(frame.size, 1000, replace=False)] = 1
    return frame, dq


def test_rectangle_statistics_equal_numpy_on_the_same_slice():
    frame, dq = _frame_with_outliers()
    # view coordinates (pixel centres at integers): the box [100.2, 301.7) x [50, 250) holds the
    # pixels whose centres are inside, x 101..301, y 50..249 (250 itself is outside: half-open)
    region = im.Region("rect", 100.2, 50.0, 201.5, 200.0)
    rows, cols = region.bounds(frame.shape)
    assert (rows, cols) == (slice(50, 250), slice(101, 302))
    cut = frame[50:250, 101:302]
    finite = cut[np.isfinite(cut)]
    stats = im.region_statistics(frame, region, dq)
    assert stats.n == finite.size
    assert stats.n_nan == int(np.isnan(cut).sum())
    assert stats.n_flagged == int(np.count_nonzero(dq[50:250, 101:302]))
    assert stats.mean == pytest.approx(float(np.mean(finite, dtype=np.float64)), rel=1e-9)
    assert stats.median == pytest.approx(float(np.median(finite)), rel=1e-7)
    assert stats.std == pytest.approx(float(np.std(finite, dtype=np.float64)), rel=1e-9)
    assert stats.min == float(finite.min()) and stats.max == float(finite.max())
    c_mean, c_median, c_std = sigma_clipped_stats(finite, sigma=3.0, maxiters=5)
    assert stats.clipped_mean == pytest.approx(float(c_mean), rel=1e-6)
    assert stats.clipped_std == pytest.approx(float(c_std), rel=1e-5)


def test_circle_statistics_use_pixels_whose_centres_are_inside():
    frame, dq = _frame_with_outliers((60, 70))
    region = im.Region("circle", 30.0, 20.0, 9.5)
    yy, xx = np.mgrid[0:60, 0:70]
    inside = (xx - 30.0) ** 2 + (yy - 20.0) ** 2 <= 9.5 ** 2
    values = frame[inside]
    finite = values[np.isfinite(values)]
    stats = im.region_statistics(frame, region, dq)
    assert stats.n == finite.size
    assert stats.n_flagged == int(np.count_nonzero(dq[inside]))
    assert stats.mean == pytest.approx(float(np.mean(finite, dtype=np.float64)))
    assert stats.median == pytest.approx(float(np.median(finite)))
    ignoring = im.region_statistics(frame, region, dq, ignore_flagged=True)
    kept = values[(dq[inside] == 0) & np.isfinite(values)]
    assert ignoring.n == kept.size
    assert ignoring.mean == pytest.approx(float(np.mean(kept, dtype=np.float64)))


def test_circle_boundary_pixels_are_inside():
    # integer points with x² + y² <= 36: 113 (Gauss circle problem, r = 6)
    (rows, cols), inside = im.Region("circle", 30.0, 20.0, 6.0).mask((60, 70))
    assert (rows, cols) == (slice(14, 27), slice(24, 37))
    assert int(inside.sum()) == 113


@pytest.mark.parametrize("seed", range(6))
def test_sorted_sigma_clip_equals_astropy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 4000))
    values = rng.standard_normal(n).astype(np.float32)
    if seed % 2:  # adversarial: heavy one-sided tail, duplicates
        values[: n // 5] = rng.uniform(5, 50, n // 5)
        values[n // 5: n // 5 + 20] = 0.0
    region = im.Region("rect", 0, 0, n, 1)
    stats = im.region_statistics(values[None, :], region)
    mean, _median, std = sigma_clipped_stats(values, sigma=3.0, maxiters=5)
    assert stats.clipped_mean == pytest.approx(float(mean), rel=1e-5, abs=1e-6)
    assert stats.clipped_std == pytest.approx(float(std), rel=1e-5, abs=1e-6)


def test_region_outside_the_frame_is_empty_not_an_error():
    frame = np.ones((10, 10), np.float32)
    stats = im.region_statistics(frame, im.Region("rect", 50, 50, 5, 5))
    assert stats.n == 0 and math.isnan(stats.mean)
    text = im.format_stats_table(["x"], [stats], im.Region("rect", 50, 50, 5, 5), False)
    assert "NaN" in text


def test_stats_table_text():
    frame = np.arange(12, dtype=np.float32).reshape(3, 4)
    stats = im.region_statistics(frame, im.Region("rect", 0, 0, 4, 3))
    text = im.format_stats_table(["Before (input)"], [stats], im.Region("rect", 0, 0, 4, 3),
                                 one_based=True, short_names=["A"])
    assert "box x 1..4, y 1..3 (1-based)" in text
    assert "A = Before (input)" in text
    mean_line = next(line for line in text.splitlines() if line.startswith("mean"))
    assert mean_line.split()[-1] == "5.5"


# ---- readout -------------------------------------------------------------------------------------
@pytest.mark.parametrize("deg", [0.0, 83.822248, 359.99999999, 150.1234567, 12.5])
def test_ra_sexagesimal_equals_astropy(deg):
    ours = im.sexagesimal(deg, True, 3)
    theirs = Angle(deg, "deg").wrap_at("360d").to_string(unit="hourangle", sep=":", precision=3,
                                                          pad=True)
    if theirs.startswith("24:"):
        theirs = "00" + theirs[2:]
    assert ours == theirs


@pytest.mark.parametrize("deg", [-5.391204, 0.0, 89.9999999, -0.00001, 45.5, -30.25])
def test_dec_sexagesimal_equals_astropy(deg):
    ours = im.sexagesimal(deg, False, 2)
    theirs = Angle(deg, "deg").to_string(unit="deg", sep=":", precision=2, alwayssign=True,
                                         pad=True)
    assert ours == theirs


def test_sexagesimal_carries():
    assert im.sexagesimal(59.9999 / 3600, False, 2) == "+00:01:00.00"
    assert im.sexagesimal(359.9999999, True, 3) == "00:00:00.000"
    assert im.sexagesimal(-(1 - 1e-9), False, 2) == "-01:00:00.00"


def test_sky_position_is_the_wcs_with_origin_0():
    wcs = tan_wcs((150.0, 2.2), (51.0, 41.0), 0.004 / 3600, 30.0)
    ra, dec = im.sky_position(wcs, 12, 34)
    expected = wcs.all_pix2world([[12, 34]], 0)[0]
    assert (ra, dec) == (pytest.approx(expected[0], abs=1e-12), pytest.approx(expected[1],
                                                                                abs=1e-12))
    # the reference pixel (1-based CRPIX) is 0-based (50, 40)
    assert im.sky_position(wcs, 50, 40) == (pytest.approx(150.0), pytest.approx(2.2))
    assert im.sky_position(None, 1, 1) is None


def test_pixel_under_the_cursor_has_its_centre_at_integers():
    assert im.pixel_at(0.0, 0.0) == (0, 0)
    assert im.pixel_at(-0.49, 0.49) == (0, 0)
    assert im.pixel_at(0.5, -0.51) == (1, -1)
    assert im.pixel_at(12.7, 3.2) == (13, 3)


def test_readout_text():
    text = im.format_readout(9, 4, True, [im.PaneValue("A Before", 1.5, 0.25, 2049),
                                          im.PaneValue("B After", None)], (83.8, -5.39))
    lines = text.splitlines()
    assert lines[0].startswith("x = 10, y = 5 (1-based, FITS)")
    assert "RA 05:35:12.000" in lines[0] and "Dec -05:23:24.00" in lines[0]
    assert "83.800000°" in lines[0] and "-5.390000°" in lines[0]
    assert "1.5" in lines[1] and "ERR       0.25" in lines[1]
    assert "DQ 2049 = DO_NOT_USE+HOT" in lines[1]
    assert "(outside)" in lines[2]
    assert im.pixel_label(0, 0, False) == "x = 0, y = 0 (0-based)"
    assert im.format_value(float("nan")) == "NaN"


def test_histogram_counts_every_kth_value_of_a_large_sample():
    """At most HISTOGRAM_PIXELS values are binned (the GUI thread bins), every k-th of the
    regular sample; a sample that small is binned whole."""
    from iris_gui.display.stretch import HISTOGRAM_PIXELS, frame_info, histogram_sample

    frame = np.random.default_rng(5).normal(100, 5, (1000, 1000)).astype(np.float32)
    info = frame_info(frame)
    assert info.sample.size == 250_000
    counts, edges = info.histogram(90.0, 110.0)
    k = -(-info.sample.size // HISTOGRAM_PIXELS)                  # 5
    expected, _ = np.histogram(info.sample[::k], bins=200, range=(edges[0], edges[-1]))
    assert np.array_equal(counts, expected)
    assert histogram_sample(info.sample).size == HISTOGRAM_PIXELS
    small = np.arange(HISTOGRAM_PIXELS, dtype=np.float32)
    assert histogram_sample(small) is not small and np.array_equal(histogram_sample(small),
                                                                   small)
    assert histogram_sample(np.arange(HISTOGRAM_PIXELS + 1.0)).size == HISTOGRAM_PIXELS // 2 + 1


def test_histogram_of_a_constant_frame_has_a_usable_range():
    from iris_gui.display.stretch import frame_info

    info = frame_info(np.ones((8, 8), np.float32))
    counts, edges = info.histogram(1.0, 1.0)
    assert counts.sum() == info.sample.size and edges[0] < 1.0 < edges[-1]
    counts, edges = info.histogram(1.0 - 1e-6, 1.0 + 1e-6)   # zscale of a constant frame
    assert counts.sum() == info.sample.size and np.all(np.diff(edges) > 0)
