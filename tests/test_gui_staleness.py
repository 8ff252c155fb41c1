"""What the window shows for every product comes from the engine's plan and the product's last
result: a parameter change, a loaded parameter file or a folder change shows every product
stale, and Export of a stale result asks first (run first / export as made / cancel)."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("pytestqt")

from iris_gui.engine.provenance import read_provenance  # noqa: E402

TIMEOUT_MS = 60_000
SKIPPED_BY_CFG = ("dark_current", "flat_field", "photom")


def run_all(qtbot, win):
    with qtbot.waitSignal(win.runCompleted, timeout=TIMEOUT_MS) as blocker:
        win.run_all_action.trigger()
    assert blocker.args[0] == 0


def product_items(win):
    top = win.inputs_panel.tree.topLevelItem(0)
    return [top.child(i) for i in range(top.childCount())]


def choose(box, text):
    [button] = [b for b in box.buttons() if b.text() == text]
    button.click()


def sigma_of(path):
    return read_provenance(path)["parameters"]["steps"]["bkg_subtract"]["sigma"]


@pytest.fixture()
def run_then_edit(qtbot, window, demo_dataset):
    """Run all, then set bkg_subtract sigma with the first product selected."""
    window.open_paths([str(demo_dataset.asn)])
    run_all(qtbot, window)
    assert all(item.text(1).startswith("done ") for item in product_items(window))
    window.steps_panel.select_step("bkg_subtract")
    window.steps_panel.step_forms["bkg_subtract"].editors["sigma"].widget.setValue(2.5)
    assert window.workbench.config.steps["bkg_subtract"]["sigma"] == 2.5
    return window


def test_a_parameter_edit_makes_every_product_stale(qtbot, run_then_edit):
    window = run_then_edit
    products = window.workbench.all_products
    assert len(products) == 4
    assert all("stale" in item.text(1) for item in product_items(window))
    assert window.workbench.stale_products == products
    for product in products:
        window.select_product(product)
        assert all(window.steps_panel.status(name) == "stale"
                   for name in window.steps_panel.items), product.name
    # back to the old value: nothing is stale any more, every step is the cached result
    window.steps_panel.step_forms["bkg_subtract"].editors["sigma"].widget.setValue(3.0)
    assert all(item.text(1).startswith("done ") for item in product_items(window))
    assert window.steps_panel.status("bkg_subtract") == "COMPLETE"


def test_export_all_of_stale_results_asks_and_cancel_writes_nothing(qtbot, run_then_edit):
    window = run_then_edit
    window.export_all_action.trigger()
    box = window.stale_export_box
    assert box is not None and box.isVisible()
    assert all(p.name in box.text() for p in window.workbench.all_products)
    choose(box, "Cancel")
    assert window.stale_export_box is None
    qtbot.wait(200)
    assert os.listdir(window.workbench.output_dir) == []


def test_export_as_made_writes_the_old_parameters(qtbot, run_then_edit):
    window = run_then_edit
    window.export_all_action.trigger()
    with qtbot.waitSignal(window.exportCompleted, timeout=TIMEOUT_MS) as blocker:
        choose(window.stale_export_box, "Export as made")
    written, errors = blocker.args
    assert errors == [] and written
    assert {sigma_of(path) for path in written} == {3.0}
    assert "exported as made" in window.log_panel.plain_text()
    assert "PROVENANCE" in window.log_panel.plain_text()


def test_run_first_runs_the_stale_products_then_exports_the_new_parameters(qtbot, run_then_edit):
    window = run_then_edit
    window.export_selected()  # the selected product alone
    with qtbot.waitSignal(window.exportCompleted, timeout=TIMEOUT_MS) as blocker:
        choose(window.stale_export_box, "Run first")
    written, errors = blocker.args
    assert errors == [] and written
    assert {sigma_of(path) for path in written} == {2.5}
    current = window.workbench.current_product
    assert all(os.path.basename(p).startswith(current.name + "_") for p in written)
    marks = {window.workbench.key(p): item.text(1)
             for p, item in zip(window.workbench.all_products, product_items(window),
                                    strict=True)}
    assert marks[window.workbench.key(current)].startswith("done ")
    assert list(marks.values()).count("● stale") == 3  # the others still say so

    window.export_all_action.trigger()
    with qtbot.waitSignal(window.exportCompleted, timeout=TIMEOUT_MS) as blocker:
        choose(window.stale_export_box, "Run first")
    written, errors = blocker.args
    assert errors == [] and {sigma_of(path) for path in written} == {2.5}
    assert {os.path.basename(p).rsplit("_", 1)[0] for p in written} >= {
        p.name for p in window.workbench.all_products}
    assert window.workbench.stale_products == []


def test_a_loaded_cfg_that_skips_steps_shows_them_off_for_every_product(qtbot, window,
                                                                       demo_dataset, tmp_path):
    window.open_paths([str(demo_dataset.asn)])
    run_all(qtbot, window)
    cfg = tmp_path / "skips.cfg"
    cfg.write_text("    [steps]\n" + "".join(f"      [[{name}]]\n        skip = True\n"
                                              for name in SKIPPED_BY_CFG))
    assert window.load_parameters_from(str(cfg))
    for product in window.workbench.all_products:
        window.select_product(product)
        panel = window.steps_panel
        assert [name for name in panel.items if panel.status(name) == "off"] == \
            list(SKIPPED_BY_CFG), product.name
        assert panel.status("bkg_subtract") == "COMPLETE"  # before the first change: as run
        assert panel.status("resample") == "stale"
    assert all("stale" in item.text(1) for item in product_items(window))


def test_a_reference_folder_change_makes_every_product_stale(qtbot, window, demo_dataset,
                                                            tmp_path):
    window.open_paths([str(demo_dataset.asn)])
    run_all(qtbot, window)
    empty = tmp_path / "refs"
    empty.mkdir()
    window.steps_panel.refDirChanged.emit(str(empty))
    assert all("stale" in item.text(1) for item in product_items(window))
    window.steps_panel.refDirChanged.emit("")
    assert all(item.text(1).startswith("done ") for item in product_items(window))
