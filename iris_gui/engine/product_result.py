"""What a run of one product gives back (``ProductResult``) and how a runner reports while it
runs (``PipelineCallbacks``): used by ``pipeline`` and by everything that holds results (the
pools, the window, the reports). Kept apart so holding a result does not mean importing the
runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .association import Product
from .config import PipelineConfig
from .models import ImageModel
from .steps import COMPLETE, StepResult, StepSpec


@dataclass
class PipelineCallbacks:
    """Hooks the runner calls (from the thread that runs it). Every one is optional."""

    product_start: Callable[[Product, int, int], None] | None = None
    #: the exposure was read (the first step's "before")
    input_ready: Callable[[Product, ImageModel], None] | None = None
    step_start: Callable[[Product, StepSpec], None] | None = None
    step_progress: Callable[[Product, StepSpec, float], None] | None = None
    step_done: Callable[[Product, StepSpec, StepResult], None] | None = None
    warning: Callable[[Product, StepSpec | None, str], None] | None = None
    product_done: Callable[[ProductResult], None] | None = None


@dataclass
class ProductResult:
    product: Product
    config: PipelineConfig
    ref_dir: str
    input_model: ImageModel | None = None
    steps: dict[str, StepResult] = field(default_factory=dict)
    error: str | None = None
    error_is_input: bool = False
    cancelled: bool = False
    outputs: list[Path] = field(default_factory=list)
    elapsed: float = 0.0
    #: the science file's identity when it was read, and the cache key of each step that ran or
    #: was reused: what ``adopt_result`` needs to cache a result computed elsewhere
    input_identity: tuple | None = None
    step_keys: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled

    @property
    def final(self) -> ImageModel | None:
        if not self.ok or not self.steps:
            return None
        return list(self.steps.values())[-1].model

    def before(self, step_name: str) -> ImageModel | None:
        """The input the step saw: the previous step's output (or the exposure itself)."""
        previous = self.input_model
        for name, result in self.steps.items():
            if name == step_name:
                return previous
            previous = result.model
        return None

    @property
    def bsub(self) -> ImageModel | None:
        result = self.steps.get("bkg_subtract")
        return result.model if result is not None and result.status == COMPLETE else None

    @property
    def is_3d(self) -> bool:
        return self.input_model is not None and self.input_model.is_3d
