"""The liger output layout: what the upstream's ImagerModel reads (DATA, uint16 DQ, its ASDF tree
with the header hash), DQ bits it cannot hold kept and warned about, integrations refused."""

from __future__ import annotations

import io
import logging
import warnings as python_warnings

import asdf
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from factories import make_model, write_model
from test_downstream_outputs import ROTATED_TAN, SHAPE, TOLERANCE_DEG, astropy_wcs, separation_deg

from iris_gui.engine.association import Member, Product
from iris_gui.engine.dq import DQ_FLAGS
from iris_gui.engine.errors import InputError
from iris_gui.engine.liger_layout import (
    check_output_layout,
    fits_hash,
    high_dq_bits,
    liger_hdul,
    write_liger_file,
)
from iris_gui.engine.outputs import write_product
from iris_gui.engine.pipeline import Image2Pipeline


def liger_model(dq=None, **keywords):
    model = make_model(np.arange(16 * 24.0).reshape(SHAPE), np.ones(SHAPE), dq,
                       S_BKDSUB="COMPLETE", S_SUBMAP="SKIPPED", S_DARK="COMPLETE",
                       **{**ROTATED_TAN, **keywords})
    return model.derive(wcs=astropy_wcs())


def asdf_tree(path):
    with fits.open(path) as hdul:
        raw = hdul["ASDF"].data[0][0].tobytes()
    with asdf.open(io.BytesIO(raw)) as af:
        return dict(af.tree)


def test_output_layout_names_are_checked():
    assert check_output_layout("LIGER") == "liger"
    assert check_output_layout(" iris ") == "iris"
    with pytest.raises(InputError, match="--output-layout: 'jwst' is not an output layout "
                                         r"\(choose iris or liger\)"):
        check_output_layout("jwst")
    with pytest.raises(InputError, match="not an output layout"):
        check_output_layout(None)


def test_high_dq_bits_counts_each_flag_above_bit_15():
    dq = np.zeros((2, 3), np.uint32)
    dq[0, 0] = DQ_FLAGS["NO_FLAT_FIELD"] | DQ_FLAGS["DO_NOT_USE"]
    dq[0, 1] = DQ_FLAGS["NO_FLAT_FIELD"]
    dq[1, 2] = DQ_FLAGS["REFERENCE_PIXEL"] | DQ_FLAGS["TELEGRAPH"]  # bit 31 and bit 15
    dq[1, 0] = DQ_FLAGS["NONLINEAR"]  # bit 16: the first one that does not fit
    assert high_dq_bits(dq) == {"NONLINEAR": 1, "NO_FLAT_FIELD": 2, "REFERENCE_PIXEL": 1}
    assert high_dq_bits(np.full((2, 2), 0xFFFF, np.uint32)) == {}


