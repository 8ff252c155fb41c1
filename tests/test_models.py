"""Image models and the FITS layout: round trips, upstream variants, atomic writes, photom."""

from __future__ import annotations

import io
import logging
import os

import asdf
import numpy as np
import pytest
from astropy.io import fits

from iris_gui.engine.errors import InputError
from iris_gui.engine.models import (
    ImageModel,
    PhotomRow,
    SubarrayWindow,
    read_image,
    read_photom,
    write_image,
    write_photom,
)


def _native_order(array: np.ndarray) -> bool:
    return array.dtype.byteorder in ("=", "|") or array.dtype.isnative


def _header(**extra) -> fits.Header:
    header = fits.Header()
    header["INSTRUME"] = "IRIS"
    header["DETECTOR"] = "IMG1"
    header["FILTER"] = "KN3"
    header["EXPTIME"] = 120.5
    header["TELESCOP"] = "TMT"
    for key, value in extra.items():
        header[key] = value
    return header


def _model(shape, header=None, *, subarr_map=None, area=None) -> ImageModel:
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) * 0.5 - 3.25
    err = np.full(shape, 0.125, np.float32)
    dq = np.zeros(shape, np.uint32)
    return ImageModel(data=data, err=err, dq=dq, header=header if header is not None else _header(),
                      subarr_map=subarr_map, area=area)


# ---- round trips ----------------------------------------------------------------------------------

def test_round_trip_2d(tmp_path):
    shape = (6, 8)
    submap = np.zeros(shape[-2:], np.uint16)
    submap[1:3, 2:5] = 1
    submap[4, 7] = 65535
    area = np.linspace(0.9, 1.1, 48, dtype=np.float32).reshape(shape)
    model = _model(shape, _header(SUBARRAY="SUB8", SUBSTRT1=11, SUBSTRT2=21, SUBSIZE1=8, SUBSIZE2=6),
                   subarr_map=submap, area=area)
    model.dq[0, 0] = 2**16 + 1
    model.dq[0, 1] = 2**31
    model.dq[5, 7] = 2**32 - 1
    model.data[2, 3] = np.nan
    path = write_image(model, tmp_path / "x_rate.fits")
    assert path == tmp_path / "x_rate.fits"

    back = read_image(path)
    assert back.data.dtype == np.float32 and _native_order(back.data)
    assert back.err.dtype == np.float32 and _native_order(back.err)
    assert back.dq.dtype == np.uint32 and _native_order(back.dq)
    assert back.subarr_map.dtype == np.uint16 and _native_order(back.subarr_map)
    assert back.area.dtype == np.float32
    np.testing.assert_array_equal(back.data, model.data)
    assert np.isnan(back.data[2, 3])
    np.testing.assert_array_equal(back.err, model.err)
    np.testing.assert_array_equal(back.dq, model.dq)
    assert int(back.dq[0, 0]) == 65537
    assert int(back.dq[0, 1]) == 2147483648
    assert int(back.dq[5, 7]) == 4294967295
    np.testing.assert_array_equal(back.subarr_map, submap)
    assert int(back.subarr_map[4, 7]) == 65535
    np.testing.assert_array_equal(back.area, area)

    assert back.instrument == "IRIS"
    assert back.detector == "IMG1"
    assert back.filter == "KN3"
    assert back.exptime == 120.5
    assert back.header["TELESCOP"] == "TMT"
    assert back.filename == str(path)
    assert back.name == "x_rate.fits"
    assert back.is_subarray
    assert not back.is_3d
    assert back.nints == 1
    assert back.image_shape == (6, 8)
    assert back.window == SubarrayWindow(11, 21, 8, 6, "SUB8")
    assert back.window.xstop == 18
    assert back.window.ystop == 26


