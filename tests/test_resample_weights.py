"""resample's exptime weight: which header keyword gives it (jwst's order: the measurement time,
then the effective exposure time; then EXPTIME), checked by hand on small frames."""

from __future__ import annotations

import numpy as np
import pytest
from factories import make_model

from iris_gui.engine.resample_weights import exptime_weight
from iris_gui.engine.steps.resample import resample_model
from iris_gui.engine.wcs import build_wcs

SCALE = 0.004 / 3600.0
WCS = {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRPIX1": 4.5, "CRPIX2": 4.5,
       "CRVAL1": 83.8221, "CRVAL2": -5.3911, "CD1_1": -SCALE, "CD1_2": 0.0, "CD2_1": 0.0,
       "CD2_2": SCALE, "RADESYS": "ICRS", "BUNIT": "MJy/sr"}


def _model(value=1.0, shape=(8, 8), sci=None, **keywords):
    """A frame of ``value`` with the WCS above; ``keywords`` go in PRIMARY (None removes one,
    e.g. EXPTIME=None), ``sci`` in the SCI header."""
    keep = {key: value for key, value in keywords.items() if value is not None}
    model = make_model(np.full(shape, value), np.ones(shape), **WCS, **keep)
    for key, value in keywords.items():
        if value is None:
            model.header.remove(key, ignore_missing=True)
    for key, value in (sci or {}).items():
        model.sci_header[key] = value
    model.wcs = build_wcs(model.header, shape[-2:])
    return model


@pytest.mark.parametrize("primary, sci, expected, source", [
    ({"EXPTIME": 10.0}, {}, 10.0, "EXPTIME"),
    ({"EXPTIME": 10.0, "EFFEXPTM": 30.0}, {}, 30.0, "EFFEXPTM"),
    ({"EXPTIME": 10.0, "EFFEXPTM": 30.0, "TMEASURE": 25.0}, {}, 25.0, "TMEASURE"),
    ({"EXPTIME": 10.0}, {"XPOSURE": 50.0}, 50.0, "XPOSURE"),            # jwst writes it in SCI
    ({"EXPTIME": 10.0, "EFFEXPTM": 30.0}, {"XPOSURE": 50.0}, 30.0, "EFFEXPTM"),
    ({"EXPTIME": 10.0, "XPOSURE": 40.0}, {"XPOSURE": 50.0}, 40.0, "XPOSURE"),  # PRIMARY first
    # a 2-D rate of several integrations is weighted by the whole exposure, not one integration
    ({"EXPTIME": 10.0, "EFFINTTM": 5.0}, {}, 10.0, "EXPTIME"),
    ({"EXPTIME": None, "EFFINTTM": 5.0}, {}, 5.0, "EFFINTTM"),
    ({"EXPTIME": None}, {}, 1.0, "no exposure time in the header: 1"),
])
def test_the_first_keyword_holding_a_time_gives_the_weight(primary, sci, expected, source):
    notes: list[str] = []
    assert exptime_weight(_model(sci=sci, **primary), notes) == (expected, source)
    assert notes == []


@pytest.mark.parametrize("bad", [0.0, -5.0, "thirty", True])
def test_a_keyword_that_is_not_a_positive_time_is_passed_over_with_a_note(bad):
    notes: list[str] = []
    model = _model(EXPTIME=10.0)
    model.header["EFFEXPTM"] = bad
    assert exptime_weight(model, notes) == (10.0, "EXPTIME")
    assert len(notes) == 1 and notes[0].startswith("EFFEXPTM = ")
    assert "not a positive time" in notes[0]


def test_integrations_are_weighted_by_their_own_time():
    cube = _model(shape=(2, 8, 8), EXPTIME=20.0, EFFINTTM=8.0, NINTS=2)
    assert exptime_weight(cube, []) == (8.0, "EFFINTTM")
    cube = _model(shape=(2, 8, 8), EXPTIME=20.0, EFFEXPTM=30.0, NINTS=2)
    assert exptime_weight(cube, []) == (15.0, "EFFEXPTM / 2 integrations")


def test_two_inputs_of_different_effective_exposure_times():
    """Two exposures of one field, SCI 1 and 2, both EXPTIME 10 but effective times 30 s
    (EFFEXPTM) and 50 s (XPOSURE, in SCI). Output grid = input grid, so every output pixel is
    one input pixel: WHT is the weight itself, and the WHT-weighted mean of the two i2d
    (what a mosaic of them computes) is (30 * 1 + 50 * 2) / 80 = 1.625, not EXPTIME's 1.5."""
    first = _model(1.0, EXPTIME=10.0, EFFEXPTM=30.0)
    second = _model(2.0, EXPTIME=10.0, sci={"XPOSURE": 50.0})
    outputs = [resample_model(model, model.wcs, (8, 8))[0] for model in (first, second)]
    wht = [out.extra_arrays["WHT"] for out in outputs]
    np.testing.assert_allclose(wht[0], 30.0, rtol=1e-6)
    np.testing.assert_allclose(wht[1], 50.0, rtol=1e-6)
    np.testing.assert_allclose(outputs[0].data, 1.0, rtol=1e-6)
    np.testing.assert_allclose(outputs[1].data, 2.0, rtol=1e-6)
    mosaic = (wht[0] * outputs[0].data + wht[1] * outputs[1].data) / (wht[0] + wht[1])
    np.testing.assert_allclose(mosaic, 1.625, rtol=1e-6)
    assert outputs[0].header["RESWTIME"] == 30.0
    assert "EFFEXPTM" in outputs[0].header.comments["RESWTIME"]
    assert outputs[1].header["RESWTIME"] == 50.0
    assert "XPOSURE" in outputs[1].header.comments["RESWTIME"]


def test_ivm_weights_record_no_exposure_time():
    out, _notes = resample_model(_model(EXPTIME=10.0, EFFEXPTM=30.0), _model().wcs, (8, 8),
                                 weight_type="ivm")
    assert "RESWTIME" not in out.header
    np.testing.assert_allclose(out.extra_arrays["WHT"], 1.0, rtol=1e-6)  # 1 / ERR², ERR 1
