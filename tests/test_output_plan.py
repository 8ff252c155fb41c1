"""The output plan as a user meets it through iris-image2: nothing outside the output folder,
nothing onto an input, no two products onto one file, a product written whole or not at all."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from factories import write_model

from iris_gui.cli import main
from iris_gui.engine.files import temporary_path
from iris_gui.engine.output_plan import NAME_MAX

WCS = dict(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRPIX1=8.5, CRPIX2=8.5, CRVAL1=10.0,
           CRVAL2=20.0, CD1_1=-1e-5, CD1_2=0.0, CD2_1=0.0, CD2_2=1e-5)


def rate(path: Path, value: float = 1.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_model(path, np.full((16, 16), value), **WCS)


def asn(path: Path, products: list[tuple[str, list[tuple[str, str]]]]) -> Path:
    document = {"asn_type": "image2", "products": [
        {"name": name, "members": [{"expname": e, "exptype": t} for e, t in members]}
        for name, members in products]}
    path.write_text(json.dumps(document))
    return path


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "Errno" not in err
    # one readable line: short once the test's own folder names (their length varies with the
    # runner, e.g. pytest-xdist's popen-gwN) are left out
    assert len(re.sub(r"/tmp/\S*?/(?=[^/\s]+$|[^/\s]+[);,\s])", "", lines[0])) < 400
    return lines[0]


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ---- names: nothing outside the output folder ---------------------------------------------------------

@pytest.mark.parametrize("name", ["../escaped", "/tmp/abs_escaped", "a/b", "..", "x\x00y",
                                  "tab\tname", "back\\slash"])
def test_product_name_that_is_not_a_plain_name_is_refused(tmp_path, capsys, name):
    rate(tmp_path / "in" / "x_rate.fits")
    path = asn(tmp_path / "in" / "a_asn.json", [(name, [("x_rate.fits", "science")])])
    out = tmp_path / "work" / "out"
    code, err = run(capsys, path, "--output-dir", out)
    assert code == 2
    assert "product name" in one_error(err)
    assert not out.exists() or tree(out) == []
    assert tree(tmp_path / "work") in ([], ["out"])
    assert not Path("/tmp/abs_escaped_cal.fits").exists()
    assert sorted(os.listdir(tmp_path / "in")) == ["a_asn.json", "x_rate.fits"]


def test_suffix_with_a_separator_is_refused(tmp_path, capsys):
    science = rate(tmp_path / "x_rate.fits")
    out = tmp_path / "out"
    code, err = run(capsys, science, "--output-dir", out,
                    "--steps.assign_wcs.save_results=true", "--steps.assign_wcs.suffix=../wcs")
    assert code == 2
    line = one_error(err)
    assert "suffix" in line and "separator" in line
    assert not (tmp_path / "x_wcs.fits").exists() and (not out.exists() or tree(out) == [])


def test_dark_output_outside_the_output_folder_is_refused(tmp_path, capsys):
    science = rate(tmp_path / "x_rate.fits")
    code, err = run(capsys, science, "--output-dir", tmp_path / "out",
                    f"--steps.dark_current.dark_output={tmp_path / 'elsewhere.fits'}")
    assert code == 2 and "dark_output" in one_error(err)


def test_unicode_product_and_file_names_work(tmp_path, capsys):
    science = rate(tmp_path / "données_x_rate.fits")
    out = tmp_path / "sortie"
    code, err = run(capsys, science, "--output-dir", out)
    assert code == 0, err
    assert tree(out) == ["données_x_cal.fits", "données_x_i2d.fits"]
    with fits.open(out / "données_x_cal.fits") as hdul:
        header = hdul[0].header
        assert all(str(value).isascii() for value in header.values())
        provenance = json.loads(hdul["PROVENANCE"].data["JSON"][0])
    assert provenance["product"] == "données_x"


def test_long_names_work_up_to_the_limit_and_are_refused_beyond(tmp_path, capsys):
    rate(tmp_path / "x_rate.fits")
    longest = "p" * (NAME_MAX - len("_cal.fits"))
    path = asn(tmp_path / "long_asn.json", [(longest, [("x_rate.fits", "science")])])
    out = tmp_path / "out"
    code, err = run(capsys, path, "--output-dir", out,
                    "--steps.resample.skip=true")
    assert code == 0, err
    assert tree(out) == [f"{longest}_cal.fits"]
    assert len(temporary_path(out / f"{longest}_cal.fits").name) < 40
    too_long = asn(tmp_path / "longer_asn.json", [(longest + "p", [("x_rate.fits", "science")])])
    code, err = run(capsys, too_long, "--output-dir", tmp_path / "out2",
                    "--steps.resample.skip=true")
    assert code == 2
    assert f"at most {NAME_MAX}" in one_error(err)


# ---- never onto an input ------------------------------------------------------------------------------

def test_save_parameters_onto_the_science_file_is_refused(tmp_path, capsys):
    science = rate(tmp_path / "x_rate.fits")
    before = science.read_bytes()
    code, err = run(capsys, science, "--output-dir", tmp_path / "out",
                    "--save-parameters", science)
    assert code == 2
    assert "--save-parameters" in one_error(err) and "science member" in err
    assert science.read_bytes() == before
    assert not (tmp_path / "out").exists() or tree(tmp_path / "out") == []


def test_save_parameters_onto_the_config_and_its_included_file_is_refused(tmp_path, capsys):
    science = rate(tmp_path / "x_rate.fits")
    (tmp_path / "flat.cfg").write_text("skip = True\n")
    config = tmp_path / "image2.cfg"
    config.write_text("[steps]\n[[flat_field]]\nconfig_file = flat.cfg\n")
    for target in (config, tmp_path / "flat.cfg"):
        before = target.read_bytes()
        code, err = run(capsys, science, "--config", config, "--output-dir", tmp_path / "out",
                        "--save-parameters", target)
        assert code == 2 and "parameter file" in one_error(err)
        assert target.read_bytes() == before


def test_save_parameters_elsewhere_is_written(tmp_path, capsys):
    science = rate(tmp_path / "x_rate.fits")
    code, err = run(capsys, science, "--output-dir", tmp_path / "out",
                    "--save-parameters", tmp_path / "used.cfg")
    assert code == 0, err
    assert "flat_field" in (tmp_path / "used.cfg").read_text()


def test_output_onto_an_input_through_a_symlink_is_refused(tmp_path, capsys):
    science = rate(tmp_path / "in" / "x_rate.fits")
    out = tmp_path / "out"
    out.mkdir()
    (out / "x_cal.fits").symlink_to(science)
    before = science.read_bytes()
    code, err = run(capsys, science, "--output-dir", out)
    assert code == 2 and "which this run reads" in one_error(err)
    assert science.read_bytes() == before and tree(out) == ["x_cal.fits"]


def test_output_onto_an_input_through_a_hard_link_is_refused(tmp_path, capsys):
    rate(tmp_path / "in" / "x_rate.fits")
    background = rate(tmp_path / "in" / "b_rate.fits", 0.5)
    out = tmp_path / "out"
    out.mkdir()
    os.link(background, out / "x_cal.fits")
    path = asn(tmp_path / "in" / "x_asn.json",
               [("x", [("x_rate.fits", "science"), ("b_rate.fits", "background")])])
    before = background.read_bytes()
    code, err = run(capsys, path, "--output-dir", out)
    line = one_error(err)
    assert code == 2 and "hard link" in line and "b_rate.fits" in line
    assert background.read_bytes() == before


def test_output_onto_a_reference_in_the_reference_folder_is_refused(tmp_path, capsys):
    science = rate(tmp_path / "x_rate.fits")
    dark = write_model(tmp_path / "x_i2d.fits", np.zeros((16, 16)), REFTYPE="DARK")
    before = dark.read_bytes()
    code, err = run(capsys, science, "--output-dir", tmp_path)
    assert code == 2 and "dark reference" in one_error(err)
    assert dark.read_bytes() == before


def test_product_writing_where_another_product_reads_is_refused(tmp_path, capsys):
    rate(tmp_path / "x_rate.fits")
    rate(tmp_path / "p1_cal.fits", 2.0)   # p2's science happens to be named like p1's output
    path = asn(tmp_path / "two_asn.json", [("p1", [("x_rate.fits", "science")]),
                                           ("p2", [("p1_cal.fits", "science")])])
    before = (tmp_path / "p1_cal.fits").read_bytes()
    code, err = run(capsys, path, "--output-dir", tmp_path)
    line = one_error(err)
    assert code == 2 and "product p1" in line and "product p2" in line
    assert (tmp_path / "p1_cal.fits").read_bytes() == before
    assert not (tmp_path / "p2_cal.fits").exists()


def test_from_output_never_replaces_its_source(tmp_path, capsys):
    science = rate(tmp_path / "x_rate.fits")
    out = tmp_path / "out"
    assert run(capsys, science, "--output-dir", out)[0] == 0
    source = out / "x_cal.fits"
    before = source.read_bytes()
    code, err = run(capsys, "--from-output", source)
    assert code == 2 and "re-made" in one_error(err)
    assert source.read_bytes() == before
    code, err = run(capsys, "--from-output", source, "--output-dir", tmp_path / "again")
    assert code == 0, err
    assert tree(tmp_path / "again") == ["x_cal.fits", "x_i2d.fits"]


def test_existing_folder_in_the_way_is_refused_before_running(tmp_path, capsys):
    science = rate(tmp_path / "x_rate.fits")
    out = tmp_path / "out"
    (out / "x_cal.fits").mkdir(parents=True)
    code, err = run(capsys, science, "--output-dir", out)
    assert code == 2 and "existing folder" in one_error(err)
    assert tree(out) == ["x_cal.fits"]   # no lone _i2d
    assert "started" not in err          # refused before anything ran


# ---- collisions across inputs -----------------------------------------------------------------------------

def test_two_rate_files_with_one_product_name_are_refused(tmp_path, capsys):
    a = rate(tmp_path / "a" / "x_rate.fits")
    b = rate(tmp_path / "b" / "x_rate.fits", 3.0)
    code, err = run(capsys, a, b, "--output-dir", tmp_path / "out")
    line = one_error(err)
    assert code == 2 and "written twice" in line
    assert str(a) in line and str(b) in line
    assert not (tmp_path / "out").exists() or tree(tmp_path / "out") == []


def test_two_associations_with_one_product_name_are_refused(tmp_path, capsys):
    rate(tmp_path / "a" / "x_rate.fits")
    rate(tmp_path / "b" / "y_rate.fits")
    first = asn(tmp_path / "a" / "a_asn.json", [("p", [("x_rate.fits", "science")])])
    second = asn(tmp_path / "b" / "b_asn.json", [("p", [("y_rate.fits", "science")])])
    code, err = run(capsys, first, second, "--output-dir", tmp_path / "out")
    line = one_error(err)
    assert code == 2 and "a_asn.json" in line and "b_asn.json" in line


def test_the_same_names_in_different_output_folders_run(tmp_path, capsys):
    a = rate(tmp_path / "a" / "x_rate.fits")
    code, err = run(capsys, a, "--output-dir", tmp_path / "out1")
    assert code == 0, err
    code, err = run(capsys, a, "--output-dir", tmp_path / "out2")
    assert code == 0, err


# ---- a product whole or not at all ----------------------------------------------------------------------

def _fail_on_second_file(monkeypatch, exception):
    """Make writing the second file of a product raise ``exception`` after the first is done."""
    original = fits.HDUList.writeto
    calls = []

    def writeto(self, name, *args, **kwargs):
        calls.append(name)
        if len(calls) % 2 == 0:
            with open(name, "wb") as handle:
                handle.write(b"SIMPLE  =                    T")  # a partial file
            raise exception() if callable(exception) else exception
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(fits.HDUList, "writeto", writeto)
    return calls


def _two_products(tmp_path) -> Path:
    rate(tmp_path / "in" / "x_rate.fits")
    rate(tmp_path / "in" / "y_rate.fits")
    return asn(tmp_path / "in" / "xy_asn.json", [("x", [("x_rate.fits", "science")]),
                                                 ("y", [("y_rate.fits", "science")])])


def test_write_error_fails_that_product_only_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    path = _two_products(tmp_path)
    out = tmp_path / "out"
    calls = _fail_on_second_file(monkeypatch, lambda: OSError(28, "No space left on device"))
    code, err = run(capsys, path, "--output-dir", out)
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 2   # x and y both failed on their second file, each said once
    assert errors[0] == f"ERROR: x: cannot write {out / 'x_cal.fits'}: no space left on device"
    assert tree(out) == []
    assert len(calls) == 4
    assert "0 file(s) written" in err


def test_ctrl_c_while_writing_leaves_nothing(tmp_path, capsys, monkeypatch):
    path = _two_products(tmp_path)
    out = tmp_path / "out"
    _fail_on_second_file(monkeypatch, KeyboardInterrupt)
    code, err = run(capsys, path, "--output-dir", out)
    assert code == 130 and "interrupted" in err
    assert tree(out) == []


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_while_writing_leave_nothing(tmp_path, capsys, monkeypatch, signum,
                                                        code):
    path = _two_products(tmp_path)
    out = tmp_path / "out"
    original = fits.HDUList.writeto
    calls = []

    def writeto(self, name, *args, **kwargs):
        calls.append(name)
        original(self, name, *args, **kwargs)
        if len(calls) == 3:   # y's first file is complete, its second not yet begun
            os.kill(os.getpid(), signum)

    monkeypatch.setattr(fits.HDUList, "writeto", writeto)
    previous = signal.getsignal(signum)
    exit_code, err = run(capsys, path, "--output-dir", out)
    assert exit_code == code and signal.Signals(signum).name in err
    assert tree(out) == ["x_cal.fits", "x_i2d.fits"]   # x was whole; nothing of y
    assert signal.getsignal(signum) == previous        # handlers put back


def test_sigterm_from_outside_stops_a_real_run(tmp_path):
    """``timeout``/schedulers send SIGTERM to the process: exit 143, no temporaries left."""
    science = rate(tmp_path / "x_rate.fits")
    out = tmp_path / "out"
    script = ("import time, iris_gui.engine.outputs as o, sys\n"
              "from iris_gui.cli import main\n"
              "real = o.write_all_or_nothing\n"
              "def slow(files):\n"
              "    print('writing', flush=True); time.sleep(30); return real(files)\n"
              "o.write_all_or_nothing = slow\n"
              f"sys.exit(main([{str(science)!r}, '--output-dir', {str(out)!r}]))\n")
    process = subprocess.Popen(["python", "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 143, err
    assert "SIGTERM" in err and "Traceback" not in err
    assert tree(out) == []


def test_stale_temporaries_of_planned_outputs_are_removed(tmp_path, capsys):
    science = rate(tmp_path / "x_rate.fits")
    out = tmp_path / "out"
    out.mkdir()
    tag = temporary_path(out / "x_cal.fits").name.split("-")[1]
    dead = out / f".iris-{tag}-{2 ** 22 + 12345}.part"     # beyond pid_max: no such process
    alive = out / f".iris-{tag}-1.part"                    # pid 1 is always running
    other = out / ".iris-0123456789-99999999.part"         # not of a planned output
    for path in (dead, alive, other):
        path.write_bytes(b"partial")
    code, err = run(capsys, science, "--output-dir", out)
    assert code == 0, err
    assert not dead.exists() and alive.exists() and other.exists()
    assert (out / "x_cal.fits").exists()


def test_summary_counts_the_files_on_disk(tmp_path, capsys):
    path = _two_products(tmp_path)
    code, err = run(capsys, path, "--output-dir", tmp_path / "out")
    assert code == 0
    assert "2/2 product(s) done, 4 file(s) written" in err
    assert len(tree(tmp_path / "out")) == 4


# ---- a full disk and an unwritable folder, for real (CI runs as root) ------------------------------------

def _mount(args: list[str], target: Path) -> None:
    result = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"mount {' '.join(args)} failed: {result.stderr.strip()}")


@pytest.fixture()
def small_disk(tmp_path):
    """A 96 KiB tmpfs as root (room for one 16x16 product's first file, not both)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a tmpfs needs root here; CI runs as root")
    _mount(["-t", "tmpfs", "-o", "size=96k", "tmpfs"], disk)
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_full_disk_fails_the_product_with_one_line(tmp_path, capsys, small_disk):
    science = write_model(tmp_path / "x_rate.fits", np.ones((64, 64)), **WCS)
    code, err = run(capsys, science, "--output-dir", small_disk)
    assert code == 1
    line = one_error(err)
    assert line.startswith("ERROR: x: cannot write") and line.endswith("no space left on device")
    assert os.listdir(small_disk) == []


def test_unwritable_output_folder_is_one_line(tmp_path, capsys, read_only_folder):
    science = rate(tmp_path / "x_rate.fits")
    code, err = run(capsys, science, "--output-dir", read_only_folder)
    assert code in (1, 2)
    line = one_error(err)
    assert str(read_only_folder) in line and "Errno" not in line
    assert os.listdir(read_only_folder) == []


def test_unicode_reference_names_are_recorded_in_ascii(tmp_path, capsys):
    """R_DARK/R_FLAT/R_PHOTOM of references named with any characters (FITS headers are ASCII)."""
    from iris_gui.engine.models import PhotomRow, write_photom

    science = rate(tmp_path / "x_rate.fits")
    write_model(tmp_path / "dunkel_ü.fits", np.zeros((16, 16)), REFTYPE="DARK")
    write_model(tmp_path / "plat_é.fits", np.ones((16, 16)), REFTYPE="FLAT")
    header = fits.Header({"REFTYPE": "PHOTOM", "INSTRUME": "IRIS", "DETECTOR": "IMAGER"})
    write_photom([PhotomRow("KN3", 2.0, 0.1)], header, tmp_path / "photom_ø.fits")
    code, err = run(capsys, science, "--output-dir", tmp_path / "out")
    assert code == 0, err
    with fits.open(tmp_path / "out" / "x_cal.fits") as hdul:
        header = hdul[0].header
        assert (header["S_DARK"], header["S_FLAT"], header["S_PHOTOM"]) == ("COMPLETE",) * 3
        assert header["R_DARK"] == "dunkel_\\xfc.fits"
        assert header["R_FLAT"] == "plat_\\xe9.fits"
        assert header["R_PHOTOM"] == "photom_\\xf8.fits"


@pytest.mark.parametrize("kind", ["association", "config"])
def test_named_pipe_as_association_or_parameter_file_is_refused_at_once(tmp_path, capsys, kind):
    pipe = tmp_path / ("p_asn.json" if kind == "association" else "p.cfg")
    os.mkfifo(pipe)
    science = rate(tmp_path / "x_rate.fits")
    argv = [pipe] if kind == "association" else [science, "--config", pipe]
    code, err = run(capsys, *argv, "--output-dir", tmp_path / "out")   # would block if opened
    assert code == 2 and "is a named pipe" in one_error(err)


def test_output_folder_that_is_a_file_is_refused_before_running(tmp_path, capsys):
    science = rate(tmp_path / "x_rate.fits")
    before = science.read_bytes()
    code, err = run(capsys, science, "--output-dir", science)
    assert code == 2 and "science member" in one_error(err) and "started" not in err
    (tmp_path / "notes.txt").write_text("x")
    code, err = run(capsys, science, "--output-dir", tmp_path / "notes.txt")
    assert code == 2 and "is a file" in one_error(err)
    assert science.read_bytes() == before


def test_a_read_warning_is_said_once_even_with_quiet(tmp_path, capsys):
    science = rate(tmp_path / "x_rate.fits")
    with fits.open(science) as hdul:
        hdus = [hdul[0].copy(), hdul["SCI"].copy(), fits.ImageHDU(np.zeros((16, 16), np.float32),
                                                                  name="DATA"),
                hdul["ERR"].copy(), hdul["DQ"].copy()]
    fits.HDUList(hdus).writeto(tmp_path / "two_rate.fits")
    code, err = run(capsys, tmp_path / "two_rate.fits", "-q", "--output-dir", tmp_path / "out")
    assert code == 0
    said = [line for line in err.splitlines() if "SCI/DATA extensions" in line]
    assert len(said) == 1 and said[0].startswith("WARNING") and "extension 1) is used" in said[0]
