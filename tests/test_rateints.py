"""_rateints (3D) through every step: plane k of the _calints is the 2D pipeline on plane k.

Per integration: bkg_subtract subtracts the one averaged background from each plane; dark,
flat and photom apply the same 2D reference to each plane; parse_subarray_map flags the map in
every plane; assign_wcs builds one WCS for all; resample drizzles every integration into one
output, so the _i2d is the weighted mean of the integrations (one 2D image, CON bit k marking
integration k).
"""

from __future__ import annotations

import json
import os
import tracemalloc

import numpy as np
import pytest
from astropy.io import fits

from iris_gui.cli import main
from iris_gui.engine.association import Association, Member, Product
from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.models import ImageModel, read_image, write_image
from iris_gui.engine.pipeline import Image2Pipeline
from iris_gui.engine.steps import COMPLETE, STEPS

STATUS_KEYWORDS = [step.status_keyword for step in STEPS]


@pytest.fixture(scope="module")
def ints_outputs(demo_dataset, tmp_path_factory):
    """iris-image2 --save-bsub on an association holding only the demo rateints product."""
    folder = tmp_path_factory.mktemp("ints")
    members = [{"expname": str(demo_dataset.rateints), "exptype": "science"}]
    members += [{"expname": str(b), "exptype": "background"} for b in demo_dataset.backgrounds]
    asn = folder / "ints_asn.json"
    asn.write_text(json.dumps({"asn_type": "image2", "asn_rule": "Asn_Lv2Image", "asn_pool": "p",
                               "products": [{"name": "iris_demo_ints", "members": members}]}))
    out = folder / "out"
    assert main([str(asn), "--output-dir", str(out), "--save-bsub", "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def plane_outputs(demo_dataset, tmp_path_factory):
    """The same pipeline on 2D rate files made of each plane of the rateints (same header)."""
    folder = tmp_path_factory.mktemp("planes")
    cube = read_image(demo_dataset.rateints)
    config = PipelineConfig()
    config.set("save_bsub", True)
    pipeline = Image2Pipeline(config, ref_dir=demo_dataset.directory, output_dir=folder / "out",
                              cache=False)
    outputs = []
    for k in range(cube.nints):
        header = cube.header.copy()
        # one integration: its exposure time is the integration's (resample's exptime weight)
        header["EXPTIME"], header["NINTS"] = header["EFFINTTM"], 1
        plane = ImageModel(data=cube.data[k].copy(), err=cube.err[k].copy(), dq=cube.dq[k].copy(),
                           header=header, sci_header=cube.sci_header.copy())
        path = write_image(plane, folder / f"plane{k}_rate.fits")
        members = [Member(str(path), "science")]
        members += [Member(str(b), "background") for b in demo_dataset.backgrounds]
        result = pipeline.run(Association([Product(f"plane{k}", members)]))[0]
        assert result.ok, result.error
        files = {suffix: folder / "out" / f"plane{k}_{suffix}.fits"
                 for suffix in ("cal", "bsub", "i2d")}
        outputs.append({suffix: read_image(path) for suffix, path in files.items()})
        outputs[-1]["wht"] = read_extension(files["i2d"], "WHT")[0]
    return outputs


def read_extension(path, *names):
    with fits.open(path) as hdul:
        return [hdul[name].data.copy() for name in names]


def test_every_step_ran_on_the_rateints(ints_outputs, demo_dataset):
    assert sorted(os.listdir(ints_outputs)) == [
        "iris_demo_ints_bsubints.fits", "iris_demo_ints_calints.fits", "iris_demo_ints_i2d.fits"]
    calints = read_image(ints_outputs / "iris_demo_ints_calints.fits")
    assert calints.data.shape == (demo_dataset.nints, demo_dataset.size, demo_dataset.size)
    for keyword in STATUS_KEYWORDS:
        expected = "SKIPPED" if keyword == "S_SUBMAP" else COMPLETE  # the file has no map
        assert calints.header[keyword] == expected, keyword


def test_plane_k_of_calints_is_the_2d_pipeline_on_plane_k(ints_outputs, plane_outputs):
    calints = read_image(ints_outputs / "iris_demo_ints_calints.fits")
    for k, planes in enumerate(plane_outputs):
        cal = planes["cal"]
        np.testing.assert_array_equal(calints.data[k], cal.data)
        np.testing.assert_array_equal(calints.err[k], cal.err)
        np.testing.assert_array_equal(calints.dq[k], cal.dq)
        for keyword in STATUS_KEYWORDS + ["PHOTMJSR", "PHOTUJA2", "PIXAR_SR", "BUNIT", "R_DARK",
                                          "R_FLAT", "R_PHOTOM", "NBKG"]:
            assert calints.header[keyword] == cal.header[keyword], keyword
    # the planes differ (independent noise and NaN pixels), so equality above is not vacuous
    assert not np.array_equal(plane_outputs[0]["cal"].data, plane_outputs[1]["cal"].data)


def test_bsubints_is_written_with_save_bsub_and_matches_the_planes(ints_outputs, plane_outputs,
                                                                   demo_dataset):
    bsubints = read_image(ints_outputs / "iris_demo_ints_bsubints.fits")
    assert bsubints.data.shape == (demo_dataset.nints, demo_dataset.size, demo_dataset.size)
    assert bsubints.header["S_BKDSUB"] == COMPLETE
    for k, planes in enumerate(plane_outputs):
        np.testing.assert_array_equal(bsubints.data[k], planes["bsub"].data)
        np.testing.assert_array_equal(bsubints.dq[k], planes["bsub"].dq)
    # one averaged background was subtracted from every plane: the difference rate - bsub is
    # the same 2D image in each (where both are finite)
    # (up to the float32 rounding of bsub = rate - background, half an ulp of the rate)
    rate = read_image(demo_dataset.rateints).data.astype(np.float64)
    background = rate - bsubints.data
    finite = np.isfinite(background).all(axis=0)
    eps = np.finfo(np.float32).eps
    rounding = eps * (np.abs(rate).max(axis=0) + np.abs(bsubints.data).max(axis=0))
    for k in (1, 2):
        assert np.all(np.abs(background[k] - background[0])[finite] <= rounding[finite])


def test_i2d_of_rateints_is_the_weighted_mean_of_the_planes(ints_outputs, plane_outputs):
    i2d = read_image(ints_outputs / "iris_demo_ints_i2d.fits")
    wht, con = read_extension(ints_outputs / "iris_demo_ints_i2d.fits", "WHT", "CON")
    assert i2d.data.ndim == 2
    weights = np.array([p["wht"] for p in plane_outputs], dtype=float)
    values = np.array([np.nan_to_num(p["i2d"].data) for p in plane_outputs], dtype=float)
    assert i2d.data.shape == weights.shape[1:]  # the same output grid for every plane
    np.testing.assert_allclose(wht, weights.sum(axis=0), rtol=1e-5, atol=1e-4)
    covered = wht > 0
    expected = (weights * values).sum(axis=0)[covered] / weights.sum(axis=0)[covered]
    scale = np.abs(expected).max()
    np.testing.assert_allclose(i2d.data[covered], expected, rtol=1e-5, atol=1e-6 * scale)
    assert np.isnan(i2d.data[~covered]).all()
    # CON: bit k where integration k contributed
    expected_con = sum((weights[k] > 0).astype(np.int64) << k for k in range(len(plane_outputs)))
    np.testing.assert_array_equal(con, expected_con)
    assert set(np.unique(con).tolist()) == {0, 7}  # all three wherever any contributed


# ---- memory: no per-integration copy of the cube ------------------------------------------

def _cube_model(nints=64, ny=96, nx=96):
    from iris_gui.engine.wcs import build_wcs

    rng = np.random.default_rng(2)
    header = fits.Header()
    for key, value in {"INSTRUME": "IRIS", "DETECTOR": "IMAGER", "SUBARRAY": "FULL",
                       "FILTER": "KN3", "EXPTIME": 60.0 * nints, "EFFINTTM": 60.0,
                       "BUNIT": "MJy/sr", "CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN",
                       "CRPIX1": 48.5, "CRPIX2": 48.5, "CRVAL1": 83.8, "CRVAL2": -5.4,
                       "CD1_1": -1.1e-6, "CD1_2": 1e-8, "CD2_1": 1e-8, "CD2_2": 1.1e-6}.items():
        header[key] = value
    model = ImageModel(data=rng.standard_normal((nints, ny, nx), np.float32),
                       err=np.ones((nints, ny, nx), np.float32),
                       dq=np.zeros((nints, ny, nx), np.uint32), header=header)
    model.wcs = build_wcs(header, (ny, nx))
    return model


def _peak_bytes(function) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        result = function()
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    del result
    return peak


def test_resample_memory_does_not_grow_with_the_number_of_integrations():
    """128 integrations of 96²: the cube is 4.7 MB per array. Resample needs the pixel map and
    its evaluation temporaries, two per-plane work buffers and the output arrays: about 30
    planes' worth whatever the number of integrations, never a copy of the cube."""
    from iris_gui.engine.steps.resample import resample_model
    from iris_gui.engine.wcs import output_grid

    model = _cube_model(nints=128)
    out_wcs, out_shape = output_grid(model.wcs, model.image_shape)
    plane = model.data[0].nbytes
    peak = _peak_bytes(lambda: resample_model(model, out_wcs, out_shape))
    assert peak < model.data.nbytes / 3  # < 43 planes; one cube copy alone is 128
    # the same for 4 integrations as for 128 but for the context image, which needs one
    # output-sized int32 plane per 32 integrations (4 here instead of 1)
    small = _cube_model(nints=4)
    context_planes = 3 * out_shape[0] * out_shape[1] * 4
    assert peak <= _peak_bytes(lambda: resample_model(small, out_wcs, out_shape)) \
        + context_planes + plane


def test_per_plane_steps_allocate_only_their_outputs():
    """photom, dark, flat and the background subtraction make new SCI/ERR(/DQ) cubes, and
    nothing else of cube size: temporaries are per row block."""
    from iris_gui.engine.steps.bkg_subtract import subtract_background
    from iris_gui.engine.steps.dark_current import subtract_dark
    from iris_gui.engine.steps.flat_field import apply_flat
    from iris_gui.engine.steps.photom import apply_photom

    model = _cube_model()
    cube = model.data.nbytes
    shape2d = model.image_shape

    def reference(value):
        return ImageModel(data=np.full(shape2d, value, np.float32),
                          err=np.full(shape2d, 0.01, np.float32),
                          dq=np.zeros(shape2d, np.uint32), header=fits.Header())

    backgrounds = [reference(v) for v in (0.9, 1.0, 1.1)]
    for background in backgrounds:
        background.header["S_DARK"] = "COMPLETE"
    cases = {
        "photom": (lambda: apply_photom(model, 2.0), 2),
        "dark_current": (lambda: subtract_dark(model, reference(0.05)), 3),
        "flat_field": (lambda: apply_flat(model, reference(1.02)), 3),
        "bkg_subtract": (lambda: subtract_background(model, backgrounds, 3.0, None), 3),
    }
    for name, (function, output_cubes) in cases.items():
        peak = _peak_bytes(function)
        assert peak < (output_cubes + 0.5) * cube, (name, peak / cube)
