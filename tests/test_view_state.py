"""The inspection view shows its ``ViewState`` and writes edits there: a change of the state
updates the controls and the panes, a user's edit of a control writes the state, and a view
built from a restored state shows what the original showed (pytest-qt, offscreen)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from test_inspection_view import NX, NY, hand_result, settle  # noqa: E402

from iris_gui.display import maths as im  # noqa: E402
from iris_gui.display import view_sources as vs  # noqa: E402
from iris_gui.engine.association import Member, Product  # noqa: E402
from iris_gui.gui import view_zoom as zoom  # noqa: E402
from iris_gui.gui.image_view import StepImageView  # noqa: E402
from iris_gui.state.view_state import BLINK, RegionSpec, ViewState  # noqa: E402


def make_view(qtbot, state=None):
    widget = StepImageView(state)
    widget.resize(1300, 760)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture()
def views(qtbot):
    made = []

    def build(state=None):
        made.append(make_view(qtbot, state))
        return made[-1]

    yield build
    for widget in made:
        widget.shutdown()
        assert not widget.runner.busy and widget.runner.pool.activeThreadCount() == 0


def shown(qtbot, view, result, step="flat_field", others=()):
    view.show_step(result, step, others)
    settle(qtbot, view)
    return result


def test_a_state_change_updates_the_controls_and_the_panes(qtbot, views):
    view = views()
    result = shown(qtbot, view, hand_result())
    before = result.input_model
    view.state.stretch = "log"
    assert view.controls.stretch.currentText() == "log"          # shown at once
    settle(qtbot, view)
    low, high = view.resolved["A"]
    np.testing.assert_array_equal(view.left.index, im.quantize(before.data, low, high, "log"))
    view.state.choose("flat_field", "B", vs.DIFFERENCE)
    settle(qtbot, view)
    assert view.right.choice.currentText() == vs.DIFFERENCE
    np.testing.assert_array_equal(view.right.array,
                                  result.steps["flat_field"].model.data - before.data)
    view.state.update(colormap="viridis", limits="minmax", dq_overlay=True, one_based=True,
                      layout=BLINK, blink_hz=5.0, region_ignores_flagged=True,
                      overlay_opacity=0.5, histogram_role="B", same_levels=True)
    c = view.controls
    assert (c.colormap.currentText(), c.limits.currentText(), c.index_base.currentIndex(),
            c.layout_choice.currentIndex(), c.blink_rate.value()) == \
        ("viridis", "minmax", 1, 1, 5.0)
    assert view.dq_panel.enabled.isChecked() and view.view_actions.dq.isChecked()
    assert view.dq_panel.opacity.value() == 50
    assert view.region_panel.ignore_flagged.isChecked() and c.same_levels.isChecked()
    assert view.view_actions.blink.isChecked()
    settle(qtbot, view)
    assert not view.right.isVisible()
    finite = before.data[np.isfinite(before.data)]
    assert view.resolved["A"] == (float(finite.min()), float(finite.max()))
    assert view.right.overlay.isVisible() is False and view.left.overlay.isVisible()
    # showing a value is not an edit: nothing was written back
    assert view.state.histogram_role == "B" and view.state.limits == "minmax"


def test_user_edits_write_the_state(qtbot, views):
    view = views()
    shown(qtbot, view, hand_result(shape=(3, NY, NX)))
    state, c = view.state, view.controls
    c.stretch.setCurrentText("asinh")
    c.limits.setCurrentText("percentile")
    c.percent.setCurrentText("95")
    c.colormap.setCurrentText("magma")
    qtbot.mouseClick(view.dq_panel.enabled, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(view.dq_panel.newly, Qt.MouseButton.LeftButton)
    view.dq_panel.opacity.setValue(40)
    qtbot.mouseClick(c.same_levels, Qt.MouseButton.LeftButton)
    c.index_base.setCurrentIndex(1)
    c.blink_rate.setValue(4.0)
    c.plane_slider.setValue(2)
    qtbot.mouseClick(view.region_panel.ignore_flagged, Qt.MouseButton.LeftButton)
    view.histogram.role.setCurrentIndex(1)
    assert (state.stretch, state.limits, state.percent, state.colormap) == \
        ("asinh", "percentile", 95.0, "magma")
    assert state.dq_overlay and state.newly_flagged and state.overlay_opacity == 0.4
    assert state.same_levels is False and state.one_based and state.blink_hz == 4.0
    assert state.plane == 2 and state.region_ignores_flagged and state.histogram_role == "B"
    # the pane menu, picked with the keyboard as a person does
    combo = view.right.choice
    combo.setFocus()
    QTest.keyClick(combo, Qt.Key.Key_Down)
    assert state.choice("flat_field", "B") == combo.currentText() == vs.DIFFERENCE
    assert state.same_levels is None            # a new pair: its default sharing again
    # the limit fields write manual levels of the histogram's pane
    settle(qtbot, view)
    c.low_edit.setText("10")
    c.high_edit.setText("20")
    QTest.keyClick(c.high_edit, Qt.Key.Key_Return)
    assert state.limits == "manual" and state.manual_levels["B"] == (10.0, 20.0)
    # a DQ row's tick
    settle(qtbot, view)
    table = view.dq_panel.table
    row = next(r for r in range(table.rowCount()) if table.item(r, 1).text().startswith("NO_"))
    table.item(row, 0).setCheckState(Qt.CheckState.Unchecked)
    assert state.dq_hidden == ("NO_FLAT_FIELD",)
    # layout and blink
    c.layout_choice.setCurrentIndex(1)
    assert state.layout == BLINK
    qtbot.mouseClick(c.auto_blink, Qt.MouseButton.LeftButton)
    assert state.auto_blink and view.blink_timer.isActive()
    c.layout_choice.setCurrentIndex(0)
    assert state.layout == "side" and not state.auto_blink and not view.blink_timer.isActive()


def test_pane_choices_are_kept_per_step_and_a_missing_one_falls_back(qtbot, views):
    view = views()
    result = hand_result()
    result.steps["dark_current"] = result.steps["flat_field"]
    shown(qtbot, view, result, "flat_field")
    view.choose("B", vs.RATIO)
    shown(qtbot, view, result, "dark_current")        # no Ratio there: its default
    assert view.right.choice.currentText() == vs.AFTER
    assert view.state.choice("dark_current", "B") is None      # the default is not written
    shown(qtbot, view, result, "flat_field")
    assert view.right.choice.currentText() == vs.RATIO
    view.state.choose("dark_current", "A", "no such view")
    shown(qtbot, view, result, "dark_current")
    assert view.left.choice.currentText() == vs.BEFORE
    assert view.state.choice("dark_current", "A") == "no such view"


def test_no_other_products_frame_after_the_product_changes(qtbot, views):
    """The workbench calls forget_other_products when the product changes: a choice of
    "After — second" made on the first product is not shown for the third."""
    def named(name, seed):
        result = hand_result(seed=seed)
        result.product = Product(name, [Member(f"{name}_rate.fits", "science")])
        return result

    first, second, third = named("first", 1), named("second", 2), named("third", 3)
    view = views()
    shown(qtbot, view, first, others=[second, third])
    view.choose("B", vs.other_product_label("second"))
    settle(qtbot, view)
    assert view.right.array is second.steps["flat_field"].model.data
    view.state.forget_other_products()                      # what Workbench.select does
    shown(qtbot, view, third, others=[first, second])
    assert vs.other_product_label("second") in view.views.sources
    assert view.right.choice.currentText() == vs.AFTER
    assert view.right.array is third.steps["flat_field"].model.data


def test_same_levels_none_is_the_default_of_the_pair(qtbot, views):
    view = views()
    shown(qtbot, view, hand_result())
    assert view.state.same_levels is None and view.controls.same_levels.isChecked()
    assert view.resolved["A"] == view.resolved["B"]
    view.state.same_levels = False
    settle(qtbot, view)
    assert not view.controls.same_levels.isChecked() and not view.view_actions.same.isChecked()
    assert view.resolved["A"] != view.resolved["B"]
    view.state.same_levels = None
    view.choose("B", vs.DIFFERENCE)                          # not Before/After: not shared
    settle(qtbot, view)
    assert not view.controls.same_levels.isChecked()


def _wheel(pane, steps=2):
    """A real mouse-wheel zoom over the centre of ``pane``."""
    widget = pane.plot.viewport()
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, widget.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_zoom_is_written_to_the_state_and_restored(qtbot, views):
    view = views()
    shown(qtbot, view, hand_result())
    assert view.state.view_range is None
    _wheel(view.right)
    assert view.state.view_range is None                    # debounced
    qtbot.waitUntil(lambda: view.state.view_range is not None, timeout=zoom.DEBOUNCE_MS * 10)
    (x0, x1), (y0, y1) = view.left.view_box.viewRange()
    assert view.state.view_range == pytest.approx((x0, x1, y0, y1), abs=1e-3)
    assert x1 - x0 < NX                                     # zoomed in
    # undo / a session sets the range: it is shown; None fits
    view.state.view_range = (10.0, 30.0, 5.0, 25.0)
    (x0, x1), (y0, y1) = view.left.view_box.viewRange()
    assert x0 <= 10.0 + 1e-6 and x1 >= 30.0 - 1e-6 and y0 <= 5.0 + 1e-6 and y1 >= 25.0 - 1e-6
    assert min(x1 - x0, y1 - y0) == pytest.approx(20.0, rel=1e-3)
    qtbot.mouseClick(view.controls.fit_button, Qt.MouseButton.LeftButton)
    assert view.state.view_range is None
    (x0, x1), (y0, y1) = view.left.view_box.viewRange()
    assert x0 <= -0.5 and x1 >= NX - 0.5 and y0 <= -0.5 and y1 >= NY - 0.5
    # a pending zoom is written by sync_view_range (the window calls it before saving)
    _wheel(view.left)
    view.sync_view_range()
    assert view.state.view_range is not None


def test_several_regions_each_with_statistics_and_edits_through_the_callback(qtbot, views):
    view = views()
    result = shown(qtbot, view, hand_result())
    after = result.steps["flat_field"].model
    edits = []

    def edit(regions, text):
        edits.append(text)
        view.state.regions = tuple(regions)

    view.edit_regions = edit
    qtbot.mouseClick(view.region_panel.box_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(view.region_panel.circle_button, Qt.MouseButton.LeftButton)
    assert edits == ["add box", "add circle"]
    assert [r.kind for r in view.state.regions] == ["box", "circle"]
    assert [len(view.region_overlay.rois[r]) for r in "AB"] == [2, 2]
    qtbot.waitUntil(lambda: len(view.region_stats) == 2, timeout=5000)
    text = view.region_panel.text.toPlainText()
    assert "Region 1: box" in text and "Region 2: circle" in text
    # dragging the circle in pane B moves it in A and writes "move region"
    view.region_overlay.rois["B"][1].setPos((20.0, 10.0))
    assert edits[-1] == "move region"
    assert tuple(view.region_overlay.rois["A"][1].pos()) == (20.0, 10.0)
    circle = view.state.regions[1]
    assert (circle.kind, circle.x0 - circle.width, circle.y0 - circle.width) == \
        ("circle", 20.0, 10.0)
    moved = f"circle centre ({circle.x0:.1f}, {circle.y0:.1f})"
    qtbot.waitUntil(lambda: moved in view.region_panel.text.toPlainText(), timeout=5000)
    assert view.region_stats[1]["B"].n == _circle_count(circle)
    stats = view.region_stats[1]["B"]
    yy, xx = np.mgrid[0:NY, 0:NX]
    inside = (xx - circle.x0) ** 2 + (yy - circle.y0) ** 2 <= circle.width ** 2
    values = after.data[inside]
    assert stats.mean == pytest.approx(float(values[np.isfinite(values)].mean()), rel=1e-6)
    qtbot.mouseClick(view.region_panel.clear_button, Qt.MouseButton.LeftButton)
    assert edits[-1] == "clear regions" and view.state.regions == ()


def _circle_count(circle):
    yy, xx = np.mgrid[0:NY, 0:NX]
    return int(((xx - circle.x0) ** 2 + (yy - circle.y0) ** 2 <= circle.width ** 2).sum())


def test_a_view_built_from_a_restored_state_shows_the_same(qtbot, views):
    result = hand_result(shape=(2, NY, NX))
    original = views()
    shown(qtbot, original, result)
    original.choose("B", vs.RATIO)
    original.state.update(stretch="sqrt", colormap="inferno", dq_overlay=True, plane=1,
                          regions=(RegionSpec("box", 4.0, 2.0, 30.0, 20.0),
                                   RegionSpec("circle", 40.0, 30.0, 5.0)))
    original.state.set_flag_shown("HOT", False)
    settle(qtbot, original)
    original.controls.high_edit.setText("1500")
    original.controls.high_edit.editingFinished.emit()
    original.state.view_range = (5.0, 45.0, 3.0, 40.0)
    qtbot.waitUntil(lambda: len(original.region_stats) == 2, timeout=5000)
    settle(qtbot, original)

    restored_state = ViewState()
    assert restored_state.apply_dict(original.state.to_dict()) == []
    restored = views(restored_state)
    shown(qtbot, restored, result)
    qtbot.waitUntil(lambda: len(restored.region_stats) == 2, timeout=5000)
    settle(qtbot, restored)
    for role in "AB":
        a, b = original.panes[role], restored.panes[role]
        assert a.choice.currentText() == b.choice.currentText()
        np.testing.assert_array_equal(a.array, b.array)
        np.testing.assert_array_equal(a.index, b.index)
        np.testing.assert_array_equal(a.overlay.image, b.overlay.image)
        np.testing.assert_array_equal(a.lut, b.lut)
    assert restored.right.choice.currentText() == vs.RATIO
    assert restored.resolved == original.resolved and restored.resolved["A"][1] == 1500.0
    assert restored.controls.plane_label.text() == "Integration 2/2"
    assert restored.region_panel.text.toPlainText() == original.region_panel.text.toPlainText()
    assert [len(restored.region_overlay.rois[r]) for r in "AB"] == [2, 2]
    # the stored zoom is shown (the aspect lock widens the other axis to the pane's shape)
    for view in (original, restored):
        (x0, x1), (y0, y1) = view.left.view_box.viewRange()
        assert (x0, x1) == pytest.approx((5.0, 45.0)) and y0 <= 3.0 and y1 >= 40.0
    table = restored.dq_panel.table
    hot = next(r for r in range(table.rowCount()) if table.item(r, 1).text().startswith("HOT"))
    assert table.item(hot, 0).checkState() == Qt.CheckState.Unchecked
