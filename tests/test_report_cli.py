"""iris-image2 --report DIR and iris-image2 report CAL_FILES... -o DIR: the report after a run,
the same metrics re-made from the _cal files alone, and products that cannot be re-made (moved
or changed inputs) named with the reason; bad input is one line and exit 2."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from astropy.io import fits
from test_report import ReviewPage, metrics_of

from iris_gui.cli import main


def run_cli(*args):
    return main([str(a) for a in args])


def page_of(folder) -> ReviewPage:
    return ReviewPage((folder / "review.html").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def run_with_report(demo_dataset, tmp_path_factory):
    base = tmp_path_factory.mktemp("cli-report")
    code = main([str(demo_dataset.asn), "--output-dir", str(base / "out"), "--report",
                 str(base / "report"), "--reviewer", "A. Reviewer", "-q"])
    assert code == 0
    return base


def test_run_writes_the_report_after_the_run(run_with_report, demo_dataset):
    report = run_with_report / "report"
    assert sorted(p.name for p in report.iterdir()) == ["review.html", "review.pdf"]
    page = page_of(report)
    assert list(page.products) == ["iris_demo", "iris_demo_sub", "iris_demo_submap",
                                   "iris_demo_ints"]
    assert "A. Reviewer" in (report / "review.html").read_text(encoding="utf-8")


def test_remade_from_cal_files_alone_gives_the_same_metrics(run_with_report, tmp_path, capsys):
    out = run_with_report / "out"
    cals = sorted(out.glob("*_cal*.fits"))
    assert len(cals) == 4
    code = run_cli("report", *cals, out / "iris_demo_i2d.fits", "-o", tmp_path / "again",
                   "--reviewer", "B")
    assert code == 0
    err = capsys.readouterr().err
    assert "re-making iris_demo" in err and "review report of 4 product(s)" in err
    first, again = page_of(run_with_report / "report"), page_of(tmp_path / "again")
    assert metrics_of(again) == metrics_of(first)
    assert sorted(again.products) == sorted(first.products) and again.not_remade == []
    for name, product in first.products.items():
        assert again.products[name]["checks"] == product["checks"]
        assert again.products[name]["verdict"] == product["verdict"]


def test_changed_and_moved_inputs_are_reported(demo_dataset, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(demo_dataset.directory, data)
    assert run_cli(data / "iris_demo_asn.json", "--output-dir", tmp_path / "out", "-q") == 0
    changed = data / "iris_demo_bkg2_rate.fits"
    with fits.open(changed, mode="update") as hdul:
        hdul["SCI"].data[10:20, 10:20] += np.float32(5)
    (data / "iris_demo_sub_rate.fits").rename(data / "elsewhere.fits")
    code = run_cli("report", tmp_path / "out" / "iris_demo_cal.fits",
                   tmp_path / "out" / "iris_demo_sub_cal.fits", "-o", tmp_path / "r")
    assert code == 1
    err = capsys.readouterr().err
    # the changed background is named, found by its content (sha256), not by its date
    line = next(line for line in err.splitlines() if "could not re-make iris_demo " in line)
    assert line.startswith(f"iris-image2: could not re-make iris_demo (iris_demo_cal.fits): "
                           f"{changed} changed since the product was made (sha256 ")
    assert "recorded " in line and "iris_demo_bkg1_rate.fits" not in err  # the unchanged ones
    assert f"input {data / 'iris_demo_sub_rate.fits'} no longer exists (moved or deleted)" in err
    page = page_of(tmp_path / "r")
    assert page.not_remade == ["iris_demo", "iris_demo_sub"] and page.products == {}


def test_a_recorded_sha256_that_no_longer_matches_is_reported(run_with_report, tmp_path,
                                                               capsys):
    cal = tmp_path / "iris_demo_cal.fits"
    shutil.copy(run_with_report / "out" / "iris_demo_cal.fits", cal)
    with fits.open(cal, mode="update") as hdul:
        document = json.loads(hdul["PROVENANCE"].data["JSON"][0])
        science = document["inputs"]["science"]
        document["sha256"] = {science: "0" * 64}
        text = json.dumps(document)
        hdul["PROVENANCE"] = fits.BinTableHDU.from_columns(
            [fits.Column(name="JSON", format=f"{len(text)}A", array=np.array([text]))],
            name="PROVENANCE")
    assert run_cli("report", cal, "-o", tmp_path / "r") == 1
    assert f"{science} changed since the product was made (sha256" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["report", "{demo}/iris_demo_rate.fits", "-o", "{tmp}/r"],
     "iris_demo_rate.fits: has no PROVENANCE extension; it was not written by iris_gui"),
    (["report", "{tmp}/missing_cal.fits", "-o", "{tmp}/r"], "missing_cal.fits: file not found"),
    (["report", "-o", "{tmp}/r"], "report: no CAL_FILE given"),
    (["report", "{demo}/iris_demo_rate.fits"], "report: -o DIR is required"),
    (["{demo}/iris_demo_asn.json", "--reviewer", "x"], "--reviewer and --checks go with --report"),
    (["{demo}/iris_demo_asn.json", "--report", "{tmp}/r", "--checks", "{tmp}/bad.cfg"],
     "bad.cfg: [no_such_check]: unknown check"),
    (["{demo}/iris_demo_asn.json", "--report", "{tmp}/afile"], "--report folder"),
])
def test_bad_input_is_one_line_and_exit_2(demo_dataset, tmp_path, capsys, args, message):
    (tmp_path / "bad.cfg").write_text("[no_such_check]\nwarn = 1\n")
    (tmp_path / "afile").write_text("not a folder")
    argv = [a.format(demo=demo_dataset.directory, tmp=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("iris-image2: error:") and message in err[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "r").exists()


def test_print_checks_gives_a_checks_cfg_that_reads_back(tmp_path, capsys):
    from iris_gui.report import Thresholds, load_checks

    assert run_cli("report", "--print-checks") == 0
    path = tmp_path / "checks.cfg"
    path.write_text(capsys.readouterr().out)
    assert load_checks(path).values == Thresholds().values


def test_without_pillow_the_report_is_refused_before_the_run(demo_dataset, tmp_path, capsys,
                                                             monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "PIL" else real(name, *a))
    assert run_cli(demo_dataset.asn, "--output-dir", tmp_path / "out", "--report",
                   tmp_path / "r") == 2
    assert "the review report needs Pillow" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
