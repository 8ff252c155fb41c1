"""The data-quality bitmask: one table of flag names and bits for the engine, decoder and GUI.

Bits follow the JWST table. DQ arrays are uint32 throughout the engine.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .errors import InputError

#: flag name -> bit number, in bit order. The single source of DQ meanings.
DQ_BITS: dict[str, int] = {
    "DO_NOT_USE": 0,
    "SATURATED": 1,
    "JUMP_DET": 2,
    "DROPOUT": 3,
    "OUTLIER": 4,
    "PERSISTENCE": 5,
    "AD_FLOOR": 6,
    "CHARGELOSS": 7,
    "UNRELIABLE_ERROR": 8,
    "NON_SCIENCE": 9,
    "DEAD": 10,
    "HOT": 11,
    "WARM": 12,
    "LOW_QE": 13,
    "RC": 14,
    "TELEGRAPH": 15,
    "NONLINEAR": 16,
    "BAD_REF_PIXEL": 17,
    "NO_FLAT_FIELD": 18,
    "NO_GAIN_VALUE": 19,
    "NO_LIN_CORR": 20,
    "NO_SAT_CHECK": 21,
    "UNRELIABLE_BIAS": 22,
    "UNRELIABLE_DARK": 23,
    "UNRELIABLE_SLOPE": 24,
    "UNRELIABLE_FLAT": 25,
    "OPEN": 26,
    "ADJ_OPEN": 27,
    "FLUX_ESTIMATED": 28,
    "MSA_FAILED_OPEN": 29,
    "OTHER_BAD_PIXEL": 30,
    "REFERENCE_PIXEL": 31,
}

#: flag name -> mask value
DQ_FLAGS: dict[str, int] = {name: 1 << bit for name, bit in DQ_BITS.items()}

DO_NOT_USE = DQ_FLAGS["DO_NOT_USE"]
NO_FLAT_FIELD = DQ_FLAGS["NO_FLAT_FIELD"]
#: parse_subarray_map raises bit 4 (value 16) where the SUBARR_MAP is non-zero.
SUBARRAY_MAP_FLAG = 1 << 4

DQ_DTYPE = np.uint32


def decode(value: int) -> list[str]:
    """Names of the flags set in ``value``, in bit order (``decode(2**18 + 1)`` ->
    ``['DO_NOT_USE', 'NO_FLAT_FIELD']``)."""
    value = int(value)
    if value < 0 or value >= 1 << 32:
        raise ValueError(f"DQ value {value} is not a 32-bit unsigned mask")
    return [name for name, bit in DQ_BITS.items() if value >> bit & 1]


def encode(names: Iterable[str] | str) -> int:
    """Mask for flag names: a list, or a comma/plus-separated string (``"DO_NOT_USE+HOT"``)."""
    if isinstance(names, str):
        names = [part for part in names.replace("+", ",").split(",")]
    mask = 0
    for raw in names:
        name = raw.strip().upper()
        if not name:
            continue
        if name not in DQ_FLAGS:
            raise InputError(f"unknown DQ flag name {raw!r}; known flags: {', '.join(DQ_FLAGS)}")
        mask |= DQ_FLAGS[name]
    return mask


def flag_counts(dq: np.ndarray) -> dict[str, int]:
    """Pixels carrying each flag present in ``dq`` (flags with zero pixels are left out)."""
    dq = np.asarray(dq, dtype=DQ_DTYPE)
    counts: dict[str, int] = {}
    # One pass over the set bits: OR-reduce first so absent flags cost nothing.
    present = int(np.bitwise_or.reduce(dq, axis=None)) if dq.size else 0
    for name, bit in DQ_BITS.items():
        if present >> bit & 1:
            counts[name] = int(np.count_nonzero(dq & np.uint32(1 << bit)))
    return counts
