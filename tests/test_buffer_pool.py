"""The buffer pool hands a finished array's pages to the next array of the same size, and never a
buffer something still refers to."""

from __future__ import annotations

import numpy as np
import pytest
from factories import context_for, make_model

from iris_gui.engine import buffer_pool
from iris_gui.engine.buffer_pool import MIN_BYTES, BufferPool
from iris_gui.engine.models import ImageModel

SHAPE = (512, 1024)  # 2 MiB of float32: pooled (MIN_BYTES is 1 MiB)


def _model(pool: BufferPool) -> ImageModel:
    return ImageModel(data=pool.take(SHAPE, np.float32), err=pool.take(SHAPE, np.float32),
                      dq=pool.take(SHAPE, np.uint32))


def test_a_recycled_buffer_serves_the_next_array_of_that_size_in_any_dtype():
    pool = BufferPool(1 << 30)
    model = _model(pool)
    address = model.data.__array_interface__["data"][0]
    spent = [model]
    del model
    assert pool.recycle(spent) == 3 and spent == []
    assert pool.held_bytes == 3 * 2 * 2**20
    addresses = {pool.take(SHAPE, np.uint32).__array_interface__["data"][0] for _ in range(3)}
    assert address in addresses  # the same pages, now a DQ array
    assert pool.reused == 3 and pool.fresh == 3 and pool.held_bytes == 0
    assert pool.take((256, 1024), np.float32).size == 256 * 1024  # another size: new memory
    assert pool.fresh == 4


def test_nothing_still_referred_to_is_recycled():
    pool = BufferPool(1 << 30)
    model = _model(pool)
    kept_data = model.data          # the array held elsewhere
    view = model.err[10:20]         # another view of a buffer
    held = [model]
    other = model                   # the model itself held elsewhere: nothing at all
    del model
    assert pool.recycle(held) == 0
    del other
    model = held_again = None
    model = _model(pool)
    kept_data = model.data
    view = model.err[10:20]
    spent = [model]
    del model, held_again
    assert pool.recycle(spent) == 1  # only DQ: data and err are still in use
    fresh = pool.take(SHAPE, np.float32)
    fresh[...] = -1.0
    assert not np.shares_memory(fresh, kept_data) and not np.shares_memory(fresh, view)
    assert pool.take(SHAPE, np.float32) is not None and pool.reused == 1


def test_arrays_the_pool_did_not_make_and_small_arrays_are_left_alone():
    pool = BufferPool(1 << 30)
    model = ImageModel(data=np.zeros(SHAPE, np.float32), err=pool.take((8, 8), np.float32),
                       dq=pool.take(SHAPE, np.uint32)[:, :512])
    spent = [model]
    del model
    assert pool.recycle(spent) == 0
    assert pool.take((8, 8), np.float32).base is None  # small: plain np.empty


def test_the_budget_caps_what_is_kept_and_zero_turns_the_pool_off(monkeypatch):
    pool = BufferPool(5 * 2**20)  # room for two 2 MiB buffers
    model = _model(pool)
    spent = [model]
    del model
    pool.recycle(spent)
    assert pool.held_bytes == 4 * 2**20
    pool.clear()  # frees them (their weak references' callbacks take the pool's lock too)
    assert pool.held_bytes == 0 and pool.take(SHAPE, np.float32).shape == SHAPE
    off = BufferPool(0)
    assert off.take(SHAPE, np.float32).base is None
    monkeypatch.setenv(buffer_pool.BUDGET_ENV, "3")
    assert BufferPool().budget == 3 * 2**20
    monkeypatch.setenv(buffer_pool.BUDGET_ENV, "many")
    assert BufferPool().budget == buffer_pool.DEFAULT_BUDGET_MB * 2**20


def test_the_steps_give_the_same_numbers_from_reused_buffers(monkeypatch):
    """Reused buffers hold old values: every output pixel must still be written. The dark step
    on a frame whose buffers come back full of garbage gives the same bits as on fresh ones."""
    from iris_gui.engine.steps.dark_current import subtract_dark

    pool = BufferPool(1 << 30)
    monkeypatch.setattr(buffer_pool, "POOL", pool)
    rng = np.random.default_rng(1)
    science = make_model(rng.random(SHAPE, dtype=np.float32), np.ones(SHAPE, np.float32))
    dark = make_model(np.full(SHAPE, 0.25, np.float32), np.full(SHAPE, 0.5, np.float32))
    before = subtract_dark(science, dark)
    garbage = _model(pool)
    for array in (garbage.data, garbage.err):
        array[...] = np.nan
    garbage.dq[...] = 0xFFFFFFFF
    spent = [garbage]
    del garbage, array  # the loop's name still holds err: it would not be recycled
    assert pool.recycle(spent) == 3
    after = subtract_dark(science, dark)
    assert pool.reused == 3
    for name in ("data", "err", "dq"):
        np.testing.assert_array_equal(getattr(after, name), getattr(before, name))


