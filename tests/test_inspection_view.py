"""The inspection views driven as a person uses them (pytest-qt, offscreen), on small hand-made
step results whose pixel values, DQ flags and WCS are known. Every test shuts the view down, which
waits for its worker threads."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from factories import make_model  # noqa: E402
from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from iris_gui.display import maths as im  # noqa: E402
from iris_gui.display import view_sources as vs  # noqa: E402
from iris_gui.display.colour_tables import dq_colour_index  # noqa: E402
from iris_gui.engine.association import Member, Product  # noqa: E402
from iris_gui.engine.config import PipelineConfig  # noqa: E402
from iris_gui.engine.dq import DQ_FLAGS, flag_counts  # noqa: E402
from iris_gui.engine.pipeline import ProductResult  # noqa: E402
from iris_gui.engine.steps.base import StepResult  # noqa: E402
from iris_gui.engine.wcs import tan_wcs  # noqa: E402
from iris_gui.gui import view_export as export  # noqa: E402
from iris_gui.gui.image_view import BLINK, SIDE_BY_SIDE, StepImageView  # noqa: E402
from iris_gui.state.view_state import RegionSpec  # noqa: E402

NY, NX = 48, 64          # not square: a swapped x/y shows up
DNU, HOT, NOFLAT = DQ_FLAGS["DO_NOT_USE"], DQ_FLAGS["HOT"], DQ_FLAGS["NO_FLAT_FIELD"]


def hand_result(shape=(NY, NX), step="flat_field", seed=2) -> ProductResult:
    """Before: ramp + noise with a NaN and DQ flags; after = before / 0.8 (+ new flags)."""
    rng = np.random.default_rng(seed)
    ny, nx = shape[-2:]
    yy, xx = np.mgrid[0:ny, 0:nx]
    data = (100.0 + xx + 1000.0 * yy / ny + rng.normal(0, 1, (ny, nx))).astype(np.float32)
    if len(shape) == 3:
        data = np.stack([data + 50.0 * k for k in range(shape[0])])
    err = np.full(data.shape, 2.0, np.float32) + (xx % 3).astype(np.float32)
    dq = np.zeros(data.shape, np.uint32)
    data[..., 7, 9] = np.nan
    dq[..., 3, 5] = DNU
    dq[..., 10, 20] = HOT | DNU
    dq[..., 40, 60] = HOT
    before = make_model(data, err, dq)
    after_dq = dq.copy()
    after_dq[..., 12, 30] |= NOFLAT
    after_dq[..., 3, 5] |= NOFLAT
    after = before.derive(data=(data / np.float32(0.8)).astype(np.float32),
                          err=(err * np.float32(1.1)).astype(np.float32), dq=after_dq)
    wcs = tan_wcs((150.0, 2.2), (nx / 2 + 0.5, ny / 2 + 0.5), 0.004 / 3600, 25.0)
    before.wcs = after.wcs = wcs
    product = Product("hand", [Member("hand_rate.fits", "science")])
    result = ProductResult(product, PipelineConfig(), "", input_model=before)
    result.steps[step] = StepResult("COMPLETE", after)
    return result


def on_screen(qtbot, widget: StepImageView):
    """The body of a view fixture: ``widget`` shown at the tests' size, then shut down with no
    worker thread left (``yield from on_screen(qtbot, StepImageView(...))``)."""
    widget.resize(1300, 760)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()
    assert not widget.runner.busy
    assert widget.runner.pool.activeThreadCount() == 0


@pytest.fixture()
def view(qtbot):
    yield from on_screen(qtbot, StepImageView())


def settle(qtbot, view, timeout=10_000):
    qtbot.waitUntil(lambda: not view.busy, timeout=timeout)


def shown(qtbot, view, result, step="flat_field", **kwargs):
    """``result``'s ``step`` shown (``kwargs`` go to ``show_step``) and drawn."""
    view.show_step(result, step, **kwargs)
    settle(qtbot, view)
    return result


