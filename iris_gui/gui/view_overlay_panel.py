"""The Contours & grid dock's content: which panes carry contours, of whose frame, the levels
(a count, spaced between that frame's display limits, or a typed list), the block the frame is
averaged over; which panes carry the RA/Dec grid and the compass; and, per pane, what is drawn
(the levels used and where they came from, the grid's steps, or why nothing).

Every control edits a ``ViewState`` field (``contours``, ``contour_*``, ``wcs_grid``,
``compass``); the drawing is ``view_overlays.PaneOverlays``. A typed level list that cannot be
read is refused with the reason in red under the field, and the state keeps its levels.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..display import contours as ct
from ..state.view_state import (
    CONTOUR_FRAMES,
    CONTOUR_MODES,
    MAX_CONTOUR_BLOCK,
    MAX_CONTOUR_LEVELS,
    ROLES,
)

ERROR_STYLE = "color: #c00"


def toggled_roles(current: tuple[str, ...], role: str, on: bool) -> tuple[str, ...]:
    roles = set(current) - {role} | ({role} if on else set())
    return tuple(r for r in ROLES if r in roles)


class OverlayPanel(QWidget):
    def __init__(self, view, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.state = view.state
        self._build()
        self._bind(view.binder)
        view.overlays.notesChanged.connect(self.show_notes)
        self.show_notes()

    def _pane_boxes(self, parent: QWidget, text: str, tip: str) -> tuple[QHBoxLayout, dict]:
        row = QHBoxLayout()
        boxes = {}
        for role in ROLES:
            box = QCheckBox(f"{text} {role}", parent)
            box.setToolTip(tip.format(role=role))
            row.addWidget(box)
            boxes[role] = box
        row.addStretch(1)
        return row, boxes

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        contours = QGroupBox("Contours", self)
        form = QFormLayout(contours)
        row, self.contour_boxes = self._pane_boxes(contours, "on pane",
                                                   "Draw contours over pane {role}")
        form.addRow(row)
        self.frame_box = QComboBox(contours)
        self.frame_box.addItems(["the pane's own frame", "the other pane's frame"])
        self.frame_box.setToolTip("Contours of the frame the pane shows, or of the frame the "
                                  "other pane shows (e.g. the input's over the output)")
        form.addRow("Of", self.frame_box)
        self.mode_box = QComboBox(contours)
        self.mode_box.addItems(["a count, between the limits", "the listed values"])
        self.mode_box.setToolTip("Levels evenly spaced strictly between the display limits of "
                                 "the frame traced, or the values typed below")
        form.addRow("Levels", self.mode_box)
        self.count_box = QSpinBox(contours)
        self.count_box.setRange(1, MAX_CONTOUR_LEVELS)
        self.count_box.setToolTip("How many levels between the limits (the limits themselves "
                                  "are left out)")
        form.addRow("Count", self.count_box)
        self.levels_field = QLineEdit(contours)
        self.levels_field.setPlaceholderText("e.g. 120, 150, 200, 400")
        self.levels_field.setToolTip("Contour levels, separated by commas or spaces; Enter uses "
                                     "them")
        form.addRow("List", self.levels_field)
        self.levels_error = QLabel("", contours)
        self.levels_error.setStyleSheet(ERROR_STYLE)
        self.levels_error.setWordWrap(True)
        self.levels_error.hide()
        form.addRow(self.levels_error)
        self.block_box = QSpinBox(contours)
        self.block_box.setRange(0, MAX_CONTOUR_BLOCK)
        self.block_box.setSpecialValueText("automatic")
        self.block_box.setSuffix(" px")
        self.block_box.setToolTip("Average the frame over blocks this many pixels on a side "
                                  "before tracing (smoother, faster lines); automatic: "
                                  f"{ct.DEFAULT_BLOCK} as DS9's default, more to keep within "
                                  f"{ct.WORK_SIDE} blocks a side")
        form.addRow("Blocks", self.block_box)
        layout.addWidget(contours)
        grid = QGroupBox("RA/Dec grid and compass", self)
        column = QVBoxLayout(grid)
        row, self.grid_boxes = self._pane_boxes(grid, "grid on",
                                                "RA/Dec lines and labels from pane {role}'s WCS")
        column.addLayout(row)
        row, self.compass_boxes = self._pane_boxes(
            grid, "compass on", "North and east arrows and a scale bar in arcseconds on pane "
            "{role}")
        column.addLayout(row)
        layout.addWidget(grid)
        self.notes = QLabel("", self)
        self.notes.setObjectName("overlayNotes")
        self.notes.setWordWrap(True)
        layout.addWidget(self.notes)
        layout.addStretch(1)

    def _bind(self, binder) -> None:
        st = self.state
        for name, boxes in (("contours", self.contour_boxes), ("wcs_grid", self.grid_boxes),
                            ("compass", self.compass_boxes)):
            for role, box in boxes.items():
                binder.check(name, box, shown=lambda n=name, r=role: r in getattr(st, n),
                             write=lambda on, n=name, r=role: setattr(
                                 st, n, toggled_roles(getattr(st, n), r, on)))
        binder.combo("contour_frame", self.frame_box, CONTOUR_FRAMES)
        binder.combo("contour_mode", self.mode_box, CONTOUR_MODES)
        binder.number("contour_count", self.count_box)
        binder.number("contour_block", self.block_box)
        binder.on("contour_levels", self._show_levels)
        binder.on("contour_mode", self._show_mode)
        self.levels_field.editingFinished.connect(self._levels_edited)

    def _show_levels(self) -> None:
        self.levels_field.setText(ct.format_levels(self.state.contour_levels))
        self.levels_error.hide()

    def _show_mode(self) -> None:
        by_count = self.state.contour_mode == "count"
        self.count_box.setEnabled(by_count)

    def _levels_edited(self) -> None:
        # leaving the field unchanged is no edit (an empty field then is not an error)
        if self.levels_field.text().strip() != ct.format_levels(self.state.contour_levels):
            self.apply_levels_text()

    def apply_levels_text(self, text: str | None = None) -> bool:
        """Use the typed levels (the field's text unless ``text``): the state gets them and the
        list mode; a list that cannot be read says why and changes nothing."""
        text = self.levels_field.text() if text is None else text
        try:
            levels = ct.parse_levels(text)
        except ct.ContourLevelError as exc:
            self.levels_error.setText(f"Levels not used: {exc}")
            self.levels_error.show()
            return False
        self.levels_error.hide()
        self.state.update(contour_levels=levels, contour_mode="list")
        self._show_levels()
        return True

    def show_notes(self) -> None:
        notes = self.view.overlays.notes
        lines = [f"{role}: {text}" for role in ROLES for text in notes.get(role, {}).values()]
        self.notes.setText("\n".join(lines) if lines else
                           "Tick a pane to draw contours, a grid or a compass over it.")
