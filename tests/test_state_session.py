"""Session files (.iris-session): round trip, moved/changed/missing inputs, bad files, autosave
and recovery. No Qt here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from factories import small_product

from iris_gui.engine.association import Association, save_association
from iris_gui.state import autosave
from iris_gui.state.session_file import (
    SessionError,
    read_session,
    restore_session,
    save_session,
)
from iris_gui.state.view_state import RegionSpec
from iris_gui.state.workbench import Workbench


@pytest.fixture()
def saved(tmp_path):
    """A workbench with a saved ASN and a built association, edited, run, saved."""
    data = tmp_path / "data"
    product = small_product(data)
    save_association(Association([product]), data / "night_asn.json")
    workbench = Workbench()
    workbench.open_path(data / "night_asn.json")
    built = small_product(data / "built")
    built.name = "built_one"
    workbench.add_association(Association([built]))
    workbench.set_parameter("steps.bkg_subtract.sigma", 2.5)
    workbench.set_step_enabled("photom", False)
    workbench.set_output_dir(str(tmp_path / "out"))
    workbench.select(workbench.all_products[1])
    workbench.select_step("flat_field")
    view = workbench.view
    view.update(layout="blink", stretch="asinh", limits="manual", colormap="viridis",
                dq_overlay=True, overlay_opacity=0.5, one_based=True, plane=0,
                view_range=(1.0, 3.0, 0.5, 2.5), dq_hidden=("SATURATED",))
    view.choose("flat_field", "B", "Ratio (after / before)")
    view.set_manual_levels("A", -0.000564617, 12.5, shared=True)
    workbench.set_regions((RegionSpec("circle", 1.5, 2.0, 1.25),))
    workbench.set_note(workbench.all_products[0], "flat looks patchy — ask Anna")
    workbench.reviewer = "R. Viewer"
    workbench.sign_off(workbench.all_products[1], "needs work")
    workbench.store_result(workbench.pipeline.run_product(workbench.all_products[0]))
    path = save_session(workbench, tmp_path / "review")
    return workbench, path


def test_a_saved_session_restores_the_same_workbench(saved):
    original, path = saved
    assert path.name == "review.iris-session"
    fresh = Workbench()
    report = restore_session(fresh, path)
    assert report.lines == []
    assert [p.name for p in fresh.all_products] == [p.name for p in original.all_products]
    assert [p.input_paths for p in fresh.all_products] == \
        [p.input_paths for p in original.all_products]
    assert fresh.associations[0].path == original.associations[0].path
    assert fresh.config.to_dict() == original.config.to_dict()
    assert fresh.output_dir == original.output_dir
    assert fresh.current_product is fresh.all_products[1]
    assert fresh.current_step == "flat_field"
    assert fresh.view.to_dict() == original.view.to_dict()
    assert fresh.view.manual_levels["B"] == (-0.000564617, 12.5)
    assert fresh.notes[fresh.key(fresh.all_products[0])] == "flat looks patchy — ask Anna"
    assert fresh.reviewer == "R. Viewer"
    signoff = fresh.signoffs[fresh.key(fresh.all_products[1])]
    assert (signoff.verdict, signoff.by) == ("needs work", "R. Viewer")
    assert signoff == original.signoffs[original.key(original.all_products[1])]
    assert report.to_run == [fresh.all_products[0]]
    assert not fresh.undo.can_undo  # a restored session starts a fresh history


def test_a_session_moved_with_its_data_finds_the_files_and_says_so(saved, tmp_path):
    _, path = saved
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "data", moved / "data")
    shutil.copy(path, moved / path.name)
    shutil.rmtree(tmp_path / "data")
    fresh = Workbench()
    report = restore_session(fresh, moved / path.name)
    assert report.moved and not report.missing and not report.changed
    assert all(str(moved) in m for p in fresh.all_products for m in p.input_paths)
    assert any("night_asn.json: moved" in line for line in report.moved)


def test_changed_and_missing_inputs_are_named(saved, tmp_path):
    _, path = saved
    science = tmp_path / "data" / "sci_rate.fits"
    content = bytearray(science.read_bytes())
    content[-10] ^= 0xFF
    science.write_bytes(bytes(content))
    os.unlink(tmp_path / "data" / "built" / "bkg1_rate.fits")
    report = restore_session(Workbench(), path)
    assert any(line.startswith(f"{science}: changed") for line in report.changed)
    assert any("bkg1_rate.fits: missing" in line for line in report.missing)


def test_touching_a_file_without_changing_it_is_not_a_change(saved, tmp_path):
    _, path = saved
    science = tmp_path / "data" / "sci_rate.fits"
    os.utime(science, (1e9, 1e9))
    assert restore_session(Workbench(), path).changed == []


@pytest.mark.parametrize("content, message", [
    ("not json", r"not a session file \(JSON error at line 1"),
    ('{"format": "something"}', "not an iris_gui session file"),
    ('{"format": "iris-session", "version": 99}', "written by a newer iris_gui"),
    ('{"format": "iris-session", "version": "1"}', "is not a whole number"),
    ('{"format": "iris-session", "version": 1, "inputs": {}}', "inputs must be a list"),
    ('{"format": "iris-session", "version": 1, "parameters": {"steps": {"nope": {"x": 1}}}}',
     "nope"),
    ('{"format": "iris-session", "version": 1, "inputs": [{"kind": "tape"}]}',
     "unknown kind 'tape'"),
])
def test_a_bad_session_file_is_refused_in_one_line_and_changes_nothing(tmp_path, content,
                                                                         message):
    path = tmp_path / "bad.iris-session"
    path.write_text(content)
    workbench = Workbench()
    workbench.set_parameter("steps.bkg_subtract.sigma", 2.0)
    with pytest.raises(SessionError, match=message):
        restore_session(workbench, path)
    assert workbench.config.steps["bkg_subtract"]["sigma"] == 2.0
    assert workbench.undo.can_undo


def test_bad_view_values_are_refused_one_by_one(saved):
    _, path = saved
    document = json.loads(path.read_text())
    document["view"].update(stretch="wiggly", blink_hz=5.0, nan_colour=[1, 2, 300])
    path.write_text(json.dumps(document))
    fresh = Workbench()
    report = restore_session(fresh, path)
    assert any("stretch" in p and "wiggly" in p for p in report.problems)
    assert any("nan_colour" in p for p in report.problems)
    assert fresh.view.stretch == "linear" and fresh.view.blink_hz == 5.0


def test_a_session_is_never_saved_onto_an_input(saved, tmp_path):
    workbench, _ = saved
    asn = tmp_path / "data" / "night_asn.json"
    link = tmp_path / "link.iris-session"
    os.link(asn, link)
    before = asn.read_bytes()
    with pytest.raises(SessionError, match="input file"):
        save_session(workbench, link)
    assert asn.read_bytes() == before


def test_autosave_is_offered_after_a_crash_and_not_after_a_clean_exit(saved, tmp_path,
                                                                       monkeypatch):
    workbench, _ = saved
    monkeypatch.setenv("IRIS_GUI_STATE_DIR", str(tmp_path / "state"))
    path = autosave.write_autosave(workbench)
    assert path.exists() and autosave.recoverable_sessions() == []  # ours, we are alive
    # a process that died without removing its autosave
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    crashed = autosave.autosave_path(int(dead))
    shutil.copy(path, crashed)
    found = autosave.recoverable_sessions()
    assert [r.path for r in found] == [crashed]
    report = restore_session(Workbench(), found[0].path)
    assert report.lines == []
    autosave.discard(crashed)
    autosave.discard()
    assert autosave.recoverable_sessions() == [] and not path.exists()


def test_the_saved_session_is_plain_versioned_json(saved):
    _, path = saved
    document = read_session(path)
    assert document["format"] == "iris-session" and document["version"] == 1
    assert document["inputs"][0]["kind"] == "association-file"
    assert document["inputs"][1]["kind"] == "built"
    assert len(document["inputs"][0]["identity"]["sha256"]) == 64
