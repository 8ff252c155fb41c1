"""Making a review report: collect every product, draw the HTML and the PDF, write both whole.

``make_report`` is the one call the window makes (on its worker thread) and the command line
makes after a run: ``progress(fraction, message)`` is called as it goes, a ``CancelToken`` stops
it (``engine.errors.Cancelled``; nothing is written). The two files are planned outputs
(``plan_report``: never over a file the run reads, never onto a folder) written through
``engine.files.write_all_or_nothing``: both or neither.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .. import __version__
from ..engine.cancel import CancelToken, check_cancel
from ..engine.errors import InputError
from ..engine.files import OutputWriteError, check_output_dir, write_all_or_nothing
from ..engine.output_plan import OutputPlan, OutputPlanError
from ..engine.pipeline import ProductResult
from ..engine.steps import STEPS
from .checks import Thresholds
from .collect import CollectContext, Hasher, collect_product, files_of
from .images import DisplaySettings
from .model import NotRemade, ProductReport, Report
from .step_sections import ArrayCache

HTML_NAME = "review.html"
PDF_NAME = "review.pdf"
TITLE = "IRIS imager image2 — commissioning review"

Progress = Callable[[float, str], None]


@dataclass
class ReportFiles:
    """What ``make_report`` wrote, the report itself and how long it took."""

    html: Path
    pdf: Path
    report: Report
    seconds: float


def software_versions() -> dict[str, str]:
    versions = {"iris_gui": __version__}
    for name in ("numpy", "astropy", "drizzle", "reportlab", "Pillow"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["Python"] = platform.python_version()
    return versions


def _signoff_dict(signoff) -> dict[str, str] | None:
    if signoff is None:
        return None
    if hasattr(signoff, "to_dict"):
        return signoff.to_dict()
    return {k: str(signoff.get(k, "")) for k in ("verdict", "by", "when")}


def report_paths(output_dir: str | os.PathLike) -> tuple[Path, Path]:
    directory = Path(os.path.abspath(output_dir))
    return directory / HTML_NAME, directory / PDF_NAME


def plan_report(plan: OutputPlan, output_dir: str | os.PathLike,
                option: str = "the review report") -> tuple[Path, Path]:
    """Add ``review.html`` and ``review.pdf`` in ``output_dir`` to ``plan`` (checked with the
    rest of it by ``plan.check``); an output folder that is a file is refused here."""
    directory = Path(os.path.abspath(output_dir))
    if os.path.lexists(directory) and not directory.is_dir():
        raise OutputPlanError(f"{option} folder {directory} is a file; choose a folder")
    html_path, pdf_path = report_paths(directory)
    plan.add_file(html_path, "", "", f"{option} ({HTML_NAME})")
    plan.add_file(pdf_path, "", "", f"{option} ({PDF_NAME})")
    return html_path, pdf_path


def _progress(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(min(1.0, max(0.0, fraction)), message)


class ReportCollector:
    """Collects products into a report one at a time, as they finish: ``add(result)`` right
    away, or on a background thread (``background=True``: the command line collects a product
    while the next one runs). ``report()`` waits for what is pending and returns the Report.

    ``notes`` and ``signoffs`` are keyed by product name (a sign-off: ``state.workbench.SignOff``
    or a mapping with verdict, by, when).
    """

    def __init__(self, *, reviewer: str = "", notes: Mapping[str, str] | None = None,
                 signoffs: Mapping | None = None, thresholds: Thresholds | None = None,
                 display: DisplaySettings | None = None, cancel: CancelToken | None = None,
                 background: bool = False) -> None:
        self.reviewer = reviewer
        self.notes = dict(notes or {})
        self.signoffs = dict(signoffs or {})
        self.settings = display or DisplaySettings()
        self.thresholds = thresholds or Thresholds()
        self.hasher = Hasher()
        self.ctx = CollectContext(self.settings, self.thresholds, ArrayCache(self.settings),
                                  self.hasher, cancel)
        self._pool = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-collect")
                      if background else None)
        self._pending: list[tuple[ProductResult, Future]] = []

    def _collect(self, result: ProductResult, extra: dict) -> ProductReport:
        name = result.product.name
        return collect_product(result, self.ctx, note=self.notes.get(name, ""),
                               signoff=_signoff_dict(self.signoffs.get(name)), **extra)

    def add(self, result: ProductResult, **extra) -> None:
        """Collect ``result`` (``extra``: ``collect_product`` keywords, e.g. a re-made product's
        recorded parameters and warnings). Its input and reference files start hashing now."""
        for path in files_of(result):
            self.hasher.submit(path)
        if self._pool is not None:
            future = self._pool.submit(self._collect, result, extra)
        else:
            future = Future()
            future.set_result(self._collect(result, extra))
        self._pending.append((result, future))

    def report(self, *, origin: str = "made after the run",
               not_remade: Sequence[NotRemade] = (), progress: Progress | None = None,
               share: float = 0.7, night: Sequence = ()) -> Report:
        products = []
        try:
            for index, (result, future) in enumerate(self._pending):
                _progress(progress, share * index / max(1, len(self._pending)),
                          f"collecting {result.product.name}")
                product = future.result()
                product.outputs = [str(p) for p in result.outputs]  # written after it was added
                anchors = {p.anchor for p in products}
                base, number = product.anchor, 1
                while product.anchor in anchors:  # two products of one name (two associations)
                    number += 1
                    product.anchor = f"{base}-{number}"
                products.append(product)
        finally:
            self.close()
        _progress(progress, share, "collected every product")
        return Report(
            title=TITLE,
            created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            reviewer=self.reviewer, versions=software_versions(), products=products,
            thresholds=self.thresholds, display=self.settings,
            step_names=[s.name for s in STEPS], step_titles={s.name: s.title for s in STEPS},
            not_remade=list(not_remade), origin=origin, night=list(night))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self.hasher.close()


def build_report(results: Sequence[ProductResult], *, reviewer: str = "",
                 notes: Mapping[str, str] | None = None, signoffs: Mapping | None = None,
                 thresholds: Thresholds | None = None, display: DisplaySettings | None = None,
                 progress: Progress | None = None, cancel: CancelToken | None = None,
                 origin: str = "made after the run", extra: Mapping[int, dict] | None = None,
                 not_remade: Sequence[NotRemade] = (), share: float = 0.7,
                 night: Sequence = ()) -> Report:
    """Collect every product of ``results`` (done or failed) into a ``Report``; ``extra[i]``
    passes ``collect_product`` keywords for ``results[i]``; ``night``: the quick-look's night
    table rows (a section of their own)."""
    collector = ReportCollector(reviewer=reviewer, notes=notes, signoffs=signoffs,
                                thresholds=thresholds, display=display, cancel=cancel)
    try:
        for index, result in enumerate(results):
            check_cancel(cancel)
            _progress(progress, share * index / max(1, len(results)),
                      f"collecting {result.product.name}")
            collector.add(result, **(extra or {}).get(index, {}))
    except BaseException:
        collector.close()
        raise
    report = collector.report(origin=origin, not_remade=not_remade, night=night)
    _progress(progress, share, "collected every product")
    return report


def write_report(report: Report, output_dir: str | os.PathLike, *,
                 plan: OutputPlan | None = None, progress: Progress | None = None,
                 cancel: CancelToken | None = None, start: float = 0.7) -> tuple[Path, Path]:
    """Draw ``report`` and write ``review.html`` and ``review.pdf`` into ``output_dir`` (both or
    neither). Without a ``plan`` one is made for these two files alone and checked."""
    from .html_page import render_html
    from .pdf_document import render_pdf

    if plan is None:
        plan = OutputPlan()
        html_path, pdf_path = plan_report(plan, output_dir)
        plan.check()
    else:
        html_path, pdf_path = report_paths(output_dir)
        planned = plan.paths_for("", "")
        for path in (html_path, pdf_path):
            if path not in planned:
                raise OutputWriteError(f"{path} is not in the output plan; nothing written "
                                       f"(this is a bug)")
    check_cancel(cancel)
    _progress(progress, start, "drawing the HTML page")
    text = render_html(report)
    check_cancel(cancel)
    _progress(progress, start + (1 - start) * 0.3, "drawing the PDF")
    pdf_bytes = render_pdf(report, cancel=cancel)
    check_cancel(cancel)
    _progress(progress, 0.98, "writing")
    check_output_dir(html_path.parent)
    write_all_or_nothing([
        (html_path, lambda tmp: tmp.write_text(text, encoding="utf-8")),
        (pdf_path, lambda tmp: tmp.write_bytes(pdf_bytes)),
    ])
    _progress(progress, 1.0, f"wrote {html_path.name} and {pdf_path.name}")
    return html_path, pdf_path


def make_report(results: Sequence[ProductResult], output_dir: str | os.PathLike, *,
                reviewer: str = "", notes: Mapping[str, str] | None = None,
                signoffs: Mapping | None = None, thresholds: Thresholds | None = None,
                display: DisplaySettings | None = None, progress: Progress | None = None,
                cancel: CancelToken | None = None, plan: OutputPlan | None = None,
                **collect) -> ReportFiles:
    """Collect, draw and write the review report of ``results`` into ``output_dir``.

    The call the window makes on its worker thread: ``progress(fraction, message)`` reports,
    ``cancel`` stops it (raises ``Cancelled``; nothing written). Raises ``InputError`` for an
    output folder that cannot be used and ``OutputWriteError`` when the disk says no.
    """
    started = time.perf_counter()
    if plan is None:
        plan = OutputPlan()
        for result in results:
            for path in files_of(result):
                plan.add_read(path, f"input {Path(path).name} of product {result.product.name}")
        plan_report(plan, output_dir)
        plan.check()
    report = build_report(results, reviewer=reviewer, notes=notes, signoffs=signoffs,
                          thresholds=thresholds, display=display, progress=progress,
                          cancel=cancel, **collect)
    html_path, pdf_path = write_report(report, output_dir, plan=plan, progress=progress,
                                       cancel=cancel)
    return ReportFiles(html_path, pdf_path, report, time.perf_counter() - started)


def review_inputs_from_workbench(workbench, products=None) -> dict:
    """``make_report`` keywords from the window's workbench: the last result, note, sign-off
    and star checks of each product (every product with a result by default), and the reviewer.

    ``make_report(**review_inputs_from_workbench(workbench), output_dir=...)``
    """
    chosen = products if products is not None else workbench.all_products
    results, notes, signoffs, extra = [], {}, {}, {}
    stars = getattr(workbench.view, "star_checks", ())
    for product in chosen:
        key = workbench.key(product)
        result = workbench.product_results.get(key)
        if result is None:
            continue
        checks = [c for c in stars if c.product == product.name]
        if checks:
            extra[len(results)] = {"star_checks": checks}
        results.append(result)
        if workbench.notes.get(key):
            notes[product.name] = workbench.notes[key]
        if key in workbench.signoffs:
            signoffs[product.name] = workbench.signoffs[key]
    if not results:
        raise InputError("no product has a result to report on; run them first")
    inputs = {"results": results, "notes": notes, "signoffs": signoffs,
              "reviewer": workbench.reviewer,
              "display": DisplaySettings.from_view_state(workbench.view)}
    if extra:
        inputs["extra"] = extra
    night = getattr(workbench, "night", None)
    if night is not None and len(night):
        inputs["night"] = list(night.rows)
    return inputs
