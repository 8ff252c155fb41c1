"""A labelled path field with a "…" button, as every dialog and panel here uses it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget


def path_row(parent: QWidget, label: str, edit: QLineEdit,
             browse: Callable[[], None]) -> QHBoxLayout:
    """``label  [edit ............] […]``: a row to add to a layout; ``browse`` runs on "…"."""
    row = QHBoxLayout()
    row.addWidget(QLabel(label, parent))
    row.addWidget(edit, 1)
    button = QToolButton(parent)
    button.setText("…")
    button.clicked.connect(browse)
    row.addWidget(button)
    return row