def test_liger_file_layout_keeps_high_dq_bits_and_warns(tmp_path, caplog):
    dq = np.zeros(SHAPE, np.uint32)
    dq[3, 4] = DQ_FLAGS["NO_FLAT_FIELD"] | DQ_FLAGS["HOT"]
    dq[5, 6] = DQ_FLAGS["HOT"]
    path = tmp_path / "x_cal.fits"
    with caplog.at_level(logging.WARNING):
        warnings = write_liger_file(liger_model(dq, INSTRUME="LIGER"), [], path.name, path)
    assert warnings == [
        "x_cal.fits: the liger layout's DQ is 16 bits wide and cannot hold NO_FLAT_FIELD "
        "(bit 18) on 1 pixel(s); DQ keeps bits 0-15 and the full 32-bit mask is written as the "
        "DQ32 extension"]
    assert warnings[0] in caplog.text
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "DATA", "ERR", "DQ", "DQ32", "ASDF"]
        assert hdul["DQ"].data.dtype == np.uint16
        assert hdul["DQ"].data[3, 4] == DQ_FLAGS["HOT"] and hdul["DQ"].data[5, 6] == DQ_FLAGS["HOT"]
        assert np.array_equal(hdul["DQ32"].data, dq)
        assert np.array_equal(hdul["DATA"].data, np.arange(16 * 24.0).reshape(SHAPE))
        primary = hdul[0].header
        assert primary["DATAMODL"] == "ImagerModel" and primary["DATALVL"] == 2
        assert primary["INSTRUME"] == "Liger"
        assert primary["S_SKYSUB"] == "COMPLETE" and primary["S_PARSSA"] == "SKIPPED"
        assert primary["RADECSYS"] == "ICRS"
        # the upstream reads its wcsinfo from PRIMARY: the product's WCS is there
        with python_warnings.catch_warnings():
            python_warnings.simplefilter("ignore")  # RADECSYS, NAXIS = 0: what the test reads
            wcs = WCS(primary)
        assert np.allclose(wcs.all_pix2world([0, 23], [0, 15], 0),
                           astropy_wcs().all_pix2world([0, 23], [0, 15], 0), atol=1e-12, rtol=0)
        expected_hash = fits_hash(hdul)
    tree = asdf_tree(path)
    assert tree["_fits_hash"] == expected_hash
    meta = tree["meta"]
    assert meta["model_type"] == "ImagerModel" and meta["instrument"]["name"] == "Liger"
    assert meta["drs_step"] == {"sky_sub": "COMPLETE", "parse_subarrays": "SKIPPED",
                                "dark_sub": "COMPLETE"}
    x, y = np.array([0.0, 23.0, 11.5]), np.array([0.0, 15.0, 7.5])
    ra, dec = meta["wcs"](x, y)
    assert np.max(separation_deg(ra, dec, *astropy_wcs().all_pix2world(x, y, 0))) < TOLERANCE_DEG


def test_liger_file_without_high_dq_bits_has_no_dq32_and_no_warning(tmp_path):
    dq = np.full(SHAPE, DQ_FLAGS["TELEGRAPH"], np.uint32)
    path = tmp_path / "y_cal.fits"
    assert write_liger_file(liger_model(dq), [], path.name, path) == []
    with fits.open(path) as hdul:
        assert "DQ32" not in hdul and np.all(hdul["DQ"].data == DQ_FLAGS["TELEGRAPH"])
        assert hdul[0].header["INSTRUME"] == "IRIS"


def test_stdatamodels_takes_the_liger_tree_without_rereading_keywords(tmp_path):
    """With the header hash and DATAMODL = the class name, stdatamodels skips the keyword pass
    that the upstream's subarray_map schema breaks: how its own files are read."""
    from stdatamodels import DataModel, fits_support

    path = tmp_path / "z_cal.fits"
    write_liger_file(liger_model(), [], path.name, path)

    class ImagerModel(DataModel):  # the upstream's class name, generic schema
        pass

    with fits.open(path) as hdul:
        tree = fits_support.from_fits_asdf(hdul)
        assert fits_support._can_skip_fits_update(hdul, tree, ImagerModel())
    model = DataModel(str(path))
    assert model.meta.model_type == "ImagerModel"
    assert np.array_equal(model.instance["data"], np.arange(16 * 24.0).reshape(SHAPE))
    assert model.instance["dq"].dtype == np.uint16
    ra, dec = model.meta.wcs(0.0, 0.0)
    assert separation_deg(ra, dec, *astropy_wcs().all_pix2world(0.0, 0.0, 0)) < TOLERANCE_DEG


def test_integrations_are_refused_in_the_liger_layout():
    model = make_model(np.ones((2, 4, 4)))
    with pytest.raises(InputError, match=r"x_calints.fits: the liger layout \(its ImagerModel\) "
                                         "holds 2-D images; this product has 2 integrations"):
        liger_hdul(model, [], "x_calints.fits")


def test_write_product_in_the_liger_layout(tmp_path):
    science = write_model(tmp_path / "sci_rate.fits", np.ones(SHAPE), np.ones(SHAPE),
                          **ROTATED_TAN)
    result = Image2Pipeline(ref_dir=tmp_path).run_product(
        Product("sci", [Member(str(science), "science")]))
    with pytest.raises(InputError, match="'jwst' is not an output layout"):
        write_product(result, tmp_path / "none", layout="jwst")
    assert not (tmp_path / "none").exists()
    written = write_product(result, tmp_path / "out", layout="liger")
    assert sorted(p.name for p in written) == ["sci_cal.fits", "sci_i2d.fits"]
    for path in written:
        with fits.open(path) as hdul:
            assert "DATA" in hdul and "SCI" not in hdul and "PROVENANCE" in hdul
            assert hdul[0].header["DATAMODL"] == "ImagerModel"
        assert asdf_tree(path)["meta"]["filename"] == path.name


