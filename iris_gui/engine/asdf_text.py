"""Writing a small ASDF document as text, and the FITS ``ASDF`` extension that carries it.

Why not the ``asdf`` library: its first write in a process loads every installed ASDF extension
and schema (about 2 s on the 2-core machine, 1.5 s more with gwcs imported), which would be paid
by every run and every worker for a tree of a few kilobytes. The trees we write (metadata, a
gwcs made of a handful of transforms, links to the FITS arrays) are plain YAML with tags, so we
emit them directly; the tests read every one back with ``asdf``/``gwcs``/``stdatamodels``.

The format (ASDF standard 1.5.0, which asdf >= 2.8 reads): two comment lines ``#ASDF 1.0.0`` and
``#ASDF_STANDARD 1.5.0``, ``%YAML 1.1``, a ``%TAG`` directive, the document ``--- !core/asdf-1.1.0``
and ``...``. No binary blocks: small arrays are written inline (``data:``) and the image arrays
are links into the FITS file (``source: fits:SCI,1``), the way stdatamodels writes them.

Values: str (always double-quoted, JSON escapes, so YAML 1.1 never reads ``yes``/``on`` or a
number into them), int, float (``.nan``/``.inf`` for the non-finite ones), bool, None, dict, list,
tuple and ``Tagged``. Tags are always written verbatim (``!<tag:...>``).

The FITS side is what ``stdatamodels.fits_support`` reads: a one-row BINTABLE named ``ASDF`` with
one column ``ASDF_METADATA`` holding the document's bytes as uint8.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from .lazy import fits

ASDF_EXTENSION = "ASDF"
ASDF_COLUMN = "ASDF_METADATA"

CORE = "tag:stsci.edu:asdf/core/"
TRANSFORM = "tag:stsci.edu:asdf/transform/"
UNIT = "tag:stsci.edu:asdf/unit/unit-1.0.0"
NDARRAY = CORE + "ndarray-1.0.0"

_HEADER = ("#ASDF 1.0.0\n#ASDF_STANDARD 1.5.0\n%YAML 1.1\n%TAG ! tag:stsci.edu:asdf/\n"
           "--- !core/asdf-1.1.0\n")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: words YAML 1.1 reads as booleans or null: never written as plain keys
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


@dataclass(frozen=True)
class Tagged:
    """A node with an ASDF tag (e.g. a transform, a frame, a unit)."""

    tag: str
    value: Any


def inline_array(values: Any, datatype: str = "float64") -> Tagged:
    """A small numeric array written inline (``core/ndarray`` with ``data``)."""
    array = np.asarray(values, dtype=datatype)
    return Tagged(NDARRAY, {"data": array.tolist(), "datatype": datatype,
                            "shape": list(array.shape)})


def fits_array_link(extension: str, array: np.ndarray) -> Tagged:
    """A link to the image array of FITS extension ``extension`` (version 1) of the same file,
    as stdatamodels writes it: astropy stores arrays big-endian, C order."""
    dtype = np.dtype(array.dtype)
    return Tagged(NDARRAY, {"source": f"fits:{extension},1", "shape": list(array.shape),
                            "datatype": dtype.name, "byteorder": "big"})


def unit(name: str) -> Tagged:
    return Tagged(UNIT, name)


# ---- YAML ------------------------------------------------------------------------------------

def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return ".nan"
        if math.isinf(number):
            return ".inf" if number > 0 else "-.inf"
        return repr(number)
    if isinstance(value, str):
        return json.dumps(value)  # ASCII, escapes valid in a YAML double-quoted scalar
    raise TypeError(f"cannot write {type(value).__name__} into an ASDF tree")


def _key(key: Any) -> str:
    text = str(key)
    if _PLAIN_KEY.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)


def _tag(tag: str) -> str:
    return f"!<{tag}>"


def _is_flow(value: Any) -> bool:
    """Scalars and (nested) lists of scalars or tagged scalars go on one line."""
    if isinstance(value, Tagged):
        return _is_flow(value.value) and not isinstance(value.value, dict)
    if isinstance(value, (list, tuple)):
        return all(_is_flow(item) for item in value)
    if isinstance(value, dict):
        return not value
    return True


def _flow(value: Any) -> str:
    if isinstance(value, Tagged):
        return f"{_tag(value.tag)} {_flow(value.value)}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{}"
    return _scalar(value)


def _emit(prefix: str, value: Any, indent: int, out: list[str]) -> None:
    """Append the lines of ``prefix value`` (``prefix`` is ``key:`` or ``-``) at ``indent``."""
    pad = " " * indent
    tag = ""
    if isinstance(value, Tagged) and not _is_flow(value):
        tag, value = " " + _tag(value.tag), value.value
    if _is_flow(value):
        out.append(f"{pad}{prefix}{tag} {_flow(value)}")
        return
    out.append(f"{pad}{prefix}{tag}")
    if isinstance(value, dict):
        for key, item in value.items():
            _emit(f"{_key(key)}:", item, indent + 2, out)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _emit("-", item, indent + 2, out)
    else:
        raise TypeError(f"cannot write {type(value).__name__} into an ASDF tree")


def asdf_text(tree: dict[str, Any]) -> str:
    """The ASDF document holding ``tree`` (a mapping at the root)."""
    lines: list[str] = []
    for key, value in tree.items():
        _emit(f"{_key(key)}:", value, 0, lines)
    return _HEADER + "\n".join(lines) + "\n...\n"


def asdf_hdu(tree: dict[str, Any]) -> fits.BinTableHDU:
    """The FITS ``ASDF`` extension (stdatamodels' layout) holding ``tree``."""
    raw = np.frombuffer(asdf_text(tree).encode("ascii"), dtype=np.uint8)[None, :]
    column = fits.Column(name=ASDF_COLUMN, format=f"{raw.shape[1]}B", array=raw)
    return fits.BinTableHDU.from_columns([column], name=ASDF_EXTENSION)
