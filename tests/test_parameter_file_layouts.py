"""stpipe's two asdf layouts and the files iris_gui writes, checked against stpipe itself.

The older layout (``step_config-0.1.0``, the 2019-21 CRDS ``pars-*`` files): everything under
``parameters``, which holds the class, the name, the pipeline's options and ``steps`` as a
mapping. It must be read with its step settings applied and its class checked. Every file here
is also handed to stpipe's own reader, so the layouts tested are the ones stpipe knows."""

from __future__ import annotations

import logging
import sys
import types

import asdf
import pytest
from stpipe.config_parser import load_config_file

from iris_gui.engine.config import PIPELINE_CLASS, PIPELINE_PARAMETERS, PipelineConfig
from iris_gui.engine.errors import ParameterError
from iris_gui.engine.parameter_files import cfg_text, load_parameters, save_parameters
from iris_gui.engine.steps import STEPS

DEFAULTS = PipelineConfig()


def _legacy(tmp_path, parameters, name="pars-image2pipeline.asdf"):
    path = tmp_path / name
    asdf.AsdfFile({
        "meta": {"author": "someone", "pedigree": "GROUND", "reftype": "pars-image2pipeline",
                 "useafter": "2019-10-11T00:00:00"},
        "parameters": parameters,
    }).write_to(str(path))
    return path


LEGACY_IMAGE2 = {
    "class": "iris_pipeline.pipeline.ProcessImagerL2Pipeline",
    "name": "ProcessImagerL2Pipeline",
    "save_bsub": True,
    "steps": {
        "bkg_subtract": {"class": "iris_pipeline.background.BackgroundStep", "sigma": 2.5,
                         "maxiters": 4},
        "flat_field": {"class": "iris_pipeline.flatfield.FlatFieldStep", "skip": True},
        "resample": {"pixfrac": 0.5, "weight_type": "ivm"},
    },
}


def test_stpipe_reads_these_files_as_its_older_layout(tmp_path):
    # the files below are the layout stpipe's legacy schema describes: its reader takes them
    document = load_config_file(str(_legacy(tmp_path, LEGACY_IMAGE2)))
    assert document["class"] == "iris_pipeline.pipeline.ProcessImagerL2Pipeline"
    assert document["steps"]["bkg_subtract"]["sigma"] == 2.5


def test_older_layout_is_read_with_its_step_settings(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="iris_gui.engine.parameter_files")
    config = load_parameters(_legacy(tmp_path, LEGACY_IMAGE2))
    assert config.pipeline["save_bsub"] is True
    assert config.steps["bkg_subtract"]["sigma"] == 2.5
    assert config.steps["bkg_subtract"]["maxiters"] == 4
    assert config.steps["flat_field"]["skip"] is True
    assert config.steps["resample"]["pixfrac"] == 0.5
    assert config.steps["resample"]["weight_type"] == "ivm"
    # nothing else moved
    for step in ("assign_wcs", "dark_current", "photom", "parse_subarray_map"):
        assert config.steps[step] == DEFAULTS.steps[step]
    assert "the older stpipe layout" in caplog.text
    assert "not the usual class" not in caplog.text  # the steps' classes were read and known


def test_older_layout_names_translated_like_the_current_one(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="iris_gui.engine.parameter_files")
    config = load_parameters(_legacy(tmp_path, {
        "class": "liger_iris_pipeline.ImagerStage2Pipeline", "name": "ImagerStage2Pipeline",
        "steps": {"dark_sub": {"dark": "darks/d.fits"}, "sky_sub": {"skip": True}}}))
    assert config.steps["dark_current"]["override_dark"] == "darks/d.fits"
    assert config.steps["bkg_subtract"]["skip"] is True
    assert "step dark_sub is the upstream name of dark_current" in caplog.text


