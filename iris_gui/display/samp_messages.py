"""SAMP messages and the files they point at, without Qt (the window's SAMP menu is
``gui.view_samp``; the connection goes through ``pyvo.samp``, astropy.samp being deprecated
since astropy 8.0).

Message types used (the IVOA's SAMP MTypes list; DS9's reference manual for ``ds9.set``):

- ``image.load.fits`` {url, name, image-id}: DS9, Aladin and TOPCAT load a FITS image. Sent
  for a pane's frame (written here as a temporary FITS with its WCS) or a product's exported
  ``_cal`` / ``_i2d``; received to open a file as an input.
- ``coord.pointAt.sky`` {ra, dec} (degrees, ICRS): Aladin, TOPCAT and DS9 centre on a position.
  Sent for star checks and the cursor.
- ``ds9.set`` {cmd}: DS9's own command (as through XPA); ``regions load <file>`` loads a DS9
  region file, written here from the view's regions (``display.region_files``).

SAMP sends every value as a string: numbers are written with ``repr``-like precision.

File URLs are ``file://`` URLs of absolute paths (``Path.as_uri``); a received URL must be a
local file (``file://`` with no host or ``localhost``): other hosts and ``http(s)`` are refused
with a message naming the URL (the window does not fetch from the network).

Temporary files (``SampFiles``) go to one folder the app makes under the system's temporary
folder and removes when it closes (and at interpreter exit), never into an input or output
folder.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

__all__ = ["IMAGE_LOAD_FITS", "POINT_AT_SKY", "DS9_SET", "SampMessageError", "file_url",
           "local_path", "image_message", "point_at_message", "ds9_regions_message",
           "frame_hdul", "SampFiles", "safe_file_name"]

IMAGE_LOAD_FITS = "image.load.fits"
POINT_AT_SKY = "coord.pointAt.sky"
DS9_SET = "ds9.set"

#: keywords copied from the product's primary header into a sent frame (what a viewer shows)
COPIED_KEYWORDS = ("TELESCOP", "INSTRUME", "DETECTOR", "FILTER", "PUPIL", "EXPTIME", "DATE-OBS",
                   "TIME-OBS", "TARGNAME", "BUNIT")


class SampMessageError(ValueError):
    """A message that cannot be made or read (the message names the URL or file)."""


def file_url(path: str | os.PathLike) -> str:
    return Path(os.path.abspath(path)).as_uri()


def local_path(url: str) -> str:
    """The local file a received ``url`` names; ``SampMessageError`` for another host, another
    scheme or a missing file."""
    if not isinstance(url, str) or not url.strip():
        raise SampMessageError("the message has no url")
    parsed = urlparse(url.strip())
    if parsed.scheme == "" and url.startswith("/"):
        path = url
    elif parsed.scheme != "file":
        raise SampMessageError(f"{url}: only local files (file://) can be opened; the window "
                               f"does not download from {parsed.scheme or 'the network'}")
    elif parsed.netloc not in ("", "localhost", "127.0.0.1"):
        raise SampMessageError(f"{url}: the file is on another host ({parsed.netloc})")
    else:
        path = unquote(parsed.path)
        if re.match(r"^/[A-Za-z]:/", path):  # file:///C:/... on Windows
            path = path[1:]
    if not os.path.isfile(path):
        raise SampMessageError(f"{url}: no such file ({path})")
    return path


def _number(value: float) -> str:
    return repr(float(value))


def image_message(path: str | os.PathLike, name: str, image_id: str | None = None) -> dict:
    params = {"url": file_url(path), "name": name}
    if image_id:
        params["image-id"] = image_id
    return {"samp.mtype": IMAGE_LOAD_FITS, "samp.params": params}


def point_at_message(ra: float, dec: float) -> dict:
    if not (np.isfinite(ra) and np.isfinite(dec) and -90.0 <= dec <= 90.0):
        raise SampMessageError(f"RA {ra!r}, Dec {dec!r} is not a sky position")
    return {"samp.mtype": POINT_AT_SKY,
            "samp.params": {"ra": _number(float(ra) % 360.0), "dec": _number(dec)}}


def ds9_regions_message(region_file: str | os.PathLike) -> dict:
    path = os.path.abspath(region_file)
    # DS9 reads its command as Tcl: a path with spaces goes in braces
    quoted = f"{{{path}}}" if re.search(r"\s", path) else path
    return {"samp.mtype": DS9_SET, "samp.params": {"cmd": f"regions load {quoted}"}}


def frame_hdul(frame: np.ndarray, *, title: str, wcs=None, header=None, sci_header=None):
    """A one-HDU FITS of ``frame`` (float32) with ``wcs``'s keywords (or, without one, the WCS
    keywords ``header`` carries), OBJECT = ``title`` and the identifying keywords of the
    product's ``header`` / ``sci_header`` — what a viewer needs to show it on the sky."""
    from astropy.io import fits

    from ..engine.wcs import is_wcs_keyword, wcs_header

    out = fits.Header()
    out["OBJECT"] = (title[:68], "what iris_gui showed")
    out["ORIGIN"] = "iris_gui"
    for source in (header, sci_header):
        if source is None:
            continue
        for key in COPIED_KEYWORDS:
            if key in source:
                out[key] = source[key]
    if wcs is not None:
        out.update(wcs_header(wcs))
    elif header is not None:
        for card in header.cards:
            if card.keyword and is_wcs_keyword(card.keyword):
                out[card.keyword] = card.value
    data = np.ascontiguousarray(frame, dtype=np.float32)
    return fits.HDUList([fits.PrimaryHDU(data=data, header=out)])


