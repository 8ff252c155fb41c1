"""The derived views of a step (iris_gui.display.frames and view_sources), on hand-worked arrays:
Ratio, Difference and its ERR, whole frame and cursor readout alike, and the frame keys the
inspection view caches them under."""

from __future__ import annotations

import math

import numpy as np
from factories import make_model

from iris_gui.display import frames
from iris_gui.display import view_sources as vs
from iris_gui.engine.association import Member, Product
from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.pipeline import ProductResult
from iris_gui.engine.steps.base import StepResult

NAN = math.nan


def one_step(before, after, step="flat_field") -> ProductResult:
    result = ProductResult(Product("hand", [Member("hand_rate.fits", "science")]), PipelineConfig(),
                           "", input_model=before)
    result.steps[step] = StepResult("COMPLETE", after)
    return result


def frame_and_readout(source: vs.ViewSource) -> tuple[list, list]:
    """The source's frame and, pixel by pixel, what the cursor readout says."""
    ny, nx = source.shape
    readout = [[source.value_at(0, iy, ix) for ix in range(nx)] for iy in range(ny)]
    return source.frame(0).tolist(), readout


def same(a, b) -> bool:
    """Nested lists equal, NaN equal to NaN."""
    return np.array_equal(np.array(a, np.float64), np.array(b, np.float64), equal_nan=True)


# ---- Ratio -------------------------------------------------------------------------------------
def test_ratio_by_zero_is_nan_and_signs_follow_the_operands():
    after = [[6.0, -6.0, 6.0, -6.0], [5.0, 0.0, 0.0, NAN], [-5.0, 3.0, 1.0, 0.0]]
    before = [[3.0, 3.0, -3.0, -3.0], [0.0, 0.0, -0.0, 2.0], [0.0, NAN, np.inf, 7.0]]
    expected = [[2.0, -2.0, -2.0, 2.0], [NAN, NAN, NAN, NAN], [NAN, NAN, 0.0, 0.0]]
    assert same(frames.ratio(np.array(after, np.float32), np.array(before, np.float32)), expected)
    result = one_step(make_model(before), make_model(after))
    source = vs.step_views(result, "flat_field").sources[vs.RATIO]
    frame, readout = frame_and_readout(source)
    assert same(frame, expected) and same(readout, expected)
    assert source.frame(0).dtype == np.float32
    assert not np.isinf(source.frame(0)).any()
    assert source.err_at(0, 0, 0) is None      # a ratio has no ERR shown


# ---- Difference and its ERR ----------------------------------------------------------------------
def test_difference_is_after_minus_before_nan_where_either_is():
    after = [[5.0, 1.0, NAN], [-2.0, 1e8, 0.0]]
    before = [[3.0, 4.0, 1.0], [NAN, 1e8 - 8, -0.5]]
    expected = [[2.0, -3.0, NAN], [NAN, 8.0, 0.5]]
    result = one_step(make_model(before), make_model(after))
    source = vs.step_views(result, "flat_field").sources[vs.DIFFERENCE]
    frame, readout = frame_and_readout(source)
    assert same(frame, expected) and same(readout, expected)


def test_difference_err_is_the_quadrature_sum_and_nan_where_either_err_is_nan():
    err_after = [[3.0, 0.0, 5.0, NAN], [1.0, np.inf, NAN, 8.0]]
    err_before = [[4.0, 5.0, 12.0, 2.0], [NAN, NAN, NAN, 6.0]]
    # 3-4-5 (not 7 = the sum, nor 1 = the difference), 5-12-13, 6-8-10; NaN in -> NaN out, also
    # beside an infinite ERR (hypot(inf, nan) is inf)
    expected = [[5.0, 5.0, 13.0, NAN], [NAN, NAN, NAN, 10.0]]
    got = frames.difference_err(np.array(err_after, np.float32), np.array(err_before, np.float32))
    assert same(got, expected) and got.dtype == np.float32
    data = np.zeros((2, 4))
    result = one_step(make_model(data, err_before), make_model(data + 1, err_after))
    source = vs.step_views(result, "flat_field").sources[vs.DIFFERENCE]
    readout = [[source.err_at(0, iy, ix) for ix in range(4)] for iy in range(2)]
    assert same(readout, expected)
    # the single images' ERR is their own
    assert vs.step_views(result, "flat_field").sources[vs.AFTER].err_at(0, 0, 0) == 3.0


