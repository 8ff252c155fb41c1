"""Image and reference models, and reading/writing the IRIS imager FITS layout (DESIGN.md §3).

Science files: PRIMARY holds the metadata; image extensions SCI (float32), ERR (float32),
DQ (uint32), optional SUBARR_MAP (uint16) and AREA (float32). Files from the newer upstream
pipeline name the science extension DATA, store DQ as uint16 and carry an ASDF extension with the
metadata tree: all of that is read, none of it required. We always write SCI and uint32 DQ.

Arrays in a model are float32 / uint32 in native byte order. Models are treated as immutable once a
step has returned them: a step makes new arrays only for what it changes and shares the rest
(``derive``), so cached intermediate results stay valid and cheap.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from .dq import DQ_DTYPE
from .errors import InputError
from .files import atomic_write

log = logging.getLogger(__name__)

#: header keyword -> ASDF tree path used when the header lacks it (upstream liger_iris_pipeline)
_ASDF_METADATA = {
    "INSTRUME": ("instrument", "name"),
    "DETECTOR": ("instrument", "detector"),
    "FILTER": ("instrument", "filter"),
    "EXPTIME": ("exposure", "exposure_time"),
    "TELESCOP": ("telescope",),
    "SUBARRAY": ("subarray", "name"),
    "SUBSTRT1": ("subarray", "xstart"),
    "SUBSTRT2": ("subarray", "ystart"),
    "SUBSIZE1": ("subarray", "xsize"),
    "SUBSIZE2": ("subarray", "ysize"),
    "REFTYPE": ("reftype",),
    "S_DARK": ("cal_step", "dark_sub"),
}


@dataclass(frozen=True)
class SubarrayWindow:
    """A detector window, 1-based and inclusive of its first pixel, as FITS SUBSTRT/SUBSIZE say."""

    xstart: int
    ystart: int
    xsize: int
    ysize: int
    name: str = "FULL"

    @property
    def xstop(self) -> int:  # 1-based, inclusive
        return self.xstart + self.xsize - 1

    @property
    def ystop(self) -> int:
        return self.ystart + self.ysize - 1

    def contains(self, other: SubarrayWindow) -> bool:
        return (
            self.xstart <= other.xstart
            and self.ystart <= other.ystart
            and other.xstop <= self.xstop
            and other.ystop <= self.ystop
        )

    def slices_within(self, outer: SubarrayWindow) -> tuple[slice, slice]:
        """(rows, columns) that cut this window out of an array covering ``outer``."""
        y0 = self.ystart - outer.ystart
        x0 = self.xstart - outer.xstart
        return slice(y0, y0 + self.ysize), slice(x0, x0 + self.xsize)

    def describe(self) -> str:
        return (
            f"{self.name} x {self.xstart}..{self.xstop}, y {self.ystart}..{self.ystop} "
            f"({self.xsize}x{self.ysize}, 1-based)"
        )


@dataclass(eq=False)
class ImageModel:
    """One exposure or reference image: arrays plus the primary header that describes them."""

    data: np.ndarray
    err: np.ndarray
    dq: np.ndarray
    header: fits.Header = field(default_factory=fits.Header)
    subarr_map: np.ndarray | None = None
    area: np.ndarray | None = None
    filename: str | None = None
    #: metadata tree from an upstream ASDF extension, if the file had one
    asdf_tree: dict | None = None
    #: extension headers of SCI kept for keywords that live there (WCS, units)
    sci_header: fits.Header = field(default_factory=fits.Header)
    #: astropy WCS built by assign_wcs (None before)
    wcs: Any = None
    #: further image extensions written after SCI/ERR/DQ (e.g. WHT, CON of a resampled product)
    extra_arrays: dict[str, np.ndarray] = field(default_factory=dict)

    # ---- derived metadata -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def is_3d(self) -> bool:
        return self.data.ndim == 3

    @property
    def nints(self) -> int:
        return self.data.shape[0] if self.data.ndim == 3 else 1

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.data.shape[-2:]

    @property
    def name(self) -> str:
        return Path(self.filename).name if self.filename else "(in memory)"

    def keyword(self, key: str, default: Any = None) -> Any:
        value = self.header.get(key, default)
        return default if value is None else value

    @property
    def instrument(self) -> str | None:
        return _upper_or_none(self.header.get("INSTRUME"))

    @property
    def detector(self) -> str | None:
        return _upper_or_none(self.header.get("DETECTOR"))

    @property
    def filter(self) -> str | None:
        return _upper_or_none(self.header.get("FILTER"))

    @property
    def exptime(self) -> float | None:
        value = self.header.get("EXPTIME")
        return None if value is None else float(value)

    @property
    def window(self) -> SubarrayWindow:
        """The detector window this array covers: the SUBSTRT/SUBSIZE keywords, or the whole
        array when the exposure says FULL (or says nothing)."""
        ny, nx = self.image_shape
        name = str(self.header.get("SUBARRAY", "FULL") or "FULL").strip().upper()
        keys = ("SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2")
        if all(k in self.header for k in keys):
            try:
                x0, y0, xs, ys = (int(self.header[k]) for k in keys)
            except (TypeError, ValueError) as exc:
                raise InputError(f"{self.name}: subarray keywords are not integers") from exc
            if (xs, ys) != (nx, ny):
                raise InputError(
                    f"{self.name}: SUBSIZE1/SUBSIZE2 = {xs}x{ys} but the data are {nx}x{ny}"
                )
            if x0 < 1 or y0 < 1:
                raise InputError(f"{self.name}: SUBSTRT1/SUBSTRT2 must be >= 1 (1-based)")
            return SubarrayWindow(x0, y0, xs, ys, name)
        if name != "FULL":
            raise InputError(
                f"{self.name}: SUBARRAY = {name} but SUBSTRT1/SUBSTRT2/SUBSIZE1/SUBSIZE2 are missing"
            )
        return SubarrayWindow(1, 1, nx, ny, "FULL")

    @property
    def is_subarray(self) -> bool:
        return str(self.header.get("SUBARRAY", "FULL") or "FULL").strip().upper() != "FULL"

    # ---- derivation ---------------------------------------------------------------------
    def derive(self, **changes: Any) -> ImageModel:
        """A new model sharing every array not in ``changes`` and owning a copy of the header."""
        values = {
            "data": self.data,
            "err": self.err,
            "dq": self.dq,
            "header": self.header.copy(),
            "subarr_map": self.subarr_map,
            "area": self.area,
            "filename": self.filename,
            "asdf_tree": self.asdf_tree,
            "sci_header": self.sci_header.copy(),
            "wcs": self.wcs,
            "extra_arrays": dict(self.extra_arrays),
        }
        values.update(changes)
        return ImageModel(**values)

    def cutout(self, window: SubarrayWindow) -> ImageModel:
        """The part of this model that covers ``window`` (views, not copies)."""
        rows, cols = window.slices_within(self.window)
        header = self.header.copy()
        header["SUBARRAY"] = window.name
        header["SUBSTRT1"], header["SUBSTRT2"] = window.xstart, window.ystart
        header["SUBSIZE1"], header["SUBSIZE2"] = window.xsize, window.ysize
        return self.derive(
            data=self.data[..., rows, cols],
            err=self.err[..., rows, cols],
            dq=self.dq[..., rows, cols],
            subarr_map=None if self.subarr_map is None else self.subarr_map[rows, cols],
            area=None if self.area is None else self.area[rows, cols],
            header=header,
        )


def _upper_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text.upper() if text else None


# ---- reading ------------------------------------------------------------------------------------

def _native(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``array`` as ``dtype`` in native byte order, C-contiguous (copies only if needed)."""
    return np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("="))


