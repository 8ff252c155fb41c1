"""The Header dock in the real window, used as a person does: shown from the View menu, the
photom step's header with what it wrote and changed tinted, searched, the other pane, copied,
kept in the session's view state."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from gui_helpers import RUN_TIMEOUT_MS  # noqa: E402
from gui_helpers import run_and_wait as run  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from iris_gui.display import headers as hd  # noqa: E402


def view_menu_action(window, text):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    return next(a for a in menu.actions() if a.text() == text)


def listed(panel):
    """{(extension, keyword): (status, value, input value)} of the dock's tree."""
    out = {}
    for i in range(panel.tree.topLevelItemCount()):
        top = panel.tree.topLevelItem(i)
        for j in range(top.childCount()):
            item = top.child(j)
            out.setdefault((top.text(0), item.text(0)),
                           (item.data(0, Qt.ItemDataRole.UserRole), item.text(1), item.text(2)))
    return out


def select_step(window, name):
    panel = window.steps_panel
    panel.tree.setCurrentItem(panel.items[name])
    assert window.workbench.current_step == name


def test_the_header_dock_tints_what_photom_wrote_and_searches(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    assert run(qtbot, window) == 0
    select_step(window, "photom")
    dock, panel = window.inspection_docks["header"], window.inspection_panels["header"]
    assert dock.isHidden() and window.workbench.view.docks == ()
    view_menu_action(window, "Header dock").trigger()
    qtbot.waitUntil(lambda: panel.isVisible(), timeout=5000)
    assert window.workbench.view.docks == ("header",)
    result = window.workbench.result_for(window.workbench.current_product)
    before, after = result.before("photom"), result.steps["photom"].model

    # pane A is the step's input: nothing to compare with
    assert "nothing of this step to compare with" in panel.summary.text()
    assert {row[0] for row in listed(panel).values()} == {hd.SAME}
    assert listed(panel)[("PRIMARY", "BUNIT")][1] == before.header["BUNIT"]

    panel.role.setCurrentIndex(1)  # pane B: After, as a person picks it
    assert window.workbench.view.header_role == "B"
    rows = listed(panel)
    assert rows[("PRIMARY", "S_PHOTOM")][0] == hd.ADDED
    assert rows[("PRIMARY", "PHOTMJSR")][0] == hd.ADDED
    assert rows[("PRIMARY", "R_PHOTOM")][0] == hd.ADDED
    assert rows[("PRIMARY", "BUNIT")] == (hd.CHANGED, after.header["BUNIT"], before.header["BUNIT"])
    assert rows[("PRIMARY", "TELESCOP")][0] == hd.SAME
    assert rows[("PRIMARY", "S_FLAT")][0] == hd.SAME     # an earlier step's, not this one's
    assert [panel.tree.topLevelItem(i).text(0) for i in range(panel.tree.topLevelItemCount())][:4] \
        == ["PRIMARY", "SCI", "ERR", "DQ"]
    item = next(panel.tree.topLevelItem(0).child(j)
                for j in range(panel.tree.topLevelItem(0).childCount())
                if panel.tree.topLevelItem(0).child(j).text(0) == "S_PHOTOM")
    assert item.background(1).color() == panel_tint(hd.ADDED)

    # typing in the search field filters, and is the state's
    panel.search.setFocus()
    QTest.keyClicks(panel.search, "photmj")
    assert window.workbench.view.header_search == "photmj"
    assert set(listed(panel)) == {("PRIMARY", "PHOTMJSR")}
    panel.search.clear()
    panel.search.textEdited.emit("")
    panel.changed_only.click()
    assert window.workbench.view.header_changed_only is True
    changed = listed(panel)
    assert {"S_PHOTOM", "BUNIT", "PHOTMJSR"} <= {key for _, key in changed}
    assert all(status != hd.SAME for status, _, _ in changed.values())

    text = panel.copy()
    assert QGuiApplication.clipboard().text() == text
    assert text.splitlines()[0].startswith("photom: After (output)")
    assert "+ S_PHOTOM= 'COMPLETE'" in text
    assert any(line.startswith("~ BUNIT") and "(input: " in line for line in text.splitlines())

    # the state drives the dock: a restored session's settings are shown
    window.workbench.view.update(header_changed_only=False, header_search="TELESCOP",
                                 header_role="A")
    assert panel.search.text() == "TELESCOP" and panel.role.currentIndex() == 0
    assert set(listed(panel)) == {("PRIMARY", "TELESCOP")}
    window.workbench.view.docks = ()
    assert dock.isHidden()


def panel_tint(status):
    from iris_gui.gui.view_header import TINTS

    return TINTS[status]


def test_the_header_dock_follows_the_product_before_a_run(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    qtbot.waitUntil(lambda: window.image_view.left.array is not None, timeout=RUN_TIMEOUT_MS)
    window.workbench.view.docks = ("header",)
    panel = window.inspection_panels["header"]
    qtbot.waitUntil(lambda: panel.isVisible(), timeout=5000)
    rows = listed(panel)
    assert ("PRIMARY", "INSTRUME") in rows and ("SCI", "NAXIS1") in rows
    assert rows[("SCI", "NAXIS1")][1] == "256"
