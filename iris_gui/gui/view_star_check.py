"""The Star check dock (ginga's Pick): in pick mode (``ViewState.star_pick``, View menu / K) a
click on a pane measures the star there and in the other pane (``display.star_check``): centroid,
FWHM, peak, aperture flux and local sky, a table per star and the B / A ratios, so a reviewer
sees whether flat_field or resample keeps a star's flux and shape.

The measuring runs in a process of its own on cut-outs of the frames, the dock's worker thread
waiting for it (photutils loads there when pick mode is switched on, ~2 s); the checks
are ``ViewState.star_checks`` (saved in the session, shown in the review report). Each check of
the shown product and step is drawn on both panes: its aperture (solid) and sky annulus
(dashed) at the centroid that pane measured, with its number. A click on no star, or too near
the edge, says so under the table and in the status bar; nothing is added.
"""

from __future__ import annotations

import logging

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..display import star_check as sc
from ..display import star_check_process as star_process
from ..state.star_checks import star_radii
from ..state.view_state import BLINK, ROLES
from .display_tasks import TaskRunner
from .flow_layout import FlowLayout
from .view_binding import quiet
from .view_readout import mono_font

log = logging.getLogger("iris_gui.gui")

MARKER_COLOUR = QColor(255, 140, 0)
TITLE_BRUSH = QColor(225, 232, 245)
RATIO_BRUSH = QColor(240, 240, 225)
FAILED_BRUSH = QColor(255, 225, 215)


def _warm_up() -> bool:
    """On the worker: start the measuring process, photutils imported there, before the first
    click needs it."""
    return star_process.warm_up()


def _measure(frames_of, clicked: str, x: float, y: float, radii, product: str, step: str,
             plane: int):
    """On the worker: (StarCheck, "") or (None, why there is no star). The fits run in the
    measuring process on cut-outs (``display.star_check_process``): this thread only waits,
    so it does not hold Python's lock the GUI thread needs."""
    try:
        frames = {role: make() for role, make in frames_of.items()}
        return star_process.measure_in_process(frames, clicked, x, y, radii, product=product,
                                               step=step, plane=plane), ""
    except sc.NoStar as exc:
        return None, str(exc)


class StarMarksItem(pg.GraphicsObject):
    """All of one pane's star marks in one item: per check its aperture (solid) and sky
    annulus (dashed) at the centroid, its number beside them in screen pixels.

    One item painting every mark, not three circles and a text item per check: adding items
    to a plot costs ~1 ms each on the GUI thread, so a pick's marks cost ~8 ms; here a new
    check is a list entry and a repaint."""

    def __init__(self) -> None:
        super().__init__()
        #: (number, x, y, aperture, inner, outer) of each check drawn
        self.marks: list[tuple[int, float, float, float, float, float]] = []
        self.font = QFont(mono_font().family(), 9, QFont.Weight.Bold)
        self.solid = QPen(MARKER_COLOUR, 1.5)
        self.dashed = QPen(MARKER_COLOUR, 1.0)
        self.dashed.setStyle(Qt.PenStyle.DashLine)
        for pen in (self.solid, self.dashed):
            pen.setCosmetic(True)
        self.setZValue(35)

    def set_marks(self, marks) -> None:
        self.prepareGeometryChange()
        self.marks = list(marks)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt naming)
        if not self.marks:
            return QRectF()
        rect = QRectF()
        for _, x, y, _, _, outer in self.marks:
            rect = rect.united(QRectF(x - outer, y - outer, 2 * outer, 2 * outer))
        # the numbers stand beside the annulus in screen pixels: room for ~5 digits
        width, height = abs(self.pixelWidth() or 0.0), abs(self.pixelHeight() or 0.0)
        return rect.adjusted(-50 * width, -24 * height, 50 * width, 24 * height)

    def viewTransformChanged(self) -> None:  # noqa: N802 (pyqtgraph naming)
        self.prepareGeometryChange()             # the numbers' room is in screen pixels

    def paint(self, painter, *args) -> None:
        for _, x, y, aperture, inner, outer in self.marks:
            centre = QPointF(x, y)
            painter.setPen(self.solid)
            painter.drawEllipse(centre, aperture, aperture)
            painter.setPen(self.dashed)
            painter.drawEllipse(centre, inner, inner)
            painter.drawEllipse(centre, outer, outer)
        # the numbers upright in screen pixels, their bottom-left corner at 45° on the annulus
        to_screen = painter.transform()
        painter.save()
        painter.resetTransform()
        painter.setFont(self.font)
        painter.setPen(MARKER_COLOUR)
        for number, x, y, _, _, outer in self.marks:
            painter.drawText(to_screen.map(QPointF(x + outer * 0.72, y + outer * 0.72)),
                             str(number))
        painter.restore()


