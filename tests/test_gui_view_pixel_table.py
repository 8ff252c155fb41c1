"""The Pixel table dock following the mouse over the panes (pytest-qt, offscreen): the cells of
both panes at known pixels, flagged cells tinted and decoded on hover, the size from the state,
copy; in the real window from the View menu."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from gui_helpers import run_and_wait as run  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
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


def cell(panel, role, row, column, what=Qt.ItemDataRole.DisplayRole):
    model = panel.models[role]
    return model.data(model.index(row, column), what)


def test_the_table_follows_the_mouse_with_both_panes_values(qtbot, view, panel):
    result = shown(qtbot, view, hand_result())
    before, after = result.input_model, result.steps["flat_field"].model
    _move_mouse(qtbot, view, view.left, 20, 10)
    assert panel.models["A"].rowCount() == 5           # the default size
    # row 0 is y = 12 (the top), column 0 x = 18
    for row, column in ((0, 0), (2, 2), (4, 4), (1, 3)):
        x, y = 18 + column, 12 - row
        assert cell(panel, "A", row, column) == f"{before.data[y, x]:.5g}"
        assert cell(panel, "B", row, column) == f"{after.data[y, x]:.5g}"
    model = panel.models["A"]
    assert model.headerData(0, Qt.Orientation.Horizontal) == "18"
    assert model.headerData(0, Qt.Orientation.Vertical) == "12"
    assert panel.titles["B"].text() == f"B: {vs.AFTER}"
    # (20, 10) is HOT | DO_NOT_USE: tinted, decoded in the tooltip
    assert cell(panel, "A", 2, 2, Qt.ItemDataRole.BackgroundRole).color() == FLAGGED_TINT
    assert cell(panel, "A", 2, 2, Qt.ItemDataRole.ToolTipRole) == (
        f"x = 20, y = 10: {vs.BEFORE} {before.data[10, 20]:.6g}; DQ {HOT | DNU} = DO_NOT_USE+HOT")
    assert cell(panel, "A", 0, 0, Qt.ItemDataRole.BackgroundRole) is None
    # moving on: the table moves with it; outside the frame the cells are empty
    _move_mouse(qtbot, view, view.right, 0, 47)
    assert cell(panel, "A", 2, 2) == f"{before.data[47, 0]:.5g}"
    assert cell(panel, "A", 0, 0) == "" and cell(panel, "A", 4, 4) == f"{before.data[45, 2]:.5g}"


def test_hovering_a_cell_decodes_its_flags_and_newly_flagged_shows_in_after(qtbot, view, panel):
    shown(qtbot, view, hand_result())
    _move_mouse(qtbot, view, view.left, 30, 12)        # NO_FLAT_FIELD only in After
    index = panel.models["B"].index(2, 2)
    panel.tables["B"].entered.emit(index)              # as the mouse entering the cell does
    assert panel.hover["B"].text().endswith(f"DQ {NOFLAT} = NO_FLAT_FIELD")
    assert cell(panel, "A", 2, 2, Qt.ItemDataRole.BackgroundRole).color() == CENTRE_TINT
    assert cell(panel, "B", 2, 2, Qt.ItemDataRole.BackgroundRole).color() == FLAGGED_TINT


def test_the_size_is_the_states_and_copy_gives_the_text(qtbot, view, panel):
    result = shown(qtbot, view, hand_result())
    _move_mouse(qtbot, view, view.left, 5, 3)
    panel.size_box.setValue(7)                         # as a person types it
    assert view.state.pixel_table_size == 7
    assert panel.models["A"].rowCount() == 7
    panel.size_box.setValue(4)                         # an even size goes to the next odd
    assert view.state.pixel_table_size == 5
    view.state.pixel_table_size = 3                    # a restored session, undo, the console
    assert panel.size_box.value() == 3 and panel.models["B"].columnCount() == 3
    view.controls.index_base.setCurrentIndex(1)        # 1-based numbering
    assert panel.models["A"].headerData(0, Qt.Orientation.Horizontal) == "5"
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
