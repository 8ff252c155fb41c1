"""What a pan, a zoom or a panel's own setting costs the view (pytest-qt, offscreen): one paint
of each pane per range change, and no refresh of the panes for a state field only a panel shows
(issue 14: nothing blocks the GUI thread longer than 20 ms on 4096² frames, where a pane's paint
is several milliseconds)."""

from __future__ import annotations

import dataclasses

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QObject  # noqa: E402
from test_inspection_view import hand_result, on_screen, settle, shown  # noqa: E402

from iris_gui.gui.image_view import PANEL_ONLY, StepImageView  # noqa: E402
from iris_gui.state.view_state import StarCheck, ViewState  # noqa: E402


@pytest.fixture()
def view(qtbot):
    yield from on_screen(qtbot, StepImageView())


class PaintCount(QObject):
    """Paint events each watched widget received."""

    def __init__(self, widgets) -> None:
        super().__init__()
        self.counts = {w: 0 for w in widgets}
        for widget in widgets:
            widget.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 (Qt naming)
        if event.type() == QEvent.Type.Paint and obj in self.counts:
            self.counts[obj] += 1
        return False


def without_overlay(qtbot, view):
    """hand_result with no NaN (always marked) and no DQ overlay: no overlay, whose level
    looked up on every range change happened to move the image at once."""
    result = hand_result()
    for model in (result.input_model, result.steps["flat_field"].model):
        model.data[7, 9] = 100.0
    shown(qtbot, view, result)
    assert view.left._pyramid is None and view.right._pyramid is None


def quiet(qtbot, ms=150):
    """Let every put-off paint (Qt paints a window a few ms after a change) happen."""
    qtbot.wait(ms)


def test_a_range_change_paints_each_pane_once(qtbot, view):
    without_overlay(qtbot, view)
    quiet(qtbot)
    viewports = [view.left.plot.viewport(), view.right.plot.viewport()]
    paints = PaintCount(viewports)
    for k in range(3):
        view.state.view_range = (5.0 + k, 25.0 + k, 4.0, 16.0)
        settle(qtbot, view)
        quiet(qtbot)
        # pyqtgraph moved the image only at its next paint, which asked for another: two
        assert [paints.counts[v] for v in viewports] == [k + 1, k + 1]
    x0, x1 = view.left.view_box.viewRange()[0]
    assert (x0, x1) == pytest.approx((7.0, 27.0), abs=1.0)


def test_a_pan_in_the_pane_paints_it_once(qtbot, view):
    """A drag or wheel step in a pane is pyqtgraph's own setRange: one paint too."""
    without_overlay(qtbot, view)
    quiet(qtbot)
    viewport = view.left.plot.viewport()
    paints = PaintCount([viewport])
    (x0, x1), (y0, y1) = view.left.view_box.viewRange()
    view.left.view_box.setRange(xRange=(x0 + 2, x1 + 2), yRange=(y0, y1), padding=0)
    quiet(qtbot)
    assert paints.counts[viewport] == 1


def test_panel_only_fields_are_view_state_fields():
    """A misspelt name would silently keep refreshing the panes."""
    assert PANEL_ONLY <= {f.name for f in dataclasses.fields(ViewState)}


def test_a_panel_only_change_does_not_refresh_the_panes(qtbot, view):
    shown(qtbot, view, hand_result())
    refreshes = []
    view.refreshed.connect(lambda: refreshes.append(1))
    star = StarCheck("hand", "flat_field", "A", 20.0, 10.0)
    view.state.update(star_checks=(star,), docks=("magnifier",), header_search="PHOT",
                      pixel_table_size=7, magnifier_factor=8, flag_nav_flags=("HOT",))
    settle(qtbot, view)
    quiet(qtbot, 50)
    assert refreshes == []
    assert view.state.star_checks == (star,)
    view.state.stretch = "log"                  # what the panes draw: one refresh
    qtbot.waitUntil(lambda: bool(refreshes), timeout=5000)


def test_a_range_change_does_not_refresh_the_panes_but_moves_the_grid(qtbot, view):
    """The panes follow the range themselves; the RA/Dec grid's step is asked again."""
    shown(qtbot, view, hand_result())
    refreshes = []
    view.refreshed.connect(lambda: refreshes.append(1))
    asked = []
    original = view.overlays.update

    def update():
        asked.append(view.state.view_range)
        original()

    view.overlays.update = update
    view.state.view_range = (5.0, 25.0, 4.0, 16.0)
    settle(qtbot, view)
    assert refreshes == []
    assert asked == [(5.0, 25.0, 4.0, 16.0)]
