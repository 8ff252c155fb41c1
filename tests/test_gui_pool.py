"""Run all in the pool of worker processes, driven through the real window (pytest-qt,
offscreen): per-product progress in the Inputs list, the in-process run's arrays and exported
bytes, results loaded lazily and given back, a failing product alone, a cancel within a second,
Live re-runs reusing the pool's steps, and the spill folder gone when the window closes."""

from __future__ import annotations

import gc
import os
import re
import shutil
import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from gui_helpers import RUN_TIMEOUT_MS, run_and_wait  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from result_compare import assert_same_result, file_bytes_without_times  # noqa: E402

from iris_gui.engine.pipeline import Image2Pipeline  # noqa: E402
from iris_gui.engine.pool_results import OWNER_FILE, is_spilled, result_arrays  # noqa: E402


@pytest.fixture()
def pool_window(window):
    window.pool_workers = 2
    return window


def product_items(win):
    top = win.inputs_panel.tree.topLevelItem(0)
    return [top.child(i) for i in range(top.childCount())]


def run_all(qtbot, win) -> int:
    return run_and_wait(qtbot, win, win.run_all_action)


def spill_files(win) -> set[str]:
    folder = win.worker.pool.spill.path
    return {os.path.join(d, f) for d, _, files in os.walk(folder) for f in files
            if f != OWNER_FILE}


def test_run_all_in_the_pool_shows_each_products_progress_and_gives_the_same_arrays(
        qtbot, pool_window, demo_dataset):
    win = pool_window
    win.open_paths([str(demo_dataset.asn)])
    seen: dict[str, set[str]] = {}

    def record(_key):  # connected after the window's own handler: the items are up to date
        for item in product_items(win):
            seen.setdefault(item.text(0), set()).add(item.text(1))

    win.workbench.run_progress.changed.connect(record)
    assert run_all(qtbot, win) == 0
    names = [p.name for p in win.workbench.all_products]
    for name in names:
        assert "queued" in seen[name]
        running = {w for w in seen[name] if w.startswith("running")}
        assert any(re.fullmatch(r"running resample \(7/7\)", w) for w in running), running
    assert all(item.text(1).startswith("done ") for item in product_items(win))
    assert win.progress.value() == 1000 and win.progress_label.text().startswith("done in")
    assert sum(win.workbench.pipeline.executions.values()) == 0  # nothing ran in the window

    reference = Image2Pipeline(cache=False)
    for product in win.workbench.all_products:
        result = win.workbench.result_for(product)
        assert_same_result(result, reference.run_product(product))
    # the shown product's steps are current (the pool's results are cached as the window's)
    assert all(win.steps_panel.status(step) in ("COMPLETE", "SKIPPED", "warning")
               for step in ("bkg_subtract", "flat_field", "resample"))
    assert not win.workbench.stale_products


def test_export_of_pool_results_writes_the_bytes_of_an_in_process_run(
        qtbot, pool_window, demo_dataset, tmp_path):
    win = pool_window
    win.open_paths([str(demo_dataset.asn)])
    assert run_all(qtbot, win) == 0
    first = tmp_path / "from_pool"
    win.set_output_dir(str(first))
    with qtbot.waitSignal(win.exportCompleted, timeout=RUN_TIMEOUT_MS) as blocker:
        win.export_all_action.trigger()
    written, errors = blocker.args
    assert errors == [] and len(written) == 8

    # the same products run again in the window's own process
    win.workbench.product_results.clear()
    win.workbench.pipeline.clear_cache()
    win.pool_workers = 0
    assert run_all(qtbot, win) == 0
    assert win.workbench.pipeline.executions["bkg_subtract"] == 4
    second = tmp_path / "in_process"
    win.set_output_dir(str(second))
    with qtbot.waitSignal(win.exportCompleted, timeout=RUN_TIMEOUT_MS) as blocker:
        win.export_all_action.trigger()
    assert blocker.args[1] == []
    names = sorted(os.listdir(first))
    assert names == sorted(os.listdir(second)) and len(names) == 8
    for name in names:
        assert file_bytes_without_times(first / name) == file_bytes_without_times(second / name), \
            name