@pytest.mark.parametrize("class_name, message", [
    # the file of another pipeline (the jwst test file in the older layout)
    ("jwst.stpipe.tests.steps.ProperPipeline", "'jwst.stpipe.tests.steps.ProperPipeline' is "
     "not the image2 pipeline"),
    # a CRDS pars- file of a jwst step we do not have
    ("jwst.tweakreg.TweakRegStep", "'jwst.tweakreg.TweakRegStep' is not the image2 pipeline"),
    # one of our steps' parameter files given as the pipeline's
    ("iris_pipeline.flatfield.FlatFieldStep", "parameter file of one step (flat_field)"),
])
def test_older_layout_class_is_checked(tmp_path, class_name, message):
    path = _legacy(tmp_path, {"class": class_name, "name": "x",
                              "steps": {"withdefaultsstep": {"par1": "newpar1"}}})
    with pytest.raises(ParameterError) as info:
        load_parameters(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_older_layout_without_steps_but_with_a_class_is_still_checked(tmp_path):
    # a CRDS pars- file of one step: parameters hold its class and settings, no steps
    path = _legacy(tmp_path, {"class": "jwst.tweakreg.TweakRegStep", "brightest": 100,
                              "minobj": 15})
    with pytest.raises(ParameterError, match="is not the image2 pipeline"):
        load_parameters(path)


def test_older_layout_jwst_image2_file_gets_the_jwst_reading(tmp_path, caplog):
    path = _legacy(tmp_path, {
        "class": "jwst.pipeline.Image2Pipeline", "name": "Image2Pipeline",
        "steps": {"bkg_subtract": {"save_combined_background": False, "sigma": 2.0},
                  "resample": {"blendheaders": True}}})
    with caplog.at_level(logging.WARNING, logger="iris_gui.engine.parameter_files"):
        config = load_parameters(path)
    assert config.steps["bkg_subtract"]["sigma"] == 2.0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "bkg_subtract.save_combined_background" in warnings[0]
    assert "resample.blendheaders" in warnings[0]


def test_older_layout_step_with_steps_of_its_own_is_refused(tmp_path):
    path = _legacy(tmp_path, {"class": "iris_pipeline.pipeline.ProcessImagerL2Pipeline",
                              "steps": {"flat_field": {"steps": {"inner": {"x": 1}}}}})
    with pytest.raises(ParameterError, match=r"parameters\.steps\.flat_field: holds steps of its "
                                             r"own"):
        load_parameters(path)


def test_older_layout_unknown_parameter_is_refused_naming_the_step(tmp_path):
    path = _legacy(tmp_path, {"class": "iris_pipeline.pipeline.ProcessImagerL2Pipeline",
                              "steps": {"flat_field": {"flatt": "f.fits"}}})
    with pytest.raises(ParameterError, match=r"steps\.flat_field\.flatt: unknown parameter"):
        load_parameters(path)


# ---- what --save-parameters writes, read by stpipe --------------------------------------------
#
# stpipe reads a parameter file into the Pipeline class it names, validating every value
# against that class's spec. The classes our files name (the seed-era iris_pipeline) are not
# installed, so stand-ins are made here: stpipe Step/Pipeline classes of the same names whose
# specs declare our parameters the way the seed's steps do (``maxiters = integer(default=None)``).

def _spec_line(parameter) -> str:
    if parameter.kind == "choice":
        choices = ", ".join(repr(c) for c in parameter.choices)
        return f"{parameter.name} = option({choices}, default=None)"
    kind = {"float": "float", "int": "integer", "bool": "boolean", "string": "string",
            "path": "string"}[parameter.kind]
    return f"{parameter.name} = {kind}(default=None)"


#: what jwst's JwstStep adds to stpipe's base spec (stpipe's own has no default for it)
_OUTPUT_EXT = "output_ext = string(default='.fits')"


@pytest.fixture
def stpipe_classes(monkeypatch):
    """Installs the stand-in classes under the names our files write; returns stpipe's
    Pipeline."""
    from stpipe import Pipeline, Step

    modules: dict[str, types.ModuleType] = {}

    def module(name: str) -> types.ModuleType:
        parts = name.split(".")
        for index in range(1, len(parts) + 1):
            modules.setdefault(".".join(parts[:index]),
                               types.ModuleType(".".join(parts[:index])))
        return modules[name]

    step_defs = {}
    for step in STEPS:
        module_name, class_name = step.class_name.rsplit(".", 1)
        spec = "\n".join([_OUTPUT_EXT] + [_spec_line(p) for p in step.parameters])
        cls = type(class_name, (Step,), {"spec": spec, "process": lambda self, x: x})
        setattr(module(module_name), class_name, cls)
        step_defs[step.name] = cls
    module_name, class_name = PIPELINE_CLASS.rsplit(".", 1)
    options = [_spec_line(p) for p in PIPELINE_PARAMETERS if p.name != "save_results"]
    pipeline = type(class_name, (Pipeline,), {"spec": "\n".join([_OUTPUT_EXT] + options),
                                              "step_defs": step_defs,
                                              "process": lambda self, x: x})
    setattr(module(module_name), class_name, pipeline)
    for name, value in modules.items():
        monkeypatch.setitem(sys.modules, name, value)
    return Pipeline


def _as_stpipe_reads(stpipe_classes, path) -> tuple[dict, dict]:
    """(pipeline options, {step: parameters}) of the pipeline stpipe makes from ``path``."""
    pipeline = stpipe_classes.from_config_file(str(path))
    assert type(pipeline).__name__ == "ProcessImagerL2Pipeline"
    options = {p.name: getattr(pipeline, p.name) for p in PIPELINE_PARAMETERS}
    steps = {step.name: {p.name: getattr(getattr(pipeline, step.name), p.name)
                         for p in step.all_parameters} for step in STEPS}
    return options, steps


def _changed() -> PipelineConfig:
    config = PipelineConfig()
    config.pipeline["save_bsub"] = True
    config.set("steps.bkg_subtract.sigma", 2.5)
    config.set("steps.bkg_subtract.maxiters", 4)
    config.set("steps.flat_field.skip", True)
    config.set("steps.dark_current.override_dark", "darks/it's a dark.fits")
    config.set("steps.resample.crval", "10.5, -20.25")
    config.set("steps.resample.pixel_scale", 0.02)
    config.set("steps.resample.weight_type", "ivm")
    return config


@pytest.mark.parametrize("suffix", [".cfg", ".asdf"])
@pytest.mark.parametrize("config", [PipelineConfig(), _changed()], ids=["defaults", "changed"])
def test_saved_parameters_are_read_back_by_stpipe_with_the_same_values(
        tmp_path, stpipe_classes, suffix, config):
    path = save_parameters(config, tmp_path / f"image2{suffix}")
    options, steps = _as_stpipe_reads(stpipe_classes, path)
    assert options == config.pipeline
    for step in STEPS:
        assert steps[step.name] == config.steps[step.name], step.name
    assert load_parameters(path).to_dict() == config.to_dict()


def test_stpipe_refuses_the_text_none_for_a_number(tmp_path, stpipe_classes):
    # why a None default is written as a comment: the line stpipe cannot take
    from stpipe.exceptions import ValidationError

    path = save_parameters(PipelineConfig(), tmp_path / "image2.cfg")
    path.write_text(path.read_text().replace("# maxiters = None", "maxiters = None"))
    with pytest.raises(ValidationError, match="maxiters"):
        stpipe_classes.from_config_file(str(path))
    assert load_parameters(path).steps["bkg_subtract"]["maxiters"] is None  # we read both


def test_saved_asdf_names_each_steps_class_for_stpipe(tmp_path):
    path = save_parameters(PipelineConfig(), tmp_path / "image2.asdf")
    document = load_config_file(str(path))
    assert {name: section["class"] for name, section in document["steps"].items()} == \
        {step.name: step.class_name for step in STEPS}


def test_a_none_that_is_not_the_default_goes_through_asdf_for_stpipe(tmp_path, stpipe_classes):
    # rotation: ours 0.0 (north up), None keeps the detector's orientation. The cfg must say
    # None (a key left out would be our 0.0), which stpipe's cfg validation cannot take; the
    # asdf file carries it to both
    config = PipelineConfig()
    config.set("steps.resample.rotation", None)
    _options, steps = _as_stpipe_reads(stpipe_classes,
                                       save_parameters(config, tmp_path / "image2.asdf"))
    assert steps["resample"]["rotation"] is None
    cfg = save_parameters(config, tmp_path / "image2.cfg")
    assert "        rotation = None" in cfg.read_text()
    assert load_parameters(cfg).steps["resample"]["rotation"] is None


def test_none_by_default_is_a_comment_in_the_cfg():
    text = cfg_text(PipelineConfig())
    assert "        # maxiters = None" in text and "maxiters = None\n" not in text.replace(
        "# maxiters = None\n", "")
    assert "        # override_dark = None" in text
    # a value that is set is written as usual
    assert "        maxiters = 4" in cfg_text(_changed())


def test_bkg_subtract_is_saved_as_the_seeds_class_and_the_old_name_is_still_read(tmp_path,
                                                                                   caplog):
    path = save_parameters(PipelineConfig(), tmp_path / "image2.asdf")
    with asdf.open(path) as af:
        classes = {entry["name"]: entry["class"] for entry in af.tree["steps"]}
    # the seed iris_pipeline's class (iris_pipeline/background/background_step.py)
    assert classes["bkg_subtract"] == "iris_pipeline.background.BackgroundStep"
    # the name iris_gui wrote before (a class the seed does not have) is still read, quietly
    with asdf.open(path) as af:
        tree = {key: af.tree[key] for key in ("class", "name", "parameters", "steps")}
    tree["steps"][0]["class"] = "iris_pipeline.background.SubtractImagerBackgroundStep"
    tree["steps"][0]["parameters"]["sigma"] = 2.0
    older = tmp_path / "older.asdf"
    asdf.AsdfFile(tree).write_to(str(older))
    (tmp_path / "bkg.cfg").write_text(
        'class = "iris_pipeline.background.SubtractImagerBackgroundStep"\nsigma = 2.5\n')
    (tmp_path / "older.cfg").write_text("[steps]\n  [[bkg_subtract]]\n    config_file = bkg.cfg\n")
    with caplog.at_level(logging.WARNING):
        assert load_parameters(older).steps["bkg_subtract"]["sigma"] == 2.0
        assert load_parameters(tmp_path / "older.cfg").steps["bkg_subtract"]["sigma"] == 2.5
    assert caplog.text == ""
