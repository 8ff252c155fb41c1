"""Widgets as editors of ``ViewState`` fields.

Each binding shows one field in one widget and writes the user's edit back to that field. Showing
happens with the widget's signals blocked, so a value the state pushes into a widget is never
taken for an edit; the widget is never read back as the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from ..state.view_state import ViewState


@contextmanager
def quiet(*objects: QObject):
    """Block the signals of ``objects`` while showing a value in them."""
    previous = [obj.blockSignals(True) for obj in objects]
    try:
        yield
    finally:
        for obj, was in zip(objects, previous, strict=True):
            obj.blockSignals(was)


class StateBinder:
    """``show(name)`` re-shows every widget bound to field ``name`` (the view calls it from
    ``state.changed``); the ``combo`` / ``check`` / ... helpers bind one widget to one field."""

    def __init__(self, state: ViewState) -> None:
        self.state = state
        self._shows: dict[str, list[Callable[[], None]]] = {}

    def on(self, name: str, show: Callable[[], None]) -> None:
        """Call ``show()`` (which reads the state itself) whenever field ``name`` changes."""
        self._shows.setdefault(name, []).append(show)
        show()

    def show(self, name: str) -> None:
        for show in self._shows.get(name, ()):
            show()

    def show_all(self) -> None:
        for name in list(self._shows):
            self.show(name)

    def _writer(self, name: str, write: Callable[[Any], None] | None) -> Callable[[Any], None]:
        return write or (lambda value: setattr(self.state, name, value))

    def combo(self, name: str, combo, values: Sequence[Any],
              write: Callable[[Any], None] | None = None) -> None:
        """Item ``i`` of ``combo`` stands for ``values[i]``."""
        values = list(values)
        writer = self._writer(name, write)

        def show() -> None:
            value = getattr(self.state, name)
            if value in values and combo.currentIndex() != values.index(value):
                with quiet(combo):
                    combo.setCurrentIndex(values.index(value))

        combo.currentIndexChanged.connect(
            lambda i: writer(values[i]) if 0 <= i < len(values) else None)
        self.on(name, show)

    def check(self, name: str, widget, shown: Callable[[], bool] | None = None,
              write: Callable[[bool], None] | None = None) -> None:
        """A checkbox or checkable QAction; ``shown`` gives the value shown when it is not the
        field itself (a default resolved from other settings)."""
        writer = self._writer(name, write)
        value_of = shown or (lambda: bool(getattr(self.state, name)))

        def show() -> None:
            with quiet(widget):
                widget.setChecked(value_of())

        # a QAction's triggered(bool) is the user's; a checkbox's toggled is blocked when shown
        signal = widget.triggered if isinstance(widget, QAction) else widget.toggled
        signal.connect(lambda on: writer(bool(on)))
        self.on(name, show)

    def number(self, name: str, widget, to_widget: Callable[[Any], Any] = lambda v: v,
               from_widget: Callable[[Any], Any] = lambda v: v,
               write: Callable[[Any], None] | None = None) -> None:
        """A spin box or slider (``valueChanged``)."""
        writer = self._writer(name, write)

        def show() -> None:
            value = to_widget(getattr(self.state, name))
            if widget.value() != value:
                with quiet(widget):
                    widget.setValue(value)

        widget.valueChanged.connect(lambda v: writer(from_widget(v)))
        self.on(name, show)
