"""The Flagged pixels dock (pytest-qt, offscreen) on the hand-made flat_field result: the
listed pixels and their counts by flag, chosen flags, newly flagged only, the area shown and
the regions, Next / Previous centring the view on each in order; its keys in the window; the
session keeps the settings of every inspection tool."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from test_gui_view_header import view_menu_action  # noqa: E402
from test_inspection_view import DNU, HOT, NOFLAT, hand_result, on_screen, settle, shown  # noqa: E402

from iris_gui.gui.image_view import StepImageView  # noqa: E402
from iris_gui.gui.view_flag_navigator import FlagNavigatorPanel  # noqa: E402
from iris_gui.state.view_state import RegionSpec  # noqa: E402


@pytest.fixture()
def view(qtbot):
    yield from on_screen(qtbot, StepImageView())


@pytest.fixture()
def panel(qtbot, view):
    panel = FlagNavigatorPanel(view)
    qtbot.addWidget(panel)
    panel.resize(420, 600)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def listed(panel):
    pixels = panel.pixels
    return list(zip(pixels.x.tolist(), pixels.y.tolist(), pixels.dq.tolist(), strict=True))


def counts(panel):
    return {panel.flag_list.item(i).data(Qt.ItemDataRole.UserRole):
            panel.flag_list.item(i).text() for i in range(panel.flag_list.count())}


def test_lists_the_outputs_flagged_pixels_with_counts_by_flag(qtbot, view, panel):
    shown(qtbot, view, hand_result())
    settle(qtbot, view)
    assert view.state.flag_nav_role == "B"              # the step's output by default
    # in storage order (y, then x): (5, 3) (20, 10) (30, 12) (60, 40)
    assert listed(panel) == [(5, 3, DNU | NOFLAT), (20, 10, HOT | DNU), (30, 12, NOFLAT),
                             (60, 40, HOT)]
    assert counts(panel) == {"DO_NOT_USE": "DO_NOT_USE (0): 2", "HOT": "HOT (11): 2",
                             "NO_FLAT_FIELD": "NO_FLAT_FIELD (18): 2"}
    assert panel.summary.text() == \
        "4 pixels flagged with any flag in the whole frame (3,072 pixels)"
    assert panel.model.data(panel.model.index(1, 3)) == "DO_NOT_USE+HOT"
    # tick HOT: only its pixels; the counts stay every flag's
    item = next(panel.flag_list.item(i) for i in range(panel.flag_list.count())
                if panel.flag_list.item(i).data(Qt.ItemDataRole.UserRole) == "HOT")
    item.setCheckState(Qt.CheckState.Checked)           # as a person ticks it
    assert view.state.flag_nav_flags == ("HOT",)
    settle(qtbot, view)
    assert listed(panel) == [(20, 10, HOT | DNU), (60, 40, HOT)]
    assert counts(panel)["NO_FLAT_FIELD"] == "NO_FLAT_FIELD (18): 2"
    # pane A's DQ (the input): no NO_FLAT_FIELD there
    view.state.flag_nav_flags = ()
    panel.role_box.setCurrentIndex(0)
    assert view.state.flag_nav_role == "A"
    settle(qtbot, view)
    assert [(x, y) for x, y, _ in listed(panel)] == [(5, 3), (20, 10), (60, 40)]


def test_newly_flagged_only_and_the_scopes(qtbot, view, panel):
    shown(qtbot, view, hand_result())
    panel.newly_box.setChecked(True)
    assert view.state.flag_nav_newly
    settle(qtbot, view)
    # the bits After has and Before has not: NO_FLAT_FIELD at (5, 3) and (30, 12)
    assert listed(panel) == [(5, 3, NOFLAT), (30, 12, NOFLAT)]
    assert counts(panel) == {"NO_FLAT_FIELD": "NO_FLAT_FIELD (18): 2"}
    assert panel.summary.text().startswith("2 pixels newly flagged")
    view.state.flag_nav_newly = False
    # the area shown: pixel centres inside x 0..25, y 0..15
    view.state.update(flag_nav_scope="shown", view_range=(0.0, 25.0, 0.0, 15.0))
    settle(qtbot, view)
    assert [(x, y) for x, y, _ in listed(panel)] == [(5, 3), (20, 10)]
    assert panel.scope_box.currentIndex() == 1
    # the view's regions: a box over x 15..34, y 8..14
    view.state.update(flag_nav_scope="regions", regions=(RegionSpec("box", 15, 8, 20, 7),))
    settle(qtbot, view)
    assert [(x, y) for x, y, _ in listed(panel)] == [(20, 10), (30, 12)]
    assert "in the view's regions (140 pixels)" in panel.summary.text()


def test_next_and_previous_centre_the_view_on_each_in_order(qtbot, view, panel):
    shown(qtbot, view, hand_result())
    settle(qtbot, view)
    visits = []
    for direction in (1, 1, 1, 1, 1, -1, -1):
        (panel.next_button if direction > 0 else panel.previous_button).click()
        settle(qtbot, view)
        x0, x1, y0, y1 = view.state.view_range
        visits.append(((x0 + x1) / 2, (y0 + y1) / 2))
        assert view.cursor == (round(visits[-1][0]), round(visits[-1][1]))
    assert visits == [(5, 3), (20, 10), (30, 12), (60, 40), (5, 3), (60, 40), (30, 12)]
    # the whole 64 x 48 frame fits in 101 pixels: the size is kept, centred on the pixel
    assert view.state.view_range == (-2.0, 62.0, -12.0, 36.0)
    assert panel.position.text() == f"3 / 4: x = 30, y = 12, DQ {NOFLAT} = NO_FLAT_FIELD"
    assert panel.table.selectionModel().selectedRows()[0].row() == 2
    # from the cursor's pixel: Next goes on from where the cursor is
    view.set_cursor(21.0, 10.0)
    panel.current = None
    panel.step(1)
    assert view.cursor == (30, 12)
    # a click on a row goes there
    panel.table.clicked.emit(panel.model.index(1, 0))
    assert view.cursor == (20, 10)


def test_in_the_window_keys_and_session_round_trip(qtbot, window, tmp_path):
    from iris_gui.gui.main_window import MainWindow

    view_menu_action(window, "Flagged pixels dock").trigger()
    assert view_menu_action(window, "Next flagged pixel").shortcut().toString() == "]"
    assert view_menu_action(window, "Previous flagged pixel").shortcut().toString() == "["
    state = window.workbench.view
    state.update(docks=("magnifier", "panner", "flags", "overlays"), magnifier_factor=8,
                 contours=("B",), contour_frame="other", contour_mode="list",
                 contour_count=7, contour_levels=(1.5, 3.0), contour_block=2,
                 wcs_grid=("A",), compass=("A", "B"), flag_nav_role="A",
                 flag_nav_flags=("HOT", "DEAD"), flag_nav_scope="regions", flag_nav_newly=True)
    with qtbot.waitSignal(window.sessionSaved, timeout=20_000) as blocker:
        window.save_session_to(str(tmp_path / "tools"))
    path, error = blocker.args
    assert error == ""
    fresh = MainWindow(settings=QSettings(str(tmp_path / "f.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(fresh)
    fresh.show()
    assert fresh.open_session(path)
    restored = fresh.workbench.view
    names = ("docks", "magnifier_factor", "contours", "contour_frame", "contour_mode",
             "contour_count", "contour_levels", "contour_block", "wcs_grid", "compass",
             "flag_nav_role", "flag_nav_flags", "flag_nav_scope", "flag_nav_newly")
    assert {n: getattr(restored, n) for n in names} == {n: getattr(state, n) for n in names}
    assert restored.flag_nav_flags == ("HOT", "DEAD")   # kept as saved
    # the docks show the restored settings
    panels = fresh.inspection_panels
    qtbot.waitUntil(lambda: panels["flags"].isVisible(), timeout=5000)
    assert panels["magnifier"].factor_box.currentText() == "×8"
    assert panels["overlays"].contour_boxes["B"].isChecked()
    assert panels["overlays"].levels_field.text() == "1.5, 3"
    assert panels["overlays"].block_box.value() == 2
    assert panels["flags"].scope_box.currentIndex() == 2 and panels["flags"].newly_box.isChecked()
    fresh.close()
