"""What downstream tools read from _cal/_i2d: the ASDF extension (gwcs + meta, read back with
asdf, gwcs and stdatamodels), S_REGION, and the photometric keywords in SCI."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import asdf
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from factories import IDENTITY, write_model

from iris_gui.engine.asdf_text import Tagged, asdf_text, inline_array
from iris_gui.engine.association import Member, Product
from iris_gui.engine.footprint import corner_pixels, s_region
from iris_gui.engine.gwcs_tree import gwcs_node, unsupported_reason
from iris_gui.engine.models import PhotomRow, write_photom
from iris_gui.engine.outputs import write_product
from iris_gui.engine.pipeline import Image2Pipeline

#: 1e-6 arcsec in degrees: the agreement asked of the gwcs
TOLERANCE_DEG = 1e-6 / 3600.0
SHAPE = (16, 24)  # (ny, nx): not square, so a swapped axis shows
ROTATED_TAN = dict(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRPIX1=12.5, CRPIX2=7.0, CRVAL1=150.0,
                   CRVAL2=-30.0, CD1_1=-9e-6, CD1_2=2e-6, CD2_1=2e-6, CD2_2=9e-6, RADESYS="ICRS")


def astropy_wcs(ctype: str = "TAN", sip: bool = False, inverse: bool = True, **changes) -> WCS:
    header = fits.Header()
    for key, value in {**ROTATED_TAN, **changes}.items():
        header[key] = value
    header["CTYPE1"], header["CTYPE2"] = f"RA---{ctype}", f"DEC--{ctype}"
    if sip:
        header["CTYPE1"] += "-SIP"
        header["CTYPE2"] += "-SIP"
        header["A_ORDER"] = header["B_ORDER"] = 3
        for key, value in {"A_2_0": 2e-3, "A_1_1": -1e-3, "A_0_2": 3e-4, "A_3_0": 1e-5,
                           "A_1_2": -4e-6, "B_2_0": -1e-4, "B_0_2": 2e-3, "B_1_1": 5e-4,
                           "B_0_3": 2e-5, "B_2_1": 1e-6}.items():
            header[key] = value
        if inverse:
            header["AP_ORDER"] = header["BP_ORDER"] = 3
            for key in ("A_2_0", "A_1_1", "A_0_2", "A_3_0", "A_1_2"):
                header["AP_" + key[2:]] = -header[key]
            for key in ("B_2_0", "B_0_2", "B_1_1", "B_0_3", "B_2_1"):
                header["BP_" + key[2:]] = -header[key]
    header["NAXIS"], header["NAXIS1"], header["NAXIS2"] = 2, SHAPE[1], SHAPE[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = WCS(header)
    wcs.pixel_shape = (SHAPE[1], SHAPE[0])
    return wcs


def read_gwcs(wcs: WCS, shape=SHAPE):
    node, reason = gwcs_node(wcs, shape)
    assert reason is None
    text = asdf_text({"wcs": node})
    with asdf.open(io.BytesIO(text.encode())) as af:
        return af.tree["wcs"]


def sample_pixels(shape=SHAPE, seed=3) -> tuple[np.ndarray, np.ndarray]:
    """Corners (centres and outer edges), the centre and 200 random positions, 0-based."""
    ny, nx = shape
    rng = np.random.default_rng(seed)
    x = np.concatenate([[0, nx - 1, 0, nx - 1, -0.5, nx - 0.5, (nx - 1) / 2],
                        rng.uniform(-0.5, nx - 0.5, 200)])
    y = np.concatenate([[0, 0, ny - 1, ny - 1, -0.5, ny - 0.5, (ny - 1) / 2],
                        rng.uniform(-0.5, ny - 0.5, 200)])
    return x, y


def separation_deg(ra1, dec1, ra2, dec2) -> np.ndarray:
    dra = (np.asarray(ra1) - np.asarray(ra2) + 180.0) % 360.0 - 180.0
    return np.hypot(dra * np.cos(np.radians(dec2)), np.asarray(dec1) - np.asarray(dec2))


# ---- the gwcs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("ctype", ["TAN", "SIN", "ARC", "STG", "ZEA"])
def test_gwcs_agrees_with_astropy_at_corners_centre_and_random_pixels(ctype):
    wcs = astropy_wcs(ctype)
    gwcs = read_gwcs(wcs)
    x, y = sample_pixels()
    ra, dec = gwcs(x, y, with_bounding_box=False)
    sky = wcs.pixel_to_world(x, y)
    assert np.max(separation_deg(ra, dec, sky.ra.deg, sky.dec.deg)) < TOLERANCE_DEG
    px, py = gwcs.invert(ra, dec, with_bounding_box=False)
    assert np.max(np.abs(px - x)) < 1e-6 and np.max(np.abs(py - y)) < 1e-6


@pytest.mark.parametrize("inverse", [True, False])
def test_gwcs_includes_sip_distortion(inverse):
    wcs = astropy_wcs(sip=True, inverse=inverse)
    gwcs = read_gwcs(wcs)
    x, y = sample_pixels()
    ra, dec = gwcs(x, y, with_bounding_box=False)
    sky = wcs.pixel_to_world(x, y)
    assert np.max(separation_deg(ra, dec, sky.ra.deg, sky.dec.deg)) < TOLERANCE_DEG
    # the distortion is large enough that leaving it out would be seen
    plain = astropy_wcs()
    assert np.max(separation_deg(ra, dec, *plain.all_pix2world(x, y, 0))) > 1e-3 / 3600
    # with AP/BP the inverse is their polynomial; without, gwcs inverts numerically
    px, py = gwcs.invert(ra[:7], dec[:7], with_bounding_box=False)
    assert np.max(np.hypot(px - x[:7], py - y[:7])) < (0.05 if inverse else 1e-3)


def test_gwcs_bounding_box_is_the_outer_pixel_edges_x_first():
    gwcs = read_gwcs(astropy_wcs())
    (x0, x1), (y0, y1) = gwcs.bounding_box.bounding_box(order="F")
    assert (x0, x1, y0, y1) == (-0.5, SHAPE[1] - 0.5, -0.5, SHAPE[0] - 0.5)
    assert tuple(gwcs.pixel_shape) == (SHAPE[1], SHAPE[0])
    assert gwcs.output_frame.name == "world"
    assert gwcs.output_frame.reference_frame.name == "icrs"


@pytest.mark.parametrize("change, reason", [
    (dict(RADESYS="FK5", EQUINOX=2000.0), "FK5, not ICRS"),
    (dict(PV2_1=0.1), "PVi_m"),
])
def test_wcs_the_gwcs_cannot_describe_is_left_out_with_the_reason(change, reason):
    assert reason in unsupported_reason(astropy_wcs(**change))


def test_projection_the_gwcs_cannot_describe_is_named():
    assert "projection CAR" in unsupported_reason(astropy_wcs("CAR"))
    assert "no WCS" in unsupported_reason(None)


# ---- the ASDF text -----------------------------------------------------------------------------

def test_asdf_text_round_trips_awkward_values():
    tree = {"strings": ["yes", "on", "no", "null", "1.5", "0x1F", "", "é ü \\ \"quoted\"", "a: b"],
            "y": 1, "on": 2, "numbers": [0, -3, 1.25e-300, float("nan"), float("inf"),
                                         -float("inf")],
            "flags": [True, False, None], "empty": {}, "nothing": [],
            "nested": [{"a": [[1.0, 2.0], [3.0, 4.0]]}, [1, [2, 3]]],
            "array": inline_array([[1.5, 2.5], [3.5, 4.5]]),
            "unit": Tagged("tag:stsci.edu:asdf/unit/unit-1.0.0", "deg")}
    with asdf.open(io.BytesIO(asdf_text(tree).encode())) as af:
        back = af.tree
        assert back["strings"] == tree["strings"]
        assert back["y"] == 1 and back["on"] == 2
        numbers = back["numbers"]
        assert numbers[:3] == [0, -3, 1.25e-300] and np.isnan(numbers[3])
        assert numbers[4:] == [float("inf"), -float("inf")]
        assert back["flags"] == [True, False, None]
        assert back["empty"] == {} and back["nothing"] == []
        assert back["nested"] == [{"a": [[1.0, 2.0], [3.0, 4.0]]}, [1, [2, 3]]]
        assert np.array_equal(back["array"], [[1.5, 2.5], [3.5, 4.5]])
        assert str(back["unit"]) == "deg"


# ---- S_REGION -----------------------------------------------------------------------------------

def polygon(text: str) -> np.ndarray:
    assert text.startswith("POLYGON ICRS  ")
    return np.array([float(v) for v in text.split()[2:]]).reshape(4, 2)


def test_s_region_is_the_outer_corners_clockwise_from_bottom_left():
    wcs = astropy_wcs(sip=True)
    text = s_region(wcs, SHAPE)
    corners = polygon(text)
    expected = wcs.calc_footprint(center=False, undistort=True)  # astropy: same corners, order
    assert np.max(np.abs(corners - expected)) < 1e-9
    ra, dec = wcs.all_pix2world(-0.5, -0.5, 0)
    assert np.allclose(corners[0], [ra, dec], atol=1e-9, rtol=0)
    assert corner_pixels(SHAPE)[0].tolist() == [-0.5, -0.5, 23.5, 23.5]
    assert all(len(v.split(".")[1]) == 9 for v in text.split()[2:])


def test_s_region_right_ascension_stays_in_0_360_across_zero():
    corners = polygon(s_region(astropy_wcs(CRVAL1=0.0), SHAPE))
    assert np.all((corners[:, 0] >= 0) & (corners[:, 0] < 360))
    assert corners[:, 0].min() < 0.01 and corners[:, 0].max() > 359.99


# ---- the written products --------------------------------------------------------------------

def run_small_product(folder: Path) -> dict[str, Path]:
    """A 24x16 rotated-TAN rate with a photom reference: its _cal and _i2d."""
    folder.mkdir(exist_ok=True)
    science = write_model(folder / "sci_rate.fits", np.arange(16 * 24.0).reshape(SHAPE),
                          np.ones(SHAPE), **ROTATED_TAN)
    header = fits.Header()
    for key, value in {**IDENTITY, "REFTYPE": "PHOTOM"}.items():
        header[key] = value
    write_photom([PhotomRow("KN3", 2.5e-4, 1e-6)], header, folder / "photom.fits")
    pipeline = Image2Pipeline(ref_dir=folder)
    pipeline.config.steps["dark_current"]["skip"] = True
    pipeline.config.steps["flat_field"]["skip"] = True
    result = pipeline.run_product(Product("sci", [Member(str(science), "science")]))
    assert result.ok
    written = write_product(result, folder / "out")
    return {path.name.split("_")[-1][:-5]: path for path in written}


@pytest.fixture(scope="module")
def products(tmp_path_factory):
    return run_small_product(tmp_path_factory.mktemp("downstream"))


@pytest.mark.parametrize("which", ["cal", "i2d"])
def test_jwst_image_model_opens_the_product_with_a_working_gwcs(products, which):
    from stdatamodels.jwst import datamodels
    from stdatamodels.validate import ValidationWarning

    path = products[which]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = datamodels.open(str(path))
    # only the non-JWST instrument names are not in jwst's enums (values kept)
    complaints = {str(w.message).split(" the following")[0] for w in caught
                  if issubclass(w.category, ValidationWarning)}
    assert complaints <= {f"While validating meta.instrument.{k}"
                          for k in ("name", "detector", "filter")}
    assert type(model).__name__ == "ImageModel" and model.meta.instrument.name == "IRIS"
    with fits.open(path) as hdul:
        sci = hdul["SCI"].header
        assert np.array_equal(model.data, hdul["SCI"].data, equal_nan=True)
        assert np.array_equal(model.dq, hdul["DQ"].data)
        wcs = WCS(sci)
    x, y = sample_pixels(model.data.shape)
    ra, dec = model.meta.wcs(x, y, with_bounding_box=False)
    sky = wcs.pixel_to_world(x, y)
    assert np.max(separation_deg(ra, dec, sky.ra.deg, sky.dec.deg)) < TOLERANCE_DEG
    assert model.meta.photometry.conversion_megajanskys == pytest.approx(2.5e-4)
    assert model.meta.photometry.pixelarea_steradians == sci["PIXAR_SR"]
    assert model.meta.bunit_data == "MJy/sr"
    assert model.meta.wcsinfo.s_region == sci["S_REGION"]
    assert model.meta.cal_step.photom == "COMPLETE"
    assert model.meta.filename == path.name


def test_generic_datamodel_opens_the_cal_from_the_tree_alone(products):
    from stdatamodels import DataModel

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = DataModel(str(products["cal"]))
    assert model.meta.model_type == "ImageModel"
    assert model.meta.instrument.filter == "KN3"
    ra, dec = model.meta.wcs(0.0, 0.0)
    wcs = WCS(fits.getheader(products["cal"], "SCI"))
    assert separation_deg(ra, dec, *wcs.all_pix2world(0.0, 0.0, 0)) < TOLERANCE_DEG
    assert np.array_equal(model.instance["data"], fits.getdata(products["cal"], "SCI"))


@pytest.mark.parametrize("which", ["cal", "i2d"])
def test_s_region_and_photometric_keywords_are_in_sci(products, which):
    with fits.open(products[which]) as hdul:
        primary, sci = hdul[0].header, hdul["SCI"].header
        wcs = WCS(sci)
        shape = hdul["SCI"].data.shape
        for key in ("PHOTMJSR", "PHOTUJA2", "PIXAR_SR", "PIXAR_A2", "BUNIT"):
            assert sci[key] == primary[key], key
        assert hdul["ERR"].header["BUNIT"] == "MJy/sr"
        assert primary["DATAMODL"] == "ImageModel"
        assert primary["FILENAME"] == products[which].name
    expected = wcs.calc_footprint(center=False)
    assert np.max(np.abs(polygon(sci["S_REGION"]) - expected)) < 1e-9
    assert shape == (SHAPE if which == "cal" else shape)


def test_only_cal_and_i2d_get_the_downstream_extras(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    science = write_model(folder / "sci_rate.fits", np.ones(SHAPE), np.ones(SHAPE), **ROTATED_TAN)
    pipeline = Image2Pipeline(ref_dir=folder)
    pipeline.config.steps["assign_wcs"]["save_results"] = True
    result = pipeline.run_product(Product("sci", [Member(str(science), "science")]))
    written = {p.name: p for p in write_product(result, folder / "out")}
    assert set(written) == {"sci_assign_wcs.fits", "sci_cal.fits", "sci_i2d.fits"}
    with fits.open(written["sci_assign_wcs.fits"]) as hdul:
        assert "ASDF" not in hdul and "S_REGION" not in hdul["SCI"].header
    with fits.open(written["sci_cal.fits"]) as hdul:
        assert "ASDF" in hdul and "S_REGION" in hdul["SCI"].header
        assert "PHOTMJSR" not in hdul["SCI"].header  # photom found no reference: none to copy
