"""The view's control bar: layout and blink, the integration, stretch, limits (method, percent,
low / high fields), colour map, NaN colour, same levels, pixel numbering, Fit and PNG export.

Every control edits one ``ViewState`` field (``bind``) and shows that field; the maths behind
them is in ``iris_gui.display.stretch`` (stretches, limits, ``format_limit``) and
``display.colour_tables``. The controls wrap onto further lines in a narrow window.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
    QWidget,
)

from ..display.colour_tables import COLORMAPS
from ..display.stretch import LIMIT_METHODS, PERCENTILES, STRETCHES, format_limit
from ..state.view_state import LAYOUTS
from .flow_layout import FlowLayout
from .view_binding import StateBinder, quiet


class ControlBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = FlowLayout(self, spacing=6)
        self.layout_choice = QComboBox(self)
        self.layout_choice.addItems(["Side by side", "Blink"])
        self.layout_choice.setToolTip("Two panes side by side, or one pane blinking between "
                                      "A and B (B)")
        self.flip_button = QPushButton("Flip ⇄", self)
        self.flip_button.setToolTip("Show the other image of the blink pair (Space, both ways)")
        self.auto_blink = QCheckBox("Auto", self)
        self.auto_blink.setToolTip("Blink automatically at the rate beside (A)")
        self.blink_rate = QDoubleSpinBox(self)
        self.blink_rate.setRange(0.2, 20.0)
        self.blink_rate.setSingleStep(0.5)
        self.blink_rate.setSuffix(" Hz")
        self.blink_rate.setToolTip("Auto-blink rate (flips per second)")
        self.plane_label = QLabel("Integration —", self)
        self.plane_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.plane_slider.setRange(0, 0)
        self.plane_slider.setFixedWidth(90)
        self.plane_slider.setEnabled(False)
        self.plane_slider.setToolTip("Integration of a _rateints exposure (PgUp / PgDn)")
        self.stretch = QComboBox(self)
        self.stretch.addItems(STRETCHES)
        self.stretch.setToolTip("Stretch between the limits (display.stretch)")
        self.limits = QComboBox(self)
        self.limits.addItems(LIMIT_METHODS)
        self.limits.setToolTip("zscale: astropy ZScaleInterval on a subsample; percentile: the "
                               "central percent of a subsample; minmax: finite extremes")
        self.percent = QComboBox(self)
        self.percent.setEditable(True)
        self.percent.addItems([f"{p:g}" for p in PERCENTILES])
        self.percent.setFixedWidth(64)
        self.percent.setToolTip("Percent of the pixels between the limits (percentile limits)")
        self.low_edit = QLineEdit(self)
        self.high_edit = QLineEdit(self)
        for edit in (self.low_edit, self.high_edit):
            edit.setFixedWidth(96)
        self.colormap = QComboBox(self)
        self.colormap.addItems(list(COLORMAPS))
        self.nan_button = QToolButton(self)
        self.nan_button.setText("NaN")
        self.nan_button.setToolTip("Colour of NaN pixels")
        self.same_levels = QCheckBox("Same levels (L)", self)
        self.same_levels.setToolTip("Pane B uses pane A's limits (on by default for Before/After)")
        self.index_base = QComboBox(self)
        self.index_base.addItems(["0-based", "1-based (FITS)"])
        self.index_base.setToolTip("Pixel numbering in the readout and region text")
        self.fit_button = QToolButton(self)
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Show the whole frame (F)")
        self.export_button = QToolButton(self)
        self.export_button.setText("PNG…")
        self.export_button.setToolTip("Export the panes as shown, with colour bars and labels")
        for widget in (self.layout_choice, self.flip_button, self.auto_blink, self.blink_rate,
                       self.plane_label, self.plane_slider, QLabel("Stretch", self), self.stretch,
                       QLabel("Limits", self), self.limits, self.percent, self.low_edit,
                       self.high_edit, QLabel("Colours", self), self.colormap, self.nan_button,
                       self.same_levels, self.index_base, self.fit_button, self.export_button):
            row.addWidget(widget)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self._levels: tuple[float, float] | None = None
        self._view = None
        self.show_levels(None, "A")

    def bind(self, binder: StateBinder, view) -> None:
        """Show ``binder.state`` and write edits to it; ``view`` (the ``StepImageView``) does
        what an edit means beyond one field (switching layout stops auto-blink, ...)."""
        self._view = view
        binder.combo("layout", self.layout_choice, LAYOUTS, write=view.set_mode)
        binder.check("auto_blink", self.auto_blink, write=view.set_auto_blink)
        binder.number("blink_hz", self.blink_rate)
        binder.combo("stretch", self.stretch, STRETCHES)
        binder.combo("limits", self.limits, LIMIT_METHODS, write=view.choose_limits)
        binder.on("percent", self._show_percent)
        binder.combo("colormap", self.colormap, list(COLORMAPS))
        binder.on("nan_colour", self._show_nan_colour)
        binder.check("same_levels", self.same_levels, shown=view.same_levels_on)
        binder.combo("one_based", self.index_base, (False, True))
        self.flip_button.clicked.connect(view.flip)
        self.fit_button.clicked.connect(view.fit)
        self.export_button.clicked.connect(view.export_dialog)
        self.plane_slider.valueChanged.connect(view.set_plane)
        self.percent.currentTextChanged.connect(self._percent_edited)
        self.low_edit.editingFinished.connect(self._levels_edited)
        self.high_edit.editingFinished.connect(self._levels_edited)
        self.nan_button.clicked.connect(self._pick_nan_colour)

    # ---- shown from the view (they depend on what is shown, not on one field) -------------------
    def show_plane(self, plane: int, nints: int) -> None:
        """The integration shown of ``nints`` ("Integration —" for a 2-D product)."""
        with quiet(self.plane_slider):
            self.plane_slider.setRange(0, max(0, nints - 1))
            self.plane_slider.setValue(plane)
        self.plane_slider.setEnabled(nints > 1)
        self.plane_label.setText(f"Integration {plane + 1}/{nints}" if nints > 1 else
                                 "Integration —")

    def show_layout(self, blink: bool) -> None:
        for widget in (self.auto_blink, self.blink_rate):
            widget.setEnabled(blink)

    def show_levels(self, levels: tuple[float, float] | None, role: str) -> None:
        """The limits of pane ``role`` at full precision (``format_limit``: the text reads back
        to the same float32), the exact value in the tooltip; a field being typed in is left
        alone."""
        self._levels = levels
        for edit, which, index in ((self.low_edit, "Lower", 0), (self.high_edit, "Upper", 1)):
            exact = f": {levels[index]!r}" if levels is not None else ""
            edit.setToolTip(f"{which} limit of pane {role}{exact} (edit for manual limits)")
            if levels is not None and not edit.hasFocus():
                edit.setText(format_limit(levels[index]))

    # ---- edits -----------------------------------------------------------------------------------
    def _levels_edited(self) -> None:
        texts = (self.low_edit.text().strip(), self.high_edit.text().strip())
        try:
            low, high = float(texts[0]), float(texts[1])
        except ValueError:
            self.show_levels(self._levels, self._view.histogram_role)
            return
        shown = self._levels
        if shown is not None:
            # a field left as shown keeps the exact limit, not its text's float32 value
            low = shown[0] if texts[0] == format_limit(shown[0]) else low
            high = shown[1] if texts[1] == format_limit(shown[1]) else high
            if (low, high) == tuple(shown):
                return
        self._view.set_manual_levels(self._view.histogram_role, low, high)

    def _show_percent(self) -> None:
        try:
            typed = float(self.percent.currentText())
        except ValueError:
            typed = None
        if typed != self._state_percent():
            with quiet(self.percent):
                self.percent.setCurrentText(f"{self._state_percent():g}")

    def _state_percent(self) -> float:
        return self._view.state.percent if self._view is not None else 99.5

    def _percent_edited(self, text: str) -> None:
        try:
            value = float(text)
        except ValueError:
            return
        if value == value:
            self._view.state.percent = min(100.0, max(1.0, value))

    def _show_nan_colour(self) -> None:
        r, g, b = self._view.state.nan_colour
        text = "black" if (r * 299 + g * 587 + b * 114) > 128_000 else "white"
        self.nan_button.setStyleSheet(f"background-color: rgb({r},{g},{b}); color: {text}")

    def _pick_nan_colour(self) -> None:
        colour = QColorDialog.getColor(QColor(*self._view.state.nan_colour), self,
                                       "Colour of NaN pixels")
        if colour.isValid():
            self._view.state.nan_colour = (colour.red(), colour.green(), colour.blue())