def test_before_after_are_drawn_as_index_images(qtbot, view):
    result = shown(qtbot, view, hand_result())
    before, after = result.input_model, result.steps["flat_field"].model
    assert view.left.choice.currentText() == vs.BEFORE
    assert view.right.choice.currentText() == vs.AFTER
    assert view.left.array is before.data and view.right.array is after.data
    for pane, model in ((view.left, before), (view.right, after)):
        assert pane.index is not None and pane.index.shape == (NY, NX)
        assert np.shares_memory(pane.image.image, pane.index)  # no copy
        assert pane.image.qimage.format() == QImage.Format.Format_Indexed8
        low, high = view.resolved[pane.name]
        np.testing.assert_array_equal(pane.index, im.quantize(model.data, low, high, "linear"))
    # NaN: its own colour-table entry, excluded from the limits
    assert view.left.index[7, 9] == im.NAN_INDEX
    assert tuple(view.left.lut[im.NAN_INDEX]) == view.state.nan_colour
    assert all(np.isfinite(view.resolved["A"]))
    # every view of the step is offered
    labels = [view.left.choice.itemText(i) for i in range(view.left.choice.count())]
    assert labels[:4] == [vs.BEFORE, vs.AFTER, vs.DIFFERENCE, vs.RATIO]
    assert {vs.ERR_AFTER, vs.DQ_AFTER}.issubset(labels)


def _move_mouse(qtbot, view, pane, ix, iy):
    """A real mouse move over pixel (ix, iy) of ``pane`` (through the scene's signal)."""
    # anywhere inside the pixel: its centre is at (ix, iy), its edges half a pixel away
    scene_pos = pane.view_box.mapViewToScene(QPointF(ix + 0.3, iy - 0.4))
    pane.plot.scene().sigMouseMoved.emit(scene_pos)


@pytest.mark.parametrize("one_based", [False, True])
def test_readout_equals_the_models_at_known_pixels(qtbot, view, one_based):
    result = shown(qtbot, view, hand_result())
    before, after = result.input_model, result.steps["flat_field"].model
    view.controls.index_base.setCurrentIndex(1 if one_based else 0)   # as a person picks it
    assert view.state.one_based is one_based
    base = 1 if one_based else 0
    for ix, iy in ((0, 0), (20, 10), (63, 47), (5, 3)):
        _move_mouse(qtbot, view, view.right, ix, iy)
        assert view._cursor == (ix, iy)
        values = view.readout_values(ix, iy)
        assert values[0].value == float(before.data[iy, ix])
        assert values[1].value == float(after.data[iy, ix])
        assert values[0].err == float(before.err[iy, ix])
        assert values[1].dq == int(after.dq[iy, ix])
        text = view.readout.text()
        label = "1-based, FITS" if one_based else "0-based"
        assert text.startswith(f"x = {ix + base}, y = {iy + base} ({label})")
        lines = text.splitlines()
        assert im.format_value(before.data[iy, ix]) in lines[1]
        assert im.format_value(after.data[iy, ix]) in lines[2]
        # RA/Dec are the engine WCS at the 0-based pixel, whatever the label says
        ra, dec = after.wcs.all_pix2world([[ix, iy]], 0)[0]
        assert view.sky_at(ix, iy) == (pytest.approx(ra, abs=1e-12), pytest.approx(dec, abs=1e-12))
        assert im.format_sky(ra, dec) in lines[0]
    # both DQ mnemonics of the flagged pixel
    _move_mouse(qtbot, view, view.left, 20, 10)
    assert "DQ 2049 = DO_NOT_USE+HOT" in view.readout.text()
    _move_mouse(qtbot, view, view.left, 5, 3)
    assert "DQ 262145 = DO_NOT_USE+NO_FLAT_FIELD" in view.readout.text().splitlines()[2]
    # crosshair on the pixel centre in both panes
    assert view.left.vline.value() == 5 and view.right.hline.value() == 3


def test_difference_and_ratio_views(qtbot, view):
    result = shown(qtbot, view, hand_result())
    before, after = result.input_model, result.steps["flat_field"].model
    view.choose("B", vs.DIFFERENCE)
    settle(qtbot, view)
    assert not view.controls.same_levels.isChecked()       # not Before/After: own levels by default
    np.testing.assert_array_equal(view.right.array, after.data - before.data)
    assert view.readout_values(30, 12)[1].value == pytest.approx(
        float(after.data[12, 30] - before.data[12, 30]))
    view.choose("B", vs.RATIO)
    settle(qtbot, view)
    finite = np.isfinite(view.right.array)
    np.testing.assert_allclose(view.right.array[finite], 1 / 0.8, rtol=1e-6)
    assert view.right.index[7, 9] == im.NAN_INDEX


