"""The run in progress, product by product: queued, which step is running, done (no Qt).

The window's worker reports each product's start, steps and end (in the window's process or in
a worker process of the pool); the window records them here, on its GUI thread, and the Inputs
list, the Steps list of a product running in the pool, the progress bar and its label are all
derived from this state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.steps import STEPS, StepResult
from .evented import Event

QUEUED, RUNNING = "queued", "running"
STEP_NAMES = tuple(step.name for step in STEPS)


@dataclass
class ProductProgress:
    state: str = QUEUED
    #: True when the product runs in a worker process (its steps' arrays come at the end)
    in_pool: bool = False
    #: the step running now ("" before the first)
    step: str = ""
    #: fraction of the running step done
    fraction: float = 0.0
    #: the finished steps of this run (in the pool: status, time, reason, warnings; no model)
    steps: dict[str, StepResult] = field(default_factory=dict)

    @property
    def done_fraction(self) -> float:
        """How much of the product is done, 0..1 (for the progress bar)."""
        running = self.fraction if self.step and self.step not in self.steps else 0.0
        return min(1.0, (len(self.steps) + running) / len(STEP_NAMES))

    @property
    def label(self) -> str:
        """The Inputs list's word: "queued", "running flat_field (5/7)"."""
        if self.state == QUEUED or not self.step:
            return "queued" if self.state == QUEUED else "starting…"
        return f"running {self.step} ({STEP_NAMES.index(self.step) + 1}/{len(STEP_NAMES)})"


class RunProgress:
    """Product key -> ``ProductProgress`` of the run in progress (empty between runs).

    Events: ``changed(key)`` after each update of one product ("" when the run begins or
    ends).
    """

    def __init__(self) -> None:
        self.products: dict[str, ProductProgress] = {}
        #: keys of the products of the run in progress, in run order
        self.keys: list[str] = []
        #: products of this run that finished (done, failed or cancelled)
        self.finished: set[str] = set()
        self.changed = Event()

    def begin(self, keys: list[str]) -> None:
        self.keys = list(keys)
        self.products = {key: ProductProgress() for key in keys}
        self.finished = set()
        self.changed.emit("")

    def end(self) -> None:
        self.keys, self.products, self.finished = [], {}, set()
        self.changed.emit("")

    def forget(self, key: str) -> None:
        """A product closed while it ran."""
        self.products.pop(key, None)
        self.finished.discard(key)
        if key in self.keys:
            self.keys.remove(key)

    def get(self, key: str) -> ProductProgress | None:
        return self.products.get(key)

    def is_active(self, key: str) -> bool:
        """Queued or running in the run in progress."""
        return key in self.products

    def started(self, key: str, in_pool: bool = False) -> None:
        progress = self.products.get(key)
        if progress is not None:
            progress.state, progress.in_pool = RUNNING, in_pool
            self.changed.emit(key)

    def step_started(self, key: str, step: str) -> None:
        progress = self.products.get(key)
        if progress is not None:
            progress.state, progress.step, progress.fraction = RUNNING, step, 0.0
            self.changed.emit(key)

    def step_progress(self, key: str, step: str, fraction: float) -> None:
        progress = self.products.get(key)
        if progress is not None:
            progress.state, progress.step = RUNNING, step
            progress.fraction = min(1.0, max(0.0, fraction))
            self.changed.emit(key)

    def step_done(self, key: str, step: str, result: StepResult) -> None:
        progress = self.products.get(key)
        if progress is not None:
            progress.steps[step] = result
            progress.step, progress.fraction = step, 1.0
            self.changed.emit(key)

    def product_done(self, key: str) -> None:
        """Finished, failed or cancelled: no longer shown as running."""
        if self.products.pop(key, None) is not None:
            self.finished.add(key)
            self.changed.emit(key)

    @property
    def overall(self) -> float:
        """The run's progress, 0..1: each product counts alike."""
        if not self.keys:
            return 0.0
        done = len([k for k in self.keys if k in self.finished])
        running = sum(p.done_fraction for p in self.products.values())
        return min(1.0, (done + running) / len(self.keys))

    def summary(self, name_of) -> str:
        """The status bar's label: "2/4 done — iris_demo_ints: resample" (``name_of(key)`` gives
        a product's name)."""
        total = len(self.keys)
        done = len([k for k in self.keys if k in self.finished])
        running = [(key, p) for key, p in self.products.items() if p.state == RUNNING and p.step]
        text = f"{done}/{total} done"
        if running:
            shown = ", ".join(f"{name_of(key)}: {p.step}" for key, p in running[:2])
            more = f" +{len(running) - 2}" if len(running) > 2 else ""
            text += f" — {shown}{more}"
        return text
