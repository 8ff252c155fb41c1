"""Header comparison of the Header dock (display/headers.py): which keywords a step wrote, changed
or removed against its input, the search and the copied text, on hand-made headers."""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from factories import make_model

from iris_gui.display import headers as hd


def header(*cards) -> fits.Header:
    h = fits.Header()
    for card in cards:
        h.append(card, end=True)
    return h


def statuses(rows, extension="PRIMARY"):
    return [(r.keyword, r.status) for r in rows if r.extension == extension]


def test_written_changed_removed_and_unchanged_keywords():
    before = header(("TELESCOP", "TMT"), ("EXPTIME", 10.0), ("S_DARK", "COMPLETE"),
                    ("BUNIT", "DN/s"), ("OLDKEY", 3, "gone after"))
    after = header(("TELESCOP", "TMT", "a new comment only"), ("EXPTIME", 10.0),
                   ("S_DARK", "COMPLETE"), ("BUNIT", "MJy/sr"), ("S_PHOTOM", "COMPLETE"),
                   ("PHOTMJSR", 0.25))
    rows = hd.compare_headers([("PRIMARY", after)], [("PRIMARY", before)])
    assert statuses(rows) == [("TELESCOP", hd.SAME), ("EXPTIME", hd.SAME), ("S_DARK", hd.SAME),
                              ("BUNIT", hd.CHANGED), ("S_PHOTOM", hd.ADDED),
                              ("PHOTMJSR", hd.ADDED), ("OLDKEY", hd.REMOVED)]
    bunit = next(r for r in rows if r.keyword == "BUNIT")
    assert (bunit.value, bunit.before) == ("MJy/sr", "DN/s")
    removed = rows[-1]
    assert (removed.value, removed.before, removed.comment) == ("3", "3", "gone after")
    assert hd.status_counts(rows) == {hd.ADDED: 2, hd.CHANGED: 1, hd.REMOVED: 1}


def test_a_change_of_type_is_a_change_and_nan_equals_nan():
    before = header(("FLAG", True), ("N", 1), ("X", 1.0), ("Y", 2.5))
    after = header(("FLAG", 1), ("N", 1.0), ("X", 1.0), ("Y", 2.5000001))
    rows = hd.compare_headers([("PRIMARY", after)], [("PRIMARY", before)])
    assert statuses(rows) == [("FLAG", hd.CHANGED), ("N", hd.CHANGED), ("X", hd.SAME),
                              ("Y", hd.CHANGED)]
    assert [r.value for r in rows] == ["1", "1.0", "1.0", "2.5000001"]
    assert rows[0].before == "T"
    assert hd._same_value(float("nan"), float("nan"))


def test_repeated_keywords_and_history_lines_are_counted():
    before = header(("HISTORY", "read"), ("FOO", 1), ("FOO", 2), ("COMMENT", "keep"))
    after = header(("HISTORY", "read"), ("HISTORY", "read"), ("FOO", 1), ("FOO", 5),
                   ("FOO", 6), ("COMMENT", "keep"))
    rows = hd.compare_headers([("PRIMARY", after)], [("PRIMARY", before)])
    assert statuses(rows) == [("HISTORY", hd.SAME), ("HISTORY", hd.ADDED), ("FOO", hd.SAME),
                              ("FOO", hd.CHANGED), ("FOO", hd.ADDED), ("COMMENT", hd.SAME)]
    # a HISTORY line the step dropped is "removed"
    rows = hd.compare_headers([("PRIMARY", header(("FOO", 1)))],
                              [("PRIMARY", header(("FOO", 1), ("HISTORY", "old step")))])
    assert statuses(rows) == [("FOO", hd.SAME), ("HISTORY", hd.REMOVED)]
    assert rows[-1].value == "old step"


def test_extensions_are_matched_by_name_and_a_new_one_is_all_added():
    rows = hd.compare_headers([("PRIMARY", header(("A", 1))), ("WHT", header(("B", 2)))],
                              [("PRIMARY", header(("A", 1)))])
    assert [(r.extension, r.status) for r in rows] == [("PRIMARY", hd.SAME), ("WHT", hd.ADDED)]
    nothing = hd.compare_headers([("PRIMARY", header(("A", 1)))], None)
    assert [r.status for r in nothing] == [hd.SAME]


