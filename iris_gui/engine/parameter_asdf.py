"""stpipe ``.asdf`` parameter files: read (both of stpipe's layouts) and the tree written.

The layout stpipe writes today (``step_config-1.0.0``): top-level ``class``, ``name``,
``parameters`` (pipeline-level) and ``steps``, a list of ``{class, name, parameters}`` (``meta``,
``asdf_library`` and ``history`` are accepted and ignored), with ``skip: true`` inside a step's
parameters.

The older layout (``step_config-0.1.0``, the CRDS ``pars-*`` files of 2019-21, still read by
stpipe): everything under ``parameters``, which holds ``class``, ``name``, the pipeline's options
and ``steps``, a mapping of step name -> that step's parameters (with its ``class``). It is read
as the same thing (one log line says so) and its class is checked like the current layout's.

Every level is type-checked: a file whose top level, ``parameters``, ``steps``, a step entry or
its ``parameters`` is not what the layout says, a key that is not text, or a mapping or list
where one value is expected, raises ParameterError naming the file and the place, e.g.
``image2.asdf: steps[2] (flat_field): parameters must be a mapping, found a list``.
"""

from __future__ import annotations

import os
from typing import Any

from .. import __version__
from .config import (
    PIPELINE_BY_NAME,
    PIPELINE_CLASS,
    PIPELINE_NAME,
    STEP_ALIASES,
    PipelineConfig,
    require_mapping,
    step_named,
)
from .errors import InputError, ParameterError
from .files import check_regular_file
from .parameter_translation import (
    Reading,
    apply_step_values,
    check_pipeline_class,
    check_step_class,
    is_jwst_class,
    log,
    log_step_alias,
)
from .parameters import STPIPE_IGNORED_KEYS, describe
from .steps import STEP_BY_NAME, STEPS

#: top-level keys of an stpipe asdf parameter file
_ASDF_TOP_KEYS = ("class", "name", "parameters", "steps", "meta", "asdf_library", "history")
_ASDF_ENTRY_KEYS = ("class", "name", "parameters")


def load_asdf(path: str | os.PathLike) -> PipelineConfig:
    import asdf

    path = os.path.abspath(path)
    check_regular_file(path, "parameter file")
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
    if _is_legacy_layout(tree):
        tree = _from_legacy_layout(tree, path)
    return _config_from_tree(tree, path)


def _is_legacy_layout(tree: dict) -> bool:
    """stpipe's older layout: no top-level class; ``parameters`` holds class (and steps)."""
    parameters = tree.get("parameters")
    return ("class" not in tree and "steps" not in tree and isinstance(parameters, dict)
            and ("class" in parameters or isinstance(parameters.get("steps"), dict)))


def _from_legacy_layout(tree: dict, path: str) -> dict:
    """The older layout as the current one: ``parameters: {class, name, ..., steps: {name:
    {class, ...}}}`` -> ``class, name, parameters, steps: [{class, name, parameters}]``."""
    parameters = dict(tree["parameters"])
    steps = parameters.pop("steps", None) or {}
    require_mapping(steps, f"{path}: parameters.steps (the older stpipe layout)")
    entries = []
    for name, values in steps.items():
        where = f"{path}: parameters.steps.{name}"
        require_mapping(values, where)
        values = dict(values)
        if isinstance(values.get("steps"), dict) and values["steps"]:
            raise ParameterError(f"{where}: holds steps of its own; an image2 step has none")
        values.pop("steps", None)
        entries.append({"class": values.pop("class", None), "name": name,
                        "parameters": values})
    log.info("%s: the older stpipe layout (everything under parameters, steps as a mapping); "
             "read as the current one", path)
    converted = {key: value for key, value in tree.items() if key != "parameters"}
    converted["class"] = parameters.pop("class", None)
    converted["name"] = parameters.pop("name", None)
    converted["parameters"] = parameters
    converted["steps"] = entries
    return converted


def _config_from_tree(tree: dict, path: str) -> PipelineConfig:
    config = PipelineConfig(source=path, read_files=[path])
    for key in tree:
        if key not in _ASDF_TOP_KEYS:
            raise ParameterError(
                f"{path}: unexpected top-level key {describe(key)} (an asdf parameter file has "
                f"class, name, parameters and steps; pipeline options go under parameters)")
    check_pipeline_class(_text_value(tree.get("class"), f"{path}: class"), f"{path}")
    reading = Reading(path, jwst=is_jwst_class(tree.get("class")))
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
        raise ParameterError(
            f"{path}: steps is a mapping here: give a list of {{class, name, parameters}}, "
            f"or use the older layout (steps mapping inside parameters, with class)")
    if not isinstance(steps, list):
        raise ParameterError(f"{path}: steps must be a list of {{class, name, parameters}}, "
                             f"found {describe(steps)}")
    for index, entry in enumerate(steps):
        require_mapping(entry, f"{path}: steps[{index}]")
        if "name" not in entry:
            raise ParameterError(f"{path}: steps[{index}] needs a name")
        name = _text_value(entry["name"], f"{path}: steps[{index}].name")
        if (reading.jwst and name not in STEP_BY_NAME and name not in STEP_ALIASES
                and is_jwst_class(entry.get("class") or "jwst.")):
            reading.ignored.append(f"step {name}")
            continue
        step = step_named(name, f"{path}: steps[{index}]")
        log_step_alias(name, step, f"{path}: steps[{index}]")
        where = f"{path}: steps[{index}] ({step.name})"
        for key in entry:
            if key not in _ASDF_ENTRY_KEYS:
                raise ParameterError(f"{where}: unexpected key {describe(key)} (a step entry has "
                                     f"class, name and parameters)")
        check_step_class(step, _text_value(entry.get("class"), f"{where}: class"), where)
        values = entry.get("parameters") or {}
        require_mapping(values, f"{where}: parameters")
        apply_step_values(config, step, dict(values), where, reading, name)
    reading.warn_jwst(config)
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
    """The current stpipe layout (``step_config-1.0.0``), which stpipe's
    ``StepConfig.from_asdf`` reads."""
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
