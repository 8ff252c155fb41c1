"""Every file action of the window reports any failure (not only the engine's InputError) in a
dialog naming the file and in the log dock, nothing escapes a slot, and the window keeps working.

Driven as a person would: menu actions with the file dialog answered, drops on the inputs tree,
Run and Export. Failures are real where a real file can give them (a folder where a file is
expected, a read-only folder: a read-only tmpfs when running as root, whom chmod does not stop)
and injected (RuntimeError, PermissionError) where only a bug or the system could give them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from PySide6.QtWidgets import QFileDialog  # noqa: E402

from iris_gui.engine import models  # noqa: E402
from iris_gui.engine.pipeline import Image2Pipeline  # noqa: E402
from iris_gui.gui import window_files as window_files_module  # noqa: E402
from iris_gui.state import workbench as workbench_module  # noqa: E402

TIMEOUT_MS = 60_000
#: library internals a message must not show
INTERNALS = ("Errno", "Error:", "Traceback", "RuntimeError", "PermissionError", "OSError",
             "Exception")


@pytest.fixture()
def read_only_dir(read_only_folder):
    """A folder nobody, root included, can write in (see conftest)."""
    return read_only_folder


def reported(qtbot, win, *fragments: str) -> str:
    """The newest error dialog: it names every fragment, shows no library internals, and the log
    dock has it too. The dialog is then closed, as a person would."""
    qtbot.waitUntil(lambda: bool(win.error_dialogs), timeout=TIMEOUT_MS)
    box = win.error_dialogs[-1]
    text = box.text()
    for fragment in fragments:
        assert fragment in text, text
    for word in INTERNALS:
        assert word not in text, text
    assert len(text) < 200 + sum(len(f) for f in fragments), text
    assert text.splitlines()[0] in win.log_panel.plain_text()
    box.accept()
    qtbot.waitUntil(lambda: box not in win.error_dialogs, timeout=5000)
    return text


def run_and_wait(qtbot, win):
    with qtbot.waitSignal(win.runCompleted, timeout=TIMEOUT_MS) as blocker:
        win.run_action.trigger()
    return blocker.args[0]


def drop(win, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    win.inputs_panel.tree.dropEvent(event)


def copy_rate(demo_dataset, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    return Path(shutil.copy(demo_dataset.science, folder / demo_dataset.science.name))


def shows_the_science(qtbot, win):
    qtbot.waitUntil(lambda: win.image_view.left.array is not None, timeout=TIMEOUT_MS)


# ---- opening ---------------------------------------------------------------------------------------

def test_open_from_the_menu_of_a_folder_named_like_an_association(qtbot, window, tmp_path,
                                                                  monkeypatch, demo_dataset):
    bad = tmp_path / "not_really_asn.json"
    bad.mkdir()
    monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                        staticmethod(lambda *a, **k: ([str(bad)], "")))
    window.open_action.trigger()
    reported(qtbot, window, "not_really_asn.json")
    assert window.inputs_panel.tree.topLevelItemCount() == 0
    # the window still opens a good file afterwards
    window.open_paths([str(demo_dataset.asn)])
    assert window.inputs_panel.tree.topLevelItemCount() == 1
    assert not window.error_dialogs


@pytest.mark.parametrize("failure, said", [
    (PermissionError(13, "Permission denied"), "Permission denied"),
    (RuntimeError("boom"), "unexpected internal error"),
])
def test_open_on_the_command_line_reports_any_failure(qtbot, window, tmp_path, monkeypatch,
                                                      demo_dataset, failure, said):
    def broken(path, **_kwargs):
        raise failure

    monkeypatch.setattr(workbench_module, "load_inputs", broken)
    window.open_paths([str(tmp_path / "some_asn.json")])  # what iris-gui FILE does
    reported(qtbot, window, "some_asn.json", said)
    assert window.workbench.associations == []
    monkeypatch.undo()
    window.open_paths([str(demo_dataset.asn)])
    assert window.workbench.current_product.name == "iris_demo"


def test_dropping_an_unreadable_rate_file_marks_it_and_shows_nothing(qtbot, window, tmp_path,
                                                                     demo_dataset):
    fake = tmp_path / "folder_rate.fits"
    fake.mkdir()  # a folder with a rate file's name: accepted as a product, cannot be read
    drop(window, [fake])
    reported(qtbot, window, "folder_rate.fits")
    item = window.inputs_panel.tree.topLevelItem(0).child(0)
    qtbot.waitUntil(lambda: window.inputs_panel.tree.topLevelItem(0).child(0).text(0)
                    .startswith("⚠"), timeout=TIMEOUT_MS)
    item = window.inputs_panel.tree.topLevelItem(0).child(0)
    assert "folder_rate.fits" in item.toolTip(0) and item.text(1) == "⚠ unreadable"
    assert window.image_view.left.array is None
    # selecting another step does not ask again (no second dialog)
    window.steps_panel.select_step("flat_field")
    qtbot.wait(200)
    assert not window.error_dialogs
    # a good file dropped next is shown
    good = copy_rate(demo_dataset, tmp_path / "good")
    drop(window, [good])
    shows_the_science(qtbot, window)
    assert not window.error_dialogs


# ---- the preview of a selected product (read on the worker) ----------------------------------------

@pytest.mark.parametrize("failure, said", [
    (RuntimeError("boom"), "unexpected internal error"),
    (PermissionError(13, "Permission denied"), "Permission denied"),
    (ValueError("bad value"), "unexpected internal error"),
])
def test_preview_failure_is_reported_and_the_product_marked(qtbot, window, tmp_path, monkeypatch,
                                                            demo_dataset, failure, said):
    science = copy_rate(demo_dataset, tmp_path / "data")
    real_read = models.read_image

    def broken(path, **kwargs):
        if Path(path) == science:
            raise failure
        return real_read(path, **kwargs)

    monkeypatch.setattr(models, "read_image", broken)
    with qtbot.waitSignal(window.worker.failed, timeout=TIMEOUT_MS) as blocker:
        window.open_paths([str(science)])
    assert blocker.args[0] == "open"
    reported(qtbot, window, science.name, said)
    qtbot.waitUntil(lambda: window.inputs_panel.tree.topLevelItem(0).child(0).text(0)
                    .startswith("⚠"), timeout=TIMEOUT_MS)
    assert window.image_view.left.array is None
    # fixed (the file readable again): opened again, it is read and shown, the mark gone
    monkeypatch.setattr(models, "read_image", real_read)
    window.open_paths([str(science)])
    shows_the_science(qtbot, window)
    last = window.inputs_panel.tree.topLevelItem(1).child(0)
    assert not last.text(0).startswith("⚠")


# ---- parameters ----------------------------------------------------------------------------------

def test_load_parameters_from_a_folder_keeps_the_form(qtbot, window, tmp_path, monkeypatch):
    folder = tmp_path / "params.cfg"
    folder.mkdir()
    before = window.workbench.config.to_dict()
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(folder), "")))
    window.load_params_action.trigger()
    reported(qtbot, window, "params.cfg")
    assert window.workbench.config.to_dict() == before


def test_load_parameters_bug_is_reported(qtbot, window, tmp_path, monkeypatch):
    cfg = tmp_path / "fine.cfg"
    cfg.write_text("save_bsub = True\n")

    def broken(path):
        raise RuntimeError("a bug")

    monkeypatch.setattr(window_files_module, "load_parameters", broken)
    assert window.load_parameters_from(str(cfg)) is False
    reported(qtbot, window, "fine.cfg", "unexpected internal error")
    monkeypatch.undo()
    assert window.load_parameters_from(str(cfg))
    assert window.workbench.config.pipeline["save_bsub"] is True


def test_save_parameters_to_an_unwritable_place(qtbot, window, read_only_dir, tmp_path,
                                                monkeypatch):
    target = read_only_dir / "image2.cfg"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    window.save_params_action.trigger()
    reported(qtbot, window, str(target))
    assert not target.exists()
    assert window.save_parameters_to(str(tmp_path / "ok.cfg"))


def test_copy_command_line_with_an_unwritable_output_folder(qtbot, window, read_only_dir,
                                                            demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    window.set_output_dir(str(read_only_dir))
    assert window.copy_command_line() is None
    reported(qtbot, window, "iris_gui_image2.cfg")


# ---- export --------------------------------------------------------------------------------------

def test_export_to_a_read_only_folder_then_to_a_good_one(qtbot, window, read_only_dir, tmp_path,
                                                         demo_dataset):
    window.open_paths([str(demo_dataset.science)])
    assert run_and_wait(qtbot, window) == 0
    window.set_output_dir(str(read_only_dir))
    with qtbot.waitSignal(window.exportCompleted, timeout=TIMEOUT_MS) as blocker:
        window.export_action.trigger()
    written, errors = blocker.args
    assert written == [] and errors
    reported(qtbot, window, str(read_only_dir))
    assert len(window.error_dialogs) == 0  # one dialog, not one per channel
    window.set_output_dir(str(tmp_path / "fine"))
    with qtbot.waitSignal(window.exportCompleted, timeout=TIMEOUT_MS) as blocker:
        window.export_action.trigger()
    assert blocker.args[1] == [] and blocker.args[0]


def test_export_bug_is_reported(qtbot, window, demo_dataset, monkeypatch):
    window.open_paths([str(demo_dataset.science)])
    assert run_and_wait(qtbot, window) == 0

    def broken(self, result, output_dir=None, plan=None):
        raise RuntimeError("a bug")

    monkeypatch.setattr(Image2Pipeline, "write_outputs", broken)
    with qtbot.waitSignal(window.exportCompleted, timeout=TIMEOUT_MS):
        window.export_action.trigger()
    reported(qtbot, window, "iris_demo", window.workbench.output_dir, "unexpected internal error")


def test_export_view_png_to_a_read_only_folder(qtbot, window, read_only_dir):
    assert window.image_view.export_png_reporting(str(read_only_dir / "view.png")) is False
    reported(qtbot, window, "view.png")


# ---- associations ----------------------------------------------------------------------------------

def test_save_association_to_a_read_only_folder(qtbot, window, read_only_dir, tmp_path,
                                                monkeypatch, demo_dataset):
    dialog = window.new_association_dialog([str(demo_dataset.science),
                                            str(demo_dataset.backgrounds[0])])
    dialog.accept()
    target = read_only_dir / "mine_asn.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    window.save_asn_action.trigger()
    reported(qtbot, window, "mine_asn.json")
    assert window.workbench.associations[-1].path is None  # not saved, not pretending to be
    good = tmp_path / "mine_asn.json"
    window.save_association_to(window.workbench.associations[-1], str(good))
    assert good.exists() and not window.error_dialogs


def test_save_association_bug_is_reported(qtbot, window, tmp_path, monkeypatch, demo_dataset):
    window.open_paths([str(demo_dataset.science)])

    def broken(association, path):
        raise RuntimeError("a bug")

    monkeypatch.setattr(window_files_module, "save_association", broken)
    window.save_association_to(window.workbench.associations[-1], str(tmp_path / "x_asn.json"))
    reported(qtbot, window, "x_asn.json", "unexpected internal error")


# ---- the worker: every request reports every exception --------------------------------------------

def test_a_bug_during_a_run_is_reported_and_the_window_is_not_stuck(qtbot, window, demo_dataset,
                                                                    monkeypatch):
    window.open_paths([str(demo_dataset.science)])

    def broken(self, product, cancel=None, config=None):
        raise RuntimeError("a bug")

    monkeypatch.setattr(Image2Pipeline, "run_product", broken)
    assert run_and_wait(qtbot, window) == 0
    reported(qtbot, window, "unexpected internal error")
    assert window.run_action.text() == "&Run" and not window.running
    monkeypatch.undo()
    assert run_and_wait(qtbot, window) == 0
    assert window.workbench.current_result.ok


def test_demo_in_a_read_only_folder_is_reported(qtbot, window, read_only_dir):
    with qtbot.waitSignal(window.worker.failed, timeout=TIMEOUT_MS):
        window.worker.requestDemo.emit(str(read_only_dir / "demo"), 64)
    reported(qtbot, window, str(read_only_dir / "demo"))


def test_new_association_with_a_symlink_loop_is_reported_not_raised(qtbot, window, tmp_path):
    loop = tmp_path / "loop_rate.fits"
    loop.symlink_to(loop)
    dialog = window.new_association_dialog([str(loop)])
    dialog.accept()
    # the member is not found: said on the product, the window keeps going
    item = window.inputs_panel.tree.topLevelItem(0).child(0)
    assert item.text(0).startswith("⚠") and "loop_rate.fits" in item.toolTip(0)
