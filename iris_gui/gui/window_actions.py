"""The main window's actions, menus and toolbar (File, Edit, Run, View).

Window-wide keys: Ctrl+O open, Ctrl+L / Ctrl+Shift+S load / save parameters, Ctrl+E export,
Ctrl+Z / Ctrl+Shift+Z undo / redo, F5 run (cancel while running), Shift+F5 run all, Ctrl+T
switch the selected step on or off; the inspection view's keys (Space, B, A, D, N, L, F,
PgUp/PgDn) are in the View menu and work wherever the focus is, except while typing in a field.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QCheckBox, QToolBar


def make_action(window, text: str, slot, shortcut=None, tip: str = "") -> QAction:
    action = QAction(text, window)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    action.setToolTip(tip or text)
    action.setStatusTip(tip or text)
    action.triggered.connect(slot)
    return action


def build_actions(window) -> None:
    a = lambda *args, **kw: make_action(window, *args, **kw)  # noqa: E731
    window.open_action = a("&Open…", window.open_dialog, QKeySequence.StandardKey.Open,
                           "Open rate files or image2 associations")
    window.new_asn_action = a("&New association…", window.new_association_dialog,
                              tip="Build an association from rate files")
    window.save_asn_action = a("&Save association as…", window.save_association_dialog)
    window.open_session_action = a("Open sess&ion…", window.open_session_dialog,
                                   tip="Restore inputs, parameters, view and notes from an "
                                       ".iris-session file")
    window.save_session_action = a("Save session &as…", window.save_session_dialog,
                                   "Ctrl+Alt+S", "Save inputs, parameters, view, regions and "
                                                 "notes to an .iris-session file")
    window.load_params_action = a("&Load parameters…", window.load_parameters_dialog, "Ctrl+L",
                                  "Load image2.cfg or .asdf parameters")
    window.save_params_action = a("Save &parameters…", window.save_parameters_dialog,
                                  "Ctrl+Shift+S", "Save image2.cfg or .asdf")
    window.export_action = a("&Export selected", window.export_selected, "Ctrl+E",
                             "Write _cal (and _bsub, _i2d) of the selected product")
    window.export_all_action = a("Export &all", window.export_all,
                                 tip="Write the outputs of every product run")
    window.review_action = a("Review &report…", window.review_report_dialog, "Ctrl+Shift+R",
                             "Write review.html and review.pdf: every step's images, metrics and "
                             "checks, with the notes and sign-offs")
    window.copy_cli_action = a("&Copy command line", window.copy_command_line,
                               tip="Save the parameters and copy the equivalent iris-image2 "
                                   "command (says where the parameter file went)")
    window.quit_action = a("&Quit", window.close, QKeySequence.StandardKey.Quit)
    window.undo_action = a("&Undo", window.undo, QKeySequence.StandardKey.Undo)
    window.redo_action = a("&Redo", window.redo, "Ctrl+Shift+Z")
    window.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    window.run_action = a("&Run", window.run_or_cancel, "F5",
                          "Run the selected product (Cancel while running)")
    window.run_all_action = a("Run a&ll", window.run_all, "Shift+F5", "Run every product")
    window.toggle_step_action = a("Switch the selected step &on/off",
                                  window.toggle_current_step, "Ctrl+T")
    window.reset_layout_action = a("Reset the window &layout", window.reset_layout)
    window.live_box = QCheckBox("Live", window)
    window.live_box.setToolTip("Re-run automatically when a parameter changes")

    file_menu = window.menuBar().addMenu("&File")
    add_groups(file_menu, [(window.open_action, window.new_asn_action, window.save_asn_action)])
    window.recent_menu = file_menu.addMenu("Open &recent")
    file_menu.addSeparator()
    add_groups(file_menu, [
        (window.open_session_action, window.save_session_action),
        (window.load_params_action, window.save_params_action),
        (window.export_action, window.export_all_action, window.copy_cli_action),
        (window.review_action,),
        (window.quit_action,)])
    add_groups(window.menuBar().addMenu("&Edit"), [(window.undo_action, window.redo_action)])
    add_groups(window.menuBar().addMenu("&Run"), [
        (window.run_action, window.run_all_action, window.toggle_step_action)])
    view_actions = window.image_view.menu_actions()
    for action in view_actions:
        # the view's keys work wherever the focus is (a text field still gets its letters)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    docks = (window.inputs_dock, window.steps_dock, window.log_dock, window.console_dock)
    view_menu = window.menuBar().addMenu("&View")
    add_groups(view_menu, [
        (*(dock.toggleViewAction() for dock in docks), window.reset_layout_action),
        view_actions])
    from .window_watch import install_watch  # File ▸ Watch folder…, the Night dock, P

    install_watch(window, file_menu, view_menu)

    toolbar = QToolBar("Main", window)
    toolbar.setObjectName("mainToolbar")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    add_groups(toolbar, [
        (window.open_action, window.load_params_action, window.save_params_action),
        (window.undo_action, window.redo_action),
        (window.run_action, window.run_all_action, window.live_box),
        (window.export_action, window.copy_cli_action)])
    window.addToolBar(toolbar)
    update_undo_actions(window)


def add_groups(target, groups) -> None:
    """Add actions (or widgets, to a toolbar) to a menu or toolbar, a separator between
    groups."""
    for index, group in enumerate(groups):
        if index:
            target.addSeparator()
        for item in group:
            if isinstance(item, QAction):
                target.addAction(item)
            else:
                target.addWidget(item)


def update_undo_actions(window) -> None:
    stack = window.workbench.undo
    window.undo_action.setEnabled(stack.can_undo)
    window.redo_action.setEnabled(stack.can_redo)
    window.undo_action.setText(f"&Undo {stack.undo_text}" if stack.can_undo else "&Undo")
    window.redo_action.setText(f"&Redo {stack.redo_text}" if stack.can_redo else "&Redo")
    window.undo_action.setToolTip(f"Undo {stack.undo_text} (Ctrl+Z)" if stack.can_undo
                                  else "Nothing to undo")
    window.redo_action.setToolTip(f"Redo {stack.redo_text} (Ctrl+Shift+Z)" if stack.can_redo
                                  else "Nothing to redo")
