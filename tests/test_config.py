"""Parameter files: the upstream cfg examples, class names, cfg/asdf round trips, stpipe asdf files,
and PipelineConfig.set."""

from __future__ import annotations

import asdf
import pytest

from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.errors import ParameterError
from iris_gui.engine.parameter_files import cfg_text, load_parameters, save_parameters
from iris_gui.engine.steps import STEPS
from iris_gui.gui.resources import resource_path

#: DESIGN.md §3, verbatim
IMAGE2_CFG = """\
# image2.cfg
name = "ProcessImagerL2Pipeline"
class = "iris_pipeline.pipeline.ProcessImagerL2Pipeline"
save_results = True
    [steps]
      [[bkg_subtract]]
      [[assign_wcs]]
        skip = True
      [[dark_current]]
      [[flat_field]]
        config_file = flat_field.cfg
      [[photom]]
        skip = True
      [[resample]]
        skip = True
"""

#: DESIGN.md §3, verbatim
FLAT_FIELD_CFG = """\
# flat_field.cfg, beside it
name = "flat_field"
class = "iris_pipeline.flatfield.FlatFieldStep"
#override_flat = 'flat.fits'
"""

STEP_NAMES = [s.name for s in STEPS]


def _write_examples(folder, image2=IMAGE2_CFG, flat=FLAT_FIELD_CFG):
    (folder / "flat_field.cfg").write_text(flat)
    path = folder / "image2.cfg"
    path.write_text(image2)
    return path


def test_upstream_examples_load(tmp_path, monkeypatch):
    path = _write_examples(tmp_path)
    monkeypatch.chdir(tmp_path.parent)  # config_file is found beside image2.cfg, not in the cwd
    config = load_parameters(path)
    assert config.source == str(path)
    skips = {name: config.steps[name]["skip"] for name in STEP_NAMES}
    assert skips == {
        "bkg_subtract": False, "assign_wcs": True, "parse_subarray_map": False,
        "dark_current": False, "flat_field": False, "photom": True, "resample": True,
    }
    assert config.pipeline["save_results"] is True
    assert config.pipeline["save_bsub"] is False
    assert config.steps["flat_field"]["override_flat"] is None
    assert config.steps["flat_field"]["inverse"] is False
    assert config.steps["bkg_subtract"]["sigma"] == 3.0
    assert config.steps["bkg_subtract"]["maxiters"] is None


def test_pipeline_save_results_false_is_read(tmp_path):
    path = _write_examples(tmp_path, IMAGE2_CFG.replace("save_results = True", "save_results = False"))
    assert load_parameters(path).pipeline["save_results"] is False


def test_step_config_file_values_applied(tmp_path):
    flat = FLAT_FIELD_CFG + "inverse = True\noverride_flat = 'my flat.fits'\n"
    config = load_parameters(_write_examples(tmp_path, flat=flat))
    assert config.steps["flat_field"]["inverse"] is True
    assert config.steps["flat_field"]["override_flat"] == "my flat.fits"
    assert config.steps["flat_field"]["skip"] is False


def test_section_value_overrides_step_config_file(tmp_path):
    flat = FLAT_FIELD_CFG + "inverse = True\nskip = True\n"
    image2 = IMAGE2_CFG.replace(
        "        config_file = flat_field.cfg\n",
        "        config_file = flat_field.cfg\n        inverse = False\n",
    )
    config = load_parameters(_write_examples(tmp_path, image2, flat))
    assert config.steps["flat_field"]["inverse"] is False  # the section wins
    assert config.steps["flat_field"]["skip"] is True       # not set in the section: the file's


def test_step_config_file_errors_name_that_file(tmp_path):
    flat = FLAT_FIELD_CFG + "inverse = sometimes\n"
    with pytest.raises(ParameterError, match=r"flat_field\.cfg.*inverse.*'sometimes'"):
        load_parameters(_write_examples(tmp_path, flat=flat))


@pytest.mark.parametrize(
    "class_name",
    [
        "iris_pipeline.pipeline.ProcessImagerL2Pipeline",
        "liger_iris_pipeline.pipeline.Image2Pipeline",
        "liger_iris_pipeline.ImagerStage2Pipeline",
        "ProcessImagerL2Pipeline",
    ],
)
def test_pipeline_class_names_accepted(tmp_path, class_name):
    image2 = IMAGE2_CFG.replace('"iris_pipeline.pipeline.ProcessImagerL2Pipeline"', f'"{class_name}"')
    config = load_parameters(_write_examples(tmp_path, image2))
    assert config.steps["photom"]["skip"] is True


