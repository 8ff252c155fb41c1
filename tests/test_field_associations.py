"""Associations as the field writes them: the 2025 upstream's layout, JWST's member exptypes that
image2 leaves out (one warning), and level-3 associations refused as such."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from factories import write_model

from iris_gui.cli import main
from iris_gui.engine.association import level3_reason, load_association
from iris_gui.engine.errors import InputError

LOGGER = "iris_gui.engine.association"


def _exposure(path):
    return write_model(path, np.ones((2, 2)))


def _asn(path, products, **document):
    path.write_text(json.dumps({**document, "products": products}))
    return path


def _level3_sentence(path, reason):
    return (f"{path}: this is a level-3 association ({reason}); iris_gui runs image2 (level 2), "
            f"which calibrates one science exposure per product")


# ---- the upstream's layout -----------------------------------------------------------------------

def test_upstream_layout_nameless_products_sci_and_sky(tmp_path, caplog):
    # what the upstream's L1Association wrote: its class name as asn_type and asn_rule, a
    # top-level name, products without a name, members typed by meta.exposure.type
    for name in ("2024B-P001-001_IRIS_IMG1_SCI_LVL1_0001", "2024B-P001-001_IRIS_IMG1_SKY_LVL1_0002"):
        _exposure(tmp_path / f"{name}.fits")
    path = _asn(tmp_path / "upstream_asn.json", [{"members": [
        {"expname": "2024B-P001-001_IRIS_IMG1_SKY_LVL1_0002.fits", "exptype": "SKY"},
        {"expname": "2024B-P001-001_IRIS_IMG1_SCI_LVL1_0001.fits", "exptype": "SCI"}]}],
        name="L1Association20250101T000000", asn_rule="L1Association", asn_type="L1Association",
        asn_pool="pool")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        (product,) = load_association(path).products
    assert product.ok
    assert product.name == "2024B-P001-001_IRIS_IMG1_SCI_LVL1_0001"
    assert product.science == str(tmp_path / "2024B-P001-001_IRIS_IMG1_SCI_LVL1_0001.fits")
    assert product.backgrounds == [str(tmp_path / "2024B-P001-001_IRIS_IMG1_SKY_LVL1_0002.fits")]
    # the upstream's asn_type is its image2 input: no "not image2" warning
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "named 2024B-P001-001_IRIS_IMG1_SCI_LVL1_0001 after its science member" in caplog.text


def test_nameless_product_drops_the_rate_suffix_of_its_science(tmp_path):
    _exposure(tmp_path / "jw02_rate.fits")
    path = _asn(tmp_path / "asn.json", [{"members": [
        {"expname": "jw02_rate.fits", "exptype": "science"}]}], asn_type="image2")
    assert load_association(path).products[0].name == "jw02"


# ---- members image2 does not use -----------------------------------------------------------------

def test_every_ignored_member_in_one_warning_naming_file_exptypes_and_members(tmp_path, caplog):
    _exposure(tmp_path / "a_rate.fits")
    _exposure(tmp_path / "b_rate.fits")
    path = _asn(tmp_path / "jw_asn.json", [
        {"name": "a", "members": [{"expname": "a_rate.fits", "exptype": "science"},
                                  {"expname": "a_imprint_rate.fits", "exptype": "imprint"},
                                  {"expname": "a_cat.ecsv", "exptype": "SourceCat"}]},
        {"name": "b", "members": [{"expname": "b_rate.fits", "exptype": "science"},
                                  {"expname": "b_segm.fits", "exptype": "segmap"}]}],
        asn_type="image2")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        association = load_association(path)
    assert [p.ok for p in association.products] == [True, True]
    assert [[m.exptype for m in p.members] for p in association.products] == [["science"]] * 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [f"{path}: 3 member(s) of exptype imprint, segmap, sourcecat left out "
                        f"(image2 does not use them): a_imprint_rate.fits, a_cat.ecsv, "
                        f"b_segm.fits"]


def test_many_ignored_members_are_counted_not_all_listed(tmp_path, caplog):
    _exposure(tmp_path / "a_rate.fits")
    members = [{"expname": "a_rate.fits", "exptype": "science"}]
    members += [{"expname": f"i{k}.fits", "exptype": "selfcal"} for k in range(8)]
    path = _asn(tmp_path / "asn.json", [{"name": "a", "members": members}], asn_type="image2")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        load_association(path)
    [record] = caplog.records
    assert record.getMessage().endswith(
        "8 member(s) of exptype selfcal left out (image2 does not use them): i0.fits, i1.fits, "
        "i2.fits, i3.fits, i4.fits, i5.fits and 2 more")


def test_no_warning_without_ignored_members(tmp_path, caplog):
    _exposure(tmp_path / "a_rate.fits")
    path = _asn(tmp_path / "asn.json", [{"name": "a", "members": [
        {"expname": "a_rate.fits", "exptype": "science"}]}], asn_type="image2")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        load_association(path)
    assert caplog.records == []


# ---- level 3 -------------------------------------------------------------------------------------

def _three_science(tmp_path):
    for k in range(3):
        _exposure(tmp_path / f"s{k}_cal.fits")
    return [{"name": "mosaic", "members": [{"expname": f"s{k}_cal.fits", "exptype": "science"}
                                           for k in range(3)]}]


@pytest.mark.parametrize("document, reason", [
    ({"asn_type": "image3", "asn_rule": "Asn_Image"}, "asn_type image3"),
    ({"asn_type": "wfs-image3"}, "asn_type wfs-image3"),
    ({"asn_type": "coron3"}, "asn_type coron3"),
    ({"asn_type": "image", "asn_rule": "discover_Asn_Image"}, "asn_rule discover_Asn_Image"),
    ({"asn_rule": "Asn_Lv3Image"}, "asn_rule Asn_Lv3Image"),
    ({"asn_type": "image"}, "product mosaic has 3 science members"),
    ({}, "product mosaic has 3 science members"),
])
@pytest.mark.parametrize("strict", [True, False])
def test_level3_associations_are_refused_as_such(tmp_path, document, reason, strict):
    path = _asn(tmp_path / "l3_asn.json", _three_science(tmp_path), **document)
    with pytest.raises(InputError) as info:
        load_association(path, strict=strict)
    assert str(info.value) == _level3_sentence(path, reason)


@pytest.mark.parametrize("document", [
    {"asn_rule": "Asn_Lv2Image"},
    {"asn_rule": "candidate_Asn_Lv2Image"},
    {"asn_type": "image2", "asn_rule": "Asn_Image"},  # the asn_type decides first
    {"asn_type": "L1Association", "asn_rule": "L1Association"},
])
def test_level2_names_are_not_level3(tmp_path, document):
    _exposure(tmp_path / "s_rate.fits")
    products = [{"name": "s", "members": [{"expname": "s_rate.fits", "exptype": "science"}]}]
    assert level3_reason({**document, "products": products}) is None
    assert load_association(_asn(tmp_path / "asn.json", products, **document)).products[0].ok


def test_declared_image2_with_several_science_members_is_a_product_problem(tmp_path):
    path = _asn(tmp_path / "asn.json", _three_science(tmp_path), asn_type="image2")
    (product,) = load_association(path, strict=False).products
    assert product.problems == ["has 3 science members; exactly one is needed (several science "
                                "exposures in one product make a level-3 association)"]


def test_level3_association_refused_by_the_cli_in_one_line(tmp_path, capsys):
    path = _asn(tmp_path / "l3_asn.json", _three_science(tmp_path), asn_type="image3")
    out = tmp_path / "out"
    assert main([str(path), "--output-dir", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("level-3 association") == 1
    assert "l3_asn.json: this is a level-3 association (asn_type image3)" in err
    assert not out.exists() or not list(out.iterdir())
