"""Undo and redo without Qt: a stack of commands, each a pair of functions that set the state.

A command is pushed after its change is applied (the widget already shows it). Consecutive
commands with the same ``merge_key`` (typing in one field, dragging one slider) merge into one,
which undoes to the value before the first and redoes to the last. Changes made while a command
is being undone or redone are not recorded again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from .evented import Event

MAX_COMMANDS = 500


@dataclass
class Command:
    text: str
    undo: Callable[[], None]
    redo: Callable[[], None]
    merge_key: Hashable | None = None


class UndoStack:
    def __init__(self) -> None:
        self._done: list[Command] = []
        self._undone: list[Command] = []
        self._applying = False
        #: emitted after every push, undo, redo and clear
        self.changed = Event()

    @property
    def applying(self) -> bool:
        """True while a command is being undone or redone."""
        return self._applying

    def push(self, command: Command) -> None:
        if self._applying:
            return
        last = self._done[-1] if self._done else None
        if (last is not None and command.merge_key is not None
                and command.merge_key == last.merge_key and not self._undone):
            self._done[-1] = Command(command.text, last.undo, command.redo, command.merge_key)
        else:
            self._done.append(command)
            del self._done[:-MAX_COMMANDS]
        self._undone.clear()
        self.changed.emit()

    def record(self, text: str, before, after, apply: Callable[[object], None],
               merge_key: Hashable | None = None) -> None:
        """Push a command that applies ``before`` to undo and ``after`` to redo."""
        self.push(Command(text, lambda: apply(before), lambda: apply(after), merge_key))

    def end_merge(self) -> None:
        """The next push starts a new command even with the same merge key."""
        if self._done and self._done[-1].merge_key is not None:
            last = self._done[-1]
            self._done[-1] = Command(last.text, last.undo, last.redo, None)

    def undo(self) -> str | None:
        if not self._done:
            return None
        command = self._done.pop()
        self._run(command.undo)
        self._undone.append(command)
        self.changed.emit()
        return command.text

    def redo(self) -> str | None:
        if not self._undone:
            return None
        command = self._undone.pop()
        self._run(command.redo)
        self._done.append(command)
        self.changed.emit()
        return command.text

    def _run(self, fn: Callable[[], None]) -> None:
        self._applying = True
        try:
            fn()
        finally:
            self._applying = False

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self.changed.emit()

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_text(self) -> str:
        return self._done[-1].text if self._done else ""

    @property
    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""
