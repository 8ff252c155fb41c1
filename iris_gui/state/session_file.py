"""``.iris-session`` files: the workbench saved as versioned JSON, and restored from it.

A session holds the inputs (association files by path, associations built in the window by their
members), each input file's identity when saved (size, modification time, SHA-256), the
parameters, the folders, the selected product and step, the view state (panes, stretch, limits,
colours, overlays, regions, zoom), the per-product notes, the reviewer, and which products had
results. Results themselves are not saved: a restored window runs those products again (from
the files; quickly where the engine's cache still holds them).

Reading checks every input: a file that is missing at its saved path but found at the same place
relative to the session file (a folder moved or copied as a whole) is used and reported as
moved; a file whose content differs from when the session was saved is reported as changed; a
file found nowhere is reported as missing (its product shows that it cannot be read). Every
problem is one line naming the file.

Schema (``version`` 1)::

    {"format": "iris-session", "version": 1, "saved": ISO time, "software": {...},
     "inputs": [{"kind": "association-file", "path", "relative", "identity", "members": [...]}
                | {"kind": "exposure", "path", "relative", "identity"}
                | {"kind": "built", "pool", "products": [{"name", "members": [
                      {"path", "relative", "exptype", "identity"}]}]}],
     "parameters": {"pipeline": {...}, "steps": {...}},
     "folders": {"output": path | null, "references": path | null},
     "selection": {"input": i | null, "product": j | null, "step": name},
     "view": {...}, "notes": {"i/j": text}, "signoffs": {"i/j": {"verdict", "by", "when"}},
     "reviewer": text, "ran": ["i/j", ...],
     "night": {"watch": {...}, "blink_previous": bool, "rows": [NightRow, ...]}}

``night`` (the quick-look's night table, ``state.night_table``) is written only when it has
rows or a watch; older sessions without it read as an empty table.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..engine.association import Association, Member, Product
from ..engine.config import PipelineConfig
from ..engine.errors import InputError
from ..engine.files import atomic_write_text, check_regular_file
from .workbench import STEP_NAMES, SignOff, Workbench

FORMAT = "iris-session"
VERSION = 1
SUFFIX = ".iris-session"

#: (path, size, mtime_ns) -> sha256: a file is hashed once per process while it is unchanged
_HASHES: dict[tuple[str, int, int], str] = {}


class SessionError(InputError):
    """The session file cannot be read or written; the message names it and what is wrong."""


def file_identity(path: str) -> dict[str, Any] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    digest = _HASHES.get(key)
    if digest is None:
        sha = hashlib.sha256()
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    sha.update(block)
        except OSError:
            return None
        digest = _HASHES[key] = sha.hexdigest()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}


def _relative(path: str, base: Path) -> str:
    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive
        return path


def _file_entry(path: str, base: Path) -> dict[str, Any]:
    # the identity is filled in by fill_identities (it reads the files: off the GUI thread)
    return {"path": os.path.abspath(path), "relative": _relative(path, base), "identity": None}


def _file_entries(document: dict[str, Any]):
    for entry in document.get("inputs", []):
        if "path" in entry:
            yield entry
        yield from entry.get("members", [])
        for product in entry.get("products", []):
            yield from product.get("members", [])


def fill_identities(document: dict[str, Any]) -> dict[str, Any]:
    """Record each input file's size, modification time and SHA-256 (reads every file once per
    process while it is unchanged)."""
    for entry in _file_entries(document):
        entry["identity"] = file_identity(entry["path"])
    return document


def _index_key(i: int, j: int) -> str:
    return f"{i}/{j}"


# ---- saving --------------------------------------------------------------------------------------
def session_document(workbench: Workbench, session_path: str | os.PathLike) -> dict[str, Any]:
    """The session as a JSON-ready document, without file identities (see fill_identities);
    quick: it reads no file, so the window builds it on its own thread."""
    base = Path(session_path).resolve().parent
    inputs = []
    notes, signoffs, ran = {}, {}, []
    selection: dict[str, Any] = {"input": None, "product": None, "step": workbench.current_step}
    for i, association in enumerate(workbench.associations):
        if association.path and association.path.lower().endswith(".json"):
            entry = {"kind": "association-file", **_file_entry(association.path, base),
                     "members": [_file_entry(p, base) for product in association.products
                                 for p in product.input_paths]}
        elif association.path:
            entry = {"kind": "exposure", **_file_entry(association.path, base)}
        else:
            entry = {"kind": "built", "pool": association.asn_pool, "products": [
                {"name": product.name,
                 "members": [{**_file_entry(m.path, base), "exptype": m.exptype}
                             for m in product.members]}
                for product in association.products]}
        inputs.append(entry)
        for j, product in enumerate(association.products):
            key = workbench.key(product)
            if key in workbench.notes:
                notes[_index_key(i, j)] = workbench.notes[key]
            if key in workbench.signoffs:
                signoffs[_index_key(i, j)] = workbench.signoffs[key].to_dict()
            if key in workbench.product_results:
                ran.append(_index_key(i, j))
            if product is workbench.current_product:
                selection.update(input=i, product=j)
    night = workbench.night
    extra = {"night": night.to_dict()} if len(night) or night.watch else {}
    return {
        "format": FORMAT, "version": VERSION,
        "saved": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "software": {"iris_gui": __version__},
        "inputs": inputs,
        "parameters": workbench.config.to_dict(),
        "folders": {"output": workbench.output_dir, "references": workbench.ref_dir},
        "selection": selection,
        "view": workbench.view.to_dict(),
        "notes": notes,
        "signoffs": signoffs,
        "reviewer": workbench.reviewer,
        "ran": ran,
        **extra,
    }


def session_path_for(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path if path.name.endswith(SUFFIX) else path.with_name(path.name + SUFFIX)


def protected_paths(workbench: Workbench) -> list[str]:
    """The files a session must never be written onto: every input."""
    protected = [m for p in workbench.all_products for m in p.input_paths]
    return protected + [a.path for a in workbench.associations if a.path]


def save_session(workbench: Workbench, path: str | os.PathLike) -> Path:
    """Write the session (atomically; never onto one of its input files)."""
    path = session_path_for(path)
    document = fill_identities(session_document(workbench, path))
    return write_session_document(document, path, protected_paths(workbench))


def write_session_document(document: dict[str, Any], path: str | os.PathLike,
                           protected: list[str]) -> Path:
    """Write a document from ``session_document`` (atomically; never onto ``protected``)."""
    path = session_path_for(path)
    try:
        return atomic_write_text(path, json.dumps(document, indent=1) + "\n", protected=protected)
    except InputError as exc:
        raise SessionError(f"cannot save the session to {path}: {exc}") from None


# ---- reading -------------------------------------------------------------------------------------
@dataclass
class RestoreReport:
    """What opening a session found: one line per input that moved, changed or is missing, and
    per setting that could not be used."""

    moved: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: products (in the restored workbench) that had results when saved
    to_run: list[Product] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return self.moved + self.changed + self.missing + self.problems


def read_session(path: str | os.PathLike) -> dict[str, Any]:
    path = str(path)
    check_regular_file(path, "session file", noun="session file")
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except UnicodeDecodeError:
        raise SessionError(f"{path}: not a session file (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise SessionError(f"{path}: not a session file (JSON error at line {exc.lineno}, "
                           f"column {exc.colno}: {exc.msg})") from None
    except OSError as exc:
        raise SessionError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SessionError(f"{path}: not an iris_gui session file (no \"format\": \"{FORMAT}\")")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SessionError(f"{path}: session version {version!r} is not a whole number ≥ 1")
    if version > VERSION:
        raise SessionError(f"{path}: session version {version} was written by a newer iris_gui "
                           f"(this one reads up to version {VERSION})")
    for key, kind in (("inputs", list), ("parameters", dict), ("folders", dict),
                      ("selection", dict), ("view", dict), ("notes", dict), ("signoffs", dict),
                      ("ran", list), ("night", dict)):
        if key in document and not isinstance(document[key], kind):
            raise SessionError(f"{path}: {key} must be a {'list' if kind is list else 'table'}")
    return document


def _locate(entry: dict[str, Any], base: Path, report: RestoreReport) -> str:
    """The path to use for a saved file entry, reporting moved / changed / missing."""
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise SessionError("an input entry has no path")
    saved = entry["path"]
    identity = entry.get("identity") if isinstance(entry.get("identity"), dict) else None
    candidates = [saved]
    if isinstance(entry.get("relative"), str):
        beside = os.path.normpath(base / entry["relative"])
        if beside != os.path.normpath(saved):
            candidates.append(beside)
    for candidate in candidates:
        if not os.path.isfile(candidate):
            continue
        if candidate != saved:
            report.moved.append(f"{saved}: moved; using {candidate} (same place relative to "
                                "the session file)")
        if identity is not None:
            st = os.stat(candidate)
            if (st.st_size, st.st_mtime_ns) != (identity.get("size"), identity.get("mtime_ns")):
                now = file_identity(candidate)
                if now is None or now["sha256"] != identity.get("sha256"):
                    report.changed.append(f"{candidate}: changed since the session was saved "
                                          "(its content differs); results are recomputed from "
                                          "the file as it is now")
        return candidate
    report.missing.append(f"{saved}: missing (not at its saved path"
                          + (f" nor at {candidates[1]}" if len(candidates) > 1 else "") + ")")
    return saved


def restore_session(workbench: Workbench, path: str | os.PathLike) -> RestoreReport:
    """Replace the workbench's inputs, parameters, folders, selection, view and notes with the
    session's. Raises SessionError (nothing changed) when the file is not a usable session."""
    from ..engine.association import load_inputs

    document = read_session(path)
    base = Path(path).resolve().parent
    report = RestoreReport()
    try:
        config = PipelineConfig.from_dict(document.get("parameters") or {}, where=str(path))
    except InputError as exc:
        raise SessionError(str(exc)) from None
    associations: list[Association] = []
    for index, entry in enumerate(document.get("inputs") or []):
        if not isinstance(entry, dict):
            raise SessionError(f"{path}: input {index + 1} is not a table")
        kind = entry.get("kind")
        if kind in ("association-file", "exposure"):
            for member in entry.get("members") or []:
                _locate(member, base, report)
            where = _locate(entry, base, report)
            association = load_inputs(where, strict=False) if os.path.isfile(where) else \
                Association([Product(Path(where).stem, [], [f"{where}: missing"], where)],
                            path=where)
        elif kind == "built":
            products = []
            for p in entry.get("products") or []:
                if not isinstance(p, dict) or not isinstance(p.get("name"), str):
                    raise SessionError(f"{path}: input {index + 1} has a product without name")
                members = [Member(_locate(m, base, report), str(m.get("exptype", "science")),
                                  Path(str(m.get("path", ""))).name)
                           for m in p.get("members") or []]
                problems = [f"{m.path}: missing" for m in members if not os.path.isfile(m.path)]
                products.append(Product(p["name"], members, problems))
            association = Association(products, asn_pool=str(entry.get("pool", "iris_gui")))
        else:
            raise SessionError(f"{path}: input {index + 1} has unknown kind {kind!r}")
        associations.append(association)

    # everything read: now replace the workbench's content
    for association in list(workbench.associations):
        workbench.remove_association(association)
    workbench.undo.clear()
    workbench._apply_config(config)
    folders = document.get("folders") or {}
    output, refs = folders.get("output"), folders.get("references")
    workbench.set_output_dir(output if isinstance(output, str) and output else None)
    workbench.set_ref_dir(refs if isinstance(refs, str) and refs else None)
    for association in associations:
        workbench.add_association(association)
    index_of = {_index_key(i, j): product for i, a in enumerate(associations)
                for j, product in enumerate(a.products)}
    for key, text in (document.get("notes") or {}).items():
        if key in index_of and isinstance(text, str):
            workbench.set_note(index_of[key], text)
    for key, data in (document.get("signoffs") or {}).items():
        if key in index_of:
            try:
                workbench.signoffs[workbench.key(index_of[key])] = SignOff.from_dict(data)
            except ValueError as exc:
                report.problems.append(f"sign-off of {index_of[key].name}: {exc}")
    reviewer = document.get("reviewer")
    workbench.reviewer = reviewer if isinstance(reviewer, str) else ""
    report.to_run = [index_of[k] for k in document.get("ran") or [] if k in index_of]
    selection = document.get("selection") or {}
    chosen = index_of.get(_index_key(selection.get("input"), selection.get("product")))
    workbench.select(chosen or (workbench.all_products[0] if workbench.all_products else None))
    step = selection.get("step")
    if step in STEP_NAMES:
        workbench.select_step(step)
    elif step is not None:
        report.problems.append(f"selected step {step!r} is not an image2 step; showing "
                               f"{workbench.current_step}")
    report.problems += workbench.night.apply_dict(document.get("night"))
    # the view last: selecting a product resets the other-product choices and the zoom
    report.problems += workbench.view.apply_dict(document.get("view") or {})
    return report
