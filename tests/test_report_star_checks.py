"""The review report's star checks: the window's checks of a product, measured again on the
reported result (the numbers the dock showed), as a table per star in the HTML and the PDF;
none, no section; a view the result no longer has is said in its row."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
from test_star_check import gaussian_star

from iris_gui.display import star_check as sc
from iris_gui.display import view_sources as vs
from iris_gui.engine.association import Member, Product
from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.models import ImageModel
from iris_gui.engine.pipeline import ProductResult
from iris_gui.engine.steps import StepResult
from iris_gui.report.build import build_report, review_inputs_from_workbench
from iris_gui.report.html_page import render_html
from iris_gui.report.pdf_document import render_pdf
from iris_gui.state.star_checks import StarCheck, StarMeasure
from iris_gui.state.view_state import ViewState


def flat_result(name="starry", flat=0.8):
    data = gaussian_star((72, 96), 40.3, 33.6, 1.4, 500.0, sky=50.0).astype(np.float32)
    before = ImageModel(data, np.ones_like(data), np.zeros(data.shape, np.uint32))
    after = before.derive(data=(data / np.float32(flat)).astype(np.float32))
    result = ProductResult(Product(name, [Member(f"{name}_rate.fits", "science")]),
                           PipelineConfig(), "", input_model=before)
    result.steps["flat_field"] = StepResult("COMPLETE", after)
    return result


def window_check(result):
    """The check the dock makes for a click at (41, 34) of pane A."""
    views = vs.step_views(result, "flat_field")
    frames = {"A": sc.frame_of("A", views.sources[vs.BEFORE], 0),
              "B": sc.frame_of("B", views.sources[vs.AFTER], 0)}
    return sc.measure_check(frames, "A", 41.0, 34.0, (4.0, 8.0, 12.0),
                            product=result.product.name, step="flat_field")


def test_the_report_shows_each_star_check_as_the_window_measured_it():
    result = flat_result()
    check = window_check(result)
    report = build_report([result], extra={0: {"star_checks": [check]}})
    (product,) = report.products
    assert product.star_checks == [check]             # measured again: the same numbers
    page = render_html(report)
    assert "<h3>Star checks</h3>" in page
    assert f"data-flux-ratio='{check.flux_ratio()!r}'" in page
    assert f"<caption>Star 1: {sc.check_title(check)}</caption>" in page
    for row in sc.table_rows(check):
        assert "".join(f"<td>{c}</td>" for c in row) in page
    assert check.flux_ratio() == pytest.approx(1.25, rel=1e-6)
    pdf = render_pdf(report)
    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Star checks" in text and "Star 1: starry" in text and "1.25" in text


def test_no_star_checks_no_section_and_a_lost_view_is_said():
    result = flat_result()
    assert "Star checks" not in render_html(build_report([result]))
    lost = StarCheck("starry", "flat_field", "A", 41.0, 34.0, measures=(
        StarMeasure("A", vs.BEFORE), StarMeasure("B", vs.BACKGROUND)))
    (again,) = build_report([result], extra={0: {"star_checks": [lost]}}).products[0].star_checks
    assert again.measure("A").ok
    assert again.measure("B").error == f"this result has no {vs.BACKGROUND} for " \
                                       "flat_field"


def test_the_window_passes_each_products_own_checks():
    first, second = flat_result("first"), flat_result("second")
    view = ViewState()
    view.star_checks = (window_check(second),)
    products = [first.product, second.product]
    workbench = SimpleNamespace(
        all_products=products, key=lambda p: p.name, view=view, notes={}, signoffs={},
        reviewer="me", product_results={"first": first, "second": second})
    inputs = review_inputs_from_workbench(workbench)
    assert inputs["extra"] == {1: {"star_checks": list(view.star_checks)}}
    report = build_report(inputs["results"], extra=inputs["extra"])
    assert [len(p.star_checks) for p in report.products] == [0, 1]
