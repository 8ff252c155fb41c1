"""The Flagged pixels dock's content: the pixels of a pane's DQ carrying the chosen flags — in
the whole frame, the area shown or the view's regions, optionally only the bits the step newly
raised — their count by flag, and Next / Previous, which centre the view on each in turn (and
put the cursor there, so the pixel table and magnifier show it).

Settings are ``ViewState.flag_nav_*``; the list is made Qt-free on the view's worker pool
(``display.flagged_pixels``), only while the dock is visible. Next / Previous go on from the
cursor's pixel in the list's order (y, then x), so they keep their place when the list changes
(e.g. with the area shown).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QAbstractTableModel, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..display import flagged_pixels as fp
from ..display.readout import format_dq
from ..engine.dq import DQ_BITS
from ..state.view_state import FLAG_SCOPES, ROLES
from .display_tasks import LRUCache
from .view_binding import quiet

log = logging.getLogger("iris_gui.gui")

SCOPE_TEXT = {"frame": "the whole frame", "shown": "the area shown",
              "regions": "the view's regions"}
PRIORITY = 1
COLUMNS = ("x", "y", "DQ", "flags")


def _list_task(dq, flags, before, scope, shown, regions):
    return fp.flagged_pixels(dq, flags, before, scope, shown, regions)


class FlaggedModel(QAbstractTableModel):
    """The listed pixels (rows made on demand: a list may hold millions)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.pixels: fp.FlaggedPixels | None = None
        self.one_based = False

    def set_pixels(self, pixels: fp.FlaggedPixels | None, one_based: bool) -> None:
        self.beginResetModel()
        self.pixels, self.one_based = pixels, one_based
        self.endResetModel()

    def rowCount(self, parent=None) -> int:  # noqa: N802 (Qt naming)
        if (parent is not None and parent.isValid()) or self.pixels is None:
            return 0
        return len(self.pixels)

    def columnCount(self, parent=None) -> int:  # noqa: N802
        return 0 if parent is not None and parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return str(section + 1)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if self.pixels is None or not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        k, column = index.row(), index.column()
        base = 1 if self.one_based else 0
        if column == 0:
            return str(int(self.pixels.x[k]) + base)
        if column == 1:
            return str(int(self.pixels.y[k]) + base)
        if column == 2:
            return str(int(self.pixels.dq[k]))
        return "+".join(self.pixels.flags_at(k))


