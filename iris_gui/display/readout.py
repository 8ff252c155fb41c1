"""The cursor readout: pixel under the cursor, sky position, and each pane's value / ERR / DQ.

Pixel conventions (as the engine's WCS): array index ``[y, x]``; view coordinates are 0-based
pixel coordinates with the *centre* of ``data[0, 0]`` at (0, 0), so pixel ``(x, y)`` covers
``[x - 0.5, x + 0.5) x [y - 0.5, y + 0.5)`` and astropy's ``all_pix2world(x, y, 0)`` applies as is.
Readouts say whether they print 0-based (numpy, astropy ``origin=0``) or 1-based (FITS, DS9)
indices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..engine.dq import decode

__all__ = [
    "format_value", "pixel_at", "pixel_label", "sexagesimal", "sky_position", "format_sky",
    "format_dq", "PaneValue", "format_readout",
]


def format_value(value: float) -> str:
    if value is None:
        return "—"
    value = float(value)
    if math.isnan(value):
        return "NaN"
    return f"{value:.6g}"


def pixel_at(x: float, y: float) -> tuple[int, int]:
    """0-based pixel under view coordinates (x, y) (pixel centres at integers)."""
    return int(math.floor(x + 0.5)), int(math.floor(y + 0.5))


def pixel_label(ix: int, iy: int, one_based: bool) -> str:
    base = 1 if one_based else 0
    return f"x = {ix + base}, y = {iy + base} ({'1-based, FITS' if one_based else '0-based'})"


def sexagesimal(value_deg: float, hours: bool, decimals: int) -> str:
    """``hh:mm:ss.sss`` (RA, ``hours``) or ``±dd:mm:ss.ss`` with carries rounded correctly."""
    value = float(value_deg)
    if hours:
        value = (value % 360.0) / 15.0
    sign = "-" if value < 0 else ("+" if not hours else "")
    scale = 10 ** decimals
    total = round(abs(value) * 3600.0 * scale)  # in units of 10**-decimals seconds
    if hours:
        total %= 24 * 3600 * scale
    whole_seconds, fraction = divmod(total, scale)
    degrees, rest = divmod(whole_seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{degrees:02d}:{minutes:02d}:{seconds:02d}"
    if decimals:
        text += f".{fraction:0{decimals}d}"
    return text


def sky_position(wcs, ix: float, iy: float) -> tuple[float, float] | None:
    """(RA, Dec) in degrees at 0-based pixel (ix, iy) from an astropy WCS (``origin=0``)."""
    if wcs is None:
        return None
    try:
        world = wcs.all_pix2world(np.array([[float(ix), float(iy)]]), 0)
    except Exception:  # noqa: BLE001 - a failing transform only means no sky position
        return None
    ra, dec = float(world[0][0]), float(world[0][1])
    if not (math.isfinite(ra) and math.isfinite(dec)):
        return None
    return ra, dec


def format_sky(ra: float, dec: float) -> str:
    return (f"RA {sexagesimal(ra, True, 3)}  Dec {sexagesimal(dec, False, 2)}   "
            f"({ra:.6f}°, {dec:+.6f}°)")


def format_dq(value: int) -> str:
    value = int(value)
    if value == 0:
        return "DQ 0"
    return f"DQ {value} = {'+'.join(decode(value))}"


@dataclass
class PaneValue:
    name: str
    value: float | None
    err: float | None = None
    dq: int | None = None


def format_readout(ix: int, iy: int, one_based: bool, panes: Sequence[PaneValue],
                   sky: tuple[float, float] | None) -> str:
    """Multi-line readout: position (and sky), then one line per shown pane."""
    head = pixel_label(ix, iy, one_based)
    if sky is not None:
        head += "    " + format_sky(*sky)
    lines = [head]
    width = max((len(p.name) for p in panes), default=0)
    for pane in panes:
        if pane.value is None:
            lines.append(f"{pane.name:<{width}}  (outside)")
            continue
        text = f"{pane.name:<{width}}  {format_value(pane.value):>12}"
        if pane.err is not None:
            text += f"   ERR {format_value(pane.err):>10}"
        if pane.dq is not None:
            text += f"   {format_dq(pane.dq)}"
        lines.append(text)
    return "\n".join(lines)