def resident_file_bytes() -> int:
    """This process's resident pages that are mapped from files (RssFile)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssFile:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no RssFile in /proc/self/status")


def test_a_products_arrays_are_loaded_when_it_is_selected_and_given_back_after(
        qtbot, pool_window, demo_dataset):
    win = pool_window
    win.open_paths([str(demo_dataset.asn)])
    assert run_all(qtbot, win) == 0
    wb = win.workbench
    results = {p.name: wb.result_for(p) for p in wb.all_products}
    # (the subarray product's 64x64 arrays are small enough to travel in the result itself)
    assert all(is_spilled(r) for name, r in results.items() if name != "iris_demo_sub")
    ints = results["iris_demo_ints"]
    size = sum({id(a): a.nbytes for a in result_arrays(ints)}.values())
    assert size > 8 << 20

    before = resident_file_bytes()
    wb.select(ints.product)  # as a click in the Inputs list does
    for array in result_arrays(ints):  # everything looked at: every view, every step
        float(np.asarray(array, dtype=np.float64).sum())
    shown = resident_file_bytes()
    assert shown - before > 0.8 * size
    wb.select(wb.all_products[0])  # another product: the arrays of this one are given back
    after = resident_file_bytes()
    assert shown - after > 0.8 * size, (before, shown, after, size)
    # and read again, the same, when selected again
    wb.select(ints.product)
    assert ints.steps["resample"].model.data.tobytes() == \
        results["iris_demo_ints"].steps["resample"].model.data.tobytes()


def test_a_failing_product_in_the_pool_is_marked_on_its_item_while_the_others_finish(
        qtbot, pool_window, demo_dataset, tmp_path):
    win = pool_window
    broken = tmp_path / "broken_rate.fits"
    shutil.copy(demo_dataset.science, broken)
    with open(broken, "r+b") as handle:
        handle.truncate(os.path.getsize(broken) // 3)
    win.open_paths([str(demo_dataset.asn), str(broken)])
    assert run_all(qtbot, win) == 0
    tree = win.inputs_panel.tree
    broken_item = tree.topLevelItem(1).child(0)
    assert broken_item.text(1) == "failed"
    assert "broken_rate.fits" in broken_item.toolTip(1)
    assert all(item.text(1).startswith("done ") for item in product_items(win))
    assert any("broken_rate.fits" in box.text() for box in win.error_dialogs)


def test_cancel_during_a_pool_run_stops_within_a_second_and_leaves_nothing(
        qtbot, pool_window, demo_dataset):
    win = pool_window
    win.open_paths([str(demo_dataset.asn)])
    cancelled_at = []

    def cancel_at_first_step(product, step):  # on the pool's thread, as the first step starts
        if not cancelled_at:
            cancelled_at.append(time.monotonic())
            win.worker.cancel()

    win.worker.stepStarted.connect(cancel_at_first_step, Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(win.runCompleted, timeout=RUN_TIMEOUT_MS) as blocker:
        win.run_all_action.trigger()
    stopped = time.monotonic() - cancelled_at[0]
    win.worker.stepStarted.disconnect(cancel_at_first_step)
    assert blocker.args[0] == 1 and stopped < 1.0, f"{stopped:.2f} s"
    assert win.progress_label.text() == "cancelled"
    assert os.listdir(win.workbench.output_dir) == []
    assert not win.workbench.run_progress.products and not win.workbench.partial
    kept = [r for r in win.workbench.product_results.values()]
    assert all(r.ok for r in kept)  # a product done before the cancel is kept, whole
    assert all(not item.text(1).startswith(("queued", "running")) for item in product_items(win))
    in_use = set()
    for result in kept:
        for array in result_arrays(result):
            base = array.base
            if isinstance(base, np.memmap):
                in_use.add(base.filename)
    assert spill_files(win) == in_use  # nothing of the cancelled products
    assert run_all(qtbot, win) == 0  # and the pool runs again
    assert all(item.text(1).startswith("done ") for item in product_items(win))


def test_a_live_rerun_after_a_pool_run_reuses_its_steps(qtbot, pool_window, demo_dataset):
    win = pool_window
    win.open_paths([str(demo_dataset.asn)])
    assert run_all(qtbot, win) == 0
    wb = win.workbench
    wb.select(wb.all_products[0])
    win.live_box.setChecked(True)
    with qtbot.waitSignal(win.runCompleted, timeout=RUN_TIMEOUT_MS):
        win.steps_panel.step_forms["flat_field"].editors["inverse"].widget.setChecked(True)
    executions = wb.pipeline.executions
    assert executions["bkg_subtract"] == 0 and executions["dark_current"] == 0
    assert executions["flat_field"] == 1 and executions["resample"] == 1
    assert "cached" in win.steps_panel.status_text("bkg_subtract")
    assert win.steps_panel.status("flat_field") == "COMPLETE"


def test_the_spill_folder_is_removed_when_the_window_closes(qtbot, pool_window, demo_dataset):
    win = pool_window
    win.open_paths([str(demo_dataset.asn)])
    assert run_all(qtbot, win) == 0
    folder = win.worker.pool.spill.path
    processes = win.worker.pool.pool.processes
    assert os.path.isdir(folder) and spill_files(win) and processes
    win.close()
    gc.collect()
    assert not os.path.exists(folder)
    assert not any(p.is_alive() for p in processes)
