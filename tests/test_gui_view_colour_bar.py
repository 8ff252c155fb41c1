"""The live colour bar beside each pane: its ticks worked out by hand for each stretch, its
limits the pane's, its colours the pane's table (read back from the painted widget), shown and
hidden from the View menu's action."""

from __future__ import annotations

import math

import numpy as np
import pytest

from iris_gui.display import maths as im


def test_ticks_by_hand_for_each_stretch():
    assert im.colour_bar_ticks(0.0, 100.0, "linear") == [
        (0.0, 0.0), (0.25, 25.0), (0.5, 50.0), (0.75, 75.0), (1.0, 100.0)]
    # sqrt: colour y = sqrt(t) -> the value at y is low + y² (high - low)
    assert [v for _, v in im.colour_bar_ticks(10.0, 110.0, "sqrt")] == pytest.approx(
        [10.0, 16.25, 35.0, 66.25, 110.0])
    # log: y = log10(1000 t + 1) / log10(1001) -> t = (1001^y - 1) / 1000
    half = (math.sqrt(1001.0) - 1.0) / 1000.0
    assert im.colour_bar_ticks(0.0, 1.0, "log")[2][1] == pytest.approx(half)
    # asinh: t = 0.1 sinh(y asinh(10))
    assert im.colour_bar_ticks(-1.0, 1.0, "asinh")[2][1] == pytest.approx(
        -1.0 + 2.0 * 0.1 * math.sinh(0.5 * math.asinh(10.0)))
    # the ends are always the limits
    for stretch in im.STRETCHES:
        ticks = im.colour_bar_ticks(-3.0, 7.0, stretch)
        assert (ticks[0][1], ticks[-1][1]) == pytest.approx((-3.0, 7.0))


pytest.importorskip("pytestqt")

from test_inspection_view import hand_result, on_screen, shown  # noqa: E402

from iris_gui.gui.image_view import StepImageView  # noqa: E402


@pytest.fixture()
def view(qtbot):
    yield from on_screen(qtbot, StepImageView())


def test_each_pane_has_its_own_bar_with_its_limits_and_colours(qtbot, view):
    shown(qtbot, view, hand_result())
    view.state.same_levels = False
    view.state.colormap = "viridis"
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    for pane in (view.left, view.right):
        bar = pane.colour_bar
        assert bar.isVisible()
        assert bar.levels == view.resolved[pane.name]
        assert bar.ticks[0][1] == bar.levels[0] and bar.ticks[-1][1] == bar.levels[1]
        image = bar.grab().toImage()
        rect = bar.strip_rect()
        x = int(rect.center().x())
        top = image.pixelColor(x, int(rect.top()) + 2)
        bottom = image.pixelColor(x, int(rect.bottom()) - 2)
        lut = pane.lut
        assert np.abs(np.subtract((top.red(), top.green(), top.blue()),
                                  lut[im.N_COLOURS - 1][:3], dtype=int)).max() <= 8
        assert np.abs(np.subtract((bottom.red(), bottom.green(), bottom.blue()),
                                  lut[0][:3], dtype=int)).max() <= 8
    assert view.left.colour_bar.levels != view.right.colour_bar.levels   # flat_field: / 0.8


def test_the_bar_follows_the_stretch_and_the_action_hides_them(qtbot, view):
    shown(qtbot, view, hand_result())
    low, high = view.resolved["A"]
    view.state.stretch = "sqrt"
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    assert view.left.colour_bar.stretch == "sqrt"
    assert view.left.colour_bar.ticks[2][1] == pytest.approx(low + 0.25 * (high - low))
    view.view_actions.colour_bars.trigger()              # the View menu's "Colour bars" (C)
    assert view.state.colour_bars is False
    qtbot.waitUntil(lambda: not view.left.colour_bar.isVisible(), timeout=5000)
    assert not view.right.colour_bar.isVisible()
    view.state.colour_bars = True
    qtbot.waitUntil(lambda: view.left.colour_bar.isVisible(), timeout=5000)
    assert view.view_actions.colour_bars.isChecked()
    view.show_step(None, "flat_field")                   # nothing shown: no scale
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    assert view.left.colour_bar.levels is None
