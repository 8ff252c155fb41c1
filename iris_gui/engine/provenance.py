"""Reading the PROVENANCE an iris_gui output carries, and re-making a product from it.

The document is JSON in a one-cell binary table extension named PROVENANCE (written by
``pipeline.provenance_hdu``): software, version, product, association, inputs (science,
backgrounds), ref_dir, the full parameter set and each step's status and references.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from astropy.io import fits

from .association import Product
from .config import PipelineConfig
from .errors import InputError

PROVENANCE_EXTENSION = "PROVENANCE"


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """The provenance document an iris_gui output carries."""
    path = str(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: file not found")
    try:
        with fits.open(path, memmap=False) as hdul:
            if PROVENANCE_EXTENSION not in hdul:
                raise InputError(f"{path}: has no {PROVENANCE_EXTENSION} extension; "
                                 f"it was not written by iris_gui")
            text = hdul[PROVENANCE_EXTENSION].data["JSON"][0]
            text = text.decode() if isinstance(text, bytes) else str(text)
            return json.loads(text)
    except InputError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: provenance could not be read ({exc})") from exc


def rerun_setup(path: str | os.PathLike) -> tuple[Product, PipelineConfig, str]:
    """(product, parameters, reference folder) that re-make the output at ``path``.

    The references the output was made with are pinned as overrides when they still exist,
    so the re-made file uses the same ones even if the reference folder has changed since.
    """
    from .association import Member

    document = read_provenance(path)
    where = f"{path}: provenance"
    config = PipelineConfig.from_dict(document.get("parameters") or {}, where)
    for step_name, info in (document.get("steps") or {}).items():
        for kind, ref_path in (info.get("references") or {}).items():
            key = f"override_{kind}"
            if step_name in config.steps and key in config.steps[step_name] and \
                    os.path.exists(ref_path):
                config.steps[step_name][key] = ref_path
    inputs = document.get("inputs") or {}
    science = inputs.get("science")
    if not science:
        raise InputError(f"{where}: no science input recorded")
    members = [Member(science, "science", Path(science).name)]
    members += [Member(b, "background", Path(b).name) for b in inputs.get("backgrounds", [])]
    problems = [f"input {m.path} no longer exists" for m in members if not os.path.exists(m.path)]
    product = Product(str(document.get("product") or Path(path).stem), members, problems,
                      asn_path=document.get("association"))
    return product, config, str(document.get("ref_dir") or Path(science).parent)
