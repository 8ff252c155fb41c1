"""Parameter files: ``image2.cfg`` (stpipe's configobj layout) and stpipe ``.asdf`` files.

cfg layout::

    name = "ProcessImagerL2Pipeline"
    class = "iris_pipeline.pipeline.ProcessImagerL2Pipeline"
    save_results = True
    save_bsub = False
        [steps]
          [[flat_field]]
            skip = False
            config_file = flat_field.cfg     # a step cfg beside this file; section keys win

The asdf layouts (stpipe's current one and the older one of the CRDS ``pars-*`` files) are read
and written by ``parameter_asdf``; the names of other pipelines (the upstream
``liger_iris_pipeline``'s, jwst's) are translated by ``parameter_translation``. Both layouts as
written here are read back by stpipe itself (``stpipe.config_parser.load_config_file``).

``PipelineConfig.read_files`` lists (absolute paths) the file a configuration was loaded from and
every step cfg it includes (``config_file = flat_field.cfg``).

Everything is validated against the step declarations (``iris_gui.engine.steps``): an unknown step
or parameter, a wrong type or an out-of-range value raises ParameterError naming the file and key.
The bookkeeping keys stpipe writes into every step (``pre_hooks``, ``output_dir`` ...) are accepted
and ignored with a log note.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from configobj import ConfigObj, ConfigObjError

from .. import __version__
from .config import (
    PIPELINE_BY_NAME,
    PIPELINE_CLASS,
    PIPELINE_NAME,
    PIPELINE_PARAMETERS,
    STEP_ALIASES,
    PipelineConfig,
    step_named,
)
from .errors import InputError, ParameterError
from .files import atomic_write, check_regular_file
from .parameter_asdf import asdf_tree, load_asdf
from .parameter_translation import (
    Reading,
    apply_step_values,
    check_pipeline_class,
    check_step_class,
    is_jwst_class,
    log,
    log_step_alias,
)
from .parameters import STPIPE_IGNORED_KEYS, Parameter, describe
from .steps import STEP_BY_NAME, STEPS

__all__ = ["asdf_tree", "cfg_text", "load_asdf", "load_cfg", "load_parameters",
           "save_parameters"]


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
    check_pipeline_class(document.get("class"), path)
    reading = Reading(path, jwst=is_jwst_class(document.get("class")))
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
        if key not in PIPELINE_BY_NAME and "class" not in document and "steps" not in document:
            raise ParameterError(
                f"{path}: {key}: not an option of the image2 pipeline, and the file has no "
                f"class and no [steps]: if it is one step's parameter file, name it in an "
                f"image2.cfg ([[STEP]] config_file = {os.path.basename(path)})")
        config.set(key, value, path)
    steps = document.get("steps", {})
    if not isinstance(steps, dict):
        raise ParameterError(f"{path}: steps must be a [steps] section, found a value")
    for step_name, section in steps.items():
        if reading.jwst and step_name not in STEP_BY_NAME and step_name not in STEP_ALIASES:
            reading.ignored.append(f"step {step_name}")
            continue
        step = step_named(step_name, f"{path}: [steps]")
        log_step_alias(step_name, step, path)
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
            check_step_class(step, step_document.get("class"), step_path)
            apply_step_values(config, step, dict(step_document), step_path, reading, step_name)
        check_step_class(step, section.get("class"), where)
        # keys named steps.STEP.KEY
        apply_step_values(config, step, dict(section), path, reading, step_name)
    reading.warn_jwst(config)
    return config


def cfg_text(config: PipelineConfig) -> str:
    """The config in the stpipe cfg layout, every parameter written out.

    A parameter that is None by default and now is written as a comment (``# maxiters =
    None``): stpipe reads a key left out as its spec's default (None), while it refuses the text
    "None" where its spec says a number. A None that is not the default (resample's
    ``rotation``: ours 0.0, None keeps the detector's orientation) is written ``None``, which
    iris_gui reads and stpipe's validation does not; the asdf file (``null``) carries it for both.
    """
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
            if value is None and parameter.default is None:
                # stpipe's validation takes a key left out as None but refuses the text
                # "None" for a number; a comment still shows the parameter
                lines.append(f"        # {parameter.name} = None")
            else:
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
