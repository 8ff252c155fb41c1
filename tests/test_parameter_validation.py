"""Every bad parameter file, override, provenance document or demo size is refused the way a user
meets it: ``iris-image2`` exits 2 with one line of our own words naming the file and the key,
nothing is written, and the same rules hold when the engine is called directly.

Each rule has a test on both sides of its edge (Dec 90 accepted, 90.0001 refused), so a ``>`` for
``>=`` or a dropped check fails here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import asdf
import numpy as np
import pytest
from astropy.io import fits
from factories import write_model

from iris_gui import cli
from iris_gui.engine import demo
from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.errors import InputError, ParameterError
from iris_gui.engine.parameter_files import load_parameters
from iris_gui.engine.provenance import rerun_setup
from iris_gui.engine.steps import resample
from iris_gui.engine.steps.resample import (
    MAX_OUTPUT_PIXELS,
    check_output_size,
    parse_good_bits,
)

SIZE = 32
LIBRARY_WORDS = ("Traceback", "Errno", "Error:", "Exception", "configobj", "wcslib",
                 "MemoryError", "JSONDecodeError", "ValueError", "KeyError", "TypeError")


# ---- helpers --------------------------------------------------------------------------------------

def rate_file(folder: Path, name: str = "x_rate.fits") -> Path:
    """A small rate file with a TAN WCS (1 arcsec pixels) the steps can run on in a moment."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    data = (5.0 + rng.standard_normal((SIZE, SIZE))).astype(np.float32)
    scale = 1.0 / 3600.0
    return write_model(
        folder / name, data, np.full((SIZE, SIZE), 0.5, np.float32),
        EXPTYPE="SCIENCE", EFFINTTM=10.0, BUNIT="DN/s", DATAMODL="ImageModel",
        WCSAXES=2, CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CUNIT1="deg", CUNIT2="deg",
        CRVAL1=10.0, CRVAL2=20.0, CRPIX1=SIZE / 2 + 0.5, CRPIX2=SIZE / 2 + 0.5,
        CD1_1=-scale, CD1_2=0.0, CD2_1=0.0, CD2_2=scale, RADESYS="ICRS")


def one_line(capsys, *fragments: str, path: Path | None = None) -> str:
    """The single error line on stderr, checked for our own words and the given fragments."""
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    line = lines[0]
    assert line.startswith("iris-image2: "), line
    for word in LIBRARY_WORDS:
        assert word not in line, line
    for fragment in fragments:
        assert fragment in line, line
    shown = line.replace(str(path), path.name) if path is not None else line
    assert len(shown) <= 200, shown
    return line


def run_with_config(tmp_path: Path, capsys, config: Path, *fragments: str) -> str:
    """iris-image2 RATE --config CONFIG: exit 2, one line naming the file, nothing written."""
    rate = rate_file(tmp_path / "in")
    out = tmp_path / "out"
    code = cli.main([str(rate), "--config", str(config), "--output-dir", str(out), "-q"])
    assert code == 2
    line = one_line(capsys, str(config), *fragments, path=config)
    assert not out.exists() or not any(out.iterdir())
    return line


def run_with_override(tmp_path: Path, capsys, key: str, value: str, *fragments: str) -> str:
    rate = rate_file(tmp_path / "in")
    out = tmp_path / "out"
    code = cli.main([str(rate), f"--{key}={value}", "--output-dir", str(out), "-q"])
    assert code == 2
    line = one_line(capsys, "command line", key, *fragments)
    assert not out.exists() or not any(out.iterdir())
    return line


def write_asdf(path: Path, tree: dict) -> Path:
    asdf.AsdfFile(tree).write_to(str(path))
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def cfg_resample(tmp_path: Path, line: str) -> Path:
    return write_text(tmp_path / "image2.cfg", f"[steps]\n  [[resample]]\n    {line}\n")


# ---- asdf parameter files ---------------------------------------------------------------------------

