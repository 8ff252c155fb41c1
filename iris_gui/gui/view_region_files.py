"""Loading and saving the view's regions as DS9 ``.reg`` files (the Region panel's Load / Save).

The text is made and read Qt-free (``display.region_files``). Sky coordinates go through the WCS
of pane A's frame (else pane B's): regions are shared by both panes in pixel coordinates. A
loaded file's regions are added to those there (as DS9 does), in one undoable edit. Saving is
atomic and never onto one of the product's input files; a failure is one message naming the
file (the view's ``failed`` signal: the window shows it) and leaves nothing half-written.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ..display import region_files as rf
from ..engine.errors import InputError
from ..engine.files import atomic_write_text
from ..state.view_state import ROLES

FILTER = "DS9 region files (*.reg);;All files (*)"


def pane_wcs(view):
    """(role, WCS) of the first pane whose frame has a WCS, else (None, None)."""
    for role in ROLES:
        source = view.source(role)
        if source is not None and getattr(source.model, "wcs", None) is not None:
            return role, source.model.wcs
    return None, None


def load_regions(view, path: str | os.PathLike) -> bool:
    """Add the regions of DS9 file ``path``; the panel's note says how many and what was left
    out. False (and ``failed`` emitted) if the file cannot be read."""
    path = Path(path)
    role, wcs = pane_wcs(view)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        loaded = rf.specs_from_ds9(text, wcs, str(path))
    except OSError as exc:
        view.failed.emit("Cannot load regions", f"cannot read {path}: {exc.strerror or exc}")
        return False
    except rf.RegionFileError as exc:
        view.failed.emit("Cannot load regions", str(exc))
        return False
    if loaded.specs:
        view.edit_regions(view.state.regions + tuple(loaded.specs), "load regions")
    note = f"Loaded {len(loaded.specs)} region{'s' if len(loaded.specs) != 1 else ''} from " \
           f"{path.name}"
    if loaded.from_sky:
        note += f" ({loaded.from_sky} in sky coordinates, through pane {role}'s WCS)"
    if loaded.left_out:
        note += "; left out: " + "; ".join(loaded.left_out)
    view.region_panel.show_note(note)
    return True


def save_regions(view, path: str | os.PathLike) -> bool:
    """Write the regions to ``path`` in ``state.region_coords``. False (and ``failed``) if it
    cannot be done: no regions, fk5 without a WCS, an input file, a folder that says no."""
    path = Path(path)
    coords = view.state.region_coords
    if not view.state.regions:
        view.failed.emit("Cannot save regions", f"there are no regions to save to {path}")
        return False
    role, wcs = pane_wcs(view)
    protected = list(view.result.product.input_paths) if view.result is not None else []
    try:
        text = rf.specs_to_ds9(view.state.regions, coords, wcs)
        atomic_write_text(path, text, protected=protected)
    except rf.RegionFileError as exc:
        view.failed.emit("Cannot save regions", f"{path}: {exc}")
        return False
    except InputError as exc:
        view.failed.emit("Cannot save regions", str(exc))
        return False
    where = f" through pane {role}'s WCS" if coords == "fk5" else ""
    view.region_panel.show_note(f"Saved {len(view.state.regions)} regions to {path.name} "
                                f"({coords}{where})")
    return True


def load_dialog(view) -> None:
    path, _ = QFileDialog.getOpenFileName(view, "Load DS9 regions", "", FILTER)
    if path:
        load_regions(view, path)


def save_dialog(view) -> None:
    path, _ = QFileDialog.getSaveFileName(view, f"Save regions ({view.state.region_coords})",
                                          "regions.reg", FILTER)
    if path:
        if not Path(path).suffix:
            path += ".reg"
        save_regions(view, path)
