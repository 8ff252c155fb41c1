"""What a product writes: its planned files, their provenance stamp, and writing them whole.

``plan_products`` adds every file a set of products will write (and every file they read) to an
``OutputPlan`` before anything runs; ``write_product`` writes one finished product's files through
``files.write_all_or_nothing``, refusing any file that is not in the plan.

Layouts (``liger_layout``): ``iris`` (default) writes SCI/ERR/DQ and gives ``_cal``/``_calints``
and ``_i2d`` what jwst/stdatamodels read (``asdf_output``: ASDF extension with gwcs and metadata,
S_REGION, photometric keywords in SCI); ``liger`` writes every file in the upstream
liger_iris_pipeline's layout. The layout is ``write_product``'s ``layout``, else the config's
pipeline option ``output_layout`` when it has one, else ``iris``.

Header text we write is ASCII (FITS allows nothing else): product and file names with other
characters are written with backslash escapes (``donn\\xe9es``), so any name works.
"""

from __future__ import annotations

import datetime
import json
import os
import stat
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from .asdf_output import add_downstream
from .association import Product
from .config import PipelineConfig
from .errors import InputError
from .files import OutputWriteError, check_output_dir, write_all_or_nothing
from .fits_text import ascii_text, file_name_value
from .lazy import fits
from .liger_layout import DEFAULT_LAYOUT, check_output_layout, liger_hdul, write_liger_file
from .models import ImageModel, model_to_hdul
from .output_plan import OutputPlan, OutputPlanError
from .provenance import PROVENANCE_EXTENSION, checksum_entries, parameter_fingerprint
from .references import folder_signature
from .steps import COMPLETE, SKIPPED, STEPS, references_read

if TYPE_CHECKING:
    from .pipeline import ProductResult


def output_suffix(base: str, is_3d: bool) -> str:
    """``cal`` -> ``calints`` for rateints products."""
    return f"{base}ints" if is_3d and base in ("cal", "bsub") else base


def output_path(output_dir: Path, product_name: str, suffix: str) -> Path:
    return Path(output_dir) / f"{product_name}_{suffix}.fits"


def product_source(product: Product) -> str:
    """The input a product came from, for messages: its association, or its rate file."""
    try:
        return product.asn_path or product.science
    except InputError:
        return product.name


