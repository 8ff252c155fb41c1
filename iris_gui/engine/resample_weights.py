"""resample's pixel weights: the exptime weight read from the header (which keyword wins is
stated in ``steps/resample.py``'s docstring, after jwst's resample) and each plane's weight and
variance maps."""

from __future__ import annotations

import math

import numpy as np

from .blocks import run_image_blocks
from .models import ImageModel

#: the keywords giving an exposure's exptime weight, first found first (see the docstring)
EXPOSURE_TIME_KEYS = ("TMEASURE", "EFFEXPTM", "XPOSURE", "EXPTIME")


def _positive_time(model: ImageModel, key: str, notes: list[str]) -> float | None:
    """``key`` from PRIMARY, else SCI, when it is a positive number; a value that is not is
    noted and passed over."""
    for header in (model.header, model.sci_header):
        if key not in header:
            continue
        value = header[key]
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number) or number <= 0:
            notes.append(f"{key} = {value!r} is not a positive time; not used as the exptime "
                         f"weight")
            return None
        return number
    return None


def exptime_weight(model: ImageModel, notes: list[str]) -> tuple[float, str]:
    """(seconds, where from): the exptime weight of one integration of ``model``."""
    if model.nints > 1:
        value = _positive_time(model, "EFFINTTM", notes)
        if value is not None:
            return value, "EFFINTTM"
    for key in EXPOSURE_TIME_KEYS:
        value = _positive_time(model, key, notes)
        if value is not None:
            if model.nints > 1:
                return value / model.nints, f"{key} / {model.nints} integrations"
            return value, key
    if model.nints == 1:
        value = _positive_time(model, "EFFINTTM", notes)
        if value is not None:
            return value, "EFFINTTM"
    return 1.0, "no exposure time in the header: 1"


def fill_weights(data: np.ndarray, err: np.ndarray, dq: np.ndarray, bad_bits: np.uint32,
                  weight_type: str, exptime: float, weight: np.ndarray, variance: np.ndarray,
                  cancel) -> None:
    """Fill ``weight`` and ``variance`` (ERR**2) for one plane, in place and in row blocks;
    excluded pixels (a bad DQ bit, non-finite SCI or ERR, ivm with ERR 0) get 0 in both."""

    def prepare(index: tuple, rows: slice) -> None:
        e = err[rows]
        good = ((dq[rows] & bad_bits) == 0) & np.isfinite(data[rows]) & np.isfinite(e)
        np.multiply(e, e, out=variance[rows])
        if weight_type == "ivm":
            good &= variance[rows] > 0
            with np.errstate(divide="ignore", over="ignore"):
                np.divide(np.float32(1.0), variance[rows], out=weight[rows])
            weight[rows][~good] = 0.0
        else:
            np.multiply(good, np.float32(exptime), out=weight[rows])
        variance[rows][~good] = 0.0

    run_image_blocks(data.shape, prepare, cancel=cancel)