def test_asdf_top_level_not_a_mapping(tmp_path, capsys):
    path = write_text(tmp_path / "list.asdf", (
        "#ASDF 1.0.0\n#ASDF_STANDARD 1.5.0\n%YAML 1.1\n%TAG ! tag:stsci.edu:asdf/\n"
        "--- [1, 2]\n...\n"))
    run_with_config(tmp_path, capsys, path, "the top level must be a mapping, found a list")


def test_asdf_file_that_is_not_asdf(tmp_path, capsys):
    path = write_text(tmp_path / "text.asdf", "save_bsub = True\n")
    run_with_config(tmp_path, capsys, path, "not a readable asdf parameter file")


def test_asdf_parameters_not_a_mapping(tmp_path, capsys):
    path = write_asdf(tmp_path / "p.asdf", {"parameters": [1, 2]})
    run_with_config(tmp_path, capsys, path, "parameters must be a mapping, found a list")


def test_asdf_steps_as_top_level_mapping_refused(tmp_path, capsys):
    # neither layout: the older one holds the steps mapping inside parameters
    path = write_asdf(tmp_path / "old.asdf", {"steps": {"flat_field": {"skip": True}}})
    run_with_config(tmp_path, capsys, path, "steps is a mapping", "older layout")


def test_asdf_parameters_at_the_top_level_refused(tmp_path, capsys):
    path = write_asdf(tmp_path / "top.asdf", {"save_bsub": True, "steps": []})
    run_with_config(tmp_path, capsys, path, "unexpected top-level key 'save_bsub'")


def test_asdf_steps_not_a_list(tmp_path, capsys):
    path = write_asdf(tmp_path / "s.asdf", {"steps": 3})
    run_with_config(tmp_path, capsys, path, "steps must be a list", "found 3")


def test_asdf_step_entry_not_a_mapping(tmp_path, capsys):
    path = write_asdf(tmp_path / "e.asdf", {"steps": [{"name": "photom"}, ["flat_field"]]})
    run_with_config(tmp_path, capsys, path, "steps[1] must be a mapping, found a list")


def test_asdf_step_parameters_not_a_mapping(tmp_path, capsys):
    path = write_asdf(tmp_path / "e.asdf", {"steps": [
        {"name": "photom"}, {"name": "dark_current"},
        {"name": "flat_field", "parameters": ["skip"]}]})
    run_with_config(tmp_path, capsys, path,
                    "steps[2] (flat_field): parameters must be a mapping, found a list")


def test_asdf_step_name_not_text(tmp_path, capsys):
    path = write_asdf(tmp_path / "n.asdf", {"steps": [{"name": 5}]})
    run_with_config(tmp_path, capsys, path, "steps[0].name must be text, found 5")


def test_asdf_step_entry_unknown_key(tmp_path, capsys):
    path = write_asdf(tmp_path / "k.asdf", {"steps": [{"name": "flat_field", "skip": True}]})
    run_with_config(tmp_path, capsys, path, "steps[0] (flat_field): unexpected key 'skip'")


def test_asdf_mapping_where_a_value_is_expected(tmp_path, capsys):
    path = write_asdf(tmp_path / "m.asdf", {"steps": [
        {"name": "bkg_subtract", "parameters": {"sigma": {"value": 3}}}]})
    run_with_config(tmp_path, capsys, path, "steps.bkg_subtract.sigma", "single value")


def test_asdf_list_where_a_number_is_expected(tmp_path, capsys):
    path = write_asdf(tmp_path / "l.asdf", {"steps": [
        {"name": "bkg_subtract", "parameters": {"sigma": [1.0, 2.0]}}]})
    run_with_config(tmp_path, capsys, path, "steps.bkg_subtract.sigma",
                    "expected a single value, found a list")


def test_asdf_pipeline_option_as_a_list(tmp_path, capsys):
    path = write_asdf(tmp_path / "b.asdf", {"parameters": {"save_bsub": [True]}})
    run_with_config(tmp_path, capsys, path, "save_bsub", "found a list")