def test_round_trip_3d(tmp_path):
    shape = (3, 4, 5)
    model = _model(shape)
    model.dq[1, 2, 3] = 2**31 + 2**18
    model.dq[2, 0, 0] = 2**20
    path = write_image(model, tmp_path / "y_rateints.fits")
    back = read_image(path)
    assert back.is_3d
    assert back.nints == 3
    assert back.shape == (3, 4, 5)
    assert back.image_shape == (4, 5)
    assert back.data.dtype == np.float32 and back.dq.dtype == np.uint32
    np.testing.assert_array_equal(back.data, model.data)
    np.testing.assert_array_equal(back.dq, model.dq)
    assert int(back.dq[1, 2, 3]) == 2**31 + 2**18
    assert back.subarr_map is None and back.area is None
    assert not back.is_subarray
    assert back.window == SubarrayWindow(1, 1, 5, 4, "FULL")


def test_written_layout_is_sci_and_uint32(tmp_path):
    model = _model((4, 4))
    model.dq[:] = 7
    path = write_image(model, tmp_path / "z.fits")
    with fits.open(path) as hdul:
        names = [h.name for h in hdul]
        assert names == ["PRIMARY", "SCI", "ERR", "DQ"]
        assert hdul["DQ"].data.dtype == np.uint32
        assert hdul["SCI"].data.dtype.kind == "f" and hdul["SCI"].data.dtype.itemsize == 4
        assert hdul[0].header["INSTRUME"] == "IRIS"


def test_big_endian_input_becomes_native(tmp_path):
    model = _model((3, 3))
    model = model.derive(data=model.data.astype(">f4"), dq=np.full((3, 3), 2**31, ">u4"))
    back = read_image(write_image(model, tmp_path / "be.fits"))
    assert back.data.dtype == np.dtype("float32") and back.data.dtype.isnative
    assert back.dq.dtype == np.dtype("uint32") and back.dq.dtype.isnative
    assert int(back.dq[1, 1]) == 2**31


def test_sci_header_keywords_kept(tmp_path):
    model = _model((3, 3))
    model.sci_header["BUNIT"] = "DN/s"
    back = read_image(write_image(model, tmp_path / "u.fits"))
    assert back.sci_header["BUNIT"] == "DN/s"
    assert "NAXIS1" not in back.sci_header
    assert "EXTNAME" not in back.sci_header


# ---- windows and cutouts ----------------------------------------------------------------------------

def test_subarray_window_contains():
    full = SubarrayWindow(1, 1, 100, 80)
    inner = SubarrayWindow(11, 21, 30, 40, "SUB")
    assert full.contains(inner)
    assert not inner.contains(full)
    assert full.contains(full)
    # touches the last column: x 71..100 is inside, 72..101 is not
    assert full.contains(SubarrayWindow(71, 1, 30, 80))
    assert not full.contains(SubarrayWindow(72, 1, 30, 80))
    assert not full.contains(SubarrayWindow(1, 42, 10, 40))
    assert full.contains(SubarrayWindow(1, 41, 10, 40))


def test_subarray_window_slices_within():
    outer = SubarrayWindow(1, 1, 100, 80)
    inner = SubarrayWindow(11, 21, 30, 40)
    assert inner.slices_within(outer) == (slice(20, 60), slice(10, 40))
    # relative to an outer window that itself starts later
    outer2 = SubarrayWindow(5, 11, 50, 50)
    assert inner.slices_within(outer2) == (slice(10, 50), slice(6, 36))
    assert SubarrayWindow(3, 2, 4, 5).describe().startswith("FULL x 3..6, y 2..6")


