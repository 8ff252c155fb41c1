"""The synthetic demo dataset: files, keywords, determinism and the physics it promises."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from iris_gui.engine import demo
from iris_gui.engine.dq import DQ_FLAGS
from iris_gui.engine.models import read_image, read_photom

SIZE = 256
DO_NOT_USE = DQ_FLAGS["DO_NOT_USE"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    calls = []
    ds = demo.write_demo_dataset(tmp_path_factory.mktemp("demo"), size=SIZE, seed=42,
                                 progress=calls.append)
    ds.progress_calls = calls
    return ds


def _science_paths(ds):
    return [ds.science, ds.subarray_science, ds.submap_science, ds.rateints]


def _wcs(primary_header):
    """The header's celestial WCS (the primary HDU has NAXIS = 0, which astropy warns about)."""
    header = primary_header.copy()
    for key in ("NAXIS", "NAXIS1", "NAXIS2"):
        header.remove(key, ignore_missing=True)
    return WCS(header)


def _same(a, b):
    return np.array_equal(a, b, equal_nan=True)


# ---- files and determinism -----------------------------------------------------------------------

def test_every_file_is_written_and_progress_reaches_one(dataset):
    paths = [dataset.asn, *_science_paths(dataset), *dataset.backgrounds, dataset.dark,
             dataset.flat, dataset.flat_other, dataset.photom]
    assert all(p.is_file() and p.parent == dataset.directory for p in paths)
    assert len(dataset.backgrounds) == 5
    assert dataset.asn.name == demo.DEMO_ASN
    assert dataset.science.name == "iris_demo_rate.fits"
    assert [p.name for p in dataset.backgrounds] == [f"iris_demo_bkg{k}_rate.fits"
                                                       for k in range(1, 6)]
    calls = dataset.progress_calls
    assert len(calls) == 9 + 5
    assert calls == sorted(calls) and calls[-1] == pytest.approx(1.0)
    assert not list(dataset.directory.glob("*.part"))  # nothing half-written left behind


def test_same_seed_same_data_other_seed_differs(tmp_path):
    a = demo.write_demo_dataset(tmp_path / "a", size=128, seed=7, n_backgrounds=2, nints=2)
    b = demo.write_demo_dataset(tmp_path / "b", size=128, seed=7, n_backgrounds=2, nints=2)
    c = demo.write_demo_dataset(tmp_path / "c", size=128, seed=8, n_backgrounds=2, nints=2)
    pairs = list(zip([a.science, a.rateints, *a.backgrounds, a.dark, a.flat, a.subarray_science],
                     [b.science, b.rateints, *b.backgrounds, b.dark, b.flat, b.subarray_science],
                     strict=True))
    for pa, pb in pairs:
        ma, mb = read_image(pa), read_image(pb)
        assert _same(ma.data, mb.data), pa.name
        assert _same(ma.err, mb.err), pa.name
        assert np.array_equal(ma.dq, mb.dq), pa.name
    assert a.stars == b.stars
    assert a.stars != c.stars
    sci_a, sci_c = read_image(a.science).data, read_image(c.science).data
    assert not _same(sci_a, sci_c)
    assert not _same(read_image(a.backgrounds[0]).data, read_image(c.backgrounds[0]).data)


def test_more_backgrounds_do_not_change_the_science(tmp_path):
    a = demo.write_demo_dataset(tmp_path / "a", size=64, seed=3, n_backgrounds=1, nints=1)
    b = demo.write_demo_dataset(tmp_path / "b", size=64, seed=3, n_backgrounds=7, nints=1)
    assert len(b.backgrounds) == 7
    assert _same(read_image(a.science).data, read_image(b.science).data)
    assert a.background_offsets == [0.0]
    assert sum(b.background_offsets) == pytest.approx(0.0, abs=1e-15)
    assert max(abs(o) for o in b.background_offsets) <= 0.005


@pytest.mark.parametrize("kwargs", [{"size": 100}, {"size": 32}, {"n_backgrounds": 0},
                                    {"nints": 0}])
def test_bad_arguments_are_refused(tmp_path, kwargs):
    with pytest.raises(ValueError):
        demo.write_demo_dataset(tmp_path, **{"size": 64, **kwargs})


# ---- keywords and shapes -------------------------------------------------------------------------

