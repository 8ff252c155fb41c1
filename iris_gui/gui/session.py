"""What the window is working on: inputs, parameters, the pipeline and its results.

Plain Python (no widgets) so the console can use it: ``session.results['flat_field'].data``
is the flat_field output of the current product, ``session.product_results`` holds every product
run so far, ``session.config`` the parameters the next run uses.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.association import Association, Product, load_inputs
from ..engine.config import PipelineConfig, save_parameters
from ..engine.models import ImageModel
from ..engine.pipeline import Image2Pipeline, ProductResult
from ..engine.step_plan import StepPlan, product_is_stale
from ..engine.steps import STEPS


@dataclass
class Session:
    associations: list[Association] = field(default_factory=list)
    config: PipelineConfig = field(default_factory=PipelineConfig)
    output_dir: str = field(default_factory=lambda: str(Path.cwd()))
    ref_dir: str | None = None
    #: product key (science path) -> last result
    product_results: dict[str, ProductResult] = field(default_factory=dict)
    #: the product shown in the window
    current_product: Product | None = None

    def __post_init__(self) -> None:
        self.pipeline = Image2Pipeline(self.config, cache=True)

    # ---- inputs ---------------------------------------------------------------------------
    def open_path(self, path: str | os.PathLike) -> Association:
        """Load an ASN or a rate file (problems are kept on the products, not raised)."""
        association = load_inputs(path, strict=False)
        self.associations.append(association)
        if self.current_product is None and association.products:
            self.current_product = association.products[0]
        return association

    def add_association(self, association: Association) -> None:
        self.associations.append(association)

    def remove_product(self, product: Product) -> None:
        for association in list(self.associations):
            if product in association.products:
                association.products.remove(product)
                if not association.products:
                    self.associations.remove(association)
        self.product_results.pop(product_key(product), None)
        if self.current_product is product:
            self.current_product = self.all_products[0] if self.all_products else None

    def remove_association(self, association: Association) -> None:
        for product in list(association.products):
            self.remove_product(product)
        if association in self.associations:
            self.associations.remove(association)

    @property
    def all_products(self) -> list[Product]:
        return [p for a in self.associations for p in a.products]

    # ---- results ----------------------------------------------------------------------------
    def result_for(self, product: Product | None) -> ProductResult | None:
        return None if product is None else self.product_results.get(product_key(product))

    @property
    def current_result(self) -> ProductResult | None:
        return self.result_for(self.current_product)

    @property
    def results(self) -> dict[str, ImageModel]:
        """step name -> output model of the current product (steps that ran so far)."""
        result = self.current_result
        if result is None:
            return {}
        return {name: step.model for name, step in result.steps.items() if step.model is not None}

    def store_result(self, result: ProductResult) -> None:
        self.product_results[product_key(result.product)] = result

    # ---- what a run would do now ------------------------------------------------------------
    def plan_for(self, product: Product) -> list[StepPlan]:
        """The engine's plan of ``product`` under the current parameters and folders: every
        step status the window shows derives from it and the product's last result."""
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

    # ---- parameters ---------------------------------------------------------------------------
    def set_config(self, config: PipelineConfig) -> None:
        self.config = config
        self.pipeline.config = config

    def apply_locations(self) -> None:
        self.pipeline.ref_dir = Path(self.ref_dir) if self.ref_dir else None
        self.pipeline.output_dir = Path(self.output_dir)

    def command_line(self, cfg_path: str | os.PathLike) -> str:
        """The iris-image2 invocation equivalent to the current session (after saving cfg)."""
        save_parameters(self.config, cfg_path)
        inputs = []
        for association in self.associations:
            if association.path:
                inputs.append(association.path)
            else:
                inputs.extend(p.science for p in association.products)
        words = ["iris-image2", *inputs, "--config", str(cfg_path), "--output-dir",
                 self.output_dir]
        if self.ref_dir:
            words += ["--ref-dir", self.ref_dir]
        return " ".join(shlex.quote(str(w)) for w in words)


def product_key(product: Product) -> str:
    return f"{product.asn_path or ''}::{product.name}::{product.members[0].path if product.members else ''}"


STEP_NAMES = tuple(step.name for step in STEPS)
