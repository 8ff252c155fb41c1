"""Export and Copy command line, as a mix-in of the main window.

Export writes through the engine's output plan (``Image2Pipeline.export_results``) on the worker.
A result that no longer matches the current parameters asks: run first, export as made (its
PROVENANCE records the parameters it was made with), or cancel. With no output folder chosen yet
(not the demo), the first export asks for one. Copy command line saves the parameters beside the
outputs (the output folder) or, when none is chosen, in the user's config folder, and says where.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..engine.pipeline import ProductResult
from .failures import failure_message

log = logging.getLogger("iris_gui.gui")

COMMAND_LINE_CFG = "iris_gui_image2.cfg"


def user_config_folder() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    return Path(base) / "iris_gui"


class ExportCommands:
    STALE_CHOICES = (("Run first", "run"), ("Export as made", "as made"), ("Cancel", "cancel"))

    def export_selected(self) -> None:
        result = self.workbench.current_result
        self._export([result] if result is not None else [])

    def export_all(self) -> None:
        self._export([self.workbench.result_for(p) for p in self.workbench.all_products])

    def ask_output_dir(self) -> str:
        """The folder dialog of the first export (tests replace this method)."""
        return QFileDialog.getExistingDirectory(self, "Export to which folder?",
                                                self._last_folder("output"))

    def _export(self, results: list[ProductResult | None]) -> None:
        ready = [r for r in results if r is not None and r.ok]
        if not ready:
            self.show_error("Export", "Nothing to export: run the product first.")
            return
        if not self.workbench.output_dir:
            folder = self.ask_output_dir()
            if not folder:
                self.statusBar().showMessage("export cancelled: no output folder chosen", 10000)
                return
            self.set_output_dir(folder)
        stale = [r for r in ready if self.workbench.is_stale(r.product)]
        if stale:
            self.ask_stale_export(ready, stale)
            return
        self._start_export(ready)

    def _start_export(self, ready: list[ProductResult]) -> None:
        self.workbench.apply_locations()
        self.worker.requestExport.emit(self.workbench.pipeline, ready, self.workbench.output_dir)

    def ask_stale_export(self, ready: list[ProductResult],
                         stale: list[ProductResult]) -> QMessageBox:
        """Some results no longer match the current parameters: run them first, export them as
        they were made, or cancel. Non-blocking (``stale_export_box`` until answered)."""
        names = ", ".join(r.product.name for r in stale)
        box = QMessageBox(QMessageBox.Icon.Question, "Export stale results",
                          f"{len(stale)} product(s) were run with other parameters, inputs or "
                          f"references than the current ones: {names}.\n\n"
                          "Run first: run them with the current parameters, then export.\n"
                          "Export as made: write them as they were made (their PROVENANCE "
                          "records the parameters they were made with).",
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("staleExportDialog")
        for text, choice in self.STALE_CHOICES:
            role = (QMessageBox.ButtonRole.RejectRole if choice == "cancel"
                    else QMessageBox.ButtonRole.AcceptRole)
            button = box.addButton(text, role)
            button.setProperty("choice", choice)
            if choice == "run":
                box.setDefaultButton(button)
            if choice == "cancel":
                box.setEscapeButton(button)
        box.buttonClicked.connect(
            lambda button, r=ready, s=stale: self._stale_export_answered(
                button.property("choice") or "cancel", r, s))
        box.finished.connect(lambda _r, b=box: self._stale_box_closed(b))
        self.stale_export_box = box
        box.open()
        return box

    def _stale_box_closed(self, box: QMessageBox) -> None:
        if self.stale_export_box is box:
            self.stale_export_box = None

    def _stale_export_answered(self, choice: str, ready: list[ProductResult],
                               stale: list[ProductResult]) -> None:
        self.stale_export_box = None
        if choice == "as made":
            for result in stale:
                log.warning("%s: exported as made, with the parameters of its last run, not the "
                            "current ones; its PROVENANCE records the parameters it was made with",
                            result.product.name)
            self._start_export(ready)
        elif choice == "run":
            if self.running:
                self.show_error("Export", "A run is in progress: export when it has finished.")
                return
            log.info("running %s before exporting", ", ".join(r.product.name for r in stale))
            self._export_after_run = [self.workbench.key(r.product) for r in ready]
            self.start_run([r.product for r in stale])
        else:
            log.info("export cancelled: nothing written")
            self.statusBar().showMessage("export cancelled", 10000)

    def _export_finished(self, written: list, errors: list) -> None:
        for path in written:
            log.info("exported %s", path)
        # errors were shown already: the worker's failed signal (a dialog and the log)
        self.statusBar().showMessage(f"exported {len(written)} file(s) to "
                                     f"{self.workbench.output_dir}"
                                     + (f"; {len(errors)} failed" if errors else ""), 10000)
        self.exportCompleted.emit(written, errors)

    def command_line_cfg(self) -> Path:
        """Where Copy command line saves the parameters: beside the outputs, or the user's
        config folder while no output folder is chosen."""
        if self.workbench.output_dir:
            return Path(self.workbench.output_dir) / COMMAND_LINE_CFG
        return user_config_folder() / COMMAND_LINE_CFG

    def copy_command_line(self) -> str | None:
        cfg = self.command_line_cfg()
        try:
            cfg.parent.mkdir(parents=True, exist_ok=True)
            text = self.workbench.command_line(cfg)
        except Exception as exc:
            self.show_error("Copy command line", failure_message(exc, "save parameters to", cfg))
            return None
        QGuiApplication.clipboard().setText(text)
        log.info("parameters saved to %s; copied: %s", cfg, text)
        self.statusBar().showMessage(f"command line copied; its parameters are in {cfg}", 15000)
        return text