@pytest.mark.parametrize("class_name", ["jwst.pipeline.Spec2Pipeline", "Image2PipelineX"])
def test_other_pipeline_class_rejected(tmp_path, class_name):
    image2 = IMAGE2_CFG.replace('"iris_pipeline.pipeline.ProcessImagerL2Pipeline"', f'"{class_name}"')
    with pytest.raises(ParameterError, match=rf"image2\.cfg.*class '{class_name}'.*not the image2"):
        load_parameters(_write_examples(tmp_path, image2))


def _non_default() -> PipelineConfig:
    config = PipelineConfig()
    config.set("save_bsub", True)
    config.set("save_results", False)
    config.set("steps.bkg_subtract.sigma", 2.5)
    config.set("steps.bkg_subtract.maxiters", 4)
    config.set("steps.flat_field.override_flat", "/data/my flats/flat for KN3.fits")
    config.set("steps.flat_field.inverse", True)
    config.set("steps.dark_current.override_dark", "it's a dark.fits")
    config.set("steps.assign_wcs.skip", True)
    config.set("steps.resample.skip", True)
    config.set("steps.photom.save_results", True)
    config.set("steps.photom.suffix", "phot")
    return config


@pytest.mark.parametrize("name", ["round.cfg", "round.asdf"])
def test_round_trip(tmp_path, name):
    config = _non_default()
    path = save_parameters(config, tmp_path / name)
    loaded = load_parameters(path)
    assert loaded.to_dict() == config.to_dict()
    assert loaded.to_dict() != PipelineConfig().to_dict()
    assert loaded.steps["bkg_subtract"]["sigma"] == 2.5
    assert loaded.steps["bkg_subtract"]["maxiters"] == 4
    assert loaded.steps["flat_field"]["override_flat"] == "/data/my flats/flat for KN3.fits"
    assert loaded.steps["dark_current"]["override_dark"] == "it's a dark.fits"
    assert loaded.steps["flat_field"]["inverse"] is True
    assert loaded.pipeline == {"save_results": False, "save_bsub": True, "output_layout": "iris"}
    assert loaded.fingerprint() == config.fingerprint()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_defaults_round_trip(tmp_path):
    for name in ("d.cfg", "d.asdf"):
        loaded = load_parameters(save_parameters(PipelineConfig(), tmp_path / name))
        assert loaded.to_dict() == PipelineConfig().to_dict()


def test_cfg_text_layout():
    text = cfg_text(_non_default())
    assert 'class = "iris_pipeline.pipeline.ProcessImagerL2Pipeline"' in text
    assert "save_bsub = True" in text
    assert "    [steps]" in text
    assert "      [[flat_field]]" in text
    assert "        sigma = 2.5" in text
    assert '        override_flat = "/data/my flats/flat for KN3.fits"' in text
    assert "        maxiters = 4" in text
    # every step appears once, in pipeline order
    positions = [text.index(f"[[{name}]]") for name in STEP_NAMES]
    assert positions == sorted(positions)


def test_stpipe_style_asdf(tmp_path):
    bookkeeping = {
        "input_dir": "", "output_dir": None, "output_ext": ".fits", "output_file": None,
        "output_use_model": False, "output_use_index": True, "search_output_file": True,
        "pre_hooks": [], "post_hooks": [],
    }
    tree = {
        "class": "liger_iris_pipeline.pipeline.ImagerStage2Pipeline",
        "name": "ImagerStage2Pipeline",
        "meta": {"author": "someone", "reftype": "pars-image2pipeline"},
        "parameters": {**bookkeeping, "save_results": True, "save_bsub": True, "skip": False,
                       "suffix": "cal"},
        "steps": [
            {"class": "jwst.background.background_step.BackgroundStep", "name": "bkg_subtract",
             "parameters": {**bookkeeping, "skip": False, "save_results": False, "suffix": "bsub",
                            "sigma": 2.0, "maxiters": 3}},
            {"class": "iris_pipeline.flatfield.FlatFieldStep", "name": "flat_field",
             "parameters": {**bookkeeping, "skip": True, "override_flat": "flats/f.fits",
                            "inverse": False}},
            {"class": "iris_pipeline.photom.PhotomStep", "name": "photom",
             "parameters": {"skip": True}},
        ],
    }
    path = tmp_path / "image2_pars.asdf"
    asdf.AsdfFile(tree).write_to(str(path))
    config = load_parameters(path)
    assert config.pipeline == {"save_results": True, "save_bsub": True, "output_layout": "iris"}
    assert config.steps["bkg_subtract"]["sigma"] == 2.0
    assert config.steps["bkg_subtract"]["maxiters"] == 3
    assert config.steps["bkg_subtract"]["suffix"] == "bsub"
    assert config.steps["flat_field"]["skip"] is True
    assert config.steps["flat_field"]["override_flat"] == "flats/f.fits"
    assert config.steps["photom"]["skip"] is True
    assert config.steps["dark_current"]["skip"] is False
    assert config.steps["resample"]["skip"] is False


