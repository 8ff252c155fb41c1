"""Choosing and loading reference files (dark, flat, photom, distortion).

With an ``override_*`` parameter the given file is used, provided its REFTYPE (or DATAMODL) says it
is of the right kind; a file that does not (a science rate file given as override_dark, a flat given
as a dark) is refused unless the step's ``force_override`` is set, and then still warned about.
Otherwise the reference folder is scanned for files whose REFTYPE (or DATAMODL) names the kind, and
``reference_rules`` chooses among them as the TMT CRDS rules do (selection keys per kind, the
detector window, then the latest USEAFTER not after the exposure's DATE-OBS) and says why, naming
the near-misses. Only headers are read during the scan, and the scan is remembered per folder until
the folder changes.

What is suspicious is said as a warning carried by the choice (``ReferenceChoice.warnings``, which
the steps put on their StepResult): a reference chosen while the exposure or the reference has no
INSTRUME or DETECTOR (so that check could not be made), a forced override. ``missing_reference_warning``
is the one wording for a step skipped because no reference was found; it names what was wanted.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .files import check_not_lfs_pointer, is_lfs_pointer
from .lazy import fits
from .models import ImageModel, SubarrayWindow, read_image, reference_kind
from .reference_rules import evaluate, explain, exposure_date, wanted

log = logging.getLogger(__name__)

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz")


class ReferenceTooSmall(InputError):
    """The reference array is smaller than the science array."""


@dataclass(frozen=True)
class ReferenceHeader:
    path: str
    kind: str | None
    instrument: str | None
    detector: str | None
    filter: str | None
    window: SubarrayWindow | None
    #: the selection keys it states (DETECTOR, FILTER, PUPIL, SUBARRAY), upper case
    keys: dict[str, str] = field(default_factory=dict)
    #: USEAFTER as written (parsed when the file is considered)
    useafter: str | None = None


@dataclass(frozen=True)
class ReferenceChoice:
    path: str
    #: how it was chosen, for the log and the GUI
    explanation: str
    #: what is suspicious about the choice, for the step's warnings
    warnings: tuple[str, ...] = ()


#: reference kind -> the step that reads it (for messages that say which switch to use)
STEP_FOR_KIND = {"dark": "dark_current", "flat": "flat_field", "photom": "photom",
                 "distortion": "assign_wcs"}


def _text(header: fits.Header, key: str) -> str | None:
    value = header.get(key)
    if value is None:
        return None
    value = str(value).strip().upper()
    return value or None


def _window_from_headers(primary: fits.Header, image: fits.Header | None) -> SubarrayWindow | None:
    keys = ("SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2")
    name = _text(primary, "SUBARRAY") or "FULL"
    if all(k in primary for k in keys):
        try:
            return SubarrayWindow(*(int(primary[k]) for k in keys), name)
        except (TypeError, ValueError):
            return None
    if image is not None and image.get("NAXIS", 0) >= 2:
        return SubarrayWindow(1, 1, int(image["NAXIS1"]), int(image["NAXIS2"]), name)
    return None


def read_reference_header(path: str) -> ReferenceHeader:
    check_not_lfs_pointer(path, "reference")
    with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
        primary = hdul[0].header
        image = None
        try:
            for name in ("SCI", "DATA"):
                if name in hdul:
                    image = hdul[name].header
                    break
        except Exception as exc:  # a damaged file of the right type stays a candidate, so
            log.debug("reference scan: %s damaged (%s)", path, exc)  # loading it says why
        return ReferenceHeader(
            path=path,
            kind=reference_kind(primary),
            instrument=_text(primary, "INSTRUME"),
            detector=_text(primary, "DETECTOR"),
            filter=_text(primary, "FILTER"),
            window=_window_from_headers(primary, image),
            keys={key: value for key in ("DETECTOR", "FILTER", "PUPIL", "SUBARRAY")
                  if (value := _text(primary, key)) is not None},
            useafter=None if primary.get("USEAFTER") is None
            else (str(primary["USEAFTER"]).strip() or None),
        )


class _FolderScan:
    """Headers of the FITS files in one folder, re-read when the folder's listing changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple, list[ReferenceHeader]]] = {}
        #: (path, mtime_ns, size) -> header, None if not readable: a folder that gains a file
        #: (the quick-look's watched folder) reads only that file again
        self._files: dict[tuple[str, int, int], ReferenceHeader | None] = {}

    def headers(self, folder: Path) -> list[ReferenceHeader]:
        folder = folder.resolve()
        try:
            entries = [
                e for e in os.scandir(folder)
                if e.is_file() and e.name.lower().endswith(FITS_SUFFIXES)
            ] if folder.is_dir() else []
        except OSError as exc:
            raise InputError(f"reference folder {folder}: cannot be read ({exc.strerror})") from exc
        entries = sorted(entries, key=lambda e: e.name)
        signature = tuple((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in entries)
        with self._lock:
            cached = self._cache.get(str(folder))
            if cached and cached[0] == signature:
                return cached[1]
        headers = []
        pointers = []
        files = {}
        for entry, (_name, mtime_ns, size) in zip(entries, signature, strict=True):
            key = (entry.path, mtime_ns, size)
            with self._lock:
                known, header = key in self._files, self._files.get(key)
            if not known:
                try:
                    header = read_reference_header(entry.path)
                except Exception as exc:  # unreadable files are simply not candidates
                    header = None
                    if is_lfs_pointer(entry.path):  # but say why a reference seems missing
                        pointers.append(entry.name)
                    else:
                        log.debug("reference scan: %s skipped (%s)", entry.path, exc)
            files[key] = header
            if header is not None:
                headers.append(header)
        if pointers:  # one line for the folder (a clone without git-lfs has many)
            shown = ", ".join(pointers[:6]) + (f" and {len(pointers) - 6} more"
                                               if len(pointers) > 6 else "")
            log.warning("%s: %d file(s) are Git LFS pointers, not FITS files, and are not "
                        "considered as references (fetch them with git lfs pull): %s", folder,
                        len(pointers), shown)
        with self._lock:
            self._cache[str(folder)] = (signature, headers)
            prefix = os.path.join(str(folder), "")
            for key in [k for k in self._files if k[0].startswith(prefix)]:
                del self._files[key]  # files of this folder gone or changed
            self._files.update(files)
        return headers


_scan = _FolderScan()


def folder_signature(folder: Path, kind: str) -> tuple:
    """Something that changes whenever the ``kind`` references in ``folder`` may change."""
    try:
        return tuple(
            (h.path, os.stat(h.path).st_mtime_ns) for h in _scan.headers(Path(folder))
            if h.kind == kind
        )
    except (InputError, OSError):
        return ()


def _override_kind_problem(kind: str, declared: str | None, override: str) -> str | None:
    """Why ``override`` is not a ``kind`` reference by its own header, or None if it is."""
    if declared == kind:
        return None
    if declared is None:
        return f"override_{kind} {override} has no REFTYPE/DATAMODL saying it is a {kind}"
    return f"override_{kind} {override} is a {declared} reference, not a {kind}"


def check_override(kind: str, override: str, force: bool) -> str | None:
    """Refuse an override whose REFTYPE/DATAMODL is not of ``kind`` (InputError), unless
    ``force``: then the warning to give. None when the override is of the right kind, or when its
    header cannot be read (loading it then says why)."""
    if not os.path.isfile(override):  # a folder, a pipe (opening it would block): the loader
        return None                   # refuses it with the file name
    try:
        declared = read_reference_header(override).kind
    except Exception:  # not FITS, damaged: the loader reports it with the file name
        return None
    problem = _override_kind_problem(kind, declared, override)
    if problem is None:
        return None
    step = STEP_FOR_KIND.get(kind, kind)
    if not force:
        raise InputError(f"{problem}; set steps.{step}.force_override = True to use it anyway")
    return f"{problem}; used anyway because force_override is set"


def _unchecked_identity(kind: str, science: ImageModel, ref: ReferenceHeader) -> str | None:
    """The warning for a reference matched without the INSTRUME or DETECTOR check."""
    checks, reasons = [], []
    for check, key, ours, theirs in (("instrument", "INSTRUME", science.instrument, ref.instrument),
                                     ("detector", "DETECTOR", science.detector, ref.detector)):
        if not ours:
            checks.append(check)
            reasons.append(f"{science.name} has no {key}")
        elif not theirs:
            checks.append(check)
            reasons.append(f"{Path(ref.path).name} has no {key}")
    if not checks:
        return None
    return (f"{kind} reference {Path(ref.path).name} chosen without the "
            f"{' and '.join(checks)} check: {'; '.join(reasons)}")


def find_reference(
    kind: str, science: ImageModel, ref_dir: Path, override: str | None,
    force: bool | None = None,
) -> tuple[ReferenceChoice | None, str]:
    """The reference to use, or (None, why none fits).

    ``force``: the step's ``force_override``. False refuses an override whose REFTYPE/DATAMODL
    is not of ``kind`` (InputError); True accepts it with a warning; None (a caller without the
    switch) does not look.
    """
    if override:
        if not os.path.exists(override):
            raise InputError(f"{override}: {kind} reference given as override does not exist")
        warning = None if force is None else check_override(kind, str(override), force)
        return ReferenceChoice(str(override), f"{Path(override).name} (override_{kind})",
                               (warning,) if warning else ()), ""

    considered = [ref for ref in _scan.headers(Path(ref_dir)) if ref.kind == kind]
    date, date_label = (None, "")
    if considered:
        date, date_label = exposure_date(science.header, science.filename or science.name)
    judged = [evaluate(kind, science, ref, date, date_label) for ref in considered]
    candidates = sorted((c for c in judged if c.refused is None), key=lambda c: c.rank())
    if not candidates:
        looked_for = wanted(kind, science, date_label or _date_label(science))
        reason = (f"no {kind} reference in {ref_dir} fits {science.name} "
                  f"({looked_for}, window {science.window.describe()}); "
                  f"{len(considered)} file(s) of type {kind.upper()} looked at")
        if judged:
            reason += ": " + "; ".join(f"{c.name}: {c.refused}" for c in judged[:8])
        return None, reason
    best = candidates[0]
    others = candidates[1:] + [c for c in judged if c.refused is not None]
    explanation = explain(kind, science, best, others, date, date_label, Path(ref_dir))
    unchecked = _unchecked_identity(kind, science, best.header)
    return ReferenceChoice(best.header.path, explanation, (unchecked,) if unchecked else ()), ""


def _date_label(science: ImageModel) -> str:
    """The exposure's date as shown in messages ('' without one; as written if damaged)."""
    try:
        return exposure_date(science.header, science.name)[1]
    except InputError:
        return str(science.header.get("DATE-OBS"))


def missing_reference_warning(kind: str, science: ImageModel, ref_dir: Path) -> str:
    """The warning of a step, left on, that was skipped because no reference was found: it
    names the keys that were wanted (``INSTRUME=IRIS, DETECTOR=IMAGER, FILTER=KN3, ...``)."""
    step = STEP_FOR_KIND.get(kind, kind)
    looked_for = wanted(kind, science, _date_label(science))
    return (f"{step} skipped: no {kind} reference for {looked_for} in "
            f"{ref_dir}; switch the step off to silence this")


def load_reference_image(kind: str, path: str, science: ImageModel,
                         force: bool = False) -> ImageModel:
    """Read an image reference and cut it to the science exposure's window.

    A file declaring another kind is refused unless ``force`` (the step's force_override, already
    warned about by ``find_reference``)."""
    reference = read_image(path, what=f"{kind} reference")
    declared = reference_kind(reference.header)
    if declared is not None and declared != kind and not force:
        raise InputError(f"{path}: is a {declared} reference, not a {kind} reference")
    if reference.data.ndim != 2:
        raise InputError(f"{path}: {kind} reference must be 2D, found shape {reference.data.shape}")
    sci_ny, sci_nx = science.image_shape
    ref_ny, ref_nx = reference.image_shape
    if ref_ny < sci_ny or ref_nx < sci_nx:
        raise ReferenceTooSmall(
            f"{path}: {kind} reference is {ref_nx}x{ref_ny}, smaller than the science "
            f"{science.name} ({sci_nx}x{sci_ny})"
        )
    ref_window = reference.window
    window = science.window
    if not ref_window.contains(window):
        raise InputError(
            f"{path}: science window {window.describe()} of {science.name} falls outside the "
            f"{kind} reference window {ref_window.describe()}"
        )
    if (ref_window.xstart, ref_window.ystart, ref_window.xsize, ref_window.ysize) == (
            window.xstart, window.ystart, window.xsize, window.ysize):
        return reference
    return reference.cutout(window)
