"""Parameter files from other pipelines: the upstream liger_iris_pipeline's ImagerStage2Pipeline
(its step and parameter names translated, its different sky model refused) and jwst's
Image2Pipeline (jwst-only settings ignored with one warning). Every file is written here."""

from __future__ import annotations

import logging

import asdf
import pytest

from iris_gui.engine.config import STEP_ALIASES, PipelineConfig, declared
from iris_gui.engine.errors import ParameterError
from iris_gui.engine.parameter_files import load_parameters
from iris_gui.engine.steps import STEP_BY_NAME, STEPS

DEFAULTS = PipelineConfig()

#: what the upstream's 2025 ImagerStage2Pipeline files look like (its step_defs names)
UPSTREAM_CFG = """\
class = "liger_iris_pipeline.ImagerStage2Pipeline"
save_results = True

[steps]
    [[parse_subarray_map]]
    [[dark_sub]]
        config_file = "dark_config.cfg"
    [[flat_field]]
        flat = "flats/liger_flat.fits"
        flat_output_dir = None
    [[calc_background]]
        maxiters = 7
    [[background_sub]]
        scale = 1.0
    [[assign_wcs]]
        skip = False
"""

UPSTREAM_DARK_CFG = """\
class = "liger_iris_pipeline.DarkSubtraction"
dark = "darks/liger_dark.fits"
dark_output_dir = None
"""


def _write(path, text):
    path.write_text(text)
    return path


def _upstream(tmp_path, text=UPSTREAM_CFG):
    _write(tmp_path / "dark_config.cfg", UPSTREAM_DARK_CFG)
    return _write(tmp_path / "stage2.cfg", text)


def test_every_alias_names_one_step_and_no_alias_is_a_step_name():
    names = {s.name for s in STEPS}
    assert not names & set(STEP_ALIASES)
    assert STEP_ALIASES["dark_sub"].name == "dark_current"
    assert STEP_ALIASES["parse_subarrays"].name == "parse_subarray_map"
    for alias in ("sky_sub", "calc_background", "background_sub"):
        assert STEP_ALIASES[alias].name == "bkg_subtract"
    for step in STEPS:  # translations lead to parameters the step has
        for _theirs, ours in declared(step, "parameter_aliases"):
            assert step.parameter(ours) is not None, (step.name, ours)
        for name in declared(step, "jwst_only_parameters"):
            assert step.parameter(name) is None, (step.name, name)


def test_upstream_cfg_is_read_with_translations_logged(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="iris_gui.engine.parameter_files")
    config = load_parameters(_upstream(tmp_path))
    assert config.pipeline["save_results"] is True
    assert config.steps["dark_current"]["override_dark"] == "darks/liger_dark.fits"
    assert config.steps["flat_field"]["override_flat"] == "flats/liger_flat.fits"
    assert config.steps["bkg_subtract"]["maxiters"] == 7
    assert config.steps["assign_wcs"]["skip"] is False
    text = caplog.text
    assert "step dark_sub is the upstream name of dark_current" in text
    assert "step calc_background is the upstream name of bkg_subtract" in text
    assert "dark_sub.dark is the upstream name of dark_current.override_dark" in text
    assert "flat_field.flat is the upstream name of flat_field.override_flat" in text
    # the upstream's class names are known: no "not the usual class" warning
    assert "not the usual class" not in text
    assert str(tmp_path / "dark_config.cfg") in config.read_files


