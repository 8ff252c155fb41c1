"""The window over the workbench state, driven as a person does: undo/redo, keys that work
wherever the focus is, folders that reach the run and the command line, sessions, recovery,
closing during a run, the New association dialog."""

from __future__ import annotations

import json
import os
import time

import pytest

pytest.importorskip("pytestqt")

from gui_helpers import RUN_TIMEOUT_MS as TIMEOUT_MS  # noqa: E402
from gui_helpers import run_and_wait as run  # noqa: E402
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402

from iris_gui.engine.association import load_association  # noqa: E402
from iris_gui.state import autosave  # noqa: E402


def sigma_editor(win):
    return win.steps_panel.step_forms["bkg_subtract"].editors["sigma"].widget


def test_parameter_edits_undo_and_redo_with_the_keys(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    sigma_editor(window).setValue(2.5)
    window.steps_panel.items["flat_field"].setCheckState(0, Qt.CheckState.Unchecked)
    assert window.workbench.config.steps["flat_field"]["skip"] is True
    assert window.undo_action.text() == "&Undo switch off flat_field"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.workbench.config.steps["flat_field"]["skip"] is False
    assert window.steps_panel.items["flat_field"].checkState(0) == Qt.CheckState.Checked
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.workbench.config.steps["bkg_subtract"]["sigma"] == 3.0
    assert sigma_editor(window).value() == 3.0  # the form shows the state, not its last edit
    assert not window.undo_action.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert window.workbench.config.steps["bkg_subtract"]["sigma"] == 2.5
    assert sigma_editor(window).value() == 2.5


def test_loading_parameters_is_one_undo(qtbot, window, tmp_path):
    from iris_gui.engine.config import PipelineConfig
    from iris_gui.engine.parameter_files import save_parameters

    config = PipelineConfig()
    config.steps["photom"]["skip"] = True
    config.steps["bkg_subtract"]["sigma"] = 4.0
    save_parameters(config, tmp_path / "p.cfg")
    assert window.load_parameters_from(str(tmp_path / "p.cfg"))
    assert window.steps_panel.items["photom"].checkState(0) == Qt.CheckState.Unchecked
    window.undo()
    assert window.workbench.config.steps["photom"]["skip"] is False
    assert window.steps_panel.items["photom"].checkState(0) == Qt.CheckState.Checked
    assert sigma_editor(window).value() == 3.0


def test_space_in_the_steps_list_never_switches_a_step_off(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    tree = window.steps_panel.tree
    tree.setFocus()
    window.steps_panel.select_step("flat_field")
    qtbot.keyClick(tree, Qt.Key.Key_Space)
    assert window.workbench.config.steps["flat_field"]["skip"] is False
    assert window.steps_panel.items["flat_field"].checkState(0) == Qt.CheckState.Checked
    # its own key does it, and says so in the undo text
    window.toggle_step_action.trigger()
    assert window.workbench.config.steps["flat_field"]["skip"] is True


def test_the_reference_folder_field_reaches_the_run_and_the_command_line(qtbot, window,
                                                                         demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    refs = str(demo_dataset.asn.parent)
    edit = window.steps_panel.ref_dir_edit
    edit.setFocus()
    qtbot.keyClicks(edit, refs)
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert window.workbench.ref_dir == refs
    assert str(window.workbench.pipeline.ref_dir) == refs
    text = window.copy_command_line()
    assert f"--ref-dir {refs}" in text
    assert run(qtbot, window) == 0
    assert window.workbench.current_result.ref_dir == refs


def test_copy_command_line_says_where_its_parameters_went(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    text = window.copy_command_line()
    cfg = os.path.join(window.workbench.output_dir, "iris_gui_image2.cfg")
    assert f"--config {cfg}" in text and os.path.isfile(cfg)
    assert cfg in window.statusBar().currentMessage()
    assert QGuiApplication.clipboard().text() == text
    window.workbench.set_output_dir(None)  # no output folder yet: the user's config folder
    text = window.copy_command_line()
    cfg = os.path.join(os.environ["XDG_CONFIG_HOME"], "iris_gui", "iris_gui_image2.cfg")
    assert f"--config {cfg}" in text and "--output-dir" not in text
    assert os.path.isfile(cfg) and cfg in window.statusBar().currentMessage()


def test_the_first_export_asks_for_an_output_folder(qtbot, window, demo_dataset, tmp_path,
                                                    monkeypatch):
    window.open_paths([str(demo_dataset.asn)])
    assert run(qtbot, window) == 0
    window.workbench.set_output_dir(None)
    asked = []
    monkeypatch.setattr(window, "ask_output_dir", lambda: asked.append(1) or "")
    window.export_selected()
    assert asked and window.workbench.output_dir is None  # cancelled: nothing written
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    monkeypatch.setattr(window, "ask_output_dir", lambda: str(chosen))
    with qtbot.waitSignal(window.exportCompleted, timeout=TIMEOUT_MS) as blocker:
        window.export_selected()
    written, errors = blocker.args
    assert not errors and all(str(chosen) in str(p) for p in written)
    assert window.workbench.output_dir == str(chosen)


def test_two_associations_with_the_same_product_name_stay_apart(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    window.open_paths([str(demo_dataset.asn)])
    first, twin = window.workbench.all_products[0], window.workbench.all_products[4]
    assert first.name == twin.name
    window.select_product(first)
    assert run(qtbot, window) == 0
    assert window.workbench.result_for(first) is not None
    assert window.workbench.result_for(twin) is None
    top = window.inputs_panel.tree.topLevelItem(1)
    assert top.child(0).text(1) == "product"  # not "done": it has not run


def test_removing_a_product_drops_its_result_from_the_view(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    assert run(qtbot, window) == 0
    product = window.workbench.current_product
    window.remove_input(product)
    assert product not in window.workbench.all_products
    assert not window.workbench.product_results
    assert window.workbench.current_product is not product


def test_closing_the_window_during_a_run_cancels_it_within_a_second(qtbot, tmp_path,
                                                                    demo_dataset):
    from iris_gui.gui.main_window import MainWindow

    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    win.show()
    win.set_output_dir(str(tmp_path))
    win.open_paths([str(demo_dataset.asn)])
    with qtbot.waitSignal(win.worker.stepStarted, timeout=TIMEOUT_MS):
        win.run_all()
    started = time.perf_counter()
    win.close()
    assert time.perf_counter() - started < 1.0
    assert win.engine is None


def test_a_session_saved_and_opened_in_a_fresh_window_shows_the_same(qtbot, window,
                                                                     demo_dataset, tmp_path):
    from iris_gui.gui.main_window import MainWindow
    from iris_gui.state.view_state import RegionSpec

    window.open_paths([str(demo_dataset.asn)])
    window.select_product(window.workbench.all_products[2])
    window.steps_panel.select_step("flat_field")
    sigma_editor(window).setValue(2.5)
    view = window.workbench.view
    view.update(stretch="asinh", colormap="viridis", dq_overlay=True)
    view.choose("flat_field", "B", "Ratio (after / before)")
    window.workbench.set_regions((RegionSpec("box", 10, 12, 30, 20),), "add box")
    window.workbench.set_note(window.workbench.current_product, "vignetting at the corner")
    assert run(qtbot, window) == 0
    with qtbot.waitSignal(window.sessionSaved, timeout=TIMEOUT_MS) as blocker:
        window.save_session_to(str(tmp_path / "night"))
    path, error = blocker.args
    assert error == "" and path.endswith("night.iris-session")

    fresh = MainWindow(settings=QSettings(str(tmp_path / "f.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(fresh)
    fresh.show()
    with qtbot.waitSignal(fresh.runCompleted, timeout=TIMEOUT_MS):
        assert fresh.open_session(path)  # the product that had results runs again
    wb = fresh.workbench
    assert [p.name for p in wb.all_products] == [p.name for p in window.workbench.all_products]
    assert wb.current_product.name == window.workbench.current_product.name
    assert fresh.steps_panel.current_step() == "flat_field"
    assert sigma_editor(fresh).value() == 2.5
    assert wb.view.to_dict() == window.workbench.view.to_dict()
    assert wb.notes[wb.key(wb.current_product)] == "vignetting at the corner"
    assert wb.current_result is not None and not wb.is_stale(wb.current_product)
    assert not fresh.error_dialogs
    fresh.close()


def test_a_crash_leaves_an_autosave_that_the_next_window_offers(qtbot, window, demo_dataset,
                                                                tmp_path):
    import shutil
    import subprocess
    import sys

    from iris_gui.gui.main_window import MainWindow

    window.open_paths([str(demo_dataset.asn)])
    with qtbot.waitSignal(window.sessionSaved, timeout=TIMEOUT_MS):
        window.autosave_now()
    mine = autosave.autosave_path()
    assert mine.exists()
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    shutil.copy(mine, autosave.autosave_path(dead))  # what a crashed window leaves
    fresh = MainWindow(settings=QSettings(str(tmp_path / "f.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(fresh)
    box = fresh.offer_recovery()
    assert box is not None and "did not close normally" in box.text()
    [restore] = [b for b in box.buttons() if b.text() == "Restore"]
    restore.click()
    assert len(fresh.workbench.all_products) == 4
    assert not autosave.autosave_path(dead).exists()
    fresh.close()
    window.close()
    assert not mine.exists()  # a normal exit leaves nothing to recover


def test_new_association_names_its_product_refuses_clashes_and_saves_relative(
        qtbot, window, demo_dataset, tmp_path):
    window.open_paths([str(demo_dataset.asn)])
    folder = demo_dataset.asn.parent
    science = str(folder / "iris_demo_rate.fits")
    background = str(sorted(folder.glob("*bkg*_rate.fits"))[0])
    dialog = window.new_association_dialog([science, background])
    dialog.set_role(0, "science")
    dialog.set_role(1, "background")
    dialog.accept()
    assert dialog.isVisible() and "already open" in dialog.message.text()
    dialog.set_product_name(0, "night_42")
    target = folder.parent / "asn_out" / "night_asn.json"
    target.parent.mkdir(exist_ok=True)
    dialog.save_edit.setText(str(target))
    dialog.accept()
    assert not dialog.isVisible()
    assert window.workbench.current_product.name == "night_42"
    assert window.workbench.current_product.asn_path == str(target)
    members = json.loads(target.read_text())["products"][0]["members"]
    assert [m["expname"] for m in members] == [science, background]  # outside: absolute
    reread = load_association(str(target))
    assert reread.products[0].name == "night_42"
    assert reread.products[0].input_paths == [science, background]


def test_new_association_members_inside_its_folder_are_relative(qtbot, window, demo_dataset,
                                                                tmp_path):
    import shutil

    (tmp_path / "raw").mkdir()
    science = shutil.copy(demo_dataset.asn.parent / "iris_demo_rate.fits", tmp_path / "raw")
    dialog = window.new_association_dialog([str(science)])
    dialog.set_product_name(0, "solo")
    dialog.save_edit.setText(str(tmp_path / "solo_asn.json"))
    dialog.accept()
    members = json.loads((tmp_path / "solo_asn.json").read_text())["products"][0]["members"]
    assert members == [{"expname": "raw/iris_demo_rate.fits", "exptype": "science"}]
    dialog = window.new_association_dialog([str(science)])
    dialog.set_product_name(0, "solo_abs")
    dialog.save_edit.setText(str(tmp_path / "abs_asn.json"))
    dialog.absolute.setChecked(True)
    dialog.accept()
    members = json.loads((tmp_path / "abs_asn.json").read_text())["products"][0]["members"]
    assert members[0]["expname"] == str(science)


def test_each_product_has_its_own_review_note(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    first, second = window.workbench.all_products[:2]
    note = window.inputs_panel.note
    note.setFocus()
    qtbot.keyClicks(note, "striping in quadrant 2")
    assert window.workbench.notes[window.workbench.key(first)] == "striping in quadrant 2"
    window.select_product(second)
    assert note.toPlainText() == "" and second.name in window.inputs_panel.note_label.text()
    window.select_product(first)
    assert note.toPlainText() == "striping in quadrant 2"


def test_a_region_drawn_in_the_view_is_in_the_workbench_and_undoes(qtbot, window,
                                                                   demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    qtbot.waitUntil(lambda: window.image_view.left.array is not None, timeout=TIMEOUT_MS)
    assert window.image_view.state is window.workbench.view
    window.image_view.region_panel.box_button.click()
    assert len(window.workbench.view.regions) == 1
    assert window.undo_action.text() == "&Undo add box"
    window.undo()
    assert window.workbench.view.regions == ()


@pytest.mark.parametrize("screen, expected", [
    ((1024, 700), (1024, 700)), ((1366, 768), (1366, 768)), ((1600, 1000), (1500, 950)),
    ((2560, 1440), (2048, 1152)),
])
def test_the_first_window_size_fits_the_screen(screen, expected):
    from PySide6.QtCore import QRect

    from iris_gui.gui.main_window import default_window_size

    class Screen:
        def availableGeometry(self):  # noqa: N802 (Qt naming)
            return QRect(0, 0, *screen)

    assert default_window_size(Screen()) == expected


def test_the_bottom_dock_can_be_made_taller(qtbot, window):
    from PySide6.QtCore import Qt as QtCore

    # the first show gives it ~10 lines of log (a fifth of the height, 110-200 px)
    qtbot.waitUntil(lambda: window.log_dock.height() >= 110, timeout=2000)
    first = window.log_dock.height()
    assert first <= 230
    window.resizeDocks([window.log_dock], [first + 200], QtCore.Orientation.Vertical)
    qtbot.wait(50)
    assert window.log_dock.height() >= first + 150  # the user can drag it taller


def test_a_product_is_signed_off_with_who_and_when(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    window.workbench.reviewer = "A. Reviewer"
    first, second = window.workbench.all_products[:2]
    window.inputs_panel.signoff.setCurrentText("needs work")
    signoff = window.workbench.signoffs[window.workbench.key(first)]
    assert (signoff.verdict, signoff.by) == ("needs work", "A. Reviewer")
    assert "A. Reviewer" in window.inputs_panel.signoff_by.text()
    window.select_product(second)
    assert window.inputs_panel.signoff.currentText() == "—"
    window.select_product(first)
    assert window.inputs_panel.signoff.currentText() == "needs work"
    window.inputs_panel.signoff.setCurrentText("—")
    assert window.workbench.key(first) not in window.workbench.signoffs
