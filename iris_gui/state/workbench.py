"""The workbench: what the window works on, as plain Python (no Qt).

Inputs (associations, their products and members, files that could not be read), the parameters
the next run uses (``config``), the folders, every product's last result and the run in progress,
per-product review notes, the inspection view's settings (``view``) and the undo stack. The window
shows this and writes the user's edits here through the methods below, which record undo
commands and emit events; no widget is read back as the truth.

What a product's steps show (current, stale, off, to run, cannot run) is derived from the
engine's plan (``Image2Pipeline.step_plan``) and the product's last result, for every product,
every time (``statuses``): "stale" has one source of truth, the same one Export asks.

The console sees this object as ``workbench``: ``workbench.results['flat_field'].data`` is the
flat_field output of the current product.
"""

from __future__ import annotations

import copy
import datetime as _dt
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine.association import Association, Product, load_inputs
from ..engine.config import PipelineConfig
from ..engine.models import ImageModel
from ..engine.parameter_files import save_parameters
from ..engine.pipeline import Image2Pipeline, ProductResult
from ..engine.pool_results import release_arrays  # not on first use: the window's thread
from ..engine.step_plan import StepPlan, product_is_stale
from ..engine.steps import STEPS
from .evented import Event
from .night_table import NightTable
from .run_progress import RunProgress
from .undo import UndoStack
from .view_state import ViewState

STEP_NAMES = tuple(step.name for step in STEPS)
#: a reviewer's verdicts on a product
VERDICTS = ("accepted", "needs work", "rejected")


@dataclass(frozen=True)
class SignOff:
    verdict: str
    by: str
    #: ISO 8601 time, UTC
    when: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"sign-off {self.verdict!r} is not one of {', '.join(VERDICTS)}")

    def to_dict(self) -> dict[str, str]:
        return {"verdict": self.verdict, "by": self.by, "when": self.when}

    @classmethod
    def from_dict(cls, data: Any) -> SignOff:
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str)
                                                 for k in ("verdict", "by", "when")):
            raise ValueError("a sign-off has text verdict, by and when")
        return cls(data["verdict"], data["by"], data["when"])


