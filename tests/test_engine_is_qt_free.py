"""The engine, the display maths and the workbench state never import Qt: checked in a fresh
interpreter and in the source, for each Qt-free package."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph", "qtpy", "qtconsole", "shiboken6")

#: Qt-free package -> modules that must be among those found (so an empty walk cannot pass)
QT_FREE_PACKAGES = {
    "iris_gui.engine": ("iris_gui.engine.pipeline", "iris_gui.engine.steps.flat_field"),
    "iris_gui.display": ("iris_gui.display.view_sources", "iris_gui.display.colour_tables",
                         "iris_gui.display.stretch"),
    "iris_gui.state": ("iris_gui.state.workbench", "iris_gui.state.view_state",
                       "iris_gui.state.session_file", "iris_gui.state.undo"),
    "iris_gui.report": ("iris_gui.report.build", "iris_gui.report.remake",
                        "iris_gui.report.html_page", "iris_gui.report.pdf_document"),
}


def package_modules(package: str) -> list[str]:
    path = importlib.import_module(package).__path__
    return sorted(m.name for m in pkgutil.walk_packages(path, package + "."))


@pytest.mark.parametrize("package", sorted(QT_FREE_PACKAGES))
def test_importing_every_module_loads_no_qt(package):
    modules = package_modules(package)
    assert set(QT_FREE_PACKAGES[package]) <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "import iris_gui.cli\n"
        f"loaded = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        "print(','.join(loaded))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ""


def test_building_colour_tables_loads_no_qt():
    """The colormaps come from pyqtgraph's colour files, read without importing pyqtgraph."""
    code = (
        "import sys\n"
        "from iris_gui.display.colour_tables import COLORMAPS, colour_table\n"
        "tables = [colour_table(name) for name in COLORMAPS]\n"
        "assert len({t[:254].tobytes() for t in tables}) == len(COLORMAPS), 'a map fell back to grey'\n"
        f"print(','.join(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ""


@pytest.mark.parametrize("package", sorted(QT_FREE_PACKAGES))
def test_no_qt_import_statement_in_source(package):
    pattern = re.compile(rf"^\s*(import|from)\s+({'|'.join(QT_MODULES)})\b", re.MULTILINE)
    root = Path(importlib.import_module(package).__file__).parent
    sources = list(root.rglob("*.py"))
    assert sources
    offenders = [str(p) for p in sources if pattern.search(p.read_text())]
    assert offenders == []
