"""Typed header values: the keywords the steps need, parsed and checked once, in our own words.

A header value read from a file can be anything FITS allows (a string, a boolean, a complex
number) or something astropy turned into a string because it could not parse it. The functions
here turn the keywords the steps use into numbers, or raise InputError naming the file and the
key (``x_rate.fits: EXPTIME = 'abc' is not a number``). ``read_image`` calls
``check_science_header`` at read time, so a damaged value is reported when the file is opened,
not in the middle of a step; the model's ``exptime`` and ``window`` use the same functions.

Limits:

* EXPTIME, EFFINTTM: finite numbers >= 0 (seconds).
* SUBSTRT1/2, SUBSIZE1/2: integers (an integral float such as 5.0 is accepted) in
  1..``DETECTOR_LIMIT``, and the window must end within it: SUBSTRT + SUBSIZE - 1 <=
  ``DETECTOR_LIMIT``. 65536 pixels is 16x the largest imager detector planned (4096), so anything
  beyond is a damaged value, not a detector.
* WCS keywords (CRPIXi, CRVALi, CDELTi, CDi_j, PCi_j, CROTAi, SIP A_p_q ...): finite numbers;
  SIP orders are integers 0..9.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import InputError
from .lazy import fits

#: the largest detector coordinate (1-based) a window may reach
DETECTOR_LIMIT = 65536
#: SIP polynomial orders accepted
SIP_MAX_ORDER = 9

WINDOW_KEYS = ("SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2")
TIME_KEYS = ("EXPTIME", "EFFINTTM")


def _shown(value: Any) -> str:
    """A header value as the user would recognise it, kept short."""
    if isinstance(value, str):
        text = repr(value.strip())
    elif isinstance(value, bool):
        text = "T" if value else "F"
    else:
        text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def number(header: fits.Header, key: str, name: str, *, minimum: float | None = None) -> float | None:
    """``header[key]`` as a finite float (None when absent); InputError naming ``name`` and key."""
    if key not in header:
        return None
    value = header[key]
    if value is None:  # a card with no value
        raise InputError(f"{name}: {key} has no value; it must be a number")
    if not _is_real(value):
        raise InputError(f"{name}: {key} = {_shown(value)} is not a number")
    try:
        result = float(value)
    except OverflowError:  # an integer too large for a float
        raise InputError(f"{name}: {key} = {_shown(value)} is too large") from None
    if not math.isfinite(result):
        raise InputError(f"{name}: {key} = {_shown(value)} is not a finite number")
    if minimum is not None and result < minimum:
        raise InputError(f"{name}: {key} = {_shown(value)} is negative; it must be >= {minimum:g}")
    return result


def integer(header: fits.Header, key: str, name: str, *, minimum: int, maximum: int) -> int | None:
    """``header[key]`` as an int in minimum..maximum (None when absent)."""
    if key not in header:
        return None
    value = header[key]
    if value is None or not _is_real(value):
        raise InputError(f"{name}: {key} = {_shown(value)} is not an integer")
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != int(value):
            raise InputError(f"{name}: {key} = {_shown(value)} is not an integer")
    result = int(value)
    if not minimum <= result <= maximum:
        raise InputError(f"{name}: {key} = {_shown(value)} is outside {minimum}..{maximum}")
    return result


def exposure_time(header: fits.Header, name: str, key: str = "EXPTIME") -> float | None:
    return number(header, key, name, minimum=0.0)


def window_values(header: fits.Header, name: str) -> dict[str, int]:
    """The SUBSTRT/SUBSIZE keywords present, as checked integers (see the module's limits)."""
    values: dict[str, int] = {}
    for key in WINDOW_KEYS:
        value = integer(header, key, name, minimum=1, maximum=DETECTOR_LIMIT)
        if value is not None:
            values[key] = value
    for axis in (1, 2):
        start, size = values.get(f"SUBSTRT{axis}"), values.get(f"SUBSIZE{axis}")
        if start is not None and size is not None and start + size - 1 > DETECTOR_LIMIT:
            raise InputError(
                f"{name}: SUBSTRT{axis} = {start} with SUBSIZE{axis} = {size} ends at pixel "
                f"{start + size - 1}, beyond the detector limit {DETECTOR_LIMIT}")
    return values


def is_numeric_wcs_keyword(key: str) -> bool:
    """The WCS keywords that must hold numbers (and SIP coefficients)."""
    from .wcs import is_sip_keyword

    key = key.upper()
    if is_sip_keyword(key):
        return True
    for prefix in ("CRPIX", "CRVAL", "CDELT", "CROTA"):
        if key.startswith(prefix) and key[len(prefix):].isdigit():
            return True
    return len(key) == 5 and key[:2] in ("CD", "PC") and key[2].isdigit() and key[3] == "_" \
        and key[4].isdigit()


def wcs_values(header: fits.Header, name: str) -> dict[str, float]:
    """Every numeric WCS keyword of ``header`` as a finite float (SIP orders as integers)."""
    values: dict[str, float] = {}
    for key in list(header.keys()):
        if not key or not is_numeric_wcs_keyword(key) or key in values:
            continue
        if key.endswith("_ORDER"):
            values[key] = integer(header, key, name, minimum=0, maximum=SIP_MAX_ORDER)
        elif key.endswith("_DMAX"):
            values[key] = number(header, key, name, minimum=0.0)
        else:
            values[key] = number(header, key, name)
    return values


def linear_matrix(values: dict[str, float]) -> np.ndarray:
    """The 2x2 pixel -> intermediate world matrix (degrees per pixel) the keywords describe,
    as wcslib reads them: CDELTi times PCi_j when any PC is given (PC wins over CD), else
    CDi_j when any is given (missing ones 0), else CDELTi with the CROTA2 rotation.

    wcslib treats an all-zero CD matrix as absent and silently uses 1 degree per pixel; this
    function does not, so callers can refuse it."""
    cdelt = np.array([values.get("CDELT1", 1.0), values.get("CDELT2", 1.0)])
    if any(f"PC{i}_{j}" in values for i in (1, 2) for j in (1, 2)):
        pc = np.array([[values.get(f"PC{i}_{j}", 1.0 if i == j else 0.0) for j in (1, 2)]
                       for i in (1, 2)])
        return cdelt[:, np.newaxis] * pc
    if any(f"CD{i}_{j}" in values for i in (1, 2) for j in (1, 2)):
        return np.array([[values.get(f"CD{i}_{j}", 0.0) for j in (1, 2)] for i in (1, 2)])
    theta = math.radians(values.get("CROTA2", 0.0))
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[cdelt[0] * c, -cdelt[1] * s], [cdelt[0] * s, cdelt[1] * c]])


