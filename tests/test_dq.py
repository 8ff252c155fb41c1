"""The DQ flag table: decoding, encoding and counting with hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from iris_gui.engine import dq
from iris_gui.engine.errors import InputError


@pytest.mark.parametrize(
    ("value", "names"),
    [
        (0, []),
        (1, ["DO_NOT_USE"]),
        (2**18 + 1, ["DO_NOT_USE", "NO_FLAT_FIELD"]),
        (2**31, ["REFERENCE_PIXEL"]),
        (2**31 + 2**11 + 2, ["SATURATED", "HOT", "REFERENCE_PIXEL"]),
        (16, ["OUTLIER"]),
        (2**16, ["NONLINEAR"]),
        (2**30 + 2**25, ["UNRELIABLE_FLAT", "OTHER_BAD_PIXEL"]),
    ],
)
def test_decode_hand_values(value, names):
    assert dq.decode(value) == names


@pytest.mark.parametrize(
    ("value", "names"),
    [
        (0, []),
        (2**18 + 1, ["DO_NOT_USE", "NO_FLAT_FIELD"]),
        (2**31, ["REFERENCE_PIXEL"]),
        (2**31 + 2**11 + 2, ["SATURATED", "HOT", "REFERENCE_PIXEL"]),
    ],
)
def test_encode_decode_round_trip(value, names):
    assert dq.encode(names) == value
    assert dq.decode(dq.encode(names)) == names
    assert dq.encode(dq.decode(value)) == value


def test_decode_accepts_numpy_uint32():
    assert dq.decode(np.uint32(2**31 + 1)) == ["DO_NOT_USE", "REFERENCE_PIXEL"]


def test_decode_every_bit_once():
    all_bits = (1 << 32) - 1
    assert dq.decode(all_bits) == list(dq.DQ_BITS)
    assert len(dq.decode(all_bits)) == 32


def test_decode_rejects_out_of_range():
    with pytest.raises(ValueError):
        dq.decode(-1)
    with pytest.raises(ValueError):
        dq.decode(2**32)


def test_table_matches_design_bits():
    expected = {
        "DO_NOT_USE": 0, "SATURATED": 1, "JUMP_DET": 2, "OUTLIER": 4, "PERSISTENCE": 5,
        "UNRELIABLE_ERROR": 8, "NON_SCIENCE": 9, "DEAD": 10, "HOT": 11, "WARM": 12, "LOW_QE": 13,
        "TELEGRAPH": 15, "NONLINEAR": 16, "BAD_REF_PIXEL": 17, "NO_FLAT_FIELD": 18,
        "UNRELIABLE_BIAS": 22, "UNRELIABLE_DARK": 23, "UNRELIABLE_SLOPE": 24, "UNRELIABLE_FLAT": 25,
        "OTHER_BAD_PIXEL": 30, "REFERENCE_PIXEL": 31,
    }
    for name, bit in expected.items():
        assert dq.DQ_BITS[name] == bit
        assert dq.DQ_FLAGS[name] == 2**bit
    assert dq.NO_FLAT_FIELD == 262144
    assert dq.DO_NOT_USE == 1
    assert dq.SUBARRAY_MAP_FLAG == 16


def test_encode_plus_and_comma_strings():
    assert dq.encode("DO_NOT_USE+HOT") == 1 + 2048
    assert dq.encode("do_not_use, hot") == 2049
    assert dq.encode(" NO_FLAT_FIELD + DO_NOT_USE ") == 2**18 + 1
    assert dq.encode("") == 0
    assert dq.encode("REFERENCE_PIXEL") == 2**31


def test_encode_lists():
    assert dq.encode(["DO_NOT_USE", "HOT"]) == 2049
    assert dq.encode(("dead", "Warm")) == 2**10 + 2**12
    assert dq.encode([]) == 0
    # repeating a flag does not add it twice
    assert dq.encode(["HOT", "HOT"]) == 2048


def test_encode_unknown_name_raises_naming_it():
    with pytest.raises(InputError, match="NOT_A_FLAG"):
        dq.encode("DO_NOT_USE+NOT_A_FLAG")
    with pytest.raises(InputError, match="'BOGUS'"):
        dq.encode(["HOT", "BOGUS"])


def test_flag_counts_hand_array():
    arr = np.array(
        [
            [0, 1, 1 + 2048],
            [2**18 + 1, 2**31, 0],
        ],
        dtype=np.uint32,
    )
    assert dq.flag_counts(arr) == {
        "DO_NOT_USE": 3,
        "HOT": 1,
        "NO_FLAT_FIELD": 1,
        "REFERENCE_PIXEL": 1,
    }


def test_flag_counts_empty_and_clean():
    assert dq.flag_counts(np.zeros((3, 3), np.uint32)) == {}
    assert dq.flag_counts(np.zeros((0,), np.uint32)) == {}


def test_flag_counts_3d_and_other_int_types():
    cube = np.zeros((2, 2, 2), np.uint32)
    cube[0, 0, 0] = 2**31 + 16
    cube[1, 1, 1] = 16
    assert dq.flag_counts(cube) == {"OUTLIER": 2, "REFERENCE_PIXEL": 1}
    small = np.array([2, 2, 4], dtype=np.uint16)
    assert dq.flag_counts(small) == {"SATURATED": 2, "JUMP_DET": 1}
