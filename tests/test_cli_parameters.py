"""iris-image2's parameter options: --steps.<step>.<parameter> in other pipelines' spellings,
the refusals said in one line, and -q saying an error once."""

from __future__ import annotations

import numpy as np
import pytest
from factories import write_model, write_reference

from iris_gui.cli import main
from iris_gui.engine.models import read_image


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


#: steps that need what these small files do not carry (a WCS, a photom table)
OFF = ("--steps.assign_wcs.skip=true", "--steps.photom.skip=true", "--steps.resample.skip=true")


@pytest.fixture
def science(tmp_path):
    """A 2x2 rate of 10 and, in another folder, a dark of 3 (so the folder scan finds none)."""
    folder = tmp_path / "in"
    folder.mkdir()
    path = write_model(folder / "x_rate.fits", np.full((2, 2), 10.0), np.ones((2, 2)))
    (tmp_path / "darks").mkdir()
    write_reference(tmp_path / "darks" / "my_dark.fits", "DARK", np.full((2, 2), 3.0))
    return path


def test_upstream_step_and_parameter_names_on_the_command_line(tmp_path, science, capsys):
    dark = tmp_path / "darks" / "my_dark.fits"
    code, err = run(capsys, science, "--output-dir", tmp_path / "out", *OFF,
                    "--steps.flat_field.skip=true", f"--steps.dark_sub.dark={dark}")
    assert code == 0, err
    assert ("command line: dark_sub.dark is the upstream name of dark_current.override_dark; "
            "read as override_dark") in err
    cal = read_image(tmp_path / "out" / "x_cal.fits")
    np.testing.assert_array_equal(cal.data, np.full((2, 2), 7.0, np.float32))  # 10 - 3
    assert cal.header["S_DARK"] == "COMPLETE"
    assert cal.header["R_DARK"] == "my_dark.fits"


def test_upstream_names_with_a_value_after_a_space(tmp_path, science, capsys):
    dark = tmp_path / "darks" / "my_dark.fits"
    code, err = run(capsys, science, "--output-dir", tmp_path / "out", *OFF,
                    "--steps.flat_field.skip", "true", "--steps.dark_sub.dark", dark,
                    "--save-parameters", tmp_path / "used.cfg")
    assert code == 0, err
    # saved under our names: the file says what ran
    text = (tmp_path / "used.cfg").read_text()
    assert f'override_dark = "{dark}"' in text and "dark_sub" not in text


@pytest.mark.parametrize("option, reason", [
    ("--steps.calc_background.sigma_low=6", "median-filtered, scaled frame"),
    ("--steps.background_sub.scale=2", "iris_gui subtracts the background unscaled"),
    ("--steps.sky_sub.sky=sky.fits", "list them as its background (or SKY) members"),
    ("--steps.dark_sub.dark_output_dir=darks", "set dark_output = <file>"),
])
def test_refused_upstream_parameter_on_the_command_line_says_why(tmp_path, science, capsys,
                                                                 option, reason):
    code, err = run(capsys, science, "--output-dir", tmp_path / "out", option)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    key = option[2:].split("=")[0]
    assert lines[0].startswith(f"iris-image2: error: command line: {key}: not read: ")
    assert reason in lines[0]
    assert not (tmp_path / "out").exists()


def test_upstream_parameter_left_at_nothing_is_accepted(tmp_path, science, capsys):
    # the upstream's None asks for nothing different: no refusal
    code, err = run(capsys, science, "--output-dir", tmp_path / "out", *OFF,
                    "--steps.dark_current.skip=true", "--steps.flat_field.skip=true",
                    "--steps.calc_background.box_size=None")
    assert code == 0, err
    assert "calc_background.box_size = None asks for nothing iris_gui does differently" in err


def test_unknown_parameter_of_an_upstream_step_name(tmp_path, science, capsys):
    code, err = run(capsys, science, "--steps.dark_sub.darkk=x.fits")
    assert code == 2
    assert "steps.dark_current.darkk: unknown parameter of dark_current" in err


# ---- -q: an error is said once ---------------------------------------------------------------

@pytest.mark.parametrize("jobs", ["1", "2"])
def test_quiet_says_a_bad_inputs_error_once(tmp_path, capsys, jobs):
    bad = tmp_path / "bad_rate.fits"
    bad.write_text("this is not FITS")
    other = tmp_path / "other_rate.fits"
    other.write_text("nor is this")
    code, err = run(capsys, bad, other, "--output-dir", tmp_path / "out", "-q", "--jobs", jobs)
    assert code == 2
    assert err.count("bad_rate.fits: not a readable FITS science file") == 1, err
    assert err.count("other_rate.fits: not a readable FITS science file") == 1, err
    assert len(err.splitlines()) == 2, err  # nothing else: no progress, no summary


