"""The review report's checks: what each one measures, its pass / warn / fail thresholds and the
``checks.cfg`` file that overrides them.

A *limit* check has a value and two thresholds: ``max`` checks warn when the value is above
``warn`` and fail when it is above ``fail``; ``min`` checks warn below ``warn`` and fail below
``fail``. Either threshold can be ``off``. A *flag* check is a yes/no finding (the dark was
counted twice) with the verdict it gives when found (``verdict = warn`` or ``fail``, or ``pass``
to silence it). A product's traffic light is its worst verdict.

``checks.cfg`` is a small configobj file, the same style as image2.cfg: one section per check,
only the keys to change::

    # iris_gui review-report thresholds
    [resample_flux]
    warn = 0.005
    fail = 0.02
    [clip_cannot_reject]
    verdict = pass

An unknown check or key, a value that is not a number (or ``off``), or thresholds the wrong way
round raise InputError naming the file, the section and the key.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field

from ..engine.errors import InputError

PASS, WARN, FAIL = "pass", "warn", "fail"
VERDICTS = (PASS, WARN, FAIL)
_RANK = {PASS: 0, WARN: 1, FAIL: 2}
#: a product that has no check result (nothing ran)
UNKNOWN = "unknown"


@dataclass(frozen=True)
class CheckSpec:
    """One check: ``kind`` is ``max``, ``min`` or ``flag``; thresholds are its defaults."""

    name: str
    title: str
    kind: str
    doc: str
    warn: float | None = None
    fail: float | None = None
    verdict: str = WARN
    #: how the value is shown: "percent" (a fraction shown as %), "count", "number"
    unit: str = "number"


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("step_failed", "A step failed", "flag",
              "The product or one of its steps failed: no output was made.", verdict=FAIL),
    CheckSpec("resample_flux", "Flux conserved by resample", "max",
              "|F(_i2d) / F(_cal) - 1|: the total flux of the resampled image against the "
              "calibrated one (pixel sums, times the pixel solid angle for MJy/sr; the _cal "
              "counts the pixels resample uses, averaged over integrations).",
              warn=0.005, fail=0.02, unit="percent"),
    CheckSpec("new_flags", "Newly flagged pixels", "max",
              "Fraction of pixels a step newly flagged (DQ after & ~before, any bit), for "
              "bkg_subtract, dark_current, flat_field and photom (parse_subarray_map marks its "
              "windows by design; resample has another grid).",
              warn=0.01, fail=0.05, unit="percent"),
    CheckSpec("nan_growth", "NaN growth", "max",
              "Fraction of pixels that are NaN after a step and were not before (same steps "
              "as new_flags).", warn=0.001, fail=0.01, unit="percent"),
    CheckSpec("flat_ratio", "Flat ratio near 1", "max",
              "|median(after / before) - 1| of flat_field: a flat that is not normalised, or "
              "the wrong one, moves it far from 0.", warn=0.05, fail=0.25, unit="percent"),
    CheckSpec("dark_twice", "Dark counted twice", "flag",
              "bkg_subtract used backgrounds that were not dark-subtracted (they carried the dark "
              "and removed it) and dark_current removed it again.", verdict=FAIL),
    CheckSpec("clip_cannot_reject", "Clip that cannot reject", "flag",
              "With N backgrounds no value can lie more than a certain number of standard "
              "deviations from their median (2.12 for N = 3, 2.58 for N = 5): a clip at or above "
              "that limit never rejects anything, and the background is a plain mean.",
              verdict=WARN),
    CheckSpec("few_backgrounds", "Enough backgrounds", "min",
              "Number of background exposures bkg_subtract combined (when the step is on).",
              warn=3, fail=None, unit="count"),
    CheckSpec("reference_unchecked", "Reference matches the instrument", "flag",
              "A reference was chosen although the exposure or the reference has no INSTRUME "
              "or DETECTOR, so that match could not be checked.", verdict=WARN),
    CheckSpec("step_warnings", "No engine warnings", "max",
              "Number of warnings the steps gave for this product (each is listed).",
              warn=0, fail=None, unit="count"),
)
CHECK_BY_NAME = {c.name: c for c in CHECKS}


@dataclass
class Thresholds:
    """The thresholds in force: the defaults, changed by ``checks.cfg`` or the window."""

    #: check name -> {"warn": x, "fail": y} or {"verdict": v}
    values: dict[str, dict] = field(default_factory=lambda: {
        c.name: ({"verdict": c.verdict} if c.kind == "flag" else {"warn": c.warn, "fail": c.fail})
        for c in CHECKS})
    source: str | None = None

    def copy(self) -> Thresholds:
        return Thresholds(copy.deepcopy(self.values), self.source)

    def set(self, check: str, key: str, value, where: str = "") -> None:
        """Set one threshold (``warn``/``fail``) or a flag's ``verdict``; InputError if wrong."""
        prefix = f"{where}: " if where else ""
        spec = CHECK_BY_NAME.get(check)
        if spec is None:
            raise InputError(f"{prefix}[{check}]: unknown check (known: "
                             f"{', '.join(CHECK_BY_NAME)})")
        allowed = ("verdict",) if spec.kind == "flag" else ("warn", "fail")
        if key not in allowed:
            raise InputError(f"{prefix}[{check}] {key}: unknown key (this check takes "
                             f"{' and '.join(allowed)})")
        if key == "verdict":
            text = str(value).strip().lower()
            if text not in VERDICTS:
                raise InputError(f"{prefix}[{check}] verdict = {value!r}: must be one of "
                                 f"{', '.join(VERDICTS)}")
            self.values[check]["verdict"] = text
            return
        number = _threshold(value, f"{prefix}[{check}] {key}")
        limits = dict(self.values[check], **{key: number})
        warn, fail = limits["warn"], limits["fail"]
        if warn is not None and fail is not None and (
                warn > fail if spec.kind == "max" else warn < fail):
            relation = "at most" if spec.kind == "max" else "at least"
            raise InputError(f"{prefix}[{check}]: warn = {warn:g} must be {relation} fail = "
                             f"{fail:g} (a {spec.kind} check)")
        self.values[check] = limits

    def describe(self, check: str) -> str:
        """The thresholds as text, e.g. ``warn > 0.5 %, fail > 2 %``."""
        spec = CHECK_BY_NAME[check]
        values = self.values[check]
        if spec.kind == "flag":
            return f"{values['verdict']} if found"
        sign = ">" if spec.kind == "max" else "<"
        parts = [f"{level} {sign} {format_value(values[level], spec.unit)}"
                 for level in ("warn", "fail") if values[level] is not None]
        return ", ".join(parts) or "no limit"

    def verdict(self, check: str, value) -> str:
        """The verdict for ``value`` (for a flag check: True means found)."""
        spec = CHECK_BY_NAME[check]
        values = self.values[check]
        if spec.kind == "flag":
            return values["verdict"] if value else PASS
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return WARN
        for level, verdict in (("fail", FAIL), ("warn", WARN)):
            limit = values[level]
            if limit is None:
                continue
            if (spec.kind == "max" and value > limit) or (spec.kind == "min" and value < limit):
                return verdict
        return PASS