def test_cutout_by_hand():
    data = np.arange(30, dtype=np.float32).reshape(5, 6)  # value = 6*row + col
    area = data + 100
    submap = np.arange(30, dtype=np.uint16).reshape(5, 6)
    model = ImageModel(data=data, err=data * 2, dq=np.arange(30, dtype=np.uint32).reshape(5, 6),
                       header=_header(), subarr_map=submap, area=area)
    window = SubarrayWindow(3, 2, 2, 3, "SUBX")  # columns 2..3, rows 1..3 (0-based)
    cut = model.cutout(window)
    np.testing.assert_array_equal(cut.data, [[8, 9], [14, 15], [20, 21]])
    np.testing.assert_array_equal(cut.err, [[16, 18], [28, 30], [40, 42]])
    np.testing.assert_array_equal(cut.dq, [[8, 9], [14, 15], [20, 21]])
    np.testing.assert_array_equal(cut.subarr_map, [[8, 9], [14, 15], [20, 21]])
    np.testing.assert_array_equal(cut.area, [[108, 109], [114, 115], [120, 121]])
    assert cut.header["SUBARRAY"] == "SUBX"
    assert (cut.header["SUBSTRT1"], cut.header["SUBSTRT2"]) == (3, 2)
    assert (cut.header["SUBSIZE1"], cut.header["SUBSIZE2"]) == (2, 3)
    assert cut.window == window
    # the original is untouched
    assert "SUBSTRT1" not in model.header
    assert model.window == SubarrayWindow(1, 1, 6, 5, "FULL")
    # cut of a subarray model: coordinates are detector coordinates
    cut2 = cut.cutout(SubarrayWindow(4, 3, 1, 2, "ONE"))
    np.testing.assert_array_equal(cut2.data, [[15], [21]])


def test_cutout_3d():
    data = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    model = ImageModel(data=data, err=np.zeros_like(data), dq=np.zeros(data.shape, np.uint32),
                       header=_header())
    cut = model.cutout(SubarrayWindow(2, 3, 2, 2))
    np.testing.assert_array_equal(cut.data, [[[9, 10], [13, 14]], [[25, 26], [29, 30]]])


def test_derive_shares_arrays_and_copies_header():
    model = _model((2, 2))
    other = model.derive(data=model.data + 1)
    assert other.err is model.err and other.dq is model.dq
    other.header["NEW"] = 1
    assert "NEW" not in model.header
    assert other.data[0, 0] == model.data[0, 0] + 1


# ---- upstream variants --------------------------------------------------------------------------------

def _asdf_bytes(tree=None) -> bytes:
    tree = tree or {"meta": {"instrument": {"name": "LIGER", "detector": "IMG", "filter": "Y"},
                             "exposure": {"exposure_time": 12.0}}}
    buffer = io.BytesIO()
    asdf.AsdfFile(tree).write_to(buffer)
    return buffer.getvalue()


def _upstream_file(path, *, header=None, asdf_hdu=None, shape=(4, 5)):
    data = (np.arange(np.prod(shape)).reshape(shape) * 1.5).astype(np.float32)
    dq = np.zeros(shape, np.uint16)
    dq[0, 0] = 2**15 + 1
    dq[1, 2] = 2**11
    hdus = [fits.PrimaryHDU(header=header if header is not None else fits.Header()),
            fits.ImageHDU(data, name="DATA"),
            fits.ImageHDU(np.full(shape, 0.5, np.float32), name="ERR"),
            fits.ImageHDU(dq, name="DQ")]
    if asdf_hdu is not None:
        hdus.append(asdf_hdu)
    fits.HDUList(hdus).writeto(path)
    return data, dq


def _asdf_image_hdu(raw: bytes) -> fits.ImageHDU:
    return fits.ImageHDU(np.frombuffer(raw, np.uint8), name="ASDF")


def _asdf_table_hdu(raw: bytes) -> fits.BinTableHDU:
    column = fits.Column(name="ASDF_METADATA", format=f"{len(raw)}B",
                         array=np.frombuffer(raw, np.uint8)[None, :])
    return fits.BinTableHDU.from_columns([column], name="ASDF")


def test_upstream_data_extension_and_uint16_dq(tmp_path):
    path = tmp_path / "up_rate.fits"
    data, dq = _upstream_file(path, header=_header())
    with fits.open(path) as hdul:
        assert hdul["DQ"].data.dtype == np.uint16  # stored as the upstream does
    model = read_image(path)
    np.testing.assert_array_equal(model.data, data)
    assert model.dq.dtype == np.uint32
    assert int(model.dq[0, 0]) == 32769
    assert int(model.dq[1, 2]) == 2048
    np.testing.assert_array_equal(model.err, 0.5)
    assert model.asdf_tree is None
    # written back as SCI + uint32
    out = write_image(model, tmp_path / "up_cal.fits")
    with fits.open(out) as hdul:
        assert "SCI" in hdul and "DATA" not in hdul
        assert hdul["DQ"].data.dtype == np.uint32


