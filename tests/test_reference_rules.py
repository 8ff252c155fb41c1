"""Reference choice by the TMT CRDS rules: selection keys per kind, then the latest USEAFTER not
after DATE-OBS; the explanation names the winner's matches and every near-miss.

Candidates are built here with one key changed at a time, so that dropping a key from the rule, a
> for >= on the date, or ranking dates before keys fails a test."""

from __future__ import annotations

import pytest
from factories import make_model, write_reference

from iris_gui.engine.errors import InputError
from iris_gui.engine.references import find_reference, missing_reference_warning

ONE = [[1.0]]


def science(**keywords):
    keywords.setdefault("DATE-OBS", "2030-02-03T00:00:00")
    return make_model(ONE, **keywords)


def choose(kind, folder, model):
    choice, why = find_reference(kind, model, folder, None)
    return (None if choice is None else choice.path.rsplit("/", 1)[-1]), choice, why


def test_dark_is_selected_on_detector_filter_and_subarray(tmp_path):
    write_reference(tmp_path / "a_filter_h.fits", "DARK", ONE, FILTER="H", USEAFTER="2030-01-01")
    write_reference(tmp_path / "b_other_det.fits", "DARK", ONE, DETECTOR="OTHER",
                    USEAFTER="2030-01-01")
    write_reference(tmp_path / "c_good.fits", "DARK", ONE, USEAFTER="2029-01-01")
    name, choice, _ = choose("dark", tmp_path, science())
    assert name == "c_good.fits"
    assert choice.explanation.startswith(
        f"chose c_good.fits from {tmp_path}: matches DETECTOR, FILTER, SUBARRAY; same window; "
        f"USEAFTER 2029-01-01 is the latest not after DATE-OBS 2030-02-03T00:00:00; "
        f"also considered ")
    assert "a_filter_h.fits: FILTER differs (H vs KN3)" in choice.explanation
    assert "b_other_det.fits: DETECTOR differs (OTHER vs IMAGER)" in choice.explanation


def test_subarray_name_match_beats_a_newer_full_frame_dark(tmp_path):
    write_reference(tmp_path / "full.fits", "DARK", [[1.0, 1.0], [1.0, 1.0]],
                    USEAFTER="2030-02-01")
    write_reference(tmp_path / "sub.fits", "DARK", ONE, window=(2, 2), USEAFTER="2030-01-01")
    model = make_model(ONE, window=(2, 2), **{"DATE-OBS": "2030-02-03"})
    name, choice, _ = choose("dark", tmp_path, model)
    assert name == "sub.fits"
    assert "full.fits: less specific (SUBARRAY FULL covers SUBTEST)" in choice.explanation
    # without the name-matching dark, the full frame one covers the window and is used
    (tmp_path / "sub.fits").unlink()
    assert choose("dark", tmp_path, model)[0] == "full.fits"


def test_flat_is_selected_on_pupil_and_must_state_filter(tmp_path):
    write_reference(tmp_path / "a_pupil_mask.fits", "FLAT", ONE, PUPIL="MASK")
    write_reference(tmp_path / "b_no_filter.fits", "FLAT", ONE, FILTER="N/A", PUPIL="CLEAR")
    write_reference(tmp_path / "c_clear.fits", "FLAT", ONE, PUPIL="CLEAR")
    name, choice, _ = choose("flat", tmp_path, science(PUPIL="CLEAR"))
    assert name == "c_clear.fits"
    assert "a_pupil_mask.fits: PUPIL differs (MASK vs CLEAR)" in choice.explanation
    assert "b_no_filter.fits: less specific (FILTER N/A)" in choice.explanation
    (tmp_path / "c_clear.fits").unlink()
    assert choose("flat", tmp_path, science(PUPIL="CLEAR"))[0] == "b_no_filter.fits"
    # a flat that does not state FILTER is never taken for a filtered exposure
    (tmp_path / "b_no_filter.fits").unlink()
    write_reference(tmp_path / "d.fits", "FLAT", ONE, PUPIL="CLEAR")
    from astropy.io import fits
    with fits.open(tmp_path / "d.fits", mode="update") as hdul:
        del hdul[0].header["FILTER"]
    name, _, why = choose("flat", tmp_path, science(PUPIL="CLEAR"))
    assert name is None and "d.fits: has no FILTER" in why


