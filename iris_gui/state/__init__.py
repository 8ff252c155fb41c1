"""The workbench state: what the window shows and edits, as plain Python (no Qt).

- ``evented``: ``Event`` and ``EventedModel``, the small observable base everything here uses
  (in the manner of napari's evented models and glue's state classes).
- ``view_state``: ``ViewState``, every setting of the inspection view (panes, stretch, limits,
  colours, blink, DQ overlay, regions, integration, zoom).
- ``workbench``: ``Workbench``, the inputs, the parameters, every product's plan and status, the
  results, the notes and the view state; the one source of truth the window displays.
- ``undo``: ``UndoStack``, undo/redo of parameter edits, step toggles, loaded parameter files and
  region edits.
- ``session_file``: ``.iris-session`` files (versioned JSON): save, read, check that the inputs
  are still the files they were, restore; ``autosave``: periodic copies and crash recovery.

Widgets display and edit this state; they are never read back as the truth.
"""
