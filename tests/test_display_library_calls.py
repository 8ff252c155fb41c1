"""The display's stretches are astropy.visualization's and the region statistics sort with numpy:
the results are the ones the hand-written code gave (its formulas, written out here)."""

from __future__ import annotations

import numpy as np
import pytest

from iris_gui.display.regions import Region, region_statistics
from iris_gui.display.stretch import (
    ASINH_B,
    LOG_A,
    N_COLOURS,
    STRETCH_TABLE_SIZE,
    colour_bar_ticks,
    inverse_stretch,
    stretch_curve,
    stretch_table,
)

# the closed forms the display used before (DS9's log with a = 1000, astropy's asinh a = 0.1)
BEFORE = {
    "linear": (lambda t: t, lambda y: y),
    "sqrt": (np.sqrt, lambda y: y * y),
    "log": (lambda t: np.log10(LOG_A * t + 1.0) / np.log10(LOG_A + 1.0),
            lambda y: (np.power(LOG_A + 1.0, y) - 1.0) / LOG_A),
    "asinh": (lambda t: np.arcsinh(t / ASINH_B) / np.arcsinh(1.0 / ASINH_B),
              lambda y: np.sinh(y * np.arcsinh(1.0 / ASINH_B)) * ASINH_B),
}


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_stretches_are_astropys_and_equal_the_formulas_used_before(name):
    from astropy.visualization import AsinhStretch, LinearStretch, LogStretch, SqrtStretch

    library = {"linear": LinearStretch(), "sqrt": SqrtStretch(), "log": LogStretch(a=1000.0),
               "asinh": AsinhStretch(a=0.1)}[name]
    t = np.linspace(0.0, 1.0, 4097)
    forward, backward = BEFORE[name]
    np.testing.assert_array_equal(stretch_curve(name, t), library(t))
    np.testing.assert_allclose(stretch_curve(name, t), forward(t), rtol=0, atol=1e-15)
    np.testing.assert_allclose(inverse_stretch(name, t), backward(t), rtol=0, atol=1e-15)
    np.testing.assert_allclose(inverse_stretch(name, stretch_curve(name, t)), t, atol=1e-12)
    # the colour index of every one of the 65536 steps: not one differs from before
    steps = np.linspace(0.0, 1.0, STRETCH_TABLE_SIZE)
    before = np.rint(forward(steps) * (N_COLOURS - 1)).astype(np.uint8)
    np.testing.assert_array_equal(stretch_table(name), before)


def test_stretches_clip_to_the_limits_and_give_numbers_for_numbers():
    assert stretch_curve("log", -0.5) == 0.0 and stretch_curve("sqrt", 2.0) == 1.0
    assert inverse_stretch("asinh", 1.5) == pytest.approx(1.0)
    assert isinstance(stretch_curve("sqrt", 0.25), float)
    assert stretch_curve("sqrt", 0.25) == 0.5
    assert colour_bar_ticks(0.0, 100.0, "sqrt", (0.5,)) == [(0.5, 25.0)]
    with pytest.raises(ValueError, match="unknown stretch 'cube'"):
        stretch_curve("cube", 0.5)


def test_region_statistics_of_a_float64_frame_are_those_of_its_float32_values():
    """The radix sort took float32 keys; numpy's sort is given float32 too, so a float64 frame's
    statistics do not change (infinities count with the NaN, as before)."""
    rng = np.random.default_rng(4)
    frame = rng.standard_normal((30, 40)) * 1e3 + 1.0 / 3.0
    frame[3, 4], frame[5, 6] = np.inf, -np.inf
    stats = region_statistics(frame, Region("rect", 0, 0, 40, 30))
    as32 = np.sort(frame.astype(np.float32).ravel())[1:-1]  # the two infinities out
    assert stats.n == 1198 and stats.n_nan == 2
    assert stats.min == float(as32[0]) and stats.max == float(as32[-1])
    assert stats.median == (float(as32[598]) + float(as32[599])) / 2
    assert stats.mean == float(as32.mean(dtype=np.float64))
    assert stats.median != float(np.median(frame[np.isfinite(frame)]))  # float64's differs
