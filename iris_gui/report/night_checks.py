"""The quick-look night table's numbers for one product: sky level, new DQ fraction and the
review report's checks, measured without drawing a picture.

- *sky level*: the median of the good pixels (``metrics.good_values``, sampled as the report
  samples) of the background bkg_subtract combined and subtracted; without one (no background,
  or the step off) the exposure's own median, and ``sky_source`` says ``science``.
- *new DQ fraction*: pixels whose DQ has any bit in the ``_cal`` that the rate file did not
  have (``metrics.new_dq``), over all pixels.
- *checks*: ``collect.product_checks`` on the steps' metrics (``step_report`` without
  pictures): ``verdict`` is the worst, ``checks`` every check that did not pass.
"""

from __future__ import annotations

import math

import numpy as np

from ..engine.pipeline import ProductResult
from ..engine.steps import COMPLETE, STEPS
from . import metrics as mx
from .checks import PASS, Thresholds, worst
from .collect import CollectContext, product_checks, reference_files
from .images import DisplaySettings
from .model import ProductReport
from .step_metrics import StepInputs
from .step_sections import ArrayCache, step_report


class _NoHashes:
    """The night table names no sha256 (the outputs' provenance records them)."""

    def sha256(self, path: str) -> None:
        return None


def _median_of(model) -> float:
    step = mx.sample_step(model.data.shape)
    values = mx.good_values(mx.sampled(model.data, step), mx.sampled(model.dq, step))
    return float(np.median(values)) if values.size else math.nan


def sky_level(result: ProductResult) -> tuple[float | None, str]:
    """(level, "backgrounds" | "science"); (None, "") with nothing to measure."""
    step = result.steps.get("bkg_subtract")
    background = step.products.get("background") if step is not None and \
        step.status == COMPLETE else None
    if background is not None:
        return _median_of(background), "backgrounds"
    if result.input_model is not None:
        return _median_of(result.input_model), "science"
    return None, ""


def new_dq_fraction(result: ProductResult) -> float | None:
    final, rate = result.final, result.input_model
    if final is None or rate is None or final.dq.shape != rate.dq.shape or not final.dq.size:
        return None
    return int(np.count_nonzero(mx.new_dq(rate.dq, final.dq))) / final.dq.size


def night_measurements(result: ProductResult, thresholds: Thresholds | None = None) -> dict:
    """The row fields ``NightRow`` takes from a finished product (see the module docstring)."""
    thresholds = thresholds or Thresholds()
    settings = DisplaySettings()
    cache = ArrayCache(settings)
    ctx = CollectContext(settings, thresholds, cache, _NoHashes())
    report = ProductReport(result.product.name, "", "unknown",
                           "done" if result.ok else "failed", result.error or "")
    report.references = reference_files(result, result.config, ctx)
    model = result.input_model
    report.warnings = [("input", w) for w in (model.read_warnings if model is not None else [])]
    report.warnings += [(name, w) for name, step in result.steps.items() for w in step.warnings]
    inputs = StepInputs(result.product, result.config.steps)
    for spec in STEPS:
        step = result.steps.get(spec.name)
        if step is not None:
            report.steps.append(step_report(spec, step, result.before(spec.name), inputs, cache,
                                            pictures=False))
    checks = product_checks(report, result, result.config, thresholds)
    level, source = sky_level(result)
    return {"sky_level": level, "sky_source": source,
            "new_dq_fraction": new_dq_fraction(result),
            "verdict": worst(c.verdict for c in checks),
            "checks": {f"{c.check}{'@' + c.step if c.step else ''}": c.verdict
                       for c in checks if c.verdict != PASS}}

