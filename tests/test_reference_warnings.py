"""Suspicious references are said out loud: a WARNING on the step (logged at WARNING level, so
iris-image2 -q still prints it), or the product refused with a message naming file and key.

Each rule is checked through iris-image2 -q (what a user sees on stderr) and through the engine
(the StepResult), with the neighbouring case that must stay silent, so that a one-line bug (always
warn, never warn, warn but run anyway) fails a test.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from factories import context_for, make_model, write_model, write_reference

from iris_gui import cli
from iris_gui.engine.association import Association, Member, Product
from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.dq import NO_FLAT_FIELD
from iris_gui.engine.errors import InputError
from iris_gui.engine.models import PhotomRow, read_image, write_image, write_photom
from iris_gui.engine.pipeline import Image2Pipeline
from iris_gui.engine.steps import COMPLETE, SKIPPED, STEP_BY_NAME

NAN = float("nan")
SCIENCE = [[10.0, 20.0], [30.0, 40.0]]


def run_step(step_name, model, context, **changes):
    values = STEP_BY_NAME[step_name].defaults()
    values.update(changes)
    return STEP_BY_NAME[step_name].run(model, values, context)


def photom_table(path: Path, rows=(("KN3", 0.125),), **keywords) -> Path:
    header = fits.Header()
    for key, value in {"REFTYPE": "PHOTOM", "INSTRUME": "IRIS", "DETECTOR": "IMAGER",
                       **keywords}.items():
        header[key] = value
    return write_photom([PhotomRow(f, p, 0.0) for f, p in rows], header, path)


def full_references(folder: Path, **keywords) -> None:
    """A dark, a KN3 flat and a photom table that fit the test science (2x2, IRIS/IMAGER/KN3)."""
    write_reference(folder / "dark.fits", "DARK", [[1.0, 1.0], [1.0, 1.0]], **keywords)
    write_reference(folder / "flat.fits", "FLAT", [[2.0, 2.0], [2.0, 2.0]], **keywords)
    photom_table(folder / "photom.fits", **keywords)


def cli_warnings(capsys, *args) -> tuple[int, list[str]]:
    """Run iris-image2 -q; its exit code and the WARNING lines it printed on stderr."""
    code = cli.main([str(a) for a in args] + ["-q"])
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if "WARNING" in line]


def engine_run(science: Path, **settings):
    config = PipelineConfig()
    for key, value in settings.items():
        config.set(key.replace("__", "."), value)
    pipeline = Image2Pipeline(config, cache=False)
    return pipeline.run_product(Product(science.stem, [Member(str(science), "science")]))


# ---- 1. references matched without the INSTRUME/DETECTOR check --------------------------------

@pytest.mark.parametrize("missing, check", [("INSTRUME", "instrument"), ("DETECTOR", "detector")])
def test_reference_matched_for_science_without_identity_keyword_warns(tmp_path, capsys, missing,
                                                                      check):
    full_references(tmp_path)
    science = make_model(SCIENCE)
    del science.header[missing]
    write_image(science, tmp_path / "x_rate.fits")
    code, lines = cli_warnings(capsys, tmp_path / "x_rate.fits", "--output-dir", tmp_path / "out")
    assert code == 0
    for step, name in (("dark_current", "dark.fits"), ("flat_field", "flat.fits"),
                       ("photom", "photom.fits")):
        said = [line for line in lines if f"{step}:" in line and name in line]
        assert said, lines
        assert f"without the {check} check" in said[0] and f"has no {missing}" in said[0]
        assert len(said[0]) < 260  # the message itself is under ~200 characters
    other = "detector" if check == "instrument" else "instrument"
    assert not any(f"{other} check" in line for line in lines), lines


def test_reference_without_identity_keyword_warns_too(tmp_path):
    write_reference(tmp_path / "dark.fits", "DARK", [[1.0]], DETECTOR="")
    result = run_step("dark_current", make_model([[5.0]]), context_for(ref_dir=tmp_path))
    assert result.status == COMPLETE
    assert any("without the detector check" in w and "dark.fits has no DETECTOR" in w
               for w in result.warnings), result.warnings


def test_fully_identified_science_and_reference_give_no_warning(tmp_path, capsys):
    full_references(tmp_path)
    write_model(tmp_path / "x_rate.fits", SCIENCE)
    code, lines = cli_warnings(capsys, tmp_path / "x_rate.fits", "--output-dir", tmp_path / "out")
    assert code == 0 and lines == []
    cal = read_image(tmp_path / "out" / "x_cal.fits")
    assert (cal.header["S_DARK"], cal.header["S_FLAT"], cal.header["S_PHOTOM"]) == (COMPLETE,) * 3


# ---- 2. an override of the wrong kind is refused unless forced ---------------------------------

def test_science_file_given_as_override_dark_is_refused(tmp_path, capsys):
    """Today's trap: the rate file subtracted from itself. Refused, naming key, file and switch."""
    science = write_model(tmp_path / "x_rate.fits", SCIENCE, DATAMODL="ImageModel")
    out = tmp_path / "out"
    code = cli.main([str(science), "--output-dir", str(out), "-q",
                     f"--steps.dark_current.override_dark={science}"])
    err = capsys.readouterr().err
    assert code != 0
    assert "override_dark" in err and "x_rate.fits has no REFTYPE/DATAMODL saying it is a dark" in err
    assert "force_override" in err
    assert not out.exists() or not list(out.glob("*_cal.fits"))
    result = engine_run(science, steps__dark_current__override_dark=str(science))
    assert not result.ok and result.steps["dark_current"].status == "FAILED"
    assert "has no REFTYPE/DATAMODL saying it is a dark" in result.error


