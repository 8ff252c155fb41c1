"""The window's pipeline options carry output_layout (derived from PIPELINE_PARAMETERS) and its
Export follows it: liger writes the upstream's DATA layout."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

pytest.importorskip("pytestqt")

from factories import write_model  # noqa: E402

from iris_gui.engine.models import read_image  # noqa: E402

TIMEOUT_MS = 60_000


def _run_all(qtbot, win):
    with qtbot.waitSignal(win.runCompleted, timeout=TIMEOUT_MS):
        win.run_all_action.trigger()


def _names(path) -> list[str]:
    with fits.open(path) as hdul:
        return [hdu.name for hdu in hdul]


def _layout_combo(window):
    return window.steps_panel.pipeline_form.editors["output_layout"].widget


def _science(tmp_path):
    (tmp_path / "in").mkdir()
    return write_model(tmp_path / "in" / "x_rate.fits", np.full((8, 8), 3.0), np.ones((8, 8)))


def test_the_pipeline_options_offer_the_layouts(window):
    combo = _layout_combo(window)
    assert [combo.itemText(i) for i in range(combo.count())] == ["iris", "liger"]
    assert combo.currentText() == "iris"
    combo.setCurrentText("liger")
    assert window.workbench.config.pipeline["output_layout"] == "liger"
    window.workbench.undo.undo()  # an edit like any other
    assert window.workbench.config.pipeline["output_layout"] == "iris"
    assert combo.currentText() == "iris"


def test_export_in_the_liger_layout_writes_the_data_layout(qtbot, window, tmp_path):
    science = _science(tmp_path)
    window.open_paths([str(science)])
    _layout_combo(window).setCurrentText("liger")
    _run_all(qtbot, window)
    with qtbot.waitSignal(window.exportCompleted, timeout=TIMEOUT_MS) as blocker:
        window.export_all_action.trigger()
    written, errors = blocker.args
    assert errors == [] and [p.rsplit("/", 1)[-1] for p in written] == ["x_cal.fits"]
    names = _names(written[0])
    assert "DATA" in names and "SCI" not in names and "PROVENANCE" in names
    with fits.open(written[0]) as hdul:
        assert hdul["DQ"].data.dtype.itemsize == 2  # the upstream's uint16 DQ
        assert hdul[0].header["DATAMODL"] == "ImagerModel"
    np.testing.assert_array_equal(read_image(written[0]).data, 3.0)


def test_a_layout_chosen_after_the_run_is_exported_after_run_first(qtbot, window, tmp_path):
    # the layout is part of the parameters a result was made with: changed afterwards, Export
    # asks, and Run first (every step cached) exports in the new layout
    window.open_paths([str(_science(tmp_path))])
    _run_all(qtbot, window)
    _layout_combo(window).setCurrentText("liger")
    window.export_all_action.trigger()
    with qtbot.waitSignal(window.exportCompleted, timeout=TIMEOUT_MS) as blocker:
        [button] = [b for b in window.stale_export_box.buttons() if b.text() == "Run first"]
        button.click()
    written, errors = blocker.args
    assert errors == [] and "DATA" in _names(written[0])
