"""Behaviour of the inspection view that was wrong once: keys anywhere in the window, the
caption the window gives, a true integration label, a readout that follows new results, empty
panes for a product with nothing to show, full-precision limit fields, per-pane DQ counts."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QDockWidget,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QVBoxLayout,
    QWidget,
)
from test_inspection_view import NX, NY, hand_result, on_screen, settle, shown  # noqa: E402

from iris_gui.display import maths as im  # noqa: E402
from iris_gui.display import view_sources as vs  # noqa: E402
from iris_gui.engine.association import Member, Product  # noqa: E402
from iris_gui.engine.config import PipelineConfig  # noqa: E402
from iris_gui.engine.dq import flag_counts  # noqa: E402
from iris_gui.engine.pipeline import ProductResult  # noqa: E402
from iris_gui.gui.image_view import StepImageView  # noqa: E402
from iris_gui.state.view_state import BLINK, ViewState  # noqa: E402


@pytest.fixture()
def view(qtbot):
    yield from on_screen(qtbot, StepImageView(ViewState()))


@pytest.fixture()
def window(qtbot):
    """The view in a main window beside a dock with a text field and a list (as the window's
    parameter form and Steps list)."""
    main = QMainWindow()
    view = StepImageView(ViewState(), main)
    main.setCentralWidget(view)
    dock = QDockWidget("Side", main)
    holder = QWidget(dock)
    layout = QVBoxLayout(holder)
    main.field, main.steps = QLineEdit(holder), QListWidget(holder)
    main.steps.addItems(["flat_field", "photom"])
    layout.addWidget(main.field)
    layout.addWidget(main.steps)
    dock.setWidget(holder)
    main.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    main.view = view
    main.resize(1500, 800)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    main.activateWindow()
    yield main
    view.shutdown()
    assert view.runner.pool.activeThreadCount() == 0


def _focus(qtbot, widget):
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=2000)


def test_keys_work_wherever_the_focus_is_in_the_window(qtbot, window):
    view, state = window.view, window.view.state
    view.show_step(hand_result(shape=(3, NY, NX)), "flat_field")
    settle(qtbot, view)
    _focus(qtbot, window.steps)                 # the Steps list, outside the view
    QTest.keyClick(window.steps, Qt.Key.Key_D)
    assert state.dq_overlay
    QTest.keyClick(window.steps, Qt.Key.Key_N)
    assert state.newly_flagged
    QTest.keyClick(window.steps, Qt.Key.Key_L)
    assert state.same_levels is False
    QTest.keyClick(window.steps, Qt.Key.Key_PageDown)
    assert state.plane == 1
    QTest.keyClick(window.steps, Qt.Key.Key_PageUp)
    assert state.plane == 0
    QTest.keyClick(window.steps, Qt.Key.Key_Space)   # flip: into blink, then both ways
    assert state.layout == BLINK and view.shown_role == "A"
    QTest.keyClick(window.steps, Qt.Key.Key_Space)
    assert view.shown_role == "B"
    QTest.keyClick(window.steps, Qt.Key.Key_B)
    assert state.layout == "side"
    QTest.keyClick(window.steps, Qt.Key.Key_A)       # auto-blink switches blink on
    assert state.auto_blink and state.layout == BLINK
    QTest.keyClick(window.steps, Qt.Key.Key_A)
    assert not state.auto_blink
    state.view_range = (1.0, 9.0, 1.0, 9.0)
    QTest.keyClick(window.steps, Qt.Key.Key_F)
    assert state.view_range is None
    # a text field keeps its printable keys: typing D types a D
    _focus(qtbot, window.field)
    QTest.keyClicks(window.field, "D N")
    assert window.field.text() == "D N"
    assert state.dq_overlay and state.newly_flagged and state.layout == BLINK


def test_caption_is_the_windows_status_text(qtbot, view):
    result = hand_result()
    shown(qtbot, view, result, caption="hand — flat_field: ● stale (parameters changed)")
    assert view.caption.text() == "hand — flat_field: ● stale (parameters changed)"
    shown(qtbot, view, result)                   # no caption given: the short default
    assert view.caption.text() == "hand — flat_field: COMPLETE"


def test_integration_label_is_true_from_the_start(qtbot, view):
    cube = hand_result(shape=(3, NY, NX))
    shown(qtbot, view, cube)
    c = view.controls
    assert c.plane_label.text() == "Integration 1/3" and c.plane_slider.isEnabled()
    view.set_plane(1)
    settle(qtbot, view)
    assert c.plane_label.text() == "Integration 2/3"
    flat = hand_result()
    flat.product = Product("flat", [Member("flat_rate.fits", "science")])
    shown(qtbot, view, flat)
    assert c.plane_label.text() == "Integration —" and not c.plane_slider.isEnabled()
    np.testing.assert_array_equal(view.left.array, flat.input_model.data)
    view.state.plane = 7                          # beyond the product's integrations: clamped
    shown(qtbot, view, cube)
    assert c.plane_label.text() == "Integration 3/3" and c.plane_slider.value() == 2
    np.testing.assert_array_equal(view.left.array, cube.input_model.data[2])


def _move_mouse(view, pane, ix, iy):
    pane.plot.scene().sigMouseMoved.emit(pane.view_box.mapViewToScene(QPointF(ix, iy)))


def test_readout_follows_a_new_result_without_a_mouse_move(qtbot, view):
    shown(qtbot, view, hand_result())
    _move_mouse(view, view.left, 20, 11)
    old = view.readout.text()
    rerun = hand_result(seed=9)                   # the same product run again: new values
    rerun.input_model.data[11, 20] = 12345.0
    shown(qtbot, view, rerun)
    lines = view.readout.text().splitlines()
    assert view.readout.text() != old and "12345" in lines[1]
    assert im.format_value(rerun.steps["flat_field"].model.data[11, 20]) in lines[2]
    shown(qtbot, view, None)                      # nothing shown: no stale numbers
    assert view.readout.text().strip() == ""


def test_a_product_with_nothing_to_show_empties_the_panes(qtbot, view):
    shown(qtbot, view, hand_result())
    view.state.dq_overlay = True
    settle(qtbot, view)
    product = Product("unread", [Member("unread_rate.fits", "science")])
    empty = ProductResult(product, PipelineConfig(), "", input_model=None)
    why = "unread — flat_field: cannot run (the exposure could not be read)"
    shown(qtbot, view, empty, caption=why)
    assert view.caption.text() == why
    for pane in (view.left, view.right):
        assert pane.array is None and pane.index is None and pane.image.image is None
        assert not pane.overlay.isVisible() and pane.source is None
    assert view.left.choice.count() == 0 and not view.left.choice.isEnabled()
    assert view.dq_panel.table.rowCount() == 0 and view.resolved == {}
    shown(qtbot, view, empty)                     # the default caption says so too
    assert view.caption.text().endswith("nothing to show")


def test_limit_fields_have_the_exact_value_in_their_tooltip(qtbot, view):
    shown(qtbot, view, hand_result())
    view.histogram.levelsDragged.emit("A", 0.1 + 0.2, 1234.56789012)
    settle(qtbot, view)
    c = view.controls
    assert c.low_edit.text() == im.format_limit(0.1 + 0.2) == "0.3"
    assert repr(0.1 + 0.2) in c.low_edit.toolTip() and "1234.56789012" in c.high_edit.toolTip()
    # leaving a field as shown keeps the exact limit (not its float32 text)
    c.low_edit.setText("0.25")
    c.low_edit.editingFinished.emit()
    assert view.state.manual_levels["A"] == (0.25, 1234.56789012)


def test_dq_counts_are_each_panes_own_and_newly_is_after_not_before(qtbot, view):
    """Panes swapped (A = After, B = Before): each column counts its own pane's flags; with
    "newly flagged" both count after & ~before."""
    result = hand_result()
    before, after = result.input_model, result.steps["flat_field"].model
    after.dq[40, 60] = 0                                  # the step clears HOT on one pixel
    shown(qtbot, view, result)
    view.choose("A", vs.AFTER)
    view.choose("B", vs.BEFORE)
    settle(qtbot, view)
    table = view.dq_panel.table

    def counts():
        return {table.item(r, 1).text().split()[0]: (table.item(r, 2).text(),
                                                      table.item(r, 3).text())
                for r in range(table.rowCount())}

    for name in ("HOT", "DO_NOT_USE", "NO_FLAT_FIELD"):
        a, b = flag_counts(after.dq).get(name), flag_counts(before.dq).get(name)
        assert counts()[name] == (f"{a}" if a else "", f"{b}" if b else ""), name
    view.state.newly_flagged = True
    settle(qtbot, view)
    new = flag_counts(after.dq & ~before.dq)
    assert {k: v for k, v in counts().items() if k != "NaN"} == \
        {name: (f"{n}", f"{n}") for name, n in new.items()}
    assert "After has the bit and Before has not" in table.item(0, 1).toolTip()


def test_a_view_built_with_a_parent_only_still_works(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    widget = StepImageView(parent)          # the window's construction before the view state
    assert widget.parent() is parent and isinstance(widget.state, ViewState)
    widget.show_step(None, "flat_field")
    assert widget.caption.text().startswith("Run a product")
    widget.shutdown()
    widget.state.stretch = "log"            # a view shut down no longer listens
    assert widget.controls.stretch.currentText() == "linear"
