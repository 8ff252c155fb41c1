"""Observable state without Qt: ``Event`` (connect / emit) and ``EventedModel`` (a dataclass whose
field assignments emit ``changed(name, value)``).

The window connects widgets to these events; tests and the console use the same objects with no
event loop. Callbacks run synchronously, in the thread that changed the value (always the GUI
thread in the window).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any


class Event:
    """A list of callbacks called with the emitted arguments, in connection order."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []
        self._blocked = 0

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        if self._blocked:
            return
        for callback in list(self._callbacks):
            callback(*args)

    @contextmanager
    def blocked(self):
        self._blocked += 1
        try:
            yield
        finally:
            self._blocked -= 1


class EventedModel:
    """Base for dataclasses whose public field assignments emit ``changed(name, value)``.

    Assigning a value equal to the current one emits nothing, so a widget that writes back what it
    was just shown does not start a loop. Mutable fields (dicts, lists) must be replaced, not
    mutated in place, for the change to be seen; the helpers of each model do that.
    """

    def __post_init__(self) -> None:
        object.__setattr__(self, "changed", Event())

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or name not in self.field_names():
            object.__setattr__(self, name, value)
            return
        old = getattr(self, name, _MISSING)
        if old is not _MISSING and _same(old, value):
            return
        object.__setattr__(self, name, value)
        changed = getattr(self, "changed", None)
        if changed is not None:
            changed.emit(name, value)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def update(self, **values: Any) -> None:
        for name, value in values.items():
            if name not in self.field_names():
                raise KeyError(f"{type(self).__name__} has no setting {name!r}")
            setattr(self, name, value)

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of every field (for undo and for saving)."""
        return {name: copy.deepcopy(getattr(self, name)) for name in self.field_names()}


_MISSING = object()


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(type(a) is type(b) and a == b)
    except (TypeError, ValueError):  # numpy arrays and the like: compare by identity
        return a is b
