"""From a run's ``ProductResult`` to the report's ``ProductReport``: inputs with sha256 and header
keywords, background members, references used (chosen or overridden), the parameter set against
the defaults, warnings, the reviewer's note and sign-off, every step that ran (``step_sections``)
and the checks with the product's traffic light.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from astropy.io import fits

from ..engine.cancel import CancelToken, check_cancel
from ..engine.config import PIPELINE_PARAMETERS, PipelineConfig
from ..engine.outputs import product_source
from ..engine.pipeline import ProductResult
from ..engine.references import read_reference_header
from ..engine.steps import FAILED, SKIPPED, STEPS
from .checks import CHECK_BY_NAME, Thresholds, format_value, worst
from .images import DisplaySettings
from .model import CheckResult, FileInfo, ParameterRow, ProductReport
from .step_metrics import StepInputs
from .step_sections import FLAG_CHECKED_STEPS, ArrayCache, step_report

INPUT_KEYWORDS = ("INSTRUME", "DETECTOR", "FILTER", "EXPTIME", "SUBARRAY", "DATE-OBS")
REFERENCE_KEYWORDS = ("REFTYPE", "DATAMODL", "USEAFTER", "DATE", "INSTRUME", "DETECTOR", "FILTER")


class Hasher:
    """sha256 of files on a background thread (hashlib releases the GIL), each file once while
    it is unchanged (the session files' cache, ``state.session_file.file_identity``)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-sha256")
        self._futures: dict[str, Future] = {}

    def submit(self, path: str) -> None:
        from ..state.session_file import file_identity

        if path and path not in self._futures:
            self._futures[path] = self._pool.submit(file_identity, path)

    def sha256(self, path: str) -> str | None:
        self.submit(path)
        identity = self._futures[path].result()
        return None if identity is None else identity["sha256"]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class CollectContext:
    settings: DisplaySettings
    thresholds: Thresholds
    cache: ArrayCache
    hasher: Hasher
    cancel: CancelToken | None = None
    #: path -> primary header (read once per report)
    headers: dict[str, Any] = field(default_factory=dict)

    def header(self, path: str):
        if path not in self.headers:
            try:
                self.headers[path] = fits.getheader(path, 0)
            except Exception:  # noqa: BLE001 - a file that cannot be read shows no keywords
                self.headers[path] = None
        return self.headers[path]


def files_of(result: ProductResult) -> list[str]:
    """Every input and reference file of a result (for hashing ahead)."""
    paths = list(result.product.input_paths)
    for step in result.steps.values():
        paths.extend(step.references.values())
    return paths


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _keywords(header, keys) -> dict[str, str]:
    if header is None:
        return {}
    return {key: _text(header[key]) for key in keys if header.get(key) is not None}


def input_files(result: ProductResult, ctx: CollectContext) -> tuple[list[FileInfo], list[FileInfo]]:
    product = result.product
    model = result.input_model
    science_header = model.header if model is not None else ctx.header(product.science)
    keywords = _keywords(science_header, INPUT_KEYWORDS)
    if model is not None:
        try:
            keywords["window"] = model.window.describe()
        except Exception:  # noqa: BLE001 - the run said what is wrong with the keywords
            pass
        if model.is_3d:
            keywords["NINTS"] = str(model.nints)
    science = FileInfo("science", product.science, ctx.hasher.sha256(product.science), keywords)
    backgrounds = [FileInfo("background", path, ctx.hasher.sha256(path),
                            _keywords(ctx.header(path), INPUT_KEYWORDS + ("S_DARK",)))
                   for path in product.backgrounds]
    return [science], backgrounds


def reference_files(result: ProductResult, parameters: PipelineConfig,
                    ctx: CollectContext) -> list[FileInfo]:
    references = []
    for step in STEPS:
        step_result = result.steps.get(step.name)
        params = parameters.steps[step.name]
        if step.name == "photom" and step_result is not None and \
                step_result.status != SKIPPED and params.get("photmjsr") is not None:
            references.append(FileInfo("photom", "(none: the photmjsr parameter)", None,
                                       {"PHOTMJSR": _text(params["photmjsr"])}, step.name,
                                       "photmjsr parameter"))
        if step_result is None:
            continue
        for kind, path in step_result.references.items():
            override = params.get(f"override_{kind}")
            how = (f"override (override_{kind})" if override else
                   f"chosen from {result.ref_dir}")
            references.append(FileInfo(kind, path, ctx.hasher.sha256(path),
                                       _keywords(ctx.header(path), REFERENCE_KEYWORDS),
                                       step.name, how))
    return references


def parameter_rows(config: PipelineConfig) -> list[ParameterRow]:
    defaults = PipelineConfig()
    rows = [ParameterRow(p.name, p.to_text(config.pipeline[p.name]),
                         p.to_text(defaults.pipeline[p.name])) for p in PIPELINE_PARAMETERS]
    for step in STEPS:
        for parameter in step.all_parameters:
            rows.append(ParameterRow(f"steps.{step.name}.{parameter.name}",
                                     parameter.to_text(config.steps[step.name][parameter.name]),
                                     parameter.to_text(defaults.steps[step.name][parameter.name])))
    return rows


def unchecked_references(result: ProductResult, references: list[FileInfo]) -> list[str]:
    """References chosen from the folder without the INSTRUME/DETECTOR check (one line each)."""
    model = result.input_model
    if model is None:
        return []
    found = []
    for info in references:
        if not info.how.startswith("chosen") or not os.path.isfile(info.path):
            continue
        try:
            header = read_reference_header(info.path)
        except Exception:  # noqa: BLE001 - unreadable now: nothing to say about its identity
            continue
        missing = [key for key, ours, theirs in (("INSTRUME", model.instrument, header.instrument),
                                                 ("DETECTOR", model.detector, header.detector))
                   if not ours or not theirs]
        if missing:
            found.append(f"{info.kind} reference {Path(info.path).name}: no {' / '.join(missing)} "
                         f"to match")
    return found


def _check(thresholds: Thresholds, name: str, value, step: str = "", detail: str = "",
           shown_value=None) -> CheckResult:
    spec = CHECK_BY_NAME[name]
    shown = format_value(value if shown_value is None else shown_value, spec.unit)
    if spec.kind == "flag":
        shown = "found" if value else "not found"
    return CheckResult(name, spec.title, step, value, shown, thresholds.describe(name),
                       thresholds.verdict(name, value), detail)


def product_checks(report: ProductReport, result: ProductResult, parameters: PipelineConfig,
                   thresholds: Thresholds) -> list[CheckResult]:
    checks: list[CheckResult] = []
    failed = [s.name for s in report.steps if s.status == FAILED]
    checks.append(_check(thresholds, "step_failed", bool(failed) or not result.ok,
                         detail=report.error or ", ".join(failed)))
    for step in report.steps:
        if step.status != "COMPLETE":
            continue
        metric = step.metric
        if step.name in FLAG_CHECKED_STEPS:
            for check, key in (("new_flags", "new_flag_fraction"), ("nan_growth",
                                                                    "new_nan_fraction")):
                if metric(key) is not None:
                    checks.append(_check(thresholds, check, metric(key).value, step.name))
        if step.name == "flat_field" and metric("ratio_median") is not None:
            checks.append(_check(thresholds, "flat_ratio", abs(metric("ratio_median").value - 1),
                                 step.name, f"median ratio {metric('ratio_median').value:.6g}"))
        if step.name == "resample" and metric("flux_ratio") is not None:
            value = metric("flux_ratio").value
            checks.append(_check(thresholds, "resample_flux", abs(value - 1), step.name,
                                 f"F(_i2d) / F(_cal) = {value:.6g}"))
        if step.name == "dark_current" and metric("dark_twice") is not None:
            checks.append(_check(thresholds, "dark_twice", metric("dark_twice").value, step.name))
        if step.name == "bkg_subtract" and metric("clip_can_reject") is not None:
            checks.append(_check(thresholds, "clip_cannot_reject",
                                 not metric("clip_can_reject").value, step.name,
                                 metric("clip_can_reject").note))
    if not parameters.steps["bkg_subtract"]["skip"]:
        checks.append(_check(thresholds, "few_backgrounds", len(result.product.backgrounds),
                             "bkg_subtract"))
    for line in unchecked_references(result, report.references):
        checks.append(_check(thresholds, "reference_unchecked", True, detail=line))
    if not any(c.check == "reference_unchecked" for c in checks):
        checks.append(_check(thresholds, "reference_unchecked", False))
    checks.append(_check(thresholds, "step_warnings", len(report.warnings)))
    return checks


def collect_product(result: ProductResult, ctx: CollectContext, *, note: str = "",
                    signoff: dict[str, str] | None = None,
                    parameters: PipelineConfig | None = None, origin: str = "",
                    warnings: list[tuple[str, str]] | None = None,
                    star_checks=()) -> ProductReport:
    """The report of one product. ``parameters`` and ``warnings`` replace the result's own when
    the result was re-made (the recorded parameter set; the warnings the first run gave);
    ``star_checks``: the window's star checks of this product, measured again on ``result``."""
    check_cancel(ctx.cancel)
    parameters = parameters or result.config
    status = "done" if result.ok else ("cancelled" if result.cancelled else "failed")
    model = result.input_model
    report = ProductReport(result.product.name, product_source(result.product), "unknown",
                           status, result.error or "", bool(model is not None and model.is_3d),
                           model.nints if model is not None else 1, note=note, signoff=signoff,
                           origin=origin, outputs=[str(p) for p in result.outputs])
    report.inputs, report.backgrounds = input_files(result, ctx)
    report.references = reference_files(result, parameters, ctx)
    report.parameters = parameter_rows(parameters)
    report.parameter_source = parameters.source or ""
    if warnings is None:
        warnings = [("input", w) for w in (model.read_warnings if model is not None else [])]
        warnings += [(name, w) for name, step in result.steps.items() for w in step.warnings]
    report.warnings = list(warnings)
    inputs = StepInputs(result.product, result.config.steps)
    for step in STEPS:
        step_result = result.steps.get(step.name)
        if step_result is None:
            continue
        report.steps.append(step_report(step, step_result, result.before(step.name), inputs,
                                        ctx.cache, ctx.cancel))
    if star_checks:
        from .star_table import remeasure

        check_cancel(ctx.cancel)
        report.star_checks = remeasure(result, star_checks)
    report.checks = product_checks(report, result, parameters, ctx.thresholds)
    report.verdict = worst(c.verdict for c in report.checks)
    return report
