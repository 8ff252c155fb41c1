"""Backgrounds left in their files (file_rows.FileRows): the combine reads them a block of rows
at a time, with the same values, outputs and errors as reading them whole."""

from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.io import fits
from factories import context_for, write_model

from iris_gui.engine.background_combine import combine_backgrounds
from iris_gui.engine.errors import InputError
from iris_gui.engine.file_rows import FileRows, rows_in_file
from iris_gui.engine.models import read_image
from iris_gui.engine.steps import STEP_BY_NAME, bkg_subtract


def _values(shape, seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(10.0, 2.0, shape).astype(np.float32)
    values[1, 2] = np.nan  # NaN and inf travel as bytes like any value
    values[0, 0] = np.inf
    return values


def _sci_hdu_of(path):
    hdul = fits.open(path, memmap=True, do_not_scale_image_data=True)
    return hdul, hdul["SCI"]


def test_rows_and_windows_read_the_values_astropy_reads(tmp_path):
    values = _values((7, 5), 1)
    path = write_model(tmp_path / "b_rate.fits", values, values * 0.1)
    hdul, hdu = _sci_hdu_of(path)
    with hdul:
        frame = rows_in_file(hdu, str(path))
    assert isinstance(frame, FileRows) and frame.shape == (7, 5) and frame.dtype == np.float32
    np.testing.assert_array_equal(frame[0:7], values)
    np.testing.assert_array_equal(frame[2:3], values[2:3])  # one row
    np.testing.assert_array_equal(frame[6:], values[6:])  # the last row
    assert frame[5:5].shape == (0, 5)
    window = frame[..., 1:6, 2:4]  # what ImageModel.cutout asks for
    assert isinstance(window, FileRows) and window.shape == (5, 2)
    np.testing.assert_array_equal(window[0:5], values[1:6, 2:4])
    np.testing.assert_array_equal(window[4:5], values[5:6, 2:4])  # window rows, not file rows
    np.testing.assert_array_equal(np.asarray(window), values[1:6, 2:4])
    assert frame[0:3].dtype == np.float32 and frame[0:3].flags.c_contiguous
    with pytest.raises(TypeError):
        frame[0:6:2]


@pytest.mark.parametrize("change", ["bscale", "float64", "cube"])
def test_only_plain_two_dimensional_float32_is_left_in_the_file(tmp_path, change):
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    if change == "cube":
        values = np.stack([values, values])
    elif change == "float64":
        values = values.astype(np.float64)
    hdu = fits.ImageHDU(values, name="SCI")
    if change == "bscale":
        hdu.header["BSCALE"] = 2.0
    path = tmp_path / "x.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    with fits.open(path, memmap=True, do_not_scale_image_data=True) as hdul:
        assert rows_in_file(hdul["SCI"], str(path)) is None


def test_a_file_cut_short_during_the_run_is_an_error_naming_it(tmp_path):
    values = _values((64, 64), 2)
    path = write_model(tmp_path / "b_rate.fits", values)
    hdul, hdu = _sci_hdu_of(path)
    with hdul:
        frame = rows_in_file(hdu, str(path))
        offset = hdu.fileinfo()["datLoc"]
    os.truncate(path, offset + 10 * 64 * 4)  # overwritten by something else meanwhile
    np.testing.assert_array_equal(frame[0:10], values[0:10])
    with pytest.raises(InputError, match="b_rate.fits: the file became shorter"):
        frame[0:64]


def test_the_combine_of_file_rows_equals_the_combine_of_arrays(tmp_path, monkeypatch):
    """Several blocks of rows (a small block size), an outlier to clip and a NaN: the same bits."""
    import iris_gui.engine.background_combine as combine_module

    monkeypatch.setattr(combine_module, "BLOCK_PIXELS", 40)  # 40 // 9 = 4 rows a block
    shape = (23, 9)
    sci = [_values(shape, seed) for seed in range(5)]
    sci[3][4, 4] = 500.0
    err = [np.abs(s) * 0.01 + 0.5 for s in sci]
    paths = [write_model(tmp_path / f"b{k}_rate.fits", s, e) for k, (s, e) in
             enumerate(zip(sci, err, strict=True))]
    models = [read_image(p, rows_from_file=True) for p in paths]
    assert all(isinstance(m.data, FileRows) and isinstance(m.err, FileRows) for m in models)
    dq = [np.zeros(shape, np.uint32)]
    lazy = combine_backgrounds([m.data for m in models], [m.err for m in models], dq, sigma=2.0)
    eager = combine_backgrounds(sci, err, dq, sigma=2.0)
    for name in ("data", "err", "dq", "n_used"):
        np.testing.assert_array_equal(getattr(lazy, name), getattr(eager, name), err_msg=name)
    assert lazy.n_used[4, 4] == 4  # the outlier was clipped


def _step_output(tmp_path, science, backgrounds, **changes):
    values = STEP_BY_NAME["bkg_subtract"].defaults()
    values.update(changes)
    context = context_for(science, backgrounds, ref_dir=tmp_path)
    return STEP_BY_NAME["bkg_subtract"].run(read_image(science), values, context)


def test_the_step_leaves_its_backgrounds_in_the_files_with_the_same_result(tmp_path,
                                                                           monkeypatch):
    """bkg_subtract on a subarray science (the backgrounds cut to its window): the files' rows
    give the same output as whole copies."""
    full = [_values((12, 10), 10 + k) for k in range(3)]
    science = write_model(tmp_path / "sci_rate.fits", np.full((4, 5), 20.0), np.ones((4, 5)),
                          window=(3, 5))
    backgrounds = [write_model(tmp_path / f"bkg{k}_rate.fits", f, np.ones_like(f))
                   for k, f in enumerate(full)]
    seen = []
    real = bkg_subtract.background_for_science

    def spy(path, science_model, *, rows_from_file=False):
        model = real(path, science_model, rows_from_file=rows_from_file)
        seen.append(type(model.data).__name__)
        return model

    monkeypatch.setattr(bkg_subtract, "background_for_science", spy)
    lazy = _step_output(tmp_path, science, backgrounds)
    assert seen == ["FileRows"] * 3
    monkeypatch.setattr(bkg_subtract, "background_for_science",
                        lambda path, science_model, rows_from_file=False:
                        real(path, science_model, rows_from_file=False))
    eager = _step_output(tmp_path, science, backgrounds)
    for name in ("data", "err", "dq"):
        np.testing.assert_array_equal(getattr(lazy.model, name), getattr(eager.model, name))
    # the window (xstart 3, ystart 5: rows 4..7, columns 2..6 of the 1-based full frame)
    expected = 20.0 - np.nanmean(np.stack([f[4:8, 2:7] for f in full]), axis=0)
    finite = np.isfinite(expected)
    np.testing.assert_allclose(lazy.model.data[finite], expected[finite], rtol=1e-6)