def test_asdf_key_that_is_not_text(tmp_path, capsys):
    path = write_asdf(tmp_path / "i.asdf", {"steps": [
        {"name": "resample", "parameters": {1: 2}}]})
    run_with_config(tmp_path, capsys, path, "steps[0].parameters: key 1 is not text")


def test_asdf_list_for_a_composite_parameter_is_read_as_its_text(tmp_path):
    path = write_asdf(tmp_path / "c.asdf", {"steps": [
        {"name": "resample", "parameters": {"crval": [10.5, -20.0]}}]})
    assert load_parameters(path).steps["resample"]["crval"] == "10.5,-20.0"


def test_asdf_list_holding_a_mapping_refused(tmp_path, capsys):
    path = write_asdf(tmp_path / "c.asdf", {"steps": [
        {"name": "resample", "parameters": {"crval": [10.5, {"dec": 1}]}}]})
    run_with_config(tmp_path, capsys, path, "steps.resample.crval", "a list holding a mapping")


def test_asdf_crval_dec_out_of_range_names_file_and_key(tmp_path, capsys):
    path = write_asdf(tmp_path / "d.asdf", {"steps": [
        {"name": "resample", "parameters": {"crval": "10, 100"}}]})
    run_with_config(tmp_path, capsys, path, "steps[0] (resample)", "steps.resample.crval",
                    "Dec 100")


def test_asdf_read_files_is_the_file(tmp_path):
    path = write_asdf(tmp_path / "ok.asdf", {"steps": [{"name": "photom",
                                                           "parameters": {"skip": True}}]})
    config = load_parameters(path)
    assert config.read_files == [str(path.resolve())]
    assert config.source == str(path.resolve())


# ---- cfg parameter files ----------------------------------------------------------------------------

def test_cfg_step_that_is_a_value(tmp_path, capsys):
    path = write_text(tmp_path / "v.cfg", "[steps]\n  flat_field = 3\n")
    run_with_config(tmp_path, capsys, path,
                    "steps.flat_field must be a [[flat_field]] section, found a value")


def test_cfg_steps_that_is_a_value(tmp_path, capsys):
    path = write_text(tmp_path / "v.cfg", "steps = flat_field\n")
    run_with_config(tmp_path, capsys, path, "steps must be a [steps] section")


def test_cfg_section_where_a_value_is_expected(tmp_path, capsys):
    path = write_text(tmp_path / "s.cfg",
                      "[steps]\n  [[bkg_subtract]]\n    [[[sigma]]]\n      a = 1\n")
    run_with_config(tmp_path, capsys, path, "steps.bkg_subtract.sigma", "single value")


def test_cfg_list_where_a_number_is_expected(tmp_path, capsys):
    path = write_text(tmp_path / "l.cfg", "[steps]\n  [[bkg_subtract]]\n    sigma = 1, 2\n")
    run_with_config(tmp_path, capsys, path, "steps.bkg_subtract.sigma",
                    "expected a single value, found a list")


def test_cfg_pipeline_level_list(tmp_path, capsys):
    path = write_text(tmp_path / "p.cfg", "save_bsub = True, False\n")
    run_with_config(tmp_path, capsys, path, "save_bsub", "found a list")


def test_cfg_unexpected_pipeline_section(tmp_path, capsys):
    path = write_text(tmp_path / "u.cfg", "[stepz]\n  a = 1\n")
    run_with_config(tmp_path, capsys, path, "unexpected section [stepz]")


def test_cfg_that_is_not_a_cfg(tmp_path, capsys):
    path = write_text(tmp_path / "bad.cfg", "save_bsub = True\nthis is not a cfg line\n")
    line = run_with_config(tmp_path, capsys, path, "line 2", "not a valid cfg file")
    assert "matched as neither" not in line  # configobj's own words