@pytest.mark.parametrize("kind", ["image", "table"])
def test_upstream_asdf_extension_fills_metadata(tmp_path, kind):
    raw = _asdf_bytes()
    hdu = _asdf_image_hdu(raw) if kind == "image" else _asdf_table_hdu(raw)
    path = tmp_path / f"asdf_{kind}.fits"
    data, _ = _upstream_file(path, header=fits.Header(), asdf_hdu=hdu)
    model = read_image(path)
    np.testing.assert_array_equal(model.data, data)
    assert model.dq.dtype == np.uint32
    assert int(model.dq[0, 0]) == 32769
    assert model.instrument == "LIGER"
    assert model.detector == "IMG"
    assert model.filter == "Y"
    assert model.exptime == 12.0
    assert model.asdf_tree["instrument"]["name"] == "LIGER"
    assert model.asdf_tree["exposure"]["exposure_time"] == 12.0


@pytest.mark.parametrize("kind", ["image", "table"])
def test_header_wins_over_asdf_tree(tmp_path, kind):
    raw = _asdf_bytes()
    hdu = _asdf_image_hdu(raw) if kind == "image" else _asdf_table_hdu(raw)
    header = fits.Header()
    header["INSTRUME"] = "IRIS"
    header["EXPTIME"] = 99.0
    path = tmp_path / f"wins_{kind}.fits"
    _upstream_file(path, header=header, asdf_hdu=hdu)
    model = read_image(path)
    assert model.instrument == "IRIS"
    assert model.exptime == 99.0
    # the keywords the header lacks still come from the tree
    assert model.filter == "Y"
    assert model.detector == "IMG"


def test_corrupt_asdf_extension_only_warns(tmp_path, caplog):
    path = tmp_path / "corrupt.fits"
    junk = fits.ImageHDU(np.frombuffer(b"#ASDF 1.0.0\nthis is not yaml: [", np.uint8), name="ASDF")
    data, _ = _upstream_file(path, header=_header(), asdf_hdu=junk)
    with caplog.at_level(logging.WARNING, logger="iris_gui"):
        model = read_image(path)
    np.testing.assert_array_equal(model.data, data)
    assert model.asdf_tree is None
    assert model.instrument == "IRIS"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("ASDF" in r.getMessage() and str(path) in r.getMessage() for r in warnings)


# ---- atomic writes ------------------------------------------------------------------------------------

def test_write_onto_protected_input_refused(tmp_path):
    source = write_image(_model((3, 3)), tmp_path / "in_rate.fits")
    before = source.read_bytes()
    model = read_image(source)
    model = model.derive(data=model.data * 2)
    with pytest.raises(InputError, match="in_rate.fits"):
        write_image(model, source, protected=[source])
    # also through another spelling of the same path
    other_spelling = tmp_path / "." / "in_rate.fits"
    with pytest.raises(InputError, match="input"):
        write_image(model, other_spelling, protected=[str(source)])
    assert source.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["in_rate.fits"]


def test_failed_write_leaves_no_partial_or_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "out_cal.fits"
    previous = write_image(_model((3, 3)), target)
    before = previous.read_bytes()
    seen_temp = []

    def broken_writeto(self, name, *args, **kwargs):
        with open(name, "wb") as handle:  # leave a partial temp file behind
            handle.write(b"SIMPLE  =                    T")
        seen_temp.append(str(name))
        raise OSError("disk full")

    monkeypatch.setattr(fits.HDUList, "writeto", broken_writeto)
    with pytest.raises(InputError, match="cannot write .*out_cal.fits: disk full"):
        write_image(_model((5, 5)), target)
    with pytest.raises(InputError, match="cannot write .*new_cal.fits: disk full"):
        write_image(_model((5, 5)), tmp_path / "new_cal.fits")
    assert len(seen_temp) == 2
    assert all(os.path.dirname(t) == str(tmp_path) for t in seen_temp)
    assert sorted(os.listdir(tmp_path)) == ["out_cal.fits"]
    assert target.read_bytes() == before
    monkeypatch.undo()
    assert read_image(target).shape == (3, 3)