def test_dq_overlay_counts_equal_the_engine(qtbot, view):
    result = shown(qtbot, view, hand_result())
    before, after = result.input_model, result.steps["flat_field"].model
    view.dq_panel.enabled.setChecked(True)
    settle(qtbot, view)
    table = view.dq_panel.table
    rows = {table.item(r, 1).text().split()[0]: r for r in range(table.rowCount())}
    # one row per flag present, and the NaN markers (the NaN at (7, 9)) last
    assert list(rows)[-1] == "NaN"
    assert table.item(rows["NaN"], 2).text() == "1" == table.item(rows["NaN"], 3).text()
    del rows["NaN"]
    assert set(rows) == set(flag_counts(after.dq)) | set(flag_counts(before.dq))
    for name, row in rows.items():
        a = table.item(row, 2).text()
        b = table.item(row, 3).text()
        assert a == (f"{flag_counts(before.dq)[name]:,}" if name in flag_counts(before.dq) else "")
        assert b == f"{flag_counts(after.dq)[name]:,}"
    # the overlay image: the flag's colour index where flagged, 0 elsewhere (full resolution)
    overlay = view.right.overlay.image
    assert view.right.overlay_level == 0 and overlay.shape == (NY, NX)
    assert overlay[12, 30] == dq_colour_index("NO_FLAT_FIELD")
    assert overlay[10, 20] == dq_colour_index("HOT")   # highest bit wins
    assert overlay[7, 9] == dq_colour_index("NaN")       # NaN markers over everything
    assert np.count_nonzero(overlay) == np.count_nonzero(after.dq) + 1
    # untick HOT: the pixel carrying only HOT disappears, the DO_NOT_USE+HOT one turns red
    view.dq_panel.set_flag("HOT", False)
    settle(qtbot, view)
    overlay = view.right.overlay.image
    assert overlay[40, 60] == 0 and overlay[10, 20] == dq_colour_index("DO_NOT_USE")
    row = rows["HOT"]
    assert table.item(row, 0).checkState() == Qt.CheckState.Unchecked


def test_newly_flagged_equals_a_hand_made_case(qtbot, view):
    shown(qtbot, view, hand_result())
    view.dq_panel.enabled.setChecked(True)
    view.dq_panel.newly.setChecked(True)
    settle(qtbot, view)
    table = view.dq_panel.table
    assert table.rowCount() == 2                        # the new flag, and the NaN markers
    assert table.item(0, 1).text() == "NO_FLAT_FIELD (18)"
    assert table.item(0, 2).text() == "2" and table.item(0, 3).text() == "2"
    overlay = view.left.overlay.image
    assert sorted(zip(*np.nonzero(overlay), strict=True)) == [(3, 5), (7, 9), (12, 30)]
    view.dq_panel.set_flag("NaN", False)
    settle(qtbot, view)
    overlay = view.left.overlay.image
    assert sorted(zip(*np.nonzero(overlay), strict=True)) == [(3, 5), (12, 30)]


