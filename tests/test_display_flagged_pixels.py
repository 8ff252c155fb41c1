"""The flagged-pixel navigator's list (display.flagged_pixels) and the magnifier's and panner's
pictures (display.magnifier), on small arrays whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from iris_gui.display import flagged_pixels as fp
from iris_gui.display import magnifier as mg
from iris_gui.display.regions import Region
from iris_gui.engine.dq import DQ_FLAGS

DNU, HOT, NOFLAT, SAT = (DQ_FLAGS[n] for n in ("DO_NOT_USE", "HOT", "NO_FLAT_FIELD",
                                               "SATURATED"))


@pytest.fixture()
def before_after():
    before = np.zeros((6, 8), np.uint32)
    before[1, 2] = DNU                  # (x 2, y 1)
    before[4, 1] = HOT                  # (x 1, y 4)
    after = before.copy()
    after[1, 2] |= NOFLAT               # new bit on an old flag
    after[3, 6] = NOFLAT | SAT          # (x 6, y 3): new
    after[4, 7] = HOT                   # (x 7, y 4): new
    return before, after


def test_listed_in_storage_order_with_counts_per_flag(before_after):
    _, after = before_after
    found = fp.flagged_pixels(after)
    assert list(zip(found.x.tolist(), found.y.tolist(), strict=True)) == \
        [(2, 1), (6, 3), (1, 4), (7, 4)]
    assert found.dq.tolist() == [DNU | NOFLAT, NOFLAT | SAT, HOT, HOT]
    assert found.counts == {"DO_NOT_USE": 1, "SATURATED": 1, "HOT": 2, "NO_FLAT_FIELD": 2}
    assert found.scope_pixels == 48
    assert found.flags_at(0) == ["DO_NOT_USE", "NO_FLAT_FIELD"]
    # chosen flags: any of them; the counts stay those of every flag
    hot = fp.flagged_pixels(after, ("HOT",))
    assert list(zip(hot.x.tolist(), hot.y.tolist(), strict=True)) == [(1, 4), (7, 4)]
    assert hot.counts == found.counts
    either = fp.flagged_pixels(after, ("SATURATED", "DO_NOT_USE"))
    assert either.x.tolist() == [2, 6]


def test_newly_flagged_lists_only_the_new_bits(before_after):
    before, after = before_after
    found = fp.flagged_pixels(after, before=before)
    assert list(zip(found.x.tolist(), found.y.tolist(), strict=True)) == \
        [(2, 1), (6, 3), (7, 4)]
    assert found.dq.tolist() == [NOFLAT, NOFLAT | SAT, HOT]     # DO_NOT_USE was there before
    assert found.counts == {"SATURATED": 1, "HOT": 1, "NO_FLAT_FIELD": 2}
    assert fp.flagged_pixels(after, ("DO_NOT_USE",), before=before).x.size == 0


def test_scopes_the_area_shown_and_the_regions(before_after):
    _, after = before_after
    # pixel centres inside x -0.5..3.2, y 0.5..4.5: columns 0-3, rows 1-4
    shown = fp.flagged_pixels(after, scope="shown", shown=(3.2, -0.5, 0.5, 4.5))
    assert list(zip(shown.x.tolist(), shown.y.tolist(), strict=True)) == [(2, 1), (1, 4)]
    assert shown.scope_pixels == 16
    # a box holding (6, 3) and a circle holding (1, 4) only
    regions = (Region("rect", 5.5, 2.5, 2.0, 1.0), Region("circle", 1.0, 4.0, 0.5))
    inside = fp.flagged_pixels(after, scope="regions", regions=regions)
    assert list(zip(inside.x.tolist(), inside.y.tolist(), strict=True)) == [(6, 3), (1, 4)]
    assert inside.scope_pixels == 2 + 1            # the box: x 6, 7 at y 3; the circle: (1, 4)
    assert len(fp.flagged_pixels(after, scope="regions")) == 0
    with pytest.raises(ValueError, match="scope 'nowhere'"):
        fp.flagged_pixels(after, scope="nowhere")


def test_next_and_previous_go_on_from_a_pixel_and_wrap(before_after):
    found = fp.flagged_pixels(before_after[1])        # (2,1) (6,3) (1,4) (7,4)
    assert found.next_after(None, 1) == 0 and found.next_after(None, -1) == 3
    assert found.next_after((2, 1), 1) == 1            # from a listed pixel: the next
    assert found.next_after((0, 4), 1) == 2            # from between: the next in order
    assert found.next_after((0, 4), -1) == 1
    assert found.next_after((7, 4), 1) == 0            # past the last: the first
    assert found.next_after((2, 1), -1) == 3


def test_centred_range_keeps_the_size_but_shows_the_pixel():
    assert fp.centred_range((20, 10), (0, 40, 0, 30), (48, 64)) == (0.0, 40.0, -5.0, 25.0)
    # the whole frame (64 x 48) is narrower than 101: kept
    assert fp.centred_range((20, 10), None, (48, 64)) == (-12.0, 52.0, -14.0, 34.0)
    # a 4096 x 2048 view gets 101 x 50.5
    assert fp.centred_range((100, 100), (0, 4096, 0, 2048), (4096, 4096)) == \
        (49.5, 150.5, 74.75, 125.25)


def test_the_magnified_picture_is_the_cut_out_in_blocks():
    index = np.arange(48, dtype=np.uint8).reshape(6, 8)
    lut = np.stack([np.arange(256)] * 3, axis=1).astype(np.uint8)
    lut[:, 1] = 255 - lut[:, 1]
    rgb = mg.magnified(index, lut, (1, 4), 4, (20, 12))
    assert rgb.shape == (12, 20, 3)
    ox, oy = mg.magnified_origin(4, (20, 12))            # (8, 4)
    # block (u, v) holds pixel x = 1 + floor((u - ox) / 4), y = 4 - floor((v - oy) / 4)
    for u in range(20):
        for v in range(12):
            x, y = 1 + (u - ox) // 4, 4 - (v - oy) // 4
            inside = 0 <= x < 8 and 0 <= y < 6
            expected = lut[index[y, x]] if inside else mg.BACKGROUND
            assert tuple(rgb[v, u]) == tuple(expected), (u, v)


def test_the_overlay_is_blended_at_its_alpha():
    index = np.full((3, 3), 100, np.uint8)
    lut = np.zeros((256, 3), np.uint8)
    lut[100] = (100, 100, 100)
    mask = np.zeros((3, 3), np.uint8)
    mask[1, 1] = 5
    overlay = np.zeros((256, 4), np.uint8)
    overlay[5] = (255, 0, 0, 51)          # 20 %
    rgb = mg.magnified(index, lut, (1, 1), 2, (6, 6), mask, overlay)
    ox, oy = mg.magnified_origin(2, (6, 6))
    assert tuple(rgb[oy, ox]) == (131, 80, 80)    # 100 * 0.8 + 255 * 0.2 = 131
    assert tuple(rgb[0, 0]) == (100, 100, 100)


def test_the_thumbnail_samples_and_keeps_a_lone_flag():
    from iris_gui.display.dq_flags import mask_pyramid

    index = np.arange(256 * 4, dtype=np.uint16).reshape(32, 32).astype(np.uint8)
    lut = np.stack([np.arange(256)] * 3, axis=1).astype(np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[5, 9] = 7
    overlay = np.zeros((256, 4), np.uint8)
    overlay[7] = (255, 0, 0, 255)
    rgb, step = mg.thumbnail(index, lut, 10, mask_pyramid(mask, smallest=4), overlay)
    assert step == 4 and rgb.shape == (8, 8, 3)
    # row 0 is the top (y 28); pixel (x 0, y 28) sampled
    assert tuple(rgb[0, 0]) == (index[28, 0],) * 3
    # the flagged pixel (9, 5) falls in block (2, 1): row 7 - 1 = 6 from the top
    assert tuple(rgb[6, 2]) == (255, 0, 0)
    assert mg.thumbnail_step((4096, 4096), 256) == 16 and mg.thumbnail_step((3000, 10), 256) == 16
