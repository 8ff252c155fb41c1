"""Parameter files: ``image2.cfg`` (stpipe's configobj layout) and stpipe ``.asdf`` parameter files.

cfg layout::

    name = "ProcessImagerL2Pipeline"
    class = "iris_pipeline.pipeline.ProcessImagerL2Pipeline"
    save_results = True
    save_bsub = False
        [steps]
          [[flat_field]]
            skip = False
            config_file = flat_field.cfg     # a step cfg beside this file; section keys win

asdf layout: ``class``, ``name``, ``parameters`` (pipeline-level) and ``steps``: a list of
``{class, name, parameters}`` (stpipe's layout; ``meta``, ``asdf_library`` and ``history`` are
accepted and ignored). Older files that hold ``steps`` as a mapping of step names, or parameters at
the top level, are refused with a message saying so rather than half read.

Every level is type-checked: a file whose top level, ``parameters``, ``steps``, a step entry or its
``parameters`` is not what the layout says, a key that is not text, or a mapping or list where one
value is expected, raises ParameterError naming the file and the place, e.g.
``image2.asdf: steps[2] (flat_field): parameters must be a mapping, found a list``.

``PipelineConfig.read_files`` lists (absolute paths) the file a configuration was loaded from and
every step cfg it includes (``config_file = flat_field.cfg``).

Everything is validated against the step declarations (``iris_gui.engine.steps``): an unknown step
or parameter, a wrong type or an out-of-range value raises ParameterError naming the file and key.
The bookkeeping keys stpipe writes into every step (``pre_hooks``, ``output_dir`` ...) are accepted
and ignored with a log note.

Files from other pipelines. Each step declares the spellings other pipelines use
(``StepSpec.step_aliases``, ``class_aliases``, ``parameter_aliases``): the upstream
``liger_iris_pipeline``'s ``ImagerStage2Pipeline`` files (``[[dark_sub]]``, ``dark = ...``,
``[[calc_background]]``, ``[[parse_subarrays]]`` ...) are read with one log line per translation.
An upstream parameter whose meaning differs from anything here (``StepSpec.refused_parameters``,
e.g. the upstream's median-filtered sky model ``sigma_low``/``box_size``) is refused with the reason
and what to use, unless it is left at the value that asks for nothing different (None). jwst
``Image2Pipeline`` files (``strun --save-parameters``) are read with the parameters jwst's steps
have and ours do not (``StepSpec.jwst_only_parameters``), and jwst steps we do not have, ignored
and listed in one warning; any other unknown parameter is still refused.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from configobj import ConfigObj, ConfigObjError

from .. import __version__
from .config import (
    PIPELINE_BY_NAME,
    PIPELINE_CLASS,
    PIPELINE_CLASS_NAMES,
    PIPELINE_NAME,
    PIPELINE_PARAMETERS,
    STEP_ALIASES,
    PipelineConfig,
    declared,
    require_mapping,
    step_named,
)
from .errors import InputError, ParameterError
from .files import atomic_write, check_regular_file
from .parameters import STPIPE_IGNORED_KEYS, Parameter, describe
from .steps import STEP_BY_NAME, STEPS, StepSpec

log = logging.getLogger(__name__)


def _log_step_alias(name: str, step: StepSpec, where: str) -> None:
    if name != step.name:
        log.info("%s: step %s is the upstream name of %s; read as %s", where, name, step.name,
                 step.name)


def _is_jwst_class(value: Any) -> bool:
    text = str(value or "").strip()
    return text.startswith("jwst.") or text.rsplit(".", 1)[-1] == "Image2Pipeline"


@dataclass
class _Reading:
    """What one load learns on the way: for translated sections and the jwst warning."""

    path: str
    jwst: bool = False
    #: (step, parameter) -> (section it came from, value): two upstream sections that are one
    #: step here must not disagree
    given: dict[tuple[str, str], tuple[str, Any]] = field(default_factory=dict)
    #: jwst parameters and steps ignored, for the one warning
    ignored: list[str] = field(default_factory=list)

    def warn_ignored(self) -> None:
        if self.ignored:
            log.warning("%s: a jwst parameter file: ignored %d jwst setting(s) that have no "
                        "meaning in iris_gui: %s", self.path, len(self.ignored),
                        ", ".join(self.ignored))


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
    known = {c.rsplit(".", 1)[-1] for c in (step.class_name, *declared(step, "class_aliases"))}
    if text.rsplit(".", 1)[-1] not in known:
        log.warning("%s: class %s is not the usual class of %s (%s); reading it as %s",
                    where, text, step.name, step.class_name, step.name)


def _apply_step_values(config: PipelineConfig, step: StepSpec, values: dict[str, Any],
                       where: str, reading: _Reading | None = None, section: str = "") -> None:
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
            if _same_value(value, neutral):
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


def _same_value(value: Any, neutral: Any) -> bool:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
        return neutral is None
    if neutral is None:
        return False
    try:
        return float(value) == float(neutral)
    except (TypeError, ValueError):
        return False


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


# ---- cfg ------------------------------------------------------------------------------------------
def _check_readable(path: str, what: str = "parameter file") -> None:
    check_regular_file(path, what)  # a named pipe would block the read


def _read_configobj(path: str) -> ConfigObj:
    _check_readable(path)
    try:
        return ConfigObj(path, file_error=True, raise_errors=True, interpolation=False,
                         encoding="utf-8")
    except UnicodeDecodeError:
        raise ParameterError(f"{path}: not a cfg file (it is not UTF-8 text)") from None
    except ConfigObjError as exc:
        line = getattr(exc, "line_number", None)
        at = f"line {line}: " if line else ""
        problem = {"DuplicateError": "a key or section given twice",
                   "NestingError": "a section nested wrongly"}.get(type(exc).__name__,
                                                                      "not a key = value line")
        raise ParameterError(f"{path}: {at}{problem}; not a valid cfg file") from None
    except OSError:
        raise InputError(f"{path}: cannot be read (check that it is a readable file)") from None


def load_cfg(path: str | os.PathLike) -> PipelineConfig:
    path = os.path.abspath(path)
    document = _read_configobj(path)
    config = PipelineConfig(source=path, read_files=[path])
    _check_pipeline_class(document.get("class"), f"{path}: class")
    reading = _Reading(path, jwst=_is_jwst_class(document.get("class")))
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
        raise ParameterError(f"{path}: steps must be a [steps] section, found a value")
    for step_name, section in steps.items():
        if reading.jwst and step_name not in STEP_BY_NAME and step_name not in STEP_ALIASES:
            reading.ignored.append(f"step {step_name}")
            continue
        step = step_named(step_name, f"{path}: [steps]")
        _log_step_alias(step_name, step, path)
        if not isinstance(section, dict):
            raise ParameterError(f"{path}: steps.{step_name} must be a [[{step_name}]] section, "
                                 f"found a value")
        where = f"{path}: [[{step_name}]]"
        config_file = section.get("config_file")
        if config_file:
            if not isinstance(config_file, str):
                raise ParameterError(f"{where}: config_file must be one file name, found "
                                     f"{describe(config_file)}")
            step_path = os.path.abspath(os.path.join(os.path.dirname(path), config_file))
            try:
                _check_readable(step_path, "step parameter file")
            except InputError:
                raise InputError(f"{where}: config_file {config_file}: not found beside "
                                 f"{os.path.basename(path)} (or not a file)") from None
            step_document = _read_configobj(step_path)
            for key, value in step_document.items():
                if isinstance(value, dict):
                    raise ParameterError(f"{step_path}: unexpected section [{key}] (a step cfg "
                                         f"holds key = value lines only)")
            if step_path not in config.read_files:
                config.read_files.append(step_path)
            _check_step_class(step, step_document.get("class"), step_path)
            _apply_step_values(config, step, dict(step_document), step_path, reading, step_name)
        _check_step_class(step, section.get("class"), where)
        # keys named steps.STEP.KEY
        _apply_step_values(config, step, dict(section), path, reading, step_name)
    reading.warn_ignored()
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

#: top-level keys of an stpipe asdf parameter file
_ASDF_TOP_KEYS = ("class", "name", "parameters", "steps", "meta", "asdf_library", "history")
_ASDF_ENTRY_KEYS = ("class", "name", "parameters")


def load_asdf(path: str | os.PathLike) -> PipelineConfig:
    import asdf

    path = os.path.abspath(path)
    _check_readable(path)
    try:
        with asdf.open(path, lazy_load=False, memmap=False) as af:
            raw = af.tree
            if not isinstance(raw, dict):
                raise ParameterError(f"{path}: the top level must be a mapping, found "
                                     f"{describe(raw)}")
            tree = {key: raw[key] for key in raw if key not in ("asdf_library", "history")}
            tree = _plain(tree, path, "")
    except InputError:
        raise
    except Exception:
        raise ParameterError(f"{path}: not a readable asdf parameter file") from None
    config = PipelineConfig(source=path, read_files=[path])
    for key in tree:
        if key not in _ASDF_TOP_KEYS:
            raise ParameterError(
                f"{path}: unexpected top-level key {describe(key)} (an asdf parameter file has "
                f"class, name, parameters and steps; pipeline options go under parameters)")
    _check_pipeline_class(_text_value(tree.get("class"), f"{path}: class"), f"{path}: class")
    reading = _Reading(path, jwst=_is_jwst_class(tree.get("class")))
    parameters = tree.get("parameters") or {}
    require_mapping(parameters, f"{path}: parameters")
    for key, value in parameters.items():
        if key in PIPELINE_BY_NAME:
            config.set(key, value, f"{path}: parameters")
        elif key in STPIPE_IGNORED_KEYS or key in ("skip", "suffix", "name", "class"):
            continue
        else:
            raise ParameterError(f"{path}: parameters.{key}: unknown pipeline parameter "
                                 f"(known: {', '.join(PIPELINE_BY_NAME)})")
    steps = tree.get("steps") or []
    if isinstance(steps, dict):
        raise ParameterError(f"{path}: steps is a mapping of step names (an older layout, not "
                             f"read); write it as a list of {{class, name, parameters}}")
    if not isinstance(steps, list):
        raise ParameterError(f"{path}: steps must be a list of {{class, name, parameters}}, "
                             f"found {describe(steps)}")
    for index, entry in enumerate(steps):
        require_mapping(entry, f"{path}: steps[{index}]")
        if "name" not in entry:
            raise ParameterError(f"{path}: steps[{index}] needs a name")
        name = _text_value(entry["name"], f"{path}: steps[{index}].name")
        if (reading.jwst and name not in STEP_BY_NAME and name not in STEP_ALIASES
                and _is_jwst_class(entry.get("class") or "jwst.")):
            reading.ignored.append(f"step {name}")
            continue
        step = step_named(name, f"{path}: steps[{index}]")
        _log_step_alias(name, step, f"{path}: steps[{index}]")
        where = f"{path}: steps[{index}] ({step.name})"
        for key in entry:
            if key not in _ASDF_ENTRY_KEYS:
                raise ParameterError(f"{where}: unexpected key {describe(key)} (a step entry has "
                                     f"class, name and parameters)")
        _check_step_class(step, _text_value(entry.get("class"), f"{where}: class"), where)
        values = entry.get("parameters") or {}
        require_mapping(values, f"{where}: parameters")
        _apply_step_values(config, step, dict(values), where, reading, name)
    reading.warn_ignored()
    return config


def _text_value(value: Any, label: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ParameterError(f"{label} must be text, found {describe(value)}")
    return value


def _plain(node: Any, path: str, place: str) -> Any:
    """Plain dicts and lists; a key that is not text is refused, naming where it is."""
    if isinstance(node, dict):
        plain = {}
        for key, value in node.items():
            if not isinstance(key, str):
                raise ParameterError(f"{path}: {place or 'top level'}: key {describe(key)} is "
                                     f"not text")
            plain[key] = _plain(value, path, f"{place}.{key}" if place else key)
        return plain
    if isinstance(node, (list, tuple)):
        return [_plain(v, path, f"{place}[{i}]") for i, v in enumerate(node)]
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
