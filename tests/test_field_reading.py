"""Reading the field's files: Git LFS pointers named wherever a FITS file is read, multi-chip
files refused, the upstream's subarray keywords taken from its ASDF tree when they contradict
each other, its WCS convention noted once per file, our own ASDF extension not opened, and the
liger layout's DQ32 read back so no DQ bit is lost."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap

import asdf
import numpy as np
import pytest
from astropy.io import fits
from factories import IDENTITY, make_model, write_model

from iris_gui.cli import main
from iris_gui.engine.association import Member, Product
from iris_gui.engine.dq import DQ_FLAGS
from iris_gui.engine.errors import InputError
from iris_gui.engine.liger_layout import write_liger_file
from iris_gui.engine.models import read_image
from iris_gui.engine.pipeline import Image2Pipeline

LFS_POINTER = ("version https://git-lfs.github.com/spec/v1\n"
               "oid sha256:7c8bdc2492905863c8ce71d2a58c0f2ca44222f9b1328bcd8ad2bd62e6c2d7e5\n"
               "size 167797440\n")
MODELS_LOGGER = "iris_gui.engine.models"


def _pointer(path):
    path.write_text(LFS_POINTER)
    return path


def _pointer_sentence(path, what):
    return (f"{path}: {what} is a Git LFS pointer, not the FITS file (fetch it with git lfs "
            f"pull)")


# ---- Git LFS pointers ----------------------------------------------------------------------------

def test_lfs_pointer_rate_input_is_named_by_the_cli(tmp_path, capsys):
    path = _pointer(tmp_path / "2024B-P123-008_IRIS_IMG1_SCI_LVL1_0001-00.fits")
    assert main([str(path), "--output-dir", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert _pointer_sentence(path, "science file") in err
    assert err.count("science file is a Git LFS pointer") == 1
    assert "ignore_missing_simple" not in err and "SIMPLE" not in err


def test_lfs_pointer_background_member_is_named(tmp_path):
    science = write_model(tmp_path / "sci_rate.fits", np.ones((4, 4)))
    background = _pointer(tmp_path / "sky_rate.fits")
    product = Product("sci", [Member(str(science), "science"),
                              Member(str(background), "background")])
    result = Image2Pipeline(ref_dir=tmp_path).run_product(product)
    step = result.steps["bkg_subtract"]
    assert step.status == "FAILED", step
    assert step.reason == _pointer_sentence(background, "background exposure")


def test_lfs_pointer_override_reference_is_named(tmp_path):
    science = write_model(tmp_path / "sci_rate.fits", np.ones((4, 4)))
    flat = _pointer(tmp_path / "flat.fits")
    pipeline = Image2Pipeline(ref_dir=tmp_path)
    pipeline.config.steps["flat_field"]["override_flat"] = str(flat)
    result = pipeline.run_product(Product("sci", [Member(str(science), "science")]))
    assert result.steps["flat_field"].reason == _pointer_sentence(flat, "flat reference")


def test_lfs_pointer_distortion_and_output_are_named(tmp_path):
    from iris_gui.engine.provenance import read_provenance
    from iris_gui.engine.wcs import read_distortion

    distortion = _pointer(tmp_path / "distortion.fits")
    with pytest.raises(InputError) as info:
        read_distortion(str(distortion))
    assert str(info.value) == _pointer_sentence(distortion, "distortion reference")
    output = _pointer(tmp_path / "x_cal.fits")
    with pytest.raises(InputError) as info:
        read_provenance(output)
    assert str(info.value) == _pointer_sentence(output, "iris_gui output")


# ---- multi-chip files ----------------------------------------------------------------------------

def _chips(path, name, count):
    hdus = [fits.PrimaryHDU(header=fits.Header(list(IDENTITY.items())))]
    for chip in range(1, count + 1):
        hdus.append(fits.ImageHDU(np.full((3, 3), chip, np.float32), name=name, ver=chip))
        hdus.append(fits.ImageHDU(np.zeros((3, 3), np.float32), name="ERR", ver=chip))
    fits.HDUList(hdus).writeto(path)
    return path


@pytest.mark.parametrize("name, count", [("SCI", 2), ("SCI", 4), ("DATA", 3)])
def test_multi_chip_files_are_refused_saying_how_many(tmp_path, name, count):
    path = _chips(tmp_path / "j8bt06nyq_flt.fits", name, count)
    with pytest.raises(InputError) as info:
        read_image(path)
    assert str(info.value) == (f"{path}: has {count} {name} extensions (a multi-chip exposure); "
                               f"iris_gui reads one-chip exposures, with one {name} extension")


def test_one_chip_file_with_extver_is_read(tmp_path):
    path = _chips(tmp_path / "one_flt.fits", "SCI", 1)
    assert float(read_image(path).data[0, 0]) == 1.0


# ---- the upstream's subarray keywords and its ASDF tree ------------------------------------------

def _asdf_hdu(meta):
    buffer = io.BytesIO()
    asdf.AsdfFile({"meta": meta}).write_to(buffer)
    raw = np.frombuffer(buffer.getvalue(), np.uint8)
    column = fits.Column(name="ASDF_METADATA", format=f"{raw.size}B", array=raw[None, :])
    return fits.BinTableHDU.from_columns([column], name="ASDF")


def _upstream_l2(path, keywords, subarray, shape=(6, 8), tree=True):
    """An L2 file as the upstream saves it after its subarray-map step: the primary's subarray
    keywords are the last subarray_map entry's, the tree's meta.subarray is the exposure's."""
    header = fits.Header(list(IDENTITY.items()))
    header["DRSVER"] = "0.5.1"
    header["DATAMODL"] = "ImagerModel"
    for key, value in keywords.items():
        header[key] = value
    data = np.arange(shape[0] * shape[1], dtype=np.float32).reshape(shape)
    submap = np.zeros(shape, np.uint16)
    submap[4:6, 2:4] = 1
    hdus = [fits.PrimaryHDU(header=header), fits.ImageHDU(data, name="DATA"),
            fits.ImageHDU(np.zeros(shape, np.uint16), name="DQ"),
            fits.ImageHDU(submap, name="SUBARR_MAP")]
    if tree:
        hdus.append(_asdf_hdu({"subarray": subarray, "subarray_map": [
            {"id": 1, "xstart": 3, "ystart": 5, "xsize": 2, "ysize": 2}]}))
    fits.HDUList(hdus).writeto(path)
    return path


