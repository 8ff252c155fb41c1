"""Shared fixtures. Qt must be told to render offscreen before anything imports it."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# autosaves and Copy command line's parameter file go to folders of this test run, not $HOME
import tempfile  # noqa: E402

_HOME = tempfile.mkdtemp(prefix="iris-gui-tests-")
os.environ["IRIS_GUI_STATE_DIR"] = os.path.join(_HOME, "state")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_HOME, "config")
os.makedirs(os.environ["XDG_CONFIG_HOME"])  # astropy warns about a config folder that is missing

import subprocess  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def demo_dataset(tmp_path_factory):
    """A small demo dataset shared (read-only) by the tests."""
    from iris_gui.engine.demo import write_demo_dataset

    return write_demo_dataset(tmp_path_factory.mktemp("demo"), size=256, seed=7)


@pytest.fixture()
def read_only_folder(tmp_path):
    """A folder nobody can write in, root included (CI runs as root, whom chmod does not stop):
    a read-only bind mount as root, a 0o500 folder otherwise."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    if os.geteuid() == 0:
        for args in (["--bind", str(folder)], ["-o", "remount,bind,ro"]):
            result = subprocess.run(["mount", *args, str(folder)], capture_output=True, text=True)
            if result.returncode != 0:
                pytest.fail(f"mount {' '.join(args)} failed: {result.stderr.strip()}")
        try:
            yield folder
        finally:
            subprocess.run(["umount", str(folder)], check=True)
    else:
        folder.chmod(0o500)
        try:
            yield folder
        finally:
            folder.chmod(0o700)


@pytest.fixture()
def window(qtbot, tmp_path):
    """The real main window with its own settings file and output folder; closing it quits and
    waits for the engine thread."""
    from PySide6.QtCore import QSettings

    from iris_gui.gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    win.workbench.output_dir = str(out)
    win.workbench.apply_locations()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    assert win.engine is None  # the engine thread was quit and waited
