"""File ▸ Watch folder…: the folder, the file pattern, the background rule (shown in words) and
the output folder of a quick-look. The dialog only gathers them; ``settings()`` checks them
(``BackgroundRule.parse``) and the window starts the watch."""

from __future__ import annotations

import os

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..engine.quicklook import WatchSettings
from ..engine.watch import DEFAULT_PATTERN
from ..engine.watch_backgrounds import ASSOCIATION, FOLDER, NONE, RECENT, BackgroundRule
from .path_field import path_row

RULES = ((RECENT, "The N sky frames nearest in time (IMTYPE / EXP_TYPE = SKY)"),
         (FOLDER, "Every FITS file of a folder of sky frames"),
         (ASSOCIATION, "The background members of an association"),
         (NONE, "No background"))


class WatchDialog(QDialog):
    def __init__(self, parent: QWidget, watch: dict[str, str], output_dir: str | None) -> None:
        super().__init__(parent)
        self.setObjectName("watchDialog")
        self.setWindowTitle("Watch a folder (quick-look)")
        layout = QVBoxLayout(self)
        intro = QLabel("Each new exposure that lands in the folder is calibrated once it is "
                       "complete, with the current parameters, and shown.", self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.folder = QLineEdit(watch.get("folder", ""), self)
        self.folder.setObjectName("watchFolder")
        layout.addLayout(path_row(self, "Folder:", self.folder,
                                  lambda: self._pick_folder(self.folder)))
        form = QFormLayout()
        self.pattern = QLineEdit(watch.get("pattern", DEFAULT_PATTERN), self)
        self.pattern.setObjectName("watchPattern")
        form.addRow("Files:", self.pattern)
        self.rule = QComboBox(self)
        self.rule.setObjectName("watchRule")
        for kind, text in RULES:
            self.rule.addItem(text, kind)
        form.addRow("Backgrounds:", self.rule)
        self.count = QSpinBox(self)
        self.count.setRange(1, 50)
        self.count.setValue(3)
        form.addRow("N sky frames:", self.count)
        layout.addLayout(form)
        self.source = QLineEdit(self)
        self.source.setObjectName("watchRuleSource")
        self.source.setPlaceholderText("sky-frame folder or association .json")
        layout.addLayout(path_row(self, "Sky frames:", self.source, self._pick_source))
        self.output = QLineEdit(watch.get("output", output_dir or ""), self)
        self.output.setObjectName("watchOutput")
        layout.addLayout(path_row(self, "Output folder:", self.output,
                                  lambda: self._pick_folder(self.output)))
        self.rule_text = QLabel(self)
        self.rule_text.setObjectName("watchRuleText")
        self.rule_text.setWordWrap(True)
        layout.addWidget(self.rule_text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start watching")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._show_rule(watch.get("backgrounds", f"{RECENT}:3"))
        self.rule.currentIndexChanged.connect(self._rule_changed)
        self.count.valueChanged.connect(self._rule_changed)
        self.source.textChanged.connect(self._rule_changed)
        self._rule_changed()

    def _show_rule(self, text: str) -> None:
        try:
            rule = BackgroundRule.parse(text)
        except Exception:  # noqa: BLE001 - a saved rule whose folder is gone: the default
            rule = BackgroundRule(RECENT, "", 3)
        self.rule.setCurrentIndex(max(0, self.rule.findData(rule.kind)))
        if rule.kind == RECENT:
            self.count.setValue(rule.count)
        self.source.setText(rule.source)

    def rule_text_now(self) -> str:
        kind = self.rule.currentData()
        if kind == RECENT:
            return f"recent:{self.count.value()}"
        if kind == NONE:
            return NONE
        return self.source.text().strip()

    def _rule_changed(self, *_args) -> None:
        kind = self.rule.currentData()
        self.count.setEnabled(kind == RECENT)
        self.source.setEnabled(kind in (FOLDER, ASSOCIATION))
        try:
            words = BackgroundRule.parse(self.rule_text_now()).describe()
        except Exception as exc:  # noqa: BLE001 - said under the fields
            words = f"⚠ {exc}"
        self.rule_text.setText(f"Rule: {words}")

    def _pick_folder(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text())
        if folder:
            edit.setText(folder)

    def _pick_source(self) -> None:
        if self.rule.currentData() == ASSOCIATION:
            path, _ = QFileDialog.getOpenFileName(self, "Association", self.source.text(),
                                                  "Associations (*.json)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Sky-frame folder", self.source.text())
        if path:
            self.source.setText(path)

    def settings(self, ref_dir: str | None = None) -> WatchSettings:
        """The watch asked for; InputError (one line) when a field is not usable."""
        from ..engine.errors import InputError

        folder, output = self.folder.text().strip(), self.output.text().strip()
        if not folder or not os.path.isdir(folder):
            raise InputError(f"watch folder {folder or '(none)'}: not a folder")
        if not output:
            raise InputError("choose an output folder (the watched folder stays as it is)")
        rule = BackgroundRule.parse(self.rule_text_now(), "backgrounds")
        return WatchSettings(os.path.abspath(folder), os.path.abspath(output),
                             self.pattern.text().strip() or DEFAULT_PATTERN, rule, ref_dir)

    def _accept(self) -> None:
        from .failures import failure_message

        try:
            self.settings()
        except Exception as exc:  # noqa: BLE001 - the dialog stays open, saying why
            self.rule_text.setText(f"⚠ {failure_message(exc, 'start watching')}")
            return
        self.accept()
