"""The runner: order, skip, callbacks, cancel, cache reuse and invalidation, outputs, provenance,
and end-to-end numbers on the demo dataset."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from astropy.io import fits
from factories import small_product as make_small_product
from factories import write_model, write_reference

from iris_gui.engine.association import Member, Product, load_association
from iris_gui.engine.cancel import CancelToken
from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.models import read_image
from iris_gui.engine.pipeline import Image2Pipeline, PipelineCallbacks
from iris_gui.engine.provenance import read_provenance, rerun_setup
from iris_gui.engine.steps import STEPS

STEP_NAMES = [s.name for s in STEPS]


@pytest.fixture()
def small_product(tmp_path):
    """A 4x4 science with three backgrounds, a dark and a flat in one folder."""
    return make_small_product(tmp_path / "in")


class Recorder:
    def __init__(self):
        self.events = []
        self.fractions = {}

    def callbacks(self):
        return PipelineCallbacks(
            product_start=lambda p, i, n: self.events.append(("product_start", p.name, i, n)),
            step_start=lambda p, s: self.events.append(("start", s.name)),
            step_progress=lambda p, s, f: self.fractions.setdefault(s.name, []).append(f),
            step_done=lambda p, s, r: self.events.append(("done", s.name, r.status)),
            warning=lambda p, s, m: self.events.append(("warning", s.name if s else None, m)),
            product_done=lambda r: self.events.append(("product_done", r.product.name, r.ok)),
        )


def test_runs_steps_in_order_with_callbacks_and_values(small_product):
    recorder = Recorder()
    pipeline = Image2Pipeline(callbacks=recorder.callbacks())
    result = pipeline.run_product(small_product)
    assert result.ok
    done = [e for e in recorder.events if e[0] == "done"]
    assert [e[1] for e in done] == STEP_NAMES
    assert {e[1]: e[2] for e in done} == {
        "bkg_subtract": "COMPLETE", "assign_wcs": "SKIPPED", "parse_subarray_map": "SKIPPED",
        "dark_current": "COMPLETE", "flat_field": "COMPLETE", "photom": "SKIPPED",
        "resample": "SKIPPED",
    }
    # the 4x4 files have no WCS keywords and the folder has no photom table: each says why
    assert "no WCS" in result.steps["assign_wcs"].reason
    assert "CTYPE1" in result.steps["assign_wcs"].reason
    assert "no photom reference" in result.steps["photom"].reason
    assert "no WCS" in result.steps["resample"].reason
    # (20 - mean(4, 5, 6)) - 1 = 14; / 2 = 7
    np.testing.assert_allclose(result.final.data, 7.0)
    # every executed step's progress ends at 1.0 and never goes back
    for name in ("bkg_subtract", "dark_current", "flat_field"):
        fractions = recorder.fractions[name]
        assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert recorder.events[-1] == ("product_done", "sci", True)
    # before/after: each step's input is the previous step's output
    assert result.before("bkg_subtract") is result.input_model
    assert result.before("flat_field") is result.steps["dark_current"].model
    assert result.final.header["S_FLAT"] == "COMPLETE"
    assert result.final.header["S_WCS"] == "SKIPPED"


def test_skip_passes_the_input_through(small_product):
    config = PipelineConfig()
    config.set("steps.dark_current.skip", "true")
    config.set("steps.bkg_subtract.skip", True)
    result = Image2Pipeline(config).run_product(small_product)
    assert result.steps["dark_current"].status == "SKIPPED"
    assert "skip" in result.steps["dark_current"].reason
    np.testing.assert_allclose(result.final.data, 10.0)  # 20 / 2
    assert result.final.header["S_DARK"] == "SKIPPED"
    assert result.final.header["S_BKDSUB"] == "SKIPPED"


def test_cache_reuses_upstream_and_recomputes_from_the_changed_step(small_product):
    pipeline = Image2Pipeline()
    first = pipeline.run_product(small_product)
    assert pipeline.executions == {name: 1 for name in STEP_NAMES}
    again = pipeline.run_product(small_product)
    assert pipeline.executions == {name: 1 for name in STEP_NAMES}
    assert all(r.from_cache for r in again.steps.values())
    np.testing.assert_array_equal(again.final.data, first.final.data)

    pipeline.config.set("steps.flat_field.inverse", True)
    changed = pipeline.run_product(small_product)
    assert pipeline.executions == {"bkg_subtract": 1, "assign_wcs": 1, "parse_subarray_map": 1,
                                   "dark_current": 1, "flat_field": 2, "photom": 2, "resample": 2}
    assert changed.steps["dark_current"].from_cache and not changed.steps["flat_field"].from_cache
    np.testing.assert_allclose(changed.final.data, 28.0)  # 14 * 2

    pipeline.config.set("steps.bkg_subtract.sigma", 2.0)  # upstream change: everything after
    pipeline.run_product(small_product)
    assert pipeline.executions == {"bkg_subtract": 2, "assign_wcs": 2, "parse_subarray_map": 2,
                                   "dark_current": 2, "flat_field": 3, "photom": 3, "resample": 3}


def test_cache_invalidated_when_an_input_or_reference_changes(small_product, tmp_path):
    pipeline = Image2Pipeline()
    pipeline.run_product(small_product)
    science = small_product.science
    stat = os.stat(science)
    write_model(science, np.full((4, 4), 40.0), np.ones((4, 4)))
    os.utime(science, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    result = pipeline.run_product(small_product)
    assert pipeline.executions["bkg_subtract"] == 2
    np.testing.assert_allclose(result.final.data, 17.0)  # (40 - 5 - 1) / 2

    flat = os.path.join(os.path.dirname(science), "flat.fits")
    stat = os.stat(flat)
    write_reference(flat, "FLAT", np.full((4, 4), 4.0))
    os.utime(flat, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    result = pipeline.run_product(small_product)
    assert pipeline.executions == {"bkg_subtract": 2, "assign_wcs": 2, "parse_subarray_map": 2,
                                   "dark_current": 2, "flat_field": 3, "photom": 3, "resample": 3}
    np.testing.assert_allclose(result.final.data, 8.5)


def test_cancel_between_steps_writes_nothing(small_product, tmp_path):
    token = CancelToken()
    callbacks = PipelineCallbacks(
        step_start=lambda p, s: token.cancel() if s.name == "dark_current" else None)
    out = tmp_path / "out"
    pipeline = Image2Pipeline(callbacks=callbacks, output_dir=out)
    from iris_gui.engine.association import Association

    results = pipeline.run(Association([small_product]), token)
    assert results[0].cancelled and not results[0].ok
    assert "flat_field" not in results[0].steps
    assert not out.exists() or list(out.iterdir()) == []


def test_cancel_inside_a_long_loop(tmp_path):
    """A cancel request during the background combine stops it at the next block."""
    folder = tmp_path
    science = write_model(folder / "sci_rate.fits", np.zeros((512, 512)))
    backgrounds = [write_model(folder / f"b{k}_rate.fits", np.full((512, 512), float(k)))
                   for k in range(3)]
    product = Product("sci", [Member(str(science), "science")]
                      + [Member(str(b), "background") for b in backgrounds])
    token = CancelToken()
    seen = []

    def on_progress(p, step, fraction):
        seen.append(fraction)
        if 0.3 < fraction < 0.8:  # inside the combine loop
            token.cancel()

    result = Image2Pipeline(callbacks=PipelineCallbacks(step_progress=on_progress)).run_product(
        product, token)
    assert result.cancelled
    assert max(seen) < 1.0


def test_failed_reference_reports_the_file_and_writes_nothing(small_product, tmp_path):
    folder = os.path.dirname(small_product.science)
    with open(os.path.join(folder, "dark.fits"), "r+b") as handle:
        handle.truncate(2880 + 100)  # header survives the scan, data do not
    out = tmp_path / "out"
    recorder = Recorder()
    pipeline = Image2Pipeline(output_dir=out, callbacks=recorder.callbacks())
    from iris_gui.engine.association import Association

    results = pipeline.run(Association([small_product]))
    result = results[0]
    assert not result.ok and result.error_is_input
    assert "dark.fits" in result.error
    assert result.steps["dark_current"].status == "FAILED"
    assert ("done", "dark_current", "FAILED") in recorder.events
    assert not out.exists() or list(out.iterdir()) == []


def test_outputs_names_provenance_and_rerun(small_product, tmp_path):
    out = tmp_path / "out"
    config = PipelineConfig()
    config.set("save_bsub", True)
    config.set("steps.dark_current.save_results", True)
    pipeline = Image2Pipeline(config, output_dir=out)
    from iris_gui.engine.association import Association

    result = pipeline.run(Association([small_product]))[0]
    names = sorted(p.name for p in result.outputs)
    assert names == ["sci_bsub.fits", "sci_cal.fits", "sci_dark_current.fits"]
    assert sorted(os.listdir(out)) == names  # no temporary files left behind
    cal = read_image(out / "sci_cal.fits")
    np.testing.assert_allclose(cal.data, 7.0)
    assert cal.header["CAL_VER"] and cal.header["R_FLAT"] == "flat.fits"
    assert cal.header["S_BKDSUB"] == "COMPLETE" and cal.header["S_PHOTOM"] == "SKIPPED"
    bsub = read_image(out / "sci_bsub.fits")
    np.testing.assert_allclose(bsub.data, 15.0)
    document = read_provenance(out / "sci_cal.fits")
    assert document["inputs"]["science"] == small_product.science
    assert document["parameters"]["pipeline"]["save_bsub"] is True
    assert document["steps"]["flat_field"]["references"]["flat"].endswith("flat.fits")

    product, rerun_config, ref_dir = rerun_setup(out / "sci_cal.fits")
    assert rerun_config.to_dict()["steps"]["bkg_subtract"] == config.to_dict()["steps"]["bkg_subtract"]
    assert rerun_config.steps["flat_field"]["override_flat"].endswith("flat.fits")  # pinned
    again = Image2Pipeline(rerun_config, ref_dir=ref_dir).run_product(product)
    np.testing.assert_array_equal(again.final.data, cal.data)


def test_never_overwrites_an_input(small_product):
    folder = os.path.dirname(small_product.science)
    before = open(small_product.science, "rb").read()
    product = Product("sci_rate", small_product.members)  # would write sci_rate_cal.fits: fine
    product_bad = Product("sci", small_product.members)
    config = PipelineConfig()
    config.set("steps.flat_field.suffix", "rate")  # sci_rate.fits is the input
    config.set("steps.flat_field.save_results", True)
    from iris_gui.engine.association import Association

    results = Image2Pipeline(config, output_dir=folder).run(Association([product_bad]))
    assert not results[0].ok and "which this run reads" in results[0].error
    assert open(small_product.science, "rb").read() == before
    assert product.name == "sci_rate"


def test_runs_from_a_worker_thread(small_product):
    """The GUI runs the engine off its main thread; results must be identical."""
    box = {}
    thread = threading.Thread(target=lambda: box.update(r=Image2Pipeline().run_product(small_product)))
    thread.start()
    thread.join(30)
    np.testing.assert_allclose(box["r"].final.data, 7.0)


# ---- end to end on the demo dataset ----------------------------------------------------------

def test_demo_end_to_end_recovers_the_true_sky_subtracted_flux(demo_dataset, tmp_path):
    association = load_association(demo_dataset.asn)
    config = PipelineConfig()
    config.set("save_bsub", True)
    pipeline = Image2Pipeline(config, output_dir=tmp_path, cache=False)
    results = {r.product.name: r for r in pipeline.run(association)}
    assert all(r.ok for r in results.values())
    assert sorted(os.listdir(tmp_path)) == sorted([
        "iris_demo_cal.fits", "iris_demo_bsub.fits", "iris_demo_sub_cal.fits",
        "iris_demo_sub_bsub.fits", "iris_demo_submap_cal.fits", "iris_demo_submap_bsub.fits",
        "iris_demo_ints_calints.fits", "iris_demo_ints_bsubints.fits",
        "iris_demo_i2d.fits", "iris_demo_sub_i2d.fits", "iris_demo_submap_i2d.fits",
        "iris_demo_ints_i2d.fits",
    ])

    cal = read_image(tmp_path / "iris_demo_cal.fits")
    truth = demo_dataset.star_image  # DN/s
    # photom converted DN/s to MJy/sr with the KN3 row of the demo table
    photmjsr = dict((r.filter, r.photmjsr) for r in demo_dataset.photom_rows)[cal.header["FILTER"]]
    assert cal.header["PHOTMJSR"] == pytest.approx(photmjsr)
    assert cal.header["BUNIT"] == "MJy/sr"
    good = (cal.dq == 0) & np.isfinite(cal.data)
    residual = cal.data[good] / photmjsr - truth[good]
    assert abs(np.median(residual)) < 0.05           # sky, dark and flat all removed
    bright = truth[good] > 20 * np.median(cal.err[good] / photmjsr)
    assert bright.sum() > 20                         # the stars themselves are recovered
    np.testing.assert_allclose(np.median(residual[bright] / truth[good][bright]), 0, atol=0.01)
    chi = residual / (cal.err[good] / photmjsr)
    # ERR is an honest estimate: robust spread of residual/ERR near 1. (A plain std is larger:
    # cosmic rays in the five backgrounds survive a 3-sigma clip, which cannot reject anything
    # with so few values, and leave holes in the science.)
    robust_std = 1.4826 * np.median(np.abs(chi - np.median(chi)))
    assert 0.9 < robust_std < 1.1

    # the subarray product equals the full-frame product cut to its window
    sub = read_image(tmp_path / "iris_demo_sub_cal.fits")
    window = demo_dataset.subarray_window
    rows = slice(window.ystart - 1, window.ystop)
    cols = slice(window.xstart - 1, window.xstop)
    np.testing.assert_allclose(sub.data, cal.data[rows, cols], rtol=1e-6, atol=1e-6)
    assert sub.header["SUBSTRT1"] == window.xstart

    # the submap product: same values, DQ bit 4 inside the two windows
    submap = read_image(tmp_path / "iris_demo_submap_cal.fits")
    np.testing.assert_array_equal(submap.data, cal.data)
    flagged = (submap.dq & 16) != 0
    for number, w in demo_dataset.submap_windows.items():
        assert submap.header[f"SMAP{number}XS"] == w.xstart
        assert flagged[w.ystart - 1:w.ystop, w.xstart - 1:w.xstop].all()
    assert flagged.sum() == sum(w.xsize * w.ysize for w in demo_dataset.submap_windows.values())

    # rateints: 3D output with one plane per integration
    cube = read_image(tmp_path / "iris_demo_ints_calints.fits")
    assert cube.data.shape == (demo_dataset.nints, demo_dataset.size, demo_dataset.size)
    for plane in cube.data:
        ok = np.isfinite(plane) & (cube.dq[0] == 0)
        assert abs(np.median(plane[ok] - truth[ok])) < 0.05
    with fits.open(tmp_path / "iris_demo_ints_calints.fits") as hdul:
        assert hdul["SCI"].data.dtype == np.dtype(">f4")
        assert hdul["DQ"].header["BZERO"] == 2**31  # uint32 as FITS stores it