def test_cfg_duplicate_key(tmp_path, capsys):
    path = write_text(tmp_path / "dup.cfg", "save_bsub = True\nsave_bsub = False\n")
    run_with_config(tmp_path, capsys, path, "line 2", "given twice")


def test_cfg_missing_config_file_names_the_section_and_key(tmp_path, capsys):
    path = write_text(tmp_path / "m.cfg",
                      "[steps]\n  [[flat_field]]\n    config_file = nope.cfg\n")
    run_with_config(tmp_path, capsys, path, "[[flat_field]]", "config_file nope.cfg", "not found")


def test_cfg_config_file_that_is_a_list(tmp_path, capsys):
    path = write_text(tmp_path / "m.cfg",
                      "[steps]\n  [[flat_field]]\n    config_file = a.cfg, b.cfg\n")
    run_with_config(tmp_path, capsys, path, "config_file must be one file name, found a list")


def test_cfg_step_config_file_with_a_section_names_that_file(tmp_path, capsys):
    step = write_text(tmp_path / "flat_field.cfg", "skip = True\n[extra]\n  a = 1\n")
    path = write_text(tmp_path / "image2.cfg",
                      "[steps]\n  [[flat_field]]\n    config_file = flat_field.cfg\n")
    rate = rate_file(tmp_path / "in")
    assert cli.main([str(rate), "--config", str(path), "--output-dir", str(tmp_path / "o")]) == 2
    one_line(capsys, str(step), "unexpected section [extra]", path=step)


def test_cfg_read_files_lists_the_file_and_every_included_step_file(tmp_path):
    sub = tmp_path / "steps"
    sub.mkdir()
    write_text(sub / "flat.cfg", "skip = True\n")
    write_text(sub / "dark.cfg", "skip = True\n")
    path = write_text(tmp_path / "image2.cfg", (
        "[steps]\n  [[flat_field]]\n    config_file = steps/flat.cfg\n"
        "  [[dark_current]]\n    config_file = steps/../steps/dark.cfg\n"))
    config = load_parameters(os.path.relpath(path))
    assert config.read_files == [str(path.resolve()), str((sub / "flat.cfg").resolve()),
                                 str((sub / "dark.cfg").resolve())]
    assert all(os.path.isabs(p) for p in config.read_files)
    assert config.source == str(path.resolve())
    assert config.copy().read_files == config.read_files
    assert PipelineConfig().read_files == []


def test_cfg_read_files_without_includes(tmp_path):
    path = write_text(tmp_path / "plain.cfg", "save_bsub = True\n")
    assert load_parameters(path).read_files == [str(path.resolve())]


def test_cfg_output_shape_too_large_refused_at_load(tmp_path, capsys):
    path = cfg_resample(tmp_path, "output_shape = 200000, 200000")
    run_with_config(tmp_path, capsys, path, "steps.resample.output_shape", "2**28")


def test_cfg_crval_dec_100_refused_at_load(tmp_path, capsys):
    path = cfg_resample(tmp_path, "crval = 10, 100")
    run_with_config(tmp_path, capsys, path, "steps.resample.crval", "Dec 100", "-90 .. 90")


def test_cfg_good_bits_unknown_flag_is_one_short_line(tmp_path, capsys):
    path = cfg_resample(tmp_path, "good_bits = ~DO_NOT_USE+NOT_A_FLAG")
    line = run_with_config(tmp_path, capsys, path, "steps.resample.good_bits", "'NOT_A_FLAG'")
    assert "JUMP_DET" not in line  # the whole flag table is not recited


# ---- resample's composite parameters, at load ---------------------------------------------------------

def accepted(key: str, value) -> PipelineConfig:
    config = PipelineConfig()
    config.set(f"steps.resample.{key}", value, "form")
    return config


