"""The window's quick-look arrivals: an arrival adds its own Inputs row and leaves the others'
items as they are; a let-go product is read back from its _cal when chosen in the Night
table; closing the window stops the watch.

The results are made in this process by ``QuickLook`` (the watch process's own runner) and
handed to the window's slots as the watch thread would; one test runs the real process."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest
import shiboken6
from astropy.io import fits

from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.demo import write_demo_dataset
from iris_gui.engine.quicklook import QuickLook, WatchSettings
from iris_gui.engine.quicklook_reopen import REOPENED_STEP, cal_output
from iris_gui.engine.watch_backgrounds import BackgroundRule
from iris_gui.gui import window_watch


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """Four calibrated exposures of a 64² night: (rows by path, results in arrival order)."""
    folder = tmp_path_factory.mktemp("night")
    demo = write_demo_dataset(folder / "demo", size=64, seed=9, n_backgrounds=3, nints=1)
    watched = folder / "watched"
    watched.mkdir()
    for path in (demo.dark, demo.flat, demo.photom):
        shutil.copy(path, watched)
    for k, path in enumerate(demo.backgrounds, 1):
        shutil.copy(path, watched / f"sky{k}_rate.fits")
    names = ["e1", "e2", "e3", "e4"]
    for name in names:
        shutil.copy(demo.science, watched / f"{name}_rate.fits")
    old = time.time() - 60  # settled long ago: each is complete at the first look
    for k, path in enumerate(sorted(watched.iterdir())):
        os.utime(path, (old + k, old + k))
    rows, results = {}, []
    quicklook = QuickLook(WatchSettings(str(watched), str(folder / "out"),
                                        backgrounds=BackgroundRule.parse("recent:3")),
                          PipelineConfig(), on_row=lambda r: rows.__setitem__(r.path, r),
                          on_result=results.append)
    quicklook.poll_once()
    assert [r.product.name for r in results] == names
    return rows, results


def arrive(window, qtbot, rows, result):
    """The watch thread's two signals for one exposure: its row, then its result."""
    window.watch._row(rows[result.product.science])
    window.watch._result(result)


def pointer(item) -> int:
    return shiboken6.getCppPointer(item)[0]


def product_items(panel) -> dict[str, int]:
    items = {}
    for top_index in range(panel.tree.topLevelItemCount()):
        top = panel.tree.topLevelItem(top_index)
        items[top.text(0)] = pointer(top)
        for index in range(top.childCount()):
            items[top.child(index).data(0, 256).name] = pointer(top.child(index))
    return items


def test_an_arrival_adds_its_row_alone_and_the_newest_is_selected(window, qtbot, night,
                                                                  monkeypatch):
    rows, results = night
    wb, panel, watch = window.workbench, window.inputs_panel, window.watch
    rebuilds = []
    real = panel.show_associations
    monkeypatch.setattr(panel, "show_associations",
                        lambda *a, **k: rebuilds.append(1) or real(*a, **k))
    for result in results[:2]:
        arrive(window, qtbot, rows, result)
    qtbot.waitUntil(lambda: wb.current_product is results[1].product)
    before = product_items(panel)
    top = panel.tree.topLevelItem(0)
    assert top.text(0) == "quick-look · watched" and top.text(1) == "watched"
    assert set(before) == {"quick-look · watched", "e1", "e2"}

    arrive(window, qtbot, rows, results[2])
    qtbot.waitUntil(lambda: wb.current_product is results[2].product)
    after = product_items(panel)
    # the same C++ items for the association and the products already there: nothing rebuilt
    assert {k: after[k] for k in before} == before
    assert rebuilds == []
    current = panel.tree.currentItem()
    assert current.data(0, 256) is results[2].product
    assert current.isExpanded() and not panel.tree.topLevelItem(0).child(0).isExpanded()
    assert current.text(1).startswith("done")  # its status, computed for its row alone

    # the user picks the first: following stops, the next arrival counts on the badge
    panel.productSelected.emit(results[0].product)
    assert wb.current_product is results[0].product and not wb.night.following
    kept = product_items(panel)
    arrive(window, qtbot, rows, results[3])
    qtbot.wait(50)  # the turn of the event loop a followed arrival is shown in
    assert wb.current_product is results[0].product
    assert panel.tree.currentItem().data(0, 256) is results[0].product
    assert watch.panel.badge.isVisible() and watch.panel.badge.text() == "1 new ▸"
    assert {k: product_items(panel)[k] for k in kept} == kept
    assert "e4" in product_items(panel) and rebuilds == []


def test_a_let_go_product_is_read_back_from_its_cal_when_chosen(window, qtbot, night,
                                                                monkeypatch):
    rows, results = night
    monkeypatch.setattr(window_watch, "KEEP", 2)
    wb, watch = window.workbench, window.watch
    for result in results[:3]:
        arrive(window, qtbot, rows, result)
    qtbot.waitUntil(lambda: wb.current_product is results[2].product)
    first = results[0].product
    assert first not in wb.all_products  # let go: the newest two are kept
    assert "e1" not in product_items(window.inputs_panel)
    # its cached steps went with it: a plan of it would compute every step again
    assert all(plan.cached is None for plan in wb.pipeline.step_plan(first, wb.config))

    row = rows[first.science]
    cal = cal_output(row)
    assert cal is not None and cal.endswith("e1_cal.fits")
    watch.show_file(first.science)
    qtbot.waitUntil(lambda: wb.current_product is not None
                    and wb.current_product.science == first.science, timeout=20000)
    reopened = wb.result_for(wb.current_product)
    model = reopened.steps[REOPENED_STEP].model
    with fits.open(cal) as hdul:
        np.testing.assert_array_equal(model.data, hdul["SCI"].data)
        np.testing.assert_array_equal(model.dq, hdul["DQ"].data)
        np.testing.assert_array_equal(model.err, hdul["ERR"].data)
    with fits.open(first.science) as hdul:
        np.testing.assert_array_equal(reopened.input_model.data, hdul["SCI"].data)
    assert not wb.night.following  # an older exposure: arrivals now count on the badge
    # shown: the view has the reopened frame, and its Inputs row is back, in the night's order
    assert window.image_view.result is reopened
    names = [p.name for p in watch.quicklook_products()]
    assert names.index("e1") < names.index("e3")
    row_item = window.inputs_panel.tree.currentItem()
    assert row_item.data(0, 256) is wb.current_product
    # said as what it is, not "stale": the written frame, read back
    assert row_item.text(1) == "_cal read back" and "e1_cal.fits" in row_item.toolTip(1)
    assert window.steps_panel.status_text(REOPENED_STEP) == "_cal read back"
    assert "photom: _cal read back" in window.image_view.caption.text()
    # a file with nothing calibrated says so and changes nothing
    sky = next(path for path, r in rows.items() if r.status == "sky")
    watch.show_file(sky)
    assert wb.current_product.science == first.science


def test_closing_the_window_stops_the_watch_and_its_thread(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from iris_gui.gui.main_window import MainWindow

    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    (tmp_path / "watched").mkdir()
    window.watch.start(WatchSettings(str(tmp_path / "watched"), str(tmp_path / "out"),
                                     poll_seconds=0.05))
    process, thread = window.watch.process, window.watch.thread
    assert process.alive and thread.isRunning()
    window.close()  # closeEvent -> shutdown -> watch.shutdown()
    assert window.watch.process is None and not window.watch.watching
    assert thread.isFinished() and not process.alive
    assert window.watch.tasks.closed  # the reading of _cal files too
    window.shutdown()  # twice is fine
