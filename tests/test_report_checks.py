"""The report's checks (thresholds, checks.cfg) and the pieces of arithmetic behind its metrics
and pictures, against values worked out here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from iris_gui.engine.errors import InputError
from iris_gui.report.checks import CHECKS, FAIL, PASS, WARN, Thresholds, load_checks, worst
from iris_gui.report.images import block_mean
from iris_gui.report.metrics import max_clip_deviation, median_and_sigma, sample_step


def deviation(values: np.ndarray) -> np.ndarray:
    """max |x - median| / std (population) of each row: what astropy's sigma_clip compares."""
    median = np.median(values, axis=-1, keepdims=True)
    return (np.abs(values - median) / values.std(axis=-1, keepdims=True)).max(axis=-1)


@pytest.mark.parametrize("n", range(2, 11))
def test_max_clip_deviation_is_reached_and_never_exceeded(n):
    limit = max_clip_deviation(n)
    rng = np.random.default_rng(n)
    samples = rng.standard_normal((20000, n)) * rng.lognormal(0, 2, (20000, n))
    assert deviation(samples).max() <= limit * (1 + 1e-12)
    if n >= 3:  # floor(n/2)+1 values at the median, the outlier, the rest at the mean
        k = n // 2
        values = np.zeros(n)
        values[-1] = 1.0
        values[k + 1:-1] = 1.0 / (k + 2)
        assert math.isclose(deviation(values[None])[0], limit, rel_tol=1e-12)
    assert math.isclose(max_clip_deviation(3), 2.1213203435596424)  # the engine's 2.12


def test_thresholds_give_pass_warn_fail():
    t = Thresholds()
    assert [t.verdict("resample_flux", v) for v in (0.004, 0.006, 0.03)] == [PASS, WARN, FAIL]
    assert [t.verdict("few_backgrounds", v) for v in (5, 2)] == [PASS, WARN]
    assert t.verdict("dark_twice", True) == FAIL and t.verdict("dark_twice", False) == PASS
    assert t.verdict("resample_flux", math.nan) == WARN  # not measurable is not a pass
    assert t.describe("resample_flux") == "warn > 0.5 %, fail > 2 %"
    assert t.describe("few_backgrounds") == "warn < 3"
    t.set("resample_flux", "fail", "off")
    assert t.verdict("resample_flux", 0.5) == WARN
    assert worst([PASS, WARN, PASS]) == WARN and worst([WARN, FAIL]) == FAIL
    assert {c.name for c in CHECKS} == set(Thresholds().values)


def test_checks_cfg_overrides_and_refuses_what_it_cannot_use(tmp_path):
    path = tmp_path / "checks.cfg"
    path.write_text("# stricter flux\n[resample_flux]\nwarn = 0.001\n[dark_twice]\n"
                    "verdict = warn\n")
    t = load_checks(path)
    assert t.values["resample_flux"] == {"warn": 0.001, "fail": 0.02}
    assert t.values["dark_twice"] == {"verdict": "warn"} and t.source == str(path)
    for text, message in (
            ("[resample_flux]\nwarn = lots\n", "[resample_flux] warn = 'lots': not a number"),
            ("[resample_flux]\nwarn = 0.5\n", "warn = 0.5 must be at most fail = 0.02"),
            ("[resample_flux]\nfloor = 1\n", "[resample_flux] floor: unknown key"),
            ("[dark_twice]\nverdict = maybe\n", "verdict = 'maybe': must be one of"),
            ("[nope]\nwarn = 1\n", "[nope]: unknown check"),
            ("warn = 1\n", "warn: a key outside a [check] section"),
            ("[a\n", "not a valid cfg file")):
        path.write_text(text)
        with pytest.raises(InputError, match=None) as info:
            load_checks(path)
        assert message in str(info.value) and str(path) in str(info.value)


def test_block_mean_is_the_mean_of_the_finite_pixels_of_each_block():
    rng = np.random.default_rng(3)
    frame = rng.normal(size=(37, 29)).astype(np.float32)
    frame[rng.random(frame.shape) < 0.2] = np.nan
    frame[:4, :4] = np.nan  # a block with nothing finite
    for factor in (1, 2, 4, 5):
        out = block_mean(frame, factor)
        assert out.shape == (-(-37 // factor), -(-29 // factor))
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                block = frame[i * factor:(i + 1) * factor, j * factor:(j + 1) * factor]
                finite = block[np.isfinite(block)]
                expected = finite.mean() if finite.size else np.nan
                np.testing.assert_allclose(out[i, j], expected, rtol=1e-5, atol=1e-6)


def test_statistics_sample_large_frames_only():
    assert sample_step((256, 256)) == 1 and sample_step((1024, 1024)) == 1
    assert sample_step((2048, 2048)) == 2 and sample_step((3, 2048, 2048)) == 4
    values = np.array([1.0, 2.0, 3.0, 4.0, 100.0], np.float32)
    median, sigma = median_and_sigma(values)
    assert median == 3.0 and math.isclose(sigma, 1.4826 * 1.0)
