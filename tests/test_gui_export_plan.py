"""The window's Export writes through the same output plan as iris-image2: checked over every
exported product before anything is written, one dialog naming the rule."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from factories import write_model  # noqa: E402

TIMEOUT_MS = 60_000


def _run_all(qtbot, win):
    with qtbot.waitSignal(win.runCompleted, timeout=TIMEOUT_MS):
        win.run_all_action.trigger()


def _export_all(qtbot, win):
    with qtbot.waitSignal(win.exportCompleted, timeout=TIMEOUT_MS) as blocker:
        win.export_all_action.trigger()
    return blocker.args


def test_export_all_of_two_products_with_one_name_writes_nothing(qtbot, window, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_model(tmp_path / "a" / "x_rate.fits", np.ones((8, 8)))
    b = write_model(tmp_path / "b" / "x_rate.fits", np.full((8, 8), 2.0))
    window.open_paths([str(a), str(b)])
    out = tmp_path / "out"
    window.set_output_dir(str(out))
    _run_all(qtbot, window)
    written, errors = _export_all(qtbot, window)
    assert written == [] and len(errors) == 1
    assert "written twice" in errors[0] and str(a) in errors[0] and str(b) in errors[0]
    qtbot.waitUntil(lambda: bool(window.error_dialogs), timeout=TIMEOUT_MS)
    assert "written twice" in window.error_dialogs[-1].text()
    assert not out.exists() or list(out.iterdir()) == []


def test_export_onto_an_input_writes_nothing(qtbot, window, tmp_path):
    (tmp_path / "in").mkdir()
    science = write_model(tmp_path / "in" / "x_rate.fits", np.ones((8, 8)))
    # a file the product reads, named like its output
    (tmp_path / "out").mkdir(exist_ok=True)
    (tmp_path / "out" / "x_cal.fits").symlink_to(science)
    before = science.read_bytes()
    window.open_paths([str(science)])
    window.set_output_dir(str(tmp_path / "out"))
    _run_all(qtbot, window)
    written, errors = _export_all(qtbot, window)
    assert written == [] and "which this run reads" in errors[0]
    assert science.read_bytes() == before


def test_export_writes_what_the_plan_allows(qtbot, window, tmp_path):
    (tmp_path / "in").mkdir()
    science = write_model(tmp_path / "in" / "données_rate.fits", np.ones((8, 8)))
    window.open_paths([str(science)])
    window.set_output_dir(str(tmp_path / "out"))
    _run_all(qtbot, window)
    written, errors = _export_all(qtbot, window)
    assert errors == []
    assert [p.rsplit("/", 1)[-1] for p in written] == ["données_cal.fits"]