def _read_asdf_tree(hdu: fits.hdu.base.ExtensionHDU, path: str) -> dict | None:
    """The metadata tree of an upstream ASDF extension (uint8 image or one-cell table)."""
    try:
        import asdf

        if isinstance(hdu, fits.BinTableHDU):
            raw = bytes(np.asarray(hdu.data[0][0]).tobytes())
        else:
            raw = np.asarray(hdu.data).tobytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with asdf.open(io.BytesIO(raw), lazy_load=True, memmap=False) as af:
                return _plain_tree(af.tree.get("meta", {}), depth=0)
    except Exception as exc:  # an unreadable extension is reported, never fatal
        log.warning("%s: ASDF extension could not be read (%s); using FITS headers only", path, exc)
        return None


def _plain_tree(node: Any, depth: int) -> Any:
    """Copy the scalar/dict/list parts of an ASDF tree, dropping arrays and custom objects."""
    if depth > 12:
        return None
    if isinstance(node, dict):
        return {str(k): _plain_tree(v, depth + 1) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain_tree(v, depth + 1) for v in node]
    if isinstance(node, (str, int, float, bool)) or node is None:
        return node
    return str(node) if not hasattr(node, "shape") else None


def _fill_header_from_asdf(header: fits.Header, tree: dict) -> None:
    for key, path in _ASDF_METADATA.items():
        if key in header:
            continue
        node: Any = tree
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and not isinstance(node, (dict, list)):
            header[key] = node


