"""Image and reference models, and reading/writing the IRIS imager FITS layout.

Science files: PRIMARY holds the metadata; image extensions SCI (float32), ERR (float32),
DQ (uint32), optional SUBARR_MAP (uint16) and AREA (float32). Files from the newer upstream
pipeline name the science extension DATA, store DQ as uint16 and carry an ASDF extension with the
metadata tree: all of that is read, none of it required. We always write SCI and uint32 DQ.

Arrays in a model are float32 / uint32 in native byte order. Models are treated as immutable once a
step has returned them: a step makes new arrays only for what it changes and shares the rest
(``derive``), so cached intermediate results stay valid and cheap.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import header_values
from .dq import DQ_DTYPE
from .errors import InputError
from .files import atomic_write, check_not_lfs_pointer
from .lazy import fits

log = logging.getLogger(__name__)

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


def _new_header() -> fits.Header:
    return fits.Header()  # astropy.io.fits is imported with the first model, not at start


@dataclass(eq=False)
class ImageModel:
    """One exposure or reference image: arrays plus the primary header that describes them."""

    data: np.ndarray
    err: np.ndarray
    dq: np.ndarray
    header: fits.Header = field(default_factory=_new_header)
    subarr_map: np.ndarray | None = None
    area: np.ndarray | None = None
    filename: str | None = None
    #: metadata tree from an upstream ASDF extension, if the file had one
    asdf_tree: dict | None = None
    #: extension headers of SCI kept for keywords that live there (WCS, units)
    sci_header: fits.Header = field(default_factory=_new_header)
    #: astropy WCS built by assign_wcs (None before)
    wcs: Any = None
    #: further image extensions written after SCI/ERR/DQ (e.g. WHT, CON of a resampled product)
    extra_arrays: dict[str, np.ndarray] = field(default_factory=dict)
    #: suspicious but usable things read_image found in the file (each names the file); they
    #: belong to the read, so ``derive`` does not carry them forward
    read_warnings: list[str] = field(default_factory=list)

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
        """EXPTIME in seconds (finite, >= 0; InputError naming the file if it is not)."""
        return header_values.exposure_time(self.header, self.name)

    @property
    def window(self) -> SubarrayWindow:
        """The detector window this array covers: the SUBSTRT/SUBSIZE keywords, or the whole
        array when the exposure says FULL (or says nothing)."""
        ny, nx = self.image_shape
        name = str(self.header.get("SUBARRAY", "FULL") or "FULL").strip().upper()
        keys = ("SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2")
        values = header_values.window_values(self.header, self.filename or self.name)
        if all(k in values for k in keys):
            x0, y0, xs, ys = (values[k] for k in keys)
            if (xs, ys) != (nx, ny):
                raise InputError(
                    f"{self.name}: SUBSIZE1/SUBSIZE2 = {xs}x{ys} but the data are {nx}x{ny}"
                )
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


def read_image(path: str | os.PathLike, *, what: str = "science file",
               rows_from_file: bool = False) -> ImageModel:
    """Read a science or reference image. Raises InputError naming the file (and the extension,
    card or keyword) for anything wrong; suspicious input goes to ``model.read_warnings``.
    ``rows_from_file``: plain float32 SCI and ERR stay in the file (``file_rows``).
    The reading code lives in ``reading``."""
    from .reading import read_image as read

    return read(path, what=what, rows_from_file=rows_from_file)


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
    check_not_lfs_pointer(path, "photom reference")
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
