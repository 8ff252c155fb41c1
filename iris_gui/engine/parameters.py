"""Parameter declarations: the one place a step says what it can be told.

The runner, the cfg/asdf reader and writer, the command-line overrides and the GUI forms are all
generated from these declarations. Values arrive as text (cfg files, command line) or as Python
values (asdf files, the GUI); ``Parameter.coerce`` turns either into the declared type or raises a
ParameterError that names the key and where it came from.

A declaration can carry a ``check(value, label)``: a rule for composite values (a DQ mask written
as flag names, an 'RA, Dec' pair, an output size) that ``coerce`` applies after the type and bounds,
so a value is validated once, when it enters a configuration (file, command line, form,
provenance), rather than when the step runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ParameterError

KINDS = ("float", "int", "bool", "string", "path", "choice")

_TRUE = {"true", "yes", "on", "1", "t", "y"}
_FALSE = {"false", "no", "off", "0", "f", "n"}


@dataclass(frozen=True)
class Parameter:
    """One parameter of a step (or of the pipeline).

    kind: float, int, bool, string, path (a file, e.g. a reference override) or choice.
    optional: None is a legal value (written ``None`` in cfg files, ``null`` in asdf).
    reference: for path parameters that override a reference file, the reference kind
    (``dark``, ``flat``, ``photom``, ``distortion``) so forms can offer a file picker.
    """

    name: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False
    reference: str | None = None
    #: exclusive bounds (minimum < value) rather than inclusive
    exclusive_minimum: bool = False
    #: extra rule for the converted value: ``check(value, label)`` raises ParameterError naming
    #: ``label``; not called for None
    check: Callable[[Any, str], None] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name}: unknown kind {self.kind!r}")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"parameter {self.name}: a choice needs choices")
        if self.default is None and not self.optional:
            raise ValueError(f"parameter {self.name}: default None needs optional=True")

    # ------------------------------------------------------------------------------------------
    def coerce(self, value: Any, where: str = "") -> Any:
        """``value`` (text or Python value) as this parameter's type, checked against its bounds.

        ``where`` names the source for messages, e.g. ``"image2.cfg: steps.flat_field"``.
        """
        label = f"{where}.{self.name}" if where else self.name
        if isinstance(value, str):
            text = value.strip()
            if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
                text = text[1:-1]
            if text.lower() in ("none", "null", "") and (self.optional or self.kind == "path"):
                if self.optional:
                    return None
            value = text
        if value is None:
            if self.optional:
                return None
            raise ParameterError(f"{label}: a value is required (it cannot be None)")
        if isinstance(value, (dict, list, tuple, set)) or (
                isinstance(value, np.ndarray) and value.ndim > 0):
            raise ParameterError(f"{label}: expected a single value, found {describe(value)}")
        converted = self._convert(value, label)
        self._check_bounds(converted, label)
        if self.check is not None and converted is not None:
            self.check(converted, label)
        return converted

    def _convert(self, value: Any, label: str) -> Any:
        kind = self.kind
        if isinstance(value, np.ndarray):  # a 0-d array from an asdf file
            value = value.item()
        if isinstance(value, np.generic):  # numpy scalars from arrays or widgets
            value = value.item()
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            if isinstance(value, str):
                low = value.lower()
                if low in _TRUE:
                    return True
                if low in _FALSE:
                    return False
            raise ParameterError(f"{label}: expected true or false, got {describe(value)}")
        if kind == "int":
            if isinstance(value, bool):
                raise ParameterError(f"{label}: expected a whole number, got {describe(value)}")
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                try:
                    return int(value)
                except ValueError:
                    pass
            raise ParameterError(f"{label}: expected a whole number, got {describe(value)}")
        if kind == "float":
            if isinstance(value, bool):
                raise ParameterError(f"{label}: expected a number, got {describe(value)}")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ParameterError(f"{label}: expected a number, got {describe(value)}") from None
            if math.isnan(number):
                raise ParameterError(f"{label}: NaN is not an accepted value")
            if math.isinf(number):
                raise ParameterError(f"{label}: infinity is not an accepted value")
            return number
        if kind == "choice":
            text = str(value).strip()
            for choice in self.choices:
                if text.lower() == choice.lower():
                    return choice
            raise ParameterError(
                f"{label}: {describe(value)} is not one of {', '.join(self.choices)}"
            )
        # string / path
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ParameterError(f"{label}: expected text, got {describe(value)}")
        text = str(value)
        if kind == "path" and not text:
            return None if self.optional else text
        return text

    def _check_bounds(self, value: Any, label: str) -> None:
        if self.kind not in ("int", "float") or value is None:
            return
        if self.minimum is not None:
            if self.exclusive_minimum and not value > self.minimum:
                raise ParameterError(f"{label}: {value} is out of range; it must be > {self.minimum}")
            if not self.exclusive_minimum and value < self.minimum:
                raise ParameterError(f"{label}: {value} is out of range; it must be >= {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(f"{label}: {value} is out of range; it must be <= {self.maximum}")

    # ------------------------------------------------------------------------------------------
    def to_text(self, value: Any) -> str:
        """The value as it is written in a cfg file or on a command line."""
        if value is None:
            return "None"
        if self.kind == "bool":
            return "True" if value else "False"
        if self.kind == "float":
            return repr(float(value))
        return str(value)

    def describe_range(self) -> str:
        """Human text for the allowed values (used in help and forms)."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"<= {self.maximum:g}")
        if self.optional:
            parts.append("or None")
        return ", ".join(parts)


def describe(value: Any) -> str:
    """A short human description of ``value`` for messages: its text (cut to 40 characters) for
    plain values, its kind ("a mapping", "a list") otherwise."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return "an array"
    if value is None or isinstance(value, (str, int, float, bool, np.generic)):
        text = repr(value.item() if isinstance(value, np.generic) else value)
        return text if len(text) <= 40 else text[:37] + "..."
    return "a value that is not text or a number"


def common_step_parameters(default_suffix: str) -> tuple[Parameter, ...]:
    """The stpipe-style parameters every step has."""
    return (
        Parameter("skip", "bool", False, "Skip this step: its input passes through unchanged."),
        Parameter("save_results", "bool", False,
                  "Also write this step's result as <product>_<suffix>.fits."),
        Parameter("suffix", "string", default_suffix,
                  "File name suffix used when this step's result is saved."),
    )


#: Keys stpipe writes into every step's parameters; accepted in files, ignored with a note.
STPIPE_IGNORED_KEYS = frozenset({
    "pre_hooks", "post_hooks", "output_file", "output_dir", "output_ext", "output_use_model",
    "output_use_index", "search_output_file", "input_dir", "steps", "in_memory",
})
