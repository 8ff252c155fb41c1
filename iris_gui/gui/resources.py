"""Locating the files in resources/ (icons, default image2.cfg, desktop entry).

They are packaged inside iris_gui (``iris_gui/resources``, a copy of the top-level resources/
made at build time by setup), so they are found after a non-editable install too.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def resource_path(name: str) -> Path:
    """Path of a resource file: inside the installed package, else the source tree's resources/."""
    for folder in (_PACKAGE / "resources", _PACKAGE.parent / "resources"):
        candidate = folder / name
        if candidate.exists():
            return candidate
    return _PACKAGE / "resources" / name