@pytest.mark.parametrize("name", ["dark_current", "flat_field"])
def test_a_reference_goes_back_to_the_pool_after_its_step_unless_kept(name, tmp_path,
                                                                      monkeypatch):
    """dark_current and flat_field hand their reference's buffers back once applied (the flat,
    the outputs of the next step reuse them); a dark kept as a product (dark_output) stays."""
    from factories import write_reference

    from iris_gui.engine.steps import STEP_BY_NAME

    pool = BufferPool(1 << 30)
    monkeypatch.setattr(buffer_pool, "POOL", pool)
    shape = SHAPE
    science = make_model(np.full(shape, 2.0, np.float32), np.ones(shape, np.float32))
    reference = tmp_path / f"{name}.fits"
    kind = "DARK" if name == "dark_current" else "FLAT"
    write_reference(reference, kind, np.full(shape, 0.5))
    step = STEP_BY_NAME[name]
    params = step.defaults()
    params[f"override_{kind.lower()}"] = str(reference)
    params["force_override"] = True
    result = step.run(science, params, context_for())
    assert result.status == "COMPLETE"
    assert pool.held_bytes >= 2 * 2**20  # the reference's SCI at least
    expected = 1.5 if name == "dark_current" else 4.0
    np.testing.assert_array_equal(result.model.data, np.full(shape, expected, np.float32))
    if name == "dark_current":
        pool.clear()
        params["dark_output"] = "kept_dark.fits"
        result = step.run(science, params, context_for())
        assert pool.held_bytes == 0
        np.testing.assert_array_equal(result.products["dark"].data, 0.5)


def test_min_bytes_is_a_mebibyte():
    assert MIN_BYTES == 2**20


def test_the_backgrounds_dq_are_or_ed_as_they_are_read_with_the_same_combined_dq(tmp_path):
    """read_backgrounds keeps one DQ (the OR, what the combined DQ is) instead of one per
    background: the combine gives the same bits, DO_NOT_USE where all are clipped included."""
    from factories import write_model

    from iris_gui.engine.background_combine import combine_backgrounds
    from iris_gui.engine.steps.bkg_subtract import read_backgrounds

    rng = np.random.default_rng(7)
    shape = (64, 48)
    paths, sci, err, dq = [], [], [], []
    for k in range(4):
        sci.append(rng.normal(5.0, 1.0, shape).astype(np.float32))
        err.append(np.full(shape, 0.5, np.float32))
        flags = np.zeros(shape, np.uint32)
        flags[k, :5] = 1 << (k + 1)
        flags[10, 10] = 1 << 20
        dq.append(flags)
        paths.append(str(write_model(tmp_path / f"b{k}_rate.fits", sci[-1], err[-1], flags)))
    science = make_model(np.zeros(shape, np.float32))
    got = read_backgrounds(paths, science, context_for()).combine(3.0, None)
    expected = combine_backgrounds(sci, err, dq, 3.0, None)
    for name in ("data", "err", "dq", "n_used"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name))
    assert got.dq[2, 0] == 1 << 3 and got.dq[10, 10] == 1 << 20


def test_one_dq_for_several_backgrounds_is_their_or_and_a_wrong_count_is_refused():
    from iris_gui.engine.background_combine import combine_backgrounds
    from iris_gui.engine.errors import InputError

    sci = [np.full((4, 4), v, np.float32) for v in (1.0, 2.0, 3.0)]
    err = [np.ones((4, 4), np.float32)] * 3
    dq = [np.full((4, 4), 1 << k, np.uint32) for k in (1, 2, 3)]
    whole = combine_backgrounds(sci, err, dq)
    one = combine_backgrounds(sci, err, [dq[0] | dq[1] | dq[2]])
    np.testing.assert_array_equal(one.dq, whole.dq)
    np.testing.assert_array_equal(one.data, np.full((4, 4), 2.0, np.float32))
    with pytest.raises(InputError, match="one DQ"):
        combine_backgrounds(sci, err, dq[:2])