def test_photom_table_is_selected_on_the_pupil_it_states(tmp_path):
    from test_reference_warnings import photom_table

    photom_table(tmp_path / "a_mask.fits", PUPIL="MASK")
    photom_table(tmp_path / "b_any.fits")
    assert choose("photom", tmp_path, science(PUPIL="CLEAR"))[0] == "b_any.fits"
    assert choose("photom", tmp_path, science(PUPIL="MASK"))[0] == "a_mask.fits"


def test_useafter_equal_to_date_obs_is_chosen_one_second_later_is_not(tmp_path):
    write_reference(tmp_path / "old.fits", "DARK", ONE, USEAFTER="2030-01-01T00:00:00")
    write_reference(tmp_path / "new.fits", "DARK", ONE, USEAFTER="2030-02-03T12:00:00")
    at = science(**{"DATE-OBS": "2030-02-03T12:00:00"})
    name, choice, _ = choose("dark", tmp_path, at)
    assert name == "new.fits"
    assert "old.fits: USEAFTER 2030-01-01T00:00:00 is older" in choice.explanation
    before = science(**{"DATE-OBS": "2030-02-03T11:59:59"})
    name, choice, _ = choose("dark", tmp_path, before)
    assert name == "old.fits"
    assert ("new.fits: USEAFTER 2030-02-03T12:00:00 is after DATE-OBS 2030-02-03T11:59:59"
            in choice.explanation)


def test_time_obs_completes_a_date_only_date_obs(tmp_path):
    write_reference(tmp_path / "old.fits", "DARK", ONE, USEAFTER="2030-01-01")
    write_reference(tmp_path / "noon.fits", "DARK", ONE, USEAFTER="2030-02-03 12:00:00")
    morning = science(**{"DATE-OBS": "2030-02-03", "TIME-OBS": "11:59:59.5"})
    assert choose("dark", tmp_path, morning)[0] == "old.fits"
    evening = science(**{"DATE-OBS": "2030-02-03", "TIME-OBS": "12:00:00"})
    name, choice, _ = choose("dark", tmp_path, evening)
    assert name == "noon.fits" and "DATE-OBS 2030-02-03T12:00:00" in choice.explanation


def test_reference_without_useafter_is_valid_but_loses_to_a_dated_one(tmp_path):
    write_reference(tmp_path / "a_undated.fits", "DARK", ONE)
    write_reference(tmp_path / "b_dated.fits", "DARK", ONE, USEAFTER="2020-01-01")
    name, choice, _ = choose("dark", tmp_path, science())
    assert name == "b_dated.fits"
    assert "a_undated.fits: no USEAFTER, loses to a dated reference" in choice.explanation
    (tmp_path / "b_dated.fits").unlink()
    name, choice, _ = choose("dark", tmp_path, science())
    assert name == "a_undated.fits" and "no USEAFTER (counts as always valid)" in choice.explanation


def test_exposure_without_date_obs_takes_the_latest_and_says_so(tmp_path):
    write_reference(tmp_path / "a.fits", "DARK", ONE, USEAFTER="2030-01-01")
    write_reference(tmp_path / "b.fits", "DARK", ONE, USEAFTER="2040-01-01")
    name, choice, _ = choose("dark", tmp_path, make_model(ONE))
    assert name == "b.fits"
    assert "has no DATE-OBS, so the latest was taken" in choice.explanation


def test_only_future_references_means_none_and_the_reason_says_why(tmp_path):
    write_reference(tmp_path / "future.fits", "DARK", ONE, USEAFTER="2031-01-01")
    name, _, why = choose("dark", tmp_path, science())
    assert name is None
    assert "future.fits: USEAFTER 2031-01-01 is after DATE-OBS 2030-02-03T00:00:00" in why
    warning = missing_reference_warning("dark", science(), tmp_path)
    assert ("no dark reference for INSTRUME=IRIS, DETECTOR=IMAGER, FILTER=KN3, SUBARRAY=FULL, "
            "DATE-OBS 2030-02-03T00:00:00") in warning


