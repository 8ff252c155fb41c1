"""Reading the PROVENANCE an iris_gui output carries, and re-making a product from it.

The document is JSON in a one-cell binary table extension named PROVENANCE (written by
``pipeline.provenance_hdu``): software, version, product, association, inputs (science,
backgrounds), ref_dir, the full parameter set and each step's status and references; since
``--resume``, also ``identity`` (``run_identity``: input identities, references, parameter
fingerprint) and ``outputs`` (the names of the files the product wrote). Older documents lack
both; reading them is unchanged, they are simply never up to date for ``--resume``.

The document is checked at every level before anything is taken from it: a document that is not
a JSON mapping, ``parameters``/``steps``/``inputs`` or a step's ``references`` that are not
mappings, a science path that is not text, backgrounds that are not a list of paths, ... raise
InputError naming the file and the place, e.g. ``x_cal.fits: provenance: steps.flat_field.references
must be a mapping``. Parameter values go through the step declarations like a parameter file's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .association import Product
from .config import PipelineConfig
from .errors import InputError
from .lazy import fits
from .parameters import describe

PROVENANCE_EXTENSION = "PROVENANCE"


def _stat_identity(path: str) -> list:
    try:
        info = os.stat(path)
        return [os.path.abspath(path), info.st_size, info.st_mtime_ns]
    except OSError:
        return [os.path.abspath(path), None, None]


def run_identity(product: Product, config: PipelineConfig, ref_dir: str | os.PathLike) -> dict:
    """What a product's outputs depend on, without reading pixels: each input's identity (path,
    size, mtime), the reference folder and the references each step would choose there (or its
    override), and the parameter fingerprint. Recorded as ``identity`` in the provenance;
    ``--resume`` compares it with the current one. JSON-normal (lists, not tuples)."""
    from .references import folder_signature
    from .steps import STEPS

    references: dict[str, Any] = {}
    for step in STEPS:
        params = config.steps[step.name]
        if not step.reference_kind or params["skip"]:
            continue
        override = params.get(f"override_{step.reference_kind}")
        references[step.reference_kind] = (
            _stat_identity(override) if override
            else folder_signature(Path(ref_dir), step.reference_kind))
    identity = {"inputs": [_stat_identity(path) for path in product.input_paths],
                "ref_dir": os.path.abspath(ref_dir), "references": references,
                "parameters": config.fingerprint()}
    return json.loads(json.dumps(identity, default=str))


def up_to_date(product: Product, config: PipelineConfig, ref_dir: str | os.PathLike,
               planned: set[Path] | list[Path]) -> bool:
    """True when the outputs an earlier run wrote for ``product`` (among the ``planned`` paths)
    all exist and record the identity this run would record (see ``run_identity``)."""
    existing = sorted(Path(p) for p in planned if Path(p).is_file())
    if not existing:
        return False
    current = run_identity(product, config, ref_dir)
    try:
        document = read_provenance(existing[0])
    except InputError:
        return False
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
            if step_name in config.steps and key in config.steps[step_name] and \
                    os.path.exists(ref_path):
                config.steps[step_name][key] = ref_path
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
