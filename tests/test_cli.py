"""iris-image2 end to end on the demo dataset, overrides, parameter files, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from iris_gui.cli import main, split_step_overrides
from iris_gui.engine.models import read_image
from iris_gui.engine.parameter_files import load_parameters


def run_cli(*args):
    return main([str(a) for a in args])


def test_demo_asn_end_to_end(demo_dataset, tmp_path, capsys):
    out = tmp_path / "out"
    code = run_cli(demo_dataset.asn, "--output-dir", out, "--save-bsub",
                   "--save-parameters", tmp_path / "used.cfg")
    assert code == 0
    names = sorted(os.listdir(out))
    assert "iris_demo_cal.fits" in names and "iris_demo_bsub.fits" in names
    assert "iris_demo_ints_calints.fits" in names and "iris_demo_ints_bsubints.fits" in names
    err = capsys.readouterr().err
    assert "iris_demo: flat_field: COMPLETE" in err  # plain progress lines when not a terminal
    assert "4/4 product(s) done" in err
    saved = load_parameters(tmp_path / "used.cfg")
    assert saved.pipeline["save_bsub"] is True

    # the saved cfg reproduces the same output bit for bit
    again = tmp_path / "again"
    assert run_cli(demo_dataset.asn, "--config", tmp_path / "used.cfg", "--output-dir", again) == 0
    first = read_image(out / "iris_demo_cal.fits")
    second = read_image(again / "iris_demo_cal.fits")
    np.testing.assert_array_equal(first.data, second.data)
    np.testing.assert_array_equal(first.dq, second.dq)

    # --from-output re-makes the product from its recorded provenance
    remade = tmp_path / "remade"
    assert run_cli("--from-output", out / "iris_demo_cal.fits", "--output-dir", remade) == 0
    third = read_image(remade / "iris_demo_cal.fits")
    np.testing.assert_array_equal(first.data, third.data)
    assert sorted(os.listdir(remade)) == ["iris_demo_bsub.fits", "iris_demo_cal.fits",
                                          "iris_demo_i2d.fits"]


def test_bare_rate_file_with_overrides(demo_dataset, tmp_path):
    code = run_cli(demo_dataset.science, "--output-dir", tmp_path,
                   "--steps.flat_field.skip=true", "--steps.dark_current.override_dark",
                   demo_dataset.dark)
    assert code == 0
    cal = read_image(tmp_path / "iris_demo_cal.fits")  # iris_demo_rate.fits -> iris_demo
    assert cal.header["S_FLAT"] == "SKIPPED" and cal.header["S_DARK"] == "COMPLETE"
    assert cal.header["S_BKDSUB"] == "SKIPPED"  # a bare rate file has no backgrounds


def test_asdf_parameters_round_trip_through_the_cli(demo_dataset, tmp_path):
    assert run_cli(demo_dataset.science, "--output-dir", tmp_path, "--steps.bkg_subtract.sigma=2.5",
                   "--save-parameters", tmp_path / "p.asdf") == 0
    config = load_parameters(tmp_path / "p.asdf")
    assert config.steps["bkg_subtract"]["sigma"] == 2.5


@pytest.mark.parametrize("args, fragment", [
    (["--steps.nosuch.skip=true"], "unknown step 'nosuch'"),
    (["--steps.flat_field.bogus=1"], "steps.flat_field.bogus: unknown parameter"),
    (["--steps.bkg_subtract.sigma=abc"], "expected a number"),
    (["--steps.bkg_subtract.maxiters=0"], "out of range"),
    (["--config", "missing.cfg"], "missing.cfg: parameter file not found"),
])
def test_bad_usage_exits_2_with_one_line(demo_dataset, tmp_path, capsys, args, fragment):
    code = run_cli(demo_dataset.science, "--output-dir", tmp_path, *args)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and fragment in err
    assert not list(tmp_path.iterdir())


def test_missing_input_and_no_input(tmp_path, capsys):
    assert run_cli(tmp_path / "nope_rate.fits") == 2
    assert "nope_rate.fits: file not found" in capsys.readouterr().err
    assert run_cli() == 2
    assert "no INPUT" in capsys.readouterr().err


def test_bad_science_file_exits_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad_rate.fits"
    bad.write_text("this is not FITS")
    out = tmp_path / "out"
    assert run_cli(bad, "--output-dir", out, "-q") == 2
    err = capsys.readouterr().err
    assert "bad_rate.fits" in err and "not a readable FITS" in err
    assert not out.exists() or not list(out.iterdir())


def test_step_override_parsing():
    rest, overrides = split_step_overrides(
        ["a.json", "--steps.x.y=1", "--steps.a.b", "2", "--save-bsub"])
    assert rest == ["a.json", "--save-bsub"]
    assert overrides == [("steps.x.y", "1"), ("steps.a.b", "2")]


def test_demo_subcommand_and_installed_script(tmp_path):
    assert run_cli("demo", tmp_path / "d", "--size", 64) == 0
    assert (tmp_path / "d" / "iris_demo_asn.json").exists()
    # the console script is installed and answers --help
    completed = subprocess.run([sys.executable, "-m", "iris_gui.cli", "--help"],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0 and "--steps.STEP.PARAM" in completed.stdout
    assert "flat_field" in completed.stdout and "override_flat" in completed.stdout
