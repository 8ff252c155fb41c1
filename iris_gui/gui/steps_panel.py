"""The seven steps in pipeline order with on/off, live status, and each step's parameter form.

Everything here is generated from ``iris_gui.engine.steps.STEPS`` and the pipeline's
``PIPELINE_PARAMETERS``: there is no second list of steps or parameters.
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QScrollArea,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..engine.config import PIPELINE_PARAMETERS, PipelineConfig
from ..engine.steps import STEPS, StepSpec
from .parameter_form import ParameterForm
from .path_field import path_row

STATUS_COLOURS = {
    "pending": "#808080",
    "running": "#1f6fd1",
    "COMPLETE": "#1d8a3a",
    "SKIPPED": "#8a6d1d",
    "FAILED": "#c0392b",
    "warning": "#d35400",
    "stale": "#7f5fa8",
    "cached": "#1d8a3a",
    "off": "#8a6d1d",
}


class StepsPanel(QWidget):
    """Signals: ``stepSelected(name)``, ``skipChanged(name, skip)``,
    ``parameterChanged(step, name, value)``, ``pipelineOptionChanged(name, value)``."""

    stepSelected = Signal(str)
    skipChanged = Signal(str, bool)
    parameterChanged = Signal(str, str, object)
    pipelineOptionChanged = Signal(str, object)
    outputDirChanged = Signal(str)
    refDirChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._updating = False
        #: what the forms show (step -> values): show_config sets only what differs
        self._shown_steps: dict[str, dict[str, Any]] = {}
        self._shown_pipeline: dict[str, Any] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        self.tree = QTreeWidget(self)
        self.tree.setObjectName("stepsTree")
        self.tree.setHeaderLabels(["Step", "Status"])
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        self.items: dict[str, QTreeWidgetItem] = {}
        for number, step in enumerate(STEPS, start=1):
            item = QTreeWidgetItem([f"{number}  {step.title}", "pending"])
            item.setData(0, Qt.ItemDataRole.UserRole, step.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Checked)
            item.setToolTip(0, f"{step.name}: {step.summary}")
            self.tree.addTopLevelItem(item)
            self.items[step.name] = item
        rows = self.tree.sizeHintForRow(0) * len(STEPS) + self.tree.header().sizeHint().height()
        self.tree.setFixedHeight(rows + 8)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.currentItemChanged.connect(self._current_changed)
        layout.addWidget(self.tree)

        self.form_title = QLabel(self)
        self.form_title.setStyleSheet("font-weight: bold")
        layout.addWidget(self.form_title)
        self.forms = QStackedWidget(self)
        self.step_forms: dict[str, ParameterForm] = {}
        for step in STEPS:
            form = ParameterForm(step.all_parameters, self, summary=step.summary)
            form.changed.connect(lambda name, value, s=step.name: self._param_edited(s, name, value))
            self.forms.addWidget(form)
            self.step_forms[step.name] = form
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.forms)
        layout.addWidget(scroll, 1)

        options = QGroupBox("Pipeline options", self)
        options_layout = QVBoxLayout(options)
        self.pipeline_form = ParameterForm(PIPELINE_PARAMETERS, options)
        self.pipeline_form.changed.connect(self._pipeline_edited)
        options_layout.addWidget(self.pipeline_form)
        self.output_dir_edit = self._folder_row(options_layout, "Output folder",
                                                self.outputDirChanged, "outputDir",
                                                placeholder="asked on the first export")
        self.ref_dir_edit = self._folder_row(options_layout, "Reference folder",
                                             self.refDirChanged, "refDir",
                                             placeholder="each input's folder")
        layout.addWidget(options)
        self.tree.setCurrentItem(self.items[STEPS[0].name])

    def _folder_row(self, layout, label: str, signal, name: str, placeholder: str = ""):
        edit = QLineEdit(self)
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        edit.editingFinished.connect(lambda: signal.emit(edit.text().strip()))
        layout.addLayout(path_row(self, label, edit, lambda: self._choose_folder(edit, signal)))
        return edit

    def _choose_folder(self, edit: QLineEdit, signal) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Choose folder", edit.text())
        if folder:
            edit.setText(folder)
            signal.emit(folder)

    # ---- user edits -------------------------------------------------------------------------
    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 0:
            return
        name = item.data(0, Qt.ItemDataRole.UserRole)
        self._shown_steps.pop(name, None)
        self.skipChanged.emit(name, item.checkState(0) != Qt.CheckState.Checked)

    def _current_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        if current is None:
            return
        name = current.data(0, Qt.ItemDataRole.UserRole)
        self.forms.setCurrentWidget(self.step_forms[name])
        step = next(s for s in STEPS if s.name == name)
        self.form_title.setText(f"{step.title} ({step.name}) parameters")
        self.stepSelected.emit(name)

    def _param_edited(self, step: str, name: str, value: Any) -> None:
        if not self._updating:
            if step in self._shown_steps:  # the field shows what the user typed
                self._shown_steps[step] = {**self._shown_steps[step], name: value}
            self.parameterChanged.emit(step, name, value)

    def _pipeline_edited(self, name: str, value: Any) -> None:
        if not self._updating:
            self._shown_pipeline = {**self._shown_pipeline, name: value}
            self.pipelineOptionChanged.emit(name, value)

    def forget_shown(self) -> None:
        """The next show_config sets every field (after a refused edit)."""
        self._shown_steps.clear()
        self._shown_pipeline = {}

    # ---- programmatic updates -----------------------------------------------------------------
    def current_step(self) -> str:
        item = self.tree.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item else STEPS[0].name

    def select_step(self, name: str) -> None:
        self.tree.setCurrentItem(self.items[name])

    def show_config(self, config: PipelineConfig) -> None:
        """Make every checkbox and form show ``config`` exactly. Only what differs from what
        was shown is set again, so a field being typed in is left alone."""
        self._updating = True
        try:
            for step in STEPS:
                values = config.steps[step.name]
                if self._shown_steps.get(step.name) == values:
                    continue
                self.items[step.name].setCheckState(
                    0, Qt.CheckState.Unchecked if values["skip"] else Qt.CheckState.Checked)
                self.step_forms[step.name].set_values(values)
                self._shown_steps[step.name] = copy.deepcopy(values)
            if self._shown_pipeline != config.pipeline:
                self.pipeline_form.set_values(config.pipeline)
                self._shown_pipeline = copy.deepcopy(config.pipeline)
        finally:
            self._updating = False

    def set_folders(self, output_dir: str | None, ref_dir: str | None) -> None:
        self.output_dir_edit.setText(output_dir or "")
        self.ref_dir_edit.setText(ref_dir or "")

    def set_status(self, name: str, state: str, text: str | None = None,
                   tooltip: str = "") -> None:
        item = self.items[name]
        item.setText(1, text if text is not None else state)
        item.setForeground(1, QBrush(QColor(STATUS_COLOURS.get(state, "#000000"))))
        item.setToolTip(1, tooltip or (text or state))
        item.setData(1, Qt.ItemDataRole.UserRole, state)

    def status(self, name: str) -> str:
        return self.items[name].data(1, Qt.ItemDataRole.UserRole) or "pending"

    def status_text(self, name: str) -> str:
        return self.items[name].text(1)

    def reset_statuses(self) -> None:
        for step in STEPS:
            self.set_status(step.name, "pending")


def step_index(name: str) -> int:
    return [s.name for s in STEPS].index(name)


def steps_from(name: str) -> list[StepSpec]:
    return list(STEPS[step_index(name):])