def test_stpipe_asdf_with_null_suffix(tmp_path):
    """stpipe writes ``suffix: null`` into steps it has no suffix for; that keeps the default."""
    path = tmp_path / "nullsuffix.asdf"
    asdf.AsdfFile({
        "class": "iris_pipeline.pipeline.ProcessImagerL2Pipeline",
        "name": "ProcessImagerL2Pipeline",
        "parameters": {"save_results": True, "suffix": None},
        "steps": [{"class": "iris_pipeline.dark_current.DarkCurrentStep", "name": "dark_current",
                   "parameters": {"skip": True, "suffix": None, "output_dir": None}}],
    }).write_to(str(path))
    config = load_parameters(path)
    assert config.steps["dark_current"]["skip"] is True
    assert config.steps["dark_current"]["suffix"] == PipelineConfig().steps["dark_current"]["suffix"]


def test_set_with_text_values():
    config = PipelineConfig()
    config.set("steps.flat_field.inverse", "true")
    assert config.steps["flat_field"]["inverse"] is True
    config.set("steps.flat_field.inverse", "False")
    assert config.steps["flat_field"]["inverse"] is False
    config.set("steps.bkg_subtract.sigma", "2.5")
    assert config.steps["bkg_subtract"]["sigma"] == 2.5
    config.set("steps.bkg_subtract.maxiters", "7")
    assert config.steps["bkg_subtract"]["maxiters"] == 7
    config.set("steps.bkg_subtract.maxiters", "None")
    assert config.steps["bkg_subtract"]["maxiters"] is None
    config.set("steps.flat_field.override_flat", "'quoted path.fits'")
    assert config.steps["flat_field"]["override_flat"] == "quoted path.fits"
    config.set("steps.flat_field.override_flat", "None")
    assert config.steps["flat_field"]["override_flat"] is None
    config.set("save_bsub", "yes")
    assert config.pipeline["save_bsub"] is True
    config.set("steps.photom.skip", 1)
    assert config.steps["photom"]["skip"] is True


def test_set_errors_name_the_key():
    config = PipelineConfig()
    with pytest.raises(ParameterError, match=r"unknown step 'nope'.*bkg_subtract"):
        config.set("steps.nope.skip", "true")
    with pytest.raises(ParameterError,
                       match=r"steps\.flat_field\.inversee: unknown parameter of flat_field.*inverse"):
        config.set("steps.flat_field.inversee", "true")
    with pytest.raises(ParameterError, match=r"^bogus: unknown parameter"):
        config.set("bogus", "1")
    with pytest.raises(ParameterError, match=r"^here\.cfg: bogus: unknown parameter"):
        config.set("bogus", "1", "here.cfg")
    with pytest.raises(ParameterError, match=r"sigma: expected a number, got 'abc'"):
        config.set("steps.bkg_subtract.sigma", "abc")
    with pytest.raises(ParameterError, match=r"sigma: expected a number, got 'None'"):
        config.set("steps.bkg_subtract.sigma", "None")
    with pytest.raises(ParameterError, match=r"maxiters: 0 is out of range"):
        config.set("steps.bkg_subtract.maxiters", "0")
    # a failed set leaves the old value
    assert config.steps["bkg_subtract"]["sigma"] == 3.0
    assert config.steps["bkg_subtract"]["maxiters"] is None


def test_from_dict_and_copy():
    config = _non_default()
    again = PipelineConfig.from_dict(config.to_dict())
    assert again.to_dict() == config.to_dict()
    copied = config.copy()
    copied.set("steps.bkg_subtract.sigma", 9.0)
    assert config.steps["bkg_subtract"]["sigma"] == 2.5
    assert copied.step_fingerprint("bkg_subtract") != config.step_fingerprint("bkg_subtract")
    assert copied.step_fingerprint("flat_field") == config.step_fingerprint("flat_field")


def test_cfg_with_none_suffix_keeps_default(tmp_path):
    image2 = IMAGE2_CFG.replace("      [[photom]]\n", "      [[photom]]\n        suffix = None\n")
    config = load_parameters(_write_examples(tmp_path, image2))
    assert config.steps["photom"]["suffix"] == PipelineConfig().steps["photom"]["suffix"]
    assert config.steps["photom"]["skip"] is True


def test_shipped_default_cfg_is_the_declared_defaults():
    """resources/image2.cfg (the GUI's "Reset to defaults" file) stays in step with the steps'
    declarations: regenerate it with cfg_text(PipelineConfig()) when a parameter changes."""
    shipped = resource_path("image2.cfg").read_text()
    assert shipped == cfg_text(PipelineConfig())