class FlagNavigatorPanel(QWidget):
    """Pane, scope, newly flagged, the flags with their counts, the list, Previous / Next."""

    def __init__(self, view, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.state = view.state
        self.pixels: fp.FlaggedPixels | None = None
        self.current: int | None = None
        self._key: tuple | None = None
        self._cache = LRUCache(8)
        self._failed: dict[tuple, str] = {}
        self._build()
        binder = view.binder
        binder.combo("flag_nav_role", self.role_box, ROLES)
        binder.combo("flag_nav_scope", self.scope_box, FLAG_SCOPES)
        binder.check("flag_nav_newly", self.newly_box)
        for name in ("flag_nav_role", "flag_nav_scope", "flag_nav_newly", "flag_nav_flags",
                     "plane", "pane_choices", "view_range", "regions", "one_based"):
            binder.on(name, self.refresh)
        view.stepShown.connect(self.refresh)
        view.runner.finished.connect(self._task_done)
        self.flag_list.itemChanged.connect(self._flag_ticked)
        self.table.clicked.connect(lambda index: self.go(index.row()))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.previous_button.clicked.connect(lambda: self.step(-1))
        self.next_action = self._action("Next flagged pixel", "]", lambda: self.step(1))
        self.previous_action = self._action("Previous flagged pixel", "[", lambda: self.step(-1))

    def _action(self, text: str, key: str, slot) -> QAction:
        action = QAction(text, self.view)
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setStatusTip(f"{text}: centre the view on it (Flagged pixels dock)")
        action.triggered.connect(slot)
        self.view.addAction(action)
        return action

    def menu_actions(self) -> list[QAction]:
        return [self.previous_action, self.next_action]

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        row = QHBoxLayout()
        row.addWidget(QLabel("DQ of pane", self))
        self.role_box = QComboBox(self)
        self.role_box.addItems(list(ROLES))
        row.addWidget(self.role_box)
        row.addWidget(QLabel("in", self))
        self.scope_box = QComboBox(self)
        self.scope_box.addItems([SCOPE_TEXT[s] for s in FLAG_SCOPES])
        self.scope_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.scope_box.setMinimumContentsLength(8)
        row.addWidget(self.scope_box, 1)
        layout.addLayout(row)
        self.newly_box = QCheckBox("Newly flagged only", self)
        self.newly_box.setToolTip("Only the bits the step raised: After has them, Before not")
        layout.addWidget(self.newly_box)
        flags_label = QLabel("Flags (none ticked: any flag) — pixels with each:", self)
        flags_label.setWordWrap(True)
        layout.addWidget(flags_label)
        self.flag_list = QListWidget(self)
        self.flag_list.setMaximumHeight(130)
        layout.addWidget(self.flag_list)
        self.summary = QLabel("", self)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        row = QHBoxLayout()
        self.previous_button = QPushButton("◀ Previous", self)
        self.previous_button.setToolTip("The listed pixel before the cursor's ([)")
        self.next_button = QPushButton("Next ▶", self)
        self.next_button.setToolTip("The listed pixel after the cursor's (])")
        self.position = QLabel("", self)
        self.position.setWordWrap(True)
        row.addWidget(self.previous_button)
        row.addWidget(self.next_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.position)
        self.table = QTableView(self)
        self.model = FlaggedModel(self.table)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 4)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().showEvent(event)
        self.refresh()

    # ---- the list ------------------------------------------------------------------------------
    def request(self) -> tuple[tuple, tuple] | None:
        """(key, arguments) of the list the state asks for, or None when nothing is shown."""
        view, st = self.view, self.state
        source = view.source(st.flag_nav_role)
        if source is None:
            return None
        plane = view.plane
        before = None
        dq = source.dq_frame(plane)
        dq_key = source.dq_key(plane)
        if st.flag_nav_newly and view.views.before is not None:
            after_model, before_model = view.views.after, view.views.before
            dq = source._plane(after_model.dq, plane)
            before = source._plane(before_model.dq, plane)
            dq_key = ("new", id(after_model.dq), id(before_model.dq), plane)
        shown = st.view_range if st.view_range is not None else None
        if st.flag_nav_scope == "shown" and shown is None:
            ny, nx = source.shape
            shown = (-0.5, nx - 0.5, -0.5, ny - 0.5)
        regions = tuple(fp.region_of_spec(s) for s in st.regions) \
            if st.flag_nav_scope == "regions" else ()
        key = ("flaglist", dq_key, st.flag_nav_flags, st.flag_nav_scope,
               shown if st.flag_nav_scope == "shown" else None, regions)
        return key, (dq, st.flag_nav_flags, before, st.flag_nav_scope, shown, regions)

    def refresh(self) -> None:
        if not self.isVisible():
            return
        asked = self.request()
        if asked is None:
            self._show(None, None, "Nothing shown.")
            return
        key, args = asked
        found = self._cache.get(key)
        if found is None:
            if key in self._failed:
                self._show(None, key, f"Could not list the pixels: {self._failed[key]}")
                return
            # only the latest list asked for is worth making (the area shown moves)
            self.view.runner.discard(lambda k: isinstance(k, tuple) and k[:1] == ("flaglist",)
                                     and k != key)
            self.view.runner.submit(key, _list_task, *args, priority=PRIORITY)
            self.summary.setText("Listing flagged pixels…")
            return
        self._show(found, key)

    def _task_done(self, key, result, error: str) -> None:
        if not (isinstance(key, tuple) and key and key[0] == "flaglist"):
            return
        if error:
            self._failed[key] = error
        else:
            self._cache.put(key, result)
        self.refresh()

    def _show(self, pixels: fp.FlaggedPixels | None, key, note: str = "") -> None:
        st = self.state
        if key == self._key and pixels is self.pixels and not note:
            return
        self._key, self.pixels = key, pixels
        self.model.set_pixels(pixels, st.one_based)
        self._show_flags(pixels)
        if pixels is None:
            self.summary.setText(note)
            self.current = None
            self._show_position()
            return
        chosen = ", ".join(st.flag_nav_flags) if st.flag_nav_flags else "any flag"
        what = "newly flagged" if st.flag_nav_newly and self.view.views.before is not None \
            else "flagged"
        self.summary.setText(f"{len(pixels):,} pixels {what} with {chosen} in "
                             f"{SCOPE_TEXT[st.flag_nav_scope]} ({pixels.scope_pixels:,} pixels)")
        # keep the place: the listed pixel at the cursor, if it is one
        self.current = None
        cursor = self.view.cursor
        if cursor is not None and len(pixels):
            k = pixels.next_after((cursor[0] + 1, cursor[1]), -1)   # the last at or before it
            if (int(pixels.x[k]), int(pixels.y[k])) == tuple(cursor):
                self.current = k
        self._show_position()

    def _show_flags(self, pixels: fp.FlaggedPixels | None) -> None:
        counts = pixels.counts if pixels is not None else {}
        names = [n for n in DQ_BITS if n in counts or n in self.state.flag_nav_flags]
        with quiet(self.flag_list):
            self.flag_list.clear()
            for name in names:
                item = QListWidgetItem(f"{name} ({DQ_BITS[name]}): {counts.get(name, 0):,}")
                item.setData(Qt.ItemDataRole.UserRole, name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if name in self.state.flag_nav_flags
                                   else Qt.CheckState.Unchecked)
                self.flag_list.addItem(item)
            if not names and pixels is not None:
                self.flag_list.addItem("no flagged pixel here")

    def _flag_ticked(self, item: QListWidgetItem) -> None:
        name = item.data(Qt.ItemDataRole.UserRole)
        if name is None:
            return
        flags = [n for n in self.state.flag_nav_flags if n != name]
        if item.checkState() == Qt.CheckState.Checked:
            flags.append(name)
        self.state.flag_nav_flags = tuple(n for n in DQ_BITS if n in flags)

    # ---- going through it ----------------------------------------------------------------------
    def step(self, direction: int) -> None:
        """Centre the view on the next (1) or previous (-1) listed pixel after the cursor's."""
        if self.pixels is None:
            return
        cursor = self.view.cursor
        if self.current is not None:
            cursor = (int(self.pixels.x[self.current]), int(self.pixels.y[self.current]))
        k = self.pixels.next_after(cursor, direction)
        if k is not None:
            self.go(k)

    def go(self, k: int) -> None:
        pixels = self.pixels
        if pixels is None or not 0 <= k < len(pixels):
            return
        source = self.view.source(self.state.flag_nav_role)
        if source is None:
            return
        self.current = k
        x, y = int(pixels.x[k]), int(pixels.y[k])
        self.view.set_cursor(float(x), float(y))
        self.state.view_range = fp.centred_range((x, y), self.state.view_range, source.shape)
        self.table.selectRow(k)
        self.table.scrollTo(self.model.index(k, 0))
        self._show_position()

    def _show_position(self) -> None:
        pixels = self.pixels
        n = len(pixels) if pixels is not None else 0
        for button in (self.next_button, self.previous_button):
            button.setEnabled(n > 0)
        if self.current is None or pixels is None:
            self.position.setText(f"— / {n:,}" if n else "")
            return
        k = self.current
        base = 1 if self.state.one_based else 0
        self.position.setText(f"{k + 1:,} / {n:,}: x = {int(pixels.x[k]) + base}, "
                              f"y = {int(pixels.y[k]) + base}, {format_dq(int(pixels.dq[k]))}")
