"""photom: DN/s -> MJy/sr with the photom table row for the exposure's filter, worked by hand.

Factors are powers of two (exact in the table's float32 column and in float32 arithmetic), so
the expected SCI and ERR are exact.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from factories import context_for, make_model, write_model

from iris_gui.engine.association import Member, Product
from iris_gui.engine.errors import InputError
from iris_gui.engine.models import PhotomRow, write_photom
from iris_gui.engine.pipeline import Image2Pipeline
from iris_gui.engine.steps import COMPLETE, SKIPPED, STEP_BY_NAME
from iris_gui.engine.wcs import build_wcs

SCALE_DEG = 0.004 / 3600.0  # 4 mas pixels
ANGLE = math.radians(0.5)
WCS_KEYWORDS = {
    "CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRPIX1": 1.5, "CRPIX2": 1.5,
    "CRVAL1": 83.8221, "CRVAL2": -5.3911,
    "CD1_1": -SCALE_DEG * math.cos(ANGLE), "CD1_2": SCALE_DEG * math.sin(ANGLE),
    "CD2_1": SCALE_DEG * math.sin(ANGLE), "CD2_2": SCALE_DEG * math.cos(ANGLE),
}
#: a 4 mas square pixel: (0.004")² = 1.6e-5 arcsec²; 1 rad = 180 * 3600 / pi arcsec
PIXAR_A2 = 1.6e-5
PIXAR_SR = 1.6e-5 / (180 * 3600 / math.pi) ** 2  # 3.7606e-16 sr
#: 1 MJy/sr = 1e12 µJy / 4.25451703e10 arcsec²
UJA2_PER_MJYSR = 1e12 / 4.25451703e10  # 23.5044

DATA = [[1.0, 2.0], [3.0, -4.0]]
ERR = [[0.5, 1.0], [2.0, 0.25]]
DQ = [[0, 2], [1, 0]]


def photom_table(folder, rows=(("H", 0.5), ("KN3", 0.125), ("KS", 0.25)), name="photom.fits"):
    header = fits.Header()
    for key, value in {"REFTYPE": "PHOTOM", "TELESCOP": "TMT", "INSTRUME": "IRIS",
                       "DETECTOR": "IMAGER"}.items():
        header[key] = value
    return write_photom([PhotomRow(f, p, p / 100) for f, p in rows], header, folder / name)


def science(data=DATA, err=ERR, dq=DQ, with_wcs=True, **keywords):
    model = make_model(data, err, dq, **keywords)
    if with_wcs:
        for key, value in WCS_KEYWORDS.items():
            model.header[key] = value
        model.wcs = build_wcs(model.header, model.image_shape)
    return model


def run_photom(model, folder, **changes):
    values = STEP_BY_NAME["photom"].defaults()
    values.update(changes)
    return STEP_BY_NAME["photom"].run(model, values, context_for(ref_dir=folder))


def test_factor_from_the_filter_row_multiplies_sci_and_err(tmp_path):
    table = photom_table(tmp_path)
    model = science()
    result = run_photom(model, tmp_path)
    assert result.status == COMPLETE
    out = result.model
    # KN3 row: 0.125 MJy/sr per DN/s
    np.testing.assert_array_equal(out.data, [[0.125, 0.25], [0.375, -0.5]])
    np.testing.assert_array_equal(out.err, [[0.0625, 0.125], [0.25, 0.03125]])
    np.testing.assert_array_equal(out.dq, DQ)
    assert out.data.dtype == np.float32 and out.err.dtype == np.float32
    h = out.header
    assert h["PHOTMJSR"] == 0.125
    assert h["PHOTUJA2"] == pytest.approx(0.125 * UJA2_PER_MJYSR, rel=1e-8, abs=0)  # 2.93805
    assert h["PHOTUJA2"] == pytest.approx(2.938053817, rel=1e-8, abs=0)
    assert h["PIXAR_SR"] == pytest.approx(PIXAR_SR, rel=1e-10, abs=0)
    assert h["PIXAR_SR"] == pytest.approx(3.7606e-16, rel=1e-4, abs=0)
    assert h["PIXAR_A2"] == pytest.approx(PIXAR_A2, rel=1e-10, abs=0)
    assert h["BUNIT"] == "MJy/sr" and out.sci_header["BUNIT"] == "MJy/sr"
    assert h["R_PHOTOM"] == "photom.fits"
    assert result.references == {"photom": str(table)}
    # the input is untouched (results are cached and shared)
    np.testing.assert_array_equal(model.data, DATA)
    assert "PHOTMJSR" not in model.header


def test_status_and_reference_keywords_through_the_runner(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    photom_table(folder)
    path = write_model(folder / "sci_rate.fits", DATA, ERR, DQ, **WCS_KEYWORDS)
    result = Image2Pipeline().run_product(Product("sci", [Member(str(path), "science")]))
    assert result.ok
    assert result.steps["assign_wcs"].status == COMPLETE
    photom = result.steps["photom"].model
    assert photom.header["S_PHOTOM"] == COMPLETE
    assert photom.header["R_PHOTOM"] == "photom.fits"
    np.testing.assert_array_equal(photom.data, [[0.125, 0.25], [0.375, -0.5]])
    assert photom.header["PIXAR_A2"] == pytest.approx(PIXAR_A2, rel=1e-10, abs=0)


def test_photmjsr_parameter_overrides_the_table(tmp_path):
    photom_table(tmp_path)
    result = run_photom(science(), tmp_path, photmjsr=0.5)
    assert result.status == COMPLETE
    np.testing.assert_array_equal(result.model.data, [[0.5, 1.0], [1.5, -2.0]])
    np.testing.assert_array_equal(result.model.err, [[0.25, 0.5], [1.0, 0.125]])
    assert result.model.header["PHOTMJSR"] == 0.5
    assert result.model.header["PHOTUJA2"] == pytest.approx(0.5 * UJA2_PER_MJYSR, rel=1e-8, abs=0)
    assert result.model.header["R_PHOTOM"] == "N/A"
    assert result.references == {}
    # no table needed at all
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_photom(science(), empty, photmjsr=0.5).status == COMPLETE


def test_inverse_divides_and_restores_dn_per_second(tmp_path):
    photom_table(tmp_path)
    calibrated = run_photom(science(), tmp_path).model
    back = run_photom(calibrated, tmp_path, inverse=True)
    assert back.status == COMPLETE
    np.testing.assert_array_equal(back.model.data, DATA)  # x 0.125 then / 0.125: exact
    np.testing.assert_array_equal(back.model.err, ERR)
    assert back.model.header["BUNIT"] == "DN/s"
    assert back.model.header["PHOTMJSR"] == 0.125
    divided = run_photom(science(), tmp_path, inverse=True)
    np.testing.assert_array_equal(divided.model.data, [[8.0, 16.0], [24.0, -32.0]])


def test_applying_twice_is_done_but_warned(tmp_path):
    photom_table(tmp_path)
    once = run_photom(science(), tmp_path).model
    once.header["S_PHOTOM"] = COMPLETE
    twice = run_photom(once, tmp_path)
    assert twice.status == COMPLETE
    assert any("already applied" in w for w in twice.warnings)
    np.testing.assert_array_equal(twice.model.data, [[0.015625, 0.03125], [0.046875, -0.0625]])


def test_no_row_for_the_filter_skips_with_the_reason(tmp_path):
    table = photom_table(tmp_path)
    model = science(FILTER="J")
    result = run_photom(model, tmp_path)
    assert result.status == SKIPPED
    assert "FILTER=J" in result.reason and str(table) in result.reason
    assert "H, KN3, KS" in result.reason  # the rows it has
    assert result.model is model
    no_filter = science()
    del no_filter.header["FILTER"]
    result = run_photom(no_filter, tmp_path)
    assert result.status == SKIPPED and "no FILTER keyword" in result.reason
    # a zero or negative factor in the table is not used either
    photom_table(tmp_path, rows=(("KN3", 0.0),), name="zero.fits")
    result = run_photom(science(), tmp_path, override_photom=str(tmp_path / "zero.fits"))
    assert result.status == SKIPPED and "not a positive number" in result.reason


def test_no_table_at_all_skips_with_the_reason(tmp_path):
    result = run_photom(science(), tmp_path)
    assert result.status == SKIPPED
    assert "no photom reference" in result.reason and str(tmp_path) in result.reason


def test_table_missing_a_column_is_an_error_naming_file_and_column(tmp_path):
    path = tmp_path / "short_photom.fits"
    header = fits.Header()
    header["REFTYPE"] = "PHOTOM"
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="FILTER", format="8A", array=np.array(["KN3"])),
         fits.Column(name="PHOTMJSR", format="E", array=np.array([0.125]))], name="PHOTOM")
    fits.HDUList([fits.PrimaryHDU(header=header), table]).writeto(path)
    with pytest.raises(InputError) as caught:
        run_photom(science(), tmp_path)  # chosen from the folder by REFTYPE
    message = str(caught.value)
    assert str(path) in message and "UNCERTAINTY" in message and "PHOTMJSR" not in message


def test_rateints_every_plane_is_converted(tmp_path):
    photom_table(tmp_path)
    cube = science(data=[DATA, [[10.0, 20.0], [30.0, 40.0]], [[0.0, -8.0], [16.0, 1.0]]],
                   err=[ERR, ERR, [[4.0, 4.0], [8.0, 8.0]]], dq=[DQ, DQ, DQ])
    out = run_photom(cube, tmp_path).model
    assert out.data.shape == (3, 2, 2)
    np.testing.assert_array_equal(out.data, [[[0.125, 0.25], [0.375, -0.5]],
                                             [[1.25, 2.5], [3.75, 5.0]],
                                             [[0.0, -1.0], [2.0, 0.125]]])
    np.testing.assert_array_equal(out.err[2], [[0.5, 0.5], [1.0, 1.0]])
    np.testing.assert_array_equal(out.err[0], [[0.0625, 0.125], [0.25, 0.03125]])
    assert out.header["PIXAR_A2"] == pytest.approx(PIXAR_A2, rel=1e-10, abs=0)


def test_without_a_wcs_no_pixel_area_is_written(tmp_path):
    photom_table(tmp_path)
    result = run_photom(science(with_wcs=False), tmp_path)
    assert result.status == COMPLETE
    h = result.model.header
    assert "PIXAR_SR" not in h and "PIXAR_A2" not in h
    assert h["PHOTMJSR"] == 0.125 and h["BUNIT"] == "MJy/sr"
    assert any("PIXAR_SR" in str(line) for line in h["HISTORY"])
