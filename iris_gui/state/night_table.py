"""The night table: every file the quick-look has seen tonight, and how the window follows it.

Plain Python (no Qt), part of the session (``to_dict`` / ``apply_dict``) and of the review
report. Rows are ``engine.night_log.NightRow`` in arrival order. The window follows the newest
calibrated exposure (``following``) until the user picks another product; from then on each new
one counts in ``unseen`` (the badge), until ``follow()``. ``blink_previous``: the view blinks the
product shown against the previous exposure of the same filter.
"""

from __future__ import annotations

from typing import Any

from ..engine.night_log import DONE, EARLIER, NightRow
from .evented import Event

CALIBRATED = (DONE, EARLIER)


class NightTable:
    def __init__(self) -> None:
        self.rows: list[NightRow] = []
        #: the watch last started (folder, pattern, output, backgrounds, ref_dir), for the dialog
        self.watch: dict[str, str] = {}
        self.following = True
        self.unseen = 0
        self.blink_previous = False
        #: emitted with the row's path ("" for the whole table)
        self.changed = Event()

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, path: str) -> NightRow | None:
        return next((r for r in self.rows if r.path == path), None)

    def update(self, row: NightRow) -> None:
        """Add ``row`` or replace the row of its file."""
        for index, old in enumerate(self.rows):
            if old.path == row.path:
                self.rows[index] = row
                break
        else:
            self.rows.append(row)
        self.changed.emit(row.path)

    def clear(self) -> None:
        self.rows = []
        self.unseen = 0
        self.following = True
        self.changed.emit("")

    # ---- following the newest ---------------------------------------------------------------------
    def arrived(self) -> bool:
        """A product was just calibrated: True when the window should show it (following);
        otherwise it counts as unseen."""
        if self.following:
            return True
        self.unseen += 1
        self.changed.emit("")
        return False

    def follow(self) -> None:
        self.following, self.unseen = True, 0
        self.changed.emit("")

    def picked(self, is_newest: bool) -> None:
        """The user selected a product: following stops unless it is the newest."""
        if is_newest:
            if not self.following or self.unseen:
                self.follow()
        elif self.following:
            self.following = False
            self.changed.emit("")

    def set_blink_previous(self, on: bool) -> None:
        if bool(on) != self.blink_previous:
            self.blink_previous = bool(on)
            self.changed.emit("")

    def newest(self) -> NightRow | None:
        """The calibrated row that arrived last."""
        return next((r for r in reversed(self.rows) if r.status in CALIBRATED), None)

    def previous_same_filter(self, path: str) -> NightRow | None:
        """The calibrated exposure of the same filter before ``path`` in the table."""
        index = next((i for i, r in enumerate(self.rows) if r.path == path), None)
        if index is None:
            return None
        wanted = self.rows[index].filter
        return next((r for r in reversed(self.rows[:index])
                     if r.status in CALIBRATED and r.filter == wanted), None)

    # ---- the session ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"watch": dict(self.watch), "blink_previous": self.blink_previous,
                "rows": [r.to_dict() for r in self.rows]}

    def apply_dict(self, data: Any) -> list[str]:
        """Take a session's night table; one line per part that could not be used."""
        problems: list[str] = []
        if not data:
            self.clear()
            return problems
        if not isinstance(data, dict):
            self.clear()
            return ["night table: not a table; left empty"]
        rows = []
        for index, item in enumerate(data.get("rows") or []):
            try:
                rows.append(NightRow.from_dict(item))
            except (ValueError, TypeError) as exc:
                problems.append(f"night table: row {index + 1}: {exc}")
        watch = data.get("watch") if isinstance(data.get("watch"), dict) else {}
        self.watch = {str(k): str(v) for k, v in watch.items() if isinstance(v, str)}
        self.blink_previous = bool(data.get("blink_previous", False))
        self.rows, self.unseen, self.following = rows, 0, True
        self.changed.emit("")
        return problems