# ---- a skipped step's Difference and the frame cache ---------------------------------------------
def chain_with_a_skipped_step() -> ProductResult:
    """input -> parse_subarray_map (DQ only) -> dark_current (data - 1) -> flat_field SKIPPED
    (its After is its Before's arrays) -> photom (data * 2), as the pipeline leaves them."""
    exposure = make_model(np.arange(12, dtype=np.float32).reshape(3, 4) + 10.0)
    result = ProductResult(Product("hand", [Member("hand_rate.fits", "science")]), PipelineConfig(),
                           "", input_model=exposure)
    flagged = exposure.derive(dq=np.full((3, 4), 16, np.uint32))
    result.steps["parse_subarray_map"] = StepResult("COMPLETE", flagged)
    dark = flagged.derive(data=flagged.data - np.float32(1.0))
    result.steps["dark_current"] = StepResult("COMPLETE", dark)
    result.steps["flat_field"] = StepResult("SKIPPED", dark.derive(), reason="skip = True")
    result.steps["photom"] = StepResult("COMPLETE", dark.derive(data=dark.data * np.float32(2.0)))
    return result


def test_a_skipped_steps_difference_is_its_own_zeros_never_another_steps_cached_frame():
    result = chain_with_a_skipped_step()
    # the inspection view caches derived frames by ``frame_key`` (and everything made from them
    # by keys that start with it): fill such a cache step by step, as a user paging through
    cache: dict[tuple, np.ndarray] = {}
    for step in result.steps:
        source = vs.step_views(result, step).sources[vs.DIFFERENCE]
        cache.setdefault(source.frame_key(0), source.frame(0))
    skipped = vs.step_views(result, "flat_field").sources[vs.DIFFERENCE]
    dark = vs.step_views(result, "dark_current").sources[vs.DIFFERENCE]
    photom = vs.step_views(result, "photom").sources[vs.DIFFERENCE]
    assert skipped.frame_key(0) != dark.frame_key(0) != photom.frame_key(0)
    np.testing.assert_array_equal(cache[skipped.frame_key(0)], np.zeros((3, 4)))
    np.testing.assert_array_equal(cache[dark.frame_key(0)], np.full((3, 4), -1.0))
    np.testing.assert_array_equal(cache[photom.frame_key(0)], dark.model.data)
    # (a DQ-only step's Difference shares the skipped step's key: both are the zeros of one array
    # minus itself)
    # whatever the order, every view of every step finds its own frame under its key
    for order in (list(result.steps), list(reversed(result.steps))):
        cache = {}
        sources = [s for step in order for s in vs.step_views(result, step).sources.values()]
        for source in sources:
            cache.setdefault(source.frame_key(0), source.frame(0))
        for source in sources:
            np.testing.assert_array_equal(cache[source.frame_key(0)], source.frame(0),
                                          err_msg=source.label)


def test_frame_keys_name_the_arrays_and_the_integration():
    result = chain_with_a_skipped_step()
    views = vs.step_views(result, "dark_current").sources
    before, after = result.before("dark_current"), result.steps["dark_current"].model
    difference = views[vs.DIFFERENCE]
    assert difference.frame_key(0) == ("difference", id(after.data), id(before.data), 0)
    assert views[vs.RATIO if vs.RATIO in views else vs.DIFFERENCE].keep_alive()[1] is before.data
    # Before / After / ERR / DQ of one model are told apart by the kind
    assert len({views[label].frame_key(0) for label in (vs.AFTER, vs.ERR_AFTER, vs.DQ_AFTER)}) == 3
    # a 2-D frame has one integration, whatever the slider says; a cube one key per plane
    assert difference.frame_key(3) == difference.frame_key(0)
    cube = make_model(np.zeros((2, 3, 4)))
    cube_after = cube.derive(data=np.ones((2, 3, 4), np.float32))
    cube_views = vs.step_views(one_step(cube, cube_after), "flat_field").sources
    keys = {cube_views[vs.DIFFERENCE].frame_key(p) for p in (0, 1)}
    assert len(keys) == 2