def test_exposure_keywords(dataset):
    for path in [*_science_paths(dataset), *dataset.backgrounds]:
        h = read_image(path).header
        assert (h["TELESCOP"], h["INSTRUME"], h["DETECTOR"]) == ("TMT", "IRIS", "IMAGER")
        assert h["FILTER"] == "KN3" == dataset.filter
        assert h["BUNIT"] == "DN/s"
        assert h["EXPTIME"] > 0 and h["DATE-OBS"].startswith("2031-")
        assert h["OBJECT"]
        assert h["CTYPE1"] == "RA---TAN" and h["CTYPE2"] == "DEC--TAN"
        assert h["CUNIT1"] == h["CUNIT2"] == "deg" and h["RADESYS"] == "ICRS"
        if path in dataset.backgrounds:
            assert h["EXPTYPE"] == "BACKGROUND" and h["S_DARK"] == "COMPLETE"
        else:
            assert h["EXPTYPE"] == "SCIENCE" and "S_DARK" not in h
            assert (h["CRVAL1"], h["CRVAL2"]) == (83.8221, -5.3911)
        if path != dataset.subarray_science:
            assert h["SUBARRAY"] == "FULL"
            assert (h["SUBSTRT1"], h["SUBSTRT2"], h["SUBSIZE1"], h["SUBSIZE2"]) == (1, 1, SIZE,
                                                                                    SIZE)
            assert (h["CRPIX1"], h["CRPIX2"]) == (SIZE / 2 + 0.5, SIZE / 2 + 0.5)
    ints = read_image(dataset.rateints).header
    assert ints["NINTS"] == 3 and ints["EXPTIME"] == 3 * ints["EFFINTTM"] == 180.0
    assert read_image(dataset.science).header["EXPTIME"] == 60.0


def test_wcs_is_4_mas_pixels_rotated_half_a_degree(dataset):
    wcs = _wcs(read_image(dataset.science).header)
    cd = wcs.wcs.cd
    scales = np.hypot(cd[:, 0], cd[:, 1]) * 3.6e6  # mas per pixel
    assert scales == pytest.approx([4.0, 4.0], rel=1e-12)
    assert np.linalg.det(cd) < 0  # east to the left, as on the sky
    assert math.degrees(math.atan2(cd[1, 0], cd[1, 1])) == pytest.approx(0.5)
    # the centre of the array (0-based (size-1)/2) is at CRVAL
    ra, dec = wcs.all_pix2world([[(SIZE - 1) / 2, (SIZE - 1) / 2]], 0)[0]
    assert (ra, dec) == pytest.approx((83.8221, -5.3911), abs=1e-12)