def refused(key: str, value, *fragments: str) -> str:
    config = PipelineConfig()
    before = dict(config.steps["resample"])
    with pytest.raises(ParameterError) as info:
        config.set(f"steps.resample.{key}", value, "form")
    message = str(info.value)
    assert message.startswith(f"form: steps.resample.{key}: "), message
    for fragment in fragments:
        assert fragment in message, message
    assert len(message) <= 200, message
    assert config.steps["resample"] == before  # a refused value leaves the old one
    return message


@pytest.mark.parametrize("value", ["0, 90", "0, -90", "360, 0", "0, 0", "359.9999, 89.9999"])
def test_crval_edges_accepted(value):
    assert accepted("crval", value).steps["resample"]["crval"] == value


@pytest.mark.parametrize("value, fragment", [
    ("10, 90.0001", "Dec 90.0001"), ("10, -90.0001", "Dec -90.0001"),
    ("360.0001, 0", "RA 360"), ("-0.0001, 0", "RA -0.0001"),
    ("10", "expected 2 numbers"), ("10, 20, 30", "expected 2 numbers"),
    ("nan, 10", "expected 2 numbers"), ("ten, 10", "expected 2 numbers")])
def test_crval_refused(value, fragment):
    refused("crval", value, fragment)


def test_crval_override_on_the_command_line(tmp_path, capsys):
    run_with_override(tmp_path, capsys, "steps.resample.crval", "10, 90.0001", "Dec 90.0001")


@pytest.mark.parametrize("value", [f"{2**20}, {-2**20}", "0.5, 0.5", "-3, 7"])
def test_crpix_edges_accepted(value):
    accepted("crpix", value)


@pytest.mark.parametrize("value", [f"{2**20 + 1}, 1", f"1, {-2**20 - 1}", "1", "a, b", "inf, 1"])
def test_crpix_refused(value):
    refused("crpix", value)


@pytest.mark.parametrize("value", ["16384, 16384", f"{2**28}, 1", "1, 1"])
def test_output_shape_up_to_the_limit_accepted(value):
    accepted("output_shape", value)


@pytest.mark.parametrize("value, fragment", [
    ("16384, 16385", "2**28"), (f"{2**28 + 1}, 1", "2**28"), ("200000, 200000", "2**28"),
    ("0, 10", "whole numbers >= 1"), ("10.5, 10", "whole numbers >= 1"),
    ("-4, 4", "whole numbers >= 1"), ("10", "expected 2 numbers")])
def test_output_shape_refused(value, fragment):
    refused("output_shape", value, fragment)


def test_output_shape_override_on_the_command_line(tmp_path, capsys):
    run_with_override(tmp_path, capsys, "steps.resample.output_shape", "200000,200000", "2**28")


@pytest.mark.parametrize("value", ["~DO_NOT_USE+NON_SCIENCE", "SATURATED,JUMP_DET", "0", "",
                                   "0xFFFFFFFF", "~0"])
def test_good_bits_accepted(value):
    accepted("good_bits", value)


@pytest.mark.parametrize("value, fragment", [
    ("0x100000000", "32-bit"), ("-1", "32-bit"), ("DO_NOT_USE+BOGUS", "'BOGUS'"),
    ("~BOGUS", "'BOGUS'")])
def test_good_bits_refused(value, fragment):
    refused("good_bits", value, fragment)


def test_good_bits_parse_names_the_label():
    with pytest.raises(ParameterError, match=r"^x\.cfg: steps\.resample\.good_bits: 'NOPE'"):
        parse_good_bits("NOPE", "x.cfg: steps.resample.good_bits")


@pytest.mark.parametrize("value", ["NaN", "INDEF", "0", "-1e30", "nan"])
def test_fillval_accepted(value):
    accepted("fillval", value)


@pytest.mark.parametrize("value", ["zero", "1,2"])
def test_fillval_refused(value):
    refused("fillval", value, "expected a number or NaN")


@pytest.mark.parametrize("key, value", [
    ("pixel_scale_ratio", "0.01"), ("pixel_scale_ratio", "100"),
    ("pixel_scale", "0.0001"), ("pixel_scale", "3600"), ("pixel_scale", "None"),
    ("rotation", "360"), ("rotation", "-360"), ("rotation", "None")])