@pytest.mark.parametrize("step, key, given", [
    ("dark_current", "override_dark", "FLAT"),
    ("flat_field", "override_flat", "DARK"),
    ("photom", "override_photom", "DARK"),
])
def test_override_of_the_wrong_kind_is_refused(tmp_path, step, key, given):
    wrong = write_reference(tmp_path / "wrong.fits", given, [[2.0, 2.0], [2.0, 2.0]])
    with pytest.raises(InputError) as caught:
        run_step(step, make_model(SCIENCE), context_for(ref_dir=tmp_path), **{key: str(wrong)})
    message = str(caught.value)
    assert f"{key} {wrong} is a {given.lower()} reference" in message
    assert f"steps.{step}.force_override" in message
    assert "Error" not in message and len(message) - len(str(wrong)) < 200


def test_forced_override_is_used_and_still_warns(tmp_path, capsys):
    science = write_model(tmp_path / "x_rate.fits", SCIENCE)
    other = write_model(tmp_path / "other_rate.fits", [[1.0, 2.0], [3.0, 4.0]])
    out = tmp_path / "out"
    code = cli.main([str(science), "--output-dir", str(out), "-q",
                     f"--steps.dark_current.override_dark={other}",
                     "--steps.dark_current.force_override=true"])
    err = capsys.readouterr().err
    assert code == 0, err
    warned = [line for line in err.splitlines() if "WARNING" in line and "force_override" in line]
    assert warned and "other_rate.fits has no REFTYPE/DATAMODL saying it is a dark" in warned[0]
    np.testing.assert_array_equal(read_image(out / "x_cal.fits").data,
                                  [[9.0, 18.0], [27.0, 36.0]])
    # a flat forced as a dark is subtracted as asked, and warned about
    flat = write_reference(tmp_path / "flat.fits", "FLAT", [[1.0, 1.0], [1.0, 1.0]])
    result = run_step("dark_current", make_model(SCIENCE), context_for(ref_dir=tmp_path),
                      override_dark=str(flat), force_override=True)
    assert result.status == COMPLETE and result.model.data[0, 0] == 9.0
    assert any("is a flat reference, not a dark" in w for w in result.warnings)


@pytest.mark.parametrize("step, key", [("dark_current", "override_dark"),
                                       ("flat_field", "override_flat"),
                                       ("photom", "override_photom")])
def test_forcing_a_right_override_says_nothing(tmp_path, step, key):
    full_references(tmp_path)
    path = {"dark_current": "dark.fits", "flat_field": "flat.fits", "photom": "photom.fits"}[step]
    for force in (False, True):
        result = run_step(step, make_model(SCIENCE), context_for(ref_dir=tmp_path),
                          **{key: str(tmp_path / path), "force_override": force})
        assert result.status == COMPLETE and result.warnings == []


def test_force_override_is_declared_once_per_reference_step():
    for step in ("dark_current", "flat_field", "photom"):
        parameter = STEP_BY_NAME[step].parameter("force_override")
        assert parameter is not None and parameter.kind == "bool" and parameter.default is False
        assert "REFTYPE" in parameter.help
    config = PipelineConfig()
    config.set("steps.flat_field.force_override", "true")  # cfg files and the CLI take it
    assert config.steps["flat_field"]["force_override"] is True


# ---- 3. references with no usable pixel -----------------------------------------------------------

