"""The parameter set (``PipelineConfig``) and how other pipelines' names map onto it.

``PipelineConfig`` holds the pipeline options and every step's parameters, defaults filled in,
type-checked on every ``set``. Names other pipelines use (the upstream liger_iris_pipeline's
steps, classes and parameters, jwst's ``Image2Pipeline``) are declared by each step
(``StepSpec.step_aliases`` and friends) and applied here while a file is read. The files
themselves (``image2.cfg``, ``.asdf``) are read and written by ``parameter_files``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from .errors import ParameterError
from .parameters import Parameter, describe
from .steps import STEP_BY_NAME, STEPS, StepSpec

log = logging.getLogger(__name__)

PIPELINE_NAME = "ProcessImagerL2Pipeline"
PIPELINE_CLASS = "iris_pipeline.pipeline.ProcessImagerL2Pipeline"
#: last component of the class names that mean this pipeline
PIPELINE_CLASS_NAMES = ("ProcessImagerL2Pipeline", "Image2Pipeline", "ImagerStage2Pipeline")

#: pipeline-level parameters, declared once like a step's
PIPELINE_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("save_results", "bool", True, "Write the calibrated product (<product>_cal.fits)."),
    Parameter("save_bsub", "bool", False, "Also write the background-subtracted exposure "
              "(<product>_bsub.fits, or _bsubints for rateints)."),
    Parameter("output_layout", "choice", "iris", "File layout: iris (SCI/ERR/DQ, ASDF "
              "extension) or liger (the upstream liger_iris_pipeline's DATA layout, read by its "
              "ImagerModel)", choices=("iris", "liger")),
)
PIPELINE_BY_NAME = {p.name: p for p in PIPELINE_PARAMETERS}
#: pipeline options that choose how the files are written, not what they hold: left out of
#: PARFINGR (``provenance.parameter_fingerprint``), kept in the full fingerprint (``--resume``
#: re-makes a product asked for in another layout)
LAYOUT_OPTIONS = ("output_layout",)



def declared(step: StepSpec, what: str) -> tuple:
    """A step's declaration ``what`` (``step_aliases``, ``class_aliases``,
    ``parameter_aliases``, ``refused_parameters``, ``jwst_only_parameters``)."""
    return tuple(getattr(step, what, ()))


#: step names other pipelines use -> our step
STEP_ALIASES: dict[str, StepSpec] = {
    alias: step for step in STEPS for alias in declared(step, "step_aliases")}


@dataclass
class PipelineConfig:
    """A full parameter set: pipeline options and every step's parameters (defaults filled in)."""

    pipeline: dict[str, Any] = field(
        default_factory=lambda: {p.name: p.default for p in PIPELINE_PARAMETERS})
    steps: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {s.name: s.defaults() for s in STEPS})
    #: file it was read from, if any
    source: str | None = None
    #: absolute paths of every file it was read from: the parameter file and the step cfg files
    #: it includes (``config_file = ...``), in the order read
    read_files: list[str] = field(default_factory=list)

    def copy(self) -> PipelineConfig:
        return PipelineConfig(copy.deepcopy(self.pipeline), copy.deepcopy(self.steps), self.source,
                              list(self.read_files))

    def step(self, name: str) -> dict[str, Any]:
        return self.steps[name]

    def set(self, key: str, value: Any, where: str = "") -> None:
        """Set ``steps.STEP.PARAM`` or a pipeline option (``save_bsub``) from text or a value."""
        parts = key.split(".")
        prefix = f"{where}: " if where else ""
        if len(parts) == 3 and parts[0] == "steps":
            step = step_named(parts[1], where)
            parameter = step.parameter(parts[2])
            if parameter is None and _asks_nothing_different(step, parts[1], parts[2], value,
                                                             where):
                return
            parameter = parameter or _aliased_parameter(step, parts[1], parts[2], where)
            if parameter is None:
                raise ParameterError(
                    f"{prefix}steps.{step.name}.{parts[2]}: unknown parameter of {step.name} "
                    f"(known: {', '.join(p.name for p in step.all_parameters)})"
                )
            self.steps[step.name][parameter.name] = parameter.coerce(
                value, f"{where + ': ' if where else ''}steps.{step.name}")
            return
        if len(parts) == 1 and parts[0] in PIPELINE_BY_NAME:
            parameter = PIPELINE_BY_NAME[parts[0]]
            self.pipeline[parameter.name] = parameter.coerce(value, where)
            return
        raise ParameterError(
            f"{prefix}{key}: unknown parameter (use steps.<step>.<parameter> or one of "
            f"{', '.join(PIPELINE_BY_NAME)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"pipeline": copy.deepcopy(self.pipeline), "steps": copy.deepcopy(self.steps)}

    @classmethod
    def from_dict(cls, document: dict[str, Any], where: str = "") -> PipelineConfig:
        """The config ``to_dict`` wrote: ``{"pipeline": {...}, "steps": {step: {...}}}``;
        ``where`` names the source (and the place in it) for messages."""
        prefix = f"{where}: " if where else ""
        require_mapping(document, f"{prefix}the parameter set")
        for key in document:
            if key not in ("pipeline", "steps"):
                raise ParameterError(f"{prefix}unexpected key {describe(key)} (a parameter set "
                                     f"has pipeline and steps)")
        config = cls()
        pipeline = document.get("pipeline") or {}
        require_mapping(pipeline, f"{prefix}pipeline")
        for key, value in pipeline.items():
            config.set(text_key(key, f"{prefix}pipeline"), value, where)
        steps = document.get("steps") or {}
        require_mapping(steps, f"{prefix}steps")
        for step_name, values in steps.items():
            step_name = text_key(step_name, f"{prefix}steps")
            require_mapping(values, f"{prefix}steps.{step_name}")
            for key, value in values.items():
                key = text_key(key, f"{prefix}steps.{step_name}")
                config.set(f"steps.{step_name}.{key}", value, where)
        return config

    def step_fingerprint(self, name: str) -> str:
        """A stable text for one step's parameters (used in cache keys)."""
        return json.dumps(self.steps[name], sort_keys=True, default=str)

    def fingerprint(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _aliased_parameter(step: StepSpec, section: str, name: str, where: str) -> Parameter | None:
    """The parameter another pipeline's name ``name`` stands for (``dark`` -> ``override_dark``,
    logged), None if it is no alias; a refused upstream name raises with its reason."""
    for theirs, ours in declared(step, "parameter_aliases"):
        if theirs == name:
            log.info("%s%s.%s is the upstream name of %s.%s; read as %s",
                     f"{where}: " if where else "", section, name, step.name, ours, ours)
            return step.parameter(ours)
    for theirs, _neutral, why in declared(step, "refused_parameters"):
        if theirs == name:
            raise ParameterError(f"{where + ': ' if where else ''}steps.{section}.{name}: "
                                 f"not read: {why}")
    return None


def _asks_nothing_different(step: StepSpec, section: str, name: str, value: Any,
                            where: str) -> bool:
    """True (logged) when ``name`` is a refused upstream parameter left at the value that asks
    for nothing different (None): a file or the command line may say it; it is ignored."""
    for theirs, neutral, _why in declared(step, "refused_parameters"):
        if theirs == name and same_value(value, neutral):
            log.info("%s%s.%s = %s asks for nothing iris_gui does differently; ignored",
                     f"{where}: " if where else "", section, name, value)
            return True
    return False


def same_value(value: Any, neutral: Any) -> bool:
    """``value`` (text or a value) says the same as ``neutral`` (None or a number)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
        return neutral is None
    if neutral is None:
        return False
    try:
        return float(value) == float(neutral)
    except (TypeError, ValueError):
        return False


def require_mapping(value: Any, what: str) -> None:
    """``what`` names the value with its source, e.g. ``"x.asdf: steps[2] (photom): parameters"``."""
    if not isinstance(value, dict):
        raise ParameterError(f"{what} must be a mapping, found {describe(value)}")


def text_key(key: Any, where: str) -> str:
    if not isinstance(key, str):
        raise ParameterError(f"{where}: key {describe(key)} is not text")
    return key


def step_named(name: str, where: str) -> StepSpec:
    step = STEP_BY_NAME.get(name) or STEP_ALIASES.get(name)
    if step is None:
        prefix = f"{where}: " if where else ""
        raise ParameterError(
            f"{prefix}unknown step {name!r} (steps: {', '.join(s.name for s in STEPS)}; also "
            f"read: {', '.join(STEP_ALIASES)})"
        )
    return step