def test_the_configs_output_layout_option_chooses_the_layout(tmp_path):
    """What the CLI's --output-layout and the window's export set: config.pipeline's
    output_layout, read by the plan (integrations refused before anything runs) and the writer."""
    from iris_gui.engine.output_plan import OutputPlan, OutputPlanError
    from iris_gui.engine.outputs import plan_product

    science = write_model(tmp_path / "sci_rate.fits", np.ones(SHAPE), np.ones(SHAPE),
                          **ROTATED_TAN)
    product = Product("sci", [Member(str(science), "science")])
    pipeline = Image2Pipeline(ref_dir=tmp_path)
    pipeline.config.pipeline["output_layout"] = "liger"
    result = pipeline.run_product(product)
    written = write_product(result, tmp_path / "out")
    with fits.open(written[0]) as hdul:
        assert "DATA" in hdul
    with pytest.raises(OutputPlanError, match="product sci: the liger layout .* holds 2-D "
                                              "images; sci_rate.fits has integrations"):
        plan_product(OutputPlan(), product, result.config, tmp_path / "o", tmp_path, is_3d=True)
    result.config.pipeline["output_layout"] = "fits"
    with pytest.raises(InputError, match="output_layout: 'fits' is not an output layout"):
        write_product(result, tmp_path / "out2")


def test_liger_header_holds_the_scale_in_cdelt_and_the_same_wcs(tmp_path):
    # the upstream's header WCS ignores PC: the scale and signs must be in CDELT (row norms of
    # CD = [[-9e-6, 2e-6], [2e-6, 9e-6]], signed by the diagonal), PC only the rotation, in
    # PRIMARY, in DATA and so in meta.wcsinfo (what the upstream rebuilds its WCS from)
    science = write_model(tmp_path / "sci_rate.fits", np.ones(SHAPE), np.ones(SHAPE),
                          **ROTATED_TAN)
    result = Image2Pipeline(ref_dir=tmp_path).run_product(
        Product("sci", [Member(str(science), "science")]))
    written = write_product(result, tmp_path / "out", layout="liger")
    cal = next(path for path in written if path.name == "sci_cal.fits")
    for extension in (0, "DATA"):
        _check_scale_in_cdelt(fits.getheader(cal, extension))
    wcsinfo = asdf_tree(cal)["meta"]["wcsinfo"]
    assert wcsinfo["cdelt1"] == pytest.approx(-np.hypot(9e-6, 2e-6), rel=1e-12)
    assert wcsinfo["pc1_1"] == pytest.approx(9 / np.hypot(9, 2), rel=1e-12)


def _check_scale_in_cdelt(header):
    norm = np.hypot(9e-6, 2e-6)
    assert header["CDELT1"] == pytest.approx(-norm, rel=1e-12)
    assert header["CDELT2"] == pytest.approx(norm, rel=1e-12)
    assert header["PC1_1"] == pytest.approx(9 / np.hypot(9, 2), rel=1e-12)
    assert header["PC1_2"] == pytest.approx(-2 / np.hypot(9, 2), rel=1e-12)
    assert header["PC2_1"] == pytest.approx(2 / np.hypot(9, 2), rel=1e-12)
    assert not any(key.startswith("CD1_") or key.startswith("CD2_") for key in header)
    with python_warnings.catch_warnings():
        python_warnings.simplefilter("ignore")
        ours = WCS(header)
    y, x = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    ra, dec = ours.all_pix2world(x, y, 0)
    ra0, dec0 = astropy_wcs().all_pix2world(x, y, 0)
    assert separation_deg(ra, dec, ra0, dec0).max() < TOLERANCE_DEG