def test_upstream_asdf_with_upstream_names_and_classes(tmp_path, caplog):
    path = tmp_path / "stage2.asdf"
    asdf.AsdfFile({
        "class": "liger_iris_pipeline.pipeline.imager_stage2.ImagerStage2Pipeline",
        "name": "ImagerStage2Pipeline",
        "parameters": {"save_results": True},
        "steps": [
            {"class": "liger_iris_pipeline.parse_subarray_map.ParseSubarrayMapStep",
             "name": "parse_subarrays", "parameters": {"skip": True}},
            {"class": "liger_iris_pipeline.dark_subtraction.DarkSubtractionStep",
             "name": "dark_sub", "parameters": {"dark": None, "dark_output_dir": None}},
            {"class": "liger_iris_pipeline.assign_wcs.AssignWCSStep", "name": "assign_wcs",
             "parameters": {"skip": True}},
            {"class": "liger_iris_pipeline.sky_subtraction.SkySubtractionImagerStep",
             "name": "sky_sub", "parameters": {"skip": True, "sky": None}},
        ],
    }).write_to(str(path))
    with caplog.at_level(logging.WARNING):
        config = load_parameters(path)
    assert config.steps["parse_subarray_map"]["skip"] is True
    assert config.steps["dark_current"]["override_dark"] is None
    assert config.steps["assign_wcs"]["skip"] is True  # AssignWCSStep, not our AssignWcsStep
    assert config.steps["bkg_subtract"]["skip"] is True
    assert caplog.text == ""


@pytest.mark.parametrize("section, line, reason", [
    ("calc_background", "sigma_low = 6", "median-filtered"),
    ("calc_background", "box_size = 101", "use sigma and maxiters"),
    ("background_sub", "scale = 2.0", "unscaled"),
    ("background_sub", "background = sky.fits", "background (or SKY) members"),
    ("sky_sub", "sky = sky.fits", "background (or SKY) members"),
    ("dark_sub", "dark_output_dir = darks", "dark_output = <file>"),
    ("flat_field", "flat_output_dir = flats", "R_FLAT"),
])
def test_upstream_parameters_with_another_meaning_are_refused(tmp_path, section, line, reason):
    path = _write(tmp_path / "stage2.cfg", f'class = "liger_iris_pipeline.ImagerStage2Pipeline"\n'
                                           f"[steps]\n  [[{section}]]\n    {line}\n")
    with pytest.raises(ParameterError) as info:
        load_parameters(path)
    message = str(info.value)
    assert f"steps.{section}.{line.split()[0]}: not read" in message
    assert reason in message


def test_two_upstream_sections_of_one_step_must_agree(tmp_path):
    path = _write(tmp_path / "stage2.cfg", """\
class = "liger_iris_pipeline.ImagerStage2Pipeline"
[steps]
  [[calc_background]]
    skip = True
  [[background_sub]]
    skip = False
""")
    with pytest.raises(ParameterError, match="disagree; both are bkg_subtract.skip"):
        load_parameters(path)
    # the same value twice is fine
    path.write_text(path.read_text().replace("skip = False", "skip = True"))
    assert load_parameters(path).steps["bkg_subtract"]["skip"] is True


def test_unknown_parameter_of_a_translated_step_is_still_refused(tmp_path):
    path = _write(tmp_path / "stage2.cfg", 'class = "liger_iris_pipeline.ImagerStage2Pipeline"\n'
                                           "[steps]\n  [[dark_sub]]\n    darkk = d.fits\n")
    with pytest.raises(ParameterError, match=r"steps\.dark_current\.darkk: unknown parameter"):
        load_parameters(path)


def test_unknown_step_names_the_aliases_read(tmp_path):
    path = _write(tmp_path / "stage2.cfg", "[steps]\n  [[dark_subtract]]\n    skip = True\n")
    with pytest.raises(ParameterError, match="unknown step 'dark_subtract'.*also read: .*dark_sub"):
        load_parameters(path)


# ---- jwst Image2Pipeline ---------------------------------------------------------------------------

_STPIPE = {"input_dir": "", "output_dir": None, "output_ext": ".fits", "output_file": None,
           "output_use_index": True, "output_use_model": False, "post_hooks": [],
           "pre_hooks": [], "save_results": False, "search_output_file": True, "skip": False,
           "suffix": None}


