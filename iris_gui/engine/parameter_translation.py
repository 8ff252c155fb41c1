"""Reading other pipelines' parameter files: their names translated, their differences said.

Used by ``parameter_files`` (cfg) and ``parameter_asdf`` (asdf) while a file is read. Each step
declares the spellings other pipelines use (``StepSpec.step_aliases``, ``class_aliases``,
``parameter_aliases``); each translation is logged in one line. An upstream parameter whose
meaning differs from anything here (``StepSpec.refused_parameters``) is refused with the reason
and what to use, unless it is left at the value that asks for nothing different (None).

jwst ``Image2Pipeline`` files (``strun --save-parameters``): the parameters jwst's steps have and
ours do not (``StepSpec.jwst_only_parameters``) and jwst steps we do not have are ignored, and
one WARNING lists them together with every parameter whose jwst default differs from ours
(``StepSpec.jwst_defaults``, e.g. resample's ``weight_type``: jwst ``ivm``, ours ``exptime``),
saying which value applies: the file's when it sets the parameter, ours when it does not. Any
other unknown parameter is still refused.

The class a file names is checked: one that names a single step (``DarkCurrentStep``, a step
cfg given where the pipeline's is expected) is refused as such, saying how to use it; any other
class that is not the image2 pipeline is refused naming the class found and those accepted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from .config import PIPELINE_CLASS_NAMES, PipelineConfig, declared, same_value
from .errors import ParameterError
from .parameters import STPIPE_IGNORED_KEYS, Parameter, describe
from .steps import STEPS, StepSpec

# one logger for everything a parameter file's reading says
log = logging.getLogger("iris_gui.engine.parameter_files")


def log_step_alias(name: str, step: StepSpec, where: str) -> None:
    if name != step.name:
        log.info("%s: step %s is the upstream name of %s; read as %s", where, name, step.name,
                 step.name)


def is_jwst_class(value: Any) -> bool:
    text = str(value or "").strip()
    return text.startswith("jwst.") or text.rsplit(".", 1)[-1] == "Image2Pipeline"


def _short(class_name: str) -> str:
    return class_name.rsplit(".", 1)[-1]


def step_of_class(value: Any) -> StepSpec | None:
    """The step whose class (or upstream/jwst class) ``value`` names, if any."""
    text = _short(str(value or "").strip())
    for step in STEPS:
        if text in {_short(c) for c in (step.class_name, *declared(step, "class_aliases"))}:
            return step
    return None


def check_pipeline_class(value: Any, where: str) -> None:
    """Refuse a file whose class is not the image2 pipeline, naming what it is instead."""
    text = str(value or "").strip()
    if not text or _short(text) in PIPELINE_CLASS_NAMES:
        return
    step = step_of_class(text)
    if step is not None:
        raise ParameterError(
            f"{where}: class {text!r} is the parameter file of one step ({step.name}), not of "
            f"the image2 pipeline; name it in an image2.cfg ([[{step.name}]] config_file = "
            f"<this file>) or give its settings as --steps.{step.name}.PARAMETER=VALUE")
    raise ParameterError(
        f"{where}: class {text!r} is not the image2 pipeline (expected one of "
        f"{', '.join(PIPELINE_CLASS_NAMES)})")


def check_step_class(step: StepSpec, value: Any, where: str) -> None:
    text = str(value or "").strip()
    if not text:
        return
    known = {_short(c) for c in (step.class_name, *declared(step, "class_aliases"))}
    if _short(text) not in known:
        log.warning("%s: class %s is not the usual class of %s (%s); reading it as %s",
                    where, text, step.name, step.class_name, step.name)


@dataclass
class Reading:
    """What one load learns on the way: for translated sections and the jwst warning."""

    path: str
    jwst: bool = False
    #: (step, parameter) -> (section it came from, value): two upstream sections that are one
    #: step here must not disagree
    given: dict[tuple[str, str], tuple[str, Any]] = field(default_factory=dict)
    #: jwst parameters and steps ignored, for the one warning
    ignored: list[str] = field(default_factory=list)

    def warn_jwst(self, config: PipelineConfig) -> None:
        """The one warning of a jwst file: what was ignored and where jwst's defaults differ."""
        if not self.jwst:
            return
        parts = []
        if self.ignored:
            parts.append(f"ignored {len(self.ignored)} jwst setting(s) that have no meaning in "
                         f"iris_gui: {', '.join(self.ignored)}")
        differences = self.default_differences(config)
        if differences:
            parts.append("jwst's defaults differ from ours: " + "; ".join(differences))
        if parts:
            log.warning("%s: a jwst parameter file: %s", self.path, ". ".join(parts))

    def default_differences(self, config: PipelineConfig) -> list[str]:
        said = []
        for step in STEPS:
            for name, jwst_value in declared(step, "jwst_defaults"):
                parameter = step.parameter(name)
                theirs = parameter.coerce(jwst_value, f"{step.name} (jwst default)")
                ours = parameter.default
                if _same_setting(theirs, ours):
                    continue
                text = (f"{step.name}.{name}: jwst's default is {parameter.to_text(theirs)!r}, "
                        f"ours is {parameter.to_text(ours)!r}")
                if (step.name, name) in self.given:
                    value = config.steps[step.name][name]
                    said.append(f"{text}; this file sets it to {parameter.to_text(value)!r}, "
                                f"which applies")
                else:
                    said.append(f"{text}; this file does not set it, so ours applies")
        return said


