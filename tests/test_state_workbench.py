"""The Qt-free workbench: every product's statuses after each kind of change, keys, removal,
export of stale results, undo/redo. No Qt here."""

from __future__ import annotations

import shutil

import pytest
from factories import small_product

from iris_gui.engine.association import Association
from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.errors import ParameterError
from iris_gui.engine.parameter_files import save_parameters
from iris_gui.engine.provenance import read_provenance
from iris_gui.state.statuses import caption, product_status, step_statuses
from iris_gui.state.view_state import RegionSpec
from iris_gui.state.workbench import STEP_NAMES, Workbench


def states(workbench, product):
    return {s.step: s.state for s in step_statuses(workbench, product)}


def run(workbench, product):
    workbench.apply_locations()
    result = workbench.pipeline.run_product(product, config=workbench.config.copy())
    assert result.ok, result.error
    workbench.store_result(result)
    return result


@pytest.fixture()
def two_products(tmp_path):
    workbench = Workbench()
    first = small_product(tmp_path / "a")
    second = small_product(tmp_path / "b")
    second.name = "other"
    workbench.add_association(Association([first]))
    workbench.add_association(Association([second]))
    workbench.set_output_dir(str(tmp_path / "out"))
    (tmp_path / "out").mkdir()
    return workbench, first, second


def test_a_parameter_change_makes_every_product_stale_from_that_step_on(two_products):
    workbench, first, second = two_products
    run(workbench, first)
    run(workbench, second)
    for product in (first, second):
        assert set(states(workbench, product).values()) <= {"COMPLETE", "SKIPPED", "warning"}
        assert product_status(workbench, product)[0].startswith("done ")
    workbench.set_parameter("steps.flat_field.skip", False)  # no change: nothing recorded
    assert not workbench.undo.can_undo
    workbench.set_parameter("steps.dark_current.dark_output", "d.fits")
    for product in (first, second):  # not only the selected one
        shown = states(workbench, product)
        assert shown["bkg_subtract"] != "stale" and shown["parse_subarray_map"] != "stale"
        assert all(shown[name] == "stale" for name in STEP_NAMES[3:]), shown
        assert product_status(workbench, product)[0] == "● stale"
    assert workbench.stale_products == [first, second]


def test_undo_makes_the_results_current_again_and_redo_stale(two_products):
    workbench, first, _ = two_products
    run(workbench, first)
    workbench.set_parameter("steps.bkg_subtract.sigma", 2.5)
    workbench.set_parameter("steps.bkg_subtract.sigma", 2.0)  # merged with the edit before
    assert all(s == "stale" for s in states(workbench, first).values() if s != "SKIPPED")
    assert workbench.undo.undo_text.startswith("bkg_subtract.sigma")
    workbench.undo.undo()
    assert workbench.config.steps["bkg_subtract"]["sigma"] == 3.0
    assert not workbench.undo.can_undo
    assert not workbench.is_stale(first)
    workbench.undo.redo()
    assert workbench.config.steps["bkg_subtract"]["sigma"] == 2.0
    assert workbench.is_stale(first)


def test_a_bad_value_changes_nothing_and_records_nothing(two_products):
    workbench = two_products[0]
    with pytest.raises(ParameterError, match="sigma"):
        workbench.set_parameter("steps.bkg_subtract.sigma", "lots")
    assert workbench.config.steps["bkg_subtract"]["sigma"] == 3.0
    assert not workbench.undo.can_undo


def test_loading_a_cfg_that_skips_steps_shows_them_off_for_every_product(two_products, tmp_path):
    workbench, first, second = two_products
    run(workbench, first)
    run(workbench, second)
    config = PipelineConfig()
    for name in ("dark_current", "flat_field", "photom"):
        config.steps[name]["skip"] = True
    save_parameters(config, tmp_path / "skip.cfg")
    from iris_gui.engine.parameter_files import load_parameters

    workbench.set_config(load_parameters(tmp_path / "skip.cfg"))
    for product in (first, second):
        shown = states(workbench, product)
        assert shown["dark_current"] == shown["flat_field"] == shown["photom"] == "off"
        assert shown["resample"] == "stale"
        assert shown["bkg_subtract"] != "stale"
    workbench.undo.undo()
    assert not workbench.stale_products


def test_switching_a_step_off_and_on_is_undoable(two_products):
    workbench, first, _ = two_products
    run(workbench, first)
    workbench.set_step_enabled("flat_field", False)
    assert states(workbench, first)["flat_field"] == "off"
    assert states(workbench, first)["photom"] == "stale"
    assert workbench.undo.undo_text == "switch off flat_field"
    workbench.undo.undo()
    assert states(workbench, first)["flat_field"] == "COMPLETE"


