"""Live re-runs: a parameter edit reuses what it does not change and nothing stale.

The window's pipeline has a background store (``keep_backgrounds``, set by the worker), which the
worker fills when idle after a run (``prepare_backgrounds``), so a change of bkg_subtract's sigma
is served from prepared backgrounds. These tests pin that the result is exactly a fresh run's,
that steps upstream of an edit are reused (not recomputed), that the kept backgrounds follow
their files, and that a run alone keeps nothing (a first run costs what it did).
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from astropy.io import fits

from iris_gui.engine import background_store
from iris_gui.engine.association import Member, Product, load_association
from iris_gui.engine.cancel import CancelToken
from iris_gui.engine.demo import write_demo_dataset
from iris_gui.engine.errors import Cancelled, InputError
from iris_gui.engine.pipeline import Image2Pipeline
from iris_gui.engine.steps import STEPS

BUDGET = 1 << 30
ARRAYS = ("data", "err", "dq")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    dataset = write_demo_dataset(tmp_path_factory.mktemp("live"), size=128, seed=11)
    return dataset, load_association(dataset.asn)


def product_named(association, name: str) -> Product:
    return next(p for p in association.products if p.name == name)


def run_and_prepared(demo, name: str = "iris_demo") -> tuple[Product, Image2Pipeline]:
    """``name`` and a live pipeline as the worker leaves it: run once, backgrounds kept."""
    product = product_named(demo[1], name)
    pipeline = Image2Pipeline(keep_backgrounds=BUDGET)
    pipeline.run_product(product)
    assert pipeline.prepare_backgrounds(product)
    return product, pipeline


def fresh(product: Product, **settings):
    """What a new pipeline without any cache gives for ``settings`` (key -> value)."""
    pipeline = Image2Pipeline(cache=False)
    for key, value in settings.items():
        pipeline.config.set(key, value)
    return pipeline.run_product(product)


def assert_same_step(a, b, step: str) -> None:
    ra, rb = a.steps[step], b.steps[step]
    assert ra.status == rb.status, step
    for name in ARRAYS:
        assert np.array_equal(getattr(ra.model, name), getattr(rb.model, name),
                              equal_nan=True), f"{step} {name}"
    assert ra.model.header == rb.model.header, step
    assert ra.warnings == rb.warnings, step
    assert sorted(ra.products) == sorted(rb.products), step
    for key in ra.products:
        for name in ARRAYS:
            assert np.array_equal(getattr(ra.products[key], name), getattr(rb.products[key], name),
                                  equal_nan=True), f"{step} {key} {name}"


def test_the_store_serves_the_step_as_declared():
    # if bkg_subtract gains a parameter or another function, the pipeline must not hand it the
    # store's backgrounds (whose combine would ignore it): this fails so that the store is updated
    assert background_store.supports_step()


def test_sigma_change_gives_a_fresh_runs_result_without_reading_backgrounds_again(demo):
    dataset, association = demo
    product = product_named(association, "iris_demo")
    pipeline = Image2Pipeline(keep_backgrounds=BUDGET)
    first = pipeline.run_product(product)
    assert first.ok and pipeline.background_store.reads == 0  # a run keeps nothing itself
    assert pipeline.prepare_backgrounds(product)  # what the worker does when idle
    assert pipeline.background_store.reads == 1
    for sigma in (2.0, 2.5, 1.5):
        config = pipeline.config.copy()
        config.set("steps.bkg_subtract.sigma", sigma)
        again = pipeline.run_product(product, config=config)
        expected = fresh(product, **{"steps.bkg_subtract.sigma": sigma})
        for step in STEPS:
            assert not again.steps[step.name].from_cache, step.name  # all downstream of the edit
            assert_same_step(again, expected, step.name)
    assert pipeline.background_store.reads == 1  # read once, prepared once
    assert pipeline.executions["bkg_subtract"] == 4


@pytest.mark.parametrize("name", ["iris_demo_sub", "iris_demo_submap", "iris_demo_ints"])
def test_every_kind_of_product_matches_the_step(demo, name):
    _, association = demo
    product = product_named(association, name)
    pipeline = Image2Pipeline(keep_backgrounds=BUDGET)
    assert pipeline.prepare_backgrounds(product)
    for sigma, maxiters in ((3.0, None), (1.8, 1), (2.2, None)):
        config = pipeline.config.copy()
        config.set("steps.bkg_subtract.sigma", sigma)
        config.set("steps.bkg_subtract.maxiters", maxiters)
        for step in STEPS[1:]:
            config.set(f"steps.{step.name}.skip", True)
        got = pipeline.run_product(product, config=config)
        expected = Image2Pipeline(config, cache=False).run_product(product)
        assert got.ok and expected.ok
        assert_same_step(got, expected, "bkg_subtract")
    assert pipeline.background_store.reads == 1


def test_edit_of_a_later_step_reuses_every_step_before_it(demo):
    _, association = demo
    product = product_named(association, "iris_demo")
    pipeline = Image2Pipeline(keep_backgrounds=BUDGET)
    first = pipeline.run_product(product)
    runs = dict(pipeline.executions)
    config = pipeline.config.copy()
    config.set("steps.flat_field.inverse", True)
    again = pipeline.run_product(product, config=config)
    before_flat = ["bkg_subtract", "assign_wcs", "parse_subarray_map", "dark_current"]
    for step in before_flat:
        assert again.steps[step].from_cache, step
        assert again.steps[step].model is first.steps[step].model, step  # reused, not copied
        assert pipeline.executions[step] == runs[step], step  # not computed again
    for step in ("flat_field", "photom", "resample"):
        assert not again.steps[step].from_cache
        assert pipeline.executions[step] == runs[step] + 1
    expected = fresh(product, **{"steps.flat_field.inverse": True})
    for step in STEPS:
        assert_same_step(again, expected, step.name)


def test_a_changed_background_file_is_read_again(demo, tmp_path):
    dataset, _ = demo
    folder = tmp_path / "copy"
    shutil.copytree(dataset.directory, folder)
    product = product_named(load_association(folder / dataset.asn.name), "iris_demo")
    pipeline = Image2Pipeline(keep_backgrounds=BUDGET)
    config = pipeline.config.copy()
    for step in STEPS[1:]:
        config.set(f"steps.{step.name}.skip", True)
    assert pipeline.prepare_backgrounds(product)
    pipeline.run_product(product, config=config)
    with fits.open(product.backgrounds[0], mode="update") as hdul:
        hdul["SCI"].data[:10, :10] += 1.0
        hdul[0].header["FILTER"] = "H"  # and a warning the step gives must come too
    stat = os.stat(product.backgrounds[0])
    os.utime(product.backgrounds[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    got = pipeline.run_product(product, config=config)  # not served stale: read again
    assert pipeline.background_store.reads == 2
    expected = Image2Pipeline(config, cache=False).run_product(product)
    assert_same_step(got, expected, "bkg_subtract")
    assert any("FILTER H" in w for w in got.steps["bkg_subtract"].warnings)
    assert pipeline.prepare_backgrounds(product)  # already kept
    assert pipeline.background_store.reads == 2
    config.set("steps.bkg_subtract.sigma", 2.0)
    got = pipeline.run_product(product, config=config)
    assert_same_step(got, Image2Pipeline(config, cache=False).run_product(product),
                     "bkg_subtract")
    assert any("FILTER H" in w for w in got.steps["bkg_subtract"].warnings)


def test_a_background_that_does_not_cover_the_science_fails_as_the_step_does(demo):
    dataset, association = demo
    full = product_named(association, "iris_demo")
    product = Product("mixed", [Member(str(full.science), "science"),
                                Member(str(dataset.subarray_science), "background")])
    pipeline = Image2Pipeline(keep_backgrounds=BUDGET)
    assert not pipeline.prepare_backgrounds(product)  # refused quietly: the run says why
    got = pipeline.run_product(product)
    expected = Image2Pipeline(cache=False).run_product(product)
    assert got.error and got.error == expected.error and got.error_is_input
    assert "does not cover" in got.error


def test_over_budget_backgrounds_take_the_steps_own_path(demo):
    _, association = demo
    product = product_named(association, "iris_demo")
    pipeline = Image2Pipeline(keep_backgrounds=1024)  # far too small for 5 frames
    assert not pipeline.prepare_backgrounds(product)
    result = pipeline.run_product(product)
    assert result.ok
    assert pipeline.background_store.reads == 0 and pipeline.background_store.nbytes == 0
    assert_same_step(result, fresh(product), "bkg_subtract")


def test_no_store_unless_asked_and_clear_cache_empties_it(demo):
    _, association = demo
    product = product_named(association, "iris_demo")
    assert Image2Pipeline().background_store is None  # batch runs read as before
    pipeline = Image2Pipeline(keep_backgrounds=BUDGET)
    pipeline.run_product(product)
    assert pipeline.background_store.nbytes == 0
    assert pipeline.prepare_backgrounds(product)
    assert pipeline.background_store.nbytes > 0
    pipeline.clear_cache()
    assert pipeline.background_store.nbytes == 0


def test_a_cancelled_live_run_leaves_the_next_one_exact(demo):
    product, pipeline = run_and_prepared(demo)
    token = CancelToken()
    seen = []

    def progress(p, step, fraction):
        seen.append(step.name)
        if step.name == "bkg_subtract" and fraction >= 0.4:
            token.cancel()

    pipeline.callbacks.step_progress = progress
    config = pipeline.config.copy()
    config.set("steps.bkg_subtract.sigma", 1.7)
    cancelled = pipeline.run_product(product, token, config)
    assert cancelled.cancelled and "bkg_subtract" in seen
    pipeline.callbacks.step_progress = None
    again = pipeline.run_product(product, config=config)
    assert_same_step(again, fresh(product, **{"steps.bkg_subtract.sigma": 1.7}), "bkg_subtract")


def test_a_bad_sigma_fails_the_step_as_the_step_does(demo):
    product, pipeline = run_and_prepared(demo)
    config = pipeline.config.copy()
    config.steps["bkg_subtract"]["sigma"] = float("nan")  # past the parameter checks
    got = pipeline.run_product(product, config=config)
    expected = Image2Pipeline(config, cache=False).run_product(product)
    assert got.error == expected.error and "sigma" in got.error
    with pytest.raises(InputError):
        from iris_gui.engine.background_prepared import combine_prepared

        combine_prepared(pipeline.background_store._entries.popitem()[1].prepared, -1.0)


def test_preparing_backgrounds_gives_way_to_a_cancel(demo):
    _, association = demo
    product = product_named(association, "iris_demo")
    pipeline = Image2Pipeline(keep_backgrounds=BUDGET)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        pipeline.prepare_backgrounds(product, token)
    assert pipeline.background_store.nbytes == 0
    assert not Image2Pipeline().prepare_backgrounds(product)  # no store, nothing to do


def test_a_second_computation_keeps_the_backgrounds_when_the_worker_could_not(demo):
    _, association = demo
    product = product_named(association, "iris_demo")
    pipeline = Image2Pipeline(keep_backgrounds=BUDGET)
    pipeline.run_product(product)
    assert pipeline.background_store.reads == 0  # a first run keeps nothing
    for sigma in (2.2, 1.9):
        config = pipeline.config.copy()
        config.set("steps.bkg_subtract.sigma", sigma)
        got = pipeline.run_product(product, config=config)
        assert pipeline.background_store.reads == 1  # kept by the first re-run, then used
        assert_same_step(got, fresh(product, **{"steps.bkg_subtract.sigma": sigma}),
                         "bkg_subtract")
