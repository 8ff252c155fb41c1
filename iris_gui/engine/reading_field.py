"""What reading makes of files other pipelines wrote, and of our own: ``reading.read_image`` calls
these while it builds a model.

* **Our own files** (PRIMARY ``CAL_SW = 'iris_gui'`` and no ``DRSVER``, the keyword the upstream
  stamps on every file it saves): their headers hold every keyword the steps use, so their ASDF
  extension (written for downstream tools) is not read — opening it loads asdf's extensions,
  about 2 s once per process.
* **The upstream liger_iris_pipeline's ASDF tree** (``meta``): keywords the header lacks are
  taken from it (``ASDF_METADATA``). After its subarray-map step the upstream writes
  contradictory subarray keywords (its schema maps every ``meta.subarray_map`` entry onto the
  same SUBARRAY/SUBSTRT/SUBSIZE keywords); the tree's ``meta.subarray`` is right, so when the
  keywords contradict each other or the data and the tree has a whole window that fits, the
  tree's is used and one warning says so.
* **The upstream's WCS convention**: its assign_wcs puts CRVAL at 0-based pixel CRPIX; ours
  follows the FITS standard (CRPIX is 1-based). Reading a file the upstream wrote (DRSVER in
  PRIMARY) with WCS keywords logs one INFO line per file and process saying so. It is not a
  read warning: nothing is wrong with the file, the two programs differ.
* **The liger layout we write** keeps DQ bits 16-31 in a ``DQ32`` extension beside its uint16
  DQ: reading takes bits 0-15 from DQ (what any tool that edited the file changed) and bits
  16-31 from DQ32, so a round trip loses no flag.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import warnings
from typing import Any

import numpy as np
from astropy.io import fits

from .dq import DQ_DTYPE
from .errors import InputError
from .header_values import WINDOW_KEYS, window_values

log = logging.getLogger("iris_gui.engine.models")

OUR_SOFTWARE = "iris_gui"
#: the upstream's ``meta.drs_version`` keyword, written by every save since 2025
UPSTREAM_VERSION_KEY = "DRSVER"

#: header keyword -> ASDF tree path used when the header lacks it (upstream liger_iris_pipeline)
ASDF_METADATA = {
    "INSTRUME": ("instrument", "name"),
    "DETECTOR": ("instrument", "detector"),
    "FILTER": ("instrument", "filter"),
    "EXPTIME": ("exposure", "exposure_time"),
    "TELESCOP": ("telescope",),
    "SUBARRAY": ("subarray", "name"),
    "SUBSTRT1": ("subarray", "xstart"),
    "SUBSTRT2": ("subarray", "ystart"),
    "SUBSIZE1": ("subarray", "xsize"),
    "SUBSIZE2": ("subarray", "ysize"),
    "REFTYPE": ("reftype",),
    "S_DARK": ("cal_step", "dark_sub"),
}
#: meta.subarray entries -> the keywords they stand for
_TREE_WINDOW = {"xstart": "SUBSTRT1", "ystart": "SUBSTRT2", "xsize": "SUBSIZE1",
                "ysize": "SUBSIZE2"}

_noted_upstream: set[str] = set()
_noted_lock = threading.Lock()


def is_own_file(header: fits.Header) -> bool:
    """True for a file iris_gui wrote and no other program saved since."""
    return (str(header.get("CAL_SW", "") or "").strip() == OUR_SOFTWARE
            and UPSTREAM_VERSION_KEY not in header)


def is_upstream_file(header: fits.Header) -> bool:
    """True for a file the upstream liger_iris_pipeline saved (its DRSVER keyword)."""
    return UPSTREAM_VERSION_KEY in header


# ---- the ASDF tree --------------------------------------------------------------------------------

def read_asdf_tree(hdu: fits.hdu.base.ExtensionHDU, path: str) -> dict | None:
    """The ``meta`` tree of an ASDF extension (uint8 image or one-cell table), as plain values."""
    try:
        import asdf

        if isinstance(hdu, fits.BinTableHDU):
            raw = bytes(np.asarray(hdu.data[0][0]).tobytes())
        else:
            raw = np.asarray(hdu.data).tobytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with asdf.open(io.BytesIO(raw), lazy_load=True, memmap=False) as af:
                return _plain_tree(af.tree.get("meta", {}), depth=0)
    except Exception as exc:  # an unreadable extension is reported, never fatal
        log.warning("%s: ASDF extension could not be read (%s); using FITS headers only", path, exc)
        return None


def _plain_tree(node: Any, depth: int) -> Any:
    """Copy the scalar/dict/list parts of an ASDF tree, dropping arrays and custom objects."""
    if depth > 12:
        return None
    if isinstance(node, dict):
        return {str(k): _plain_tree(v, depth + 1) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain_tree(v, depth + 1) for v in node]
    if isinstance(node, (str, int, float, bool)) or node is None:
        return node
    return str(node) if not hasattr(node, "shape") else None


def fill_header_from_asdf(header: fits.Header, tree: dict) -> None:
    """Set each ASDF_METADATA keyword the header lacks from the tree."""
    for key, where in ASDF_METADATA.items():
        if key in header:
            continue
        node: Any = tree
        for part in where:
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and not isinstance(node, (dict, list)):
            header[key] = node


# ---- subarray keywords the upstream wrote wrong ---------------------------------------------------

def _window_contradiction(header: fits.Header, shape: tuple[int, int], path: str) -> str | None:
    """How the header's subarray keywords contradict each other or the data, or None."""
    ny, nx = shape
    name = str(header.get("SUBARRAY", "FULL") or "FULL").strip().upper()
    try:
        values = window_values(header, path)
    except InputError:
        return None  # a damaged value: the usual message says which
    if not all(key in values for key in WINDOW_KEYS):
        return None if name == "FULL" else f"SUBARRAY = {name} without a whole window"
    x0, y0, xs, ys = (values[key] for key in WINDOW_KEYS)
    said = f"SUBARRAY = {name}, SUBSTRT1/2 = {x0}, {y0}, SUBSIZE1/2 = {xs}x{ys}"
    if (xs, ys) != (nx, ny):
        return f"{said} but the data are {nx}x{ny}"
    if name == "FULL" and (x0, y0) != (1, 1):
        return f"{said}: a full frame starts at 1, 1"
    return None


