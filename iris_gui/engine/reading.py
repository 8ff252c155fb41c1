"""Reading the IRIS imager FITS layout into an ImageModel, refusing damaged files in our words.

``models.read_image`` calls ``read_image`` here. Everything that can be wrong with an input is an
InputError naming the file and, when it can be known, the extension, card or keyword:

* before opening: the path must be a regular file (a symlink to one is fine); a folder, named
  pipe, device or socket is refused from ``os.stat`` alone, so a FIFO never blocks the read;
* the cards: an illegal keyword name is refused; a lower-case keyword (astropy upper-cases it)
  and a value FITS cannot parse in a keyword no step needs (kept as text) are read warnings;
* a file astropy cannot open is walked block by block (``_diagnose``) to say which header or
  keyword is wrong (BITPIX, NAXISn, BSCALE/BZERO, a missing END, a file shorter than its
  headers say); library messages and advice are never passed on (they go to the debug log);
* the header values the steps use (``header_values.check_science_header``);
* a multi-chip file (more than one SCI, or DATA, extension; HST's two-chip exposures): refused,
  saying how many; iris_gui reads one-chip exposures.

Suspicious but usable input becomes ``model.read_warnings`` (also logged as warnings): both a SCI
and a DATA extension (which one is used is said), DQ bits above 31 (int64/uint64 DQ; dropped,
with the pixel count), a science file without INSTRUME or DETECTOR, subarray keywords replaced
from the upstream's ASDF tree. What files other pipelines (and iris_gui) wrote need — the ASDF
tree, the upstream's WCS convention, the liger layout's DQ32 — is in ``reading_field``.
"""

from __future__ import annotations

import logging
import math
import os
import re
import warnings
from typing import Any

import numpy as np
from astropy.io import fits

from .buffer_pool import take as take_buffer
from .dq import DQ_DTYPE
from .errors import InputError
from .file_rows import FileRows, rows_in_file
from .files import check_not_lfs_pointer, check_regular_file
from .header_values import check_science_header
from .models import ImageModel, _native
from .reading_field import (
    fill_header_from_asdf,
    is_own_file,
    merge_dq32,
    note_upstream_wcs,
    read_asdf_tree,
    repair_window_from_tree,
)

log = logging.getLogger("iris_gui.engine.models")

_LEGAL_KEYWORD = re.compile(r"^[A-Z0-9_-]*$")
_COMMENTARY = ("", "COMMENT", "HISTORY", "CONTINUE")
#: what=... values whose INSTRUME/DETECTOR are compared with something (warn when absent)
_IDENTITY_CHECKED = {"science file": "references will be matched without checking the {what}",
                     "background exposure": "it is used without checking the {what} against "
                                            "the science exposure"}
#: astropy errors a damaged file can raise while it is read (anything else is our bug)
_READ_ERRORS = (OSError, ValueError, TypeError, IndexError, KeyError, AttributeError,
                OverflowError, MemoryError, fits.VerifyError)


def _check_regular_file(path: str, what: str) -> None:
    check_regular_file(path, what, noun=f"FITS {what}")
    check_not_lfs_pointer(path, what)


def read_image(path: str | os.PathLike, *, what: str = "science file",
               rows_from_file: bool = False) -> ImageModel:
    """Read a science or reference image. Raises InputError naming the file for anything wrong.

    ``rows_from_file``: SCI and ERR stored as plain 2-D float32 stay in the file, as
    ``file_rows.FileRows`` read a block of rows at a time (bkg_subtract's backgrounds)."""
    path = str(path)
    _check_regular_file(path, what)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # Memory-mapped and unscaled: _image_data converts each array (byte order, the
            # BZERO offset of unsigned integers) in one pass from the file's pages into its
            # native array, instead of astropy reading a copy and then converting that.
            with fits.open(path, memmap=True, lazy_load_hdus=False,
                           do_not_scale_image_data=True) as hdul:
                _check_cards(hdul, path, notes)
                try:
                    hdul.verify("silentfix")
                except fits.VerifyError as exc:
                    raise InputError(_verify_message(path, exc)) from exc
                model = _model_from_hdul(hdul, path, what, notes, rows_from_file)
        except PermissionError as exc:
            raise InputError(f"{path}: {what} cannot be read (permission denied)") from exc
        except InputError:
            if _damaged(caught):
                raise InputError(_diagnose(path, what) or
                                 f"{path}: {what} is truncated or corrupted") from None
            raise
        except _READ_ERRORS as exc:
            log.debug("%s: reading failed: %r", path, exc)
            message = _diagnose(path, what)
            if message is None:
                message = (f"{path}: {what} is truncated or corrupted" if _damaged(caught)
                           else f"{path}: not a readable FITS {what}")
            raise InputError(message) from exc
    for note in notes:
        log.warning("%s", note)
    model.read_warnings = notes
    return model


