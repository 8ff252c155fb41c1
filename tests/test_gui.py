"""The window driven as a person uses it (pytest-qt, offscreen). Every test closes the window,
which quits and waits for the engine thread."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from gui_helpers import RUN_TIMEOUT_MS, run_and_wait  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402

from iris_gui.cli import main as cli_main  # noqa: E402
from iris_gui.engine.models import read_image  # noqa: E402
from iris_gui.engine.parameter_files import load_parameters  # noqa: E402
from iris_gui.engine.steps import STEPS  # noqa: E402


def export_and_wait(qtbot, win, action=None):
    with qtbot.waitSignal(win.exportCompleted, timeout=RUN_TIMEOUT_MS) as blocker:
        (action or win.export_action).trigger()
    return blocker.args


def step_editor(win, step, name):
    return win.steps_panel.step_forms[step].editors[name]


def test_open_toggle_run_export_matches_the_command_line(qtbot, window, demo_dataset, tmp_path):
    window.open_paths([str(demo_dataset.asn)])
    tree = window.inputs_panel.tree
    assert tree.topLevelItemCount() == 1
    assert tree.topLevelItem(0).childCount() == 4  # four products in the demo ASN
    assert window.workbench.current_product.name == "iris_demo"

    # uncheck flat_field in the steps list, set bkg_subtract.sigma in its form
    window.steps_panel.items["flat_field"].setCheckState(0, Qt.CheckState.Unchecked)
    assert window.workbench.config.steps["flat_field"]["skip"] is True
    window.steps_panel.select_step("bkg_subtract")
    step_editor(window, "bkg_subtract", "sigma").widget.setValue(2.5)
    assert window.workbench.config.steps["bkg_subtract"]["sigma"] == 2.5

    assert run_and_wait(qtbot, window) == 0
    panel = window.steps_panel
    assert panel.status("bkg_subtract") == "COMPLETE"
    assert panel.status("dark_current") == "COMPLETE"
    assert panel.status("flat_field") == "SKIPPED"
    assert "skip" in panel.status_text("flat_field")
    assert window.run_action.text() == "&Run"
    # the step's output is in the view and in the session
    window.steps_panel.select_step("dark_current")
    assert window.image_view.right.array is not None
    assert window.workbench.results["dark_current"].header["S_DARK"] == "COMPLETE"

    written, errors = export_and_wait(qtbot, window)
    assert errors == []
    exported = read_image(os.path.join(window.workbench.output_dir, "iris_demo_cal.fits"))
    assert exported.header["S_FLAT"] == "SKIPPED"

    cfg = tmp_path / "saved.cfg"
    assert window.save_parameters_to(str(cfg))
    cli_out = tmp_path / "cli"
    assert cli_main([str(demo_dataset.asn), "--config", str(cfg), "--output-dir", str(cli_out)]) == 0
    from_cli = read_image(cli_out / "iris_demo_cal.fits")
    np.testing.assert_array_equal(exported.data, from_cli.data)
    np.testing.assert_array_equal(exported.err, from_cli.err)
    np.testing.assert_array_equal(exported.dq, from_cli.dq)


def test_changing_inverse_reruns_only_flat_onward(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    run_and_wait(qtbot, window)
    executions = dict(window.workbench.pipeline.executions)
    assert executions["flat_field"] == 1 and executions["bkg_subtract"] == 1
    window.steps_panel.select_step("flat_field")
    step_editor(window, "flat_field", "inverse").widget.setChecked(True)
    assert window.steps_panel.status("flat_field") == "stale"
    assert window.steps_panel.status("dark_current") != "stale"
    run_and_wait(qtbot, window)
    after = dict(window.workbench.pipeline.executions)
    changed = {name for name in after if after[name] != executions.get(name)}
    downstream = {"flat_field", "photom", "resample"}
    assert "flat_field" in changed and changed <= downstream
    assert all(after[name] == executions[name] for name in executions if name not in downstream)
    assert "cached" in window.steps_panel.status_text("bkg_subtract")


def test_live_mode_reruns_after_a_change(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    run_and_wait(qtbot, window)
    window.live_box.setChecked(True)
    with qtbot.waitSignal(window.runCompleted, timeout=RUN_TIMEOUT_MS):
        window.steps_panel.items["dark_current"].setCheckState(0, Qt.CheckState.Unchecked)
    assert window.steps_panel.status("dark_current") == "SKIPPED"


def test_cancel_mid_run_leaves_no_files_and_a_usable_window(qtbot, window, demo_dataset):
    """Cancel reaches the engine while dark_current runs (the Run button's Cancel sets the same
    thread-safe token); the run stops, nothing is written or kept, and the window runs again."""
    window.open_paths([str(demo_dataset.asn)])

    def cancel_at_dark(product, step):  # called on the engine thread, at dark_current's start
        if step.name == "dark_current":
            window.worker.cancel()

    window.worker.stepStarted.connect(cancel_at_dark, Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(window.runCompleted, timeout=RUN_TIMEOUT_MS) as blocker:
        window.run_all_action.trigger()
        assert window.run_action.text() == "&Cancel"
    window.worker.stepStarted.disconnect(cancel_at_dark)
    assert blocker.args[0] == 1
    assert window.progress_label.text() == "cancelled"
    assert os.listdir(window.workbench.output_dir) == []
    assert window.workbench.product_results == {}  # nothing half-done was kept
    assert run_and_wait(qtbot, window) == 0  # still usable
    assert window.workbench.current_result.ok


def test_cancel_button_right_after_run(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    with qtbot.waitSignal(window.runCompleted, timeout=RUN_TIMEOUT_MS) as blocker:
        window.run_all_action.trigger()
        window.run_action.trigger()  # reads Cancel now
    assert blocker.args[0] == 1
    assert window.workbench.product_results == {}
    assert window.run_action.text() == "&Run"


def test_broken_reference_gives_a_dialog_and_a_log_line(qtbot, window, demo_dataset, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(demo_dataset.directory, folder)
    dark = folder / demo_dataset.dark.name
    with open(dark, "r+b") as handle:
        handle.truncate(os.path.getsize(dark) // 2)
    window.open_paths([str(folder / demo_dataset.asn.name)])
    run_and_wait(qtbot, window)
    assert window.steps_panel.status("dark_current") == "FAILED"
    assert window.error_dialogs, "no error dialog"
    message = window.error_dialogs[-1].text()
    assert dark.name in message and "truncated" in message
    assert dark.name in window.log_panel.plain_text()
    window.error_dialogs[-1].accept()
    # the window stays usable: without the dark step the product runs
    window.steps_panel.items["dark_current"].setCheckState(0, Qt.CheckState.Unchecked)
    run_and_wait(qtbot, window)
    assert window.workbench.current_result.ok


def test_bad_input_file_gives_a_dialog(qtbot, window, tmp_path):
    bad = tmp_path / "broken_asn.json"
    bad.write_text("{not json")
    window.open_paths([str(bad)])
    assert window.error_dialogs and "not a JSON association" in window.error_dialogs[-1].text()
    assert window.inputs_panel.tree.topLevelItemCount() == 0


def test_console_runs_code_against_the_session(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    run_and_wait(qtbot, window)
    console = window.ensure_console()
    value = console.evaluate("np.nanmean(workbench.results['flat_field'].data)")
    expected = np.nanmean(window.workbench.current_result.steps["flat_field"].model.data)
    assert value == pytest.approx(float(expected))
    console.widget.execute("shape = workbench.results['dark_current'].data.shape")
    qtbot.waitUntil(lambda: "shape" in console.kernel.shell.user_ns, timeout=5000)
    assert console.kernel.shell.user_ns["shape"] == (demo_dataset.size, demo_dataset.size)
    assert console.evaluate("window") is window


def test_loading_and_saving_parameters_round_trips_the_form(qtbot, window, tmp_path):
    cfg = tmp_path / "image2.cfg"
    cfg.write_text(
        'name = "ProcessImagerL2Pipeline"\n'
        'class = "iris_pipeline.pipeline.ProcessImagerL2Pipeline"\n'
        "save_results = True\nsave_bsub = True\n"
        "    [steps]\n"
        "      [[bkg_subtract]]\n        sigma = 2.0\n        maxiters = 3\n"
        "      [[flat_field]]\n        inverse = True\n"
        "      [[photom]]\n        skip = True\n"
    )
    assert window.load_parameters_from(str(cfg))
    panel = window.steps_panel
    assert panel.items["photom"].checkState(0) == Qt.CheckState.Unchecked
    assert panel.items["flat_field"].checkState(0) == Qt.CheckState.Checked
    assert step_editor(window, "bkg_subtract", "sigma").value() == 2.0
    assert step_editor(window, "bkg_subtract", "maxiters").value() == 3
    assert step_editor(window, "flat_field", "inverse").value() is True
    assert panel.pipeline_form.editors["save_bsub"].value() is True
    saved = tmp_path / "saved.asdf"
    assert window.save_parameters_to(str(saved))
    assert load_parameters(saved).to_dict() == load_parameters(cfg).to_dict()
    # maxiters back to None through its form
    step_editor(window, "bkg_subtract", "maxiters").reset()
    assert window.workbench.config.steps["bkg_subtract"]["maxiters"] is None


def test_out_of_range_and_bad_parameter_file(qtbot, window, tmp_path):
    bad = tmp_path / "bad.cfg"
    bad.write_text("    [steps]\n      [[flat_field]]\n        bogus = 1\n")
    assert not window.load_parameters_from(str(bad))
    assert "bogus" in window.error_dialogs[-1].text()


def test_build_and_save_an_association(qtbot, window, demo_dataset, tmp_path):
    files = [str(demo_dataset.science)] + [str(p) for p in demo_dataset.backgrounds[:3]]
    dialog = window.new_association_dialog(files)
    roles = [dialog.table.cellWidget(r, 1).currentText() for r in range(dialog.table.rowCount())]
    assert roles == ["science", "background", "background", "background"]
    dialog.accept()
    product = window.workbench.current_product
    assert product.name == "iris_demo" and len(product.backgrounds) == 3
    target = tmp_path / "made_asn.json"
    window.save_association_to(window.workbench.associations[-1], str(target))
    from iris_gui.engine.association import load_association

    reloaded = load_association(target)
    assert reloaded.products[0].backgrounds == product.backgrounds


def test_copy_command_line_and_recent_files(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    text = window.copy_command_line()
    assert text.startswith("iris-image2 ") and str(demo_dataset.asn) in text
    assert "--config" in text and QGuiApplication.clipboard().text() == text
    cfg = text.split("--config ")[1].split()[0]
    assert load_parameters(cfg).to_dict() == window.workbench.config.to_dict()
    assert window.recent_files()[0] == str(demo_dataset.asn)


def test_removing_a_product(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    product = window.workbench.all_products[1]
    window.remove_input(product)
    assert product not in window.workbench.all_products
    assert window.inputs_panel.tree.topLevelItem(0).childCount() == 3


def test_demo_mode_writes_opens_and_runs_the_first_product(qtbot, window, tmp_path):
    """What `iris-gui --demo` does: the dataset is written on the worker, opened, and its first
    product run, with every step's result in the view."""
    window.settings.remove("folders/output")
    window.run_when_demo_ready = True
    with qtbot.waitSignal(window.runCompleted, timeout=RUN_TIMEOUT_MS) as blocker:
        window.worker.requestDemo.emit(str(tmp_path / "demo"), 128)
    assert blocker.args[0] == 0
    assert window.workbench.current_product.name == "iris_demo"
    assert all(window.steps_panel.status(s.name) in ("COMPLETE", "SKIPPED")
               for s in STEPS)
    assert window.steps_panel.status("resample") == "COMPLETE"
    # outputs of the demo go beside it unless the user chose a folder
    assert window.workbench.output_dir == str(tmp_path / "demo" / "output")


