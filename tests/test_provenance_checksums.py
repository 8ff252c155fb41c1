"""Provenance records each input's and reference's sha256 and the rule that chose the reference;
PARFINGR is the parameters as given, so --from-output reproduces it; --resume trusts content, not
dates (a touched file is up to date, a rewritten one is not)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from factories import write_model, write_reference

from iris_gui import cli
from iris_gui.engine import provenance
from iris_gui.engine.association import Member, Product
from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.output_plan import OutputPlan
from iris_gui.engine.outputs import plan_product
from iris_gui.engine.provenance import (
    file_sha256,
    parameter_fingerprint,
    read_provenance,
    up_to_date,
)


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    write_model(data / "sci_rate.fits", np.full((4, 4), 20.0), np.ones((4, 4)),
                **{"DATE-OBS": "2030-02-03"})
    write_reference(data / "dark.fits", "DARK", np.full((4, 4), 1.0), USEAFTER="2030-01-01")
    write_reference(data / "flat.fits", "FLAT", np.full((4, 4), 2.0), USEAFTER="2030-01-01")
    return data


def run(*args) -> int:
    return cli.main([str(a) for a in args] + ["-q"])


def test_provenance_records_sha256_of_inputs_and_references_and_the_rule(tmp_path):
    data = folder(tmp_path)
    other = write_reference(tmp_path / "given_flat.fits", "FLAT", np.full((4, 4), 4.0))
    out = tmp_path / "out"
    assert run(data / "sci_rate.fits", "--output-dir", out,
               f"--steps.flat_field.override_flat={other}") == 0
    document = read_provenance(out / "sci_cal.fits")
    expected = {str(data / "sci_rate.fits"): sha(data / "sci_rate.fits"),
                str(data / "dark.fits"): sha(data / "dark.fits"),
                str(other): sha(other)}
    assert document["sha256"] == expected
    rules = document["reference_rules"]
    assert rules["flat_field"] == {"flat": "override_flat (given)"}
    assert rules["dark_current"]["dark"] == (
        f"chose dark.fits from {data}: matches DETECTOR, FILTER, SUBARRAY; same window; "
        f"USEAFTER 2030-01-01 is the latest not after DATE-OBS 2030-02-03")
    with fits.open(out / "sci_cal.fits") as hdul:
        assert hdul[0].header["R_DARK"] == "dark.fits"


def test_file_sha256_is_hashlib_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "HASH_CHUNK", 7)  # many chunks, the last one short
    path = tmp_path / "x.bin"
    path.write_bytes(bytes(range(256)) * 3)
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert file_sha256(tmp_path / "missing.bin") is None


def test_recorded_stat_spares_hashing_only_while_the_stat_is_unchanged(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc")
    info = os.stat(path)
    stat = [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]
    recorded = {str(path): [*stat, "recorded-digest"]}
    assert file_sha256(path, recorded) == "recorded-digest"
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))  # touched: hashed again
    assert file_sha256(path, recorded) == hashlib.sha256(b"abc").hexdigest()


def test_parfingr_leaves_out_reference_files_but_not_other_parameters():
    config = PipelineConfig()
    pinned = config.copy()
    pinned.set("steps.dark_current.override_dark", "/refs/dark.fits")
    assert parameter_fingerprint(pinned) == parameter_fingerprint(config)
    assert pinned.fingerprint() != config.fingerprint()  # the full one still sees it
    changed = config.copy()
    changed.set("steps.resample.pixfrac", 0.5)
    assert parameter_fingerprint(changed) != parameter_fingerprint(config)


def test_from_output_reproduces_parfingr_and_data(tmp_path):
    data = folder(tmp_path)
    out = tmp_path / "out"
    assert run(data / "sci_rate.fits", "--output-dir", out, "--steps.resample.skip=true") == 0
    again = tmp_path / "again"
    assert run("--from-output", out / "sci_cal.fits", "--output-dir", again) == 0
    with fits.open(out / "sci_cal.fits") as first, \
            fits.open(again / "sci_cal.fits") as second:
        assert first[0].header["PARFINGR"] == second[0].header["PARFINGR"]
        assert first["SCI"].data.tobytes() == second["SCI"].data.tobytes()
        assert first[0].header["R_FLAT"] == second[0].header["R_FLAT"] == "flat.fits"
    remade = read_provenance(again / "sci_cal.fits")
    assert remade["sha256"] == read_provenance(out / "sci_cal.fits")["sha256"]
    # the re-made run used the pinned references: the rule says so
    assert remade["reference_rules"]["dark_current"] == {"dark": "override_dark (given)"}


def _resume_setup(tmp_path):
    data = folder(tmp_path)
    out = tmp_path / "out"
    assert run(data / "sci_rate.fits", "--output-dir", out) == 0
    product = Product("sci", [Member(str(data / "sci_rate.fits"), "science")])
    config = PipelineConfig()
    plan = OutputPlan()
    plan_product(plan, product, config, out, data)
    planned = plan.paths_for(product.name, str(data / "sci_rate.fits"))
    assert up_to_date(product, config, data, planned)
    return data, product, config, planned


def test_resume_trusts_content_a_touched_file_is_up_to_date(tmp_path):
    data, product, config, planned = _resume_setup(tmp_path)
    for name in ("sci_rate.fits", "dark.fits"):
        path = data / name
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert up_to_date(product, config, data, planned)


def test_resume_reruns_an_input_rewritten_with_the_same_size_and_mtime(tmp_path):
    data, product, config, planned = _resume_setup(tmp_path)
    path = data / "sci_rate.fits"
    info = path.stat()
    with fits.open(path, mode="update") as hdul:
        hdul["SCI"].data[0, 0] = 21.0
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))  # mtime set back, as cp -p does
    assert path.stat().st_size == info.st_size
    assert not up_to_date(product, config, data, planned)


def test_resume_reruns_after_a_changed_or_new_reference(tmp_path):
    data, product, config, planned = _resume_setup(tmp_path)
    with fits.open(data / "flat.fits", mode="update") as hdul:
        hdul["SCI"].data[0, 0] = 3.0
    assert not up_to_date(product, config, data, planned)
    (tmp_path / "second").mkdir()
    data, product, config, planned = _resume_setup(tmp_path / "second")
    write_reference(data / "newer_dark.fits", "DARK", np.full((4, 4), 1.0), USEAFTER="2030-02-01")
    assert not up_to_date(product, config, data, planned)
