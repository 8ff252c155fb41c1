"""Heavy modules imported when first used, so the window can start without them.

``from .lazy import fits`` gives an object that stands for ``astropy.io.fits``: the first
attribute read (``fits.Header``, ``fits.open``...) imports astropy.io.fits, which also imports
astropy.units (~0.25 s together, more than anything else the engine needs at start), and every
read after that is the module's own attribute. Use it in engine modules the window imports at
start; annotations name ``fits.Header`` as before (they are strings under
``from __future__ import annotations``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["LazyModule", "fits"]


class LazyModule:
    """Stands for the module ``name``, importing it at the first attribute read."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def load(self) -> ModuleType:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return self._module

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.load(), attribute)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name!r} ({state})>"


fits = LazyModule("astropy.io.fits")
