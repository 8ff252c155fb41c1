"""Region shapes and DS9 files in the inspection view, used as a person does: ellipse and polygon
buttons, ROIs on both panes, statistics of each shape against hand-picked pixels, Load / Save of
.reg files in image and fk5 coordinates, failures in one message naming the file."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

import regions as rg  # noqa: E402
from test_inspection_view import hand_result, on_screen, settle, shown  # noqa: E402

from iris_gui.display import region_files as rf  # noqa: E402
from iris_gui.gui.image_view import StepImageView  # noqa: E402
from iris_gui.state.view_state import RegionSpec  # noqa: E402


@pytest.fixture()
def view(qtbot):
    yield from on_screen(qtbot, StepImageView())


@pytest.fixture()
def failures(view):
    seen = []
    view.failed.connect(lambda title, message: seen.append((title, message)))
    return seen


def test_ellipse_and_polygon_buttons_draw_on_both_panes_with_statistics(qtbot, view):
    result = shown(qtbot, view, hand_result())
    before, after = result.input_model, result.steps["flat_field"].model
    view.region_panel.add_buttons["ellipse"].click()
    view.region_panel.add_buttons["polygon"].click()
    kinds = [s.kind for s in view.state.regions]
    assert kinds == ["ellipse", "polygon"]
    for role in ("A", "B"):
        assert [r.region_kind for r in view.region_overlay.rois[role]] == kinds
    settle(qtbot, view)
    # an ellipse set by hand: axes 6 x 2 about (20, 10): x = 17..23 on y = 10, and (20, 9), (20, 11)
    view.state.regions = (RegionSpec("ellipse", 20.0, 10.0, 6.0, 2.0),)
    settle(qtbot, view)
    pixels = [(x, 10) for x in range(17, 24)] + [(20, 9), (20, 11)]
    stats = view.last_stats
    assert stats["A"].n == 9 and stats["B"].n == 9
    assert stats["A"].mean == pytest.approx(np.mean([before.data[y, x] for x, y in pixels]))
    assert stats["B"].max == pytest.approx(max(after.data[y, x] for x, y in pixels))
    assert stats["A"].n_flagged == 1          # (20, 10) is HOT | DO_NOT_USE
    assert "ellipse centre (20.0, 10.0) axes 6.0 x 2.0 px" in view.stats_text


def test_dragging_a_polygon_moves_its_vertices_in_the_state_and_the_other_pane(qtbot, view):
    shown(qtbot, view, hand_result())
    triangle = RegionSpec("polygon", points=((10.0, 10.0), (20.0, 10.0), (15.0, 18.0)))
    view.state.regions = (triangle,)
    roi = view.region_overlay.rois["A"][0]
    roi.setPos(roi.pos() + type(roi.pos())(3, 2))      # as a drag does
    (moved,) = view.state.regions
    assert np.allclose(moved.points, ((13, 12), (23, 12), (18, 20)))
    other = view.region_overlay.rois["B"][0]
    from iris_gui.gui.view_regions import spec_of

    assert np.allclose(spec_of(other).points, moved.points)


def test_a_turned_box_and_ellipse_survive_the_rois(qtbot, view):
    shown(qtbot, view, hand_result())
    specs = (RegionSpec("box", 10.0, 8.0, 12.0, 6.0, 30.0),
             RegionSpec("ellipse", 40.0, 20.0, 10.0, 4.0, 120.0))
    view.state.regions = specs
    from iris_gui.gui.view_regions import spec_of

    for role in ("A", "B"):
        for roi, spec in zip(view.region_overlay.rois[role], specs, strict=True):
            got = spec_of(roi)
            assert got.kind == spec.kind
            assert (got.x0, got.y0, got.width, got.height, got.angle) == pytest.approx(
                (spec.x0, spec.y0, spec.width, spec.height, spec.angle))


def test_load_a_ds9_file_in_fk5_and_image_coordinates(qtbot, view, tmp_path, failures):
    result = shown(qtbot, view, hand_result())
    wcs = result.input_model.wcs
    # the WCS is ICRS; FK5 differs by ~20 mas (5 IRIS pixels), so the file's fk5 is converted
    centre = wcs.pixel_to_world(30.0, 20.0).transform_to("fk5")
    ra, dec = centre.ra.deg, centre.dec.deg
    path = tmp_path / "night.reg"
    path.write_text(f"# Region file format: DS9 version 4.1\nfk5\ncircle({ra:.12f},{dec:.12f},"
                    f"0.02\")\nimage\npolygon(11,11,21,11,16,19)\npoint(5,5)\n")
    view.state.regions = (RegionSpec("box", 1.0, 1.0, 4.0, 4.0),)
    assert view.load_regions(path)
    box, circle, polygon = view.state.regions
    assert box == RegionSpec("box", 1.0, 1.0, 4.0, 4.0)      # added to, as DS9 does
    assert (circle.x0, circle.y0, circle.width) == pytest.approx((30.0, 20.0, 5.0), abs=1e-6)
    assert polygon.points == ((10.0, 10.0), (20.0, 10.0), (15.0, 18.0))
    note = view.region_panel.file_note.text()
    assert note.startswith("Loaded 2 regions from night.reg (1 in sky coordinates")
    assert "region 3: a point" in note
    assert failures == []
    assert len(view.region_overlay.rois["B"]) == 3


def test_save_in_image_and_fk5_reads_back_with_regions(qtbot, view, tmp_path, failures):
    result = shown(qtbot, view, hand_result())
    specs = (RegionSpec("circle", 30.0, 20.0, 5.0), RegionSpec("box", 4.0, 2.0, 10.0, 6.0, 15.0))
    view.state.regions = specs
    image_path = tmp_path / "image.reg"
    assert view.save_regions(image_path)
    parsed = rg.Regions.parse(image_path.read_text(), format="ds9")
    assert [rf.region_to_spec(r) for r in parsed] == list(specs)
    view.region_panel.coords.setCurrentIndex(1)          # fk5, as a person picks it
    assert view.state.region_coords == "fk5"
    sky_path = tmp_path / "sky.reg"
    assert view.save_regions(sky_path)
    assert sky_path.read_text().splitlines()[1] == "fk5"
    wcs = result.input_model.wcs
    back = [rf.region_to_spec(r.to_pixel(wcs))
            for r in rg.Regions.parse(sky_path.read_text(), format="ds9")]
    for spec, got in zip(specs, back, strict=True):
        assert (got.x0, got.y0, got.width, got.angle) == pytest.approx(
            (spec.x0, spec.y0, spec.width, spec.angle), abs=1e-6)
    assert "Saved 2 regions to sky.reg (fk5 through pane A's WCS)" == \
        view.region_panel.file_note.text()
    assert failures == []


def test_region_file_failures_are_one_message_naming_the_file(qtbot, view, tmp_path, failures):
    result = shown(qtbot, view, hand_result())
    result.input_model.wcs = result.steps["flat_field"].model.wcs = None
    shown(qtbot, view, result)
    sky = tmp_path / "sky.reg"
    sky.write_text('fk5\ncircle(150,2.2,1")\n')
    assert not view.load_regions(sky)
    assert failures[-1][0] == "Cannot load regions"
    assert str(sky) in failures[-1][1] and "no WCS" in failures[-1][1]
    assert view.state.regions == ()
    assert not view.load_regions(tmp_path / "missing.reg")
    assert "missing.reg" in failures[-1][1]
    view.state.regions = (RegionSpec("circle", 30.0, 20.0, 5.0),)
    view.state.region_coords = "fk5"
    out = tmp_path / "out.reg"
    assert not view.save_regions(out)
    assert "out.reg" in failures[-1][1] and "WCS" in failures[-1][1]
    assert not out.exists()
    # never onto an input file
    view.state.region_coords = "image"
    source = tmp_path / "hand_rate.fits"
    source.write_bytes(b"SIMPLE")
    result.product.members[0].path = str(source)
    assert not view.save_regions(source)
    assert "input" in failures[-1][1] and source.read_bytes() == b"SIMPLE"