class StarMarkers:
    """Each star check's aperture and sky annulus drawn on both panes (one ``StarMarksItem``
    per pane, added once)."""

    def __init__(self, panes: dict) -> None:
        self.panes = panes
        self.items: dict[str, StarMarksItem] = {}
        for role, pane in panes.items():
            self.items[role] = StarMarksItem()
            pane.plot.addItem(self.items[role], ignoreBounds=True)

    @property
    def shown(self) -> dict[str, list]:
        return {role: item.marks for role, item in self.items.items()}

    def clear(self) -> None:
        self.show({})

    def show(self, placed: dict[str, list[tuple[int, float, float, float, float, float]]]) -> None:
        """``placed[role]`` = (number, x, y, aperture, inner, outer) for each check to draw."""
        for role, item in self.items.items():
            marks = list(placed.get(role, []))
            if marks != item.marks:
                item.set_marks(marks)


class StarCheckPanel(QWidget):
    """Pick, the radii, Remove / Clear / Copy, the note of the last pick, and the table."""

    def __init__(self, view, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.state = view.state
        self.runner = TaskRunner(self, threads=1)
        self.runner.finished.connect(self._task_done)
        self._picks = 0
        self._warmed = False
        #: the checks the table shows and their numbering (a new check only adds its rows)
        self._shown: tuple[tuple, bool] | None = None
        self.markers = StarMarkers(view.panes)
        self._build()
        binder = view.binder
        binder.check("star_pick", self.pick_button)
        binder.on("star_pick", self._pick_changed)
        binder.on("star_radii", self._show_radii)
        for name in ("star_checks", "one_based"):
            binder.on(name, self.refresh)
        for name in ("star_checks", "pane_choices", "layout", "blink_phase"):
            binder.on(name, self.show_markers)
        view.stepShown.connect(self.show_markers)
        for pane in view.panes.values():
            pane.plot.scene().sigMouseClicked.connect(lambda event, p=pane: self._clicked(p, event))
        view.shutdown_hooks.append(self.runner.shutdown)

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        # the controls wrap in a narrow dock rather than widen the window (1024x700)
        holder = QWidget(self)
        row = FlowLayout(holder, spacing=4)
        self.pick_button = QPushButton("Pick a star", holder)
        self.pick_button.setCheckable(True)
        self.pick_button.setToolTip("While on, a click on a pane measures the star there and in "
                                    "the other pane (K)")
        row.addWidget(self.pick_button)
        self.radius_boxes = []
        for text, tip in (("r", "Aperture radius (pixels of the pane clicked)"),
                          ("sky", "Sky annulus inner radius"),
                          ("to", "Sky annulus outer radius (px)")):
            pair = QWidget(holder)
            pair_layout = QHBoxLayout(pair)
            pair_layout.setContentsMargins(0, 0, 0, 0)
            pair_layout.setSpacing(2)
            box = QDoubleSpinBox(pair)
            box.setRange(0.5, 200.0)
            box.setDecimals(1)
            box.setSingleStep(0.5)
            box.setToolTip(tip)
            box.editingFinished.connect(self._radii_edited)
            pair_layout.addWidget(QLabel(text, pair))
            pair_layout.addWidget(box)
            row.addWidget(pair)
            self.radius_boxes.append(box)
        self.remove_button = QPushButton("Remove last", holder)
        self.remove_button.setToolTip("Remove the last star check")
        self.clear_button = QPushButton("Clear", holder)
        self.clear_button.setToolTip("Remove every star check")
        self.copy_button = QPushButton("Copy", holder)
        self.copy_button.setToolTip("Copy the tables as tab-separated text")
        for button in (self.remove_button, self.clear_button, self.copy_button):
            row.addWidget(button)
        layout.addWidget(holder)
        self.note = QLabel("Switch Pick on, then click a star in either pane.", self)
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.table = QTableWidget(0, len(sc.TABLE_HEADERS), self)
        self.table.setHorizontalHeaderLabels(list(sc.TABLE_HEADERS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        font = mono_font()
        font.setPointSize(max(7, font.pointSize() - 1))
        self.table.setFont(font)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 4)
        header = self.table.horizontalHeader()
        # widths fitted once per change (refresh), not at every layout pass over every row
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self.remove_button.clicked.connect(self.remove_last)
        self.clear_button.clicked.connect(lambda: setattr(self.state, "star_checks", ()))
        self.copy_button.clicked.connect(self.copy)

    # ---- radii and pick mode -----------------------------------------------------------------
    def _show_radii(self) -> None:
        for box, value in zip(self.radius_boxes, self.state.star_radii, strict=True):
            with quiet(box):
                box.setValue(value)

    def _radii_edited(self) -> None:
        try:
            self.state.star_radii = star_radii([box.value() for box in self.radius_boxes])
        except ValueError as exc:
            self.say(f"Radii not changed: {exc}")
            self._show_radii()

    def _pick_changed(self) -> None:
        on = self.state.star_pick
        for pane in self.view.panes.values():
            if on:
                pane.plot.setCursor(Qt.CursorShape.CrossCursor)
            else:
                pane.plot.unsetCursor()
        if on and not self._warmed:
            self._warmed = True
            self.runner.submit(("warm-up",), _warm_up)

    # ---- picking -------------------------------------------------------------------------------
    def _clicked(self, pane, event) -> None:
        if not self.state.star_pick or event.button() != Qt.MouseButton.LeftButton \
                or pane.source is None:
            return
        position = event.scenePos()
        if not pane.view_box.sceneBoundingRect().contains(position):
            return
        point = pane.view_box.mapSceneToView(position)
        role = self.view.shown_role if self.state.layout == BLINK else pane.name
        event.accept()
        self.pick(role, point.x(), point.y())

    def pick(self, role: str, x: float, y: float) -> bool:
        """Measure the star near (x, y) (0-based pixels of pane ``role``) in both panes; False
        when there is nothing to measure (no product shown)."""
        view = self.view
        sources = view.shown_sources()
        if role not in sources or view.result is None:
            self.say("Nothing to measure: run a product first.")
            return False
        plane = view.plane
        frames_of = {r: (lambda r=r, s=s: sc.frame_of(r, s, plane)) for r, s in sources.items()}
        self._picks += 1
        self.runner.submit(("pick", self._picks), _measure, frames_of, role, float(x), float(y),
                           tuple(self.state.star_radii), view.result.product.name,
                           view.step_name, plane)
        base = 1 if self.state.one_based else 0
        self.say(f"Measuring the star near x = {x + base:.1f}, y = {y + base:.1f} of pane "
                 f"{role}…", status=False)
        return True

    def _task_done(self, key, result, error: str) -> None:
        if key[0] != "pick":
            if error:
                log.error("star check: photutils could not be loaded: %s", error)
            return
        if error:
            self.say(f"Star check failed: {error}")
            return
        check, why = result
        if check is None:
            self.say(why)
            return
        self.state.star_checks = self.state.star_checks + (check,)
        if "stars" not in self.state.docks:
            self.state.docks = self.state.docks + ("stars",)
        number = len(self.state.star_checks)
        ratio = check.flux_ratio()
        text = f"Star {number} measured" + (f": flux B / A = {ratio:.5g}" if ratio else "")
        failed = [m for m in check.measures if not m.ok]
        if failed:
            text += f"; pane {failed[0].role}: {failed[0].error}"
        self.say(text)

    @property
    def busy(self) -> bool:
        return self.runner.busy

    def say(self, text: str, status: bool = True) -> None:
        """The note under the buttons and (``status``) the window's status bar."""
        self.note.setText(text)
        window = self.window()
        if status and isinstance(window, QMainWindow):
            window.statusBar().showMessage(text, 15000)

    # ---- the table and the markers ---------------------------------------------------------------
    def refresh(self) -> None:
        checks = self.state.star_checks
        one_based = self.state.one_based
        shown, table = self._shown, self.table
        # a new check (the usual change): its rows added, the others left as they are
        added = shown is not None and shown[1] == one_based and len(checks) > len(shown[0]) \
            and all(a is b for a, b in zip(checks, shown[0], strict=False))
        first = len(shown[0]) if added else 0
        rows: list[tuple[str, tuple[str, ...] | str]] = []
        for number, check in enumerate(checks[first:], first + 1):
            rows.append(("title", f"Star {number} — {sc.check_title(check, one_based)}"))
            for row in sc.table_rows(check, one_based):
                rows.append(("ratio" if row[0] == "B / A" else "row", row))
        start = table.rowCount() if added else 0
        if not added:
            table.clearSpans()
        table.setRowCount(start + len(rows))
        for r, (kind, content) in enumerate(rows, start):
            self._fill_row(r, kind, content)
        self._shown = (checks, one_based)
        self.remove_button.setEnabled(bool(checks))
        self.clear_button.setEnabled(bool(checks))
        self.copy_button.setEnabled(bool(checks))
        if checks:
            table.resizeColumnsToContents()
            table.scrollToBottom()

    def _fill_row(self, r: int, kind: str, content) -> None:
        table = self.table
        if kind == "title":
            item = QTableWidgetItem(content)
            item.setBackground(TITLE_BRUSH)
            item.setForeground(QColor(0, 0, 0))
            bold = item.font()
            bold.setBold(True)
            item.setFont(bold)
            table.setItem(r, 0, item)
            for c in range(1, table.columnCount()):
                table.setItem(r, c, QTableWidgetItem(""))
            table.setSpan(r, 0, 1, table.columnCount())
            return
        for c, text in enumerate(content):
            if c == 0 and kind == "row":  # "A: Before (input)" -> "A: Before"; all in the tip
                item = QTableWidgetItem(text.split(" (")[0])
                item.setToolTip(text)
            else:
                item = QTableWidgetItem(text)
            if c not in (0, len(content) - 1):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if kind == "ratio":
                item.setBackground(RATIO_BRUSH)
                item.setForeground(QColor(0, 0, 0))
            elif content[1] == "—" and content[-1]:
                item.setBackground(FAILED_BRUSH)
                item.setForeground(QColor(0, 0, 0))
            if content[-1] and c:  # the note (where the position came from, flags, why
                item.setToolTip(content[-1])  # not) on every cell: it is the last column
            table.setItem(r, c, item)

    def show_markers(self) -> None:
        view = self.view
        if view.result is None:
            self.markers.clear()
            return
        product, step = view.result.product.name, view.step_name
        placed: dict[str, list] = {}
        pairs = [("A", view.shown_role)] if self.state.layout == BLINK else [(r, r) for r in ROLES]
        for pane_role, role in pairs:
            source = view.source(role)
            for number, check in enumerate(self.state.star_checks, 1):
                if check.product != product or check.step != step:
                    continue
                measure = check.measure(role)
                if measure is None or not measure.ok or source is None \
                        or measure.label != source.label:
                    continue
                scale = (measure.aperture or check.radii[0]) / check.radii[0]
                placed.setdefault(pane_role, []).append(
                    (number, measure.x, measure.y, measure.aperture or check.radii[0],
                     check.radii[1] * scale, check.radii[2] * scale))
        self.markers.show(placed)

    def remove_last(self) -> None:
        if self.state.star_checks:
            self.state.star_checks = self.state.star_checks[:-1]

    def copy(self) -> str:
        text = sc.checks_text(self.state.star_checks, self.state.one_based)
        QGuiApplication.clipboard().setText(text)
        return text
