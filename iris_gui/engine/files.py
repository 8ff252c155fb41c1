"""Safe file writing: never onto an input, always through a temporary file and a rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import InputError


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True if both paths name the same file (resolving links; false if either is missing)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def check_output_dir(directory: str | os.PathLike) -> Path:
    """Create ``directory`` if needed and make sure we can write in it, or raise InputError."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"output folder {directory}: cannot be created ({exc.strerror})") from exc
    if not directory.is_dir():
        raise InputError(f"output folder {directory}: exists and is not a folder")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise InputError(f"output folder {directory}: not writable")
    return directory


def _read_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


#: read once at import, before worker threads create files (os.umask is process-wide)
_UMASK = _read_umask()


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[Path], None],
    *,
    protected: Iterable[str | os.PathLike] = (),
) -> Path:
    """Write ``path`` by calling ``write(temporary_path)`` and renaming the result into place.

    Refuses (InputError) when ``path`` is one of the ``protected`` input files. If ``write``
    fails, the temporary file is removed and any existing ``path`` is left untouched.
    """
    path = Path(path)
    for other in protected:
        if same_file(path, other):
            raise InputError(f"output {path} is an input file; refusing to overwrite it")
    directory = check_output_dir(path.parent if str(path.parent) else Path("."))
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    os.close(fd)
    temporary_path = Path(temporary)
    try:
        write(temporary_path)
        # mkstemp creates the file 0600; give it the mode any new file gets (0666 - umask), so
        # colleagues can read products written to a shared folder
        os.chmod(temporary_path, 0o666 & ~_UMASK)
        os.replace(temporary_path, path)
    except BaseException:
        temporary_path.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, **kwargs) -> Path:
    """Write text atomically (see atomic_write)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), **kwargs)
