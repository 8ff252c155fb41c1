"""Star check picks measured in their own process on cut-outs (display.star_check_process):
a cut-out gives exactly what the whole frame gives (near an edge too); the process answers to
the bit as this thread does (same grid, another grid through the WCS, clicked in either pane),
raises "no star" the same way, is replaced when it dies; the worker's protocol."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
from test_star_check import gaussian_star

from iris_gui.display import star_check as sc
from iris_gui.display import star_check_process as scp
from iris_gui.display import star_check_worker as worker
from iris_gui.engine.wcs import tan_wcs

RADII = (4.0, 8.0, 12.0)


def flat_pair(shape=(300, 300), at=(150.3, 160.6)):
    before = gaussian_star(shape, *at, 1.8, 400.0, sky=20.0)
    dq = np.zeros(shape, np.uint32)
    dq[int(at[1]) + 2, int(at[0]) - 1] = 1024        # a flagged pixel in the aperture
    return {"A": sc.StarFrame("A", "Before", before, dq),
            "B": sc.StarFrame("B", "After", before / 0.8, dq)}


def resample_pair():
    scale = 0.1 / 3600
    wcs_in = tan_wcs((150.0, 2.0), (150.5, 150.5), scale, 20.0)
    wcs_out = tan_wcs((150.0, 2.0), (300.5, 300.5), scale / 2, 0.0)
    x_in, y_in = 120.4, 170.3
    (x_out, y_out), = wcs_out.all_world2pix(wcs_in.all_pix2world([[x_in, y_in]], 0), 0)
    before = gaussian_star((300, 300), x_in, y_in, 1.6, 400.0, sky=5.0)
    after = gaussian_star((600, 600), x_out, y_out, 3.2, 100.0, sky=1.25)
    return {"A": sc.StarFrame("A", "Before", before, wcs=wcs_in),
            "B": sc.StarFrame("B", "i2d", after, wcs=wcs_out, resampled=True)}, (x_in, y_in)


def test_the_cut_out_a_pane_is_sent_measures_exactly_what_the_whole_frame_measures():
    frames = flat_pair()
    room = sc.window_room(RADII) + 1                 # 25: 51 x 51 of the 300 x 300
    cut = scp._cut(frames["A"], 151.0, 160.0, room)
    assert cut.data.shape == cut.dq.shape == (2 * room + 1, 2 * room + 1)
    assert cut.origin == (151 - room, 160 - room) and cut.shape == (300, 300)
    np.testing.assert_array_equal(
        cut.data, frames["A"].data[160 - room:161 + room, 151 - room:152 + room])
    whole = sc.measure_star(frames["A"], 151.0, 160.0, RADII)
    assert sc.measure_star(cut, 151.0, 160.0, RADII) == whole and whole.flagged == 1
    # a cut-out one pixel short of what the measure reads says so, rather than measure less
    short = scp._cut(frames["A"], 151.0, 160.0, room - 2)
    with pytest.raises(sc.NoStar, match="beyond the part of Before read"):
        sc.measure_star(short, 151.0, 160.0, RADII)


def test_near_the_edge_the_cut_out_stops_at_the_frame_and_says_what_the_frame_says():
    frames = flat_pair(at=(14.2, 150.0))
    assert scp.measure_in_process(frames, "A", 14.0, 150.0, RADII) == \
        sc.measure_check(frames, "A", 14.0, 150.0, RADII)
    assert scp._cut(frames["A"], 14.0, 150.0, 25).origin == (0, 125)
    with pytest.raises(sc.NoStar) as whole:
        sc.measure_check(frames, "A", 5.0, 150.0, RADII)
    with pytest.raises(sc.NoStar) as there:
        scp.measure_in_process(frames, "A", 5.0, 150.0, RADII)
    assert str(there.value) == str(whole.value) and "too near the edge" in str(there.value)


@pytest.mark.parametrize("clicked", ["A", "B"])
def test_the_process_measures_what_this_thread_measures_and_says_no_star_alike(clicked):
    frames, (x, y) = resample_pair()
    if clicked == "B":                               # the star where the WCS puts it in B
        (x, y), = frames["B"].wcs.all_world2pix(frames["A"].wcs.all_pix2world([[x, y]], 0), 0)
    assert scp.warm_up()
    got = scp.measure_in_process(frames, clicked, x, y, RADII, product="p", step="resample")
    # to the last bit: the fits are the same code on the same pixels, the WCS the pane's own
    assert got == sc.measure_check(frames, clicked, x, y, RADII, product="p", step="resample")
    assert got.measure("A").ok and got.measure("B").position_by in ("WCS", "clicked")
    process = scp._worker
    assert process is not None and process.alive and process.process.pid != os.getpid()
    sky = {"A": sc.StarFrame("A", "Before", np.random.default_rng(1).normal(10, 1, (200, 200)))}
    with pytest.raises(sc.NoStar) as there:
        scp.measure_in_process(sky, "A", 100, 100, RADII)
    with pytest.raises(sc.NoStar) as here:
        sc.measure_check(sky, "A", 100, 100, RADII)
    assert str(there.value) == str(here.value) and str(here.value).startswith("no star at")
    assert scp._worker is process                    # "no star" is an answer, not a failure


def test_a_dead_process_is_replaced_and_the_pick_still_measured():
    frames = flat_pair()
    expected = sc.measure_check(frames, "A", 151.0, 160.0, RADII)
    assert scp.measure_in_process(frames, "A", 151.0, 160.0, RADII) == expected
    first = scp._worker
    first.process.kill()
    first.process.wait()
    # a new process is started for the next pick (or the pick measured here): same numbers
    assert scp.measure_in_process(frames, "A", 151.0, 160.0, RADII) == expected
    assert scp.measure_in_process(frames, "A", 151.0, 160.0, RADII) == expected
    assert scp._worker is not first and scp._worker.alive


def test_the_worker_answers_each_request_and_errors_as_errors():
    requests = io.BytesIO()
    worker.write_message(requests, ("warm_up", (), {}))
    worker.write_message(requests, ("no_such_task", (), {}))
    worker.write_message(requests, ("measure_star", (flat_pair()["A"], 151.0, 160.0, RADII),
                                    {"position_by": "same pixel"}))
    requests.seek(0)
    answers = io.BytesIO()
    worker.serve(requests, answers)                  # returns at the end of its input
    answers.seek(0)
    replies = []
    while header := answers.read(worker.HEADER):
        replies.append(pickle.loads(answers.read(int.from_bytes(header, "little"))))
    assert replies[0] == ("ok", True)
    assert replies[1][0] == "error" and isinstance(replies[1][1], KeyError)
    assert replies[2] == ("ok", sc.measure_star(flat_pair()["A"], 151.0, 160.0, RADII,
                                                position_by="same pixel"))


def test_the_bundled_window_serves_as_its_own_measuring_process():
    """In the PyInstaller bundle sys.executable is the window's program: started with
    ``-m iris_gui.display.star_check_worker`` (as MeasuringProcess starts it) it measures."""
    import subprocess
    import sys
    from pathlib import Path

    launcher = Path(__file__).resolve().parents[1] / "packaging" / "launch_iris_gui.py"
    requests = io.BytesIO()
    worker.write_message(requests, ("measure_star", (flat_pair()["A"], 151.0, 160.0, RADII), {}))
    done = subprocess.run([sys.executable, str(launcher), "-m", scp.WORKER_MODULE],
                          input=requests.getvalue(), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    size = int.from_bytes(done.stdout[:worker.HEADER], "little")
    status, value = pickle.loads(done.stdout[worker.HEADER:worker.HEADER + size])
    assert (status, value) == ("ok", sc.measure_star(flat_pair()["A"], 151.0, 160.0, RADII))