def test_scale_and_rotation_edges_accepted(key, value):
    accepted(key, value)


@pytest.mark.parametrize("key, value", [
    ("pixel_scale_ratio", "0.0099"), ("pixel_scale_ratio", "100.01"), ("pixel_scale_ratio", "0"),
    ("pixel_scale", "0.000099"), ("pixel_scale", "3600.1"),
    ("rotation", "360.1"), ("rotation", "-360.1"), ("rotation", "inf"), ("rotation", "nan")])
def test_scale_and_rotation_refused(key, value):
    refused(key, value)


def test_every_composite_resample_parameter_has_a_declared_check():
    declared = {p.name for p in resample.STEP.parameters if p.check is not None}
    assert declared == {"good_bits", "crpix", "crval", "fillval", "output_shape"}


def test_help_states_the_limits():
    by_name = {p.name: p for p in resample.STEP.parameters}
    assert "2**28" in by_name["output_shape"].help
    assert "2**28" in by_name["pixel_scale_ratio"].help
    assert "-90..90" in by_name["crval"].help
    assert "MAX_OUTPUT_PIXELS" in resample.__doc__ and "2**28" in resample.__doc__


# ---- resample's grid, at run time -----------------------------------------------------------------------

def test_output_size_limit_is_inclusive():
    assert MAX_OUTPUT_PIXELS == 2 ** 28
    check_output_size((16384, 16384), "x")
    check_output_size((1, 2 ** 28), "x")
    with pytest.raises(InputError, match=r"resample: x needs a 16385 x 16384 output grid"):
        check_output_size((16384, 16385), "x")


def product_error_line(capsys, *fragments: str) -> str:
    """The product's failure, said once (as the runner's ERROR line)."""
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith("ERROR: ")]
    assert len(said) == 1, lines
    line = said[0]
    for word in LIBRARY_WORDS:
        assert word not in line, line
    for fragment in fragments:
        assert fragment in line, line
    assert len(line) <= 200, line
    return line


def run_product(tmp_path: Path, *overrides: str) -> tuple[int, Path]:
    rate = rate_file(tmp_path / "in")
    out = tmp_path / "out"
    code = cli.main([str(rate), "--output-dir", str(out), "-q",
                     *[f"--steps.resample.{o}" for o in overrides]])
    return code, out


def test_tiny_pixel_scale_refused_before_allocating(tmp_path, capsys):
    # 1 arcsec input pixels onto 0.0001 arcsec ones: a 320001 x 320001 grid
    code, out = run_product(tmp_path, "pixel_scale=0.0001")
    assert code == 2
    line = product_error_line(capsys, "resample", "output grid", "2**28", "pixel_scale")
    assert "320001 x 320001" in line
    assert not out.exists() or not any(out.glob("*.fits"))


def test_far_crpix_without_output_shape_refused_before_allocating(tmp_path, capsys):
    code, out = run_product(tmp_path, f"crpix={2**20},{2**20}")
    assert code == 2
    product_error_line(capsys, "resample", "output grid", "2**28")
    assert not out.exists() or not any(out.glob("*.fits"))


def test_a_grid_within_the_limit_runs(tmp_path, capsys):
    code, out = run_product(tmp_path, "pixel_scale_ratio=0.5", "crval=10,20")
    assert code == 0, capsys.readouterr().err
    with fits.open(out / "x_i2d.fits") as hdul:
        assert hdul["SCI"].data.shape == (2 * SIZE, 2 * SIZE)


# ---- provenance: iris-image2 --from-output --------------------------------------------------------------

@pytest.fixture(scope="module")
def made_output(tmp_path_factory) -> Path:
    """A real _cal written by iris-image2 from a small rate file."""
    folder = tmp_path_factory.mktemp("made")
    rate = rate_file(folder / "in")
    assert cli.main([str(rate), "--output-dir", str(folder / "out"), "-q"]) == 0
    return folder / "out" / "x_cal.fits"


