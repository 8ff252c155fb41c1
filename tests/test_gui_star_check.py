"""The Star check dock (pytest-qt, offscreen): in pick mode a real click on a star measures it in
both panes (flat_field: the flux divided by the flat, the shape kept), the table and the markers
show it, a click on the sky says there is no star and adds nothing, pick mode off ignores
clicks; in the real window the View menu has the dock and the K action."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from test_gui_view_header import view_menu_action  # noqa: E402
from test_inspection_view import on_screen, settle, shown  # noqa: E402
from test_star_check import FWHM_PER_SIGMA, gaussian_star  # noqa: E402

from iris_gui.display import view_sources as vs  # noqa: E402
from iris_gui.engine.association import Member, Product  # noqa: E402
from iris_gui.engine.config import PipelineConfig  # noqa: E402
from iris_gui.engine.models import ImageModel  # noqa: E402
from iris_gui.engine.pipeline import ProductResult  # noqa: E402
from iris_gui.engine.steps import StepResult  # noqa: E402
from iris_gui.gui.image_view import StepImageView  # noqa: E402
from iris_gui.gui.view_star_check import StarCheckPanel  # noqa: E402

STAR = (40.3, 33.6)
SIGMA = 1.4


def star_result(flat=0.8):
    """Before: one Gaussian star on a sky of 50; after flat_field: before / ``flat``."""
    data = gaussian_star((72, 96), *STAR, SIGMA, 500.0, sky=50.0).astype(np.float32)
    rng = np.random.default_rng(3)
    data += rng.normal(0, 0.5, data.shape).astype(np.float32)
    before = ImageModel(data, np.ones_like(data), np.zeros(data.shape, np.uint32))
    after = before.derive(data=(data / np.float32(flat)).astype(np.float32))
    product = Product("starry", [Member("starry_rate.fits", "science")])
    result = ProductResult(product, PipelineConfig(), "", input_model=before)
    result.steps["flat_field"] = StepResult("COMPLETE", after)
    return result


@pytest.fixture()
def view(qtbot):
    yield from on_screen(qtbot, StepImageView())


@pytest.fixture()
def panel(qtbot, view):
    panel = StarCheckPanel(view)
    qtbot.addWidget(panel)
    panel.resize(700, 400)
    panel.show()
    return panel


def click(qtbot, pane, x, y):
    """A real left click at view position (x, y) of ``pane`` (press and release, no drag)."""
    scene = pane.view_box.mapViewToScene(QPointF(x, y))
    point = pane.plot.mapFromScene(scene)
    qtbot.mouseClick(pane.plot.viewport(), Qt.MouseButton.LeftButton, pos=point)


def wait_measured(qtbot, panel):
    qtbot.waitUntil(lambda: not panel.busy, timeout=30_000)
    qtbot.wait(20)


def test_a_click_on_a_star_measures_it_in_both_panes(qtbot, view, panel):
    shown(qtbot, view, star_result())
    view.state.star_pick = True
    assert view.view_actions.star_pick.isChecked() and panel.pick_button.isChecked()
    click(qtbot, view.left, 41.4, 34.2)              # a pixel off the star's centre
    wait_measured(qtbot, panel)
    (check,) = view.state.star_checks
    assert (check.product, check.step, check.clicked) == ("starry", "flat_field", "A")
    a, b = check.measure("A"), check.measure("B")
    assert (a.label, b.label) == (vs.BEFORE, vs.AFTER)
    assert (a.x, a.y) == pytest.approx(STAR, abs=0.02)
    assert b.position_by == "same pixel" and (b.x, b.y) == pytest.approx((a.x, a.y), abs=1e-3)
    assert a.fwhm_px == pytest.approx(FWHM_PER_SIGMA * SIGMA, rel=0.02)
    assert check.flux_ratio() == pytest.approx(1 / 0.8, rel=1e-4)
    assert check.fwhm_ratio() == pytest.approx(1.0, abs=1e-3)
    assert a.sky == pytest.approx(50.0, abs=0.1) and b.sky == pytest.approx(62.5, abs=0.15)
    # the table: a title row, A, B and the B / A ratios
    table = panel.table
    assert table.rowCount() == 4
    assert table.item(0, 0).text().startswith("Star 1 — starry · flat_field: pane A clicked")
    assert table.item(1, 0).text() == "A: Before" and table.item(1, 0).toolTip() == \
        f"A: {vs.BEFORE}"
    assert table.item(2, 6).text() == f"{b.x:.2f}" and table.item(2, 1).text() == f"{b.flux:.6g}"
    assert table.item(3, 0).text() == "B / A" and table.item(3, 1).text() == \
        f"{check.flux_ratio():.6g}"
    assert "stars" in view.state.docks                 # the dock is asked for
    assert panel.note.text().startswith("Star 1 measured: flux B / A = 1.25")
    # the aperture and the two annulus circles in each pane, at the centroid
    for pane in (view.left, view.right):
        marks = panel.markers.items[pane.name].marks
        assert len(marks) == 1
        number, x, y, aperture, inner, outer = marks[0]
        assert number == 1 and (x, y) == pytest.approx((a.x, a.y), abs=1e-6)
        assert (aperture, inner, outer) == pytest.approx(check.radii)
        # painted: the aperture's solid circle crosses the row of the centre at x + r
        picture = pane.plot.grab().toImage()
        for radius in (aperture, outer):
            at = pane.plot.mapFromScene(pane.view_box.mapViewToScene(QPointF(x + radius, y)))
            near = [picture.pixelColor(at.x() + dx, at.y() + dy) for dx in (-1, 0, 1)
                    for dy in (-1, 0, 1)]
            assert any(c.red() > 200 and 100 < c.green() < 180 and c.blue() < 60 for c in near)
    # copy as text
    text = panel.copy()
    assert QGuiApplication.clipboard().text() == text
    assert text.splitlines()[1].split("\t")[0] == "Pane" and "B / A" in text


def test_a_click_on_the_sky_or_near_the_edge_says_why_and_adds_nothing(qtbot, view, panel):
    shown(qtbot, view, star_result())
    view.state.star_pick = True
    click(qtbot, view.right, 75.0, 40.0)
    wait_measured(qtbot, panel)
    assert view.state.star_checks == ()
    # (a click lands on a screen pixel: within a tenth of a frame pixel of the asked place)
    assert re.match(r"no star at x = 7[45]\.\d, y = [34]\d\.\d: the brightest pixel", panel.note.text())
    click(qtbot, view.left, 5.0, 30.0)
    wait_measured(qtbot, panel)
    assert view.state.star_checks == ()
    assert re.match(r"too near the edge: x = [45]\.\d, y = [23]\d\.\d is [45]\.\d px from the "
                    r"frame's edge", panel.note.text())


def test_clicks_do_nothing_outside_pick_mode_and_radii_edit_the_state(qtbot, view, panel):
    shown(qtbot, view, star_result())
    click(qtbot, view.left, *STAR)
    wait_measured(qtbot, panel)
    assert view.state.star_checks == () and not panel.busy
    panel.radius_boxes[0].setValue(5.0)
    panel.radius_boxes[0].editingFinished.emit()
    assert view.state.star_radii == (5.0, 8.0, 12.0)
    panel.radius_boxes[2].setValue(6.0)              # outer below inner: refused, said
    panel.radius_boxes[2].editingFinished.emit()
    assert view.state.star_radii == (5.0, 8.0, 12.0) and panel.radius_boxes[2].value() == 12.0
    assert panel.note.text().startswith("Radii not changed")
    # a restored state re-draws: checks of another step are not drawn on this one
    view.state.star_pick = True
    click(qtbot, view.left, *STAR)
    wait_measured(qtbot, panel)
    check = view.state.star_checks[0]
    view.state.star_checks = (check.__class__(**{**check.__dict__, "step": "dark_current"}),)
    settle(qtbot, view)
    assert panel.markers.items["A"].marks == [] == panel.markers.items["B"].marks
    panel.remove_last()
    assert view.state.star_checks == () and panel.table.rowCount() == 0


def test_the_window_has_the_dock_and_the_pick_key(qtbot, window):
    action = view_menu_action(window, "Star check: pic&k a star")
    assert action.shortcut().toString() == "K" and action.isCheckable()
    action.trigger()
    assert window.workbench.view.star_pick
    dock_action = view_menu_action(window, "Star check dock")
    dock_action.trigger()
    assert "stars" in window.workbench.view.docks
    assert window.inspection_docks["stars"].isVisible()