#: what the upstream writes: SUBARRAY of the exposure, the window of its last subarray_map entry
CONTRADICTORY = {"SUBARRAY": "FULL", "SUBSTRT1": 3, "SUBSTRT2": 5, "SUBSIZE1": 2, "SUBSIZE2": 2}
FULL_TREE = {"name": "FULL", "xstart": 1, "ystart": 1, "xsize": 8, "ysize": 6}


def test_contradictory_subarray_keywords_are_taken_from_the_tree(tmp_path, caplog):
    path = _upstream_l2(tmp_path / "up_cal.fits", CONTRADICTORY, FULL_TREE)
    with caplog.at_level(logging.WARNING, logger=MODELS_LOGGER):
        model = read_image(path)
    window = model.window
    assert (window.xstart, window.ystart, window.xsize, window.ysize, window.name) == \
        (1, 1, 8, 6, "FULL")
    assert [model.header[k] for k in ("SUBARRAY", "SUBSTRT1", "SUBSTRT2", "SUBSIZE1",
                                      "SUBSIZE2")] == ["FULL", 1, 1, 8, 6]
    expected = (f"{path}: the subarray keywords contradict each other (SUBARRAY = FULL, "
                f"SUBSTRT1/2 = 3, 5, SUBSIZE1/2 = 2x2 but the data are 8x6), as the upstream "
                f"liger_iris_pipeline writes them after its subarray-map step; the ASDF tree's "
                f"meta.subarray is used instead: FULL at 1, 1, 8x6")
    assert model.read_warnings == [expected]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [expected]


def test_full_frame_with_a_start_other_than_1_is_a_contradiction(tmp_path):
    keywords = {**CONTRADICTORY, "SUBSIZE1": 8, "SUBSIZE2": 6}
    path = _upstream_l2(tmp_path / "up_cal.fits", keywords, FULL_TREE)
    model = read_image(path)
    assert (model.window.xstart, model.window.ystart) == (1, 1)
    assert "a full frame starts at 1, 1" in model.read_warnings[0]


def test_subarray_exposure_window_comes_from_the_tree(tmp_path):
    keywords = {**CONTRADICTORY, "SUBARRAY": "CUSTOM"}
    tree = {"name": "CUSTOM", "xstart": 101, "ystart": 201, "xsize": 8, "ysize": 6}
    model = read_image(_upstream_l2(tmp_path / "up_cal.fits", keywords, tree))
    window = model.window
    assert (window.xstart, window.ystart, window.xsize, window.ysize, window.name) == \
        (101, 201, 8, 6, "CUSTOM")


