"""Opening and saving, as a mix-in of the main window: inputs, associations, parameter files,
sessions (.iris-session), autosave and crash recovery, the recent-files list.

Every action reports any failure in a dialog naming the file and in the log (``show_error``).
Session files are written off the GUI thread (recording each input's SHA-256 reads the files).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..engine.association import Association, Product, save_association
from ..engine.parameter_files import load_parameters, save_parameters
from ..state import autosave
from ..state.session_file import (
    SUFFIX,
    fill_identities,
    protected_paths,
    restore_session,
    session_document,
    session_path_for,
    write_session_document,
)
from .failures import failure_message
from .inputs_panel import BuildAssociationDialog

log = logging.getLogger("iris_gui.gui")

MAX_RECENT = 10
SESSION_FILTER = f"iris_gui sessions (*{SUFFIX});;All files (*)"


class FileCommands:
    # ---- inputs -------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open rate files or associations", self._last_folder("open"),
            "Associations and rate files (*.json *.fits *.fit);;All files (*)")
        if paths:
            self._remember_folder("open", paths[0])
            self.open_paths(paths)

    def open_paths(self, paths: list[str]) -> None:
        """Open ASNs / rate files (the menu, drops, the command line and --demo all come here);
        an .iris-session opens as a session."""
        opened = None
        for path in paths:
            if str(path).endswith(SUFFIX):
                self.open_session(path)
                continue
            try:
                association = self.workbench.open_path(path)
            except Exception as exc:  # any failure: a dialog naming the file, nothing added
                self.show_error("Cannot open input", failure_message(exc, "open", path))
                continue
            self._add_recent(os.path.abspath(path))
            for problem in association.problems:
                log.warning("%s", problem)
            log.info("opened %s (%d product(s))", path, len(association.products))
            opened = opened or (association.products[0] if association.products else None)
        if opened is not None:
            self.workbench.select(opened)

    def new_association_dialog(self, paths: list[str] | None = None) -> BuildAssociationDialog:
        dialog = BuildAssociationDialog(paths or [], self,
                                        names_in_use=self.workbench.product_names_in_use())
        dialog.accepted.connect(lambda: self._association_built(dialog))
        dialog.open()
        return dialog

    def _association_built(self, dialog: BuildAssociationDialog) -> None:
        try:
            association = dialog.association()
        except Exception as exc:
            self.show_error("New association", failure_message(exc, "build the association"))
            return
        if not association.products:
            self.show_error("New association", "Mark at least one file as science.")
            return
        self.workbench.add_association(association)
        self.workbench.select(association.products[0])
        if dialog.save_path():
            self.save_association_to(association, dialog.save_path(),
                                     absolute=dialog.absolute_paths())

    def save_association_dialog(self) -> None:
        association = self._current_association()
        if association is None:
            self.show_error("Save association", "Open or build an association first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save association", self._last_folder("asn"),
                                              "Associations (*.json)")
        if path:
            self.save_association_to(association, path)

    def save_association_to(self, association: Association, path: str, *,
                            absolute: bool = False) -> bool:
        try:
            save_association(association, path, absolute=absolute)
        except Exception as exc:
            self.show_error("Save association",
                            failure_message(exc, "save the association to", path))
            return False
        association.path = os.path.abspath(path)
        for product in association.products:
            product.asn_path = association.path
        self._remember_folder("asn", path)
        log.info("association saved to %s", path)
        self.workbench.inputs_changed.emit()
        return True

    def _current_association(self) -> Association | None:
        return (self.workbench.association_of(self.workbench.current_product)
                or (self.workbench.associations[0] if self.workbench.associations else None))

    def remove_input(self, obj: Any) -> None:
        if isinstance(obj, Association):
            self.workbench.remove_association(obj)
        elif isinstance(obj, Product):
            self.workbench.remove_product(obj)
        self.workbench.select(self.workbench.current_product)

    # ---- parameter files ----------------------------------------------------------------------
    def load_parameters_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load parameters", self._last_folder("params"),
                                              "Parameter files (*.cfg *.asdf);;All files (*)")
        if path:
            self.load_parameters_from(path)

    def load_parameters_from(self, path: str) -> bool:
        try:
            config = load_parameters(path)
        except Exception as exc:  # the form keeps the parameters it had
            self.show_error("Cannot load parameters",
                            failure_message(exc, "load parameters from", path))
            return False
        self._remember_folder("params", path)
        self.workbench.set_config(config, f"load {Path(path).name}")
        log.info("parameters loaded from %s", path)
        return True

    def save_parameters_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save parameters", self._last_folder("params"),
                                              "stpipe cfg (*.cfg);;asdf (*.asdf)")
        if path:
            self.save_parameters_to(path)

    def save_parameters_to(self, path: str) -> bool:
        try:
            save_parameters(self.workbench.config, path)
        except Exception as exc:
            self.show_error("Cannot save parameters",
                            failure_message(exc, "save parameters to", path))
            return False
        self._remember_folder("params", path)
        log.info("parameters saved to %s", path)
        return True

    # ---- sessions -----------------------------------------------------------------------------
    def save_session_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save session", self._last_folder("session"),
                                              SESSION_FILTER)
        if path:
            self.save_session_to(path)

    def save_session_to(self, path: str, *, quiet: bool = False) -> None:
        """Save in the background; ``sessionSaved(path, error)`` when done."""
        target = session_path_for(path)
        self.image_view.sync_view_range()  # the zoom is written to the state after a pause
        document = session_document(self.workbench, target)
        protected = protected_paths(self.workbench)
        if not quiet:
            self._remember_folder("session", str(target))
        self.file_tasks.submit(("session", str(target), quiet), _write_session,
                               document, str(target), protected)

    def _file_task_done(self, key, result, error: str) -> None:
        _kind, path, quiet = key
        error = error or (result or "")
        if error:
            if quiet:
                log.warning("autosave to %s failed: %s", path, error)
            else:
                self.show_error("Cannot save the session", error)
        elif not quiet:
            log.info("session saved to %s", path)
            self.statusBar().showMessage(f"session saved to {path}", 10000)
        self.sessionSaved.emit(path, error)

    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", self._last_folder("session"),
                                              SESSION_FILTER)
        if path:
            self.open_session(path)

    def open_session(self, path: str) -> bool:
        """Replace what is open with the session's; re-run the products that had results."""
        if self.running:
            self.cancel_run()
        try:
            report = restore_session(self.workbench, path)
        except Exception as exc:
            self.show_error("Cannot open session", failure_message(exc, "open the session",
                                                                   path))
            return False
        self._remember_folder("session", path)
        self._add_recent(os.path.abspath(path))
        log.info("session %s restored (%d product(s))", path, len(self.workbench.all_products))
        for line in report.lines:
            log.warning("%s", line)
        self.statusBar().showMessage(f"session {Path(path).name} restored"
                                     + (" with differences (see the log)" if report.lines
                                        else ""), 15000)
        if report.lines:
            self.show_error("Session restored with differences", "\n".join(report.lines))
        if report.to_run:
            self.start_run(report.to_run)
        return True

    def autosave_now(self) -> None:
        if not self.workbench.associations:
            autosave.discard()
            return
        autosave.state_folder().mkdir(parents=True, exist_ok=True)
        self.save_session_to(str(autosave.autosave_path()), quiet=True)

    def offer_recovery(self) -> QMessageBox | None:
        """After a crash: offer the newest autosave left by a process that is gone."""
        found = autosave.recoverable_sessions()
        if not found:
            return None
        newest = found[0]
        box = QMessageBox(QMessageBox.Icon.Question, "Recover the last session?",
                          f"iris_gui did not close normally last time. Its autosave "
                          f"({newest.describe()}) can be restored.",
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("recoveryDialog")
        restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        later = box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.setEscapeButton(later)

        def answered(button) -> None:
            if button is restore:
                if self.open_session(str(newest.path)):
                    autosave.discard(newest.path)
            elif button is not later:
                autosave.discard(newest.path)
        box.buttonClicked.connect(answered)
        self.recovery_box = box
        box.open()
        return box

    # ---- settings helpers ---------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.settings.value("recent/files") or []
        return [value] if isinstance(value, str) else list(value)

    def _add_recent(self, path: str) -> None:
        recent = [p for p in self.recent_files() if p != path]
        recent.insert(0, path)
        self.settings.setValue("recent/files", recent[:MAX_RECENT])
        self._update_recent_menu()

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            self.recent_menu.addAction(path, lambda p=path: self.open_paths([p]))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def _last_folder(self, key: str) -> str:
        return str(self.settings.value(f"folders/{key}") or Path.home())

    def _remember_folder(self, key: str, path: str) -> None:
        self.settings.setValue(f"folders/{key}", str(Path(path).parent))


def _write_session(document: dict, path: str, protected: list[str]) -> str:
    """On a pool thread: record the inputs' identities and write the session; returns the
    error message ("" when written)."""
    try:
        write_session_document(fill_identities(document), path, protected)
    except Exception as exc:  # noqa: BLE001 - shown in a dialog naming the file
        return failure_message(exc, "save the session to", path)
    return ""
