"""A parameter form generated from a step's declaration (``StepSpec.all_parameters``).

One row per parameter: the right widget for its kind, its bounds or choices enforced, its help as
the tooltip, a reset-to-default button, and a file picker for reference overrides. ``skip`` is
left out: the steps list has the on/off checkbox for it.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QWidget,
)

from ..engine.parameters import Parameter

HIDDEN = ("skip",)
NONE_TEXT = "None"


class FloatSpinBox(QDoubleSpinBox):
    """A spin box for floats of any magnitude: shows 8 significant digits (``2.1e-04`` stays
    2.1e-04, where a fixed number of decimals would show 0.0002 or round it away), accepts
    scientific notation, and steps adaptively. With a special value text (optional parameters)
    the minimum stands for None and the text "None" can be typed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(15)  # Qt rounds values to this many decimals
        self.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt naming)
        return f"{value:.8g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802
        text = text.strip()
        if self.specialValueText() and text.lower() == self.specialValueText().lower():
            return self.minimum()
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        stripped = text.strip()
        special = self.specialValueText()
        if special and stripped.lower() == special.lower():
            return QValidator.State.Acceptable, text, pos
        try:
            value = float(stripped)
        except ValueError:
            return QValidator.State.Intermediate, text, pos  # e.g. "2.1e-" while typing
        if self.minimum() <= value <= self.maximum() and math.isfinite(value):
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos


class ParameterEditor(QWidget):
    """Editor for one parameter; emits ``edited(value)`` with a value of the declared type."""

    edited = Signal(object)

    def __init__(self, parameter: Parameter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parameter = parameter
        self._updating = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.widget = self._make_widget()
        self.widget.setToolTip(self._tooltip())
        layout.addWidget(self.widget, 1)
        if parameter.kind == "path":
            browse = QToolButton(self)
            browse.setText("…")
            browse.setToolTip(f"Choose the {parameter.reference or ''} file".replace("  ", " "))
            browse.clicked.connect(self._browse)
            layout.addWidget(browse)
            self.browse_button = browse
        reset = QToolButton(self)
        reset.setText("↺")
        reset.setToolTip(f"Reset to the default ({parameter.to_text(parameter.default)})")
        reset.clicked.connect(self.reset)
        layout.addWidget(reset)
        self.reset_button = reset
        self.set_value(parameter.default)

    def _tooltip(self) -> str:
        p = self.parameter
        extra = p.describe_range()
        return f"{p.help}\nDefault: {p.to_text(p.default)}" + (f"\nAllowed: {extra}" if extra else "")

    def _make_widget(self) -> QWidget:
        p = self.parameter
        if p.kind == "bool":
            box = QCheckBox(self)
            box.toggled.connect(lambda on: self._emit(bool(on)))
            return box
        if p.kind == "int":
            spin = QSpinBox(self)
            low = int(p.minimum) if p.minimum is not None else -1_000_000
            if p.optional:  # one below the minimum stands for None
                low -= 1
                spin.setSpecialValueText(NONE_TEXT)
            spin.setRange(low, int(p.maximum) if p.maximum is not None else 1_000_000)
            spin.valueChanged.connect(lambda _v: self._emit(self.value()))
            return spin
        if p.kind == "float":
            spin = FloatSpinBox(self)
            low = p.minimum if p.minimum is not None else -1e12
            if p.exclusive_minimum and p.minimum is not None:
                low = p.minimum + max(abs(p.minimum) * 1e-12, 1e-12)
            if p.optional:  # just below the minimum stands for None
                low -= max(abs(low) * 1e-9, 1e-9)
                spin.setSpecialValueText(NONE_TEXT)
            spin.setRange(low, p.maximum if p.maximum is not None else 1e12)
            spin.valueChanged.connect(lambda _v: self._emit(self.value()))
            return spin
        if p.kind == "choice":
            combo = QComboBox(self)
            combo.addItems(list(p.choices))
            combo.currentTextChanged.connect(lambda _t: self._emit(self.value()))
            return combo
        line = QLineEdit(self)
        if p.optional:
            line.setPlaceholderText("None" if p.kind != "path" else "automatic (reference folder)")
        line.editingFinished.connect(lambda: self._emit(self.value()))
        return line

    def _emit(self, value: Any) -> None:
        if not self._updating:
            self.edited.emit(value)

    def value(self) -> Any:
        p, w = self.parameter, self.widget
        if p.kind == "bool":
            return w.isChecked()
        if p.kind == "int":
            if p.optional and w.value() == w.minimum():
                return None
            return int(w.value())
        if p.kind == "float":
            if p.optional and w.value() == w.minimum():
                return None
            return float(w.value())
        if p.kind == "choice":
            return w.currentText()
        text = w.text().strip()
        if not text and p.optional:
            return None
        return text

    def set_value(self, value: Any) -> None:
        p, w = self.parameter, self.widget
        self._updating = True
        try:
            if p.kind == "bool":
                w.setChecked(bool(value))
            elif p.kind == "int":
                w.setValue(w.minimum() if value is None else int(value))
            elif p.kind == "float":
                if value is None or not math.isfinite(value):
                    w.setValue(w.minimum() if p.optional else 0.0)
                else:
                    w.setValue(float(value))
            elif p.kind == "choice":
                w.setCurrentText(str(value))
            else:
                w.setText("" if value is None else str(value))
        finally:
            self._updating = False

    def reset(self) -> None:
        self.set_value(self.parameter.default)
        self.edited.emit(self.parameter.default)

    def _browse(self) -> None:
        current = self.widget.text()
        path, _ = QFileDialog.getOpenFileName(self, f"Choose {self.parameter.name}", current,
                                              "FITS files (*.fits *.fit *.fits.gz);;All files (*)")
        if path:
            self.widget.setText(path)
            self._emit(path)


class ParameterForm(QWidget):
    """All parameters of one step (or of the pipeline); emits ``changed(name, value)``."""

    changed = Signal(str, object)

    def __init__(self, parameters: tuple[Parameter, ...], parent: QWidget | None = None,
                 title: str = "", summary: str = "") -> None:
        super().__init__(parent)
        self.editors: dict[str, ParameterEditor] = {}
        layout = QFormLayout(self)
        if summary:
            label = QLabel(summary, self)
            label.setWordWrap(True)
            label.setObjectName("stepSummary")
            layout.addRow(label)
        for parameter in parameters:
            if parameter.name in HIDDEN:
                continue
            editor = ParameterEditor(parameter, self)
            editor.edited.connect(lambda value, name=parameter.name: self.changed.emit(name, value))
            name_label = QLabel(parameter.name, self)
            name_label.setToolTip(editor.widget.toolTip())
            layout.addRow(name_label, editor)
            self.editors[parameter.name] = editor
        if not self.editors:
            layout.addRow(QLabel("This step has no parameters besides on/off.", self))

    def set_values(self, values: dict[str, Any]) -> None:
        for name, editor in self.editors.items():
            if name in values:
                editor.set_value(values[name])

    def values(self) -> dict[str, Any]:
        return {name: editor.value() for name, editor in self.editors.items()}