def _jwst_tree(**changes):
    """The layout strun --save-parameters writes for jwst's Image2Pipeline."""
    steps = [
        {"class": "jwst.background.background_step.BackgroundStep", "name": "bkg_subtract",
         "parameters": {**_STPIPE, "bkg_list": None, "save_combined_background": False,
                        "sigma": 2.5, "maxiters": None, "wfss_mmag_extract": None,
                        "wfss_maxiter": 5, "wfss_rms_stop": 0.0, "wfss_outlier_percent": 1.0}},
        {"class": "jwst.assign_wcs.assign_wcs_step.AssignWcsStep", "name": "assign_wcs",
         "parameters": {**_STPIPE, "sip_approx": True, "sip_max_pix_error": 0.01,
                        "sip_degree": None, "sip_max_inv_pix_error": 0.01,
                        "sip_inv_degree": None, "sip_npoints": 12, "slit_y_low": -0.55,
                        "slit_y_high": 0.55, "nrs_ifu_slice_wcs": False}},
        {"class": "jwst.flatfield.flat_field_step.FlatFieldStep", "name": "flat_field",
         "parameters": {**_STPIPE, "save_interpolated_flat": False, "user_supplied_flat": None,
                        "inverse": False}},
        {"class": "jwst.photom.photom_step.PhotomStep", "name": "photom",
         "parameters": {**_STPIPE, "inverse": False, "source_type": None,
                        "mrs_time_correction": True}},
        {"class": "jwst.resample.resample_step.ResampleStep", "name": "resample",
         "parameters": {**_STPIPE, "suffix": "i2d", "pixfrac": 0.8, "kernel": "square",
                        "fillval": "NAN", "weight_type": "ivm", "output_shape": None,
                        "crpix": None, "crval": None, "rotation": None,
                        "pixel_scale_ratio": 1.0, "pixel_scale": None, "output_wcs": "",
                        "single": False, "blendheaders": True, "allowed_memory": None,
                        "in_memory": True}},
    ]
    tree = {"class": "jwst.pipeline.calwebb_image2.Image2Pipeline", "name": "Image2Pipeline",
            "meta": {"author": "<SPECIFY>", "reftype": "<SPECIFY>"},
            "parameters": {**_STPIPE, "save_bsub": True}, "steps": steps}
    for name, parameters in changes.items():
        entry = next((s for s in steps if s["name"] == name), None)
        if entry is None:
            steps.append({"class": f"jwst.{name}.{name}_step.Step", "name": name,
                          "parameters": parameters})
        else:
            entry["parameters"].update(parameters)
    return tree


def _jwst_file(tmp_path, **changes):
    path = tmp_path / "image2pipeline.asdf"
    asdf.AsdfFile(_jwst_tree(**changes)).write_to(str(path))
    return path