def damaged(made_output: Path, tmp_path: Path, change) -> Path:
    """A copy of the output whose PROVENANCE JSON text is ``change(document or text)``."""
    path = tmp_path / "x_cal.fits"
    with fits.open(made_output) as hdul:
        text = hdul["PROVENANCE"].data["JSON"][0]
        new = change(json.loads(text))
        new_text = new if isinstance(new, str) else json.dumps(new)
        column = fits.Column(name="JSON", format=f"{max(1, len(new_text))}A",
                             array=np.array([new_text]))
        hdu = fits.BinTableHDU.from_columns([column], name="PROVENANCE")
        hdus = [h.copy() for h in hdul if h.name != "PROVENANCE"]
        fits.HDUList([*hdus, hdu]).writeto(path)
    return path


def from_output_refused(path: Path, capsys, *fragments: str) -> str:
    out = path.parent / "remade"
    code = cli.main(["--from-output", str(path), "--output-dir", str(out), "-q"])
    assert code == 2
    line = one_line(capsys, str(path), *fragments, path=path)
    assert not out.exists() or not any(out.iterdir())
    return line


def test_made_output_re_runs(made_output, tmp_path, capsys):
    path = damaged(made_output, tmp_path, lambda d: d)  # the same document, copied
    assert cli.main(["--from-output", str(path), "--output-dir", str(tmp_path / "r"), "-q"]) == 0


def test_provenance_json_that_is_a_list(made_output, tmp_path, capsys):
    path = damaged(made_output, tmp_path, lambda d: [d])
    from_output_refused(path, capsys, "provenance must be a JSON mapping, found a list")


def test_provenance_that_is_not_json(made_output, tmp_path, capsys):
    path = damaged(made_output, tmp_path, lambda d: "{not json")
    from_output_refused(path, capsys, "provenance: not valid JSON")


def test_provenance_extension_missing(made_output, tmp_path, capsys):
    path = tmp_path / "x_cal.fits"
    with fits.open(made_output) as hdul:
        fits.HDUList([h.copy() for h in hdul if h.name != "PROVENANCE"]).writeto(path)
    from_output_refused(path, capsys, "has no PROVENANCE extension")


def test_provenance_without_a_json_column(made_output, tmp_path, capsys):
    path = tmp_path / "x_cal.fits"
    with fits.open(made_output) as hdul:
        hdu = fits.BinTableHDU.from_columns(
            [fits.Column(name="TEXT", format="2A", array=np.array(["{}"]))], name="PROVENANCE")
        fits.HDUList([*[h.copy() for h in hdul if h.name != "PROVENANCE"], hdu]).writeto(path)
    from_output_refused(path, capsys, "no JSON cell")


def _set(document: dict, dotted: str, value) -> dict:
    node = document
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return document


