"""pyproject.toml lists its packages by name: every package of the source tree must be in the
list, or a wheel (and `pip install .`) leaves it out and the program cannot start."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_of_the_source_tree_is_installed():
    # (tomllib is Python 3.11+; the project supports 3.10)
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^packages = \[(.*?)\]", text, re.MULTILINE | re.DOTALL).group(1)
    listed = set(re.findall(r'"([\w.]+)"', block))
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for init in (ROOT / "iris_gui").rglob("__init__.py")}
    assert "iris_gui.state" in found and "iris_gui.engine.steps" in found
    assert found - listed == set()