def test_subarray_is_a_cut_of_the_science_with_its_own_wcs(dataset):
    full = read_image(dataset.science)
    sub = read_image(dataset.subarray_science)
    w = dataset.subarray_window
    assert (w.xstart, w.ystart, w.xsize, w.ysize) == (SIZE // 4 + 1, SIZE // 2 + 1,
                                                      SIZE // 4, SIZE // 4)
    assert sub.shape == (SIZE // 4, SIZE // 4)
    h = sub.header
    assert h["SUBARRAY"] == f"SUB{SIZE // 4}" and sub.is_subarray
    assert (h["SUBSTRT1"], h["SUBSTRT2"], h["SUBSIZE1"], h["SUBSIZE2"]) == (
        w.xstart, w.ystart, w.xsize, w.ysize)
    assert sub.window == w
    rows, cols = w.slices_within(full.window)
    assert _same(sub.data, full.data[rows, cols])
    assert _same(sub.err, full.err[rows, cols])
    assert np.array_equal(sub.dq, full.dq[rows, cols])
    assert (h["CRPIX1"], h["CRPIX2"]) == (full.header["CRPIX1"] - (w.xstart - 1),
                                          full.header["CRPIX2"] - (w.ystart - 1))
    # the same detector pixel has the same sky position in both files
    pixels = np.array([[0.0, 0.0], [17.0, 5.0], [w.xsize - 1.0, w.ysize - 1.0]])
    sky_sub = _wcs(h).all_pix2world(pixels, 0)
    sky_full = _wcs(full.header).all_pix2world(pixels + [w.xstart - 1, w.ystart - 1], 0)
    assert np.allclose(sky_sub, sky_full, rtol=0, atol=1e-12)
    # the brightest star, with its saturated core, is inside the window
    brightest = max(dataset.stars, key=lambda s: s.flux)
    assert w.xstart - 1 <= brightest.x <= w.xstop - 1
    assert w.ystart - 1 <= brightest.y <= w.ystop - 1
    assert np.any(sub.dq & DQ_FLAGS["SATURATED"])


def test_submap_windows(dataset):
    model = read_image(dataset.submap_science)
    science = read_image(dataset.science)
    smap = model.subarr_map
    assert smap is not None and smap.dtype == np.uint16 and smap.shape == (SIZE, SIZE)
    assert set(np.unique(smap).tolist()) == {0, 1, 2}
    assert sorted(dataset.submap_windows) == [1, 2]
    expected = np.zeros_like(smap)
    for number, w in dataset.submap_windows.items():
        expected[w.ystart - 1:w.ystop, w.xstart - 1:w.xstop] = number
        assert np.count_nonzero(smap == number) == w.xsize * w.ysize
    assert np.array_equal(smap, expected)
    assert _same(model.data, science.data)
    assert read_image(dataset.science).subarr_map is None


def test_rateints_planes_share_the_scene_not_the_noise(dataset):
    ints = read_image(dataset.rateints)
    assert ints.is_3d and ints.shape == (3, SIZE, SIZE) == ints.err.shape == ints.dq.shape
    assert len(dataset.rateints_nan) == 3
    signal = dataset.true_flux() * dataset.flat_effective + np.nan_to_num(dataset.dark_data)
    good = np.ones((SIZE, SIZE), bool)
    good[dataset.dead] = False
    for i, nan in enumerate(dataset.rateints_nan):
        assert np.all(np.isnan(ints.data[i][nan])) and np.all(ints.dq[i][nan] & DO_NOT_USE)
        good[nan] = False
    residuals = [(ints.data[i] - signal)[good] for i in range(3)]
    for r in residuals:
        assert abs(np.median(r)) < 0.02
    # independent noise: residuals of different integrations are uncorrelated
    assert abs(np.corrcoef(residuals[0], residuals[1])[0, 1]) < 0.03


# ---- references ----------------------------------------------------------------------------------

def test_dark_reference(dataset):
    dark = read_image(dataset.dark, what="dark")
    h = dark.header
    assert (h["REFTYPE"], h["DATAMODL"]) == ("DARK", "DarkModel")
    assert (h["INSTRUME"], h["DETECTOR"], h["SUBARRAY"]) == ("IRIS", "IMAGER", "FULL")
    assert (h["SUBSTRT1"], h["SUBSTRT2"], h["SUBSIZE1"], h["SUBSIZE2"]) == (1, 1, SIZE, SIZE)
    assert _same(dark.data, dataset.dark_data)
    nan_rows, nan_cols = np.nonzero(np.isnan(dark.data))
    assert len(nan_rows) >= 3
    assert np.array_equal(nan_rows, dataset.dark_nan[0])
    assert np.array_equal(nan_cols, dataset.dark_nan[1])
    hot = (dark.dq & DQ_FLAGS["HOT"]) != 0
    assert np.count_nonzero(hot) == len(dataset.dark_hot[0]) >= 8
    assert np.all(hot[dataset.dark_hot])
    assert np.all((dark.data[hot] >= 5) & (dark.data[hot] <= 50))
    assert np.nanmedian(dark.data) == pytest.approx(0.05, abs=0.002)
    assert np.all(dark.err == np.float32(0.01))


def test_flat_references(dataset):
    flat = read_image(dataset.flat, what="flat")
    h = flat.header
    assert (h["REFTYPE"], h["DATAMODL"], h["FILTER"]) == ("FLAT", "FlatModel", "KN3")
    assert (h["INSTRUME"], h["DETECTOR"], h["SUBARRAY"]) == ("IRIS", "IMAGER", "FULL")
    assert _same(flat.data, dataset.flat_data)
    # the NaN and zero positions are exactly the truth's
    for truth, found in ((dataset.flat_nan, np.nonzero(np.isnan(flat.data))),
                         (dataset.flat_zero, np.nonzero(flat.data == 0))):
        assert len(truth[0]) >= 4
        assert np.array_equal(found[0], truth[0]) and np.array_equal(found[1], truth[1])
    noflat = (flat.dq & DQ_FLAGS["NO_FLAT_FIELD"]) != 0
    assert np.count_nonzero(noflat) == len(dataset.flat_no_flat_field[0]) >= 4
    assert np.all(noflat[dataset.flat_no_flat_field])
    assert np.all(flat.data[noflat] == 1.0)
    finite = flat.data[np.isfinite(flat.data) & (flat.data != 0)]
    assert 0.85 < finite.min() and finite.max() < 1.15
    assert np.percentile(finite, 1) > 0.88 and np.percentile(finite, 99) < 1.12
    assert np.all(flat.err == np.float32(0.005))
    # the effective flat the science was made with has 1 at every bad flat pixel
    eff = dataset.flat_effective
    for pixels in (dataset.flat_nan, dataset.flat_zero, dataset.flat_no_flat_field):
        assert np.all(eff[pixels] == 1.0)
    assert np.all(np.isfinite(eff)) and np.all(eff > 0)

    other = read_image(dataset.flat_other, what="flat")
    assert other.header["FILTER"] == "H" and other.header["REFTYPE"] == "FLAT"
    both = np.isfinite(flat.data) & np.isfinite(other.data) & (flat.data != 1.0)
    assert np.median(np.abs(other.data[both] - flat.data[both])) > 0.01


def test_photom_reference(dataset):
    photom = read_photom(dataset.photom)
    assert photom.header["REFTYPE"] == "PHOTOM"
    assert (photom.header["INSTRUME"], photom.header["DETECTOR"]) == ("IRIS", "IMAGER")
    assert len(photom.rows) >= 4
    row = photom.row_for("KN3")
    assert row is not None
    assert row.photmjsr == pytest.approx(2.1e-4, rel=1e-6) == dataset.photmjsr
    assert row.uncertainty == pytest.approx(1e-6, rel=1e-6)
    assert photom.row_for("H") is not None


# ---- association ---------------------------------------------------------------------------------

def test_association(dataset):
    asn = json.loads(dataset.asn.read_text())
    assert (asn["asn_type"], asn["asn_rule"], asn["asn_pool"]) == (
        "image2", "Asn_Lv2Image", "iris_demo_pool")
    products = asn["products"]
    assert [p["name"] for p in products] == ["iris_demo", "iris_demo_sub", "iris_demo_submap",
                                             "iris_demo_ints"]
    science = [dataset.science, dataset.subarray_science, dataset.submap_science,
               dataset.rateints]
    for product, expected in zip(products, science, strict=True):
        members = product["members"]
        assert members[0] == {"expname": expected.name, "exptype": "science"}
        assert [m["exptype"] for m in members[1:]] == ["background"] * 5
        assert [m["expname"] for m in members[1:]] == [p.name for p in dataset.backgrounds]
        for member in members:
            assert "/" not in member["expname"]
            assert (dataset.asn.parent / member["expname"]).is_file()
    assert dataset.asn.read_text().startswith('{\n  "asn_type"')  # indent 2, not sorted


# ---- physics -------------------------------------------------------------------------------------

def _star_free(ds, science_dq):
    mask = (ds.star_image < 1e-3) & (science_dq == 0)
    mask[ds.dark_hot] = False
    for crs in ds.cosmic_rays:
        mask[crs] = False
    return mask


def test_science_minus_mean_background_is_the_dark(dataset):
    science = read_image(dataset.science)
    backgrounds = np.stack([read_image(p).data for p in dataset.backgrounds])
    difference = science.data - backgrounds.mean(axis=0)
    mask = _star_free(dataset, science.dq)
    assert np.count_nonzero(mask) > 0.8 * SIZE * SIZE
    values = difference[mask]
    noise = float(np.std(values))
    assert 0.3 < noise < 0.6  # read noise plus the sky's Poisson term
    tolerance = 5 * 1.2533 * noise / math.sqrt(values.size)  # the median's standard error
    dark_median = float(np.nanmedian(dataset.dark_data))
    assert float(np.median(values)) == pytest.approx(dark_median, abs=tolerance)


def test_background_is_sky_times_flat(dataset):
    mean = np.stack([read_image(p).data for p in dataset.backgrounds]).mean(axis=0)
    mask = _star_free(dataset, read_image(dataset.science).dq)
    ratio = mean[mask] / (dataset.sky_image * dataset.flat_effective)[mask]
    assert float(np.median(ratio)) == pytest.approx(1.0, abs=0.002)
    assert dataset.sky_image.min() > 4.8 and dataset.sky_image.max() < 5.2
    assert dataset.sky_image.dtype == np.float32
    for k, path in enumerate(dataset.backgrounds):
        bkg = read_image(path)
        level = np.median(bkg.data[mask] / (dataset.sky_image * dataset.flat_effective)[mask])
        assert level == pytest.approx(1 + dataset.background_offsets[k], abs=0.002)
        crs = dataset.cosmic_rays[k]
        assert len(crs[0]) >= 5
        assert np.all(bkg.data[crs] - mean[crs] > 10)  # far outliers
        assert not np.any(bkg.dq[crs])  # not flagged: rate files do not know about them


def test_error_array_is_honest(dataset):
    science = read_image(dataset.science)
    signal = dataset.true_flux() * dataset.flat_effective + np.nan_to_num(dataset.dark_data)
    good = science.dq == 0
    pulls = ((science.data - signal) / science.err)[good]
    assert np.all(np.isfinite(pulls))
    assert float(np.mean(pulls)) == pytest.approx(0.0, abs=0.02)
    assert float(np.std(pulls)) == pytest.approx(1.0, abs=0.02)
    # stars are noisier than the sky: a Poisson term
    brightest = max(dataset.stars, key=lambda s: s.flux)
    core = science.err[int(round(brightest.y)), int(round(brightest.x))]
    assert core > 5.0


def test_stars_carry_their_flux(dataset):
    assert len(dataset.stars) == SIZE // 20
    fluxes = dataset.star_table[:, 2]
    assert fluxes.min() >= 100 and fluxes.max() == 50000
    assert np.count_nonzero(fluxes >= 25000) >= 2
    # the noiseless image holds (nearly) the whole flux of each star
    assert float(dataset.star_image.sum()) == pytest.approx(fluxes.sum(), rel=1e-4)
    # and calibrating the science by hand gives it back, for a bright unsaturated-ish star
    science = read_image(dataset.science)
    calibrated = (science.data - np.nan_to_num(dataset.dark_data)) / dataset.flat_effective
    calibrated -= dataset.sky_image
    star = sorted(dataset.stars, key=lambda s: -s.flux)[1]
    x, y = int(round(star.x)), int(round(star.y))
    stamp = calibrated[y - 8:y + 9, x - 8:x + 9]
    assert float(np.nansum(stamp)) == pytest.approx(star.flux, rel=0.01)


def test_science_dq_flags(dataset):
    science = read_image(dataset.science)
    dq, data = science.dq, science.data
    # dead pixels: DEAD + DO_NOT_USE, zero signal, in every exposure
    dead = DQ_FLAGS["DEAD"] | DO_NOT_USE
    assert len(dataset.dead[0]) >= 4
    assert np.all(dq[dataset.dead] & dead == dead)
    assert np.count_nonzero(dq & DQ_FLAGS["DEAD"]) == len(dataset.dead[0])
    assert np.all(data[dataset.dead] == 0)
    for path in dataset.backgrounds:
        assert np.all(read_image(path).dq[dataset.dead] & DQ_FLAGS["DEAD"])
    # saturated cores of the bright stars, and nowhere else
    saturated = (dq & DQ_FLAGS["SATURATED"]) != 0
    assert np.array_equal(saturated, dataset.saturated)
    assert 5 <= np.count_nonzero(saturated) < 200
    assert np.all(dataset.star_image[saturated] > 500)
    for star in sorted(dataset.stars, key=lambda s: -s.flux)[:2]:
        assert saturated[int(round(star.y)), int(round(star.x))]
    # a handful of NaN pixels, all DO_NOT_USE
    nan = np.isnan(data)
    assert 4 <= np.count_nonzero(nan) <= 20
    assert np.array_equal(np.nonzero(nan)[0], np.sort(dataset.science_nan[0]))
    assert np.all(dq[nan] & DO_NOT_USE)
    assert np.all(np.isnan(science.err[nan]))
    # nothing else is flagged
    other = dq & ~np.uint32(DQ_FLAGS["SATURATED"] | DQ_FLAGS["DEAD"] | DO_NOT_USE)
    assert not np.any(other)


def test_arrays_are_float32(dataset):
    science = read_image(dataset.science)
    assert science.data.dtype == np.float32 and science.err.dtype == np.float32
    assert science.dq.dtype == np.uint32
    for array in (dataset.sky_image, dataset.star_image, dataset.dark_data, dataset.flat_data,
                  dataset.flat_effective):
        assert array.dtype == np.float32 and array.shape == (SIZE, SIZE)
    with fits.open(dataset.science) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "ERR", "DQ"]
