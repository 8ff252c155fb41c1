"""image2 associations: the upstream example, product names, building, saving and loading."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
from astropy.io import fits

from iris_gui.engine.association import (
    Association,
    association_from_exposure,
    build_association,
    load_association,
    load_inputs,
    product_name_for,
    save_association,
)
from iris_gui.engine.errors import InputError

#: DESIGN.md §3, verbatim
UPSTREAM_ASN = """\
{"asn_rule": "Asn_Lv2Image", "asn_pool": "pool", "asn_type": "image2",
 "products": [{"name": "test_iris_subtract_bg_flat",
               "members": [{"expname": "raw_science_frame_sci.fits", "exptype": "science"},
                           {"expname": "raw_background_frame_cal.fits", "exptype": "background"}]}]}
"""


def _tiny_fits(path):
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 2), np.float32), name="SCI")]
                 ).writeto(path)
    return path


def test_upstream_example_resolves_relative_to_asn_folder(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    _tiny_fits(data / "raw_science_frame_sci.fits")
    _tiny_fits(data / "raw_background_frame_cal.fits")
    asn_path = data / "asn.json"
    asn_path.write_text(UPSTREAM_ASN)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    association = load_association(os.path.relpath(asn_path, elsewhere))
    assert association.path == str(asn_path)
    assert association.asn_rule == "Asn_Lv2Image"
    assert association.asn_pool == "pool"
    assert association.asn_type == "image2"
    assert association.problems == []
    assert len(association.products) == 1
    product = association.products[0]
    assert product.name == "test_iris_subtract_bg_flat"
    assert product.ok
    assert product.asn_path == str(asn_path)
    assert product.science == str(data / "raw_science_frame_sci.fits")
    assert product.backgrounds == [str(data / "raw_background_frame_cal.fits")]
    assert product.input_paths == [str(data / "raw_science_frame_sci.fits"),
                                   str(data / "raw_background_frame_cal.fits")]
    assert [m.expname for m in product.members] == ["raw_science_frame_sci.fits",
                                                    "raw_background_frame_cal.fits"]
    assert [m.exptype for m in product.members] == ["science", "background"]


def test_subfolder_members(tmp_path, monkeypatch):
    (tmp_path / "raw").mkdir()
    _tiny_fits(tmp_path / "raw" / "a_rate.fits")
    asn = tmp_path / "a_asn.json"
    asn.write_text(json.dumps({"products": [{"name": "a", "members": [
        {"expname": "raw/a_rate.fits", "exptype": "SCIENCE"}]}]}))
    monkeypatch.chdir(tmp_path / "raw")
    product = load_association(asn).products[0]
    assert product.science == str(tmp_path / "raw" / "a_rate.fits")
    assert product.members[0].exptype == "science"
    assert product.backgrounds == []


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("x_rate.fits", "x"),
        ("x_rateints.fits", "x"),
        ("foo.fits", "foo"),
        ("/data/night1/jw01_rate.fits", "jw01"),
        ("obs_12_cal.fits", "obs_12"),
        ("obs_bsubints.fits", "obs"),
        ("a_b_rate.fits.gz", "a_b"),
        ("_rate.fits", "_rate"),
        ("x_ratex.fits", "x_ratex"),
        ("x_rate_rate.fits", "x_rate"),
    ],
)
def test_product_name_for(path, name):
    assert product_name_for(path) == name


def test_association_from_exposure(tmp_path, monkeypatch):
    path = _tiny_fits(tmp_path / "night_0042_rate.fits")
    monkeypatch.chdir(tmp_path)
    association = association_from_exposure("night_0042_rate.fits")
    assert association.path is None
    assert len(association.products) == 1
    product = association.products[0]
    assert product.name == "night_0042"
    assert product.science == str(path)
    assert product.backgrounds == []
    assert product.ok
    with pytest.raises(InputError, match=r"missing_rate\.fits.*not found"):
        association_from_exposure(tmp_path / "missing_rate.fits")


def test_build_save_load_round_trip(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    s1 = _tiny_fits(data / "s1_rate.fits")
    s2 = _tiny_fits(data / "s2_rateints.fits")
    b1 = _tiny_fits(data / "b1_rate.fits")
    b2 = _tiny_fits(data / "b2_rate.fits")
    association = build_association([s1, s2], [b1, b2], pool="mypool")
    assert [p.name for p in association.products] == ["s1", "s2"]
    assert association.products[1].backgrounds == [str(b1), str(b2)]

    asn_path = save_association(association, data / "built_asn.json")
    document = json.loads(asn_path.read_text())
    assert document["asn_type"] == "image2"
    assert document["asn_pool"] == "mypool"
    assert document["asn_rule"] == "Asn_Lv2Image"
    assert document["products"][0] == {"name": "s1", "members": [
        {"expname": "s1_rate.fits", "exptype": "science"},
        {"expname": "b1_rate.fits", "exptype": "background"},
        {"expname": "b2_rate.fits", "exptype": "background"},
    ]}
    assert document["products"][1]["members"][0] == {"expname": "s2_rateints.fits",
                                                     "exptype": "science"}
    assert sorted(os.listdir(data)) == ["b1_rate.fits", "b2_rate.fits", "built_asn.json",
                                        "s1_rate.fits", "s2_rateints.fits"]

    monkeypatch.chdir(tmp_path)
    loaded = load_association(asn_path)
    assert [p.name for p in loaded.products] == ["s1", "s2"]
    assert loaded.asn_pool == "mypool"
    for original, back in zip(association.products, loaded.products, strict=True):
        assert back.science == original.science
        assert back.backgrounds == original.backgrounds
        assert back.ok


def test_save_with_members_in_subfolder(tmp_path):
    (tmp_path / "raw").mkdir()
    science = _tiny_fits(tmp_path / "raw" / "s_rate.fits")
    association = build_association([science], names=["custom"])
    path = save_association(association, tmp_path / "asn.json")
    document = json.loads(path.read_text())
    assert document["products"] == [{"name": "custom", "members": [
        {"expname": os.path.join("raw", "s_rate.fits"), "exptype": "science"}]}]
    assert load_association(path).products[0].science == str(science)


def test_build_needs_science():
    with pytest.raises(InputError, match="at least one science"):
        build_association([])


def test_duplicate_product_names_reported(tmp_path):
    _tiny_fits(tmp_path / "s.fits")
    asn = tmp_path / "dup.json"
    product = {"name": "same", "members": [{"expname": "s.fits", "exptype": "science"}]}
    asn.write_text(json.dumps({"products": [product, product]}))
    with pytest.raises(InputError, match="same.*used by another product"):
        load_association(asn)
    loose = load_association(asn, strict=False)
    assert loose.products[0].ok
    assert not loose.products[1].ok


def test_load_inputs_dispatch(tmp_path):
    science = _tiny_fits(tmp_path / "obs7_rate.fits")
    _tiny_fits(tmp_path / "raw_science_frame_sci.fits")
    _tiny_fits(tmp_path / "raw_background_frame_cal.fits")
    asn = tmp_path / "upstream_asn.JSON"
    asn.write_text(UPSTREAM_ASN)

    from_fits = load_inputs(science)
    assert isinstance(from_fits, Association)
    assert from_fits.path is None
    assert [p.name for p in from_fits.products] == ["obs7"]
    assert from_fits.products[0].backgrounds == []

    from_json = load_inputs(asn)
    assert from_json.path == str(asn)
    assert [p.name for p in from_json.products] == ["test_iris_subtract_bg_flat"]
    assert len(from_json.products[0].backgrounds) == 1

    # strict is passed on for ASNs
    (tmp_path / "raw_background_frame_cal.fits").unlink()
    with pytest.raises(InputError, match="raw_background_frame_cal.fits not found"):
        load_inputs(asn)
    loose = load_inputs(asn, strict=False)
    assert not loose.products[0].ok

    with pytest.raises(InputError, match="not found"):
        load_inputs(tmp_path / "absent_rate.fits")


# ---- the 2025 upstream layout and JWST's member exptypes -------------------------------------------

def _write_asn(path, products):
    path.write_text(json.dumps({"asn_type": "image2", "asn_rule": "Asn_Lv2Image",
                                "asn_pool": "pool", "products": products}))
    return path


def test_nameless_product_is_named_after_its_science_member(tmp_path):
    _tiny_fits(tmp_path / "jw01_rateints.fits")
    _tiny_fits(tmp_path / "sky_rate.fits")
    asn = load_association(_write_asn(tmp_path / "asn.json", [
        {"members": [{"expname": "sky_rate.fits", "exptype": "background"},
                     {"expname": "jw01_rateints.fits", "exptype": "science"}]}]))
    (product,) = asn.products
    # the name of the science member (not the first member), its _rateints suffix dropped
    assert product.name == "jw01"
    assert product.ok


def test_nameless_products_named_apart(tmp_path):
    _tiny_fits(tmp_path / "a_rate.fits")
    _tiny_fits(tmp_path / "b_rate.fits")
    asn = load_association(_write_asn(tmp_path / "asn.json", [
        {"members": [{"expname": "a_rate.fits", "exptype": "science"}]},
        {"name": "", "members": [{"expname": "b_rate.fits", "exptype": "science"}]}]))
    assert [p.name for p in asn.products] == ["a", "b"]


def test_nameless_product_without_one_science_member_is_a_problem(tmp_path):
    _tiny_fits(tmp_path / "sky_rate.fits")
    asn = load_association(_write_asn(tmp_path / "asn.json", [
        {"members": [{"expname": "sky_rate.fits", "exptype": "background"}]}]), strict=False)
    (product,) = asn.products
    assert product.name == "product1"
    assert product.problems[0].startswith("has no name")


@pytest.mark.parametrize("science, background", [("SCI", "SKY"), ("sci", "sky"), ("Sci", "Sky"),
                                                 ("SCIENCE", "BACKGROUND")])
def test_upstream_sci_and_sky_members(tmp_path, science, background):
    _tiny_fits(tmp_path / "liger_rate.fits")
    _tiny_fits(tmp_path / "liger_sky_rate.fits")
    asn = load_association(_write_asn(tmp_path / "asn.json", [
        {"name": "liger", "members": [{"expname": "liger_rate.fits", "exptype": science},
                                      {"expname": "liger_sky_rate.fits",
                                       "exptype": background}]}]))
    (product,) = asn.products
    assert product.science == str(tmp_path / "liger_rate.fits")
    assert product.backgrounds == [str(tmp_path / "liger_sky_rate.fits")]


@pytest.mark.parametrize("exptype", ["imprint", "sourcecat", "segmap", "direct_image", "selfcal",
                                     "IMPRINT"])
def test_jwst_exptypes_image2_does_not_use_are_ignored(tmp_path, caplog, exptype):
    caplog.set_level(logging.INFO, logger="iris_gui.engine.association")
    _tiny_fits(tmp_path / "jw01_rate.fits")
    path = _write_asn(tmp_path / "asn.json", [
        {"name": "jw01", "members": [{"expname": "jw01_rate.fits", "exptype": "science"},
                                     {"expname": "jw01_other.fits", "exptype": exptype}]}])
    asn = load_association(path)
    (product,) = asn.products
    assert product.ok  # the ignored member need not even exist
    assert [m.exptype for m in product.members] == ["science"]
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (f"{path}: 1 member(s) of exptype {exptype.lower()} left out "
                                   f"(image2 does not use them): jw01_other.fits")


def test_unknown_exptype_stays_a_problem_of_its_product(tmp_path):
    _tiny_fits(tmp_path / "a_rate.fits")
    _tiny_fits(tmp_path / "b_rate.fits")
    asn = load_association(_write_asn(tmp_path / "asn.json", [
        {"name": "a", "members": [{"expname": "a_rate.fits", "exptype": "science"},
                                  {"expname": "x.fits", "exptype": "wavecal"}]},
        {"name": "b", "members": [{"expname": "b_rate.fits", "exptype": "science"}]}]),
        strict=False)
    by_name = {p.name: p for p in asn.products}
    assert "unknown exptype 'wavecal'" in by_name["a"].problems[0]
    assert by_name["b"].ok