class Workbench:
    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.associations: list[Association] = []
        self.config = config or PipelineConfig()
        #: None until chosen: the demo sets its own output folder, Export asks otherwise
        self.output_dir: str | None = None
        self.ref_dir: str | None = None
        #: product key -> last finished result
        self.product_results: dict[str, ProductResult] = {}
        #: product key -> the result of the run in progress (steps so far; products run in the
        #: window's process only: the pool's come whole when done)
        self.partial: dict[str, ProductResult] = {}
        #: each product of the run in progress: queued, its running step, its finished steps
        self.run_progress = RunProgress()
        #: (product key, science model) read to show a product before its first run
        self.preview: tuple[str, ImageModel] | None = None
        #: product key whose science exposure the window asked the worker to read (once)
        self.preview_requested: str | None = None
        #: product key -> why its science file could not be read
        self.open_failures: dict[str, str] = {}
        self.current_product: Product | None = None
        self.current_step: str = STEP_NAMES[0]
        #: product key -> the reviewer's note on it
        self.notes: dict[str, str] = {}
        #: product key -> the reviewer's sign-off of it
        self.signoffs: dict[str, SignOff] = {}
        self.reviewer: str = ""
        self.view = ViewState()
        #: the quick-look's night table (File ▸ Watch folder…)
        self.night = NightTable()
        self.undo = UndoStack()
        self.pipeline = Image2Pipeline(self.config, cache=True)
        self._keys: dict[int, str] = {}
        # events (each emits with the arguments shown)
        self.inputs_changed = Event()        # ()
        self.parameters_changed = Event()    # (step name or "" for every step)
        self.results_changed = Event()       # (product key)
        self.selection_changed = Event()     # ()
        self.locations_changed = Event()     # ()
        self.notes_changed = Event()         # (product key)

    # ---- products and their keys ------------------------------------------------------------------
    def key(self, product: Product) -> str:
        """A key unique among the open products (two associations with a product of the same
        name and members stay apart) and stable while the product is open."""
        key = self._keys.get(id(product))
        if key is None:
            key = self._new_key(product)
        return key

    def _new_key(self, product: Product) -> str:
        science = product.members[0].path if product.members else ""
        base = f"{product.asn_path or '(new)'}::{product.name}::{science}"
        used = set(self._keys.values())
        key, n = base, 1
        while key in used:
            n += 1
            key = f"{base}#{n}"
        self._keys[id(product)] = key
        return key

    def product_for(self, key: str) -> Product | None:
        return next((p for p in self.all_products if self.key(p) == key), None)

    @property
    def all_products(self) -> list[Product]:
        return [p for a in self.associations for p in a.products]

    def association_of(self, product: Product | None) -> Association | None:
        return next((a for a in self.associations
                     if any(p is product for p in a.products)), None)

    # ---- inputs -------------------------------------------------------------------------------------
    def open_path(self, path: str | os.PathLike) -> Association:
        """Load an ASN or a rate file (problems are kept on the products, not raised)."""
        association = load_inputs(path, strict=False)
        self.add_association(association)
        return association

    def add_association(self, association: Association) -> None:
        self.associations.append(association)
        for product in association.products:
            key = self.key(product)
            self.open_failures.pop(key, None)  # opened again: read it again
            if self.preview is not None and self.preview[0] == key:
                self.preview = None
            if self.preview_requested == key:
                self.preview_requested = None
        if self.current_product is None and association.products:
            self.current_product = association.products[0]
        self.inputs_changed.emit()

    def remove_product(self, product: Product) -> None:
        """Close ``product``: its results, run, note and read failure go with it."""
        for association in list(self.associations):
            if any(p is product for p in association.products):
                association.products[:] = [p for p in association.products if p is not product]
                if not association.products:
                    self.associations.remove(association)
        key = self._keys.pop(id(product), None)
        if key is not None:
            for table in (self.product_results, self.partial, self.open_failures, self.notes,
                          self.signoffs):
                table.pop(key, None)
            self.run_progress.forget(key)
            if self.preview is not None and self.preview[0] == key:
                self.preview = None
            if self.preview_requested == key:
                self.preview_requested = None
        if self.current_product is product:
            self.current_product = self.all_products[0] if self.all_products else None
            self.view.forget_other_products()
        self.inputs_changed.emit()

    def remove_association(self, association: Association) -> None:
        for product in list(association.products):
            self.remove_product(product)
        if association in self.associations:
            self.associations.remove(association)
            self.inputs_changed.emit()

    def select(self, product: Product | None) -> None:
        if product is not self.current_product:
            self.current_product = product
            self.view.forget_other_products()
            self.release_unselected()
        self.selection_changed.emit()

    def release_unselected(self) -> int:
        """Give back the memory of every result computed in the pool but the selected
        product's: their arrays are memory-mapped from the spill folder and read again when
        looked at (``pool_results.release_arrays``). Returns the mappings released."""
        current = self.key(self.current_product) if self.current_product is not None else None
        return sum(release_arrays(result) for key, result in self.product_results.items()
                   if key != current)

    def select_step(self, name: str) -> None:
        if name not in STEP_NAMES:
            raise KeyError(f"unknown step {name!r}")
        if name != self.current_step:
            self.current_step = name
            self.selection_changed.emit()

    def product_names_in_use(self) -> set[str]:
        return {p.name for p in self.all_products}

    # ---- results ------------------------------------------------------------------------------------
    def result_for(self, product: Product | None) -> ProductResult | None:
        return None if product is None else self.product_results.get(self.key(product))

    @property
    def current_result(self) -> ProductResult | None:
        return self.result_for(self.current_product)

    def shown_result(self, product: Product | None) -> ProductResult | None:
        """What the view shows of ``product``: the run in progress, else its last result, else
        its science exposure alone (the preview), else nothing."""
        if product is None:
            return None
        key = self.key(product)
        result = self.partial.get(key) or self.product_results.get(key)
        if result is None and self.preview is not None and self.preview[0] == key:
            result = ProductResult(product, self.config.copy(), self.ref_dir or "",
                                   input_model=self.preview[1])
        return result

    @property
    def results(self) -> dict[str, ImageModel]:
        """step name -> output model of the current product (steps that ran so far)."""
        result = self.current_result
        if result is None:
            return {}
        return {name: step.model for name, step in result.steps.items() if step.model is not None}

    def store_result(self, result: ProductResult) -> None:
        key = self.key(result.product)
        if self.product_for(key) is None:  # closed while it ran: keep nothing of it
            return
        self.product_results[key] = result
        self.results_changed.emit(key)

    # ---- what a run would do now --------------------------------------------------------------------
    def plan_for(self, product: Product) -> list[StepPlan]:
        """The engine's plan of ``product`` under the current parameters and folders."""
        self.apply_locations()
        return self.pipeline.step_plan(product, self.config)

    def is_stale(self, product: Product | None) -> bool:
        """The product's finished result is not what the current parameters would give."""
        if product is None:
            return False
        result = self.result_for(product)
        if result is None or not result.ok:
            return False
        return product_is_stale(self.plan_for(product), result, self.config)

    @property
    def stale_products(self) -> list[Product]:
        return [p for p in self.all_products if self.is_stale(p)]

    # ---- parameters (undoable) ----------------------------------------------------------------------
    def parameter(self, key: str) -> Any:
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "steps":
            return self.config.steps[parts[1]][parts[2]]
        return self.config.pipeline[key]

    def set_parameter(self, key: str, value: Any) -> None:
        """Set ``steps.STEP.PARAM`` or a pipeline option; a bad value raises (ParameterError
        naming the key) and changes nothing. Undoable; edits of one key in a row merge."""
        before = copy.deepcopy(self.parameter(key))
        self.config.set(key, value)
        after = copy.deepcopy(self.parameter(key))
        if before == after:
            return
        step = key.split(".")[1] if key.startswith("steps.") else ""
        label = key.removeprefix("steps.")
        self.undo.record(f"{label} = {after!r}", before, after,
                         lambda v, k=key: self._apply_parameter(k, v), merge_key=("param", key))
        self.parameters_changed.emit(step)

    def _apply_parameter(self, key: str, value: Any) -> None:
        self.config.set(key, value)
        step = key.split(".")[1] if key.startswith("steps.") else ""
        self.parameters_changed.emit(step)

    def set_step_enabled(self, step: str, enabled: bool) -> None:
        before = not self.config.steps[step]["skip"]
        if before == enabled:
            return
        self.config.steps[step]["skip"] = not enabled
        self.undo.record(f"{'switch on' if enabled else 'switch off'} {step}", before, enabled,
                         lambda on, s=step: self._apply_enabled(s, on))
        self.parameters_changed.emit(step)

    def _apply_enabled(self, step: str, enabled: bool) -> None:
        self.config.steps[step]["skip"] = not enabled
        self.parameters_changed.emit(step)

    def set_config(self, config: PipelineConfig, text: str = "load parameters") -> None:
        """Replace every parameter (a loaded parameter file); undoable as one command."""
        before, after = self.config.copy(), config.copy()
        self._apply_config(config)
        self.undo.record(text, before, after, lambda c: self._apply_config(c.copy()))

    def _apply_config(self, config: PipelineConfig) -> None:
        self.config = config
        self.pipeline.config = config
        self.parameters_changed.emit("")

    # ---- folders ------------------------------------------------------------------------------------
    def set_output_dir(self, folder: str | None) -> None:
        self.output_dir = str(Path(folder).resolve()) if folder else None
        self.apply_locations()
        self.locations_changed.emit()

    def set_ref_dir(self, folder: str | None) -> None:
        self.ref_dir = folder or None
        self.apply_locations()
        self.locations_changed.emit()
        self.parameters_changed.emit("")  # the references a run picks may change

    def apply_locations(self) -> None:
        self.pipeline.ref_dir = Path(self.ref_dir) if self.ref_dir else None
        if self.output_dir:
            self.pipeline.output_dir = Path(self.output_dir)

    # ---- regions (undoable) --------------------------------------------------------------------------
    def set_regions(self, regions: tuple, text: str = "edit regions") -> None:
        """Replace the view's regions (``view_state.RegionSpec``); undoable. Moving one region
        by dragging merges into one command until ``undo.end_merge``."""
        before, after = self.view.regions, tuple(regions)
        if before == after:
            return
        self.view.regions = after
        self.undo.record(text, before, after, lambda r: setattr(self.view, "regions", r),
                         merge_key=("regions", text) if text == "move region" else None)

    # ---- notes --------------------------------------------------------------------------------------
    def set_note(self, product: Product, text: str) -> None:
        key = self.key(product)
        if self.notes.get(key, "") == text:
            return
        if text:
            self.notes[key] = text
        else:
            self.notes.pop(key, None)
        self.notes_changed.emit(key)

    def sign_off(self, product: Product, verdict: str, by: str | None = None) -> SignOff | None:
        """Record the reviewer's verdict on ``product`` ("" withdraws it)."""
        key = self.key(product)
        if not verdict:
            self.signoffs.pop(key, None)
            self.notes_changed.emit(key)
            return None
        signoff = SignOff(verdict, by if by is not None else self.reviewer,
                          _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        self.signoffs[key] = signoff
        self.notes_changed.emit(key)
        return signoff

    # ---- the equivalent command line ----------------------------------------------------------------
    def command_line(self, cfg_path: str | os.PathLike) -> str:
        """The iris-image2 invocation equivalent to the current workbench (saves ``cfg_path``)."""
        save_parameters(self.config, cfg_path)
        inputs: list[str] = []
        for association in self.associations:
            if association.path:
                inputs.append(association.path)
            else:
                inputs.extend(p.science for p in association.products)
        words = ["iris-image2", *inputs, "--config", str(cfg_path)]
        if self.output_dir:
            words += ["--output-dir", self.output_dir]
        if self.ref_dir:
            words += ["--ref-dir", self.ref_dir]
        return " ".join(shlex.quote(str(w)) for w in words)
