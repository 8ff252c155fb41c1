"""Contours, the RA/Dec grid and the compass over the panes, and their dock (pytest-qt,
offscreen): the lines drawn are those of display.contours / display.wcs_grid for the state's
settings, of the pane's own frame or the other pane's, on the pane whose WCS it is; typed
levels are used, a bad list is refused in words; the View menu keys."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from test_gui_view_header import view_menu_action  # noqa: E402
from test_inspection_view import hand_result, on_screen, settle, shown  # noqa: E402

from iris_gui.display import contours as ct  # noqa: E402
from iris_gui.display import wcs_grid as wg  # noqa: E402
from iris_gui.gui.image_view import StepImageView  # noqa: E402
from iris_gui.gui.view_overlay_panel import OverlayPanel  # noqa: E402


@pytest.fixture()
def view(qtbot):
    yield from on_screen(qtbot, StepImageView())


@pytest.fixture()
def panel(qtbot, view):
    panel = OverlayPanel(view)
    qtbot.addWidget(panel)
    panel.resize(420, 600)
    panel.show()
    return panel


def drawn(item):
    return np.column_stack(item.drawn_points())


def joined(parts):
    parts = [p for p in parts if len(p)]
    gap = np.full((1, 2), np.nan)
    return np.concatenate([q for p in parts for q in (p, gap)][:-1])


def shown_in_order(shown, labels):
    """Every label but those left out for covering another on screen (at most two here)."""
    kept = iter(labels)
    return all(text in kept for text in shown) and len(shown) >= len(labels) - 2


def test_contours_by_count_of_the_panes_own_frame(qtbot, view, panel):
    result = shown(qtbot, view, hand_result())
    panel.contour_boxes["A"].setChecked(True)          # as a person ticks it
    assert view.state.contours == ("A",)
    panel.count_box.setValue(4)
    settle(qtbot, view)
    low, high = view.resolved["A"]
    levels = ct.levels_by_count(4, low, high)
    assert levels == pytest.approx([low + (high - low) * k / 5 for k in (1, 2, 3, 4)])
    sets, factor = ct.contour_lines(result.input_model.data, levels)
    assert factor == 1                                 # a 64 x 48 frame: not averaged
    items = view.overlays.items
    np.testing.assert_array_equal(drawn(items["A"].contours),
                                  joined([s.points for s in sets]))
    assert items["A"].contours.isVisible() and not items["B"].contours.isVisible()
    note = view.overlays.notes["A"]["contours"]
    assert f"4 levels evenly spaced between pane A's zscale limits {low:.5g} and {high:.5g}" \
        in note and ct.format_levels(levels) in note
    assert note in panel.notes.text()


def test_contours_of_the_other_panes_frame_and_typed_levels(qtbot, view, panel):
    result = shown(qtbot, view, hand_result())
    view.state.update(contours=("B",), contour_frame="other")
    panel.levels_field.setText("600, 300 450")
    panel.levels_field.editingFinished.emit()          # as Enter does
    assert view.state.contour_levels == (300.0, 450.0, 600.0)
    assert view.state.contour_mode == "list"
    assert panel.mode_box.currentIndex() == 1 and not panel.count_box.isEnabled()
    settle(qtbot, view)
    # the input's contours over the output
    sets, _ = ct.contour_lines(result.input_model.data, (300.0, 450.0, 600.0))
    np.testing.assert_array_equal(drawn(view.overlays.items["B"].contours),
                                  joined([s.points for s in sets]))
    assert "Contours of pane A (Before (input))" in view.overlays.notes["B"]["contours"]
    # a bad list: said in red, the state keeps its levels
    panel.levels_field.setText("600, lots")
    panel.levels_field.editingFinished.emit()
    assert panel.levels_error.isVisibleTo(panel)
    assert panel.levels_error.text() == "Levels not used: contour level 'lots' is not a number"
    assert view.state.contour_levels == (300.0, 450.0, 600.0)
    assert not panel.apply_levels_text("")
    assert panel.levels_error.text().startswith("Levels not used: no contour levels given")
    # the state pushes its list into the field (a session, undo) and clears the complaint
    view.state.contour_levels = (1.0, 2.5)
    assert panel.levels_field.text() == "1, 2.5" and not panel.levels_error.isVisibleTo(panel)


def test_the_grid_is_the_panes_own_wcs_and_follows_the_area_shown(qtbot, view, panel):
    result = hand_result(step="assign_wcs")
    result.input_model.wcs = None                      # before assign_wcs: no WCS
    shown(qtbot, view, result, step="assign_wcs")
    panel.grid_boxes["A"].setChecked(True)
    panel.grid_boxes["B"].setChecked(True)
    panel.compass_boxes["B"].setChecked(True)
    assert view.state.wcs_grid == ("A", "B") and view.state.compass == ("B",)
    settle(qtbot, view)
    items = view.overlays.items
    assert not items["A"].grid.isVisible()
    assert "has no WCS" in view.overlays.notes["A"]["grid"]
    after = result.steps["assign_wcs"].model
    grid = wg.wcs_grid(after.wcs, after.image_shape)
    np.testing.assert_allclose(drawn(items["B"].grid),
                               joined([np.column_stack([ln.x, ln.y]) for ln in grid.lines]))
    assert shown_in_order(items["B"].labels.shown(),
                          [ln.label for ln in grid.lines if ln.label_at is not None])
    assert items["B"].compass_labels.shown() == ["N", "E", grid.compass.bar_label]
    assert items["B"].compass.isVisible() and not items["A"].compass.isVisible()
    # zoomed in: the steps of the area shown
    view.state.view_range = (20.0, 40.0, 15.0, 30.0)
    settle(qtbot, view)
    zoomed = wg.wcs_grid(after.wcs, after.image_shape, (20.0, 40.0, 15.0, 30.0))
    assert zoomed.ra_step_ms < grid.ra_step_ms
    assert shown_in_order(items["B"].labels.shown(),
                          [ln.label for ln in zoomed.lines if ln.label_at is not None])
    assert "every " in view.overlays.notes["B"]["grid"]
    view.state.wcs_grid = ()
    settle(qtbot, view)
    assert not items["B"].grid.isVisible() and items["B"].compass.isVisible()


def test_blink_carries_the_overlays_of_the_role_shown(qtbot, view):
    shown(qtbot, view, hand_result())
    view.state.update(contours=("B",), layout="blink", blink_phase=0)
    settle(qtbot, view)
    items = view.overlays.items
    assert not items["A"].contours.isVisible()         # the pane shows A: no contours
    view.flip()
    settle(qtbot, view)
    assert items["A"].contours.isVisible()             # now it shows B
    assert not items["B"].contours.isVisible()         # (the right pane is hidden)


def test_the_view_menu_keys_switch_them_on_both_panes(qtbot, window):
    for text, key, name in (("C&ontours on the panes", "O", "contours"),
                            ("RA/Dec &grid on the panes", "G", "wcs_grid"),
                            ("Compass and scale bar on the panes", "Shift+G", "compass")):
        action = view_menu_action(window, text)
        assert action.shortcut().toString() == key
        action.trigger()
        assert getattr(window.workbench.view, name) == ("A", "B")
        action.trigger()
        assert getattr(window.workbench.view, name) == ()
    view_menu_action(window, "Contours and grid dock").trigger()
    panel = window.inspection_panels["overlays"]
    qtbot.waitUntil(panel.isVisible, timeout=5000)
    window.workbench.view.wcs_grid = ("B",)
    assert panel.grid_boxes["B"].isChecked() and not panel.grid_boxes["A"].isChecked()


def test_labels_that_would_cover_each_other_on_screen_are_left_out(qtbot, view):
    shown(qtbot, view, hand_result())
    labels = view.overlays.items["A"].labels
    # one view pixel is several screen pixels here: 1 pixel apart the texts overlap
    texts = [("10h00m00.000s", 10.0, 5.0, (0.5, 1.0)), ("10h00m00.004s", 11.0, 5.0, (0.5, 1.0)),
             ("10h00m00.008s", 40.0, 5.0, (0.5, 1.0))]
    labels.show(texts, no_overlap=True)
    assert labels.shown() == ["10h00m00.000s", "10h00m00.008s"]
    labels.show(texts)
    assert len(labels.shown()) == 3


def test_a_pan_queues_only_the_latest_grid(qtbot, view):
    import threading

    result = shown(qtbot, view, hand_result())
    release = threading.Event()
    for k in range(view.runner.threads):              # both pool threads busy
        view.runner.submit(("hold", k), release.wait, 10)
    view.state.wcs_grid = ("A",)
    for shift in range(5):                             # five pans before a thread is free
        view.state.view_range = (10.0 + shift, 40.0 + shift, 10.0, 30.0)
        view.overlays.update()
    queued = [k for k in view.runner._queued if k[0] == "grid"]
    assert queued == [("grid", id(result.input_model.wcs), (48, 64), (14.0, 44.0, 10.0, 30.0))]
    assert set(view.overlays._keep) == set(queued)
    release.set()
    settle(qtbot, view)
    assert view.overlays.items["A"].shown["grid"] == queued[0]
