"""The review report re-made from ``_cal`` / ``_calints`` files and their PROVENANCE alone.

Each file's provenance names the inputs, references and parameters it was made with
(``engine.provenance.rerun_setup``). The product is run again in memory (nothing is written but
the report), so every step's Before and After can be shown, and the re-made product is compared
with the file, pixel for pixel (SCI with NaN equal to NaN, and DQ). A product is not re-made,
with the reason given, when an input or a recorded reference no longer exists (moved or
deleted), when a sha256 the provenance records no longer matches, when the run fails, or when
the re-made pixels differ from the file (an input or reference changed since: the files modified
after the product was made are named). Several files of one product (its ``_cal`` and ``_i2d``)
make one section.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..engine.cancel import CancelToken, check_cancel
from ..engine.config import PipelineConfig
from ..engine.errors import InputError
from ..engine.models import ImageModel, read_image
from ..engine.output_plan import OutputPlan
from ..engine.pipeline import Image2Pipeline, ProductResult
from ..engine.provenance import read_provenance, rerun_setup
from .build import ReportFiles, build_report, plan_report, write_report
from .checks import Thresholds
from .collect import files_of
from .images import DisplaySettings
from .model import NotRemade


@dataclass
class _Recorded:
    """One product as its files record it."""

    name: str
    files: list[str]
    document: dict
    product: object
    config: PipelineConfig
    ref_dir: str
    parameters: PipelineConfig
    notes: list[str] = field(default_factory=list)


def _created(document: dict) -> float | None:
    try:
        return datetime.datetime.fromisoformat(str(document.get("created"))).timestamp()
    except (TypeError, ValueError):
        return None


def _recorded_references(document: dict) -> list[str]:
    steps = document.get("steps") or {}
    return [path for info in steps.values() if isinstance(info, dict)
            for path in (info.get("references") or {}).values() if isinstance(path, str)]


def read_recorded(paths: Sequence[str | os.PathLike]) -> list[_Recorded]:
    """Every product the files record, in the order first named (InputError naming the file
    for one that is not an iris_gui output or whose provenance is damaged)."""
    products: dict[tuple, _Recorded] = {}
    for raw in paths:
        path = os.path.abspath(raw)
        document = read_provenance(path)
        product, config, ref_dir = rerun_setup(path)
        where = f"{path}: provenance: parameters"
        parameters = PipelineConfig.from_dict(document.get("parameters") or {}, where)
        key = (product.name, os.path.abspath(product.science))
        if key in products:
            products[key].files.append(path)
            continue
        products[key] = _Recorded(product.name, [path], document, product, config, ref_dir,
                                  parameters)
    return list(products.values())


def _why_not(recorded: _Recorded) -> str | None:
    """Why the product cannot be re-made before running it (None: it can be tried)."""
    product = recorded.product
    if product.problems:
        missing = [m.path for m in product.members if not os.path.exists(m.path)]
        return "; ".join(f"input {p} no longer exists (moved or deleted)" for p in missing) or \
            product.problems[0]
    gone = [p for p in _recorded_references(recorded.document) if not os.path.exists(p)]
    if gone:
        return "; ".join(f"reference {p} no longer exists (moved or deleted)" for p in gone)
    recorded_sha = recorded.document.get("sha256")
    if isinstance(recorded_sha, dict):
        from ..state.session_file import file_identity

        for path, digest in recorded_sha.items():
            now = file_identity(path)
            if now is not None and now["sha256"] != digest:
                return f"{path} changed since the product was made (sha256 {now['sha256'][:12]}…, " \
                       f"recorded {str(digest)[:12]}…)"
    return None


def _modified_after(recorded: _Recorded) -> list[str]:
    created = _created(recorded.document)
    if created is None:
        return []
    paths = list(recorded.product.input_paths) + _recorded_references(recorded.document)
    changed = []
    for path in paths:
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            continue
        if mtime > created + 1:  # "created" has whole seconds
            when = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc)
            changed.append(f"{Path(path).name} at {when.isoformat(timespec='seconds')}")
    return changed


def _model_for(path: str, result: ProductResult) -> ImageModel | None:
    """The re-made model that ``path`` holds (by its suffix: _i2d, _bsub, else the _cal)."""
    stem = Path(path).name.rsplit(".", 1)[0]
    if stem.endswith("_i2d"):
        step = result.steps.get("resample")
        return None if step is None else step.products.get("i2d")
    if stem.endswith(("_bsub", "_bsubints")):
        return result.bsub
    return result.final


def _differs(path: str, result: ProductResult) -> str | None:
    model = _model_for(path, result)
    if model is None:
        return f"the re-made product has nothing that {Path(path).name} holds"
    stored = read_image(path, what="iris_gui output")
    if stored.data.shape != model.data.shape:
        return (f"{Path(path).name} is {stored.data.shape}, the re-made product "
                f"{model.data.shape}")
    if not np.array_equal(stored.data, model.data, equal_nan=True) or \
            not np.array_equal(stored.dq, model.dq):
        changed = np.count_nonzero(~((stored.data == model.data) |
                                     (np.isnan(stored.data) & np.isnan(model.data))))
        return f"{changed} pixel(s) of {Path(path).name} differ from the re-made product"
    return None


def _recorded_warnings(document: dict) -> list[tuple[str, str]]:
    steps = document.get("steps") or {}
    return [(name, str(w)) for name, info in steps.items() if isinstance(info, dict)
            for w in (info.get("warnings") or [])]


def remake_results(recorded: list[_Recorded], *, ref_dir: str | None = None,
                   cancel: CancelToken | None = None,
                   progress: Callable[[float, str], None] | None = None
                   ) -> tuple[list[ProductResult], dict[int, dict], list[NotRemade]]:
    """Run each recorded product again; (results, their ``collect_product`` keywords, the
    products that could not be re-made)."""
    results: list[ProductResult] = []
    extra: dict[int, dict] = {}
    not_remade: list[NotRemade] = []
    for index, item in enumerate(recorded):
        check_cancel(cancel)
        if progress is not None:
            progress(index / max(1, len(recorded)), f"re-making {item.name}")
        first = Path(item.files[0]).name
        reason = _why_not(item)
        if reason is None:
            pipeline = Image2Pipeline(item.config, ref_dir=ref_dir or item.ref_dir, cache=False)
            result = pipeline.run_product(item.product, cancel)
            if result.cancelled:
                check_cancel(cancel)
            if not result.ok:
                reason = f"the re-run failed: {result.error}"
            else:
                differences = [d for d in (_differs(f, result) for f in item.files) if d]
                if differences:
                    modified = _modified_after(item)
                    reason = "; ".join(differences) + (
                        ": an input or reference changed since it was made"
                        + (f"; modified since: {', '.join(modified)}" if modified else ""))
        if reason is not None:
            not_remade.append(NotRemade(item.name, first, reason))
            continue
        result.outputs = [Path(f) for f in item.files]
        extra[len(results)] = {
            "parameters": item.parameters, "warnings": _recorded_warnings(item.document),
            "origin": f"re-made from {', '.join(Path(f).name for f in item.files)} and the "
                      f"provenance they carry (made {item.document.get('created', '?')}; step "
                      f"times are the re-run's)"}
        results.append(result)
    return results, extra, not_remade


def remake_report(paths: Sequence[str | os.PathLike], output_dir: str | os.PathLike, *,
                  reviewer: str = "", thresholds: Thresholds | None = None,
                  display: DisplaySettings | None = None, ref_dir: str | None = None,
                  progress: Callable[[float, str], None] | None = None,
                  cancel: CancelToken | None = None) -> ReportFiles:
    """Re-make the review report from iris_gui output files; the products that could not be
    re-made are in ``ReportFiles.report.not_remade`` (and on the report's cover)."""
    import time

    started = time.perf_counter()
    if not paths:
        raise InputError("no _cal file given to re-make the report from")
    recorded = read_recorded(paths)
    plan = OutputPlan()
    for item in recorded:
        for path in item.files:
            plan.add_read(path, f"the output {Path(path).name}")
        for path in list(item.product.input_paths) + _recorded_references(item.document):
            plan.add_read(path, f"input {Path(path).name} of product {item.name}")
    plan_report(plan, output_dir)
    plan.check()

    def part(low: float, high: float):
        if progress is None:
            return None
        return lambda fraction, message: progress(low + (high - low) * fraction, message)

    results, extra, not_remade = remake_results(recorded, ref_dir=ref_dir, cancel=cancel,
                                                progress=part(0.0, 0.5))
    for result in results:
        for path in files_of(result):
            plan.add_read(path, f"input {Path(path).name} of product {result.product.name}")
    plan.check()
    files = len({f for item in recorded for f in item.files})
    report = build_report(results, reviewer=reviewer, thresholds=thresholds, display=display,
                          progress=part(0.5, 0.85), cancel=cancel, extra=extra,
                          not_remade=not_remade,
                          origin=f"re-made from {files} file(s) and their provenance", share=1.0)
    html_path, pdf_path = write_report(report, output_dir, plan=plan, progress=part(0.85, 1.0),
                                       cancel=cancel, start=0.0)
    return ReportFiles(html_path, pdf_path, report, time.perf_counter() - started)
