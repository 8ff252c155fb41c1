"""Colour tables for the inspection views: colormaps as 256-entry tables for ``uint8`` index
images (``stretch.N_COLOURS`` data colours + the NaN colour), and the DQ overlay palette.

The colormaps are pyqtgraph's own colour files (``pyqtgraph/colors/maps/*.csv``), read and
interpolated here exactly as ``pyqtgraph.colormap.get(name).getLookupTable`` does, without
importing pyqtgraph (which would load Qt).
"""

from __future__ import annotations

import importlib.util
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..engine.dq import DQ_BITS
from .stretch import N_COLOURS, NAN_INDEX

log = logging.getLogger("iris_gui.gui")

#: menu name -> pyqtgraph colormap file name (None: a plain grey ramp)
COLORMAPS: dict[str, str | None] = {
    "grey": None,
    "viridis": "viridis",
    "magma": "magma",
    "inferno": "inferno",
    "cividis": "cividis",
    "heat": "CET-L3",
    "turbo": "turbo",
    "blue-white-red": "CET-D1A",
}

#: NaN pixels: a colour none of the colormaps above uses
DEFAULT_NAN_COLOUR = (255, 0, 255)

#: DQ overlay colour per flag name (others get a colour from FALLBACK by bit)
DQ_COLOURS: dict[str, tuple[int, int, int]] = {
    "DO_NOT_USE": (255, 40, 40),
    "SATURATED": (255, 150, 0),
    "JUMP_DET": (255, 235, 0),
    "DROPOUT": (200, 120, 60),
    "OUTLIER": (0, 230, 255),
    "PERSISTENCE": (150, 110, 255),
    "UNRELIABLE_ERROR": (255, 190, 200),
    "NON_SCIENCE": (150, 150, 150),
    "DEAD": (40, 120, 255),
    "HOT": (255, 90, 0),
    "WARM": (255, 200, 120),
    "LOW_QE": (120, 180, 255),
    "TELEGRAPH": (180, 255, 120),
    "NONLINEAR": (255, 255, 160),
    "BAD_REF_PIXEL": (160, 80, 40),
    "NO_FLAT_FIELD": (0, 220, 90),
    "UNRELIABLE_DARK": (110, 160, 110),
    "UNRELIABLE_FLAT": (170, 230, 170),
    "OTHER_BAD_PIXEL": (230, 230, 230),
    "REFERENCE_PIXEL": (90, 90, 200),
}
_FALLBACK = [(31, 119, 180), (174, 199, 232), (255, 187, 120), (44, 160, 44), (152, 223, 138),
             (214, 39, 40), (255, 152, 150), (148, 103, 189), (197, 176, 213), (140, 86, 75),
             (196, 156, 148), (127, 127, 127), (188, 189, 34), (219, 219, 141), (23, 190, 207),
             (158, 218, 229)]


def dq_colour(name: str) -> tuple[int, int, int]:
    return DQ_COLOURS.get(name, _FALLBACK[DQ_BITS.get(name, 0) % len(_FALLBACK)])


#: the overlay's NaN markers (not a DQ flag: NaN pixels of the shown frame), drawn over any flag
NAN_MARK = "NaN"
NAN_MARK_INDEX = 40


def dq_colour_index(name: str) -> int:
    """Overlay mask value of a flag: 1 + its bit (so the max-pool keeps the highest bit); NaN
    markers above every flag."""
    if name == NAN_MARK:
        return NAN_MARK_INDEX
    return 1 + DQ_BITS[name]


def _pyqtgraph_map_file(target: str) -> Path:
    """pyqtgraph's colour file ``target`` (found without importing pyqtgraph)."""
    spec = importlib.util.find_spec("pyqtgraph")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("pyqtgraph is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "colors" / "maps" / f"{target}.csv"


def read_colour_stops(path: Path) -> np.ndarray:
    """The colours of a pyqtgraph ``.csv`` colour file as ``uint8`` RGB rows (``;`` starts a
    comment; components are 0..1, rounded to bytes as pyqtgraph does)."""
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line[0] == ";":
            continue
        components = line.split(";", 1)[0].split(",")
        if len(components) < 3:
            continue
        rows.append([int(255 * float(c) + 0.5) for c in components[:3]])
    if len(rows) < 2:
        raise ValueError(f"{path} holds fewer than two colours")
    return np.array(rows, np.uint8)


def interpolate_stops(stops: np.ndarray, n: int) -> np.ndarray:
    """``n`` x 3 ``uint8`` colours evenly spaced along equally spaced stops (linear in RGB,
    truncated to bytes: pyqtgraph's ``getLookupTable(0, 1, n)``)."""
    position = np.linspace(0.0, 1.0, len(stops))
    x = np.linspace(0.0, 1.0, n)
    out = np.empty((n, 3), np.uint8)
    for channel in range(3):
        out[:, channel] = np.interp(x, position, stops[:, channel])
    return out


@lru_cache(maxsize=32)
def _colormap_colours(name: str) -> np.ndarray:
    """``N_COLOURS`` x 3 ``uint8`` colours of a colormap (grey if it cannot be loaded)."""
    target = COLORMAPS.get(name)
    ramp = np.linspace(0, 255, N_COLOURS).round().astype(np.uint8)
    grey = np.stack([ramp, ramp, ramp], axis=1)
    if target is None:
        return grey
    try:
        return interpolate_stops(read_colour_stops(_pyqtgraph_map_file(target)), N_COLOURS)
    except Exception as exc:  # noqa: BLE001 - a missing colormap file must not break the view
        log.warning("colormap %s unavailable (%s); using grey", name, exc)
        return grey


def colour_table(name: str, nan_colour: tuple[int, int, int] = DEFAULT_NAN_COLOUR) -> np.ndarray:
    """256 x 3 ``uint8`` table for an index image: data colours, then the NaN colour."""
    table = np.zeros((256, 3), np.uint8)
    colours = _colormap_colours(name)
    table[:N_COLOURS] = colours
    table[N_COLOURS:NAN_INDEX] = colours[-1]
    table[NAN_INDEX] = nan_colour
    return table


def overlay_table(colours: dict[str, tuple[int, int, int]], opacity: float,
                  nan_colour: tuple[int, int, int] = DEFAULT_NAN_COLOUR) -> np.ndarray:
    """256 x 4 ``uint8`` table for the DQ mask: 0 transparent, ``1 + bit`` the flag's colour,
    ``NAN_MARK_INDEX`` the NaN colour (opaque)."""
    table = np.zeros((256, 4), np.uint8)
    alpha = int(round(255 * min(1.0, max(0.0, opacity))))
    for name, bit in DQ_BITS.items():
        r, g, b = colours.get(name, dq_colour(name))
        table[1 + bit] = (r, g, b, alpha)
    table[NAN_MARK_INDEX] = (*nan_colour, 255)
    return table
