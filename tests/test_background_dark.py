"""bkg_subtract's subtract_dark_from_backgrounds: the dark dark_current uses, taken off each
background before they are combined (the upstream liger_iris_pipeline's order). Numbers worked
out by hand on 2x2 frames."""

from __future__ import annotations

import math

import numpy as np
import pytest
from factories import context_for, make_model, write_model, write_reference

from iris_gui.engine.association import Association, Member, Product
from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.dq import DQ_FLAGS
from iris_gui.engine.models import read_image
from iris_gui.engine.pipeline import Image2Pipeline
from iris_gui.engine.provenance import parameter_fingerprint, rerun_setup, run_identity
from iris_gui.engine.step_plan import CACHED, TO_RUN
from iris_gui.engine.steps import STEP_BY_NAME, bkg_subtract
from iris_gui.engine.steps.dark_current import subtract_dark

NAN = float("nan")
HOT = DQ_FLAGS["HOT"]
OPTION = "subtract_dark_from_backgrounds"

#: three backgrounds base + k (k = 0, 1, 2), ERR 0; the first flags pixel (0, 1) with 4
BASE = np.array([[6.0, 8.0], [10.0, 12.0]])
#: the dark: NaN at (1, 0) counts as 0; ERR 3 at (0, 0); HOT at (1, 0)
DARK = [[1.0, 2.0], [NAN, 3.0]]
DARK_ERR = [[3.0, 0.0], [0.0, 0.0]]
DARK_DQ = [[0, 0], [HOT, 0]]


def _files(folder, dark_subtracted=(False, False, False)):
    """science (20, ERR 1), three backgrounds and the dark in ``folder``; returns the paths."""
    folder.mkdir(exist_ok=True)
    science = write_model(folder / "sci_rate.fits", np.full((2, 2), 20.0), np.ones((2, 2)))
    backgrounds = []
    for k, done in enumerate(dark_subtracted):
        dq = [[0, 4], [0, 0]] if k == 0 else None
        extra = {"S_DARK": "COMPLETE"} if done else {}
        backgrounds.append(write_model(folder / f"bkg{k}_rate.fits", BASE + k,
                                       np.zeros((2, 2)), dq, **extra))
    dark = write_reference(folder / "dark.fits", "DARK", DARK, DARK_ERR, DARK_DQ)
    return science, backgrounds, dark


def _run(folder, science, backgrounds, **changes):
    values = STEP_BY_NAME["bkg_subtract"].defaults()
    values.update(changes)
    context = context_for(science, backgrounds, ref_dir=folder)
    return STEP_BY_NAME["bkg_subtract"].run(read_image(science), values, context)


def test_the_option_is_declared_once_off_by_default():
    step = STEP_BY_NAME["bkg_subtract"]
    parameter = step.parameter(OPTION)
    assert parameter is not None and parameter.kind == "bool" and parameter.default is False
    assert (OPTION, "dark") in step.borrowed_references
    assert PipelineConfig().steps["bkg_subtract"][OPTION] is False


def test_dark_is_taken_off_each_background_before_combining(tmp_path):
    science, backgrounds, dark = _files(tmp_path)
    result = _run(tmp_path, science, backgrounds, **{OPTION: True})
    # mean(base + k) = base + 1 = [[7, 9], [11, 13]]; minus the dark (NaN -> 0):
    # [[6, 7], [11, 10]]; science 20 minus that:
    np.testing.assert_array_equal(result.model.data, [[14, 13], [9, 10]])
    background = result.products["background"]
    np.testing.assert_array_equal(background.data, [[6, 7], [11, 10]])
    # ERR: each background gets the dark's 3 in quadrature, the mean of three:
    # sqrt(3 * 3**2) / 3 = sqrt(3); the science's 1 and that: sqrt(1 + 3) = 2
    np.testing.assert_allclose(background.err, [[math.sqrt(3), 0], [0, 0]], rtol=1e-6)
    np.testing.assert_allclose(result.model.err, [[2, 1], [1, 1]], rtol=1e-6)
    # DQ: the first background's 4 and the dark's HOT
    np.testing.assert_array_equal(result.model.dq, [[0, 4], [HOT, 0]])
    assert result.model.header["BKGDKSUB"] is True  # dark_current will not warn
    assert result.model.header["R_BKGDRK"] == "dark.fits"
    assert result.references == {"dark": str(dark)}


def test_off_the_backgrounds_are_used_as_they_are(tmp_path):
    science, backgrounds, _dark = _files(tmp_path)
    result = _run(tmp_path, science, backgrounds)
    np.testing.assert_array_equal(result.model.data, [[13, 11], [9, 7]])  # 20 - (base + 1)
    np.testing.assert_array_equal(result.model.err, 1.0)
    assert result.model.header["BKGDKSUB"] is False
    assert result.references == {} and "R_BKGDRK" not in result.model.header