#: bytes of the frame written at a time: astropy byte-swaps what it writes holding Python's
#: lock, ~20-40 ms for a whole 4096² frame, which the window's thread waited for; a block
#: of this size is ~1 ms
STREAM_BYTES = 1 << 21


def write_streamed(path: Path, header, data: np.ndarray) -> None:
    """Write a one-HDU FITS (``header`` describing ``data``) block of rows by block of rows
    with astropy's ``StreamingHDU``; a file left unfinished by an error is removed."""
    from astropy.io import fits

    # rows of the last axis but one (an image's rows; a cube's planes' rows in turn)
    rows_of = np.ascontiguousarray(data).reshape(-1, data.shape[-1]) if data.ndim > 1 \
        else np.ascontiguousarray(data).reshape(1, -1)
    rows = max(1, STREAM_BYTES // max(1, rows_of[0].nbytes))
    try:
        with fits.StreamingHDU(path, header) as stream:
            for start in range(0, len(rows_of), rows):
                stream.write(rows_of[start:start + rows])
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise


def safe_file_name(text: str, suffix: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("._") or "frame"
    return stem[:80] + suffix


class SampFiles:
    """The temporary folder of the files sent: made on first use, removed by ``cleanup``
    (the window at close; ``atexit`` otherwise)."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._count = 0
        atexit.register(self.cleanup)

    @property
    def folder(self) -> Path:
        if self._folder is None or not self._folder.is_dir():
            self._folder = Path(tempfile.mkdtemp(prefix="iris_gui-samp-"))
        return self._folder

    def path_for(self, name: str, suffix: str) -> Path:
        """A new file name in the folder (numbered: a viewer may still read an earlier one)."""
        self._count += 1
        return self.folder / f"{self._count:03d}_{safe_file_name(name, suffix)}"

    def write_frame(self, frame: np.ndarray, title: str, **keywords) -> Path:
        path = self.path_for(title, ".fits")
        hdu = frame_hdul(frame, title=title, **keywords)[0]
        write_streamed(path, hdu.header, hdu.data)
        return path

    def write_text(self, name: str, suffix: str, text: str) -> Path:
        path = self.path_for(name, suffix)
        path.write_text(text, encoding="utf-8")
        return path

    def cleanup(self) -> None:
        folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
