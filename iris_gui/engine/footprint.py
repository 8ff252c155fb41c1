"""``S_REGION``: the sky footprint of an image, written as JWST writes it.

The polygon is the array's outer corners (pixel edges: 0-based -0.5 and n - 0.5, i.e. astropy's
``calc_footprint(center=False)``), through the full WCS (SIP included), clockwise from the
bottom-left corner as gwcs orders them: (x0, y0), (x0, y1), (x1, y1), (x1, y0). The text is
``POLYGON ICRS  ra1 dec1 ra2 dec2 ra3 dec3 ra4 dec4`` with two spaces after the frame and nine
decimals, degrees, RA in [0, 360) — what jwst's ``update_s_region_keyword`` writes and its
image3 steps (and ``stcs`` parsers) read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from astropy.wcs import WCS


def corner_pixels(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """0-based (x, y) of the array's outer corners, clockwise from the bottom left."""
    ny, nx = (int(n) for n in shape[-2:])
    x0, x1, y0, y1 = -0.5, nx - 0.5, -0.5, ny - 0.5
    return np.array([x0, x0, x1, x1]), np.array([y0, y1, y1, y0])


def footprint_radec(wcs: WCS, shape: tuple[int, int]) -> np.ndarray:
    """(4, 2) RA, Dec in degrees of the array's corners (RA in [0, 360))."""
    x, y = corner_pixels(shape)
    ra, dec = wcs.all_pix2world(x, y, 0)
    return np.column_stack([np.mod(ra, 360.0), dec])


def s_region(wcs: WCS, shape: tuple[int, int]) -> str:
    """The ``S_REGION`` text of an array of ``shape`` (ny, nx) whose WCS is ``wcs``."""
    frame = str(wcs.wcs.radesys or "ICRS").strip().upper() or "ICRS"
    corners = footprint_radec(wcs, shape)
    return f"POLYGON {frame}  " + " ".join(f"{value:.9f}" for value in corners.ravel())
