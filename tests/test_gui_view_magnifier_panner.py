"""The Magnifier and Panner docks (pytest-qt, offscreen): the magnified picture is the pane's
index image around the cursor in blocks, in the pane's colours and overlay; dragging the
panner's box moves the view; in the real window from the View menu and their keys."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from gui_helpers import run_and_wait as run  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from test_gui_view_header import view_menu_action  # noqa: E402
from test_inspection_view import _move_mouse, hand_result, on_screen, settle, shown  # noqa: E402

from iris_gui.display import magnifier as mg  # noqa: E402
from iris_gui.gui.image_view import StepImageView  # noqa: E402
from iris_gui.gui.view_magnifier import MagnifierPanel  # noqa: E402
from iris_gui.gui.view_panner import PannerPanel  # noqa: E402


@pytest.fixture()
def view(qtbot):
    yield from on_screen(qtbot, StepImageView())


def docked(qtbot, panel_class, view):
    panel = panel_class(view)
    qtbot.addWidget(panel)
    panel.resize(360, 560)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def follow(qtbot, view, pane, ix, iy, panel):
    """A mouse move, and the picture it makes (put off ~15 ms when it comes soon after one)."""
    _move_mouse(qtbot, view, pane, ix, iy)
    qtbot.waitUntil(lambda: not panel.follow.pending, timeout=2000)


def expected_picture(index, lut, centre, factor, size, mask=None, overlay=None):
    """The picture worked out pixel by pixel: screen pixel (u, v) shows frame pixel
    x = cx + floor((u - ox) / f), y = cy - floor((v - oy) / f)."""
    width, height = size
    ox, oy = width // 2 - factor // 2, height // 2 - factor // 2
    u, v = np.meshgrid(np.arange(width), np.arange(height))
    x = centre[0] + np.floor_divide(u - ox, factor)
    y = centre[1] - np.floor_divide(v - oy, factor)
    inside = (x >= 0) & (x < index.shape[1]) & (y >= 0) & (y < index.shape[0])
    xs, ys = np.clip(x, 0, index.shape[1] - 1), np.clip(y, 0, index.shape[0] - 1)
    rgb = lut[index[ys, xs]].astype(float)
    if mask is not None:
        colour = overlay[mask[ys, xs]].astype(float)
        alpha = colour[..., 3:] / 255
        rgb = rgb * (1 - alpha) + colour[..., :3] * alpha
    rgb = np.rint(rgb).astype(np.uint8)
    rgb[~inside] = mg.BACKGROUND
    return rgb


def test_the_magnifier_shows_the_upsampled_cut_out_round_the_cursor(qtbot, view):
    shown(qtbot, view, hand_result())
    panel = docked(qtbot, MagnifierPanel, view)
    follow(qtbot, view, view.left, 20, 10, panel)
    assert view.state.magnifier_factor == 4
    for role, pane in (("A", view.left), ("B", view.right)):
        image = panel.images[role]
        size = image.picture_size()
        assert image.rgb.shape == (size[1], size[0], 3)
        np.testing.assert_array_equal(
            image.rgb, expected_picture(pane.index, pane.lut, (20, 10), 4, size))
    # the widget paints it: a pixel well inside a block away from the cursor's frame
    grabbed = panel.images["A"].grab().toImage()
    colour = grabbed.pixelColor(3, 3)
    assert (colour.red(), colour.green(), colour.blue()) == tuple(panel.images["A"].rgb[3, 3])
    # near the corner, off the frame: the panes' background
    follow(qtbot, view, view.left, 0, 47, panel)
    rgb = panel.images["A"].rgb
    assert tuple(rgb[rgb.shape[0] - 1, 0]) == mg.BACKGROUND      # below y = 0, left of x = 0
    assert tuple(rgb[0, rgb.shape[1] - 1]) == mg.BACKGROUND      # above y = 47


def test_the_factor_is_the_states_and_the_overlay_is_the_panes(qtbot, view):
    shown(qtbot, view, hand_result())
    panel = docked(qtbot, MagnifierPanel, view)
    panel.factor_box.setCurrentIndex(3)                # as a person picks ×16
    assert view.state.magnifier_factor == 16
    view.state.magnifier_factor = 8                    # a restored session, the console
    assert panel.factor_box.currentText() == "×8"
    view.state.dq_overlay = True
    settle(qtbot, view)
    follow(qtbot, view, view.right, 20, 10, panel)       # HOT | DO_NOT_USE
    render = view.renders["B"]
    assert render.mask is not None
    image = panel.images["B"]
    overlay = view.renderer.overlay_lut(view.state)
    expected = expected_picture(render.index, view.right.lut, (20, 10), 8, image.picture_size(),
                                render.mask[0], overlay)
    np.testing.assert_array_equal(image.rgb, expected)
    ox, oy = mg.magnified_origin(8, image.picture_size())
    plain = view.right.lut[render.index[10, 20]]
    assert tuple(image.rgb[oy + 4, ox + 4]) != tuple(plain)     # the flag's colour over it
    # a new stretch: the pane's new index image, the same in the magnifier
    view.state.stretch = "log"
    settle(qtbot, view)
    np.testing.assert_array_equal(
        image.rgb, expected_picture(view.renders["B"].index, view.right.lut, (20, 10), 8,
                                    image.picture_size(), view.renders["B"].mask[0], overlay))


def test_a_burst_of_moves_makes_a_few_pictures_ending_at_the_last(qtbot, view, monkeypatch):
    shown(qtbot, view, hand_result())
    panel = docked(qtbot, MagnifierPanel, view)
    follow(qtbot, view, view.left, 5, 5, panel)
    made = []
    real = mg.magnified
    monkeypatch.setattr(mg, "magnified", lambda *a, **k: made.append(a[2]) or real(*a, **k))
    for k in range(50):                                # faster than any screen refresh
        _move_mouse(qtbot, view, view.left, 10 + k % 40, 5 + k % 30)
    qtbot.waitUntil(lambda: not panel.follow.pending, timeout=2000)
    assert 1 <= len(made) <= 2 * 3                     # both panes, at most 3 times
    last = (10 + 49 % 40, 5 + 49 % 30)
    assert made[-1] == last
    image = panel.images["A"]
    np.testing.assert_array_equal(
        image.rgb, expected_picture(view.left.index, view.left.lut, last, 4,
                                    image.picture_size()))


def test_dragging_the_panners_box_moves_the_view(qtbot, view):
    shown(qtbot, view, hand_result())
    panel = docked(qtbot, PannerPanel, view)
    view.state.view_range = (10.0, 26.0, 10.0, 22.0)
    settle(qtbot, view)
    image = panel.image
    assert image.shape == (48, 64) and image.rgb.shape == (48, 64, 3)   # small: every pixel
    x0, x1, y0, y1 = image.box
    centre = image.to_widget((x0 + x1) / 2, (y0 + y1) / 2).toPoint()
    scale = image._scale()[0]
    # grab the box and drag it 10 frame pixels right and 5 down (y up: -5 in y)
    QTest.mousePress(image, Qt.MouseButton.LeftButton, pos=centre)
    moved = centre + QPoint(round(10 * scale), round(5 * scale))
    QTest.mouseMove(image, moved)
    QTest.mouseRelease(image, Qt.MouseButton.LeftButton, pos=moved)
    settle(qtbot, view)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    nx0, nx1, ny0, ny1 = view.state.view_range
    dx, dy = (moved.x() - centre.x()) / scale, -(moved.y() - centre.y()) / scale
    assert (nx0 + nx1) / 2 == pytest.approx(cx + dx, abs=0.01)
    assert (ny0 + ny1) / 2 == pytest.approx(cy + dy, abs=0.01)
    assert nx1 - nx0 == pytest.approx(x1 - x0, abs=0.01)          # the size kept
    (px0, px1), (py0, py1) = view.left.view_box.viewRange()       # the panes follow
    assert (px0 + px1) / 2 == pytest.approx(cx + dx, abs=0.05)
    assert (py0 + py1) / 2 == pytest.approx(cy + dy, abs=0.05)
    assert panel.image.box == pytest.approx(panel.shown_range())
    # a click beside the box centres the view there
    target = image.to_widget(50.0, 40.0).toPoint()
    QTest.mouseClick(image, Qt.MouseButton.LeftButton, pos=target)
    settle(qtbot, view)
    nx0, nx1, ny0, ny1 = view.state.view_range
    at = image.to_frame(target)
    assert (nx0 + nx1) / 2 == pytest.approx(at[0], abs=0.01)
    assert (ny0 + ny1) / 2 == pytest.approx(at[1], abs=0.01)


def test_magnifier_and_panner_docks_in_the_window(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    assert run(qtbot, window) == 0
    action = view_menu_action(window, "Magnifier dock")
    assert action.shortcut().toString() == "M"
    action.trigger()
    view_menu_action(window, "Panner dock").trigger()
    magnifier = window.inspection_panels["magnifier"]
    panner = window.inspection_panels["panner"]
    qtbot.waitUntil(lambda: magnifier.isVisible() and panner.isVisible(), timeout=5000)
    assert window.workbench.view.docks == ("magnifier", "panner")
    view = window.image_view
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    follow(qtbot, view, view.left, 100, 120, magnifier)
    image = magnifier.images["A"]
    np.testing.assert_array_equal(
        image.rgb, expected_picture(view.left.index, view.left.lut, (100, 120), 4,
                                    image.picture_size()))
    assert panner.image.shape == view.source("A").shape