def _science_is_3d(path: str) -> bool:
    """Whether the science file holds integrations (a header look only; False if unreadable)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False  # a pipe would block the open; reading the product will refuse it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _naxis_of_science(path) == 3
    except Exception:  # the run itself will say what is wrong with the file
        return False


def _naxis_of_science(path: str) -> int:
    with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
        for name in ("SCI", "DATA"):
            if name in hdul:
                return int(hdul[name].header.get("NAXIS", 0))
    return 0


# ---- planning ------------------------------------------------------------------------------------

def plan_product(plan: OutputPlan, product: Product, config: PipelineConfig,
                 output_dir: str | os.PathLike, ref_dir: str | os.PathLike,
                 is_3d: bool | None = None) -> None:
    """Add what ``product`` reads and every file it may write with ``config`` to ``plan``."""
    source = product_source(product)
    for member in product.members:
        plan.add_read(member.path, f"{member.exptype} member {Path(member.path).name} of "
                                   f"product {product.name}")
    if product.asn_path:
        plan.add_read(product.asn_path, f"the association {Path(product.asn_path).name}")
    for step in STEPS:
        params = config.steps[step.name]
        for parameter in step.all_parameters:
            if parameter.reference and params.get(parameter.name):
                plan.add_read(params[parameter.name], f"the {parameter.reference} reference "
                                                      f"{Path(params[parameter.name]).name}")
        if params["skip"]:
            continue
        # the folder's files of each kind the step reads (bkg_subtract may read the dark)
        for kind, _override, _force in references_read(step, config.steps):
            for path, _mtime in folder_signature(Path(ref_dir), kind):
                plan.add_read(path, f"the {kind} reference {Path(path).name}")
    if is_3d is None:
        try:
            is_3d = _science_is_3d(product.science)
        except InputError:
            is_3d = False
    name = product.name
    if is_3d and output_layout(config) == "liger":
        raise OutputPlanError(f"product {name}: the liger layout (its ImagerModel) holds 2-D "
                              f"images; {Path(source).name} has integrations (use the iris "
                              f"layout)")
    steps = config.steps
    for step in STEPS:
        params = steps[step.name]
        if params["skip"]:
            continue
        if params["save_results"]:
            suffix = params["suffix"] or step.default_suffix
            plan.add_product_file(output_dir, name, suffix, source, f"{step.name} save_results")
        if config.pipeline["save_results"]:
            for _key, suffix in step.saved_products:
                plan.add_product_file(output_dir, name, suffix, source, f"_{suffix}")
    dark_output = steps["dark_current"].get("dark_output")
    if dark_output and not steps["dark_current"]["skip"]:
        plan.add_named_file(output_dir, dark_output, name, source, "dark_output")
    if config.pipeline["save_bsub"] and not steps["bkg_subtract"]["skip"]:
        suffix = output_suffix("bsub", is_3d)
        plan.add_product_file(output_dir, name, suffix, source, f"_{suffix}")
    if config.pipeline["save_results"]:
        suffix = output_suffix("cal", is_3d)
        plan.add_product_file(output_dir, name, suffix, source, f"_{suffix}")


# ---- provenance and header stamp -------------------------------------------------------------------

def _ascii_header(header: fits.Header) -> None:
    """Make every string value and HISTORY/COMMENT card of ``header`` ASCII, in place."""
    for index, card in enumerate(header.cards):
        value = card.value
        if isinstance(value, str) and not (value.isascii() and value.isprintable()):
            if card.keyword in ("HISTORY", "COMMENT", ""):
                header[index] = ascii_text(value)
            else:
                header[index] = (ascii_text(value), card.comment)


def provenance_document(result: ProductResult,
                        outputs: list[str] | None = None) -> dict[str, Any]:
    """Everything needed to re-make a product: inputs, references, parameters, statuses; and
    what ``--resume`` compares: ``identity`` and the names of the product's ``outputs``."""
    document = {
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
        **checksum_entries(result),  # identity, file_checks, sha256, reference_rules
    }
    if outputs is not None:
        document["outputs"] = list(outputs)
    return document


def provenance_hdu(document: dict[str, Any]) -> fits.BinTableHDU:
    text = json.dumps(document, indent=1)  # ensure_ascii: any name survives the FITS table
    column = fits.Column(name="JSON", format=f"{max(1, len(text))}A", array=np.array([text]))
    hdu = fits.BinTableHDU.from_columns([column], name=PROVENANCE_EXTENSION)
    hdu.header["COMMENT"] = "iris_gui provenance: inputs, references and parameters (JSON)"
    return hdu


def stamp_model(model: ImageModel, result: ProductResult,
                provenance: dict[str, Any]) -> ImageModel:
    """A copy of ``model`` whose header records version, statuses and references (ASCII)."""
    out = model.derive()
    header = out.header
    header["CAL_SW"] = ("iris_gui", "calibration software")
    header["CAL_VER"] = (__version__, "calibration software version")
    header["DATE"] = (provenance["created"], "file creation time (UTC)")
    header["PARFINGR"] = (parameter_fingerprint(result.config), "fingerprint of the parameters")
    for step in STEPS:
        step_result = result.steps.get(step.name)
        if step_result is not None:
            header[step.status_keyword] = step_result.status
        if step_result is not None and step_result.reason and step_result.status == SKIPPED:
            header.add_history(ascii_text(f"{step.name} skipped: {step_result.reason}")[:70])
    for step_result in result.steps.values():
        for kind, path in step_result.references.items():
            header[f"R_{kind.upper()}"[:8]] = file_name_value(path)
    _ascii_header(header)
    _ascii_header(out.sci_header)
    return out


# ---- writing ---------------------------------------------------------------------------------------

