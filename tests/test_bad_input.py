"""Bad input: every case gives an InputError (or ParameterError) naming the file or key and what is
wrong, and nothing is left half-written."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
from astropy.io import fits

from iris_gui.engine.association import load_association
from iris_gui.engine.errors import InputError, ParameterError
from iris_gui.engine.files import check_output_dir
from iris_gui.engine.models import ImageModel, read_image, write_image
from iris_gui.engine.parameter_files import load_parameters
from iris_gui.engine.references import ReferenceTooSmall, load_reference_image


def _write_fits(path, *, sci=None, sci_name="SCI", err=None, dq=None, header=None):
    hdus = [fits.PrimaryHDU(header=header)]
    if sci is not None:
        hdus.append(fits.ImageHDU(sci, name=sci_name))
    if err is not None:
        hdus.append(fits.ImageHDU(err, name="ERR"))
    if dq is not None:
        hdus.append(fits.ImageHDU(dq, name="DQ"))
    fits.HDUList(hdus).writeto(path)
    return path


def _valid(path, shape=(4, 4)):
    return _write_fits(path, sci=np.ones(shape, np.float32), err=np.zeros(shape, np.float32),
                       dq=np.zeros(shape, np.uint32))


def _listing(folder):
    return sorted(os.listdir(folder))


# ---- science files ----------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    path = tmp_path / "nope_rate.fits"
    with pytest.raises(InputError, match=r"nope_rate\.fits.*not found"):
        read_image(path)


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(InputError, match="folder"):
        read_image(tmp_path)


def test_truncated_fits(tmp_path):
    path = _valid(tmp_path / "trunc_rate.fits", shape=(64, 64))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match=r"trunc_rate\.fits.*(truncated|not a readable FITS)"):
        read_image(path)
    assert path.stat().st_size == len(raw) // 2  # untouched
    assert _listing(tmp_path) == ["trunc_rate.fits"]


def test_text_file(tmp_path):
    path = tmp_path / "notes_rate.fits"
    path.write_text("this is a text file\n" * 50)
    with pytest.raises(InputError, match=r"notes_rate\.fits.*not a readable FITS"):
        read_image(path)


def test_no_sci_or_data_extension(tmp_path):
    path = tmp_path / "empty.fits"
    fits.HDUList([fits.PrimaryHDU(np.ones((4, 4), np.float32)),
                  fits.ImageHDU(np.ones((4, 4), np.float32), name="ERR")]).writeto(path)
    with pytest.raises(InputError, match=r"empty\.fits.*no SCI or DATA extension"):
        read_image(path)


@pytest.mark.parametrize("shape", [(8,), (2, 2, 3, 4)], ids=["1d", "4d"])
def test_sci_wrong_dimensionality(tmp_path, shape):
    path = _write_fits(tmp_path / "dims.fits", sci=np.ones(shape, np.float32))
    with pytest.raises(InputError, match=rf"dims\.fits.*2D.*3D.*found {len(shape)}D"):
        read_image(path)


def test_err_shape_mismatch(tmp_path):
    path = _write_fits(tmp_path / "err.fits", sci=np.ones((4, 4), np.float32),
                       err=np.ones((4, 5), np.float32))
    with pytest.raises(InputError, match=r"err\.fits.*ERR shape \(4, 5\) differs from SCI \(4, 4\)"):
        read_image(path)


def test_dq_shape_mismatch(tmp_path):
    path = _write_fits(tmp_path / "dq.fits", sci=np.ones((4, 4), np.float32),
                       dq=np.zeros((3, 4), np.uint32))
    with pytest.raises(InputError, match=r"dq\.fits.*DQ shape \(3, 4\) differs from SCI \(4, 4\)"):
        read_image(path)


def test_non_float_sci(tmp_path):
    path = _write_fits(tmp_path / "int.fits", sci=np.ones((4, 4), np.int16))
    with pytest.raises(InputError, match=r"int\.fits.*SCI must hold floating-point values.*int16"):
        read_image(path)


def test_subsize_inconsistent_with_data(tmp_path):
    header = fits.Header()
    header["SUBARRAY"] = "SUB64"
    header["SUBSTRT1"], header["SUBSTRT2"] = 1, 1
    header["SUBSIZE1"], header["SUBSIZE2"] = 64, 64
    path = _write_fits(tmp_path / "sub.fits", sci=np.ones((4, 6), np.float32), header=header)
    with pytest.raises(InputError, match=r"sub\.fits.*SUBSIZE1/SUBSIZE2 = 64x64.*6x4"):
        read_image(path)


def test_subarray_without_window_keywords(tmp_path):
    header = fits.Header()
    header["SUBARRAY"] = "SUB64"
    path = _write_fits(tmp_path / "nowin.fits", sci=np.ones((4, 4), np.float32), header=header)
    with pytest.raises(InputError, match=r"nowin\.fits.*SUBSTRT1.*missing"):
        read_image(path)


# ---- associations -------------------------------------------------------------------------------------

def _asn(folder, products, name="asn.json"):
    path = folder / name
    path.write_text(json.dumps({"asn_type": "image2", "asn_rule": "Asn_Lv2Image",
                                "asn_pool": "pool", "products": products}))
    return path


def test_asn_not_json(tmp_path):
    path = tmp_path / "broken_asn.json"
    path.write_text("{products: [")
    with pytest.raises(InputError, match=r"broken_asn\.json.*not a JSON association"):
        load_association(path)


def test_asn_missing(tmp_path):
    with pytest.raises(InputError, match=r"gone_asn\.json.*not found"):
        load_association(tmp_path / "gone_asn.json")


@pytest.mark.parametrize("products", [[], None], ids=["empty", "absent"])
def test_asn_no_products(tmp_path, products):
    path = tmp_path / "noprod_asn.json"
    document = {"asn_type": "image2"}
    if products is not None:
        document["products"] = products
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match=r"noprod_asn\.json.*no products"):
        load_association(path)


def test_asn_zero_science_members(tmp_path):
    _valid(tmp_path / "b1.fits")
    path = _asn(tmp_path, [{"name": "p0", "members": [{"expname": "b1.fits", "exptype": "background"}]}])
    with pytest.raises(InputError, match=r"asn\.json.*p0.*0 science members"):
        load_association(path)


def test_asn_two_science_members(tmp_path):
    _valid(tmp_path / "s1.fits")
    _valid(tmp_path / "s2.fits")
    path = _asn(tmp_path, [{"name": "p2", "members": [{"expname": "s1.fits", "exptype": "science"},
                                                      {"expname": "s2.fits", "exptype": "science"}]}])
    with pytest.raises(InputError, match=r"asn\.json.*p2.*2 science members"):
        load_association(path)


def test_asn_missing_member(tmp_path):
    path = _asn(tmp_path, [{"name": "pm", "members": [{"expname": "absent_rate.fits",
                                                       "exptype": "science"}]}])
    with pytest.raises(InputError, match=r"asn\.json.*member absent_rate\.fits not found"):
        load_association(path)


def test_asn_unknown_exptype(tmp_path):
    _valid(tmp_path / "s.fits")
    path = _asn(tmp_path, [{"name": "pu", "members": [{"expname": "s.fits", "exptype": "science"},
                                                      {"expname": "s.fits", "exptype": "flat"}]}])
    with pytest.raises(InputError, match=r"asn\.json.*unknown exptype 'flat'"):
        load_association(path)


def test_asn_member_outside_folder_allowed_with_warning(tmp_path, caplog):
    (tmp_path / "data").mkdir()
    (tmp_path / "asns").mkdir()
    science = _valid(tmp_path / "data" / "sci_rate.fits")
    background = _valid(tmp_path / "data" / "bkg_rate.fits")
    path = _asn(tmp_path / "asns", [{"name": "esc", "members": [
        {"expname": "../data/sci_rate.fits", "exptype": "science"},
        {"expname": str(background), "exptype": "background"}]}])
    with caplog.at_level(logging.WARNING, logger="iris_gui"):
        association = load_association(path)
    product = association.products[0]
    assert product.ok
    assert product.science == str(science)
    assert product.backgrounds == [str(background)]
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("../data/sci_rate.fits" in m and "outside" in m for m in messages)
    assert any(str(background) in m and "absolute" in m for m in messages)


def test_asn_non_strict_records_problems(tmp_path):
    _valid(tmp_path / "s1.fits")
    _valid(tmp_path / "s2.fits")
    _valid(tmp_path / "b.fits")
    path = _asn(tmp_path, [
        {"name": "good", "members": [{"expname": "s1.fits", "exptype": "science"},
                                     {"expname": "b.fits", "exptype": "background"}]},
        {"name": "nosci", "members": [{"expname": "b.fits", "exptype": "background"}]},
        {"name": "twosci", "members": [{"expname": "s1.fits", "exptype": "science"},
                                       {"expname": "s2.fits", "exptype": "science"}]},
        {"name": "missing", "members": [{"expname": "gone.fits", "exptype": "science"}]},
        {"name": "badtype", "members": [{"expname": "s1.fits", "exptype": "science"},
                                        {"expname": "b.fits", "exptype": "dark"}]},
    ])
    association = load_association(path, strict=False)
    by_name = {p.name: p for p in association.products}
    assert list(by_name) == ["good", "nosci", "twosci", "missing", "badtype"]
    assert by_name["good"].ok and by_name["good"].problems == []
    assert by_name["nosci"].problems == ["has 0 science members; exactly one is needed"]
    assert by_name["twosci"].problems == ["has 2 science members; exactly one is needed (several "
                                          "science exposures in one product make a level-3 "
                                          "association)"]
    assert len(by_name["missing"].problems) == 1
    assert "gone.fits not found" in by_name["missing"].problems[0]
    assert len(by_name["badtype"].problems) == 1
    assert "unknown exptype 'dark'" in by_name["badtype"].problems[0]
    assert [m.exptype for m in by_name["badtype"].members] == ["science"]
    assert len(association.problems) == 4
    assert association.problems[0].startswith("nosci: ")
    with pytest.raises(InputError, match="nosci: no science member"):
        _ = by_name["nosci"].science


# ---- parameter files -------------------------------------------------------------------------------------

def _cfg(tmp_path, steps_text, name="image2.cfg"):
    path = tmp_path / name
    path.write_text(
        'name = "ProcessImagerL2Pipeline"\n'
        'class = "iris_pipeline.pipeline.ProcessImagerL2Pipeline"\n'
        "save_results = True\n"
        "    [steps]\n" + steps_text
    )
    return path


def test_cfg_unknown_step(tmp_path):
    path = _cfg(tmp_path, "      [[sky_match]]\n        skip = True\n")
    with pytest.raises(ParameterError, match=r"image2\.cfg.*unknown step 'sky_match'"):
        load_parameters(path)


def test_cfg_unknown_parameter(tmp_path):
    path = _cfg(tmp_path, "      [[bkg_subtract]]\n        sigmaa = 2.0\n")
    with pytest.raises(ParameterError, match=r"image2\.cfg.*bkg_subtract\.sigmaa: unknown parameter"):
        load_parameters(path)


def test_cfg_bad_type(tmp_path):
    path = _cfg(tmp_path, "      [[bkg_subtract]]\n        sigma = abc\n")
    pattern = r"image2\.cfg.*bkg_subtract\.sigma: expected a number, got 'abc'"
    with pytest.raises(ParameterError, match=pattern):
        load_parameters(path)


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ("sigma = -1", r"bkg_subtract\.sigma: -1\.0 is out of range; it must be > 0"),
        ("sigma = 0", r"bkg_subtract\.sigma: 0\.0 is out of range; it must be > 0"),
        ("maxiters = 0", r"bkg_subtract\.maxiters: 0 is out of range; it must be >= 1"),
        ("maxiters = 2.5", r"bkg_subtract\.maxiters: expected a whole number, got '2\.5'"),
    ],
)
def test_cfg_out_of_range(tmp_path, line, pattern):
    path = _cfg(tmp_path, f"      [[bkg_subtract]]\n        {line}\n")
    with pytest.raises(ParameterError, match=r"image2\.cfg.*" + pattern):
        load_parameters(path)


def test_cfg_bad_bool(tmp_path):
    path = _cfg(tmp_path, "      [[photom]]\n        skip = perhaps\n")
    with pytest.raises(ParameterError, match=r"photom\.skip: expected true or false, got 'perhaps'"):
        load_parameters(path)


def test_cfg_missing_step_config_file(tmp_path):
    path = _cfg(tmp_path, "      [[flat_field]]\n        config_file = nowhere.cfg\n")
    with pytest.raises(InputError, match=r"nowhere\.cfg.*not found"):
        load_parameters(path)


def test_asdf_unknown_parameter(tmp_path):
    import asdf

    path = tmp_path / "pars.asdf"
    asdf.AsdfFile({
        "class": "iris_pipeline.pipeline.ProcessImagerL2Pipeline",
        "name": "ProcessImagerL2Pipeline",
        "parameters": {"save_results": True},
        "steps": [{"class": "iris_pipeline.flatfield.FlatFieldStep", "name": "flat_field",
                   "parameters": {"skip": False, "flat_scale": 2.0}}],
    }).write_to(str(path))
    with pytest.raises(ParameterError, match=r"pars\.asdf.*flat_field\.flat_scale: unknown parameter"):
        load_parameters(path)


def test_asdf_unknown_pipeline_parameter(tmp_path):
    import asdf

    path = tmp_path / "pars2.asdf"
    asdf.AsdfFile({"class": "iris_pipeline.pipeline.ProcessImagerL2Pipeline",
                   "parameters": {"save_everything": True}, "steps": []}).write_to(str(path))
    with pytest.raises(ParameterError, match=r"pars2\.asdf.*save_everything.*unknown"):
        load_parameters(path)


def test_asdf_not_asdf(tmp_path):
    path = tmp_path / "junk.asdf"
    path.write_text("not asdf at all")
    with pytest.raises(ParameterError, match=r"junk\.asdf.*not a readable asdf"):
        load_parameters(path)


# ---- output ----------------------------------------------------------------------------------------------

def test_output_dir_not_writable(read_only_folder):
    with pytest.raises(InputError, match=r"read_only.*not writable"):
        check_output_dir(read_only_folder)


def test_output_dir_below_a_file(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(InputError, match=r"blocker.*cannot be created"):
        check_output_dir(blocker / "out")
    with pytest.raises(InputError, match=r"blocker"):
        check_output_dir(blocker)
    assert blocker.read_text() == "x"


def test_output_equal_to_input(tmp_path):
    source = _valid(tmp_path / "in_rate.fits")
    before = source.read_bytes()
    model = read_image(source)
    with pytest.raises(InputError, match=r"in_rate\.fits is an input file"):
        write_image(model.derive(data=model.data + 1), source, protected=[source])
    assert source.read_bytes() == before
    assert _listing(tmp_path) == ["in_rate.fits"]


# ---- reference windows ----------------------------------------------------------------------------------

def _science(shape, window=None) -> ImageModel:
    header = fits.Header()
    header["INSTRUME"] = "IRIS"
    if window is not None:
        header["SUBARRAY"] = "SUBX"
        header["SUBSTRT1"], header["SUBSTRT2"] = window[0], window[1]
        header["SUBSIZE1"], header["SUBSIZE2"] = shape[1], shape[0]
    return ImageModel(data=np.ones(shape, np.float32), err=np.zeros(shape, np.float32),
                      dq=np.zeros(shape, np.uint32), header=header, filename="sci_rate.fits")


def _dark(path, shape):
    header = fits.Header()
    header["REFTYPE"] = "DARK"
    header["INSTRUME"] = "IRIS"
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    return _write_fits(path, sci=data, err=np.zeros(shape, np.float32),
                       dq=np.zeros(shape, np.uint32), header=header)


def test_reference_window_cut(tmp_path):
    path = _dark(tmp_path / "dark.fits", (16, 16))
    cut = load_reference_image("dark", str(path), _science((4, 3), window=(5, 9)))
    # rows 8..11, columns 4..6 of value 16*row + col
    np.testing.assert_array_equal(cut.data[:, 0], [132, 148, 164, 180])
    np.testing.assert_array_equal(cut.data[0], [132, 133, 134])


def test_reference_window_outside(tmp_path):
    path = _dark(tmp_path / "dark16.fits", (16, 16))
    science = _science((8, 8), window=(12, 3))  # x 12..19 > 16
    with pytest.raises(InputError, match=r"dark16\.fits.*outside") as info:
        load_reference_image("dark", str(path), science)
    assert not isinstance(info.value, ReferenceTooSmall)
    assert "sci_rate.fits" in str(info.value)


def test_reference_smaller_than_science(tmp_path):
    path = _dark(tmp_path / "dark4.fits", (4, 4))
    with pytest.raises(ReferenceTooSmall, match=r"dark4\.fits.*4x4, smaller than the science.*8x8"):
        load_reference_image("dark", str(path), _science((8, 8)))


def test_reference_of_wrong_kind(tmp_path):
    header = fits.Header()
    header["REFTYPE"] = "FLAT"
    path = _write_fits(tmp_path / "flat.fits", sci=np.ones((8, 8), np.float32), header=header)
    with pytest.raises(InputError, match=r"flat\.fits.*is a flat reference, not a dark"):
        load_reference_image("dark", str(path), _science((8, 8)))


# ---- Git LFS pointers (a clone made without git-lfs) -----------------------------------------------

_LFS_POINTER = ("version https://git-lfs.github.com/spec/v1\n"
                "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
                "size 12345\n")


def _lfs_pointer(path):
    path.write_text(_LFS_POINTER)
    return path


def test_lfs_pointer_science_file(tmp_path):
    path = _lfs_pointer(tmp_path / "jw01_rate.fits")
    with pytest.raises(InputError) as info:
        read_image(path)
    message = str(info.value)
    assert "jw01_rate.fits: science file is a Git LFS pointer, not the FITS file" in message
    assert "git lfs pull" in message
    assert "ignore_missing_simple" not in message


def test_lfs_pointer_reference_and_photom(tmp_path):
    from iris_gui.engine.models import read_photom

    dark = _lfs_pointer(tmp_path / "dark.fits")
    with pytest.raises(InputError, match=r"dark\.fits: dark reference is a Git LFS pointer"):
        load_reference_image("dark", str(dark), _science((4, 4)))
    photom = _lfs_pointer(tmp_path / "photom.fits")
    with pytest.raises(InputError, match=r"photom\.fits: photom reference is a Git LFS pointer"):
        read_photom(photom)


def test_lfs_pointer_in_reference_folder_is_named(tmp_path, caplog):
    from iris_gui.engine.references import find_reference

    _lfs_pointer(tmp_path / "iris_dark.fits")
    with caplog.at_level(logging.WARNING, logger="iris_gui.engine.references"):
        choice, _why = find_reference("dark", _science((4, 4)), tmp_path, None)
    assert choice is None
    assert caplog.messages == [f"{tmp_path}: 1 file(s) are Git LFS pointers, not FITS files, "
                               f"and are not considered as references (fetch them with git lfs "
                               f"pull): iris_dark.fits"]


def test_lfs_pointer_override_is_named(tmp_path):
    from iris_gui.engine.references import check_override

    path = _lfs_pointer(tmp_path / "flat.fits")
    # the kind check cannot read it; loading it then names the pointer
    assert check_override("flat", str(path), False) is None
    with pytest.raises(InputError, match="Git LFS pointer"):
        load_reference_image("flat", str(path), _science((4, 4)))


def test_text_that_only_mentions_lfs_is_not_a_pointer(tmp_path):
    # only the first bytes count: a file that starts otherwise is judged as FITS as before
    path = tmp_path / "note_rate.fits"
    path.write_text("see " + _LFS_POINTER)
    with pytest.raises(InputError) as info:
        read_image(path)
    assert "LFS" not in str(info.value)