def read_image(path: str | os.PathLike, *, what: str = "science file") -> ImageModel:
    """Read a science or reference image. Raises InputError naming the file for anything wrong."""
    path = str(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: {what} not found")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a folder, not a FITS {what}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # Memory-mapped and unscaled: _image_data converts each array (byte order, the
            # BZERO offset of unsigned integers) in one pass from the file's pages into its
            # native array, instead of astropy reading a copy and then converting that.
            with fits.open(path, memmap=True, lazy_load_hdus=False,
                           do_not_scale_image_data=True) as hdul:
                hdul.verify("silentfix")
                return _model_from_hdul(hdul, path, what)
        except (InputError, OSError, ValueError, TypeError, IndexError, KeyError) as exc:
            damage = _damage_warning(caught)
            if damage:
                raise InputError(f"{path}: {what} is truncated or corrupted ({damage})") from exc
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{path}: not a readable FITS {what} ({exc})") from exc
        finally:
            damage = _damage_warning(caught)
            if damage:
                log.debug("%s: %s", path, damage)


def _damage_warning(caught: list) -> str | None:
    """The first astropy warning that says a file is cut short or damaged."""
    for warning in caught:
        text = str(warning.message)
        if "truncated" in text or "multiple of 2880" in text or "corrupted" in text:
            return " ".join(text.split())[:200]
    return None


#: BZERO that marks an unsigned integer stored in FITS's signed type, per signed dtype
_UNSIGNED_BZERO = {np.dtype("int16"): (1 << 15, np.uint16), np.dtype("int32"): (1 << 31, np.uint32),
                   np.dtype("int64"): (1 << 63, np.uint64)}


def _image_data(hdu) -> np.ndarray | None:
    """The physical values of an image HDU opened with ``do_not_scale_image_data``, as a new
    native-byte-order array (never a view of the file's memory map).

    Unsigned integers (signed type + BZERO 2**(bits-1), how FITS stores uint16/uint32) are
    recovered exactly by flipping the sign bit; other BSCALE/BZERO give float64, as the FITS
    standard defines physical = BZERO + BSCALE * stored.
    """
    raw = hdu.data
    if raw is None:
        return None
    bscale = hdu.header.get("BSCALE", 1)
    bzero = hdu.header.get("BZERO", 0)
    native = raw.dtype.newbyteorder("=")
    if bscale == 1 and bzero == 0:
        out = np.empty(raw.shape, native)
        np.copyto(out, raw)
        return out
    unsigned = _UNSIGNED_BZERO.get(native)
    if unsigned is not None and bscale == 1 and bzero == unsigned[0]:
        kind = unsigned[1]
        out = np.empty(raw.shape, kind)
        np.bitwise_xor(raw.view(np.dtype(kind).newbyteorder(raw.dtype.byteorder)),
                       kind(unsigned[0]), out=out)
        return out
    return raw.astype(np.float64) * bscale + bzero


def _find_extension(hdul: fits.HDUList, *names: str) -> fits.ImageHDU | None:
    for name in names:
        if name in hdul:
            return hdul[name]
    return None


def _model_from_hdul(hdul: fits.HDUList, path: str, what: str) -> ImageModel:
    header = hdul[0].header.copy()
    sci_hdu = _find_extension(hdul, "SCI", "DATA")
    if sci_hdu is None:
        raise InputError(f"{path}: no SCI or DATA extension in this {what}")
    data = _image_data(sci_hdu)
    if data is None:
        raise InputError(f"{path}: the {sci_hdu.name} extension holds no data")
    if data.dtype.kind != "f":
        raise InputError(
            f"{path}: {sci_hdu.name} must hold floating-point values, found {data.dtype.name}"
        )
    if data.ndim not in (2, 3):
        raise InputError(
            f"{path}: {sci_hdu.name} must be 2D (rate) or 3D (rateints), found {data.ndim}D "
            f"shape {data.shape}"
        )
    data = _native(data, np.float32)
    shape = data.shape

    err_hdu = _find_extension(hdul, "ERR")
    err_raw = None if err_hdu is None else _image_data(err_hdu)
    if err_raw is not None:
        if err_raw.shape != shape:
            raise InputError(f"{path}: ERR shape {err_raw.shape} differs from SCI {shape}")
        if err_raw.dtype.kind != "f":
            raise InputError(f"{path}: ERR must be floating point, found {err_raw.dtype.name}")
        err = _native(err_raw, np.float32)
    else:
        err = np.zeros(shape, np.float32)

    dq_hdu = _find_extension(hdul, "DQ")
    dq_raw = None if dq_hdu is None else _image_data(dq_hdu)
    if dq_raw is not None:
        if dq_raw.shape != shape and not (dq_raw.ndim == 2 and dq_raw.shape == shape[-2:]):
            raise InputError(f"{path}: DQ shape {dq_raw.shape} differs from SCI {shape}")
        if dq_raw.dtype.kind not in "ui":
            raise InputError(f"{path}: DQ must hold integers, found {dq_raw.dtype.name}")
        if dq_raw.dtype.kind == "i" and dq_raw.size and int(dq_raw.min()) < 0:
            raise InputError(f"{path}: DQ holds negative values; it must be an unsigned bitmask")
        dq = np.broadcast_to(_native(dq_raw, DQ_DTYPE), shape).copy() if dq_raw.shape != shape \
            else _native(dq_raw, DQ_DTYPE)
    else:
        dq = np.zeros(shape, DQ_DTYPE)

    subarr_map = None
    map_hdu = _find_extension(hdul, "SUBARR_MAP")
    map_raw = None if map_hdu is None else _image_data(map_hdu)
    if map_raw is not None:
        if map_raw.shape != shape[-2:]:
            raise InputError(
                f"{path}: SUBARR_MAP shape {map_raw.shape} differs from the image {shape[-2:]}"
            )
        subarr_map = _native(map_raw, np.uint16)

    area = None
    area_hdu = _find_extension(hdul, "AREA")
    area_raw = None if area_hdu is None else _image_data(area_hdu)
    if area_raw is not None:
        if area_raw.shape != shape[-2:]:
            raise InputError(f"{path}: AREA shape {area_raw.shape} differs from {shape[-2:]}")
        area = _native(area_raw, np.float32)

    asdf_tree = None
    if "ASDF" in hdul:
        asdf_tree = _read_asdf_tree(hdul["ASDF"], path)
        if asdf_tree:
            _fill_header_from_asdf(header, asdf_tree)

    sci_header = sci_hdu.header.copy()
    for structural in ("XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "PCOUNT",
                       "GCOUNT", "EXTNAME", "EXTVER", "BZERO", "BSCALE"):
        sci_header.remove(structural, ignore_missing=True, remove_all=True)

    model = ImageModel(data=data, err=err, dq=dq, header=header, subarr_map=subarr_map,
                       area=area, filename=path, asdf_tree=asdf_tree, sci_header=sci_header)
    _ = model.window  # validates the subarray keywords against the data shape
    return model


# ---- writing ------------------------------------------------------------------------------------

def model_to_hdul(model: ImageModel, extra_hdus: list[fits.hdu.base.ExtensionHDU] = ()) -> fits.HDUList:
    primary = fits.PrimaryHDU(header=model.header.copy())
    sci = fits.ImageHDU(_native(model.data, np.float32), header=model.sci_header.copy(), name="SCI")
    hdus = [
        primary,
        sci,
        fits.ImageHDU(_native(model.err, np.float32), name="ERR"),
        fits.ImageHDU(_native(model.dq, DQ_DTYPE), name="DQ"),
    ]
    if model.subarr_map is not None:
        hdus.append(fits.ImageHDU(_native(model.subarr_map, np.uint16), name="SUBARR_MAP"))
    if model.area is not None:
        hdus.append(fits.ImageHDU(_native(model.area, np.float32), name="AREA"))
    for name, array in model.extra_arrays.items():
        hdus.append(fits.ImageHDU(_native(array, array.dtype), name=name))
    hdus.extend(extra_hdus)
    return fits.HDUList(hdus)


def write_image(
    model: ImageModel,
    path: str | os.PathLike,
    *,
    protected: tuple[str | os.PathLike, ...] | list = (),
    extra_hdus: list[fits.hdu.base.ExtensionHDU] = (),
) -> Path:
    """Write ``model`` to ``path`` atomically; refuse to overwrite any ``protected`` input."""
    hdul = model_to_hdul(model, list(extra_hdus))
    return atomic_write(
        path, lambda tmp: hdul.writeto(tmp, overwrite=True, output_verify="silentfix"),
        protected=protected,
    )


# ---- references ----------------------------------------------------------------------------------

#: reference kind -> accepted REFTYPE / DATAMODL values (upper case)
REFERENCE_TYPES: dict[str, tuple[str, ...]] = {
    "dark": ("DARK", "DARKMODEL"),
    "flat": ("FLAT", "FLATMODEL"),
    "photom": ("PHOTOM", "IMAGERPHOTOMMODEL", "PHOTOMMODEL"),
    "distortion": ("DISTORTION", "DISTORTIONMODEL"),
}


def reference_kind(header: fits.Header) -> str | None:
    """Which reference kind a primary header declares through REFTYPE or DATAMODL, if any."""
    for key in ("REFTYPE", "DATAMODL"):
        value = str(header.get(key, "") or "").strip().upper()
        for kind, names in REFERENCE_TYPES.items():
            if value in names:
                return kind
    return None


@dataclass
class PhotomRow:
    filter: str
    photmjsr: float
    uncertainty: float


@dataclass
class PhotomReference:
    """The photom reference: a table of conversion factors (MJy/sr per DN/s) by FILTER."""

    rows: list[PhotomRow]
    header: fits.Header
    filename: str

    def row_for(self, filter_name: str | None) -> PhotomRow | None:
        if filter_name is None:
            return None
        for row in self.rows:
            if row.filter == filter_name.strip().upper():
                return row
        return None


def read_photom(path: str | os.PathLike) -> PhotomReference:
    path = str(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: photom reference not found")
    try:
        with fits.open(path, memmap=False) as hdul:
            header = hdul[0].header.copy()
            table_hdu = next((h for h in hdul[1:] if isinstance(h, fits.BinTableHDU)), None)
            if table_hdu is None:
                raise InputError(f"{path}: photom reference has no table extension")
            names = {n.upper(): n for n in table_hdu.columns.names}
            missing = [c for c in ("FILTER", "PHOTMJSR", "UNCERTAINTY") if c not in names]
            if missing:
                raise InputError(f"{path}: photom table lacks column(s) {', '.join(missing)}")
            table = table_hdu.data
            rows = [
                PhotomRow(str(f).strip().upper(), float(p), float(u))
                for f, p, u in zip(table[names["FILTER"]], table[names["PHOTMJSR"]],
                                   table[names["UNCERTAINTY"]], strict=True)
            ]
    except InputError:
        raise
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise InputError(f"{path}: not a readable FITS photom reference ({exc})") from exc
    return PhotomReference(rows=rows, header=header, filename=path)


def write_photom(rows: list[PhotomRow], header: fits.Header, path: str | os.PathLike) -> Path:
    columns = [
        fits.Column(name="FILTER", format="12A", array=np.array([r.filter for r in rows])),
        fits.Column(name="PHOTMJSR", format="E", array=np.array([r.photmjsr for r in rows])),
        fits.Column(name="UNCERTAINTY", format="E", array=np.array([r.uncertainty for r in rows])),
    ]
    hdul = fits.HDUList([fits.PrimaryHDU(header=header),
                         fits.BinTableHDU.from_columns(columns, name="PHOTOM")])
    return atomic_write(path, lambda tmp: hdul.writeto(tmp, overwrite=True))