@pytest.mark.parametrize("tree", [
    None,  # no ASDF extension: refused as before
    {"name": "FULL", "xstart": 1, "ystart": 1, "xsize": 2, "ysize": 2},  # does not fit the data
    {"name": "FULL", "xstart": 1, "ystart": 1, "xsize": 8},  # not a whole window
    {"name": "FULL", "xstart": 2, "ystart": 1, "xsize": 8, "ysize": 6},  # contradicts itself
])
def test_contradiction_without_a_usable_tree_is_still_refused(tmp_path, tree):
    path = _upstream_l2(tmp_path / "up_cal.fits", CONTRADICTORY, tree or {}, tree=tree is not None)
    with pytest.raises(InputError, match=r"SUBSIZE1/SUBSIZE2 = 2x2 but the data are 8x6"):
        read_image(path)


def test_consistent_keywords_win_over_the_tree(tmp_path):
    keywords = {"SUBARRAY": "CUSTOM", "SUBSTRT1": 11, "SUBSTRT2": 21, "SUBSIZE1": 8,
                "SUBSIZE2": 6}
    tree = {"name": "CUSTOM", "xstart": 101, "ystart": 201, "xsize": 8, "ysize": 6}
    model = read_image(_upstream_l2(tmp_path / "up_cal.fits", keywords, tree))
    assert (model.window.xstart, model.window.ystart) == (11, 21)
    assert model.read_warnings == []


# ---- the upstream's WCS convention ---------------------------------------------------------------

WCS_KEYWORDS = {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 10.0, "CRVAL2": 20.0,
                "CRPIX1": 4.0, "CRPIX2": 3.0, "CDELT1": -1e-5, "CDELT2": 1e-5}


def _wcs_note(path):
    return (f"{path}: written by liger_iris_pipeline 0.5.1, whose WCS puts CRVAL at 0-based pixel "
            f"CRPIX; iris_gui's WCS follows the FITS standard (CRPIX counts from 1), so sky "
            f"positions differ from the upstream's by one pixel in x and y")


def test_upstream_file_with_a_wcs_is_noted_once_per_file(tmp_path, caplog):
    first = write_model(tmp_path / "a_rate.fits", np.ones((4, 4)), DRSVER="0.5.1", **WCS_KEYWORDS)
    second = write_model(tmp_path / "b_rate.fits", np.ones((4, 4)), DRSVER="0.5.1",
                         **WCS_KEYWORDS)
    with caplog.at_level(logging.INFO, logger=MODELS_LOGGER):
        model = read_image(first)
        read_image(first)
        read_image(second)
    notes = [r for r in caplog.records if "liger_iris_pipeline" in r.getMessage()]
    assert [r.getMessage() for r in notes] == [_wcs_note(first), _wcs_note(second)]
    assert all(r.levelno == logging.INFO for r in notes)
    assert model.read_warnings == []  # nothing is wrong with the file


@pytest.mark.parametrize("keywords, what", [
    ({"DRSVER": "0.5.1"}, "science file"),  # no WCS keywords
    (WCS_KEYWORDS, "science file"),  # not the upstream's
    ({**WCS_KEYWORDS, "CAL_SW": "iris_gui", "DATAMODL": "ImagerModel"}, "science file"),  # ours
    ({**WCS_KEYWORDS, "DRSVER": "0.5.1"}, "background exposure"),  # its WCS is not used
])
def test_no_wcs_note_otherwise(tmp_path, caplog, keywords, what):
    path = write_model(tmp_path / "c_rate.fits", np.ones((4, 4)), **keywords)
    with caplog.at_level(logging.INFO, logger=MODELS_LOGGER):
        read_image(path, what=what)
    assert "liger_iris_pipeline" not in caplog.text


# ---- our own files: the ASDF extension is not opened ---------------------------------------------

def _with_asdf(path, header_keywords, hdu):
    header = fits.Header(list(IDENTITY.items()))
    for key, value in header_keywords.items():
        header[key] = value
    fits.HDUList([fits.PrimaryHDU(header=header),
                  fits.ImageHDU(np.ones((4, 4), np.float32), name="SCI"), hdu]).writeto(path)
    return path