def _threshold(value, label: str) -> float | None:
    text = str(value).strip()
    if text.lower() in ("off", "none", ""):
        return None
    try:
        number = float(text)
    except ValueError:
        raise InputError(f"{label} = {text!r}: not a number (or off)") from None
    if not math.isfinite(number):
        raise InputError(f"{label} = {text!r}: must be a finite number (or off)")
    return number


def load_checks(path: str | os.PathLike) -> Thresholds:
    """The default thresholds changed by the ``checks.cfg`` at ``path``."""
    from configobj import ConfigObj, ConfigObjError

    from ..engine.files import check_regular_file

    path = os.path.abspath(path)
    check_regular_file(path, "checks file")
    try:
        document = ConfigObj(path, file_error=True, raise_errors=True, interpolation=False,
                             encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a checks.cfg file (it is not UTF-8 text)") from None
    except ConfigObjError as exc:
        line = getattr(exc, "line_number", None)
        raise InputError(f"{path}: {f'line {line}: ' if line else ''}not a valid cfg file") \
            from None
    except OSError:
        raise InputError(f"{path}: cannot be read") from None
    thresholds = Thresholds(source=path)
    for key in document.scalars:
        raise InputError(f"{path}: {key}: a key outside a [check] section; put it under the "
                         f"check it belongs to, e.g. [resample_flux]")
    for check in document.sections:
        section = document[check]
        if section.sections:
            raise InputError(f"{path}: [{check}]: has subsections; a check has only keys")
        if check not in CHECK_BY_NAME:
            thresholds.set(check, "warn", 0, path)  # raises the unknown-check message
        for key in section.scalars:
            thresholds.set(check, key, section[key], path)
    return thresholds


def format_value(value, unit: str) -> str:
    """A check's value or threshold for people: 0.0042 as ``0.42 %`` for a percent check."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit == "percent":
        return f"{100.0 * float(value):.3g} %"
    if unit == "count":
        return f"{int(value)}" if float(value).is_integer() else f"{value:g}"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def worst(verdicts) -> str:
    """The worst of ``verdicts`` (fail > warn > pass); ``unknown`` for none."""
    verdicts = list(verdicts)
    if not verdicts:
        return UNKNOWN
    return max(verdicts, key=lambda v: _RANK.get(v, 1))


def defaults_cfg_text() -> str:
    """A checks.cfg that spells out every default, with each check's meaning as a comment."""
    lines = ["# iris_gui review report: check thresholds (the defaults; keep only what you change)",
             "# max checks: warn/fail when the value is above; min checks: below; off = no limit",
             "# flag checks: the verdict when found (pass, warn or fail)", ""]
    defaults = Thresholds()
    for spec in CHECKS:
        lines.append(f"# {spec.title}: {spec.doc}")
        lines.append(f"[{spec.name}]")
        for key, value in defaults.values[spec.name].items():
            lines.append(f"{key} = {'off' if value is None else value}")
        lines.append("")
    return "\n".join(lines)
