"""resample on every core: blocks of input rows drizzled in forked processes and combined by their
weights equal one drizzle call over the whole frame within stated float32 bounds.

Bounds (measured on these frames, 0.5..180 deg, then doubled): a combined pixel is the weighted
mean of two partial running means, each rounded to float32 after every pixel as drizzle rounds, so
it differs from one call by a few ulp of the value: SCI <= 8 ulp (point, square, turbo measured
<= 3; gaussian 5), the variance <= 16 ulp (measured 9); lanczos3, whose negative lobes make
partial means that cancel, <= 8 ulp of the frame's largest |value| (measured 4); WHT <= 2 ulp of
the largest weight (a float32 sum in another order; lanczos 8, measured 4); DQ and CON equal.
Pixels only one block reaches are the same to the bit.
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import pytest
from test_resample import sky_model

from iris_gui.engine import resample_parallel
from iris_gui.engine.cancel import CancelToken
from iris_gui.engine.errors import Cancelled, InputError
from iris_gui.engine.resample_parallel import (
    DrizzleJob,
    DrizzleOutput,
    combine_into,
    drizzle_exposure,
    reach_rectangle,
    worker_count,
)
from iris_gui.engine.resample_weights import fill_weights
from iris_gui.engine.steps.resample import resample_model
from iris_gui.engine.wcs import output_grid

ULP_BOUND = 8
WHT_ULP_BOUND = {"lanczos3": 8}  # others 2


def _job(angle: float, kernel: str = "square", shape=(90, 70), nints: int = 1, seed: int = 5,
         scale_ratio: float = 1.0):
    from iris_gui.engine.pixel_map import pixel_map

    rng = np.random.default_rng(seed)
    full = (nints,) + shape if nints > 1 else shape
    data = rng.uniform(1.0, 2.0, full).astype(np.float32)
    data.reshape(-1)[rng.integers(0, data.size, 20)] *= 50.0  # a few bright pixels
    err = rng.uniform(0.1, 0.3, full).astype(np.float32)
    dq = np.zeros(full, np.uint32)
    dq.reshape(-1)[rng.integers(0, dq.size, 15)] = 2  # SATURATED: still good, OR-ed into DQ
    model = sky_model(data, crpix=(shape[1] / 2, shape[0] / 2), angle_deg=angle, err=err, dq=dq)
    out_wcs, out_shape = output_grid(model.wcs, shape, pixel_scale_ratio=scale_ratio)
    pixmap = pixel_map(model.wcs, out_wcs, shape)
    planes = [(data[k], err[k], dq[k]) if nints > 1 else (data, err, dq) for k in range(nints)]

    def weights(d, e, q, weight, variance):
        fill_weights(d, e, q, np.uint32(1), "exptime", 10.0, weight, variance, None)

    return DrizzleJob(planes, pixmap, out_shape, weights, 10.0, kernel=kernel,
                      pixel_scale_ratio=scale_ratio)


def _one_call(job: DrizzleJob) -> DrizzleOutput:
    """drizzle itself: one add_image call per integration over the whole frame."""
    from drizzle.resample import Drizzle

    nints = job.nints
    driz = Drizzle(kernel=job.kernel, fillval="INDEF", fillval2="INDEF", out_shape=job.out_shape,
                   disable_ctx=nints == 1, max_ctx_id=max(nints - 1, 0))
    for data, err, dq in job.planes:
        weight, variance = np.empty_like(data), np.empty_like(data)
        job.fill_weights(data, err, dq, weight, variance)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            driz.add_image(data, job.exptime, job.pixmap, data2=[variance], dq=dq,
                           weight_map=weight, pixfrac=job.pixfrac, iscale=job.iscale,
                           pixel_scale_ratio=job.pixel_scale_ratio, in_units="cps")
    return DrizzleOutput(driz.out_img, driz.out_img2[0], driz.out_wht, driz.out_dq, driz.out_ctx)


def _ulps(a: np.ndarray, b: np.ndarray, where: np.ndarray, frame: bool = False) -> float:
    """Largest |a - b| in float32 ulps of each value (``frame``: of the largest |value|)."""
    big = np.maximum(np.abs(a[where]), np.abs(b[where])).astype(np.float32)
    scale = np.spacing(big.max(initial=0.0) if frame else big)
    return float(np.max(np.abs(a[where] - b[where]) / scale, initial=0.0))


def _assert_close(split: DrizzleOutput, whole: DrizzleOutput, kernel: str) -> None:
    np.testing.assert_array_equal(split.wht != 0, whole.wht != 0)
    covered = whole.wht != 0
    frame = kernel.startswith("lanczos")
    assert _ulps(split.sci, whole.sci, covered, frame) <= ULP_BOUND
    assert _ulps(split.var, whole.var, covered, frame) <= 2 * ULP_BOUND
    wht_ulp = np.spacing(np.float32(np.abs(whole.wht).max()))
    assert np.abs(split.wht - whole.wht).max() <= WHT_ULP_BOUND.get(kernel, 2) * wht_ulp
    np.testing.assert_array_equal(split.dq, whole.dq)
    if whole.ctx is not None:
        np.testing.assert_array_equal(split.ctx, whole.ctx)


@pytest.mark.parametrize("angle", [0.5, 17.0, 45.0, 90.0, 180.0])
@pytest.mark.parametrize("kernel", ["square", "point", "turbo", "gaussian", "lanczos3"])
@pytest.mark.parametrize("seed", [5, 7])
def test_two_processes_equal_one_drizzle_call(angle, kernel, seed):
    job = _job(angle, kernel, seed=seed)
    whole = _one_call(job)
    split = drizzle_exposure(job, workers=2)
    _assert_close(split, whole, kernel)
    # one process: the same bits as one call (bands of rows add in the same order)
    serial = drizzle_exposure(job, workers=1)
    for name in ("sci", "var", "wht", "dq"):
        np.testing.assert_array_equal(getattr(serial, name)[whole.wht != 0],
                                      getattr(whole, name)[whole.wht != 0])


def test_only_the_seam_differs_and_within_the_bound():
    """Pixels one block alone reaches are bitwise those of one call; only the pixels both reach
    (the seam, where the rotation shears a row over a few output rows) are combined."""
    job = _job(17.0, shape=(120, 80))
    whole = _one_call(job)
    split = drizzle_exposure(job, workers=2)
    blocks = resample_parallel.block_rows(120, 2)
    parts = []
    for first, stop in blocks:
        part = DrizzleOutput.zeros(job.out_shape, 0)
        resample_parallel._drizzle_block(job, first, stop, part, lambda fraction: None)
        parts.append(part.wht != 0)
    seam = parts[0] & parts[1]
    assert 0 < seam.sum() < 0.25 * (whole.wht != 0).sum()
    alone = (whole.wht != 0) & ~seam
    for name in ("sci", "var", "wht"):
        np.testing.assert_array_equal(getattr(split, name)[alone], getattr(whole, name)[alone])
    assert (split.sci[seam] != whole.sci[seam]).any()  # a real combination happened


@pytest.mark.parametrize("workers", [2, 3])
def test_rateints_integrations_on_every_core_with_their_context_bits(workers):
    job = _job(0.5, shape=(60, 50), nints=3)
    whole = _one_call(job)
    split = drizzle_exposure(job, workers=workers)
    _assert_close(split, whole, "square")
    assert split.ctx.shape == (1,) + job.out_shape
    assert set(np.unique(split.ctx)) <= {0, 1, 2, 3, 4, 5, 6, 7}
    assert (split.ctx == 7).sum() > 0.5 * (split.wht != 0).sum()  # all three, mostly


def test_a_scale_change_and_three_workers():
    job = _job(30.0, shape=(80, 80), scale_ratio=0.5)  # output pixels half the size
    _assert_close(drizzle_exposure(job, workers=3), _one_call(job), "square")


def test_the_step_gives_the_same_product_with_one_or_two_processes():
    rng = np.random.default_rng(2)
    model = sky_model(rng.uniform(1, 2, (64, 64)), crpix=(32.0, 32.0), angle_deg=10.0)
    out_wcs, out_shape = output_grid(model.wcs, model.image_shape)
    one, _ = resample_model(model, out_wcs, out_shape, workers=1)
    two, _ = resample_model(model, out_wcs, out_shape, workers=2)
    covered = one.extra_arrays["WHT"] > 0
    assert _ulps(two.data, one.data, covered) <= 8
    assert _ulps(two.err, one.err, covered) <= 8
    np.testing.assert_array_equal(two.dq, one.dq)
    np.testing.assert_array_equal(two.extra_arrays["CON"], one.extra_arrays["CON"])
    assert np.isnan(two.data[~covered]).all() and np.isnan(two.err[~covered]).all()


# ---- combining by weights, by hand -----------------------------------------------------------------

def _output(sci, var, wht, dq, ctx=None):
    as32 = lambda v: np.array(v, np.float32)  # noqa: E731
    return DrizzleOutput(as32(sci), as32(var), as32(wht), np.array(dq, np.uint32),
                         None if ctx is None else np.array(ctx, np.int32))


def test_combine_is_the_weighted_mean_with_squared_weights_for_the_variance():
    # pixels: both weighted | only the part | only the total | neither
    total = _output([[2.0, 0.0, 7.0, 0.0]], [[4.0, 0.0, 3.0, 0.0]], [[1.0, 0.0, 2.0, 0.0]],
                    [[1, 0, 8, 0]], ctx=[[[1, 0, 1, 0]]])
    part = _output([[6.0, 5.0, 0.0, 0.0]], [[1.0, 9.0, 0.0, 0.0]], [[3.0, 4.0, 0.0, 0.0]],
                   [[2, 4, 0, 0]], ctx=[[[2, 2, 0, 0]]])
    combine_into(total, part, (slice(0, 1), slice(0, 4)))
    # SCI (2*1 + 6*3) / 4 = 5; variance (4 * 1² + 1 * 3²) / 4² = 13/16; WHT 1 + 3
    np.testing.assert_array_equal(total.sci, [[5.0, 5.0, 7.0, 0.0]])
    np.testing.assert_array_equal(total.var, [[13 / 16, 9.0, 3.0, 0.0]])
    np.testing.assert_array_equal(total.wht, [[4.0, 4.0, 2.0, 0.0]])
    np.testing.assert_array_equal(total.dq, [[3, 4, 8, 0]])
    np.testing.assert_array_equal(total.ctx, [[[3, 2, 1, 0]]])


def test_combine_leaves_pixels_outside_the_region_alone():
    total = _output([[1.0, 1.0]], [[1.0, 1.0]], [[1.0, 0.0]], [[0, 0]])
    part = _output([[3.0, 3.0]], [[1.0, 1.0]], [[1.0, 1.0]], [[0, 0]])
    combine_into(total, part, (slice(0, 1), slice(0, 1)))
    np.testing.assert_array_equal(total.sci, [[2.0, 1.0]])
    np.testing.assert_array_equal(total.wht, [[2.0, 0.0]])
    combine_into(total, part, None)  # nothing reachable: nothing changes
    np.testing.assert_array_equal(total.sci, [[2.0, 1.0]])


@pytest.mark.parametrize("angle,kernel,ratio", [(0.5, "square", 1.0), (45.0, "lanczos3", 1.0),
                                                (120.0, "gaussian", 0.5), (10.0, "turbo", 2.0)])
def test_the_reach_rectangle_holds_every_pixel_a_block_touches(angle, kernel, ratio):
    job = _job(angle, kernel, shape=(70, 60), scale_ratio=ratio)
    for first, stop in [(0, 35), (35, 70), (20, 30)]:
        part = DrizzleOutput.zeros(job.out_shape, 0)
        resample_parallel._drizzle_block(job, first, stop, part, lambda fraction: None)
        rows, cols = reach_rectangle(job.pixmap, first, stop, job.out_shape, ratio)
        outside = part.wht != 0
        outside[rows, cols] = False
        assert not outside.any()
        # and it is not the whole output for a narrow block (the margin is a few pixels)
        assert (rows.stop - rows.start) * (cols.stop - cols.start) < part.wht.size or \
            stop - first > 30


def test_a_block_whose_map_is_all_nan_reaches_nothing():
    pixmap = np.full((10, 10, 2), np.nan)
    assert reach_rectangle(pixmap, 0, 10, (10, 10), 1.0) is None


# ---- how many workers --------------------------------------------------------------------------------

def test_worker_count_follows_the_cores_the_env_and_the_frame(monkeypatch):
    monkeypatch.delenv(resample_parallel.WORKERS_ENV, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    big = 4096 * 4096
    assert worker_count(big) == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5})
    assert worker_count(big) == 6
    assert worker_count(resample_parallel.MIN_WORKER_PIXELS * 3) == 3  # each worker a fair share
    assert worker_count(1000) == 1  # a small frame: forking costs more than it saves
    assert worker_count(1000, requested=3) == 3  # asked for: as asked
    monkeypatch.setenv(resample_parallel.WORKERS_ENV, "1")
    assert worker_count(big) == 1
    monkeypatch.setenv(resample_parallel.WORKERS_ENV, "3")
    assert worker_count(1000) == 3
    for bad in ("two", "0", "-1"):
        monkeypatch.setenv(resample_parallel.WORKERS_ENV, bad)
        with pytest.raises(InputError, match="IRIS_RESAMPLE_WORKERS"):
            worker_count(big)


def test_a_product_worker_drizzles_in_its_own_process_only(monkeypatch):
    """iris-image2 --jobs N and Dask run products in worker processes side by side: those must
    not fork again (N products x 2 drizzlers on 2 cores)."""
    import multiprocessing

    monkeypatch.delenv(resample_parallel.WORKERS_ENV, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: object())
    assert worker_count(4096 * 4096) == 1


def test_block_rows_split_evenly_and_never_below_two_bands():
    assert resample_parallel.block_rows(100, 2) == [(0, 50), (50, 100)]
    assert resample_parallel.block_rows(100, 3) == [(0, 33), (33, 67), (67, 100)]
    assert resample_parallel.block_rows(12, 4) == [(0, 12)]  # 8 rows at least a block
    assert resample_parallel.block_rows(16, 4) == [(0, 8), (8, 16)]


# ---- failures and cancelling --------------------------------------------------------------------------

def test_a_child_that_dies_is_redone_here_with_a_warning(monkeypatch, caplog):
    job = _job(17.0)
    whole = _one_call(job)
    parent = os.getpid()
    real = resample_parallel._drizzle_block

    def dies_in_the_child(*args, **kwargs):
        if os.getpid() != parent:
            os._exit(9)  # killed, say, for memory
        return real(*args, **kwargs)

    monkeypatch.setattr(resample_parallel, "_drizzle_block", dies_in_the_child)
    with caplog.at_level(logging.WARNING, logger="iris_gui.engine.resample_parallel"):
        split = drizzle_exposure(job, workers=2)
    _assert_close(split, whole, "square")
    assert "input rows 45..89 failed (exit code 9)" in caplog.text


def test_an_error_in_the_child_is_reported_by_name(monkeypatch, caplog):
    parent = os.getpid()
    real = resample_parallel._drizzle_block

    def raises_in_the_child(*args, **kwargs):
        if os.getpid() != parent:
            raise MemoryError("no room for the output")
        return real(*args, **kwargs)

    monkeypatch.setattr(resample_parallel, "_drizzle_block", raises_in_the_child)
    with caplog.at_level(logging.WARNING, logger="iris_gui.engine.resample_parallel"):
        drizzle_exposure(_job(0.5), workers=2)
    assert "MemoryError: no room for the output" in caplog.text


def test_a_fork_that_fails_drizzles_every_block_here(monkeypatch):
    job = _job(17.0)

    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    _assert_close(drizzle_exposure(job, workers=3), _one_call(job), "square")


def test_a_cancel_stops_the_run_and_ends_the_children(monkeypatch):
    job = _job(17.0, shape=(200, 60))
    monkeypatch.setattr(resample_parallel, "BAND_PIXELS", 60 * 4)
    started = []
    real = resample_parallel._start_child

    def recording(*args):
        child = real(*args)
        started.append(child.pid)
        return child

    monkeypatch.setattr(resample_parallel, "_start_child", recording)
    token = CancelToken()
    seen = []

    def progress(fraction):
        seen.append(fraction)
        if len(seen) == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        drizzle_exposure(job, workers=2, cancel=token, progress=progress)
    assert len(seen) == 2 and started
    for pid in started:
        with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
            os.waitpid(pid, os.WNOHANG)
