"""The review report of the demo run: every product and step in the HTML (read back with a real
HTML parser), metrics equal to what the arrays give when worked out here independently, checks
that turn to fail with a broken flat and back with other thresholds, cancel and the output plan."""

from __future__ import annotations

import io
import math
from html.parser import HTMLParser

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from iris_gui.engine.association import load_inputs
from iris_gui.engine.cancel import CancelToken
from iris_gui.engine.dq import DO_NOT_USE, DQ_BITS, NO_FLAT_FIELD
from iris_gui.engine.errors import Cancelled
from iris_gui.engine.output_plan import OutputPlan, OutputPlanError
from iris_gui.engine.pipeline import Image2Pipeline
from iris_gui.engine.steps import COMPLETE
from iris_gui.engine.steps.resample import parse_good_bits
from iris_gui.engine.wcs import pixel_area_sr
from iris_gui.report import Thresholds, make_report, plan_report
from iris_gui.report.build import build_report
from iris_gui.report.html_page import render_html
from iris_gui.state.workbench import SignOff


class ReviewPage(HTMLParser):
    """What the report's HTML says, by its data- attributes: products -> steps -> metrics."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.products: dict[str, dict] = {}
        self.summary: list[str] = []
        self.not_remade: list[str] = []
        self.images = 0
        self.external: list[str] = []
        self._product = self._step = None
        self._row: list[str] | None = None
        self.feed(text)

    def handle_data(self, data):
        if self._row is not None and self._row:
            self._row[-1] += data

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            flag, *cells = self._row
            self._step["flags"][self._flag] = [c.replace(" ", "") for c in cells]
            self._row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("link", "script"):
            self.external.append(tag)
        if tag == "img":
            self.images += 1
            if not a.get("src", "").startswith("data:image/png;base64,"):
                self.external.append(a.get("src", ""))
        if tag == "tr" and "data-product" in a:
            (self.not_remade if a.get("class") == "not-remade" else self.summary).append(
                a["data-product"])
        if tag == "section" and a.get("class") == "product":
            self._product = self.products[a["data-product"]] = {
                "verdict": a["data-verdict"], "steps": {}, "checks": [], "views": []}
        elif tag == "section" and a.get("class") == "step":
            self._step = self._product["steps"][a["data-step"]] = {
                "status": a["data-status"], "metrics": {}, "views": [], "flags": {}}
        elif tag == "tr" and "data-metric" in a:
            self._step["metrics"][a["data-metric"]] = a["data-value"]
        elif tag == "tr" and "data-check" in a:
            self._product["checks"].append((a["data-check"], a["data-step"], a["data-verdict"]))
        elif tag == "tr" and "data-flag" in a and self._step is not None:
            self._flag, self._row = a["data-flag"], []
        elif tag == "td" and self._row is not None:
            self._row.append("")
        elif tag == "img" and "data-view" in a and self._step is not None:
            self._step["views"].append(a["data-view"])

    def metric(self, product: str, step: str, key: str) -> float:
        return float(self.products[product]["steps"][step]["metrics"][key])

    def check(self, product: str, name: str, step: str = "") -> str:
        return next(v for c, s, v in self.products[product]["checks"] if c == name and s == step)


def metrics_of(page: ReviewPage) -> dict:
    """Every metric of every step, without the step times (for comparing two reports)."""
    return {(p, s, k): v for p, product in page.products.items()
            for s, step in product["steps"].items() for k, v in step["metrics"].items()}


@pytest.fixture(scope="module")
def demo_results(demo_dataset):
    pipeline = Image2Pipeline(cache=False)
    return pipeline.run(load_inputs(demo_dataset.asn), write=False)


@pytest.fixture(scope="module")
def demo_report(demo_results, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    signoff = SignOff("accepted", "A. Reviewer", "2031-02-15T10:00:00+00:00")
    progress = []
    files = make_report(demo_results, out, reviewer="A. Reviewer",
                        notes={"iris_demo": "Flat looks right; <check> the corner."},
                        signoffs={"iris_demo": signoff},
                        progress=lambda f, m: progress.append((f, m)))
    text = files.html.read_text(encoding="utf-8")
    return files, text, ReviewPage(text), progress


def close(value: str, expected: float, rel: float = 1e-6) -> bool:
    return math.isclose(float(value), expected, rel_tol=rel, abs_tol=1e-12)


def good(model):
    return model.data[np.isfinite(model.data) & ((model.dq & DO_NOT_USE) == 0)]


def robust(values):
    median = np.median(values.astype(np.float64))
    return median, 1.4826 * np.median(np.abs(values.astype(np.float64) - median))


def test_every_product_and_every_step_that_ran_is_in_the_page(demo_results, demo_report):
    files, text, page, progress = demo_report
    names = [r.product.name for r in demo_results]
    assert list(page.products) == names and page.summary == names
    for result in demo_results:
        steps = page.products[result.product.name]["steps"]
        assert list(steps) == list(result.steps)
        for name, step in result.steps.items():
            assert steps[name]["status"] == step.status
    assert page.products["iris_demo_submap"]["steps"]["parse_subarray_map"]["status"] == COMPLETE
    assert page.products["iris_demo"]["steps"]["parse_subarray_map"]["status"] == "SKIPPED"
    # one self-contained file: every picture embedded, nothing fetched
    assert page.external == [] and page.images > 50
    assert "A. Reviewer" in text and "&lt;check&gt; the corner" in text
    assert 'data-verdict="accepted"' in text
    fractions = [f for f, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_pictures_follow_the_window(demo_report):
    page = demo_report[2]
    steps = page.products["iris_demo"]["steps"]
    assert steps["bkg_subtract"]["views"] == ["Before (input)", "After (_bsub)",
                                              "Difference (after − before)", "Background (combined)"]
    assert steps["flat_field"]["views"][-1] == "Ratio (after / before)"
    assert steps["resample"]["views"] == ["_cal (resample input)", "_i2d (resampled)"]
    assert steps["assign_wcs"]["views"] == []  # the data do not change
    assert steps["parse_subarray_map"]["views"] == []  # skipped


def test_thumbnails_are_block_averaged_and_painted_at_the_window_levels(demo_results):
    from iris_gui.display.stretch import frame_info, quantize
    from iris_gui.report.images import DisplaySettings, block_mean, thumbnail

    model = demo_results[0].input_model
    thumb = thumbnail("x", model.data, DisplaySettings(), note="")
    info = frame_info(model.data)
    assert thumb.levels == info.limits("zscale")  # the window's default limits
    small = thumbnail("x", np.repeat(np.repeat(model.data, 4, 0), 4, 1), DisplaySettings())
    assert small.block == 4 and small.size == model.data.shape
    index = quantize(block_mean(model.data, 1), *thumb.levels)
    picture = np.asarray(Image.open(io.BytesIO(thumb.png)))
    np.testing.assert_array_equal(picture, index)


def test_bkg_subtract_metrics_equal_the_arrays(demo_results, demo_report, demo_dataset):
    page = demo_report[2]
    result = demo_results[0]
    before, after = result.input_model, result.steps["bkg_subtract"].model
    m, s = robust(good(before))
    assert close(page.metric("iris_demo", "bkg_subtract", "sky_median_before"), m, 1e-5)
    assert close(page.metric("iris_demo", "bkg_subtract", "sky_sigma_before"), s, 1e-4)
    m, s = robust(good(after))
    assert close(page.metric("iris_demo", "bkg_subtract", "sky_median_after"), m, 1e-4)
    assert close(page.metric("iris_demo", "bkg_subtract", "sky_sigma_after"), s, 1e-4)
    n = len(demo_dataset.backgrounds)
    assert page.metric("iris_demo", "bkg_subtract", "n_backgrounds") == n
    # with 5 values no sigma-3 clip can reject: the most any one lies from their median
    k = n // 2
    assert close(page.metric("iris_demo", "bkg_subtract", "max_clip_deviation"),
                 math.sqrt(n * (k + 2) / (k + 1)))
    metrics = page.products["iris_demo"]["steps"]["bkg_subtract"]["metrics"]
    assert metrics["clip_can_reject"] == "false"
    invalid = sum(int(np.count_nonzero(~np.isfinite(fits.getdata(p, "SCI"))))
                  for p in demo_dataset.backgrounds)
    assert page.metric("iris_demo", "bkg_subtract", "values_clipped") == invalid
    assert page.check("iris_demo", "clip_cannot_reject", "bkg_subtract") == "warn"


def test_dark_flat_photom_metrics_equal_the_arrays(demo_results, demo_report, demo_dataset):
    page = demo_report[2]
    result = demo_results[0]
    dark_in, dark_out = result.before("dark_current"), result.steps["dark_current"].model
    level = (dark_in.data - dark_out.data).astype(np.float64)
    level = level[np.isfinite(level)]
    for key, q in (("dark_p1", 1), ("dark_median", 50), ("dark_p99", 99)):
        assert close(page.metric("iris_demo", "dark_current", key), np.percentile(level, q), 1e-4)
    nan_dark = int(np.count_nonzero(~np.isfinite(fits.getdata(demo_dataset.dark, "SCI"))))
    assert nan_dark > 0
    assert page.metric("iris_demo", "dark_current", "nan_dark_pixels") == nan_dark

    flat_in, flat_out = result.before("flat_field"), result.steps["flat_field"].model
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = flat_out.data / flat_in.data
    ratio = ratio[np.isfinite(ratio) & (flat_in.data != 0)]
    m, s = robust(ratio)
    assert close(page.metric("iris_demo", "flat_field", "ratio_median"), m, 1e-6)
    assert close(page.metric("iris_demo", "flat_field", "ratio_sigma"), s, 1e-4)
    no_flat = int(np.count_nonzero(flat_out.dq & NO_FLAT_FIELD))
    assert page.metric("iris_demo", "flat_field", "no_flat_field") == no_flat > 0

    photom = result.steps["photom"].model
    assert close(page.metric("iris_demo", "photom", "photmjsr"), demo_dataset.photmjsr)
    assert close(page.metric("iris_demo", "photom", "pixar_sr"), photom.header["PIXAR_SR"])
    assert page.products["iris_demo"]["steps"]["photom"]["metrics"]["bunit"] == "MJy/sr"


def test_dq_counts_per_flag_before_after_and_new(demo_results, demo_report):
    page = demo_report[2]
    result = demo_results[0]
    before, after = result.before("flat_field"), result.steps["flat_field"].model
    raised = after.dq & ~before.dq
    rows = page.products["iris_demo"]["steps"]["flat_field"]["flags"]
    expected = {}
    for flag, bit in DQ_BITS.items():
        counts = [int(np.count_nonzero(a & np.uint32(1 << bit))) for a in (before.dq, after.dq,
                                                                            raised)]
        if counts[0] or counts[1]:
            expected[flag] = [str(c) for c in counts]
    nan = [int(np.isnan(before.data).sum()), int(np.isnan(after.data).sum()),
           int((np.isnan(after.data) & ~np.isnan(before.data)).sum())]
    expected["NaN"] = [str(c) for c in nan]
    assert rows == expected
    assert "NO_FLAT_FIELD" in rows and "HOT" in rows
    assert close(page.metric("iris_demo", "flat_field", "new_flag_fraction"),
                 np.count_nonzero(raised) / raised.size)


def test_wcs_subarray_map_and_resample_metrics(demo_results, demo_report, demo_dataset):
    page = demo_report[2]
    steps = page.products["iris_demo"]["steps"]
    assert close(page.metric("iris_demo", "assign_wcs", "pixel_scale"), 4.0, 1e-6)
    assert close(page.metric("iris_demo", "assign_wcs", "rotation"), 0.5, 1e-6)
    assert steps["assign_wcs"]["metrics"]["crval"].startswith("83.8221")
    windows = page.products["iris_demo_submap"]["steps"]["parse_subarray_map"]["metrics"]
    assert int(windows["n_windows"]) == len(demo_dataset.submap_windows)
    for number, window in demo_dataset.submap_windows.items():
        assert f"{number}: x {window.xstart}, y {window.ystart}, " \
               f"{window.xsize}×{window.ysize}" in windows["windows"]

    result = demo_results[0]
    cal, i2d = result.before("resample"), result.steps["resample"].products["i2d"]
    bits = parse_good_bits(result.config.steps["resample"]["good_bits"])
    use = ((cal.dq & np.uint32(~bits & 0xFFFFFFFF)) == 0) & np.isfinite(cal.data) & \
        np.isfinite(cal.err)
    flux_cal = cal.data[use].astype(np.float64).sum() * pixel_area_sr(cal.wcs)
    flux_i2d = np.nansum(i2d.data.astype(np.float64)) * pixel_area_sr(i2d.wcs)
    assert close(page.metric("iris_demo", "resample", "flux_ratio"), flux_i2d / flux_cal, 1e-9)
    assert abs(flux_i2d / flux_cal - 1) < 0.005  # drizzle conserves flux
    assert page.check("iris_demo", "resample_flux", "resample") == "pass"
    weights = i2d.extra_arrays["WHT"]
    assert close(page.metric("iris_demo", "resample", "weight_max"), float(weights.max()))
    # rateints: the _i2d is the mean of the integrations, so the flux ratio is still ~1
    assert abs(page.metric("iris_demo_ints", "resample", "flux_ratio") - 1) < 0.005


def test_a_broken_flat_fails_and_thresholds_flip_the_verdict(demo_dataset, tmp_path):
    with fits.open(demo_dataset.flat) as hdul:
        hdul["SCI"].data = hdul["SCI"].data * np.float32(2.0)  # not normalised: everything halves
        hdul.writeto(tmp_path / "broken_flat.fits")
    product = load_inputs(demo_dataset.asn).products[0]
    pipeline = Image2Pipeline(cache=False)
    pipeline.config.steps["flat_field"]["override_flat"] = str(tmp_path / "broken_flat.fits")
    result = pipeline.run_product(product)
    assert result.ok
    page = ReviewPage(render_html(build_report([result])))
    assert close(page.metric("iris_demo", "flat_field", "ratio_median"), 0.5, 0.05)
    assert page.check("iris_demo", "flat_ratio", "flat_field") == "fail"
    assert page.products["iris_demo"]["verdict"] == "fail"

    thresholds = Thresholds()
    thresholds.set("flat_ratio", "fail", "0.6")
    thresholds.set("flat_ratio", "warn", "off")
    thresholds.set("clip_cannot_reject", "verdict", "pass")
    page = ReviewPage(render_html(build_report([result], thresholds=thresholds)))
    assert page.check("iris_demo", "flat_ratio", "flat_field") == "pass"
    assert page.products["iris_demo"]["verdict"] == "pass"


def test_half_the_flat_unusable_fails_the_new_flags_check(demo_dataset, tmp_path):
    with fits.open(demo_dataset.flat) as hdul:
        hdul["SCI"].data[: hdul["SCI"].data.shape[0] // 2] = np.nan
        hdul.writeto(tmp_path / "holes.fits")
    product = load_inputs(demo_dataset.asn).products[0]
    pipeline = Image2Pipeline(cache=False)
    pipeline.config.steps["flat_field"]["override_flat"] = str(tmp_path / "holes.fits")
    result = pipeline.run_product(product)
    page = ReviewPage(render_html(build_report([result])))
    assert page.metric("iris_demo", "flat_field", "new_flag_fraction") > 0.49
    assert page.check("iris_demo", "new_flags", "flat_field") == "fail"


def test_a_failed_product_is_reported_as_failed(demo_dataset, tmp_path):
    with fits.open(demo_dataset.flat) as hdul:
        hdul["SCI"].data = -np.abs(hdul["SCI"].data)  # every usable pixel negative: the step fails
        hdul.writeto(tmp_path / "negative.fits")
    product = load_inputs(demo_dataset.asn).products[0]
    pipeline = Image2Pipeline(cache=False)
    pipeline.config.steps["flat_field"]["override_flat"] = str(tmp_path / "negative.fits")
    result = pipeline.run_product(product)
    assert not result.ok
    page = ReviewPage(render_html(build_report([result])))
    assert page.products["iris_demo"]["verdict"] == "fail"
    assert page.products["iris_demo"]["steps"]["flat_field"]["status"] == "FAILED"
    assert page.check("iris_demo", "step_failed") == "fail"


def test_cancel_writes_nothing(demo_results, tmp_path):
    token = CancelToken()

    def progress(fraction, message):
        if fraction > 0.2:
            token.cancel()

    with pytest.raises(Cancelled):
        make_report(demo_results, tmp_path / "r", progress=progress, cancel=token)
    assert not (tmp_path / "r" / "review.html").exists()
    assert not (tmp_path / "r" / "review.pdf").exists()


def test_the_report_is_a_planned_output_never_over_an_input(demo_results, tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "review.html").write_text("an input")
    plan = OutputPlan()
    plan.add_read(folder / "review.html", "the input review.html")
    plan_report(plan, folder)
    with pytest.raises(OutputPlanError, match="review.html.*which this run reads"):
        plan.check()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputPlanError, match="is a file"):
        plan_report(OutputPlan(), tmp_path / "afile")


def test_the_window_gets_its_products_notes_and_signoffs_from_the_workbench(demo_dataset,
                                                                             tmp_path):
    from iris_gui.report.build import review_inputs_from_workbench
    from iris_gui.state.workbench import Workbench

    workbench = Workbench()
    workbench.reviewer = "R. Viewer"
    workbench.view.colormap = "viridis"
    association = workbench.open_path(demo_dataset.asn)
    first, second = association.products[:2]
    workbench.store_result(workbench.pipeline.run_product(first))
    workbench.set_note(first, "looks fine")
    workbench.sign_off(first, "needs work")
    inputs = review_inputs_from_workbench(workbench)  # only products with a result
    assert [r.product.name for r in inputs["results"]] == [first.name]
    assert inputs["display"].colormap == "viridis" and inputs["reviewer"] == "R. Viewer"
    files = make_report(output_dir=tmp_path, **inputs)
    text = files.html.read_text(encoding="utf-8")
    assert "looks fine" in text and 'data-verdict="needs work"' in text and "R. Viewer" in text
    assert files.report.products[0].signoff["by"] == "R. Viewer"
    assert files.report.display.colormap == "viridis"
    with pytest.raises(Exception, match="no product has a result"):
        review_inputs_from_workbench(workbench, [second])


def test_two_products_of_one_name_get_their_own_sections(demo_results):
    report = build_report([demo_results[1], demo_results[1]])
    assert [p.anchor for p in report.products] == ["product-iris_demo_sub",
                                                   "product-iris_demo_sub-2"]
    text = render_html(report)
    assert text.count('id="product-iris_demo_sub"') == text.count('id="product-iris_demo_sub-2"') == 1