def test_dark_without_a_finite_pixel_warns_and_subtracts_nothing(tmp_path, capsys):
    write_reference(tmp_path / "dark.fits", "DARK", [[NAN, NAN], [NAN, math.inf]])
    write_model(tmp_path / "x_rate.fits", SCIENCE)
    code, lines = cli_warnings(capsys, tmp_path / "x_rate.fits", "--output-dir", tmp_path / "out",
                               "--steps.flat_field.skip=true", "--steps.photom.skip=true")
    assert code == 0
    assert any("dark.fits has no finite pixel" in line for line in lines), lines
    result = run_step("dark_current", make_model(SCIENCE), context_for(ref_dir=tmp_path))
    assert result.status == COMPLETE
    np.testing.assert_array_equal(result.model.data, SCIENCE)
    # one finite pixel is a dark: no warning
    write_reference(tmp_path / "dark.fits", "DARK", [[NAN, NAN], [NAN, 0.0]])
    assert run_step("dark_current", make_model(SCIENCE), context_for(ref_dir=tmp_path)).warnings == []


@pytest.mark.parametrize("flat, dq", [
    ([[NAN, NAN], [NAN, NAN]], None),
    ([[0.0, 0.0], [0.0, 0.0]], None),
    ([[2.0, 2.0], [2.0, 2.0]], [[NO_FLAT_FIELD] * 2] * 2),
    ([[NAN, 0.0], [2.0, 2.0]], [[0, 0], [NO_FLAT_FIELD, NO_FLAT_FIELD]]),
], ids=["all-nan", "all-zero", "all-flagged", "mixed"])
def test_flat_without_a_usable_pixel_warns(tmp_path, capsys, flat, dq):
    write_reference(tmp_path / "flat.fits", "FLAT", flat, dq=dq)
    write_model(tmp_path / "x_rate.fits", SCIENCE)
    code, lines = cli_warnings(capsys, tmp_path / "x_rate.fits", "--output-dir", tmp_path / "out",
                               "--steps.dark_current.skip=true", "--steps.photom.skip=true")
    assert code == 0
    assert any("flat.fits has no usable pixel" in line for line in lines), lines
    result = run_step("flat_field", make_model(SCIENCE), context_for(ref_dir=tmp_path))
    assert result.status == COMPLETE
    assert (result.model.dq & NO_FLAT_FIELD).all()


def test_flat_with_one_usable_pixel_says_nothing(tmp_path):
    write_reference(tmp_path / "flat.fits", "FLAT", [[NAN, 0.0], [-1.0, 2.0]])
    result = run_step("flat_field", make_model(SCIENCE), context_for(ref_dir=tmp_path))
    assert result.status == COMPLETE and result.warnings == []


def test_all_negative_flat_fails_the_product(tmp_path, capsys):
    """Dividing by it would flip the sign of every pixel: garbage that looks like data."""
    write_reference(tmp_path / "flat.fits", "FLAT", [[-2.0, -1.0], [NAN, 0.0]])
    science = write_model(tmp_path / "x_rate.fits", SCIENCE)
    out = tmp_path / "out"
    code = cli.main([str(science), "--output-dir", str(out), "-q"])
    err = capsys.readouterr().err
    assert code != 0 and "flat.fits" in err and "negative" in err
    assert not out.exists() or not list(out.glob("*_cal.fits"))
    result = engine_run(science)
    assert result.steps["flat_field"].status == "FAILED"


@pytest.mark.parametrize("factor", [0.0, NAN, -0.5])
def test_photom_row_without_a_usable_factor_skips_and_warns(tmp_path, capsys, factor):
    photom_table(tmp_path / "photom.fits", rows=(("KN3", factor), ("H", 0.5)))
    write_model(tmp_path / "x_rate.fits", SCIENCE)
    code, lines = cli_warnings(capsys, tmp_path / "x_rate.fits", "--output-dir", tmp_path / "out",
                               "--steps.dark_current.skip=true", "--steps.flat_field.skip=true")
    assert code == 0
    said = [line for line in lines if "photom" in line and "PHOTMJSR" in line]
    assert said and "photom.fits" in said[0] and "not a positive number" in said[0], lines
    cal = read_image(tmp_path / "out" / "x_cal.fits")
    assert cal.header["S_PHOTOM"] == SKIPPED
    np.testing.assert_array_equal(cal.data, SCIENCE)


# ---- 4. a step left on but skipped for want of a reference ---------------------------------------

