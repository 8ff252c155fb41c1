"""File ▸ Review report… in the window: products, notes and sign-offs reach the report, it is
made off the GUI thread and opens in the browser; nothing to report says so."""

from __future__ import annotations

import html.parser

import pytest

pytest.importorskip("pytestqt")

from gui_helpers import RUN_TIMEOUT_MS, run_and_wait  # noqa: E402


class Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def test_the_review_report_holds_the_notes_and_sign_offs_and_opens(qtbot, window, demo_dataset,
                                                                   tmp_path, monkeypatch):
    window.open_paths([str(demo_dataset.asn)])
    assert run_and_wait(qtbot, window) == 0
    product = window.workbench.current_product
    window.workbench.set_note(product, "corner vignetting checked")
    window.workbench.reviewer = "T. Ester"
    window.inputs_panel.signoff.setCurrentText("accepted")
    opened = []
    monkeypatch.setattr(window, "open_in_browser", opened.append)
    dialog = window.review_report_dialog()
    assert [p.name for p in dialog.products] == [product.name]  # only what has run
    dialog.folder.setText(str(tmp_path / "review"))
    with qtbot.waitSignal(window.reviewReportDone, timeout=RUN_TIMEOUT_MS) as blocker:
        dialog.accept()
    files, error = blocker.args
    assert error == "" and opened == [files.html]
    parser = Text()
    parser.feed(files.html.read_text())
    text = " ".join(parser.parts)
    for expected in (product.name, "corner vignetting checked", "T. Ester", "accepted"):
        assert expected in text
    assert files.pdf.stat().st_size > 0


def test_no_result_no_report(qtbot, window, demo_dataset):
    window.open_paths([str(demo_dataset.asn)])
    assert window.review_report_dialog() is None
    assert "run the products first" in window.error_dialogs[-1].text()


def test_a_report_into_a_file_is_refused_in_the_dialog(qtbot, window, demo_dataset, tmp_path):
    window.open_paths([str(demo_dataset.asn)])
    assert run_and_wait(qtbot, window) == 0
    (tmp_path / "afile").write_text("x")
    dialog = window.review_report_dialog()
    dialog.folder.setText(str(tmp_path / "afile"))
    dialog.accept()
    assert dialog.isVisible() and "is a file" in dialog.message.text()
    dialog.reject()


def test_a_checks_file_changes_the_verdicts_and_a_bad_one_is_named(qtbot, window, demo_dataset,
                                                                   tmp_path, monkeypatch):
    window.open_paths([str(demo_dataset.asn)])
    assert run_and_wait(qtbot, window) == 0
    monkeypatch.setattr(window, "open_in_browser", lambda path: None)
    strict = tmp_path / "strict.cfg"
    strict.write_text("[flat_ratio]\nwarn = 0.0\nfail = 0.0\n")
    dialog = window.review_report_dialog()
    dialog.folder.setText(str(tmp_path / "review"))
    dialog.checks.setText(str(strict))
    with qtbot.waitSignal(window.reviewReportDone, timeout=RUN_TIMEOUT_MS) as blocker:
        dialog.accept()
    files, error = blocker.args
    assert error == ""
    verdicts = [c.verdict for p in files.report.products for c in p.checks
                if c.check == "flat_ratio"]
    assert verdicts and set(verdicts) == {"fail"}

    bad = tmp_path / "bad.cfg"
    bad.write_text("[no_such_check]\nwarn = 1\n")
    dialog = window.review_report_dialog()
    dialog.folder.setText(str(tmp_path / "review2"))
    dialog.checks.setText(str(bad))
    dialog.accept()
    assert "bad.cfg" in window.error_dialogs[-1].text()
    assert not (tmp_path / "review2").exists()
