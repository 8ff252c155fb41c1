"""review.pdf: one section per product (an outline entry and a new page each, the steps under it),
and its text can be extracted (pypdf)."""

from __future__ import annotations

import pytest

from iris_gui.engine.association import load_inputs
from iris_gui.engine.pipeline import Image2Pipeline
from iris_gui.report import make_report
from iris_gui.report.html_parts import value_text

pypdf = pytest.importorskip("pypdf")


@pytest.fixture(scope="module")
def demo_pdf(demo_dataset, tmp_path_factory):
    results = Image2Pipeline(cache=False).run(load_inputs(demo_dataset.asn), write=False)
    files = make_report(results, tmp_path_factory.mktemp("pdf"), reviewer="Σ Reviewer",
                        notes={"iris_demo_sub": "window ok — see σ"})
    return results, files, pypdf.PdfReader(str(files.pdf))


def _outline(reader):
    top = []
    for entry in reader.outline:
        if isinstance(entry, list):
            top[-1][1].extend(e.title for e in entry)
        else:
            top.append((entry.title, [], reader.get_destination_page_number(entry)))
    return top


def test_one_section_per_product_with_its_steps(demo_pdf):
    results, files, reader = demo_pdf
    outline = _outline(reader)
    assert outline[0][0] == "Summary"
    products = [entry for entry in outline if entry[0].startswith("Product ")]
    assert [title for title, _, _ in products] == [f"Product {r.product.name}" for r in results]
    for (title, steps, page), result in zip(products, results, strict=True):
        assert steps == list(result.steps)
        text = reader.pages[page].extract_text()
        assert title in text  # each section starts on its own page, with its heading
    starts = [page for _, _, page in products]
    assert starts == sorted(set(starts))


def test_text_is_extractable(demo_pdf):
    results, files, reader = demo_pdf
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "commissioning review" in text
    for result in results:
        assert result.product.name in text
    for name in ("bkg_subtract", "flat_field", "resample", "NO_FLAT_FIELD", "sha256"):
        assert name in text
    sky = files.report.products[0].step("bkg_subtract").metric("sky_median_before").value
    assert value_text(sky) in text
    assert "Σ Reviewer" in text or "? Reviewer" in text  # a font without Σ gets a stand-in
    assert reader.metadata.title.startswith("IRIS imager image2")
