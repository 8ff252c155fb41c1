"""What a review report holds, as plain data: built by ``collect``, drawn by ``html`` and ``pdf``.

Nothing here refers to an engine model or array except the thumbnails' pictures, so a report can
be drawn (or tested) after the products it describes are gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .checks import Thresholds
from .images import DisplaySettings, Thumbnail
from .metrics import Metric


@dataclass(frozen=True)
class FileInfo:
    """An input or reference file: its path, sha256 (None if it could not be read) and the
    header keywords the report shows (keyword -> text)."""

    role: str
    path: str
    sha256: str | None
    keywords: dict[str, str] = field(default_factory=dict)
    #: for references: the step that used it and how it was chosen
    step: str = ""
    how: str = ""


@dataclass(frozen=True)
class ParameterRow:
    key: str            # "steps.flat_field.inverse" or "save_bsub"
    value: str
    default: str

    @property
    def changed(self) -> bool:
        return self.value != self.default


@dataclass(frozen=True)
class DQRow:
    flag: str           # flag name, or "NaN" for the NaN pixels of SCI
    bit: int | None
    before: int | None
    after: int | None
    new: int | None


@dataclass(frozen=True)
class CheckResult:
    check: str
    title: str
    #: the step it is about ("" for the product)
    step: str
    value: object
    #: the value as shown (``checks.format_value``)
    shown: str
    threshold: str
    verdict: str
    detail: str = ""


@dataclass
class StepReport:
    name: str
    title: str
    status: str
    elapsed: float
    reason: str = ""
    from_cache: bool = False
    warnings: list[str] = field(default_factory=list)
    thumbnails: list[Thumbnail] = field(default_factory=list)
    #: draw the Before and After histograms on one axis (same units and levels)
    overlay_histograms: bool = True
    dq_rows: list[DQRow] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    note: str = ""

    def metric(self, key: str) -> Metric | None:
        return next((m for m in self.metrics if m.key == key), None)


@dataclass
class ProductReport:
    name: str
    #: the association or rate file it came from
    source: str
    verdict: str
    status: str                       # "done", "failed", "cancelled"
    error: str = ""
    is_3d: bool = False
    nints: int = 1
    inputs: list[FileInfo] = field(default_factory=list)
    backgrounds: list[FileInfo] = field(default_factory=list)
    references: list[FileInfo] = field(default_factory=list)
    parameters: list[ParameterRow] = field(default_factory=list)
    parameter_source: str = ""
    warnings: list[tuple[str, str]] = field(default_factory=list)   # (step or "input", text)
    note: str = ""
    signoff: dict[str, str] | None = None
    steps: list[StepReport] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    #: how this section was made (e.g. "re-made from iris_demo_cal.fits and its provenance")
    origin: str = ""
    outputs: list[str] = field(default_factory=list)
    #: the reviewer's star checks, measured on this result (``state.star_checks.StarCheck``)
    star_checks: list = field(default_factory=list)

    #: the section's id in the HTML and its bookmark in the PDF (unique in a report)
    anchor: str = ""

    def __post_init__(self) -> None:
        if not self.anchor:
            self.anchor = "product-" + "".join(c if c.isalnum() or c in "-_" else "-"
                                               for c in self.name)

    def step(self, name: str) -> StepReport | None:
        return next((s for s in self.steps if s.name == name), None)


@dataclass(frozen=True)
class NotRemade:
    """A product the report could not re-make, and why."""

    name: str
    file: str
    reason: str


@dataclass
class Report:
    title: str
    created: str                      # ISO 8601, UTC
    reviewer: str
    versions: dict[str, str]
    products: list[ProductReport]
    thresholds: Thresholds
    display: DisplaySettings
    step_names: list[str]
    step_titles: dict[str, str]
    not_remade: list[NotRemade] = field(default_factory=list)
    #: "after the run" or "re-made from N files"
    origin: str = ""
    #: the quick-look's night table (``engine.night_log.NightRow``), when there is one
    night: list = field(default_factory=list)