def degenerate_reason(header: fits.Header, where: str = "header") -> str | None:
    """Why the linear part of the header's WCS (CD, or CDELT x PC, or CDELT with CROTA2) cannot
    map pixels to the sky, or None when it can. wcslib itself would silently read an all-zero CD
    matrix as 1 degree per pixel; this says so instead."""
    values = wcs_values(header, where)
    cd = [f"CD{i}_{j}" for i in (1, 2) for j in (1, 2)]
    has_pc = any(k.startswith("PC") for k in values)
    if not has_pc and any(k in values for k in cd) and all(values.get(k, 0.0) == 0 for k in cd):
        return "the CD matrix is all zero"
    for key in ("CDELT1", "CDELT2"):
        if (has_pc or not any(k in values for k in cd)) and values.get(key) == 0:
            return f"{key} is 0"
    matrix = linear_matrix(values)
    det = float(np.linalg.det(matrix))
    size = float(np.max(np.abs(matrix)))
    if not math.isfinite(det) or size == 0 or abs(det) <= 1e-12 * size * size:
        form = "PC matrix" if has_pc else "CD matrix" if any(k in values for k in cd) else \
            "CDELT/CROTA2 matrix"
        return f"the {form} is singular (determinant {det:.3g})"
    return None


def check_science_header(header: fits.Header, sci_header: fits.Header, name: str, *,
                         wcs: bool = True) -> None:
    """Everything a step will read from these headers, checked now (InputError if damaged);
    ``wcs``: also the WCS keywords assign_wcs will use (science exposures only)."""
    from .wcs import wcs_source

    for key in TIME_KEYS:
        exposure_time(header, name, key)
    window_values(header, name)
    if wcs:
        source, _ = wcs_source(header, sci_header)
        wcs_values(source, name)