def _damaged(caught: list) -> bool:
    """True when astropy warned that the file is cut short or damaged."""
    for warning in caught:
        text = str(warning.message)
        if "truncated" in text or "multiple of 2880" in text or "corrupted" in text:
            log.debug("astropy: %s", " ".join(text.split())[:300])
            return True
    return False


def _hdu_label(index: int, name: str | None) -> str:
    if index == 0:
        return "primary header"
    return f"extension {index}" + (f" ({name})" if name else "")


def _check_cards(hdul: fits.HDUList, path: str, notes: list[str]) -> None:
    """Refuse illegal keyword names; note lower-case keywords and unparsable values."""
    for index, hdu in enumerate(hdul):
        for number, card in enumerate(hdu.header.cards, start=1):
            # the card as it stood in the file (``card.image`` would be the repaired one)
            image = getattr(card, "_image", None) or card.image
            if image.startswith("HIERARCH"):
                continue
            raw = image[:8].rstrip()
            where = f"{_hdu_label(index, hdu.name if index else None)}, card {number}"
            if not _LEGAL_KEYWORD.match(raw.upper()):
                shown = raw.encode("ascii", "replace").decode()
                raise InputError(f"{path}: {where}: {shown!r} is not a legal FITS keyword")
            if raw != raw.upper():
                notes.append(f"{path}: {where}: keyword {raw!r} is not upper case; read as "
                             f"{raw.upper()}")
            if raw.upper() in _COMMENTARY:
                continue
            try:
                card.value  # noqa: B018 - parsing it is the check
            except (fits.VerifyError, ValueError):
                text = image[10:].split("/")[0].strip()
                notes.append(f"{path}: {where}: the value of {raw.upper()} ({text[:30]}) is "
                             f"not valid FITS; it is kept as text")


def _verify_message(path: str, exc: Exception) -> str:
    text = str(exc)
    hdu = re.search(r"HDU (\d+)", text)
    card = re.search(r"Card (\d+)", text)
    where = ""
    if hdu:
        where = _hdu_label(int(hdu.group(1)), None)
        if card:
            where += f", card {int(card.group(1)) + 1}"
        where = f" ({where})"
    return f"{path}: a header card does not follow the FITS standard and cannot be repaired{where}"


# ---- saying what is wrong with a file astropy could not read ---------------------------------------

_BITPIX = {8: 1, 16: 2, 32: 4, 64: 8, -32: 4, -64: 8}
_BLOCK = 2880


def _raw_value(cards: dict[str, str], key: str) -> str | None:
    text = cards.get(key)
    if text is None:
        return None
    text = text.strip()
    if text.startswith("'"):
        return text.split("'")[1] if text.count("'") >= 2 else text
    return text.split("/")[0].strip()


def _raw_int(cards: dict[str, str], key: str, label: str, path: str, low: int, high: int,
             default: int | None = None) -> int:
    text = _raw_value(cards, key)
    if text is None:
        if default is None:
            raise InputError(f"{path}: {label}: {key} is missing")
        return default
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{path}: {label}: {key} = {text[:30]} is not an integer") from None
    if not low <= value <= high:
        raise InputError(f"{path}: {label}: {key} = {text[:30]} is outside {low}..{high}")
    return value


