"""What a run of one product would do now, step by step, without running anything.

``plan_product`` walks the steps with the runner's own cache key (``Image2Pipeline._step_key``),
so its answer is exactly what ``run_product`` will do: a step whose key is in the cache (and whose
references are unchanged) is reused, any other step is computed. It reads no pixels: only what the
cache key needs (file stats and the reference folder signature).

``result_is_current`` and ``product_is_stale`` tell whether a product's last result is what the
current parameters would give, so nothing shown or exported can differ from what a run would make.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .steps import FAILED, STEPS, StepResult

if TYPE_CHECKING:
    from .association import Product
    from .config import PipelineConfig
    from .pipeline import Image2Pipeline, ProductResult

CACHED = "cached"
TO_RUN = "to run"
OFF = "off"
FAILED_STATE = "failed"
CANNOT_RUN = "cannot run"

STATES = (CACHED, TO_RUN, OFF, FAILED_STATE, CANNOT_RUN)


@dataclass(frozen=True)
class StepPlan:
    """One step of a product's plan: ``state`` is one of ``STATES``, ``reason`` says why."""

    step: str
    state: str
    reason: str = ""
    #: the runner's cache key for this step under the planned parameters
    key: str = field(default="", repr=False)
    #: the cached result a run would reuse (None when the step would be computed)
    cached: StepResult | None = field(default=None, repr=False, compare=False)


def plan_product(pipeline: Image2Pipeline, product: Product,
                 config: PipelineConfig | None = None) -> list[StepPlan]:
    """The plan of ``product`` under ``config`` (the pipeline's own config by default)."""
    config = config if config is not None else pipeline.config
    if product.problems:
        reason = f"product {product.name}: {product.problems[0]}"
        return [StepPlan(step.name, CANNOT_RUN, reason) for step in STEPS]
    if not os.path.isfile(product.science):
        reason = f"science file {product.science} not found"
        return [StepPlan(step.name, CANNOT_RUN, reason) for step in STEPS]
    ref_dir = pipeline.ref_dir_for(product)
    key = pipeline._input_key(product, ref_dir)
    plans: list[StepPlan] = []
    for step in STEPS:
        key = pipeline._step_key(key, step, config, ref_dir)
        cached = pipeline._cached_step(key)
        if config.steps[step.name]["skip"]:
            plans.append(StepPlan(step.name, OFF, "skip = True in the parameters", key, cached))
        elif cached is None:
            plans.append(StepPlan(step.name, TO_RUN, _why_run(pipeline, product, step.name), key))
        elif cached.status == FAILED:
            plans.append(StepPlan(step.name, FAILED_STATE, cached.reason or "failed", key, cached))
        else:
            plans.append(StepPlan(step.name, CACHED, "a result for these inputs, parameters "
                                  "and references is cached", key, cached))
    return plans


def _why_run(pipeline: Image2Pipeline, product: Product, step: str) -> str:
    if not pipeline.use_cache:
        return "results are not cached"
    if not pipeline._has_slot(product, step):
        return "not run yet"
    return "inputs, parameters or references changed since it last ran"


def result_is_current(plan: StepPlan, step_result: StepResult | None) -> bool:
    """True when ``step_result`` is the very result a run would give (the cached one)."""
    return (step_result is not None and plan.cached is not None
            and step_result.model is plan.cached.model)


def current_steps(plans: list[StepPlan], result: ProductResult | None) -> dict[str, bool]:
    """step name -> whether ``result``'s output for it is what the current plan gives."""
    steps = result.steps if result is not None else {}
    return {plan.step: result_is_current(plan, steps.get(plan.step)) for plan in plans}


def product_is_stale(plans: list[StepPlan], result: ProductResult | None,
                     config: PipelineConfig) -> bool:
    """A finished result that no longer matches: made with other parameters, or some step of
    the current plan would be computed again (or differs from the cached result)."""
    if result is None or not result.ok:
        return False
    if result.config.to_dict() != config.to_dict():
        return True
    return not all(current_steps(plans, result).values())