def test_an_explicit_output_folder_survives_the_demo(qtbot, window, tmp_path):
    """iris-gui --demo --output-dir DIR exports to DIR, not to the demo's own output folder."""
    window.settings.remove("folders/output")
    window.set_output_dir(str(tmp_path / "mine"))
    with qtbot.waitSignal(window.inputs_panel.tree.model().rowsInserted, timeout=RUN_TIMEOUT_MS):
        window.worker.requestDemo.emit(str(tmp_path / "demo"), 64)
    qtbot.waitUntil(lambda: window.workbench.current_product is not None, timeout=RUN_TIMEOUT_MS)
    assert window.workbench.output_dir == str(tmp_path / "mine")


def test_float_fields_keep_small_values_and_none(qtbot, window):
    """photmjsr ~2e-4 MJy/sr per DN/s and pixel scales of a few mas must survive the form, and
    optional floats (None: use the table / the input's scale) must be settable to None."""
    photmjsr = step_editor(window, "photom", "photmjsr")
    assert photmjsr.value() is None and photmjsr.widget.text() == "None"
    photmjsr.widget.lineEdit().setText("2.1e-4")
    photmjsr.widget.interpretText()
    assert window.workbench.config.steps["photom"]["photmjsr"] == 2.1e-4
    assert photmjsr.widget.text() == "0.00021"
    photmjsr.widget.lineEdit().setText("None")
    photmjsr.widget.interpretText()
    assert window.workbench.config.steps["photom"]["photmjsr"] is None

    scale = step_editor(window, "resample", "pixel_scale")
    assert scale.value() is None                       # not 0.0001 arcsec
    scale.widget.setValue(0.0041)
    assert window.workbench.config.steps["resample"]["pixel_scale"] == 0.0041
    scale.reset_button.click()
    assert window.workbench.config.steps["resample"]["pixel_scale"] is None
    rotation = step_editor(window, "resample", "rotation")
    assert rotation.value() == 0.0                     # north up by default ...
    rotation.widget.setValue(rotation.widget.minimum())
    assert window.workbench.config.steps["resample"]["rotation"] is None  # ... or detector axes
    sigma = step_editor(window, "bkg_subtract", "sigma")
    sigma.widget.lineEdit().setText("-1")              # out of bounds: not accepted
    sigma.widget.interpretText()
    assert window.workbench.config.steps["bkg_subtract"]["sigma"] == 3.0