def test_a_models_headers_are_every_extension_as_written():
    data = np.zeros((3, 4), np.float32)
    model = make_model(data, data.copy(), np.zeros((3, 4), np.uint32))
    model.header["S_FLAT"] = "COMPLETE"
    model.sci_header["BUNIT"] = "DN/s"
    model.area = np.ones((3, 4), np.float32)
    headers = hd.model_headers(model)
    assert [name for name, _ in headers] == ["PRIMARY", "SCI", "ERR", "DQ", "AREA"]
    sci = dict(headers)["SCI"]
    assert (sci["NAXIS1"], sci["NAXIS2"], sci["BUNIT"]) == (4, 3, "DN/s")
    assert dict(headers)["DQ"]["BZERO"] == 2147483648
    assert dict(headers)["PRIMARY"]["S_FLAT"] == "COMPLETE"
    headers[0][1]["S_FLAT"] = "changed in the copy"
    assert model.header["S_FLAT"] == "COMPLETE"  # copies, never the model's own header


def test_search_matches_keyword_value_comment_and_input_value_in_any_case():
    before = header(("BUNIT", "DN/s"), ("FILTER", "Kbb"))
    after = header(("BUNIT", "MJy/sr"), ("FILTER", "Kbb", "the filter wheel"), ("R_FLAT", "f.fits"))
    rows = hd.compare_headers([("PRIMARY", after)], [("PRIMARY", before)])
    assert [r.keyword for r in hd.matching(rows, "kbb")] == ["FILTER"]
    assert [r.keyword for r in hd.matching(rows, "WHEEL")] == ["FILTER"]
    assert [r.keyword for r in hd.matching(rows, "dn/s")] == ["BUNIT"]  # the input's value
    assert [r.keyword for r in hd.matching(rows, "r_")] == ["R_FLAT"]
    assert [r.keyword for r in hd.matching(rows, "")] == ["BUNIT", "FILTER", "R_FLAT"]
    assert [r.keyword for r in hd.matching(rows, changed_only=True)] == ["BUNIT", "R_FLAT"]
    assert [r.keyword for r in hd.matching(rows, "f", changed_only=True)] == ["R_FLAT"]


def test_the_copied_text_marks_each_card_and_heads_each_extension():
    before = header(("BUNIT", "DN/s"), ("GONE", 1))
    after = header(("BUNIT", "MJy/sr"), ("S_PHOTOM", "COMPLETE"))
    rows = hd.compare_headers([("PRIMARY", after), ("SCI", header(("EXTNAME", "SCI")))],
                              [("PRIMARY", before), ("SCI", header(("EXTNAME", "SCI")))])
    text = hd.rows_text(rows, "photom: After")
    assert text.splitlines() == [
        "photom: After",
        "--- PRIMARY ---",
        "~ BUNIT   = 'MJy/sr  '   (input: DN/s)",
        "+ S_PHOTOM= 'COMPLETE'",
        "- GONE    =                    1",
        "--- SCI ---",
        "  EXTNAME = 'SCI     '",
    ]


def test_what_each_pane_is_compared_with():
    from test_inspection_view import hand_result

    from iris_gui.display import view_sources as vs

    result = hand_result(step="flat_field")
    other = hand_result(step="flat_field")
    other.product.name = "other"
    views = vs.step_views(result, "flat_field", [other])
    step_input = views.sources[vs.BEFORE].model
    compared = {label: hd.compared_input(views, source) for label, source in views.sources.items()}
    for label in (vs.AFTER, vs.DIFFERENCE, vs.RATIO, vs.ERR_AFTER, vs.DQ_AFTER):
        assert compared[label] is step_input, label
    for label in (vs.BEFORE, vs.ERR_BEFORE, vs.DQ_BEFORE, vs.other_product_label("other")):
        assert compared[label] is None, label
