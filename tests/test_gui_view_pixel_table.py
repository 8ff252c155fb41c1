"""The Pixel table dock following the mouse over the panes (pytest-qt, offscreen): the cells of
both panes at known pixels, flagged cells tinted and decoded on hover, the size from the state,
copy; in the real window from the View menu."""

from __future__ import annotations

import math
import time

import pytest

pytest.importorskip("pytestqt")

from gui_helpers import run_and_wait as run  # noqa: E402
from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from test_gui_view_header import view_menu_action  # noqa: E402
from test_inspection_view import (  # noqa: E402
    DNU,
    HOT,
    NOFLAT,
    _move_mouse,
    hand_result,
    on_screen,
    shown,
)

from iris_gui.display import view_sources as vs  # noqa: E402
from iris_gui.gui.image_view import StepImageView  # noqa: E402
from iris_gui.gui.view_pixel_table import CENTRE_TINT, FLAGGED_TINT, PixelTablePanel  # noqa: E402


@pytest.fixture()
def view(qtbot):
    yield from on_screen(qtbot, StepImageView())


@pytest.fixture()
def panel(qtbot, view):
    panel = PixelTablePanel(view)
    qtbot.addWidget(panel)
    panel.resize(700, 700)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def cell(panel, role, row, column):
    """The text painted in the cell (the cursor's table, however soon after the move)."""
    flush(panel)
    return panel.grids[role].text(row, column)


def tint(panel, role, row, column):
    flush(panel)
    return panel.grids[role].tint(row, column)


def flush(panel, timeout=2.0):
    """Wait for the refresh a move soon after the last one puts off (~15 ms)."""
    deadline = time.perf_counter() + timeout
    while panel.follow.pending and time.perf_counter() < deadline:
        QApplication.processEvents()
        time.sleep(0.002)
    assert not panel.follow.pending


def test_the_table_follows_the_mouse_with_both_panes_values(qtbot, view, panel):
    result = shown(qtbot, view, hand_result())
    before, after = result.input_model, result.steps["flat_field"].model
    _move_mouse(qtbot, view, view.left, 20, 10)
    assert panel.grids["A"].n == 5                     # the default size
    # row 0 is y = 12 (the top), column 0 x = 18
    for row, column in ((0, 0), (2, 2), (4, 4), (1, 3)):
        x, y = 18 + column, 12 - row
        assert cell(panel, "A", row, column) == f"{before.data[y, x]:.5g}"
        assert cell(panel, "B", row, column) == f"{after.data[y, x]:.5g}"
    grid = panel.grids["A"]
    assert grid.column_label(0) == "18"
    assert grid.row_label(0) == "12"
    assert panel.titles["B"].text() == f"B: {vs.AFTER}"
    # (20, 10) is HOT | DO_NOT_USE: tinted, decoded in the tooltip
    assert tint(panel, "A", 2, 2) == FLAGGED_TINT
    assert grid.description(2, 2) == (
        f"x = 20, y = 10: {vs.BEFORE} {before.data[10, 20]:.6g}; DQ {HOT | DNU} = DO_NOT_USE+HOT")
    assert tint(panel, "A", 0, 0) is None
    # moving on: the table moves with it; outside the frame the cells are empty
    _move_mouse(qtbot, view, view.right, 0, 47)
    assert cell(panel, "A", 2, 2) == f"{before.data[47, 0]:.5g}"
    assert cell(panel, "A", 0, 0) == "" and cell(panel, "A", 4, 4) == f"{before.data[45, 2]:.5g}"


def test_hovering_a_cell_decodes_its_flags_and_newly_flagged_shows_in_after(qtbot, view, panel):
    shown(qtbot, view, hand_result())
    _move_mouse(qtbot, view, view.left, 30, 12)        # NO_FLAT_FIELD only in After
    panel.grids["B"].hovered.emit(2, 2)                # as the mouse entering the cell does
    assert panel.hover["B"].text().endswith(f"DQ {NOFLAT} = NO_FLAT_FIELD")
    assert tint(panel, "A", 2, 2) == CENTRE_TINT
    assert tint(panel, "B", 2, 2) == FLAGGED_TINT


def test_the_size_is_the_states_and_copy_gives_the_text(qtbot, view, panel):
    result = shown(qtbot, view, hand_result())
    _move_mouse(qtbot, view, view.left, 5, 3)
    panel.size_box.setValue(7)                         # as a person types it
    assert view.state.pixel_table_size == 7
    assert panel.grids["A"].n == 7
    panel.size_box.setValue(4)                         # an even size goes to the next odd
    assert view.state.pixel_table_size == 5
    view.state.pixel_table_size = 3                    # a restored session, undo, the console
    assert panel.size_box.value() == 3 and panel.grids["B"].n == 3
    view.controls.index_base.setCurrentIndex(1)        # 1-based numbering
    assert panel.grids["A"].column_label(0) == "5"
    text = panel.copy()
    assert QGuiApplication.clipboard().text() == text
    lines = text.splitlines()
    assert lines[0] == f"{vs.BEFORE} — 3x3 around x = 6, y = 4 (1-based; * = DQ flagged)"
    before = result.input_model
    assert lines[3].split()[0] == "4" and lines[3].split()[2] == f"{before.data[3, 5]:.6g}*"
    assert f"  (6, 4): DQ {DNU} = DO_NOT_USE" in lines
    assert any(line.startswith(f"{vs.AFTER} — 3x3") for line in lines)


