"""The inspection tools' settings in ``ViewState`` (docks shown, Header dock, ...) survive a saved
session, and bad saved values are refused one by one. No Qt here."""

from __future__ import annotations

import json

import pytest
from factories import small_product

from iris_gui.engine.association import Association
from iris_gui.state.session_file import restore_session, save_session
from iris_gui.state.view_state import RegionSpec, ViewState
from iris_gui.state.workbench import Workbench

REGIONS = (RegionSpec("box", 0.5, 1.5, 2.0, 1.0, 30.0), RegionSpec("circle", 1.5, 2.0, 1.25),
           RegionSpec("ellipse", 2.0, 2.0, 3.0, 1.5, 100.0),
           RegionSpec("polygon", points=((0.0, 0.0), (3.0, 0.5), (1.5, 3.25))))
INSPECTION = dict(docks=("header", "pixels"), header_role="B", header_search="photmj",
                  header_changed_only=True, regions=REGIONS, region_coords="fk5",
                  pixel_table_size=9, colour_bars=False)


@pytest.fixture()
def saved(tmp_path):
    workbench = Workbench()
    workbench.add_association(Association([small_product(tmp_path / "data")]))
    workbench.view.update(**INSPECTION)
    return workbench, save_session(workbench, tmp_path / "inspect")


def test_the_inspection_settings_come_back_from_a_session(saved):
    original, path = saved
    fresh = Workbench()
    report = restore_session(fresh, path)
    assert report.problems == []
    for name, value in INSPECTION.items():
        assert getattr(fresh.view, name) == value, name
    assert fresh.view.to_dict() == original.view.to_dict()


@pytest.mark.parametrize("name, bad", [
    ("docks", ["header", "nonsense"]), ("docks", "header"), ("header_role", "C"),
    ("header_search", 5), ("header_changed_only", "yes"), ("colour_bars", 1), ("region_coords", "galactic"),
    ("pixel_table_size", 4), ("pixel_table_size", 13), ("pixel_table_size", True),
    ("docks", ["pixels", "magnifier!"]),
    ("regions", [{"kind": "polygon", "points": [[0, 0], [1, 1]]}]),
    ("regions", [{"kind": "ellipse", "x0": 1, "y0": 1, "width": 2, "height": 1, "angle": "x"}]),
    ("regions", [{"kind": "polygon", "points": "nonsense"}]),
])
def test_bad_inspection_values_are_refused_and_the_rest_kept(saved, name, bad):
    _, path = saved
    document = json.loads(path.read_text())
    document["view"][name] = bad
    path.write_text(json.dumps(document))
    fresh = Workbench()
    report = restore_session(fresh, path)
    assert [p for p in report.problems if p.startswith(f"view setting {name}:")], report.problems
    assert getattr(fresh.view, name) == getattr(ViewState(), name)
    for other, value in INSPECTION.items():
        if other != name:
            assert getattr(fresh.view, other) == value


def test_docks_are_saved_once_each_in_the_known_order():
    view = ViewState()
    assert view.apply_dict({"docks": ["header", "header"]}) == []
    assert view.docks == ("header",)
