"""Image2Pipeline.step_plan: what a run would do now, from the runner's own cache keys, without
running anything; checked against what run_product then does."""

from __future__ import annotations

import os

import numpy as np
import pytest
from factories import small_product as make_small_product
from factories import write_reference

from iris_gui.engine.association import Member, Product
from iris_gui.engine.pipeline import Image2Pipeline
from iris_gui.engine.step_plan import CACHED, CANNOT_RUN, OFF, TO_RUN, product_is_stale
from iris_gui.engine.steps import STEPS

STEP_NAMES = [s.name for s in STEPS]


@pytest.fixture()
def small_product(tmp_path):
    """A 4x4 science with three backgrounds, a dark and a flat in one folder."""
    return make_small_product(tmp_path / "in")


def states(plan):
    return {p.step: p.state for p in plan}


def run_and_check_plan(pipeline, product, config=None):
    """Plan, run, and check that the run did exactly what the plan said."""
    plan = pipeline.step_plan(product, config)
    before = dict(pipeline.executions)
    result = pipeline.run_product(product, config=config)
    assert result.ok
    for entry in plan:
        step = result.steps[entry.step]
        ran = pipeline.executions[entry.step] - before.get(entry.step, 0)
        if entry.state == CACHED:
            assert step.from_cache and ran == 0, entry
        elif entry.state == TO_RUN:
            assert not step.from_cache and ran == 1, entry
        else:
            assert entry.state == OFF and step.status == "SKIPPED" and ran == 0, entry
    return plan, result


def test_before_any_run_every_step_is_to_run(small_product):
    pipeline = Image2Pipeline()
    plan = pipeline.step_plan(small_product)
    assert [p.step for p in plan] == STEP_NAMES
    assert set(states(plan).values()) == {TO_RUN}
    assert all(p.reason == "not run yet" for p in plan)
    run_and_check_plan(pipeline, small_product)


def test_after_a_run_everything_is_cached_and_the_run_reuses_it(small_product):
    pipeline = Image2Pipeline()
    first = pipeline.run_product(small_product)
    plan = pipeline.step_plan(small_product)
    assert set(states(plan).values()) == {CACHED}
    assert not product_is_stale(plan, first, pipeline.config)
    run_and_check_plan(pipeline, small_product)


def test_a_parameter_change_makes_that_step_and_later_ones_to_run(small_product):
    pipeline = Image2Pipeline()
    first = pipeline.run_product(small_product)
    config = pipeline.config.copy()
    config.set("steps.dark_current.skip", False)
    config.set("steps.flat_field.inverse", True)
    plan = pipeline.step_plan(small_product, config)
    index = STEP_NAMES.index("flat_field")
    assert [p.state for p in plan] == [CACHED] * index + [TO_RUN] * (len(STEPS) - index)
    assert "changed" in plan[index].reason
    assert product_is_stale(plan, first, config)
    run_and_check_plan(pipeline, small_product, config)
    assert set(states(pipeline.step_plan(small_product, config)).values()) == {CACHED}


def test_skip_gives_off(small_product):
    pipeline = Image2Pipeline()
    pipeline.run_product(small_product)
    config = pipeline.config.copy()
    config.set("steps.dark_current.skip", True)
    plan = states(pipeline.step_plan(small_product, config))
    assert plan["dark_current"] == OFF
    assert plan["bkg_subtract"] == CACHED and plan["flat_field"] == TO_RUN
    run_and_check_plan(pipeline, small_product, config)
    plan = states(pipeline.step_plan(small_product, config))
    assert plan["dark_current"] == OFF and plan["flat_field"] == CACHED


def test_touching_an_input_makes_every_step_to_run(small_product):
    pipeline = Image2Pipeline()
    pipeline.run_product(small_product)
    stat = os.stat(small_product.science)
    os.utime(small_product.science, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    plan = pipeline.step_plan(small_product)
    assert set(states(plan).values()) == {TO_RUN}
    run_and_check_plan(pipeline, small_product)


def test_a_reference_added_to_the_folder_invalidates_its_step_and_later(small_product):
    pipeline = Image2Pipeline()
    pipeline.run_product(small_product)
    folder = os.path.dirname(small_product.science)
    write_reference(os.path.join(folder, "flat2.fits"), "FLAT", np.full((4, 4), 4.0))
    plan = pipeline.step_plan(small_product)
    index = STEP_NAMES.index("flat_field")
    assert [p.state for p in plan] == [CACHED] * index + [TO_RUN] * (len(STEPS) - index)
    assert pipeline.step_plan(small_product) == plan  # planning changes nothing
    run_and_check_plan(pipeline, small_product)


def test_the_plan_reads_no_pixels(small_product, monkeypatch):
    pipeline = Image2Pipeline()
    pipeline.run_product(small_product)
    import iris_gui.engine.pipeline as pipeline_module

    def no_reading(*_args, **_kwargs):
        raise AssertionError("the plan read pixels")

    monkeypatch.setattr(pipeline_module, "read_image", no_reading)
    monkeypatch.setattr(Image2Pipeline, "_run_step", no_reading)
    assert set(states(pipeline.step_plan(small_product)).values()) == {CACHED}


def test_a_product_with_problems_cannot_run(tmp_path):
    product = Product("gone", [Member(str(tmp_path / "gone_rate.fits"), "science")],
                      ["member gone_rate.fits not found"])
    plan = Image2Pipeline().step_plan(product)
    assert set(states(plan).values()) == {CANNOT_RUN}
    assert "not found" in plan[0].reason
