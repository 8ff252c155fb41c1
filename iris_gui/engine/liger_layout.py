"""The output layouts, and writing a product in the upstream liger_iris_pipeline's layout.

``iris`` (the default): PRIMARY, SCI, ERR, DQ (uint32), optional SUBARR_MAP/AREA/WHT/CON,
PROVENANCE; ``_cal``/``_i2d`` also carry what jwst/stdatamodels read (``asdf_output``).

``liger``: what the upstream's ``ImagerModel`` (stdatamodels schema ``ImagerModel.schema``) reads:

- the science array in a ``DATA`` extension (not SCI), ERR float32, DQ **uint16**, SUBARR_MAP;
- the WCS keywords in PRIMARY (its ``wcsinfo`` schema reads CRPIX/CRVAL/CTYPE/CDELT/PC and
  RADECSYS from there), written from the product's WCS in the FITS standard's convention —
  the upstream's own assign_wcs, which rebuilds a WCS from them, is one pixel off (it treats
  0-based indices as 1-based); the ``meta.wcs`` gwcs in the ASDF tree is not. The pixel scale
  and axis signs are written in CDELT with PC only the rotation (``scale_in_cdelt``), the same
  WCS: the upstream's header WCS reads CRPIX/CRVAL/CDELT/CTYPE and ignores PC, so with the
  scale in PC (astropy's CDELT = 1 form) it would be 3600x off and, for a flipped axis, mirrored;
  this way it is off only by the small rotation;
- DATAMODL = ImagerModel, DATALVL = 2, FILENAME; INSTRUME spelled ``IRIS`` / ``Liger`` as its
  schema's enum says; its step-status keywords beside ours: S_SKYSUB (= our S_BKDSUB),
  S_PARSSA (= S_SUBMAP), S_FLUXCL (= S_PHOTOM); S_DARK, S_FLAT, S_WCS, S_RESAMP are shared;
- an ASDF extension with ``meta`` under its names (instrument, exposure, subarray, coordinates,
  wcsinfo, drs_step, ref_file, data_level, model_type) plus ``meta.wcs`` and the array links.

Its DQ is 16 bits wide; our flags go to bit 31 (NO_FLAT_FIELD is bit 18). Bits 16..31 are never
dropped silently: when any pixel carries one, a warning names the flags and pixel counts, DQ
keeps bits 0..15, and the whole 32-bit mask is also written as a ``DQ32`` extension (the
upstream keeps unknown extensions in ``extra_fits``). ImagerModel holds 2-D images: a product
with integrations (``_calints``) is refused in this layout.
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Any

import numpy as np

from .asdf_output import metadata_tree
from .asdf_text import asdf_hdu, fits_array_link
from .dq import DQ_BITS
from .errors import InputError
from .fits_text import ascii_text
from .lazy import fits
from .models import ImageModel, model_to_hdul
from .wcs import is_wcs_keyword, wcs_header

log = logging.getLogger(__name__)

OUTPUT_LAYOUTS = ("iris", "liger")
DEFAULT_LAYOUT = "iris"
LIGER_MODEL_TYPE = "ImagerModel"
#: the tree key stdatamodels compares with the headers' hash (``fits_support.FITS_HASH_KEY``)
FITS_HASH_KEY = "_fits_hash"

#: the upstream's step-status keyword -> ours with the same meaning
LIGER_STATUS_KEYWORDS = {"S_SKYSUB": "S_BKDSUB", "S_PARSSA": "S_SUBMAP", "S_FLUXCL": "S_PHOTOM"}
#: the upstream's ``meta.drs_step`` name -> its keyword
_DRS_STEPS = {"sky_sub": "S_SKYSUB", "parse_subarrays": "S_PARSSA", "fluxcal": "S_FLUXCL",
              "dark_sub": "S_DARK", "flat_field": "S_FLAT", "assign_wcs": "S_WCS",
              "resample": "S_RESAMP"}
_INSTRUMENT_SPELLING = {"IRIS": "IRIS", "LIGER": "Liger"}
_ARRAY_NAMES = {"DATA": "data", "ERR": "err", "DQ": "dq", "SUBARR_MAP": "subarr_map"}


def check_output_layout(value: Any, where: str = "--output-layout") -> str:
    """``value`` as one of OUTPUT_LAYOUTS (any case), else InputError naming ``where``."""
    text = str(value).strip().lower() if value is not None else ""
    if text not in OUTPUT_LAYOUTS:
        raise InputError(f"{where}: {value!r} is not an output layout (choose "
                         f"{' or '.join(OUTPUT_LAYOUTS)})")
    return text


def high_dq_bits(dq: np.ndarray) -> dict[str, int]:
    """Flag name -> number of pixels carrying it, for the flags above bit 15."""
    high = np.asarray(dq, dtype=np.uint32) >> np.uint32(16)
    if not high.any():
        return {}
    return {name: int(np.count_nonzero(high & np.uint32(1 << (bit - 16))))
            for name, bit in DQ_BITS.items()
            if bit >= 16 and np.any(high & np.uint32(1 << (bit - 16)))}


def dq_warning(filename: str, counts: dict[str, int]) -> str:
    flags = ", ".join(f"{name} (bit {DQ_BITS[name]}) on {count} pixel(s)"
                      for name, count in counts.items())
    return (f"{filename}: the liger layout's DQ is 16 bits wide and cannot hold {flags}; DQ keeps "
            f"bits 0-15 and the full 32-bit mask is written as the DQ32 extension")


def scale_in_cdelt(header: fits.Header) -> fits.Header:
    """The same celestial WCS with each axis's scale and sign in CDELTi and PC a unit-row
    rotation (a CD matrix is rewritten so): CD = diag(CDELT) @ PC is split as
    CDELTi = +-|row i of CD| (the sign of CD_ii) and PCi_j = CD_ij / CDELTi. SIP terms act
    before CD and are unchanged."""
    if "CTYPE1" not in header or "CTYPE2" not in header or "CTYPE3" in header:
        return header
    cd_keys = [f"CD{i}_{j}" for i in (1, 2) for j in (1, 2)]
    if any(key in header for key in cd_keys):  # the CD form (as the data's own header may be)
        cd = np.array([[float(header.get(f"CD{i}_{j}", 0.0)) for j in (1, 2)] for i in (1, 2)])
    else:
        cdelt = np.array([float(header.get(f"CDELT{i}", 1.0)) for i in (1, 2)])
        pc = np.array([[float(header.get(f"PC{i}_{j}", 1.0 if i == j else 0.0))
                        for j in (1, 2)] for i in (1, 2)])
        cd = cdelt[:, None] * pc
    norms = np.hypot(cd[:, 0], cd[:, 1])
    if not np.all(np.isfinite(cd)) or np.any(norms == 0):
        return header
    signs = np.where(np.diag(cd) < 0, -1.0, 1.0)
    new_cdelt = signs * norms
    new_pc = cd / new_cdelt[:, None]
    for key in cd_keys:
        header.remove(key, ignore_missing=True)
    for i in (1, 2):
        header[f"CDELT{i}"] = float(new_cdelt[i - 1])
        for j in (1, 2):
            header[f"PC{i}_{j}"] = float(new_pc[i - 1, j - 1])
    return header


def _liger_primary(model: ImageModel, filename: str) -> fits.Header:
    header = model.header.copy()
    if model.wcs is not None:
        for key in [k for k in header.keys() if k and is_wcs_keyword(k)]:
            header.remove(key, ignore_missing=True, remove_all=True)
        header.update(scale_in_cdelt(wcs_header(model.wcs)))
        if "RADESYS" in header:
            header["RADECSYS"] = (header["RADESYS"], "the upstream schema's spelling of RADESYS")
    instrument = str(header.get("INSTRUME", "") or "").strip().upper()
    if instrument in _INSTRUMENT_SPELLING:
        header["INSTRUME"] = _INSTRUMENT_SPELLING[instrument]
    for theirs, ours in LIGER_STATUS_KEYWORDS.items():
        if ours in header:
            header[theirs] = header[ours]
    header["DATAMODL"] = (LIGER_MODEL_TYPE, "data model (liger_iris_pipeline class)")
    header["DATALVL"] = (2, "data level")
    header["FILENAME"] = (ascii_text(filename), "name of this file")
    return header


def _liger_meta(model: ImageModel, primary: fits.Header, sci: fits.Header,
                filename: str) -> dict[str, Any]:
    meta, _reason = metadata_tree(model, primary, sci, filename)
    meta["model_type"] = LIGER_MODEL_TYPE
    meta["data_level"] = 2
    for name in ("cal_step", "photometry", "observation", "target", "date",
                 "calibration_software_name", "calibration_software_version"):
        meta.pop(name, None)
    meta["instrument"] = {**meta.get("instrument", {}), "mode": "IMG"}
    if "INSTRUME" in primary:
        meta["instrument"]["name"] = primary["INSTRUME"]
    exposure = meta.get("exposure", {})
    meta["exposure"] = {key: exposure[key] for key in ("exposure_time",) if key in exposure}
    steps = {name: primary[key] for name, key in _DRS_STEPS.items() if key in primary}
    if steps:
        meta["drs_step"] = steps
    return meta


def liger_hdul(model: ImageModel, extra_hdus: list,
               filename: str) -> tuple[fits.HDUList, dict[str, Any], list[str]]:
    """(the HDU list of ``model`` in the liger layout without its ASDF extension, the ASDF tree,
    warnings). InputError for a product the layout cannot hold (integrations)."""
    if model.is_3d:
        raise InputError(f"{filename}: the liger layout (its ImagerModel) holds 2-D images; this "
                         f"product has {model.nints} integrations (use the iris layout)")
    warnings = []
    hdul = model_to_hdul(model, list(extra_hdus))
    hdul[0] = fits.PrimaryHDU(header=_liger_primary(model, filename))
    hdul["SCI"].name = "DATA"
    scale_in_cdelt(hdul["DATA"].header)  # meta.wcsinfo, what the upstream rebuilds from, is this
    dq = np.asarray(hdul["DQ"].data, dtype=np.uint32)
    counts = high_dq_bits(dq)
    index = hdul.index_of("DQ")
    hdul[index] = fits.ImageHDU((dq & np.uint32(0xFFFF)).astype(np.uint16), name="DQ")
    if counts:
        message = dq_warning(filename, counts)
        warnings.append(message)
        log.warning("%s", message)
        hdul.insert(index + 1, fits.ImageHDU(dq, name="DQ32"))
    meta = _liger_meta(model, hdul[0].header, hdul["DATA"].header, filename)
    tree: dict[str, Any] = {"meta": meta}
    for hdu in hdul[1:]:
        name = _ARRAY_NAMES.get(hdu.name)
        if name is not None and isinstance(hdu, fits.ImageHDU) and hdu.data is not None:
            tree[name] = fits_array_link(hdu.name, hdu.data)
    return hdul, tree, warnings


def fits_hash(hdul: fits.HDUList) -> str:
    """stdatamodels' hash of a file's headers (every HDU but ASDF), as read from the file."""
    digest = hashlib.sha256()
    digest.update("".join(str(hdu.header) for hdu in hdul if hdu.name != "ASDF").encode())
    return digest.hexdigest()


def write_liger_file(model: ImageModel, extra_hdus: list, filename: str,
                     path: str | os.PathLike) -> list[str]:
    """Write ``model`` to ``path`` in the liger layout; the warnings (also logged).

    The ASDF tree records the hash of the headers as written (``FITS_HASH_KEY``): with it and
    DATAMODL = ImagerModel, stdatamodels takes ``meta`` from the tree instead of re-reading the
    keywords, as the upstream's own files are read — its schema's ``subarray_map`` list of
    keyword-mapped objects makes the keyword pass fail (stdatamodels 3: 'list' object has no
    attribute 'setdefault') on any file with a SUBARRAY keyword. So the file is written without
    the ASDF extension, its headers are read back and hashed, and the extension is appended.
    """
    hdul, tree, warnings = liger_hdul(model, extra_hdus, filename)
    hdul.writeto(path, output_verify="silentfix")
    with fits.open(path, mode="append", memmap=False, lazy_load_hdus=False) as written:
        tree[FITS_HASH_KEY] = fits_hash(written)
        written.append(asdf_hdu(tree))
    return warnings