def test_the_upstream_order_each_background_dark_subtracted_then_combined(tmp_path):
    """The same bits as running the dark subtraction on every background first and giving
    the step those; not the dark taken once off the combined background (ERR would differ)."""
    science, backgrounds, dark = _files(tmp_path)
    with_option = _run(tmp_path, science, backgrounds, **{OPTION: True})
    dark_model = read_image(dark)
    upstream_folder = tmp_path / "upstream"
    upstream_folder.mkdir()
    done = []
    for k, path in enumerate(backgrounds):
        subtracted = subtract_dark(read_image(path), dark_model)
        subtracted.header["S_DARK"] = "COMPLETE"
        done.append(write_model(upstream_folder / f"bkg{k}_rate.fits", subtracted.data,
                                subtracted.err, subtracted.dq, S_DARK="COMPLETE"))
    upstream = _run(tmp_path, science, done)
    np.testing.assert_array_equal(with_option.model.data, upstream.model.data)
    np.testing.assert_array_equal(with_option.model.err, upstream.model.err)
    np.testing.assert_array_equal(with_option.model.dq, upstream.model.dq)
    # the other order (combine, then take the dark off once) gives ERR 3 at (0, 0), not sqrt 3
    plain = _run(tmp_path, science, backgrounds).products["background"]
    once = subtract_dark(plain, dark_model)
    np.testing.assert_array_equal(once.data, with_option.products["background"].data)
    assert once.err[0, 0] == 3.0 != with_option.products["background"].err[0, 0]


def test_backgrounds_already_dark_subtracted_are_left_alone(tmp_path, caplog):
    science, backgrounds, _dark = _files(tmp_path, dark_subtracted=(True, False, False))
    caplog.set_level("INFO")
    result = _run(tmp_path, science, backgrounds, **{OPTION: True})
    # (base) + (base + 1 - dark) + (base + 2 - dark), over 3: base + 1 - 2/3 dark
    expected = BASE + 1 - 2.0 / 3.0 * np.nan_to_num(np.array(DARK))
    np.testing.assert_allclose(result.products["background"].data, expected, rtol=1e-6)
    assert "bkg0_rate.fits is dark-subtracted already" in caplog.text
    assert result.model.header["BKGDKSUB"] is True


def test_no_dark_found_warns_and_uses_the_backgrounds_as_they_are(tmp_path):
    science, backgrounds, dark = _files(tmp_path)
    dark.unlink()
    result = _run(tmp_path, science, backgrounds, **{OPTION: True})
    np.testing.assert_array_equal(result.model.data, [[13, 11], [9, 7]])
    assert any(w.startswith("subtract_dark_from_backgrounds: no dark reference") and
               "combined as they are" in w for w in result.warnings)
    assert result.model.header["BKGDKSUB"] is False and result.references == {}


# ---- through the pipeline: dark_current's choice, cache keys, provenance ----------------------

def _pipeline_config(**bkg):
    config = PipelineConfig()
    for step in ("assign_wcs", "flat_field", "photom", "resample"):
        config.set(f"steps.{step}.skip", True)
    for key, value in bkg.items():
        config.set(f"steps.bkg_subtract.{key}", value)
    return config


def _product(science, backgrounds):
    members = [Member(str(science), "science")]
    members += [Member(str(b), "background") for b in backgrounds]
    return Product("sci", members)


def test_the_dark_is_dark_currents_override_and_counted_once(tmp_path):
    science, backgrounds, folder_dark = _files(tmp_path / "in")
    (tmp_path / "darks").mkdir()
    # the override dark: 2 everywhere, so the folder's dark would give other numbers
    override = write_reference(tmp_path / "darks" / "d2.fits", "DARK", np.full((2, 2), 2.0))
    config = _pipeline_config(**{OPTION: True})
    config.set("steps.dark_current.override_dark", str(override))
    pipeline = Image2Pipeline(config)
    result = pipeline.run_product(_product(science, backgrounds))
    assert result.ok, result.error
    bkg = result.steps["bkg_subtract"]
    assert bkg.references == {"dark": str(override)}
    # 20 - (base + 1 - 2), then dark_current takes 2 off the science: the dark cancels
    np.testing.assert_array_equal(bkg.model.data, 20 - (BASE + 1 - 2))
    np.testing.assert_array_equal(result.final.data, 20 - (BASE + 1))
    assert not any("dark counted twice" in w for step in result.steps.values()
                   for w in step.warnings)


