"""A 2-D float32 image left in its FITS file and read a block of rows at a time.

bkg_subtract combines its backgrounds block by block of rows, so it never needs a whole
background in memory. ``FileRows`` stands for one background's SCI or ERR image in the combine:
``frame[rows]`` (rows a slice) reads just those rows from the file with ``os.pread`` into a new
native float32 array; ``frame[..., rows, cols]`` (what ``ImageModel.cutout`` does) is another
``FileRows`` for that window of the same file. With ten 4096² backgrounds that keeps ~1.3 GB of
whole copies out of the process: the file's pages stay in the page cache, shared and
reclaimable, instead of counting in this process's memory.

Only what reads back bit for bit is left in the file: BITPIX -32 (big-endian float32) without
BSCALE/BZERO scaling, two axes. The bytes are the values, so reading them later gives the same
array the eager read gives (tested). ``read_image(..., rows_from_file=True)`` decides per
extension and reads everything else as always.

The file was checked whole when it was opened (astropy refuses a file shorter than its headers
say). Should it shrink while the combine runs (someone overwrote it), a read comes back short and
raises InputError naming the file, instead of the crash a memory map would give.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from .errors import InputError

STORED = np.dtype(">f4")


class FileRows:
    """Rows ``y0 .. y0+ny`` and columns ``x0 .. x0+nx`` of a (file_ny, file_nx) big-endian
    float32 image whose first byte is at ``offset`` in ``path``."""

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, path: str, offset: int, file_shape: tuple[int, int],
                 window: tuple[int, int, int, int] | None = None) -> None:
        self.path = path
        self.offset = int(offset)
        self.file_shape = (int(file_shape[0]), int(file_shape[1]))
        self.window = window or (0, 0, *self.file_shape)  # y0, x0, ny, nx
        self._fd: int | None = None
        self._lock = threading.Lock()

    @property
    def shape(self) -> tuple[int, int]:
        return self.window[2], self.window[3]

    def __repr__(self) -> str:
        return f"FileRows({os.path.basename(self.path)}, window={self.window})"

    # ---- indexing -------------------------------------------------------------------------------
    def __getitem__(self, key):
        if isinstance(key, slice):
            return self._read(key)
        if isinstance(key, tuple):
            parts = [k for k in key if k is not Ellipsis]
            if len(parts) == 2 and all(isinstance(k, slice) for k in parts):
                return self._sub_window(*parts)
            if len(parts) == 1 and isinstance(parts[0], slice):
                return self._read(parts[0])
        raise TypeError(f"FileRows takes a slice of rows or of rows and columns, not {key!r}")

    def _sub_window(self, rows: slice, cols: slice) -> FileRows:
        y0, x0, ny, nx = self.window
        r0, r1, rstep = rows.indices(ny)
        c0, c1, cstep = cols.indices(nx)
        if rstep != 1 or cstep != 1:
            raise TypeError("FileRows takes contiguous windows only")
        return FileRows(self.path, self.offset, self.file_shape,
                        (y0 + r0, x0 + c0, max(0, r1 - r0), max(0, c1 - c0)))

    def _read(self, rows: slice) -> np.ndarray:
        y0, x0, ny, nx = self.window
        start, stop, step = rows.indices(ny)
        if step != 1:
            raise TypeError("FileRows reads contiguous rows only")
        count = max(0, stop - start)
        file_nx = self.file_shape[1]
        whole_rows = np.empty((count, file_nx), dtype=np.float32)
        if count:
            position = self.offset + (y0 + start) * file_nx * STORED.itemsize
            self._read_into(memoryview(whole_rows).cast("B"), position)
            whole_rows.byteswap(inplace=True)  # the file's big-endian bytes -> native values
        if x0 == 0 and nx == file_nx:
            return whole_rows
        return np.ascontiguousarray(whole_rows[:, x0:x0 + nx])

    def _read_into(self, buffer: memoryview, position: int) -> None:
        fd = self._descriptor()
        done = 0
        while done < len(buffer):
            got = os.preadv(fd, [buffer[done:]], position + done)
            if got <= 0:
                raise InputError(f"{self.path}: the file became shorter while it was being read "
                                 f"(overwritten during the run?)")
            done += got

    def _descriptor(self) -> int:
        with self._lock:
            if self._fd is None:
                try:
                    self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                except OSError as exc:
                    raise InputError(f"{self.path}: cannot be read again during the run "
                                     f"({exc.strerror})") from None
            return self._fd

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutting down
            pass

    def __array__(self, dtype=None, copy=None):
        """The whole window as an array (for code that needs it all at once)."""
        whole = self._read(slice(None))
        return whole if dtype is None else whole.astype(dtype, copy=False)


def rows_in_file(hdu, path: str) -> FileRows | None:
    """``hdu``'s image as a FileRows when it can be left in its file (see the module docstring),
    else None."""
    header = hdu.header
    if header.get("BITPIX") != -32 or header.get("NAXIS") != 2:
        return None
    if header.get("BSCALE", 1) != 1 or header.get("BZERO", 0) != 0:
        return None
    info = hdu.fileinfo()
    if info is None:
        return None
    offset = info["datLoc"]
    ny, nx = int(header["NAXIS2"]), int(header["NAXIS1"])
    if os.path.getsize(path) < offset + ny * nx * STORED.itemsize:
        return None  # short: the eager read says what is wrong with it
    return FileRows(path, offset, (ny, nx))