def files_of(result: ProductResult, output_dir: Path) -> dict[Path, ImageModel]:
    """Every file a finished product writes, with the model for each."""
    name = result.product.name
    is_3d = result.is_3d
    config = result.config
    planned: dict[Path, ImageModel] = {}
    for step in STEPS:
        step_result = result.steps.get(step.name)
        if step_result is None:
            continue
        complete = step_result.status == COMPLETE
        if config.steps[step.name]["save_results"] and complete:
            suffix = config.steps[step.name]["suffix"] or step.default_suffix
            planned[output_path(output_dir, name, suffix)] = step_result.model
        if config.pipeline["save_results"] and complete:
            for key, suffix in step.saved_products:
                if key in step_result.products:
                    planned[output_path(output_dir, name, suffix)] = step_result.products[key]
        for extra, model in step_result.extra_outputs.items():
            planned[Path(output_dir) / extra] = model
    if config.pipeline["save_bsub"] and result.bsub is not None:
        planned[output_path(output_dir, name, output_suffix("bsub", is_3d))] = result.bsub
    if config.pipeline["save_results"] and result.final is not None:
        planned[output_path(output_dir, name, output_suffix("cal", is_3d))] = result.final
    return planned


def output_layout(config: PipelineConfig, layout: str | None = None) -> str:
    """The layout to write: ``layout`` if given, else the config's ``output_layout`` option."""
    if layout is None:
        layout = config.pipeline.get("output_layout") or DEFAULT_LAYOUT
        return check_output_layout(layout, "output_layout")
    return check_output_layout(layout)


def downstream_files(result: ProductResult, files: dict[Path, ImageModel]) -> set[Path]:
    """The files that get the downstream additions: the ``_cal``/``_calints`` and ``_i2d``."""
    name = result.product.name
    names = {f"{name}_{output_suffix('cal', result.is_3d)}.fits", f"{name}_i2d.fits"}
    return {path for path in files if path.name in names}


def product_hdul(model: ImageModel, extra_hdus: list, filename: str, *,
                 downstream: bool) -> fits.HDUList:
    """The HDU list written for ``model`` as ``filename`` in the iris layout."""
    hdul = model_to_hdul(model, extra_hdus)
    if downstream:
        add_downstream(hdul, model, filename)
    return hdul


def write_product(result: ProductResult, output_dir: str | os.PathLike,
                  plan: OutputPlan | None = None, layout: str | None = None) -> list[Path]:
    """Write a finished product's files whole or not at all, in ``layout`` (see the module
    docstring; InputError for an unknown one or a product the layout cannot hold).

    Without a ``plan``, one is made and checked for this product alone. Raises OutputPlanError
    (a rule broken: nothing written) or OutputWriteError (the disk said no: nothing left behind).
    """
    layout = output_layout(result.config, layout)
    directory = Path(os.path.abspath(output_dir))
    if plan is None:
        plan = OutputPlan()
        plan_product(plan, result.product, result.config, directory, result.ref_dir,
                     is_3d=result.is_3d)
        plan.check()
    check_output_dir(directory)
    allowed = plan.paths_for(result.product.name, product_source(result.product))
    files = files_of(result, directory)
    for path in files:
        if Path(os.path.abspath(path)) not in allowed:
            raise OutputWriteError(f"{result.product.name}: {path} is not in the output plan; "
                                   f"nothing written (this is a bug)")
    if layout == "liger":
        for path, model in files.items():
            if model.is_3d:
                liger_hdul(model, [], path.name)  # raises: the layout holds 2-D images only
    downstream = downstream_files(result, files)
    provenance = provenance_document(result, [path.name for path in files])
    table = provenance_hdu(provenance)
    writers = []
    for path, model in files.items():
        stamped = stamp_model(model, result, provenance)

        def write(temporary: Path, stamped: ImageModel = stamped, name: str = path.name,
                  extras: bool = path in downstream) -> None:
            if layout == "liger":
                write_liger_file(stamped, [table], name, temporary)
                return
            hdul = product_hdul(stamped, [table], name, downstream=extras)
            hdul.writeto(temporary, output_verify="silentfix")

        writers.append((path, write))
    return write_all_or_nothing(writers)
