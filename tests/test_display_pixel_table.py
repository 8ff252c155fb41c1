"""The pixel table's cells (display/pixel_table.py) on a small frame whose value at (x, y) is
10 y + x: orientation, edges, a Difference worked out on the cut-out, DQ decoded, the text."""

from __future__ import annotations

import time

import numpy as np
import pytest
from factories import make_model

from iris_gui.display import pixel_table as pt
from iris_gui.display import view_sources as vs
from iris_gui.engine.dq import DQ_FLAGS

NY, NX = 6, 7
DNU, HOT, NOFLAT = DQ_FLAGS["DO_NOT_USE"], DQ_FLAGS["HOT"], DQ_FLAGS["NO_FLAT_FIELD"]


def sources():
    yy, xx = np.mgrid[0:NY, 0:NX]
    data = (10.0 * yy + xx).astype(np.float32)
    dq = np.zeros((NY, NX), np.uint32)
    dq[2, 3] = HOT | DNU            # (x, y) = (3, 2)
    before = make_model(data, np.ones_like(data), dq)
    after_dq = dq.copy()
    after_dq[3, 4] = NOFLAT         # (4, 3)
    after = before.derive(data=data * np.float32(2.0), dq=after_dq)
    return (vs.ViewSource(vs.BEFORE, "data", before, "before"),
            vs.ViewSource(vs.DIFFERENCE, "difference", after, "difference", before),
            vs.ViewSource(vs.DQ_AFTER, "dq", after, "dq"))


def test_cells_are_the_patch_of_image_with_y_up():
    before, _, _ = sources()
    block = pt.pixel_block(before, 0, 3, 2, 3)
    # top row is y = 3, bottom row y = 1; columns x = 2, 3, 4
    np.testing.assert_array_equal(block.values, [[32, 33, 34], [22, 23, 24], [12, 13, 14]])
    assert (block.x0, block.y_top, block.pixel(0, 0), block.pixel(2, 2)) == (2, 3, (2, 3), (4, 1))
    assert block.flagged.tolist() == [[False] * 3, [False, True, False], [False] * 3]
    assert pt.flag_names(block, 1, 1) == ["DO_NOT_USE", "HOT"]


def test_cells_outside_the_frame_are_empty():
    before, _, _ = sources()
    block = pt.pixel_block(before, 0, 0, 5, 5)          # the top-left corner pixel
    assert block.inside.tolist() == [[False] * 5, [False] * 5,
                                     [False, False, True, True, True],
                                     [False, False, True, True, True],
                                     [False, False, True, True, True]]
    np.testing.assert_array_equal(block.values[2:, 2:], [[50, 51, 52], [40, 41, 42], [30, 31, 32]])
    assert np.isnan(block.values[0, 0]) and pt.cell_value_text(block, 0, 0) == ""
    assert pt.cell_description(block, 0, 0) == "x = -2, y = 7: outside the frame"
    far = pt.pixel_block(before, 0, 100, 100, 3)
    assert not far.inside.any()
    corner = pt.pixel_block(before, 0, NX - 1, 0, 3)    # bottom-right: x = 5..7, y = 1..-1
    np.testing.assert_array_equal(corner.inside, [[True, True, False], [True, True, False],
                                                  [False, False, False]])
    np.testing.assert_array_equal(corner.values[:2, :2], [[15, 16], [5, 6]])


def test_a_difference_and_a_dq_view():
    _, difference, dq = sources()
    block = pt.pixel_block(difference, 0, 4, 3, 3)      # after - before = 10 y + x
    np.testing.assert_array_equal(block.values, [[43, 44, 45], [33, 34, 35], [23, 24, 25]])
    assert block.flagged.tolist() == [[False] * 3, [False, True, False], [True, False, False]]
    assert pt.cell_description(block, 1, 1) == (
        f"x = 4, y = 3: {vs.DIFFERENCE} 34; DQ {NOFLAT} = NO_FLAT_FIELD")
    assert pt.cell_description(block, 2, 0, one_based=True) == (
        f"x = 4, y = 3: {vs.DIFFERENCE} 23; DQ {HOT | DNU} = DO_NOT_USE+HOT")
    shown = pt.pixel_block(dq, 0, 4, 3, 3)
    assert pt.cell_value_text(shown, 1, 1) == str(NOFLAT)
    assert pt.cell_value_text(shown, 0, 0) == "0"


def test_sizes_are_odd_three_to_eleven():
    before, _, _ = sources()
    assert pt.TABLE_SIZES == (3, 5, 7, 9, 11)
    for bad in (1, 4, 13):
        with pytest.raises(ValueError, match="pixel table size"):
            pt.pixel_block(before, 0, 3, 3, bad)


def test_the_copied_text():
    before, _, _ = sources()
    text = pt.block_text([pt.pixel_block(before, 0, 3, 2, 3)], one_based=True)
    assert text.splitlines() == [
        f"{vs.BEFORE} — 3x3 around x = 4, y = 3 (1-based; * = DQ flagged)",
        " y \\ x        3        4        5",
        "     4       32       33       34",
        "     3       22      23*       24",
        "     2       12       13       14",
        f"  (4, 3): DQ {HOT | DNU} = DO_NOT_USE+HOT",
    ]


def test_a_block_of_a_4096_difference_costs_the_block_not_the_frame():
    data = np.zeros((4096, 4096), np.float32)
    model = make_model(data[:1, :1])
    model.data, model.err, model.dq = data, data, np.zeros((4096, 4096), np.uint32)
    after = model.derive(data=data + np.float32(1))
    source = vs.ViewSource(vs.DIFFERENCE, "difference", after, "difference", model)
    started = time.perf_counter()
    for k in range(200):
        pt.pixel_block(source, 0, 100 + k, 2000, 11)
    per_block = (time.perf_counter() - started) / 200
    assert per_block < 2e-3, per_block     # a whole-frame difference alone takes ~30 ms
