"""What a step is: a declaration (name, parameters, status keyword) plus one function.

A step module builds one ``StepSpec`` named ``STEP``; ``iris_gui.engine.steps.STEPS`` lists them
in pipeline order. The step function takes the input model, the step's parameter values and a
``StepContext`` and returns a ``StepResult``. It must not modify its input model's arrays or
header: results are cached and shared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cancel import CancelToken, check_cancel
from ..models import ImageModel
from ..parameters import Parameter, common_step_parameters

if TYPE_CHECKING:
    from ..association import Product

COMPLETE = "COMPLETE"
SKIPPED = "SKIPPED"
FAILED = "FAILED"


@dataclass
class StepResult:
    """What a step did. ``model`` is the step's output (the input itself when skipped)."""

    status: str
    model: ImageModel
    reason: str = ""
    #: reference kind -> file used (R_* keywords)
    references: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: extra products for inspection and saving, e.g. {"background": combined background}
    products: dict[str, ImageModel] = field(default_factory=dict)
    #: files the step asks to be written when the product completes (path -> model); relative
    #: paths are taken relative to the output folder
    extra_outputs: dict[str, ImageModel] = field(default_factory=dict)
    #: seconds the whole step took, reading files included (set by the runner)
    elapsed: float = 0.0
    #: seconds of arithmetic alone (reading inputs and references excluded), set by the step
    compute: float = 0.0
    #: True when the runner reused a cached result instead of running the step
    from_cache: bool = False
    #: what the step chose and why (the reference rules' explanation), set by the runner from
    #: ``StepContext.note``: the log has them, and the window shows them on the step
    notes: list[str] = field(default_factory=list)
    #: (path, size, mtime) of each reference when it was read, to invalidate cached results
    reference_identities: dict[str, tuple] = field(default_factory=dict)


@dataclass
class StepContext:
    """What a step may use besides its input model and parameters."""

    product: Product
    ref_dir: Path
    cancel: CancelToken | None = None
    progress: Callable[[float], None] = lambda fraction: None
    warn: Callable[[str], None] = lambda message: None
    log: logging.Logger = logging.getLogger("iris_gui.engine")
    #: statuses of the steps that already ran for this product (step name -> status)
    upstream: dict[str, str] = field(default_factory=dict)
    #: bkg_subtract: where it gets the product's backgrounds, a ``bkg_subtract.BackgroundSource``
    #: (the pipeline sets one when its background store serves them); None: the step reads them
    backgrounds: Callable[[list[str], ImageModel, StepContext], Any] | None = None
    #: every step's parameters (step name -> values): how a step that reads another step's
    #: reference (``StepSpec.borrowed_references``) finds that step's choice of it
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: what ``note`` recorded, for the runner to put on the StepResult
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        """Log ``text`` (INFO) and keep it for the step's result (its ``notes``)."""
        self.log.info("%s", text)
        self.notes.append(text)

    def check_cancel(self) -> None:
        check_cancel(self.cancel)


StepFunction = Callable[[ImageModel, dict[str, Any], StepContext], StepResult]


@dataclass(frozen=True)
class StepSpec:
    """The declaration of one image2 step."""

    name: str                 # config name, e.g. "flat_field"
    title: str                # for people, e.g. "Flat field"
    summary: str              # one paragraph of help
    status_keyword: str       # e.g. "S_FLAT"
    class_name: str           # class written to parameter files
    parameters: tuple[Parameter, ...]
    run: StepFunction
    default_suffix: str
    #: reference kind this step reads (dark, flat, photom), if any
    reference_kind: str | None = None
    #: class names accepted in parameter files besides ``class_name`` (upstream spellings)
    class_aliases: tuple[str, ...] = ()
    #: step names other pipelines' parameter files use for this step (``dark_sub``)
    step_aliases: tuple[str, ...] = ()
    #: parameters other pipelines name differently but that mean the same: (theirs, ours)
    parameter_aliases: tuple[tuple[str, str], ...] = ()
    #: other pipelines' parameters of this step that mean something this step does not do:
    #: (name, the value that asks for nothing different, why refused and what to use instead);
    #: refused when set to anything else
    refused_parameters: tuple[tuple[str, Any, str], ...] = ()
    #: parameters of jwst's step of this name that have no meaning here: in a jwst parameter file
    #: they are ignored and listed in one warning
    jwst_only_parameters: tuple[str, ...] = ()
    #: jwst's defaults for the parameters this step shares with jwst's step of this name:
    #: (parameter, jwst's default). Where one differs from ours, reading a jwst parameter file
    #: says so (which value applies, the file's or ours)
    jwst_defaults: tuple[tuple[str, Any], ...] = ()
    #: reference kinds this step also reads when one of its bool parameters is on:
    #: (parameter, kind). The file is chosen as the step owning the kind (its
    #: ``reference_kind``) chooses it, with that step's ``override_<kind>`` and
    #: ``force_override``: bkg_subtract's subtract_dark_from_backgrounds reads dark_current's
    #: dark. Cache keys, output plans and provenance count it as read (``steps.references_read``)
    borrowed_references: tuple[tuple[str, str], ...] = ()
    #: products (keys of StepResult.products) always written beside the _cal when the step
    #: completes, with their file suffix, e.g. (("i2d", "i2d"),) for resample
    saved_products: tuple[tuple[str, str], ...] = ()

    @property
    def all_parameters(self) -> tuple[Parameter, ...]:
        return common_step_parameters(self.default_suffix) + self.parameters

    def parameter(self, name: str) -> Parameter | None:
        for parameter in self.all_parameters:
            if parameter.name == name:
                return parameter
        return None

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.all_parameters}
