"""The night table (Qt-free state): following the newest, the badge count, the previous exposure
of the same filter, and its place in the session file."""

from __future__ import annotations

import json

from iris_gui.engine.night_log import DONE, EARLIER, FAILED, SKY, NightRow
from iris_gui.state.night_table import NightTable
from iris_gui.state.session_file import read_session, restore_session, save_session
from iris_gui.state.workbench import Workbench


def rows() -> list[NightRow]:
    return [NightRow("/n/a_rate.fits", "a", filter="KN3", status=DONE, sky_level=5.0),
            NightRow("/n/s_rate.fits", "s", filter="KN3", status=SKY),
            NightRow("/n/b_rate.fits", "b", filter="H", status=DONE),
            NightRow("/n/c_rate.fits", "c", filter="KN3", status=FAILED, reason="truncated"),
            NightRow("/n/d_rate.fits", "d", filter="KN3", status=EARLIER)]


def test_previous_same_filter_skips_other_filters_sky_frames_and_failures():
    table = NightTable()
    for row in rows():
        table.update(row)
    assert table.previous_same_filter("/n/d_rate.fits").path == "/n/a_rate.fits"
    assert table.previous_same_filter("/n/b_rate.fits") is None  # the first H
    assert table.previous_same_filter("/n/a_rate.fits") is None
    assert table.newest().path == "/n/d_rate.fits"


def test_update_replaces_the_row_of_the_same_file_and_says_which():
    table, seen = NightTable(), []
    table.changed.connect(seen.append)
    table.update(NightRow("/n/a_rate.fits", status="processing"))
    table.update(NightRow("/n/a_rate.fits", status=DONE))
    assert [r.status for r in table.rows] == [DONE] and seen == ["/n/a_rate.fits"] * 2


def test_following_stops_when_another_is_picked_and_counts_arrivals_until_followed():
    table = NightTable()
    assert table.arrived() is True and table.unseen == 0
    table.picked(is_newest=False)
    assert table.following is False
    assert table.arrived() is False and table.arrived() is False
    assert table.unseen == 2
    table.picked(is_newest=True)  # back on the newest: following again, badge cleared
    assert table.following and table.unseen == 0


def test_night_table_round_trips_through_the_session(tmp_path):
    workbench = Workbench()
    for row in rows():
        workbench.night.update(row)
    workbench.night.watch = {"folder": "/n", "pattern": "*_rate*.fits", "backgrounds": "recent:3"}
    workbench.night.set_blink_previous(True)
    path = save_session(workbench, tmp_path / "night")
    document = read_session(path)
    assert [r["status"] for r in document["night"]["rows"]] == [DONE, SKY, DONE, FAILED, EARLIER]
    restored = Workbench()
    report = restore_session(restored, path)
    assert report.problems == []
    assert [r.to_dict() for r in restored.night.rows] == [r.to_dict() for r in rows()]
    assert restored.night.watch["backgrounds"] == "recent:3" and restored.night.blink_previous


def test_a_session_without_a_night_table_has_none_and_a_bad_row_is_reported(tmp_path):
    empty = save_session(Workbench(), tmp_path / "plain")
    assert "night" not in read_session(empty)
    document = read_session(empty)
    document["night"] = {"rows": [{"path": "/n/a_rate.fits", "status": "exploded"},
                                  rows()[0].to_dict()]}
    (tmp_path / "bad.iris-session").write_text(json.dumps(document))
    workbench = Workbench()
    workbench.night.update(rows()[2])
    report = restore_session(workbench, tmp_path / "bad.iris-session")
    assert report.problems == ["night table: row 1: night row a_rate.fits: unknown status "
                               "'exploded'"]
    assert [r.name for r in workbench.night.rows] == ["a_rate.fits"]


def test_the_review_report_has_a_night_section_when_there_is_a_night_table():
    from iris_gui.engine.night_log import night_cells
    from iris_gui.report.build import build_report
    from iris_gui.report.html_page import render_html
    from iris_gui.report.pdf_document import render_pdf

    night = rows()
    night[0].new_dq_fraction, night[0].verdict = 0.0125, "warn"
    night[0].checks = {"clip_cannot_reject@bkg_subtract": "warn"}
    assert night_cells(night[0]) == ["a_rate.fits", "", "KN3", DONE, "5", "1.25 %",
                                     "warn: clip_cannot_reject"]
    assert night_cells(night[3])[3] == "failed: truncated"
    html = render_html(build_report([], night=night))
    assert "The night (quick-look)" in html
    assert html.count("<tr data-file=") == 5
    assert '<tr data-file="c_rate.fits" data-status="failed">' in html
    assert "The night" not in render_html(build_report([]))
    pdf = render_pdf(build_report([], night=night))
    assert pdf.startswith(b"%PDF")