# ---- photom ---------------------------------------------------------------------------------------------

def test_photom_round_trip_and_row_for(tmp_path):
    rows = [PhotomRow("KN3", 1.25e-3, 2.5e-5), PhotomRow("H", 3.5, 0.125), PhotomRow("Y", 0.5, 0.0)]
    header = fits.Header()
    header["REFTYPE"] = "PHOTOM"
    header["INSTRUME"] = "IRIS"
    path = write_photom(rows, header, tmp_path / "photom.fits")
    ref = read_photom(path)
    assert ref.filename == str(path)
    assert ref.header["REFTYPE"] == "PHOTOM"
    assert [r.filter for r in ref.rows] == ["KN3", "H", "Y"]
    assert ref.rows[0].photmjsr == pytest.approx(1.25e-3, rel=1e-6)
    assert ref.rows[0].uncertainty == pytest.approx(2.5e-5, rel=1e-6)
    assert ref.row_for("H").photmjsr == 3.5
    assert ref.row_for(" kn3 ").uncertainty == pytest.approx(2.5e-5, rel=1e-6)
    assert ref.row_for("J") is None
    assert ref.row_for(None) is None


def test_photom_missing_column(tmp_path):
    path = tmp_path / "badphotom.fits"
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="FILTER", format="8A", array=np.array(["KN3"]))], name="PHOTOM")
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    with pytest.raises(InputError, match="PHOTMJSR"):
        read_photom(path)
    with pytest.raises(InputError, match="not found"):
        read_photom(tmp_path / "absent.fits")


def test_read_converts_scaled_and_unsigned_arrays_exactly(tmp_path):
    """Arrays come from the memory map through one conversion: unsigned integers stored with
    BZERO 2**(bits-1) come back bit for bit, other BSCALE/BZERO give physical values, and no
    returned array is a view of the (closed) file."""
    stored = np.array([[0, 2, -4], [6, 8, 100]], np.int16)
    sci = fits.ImageHDU(stored, name="SCI")
    sci.header["BSCALE"], sci.header["BZERO"] = 0.5, 10.0   # physical = 10 + 0.5 * stored
    dq_values = np.array([[0, 1, 2**31], [2**31 + 5, 2**32 - 1, 1 << 30]], np.uint32)
    map_values = np.array([[0, 1, 2], [65535, 3, 0]], np.uint16)
    path = tmp_path / "scaled_rate.fits"
    fits.HDUList([fits.PrimaryHDU(), sci, fits.ImageHDU(dq_values, name="DQ"),
                  fits.ImageHDU(map_values, name="SUBARR_MAP")]).writeto(path)
    with fits.open(path, do_not_scale_image_data=True) as raw:  # stored as FITS stores them
        assert raw["DQ"].header["BZERO"] == 2**31 and raw["SUBARR_MAP"].header["BZERO"] == 2**15
    model = read_image(path)
    np.testing.assert_array_equal(model.data, [[10, 11, 8], [13, 14, 60]])
    assert model.data.dtype == np.float32
    np.testing.assert_array_equal(model.dq, dq_values)
    np.testing.assert_array_equal(model.subarr_map, map_values)
    for array in (model.data, model.err, model.dq, model.subarr_map):
        assert type(array) is np.ndarray and array.dtype.isnative and array.flags.writeable
        owner = array
        while isinstance(owner, np.ndarray) and owner.base is not None:
            owner = owner.base
        assert isinstance(owner, np.ndarray) and type(owner) is np.ndarray  # not the file's mmap


def test_written_files_get_the_usual_permissions(tmp_path):
    """Outputs are readable like any new file (0666 - umask), not mkstemp's private 0600."""
    from iris_gui.engine.files import _UMASK, atomic_write_text

    path = atomic_write_text(tmp_path / "note.txt", "hello")
    assert path.read_text() == "hello"
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~_UMASK
    assert os.stat(path).st_mode & 0o044 == 0o044 & ~_UMASK  # group/others can read (umask 022)
