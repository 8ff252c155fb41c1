"""The output plan: every file a run will write, resolved and checked before anything runs.

A run (``iris-image2`` with all its inputs, or the window's Export) first lists every file it
will write — ``_cal``/``_calints``, ``_bsub``/``_bsubints``, ``_i2d``, each step's
``save_results`` file, ``dark_output``, ``--save-parameters`` — and every file it reads — each
member of each product of each input, the association files, the references (overrides, and
every reference file in the reference folders, since any of them may be chosen), the parameter
file and the files it includes, the ``--from-output`` source. ``OutputPlan.check`` then refuses,
in one line naming the product, the path and the rule:

- a product name or suffix that is not a single plain path component (no ``/`` or ``\\``, not
  ``.``/``..``, no NUL or control characters) or whose file name is too long for the folder;
- an output that is (by resolved path, or by device and inode for hard links) a file the run
  reads;
- two outputs that are the same file, across every input of the run;
- an output that is an existing folder, or an output folder that is a file.

Nothing is written unless the whole plan passes. The writer (``pipeline.write_outputs``) only
writes files that are in the plan.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .files import remove_stale_temporaries

#: longest file name we write, in bytes (POSIX NAME_MAX on every file system we expect)
NAME_MAX = 255


class OutputPlanError(InputError):
    """A planned output breaks one of the plan's rules; nothing has been written."""


@dataclass(frozen=True)
class PlannedOutput:
    path: Path          # absolute
    product: str        # product name (or "" for run-level files such as --save-parameters)
    source: str         # the input it comes from (association or rate file), for messages
    what: str           # e.g. "_cal", "--save-parameters"


def check_component(text: str, what: str) -> str:
    """``text`` if it can be one part of a file name, else OutputPlanError naming ``what``."""
    if not text:
        raise OutputPlanError(f"{what} is empty")
    if "/" in text or "\\" in text or (os.altsep and os.altsep in text):
        raise OutputPlanError(f"{what} {text!r} contains a path separator; it must be a plain name")
    if text in (".", ".."):
        raise OutputPlanError(f"{what} {text!r} is not a file name")
    bad = [c for c in text if unicodedata.category(c) in ("Cc", "Cs")]
    if bad:
        raise OutputPlanError(f"{what} {_shorten(text)!r} contains a control character "
                              f"(U+{ord(bad[0]):04X})")
    return text


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _name_length(name: str) -> int:
    return len(name.encode("utf-8", "surrogateescape"))


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


class OutputPlan:
    """Files a run writes and reads; ``check`` enforces the rules in the module docstring."""

    def __init__(self) -> None:
        self.outputs: list[PlannedOutput] = []
        self._reads: dict[str, str] = {}   # resolved path -> what it is, for messages
        self._folders: set[str] = set()

    # ---- building -----------------------------------------------------------------------------
    def add_read(self, path: str | os.PathLike, what: str) -> None:
        resolved = os.path.realpath(path)
        self._reads.setdefault(resolved, what)

    def add_product_file(self, directory: str | os.PathLike, product: str, suffix: str,
                         source: str, what: str) -> Path:
        """Plan ``<directory>/<product>_<suffix>.fits``."""
        check_component(product, f"product name (from {source})")
        check_component(suffix, f"product {product}: suffix for {what}")
        return self.add_file(Path(directory) / f"{product}_{suffix}.fits", product, source, what)

    def add_named_file(self, directory: str | os.PathLike, name: str, product: str, source: str,
                       what: str) -> Path:
        """Plan a file named by a parameter (e.g. ``dark_output``), inside ``directory``."""
        if os.path.isabs(name) or Path(name).name != name:
            check_component(name, f"product {product}: {what}")
        return self.add_file(Path(directory) / name, product, source, what)

    def add_file(self, path: str | os.PathLike, product: str, source: str, what: str) -> Path:
        path = Path(os.path.abspath(path))
        self.outputs.append(PlannedOutput(path, product, source, what))
        if product:
            self._folders.add(str(path.parent))
        return path

    # ---- queries ------------------------------------------------------------------------------
    def paths_for(self, product: str, source: str) -> set[Path]:
        return {o.path for o in self.outputs if o.product == product and o.source == source}

    def is_read(self, path: str | os.PathLike) -> bool:
        return os.path.realpath(path) in self._reads

    # ---- checking -----------------------------------------------------------------------------
    def check(self) -> None:
        """Raise OutputPlanError for the first broken rule; nothing is written before this."""
        read_identities = {}
        for resolved, what in self._reads.items():
            identity = _identity(Path(resolved))
            if identity is not None:
                read_identities.setdefault(identity, (resolved, what))
        for folder in sorted(self._folders):
            if os.path.lexists(folder) and not os.path.isdir(folder):
                what = self._reads.get(os.path.realpath(folder))
                raise OutputPlanError(f"output folder {folder} is "
                                      f"{what + ', which this run reads' if what else 'a file'}"
                                      f"; choose a folder")
        seen: dict[str, PlannedOutput] = {}
        for output in self.outputs:
            label = f"product {output.product}: " if output.product else ""
            path = output.path
            if _name_length(path.name) > NAME_MAX:
                raise OutputPlanError(
                    f"{label}{output.what} file name is {_name_length(path.name)} bytes; "
                    f"at most {NAME_MAX} are allowed ({_shorten(path.name)})")
            resolved = os.path.realpath(path)
            read_as = self._reads.get(resolved)
            if read_as is None:
                identity = _identity(path)
                if identity is not None and identity in read_identities:
                    read_as = f"{read_identities[identity][1]} (the same file by a hard link)"
            if read_as is not None:
                raise OutputPlanError(
                    f"{label}{output.what} {path} is {read_as}, which this run reads; "
                    f"refusing to overwrite it (choose another output folder)")
            if os.path.isdir(path):
                raise OutputPlanError(f"{label}{output.what} {path} is an existing folder")
            key = os.path.normcase(resolved)
            other = seen.get(key)
            if other is not None:
                raise OutputPlanError(
                    f"{path} would be written twice: by {_who(other)} and by {_who(output)}; "
                    f"give the products different names or output folders")
            seen[key] = output

    def remove_stale_temporaries(self) -> int:
        """Remove ``.part`` files of planned outputs left by a run that was killed."""
        return sum(len(remove_stale_temporaries(o.path)) for o in self.outputs)


def _who(output: PlannedOutput) -> str:
    if not output.product:
        return output.what
    return f"product {output.product} ({output.what}, from {output.source})"