def test_keys_rank_before_dates(tmp_path):
    write_reference(tmp_path / "a_any_filter_new.fits", "DARK", ONE, FILTER="ANY",
                    USEAFTER="2030-02-01")
    write_reference(tmp_path / "b_kn3_old.fits", "DARK", ONE, USEAFTER="2020-01-01")
    name, choice, _ = choose("dark", tmp_path, science())
    assert name == "b_kn3_old.fits"
    assert "a_any_filter_new.fits: less specific (FILTER ANY)" in choice.explanation


def test_same_keys_and_date_fall_back_to_the_file_name(tmp_path):
    write_reference(tmp_path / "b.fits", "DARK", ONE, USEAFTER="2030-01-01")
    write_reference(tmp_path / "a.fits", "DARK", ONE, USEAFTER="2030-01-01")
    name, choice, _ = choose("dark", tmp_path, science())
    assert name == "a.fits" and "b.fits: as good a match; the file name sorts later" in \
        choice.explanation


@pytest.mark.parametrize("where, keywords, message", [
    ("reference", {}, r"bad\.fits: USEAFTER 'soon' is not a date"),
    ("science", {"DATE-OBS": "3 Feb"}, r"DATE-OBS '3 Feb' is not a date"),
    ("science", {"DATE-OBS": "2030-02-03", "TIME-OBS": "noon"}, r"TIME-OBS 'noon' is not a time"),
])
def test_damaged_dates_name_file_and_key(tmp_path, where, keywords, message):
    write_reference(tmp_path / "bad.fits", "DARK", ONE,
                    USEAFTER="soon" if where == "reference" else "2030-01-01")
    with pytest.raises(InputError, match=message):
        find_reference("dark", science(**keywords), tmp_path, None)


def test_a_damaged_date_on_a_reference_for_another_filter_does_not_stop_the_choice(tmp_path):
    write_reference(tmp_path / "bad_h.fits", "DARK", ONE, FILTER="H", USEAFTER="soon")
    write_reference(tmp_path / "good.fits", "DARK", ONE, USEAFTER="2030-01-01")
    assert choose("dark", tmp_path, science())[0] == "good.fits"


def test_crds_style_and_offset_dates_are_read(tmp_path):
    write_reference(tmp_path / "crds.fits", "DARK", ONE, USEAFTER="Feb 03 2030 00:00:01")
    assert choose("dark", tmp_path, science())[0] is None  # one second after DATE-OBS
    # 01:00 at +01:00 is 00:00 UTC: not after DATE-OBS
    write_reference(tmp_path / "crds.fits", "DARK", ONE, USEAFTER="2030-02-03T01:00:00+01:00")
    assert choose("dark", tmp_path, science())[0] == "crds.fits"


def test_the_choice_and_its_near_misses_are_on_the_step_and_its_status(tmp_path):
    """What the window shows on the step: StepResult.notes (also logged) and the status tooltip;
    a step that chose nothing has none."""
    from factories import write_model

    from iris_gui.engine.association import Member, Product
    from iris_gui.engine.pipeline import Image2Pipeline
    from iris_gui.state.statuses import result_status

    write_reference(tmp_path / "a_filter_h.fits", "DARK", ONE, FILTER="H", USEAFTER="2030-01-01")
    write_reference(tmp_path / "c_good.fits", "DARK", ONE, USEAFTER="2029-01-01")
    rate = write_model(tmp_path / "sci_rate.fits", ONE, **{"DATE-OBS": "2030-02-03T00:00:00"})
    result = Image2Pipeline(ref_dir=tmp_path).run_product(
        Product("sci", [Member(str(rate), "science")]))
    dark = result.steps["dark_current"]
    assert len(dark.notes) == 1
    assert dark.notes[0].startswith("dark_current: chose c_good.fits from ")
    assert "also considered a_filter_h.fits: FILTER differs (H vs KN3)" in dark.notes[0]
    assert dark.notes[0] in result_status("dark_current", dark).tooltip
    assert result.steps["flat_field"].notes == []  # no flat in the folder: skipped, no choice