def _diagnose(path: str, what: str) -> str | None:
    """Our message for the first structural problem of the file, or None if none is found."""
    try:
        return _walk(path, what)
    except InputError as exc:
        return str(exc)
    except OSError:
        return None


def _walk(path: str, what: str) -> None:
    size = os.path.getsize(path)
    offset, index = 0, 0
    with open(path, "rb") as handle:
        while offset < size:
            cards: dict[str, str] = {}
            label = _hdu_label(index, None)
            number = 0
            ended = False
            while not ended:
                block = handle.read(_BLOCK)
                if offset == 0 and not block.startswith(b"SIMPLE  ="):
                    raise InputError(f"{path}: not a readable FITS {what} (it does not begin "
                                     f"with a FITS header)")
                if len(block) < _BLOCK:
                    raise InputError(f"{path}: {what} is truncated: the {label} is cut off "
                                     f"before its END card")
                for start in range(0, _BLOCK, 80):
                    image = block[start:start + 80].decode("ascii", "replace")
                    key = image[:8].rstrip()
                    number += 1
                    if key == "END":
                        ended = True
                        break
                    if not _LEGAL_KEYWORD.match(key.upper()) and not image.startswith("HIERARCH"):
                        raise InputError(f"{path}: {label}, card {number}: {key!r} is not "
                                         f"a legal FITS keyword")
                    if image[8:10] == "= ":
                        cards.setdefault(key.upper(), image[10:])
                offset += _BLOCK
            name = _raw_value(cards, "EXTNAME")
            label = _hdu_label(index, name.strip() if name else None)
            bitpix = _raw_int(cards, "BITPIX", label, path, -64, 64)
            if bitpix not in _BITPIX:
                raise InputError(f"{path}: {label}: BITPIX = {bitpix} is not a FITS data type")
            naxis = _raw_int(cards, "NAXIS", label, path, 0, 999)
            pixels = 1 if naxis else 0
            for axis in range(1, naxis + 1):
                pixels *= _raw_int(cards, f"NAXIS{axis}", label, path, 0, 1 << 31)
            pcount = _raw_int(cards, "PCOUNT", label, path, 0, 1 << 40, default=0)
            gcount = _raw_int(cards, "GCOUNT", label, path, 1, 1 << 31, default=1)
            for key in ("BSCALE", "BZERO"):
                text = _raw_value(cards, key)
                if text is None:
                    continue
                try:
                    value = float(text.replace("D", "E"))
                except ValueError:
                    raise InputError(f"{path}: {label}: {key} = {text[:30]} is not a number") \
                        from None
                if not math.isfinite(value):
                    raise InputError(f"{path}: {label}: {key} = {text[:30]} is not a finite "
                                     f"number")
            nbytes = _BITPIX[bitpix] * gcount * (pcount + pixels) if (pixels or pcount) else 0
            padded = -(-nbytes // _BLOCK) * _BLOCK
            if offset + nbytes > size:
                raise InputError(
                    f"{path}: {what} is truncated: the {label} describes {nbytes} bytes of data "
                    f"but only {max(size - offset, 0)} follow")
            handle.seek(padded, os.SEEK_CUR)
            offset += padded
            index += 1
    return None


# ---- arrays ---------------------------------------------------------------------------------------

#: BZERO that marks an unsigned integer stored in FITS's signed type, per signed dtype
_UNSIGNED_BZERO = {np.dtype("int16"): (1 << 15, np.uint16), np.dtype("int32"): (1 << 31, np.uint32),
                   np.dtype("int64"): (1 << 63, np.uint64)}


def _scaling(hdu, index: int, path: str) -> tuple[Any, Any]:
    label = _hdu_label(index, hdu.name)
    values = []
    for key, default in (("BSCALE", 1), ("BZERO", 0)):
        value = hdu.header.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(float(value)):
            raise InputError(f"{path}: {label}: {key} = {value!r} is not a finite number")
        values.append(value)
    return values[0], values[1]


def _image_data(hdu, index: int, path: str) -> np.ndarray | None:
    """The physical values of an image HDU opened with ``do_not_scale_image_data``, as a new
    native-byte-order array (never a view of the file's memory map), in a buffer of the
    process's pool when one is free (``buffer_pool``: pages already resident).

    Unsigned integers (signed type + BZERO 2**(bits-1), how FITS stores uint16/uint32) are
    recovered exactly by flipping the sign bit; other BSCALE/BZERO give float64, as the FITS
    standard defines physical = BZERO + BSCALE * stored.
    """
    raw = hdu.data
    if raw is None:
        return None
    bscale, bzero = _scaling(hdu, index, path)
    native = raw.dtype.newbyteorder("=")
    if bscale == 1 and bzero == 0:
        out = take_buffer(raw.shape, native)
        np.copyto(out, raw)
        return out
    unsigned = _UNSIGNED_BZERO.get(native)
    if unsigned is not None and bscale == 1 and bzero == unsigned[0]:
        kind = unsigned[1]
        out = take_buffer(raw.shape, kind)
        np.bitwise_xor(raw.view(np.dtype(kind).newbyteorder(raw.dtype.byteorder)),
                       kind(unsigned[0]), out=out)
        return out
    return raw.astype(np.float64) * float(bscale) + float(bzero)


def _pick(hdul: fits.HDUList, path: str, notes: list[str], *names: str):
    """(index, HDU) of the first extension called ``names[0]`` (else names[1], ...), noting when
    the file has more than one candidate; (None, None) when it has none."""
    found = [(i, hdu) for name in names for i, hdu in enumerate(hdul)
             if i > 0 and hdu.name == name]
    if not found:
        return None, None
    if len(found) > 1:
        listed = ", ".join(f"{hdu.name} (extension {i})" for i, hdu in found)
        index, hdu = found[0]
        notes.append(f"{path}: {len(found)} {'/'.join(names)} extensions: {listed}; "
                     f"{hdu.name} (extension {index}) is used")
    return found[0]


def _dq_to_uint32(dq_raw: np.ndarray, path: str, notes: list[str]) -> np.ndarray:
    """A 64-bit DQ as uint32: bits above 31 cannot be held; they are dropped and counted."""
    if dq_raw.dtype.itemsize <= 4:
        return _native(dq_raw, DQ_DTYPE)
    wide = dq_raw.astype(np.uint64, copy=False)
    high = wide >> np.uint64(32)
    lost = int(np.count_nonzero(high))
    if lost:
        bits = int(np.bitwise_or.reduce(high, axis=None))
        names = [str(32 + b) for b in range(32) if bits >> b & 1]
        shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
        notes.append(f"{path}: DQ: {lost} pixel(s) carry bit(s) {shown}, above the 32 bits of "
                     f"a DQ mask; those bits were dropped")
    return (wide & np.uint64(0xFFFFFFFF)).astype(DQ_DTYPE)


def _check_dq(dq_raw: np.ndarray, name: str, shape: tuple[int, ...], path: str) -> None:
    if dq_raw.shape != shape and not (dq_raw.ndim == 2 and dq_raw.shape == shape[-2:]):
        raise InputError(f"{path}: {name} shape {dq_raw.shape} differs from SCI {shape}")
    if dq_raw.dtype.kind not in "ui":
        raise InputError(f"{path}: {name} must hold integers, found {dq_raw.dtype.name}")
    if dq_raw.dtype.kind == "i" and dq_raw.size and int(dq_raw.min()) < 0:
        raise InputError(f"{path}: {name} holds negative values; it must be an unsigned bitmask")


def _model_from_hdul(hdul: fits.HDUList, path: str, what: str, notes: list[str],
                     rows_from_file: bool = False) -> ImageModel:
    header = hdul[0].header.copy()
    for name in ("SCI", "DATA"):
        count = sum(1 for hdu in hdul[1:] if hdu.name == name)
        if count > 1:
            raise InputError(f"{path}: has {count} {name} extensions (a multi-chip exposure); "
                             f"iris_gui reads one-chip exposures, with one {name} extension")
    sci_index, sci_hdu = _pick(hdul, path, notes, "SCI", "DATA")
    if sci_hdu is None:
        raise InputError(f"{path}: no SCI or DATA extension in this {what}")
    def image(index: int, hdu, in_file: bool):
        """The HDU's image: left in the file (``file_rows``) when asked and it can be, else read."""
        rows = rows_in_file(hdu, path) if in_file else None
        return rows if rows is not None else _image_data(hdu, index, path)

    data = image(sci_index, sci_hdu, rows_from_file)
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
    if not isinstance(data, FileRows):
        data = _native(data, np.float32)
    shape = data.shape

    def extension(name: str, in_file: bool = False) -> np.ndarray | FileRows | None:
        index, hdu = _pick(hdul, path, notes, name)
        return None if hdu is None else image(index, hdu, in_file)

    err_raw = extension("ERR", rows_from_file)
    if err_raw is not None:
        if err_raw.shape != shape:
            raise InputError(f"{path}: ERR shape {err_raw.shape} differs from SCI {shape}")
        if err_raw.dtype.kind != "f":
            raise InputError(f"{path}: ERR must be floating point, found {err_raw.dtype.name}")
        err = err_raw if isinstance(err_raw, FileRows) else _native(err_raw, np.float32)
    else:
        err = np.zeros(shape, np.float32)

    dq_raw = extension("DQ")
    if dq_raw is not None:
        _check_dq(dq_raw, "DQ", shape, path)
    dq32_raw = extension("DQ32")
    if dq32_raw is not None:  # the liger layout's bits 16-31 beside its uint16 DQ
        _check_dq(dq32_raw, "DQ32", shape, path)
        dq = merge_dq32(dq_raw, dq32_raw, path)
    elif dq_raw is not None:
        dq = _dq_to_uint32(dq_raw, path, notes)
    else:
        dq = np.zeros(shape, DQ_DTYPE)
    if dq.shape != shape:
        dq = np.broadcast_to(dq, shape).copy()

    subarr_map = None
    map_raw = extension("SUBARR_MAP")
    if map_raw is not None:
        if map_raw.shape != shape[-2:]:
            raise InputError(
                f"{path}: SUBARR_MAP shape {map_raw.shape} differs from the image {shape[-2:]}"
            )
        subarr_map = _native(map_raw, np.uint16)

    area = None
    area_raw = extension("AREA")
    if area_raw is not None:
        if area_raw.shape != shape[-2:]:
            raise InputError(f"{path}: AREA shape {area_raw.shape} differs from {shape[-2:]}")
        area = _native(area_raw, np.float32)

    asdf_tree = None
    # our own headers hold every keyword; asdf's first open costs ~2 s per process
    if "ASDF" in hdul and not is_own_file(header):
        asdf_tree = read_asdf_tree(hdul["ASDF"], path)
        if asdf_tree:
            fill_header_from_asdf(header, asdf_tree)
            repair_window_from_tree(header, asdf_tree, shape[-2:], path, notes)

    sci_header = sci_hdu.header.copy()
    for structural in ("XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "PCOUNT",
                       "GCOUNT", "EXTNAME", "EXTVER", "BZERO", "BSCALE"):
        sci_header.remove(structural, ignore_missing=True, remove_all=True)

    check_science_header(header, sci_header, path, wcs=what == "science file")
    if what == "science file":
        note_upstream_wcs(header, sci_header, path)
    model = ImageModel(data=data, err=err, dq=dq, header=header, subarr_map=subarr_map,
                       area=area, filename=path, asdf_tree=asdf_tree, sci_header=sci_header)
    _ = model.window  # validates the subarray keywords against the data shape
    consequence = _IDENTITY_CHECKED.get(what)
    if consequence is not None:
        for key, value, meaning in (("INSTRUME", model.instrument, "instrument"),
                                    ("DETECTOR", model.detector, "detector")):
            if value is None:
                notes.append(f"{path}: no {key} keyword; {consequence.format(what=meaning)}")
    return model