def test_dark_counted_twice_warning_names_the_option(tmp_path):
    science, backgrounds, _dark = _files(tmp_path)
    result = Image2Pipeline(_pipeline_config()).run_product(_product(science, backgrounds))
    warnings = [w for w in result.steps["dark_current"].warnings if "dark counted twice" in w]
    assert len(warnings) == 1
    assert "subtract_dark_from_backgrounds = True" in warnings[0]


@pytest.mark.parametrize("option", [True, False])
def test_a_new_dark_override_reruns_bkg_subtract_only_when_it_reads_the_dark(tmp_path, option):
    science, backgrounds, _dark = _files(tmp_path / "in")
    (tmp_path / "darks").mkdir()
    override = write_reference(tmp_path / "darks" / "d2.fits", "DARK", np.full((2, 2), 2.0))
    config = _pipeline_config(**{OPTION: option})
    pipeline = Image2Pipeline(config, cache=True)
    product = _product(science, backgrounds)
    pipeline.run_product(product)
    changed = config.copy()
    changed.set("steps.dark_current.override_dark", str(override))
    states = {plan.step: plan.state for plan in pipeline.step_plan(product, changed)}
    assert states["bkg_subtract"] == (TO_RUN if option else CACHED)
    assert states["dark_current"] == TO_RUN
    # a dark added to the folder is seen the same way
    write_reference(tmp_path / "in" / "dark_new.fits", "DARK", np.full((2, 2), 5.0),
                    USEAFTER="2000-01-01T00:00:00")
    states = {plan.step: plan.state for plan in pipeline.step_plan(product, config)}
    assert states["bkg_subtract"] == (TO_RUN if option else CACHED)


def test_resume_identity_and_plan_count_the_dark_when_dark_current_is_off(tmp_path):
    science, backgrounds, dark = _files(tmp_path)
    product = _product(science, backgrounds)
    config = _pipeline_config(**{OPTION: True})
    config.set("steps.dark_current.skip", True)
    identity = run_identity(product, config, tmp_path)
    assert [path for path, _sha in identity["references"]["dark"]] == [str(dark)]
    config.set(f"steps.bkg_subtract.{OPTION}", False)
    assert "dark" not in run_identity(product, config, tmp_path)["references"]


def test_provenance_records_the_option_and_from_output_pins_the_dark(tmp_path):
    science, backgrounds, dark = _files(tmp_path / "in")
    config = _pipeline_config(**{OPTION: True})
    config.set("steps.dark_current.skip", True)  # the dark goes into the backgrounds only
    assert parameter_fingerprint(config) != parameter_fingerprint(_pipeline_config())
    pipeline = Image2Pipeline(config, output_dir=tmp_path / "out")
    [result] = pipeline.run(Association([_product(science, backgrounds)]),
                            output_dir=tmp_path / "out")
    assert result.ok, result.error
    cal = tmp_path / "out" / "sci_cal.fits"
    header = read_image(cal).header
    assert header["R_DARK"] == "dark.fits" and header["R_BKGDRK"] == "dark.fits"
    _product_again, remade, _ref_dir = rerun_setup(cal)
    assert remade.steps["bkg_subtract"][OPTION] is True
    assert remade.steps["dark_current"]["override_dark"] == str(dark)
    assert parameter_fingerprint(remade) == header["PARFINGR"]


def test_read_backgrounds_without_a_dark_is_as_before(tmp_path):
    science, backgrounds, _dark = _files(tmp_path)
    context = context_for(science, backgrounds, ref_dir=tmp_path)
    got = bkg_subtract.read_backgrounds([str(b) for b in backgrounds], read_image(science),
                                        context)
    assert got.dark_subtracted is False and got.names == [b.name for b in backgrounds]
    assert make_model([[1.0]]).header.get("S_DARK") is None


def test_kept_backgrounds_are_not_served_when_the_dark_goes_into_them(tmp_path):
    # the window keeps prepared backgrounds for live re-runs; they hold the files as read, so
    # with the option on the step reads them itself and gives a fresh run's numbers
    science, backgrounds, _dark = _files(tmp_path)
    product = _product(science, backgrounds)
    pipeline = Image2Pipeline(_pipeline_config(), cache=True, keep_backgrounds=1 << 20)
    pipeline.run_product(product)
    assert pipeline.prepare_backgrounds(product)
    changed = _pipeline_config(**{OPTION: True})
    live = pipeline.run_product(product, config=changed).steps["bkg_subtract"]
    fresh = Image2Pipeline(changed).run_product(product).steps["bkg_subtract"]
    np.testing.assert_array_equal(live.model.data, fresh.model.data)
    np.testing.assert_array_equal(live.model.data, [[14, 13], [9, 10]])
    np.testing.assert_array_equal(live.products["background"].err,
                                  fresh.products["background"].err)