def _tree_window(tree: dict, shape: tuple[int, int]) -> dict[str, Any] | None:
    """The tree's meta.subarray as keywords, if it is a whole window that fits the data."""
    node = tree.get("subarray") if isinstance(tree, dict) else None
    if not isinstance(node, dict):
        return None
    keywords: dict[str, Any] = {}
    for entry, key in _TREE_WINDOW.items():
        value = node.get(entry)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            return None
        keywords[key] = int(value)
    name = str(node.get("name") or "").strip().upper()
    if not name:
        return None
    ny, nx = shape
    if (keywords["SUBSIZE1"], keywords["SUBSIZE2"]) != (nx, ny):
        return None
    if name == "FULL" and (keywords["SUBSTRT1"], keywords["SUBSTRT2"]) != (1, 1):
        return None
    keywords["SUBARRAY"] = name
    return keywords


def repair_window_from_tree(header: fits.Header, tree: dict | None, shape: tuple[int, int],
                            path: str, notes: list[str]) -> None:
    """Replace contradictory subarray keywords by the tree's meta.subarray (noted), in place."""
    if not tree:
        return
    contradiction = _window_contradiction(header, shape, path)
    if contradiction is None:
        return
    window = _tree_window(tree, shape)
    if window is None:
        return
    for key, value in window.items():
        header[key] = value
    notes.append(f"{path}: the subarray keywords contradict each other ({contradiction}), as "
                 f"the upstream liger_iris_pipeline writes them after its subarray-map step; "
                 f"the ASDF tree's meta.subarray is used instead: {window['SUBARRAY']} at "
                 f"{window['SUBSTRT1']}, {window['SUBSTRT2']}, "
                 f"{window['SUBSIZE1']}x{window['SUBSIZE2']}")


# ---- the upstream's WCS convention ----------------------------------------------------------------

def note_upstream_wcs(header: fits.Header, sci_header: fits.Header, path: str) -> None:
    """One INFO line per file (and process) when the upstream wrote a file with a WCS."""
    if not is_upstream_file(header):
        return
    if "CRPIX1" not in header and "CRPIX1" not in sci_header:
        return
    key = os.path.realpath(path)
    with _noted_lock:
        if key in _noted_upstream:
            return
        _noted_upstream.add(key)
    version = str(header.get(UPSTREAM_VERSION_KEY, "") or "").strip()
    log.info("%s: written by liger_iris_pipeline%s, whose WCS puts CRVAL at 0-based pixel "
             "CRPIX; iris_gui's WCS follows the FITS standard (CRPIX counts from 1), so sky "
             "positions differ from the upstream's by one pixel in x and y", path,
             f" {version}" if version else "")


# ---- DQ32 beside a 16-bit DQ ----------------------------------------------------------------------

def merge_dq32(dq: np.ndarray | None, dq32: np.ndarray, path: str) -> np.ndarray:
    """Bits 0-15 from the 16-bit DQ (when there is one), bits 16-31 from DQ32 (both checked to
    be unsigned integers already). ``dq32`` is a fresh array of the reader's: it is reused."""
    if dq32.dtype.itemsize > 4:
        raise InputError(f"{path}: DQ32 must be 32 bits wide, found {dq32.dtype.name}")
    out = dq32.astype(DQ_DTYPE, copy=False)
    if dq is None:
        return out
    if dq.shape != dq32.shape:
        raise InputError(f"{path}: DQ32 shape {dq32.shape} differs from DQ {dq.shape}")
    np.bitwise_and(out, DQ_DTYPE(0xFFFF0000), out=out)
    if dq.dtype == np.uint16:
        out |= dq
    else:
        out |= np.bitwise_and(dq.astype(DQ_DTYPE, copy=False), DQ_DTYPE(0xFFFF))
    return out
