"""The derived frames: Difference (after − before), its ERR, and Ratio (after / before).

One function per frame, used for the whole frame and for the single pixel under the cursor, so
the readout and the image cannot disagree. Inputs are arrays of the same shape (a 2-D frame or a
1 x 1 slice); results are float32, as the data.
"""

from __future__ import annotations

import numpy as np

__all__ = ["difference", "difference_err", "ratio"]


def difference(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    """``after - before`` in float32 (NaN where either is NaN)."""
    return np.subtract(after, before, dtype=np.float32)


def difference_err(err_after: np.ndarray, err_before: np.ndarray) -> np.ndarray:
    """ERR of the difference of two independent frames: ``sqrt(err_after² + err_before²)``
    (worked out in float64, without overflow), NaN where either ERR is NaN — also next to an
    infinite ERR, where ``hypot`` alone would give inf."""
    a = np.asarray(err_after, dtype=np.float64)
    b = np.asarray(err_before, dtype=np.float64)
    out = np.hypot(a, b).astype(np.float32)
    np.copyto(out, np.float32(np.nan), where=np.isnan(a) | np.isnan(b))
    return out


def ratio(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    """``after / before`` in float32; NaN where ``before`` is 0 (0/0 included: a division by
    zero is no ratio, not ±inf) or either is NaN. Signs follow the operands (x / -y = -(x / y))."""
    numerator = np.asarray(after)
    denominator = np.asarray(before)
    out = np.full(np.broadcast_shapes(numerator.shape, denominator.shape), np.nan, np.float32)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        np.divide(numerator, denominator, out=out, where=denominator != 0, casting="unsafe")
    return out