@pytest.mark.parametrize("dotted, value, fragment", [
    ("parameters", [1], "provenance: parameters must be a mapping, found a list"),
    ("parameters.steps", "all", "parameters: steps must be a mapping, found 'all'"),
    ("parameters.pipeline", 3, "parameters: pipeline must be a mapping, found 3"),
    ("parameters.steps.flat_field", [True], "steps.flat_field must be a mapping, found a list"),
    ("parameters.extra", {}, "parameters: unexpected key 'extra'"),
    ("parameters.steps.resample.crval", "10, 100", "steps.resample.crval: Dec 100"),
    ("parameters.steps.resample.output_shape", "200000, 200000", "steps.resample.output_shape"),
    ("parameters.steps.bkg_subtract.sigma", {"a": 1}, "steps.bkg_subtract.sigma"),
    ("steps", [1], "provenance: steps must be a mapping, found a list"),
    ("steps.flat_field", "done", "provenance: steps.flat_field must be a mapping"),
    ("steps.flat_field.references", ["f.fits"],
     "provenance: steps.flat_field.references must be a mapping"),
    ("steps.flat_field.references", {"flat": 7},
     "steps.flat_field.references.flat must be a file path"),
    ("inputs", "x_rate.fits", "provenance: inputs must be a mapping"),
    ("inputs.science", 7, "inputs.science must be a file path (text), found 7"),
    ("inputs.science", None, "no science input recorded"),
    ("inputs.backgrounds", "b_rate.fits", "inputs.backgrounds must be a list of file paths"),
    ("inputs.backgrounds", [3], "inputs.backgrounds[0] must be a file path"),
    ("product", ["x"], "product must be a name (text), found a list"),
    ("association", 5, "association must be a file path"),
    ("ref_dir", {"a": 1}, "ref_dir must be a file path (text), found a mapping"),
])
def test_damaged_provenance_refused(made_output, tmp_path, capsys, dotted, value, fragment):
    path = damaged(made_output, tmp_path, lambda d: _set(d, dotted, value))
    from_output_refused(path, capsys, fragment)


def test_rerun_setup_engine_call_names_the_key(made_output, tmp_path):
    path = damaged(made_output, tmp_path,
                   lambda d: _set(d, "steps.flat_field.references", "f.fits"))
    with pytest.raises(InputError, match=r"x_cal\.fits: provenance: steps\.flat_field\.references "
                                         r"must be a mapping"):
        rerun_setup(path)


def test_from_dict_checks_every_level():
    with pytest.raises(ParameterError, match=r"^w: steps\.photom must be a mapping"):
        PipelineConfig.from_dict({"steps": {"photom": 1}}, "w")
    with pytest.raises(ParameterError, match=r"^w: the parameter set must be a mapping"):
        PipelineConfig.from_dict([], "w")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"^w: steps: key 3 is not text"):
        PipelineConfig.from_dict({"steps": {3: {}}}, "w")


# ---- the demo size ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", ["100", "48", "8208", "abc", "0", "-64", "2048.5"])
def test_demo_size_outside_the_rule_is_one_line(tmp_path, capsys, size):
    folder = tmp_path / "demo"
    assert cli.main(["demo", str(folder), "--size", size]) == 2
    one_line(capsys, "--size", "multiple of 16 from 64 to 8192")
    assert not folder.exists()


@pytest.mark.parametrize("size", ["64", "80", "112"])
def test_demo_sizes_the_rule_accepts_are_written(tmp_path, capsys, size):
    folder = tmp_path / "demo"
    assert cli.main(["demo", str(folder), "--size", size]) == 0
    with fits.open(folder / demo.SCIENCE_NAME) as hdul:
        assert hdul["SCI"].data.shape == (int(size), int(size))


def test_demo_size_rule_edges():
    assert (demo.DEMO_MIN_SIZE, demo.DEMO_MAX_SIZE, demo.DEMO_SIZE_STEP) == (64, 8192, 16)
    assert demo.check_demo_size(64) == 64
    assert demo.check_demo_size(8192) == 8192
    assert demo.check_demo_size("8176") == 8176
    for size in (48, 63, 65, 8193, 8208, True, None, 100.5):
        with pytest.raises(InputError, match="multiple of 16 from 64 to 8192"):
            demo.check_demo_size(size)


def test_write_demo_dataset_refuses_a_size_outside_the_rule(tmp_path):
    with pytest.raises(InputError, match=r"demo size 100: must be a multiple of 16"):
        demo.write_demo_dataset(tmp_path / "d", size=100)
    assert not (tmp_path / "d").exists()


def test_window_demo_size_uses_the_same_rule(capsys):
    from iris_gui.gui import app

    assert app.main(["--demo-size", "100"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["iris-gui: error: --demo-size 100: must be a multiple of 16 from 64 to 8192 "
                   "(e.g. 256, 1024, 2048)"]
