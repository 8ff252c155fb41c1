"""Review notes and sign-offs of the selected product, as a mix-in of the main window (the
review report is made from them)."""

from __future__ import annotations


class ReviewCommands:
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