def test_jwst_image2_parameter_file_is_read_with_one_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="iris_gui.engine.parameter_files"):
        config = load_parameters(_jwst_file(tmp_path))
    assert config.pipeline["save_bsub"] is True
    assert config.steps["bkg_subtract"]["sigma"] == 2.5
    assert config.steps["resample"]["pixfrac"] == 0.8
    assert config.steps["resample"]["weight_type"] == "ivm"
    assert config.steps["resample"]["rotation"] is None
    assert config.steps["dark_current"] == DEFAULTS.steps["dark_current"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    for setting in ("bkg_subtract.save_combined_background", "bkg_subtract.wfss_maxiter",
                    "assign_wcs.sip_approx", "flat_field.user_supplied_flat",
                    "photom.source_type", "resample.output_wcs", "resample.blendheaders"):
        assert setting in text
    assert "bkg_subtract.sigma" not in text  # ours, applied


def test_jwst_step_we_do_not_have_is_listed(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="iris_gui.engine.parameter_files"):
        load_parameters(_jwst_file(tmp_path, nsclean={"skip": False}))
    assert "step nsclean" in caplog.text


def test_jwst_file_still_refuses_unknown_parameters_of_our_steps(tmp_path):
    with pytest.raises(ParameterError, match=r"steps\.resample\.pixfrak: unknown parameter"):
        load_parameters(_jwst_file(tmp_path, resample={"pixfrak": 0.5}))


def test_jwst_only_parameter_in_our_own_file_is_refused(tmp_path):
    # only a jwst file earns the leniency: in an iris_pipeline file the key is a mistake
    tree = _jwst_tree()
    tree["class"] = "iris_pipeline.pipeline.ProcessImagerL2Pipeline"
    tree["name"] = "ProcessImagerL2Pipeline"
    path = tmp_path / "ours.asdf"
    asdf.AsdfFile(tree).write_to(str(path))
    with pytest.raises(ParameterError, match=r"bkg_subtract\.bkg_list: unknown parameter"):
        load_parameters(path)


def test_jwst_cfg_layout(tmp_path, caplog):
    _write(tmp_path / "bkg.cfg", 'name = "bkg_subtract"\n'
                                 'class = "jwst.background.BackgroundStep"\n'
                                 "save_combined_background = True\nsigma = 4.0\n")
    path = _write(tmp_path / "calwebb_image2.cfg", """\
name = "Image2Pipeline"
class = "jwst.pipeline.Image2Pipeline"
save_bsub = False
    [steps]
      [[bkg_subtract]]
        config_file = bkg.cfg
      [[assign_wcs]]
        sip_approx = True
      [[resample]]
        single = False
""")
    with caplog.at_level(logging.WARNING, logger="iris_gui.engine.parameter_files"):
        config = load_parameters(path)
    assert config.steps["bkg_subtract"]["sigma"] == 4.0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "bkg_subtract.save_combined_background, assign_wcs.sip_approx, resample.single" \
        in warnings[0]


def test_our_own_files_are_unchanged(tmp_path):
    # the files iris_gui writes still read back to the same values, with no translation
    from iris_gui.engine.parameter_files import save_parameters

    for name in ("x.cfg", "x.asdf"):
        path = save_parameters(DEFAULTS, tmp_path / name)
        assert load_parameters(path).to_dict() == DEFAULTS.to_dict()
    assert set(STEP_BY_NAME) == {s.name for s in STEPS}


# ---- where jwst's defaults differ from ours ------------------------------------------------------

def _the_warning(caplog) -> str:
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    return warnings[0]


WEIGHT_TYPE = "resample.weight_type: jwst's default is 'ivm', ours is 'exptime'"


def test_jwst_warning_names_a_default_difference_the_file_sets(tmp_path, caplog):
    # strun --save-parameters writes every parameter, so jwst's ivm is in the file: it applies
    with caplog.at_level(logging.WARNING, logger="iris_gui.engine.parameter_files"):
        config = load_parameters(_jwst_file(tmp_path))
    text = _the_warning(caplog)
    assert config.steps["resample"]["weight_type"] == "ivm"
    assert f"{WEIGHT_TYPE}; this file sets it to 'ivm', which applies" in text
    assert ("resample.rotation: jwst's default is 'None', ours is '0.0'; this file sets it to "
            "'None', which applies") in text
    # the same setting spelled otherwise (NAN, NaN) or the same default is no difference
    for same in ("fillval", "pixfrac", "kernel", "good_bits", "bkg_subtract.sigma",
                 "bkg_subtract.maxiters", "flat_field.inverse"):
        assert same not in text.split("jwst's defaults differ from ours")[1], same


def test_jwst_warning_says_ours_applies_where_the_file_is_silent(tmp_path, caplog):
    tree = _jwst_tree()
    resample = next(s for s in tree["steps"] if s["name"] == "resample")
    del resample["parameters"]["weight_type"]
    path = tmp_path / "image2pipeline.asdf"
    asdf.AsdfFile(tree).write_to(str(path))
    with caplog.at_level(logging.WARNING, logger="iris_gui.engine.parameter_files"):
        config = load_parameters(path)
    assert config.steps["resample"]["weight_type"] == "exptime"
    assert f"{WEIGHT_TYPE}; this file does not set it, so ours applies" in _the_warning(caplog)


def test_jwst_file_setting_ours_is_still_told_the_default_differs(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="iris_gui.engine.parameter_files"):
        config = load_parameters(_jwst_file(tmp_path, resample={"weight_type": "exptime"}))
    assert config.steps["resample"]["weight_type"] == "exptime"
    assert f"{WEIGHT_TYPE}; this file sets it to 'exptime', which applies" in _the_warning(caplog)


def test_jwst_file_with_nothing_ignored_warns_once_about_the_defaults(tmp_path, caplog):
    path = _write(tmp_path / "calwebb_image2.cfg", 'name = "Image2Pipeline"\n'
                  'class = "jwst.pipeline.Image2Pipeline"\n[steps]\n  [[resample]]\n'
                  "    pixfrac = 0.7\n")
    with caplog.at_level(logging.WARNING, logger="iris_gui.engine.parameter_files"):
        config = load_parameters(path)
    assert config.steps["resample"]["pixfrac"] == 0.7
    text = _the_warning(caplog)
    assert "ignored" not in text
    assert f"{WEIGHT_TYPE}; this file does not set it, so ours applies" in text


def test_our_own_and_upstream_files_get_no_jwst_warning(tmp_path, caplog):
    from iris_gui.engine.parameter_files import save_parameters

    with caplog.at_level(logging.WARNING):
        load_parameters(save_parameters(DEFAULTS, tmp_path / "ours.asdf"))
        load_parameters(_upstream(tmp_path))
    assert "jwst" not in caplog.text


# ---- a step's parameter file given as the pipeline's --------------------------------------------

@pytest.mark.parametrize("class_name, step", [
    ("iris_pipeline.flatfield.FlatFieldStep", "flat_field"),       # the seed's flat_field.cfg
    ("iris_pipeline.background.BackgroundStep", "bkg_subtract"),
    ("liger_iris_pipeline.DarkSubtraction", "dark_current"),       # the upstream's dark cfg
    ("jwst.resample.resample_step.ResampleStep", "resample"),
])
@pytest.mark.parametrize("layout", ["cfg", "asdf"])
def test_a_steps_file_given_as_the_pipelines_is_refused_as_such(tmp_path, class_name, step,
                                                                  layout):
    if layout == "cfg":
        path = _write(tmp_path / "step.cfg", f'name = "{step}"\nclass = "{class_name}"\n')
    else:
        path = tmp_path / "step.asdf"
        asdf.AsdfFile({"class": class_name, "name": step, "parameters": {}}).write_to(str(path))
    with pytest.raises(ParameterError) as info:
        load_parameters(path)
    message = str(info.value)
    assert f"class {class_name!r} is the parameter file of one step ({step}), not of the " \
           f"image2 pipeline" in message
    assert f"[[{step}]] config_file = <this file>" in message
    assert f"--steps.{step}.PARAMETER=VALUE" in message


def test_another_pipelines_file_is_refused_naming_what_is_accepted(tmp_path):
    path = _write(tmp_path / "create_flat.cfg", 'class = "liger_iris_pipeline.CreateFlatfield"\n'
                                                "[steps]\n  [[dark_sub]]\n")
    with pytest.raises(ParameterError, match=r"class 'liger_iris_pipeline.CreateFlatfield' is "
                                             r"not the image2 pipeline \(expected one of "
                                             r"ProcessImagerL2Pipeline, Image2Pipeline, "
                                             r"ImagerStage2Pipeline\)"):
        load_parameters(path)


def test_a_classless_step_cfg_given_as_the_pipelines_says_how_to_use_it(tmp_path):
    # jwst's test flat_field.cfg: step settings, no class, no [steps]
    path = _write(tmp_path / "flat_field.cfg", "threshold = 24.0\nmultiplier = 2.0\n")
    with pytest.raises(ParameterError, match=r"flat_field.cfg: threshold: not an option of the "
                                             r"image2 pipeline, and the file has no class and "
                                             r"no \[steps\].*config_file = flat_field.cfg\)"):
        load_parameters(path)
    # a pipeline option alone is a valid (classless) pipeline file
    assert load_parameters(_write(tmp_path / "p.cfg", "save_bsub = True\n")).pipeline[
        "save_bsub"] is True