@pytest.mark.parametrize("where", ["config", "override"])
def test_quiet_says_a_refused_setting_once(tmp_path, science, capsys, where):
    (tmp_path / "p.cfg").write_text('class = "iris_pipeline.dark_current.DarkCurrentStep"\n')
    option = (["--config", tmp_path / "p.cfg"] if where == "config"
              else ["--steps.bkg_subtract.sigma=-1"])
    code, err = run(capsys, science, "-q", *option)
    assert code == 2 and len(err.splitlines()) == 1, err


# ---- --output-layout -------------------------------------------------------------------------

def _extensions(path) -> list[str]:
    from astropy.io import fits

    with fits.open(path) as hdul:
        return [hdu.name for hdu in hdul]


@pytest.fixture(scope="module")
def layouts(demo_dataset, tmp_path_factory):
    """The demo's 2-D science run once in each layout (``iris-image2 --output-layout``)."""
    folder = tmp_path_factory.mktemp("layouts")
    runs = {}
    for layout in ("iris", "liger"):
        out = folder / layout
        code = main([str(demo_dataset.science), "--output-dir", str(out), "-q",
                     "--output-layout", layout, "--save-parameters", str(folder / f"{layout}.cfg")])
        assert code == 0
        runs[layout] = out
    return folder, runs


def test_output_layout_liger_writes_the_data_layout_our_reader_reads(layouts):
    folder, runs = layouts
    for name in ("iris_demo_cal.fits", "iris_demo_i2d.fits"):
        liger, iris = runs["liger"] / name, runs["iris"] / name
        extensions = _extensions(liger)
        assert "DATA" in extensions and "SCI" not in extensions and "PROVENANCE" in extensions
        assert "SCI" in _extensions(iris) and "DATA" not in _extensions(iris)
        ours, theirs = read_image(iris), read_image(liger)
        np.testing.assert_array_equal(theirs.data, ours.data)
        np.testing.assert_array_equal(theirs.err, ours.err)
        # the liger DQ is 16 bits wide; the demo's flags fit
        np.testing.assert_array_equal(theirs.dq, ours.dq)
        # same numbers, same parameters otherwise: one PARFINGR
        assert theirs.header["PARFINGR"] == ours.header["PARFINGR"]
    assert 'output_layout = "liger"' in (folder / "liger.cfg").read_text()
    assert 'output_layout = "iris"' in (folder / "iris.cfg").read_text()


def test_from_output_of_a_liger_file_remakes_it_in_that_layout(layouts, tmp_path, capsys):
    _folder, runs = layouts
    made = runs["liger"] / "iris_demo_cal.fits"
    code, err = run(capsys, "--from-output", made, "--output-dir", tmp_path, "-q")
    assert code == 0, err
    again = tmp_path / "iris_demo_cal.fits"
    assert "DATA" in _extensions(again)
    np.testing.assert_array_equal(read_image(again).data, read_image(made).data)
    assert read_image(again).header["PARFINGR"] == read_image(made).header["PARFINGR"]
    # and the command line can ask for the other layout
    code, err = run(capsys, "--from-output", made, "--output-dir", tmp_path / "iris", "-q",
                    "--output-layout", "iris")
    assert code == 0, err
    assert "SCI" in _extensions(tmp_path / "iris" / "iris_demo_cal.fits")


def test_resume_remakes_a_product_asked_for_in_another_layout(demo_dataset, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(capsys, demo_dataset.science, "--output-dir", out, "-q")[0] == 0
    code, err = run(capsys, demo_dataset.science, "--output-dir", out, "--resume")
    assert code == 0 and "1 of 1 product(s) are up to date" in err
    code, err = run(capsys, demo_dataset.science, "--output-dir", out, "--resume",
                    "--output-layout", "liger")
    assert code == 0 and "0 of 1 product(s) are up to date" in err
    assert "DATA" in _extensions(out / "iris_demo_cal.fits")


def test_output_layout_liger_refuses_integrations_before_anything_runs(demo_dataset, tmp_path,
                                                                       capsys):
    code, err = run(capsys, demo_dataset.rateints, "--output-dir", tmp_path / "out",
                    "--output-layout", "liger")
    assert code == 2 and len(err.splitlines()) == 1
    assert "the liger layout (its ImagerModel) holds 2-D images" in err
    assert not (tmp_path / "out").exists()


def test_output_layout_from_a_parameter_file_and_bad_values(tmp_path, science, capsys):
    cfg = tmp_path / "p.cfg"
    cfg.write_text('output_layout = "liger"\n')
    code, err = run(capsys, science, "--config", cfg, "--output-dir", tmp_path / "out", *OFF,
                    "--steps.dark_current.skip=true", "--steps.flat_field.skip=true")
    assert code == 0, err
    assert "DATA" in _extensions(tmp_path / "out" / "x_cal.fits")
    code, err = run(capsys, science, "--output-layout", "fits")
    assert code == 2 and "--output-layout: invalid choice: 'fits'" in err
    cfg.write_text('output_layout = "fits"\n')
    code, err = run(capsys, science, "--config", cfg)
    assert code == 2 and "output_layout: 'fits' is not one of iris, liger" in err