def test_opening_a_rate_file_shows_it_before_any_run(qtbot, window, demo_dataset):
    """The science exposure is read on the worker and shown as soon as a product is opened."""
    science = demo_dataset.directory / "iris_demo_rate.fits"
    with qtbot.waitSignal(window.worker.previewReady, timeout=RUN_TIMEOUT_MS):
        window.open_paths([str(science)])
    qtbot.waitUntil(lambda: window.image_view.left.array is not None, timeout=RUN_TIMEOUT_MS)
    expected = read_image(science).data
    np.testing.assert_array_equal(window.image_view.left.array, expected)
    assert window.workbench.current_result is None          # nothing has run
    assert run_and_wait(qtbot, window) == 0
    assert window.workbench.preview is None                        # the run's input replaced it


def test_a_step_skipped_for_want_of_a_reference_shows_its_warning_and_reason(qtbot, window,
                                                                            demo_dataset, tmp_path):
    """A rate file alone in its folder: dark_current has no dark; the step says so (⚠), keeps
    its skip reason in view, and the tooltip has the warning. Switched off, it is quiet."""
    lonely = tmp_path / "alone" / demo_dataset.science.name
    lonely.parent.mkdir()
    shutil.copy(demo_dataset.science, lonely)
    window.open_paths([str(lonely)])
    assert run_and_wait(qtbot, window) == 0
    panel = window.steps_panel
    assert panel.status("dark_current") == "warning"
    assert panel.status_text("dark_current").startswith("⚠ skipped: no dark reference")
    tooltip = panel.items["dark_current"].toolTip(1)
    assert "switch the step off to silence this" in tooltip and "no dark reference in" in tooltip
    panel.items["dark_current"].setCheckState(0, Qt.CheckState.Unchecked)
    assert run_and_wait(qtbot, window) == 0
    assert panel.status("dark_current") == "SKIPPED"


def test_window_fits_a_1024x700_screen(window):
    """Controls wrap, docks and side panels scroll: nothing forces the window past 1024x700."""
    hint = window.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 700, hint
    window.resize(1024, 700)
    assert window.width() <= 1024 and window.height() <= 700
