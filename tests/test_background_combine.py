"""The background combine equals astropy's sigma_clip + mean of the unclipped values, exactly."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.stats import sigma_clip

from iris_gui.engine.background_combine import combine_backgrounds
from iris_gui.engine.cancel import CancelToken
from iris_gui.engine.dq import DO_NOT_USE
from iris_gui.engine.errors import Cancelled, InputError


def astropy_reference(stack: np.ndarray, sigma: float, maxiters):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # all-NaN columns
        clipped = sigma_clip(stack, sigma=sigma, maxiters=maxiters, axis=0)
        mean = np.ma.filled(clipped.mean(axis=0), np.nan).astype(np.float32)
    return np.ma.getmaskarray(clipped), mean


def noisy_stack(depth: int, shape=(40, 50), seed=0) -> np.ndarray:
    """Sky + noise with cosmic rays, negative outliers, NaNs, infs and constant columns."""
    rng = np.random.default_rng(seed)
    stack = (10 + rng.standard_normal((depth, *shape))).astype(np.float32)
    count = stack[0].size // 8
    for _ in range(3):
        k = rng.integers(0, depth, count)
        y = rng.integers(0, shape[0], count)
        x = rng.integers(0, shape[1], count)
        stack[k, y, x] += rng.uniform(-30, 300, count).astype(np.float32)
    stack[rng.integers(0, depth, 20), rng.integers(0, shape[0], 20), rng.integers(0, shape[1], 20)] = np.nan
    stack[0, 0, :5] = np.inf
    stack[:, 1, :3] = 7.0                      # constant columns
    stack[:, 2, 0] = np.nan                    # nothing left
    stack[:, 2, 1] = [np.nan] * (depth - 1) + [3.0]
    return stack


def run(stack, sigma, maxiters, **kw):
    depth = stack.shape[0]
    err = [np.full(stack.shape[1:], 0.5 + k, np.float32) for k in range(depth)]
    dq = [np.full(stack.shape[1:], 1 << (k + 1), np.uint32) for k in range(depth)]
    mask = np.zeros(stack.shape, dtype=bool)
    result = combine_backgrounds(list(stack), err, dq, sigma, maxiters, _mask_out=mask, **kw)
    return result, mask, err, dq


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 7, 8, 10, 12])
@pytest.mark.parametrize("sigma,maxiters", [(3.0, None), (2.0, None), (1.5, 1), (1.0, 3), (2.5, 5)])
@pytest.mark.parametrize("force_general", [False, True])
def test_mask_and_mean_equal_astropy(depth, sigma, maxiters, force_general):
    stack = noisy_stack(depth, seed=depth)
    result, mask, err, dq = run(stack, sigma, maxiters, _force_general=force_general)
    ref_mask, ref_mean = astropy_reference(stack, sigma, maxiters)
    np.testing.assert_array_equal(mask, ref_mask)
    np.testing.assert_array_equal(result.n_used, (~ref_mask).sum(axis=0))
    # bit for bit, except astropy's own sum order may differ in the last bit
    np.testing.assert_allclose(result.data, ref_mean, rtol=2e-7, atol=0, equal_nan=True)
    assert np.mean(result.data[np.isfinite(ref_mean)] == ref_mean[np.isfinite(ref_mean)]) > 0.99

    # ERR: sqrt(sum of the used ERR**2) / n_used;  DQ: OR of all members, DO_NOT_USE when none
    keep = ~ref_mask
    e2 = np.array([e * e for e in err])
    with np.errstate(invalid="ignore", divide="ignore"):
        expected_err = np.sqrt((e2 * keep).sum(axis=0)) / keep.sum(axis=0)
    np.testing.assert_allclose(result.err, expected_err, rtol=1e-6, equal_nan=True)
    expected_dq = np.bitwise_or.reduce(np.array(dq), axis=0)
    expected_dq = np.where(keep.sum(axis=0) == 0, expected_dq | DO_NOT_USE, expected_dq)
    np.testing.assert_array_equal(result.dq, expected_dq)


def test_hand_worked_pixel():
    # five values 10, 11, 9, 10, 100: median 10, mean 28, std sqrt((18^2+17^2+19^2+18^2+72^2)/5)
    # = sqrt(1296.4) = 36.01 -> bounds 10 +- 108.0 keep everything at sigma 3 ...
    values = np.array([10, 11, 9, 10, 100], np.float32).reshape(5, 1, 1)
    result, mask, _, _ = run(values, 3.0, None)
    assert result.n_used[0, 0] == 5
    assert result.data[0, 0] == pytest.approx(28.0)
    # ... but at sigma 1.5 the first bounds are 10 +- 54.0: 100 goes; then 10, 11, 9, 10 have
    # median 10, std sqrt(0.5) -> 10 +- 1.06: all four stay; the mean is 10
    result, mask, _, _ = run(values, 1.5, None)
    assert result.n_used[0, 0] == 4 and result.data[0, 0] == 10.0
    assert mask[:, 0, 0].tolist() == [False, False, False, False, True]
    # err = sqrt(0.5^2 + 1.5^2 + 2.5^2 + 3.5^2) / 4
    assert result.err[0, 0] == pytest.approx(np.sqrt(0.25 + 2.25 + 6.25 + 12.25) / 4)


def test_three_backgrounds_at_three_sigma_never_clip():
    # |x - median| <= (sqrt(N-1) + 1) std = 2.41 std for N = 3: a 3-sigma clip cannot reject
    values = np.array([0, 0, 1e6], np.float32).reshape(3, 1, 1)
    result, _, _, _ = run(values, 3.0, None)
    assert result.n_used[0, 0] == 3


def test_large_frame_crosses_blocks_and_matches_astropy():
    stack = noisy_stack(6, shape=(300, 1000), seed=3)
    result, mask, _, _ = run(stack, 2.0, None)
    ref_mask, ref_mean = astropy_reference(stack, 2.0, None)
    np.testing.assert_array_equal(mask, ref_mask)
    np.testing.assert_allclose(result.data, ref_mean, rtol=2e-7, atol=0, equal_nan=True)


def test_progress_and_cancel():
    stack = noisy_stack(3, shape=(2048, 512))
    fractions = []
    run(stack, 3.0, None, progress=fractions.append)
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run(stack, 3.0, None, cancel=token)


@pytest.mark.parametrize("kwargs,message", [
    (dict(sigma=0.0), "sigma must be > 0"),
    (dict(sigma=float("nan")), "sigma must be a finite number"),
    (dict(maxiters=0), "maxiters must be None or an integer >= 1"),
    (dict(maxiters=1.5), "maxiters must be None or an integer >= 1"),
])
def test_bad_parameters_are_named(kwargs, message):
    a = np.zeros((2, 2), np.float32)
    with pytest.raises(InputError, match=message):
        combine_backgrounds([a], [a], [a.astype(np.uint32)], **kwargs)


def test_bad_shapes_are_named():
    a = np.zeros((2, 2), np.float32)
    with pytest.raises(InputError, match="needs at least one background"):
        combine_backgrounds([], [], [])
    with pytest.raises(InputError, match=r"SCI member 1 has shape \(3, 2\)"):
        combine_backgrounds([a, np.zeros((3, 2), np.float32)], [a, a], [a.astype(np.uint32)] * 2)
    with pytest.raises(InputError, match="as many ERR and DQ"):
        combine_backgrounds([a, a], [a], [a.astype(np.uint32)] * 2)


# ---- the same backgrounds again with another sigma (background_prepared) ----------------------

def _identical(a, b) -> None:
    for name in ("data", "err", "dq", "n_used"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def _members(stack, seed=0):
    rng = np.random.default_rng(seed)
    err = [rng.uniform(0.1, 2.0, stack.shape[1:]).astype(np.float32) for _ in stack]
    dq = [rng.integers(0, 8, stack.shape[1:]).astype(np.uint32) for _ in stack]
    return list(stack), err, dq


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 8, 12])
def test_prepared_combine_is_the_combine_bit_for_bit(depth):
    from iris_gui.engine.background_prepared import combine_prepared, prepare_backgrounds

    sci, err, dq = _members(noisy_stack(depth, shape=(70, 60), seed=depth), seed=depth)
    prepared = prepare_backgrounds(sci, err, dq)
    for sigma in (0.5, 1.0, 1.7, 2.0, 2.5, 3.0, 4.0, 100.0):
        for maxiters in (None, 1, 3):
            _identical(combine_prepared(prepared, sigma, maxiters),
                       combine_backgrounds(sci, err, dq, sigma, maxiters))


def test_prepared_combine_on_bounds_extremes_and_constant_pixels():
    from iris_gui.engine.background_prepared import combine_prepared, prepare_backgrounds

    # [0, 0, 0, 0, 1]: the 1 is exactly 2.5 std above the median; a level of 1e6 with noise
    # 1e-3 (the critical sigma cannot be trusted in float32 there); huge values whose sums
    # overflow; equal values; a NaN; an inf
    columns = [[0, 0, 0, 0, 1], [1e6, 1e6 + 1e-3 * 1, 1e6 - 1e-3, 1e6 + 2e-3, 1e6 + 0.5],
               [3e38, 3e38, 3e38, -3e38, 3e38], [7, 7, 7, 7, 7], [1, 2, np.nan, 3, 40],
               [1, 2, np.inf, 3, 4], [5, 5, 5, 5, 5.0000005]]
    stack = np.array(columns, np.float32).T.reshape(5, 1, len(columns))
    sci, err, dq = _members(stack)
    prepared = prepare_backgrounds(sci, err, dq)
    for sigma in (2.5, float(np.nextafter(2.5, 0)), float(np.nextafter(2.5, 3)), 1.0, 1.9, 3.0):
        got = combine_prepared(prepared, sigma)
        _identical(got, combine_backgrounds(sci, err, dq, sigma))
        ref_mask, _ = astropy_reference(stack, sigma, None)
        np.testing.assert_array_equal(got.n_used, (~ref_mask).sum(axis=0))


def test_prepared_combine_progress_cancel_and_parameters():
    from iris_gui.engine.background_prepared import combine_prepared, prepare_backgrounds

    sci, err, dq = _members(noisy_stack(5, shape=(1024, 512)))
    fractions = []
    prepared = prepare_backgrounds(sci, err, dq, progress=fractions.append)
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    fractions.clear()
    combine_prepared(prepared, 1.5, progress=fractions.append)
    assert fractions and fractions[-1] == 1.0
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        combine_prepared(prepared, 1.5, cancel=token)
    with pytest.raises(Cancelled):
        prepare_backgrounds(sci, err, dq, cancel=token)
    with pytest.raises(InputError, match="sigma must be > 0"):
        combine_prepared(prepared, 0.0)
    with pytest.raises(InputError, match="maxiters"):
        combine_prepared(prepared, 2.0, 0)
    # a result owns its arrays: the prepared ones are not handed out
    result = combine_prepared(prepared, 3.0)
    assert not np.shares_memory(result.data, prepared.data)
    assert not np.shares_memory(result.dq, prepared.dq)
