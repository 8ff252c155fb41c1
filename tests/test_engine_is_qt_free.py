"""The engine never imports Qt: checked in a fresh interpreter and in the source."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import iris_gui.engine

QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph", "qtpy", "qtconsole", "shiboken6")


def engine_modules():
    return sorted(m.name for m in pkgutil.walk_packages(iris_gui.engine.__path__, "iris_gui.engine."))


def test_importing_every_engine_module_loads_no_qt():
    modules = engine_modules()
    assert "iris_gui.engine.pipeline" in modules and "iris_gui.engine.steps.flat_field" in modules
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


def test_no_qt_import_statement_in_engine_source():
    pattern = re.compile(rf"^\s*(import|from)\s+({'|'.join(QT_MODULES)})\b", re.MULTILINE)
    root = Path(iris_gui.engine.__file__).parent
    offenders = [str(p) for p in root.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
