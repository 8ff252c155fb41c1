"""What the window says about each product and step, derived from the engine's plan and the
product's last result (never stored in widgets).

``step_statuses(workbench, product)`` gives one ``StepStatus`` per step: the last result's status
where the current plan would give that very result, otherwise what a run would do now (stale,
off, cached, to run, cannot run). ``product_status`` is the Inputs list's word for a product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..engine.step_plan import CACHED, CANNOT_RUN, OFF, current_steps
from ..engine.steps import STEPS, StepResult
from .run_progress import QUEUED, ProductProgress

if TYPE_CHECKING:
    from ..engine.association import Product
    from .workbench import Workbench

#: states the Steps list colours: the engine's step statuses and these
RUNNING, STALE, PENDING, WARNING = "running", "stale", "pending", "warning"


@dataclass(frozen=True)
class StepStatus:
    step: str
    #: COMPLETE, SKIPPED, FAILED, running, stale, off, cached, pending, warning
    state: str
    text: str
    tooltip: str = ""


def result_status(name: str, result: StepResult) -> StepStatus:
    """How a finished step reads: status, time, cached, its reason, its warnings."""
    if result.status == "FAILED":
        return StepStatus(name, "FAILED", "failed", result.reason)
    timing = f" {result.elapsed:.2f} s" if result.status == "COMPLETE" else ""
    cached = " (cached)" if result.from_cache else ""
    text = f"{result.status.lower()}{timing}{cached}"
    tooltip = result.reason or text
    state = result.status
    if result.status == "SKIPPED" and result.reason:
        text = f"skipped: {result.reason}"
    if result.warnings:  # the step says what is suspicious; its reason stays in view too
        state, text = WARNING, f"⚠ {text}"
        tooltip = "\n".join(([result.reason] if result.reason else []) + result.warnings)
    if result.notes:  # the reference chosen and why, beneath what the step itself says
        tooltip = "\n".join([tooltip, *result.notes])
    return StepStatus(name, state, text, tooltip)


def step_statuses(workbench: Workbench, product: Product) -> list[StepStatus]:
    """The Steps list of ``product`` under the current parameters (see the module docstring).
    A run in progress shows its own statuses (the window tracks those as they come)."""
    config = workbench.config
    plans = workbench.plan_for(product)
    result = workbench.result_for(product)
    current = current_steps(plans, result)
    same_config = result is not None and result.config.to_dict() == config.to_dict()
    upstream_current = True
    statuses = []
    for plan in plans:
        name = plan.step
        step = result.steps.get(name) if result is not None else None
        if plan.state == CANNOT_RUN:
            status = StepStatus(name, "FAILED", "cannot run", plan.reason)
        elif step is not None and (current[name] or (
                step.status == "FAILED" and same_config and upstream_current)):
            status = result_status(name, step)
        elif plan.state == OFF:
            text = "off (skip = True)" + (" — stale: the last run ran it" if step is not None
                                          else "")
            status = StepStatus(name, OFF, text, plan.reason)
        elif step is not None:
            status = StepStatus(name, STALE, "stale (parameters changed)",
                                "the shown result was made with other parameters, inputs or "
                                f"references; a run would recompute it ({plan.reason})")
        elif plan.state == CACHED:
            status = StepStatus(name, CACHED, "cached", plan.reason)
        else:
            status = StepStatus(name, PENDING, "to run", plan.reason)
        statuses.append(status)
        upstream_current = upstream_current and current[name]
    return statuses


def live_step_statuses(progress: ProductProgress) -> list[StepStatus]:
    """The Steps list of a product whose run is in progress, from what the run reported so far
    (the steps of a product running in the pool come as statuses; its arrays when it is done)."""
    statuses = []
    for step in STEPS:
        done = progress.steps.get(step.name)
        if done is not None:
            statuses.append(result_status(step.name, done))
        elif step.name == progress.step:
            statuses.append(StepStatus(step.name, RUNNING, f"running {progress.fraction:.0%}"))
        elif progress.state == QUEUED:
            statuses.append(StepStatus(step.name, PENDING, "queued",
                                       "the product waits for a free worker"))
        else:
            statuses.append(StepStatus(step.name, PENDING, "to run"))
    return statuses


def product_status(workbench: Workbench, product: Product) -> tuple[str, str]:
    """(word, tooltip) for ``product`` in the Inputs list."""
    key = workbench.key(product)
    if key in workbench.open_failures:
        return "⚠ unreadable", workbench.open_failures[key]
    if product.problems:
        return "⚠ cannot run", "\n".join(product.problems)
    progress = workbench.run_progress.get(key)
    if progress is not None:
        where = ("in a worker process (its results come when it is done)" if progress.in_pool
                 else "in the window's process")
        return progress.label, ("waiting for its turn in the run" if progress.state == QUEUED
                                else f"running {where}")
    if key in workbench.partial:
        return "running…", "a run of this product is in progress"
    result = workbench.result_for(product)
    if result is None:
        return "product", "not run yet"
    if not result.ok:
        return "failed", result.error or "the last run failed"
    if workbench.is_stale(product):
        return "● stale", ("its result was made with other parameters, inputs or references "
                           "than the current ones: run it again")
    if result.steps and all(step.from_cache for step in result.steps.values()):
        return "done (cached)", "its result matches the current parameters (every step reused)"
    return (f"done {result.elapsed:.1f} s",
            f"its result matches the current parameters (computed in {result.elapsed:.1f} s)")


def caption(workbench: Workbench, product: Product | None, step_name: str,
            statuses: list[StepStatus] | None = None) -> str:
    """The view's title line: the product, the step and the status the Steps list shows (one
    source, so the title cannot say COMPLETE while the list says stale); ``statuses``: the
    product's ``step_statuses`` when the caller has them already."""
    if product is None:
        return "Run a product to see each step's input and output."
    key = workbench.key(product)
    if key in workbench.open_failures:
        return f"{product.name} — cannot be read: {workbench.open_failures[key]}"
    if product.problems:
        return f"{product.name} — cannot run: {product.problems[0]}"
    progress = workbench.run_progress.get(key)
    if progress is not None and key not in workbench.partial:
        where = " in a worker process" if progress.in_pool else ""
        return f"{product.name} — {progress.label}{where}"
    result = workbench.shown_result(product)
    if result is None:
        return f"{product.name} — reading the exposure…"
    if not result.steps:
        return f"{product.name} — the exposure as read; not run yet"
    if key in workbench.partial:
        step = result.steps.get(step_name)
        return f"{product.name} — {step_name}: {step.status.lower() if step else 'running…'}"
    statuses = statuses if statuses is not None else step_statuses(workbench, product)
    status = next(s for s in statuses if s.step == step_name)
    return f"{product.name} — {step_name}: {status.text}"
