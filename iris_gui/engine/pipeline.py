"""The image2 runner: order, skipping, progress, cancellation, result reuse and outputs.

``Image2Pipeline.run_product`` computes one product in memory and reports through callbacks;
``write_outputs`` writes its files; ``run`` does both over an association, one product at a time.
Nothing is written for a product until all of its steps have finished, so a cancelled or failed
product leaves no files behind (each file is also written to a temporary name and renamed).

Step results are cached, keyed by the identity of the input files (path, size, mtime), the
reference folder, and the parameters of the step and of every step before it. Re-running after a
change to flat_field's parameters reuses bkg_subtract .. dark_current and recomputes from
flat_field on. Only the newest result per product and step is kept, so memory stays bounded.

With ``keep_backgrounds`` (a byte budget; the window's worker sets one) ``prepare_backgrounds``
keeps a product's backgrounds read and prepared (``background_store``; the worker calls it when
idle after a run), and a run after a change of bkg_subtract's sigma takes them from there instead
of reading them again and redoing the sigma-free part of the combine. A first run keeps nothing
(it frees its backgrounds for its own outputs); a second computation of bkg_subtract for the
same product keeps them if they were not kept yet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .association import Association, Product
from .cancel import CancelToken
from .config import PipelineConfig
from .errors import Cancelled, InputError
from .files import OutputWriteError
from .models import ImageModel, read_image
from .output_plan import OutputPlan
from .outputs import files_of, plan_product, write_product
from .product_result import PipelineCallbacks, ProductResult
from .references import folder_signature
from .steps import (
    FAILED,
    SKIPPED,
    STEPS,
    StepContext,
    StepResult,
    StepSpec,
    references_read,
)

log = logging.getLogger("iris_gui.engine")



def _file_identity(path: str) -> tuple:
    try:
        stat = os.stat(path)
        return (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    except OSError:
        return (os.path.abspath(path), None, None)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _release_unwritten(model: ImageModel, result: ProductResult, step: StepSpec,
                       step_result: StepResult) -> None:
    """Once ``step`` has its result: release its input ``model`` unless it is written (the
    _bsub, a step's own save_results output), and its products that are not written (the
    combined background: the window shows it, a file does not hold it)."""
    from .buffer_pool import release

    saved = {key for key, _suffix in step.saved_products}
    for key, product in step_result.products.items():
        written = any(product is other for other in step_result.extra_outputs.values())
        if key not in saved and not written:
            release(product)
    if step_result.model is model:
        return
    config = result.config
    for name, earlier in result.steps.items():
        if earlier.model is model and (config.steps[name]["save_results"] or (
                name == "bkg_subtract" and config.pipeline["save_bsub"])):
            return
    release(model)


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
        keep_backgrounds: int = 0,
        keep_intermediates: bool = True,
    ) -> None:
        self.config = config if config is not None else PipelineConfig()
        self.ref_dir = None if ref_dir is None else Path(ref_dir)
        self.output_dir = None if output_dir is None else Path(output_dir)
        self.callbacks = callbacks or PipelineCallbacks()
        self.use_cache = cache
        #: False (a command-line run without a report): a step's input is released once the
        #: next step has its output, unless it is written (buffer_pool.release)
        self.keep_intermediates = keep_intermediates or cache
        self._cache: dict[str, StepResult] = {}
        self._latest: dict[tuple[str, str], str] = {}
        self._inputs: dict[tuple, ImageModel] = {}
        self._lock = threading.Lock()
        #: how many times each step actually computed (not served from the cache)
        self.executions: Counter[str] = Counter()
        self.background_store = None
        self.keep_backgrounds(keep_backgrounds)

    def keep_backgrounds(self, budget: int) -> None:
        """Keep up to ``budget`` bytes of prepared backgrounds between runs (0: none, the
        default: every run reads them, as a batch run should)."""
        if not budget or not self.use_cache:
            self.background_store = None
        elif self.background_store is None:
            from .background_store import BackgroundStore

            self.background_store = BackgroundStore(budget)
        else:
            self.background_store.budget = int(budget)

    # ---- caching -------------------------------------------------------------------------------
    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
            self._latest.clear()
            self._inputs.clear()
        if self.background_store is not None:
            self.background_store.clear()

    def forget_product(self, science: str) -> None:
        """Drop the cached steps and the cached input of the exposure ``science``: a product
        closed to give its memory back (the quick-look keeps only its newest products)."""
        with self._lock:
            for slot in [s for s in self._latest if s[0] == science]:
                self._cache.pop(self._latest.pop(slot), None)
            for key in [k for k in self._inputs if k[0] == os.path.abspath(science)]:
                del self._inputs[key]

    def _remember(self, slot: tuple[str, str], key: str, result: StepResult) -> None:
        if not self.use_cache:
            return
        with self._lock:
            old = self._latest.get(slot)
            if old is not None and old != key:
                self._cache.pop(old, None)
            self._latest[slot] = key
            self._cache[key] = result

    def _read_input(self, product: Product, identity: tuple | None = None) -> ImageModel:
        identity = identity or _file_identity(product.science)
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
        # every reference the step reads: its own and those it borrows (bkg_subtract's dark),
        # with the owning step's override and force_override
        references: Any = [
            (kind, _file_identity(override) if override else folder_signature(ref_dir, kind),
             force)
            for kind, override, force in references_read(step, config.steps)]
        return _digest(previous, step.name, config.step_fingerprint(step.name), references)

    def _input_key(self, product: Product, ref_dir: Path) -> str:
        """The key the step keys chain from (``run_product`` and ``step_plan`` both use it)."""
        return _digest([_file_identity(p) for p in product.input_paths], str(ref_dir.resolve()))

    def _cached_step(self, key: str) -> StepResult | None:
        """The result ``run_product`` would reuse for ``key``, or None if it would compute."""
        if not self.use_cache:
            return None
        with self._lock:
            cached = self._cache.get(key)
        return cached if cached is not None and self._references_unchanged(cached) else None

    def _has_slot(self, product: Product, step_name: str) -> bool:
        with self._lock:
            return (product.science, step_name) in self._latest

    def step_plan(self, product: Product, config: PipelineConfig | None = None) -> list:
        """What ``run_product(product, config=config)`` would do now, step by step, without
        reading pixels: a list of ``step_plan.StepPlan`` (cached / to run / off / failed /
        cannot run, with a reason)."""
        from .step_plan import plan_product

        return plan_product(self, product, config)

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
            result.input_identity = _file_identity(product.science)
            model = self._read_input(product, result.input_identity)
            result.input_model = model
            # read_image logged these already; the window shows them on the product too
            for message in model.read_warnings:
                if callbacks.warning:
                    callbacks.warning(product, None, message)
            if callbacks.input_ready:
                callbacks.input_ready(product, model)
            key = self._input_key(product, ref_dir)
            statuses: dict[str, str] = {}
            for step in STEPS:
                current_step = step
                if cancel is not None:
                    cancel.check()
                params = config.steps[step.name]
                key = self._step_key(key, step, config, ref_dir)
                cached = self._cached_step(key)
                if cached is not None:
                    step_result = dataclasses.replace(cached, from_cache=True)
                else:
                    if callbacks.step_start:
                        callbacks.step_start(product, step)
                    step_result = self._run_step(step, model, params, product, ref_dir, cancel,
                                                 statuses, config.steps)
                    self._remember((product.science, step.name), key, step_result)
                result.step_keys[step.name] = key
                for message in step_result.warnings:
                    log.warning("%s: %s: %s", product.name, step.name, message)
                    if callbacks.warning:
                        callbacks.warning(product, step, message)
                if step_result.status == SKIPPED and step_result.reason and not step_result.warnings:
                    log.info("%s: %s skipped: %s", product.name, step.name, step_result.reason)
                result.steps[step.name] = step_result
                statuses[step.name] = step_result.status
                if callbacks.step_done:
                    callbacks.step_done(product, step, step_result)
                if not self.keep_intermediates:
                    _release_unwritten(model, result, step, step_result)
                model = step_result.model
            current_step = None
        except Cancelled:
            result.cancelled = True
            log.info("%s: cancelled", product.name)
        except Exception as exc:  # one product failing must not stop the others
            result.error = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
            result.error_is_input = isinstance(exc, InputError)
            if not isinstance(exc, InputError):
                where = current_step.name if current_step else "reading the input"
                result.error = f"{where} failed unexpectedly: {result.error}"
                log.debug("%s: %s", product.name, where, exc_info=True)
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

    def adopt_result(self, result: ProductResult) -> None:
        """Cache ``result``, computed elsewhere (a worker process) as ``run_product`` computes:
        the entries a run here would have left (same keys, same objects), so the plan calls its
        steps cached, the window's statuses are current and a later run reuses them."""
        if not self.use_cache or result.cancelled:
            return
        product = result.product
        if result.input_model is not None and result.input_identity is not None:
            with self._lock:
                for key in [k for k in self._inputs if k[0] == result.input_identity[0]]:
                    del self._inputs[key]
                self._inputs[result.input_identity] = result.input_model
        for name, key in result.step_keys.items():
            self._remember((product.science, name), key, result.steps[name])

    def _background_source(self, step: StepSpec, model: ImageModel, product: Product):
        """For bkg_subtract with a background store, the store as the step's way to its
        backgrounds (``StepContext.backgrounds``); None: the step reads them itself."""
        store = self.background_store
        if store is not None and step.name == "bkg_subtract" and product.backgrounds:
            from . import background_store

            # kept ones are used; and a second computation of the step for this product (a
            # parameter is being tried) keeps them, if the worker had no idle moment to
            if background_store.supports_step() and (
                    store.has(product.backgrounds, model)
                    or (self._has_slot(product, step.name)
                        and store.fits(model, product.backgrounds))):
                return store.backgrounds
        return None

    def prepare_backgrounds(self, product: Product, cancel: CancelToken | None = None) -> bool:
        """Read and prepare ``product``'s backgrounds into the background store (if there is one
        and they fit its budget), so the next run's bkg_subtract takes them from there. True
        when they are kept; False otherwise, also when they cannot be read (the run that needs
        them reports that). Raises Cancelled if ``cancel`` is set meanwhile."""
        store = self.background_store
        if store is None or not product.backgrounds or product.problems:
            return False
        from . import background_store

        if not background_store.supports_step():
            return False
        try:
            model = self._read_input(product)
            if not store.fits(model, product.backgrounds):
                return False
            context = StepContext(product=product, ref_dir=self.ref_dir_for(product),
                                  cancel=cancel, log=log)
            store.entry(product.backgrounds, model, context)
        except Cancelled:
            raise
        except Exception as exc:  # e.g. a background that does not cover the science
            log.debug("%s: backgrounds not kept: %s", product.name, exc)
            return False
        return True

    @staticmethod
    def _references_unchanged(result: StepResult) -> bool:
        return all(_file_identity(path) == identity
                   for path, identity in result.reference_identities.items())

    def _run_step(self, step: StepSpec, model: ImageModel, params: dict[str, Any],
                  product: Product, ref_dir: Path, cancel: CancelToken | None,
                  statuses: dict[str, str],
                  parameters: dict[str, dict[str, Any]] | None = None) -> StepResult:
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
                              log=log, upstream=dict(statuses), parameters=parameters or {},
                              backgrounds=self._background_source(step, model, product))
        self.executions[step.name] += 1
        step_result = step.run(model, params, context)
        step_result.notes = [*context.notes, *step_result.notes]
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
            write: bool = True, output_dir: str | os.PathLike | None = None,
            plan: OutputPlan | None = None) -> list[ProductResult]:
        """Run every product in turn, writing each one's outputs when it completes.

        With a ``plan`` (already checked over the whole run) each product writes only its
        planned files; without one, each product's own plan is checked before it writes. A
        product that cannot be written fails alone; the others go on.
        """
        results = []
        total = len(association.products)
        for index, product in enumerate(association.products):
            if self.callbacks.product_start:
                self.callbacks.product_start(product, index, total)
            result = self.run_product(product, cancel)
            if result.ok and write:
                try:
                    self.write_outputs(result, output_dir, plan)
                except OutputWriteError as exc:
                    result.error, result.error_is_input = str(exc), False
                    log.error("%s: %s", product.name, exc)
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
        return files_of(result, Path(os.path.abspath(output_dir)))

    def write_outputs(self, result: ProductResult, output_dir: str | os.PathLike | None = None,
                      plan: OutputPlan | None = None) -> list[Path]:
        """Write a finished product whole or not at all (see ``outputs.write_product``)."""
        if not result.ok:
            raise InputError(f"{result.product.name}: nothing to write, the product did not finish")
        directory = Path(output_dir or self.output_dir or Path.cwd())
        written = write_product(result, directory, plan)
        for path in written:
            log.info("%s: wrote %s", result.product.name, path)
        result.outputs = written
        return written

    def plan_outputs(self, results: list[ProductResult],
                     output_dir: str | os.PathLike) -> OutputPlan:
        """One checked plan for exporting finished ``results`` together (the window's Export)."""
        plan = OutputPlan()
        for result in results:
            plan_product(plan, result.product, result.config, output_dir, result.ref_dir,
                         is_3d=result.is_3d)
        plan.check()
        return plan

    def export_results(self, results: list[ProductResult],
                       output_dir: str | os.PathLike) -> tuple[list[Path], list[str]]:
        """Write finished ``results`` through one plan checked first over all of them.

        Returns the files written and one line per product that could not be written. A plan
        violation writes nothing at all (one line, naming the product, path and rule).
        """
        try:
            plan = self.plan_outputs(results, output_dir)
        except InputError as exc:
            return [], [str(exc)]
        written: list[Path] = []
        errors: list[str] = []
        for result in results:
            try:
                written.extend(self.write_outputs(result, output_dir, plan))
            except (InputError, OutputWriteError) as exc:
                errors.append(str(exc) if str(exc).startswith(result.product.name)
                              else f"{result.product.name}: {exc}")
            except Exception as exc:  # a bug: that product fails, the others are still written
                log.error("%s: export failed (details below)", result.product.name, exc_info=exc)
                errors.append(f"{result.product.name}: could not be exported to {output_dir}: "
                              f"unexpected internal error (the log has the details)")
        return written, errors
