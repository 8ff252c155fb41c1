"""Safe file writing: never onto an input, always through a temporary file and a rename.

Temporary files are ``.iris-<10 hex of the final name>-<pid>.part`` in the final file's folder:
short whatever the final name (a 250-byte product name still has a legal temporary name), and
recognisable, so a later run can remove those a killed run left (``remove_stale_temporaries``).
``write_all_or_nothing`` writes a product's files: all to temporaries first, renamed only when
every one is complete; on any error or interrupt the temporaries and the files already renamed
are removed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import InputError

_FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


def check_regular_file(path: str | os.PathLike, what: str, *, noun: str | None = None) -> None:
    """InputError unless ``path`` is a regular file (or a link to one). Only ``os.stat`` is
    used, so a named pipe cannot block. ``what`` names the file (``association file``)."""
    path = str(path)
    noun = noun or what
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(f"{path}: {what} is a link to {os.readlink(path)}, which does not "
                             f"exist") from None
        raise InputError(f"{path}: {what} not found") from None
    except OSError:
        raise InputError(f"{path}: {what} cannot be looked at (no access to its folder)") \
            from None
    for test, kind in _FILE_KINDS:
        if test(info.st_mode):
            raise InputError(f"{path}: is {kind}, not a {noun}")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: is not a regular file, not a {noun}")


#: what a Git LFS pointer file starts with (a clone made without git-lfs holds these)
LFS_POINTER_START = b"version https://git-lfs.github.com/spec/"


def is_lfs_pointer(path: str | os.PathLike) -> bool:
    """True when the file is a Git LFS pointer (checks its first bytes only)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(LFS_POINTER_START)) == LFS_POINTER_START
    except OSError:
        return False


def check_not_lfs_pointer(path: str | os.PathLike, what: str) -> None:
    """InputError when ``path`` is a Git LFS pointer instead of the file it stands for."""
    if is_lfs_pointer(path):
        raise InputError(f"{path}: {what} is a Git LFS pointer, not the FITS file (fetch it "
                         f"with git lfs pull)")


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


class OutputWriteError(Exception):
    """A file could not be written (disk full, permission, name). The message says which."""


def temporary_path(path: str | os.PathLike) -> Path:
    """The temporary name ``path`` is written under before it is renamed into place."""
    path = Path(path)
    tag = hashlib.sha1(path.name.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return path.with_name(f".iris-{tag}-{os.getpid()}.part")


_TEMPORARY = re.compile(r"^\.iris-([0-9a-f]{10})-(\d+)\.part$")


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove temporaries of ``path`` left by runs that are no longer alive; returns them."""
    path = Path(path)
    tag = hashlib.sha1(path.name.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match and match.group(1) == tag and not pid_alive(int(match.group(2))):
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


def describe_os_error(exc: OSError) -> str:
    """``no space left on device`` rather than ``[Errno 28] No space left on device: 'x'``."""
    if exc.errno == errno.ENAMETOOLONG:
        return "the name is too long for this file system"
    if exc.errno is None and "space" in str(exc).lower():
        # astropy checks free space itself and raises a bare OSError with its own figures
        return "no space left on device"
    text = exc.strerror or (os.strerror(exc.errno) if exc.errno else "") or str(exc) or "failed"
    return text[0].lower() + text[1:]


def write_all_or_nothing(files: list[tuple[Path, Callable[[Path], None]]]) -> list[Path]:
    """Write every ``(path, write)`` of one product, or none of them.

    ``write(temporary)`` writes one file. All are written to temporaries first; only then is each
    renamed into place. On any failure, Ctrl-C or termination the temporaries and the files of
    this call already renamed are removed and the exception goes on (an OSError becomes an
    OutputWriteError naming the file).
    """
    pending: list[tuple[Path, Path]] = []
    renamed: list[Path] = []
    current: Path | None = None
    try:
        for path, write in files:
            current = Path(path)
            temporary = temporary_path(current)
            pending.append((temporary, current))
            write(temporary)
            # give the file the mode any new file gets (0666 - umask), so colleagues can read
            # products written to a shared folder
            os.chmod(temporary, 0o666 & ~_UMASK)
        for temporary, path in pending:
            current = path
            os.replace(temporary, path)
            renamed.append(path)
    except BaseException as exc:
        for temporary, _ in pending:
            _unlink_quietly(temporary)
        for path in renamed:
            _unlink_quietly(path)
        if isinstance(exc, OSError):
            raise OutputWriteError(f"cannot write {current}: {describe_os_error(exc)}") from None
        raise
    return renamed


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


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
    check_output_dir(path.parent if str(path.parent) else Path("."))
    try:
        write_all_or_nothing([(path, write)])
    except OutputWriteError as exc:
        raise InputError(str(exc)) from None
    return path


def atomic_write_text(path: str | os.PathLike, text: str, **kwargs) -> Path:
    """Write text atomically (see atomic_write)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), **kwargs)