def test_changing_the_reference_folder_makes_results_stale(two_products, tmp_path):
    workbench, first, _ = two_products
    run(workbench, first)
    refs = tmp_path / "refs"
    refs.mkdir()
    shutil.copy(tmp_path / "a" / "dark.fits", refs / "dark.fits")
    shutil.copy(tmp_path / "a" / "flat.fits", refs / "flat.fits")
    workbench.set_ref_dir(str(refs))
    assert workbench.pipeline.ref_dir == refs
    assert workbench.is_stale(first)
    assert str(refs) in workbench.command_line(tmp_path / "out" / "p.cfg")


def test_removing_a_product_drops_its_result_note_and_failure(two_products):
    workbench, first, second = two_products
    run(workbench, first)
    key = workbench.key(first)
    workbench.set_note(first, "looks fine")
    workbench.open_failures[key] = "old failure"
    workbench.remove_product(first)
    assert key not in workbench.product_results and key not in workbench.notes
    assert key not in workbench.open_failures
    assert workbench.current_product is second
    assert workbench.all_products == [second]
    # a run that finishes after its product was closed leaves nothing behind
    result = workbench.pipeline.run_product(first)
    workbench.store_result(result)
    assert len(workbench.product_results) == 0


def test_two_associations_with_a_product_of_the_same_name_stay_apart(tmp_path):
    workbench = Workbench()
    product = small_product(tmp_path / "a")
    twin = small_product(tmp_path / "b")
    same = type(product)(product.name, list(product.members))  # same name, same members
    for p in (product, twin, same):
        workbench.add_association(Association([p]))
    keys = {workbench.key(p) for p in (product, twin, same)}
    assert len(keys) == 3
    result = run(workbench, product)
    assert workbench.result_for(product) is result
    assert workbench.result_for(twin) is None and workbench.result_for(same) is None
    workbench.remove_product(same)  # removes that object only, although it compares equal
    assert workbench.all_products == [product, twin]
    assert workbench.result_for(product) is result


def test_exporting_a_stale_result_as_made_records_its_own_parameters(two_products, tmp_path):
    workbench, first, _ = two_products
    result = run(workbench, first)
    workbench.set_parameter("steps.bkg_subtract.sigma", 2.5)
    assert workbench.is_stale(first)
    written, errors = workbench.pipeline.export_results([result], workbench.output_dir)
    assert not errors
    cal = next(p for p in written if str(p).endswith("_cal.fits"))
    provenance = read_provenance(cal)
    assert provenance["parameters"]["steps"]["bkg_subtract"]["sigma"] == 3.0


def test_caption_says_what_the_steps_list_says(two_products):
    workbench, first, _ = two_products
    run(workbench, first)
    assert "complete" in caption(workbench, first, "flat_field")
    workbench.set_parameter("steps.flat_field.inverse", True)
    assert "stale" in caption(workbench, first, "flat_field")
    assert "complete" in caption(workbench, first, "dark_current")


def test_region_edits_are_undoable_and_drags_merge(two_products):
    workbench = two_products[0]
    box = RegionSpec("box", 1, 1, 2, 2)
    workbench.set_regions((box,), "add box")
    for x in (2, 3, 4):
        workbench.set_regions((RegionSpec("box", x, 1, 2, 2),), "move region")
    assert workbench.view.regions[0].x0 == 4
    workbench.undo.undo()
    assert workbench.view.regions == (box,)
    workbench.undo.undo()
    assert workbench.view.regions == ()
    workbench.undo.redo()
    workbench.undo.redo()
    assert workbench.view.regions[0].x0 == 4


def test_selecting_another_product_drops_pane_choices_of_other_products(two_products):
    workbench, first, second = two_products
    workbench.select(first)
    workbench.view.choose("flat_field", "B", "Ratio (after / before)")
    workbench.view.choose("dark_current", "B", "After (output) — other")
    workbench.select(second)
    assert workbench.view.choice("flat_field", "B") == "Ratio (after / before)"
    assert workbench.view.choice("dark_current", "B") is None


def test_view_state_choices_match_what_the_display_offers():
    # the state keeps its own lists so importing it stays light; they must not drift
    from iris_gui.display.colour_tables import COLORMAPS, DEFAULT_NAN_COLOUR
    from iris_gui.display.stretch import LIMIT_METHODS, STRETCHES
    from iris_gui.state import view_state

    assert view_state.STRETCHES == STRETCHES
    assert view_state.LIMIT_METHODS == LIMIT_METHODS
    assert view_state.COLORMAP_NAMES == tuple(COLORMAPS)
    assert view_state.ViewState().nan_colour == DEFAULT_NAN_COLOUR


def test_a_changed_input_file_makes_that_product_stale_only(two_products):
    import os

    workbench, first, second = two_products
    run(workbench, first)
    run(workbench, second)
    science = first.science
    stat = os.stat(science)
    os.utime(science, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # rewritten since
    assert states(workbench, first)["bkg_subtract"] == "stale"
    assert workbench.stale_products == [first]
    assert product_status(workbench, second)[0].startswith("done ")
