"""The DQ flags panel: the overlay switch, "newly flagged", the opacity, and one row per flag
present with its tick (overlaid or not), its colour and its pixel count in pane A and B.

Every control edits the ``ViewState`` (``dq_overlay``, ``newly_flagged``, ``overlay_opacity``,
``dq_hidden``, ``dq_colours``); the counts come from ``display.dq_flags`` through the view.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QColorDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..display.colour_tables import NAN_MARK
from ..display.dq_flags import dq_row_label
from ..engine.dq import DQ_BITS
from ..state.view_state import ViewState
from .view_binding import StateBinder
from .view_renderer import flag_colour


class DQPanel(QWidget):
    COLUMNS = ("", "flag (bit)", "A", "B")

    def __init__(self, state: ViewState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.enabled = QCheckBox("Overlay (D)", self)
        self.enabled.setToolTip("Show the ticked DQ flags over the images")
        self.newly = QCheckBox("Newly flagged (N)", self)
        self.newly.setToolTip("Only the bits this step raised: after DQ & ~before DQ, on both "
                              "panes")
        row.addWidget(self.enabled)
        row.addWidget(self.newly)
        layout.addLayout(row)
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("Opacity", self))
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(10, 100)
        row2.addWidget(self.opacity, 1)
        self.all_button = QToolButton(self)
        self.all_button.setText("All")
        self.none_button = QToolButton(self)
        self.none_button.setText("None")
        row2.addWidget(self.all_button)
        row2.addWidget(self.none_button)
        layout.addLayout(row2)
        self.table = QTableWidget(0, len(self.COLUMNS), self)
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        for column, mode in enumerate((QHeaderView.ResizeMode.ResizeToContents,
                                       QHeaderView.ResizeMode.Stretch,
                                       QHeaderView.ResizeMode.ResizeToContents,
                                       QHeaderView.ResizeMode.ResizeToContents)):
            header.setSectionResizeMode(column, mode)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setToolTip("Tick a flag to overlay it; double-click its colour to change it. "
                              "Counts are pixels carrying the flag in pane A and B.")
        self.table.cellDoubleClicked.connect(self._pick_colour)
        self.table.itemChanged.connect(self._item_changed)
        layout.addWidget(self.table, 1)
        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: gray")
        layout.addWidget(self.note)
        self._rows: list[str] = []
        self._content: tuple | None = None
        self._filling = False
        self.all_button.clicked.connect(lambda: self._select_all(True))
        self.none_button.clicked.connect(lambda: self._select_all(False))

    def bind(self, binder: StateBinder) -> None:
        binder.check("dq_overlay", self.enabled)
        binder.check("newly_flagged", self.newly)
        binder.number("overlay_opacity", self.opacity, lambda v: int(round(v * 100)),
                      lambda v: v / 100.0)

    def colour(self, name: str) -> tuple[int, int, int]:
        return flag_colour(self.state, name)

    def is_selected(self, name: str) -> bool:
        return self.state.flag_shown(name)

    def set_flag(self, name: str, on: bool) -> None:
        """Tick (overlay) or untick flag ``name``, as a click on its box does."""
        self.state.set_flag_shown(name, on)

    def show_counts(self, counts: dict[str, dict[str, int]], roles: tuple[str, ...],
                    newly: bool = False) -> None:
        """``counts``: role -> flag -> pixels. One row per flag present in any role (NaN last);
        with ``newly`` the counts are of the newly flagged pixels, the same on both panes."""
        names = [name for name in (*DQ_BITS, NAN_MARK)
                 if any(counts.get(r, {}).get(name) for r in roles)]
        content = (tuple(names), tuple((r, tuple(sorted(counts.get(r, {}).items()))) for r in roles),
                   tuple(self.is_selected(n) for n in names), tuple(self.colour(n) for n in names),
                   newly)
        if content == self._content:
            return
        self._content = content
        self._filling = True
        self.table.setRowCount(len(names))
        for row, name in enumerate(names):
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            tick.setCheckState(Qt.CheckState.Checked if self.is_selected(name)
                               else Qt.CheckState.Unchecked)
            tick.setBackground(QColor(*self.colour(name)))
            tick.setData(Qt.ItemDataRole.UserRole, name)
            self.table.setItem(row, 0, tick)
            text, tip = dq_row_label(name, newly)
            label = QTableWidgetItem(text)
            label.setToolTip(tip)
            self.table.setItem(row, 1, label)
            for column, role in ((2, "A"), (3, "B")):
                value = counts.get(role, {}).get(name) if role in roles else None
                cell = QTableWidgetItem("" if value is None else f"{value:,}")
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, cell)
        self._rows = names
        self._filling = False
        if not [n for n in names if n != NAN_MARK]:
            none = "No newly raised DQ flags." if newly else "No DQ flags set in the shown frames."
            self.note.setText(none if roles else "")
        else:
            self.note.setText("")

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 0:
            return
        self.set_flag(item.data(Qt.ItemDataRole.UserRole),
                      item.checkState() == Qt.CheckState.Checked)

    def _select_all(self, on: bool) -> None:
        rows = set(self._rows)
        hidden = [n for n in self.state.dq_hidden if n not in rows]
        self.state.dq_hidden = tuple(hidden if on else hidden + self._rows)

    def _pick_colour(self, row: int, column: int) -> None:
        if column != 0 or row >= len(self._rows) or self._rows[row] == NAN_MARK:
            return
        name = self._rows[row]
        colour = QColorDialog.getColor(QColor(*self.colour(name)), self, f"Colour of {name}")
        if colour.isValid():
            self.state.dq_colours = {**self.state.dq_colours,
                                     name: (colour.red(), colour.green(), colour.blue())}
