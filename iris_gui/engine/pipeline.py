"""The image2 runner: order, skipping, progress, cancellation, result reuse and outputs.

``Image2Pipeline.run_product`` computes one product in memory and reports through callbacks;
``write_outputs`` writes its files; ``run`` does both over an association, one product at a time.
Nothing is written for a product until all of its steps have finished, so a cancelled or failed
product leaves no files behind (each file is also written to a temporary name and renamed).

Step results are cached, keyed by the identity of the input files (path, size, mtime), the
reference folder, and the parameters of the step and of every step before it. Re-running after a
change to flat_field's parameters reuses bkg_subtract .. dark_current and recomputes from
flat_field on. Only the newest result per product and step is kept, so memory stays bounded.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from .. import __version__
from .association import Association, Product
from .cancel import CancelToken
from .config import PipelineConfig
from .errors import Cancelled, InputError
from .files import check_output_dir
from .models import ImageModel, read_image, write_image
from .provenance import PROVENANCE_EXTENSION
from .references import folder_signature
from .steps import (
    COMPLETE,
    FAILED,
    SKIPPED,
    STEPS,
    StepContext,
    StepResult,
    StepSpec,
)

log = logging.getLogger("iris_gui.engine")



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


def _file_identity(path: str) -> tuple:
    try:
        stat = os.stat(path)
        return (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    except OSError:
        return (os.path.abspath(path), None, None)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def output_suffix(base: str, is_3d: bool) -> str:
    """``cal`` -> ``calints`` for rateints products (DESIGN.md §3)."""
    return f"{base}ints" if is_3d and base in ("cal", "bsub") else base


def output_path(output_dir: Path, product_name: str, suffix: str) -> Path:
    return Path(output_dir) / f"{product_name}_{suffix}.fits"


class Image2Pipeline:
    """Runs the image2 steps (``iris_gui.engine.steps.STEPS``) over products."""

    def __init__(
        self,
        config: PipelineConfig | None = None,
        *,
        ref_dir: str | os.PathLike | None = None,
        output_dir: str | os.PathLike | None = None,
        callbacks: PipelineCallbacks | None = None,
        cache: bool = True,
    ) -> None:
        self.config = config if config is not None else PipelineConfig()
        self.ref_dir = None if ref_dir is None else Path(ref_dir)
        self.output_dir = None if output_dir is None else Path(output_dir)
        self.callbacks = callbacks or PipelineCallbacks()
        self.use_cache = cache
        self._cache: dict[str, StepResult] = {}
        self._latest: dict[tuple[str, str], str] = {}
        self._inputs: dict[tuple, ImageModel] = {}
        self._lock = threading.Lock()
        #: how many times each step actually computed (not served from the cache)
        self.executions: Counter[str] = Counter()

    # ---- caching -------------------------------------------------------------------------------
    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
            self._latest.clear()
            self._inputs.clear()

    def _remember(self, slot: tuple[str, str], key: str, result: StepResult) -> None:
        if not self.use_cache:
            return
        with self._lock:
            old = self._latest.get(slot)
            if old is not None and old != key:
                self._cache.pop(old, None)
            self._latest[slot] = key
            self._cache[key] = result

    def _read_input(self, product: Product) -> ImageModel:
        identity = _file_identity(product.science)
        with self._lock:
            cached = self._inputs.get(identity)
        if cached is not None:
            return cached
        model = read_image(product.science)
        if self.use_cache:
            with self._lock:
                # one input per product: drop older versions of the same file
                for key in [k for k in self._inputs if k[0] == identity[0]]:
                    del self._inputs[key]
                self._inputs[identity] = model
        return model

    def ref_dir_for(self, product: Product) -> Path:
        return self.ref_dir if self.ref_dir is not None else Path(product.science).parent

    def _step_key(self, previous: str, step: StepSpec, config: PipelineConfig,
                  ref_dir: Path) -> str:
        params = config.steps[step.name]
        references: Any = None
        if step.reference_kind:
            override = params.get(f"override_{step.reference_kind}")
            references = (_file_identity(override) if override
                          else folder_signature(ref_dir, step.reference_kind))
        return _digest(previous, step.name, config.step_fingerprint(step.name), references)

    # ---- running -------------------------------------------------------------------------------
    def run_product(self, product: Product, cancel: CancelToken | None = None,
                    config: PipelineConfig | None = None) -> ProductResult:
        """Compute every step for one product. Writes nothing."""
        config = (config or self.config).copy()
        ref_dir = self.ref_dir_for(product)
        result = ProductResult(product, config, str(ref_dir))
        started = time.perf_counter()
        callbacks = self.callbacks
        current_step: StepSpec | None = None
        try:
            if product.problems:
                raise InputError(f"product {product.name}: {product.problems[0]}")
            if cancel is not None:
                cancel.check()
            model = self._read_input(product)
            result.input_model = model
            if callbacks.input_ready:
                callbacks.input_ready(product, model)
            key = _digest(
                [_file_identity(p) for p in product.input_paths], str(ref_dir.resolve()),
            )
            statuses: dict[str, str] = {}
            for step in STEPS:
                current_step = step
                if cancel is not None:
                    cancel.check()
                params = config.steps[step.name]
                key = self._step_key(key, step, config, ref_dir)
                cached = self._cache.get(key) if self.use_cache else None
                if cached is not None and self._references_unchanged(cached):
                    step_result = dataclasses.replace(cached, from_cache=True)
                else:
                    if callbacks.step_start:
                        callbacks.step_start(product, step)
                    step_result = self._run_step(step, model, params, product, ref_dir, cancel,
                                                 statuses)
                    self._remember((product.science, step.name), key, step_result)
                for message in step_result.warnings:
                    log.warning("%s: %s: %s", product.name, step.name, message)
                    if callbacks.warning:
                        callbacks.warning(product, step, message)
                if step_result.status == SKIPPED and step_result.reason:
                    log.info("%s: %s skipped: %s", product.name, step.name, step_result.reason)
                result.steps[step.name] = step_result
                statuses[step.name] = step_result.status
                if callbacks.step_done:
                    callbacks.step_done(product, step, step_result)
                model = step_result.model
            current_step = None
        except Cancelled:
            result.cancelled = True
            log.info("%s: cancelled", product.name)
        except Exception as exc:  # one product failing must not stop the others
            result.error = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
            result.error_is_input = isinstance(exc, InputError)
            if not isinstance(exc, InputError):
                log.exception("%s: %s failed", product.name, current_step.name if current_step else "input")
            else:
                log.error("%s: %s", product.name, result.error)
            if current_step is not None:
                failed = StepResult(FAILED, result.input_model, reason=result.error)  # type: ignore[arg-type]
                result.steps[current_step.name] = failed
                if callbacks.step_done:
                    callbacks.step_done(product, current_step, failed)
        result.elapsed = time.perf_counter() - started
        if callbacks.product_done:
            callbacks.product_done(result)
        return result

    @staticmethod
    def _references_unchanged(result: StepResult) -> bool:
        return all(_file_identity(path) == identity
                   for path, identity in result.reference_identities.items())

    def _run_step(self, step: StepSpec, model: ImageModel, params: dict[str, Any],
                  product: Product, ref_dir: Path, cancel: CancelToken | None,
                  statuses: dict[str, str]) -> StepResult:
        callbacks = self.callbacks
        started = time.perf_counter()
        if params["skip"]:
            out = model.derive()
            out.header[step.status_keyword] = SKIPPED
            return StepResult(SKIPPED, out, reason="skip = True in the parameters")

        def progress(fraction: float) -> None:
            if callbacks.step_progress:
                callbacks.step_progress(product, step, min(1.0, max(0.0, fraction)))

        context = StepContext(product=product, ref_dir=ref_dir, cancel=cancel, progress=progress,
                              log=log, upstream=dict(statuses))
        self.executions[step.name] += 1
        step_result = step.run(model, params, context)
        if step_result.model is model:
            step_result.model = model.derive()
        step_result.model.header[step.status_keyword] = step_result.status
        step_result.elapsed = time.perf_counter() - started
        step_result.reference_identities = {
            path: _file_identity(path) for path in step_result.references.values()
        }
        progress(1.0)
        return step_result

    def run(self, association: Association, cancel: CancelToken | None = None, *,
            write: bool = True, output_dir: str | os.PathLike | None = None) -> list[ProductResult]:
        """Run every product in turn (writing each one's outputs when it completes)."""
        results = []
        total = len(association.products)
        for index, product in enumerate(association.products):
            if self.callbacks.product_start:
                self.callbacks.product_start(product, index, total)
            result = self.run_product(product, cancel)
            if result.ok and write:
                try:
                    self.write_outputs(result, output_dir)
                except InputError as exc:
                    result.error, result.error_is_input = str(exc), True
                    log.error("%s: %s", product.name, exc)
            results.append(result)
            if result.cancelled:
                break
            if not self.use_cache:
                self.clear_cache()
        return results

    # ---- outputs -------------------------------------------------------------------------------
    def planned_outputs(self, result: ProductResult, output_dir: Path) -> dict[Path, ImageModel]:
        """Every file ``write_outputs`` would write, with the model for each."""
        name = result.product.name
        is_3d = result.is_3d
        config = result.config
        planned: dict[Path, ImageModel] = {}
        for step in STEPS:
            step_result = result.steps.get(step.name)
            if step_result is None:
                continue
            if config.steps[step.name]["save_results"] and step_result.status == COMPLETE:
                suffix = config.steps[step.name]["suffix"] or step.default_suffix
                planned[output_path(output_dir, name, suffix)] = step_result.model
            if config.pipeline["save_results"] and step_result.status == COMPLETE:
                for key, suffix in step.saved_products:
                    if key in step_result.products:
                        planned[output_path(output_dir, name, suffix)] = step_result.products[key]
            for extra, model in step_result.extra_outputs.items():
                planned[Path(extra) if os.path.isabs(extra) else output_dir / extra] = model
        if config.pipeline["save_bsub"]:
            bsub = result.bsub
            if bsub is not None:
                planned[output_path(output_dir, name, output_suffix("bsub", is_3d))] = bsub
            else:
                log.warning("%s: save_bsub is set but bkg_subtract did not run; no _bsub written",
                            name)
        if config.pipeline["save_results"] and result.final is not None:
            planned[output_path(output_dir, name, output_suffix("cal", is_3d))] = result.final
        return planned

    def write_outputs(self, result: ProductResult,
                      output_dir: str | os.PathLike | None = None) -> list[Path]:
        if not result.ok:
            raise InputError(f"{result.product.name}: nothing to write, the product did not finish")
        directory = Path(output_dir or self.output_dir or Path.cwd())
        check_output_dir(directory)
        protected = list(result.product.input_paths)
        for step_result in result.steps.values():
            protected.extend(step_result.references.values())
        provenance = provenance_document(result)
        written = []
        for path, model in self.planned_outputs(result, directory).items():
            stamped = stamp_model(model, result, provenance)
            written.append(write_image(stamped, path, protected=protected,
                                       extra_hdus=[provenance_hdu(provenance)]))
            log.info("%s: wrote %s", result.product.name, path)
        result.outputs = written
        return written


# ---- provenance --------------------------------------------------------------------------------

def provenance_document(result: ProductResult) -> dict[str, Any]:
    """Everything needed to re-make a product: inputs, references, parameters, statuses."""
    return {
        "software": "iris_gui",
        "version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "product": result.product.name,
        "association": result.product.asn_path,
        "inputs": {"science": os.path.abspath(result.product.science),
                   "backgrounds": [os.path.abspath(p) for p in result.product.backgrounds]},
        "ref_dir": os.path.abspath(result.ref_dir),
        "parameters": result.config.to_dict(),
        "steps": {
            name: {
                "status": step.status,
                "reason": step.reason,
                "references": {k: os.path.abspath(v) for k, v in step.references.items()},
                "warnings": list(step.warnings),
            }
            for name, step in result.steps.items()
        },
    }


def provenance_hdu(document: dict[str, Any]) -> fits.BinTableHDU:
    text = json.dumps(document, indent=1)
    column = fits.Column(name="JSON", format=f"{max(1, len(text))}A", array=np.array([text]))
    hdu = fits.BinTableHDU.from_columns([column], name=PROVENANCE_EXTENSION)
    hdu.header["COMMENT"] = "iris_gui provenance: inputs, references and parameters (JSON)"
    return hdu


def stamp_model(model: ImageModel, result: ProductResult,
                provenance: dict[str, Any]) -> ImageModel:
    """A copy of ``model`` whose header records version, statuses and references."""
    out = model.derive()
    header = out.header
    header["CAL_SW"] = ("iris_gui", "calibration software")
    header["CAL_VER"] = (__version__, "calibration software version")
    header["DATE"] = (provenance["created"], "file creation time (UTC)")
    header["PARFINGR"] = (result.config.fingerprint(), "fingerprint of the full parameter set")
    for step in STEPS:
        step_result = result.steps.get(step.name)
        if step_result is not None:
            header[step.status_keyword] = step_result.status
        if step_result is not None and step_result.reason and step_result.status == SKIPPED:
            header.add_history(f"{step.name} skipped: {step_result.reason}"[:70])
    for step_result in result.steps.values():
        for kind, path in step_result.references.items():
            header[f"R_{kind.upper()}"[:8]] = Path(path).name
    return out
