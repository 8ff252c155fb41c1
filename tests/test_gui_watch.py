"""The window's quick-look: the newest product is selected as it lands; once the user picks
another, a badge counts new arrivals; P blinks against the previous exposure of the filter."""

from __future__ import annotations

import shutil

import pytest

from iris_gui.display.view_sources import AFTER, other_product_label
from iris_gui.engine.demo import write_demo_dataset
from iris_gui.engine.quicklook import WatchSettings
from iris_gui.engine.watch_backgrounds import BackgroundRule
from iris_gui.state.view_state import BLINK


@pytest.fixture(scope="module")
def demo64(tmp_path_factory):
    return write_demo_dataset(tmp_path_factory.mktemp("demo64"), size=64, seed=9,
                              n_backgrounds=3, nints=1)


def test_the_newest_is_shown_and_a_badge_counts_arrivals_once_another_is_picked(
        window, qtbot, tmp_path, demo64):
    folder, out = tmp_path / "night", tmp_path / "night-out"
    folder.mkdir()
    for path in (demo64.dark, demo64.flat, demo64.photom):
        shutil.copy(path, folder)
    for k, path in enumerate(demo64.backgrounds, 1):
        shutil.copy(path, folder / f"sky{k}_rate.fits")
    watch = window.watch
    watch.start(WatchSettings(str(folder), str(out), backgrounds=BackgroundRule.parse("recent:3"),
                              poll_seconds=0.05, incomplete_timeout=1.0))
    wb = window.workbench
    assert wb.current_step == "photom"  # the calibrated frame
    assert "3 sky frames" in watch.panel.rule.text()

    def newest_shown(name):
        current = wb.current_product
        assert current is not None and current.name == name
        assert wb.result_for(current) is not None

    shutil.copy(demo64.science, folder / "first_rate.fits")
    qtbot.waitUntil(lambda: newest_shown("first"), timeout=60000)
    shutil.copy(demo64.science, folder / "second_rate.fits")
    qtbot.waitUntil(lambda: newest_shown("second"), timeout=60000)
    assert not wb.is_stale(wb.current_product)  # computed in the watch process, yet current
    assert watch.panel.table.rowCount() == 5  # three sky frames and two exposures
    assert not watch.panel.badge.isVisible()

    # P: blink the shown product against the previous exposure of its filter
    watch.blink_action.trigger()
    view = window.image_view
    assert view.state.layout == BLINK
    assert view.state.choice("photom", "A") == AFTER
    assert view.state.choice("photom", "B") == other_product_label("first")
    assert other_product_label("first") in view.views.sources
    watch.blink_action.trigger()
    assert view.state.layout != BLINK

    # the user picks the older product: following stops; arrivals count on the badge
    first = next(p for p in watch.quicklook_products() if p.name == "first")
    window.inputs_panel.productSelected.emit(first)
    assert wb.current_product is first and not wb.night.following
    shutil.copy(demo64.science, folder / "third_rate.fits")
    qtbot.waitUntil(lambda: any(p.name == "third" for p in watch.quicklook_products()),
                    timeout=60000)
    assert wb.current_product is first
    assert watch.panel.badge.isVisible() and watch.panel.badge.text() == "1 new ▸"
    watch.panel.badge.click()
    newest_shown("third")
    assert wb.night.following and not watch.panel.badge.isVisible()

    # the night table is the session's and the report's
    # (its row says done once its checks are measured, just after it is shown)
    qtbot.waitUntil(lambda: [r.status for r in wb.night.rows].count("done") == 3, timeout=30000)
    watch.stop()
    assert not watch.watching and watch.process is None
