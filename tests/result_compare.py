"""Comparing two runs' results bit for bit (the pool's against the window's own process)."""

from __future__ import annotations

import re

ARRAYS = ("data", "err", "dq", "subarr_map", "area")


def models_of(result):
    """(label, model) of every model of a result, in a fixed order."""
    found = [("input", result.input_model)]
    for name, step in result.steps.items():
        found.append((name, step.model))
        found += [(f"{name}.{key}", model) for key, model in sorted(step.products.items())]
    return found


def assert_same_result(got, expected):
    """Every array bit for bit, every header card, every step's status and reason."""
    assert got.ok and expected.ok
    assert list(got.steps) == list(expected.steps)
    for name in expected.steps:
        assert got.steps[name].status == expected.steps[name].status
        assert got.steps[name].reason == expected.steps[name].reason
    for (label, a), (_, b) in zip(models_of(got), models_of(expected), strict=True):
        for attribute in ARRAYS:
            x, y = getattr(a, attribute), getattr(b, attribute)
            assert (x is None) == (y is None), (label, attribute)
            if x is not None:
                assert x.dtype == y.dtype and x.shape == y.shape, (label, attribute)
                assert x.tobytes() == y.tobytes(), (label, attribute)
        assert sorted(a.extra_arrays) == sorted(b.extra_arrays)
        for key in b.extra_arrays:
            assert a.extra_arrays[key].tobytes() == b.extra_arrays[key].tobytes(), (label, key)
        assert a.header.tostring() == b.header.tostring(), label
        assert a.sci_header.tostring() == b.sci_header.tostring(), label
        assert (a.wcs is None) == (b.wcs is None)
        if b.wcs is not None:
            assert a.wcs.to_header_string() == b.wcs.to_header_string(), label
            assert a.wcs.wcs.has_cd() == b.wcs.wcs.has_cd(), label
            assert a.wcs.pixel_scale_matrix.tobytes() == b.wcs.pixel_scale_matrix.tobytes(), label


#: creation times written in outputs (DATE, the provenance's "created", the ASDF tree's date)
_TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def file_bytes_without_times(path) -> bytes:
    """A written file's bytes with every ISO time replaced by the same one (they are the same
    length, so nothing else moves)."""
    with open(path, "rb") as handle:
        return _TIMESTAMP.sub(b"2000-01-01T00:00:00", handle.read())