def test_single_flagged_pixel_stays_visible_zoomed_out(qtbot, view):
    big = hand_result(shape=(1024, 1536))
    shown(qtbot, view, big)
    view.dq_panel.enabled.setChecked(True)
    settle(qtbot, view)
    pane = view.left
    scale = pane.screen_pixels_per_image_pixel()
    assert scale < 0.5
    level = pane.overlay_level
    assert level >= 1 and (1 << level) * scale >= 1.0
    pooled = pane.overlay.image
    factor = 1 << level
    assert pooled[40 // factor, 60 // factor] == dq_colour_index("HOT")
    assert pooled[3 // factor, 5 // factor] == dq_colour_index("DO_NOT_USE")
    # zooming in to 1:1 or closer shows the full-resolution mask
    pane.view_box.setRange(xRange=(0, 100), yRange=(0, 100), padding=0)
    assert pane.overlay_level == 0 and pane.overlay.image.shape == (1024, 1536)


def test_nan_pixels_stay_visible_zoomed_out_without_the_overlay(qtbot, view):
    shown(qtbot, view, hand_result(shape=(1024, 1536)))
    assert not view.dq_panel.enabled.isChecked()
    pane = view.left
    level = pane.overlay_level
    assert level >= 1 and pane.overlay.isVisible()
    factor = 1 << level
    pooled = pane.overlay.image
    assert pooled[7 // factor, 9 // factor] == dq_colour_index("NaN")
    assert np.count_nonzero(pooled) == 1                 # flags stay hidden: overlay is off
    assert tuple(pane.overlay.lut[dq_colour_index("NaN")][:3]) == view.state.nan_colour


def test_region_statistics_equal_numpy_on_the_same_slice(qtbot, view):
    result = shown(qtbot, view, hand_result())
    before, after = result.input_model, result.steps["flat_field"].model
    view.state.regions = (RegionSpec("box", 4.0, 2.0, 30.0, 20.0),)   # pixels x 4..33, y 2..21
    qtbot.waitUntil(lambda: set(view.last_stats) == {"A", "B"}, timeout=5000)
    for role, model in (("A", before), ("B", after)):
        cut = model.data[2:22, 4:34]
        finite = cut[np.isfinite(cut)]
        stats = view.last_stats[role]
        assert stats.n == finite.size == 599 and stats.n_nan == 1
        assert stats.n_flagged == int(np.count_nonzero(model.dq[2:22, 4:34]))
        assert stats.mean == pytest.approx(float(finite.astype(np.float64).mean()))
        assert stats.median == pytest.approx(float(np.median(finite)))
        assert stats.std == pytest.approx(float(finite.astype(np.float64).std()))
        assert stats.min == float(finite.min()) and stats.max == float(finite.max())
    view.controls.index_base.setCurrentIndex(1)
    settle(qtbot, view)
    assert "box x 5..34, y 3..22 (1-based)" in view.region_panel.text.toPlainText()
    view.controls.index_base.setCurrentIndex(0)
    settle(qtbot, view)
    text = view.region_panel.copy()
    assert "box x 4..33, y 2..21 (0-based)" in text
    assert f"A = {vs.BEFORE}" in text and f"B = {vs.AFTER}" in text
    from PySide6.QtGui import QGuiApplication
    assert QGuiApplication.clipboard().text() == text
    # the region is drawn in both panes and moving one moves the other, and the state
    assert [len(view.region_overlay.rois[r]) for r in ("A", "B")] == [1, 1]
    view.region_overlay.rois["B"][0].setPos((10.0, 5.0))
    assert tuple(view.region_overlay.rois["A"][0].pos()) == (10.0, 5.0)
    assert view.state.regions == (RegionSpec("box", 10.0, 5.0, 30.0, 20.0),)
    qtbot.waitUntil(lambda: "box x 10..39, y 5..24" in view.region_panel.text.toPlainText(),
                    timeout=5000)
    view.state.regions = (RegionSpec("circle", 32.0, 24.0, 6.0),)
    qtbot.waitUntil(lambda: "circle" in view.region_panel.text.toPlainText(), timeout=5000)
    yy, xx = np.mgrid[0:NY, 0:NX]
    inside = (xx - 32) ** 2 + (yy - 24) ** 2 <= 36
    assert view.last_stats["B"].n == int(inside.sum())
    assert view.last_stats["B"].mean == pytest.approx(float(after.data[inside].mean()), rel=1e-6)
    qtbot.mouseClick(view.region_panel.clear_button, Qt.MouseButton.LeftButton)
    settle(qtbot, view)
    assert view.state.regions == ()
    assert view.region_overlay.rois == {"A": [], "B": []}
    assert view.region_panel.text.toPlainText() == ""


def test_panes_stay_in_step_after_pan_and_zoom(qtbot, view):
    shown(qtbot, view, hand_result())
    left, right = view.left.view_box, view.right.view_box
    left.scaleBy((0.5, 0.5))
    left.translateBy((7.0, -3.0))
    np.testing.assert_allclose(right.viewRange(), left.viewRange())
    right.scaleBy((0.8, 0.8))
    right.translateBy((-2.0, 4.0))
    np.testing.assert_allclose(left.viewRange(), right.viewRange())
    view.fit()
    (x0, x1), (y0, y1) = left.viewRange()
    assert x0 <= -0.5 and x1 >= NX - 0.5 and y0 <= -0.5 and y1 >= NY - 0.5
    np.testing.assert_allclose(right.viewRange(), left.viewRange())


def test_blink_flips_the_shown_image_both_ways(qtbot, view):
    result = shown(qtbot, view, hand_result())
    after = result.steps["flat_field"].model
    view.set_mode(BLINK)
    settle(qtbot, view)
    assert not view.right.isVisible()
    a_image = view.left.index
    assert view.left.source is view.source("A")
    view.flip()
    settle(qtbot, view)
    assert view.shown_role == "B" and view.left.source is view.source("B")
    assert view.left.array is after.data
    assert not np.shares_memory(view.left.image.image, a_image)
    low, high = view.resolved["B"]
    np.testing.assert_array_equal(view.left.image.image,
                                  im.quantize(after.data, low, high, "linear"))
    assert view.histogram.current_role == "B"              # the histogram follows the blink
    view.flip()
    settle(qtbot, view)
    assert view.shown_role == "A" and np.shares_memory(view.left.image.image, a_image)
    assert view.histogram.current_role == "A"
    # the Space key flips, from the image pane
    view.activateWindow()
    view.left.plot.setFocus()
    qtbot.waitUntil(view.left.plot.hasFocus, timeout=2000)
    QTest.keyClick(view.left.plot, Qt.Key.Key_Space)
    assert view.shown_role == "B"
    QTest.keyClick(view.left.plot, Qt.Key.Key_Space)
    assert view.shown_role == "A"
    QTest.keyClick(view.left.plot, Qt.Key.Key_D)          # D: DQ overlay on and off
    assert view.dq_panel.enabled.isChecked()
    QTest.keyClick(view.left.plot, Qt.Key.Key_D)
    assert not view.dq_panel.enabled.isChecked()
    QTest.keyClick(view.left.plot, Qt.Key.Key_L)          # L: same levels off and on
    assert not view.controls.same_levels.isChecked()
    QTest.keyClick(view.left.plot, Qt.Key.Key_L)
    assert view.controls.same_levels.isChecked()
    QTest.keyClick(view.left.plot, Qt.Key.Key_B)          # B: back to side by side, and blink
    assert view.state.layout == SIDE_BY_SIDE
    QTest.keyClick(view.left.plot, Qt.Key.Key_B)
    assert view.state.layout == BLINK
    # auto-blink at 20 Hz flips by itself, and stops with the mode
    seen = set()
    view.controls.blink_rate.setValue(20.0)
    view.set_auto_blink(True)
    qtbot.waitUntil(lambda: seen.add(view.shown_role) or seen == {"A", "B"}, timeout=3000)
    view.set_mode(SIDE_BY_SIDE)
    assert not view.blink_timer.isActive() and view.right.isVisible()


def test_blink_between_two_products(qtbot, view):
    """Another product's output of the same step is offered (same shape only) and blinks."""
    result = hand_result()
    other = hand_result(seed=5)
    other.product = Product("second", [Member("second_rate.fits", "science")])
    small = hand_result(shape=(44, 62))
    small.product = Product("subarray", [Member("sub_rate.fits", "science")])
    view.show_step(result, "flat_field", [result, other, small])
    settle(qtbot, view)
    label = vs.other_product_label("second")
    assert label in view.views.sources
    assert vs.other_product_label("subarray") not in view.views.sources  # other shape
    view.choose("A", vs.AFTER)
    view.choose("B", label)
    view.set_mode(BLINK)
    settle(qtbot, view)
    assert view.left.array is result.steps["flat_field"].model.data
    view.flip()
    settle(qtbot, view)
    assert view.left.array is other.steps["flat_field"].model.data


def test_levels_shared_by_default_for_before_after(qtbot, view):
    result = shown(qtbot, view, hand_result())
    after = result.steps["flat_field"].model
    assert view.controls.same_levels.isChecked()
    assert view.resolved["A"] == view.resolved["B"]
    low, high = view.resolved["A"]
    np.testing.assert_array_equal(view.right.index, im.quantize(after.data, low, high))
    view.controls.same_levels.setChecked(False)
    settle(qtbot, view)
    assert view.resolved["B"] != view.resolved["A"]
    assert view.resolved["B"] == pytest.approx(im.frame_info(after.data).limits("zscale"))
    # dragging the histogram's levels sets manual limits (for both panes when shared)
    view.controls.same_levels.setChecked(True)
    view.histogram.levelsDragged.emit("A", 150.0, 900.0)
    settle(qtbot, view)
    assert view.controls.limits.currentText() == "manual"
    assert view.resolved["A"] == view.resolved["B"] == (150.0, 900.0)
    assert view.controls.low_edit.text() == "150" and view.controls.high_edit.text() == "900"
    # typing limits in the fields is the same
    view.controls.low_edit.setText("200")
    view.controls.high_edit.setText("800")
    view.controls.high_edit.editingFinished.emit()
    settle(qtbot, view)
    assert view.resolved["A"] == view.resolved["B"] == (200.0, 800.0)
    # percentile limits: the central percent of the subsample
    view.controls.limits.setCurrentText("percentile")
    view.controls.percent.setCurrentText("95")
    settle(qtbot, view)
    info = im.frame_info(result.input_model.data)
    assert view.resolved["A"] == pytest.approx(tuple(np.percentile(info.sample, [2.5, 97.5])))
    # stretch and limits choices re-quantize
    view.controls.stretch.setCurrentText("asinh")
    view.controls.limits.setCurrentText("minmax")
    settle(qtbot, view)
    finite = result.input_model.data[np.isfinite(result.input_model.data)]
    assert view.resolved["A"] == (float(finite.min()), float(finite.max()))
    low, high = view.resolved["A"]
    np.testing.assert_array_equal(view.left.index,
                                  im.quantize(result.input_model.data, low, high, "asinh"))


def test_the_levels_histogram_is_counted_off_the_gui_thread_for_the_levels_shown(
        qtbot, view, monkeypatch):
    """The Levels panel's counts are made on the view's pool (not in a paint of the GUI
    thread) and shown for the limits in force, also after a drag of the limits."""
    import threading

    from iris_gui.display.stretch import FrameInfo

    on_gui_thread = []
    count = FrameInfo.histogram

    def counting(self, low, high, bins=200):
        on_gui_thread.append(threading.current_thread() is threading.main_thread())
        return count(self, low, high, bins)

    monkeypatch.setattr(FrameInfo, "histogram", counting)
    result = shown(qtbot, view, hand_result())
    info = im.frame_info(result.input_model.data)

    def assert_curve_counts(low, high):
        counts, edges = count(info, low, high)
        x, y = view.histogram.curve.getData()
        np.testing.assert_array_equal(x, edges)
        np.testing.assert_allclose(y, np.log10(counts + 1.0))

    assert_curve_counts(*view.resolved["A"])
    view.histogram.levelsDragged.emit("A", 150.0, 900.0)
    settle(qtbot, view)
    assert_curve_counts(150.0, 900.0)
    assert on_gui_thread and not any(on_gui_thread)


def test_the_y_axis_keeps_its_width_whatever_its_labels(qtbot, view):
    """The first image and a zoom that changes the labels' digits do not lay the pane out
    again: the y axis is as wide as its widest label from the start, and that label fits."""
    from PySide6.QtGui import QFontMetrics

    from iris_gui.gui.view_panes import WIDEST_Y_LABEL

    axis = view.left.plot.getAxis("left")
    empty = axis.width()
    shown(qtbot, view, hand_result())
    for y_range in ((0, 40), (-9000, 9000), (100, 5000)):
        view.left.view_box.setYRange(*y_range, padding=0)
        qtbot.wait(30)
        assert axis.width() == empty
    text = QFontMetrics(axis.style["tickFont"]).horizontalAdvance(WIDEST_Y_LABEL)
    assert empty >= text + axis.style["tickTextOffset"][0]


def test_levels_not_shared_by_default_where_the_step_moves_the_level(qtbot, view):
    """bkg_subtract removes the sky and photom changes the units: one set of levels would leave
    a pane blank, so Before/After start with their own; switching to flat_field shares again."""
    for step in ("bkg_subtract", "photom"):
        shown(qtbot, view, hand_result(step=step), step)
        assert not view.controls.same_levels.isChecked(), step
        assert view.resolved["A"] != view.resolved["B"]
    shown(qtbot, view, hand_result(), "flat_field")
    assert view.controls.same_levels.isChecked()


def test_resample_shows_the_i2d_beside_its_input(qtbot, view):
    """resample leaves the _cal unchanged (After = Before); pane B shows the i2d product, and
    going back to another step shows its After again."""
    result = hand_result()
    cal = result.steps["flat_field"].model
    i2d = make_model(np.full((NY + 6, NX + 4), 3.0, np.float32))
    result.steps["resample"] = StepResult("COMPLETE", cal, products={"i2d": i2d})
    shown(qtbot, view, result, "flat_field")
    assert view.right.choice.currentText() == vs.AFTER
    shown(qtbot, view, result, "resample")
    assert view.right.choice.currentText() == vs.I2D
    assert view.right.array is i2d.data
    assert vs.DIFFERENCE in view.views.sources          # before/after have the same shape
    shown(qtbot, view, result, "flat_field")
    assert view.right.choice.currentText() == vs.AFTER


def test_colormap_changes_only_the_colour_table(qtbot, view):
    shown(qtbot, view, hand_result())
    index = view.left.index
    view.controls.colormap.setCurrentText("viridis")
    assert view.state.colormap == "viridis"
    settle(qtbot, view)
    assert view.left.index is index
    assert view.left.lut[0].tolist() != view.left.lut[-2].tolist()
    assert view.left.lut[0].tolist() != [0, 0, 0]
    view.state.nan_colour = (0, 255, 0)
    settle(qtbot, view)
    assert view.left.lut[im.NAN_INDEX].tolist() == [0, 255, 0]


def test_integration_slider_for_rateints(qtbot, view):
    result = shown(qtbot, view, hand_result(shape=(3, NY, NX)))
    before = result.input_model
    assert view.controls.plane_slider.isEnabled() and view.controls.plane_slider.maximum() == 2
    for plane in (2, 0, 1):
        view.set_plane(plane)
        settle(qtbot, view)
        np.testing.assert_array_equal(view.left.array, before.data[plane])
        assert view.readout_values(11, 13)[0].value == float(before.data[plane, 13, 11])
    assert view.controls.plane_label.text() == "Integration 2/3"


def test_png_export_has_the_right_size(qtbot, view, tmp_path):
    shown(qtbot, view, hand_result())
    view.dq_panel.enabled.setChecked(True)
    settle(qtbot, view)
    path = tmp_path / "view.png"
    view.export_png(str(path))
    image = QImage(str(path))
    m = export.MARGIN
    width = view.left.plot.width() + view.right.plot.width() + 3 * m
    height = (max(view.left.plot.height(), view.right.plot.height()) + export.TITLE_HEIGHT
              + export.BAR_HEIGHT + export.LEGEND_HEIGHT + 2 * m)
    assert (image.width(), image.height()) == (width, height)
    # the panes are in it as shown: the grab of pane A sits under its title
    grab = view.left.plot.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    y = export.TITLE_HEIGHT + m + grab.height() // 2
    for x in (grab.width() // 3, grab.width() // 2):
        assert image.pixel(m + x, y) == grab.pixel(x, grab.height() // 2)
    view.set_mode(BLINK)
    view.dq_panel.enabled.setChecked(False)
    settle(qtbot, view)
    single = view.export_image()
    assert single.width() == view.left.plot.width() + 2 * m



def test_limit_fields_show_limits_at_full_precision(qtbot, view):
    """The low / high fields hold text that reads back to the same float32 limit (``.6g`` cut
    1234.5678 to 1234.57, which editing the other field then made the new limit)."""
    shown(qtbot, view, hand_result())
    view.histogram.levelsDragged.emit("A", -0.000564617, 1234.5678)
    settle(qtbot, view)
    assert view.controls.low_edit.text() == "-0.000564617" == im.format_limit(-0.000564617)
    assert view.controls.high_edit.text() == "1234.5677" == im.format_limit(1234.5678)
    # finishing an edit that changed nothing leaves the limits alone
    view.controls.high_edit.editingFinished.emit()
    settle(qtbot, view)
    assert view.resolved["A"] == (-0.000564617, 1234.5678)
    # changing one field keeps the other limit as it was (to float32 precision)
    view.controls.low_edit.setText("-5.64617e-05")
    view.controls.low_edit.editingFinished.emit()
    settle(qtbot, view)
    low, high = view.resolved["A"]
    assert low == -5.64617e-05 and np.float32(high) == np.float32(1234.5678)
    assert view.controls.low_edit.text() == "-5.64617e-05"
    view.histogram.levelsDragged.emit("A", -2.5e7, 3.25e-7)
    settle(qtbot, view)
    assert (view.controls.low_edit.text(), view.controls.high_edit.text()) == ("-2.5e+07", "3.25e-07")


def test_newly_flagged_counts_skip_cleared_bits_and_before_counts_its_own(qtbot, view):
    result = hand_result()
    before, after = result.input_model, result.steps["flat_field"].model
    after.dq[10, 20] &= ~np.uint32(HOT)          # the step clears HOT on one pixel
    shown(qtbot, view, result)
    view.dq_panel.enabled.setChecked(True)
    settle(qtbot, view)
    table = view.dq_panel.table

    def counts():
        return {table.item(r, 1).text().split()[0]: (table.item(r, 2).text(), table.item(r, 3).text())
                for r in range(table.rowCount())}

    # each pane its own counts: Before (A) has HOT twice, After (B) once
    assert counts()["HOT"] == ("2", "1") and counts()["DO_NOT_USE"] == ("2", "2")
    assert counts()["NO_FLAT_FIELD"] == ("", "2")
    view.dq_panel.newly.setChecked(True)
    settle(qtbot, view)
    # newly flagged: after & ~before on both panes; the cleared HOT is not new
    new = {name: (f"{n}", f"{n}") for name, n in
           flag_counts(after.dq & ~before.dq).items()}
    assert new == {"NO_FLAT_FIELD": ("2", "2")}
    assert {k: v for k, v in counts().items() if k != "NaN"} == new


def test_views_offered_for_bkg_subtract_include_background_and_bsub():
    result = hand_result(step="bkg_subtract")
    background = make_model(np.ones((NY, NX)))
    result.steps["bkg_subtract"].products["background"] = background
    views = vs.step_views(result, "bkg_subtract")
    assert list(views.sources)[:3] == [vs.BEFORE, vs.AFTER, vs.DIFFERENCE]
    assert views.sources[vs.BACKGROUND].model is background
    assert views.sources[vs.BSUB].model is result.steps["bkg_subtract"].model
    assert vs.RATIO not in views.sources
    # other steps' outputs are offered too, to blink across steps
    result.steps["flat_field"] = StepResult("COMPLETE", make_model(np.zeros((NY, NX))))
    result.steps["photom"] = StepResult("COMPLETE", make_model(np.ones((NY, NX))))
    views = vs.step_views(result, "flat_field")
    assert views.sources["photom output"].model is result.steps["photom"].model
    assert views.sources[vs.BEFORE].model is result.steps["bkg_subtract"].model
    assert "bkg_subtract output" not in views.sources          # that is Before
    assert views.sources[vs.INPUT].model is result.input_model
    assert vs.step_views(None, "flat_field").sources == {}


def test_colour_tables_match_pyqtgraphs_own_lookup_tables():
    """display.colour_tables reads pyqtgraph's colour files without importing it: the colours
    must be the ones pyqtgraph's ColorMap would give."""
    import pyqtgraph as pg

    from iris_gui.display.colour_tables import COLORMAPS, colour_table

    for name, target in COLORMAPS.items():
        if target is None:
            continue
        expected = pg.colormap.get(target).getLookupTable(0.0, 1.0, im.N_COLOURS, alpha=False)
        np.testing.assert_array_equal(colour_table(name)[:im.N_COLOURS], expected[:, :3],
                                      err_msg=name)
