"""The quick-look night: one row per watched file, and the log of them kept in the output folder.

``NightRow`` is what the night table shows of a file (name, time, filter, status, sky level, new
DQ fraction, the review checks' verdicts) and what a restart needs: its size and mtime when it
was judged, and for a failed run the run's identity (``provenance.run_identity``), so a restart
lists the failure again instead of running the product again while nothing it depends on has
changed (a retry, or a changed input, parameter or reference, runs it).

Why a log file and not recomputing failures: a failure of a run is only known by running it (a
2048² product takes seconds; a night can hold many), and its reason is the run's own. Done
products are not taken from the log on trust: their outputs' PROVENANCE decides (``quicklook``);
the log only keeps their measurements for the table.

The log is ``iris_quicklook.json`` in the output folder, a planned output like the products'
files (``plan_night_log``: never onto a file the run reads) written whole by rename.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import InputError
from .files import write_all_or_nothing
from .output_plan import OutputPlan

LOG_NAME = "iris_quicklook.json"
FORMAT = "iris-quicklook"
VERSION = 1

WAITING, PROCESSING, DONE, EARLIER, FAILED, SKY = (
    "waiting", "processing", "done", "done earlier", "failed", "sky")
STATUSES = (WAITING, PROCESSING, DONE, EARLIER, FAILED, SKY)
#: failure kinds: the file never became a whole FITS file / the product's run failed
FILE_FAILURE, RUN_FAILURE = "file", "run"


@dataclass
class NightRow:
    path: str
    product: str = ""
    time: str = ""
    filter: str = ""
    status: str = WAITING
    reason: str = ""
    #: the background level bkg_subtract subtracted (median of the combined background), or the
    #: exposure's own median when it had no background (``sky_source`` says which)
    sky_level: float | None = None
    sky_source: str = ""
    #: fraction of pixels whose DQ gained a bit between the rate file and the _cal
    new_dq_fraction: float | None = None
    #: the review checks: the worst verdict, and every check that did not pass
    verdict: str = ""
    checks: dict[str, str] = field(default_factory=dict)
    backgrounds: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    seconds: float | None = None
    #: when the file was judged (ISO time, UTC)
    finished: str = ""
    size: int = 0
    mtime_ns: int = 0
    failure: str = ""
    identity: dict | None = None
    file_checks: dict | None = None

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> NightRow:
        """A row from its dict; ValueError for one that is not a table with a text path."""
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            raise ValueError("a night row is a table with a path")
        known = {f.name for f in fields(cls)}
        row = cls(**{k: v for k, v in data.items() if k in known})
        if row.status not in STATUSES:
            raise ValueError(f"night row {row.name}: unknown status {row.status!r}")
        for name in ("sky_level", "new_dq_fraction", "seconds"):
            value = getattr(row, name)
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, (int, float))):
                raise ValueError(f"night row {row.name}: {name} must be a number")
        if not isinstance(row.checks, dict) or not isinstance(row.outputs, list) \
                or not isinstance(row.backgrounds, list):
            raise ValueError(f"night row {row.name}: checks, outputs or backgrounds malformed")
        return row


def log_path(output_dir: str | os.PathLike) -> Path:
    return Path(os.path.abspath(output_dir)) / LOG_NAME


def plan_night_log(plan: OutputPlan, output_dir: str | os.PathLike) -> Path:
    return plan.add_file(log_path(output_dir), "", "", "the quick-look night log")


def read_night_log(output_dir: str | os.PathLike) -> dict[str, NightRow]:
    """The rows an earlier quick-look left in ``output_dir`` (by path); none if there is no
    log. A log that cannot be read raises InputError naming it (it is not overwritten)."""
    path = log_path(output_dir)
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: the quick-look night log cannot be read ({exc}); move it "
                         f"away to start a new one") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT or \
            not isinstance(document.get("rows"), list):
        raise InputError(f"{path}: not a quick-look night log (no \"format\": \"{FORMAT}\")")
    rows = {}
    for index, data in enumerate(document["rows"]):
        try:
            row = NightRow.from_dict(data)
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path}: rows[{index}]: {exc}") from None
        rows[row.path] = row
    return rows


def night_log_text(rows: list[NightRow], folder: str, pattern: str, rule: str) -> str:
    document = {"format": FORMAT, "version": VERSION, "folder": folder, "pattern": pattern,
                "backgrounds": rule, "rows": [r.to_dict() for r in rows]}
    return json.dumps(document, indent=1) + "\n"


def write_night_log(text: str, output_dir: str | os.PathLike, plan: OutputPlan) -> Path:
    """Write the log whole (temporary + rename); only as the ``plan`` planned it."""
    path = log_path(output_dir)
    if path not in plan.paths_for("", ""):
        raise InputError(f"{path} is not in the output plan; nothing written (this is a bug)")
    write_all_or_nothing([(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))])
    return path


#: the night table's columns, as the window's dock and the report show them
NIGHT_COLUMNS = ("File", "Time", "Filter", "Status", "Sky level", "New DQ", "Checks")


def night_cells(row: NightRow) -> list[str]:
    """A ``NightRow`` as the text of ``NIGHT_COLUMNS``."""
    time_text = row.time.replace("T", " ")[:19] if row.time else ""
    level = row.sky_level
    sky = "" if level is None or level != level else f"{level:.4g}"  # None or NaN: no number
    if sky and row.sky_source == "science":
        sky += " (science)"
    new_dq = "" if row.new_dq_fraction is None else f"{100 * row.new_dq_fraction:.3g} %"
    checks = row.verdict
    if row.checks:
        checks += ": " + ", ".join(name.split("@")[0] for name in row.checks)
    status = row.status if row.status not in (FAILED, WAITING) or not row.reason else \
        f"{row.status}: {row.reason}"
    return [row.name, time_text, row.filter, status, sky, new_dq, checks]
