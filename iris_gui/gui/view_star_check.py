"""The Star check dock (ginga's Pick): in pick mode (``ViewState.star_pick``, View menu / K) a
click on a pane measures the star there and in the other pane (``display.star_check``): centroid,
FWHM, peak, aperture flux and local sky, a table per star and the B / A ratios, so a reviewer
sees whether flat_field or resample keeps a star's flux and shape.

The measuring runs on the dock's own worker (photutils loads on first use, ~2 s); the checks
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
    QGraphicsEllipseItem,
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
    """Import photutils (and scipy) on the worker before the first click needs them."""
    import photutils.aperture  # noqa: F401
    import photutils.centroids  # noqa: F401
    import photutils.psf  # noqa: F401

    return True


def _measure(frames_of, clicked: str, x: float, y: float, radii, product: str, step: str,
             plane: int):
    """On the worker: (StarCheck, "") or (None, why there is no star)."""
    try:
        frames = {role: make() for role, make in frames_of.items()}
        return sc.measure_check(frames, clicked, x, y, radii, product=product, step=step,
                                plane=plane), ""
    except sc.NoStar as exc:
        return None, str(exc)


class StarMarkers:
    """Each star check's aperture and sky annulus drawn on both panes; a new check adds its
    marks only (the others stay), any other change draws them again."""

    def __init__(self, panes: dict) -> None:
        self.panes = panes
        self.items: dict[str, list] = {role: [] for role in panes}
        self.shown: dict[str, list] = {role: [] for role in panes}

    def clear(self) -> None:
        for role, items in self.items.items():
            for item in items:
                self.panes[role].plot.removeItem(item)
            items.clear()
            self.shown[role] = []

    def show(self, placed: dict[str, list[tuple[int, float, float, float, float, float]]]) -> None:
        """``placed[role]`` = (number, x, y, aperture, inner, outer) for each check to draw."""
        for role in self.panes:
            marks, shown = placed.get(role, []), self.shown[role]
            if marks[:len(shown)] != shown:
                for item in self.items[role]:
                    self.panes[role].plot.removeItem(item)
                self.items[role].clear()
                shown = []
            for mark in marks[len(shown):]:
                self._draw(role, *mark)
            self.shown[role] = list(marks)

    def _draw(self, role, number, x, y, aperture, inner, outer) -> None:
        pane = self.panes[role]
        for radius, style in ((aperture, Qt.PenStyle.SolidLine), (inner, Qt.PenStyle.DashLine),
                              (outer, Qt.PenStyle.DashLine)):
            circle = QGraphicsEllipseItem(QRectF(x - radius, y - radius, 2 * radius, 2 * radius))
            pen = QPen(MARKER_COLOUR, 1.5 if style == Qt.PenStyle.SolidLine else 1.0)
            pen.setStyle(style)
            pen.setCosmetic(True)
            circle.setPen(pen)
            circle.setZValue(35)
            pane.plot.addItem(circle, ignoreBounds=True)
            self.items[role].append(circle)
        label = pg.TextItem(str(number), color=MARKER_COLOUR, anchor=(0, 1))
        label.setFont(QFont(mono_font().family(), 9, QFont.Weight.Bold))
        label.setPos(QPointF(x + outer * 0.72, y + outer * 0.72))
        label.setZValue(36)
        pane.plot.addItem(label, ignoreBounds=True)
        self.items[role].append(label)


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
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
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
        rows: list[tuple[str, tuple[str, ...] | str]] = []
        for number, check in enumerate(checks, 1):
            rows.append(("title", f"Star {number} — {sc.check_title(check, one_based)}"))
            for row in sc.table_rows(check, one_based):
                rows.append(("ratio" if row[0] == "B / A" else "row", row))
        table = self.table
        table.clearSpans()
        table.setRowCount(len(rows))
        for r, (kind, content) in enumerate(rows):
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
                continue
            for c, text in enumerate(content):
                if c == 0 and kind == "row":  # "A: Before (input)" -> "A: Before"; all in the tip
                    item = QTableWidgetItem(text.split(" (")[0])
                    item.setToolTip(text)
                else:
                    item = QTableWidgetItem(text)
                if c not in (0, len(content) - 1):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                if kind == "ratio":
                    item.setBackground(RATIO_BRUSH)
                    item.setForeground(QColor(0, 0, 0))
                elif content[1] == "—" and content[-1]:
                    item.setBackground(FAILED_BRUSH)
                    item.setForeground(QColor(0, 0, 0))
                if content[-1] and c:  # the note (where the position came from, flags, why
                    item.setToolTip(content[-1])  # not) on every cell: it is the last column
                table.setItem(r, c, item)
        self.remove_button.setEnabled(bool(checks))
        self.clear_button.setEnabled(bool(checks))
        self.copy_button.setEnabled(bool(checks))
        if checks:
            table.scrollToBottom()

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