def _same_setting(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    return a == b


def apply_step_values(config: PipelineConfig, step: StepSpec, values: dict[str, Any],
                      where: str, reading: Reading | None = None, section: str = "") -> None:
    """Set one step's values; ``section`` is the step's name as the file spells it."""
    section = section or step.name
    aliases = dict(declared(step, "parameter_aliases"))
    refused = {name: (neutral, why) for name, neutral, why in declared(step, "refused_parameters")}
    jwst_only = declared(step, "jwst_only_parameters")
    for key, value in values.items():
        if key in ("name", "class", "config_file"):
            continue
        if reading is not None and reading.jwst and key in jwst_only:
            reading.ignored.append(f"{section}.{key}")
            continue
        if key in refused:
            neutral, why = refused[key]
            if same_value(value, neutral):
                log.info("%s: %s.%s = %s asks for nothing iris_gui does differently; ignored",
                         where, section, key, value)
                continue
            raise ParameterError(f"{where}: steps.{section}.{key}: not read: {why}")
        if key in aliases:
            log.info("%s: %s.%s is the upstream name of %s.%s; read as %s", where, section, key,
                     step.name, aliases[key], aliases[key])
            key = aliases[key]
        if reading is not None and reading.jwst and value is None:
            parameter = step.parameter(key)
            if parameter is not None and not parameter.optional:
                reading.ignored.append(f"{section}.{key} = None (kept "
                                       f"{parameter.to_text(parameter.default)})")
                continue
        if reading is not None:
            earlier = reading.given.get((step.name, key))
            if earlier is not None and earlier[0] != section:
                parameter = step.parameter(key)
                mine = parameter.coerce(value, where) if parameter is not None else value
                if mine != earlier[1]:
                    raise ParameterError(
                        f"{where}: steps.{section}.{key} = {value} and steps.{earlier[0]}.{key} "
                        f"= {earlier[1]} disagree; both are {step.name}.{key} in iris_gui")
        if key in STPIPE_IGNORED_KEYS:
            log.info("%s: %s.%s is stpipe bookkeeping; ignored", where, step.name, key)
            continue
        if key == "suffix" and (value is None or str(value).strip().lower() in ("none", "null")):
            # stpipe writes ``suffix: null`` (cfg: ``suffix = None``) for "use the step's default"
            log.info("%s: %s.suffix is None; keeping the default suffix", where, step.name)
            continue
        if isinstance(value, dict):
            raise ParameterError(f"{where}: steps.{step.name}.{key}: must be a single value, "
                                 f"found a section or mapping")
        if isinstance(value, (list, tuple)):
            value = _joined_list(step.parameter(key), value, f"{where}: steps.{step.name}.{key}")
        config.set(f"steps.{step.name}.{key}", value, where)
        if reading is not None and step.parameter(key) is not None:
            reading.given[(step.name, key)] = (section, config.steps[step.name][key])


def _joined_list(parameter: Parameter | None, value: list, label: str) -> Any:
    """A list (configobj's ``a, b``, or an asdf sequence) as the text of a composite parameter
    (``crval = 10.5, -20``); for any other parameter the list is refused by ``coerce``."""
    if parameter is None or parameter.kind != "string":
        return value
    for item in value:
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise ParameterError(f"{label}: expected one value or a list of numbers or names, "
                                 f"found a list holding {describe(item)}")
    return ",".join(str(v) for v in value)