def test_the_pixel_table_dock_in_the_window(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    assert run(qtbot, window) == 0
    view_menu_action(window, "Pixel table dock").trigger()
    panel = window.inspection_panels["pixels"]
    qtbot.waitUntil(lambda: panel.isVisible(), timeout=5000)
    assert window.workbench.view.docks == ("pixels",)
    view = window.image_view
    qtbot.waitUntil(lambda: not view.busy, timeout=10_000)
    _move_mouse(qtbot, view, view.left, 100, 120)
    source = view.source("A")
    assert cell(panel, "A", 2, 2) == f"{source.value_at(0, 120, 100):.5g}"
    assert panel.where.text() == "x = 100, y = 120 (0-based)"


def test_a_burst_of_moves_fills_the_tables_a_few_times_and_ends_at_the_last(qtbot, view, panel):
    result = shown(qtbot, view, hand_result())
    before = result.input_model
    flush(panel)
    filled, paints = panel.refreshes, panel.grids["A"].paints
    for k in range(50):                                # faster than any screen refresh
        _move_mouse(qtbot, view, view.left, 10 + k % 40, 5 + k % 30)
    QApplication.processEvents()
    assert panel.refreshes - filled <= 2               # the first move at once, then one more
    flush(panel)
    qtbot.wait(30)                                     # any paint still due is done
    assert panel.refreshes - filled <= 3
    assert panel.grids["A"].paints - paints <= 3
    assert panel.blocks["A"].centre == (10 + 49 % 40, 5 + 49 % 30) == view.cursor
    assert cell(panel, "A", 2, 2) == f"{before.data[5 + 49 % 30, 10 + 49 % 40]:.5g}"


def test_the_grid_paints_its_tints_and_a_real_hover_decodes_the_cell(qtbot, view, panel):
    shown(qtbot, view, hand_result())
    _move_mouse(qtbot, view, view.left, 20, 10)        # HOT | DO_NOT_USE at the centre
    flush(panel)
    grid = panel.grids["A"]
    picture = grid.grab().toImage()
    centre, corner = grid.cell_rect(2, 2), grid.cell_rect(0, 0)
    assert picture.pixelColor(int(centre.left()) + 3, int(centre.top()) + 3) == FLAGGED_TINT
    assert picture.pixelColor(int(corner.left()) + 3, int(corner.top()) + 3) != FLAGGED_TINT
    _move_mouse(qtbot, view, view.left, 30, 13)        # (30, 12) NO_FLAT_FIELD in After only
    flush(panel)
    grid = panel.grids["B"]
    picture = grid.grab().toImage()
    below = grid.cell_rect(3, 2)                       # row 3 = y 12
    assert picture.pixelColor(int(below.left()) + 3, int(below.top()) + 3) == FLAGGED_TINT
    at = QPointF(below.center())                       # the mouse over that cell
    QApplication.sendEvent(grid, QMouseEvent(QEvent.Type.MouseMove, at, grid.mapToGlobal(at),
                                             Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                             Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: panel.hover["B"].text().startswith("x = 30, y = 12:"), timeout=2000)
    assert panel.hover["B"].text().endswith(f"DQ {NOFLAT} = NO_FLAT_FIELD")


def test_a_table_wider_than_the_dock_keeps_the_cursor_cell_and_the_row_numbers_in_view(
        qtbot, view, panel):
    shown(qtbot, view, hand_result())
    panel.resize(320, 700)
    view.state.pixel_table_size = 11
    _move_mouse(qtbot, view, view.left, 30, 20)
    flush(panel)
    grid, area = panel.grids["A"], panel.areas["A"]
    bar = area.horizontalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() > 0, timeout=2000)
    assert grid.header_left == bar.value()            # the row numbers drawn there
    left, right = bar.value() + grid.head_w, bar.value() + area.viewport().width()
    centre = grid.cell_rect(5, 5)
    assert left <= centre.left() and centre.right() <= right
    assert grid.cell_at(bar.value() + 2, centre.center().y()) is None  # over the numbers
    picture = grid.grab().toImage()
    number = picture.pixelColor(int(bar.value() + 2), int(centre.top()) + 3)
    assert number == grid.palette().color(grid.palette().ColorRole.Button)
    # a cell the row numbers cut is blanked whole: none of its digits shows beside them
    bar.setValue(int(grid.cell_w * 1.5))               # the numbers cut a column in half
    qtbot.waitUntil(lambda: grid.header_left == bar.value(), timeout=2000)
    picture = grid.grab().toImage()
    first_whole = grid.head_w + math.ceil(bar.value() / grid.cell_w) * grid.cell_w
    left = bar.value() + grid.head_w
    assert first_whole - left > 0.4 * grid.cell_w
    base = grid.palette().color(grid.palette().ColorRole.Base)
    for y in range(int(grid.head_h) + 2, int(grid.head_h + grid.n * grid.cell_h) - 2):
        for x in range(int(left) + 2, int(first_whole) - 1):
            assert picture.pixelColor(x, y) == base, (x, y)
