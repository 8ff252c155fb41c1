"""Locating the files in resources/ (icons, default image2.cfg, desktop entry).

pyproject.toml installs the top-level resources/ folder as the package ``iris_gui.resources``
(setuptools package-dir), so they are found after a non-editable install too; an editable or
source-tree run finds resources/ beside the package.
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
