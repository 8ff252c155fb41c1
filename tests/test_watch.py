"""The folder watcher: complete files only, each reported once; FITS extents; background rules."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from astropy.io import fits

from iris_gui.engine.errors import InputError
from iris_gui.engine.watch import BLOCK, FAILED, READY, FolderWatcher, fits_extent
from iris_gui.engine.watch_backgrounds import BackgroundRule, SkyFrame, says_sky


def fits_bytes(shape=(8, 8), **keywords) -> bytes:
    primary = fits.PrimaryHDU()
    for key, value in keywords.items():
        primary.header[key] = value
    hdul = fits.HDUList([primary, fits.ImageHDU(np.ones(shape, np.float32), name="SCI"),
                         fits.ImageHDU(np.zeros(shape, np.float32), name="ERR")])
    buffer = io.BytesIO()
    hdul.writeto(buffer)
    return buffer.getvalue()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def watcher_for(folder, clock, **kw) -> FolderWatcher:
    # the wall clock says every file is brand new: no backlog shortcut
    return FolderWatcher(folder, poll_seconds=0.5, clock=clock,
                         wall_clock=lambda: 0.0, **kw)


# ---- fits_extent ------------------------------------------------------------------------------

def test_extent_of_a_whole_file_and_of_every_cut(tmp_path):
    data = fits_bytes()
    # 3 HDUs: primary header (1 block), SCI header + 256 data bytes padded (2 blocks), ERR same
    assert len(data) == 5 * BLOCK
    path = tmp_path / "x_rate.fits"
    path.write_bytes(data)
    whole = fits_extent(path)
    assert whole.complete and whole.names == ("PRIMARY", "SCI", "ERR")
    # SCI's data (8*8 float32 = 256 bytes) starts after two blocks; cut inside it
    path.write_bytes(data[:2 * BLOCK + 100])
    cut = fits_extent(path)
    assert not cut.complete and not cut.final
    assert cut.reason == "truncated: the SCI extension describes 256 bytes of data but only 100 follow"
    path.write_bytes(data[:BLOCK + 80])
    assert "cut off before its END card" in fits_extent(path).reason
    path.write_bytes(data[:BLOCK])  # the primary header alone: SCI still to come
    assert fits_extent(path).reason == "no SCI (or DATA) extension yet"
    path.write_bytes(b"")
    assert fits_extent(path).reason == "empty" and not fits_extent(path).final
    path.write_bytes(b"SIMP")  # the first bytes of a FITS file: not refused yet
    assert not fits_extent(path).final
    path.write_bytes(b"hello, this is not FITS" * 200)
    assert fits_extent(path).final and "not a FITS file" in fits_extent(path).reason


def test_extent_reads_the_extension_name_without_its_blanks(tmp_path):
    path = tmp_path / "d_rate.fits"
    hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((4, 4), np.float32),
                                                          name="DATA")])
    hdul.writeto(path)
    assert fits_extent(path).complete  # EXTNAME = 'DATA    ' in the card


# ---- FolderWatcher ----------------------------------------------------------------------------

def test_a_file_is_ready_once_after_two_polls_with_the_same_size(tmp_path):
    clock = Clock()
    watcher = watcher_for(tmp_path, clock)
    data = fits_bytes()
    path = tmp_path / "a_rate.fits"
    path.write_bytes(data[:BLOCK])
    assert watcher.poll() == []
    with open(path, "ab") as handle:  # grows between polls: not ready
        handle.write(data[BLOCK:3 * BLOCK])
    clock.now += 0.5
    assert watcher.poll() == []
    with open(path, "ab") as handle:
        handle.write(data[3 * BLOCK:])
    clock.now += 0.5
    assert watcher.poll() == []  # first look at this size
    clock.now += 0.5
    events = watcher.poll()
    assert [(e.kind, os.path.basename(e.path)) for e in events] == [(READY, "a_rate.fits")]
    clock.now += 0.5
    assert watcher.poll() == []  # reported once
    os.utime(path, ns=(1, 1))  # changed afterwards: watched again
    watcher.poll()
    clock.now += 0.5
    assert [e.kind for e in watcher.poll()] == [READY]


def test_a_settled_but_truncated_file_waits_for_the_timeout_then_fails(tmp_path):
    clock = Clock()
    watcher = watcher_for(tmp_path, clock, timeout=10.0)
    path = tmp_path / "t_rate.fits"
    path.write_bytes(fits_bytes()[:2 * BLOCK + 100])
    inspected = []
    real = watcher.inspect
    watcher.inspect = lambda p: inspected.append(p) or real(p)
    watcher.poll()
    for _ in range(3):
        clock.now += 3.0
        assert watcher.poll() == []
    assert watcher.waiting()[0].reason.startswith("truncated: the SCI extension")
    clock.now += 1.5  # 10.5 s unchanged
    events = watcher.poll()
    assert [e.kind for e in events] == [FAILED]
    assert events[0].reason == ("truncated: the SCI extension describes 256 bytes of data but "
                                "only 100 follow")
    assert len(inspected) == 4  # header blocks looked at on each settled poll, never the data


def test_not_fits_fails_at_once_and_hidden_temporaries_and_outputs_are_ignored(tmp_path):
    clock = Clock()
    watcher = watcher_for(tmp_path, clock)
    (tmp_path / "notes_rate.fits").write_text("observing log, not FITS\n" * 10)
    (tmp_path / ".iris-0123456789-1.part").write_bytes(fits_bytes())
    (tmp_path / ".x_rate.fits").write_bytes(fits_bytes())
    (tmp_path / "x_rate_cal.fits").write_bytes(fits_bytes())  # our own output name
    (tmp_path / "x_ratefolder_rate.fits").mkdir()
    (tmp_path / "dark.fits").write_bytes(fits_bytes())  # does not match *_rate*.fits
    watcher.poll()
    clock.now += 0.5
    events = watcher.poll()
    assert [(e.kind, os.path.basename(e.path)) for e in events] == [(FAILED, "notes_rate.fits")]
    assert "not a FITS file" in events[0].reason


def test_backlog_older_than_two_polls_is_ready_at_the_first_look(tmp_path):
    (tmp_path / "old_rate.fits").write_bytes(fits_bytes())
    watcher = FolderWatcher(tmp_path, poll_seconds=0.5,
                            wall_clock=lambda: os.path.getmtime(tmp_path / "old_rate.fits") + 5)
    assert [e.kind for e in watcher.poll()] == [READY]


def test_mark_takes_an_earlier_verdict_only_for_an_unchanged_file(tmp_path):
    path = tmp_path / "t_rate.fits"
    path.write_bytes(b"SIMPLE  =")
    info = os.stat(path)
    watcher = watcher_for(tmp_path, Clock())
    assert not watcher.mark(str(path), FAILED, "why", info.st_size + 1, info.st_mtime_ns)
    assert watcher.mark(str(path), FAILED, "why", info.st_size, info.st_mtime_ns)
    assert watcher.poll() == [] and watcher.files[str(path)].state == FAILED


# ---- background rules ---------------------------------------------------------------------------

@pytest.mark.parametrize("keywords, sky", [
    ({"EXPTYPE": "BACKGROUND"}, True), ({"IMTYPE": "sky"}, True), ({"EXP_TYPE": "NRC_BKG"}, True),
    ({"EXPTYPE": "SCIENCE"}, False), ({"IMTYPE": "OBJECT", "EXPTYPE": "SKY"}, True), ({}, False),
])
def test_sky_frames_are_named_by_imtype_exp_type_or_exptype(keywords, sky):
    assert says_sky(fits.Header(list(keywords.items()))) is sky


def test_background_rule_parsing_and_words(tmp_path):
    assert BackgroundRule.parse(None).kind == "none"
    assert BackgroundRule.parse("recent:3").count == 3
    assert "3 sky frames" in BackgroundRule.parse("recent:3").describe()
    for bad in ("recent:0", "recent:x", str(tmp_path / "missing.json"), str(tmp_path / "nope")):
        with pytest.raises(InputError, match="--backgrounds-from"):
            BackgroundRule.parse(bad)
    folder = BackgroundRule.parse(str(tmp_path))
    assert folder.kind == "folder" and folder.to_text() == str(tmp_path)
    assert BackgroundRule.parse(folder.to_text()) == folder


def test_recent_takes_the_n_sky_frames_nearest_in_time():
    rule = BackgroundRule.parse("recent:2")
    frames = [SkyFrame("/n/s1_rate.fits", 100.0), SkyFrame("/n/s2_rate.fits", 200.0),
              SkyFrame("/n/s3_rate.fits", 300.0), SkyFrame("/n/s4_rate.fits", 1000.0)]
    assert rule.backgrounds_for("/n/x_rate.fits", 310.0, frames) == ["/n/s2_rate.fits",
                                                                     "/n/s3_rate.fits"]
    # a live night: the science is newer than every sky frame -> the two most recent
    assert rule.backgrounds_for("/n/x_rate.fits", 5000.0, frames) == ["/n/s3_rate.fits",
                                                                      "/n/s4_rate.fits"]
    assert rule.backgrounds_for("/n/x_rate.fits", 0.0, []) == []


def test_association_rule_takes_the_product_of_the_exposure_else_every_background(tmp_path):
    for name in ("a_rate.fits", "b1_rate.fits", "b2_rate.fits", "b3_rate.fits"):
        (tmp_path / name).write_bytes(fits_bytes())
    asn = tmp_path / "night_asn.json"
    asn.write_text(json.dumps({"asn_type": "image2", "products": [
        {"name": "a", "members": [{"expname": "a_rate.fits", "exptype": "science"},
                                  {"expname": "b1_rate.fits", "exptype": "background"}]},
        {"name": "z", "members": [{"expname": "z_rate.fits", "exptype": "science"},
                                  {"expname": "b2_rate.fits", "exptype": "background"},
                                  {"expname": "b3_rate.fits", "exptype": "SKY"}]}]}))
    rule = BackgroundRule.parse(str(asn))
    assert [os.path.basename(p) for p in rule.backgrounds_for(
        "/elsewhere/a_rate.fits", 0, [])] == ["b1_rate.fits"]  # by name
    assert [os.path.basename(p) for p in rule.backgrounds_for(
        str(tmp_path / "new_rate.fits"), 0, [])] == ["b1_rate.fits", "b2_rate.fits",
                                                     "b3_rate.fits"]
    assert rule.is_background(str(tmp_path / "b3_rate.fits"))
    assert not rule.is_background(str(tmp_path / "a_rate.fits"))


def test_folder_rule_takes_only_complete_fits_files(tmp_path):
    (tmp_path / "s1.fits").write_bytes(fits_bytes())
    (tmp_path / "s2.fits").write_bytes(fits_bytes()[:BLOCK * 2 + 10])  # being copied
    (tmp_path / "readme.txt").write_text("sky frames of the night")
    rule = BackgroundRule.parse(str(tmp_path))
    assert [os.path.basename(p) for p in rule.backgrounds_for("/x_rate.fits", 0, [])] == ["s1.fits"]