def test_own_file_skips_the_asdf_extension(tmp_path, caplog):
    junk = fits.ImageHDU(np.frombuffer(b"#ASDF 1.0.0\nnot yaml: [", np.uint8), name="ASDF")
    ours = _with_asdf(tmp_path / "ours_cal.fits", {"CAL_SW": "iris_gui"}, junk)
    with caplog.at_level(logging.WARNING, logger=MODELS_LOGGER):
        model = read_image(ours)
    assert model.asdf_tree is None and caplog.records == []
    # saved since by the upstream (its DRSVER): the tree is read again (and this one is junk)
    theirs = _with_asdf(tmp_path / "theirs_cal.fits", {"CAL_SW": "iris_gui", "DRSVER": "0.5"},
                        junk)
    with caplog.at_level(logging.WARNING, logger=MODELS_LOGGER):
        read_image(theirs)
    assert "ASDF extension could not be read" in caplog.text


def test_reading_our_cal_does_not_import_asdf(tmp_path):
    """The ~2 s asdf costs per process is not paid for our own outputs (a fresh process)."""
    science = write_model(tmp_path / "sci_rate.fits", np.ones((8, 8)), **WCS_KEYWORDS,
                          RADESYS="ICRS")
    assert main([str(science), "--output-dir", str(tmp_path / "out"), "-q", "--jobs", "1"]) == 0
    cal = tmp_path / "out" / "sci_cal.fits"
    with fits.open(cal) as hdul:
        assert "ASDF" in hdul and hdul[0].header["CAL_SW"] == "iris_gui"
    code = textwrap.dedent(f"""
        import sys
        from iris_gui.engine.models import read_image
        model = read_image({str(cal)!r})
        print(model.asdf_tree is None, "asdf" in sys.modules)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    assert out == ["True", "False"]


# ---- the liger layout's DQ32 ---------------------------------------------------------------------

def _liger_dq():
    dq = np.zeros((4, 6), np.uint32)
    dq[0, 0] = DQ_FLAGS["NO_FLAT_FIELD"] | DQ_FLAGS["HOT"]  # bit 18 + bit 11
    dq[1, 2] = DQ_FLAGS["REFERENCE_PIXEL"]  # bit 31
    dq[3, 5] = DQ_FLAGS["TELEGRAPH"] | DQ_FLAGS["NONLINEAR"]  # bit 15 + bit 16
    dq[2, 1] = DQ_FLAGS["DO_NOT_USE"]
    return dq


def test_liger_layout_round_trip_keeps_every_dq_bit(tmp_path):
    dq = _liger_dq()
    model = make_model(np.ones((4, 6)), dq=dq, CAL_SW="iris_gui")
    path = tmp_path / "x_cal.fits"
    write_liger_file(model, [], path.name, path)
    with fits.open(path) as hdul:
        assert hdul["DQ"].data.dtype == np.uint16 and "DQ32" in hdul
    back = read_image(path)
    assert back.dq.dtype == np.uint32
    np.testing.assert_array_equal(back.dq, dq)


def test_dq32_gives_the_high_bits_and_dq_the_low_ones(tmp_path):
    """A tool that edited the 16-bit DQ after we wrote the file (the upstream keeps DQ32 as an
    unknown extension) is not undone: bits 0-15 come from DQ."""
    dq = _liger_dq()
    path = tmp_path / "x_cal.fits"
    write_liger_file(make_model(np.ones((4, 6)), dq=dq), [], path.name, path)
    with fits.open(path, mode="update") as hdul:
        edited = hdul["DQ"].data.copy()
        edited[2, 1] = 0  # DO_NOT_USE cleared
        edited[0, 0] |= DQ_FLAGS["SATURATED"]
        hdul["DQ"].data = edited
    expected = dq.copy()
    expected[2, 1] = 0
    expected[0, 0] |= DQ_FLAGS["SATURATED"]
    np.testing.assert_array_equal(read_image(path).dq, expected)


def test_dq32_of_another_shape_is_refused(tmp_path):
    path = tmp_path / "x_cal.fits"
    write_liger_file(make_model(np.ones((4, 6)), dq=_liger_dq()), [], path.name, path)
    with fits.open(path, mode="update") as hdul:
        hdul["DQ32"].data = np.zeros((2, 3), np.uint32)
    with pytest.raises(InputError, match=r"x_cal\.fits: DQ32 shape \(2, 3\) differs from SCI"):
        read_image(path)