def test_steps_skipped_for_want_of_a_reference_warn(tmp_path, capsys):
    science = write_model(tmp_path / "x_rate.fits", SCIENCE)  # no reference beside it
    code, lines = cli_warnings(capsys, science, "--output-dir", tmp_path / "out")
    assert code == 0
    full = "INSTRUME=IRIS, DETECTOR=IMAGER, FILTER=KN3"
    for step, kind, wanted in (("dark_current", "dark", f"{full}, SUBARRAY=FULL, no DATE-OBS"),
                               ("flat_field", "flat", f"{full}, PUPIL=None, no DATE-OBS"),
                               ("photom", "photom", "INSTRUME=IRIS, FILTER=KN3, PUPIL=None, "
                                                    "no DATE-OBS")):
        expected = (f"{step} skipped: no {kind} reference for {wanted} in {tmp_path}; "
                    f"switch the step off to silence this")
        assert any(line.endswith(expected) for line in lines), lines
    result = engine_run(science)
    dark = result.steps["dark_current"]
    assert dark.status == SKIPPED and "no dark reference" in dark.reason  # the reason stays
    assert any("switch the step off" in w for w in dark.warnings)


def test_steps_switched_off_do_not_warn(tmp_path, capsys):
    science = write_model(tmp_path / "x_rate.fits", SCIENCE)
    code, lines = cli_warnings(capsys, science, "--output-dir", tmp_path / "out",
                               "--steps.dark_current.skip=true", "--steps.flat_field.skip=true",
                               "--steps.photom.skip=true")
    assert code == 0 and lines == [], lines
    result = engine_run(science, steps__dark_current__skip=True)
    assert result.steps["dark_current"].status == SKIPPED
    assert result.steps["dark_current"].warnings == []
    assert result.steps["flat_field"].warnings  # the one left on still says so


def test_photom_with_a_given_factor_needs_no_table(tmp_path, capsys):
    science = write_model(tmp_path / "x_rate.fits", SCIENCE)
    code, lines = cli_warnings(capsys, science, "--output-dir", tmp_path / "out",
                               "--steps.photom.photmjsr=0.5")
    assert code == 0
    assert not any(": photom:" in line for line in lines), lines
    assert any(": flat_field:" in line for line in lines), lines


def test_photom_table_without_the_filter_row_warns(tmp_path):
    photom_table(tmp_path / "photom.fits", rows=(("H", 0.5),))
    result = run_step("photom", make_model(SCIENCE), context_for(ref_dir=tmp_path))
    assert result.status == SKIPPED
    assert result.warnings == [f"photom skipped: {result.reason}"]
    assert "FILTER=KN3" in result.reason


def test_pipeline_logs_step_warnings_at_warning_level(tmp_path, caplog):
    science = write_model(tmp_path / "x_rate.fits", SCIENCE)
    Image2Pipeline(PipelineConfig(), cache=False).run(
        Association([Product("x", [Member(str(science), "science")])]), write=False)
    records = [r for r in caplog.records if "switch the step off" in r.getMessage()]
    assert len(records) == 3 and all(r.levelname == "WARNING" for r in records)


def test_override_that_is_a_named_pipe_does_not_block_the_kind_check(tmp_path):
    fifo = tmp_path / "dark_pipe.fits"
    os.mkfifo(fifo)
    outcome = []

    def choose():
        try:
            outcome.append(run_step("dark_current", make_model(SCIENCE),
                                    context_for(ref_dir=tmp_path), override_dark=str(fifo)))
        except InputError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=choose, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("the override check blocked on a named pipe")
    assert isinstance(outcome[0], InputError) and "dark_pipe.fits" in str(outcome[0])


def test_distortion_override_of_the_wrong_kind_is_refused_unless_forced(tmp_path, capsys):
    """assign_wcs has the same force_override switch as the other reference steps."""
    from iris_gui.cli import main

    wcs = dict(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRPIX1=8.5, CRPIX2=8.5, CRVAL1=10.0,
               CRVAL2=20.0, CD1_1=-1e-5, CD1_2=0.0, CD2_1=0.0, CD2_2=1e-5)
    science = write_model(tmp_path / "x_rate.fits", np.ones((16, 16)), **wcs)
    not_distortion = write_model(tmp_path / "other.fits", np.ones((16, 16)), **wcs)
    out = tmp_path / "out"
    code = main([str(science), "--output-dir", str(out), "-q",
                 f"--steps.assign_wcs.override_distortion={not_distortion}"])
    err = capsys.readouterr().err
    assert code != 0 and "force_override" in err and "other.fits" in err
    assert not out.exists() or not list(out.iterdir())
    code = main([str(science), "--output-dir", str(out), "-q",
                 f"--steps.assign_wcs.override_distortion={not_distortion}",
                 "--steps.assign_wcs.force_override=true"])
    err = capsys.readouterr().err
    # forced: past the kind check, so the file itself is read (and it has no SIP terms)
    assert "force_override" not in err and "other.fits" in err and "SIP" in err
