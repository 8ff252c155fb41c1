"""Which reference in a folder fits an exposure: the TMT CRDS selection rules, and why.

Selection keys per reference kind follow the TMT CRDS specs (``tmt-crds`` ``iris_*.spec``
``parkey``): a dark is selected on DETECTOR, FILTER and SUBARRAY (the subarray name), a flat on
DETECTOR, FILTER and PUPIL. The CRDS photom spec names no keys of its own (the table's rows are
matched on FILTER by the photom step), so a photom table is selected on the FILTER and PUPIL its
header states, if any. A distortion reference is selected on DETECTOR. Before these, INSTRUME
must agree and the reference's detector window must cover the exposure's (both as before).

Per key, with the exposure's value S and the reference's value R:

- R equal to S: an exact match.
- R ``N/A`` or ``ANY``: matches anything, less specific than an exact match.
- R not stated, or S not stated: matches, less specific (DETECTOR: also the "chosen without the
  detector check" warning). Exception: a flat must state FILTER (or N/A/ANY) and so must the
  exposure, since a flat for another filter is wrong, not merely less precise.
- otherwise the reference is not a candidate ("FILTER differs (H vs KN3)").
- SUBARRAY (darks): a different name is let through when the reference's window covers the
  exposure's (a full-frame dark is cut to the window), ranked below a name match.

Then the date, as CRDS's UseAfter selector does: the exposure's date is DATE-OBS, with TIME-OBS
added when DATE-OBS has no time part (JWST style); a reference whose USEAFTER is after it is not
a candidate; USEAFTER equal to DATE-OBS is (not after). Dates are ISO 8601 (``2030-01-01``,
``2030-01-01T00:00:00[.fff]``, a space for the ``T``; an offset is turned into UTC) or the CRDS
``Jan 01 2030 00:00:00``; times without an offset are UTC. A reference without USEAFTER counts
as always valid but loses to a dated one that is as specific. An exposure without DATE-OBS takes
the latest USEAFTER, and the explanation says so. A date that cannot be read is an InputError
naming file and key (only when that file is otherwise a candidate, so a damaged reference for
another filter does not stop a run).

Among the candidates left: most exact key matches first (CRDS picks the best match, then the
date), then an exact window over a larger one, then the latest USEAFTER, then the file name.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:
    from .models import ImageModel
    from .references import ReferenceHeader

SELECTION_KEYS: dict[str, tuple[str, ...]] = {
    "dark": ("DETECTOR", "FILTER", "SUBARRAY"),
    "flat": ("DETECTOR", "FILTER", "PUPIL"),
    "photom": ("FILTER", "PUPIL"),
    "distortion": ("DETECTOR",),
}
#: (kind, key) that both sides must state: a reference for another value is wrong, not vaguer
STRICT_KEYS = {("flat", "FILTER")}
WILDCARDS = ("N/A", "ANY")
#: near-misses listed in an explanation; the rest are counted
LISTED = 8

_CRDS_FORMAT = "%b %d %Y %H:%M:%S"


def parse_date(text: object, where: str, key: str) -> datetime.datetime:
    """A header date as a naive UTC datetime; InputError naming ``where`` and ``key``."""
    value = str(text).strip()
    try:
        date = datetime.datetime.fromisoformat(value)
    except ValueError:
        try:
            date = datetime.datetime.strptime(value, _CRDS_FORMAT)
        except ValueError:
            raise InputError(f"{where}: {key} {value!r} is not a date (write YYYY-MM-DD or "
                             f"YYYY-MM-DDThh:mm:ss)") from None
    if date.tzinfo is not None:
        date = date.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return date


def exposure_date(header, where: str) -> tuple[datetime.datetime | None, str]:
    """(DATE-OBS [+ TIME-OBS], the text shown for it) of an exposure; (None, '') without one."""
    date_text = header.get("DATE-OBS")
    if date_text is None or not str(date_text).strip():
        return None, ""
    date_text = str(date_text).strip()
    time_text = header.get("TIME-OBS")
    if "T" not in date_text and " " not in date_text and time_text is not None \
            and str(time_text).strip():
        date = parse_date(date_text, where, "DATE-OBS")
        time_text = str(time_text).strip()
        try:
            time = datetime.time.fromisoformat(time_text)
        except ValueError:
            raise InputError(f"{where}: TIME-OBS {time_text!r} is not a time (write "
                             f"hh:mm:ss)") from None
        return datetime.datetime.combine(date.date(), time.replace(tzinfo=None)), \
            f"{date_text}T{time_text}"
    return parse_date(date_text, where, "DATE-OBS"), date_text


def science_value(science: ImageModel, key: str) -> str | None:
    if key == "SUBARRAY":
        return science.window.name
    value = science.header.get(key)
    value = None if value is None else str(value).strip().upper()
    return value or None


@dataclass
class Candidate:
    header: ReferenceHeader
    exact: list[str] = field(default_factory=list)
    #: keys matched less precisely, each with why ("FILTER N/A", "PUPIL not stated")
    loose: list[str] = field(default_factory=list)
    #: why it is not a candidate, or None
    refused: str | None = None
    window_exact: bool = False
    useafter: datetime.datetime | None = None

    @property
    def name(self) -> str:
        return Path(self.header.path).name

    @property
    def useafter_text(self) -> str | None:
        return self.header.useafter

    def rank(self) -> tuple:
        dated = self.useafter is not None
        return (-len(self.exact), not self.window_exact, not dated,
                -(self.useafter.timestamp() if dated else 0.0), self.name)


def _compare_key(kind: str, key: str, science: ImageModel, ref: ReferenceHeader,
                 candidate: Candidate) -> None:
    ours = science_value(science, key)
    theirs = ref.keys.get(key)
    if theirs is not None and ours is not None and theirs == ours:
        candidate.exact.append(key)
    elif theirs in WILDCARDS:
        candidate.loose.append(f"{key} {theirs}")
    elif theirs is None and ours is None:
        candidate.loose.append(f"{key} stated by neither")
    elif (kind, key) in STRICT_KEYS and (theirs is None or ours is None):
        candidate.refused = (f"has no {key}" if theirs is None
                             else f"{key} {theirs}, but {science.name} has no {key}")
    elif theirs is None:
        candidate.loose.append(f"{key} not stated")
    elif ours is None:
        candidate.loose.append(f"{key} {theirs} ({science.name} has no {key})")
    elif key == "SUBARRAY" and ref.window is not None and ref.window.contains(science.window):
        candidate.loose.append(f"SUBARRAY {theirs} covers {ours}")
    else:
        candidate.refused = f"{key} differs ({theirs} vs {ours})"


def evaluate(kind: str, science: ImageModel, ref: ReferenceHeader,
             date: datetime.datetime | None, date_label: str) -> Candidate:
    """How ``ref`` fares for ``science``: refused (and why) or the keys it matches."""
    candidate = Candidate(ref)
    if science.instrument and ref.instrument and ref.instrument != science.instrument:
        candidate.refused = f"INSTRUME differs ({ref.instrument} vs {science.instrument})"
        return candidate
    for key in SELECTION_KEYS.get(kind, ("DETECTOR",)):
        _compare_key(kind, key, science, ref, candidate)
        if candidate.refused:
            return candidate
    window = science.window
    # A photom table applies to any window; image references must cover the exposure's.
    # A window that could not be read (damaged file) is let through so loading reports it.
    if kind != "photom" and ref.window is not None:
        if not ref.window.contains(window):
            candidate.refused = (f"window {ref.window.describe()} does not cover "
                                 f"{window.describe()}")
            return candidate
        candidate.window_exact = (
            (ref.window.xstart, ref.window.ystart, ref.window.xsize, ref.window.ysize)
            == (window.xstart, window.ystart, window.xsize, window.ysize))
    if ref.useafter is not None:
        candidate.useafter = parse_date(ref.useafter, ref.path, "USEAFTER")
        if date is not None and candidate.useafter > date:
            candidate.refused = f"USEAFTER {ref.useafter} is after DATE-OBS {date_label}"
    return candidate


def _lost_because(loser: Candidate, best: Candidate) -> str:
    if len(loser.exact) < len(best.exact):
        return f"less specific ({', '.join(loser.loose)})"
    if loser.window_exact != best.window_exact:
        return "its window is larger than the exposure's"
    if loser.useafter is None and best.useafter is not None:
        return "no USEAFTER, loses to a dated reference"
    if loser.useafter != best.useafter:
        return f"USEAFTER {loser.useafter_text} is older"
    return "as good a match; the file name sorts later"


def explain(kind: str, science: ImageModel, best: Candidate, others: list[Candidate],
            date: datetime.datetime | None, date_label: str, ref_dir: Path) -> str:
    """"chose X: matches ...; USEAFTER ... ; also considered Y: why not; ..."."""
    parts = []
    matched = f"matches {', '.join(best.exact)}" if best.exact else "matches no key exactly"
    if best.loose:
        matched += f" ({', '.join(best.loose)})"
    if kind != "photom":
        matched += "; same window" if best.window_exact else "; its window covers the exposure's"
    parts.append(matched)
    if best.useafter is None:
        parts.append("no USEAFTER (counts as always valid)")
    elif date is None:
        parts.append(f"USEAFTER {best.useafter_text} is the latest; {science.name} has no "
                     f"DATE-OBS, so the latest was taken")
    else:
        parts.append(f"USEAFTER {best.useafter_text} is the latest not after DATE-OBS "
                     f"{date_label}")
    text = f"chose {best.name} from {ref_dir}: {'; '.join(parts)}"
    if others:
        notes = [f"{c.name}: {c.refused or _lost_because(c, best)}" for c in others[:LISTED]]
        if len(others) > LISTED:
            notes.append(f"and {len(others) - LISTED} more")
        text += f"; also considered {'; '.join(notes)}"
    return text


def wanted(kind: str, science: ImageModel, date_label: str) -> str:
    """What was looked for, for the messages when nothing fits."""
    keys = ["INSTRUME", *SELECTION_KEYS.get(kind, ("DETECTOR",))]
    values = [f"{key}={science.instrument if key == 'INSTRUME' else science_value(science, key)}"
              for key in keys]
    values.append(f"DATE-OBS {date_label}" if date_label else "no DATE-OBS")
    return ", ".join(values)
