"""Parameter files: ``image2.cfg`` (stpipe's configobj layout) and stpipe ``.asdf`` parameter files.

cfg layout (DESIGN.md §3)::

    name = "ProcessImagerL2Pipeline"
    class = "iris_pipeline.pipeline.ProcessImagerL2Pipeline"
    save_results = True
    save_bsub = False
        [steps]
          [[flat_field]]
            skip = False
            config_file = flat_field.cfg     # a step cfg beside this file; section keys win

asdf layout: ``class``, ``name``, ``parameters`` (pipeline-level) and ``steps``: a list of
``{class, name, parameters}``.

Everything is validated against the step declarations (``iris_gui.engine.steps``): an unknown step
or parameter, a wrong type or an out-of-range value raises ParameterError naming the file and key.
The bookkeeping keys stpipe writes into every step (``pre_hooks``, ``output_dir`` ...) are accepted
and ignored with a log note.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from configobj import ConfigObj, ConfigObjError

from .. import __version__
from .errors import InputError, ParameterError
from .files import atomic_write
from .parameters import STPIPE_IGNORED_KEYS, Parameter
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
)
_PIPELINE_BY_NAME = {p.name: p for p in PIPELINE_PARAMETERS}


@dataclass
class PipelineConfig:
    """A full parameter set: pipeline options and every step's parameters (defaults filled in)."""

    pipeline: dict[str, Any] = field(
        default_factory=lambda: {p.name: p.default for p in PIPELINE_PARAMETERS})
    steps: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {s.name: s.defaults() for s in STEPS})
    #: file it was read from, if any
    source: str | None = None

    def copy(self) -> PipelineConfig:
        return PipelineConfig(copy.deepcopy(self.pipeline), copy.deepcopy(self.steps), self.source)

    def step(self, name: str) -> dict[str, Any]:
        return self.steps[name]

    def set(self, key: str, value: Any, where: str = "") -> None:
        """Set ``steps.STEP.PARAM`` or a pipeline option (``save_bsub``) from text or a value."""
        parts = key.split(".")
        prefix = f"{where}: " if where else ""
        if len(parts) == 3 and parts[0] == "steps":
            step = _step_named(parts[1], where)
            parameter = step.parameter(parts[2])
            if parameter is None:
                raise ParameterError(
                    f"{prefix}steps.{step.name}.{parts[2]}: unknown parameter of {step.name} "
                    f"(known: {', '.join(p.name for p in step.all_parameters)})"
                )
            self.steps[step.name][parameter.name] = parameter.coerce(
                value, f"{where + ': ' if where else ''}steps.{step.name}")
            return
        if len(parts) == 1 and parts[0] in _PIPELINE_BY_NAME:
            parameter = _PIPELINE_BY_NAME[parts[0]]
            self.pipeline[parameter.name] = parameter.coerce(value, where)
            return
        raise ParameterError(
            f"{prefix}{key}: unknown parameter (use steps.<step>.<parameter> or one of "
            f"{', '.join(_PIPELINE_BY_NAME)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"pipeline": copy.deepcopy(self.pipeline), "steps": copy.deepcopy(self.steps)}

    @classmethod
    def from_dict(cls, document: dict[str, Any], where: str = "") -> PipelineConfig:
        config = cls()
        for key, value in (document.get("pipeline") or {}).items():
            config.set(key, value, where)
        for step_name, values in (document.get("steps") or {}).items():
            for key, value in values.items():
                config.set(f"steps.{step_name}.{key}", value, where)
        return config

    def step_fingerprint(self, name: str) -> str:
        """A stable text for one step's parameters (used in cache keys)."""
        return json.dumps(self.steps[name], sort_keys=True, default=str)

    def fingerprint(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _step_named(name: str, where: str) -> StepSpec:
    step = STEP_BY_NAME.get(name)
    if step is None:
        prefix = f"{where}: " if where else ""
        raise ParameterError(
            f"{prefix}unknown step {name!r} (steps: {', '.join(s.name for s in STEPS)})"
        )
    return step


def _check_pipeline_class(value: Any, where: str) -> None:
    text = str(value or "").strip()
    if text and text.rsplit(".", 1)[-1] not in PIPELINE_CLASS_NAMES:
        raise ParameterError(
            f"{where}: class {text!r} is not the image2 pipeline (expected one of "
            f"{', '.join(PIPELINE_CLASS_NAMES)})"
        )


def _check_step_class(step: StepSpec, value: Any, where: str) -> None:
    text = str(value or "").strip()
    if not text:
        return
    known = {c.rsplit(".", 1)[-1] for c in (step.class_name, *step.class_aliases)}
    if text.rsplit(".", 1)[-1] not in known:
        log.warning("%s: class %s is not the usual class of %s (%s); reading it as %s",
                    where, text, step.name, step.class_name, step.name)


def _apply_step_values(config: PipelineConfig, step: StepSpec, values: dict[str, Any],
                       where: str) -> None:
    for key, value in values.items():
        if key in ("name", "class", "config_file"):
            continue
        if key in STPIPE_IGNORED_KEYS:
            log.info("%s: %s.%s is stpipe bookkeeping; ignored", where, step.name, key)
            continue
        if key == "suffix" and (value is None or str(value).strip().lower() in ("none", "null")):
            # stpipe writes ``suffix: null`` (cfg: ``suffix = None``) for "use the step's default"
            log.info("%s: %s.suffix is None; keeping the default suffix", where, step.name)
            continue
        if isinstance(value, dict):
            raise ParameterError(f"{where}: steps.{step.name}.{key}: unexpected section")
        if isinstance(value, list):  # configobj list syntax "a, b"
            value = ",".join(str(v) for v in value)
        config.set(f"steps.{step.name}.{key}", value, where)


# ---- cfg ------------------------------------------------------------------------------------------

def _read_configobj(path: str) -> ConfigObj:
    if not os.path.exists(path):
        raise InputError(f"{path}: parameter file not found")
    try:
        return ConfigObj(path, file_error=True, raise_errors=True, interpolation=False,
                         encoding="utf-8")
    except (ConfigObjError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: not a valid cfg file ({exc})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None


def load_cfg(path: str | os.PathLike) -> PipelineConfig:
    path = os.path.abspath(path)
    document = _read_configobj(path)
    config = PipelineConfig(source=path)
    _check_pipeline_class(document.get("class"), f"{path}: class")
    for key, value in document.items():
        if key == "steps":
            continue
        if isinstance(value, dict):
            raise ParameterError(f"{path}: unexpected section [{key}] (only [steps] is allowed)")
        if key in ("name", "class"):
            continue
        if key in STPIPE_IGNORED_KEYS or key in ("skip", "suffix"):
            log.info("%s: pipeline-level %s is stpipe bookkeeping; ignored", path, key)
            continue
        config.set(key, value, path)
    steps = document.get("steps", {})
    if not isinstance(steps, dict):
        raise ParameterError(f"{path}: steps must be a section")
    for step_name, section in steps.items():
        step = _step_named(step_name, f"{path}: [steps]")
        if not isinstance(section, dict):
            raise ParameterError(f"{path}: steps.{step_name} must be a [[{step_name}]] section")
        where = f"{path}: [[{step_name}]]"
        config_file = section.get("config_file")
        if config_file:
            step_path = os.path.join(os.path.dirname(path), str(config_file))
            step_document = _read_configobj(step_path)
            _check_step_class(step, step_document.get("class"), step_path)
            _apply_step_values(config, step, dict(step_document), step_path)
        _check_step_class(step, section.get("class"), where)
        _apply_step_values(config, step, dict(section), where)
    return config


def cfg_text(config: PipelineConfig) -> str:
    """The config in the stpipe cfg layout, every parameter written out."""
    lines = [
        f"# image2 parameters written by iris_gui {__version__}",
        f'name = "{PIPELINE_NAME}"',
        f'class = "{PIPELINE_CLASS}"',
    ]
    for parameter in PIPELINE_PARAMETERS:
        lines.append(f"{parameter.name} = {_cfg_value(parameter, config.pipeline[parameter.name])}")
    lines.append("    [steps]")
    for step in STEPS:
        lines.append(f"      [[{step.name}]]")
        for parameter in step.all_parameters:
            value = config.steps[step.name][parameter.name]
            lines.append(f"        {parameter.name} = {_cfg_value(parameter, value)}")
    return "\n".join(lines) + "\n"


def _cfg_value(parameter: Parameter, value: Any) -> str:
    text = parameter.to_text(value)
    if parameter.kind not in ("string", "path", "choice") or value is None:
        return text
    # configobj does not unescape: pick a quote the text does not contain.
    for quote in ('"', "'", '"""', "'''"):
        if quote not in text:
            return f"{quote}{text}{quote}"
    raise ParameterError(f"{parameter.name}: value {text!r} cannot be written to a cfg file")


# ---- asdf -----------------------------------------------------------------------------------------

def load_asdf(path: str | os.PathLike) -> PipelineConfig:
    import asdf

    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: parameter file not found")
    try:
        with asdf.open(path, lazy_load=False, memmap=False) as af:
            tree = _plain(af.tree)
    except Exception as exc:
        raise ParameterError(f"{path}: not a readable asdf parameter file ({exc})") from None
    config = PipelineConfig(source=path)
    _check_pipeline_class(tree.get("class"), f"{path}: class")
    for key, value in (tree.get("parameters") or {}).items():
        if key in _PIPELINE_BY_NAME:
            config.set(key, value, f"{path}: parameters")
        elif key in STPIPE_IGNORED_KEYS or key in ("skip", "suffix", "name", "class"):
            continue
        else:
            raise ParameterError(f"{path}: parameters.{key}: unknown pipeline parameter")
    steps = tree.get("steps") or []
    if not isinstance(steps, list):
        raise ParameterError(f"{path}: steps must be a list of {{class, name, parameters}}")
    for index, entry in enumerate(steps):
        if not isinstance(entry, dict) or "name" not in entry:
            raise ParameterError(f"{path}: steps[{index}] needs a name")
        step = _step_named(str(entry["name"]), f"{path}: steps[{index}]")
        where = f"{path}: steps[{index}] ({step.name})"
        _check_step_class(step, entry.get("class"), where)
        _apply_step_values(config, step, dict(entry.get("parameters") or {}), where)
    return config


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    return node


def asdf_tree(config: PipelineConfig) -> dict[str, Any]:
    return {
        "class": PIPELINE_CLASS,
        "name": PIPELINE_NAME,
        "meta": {
            "author": "iris_gui",
            "description": "Parameters for the IRIS/Liger image2 pipeline",
            "origin": f"iris_gui {__version__}",
            "pedigree": "GROUND",
            "reftype": "pars-image2pipeline",
        },
        "parameters": dict(config.pipeline),
        "steps": [
            {"class": step.class_name, "name": step.name,
             "parameters": dict(config.steps[step.name])}
            for step in STEPS
        ],
    }


# ---- either ---------------------------------------------------------------------------------------

def load_parameters(path: str | os.PathLike) -> PipelineConfig:
    """Read a .cfg or .asdf parameter file."""
    text = str(path)
    if text.lower().endswith(".asdf"):
        return load_asdf(text)
    return load_cfg(text)


def save_parameters(config: PipelineConfig, path: str | os.PathLike) -> Path:
    """Write ``config`` as .asdf or (any other extension) cfg, atomically."""
    path = Path(path)
    if path.suffix.lower() == ".asdf":
        import asdf

        tree = asdf_tree(config)
        return atomic_write(path, lambda tmp: asdf.AsdfFile(tree).write_to(str(tmp)))
    text = cfg_text(config)
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
