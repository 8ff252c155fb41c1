"""Reading the PROVENANCE an iris_gui output carries, and re-making a product from it.

The document is JSON in a one-cell binary table extension named PROVENANCE (written by
``pipeline.provenance_hdu``): software, version, product, association, inputs (science,
backgrounds), ref_dir, the full parameter set and each step's status and references; since
``--resume``, also ``identity`` (``run_identity``: each input's and each candidate reference's
path and sha256, the parameter fingerprint), its ``file_checks`` (size, mtime, ctime, inode and
sha256 of those files: the pre-check that spares re-hashing unchanged files) and ``outputs`` (the
names of the files the product wrote); ``sha256`` ({path: hex} of every input and every reference
used, which the review report's re-make checks) and ``reference_rules`` ({step: {kind: the rule
or override that chose it}}). Older documents lack these; reading them is unchanged, they are
simply never up to date for ``--resume``. PARFINGR is ``parameter_fingerprint``: the parameters
as given, without the reference-file ones.

The document is checked at every level before anything is taken from it: a document that is not
a JSON mapping, ``parameters``/``steps``/``inputs`` or a step's ``references`` that are not
mappings, a science path that is not text, backgrounds that are not a list of paths, ... raise
InputError naming the file and the place, e.g. ``x_cal.fits: provenance: steps.flat_field.references
must be a mapping``. Parameter values go through the step declarations like a parameter file's.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .association import Product
from .config import PipelineConfig
from .errors import InputError
from .files import check_not_lfs_pointer
from .lazy import fits
from .parameters import describe

if TYPE_CHECKING:
    from .pipeline import ProductResult

PROVENANCE_EXTENSION = "PROVENANCE"

#: bytes read at a time while hashing (hashlib releases the GIL on blocks this large)
HASH_CHUNK = 4 << 20
#: (real path, size, mtime_ns, ctime_ns, inode) -> sha256: each file hashed once per process
_HASHES: dict[tuple, str] = {}
_HASHES_LOCK = threading.Lock()


def _stat_key(path: str) -> tuple | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (os.path.realpath(path), info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def file_sha256(path: str | os.PathLike, recorded: dict | None = None) -> str | None:
    """The sha256 of a file (hex), None if it cannot be read.

    ``recorded``: an earlier document's ``file_checks`` ({path: [size, mtime_ns, ctime_ns,
    inode, sha256]}); when the file's stat still equals what was recorded there, its recorded
    sha256 is taken without reading the file (the fast pre-check of ``--resume``)."""
    path = os.path.abspath(path)
    key = _stat_key(path)
    if key is None:
        return None
    entry = (recorded or {}).get(path)
    if isinstance(entry, list) and len(entry) == 5 and list(key[1:]) == entry[:4]:
        return str(entry[4])
    with _HASHES_LOCK:
        digest = _HASHES.get(key)
    if digest is not None:
        return digest
    sha = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(HASH_CHUNK):
                sha.update(block)
    except OSError:
        return None
    digest = sha.hexdigest()
    with _HASHES_LOCK:
        _HASHES[key] = digest
    return digest


def parameter_fingerprint(config: PipelineConfig) -> str:
    """PARFINGR: the parameter set's fingerprint with the reference-file parameters
    (``override_*``) left out. Which references were used is recorded apart (R_* keywords, the
    provenance's ``references``, ``sha256`` and ``reference_rules``), so re-making an output from
    its provenance, which pins the references it used as overrides, gives the same PARFINGR.
    The file layout (``output_layout``) is left out too: the same numbers in either layout have
    one PARFINGR, the one they had before the option existed."""
    from .config import LAYOUT_OPTIONS
    from .steps import STEPS

    given = config.copy()
    for name in LAYOUT_OPTIONS:
        given.pipeline.pop(name, None)
    for step in STEPS:
        for parameter in step.all_parameters:
            if parameter.reference:
                given.steps[step.name][parameter.name] = None
    return given.fingerprint()


def _reference_paths(config: PipelineConfig, ref_dir: str | os.PathLike) -> dict[str, list[str]]:
    """Each reference kind a step that runs would read: its override, or every file of that
    kind in the folder (a new or changed one may change the choice)."""
    from .references import folder_signature
    from .steps import STEPS, references_read

    paths: dict[str, list[str]] = {}
    for step in STEPS:
        if config.steps[step.name]["skip"]:
            continue
        # its own kind and any it borrows (bkg_subtract's dark), chosen by the owning step
        for kind, override, _force in references_read(step, config.steps):
            paths[kind] = (
                [os.path.abspath(override)] if override
                else [path for path, _mtime in folder_signature(Path(ref_dir), kind)])
    return paths


def run_identity(product: Product, config: PipelineConfig, ref_dir: str | os.PathLike,
                 recorded: dict | None = None) -> dict:
    """What a product's outputs depend on: each input's path and sha256, the reference folder,
    the references each step would choose from (its override, or every file of the kind in the
    folder) with their sha256, and the parameter fingerprint. Recorded as ``identity``;
    ``--resume`` compares it with the current one. Content, not dates, is the truth: a file
    touched but unchanged leaves the identity as it was. ``recorded`` (an earlier
    ``file_checks``) spares reading files whose size, mtime, ctime and inode are unchanged: a
    rewrite with other bytes always changes ctime (which no tool can set back), so the pre-check
    misses only a change made while the clock was set back. JSON-normal (lists, not tuples)."""
    references = {kind: [[path, file_sha256(path, recorded)] for path in paths]
                  for kind, paths in _reference_paths(config, ref_dir).items()}
    inputs = [[os.path.abspath(path), file_sha256(path, recorded)] for path in product.input_paths]
    identity = {"inputs": inputs, "ref_dir": os.path.abspath(ref_dir), "references": references,
                "parameters": config.fingerprint()}
    return json.loads(json.dumps(identity, default=str))


def file_checks(identity: dict) -> dict[str, list]:
    """{path: [size, mtime_ns, ctime_ns, inode, sha256]} for the files of an ``identity``: the
    pre-check a later ``run_identity`` may use."""
    files = list(identity["inputs"])
    files += [entry for entries in identity["references"].values() for entry in entries]
    checks = {}
    for path, digest in files:
        key = _stat_key(path)
        if key is not None and digest is not None:
            checks[path] = [*key[1:], digest]
    return checks


def checksum_entries(result: ProductResult) -> dict[str, Any]:
    """What the provenance document records about the files a product used: ``identity`` and
    its ``file_checks`` (for ``--resume``), ``sha256`` ({path: hex} of every input and of every
    reference a step used) and ``reference_rules`` ({step: {kind: how it was chosen}})."""
    identity = run_identity(result.product, result.config, result.ref_dir)
    sha256 = {path: digest for path, digest in identity["inputs"] if digest}
    rules: dict[str, dict[str, str]] = {}
    for name, step in result.steps.items():
        for kind, path in step.references.items():
            path = os.path.abspath(path)
            digest = file_sha256(path)
            if digest:
                sha256[path] = digest
            rules.setdefault(name, {})[kind] = reference_rule(result, name, kind, path)
    return {"identity": identity, "file_checks": file_checks(identity), "sha256": sha256,
            "reference_rules": rules}


def reference_rule(result: ProductResult, step_name: str, kind: str, path: str) -> str:
    """How the reference ``path`` was chosen for ``step_name``: the override parameter, or the
    folder rule's explanation (the choice made again on the step's input, from the cached scan)."""
    from .references import find_reference
    from .steps import REFERENCE_OWNER

    # the step owning the kind holds its override (bkg_subtract reads dark_current's dark)
    owner = REFERENCE_OWNER[kind].name if kind in REFERENCE_OWNER else step_name
    override = result.config.steps[owner].get(f"override_{kind}")
    if override and os.path.abspath(override) == path:
        return f"override_{kind} (given)"
    model = result.before(step_name)
    if model is None:
        return "chosen from the reference folder"
    try:
        choice, _why = find_reference(kind, model, Path(result.ref_dir), None)
    except InputError as exc:
        return f"chosen from the reference folder ({exc})"
    if choice is not None and os.path.abspath(choice.path) == path:
        return choice.explanation
    return "chosen from the reference folder (which has changed since)"


def earlier_provenance(planned: set[Path] | list[Path]) -> tuple[list[Path], dict] | None:
    """(the ``planned`` paths that exist, sorted; the PROVENANCE of the first), or None when
    none exists or the first holds no readable PROVENANCE."""
    existing = sorted(Path(p) for p in planned if Path(p).is_file())
    if not existing:
        return None
    try:
        return existing, read_provenance(existing[0])
    except InputError:
        return None


def up_to_date(product: Product, config: PipelineConfig, ref_dir: str | os.PathLike,
               planned: set[Path] | list[Path],
               earlier: tuple[list[Path], dict] | None = None) -> bool:
    """True when the outputs an earlier run wrote for ``product`` (among the ``planned`` paths)
    all exist and record the identity this run would record (see ``run_identity``).
    ``earlier``: what ``earlier_provenance(planned)`` gave, when the caller read it already."""
    earlier = earlier or earlier_provenance(planned)
    if earlier is None:
        return False
    existing, document = earlier
    checks = document.get("file_checks")
    current = run_identity(product, config, ref_dir, checks if isinstance(checks, dict) else None)
    outputs = document.get("outputs")
    if document.get("identity") != current or not isinstance(outputs, list) or not outputs:
        return False
    folder = existing[0].parent
    for name in outputs:
        path = folder / str(name)
        if path not in set(map(Path, planned)) or not path.is_file():
            return False
        try:
            if path != existing[0] and read_provenance(path).get("identity") != current:
                return False
        except InputError:
            return False
    return True


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """The provenance document an iris_gui output carries (a mapping; contents not yet checked)."""
    path = str(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: file not found")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a folder, not an iris_gui output file")
    check_not_lfs_pointer(path, "iris_gui output")
    try:
        with fits.open(path, memmap=False) as hdul:
            if PROVENANCE_EXTENSION not in hdul:
                raise InputError(f"{path}: has no {PROVENANCE_EXTENSION} extension; "
                                 f"it was not written by iris_gui")
            table = hdul[PROVENANCE_EXTENSION].data
            names = getattr(getattr(table, "columns", None), "names", None) or []
            if "JSON" not in names or len(table) < 1:
                raise InputError(f"{path}: provenance: the {PROVENANCE_EXTENSION} extension has "
                                 f"no JSON cell")
            text = table["JSON"][0]
    except InputError:
        raise
    except Exception:
        raise InputError(f"{path}: provenance could not be read (not a readable FITS file?)") \
            from None
    try:
        text = text.decode() if isinstance(text, bytes) else str(text)
        document = json.loads(text)
    except ValueError:
        raise InputError(f"{path}: provenance: not valid JSON") from None
    if not isinstance(document, dict):
        raise InputError(f"{path}: provenance must be a JSON mapping, found {describe(document)}")
    return document


def _mapping(value: Any, what: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{where}: {what} must be a mapping, found {describe(value)}")
    return value


def _text(value: Any, what: str, where: str, required: bool = False,
          kind: str = "a file path") -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        found = "nothing" if value is None or value == "" else describe(value)
        raise InputError(f"{where}: {what} must be {kind} (text), found {found}")
    return value


def rerun_setup(path: str | os.PathLike) -> tuple[Product, PipelineConfig, str]:
    """(product, parameters, reference folder) that re-make the output at ``path``.

    The references the output was made with are pinned as overrides when they still exist,
    so the re-made file uses the same ones even if the reference folder has changed since.
    """
    from .association import Member
    from .steps import REFERENCE_OWNER

    document = read_provenance(path)
    where = f"{path}: provenance"
    parameters = _mapping(document.get("parameters"), "parameters", where)
    config = PipelineConfig.from_dict(parameters, f"{where}: parameters")
    steps = _mapping(document.get("steps"), "steps", where)
    for step_name, info in steps.items():
        info = _mapping(info, f"steps.{step_name}", where)
        references = _mapping(info.get("references"), f"steps.{step_name}.references", where)
        for kind, ref_path in references.items():
            ref_path = _text(ref_path, f"steps.{step_name}.references.{kind}", where, True)
            key = f"override_{kind}"
            # pinned where the kind's override lives (a dark bkg_subtract read: dark_current's)
            owner = REFERENCE_OWNER[kind].name if kind in REFERENCE_OWNER else step_name
            if owner in config.steps and key in config.steps[owner] and \
                    os.path.exists(ref_path):
                config.steps[owner][key] = ref_path
    inputs = _mapping(document.get("inputs"), "inputs", where)
    science = inputs.get("science")
    if not science:
        raise InputError(f"{where}: no science input recorded (inputs.science)")
    science = _text(science, "inputs.science", where, True)
    backgrounds = inputs.get("backgrounds") or []
    if not isinstance(backgrounds, list):
        raise InputError(f"{where}: inputs.backgrounds must be a list of file paths, found "
                         f"{describe(backgrounds)}")
    for index, background in enumerate(backgrounds):
        _text(background, f"inputs.backgrounds[{index}]", where, True)
    name = _text(document.get("product"), "product", where, kind="a name") or Path(path).stem
    asn_path = _text(document.get("association"), "association", where)
    ref_dir = _text(document.get("ref_dir"), "ref_dir", where)
    members = [Member(science, "science", Path(science).name)]
    members += [Member(b, "background", Path(b).name) for b in backgrounds]
    problems = [f"input {m.path} no longer exists" for m in members if not os.path.exists(m.path)]
    product = Product(name, members, problems, asn_path=asn_path)
    return product, config, ref_dir or str(Path(science).parent)
