"""Review notes, sign-offs and the review report, as a mix-in of the main window.

File ▸ Review report… makes ``review.html`` and ``review.pdf`` (``iris_gui.report``) from the
chosen products' results, notes and sign-offs and the view's stretch, on a background thread
with progress and Cancel; the HTML opens in the browser when done.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QProgressDialog

from ..engine.cancel import CancelToken
from ..engine.errors import Cancelled
from .failures import failure_message
from .review_dialog import ReviewReportDialog

log = logging.getLogger("iris_gui.gui")


class _ReportRelay(QObject):
    """Carries the report thread's progress and outcome to the GUI thread (queued signals)."""

    progressed = Signal(float, str)
    finished = Signal(object, str)  # ReportFiles or None, error message ("" on success)


class ReviewCommands:
    # ---- notes and sign-offs ------------------------------------------------------------------
    def _note_edited(self, text: str) -> None:
        if self.workbench.current_product is not None:
            self.workbench.set_note(self.workbench.current_product, text)

    def _signoff_edited(self, verdict: str) -> None:
        if self.workbench.current_product is not None:
            self.workbench.sign_off(self.workbench.current_product, verdict)

    def _show_note(self) -> None:
        wb = self.workbench
        product = wb.current_product
        key = wb.key(product) if product is not None else None
        self.inputs_panel.show_note(product, wb.notes.get(key, ""), wb.signoffs.get(key))

    # ---- the report ---------------------------------------------------------------------------
    def review_report_dialog(self) -> ReviewReportDialog | None:
        wb = self.workbench
        products = [p for p in wb.all_products if (r := wb.result_for(p)) is not None and r.ok]
        if not products:
            self.show_error("Review report", "Nothing to report on: run the products first.")
            return None
        stale = {i for i, p in enumerate(products) if wb.is_stale(p)}
        base = wb.output_dir or str(Path(self._last_folder("review")))
        dialog = ReviewReportDialog(products, stale, str(Path(base) / "review"), wb.reviewer,
                                    self)
        dialog.accepted.connect(lambda: self.make_review_report(
            dialog.chosen(), dialog.folder.text().strip(), dialog.reviewer.text().strip(),
            dialog.checks_file()))
        dialog.open()
        self.review_dialog = dialog
        return dialog

    def make_review_report(self, products: list, folder: str, reviewer: str,
                           checks: str = "") -> None:
        """Write the report of ``products`` into ``folder`` off the GUI thread; ``checks``: a
        checks.cfg of thresholds (the defaults when empty)."""
        from ..report.build import make_report, review_inputs_from_workbench
        from ..report.checks import load_checks

        self.workbench.reviewer = reviewer
        try:
            inputs = review_inputs_from_workbench(self.workbench, products)
        except Exception as exc:
            self.show_error("Review report", failure_message(exc, "make the review report"))
            return
        if checks:
            try:
                inputs["thresholds"] = load_checks(checks)
            except Exception as exc:
                self.show_error("Review report", failure_message(exc, "read the checks", checks))
                return
        self._remember_folder("review", str(Path(folder) / "review.html"))
        token = self._report_token = CancelToken()
        relay = _ReportRelay(self)
        box = QProgressDialog("Making the review report…", "Cancel", 0, 1000, self)
        box.setObjectName("reviewProgress")
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setMinimumDuration(300)
        box.canceled.connect(token.cancel)
        relay.progressed.connect(lambda f, text: (box.setValue(int(1000 * f)),
                                                  box.setLabelText(text)))
        relay.finished.connect(lambda files, error: self._review_done(box, files, error))
        self.review_progress = box

        def work() -> None:  # on the report thread: no widget is touched here
            try:
                files = make_report(output_dir=folder, progress=relay.progressed.emit,
                                    cancel=token, **inputs)
            except Cancelled:
                relay.finished.emit(None, "")
            except Exception as exc:  # noqa: BLE001 - shown in a dialog naming the folder
                relay.finished.emit(None, failure_message(exc, "write the review report to",
                                                          folder))
            else:
                relay.finished.emit(files, "")

        self._report_thread = threading.Thread(target=work, name="iris-gui-report", daemon=True)
        self._report_thread.start()

    def _review_done(self, box: QProgressDialog, files, error: str) -> None:
        box.reset()
        box.close()
        if error:
            self.show_error("Review report", error)
        elif files is None:
            log.info("review report cancelled: nothing written")
            self.statusBar().showMessage("review report cancelled", 10000)
        else:
            log.info("review report written: %s and %s (%.1f s)", files.html, files.pdf,
                     files.seconds)
            self.statusBar().showMessage(f"review report written to {files.html.parent}", 15000)
            self.open_in_browser(files.html)
        self.reviewReportDone.emit(files, error)

    def open_in_browser(self, path: Path) -> None:
        """Show the report (tests replace this)."""
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    def stop_report(self, timeout: float = 30.0) -> None:
        """Cancel a report being made and wait for its thread (closing the window)."""
        token = getattr(self, "_report_token", None)
        if token is not None:
            token.cancel()
        thread = getattr(self, "_report_thread", None)
        if thread is not None:
            thread.join(timeout)
