"""What ``_cal``/``_calints`` and ``_i2d`` carry for downstream tools (jwst/stdatamodels image3).

Added to those files' HDU list just before they are written (``add_downstream``):

- an ``ASDF`` extension (stdatamodels' FITS-embedded ASDF) whose tree holds ``meta`` — filename,
  model_type (ImageModel, CubeModel for integrations), telescope, instrument, exposure,
  observation, subarray, wcsinfo, coordinates, photometry, cal_step, ref_file, bunit_data/err
  and ``wcs``, a gwcs of the product's astropy WCS (``gwcs_tree``) — and links to the image
  arrays (``data`` -> SCI, ``err`` -> ERR, ``dq`` -> DQ, ``area``, ``wht``, ``con``...);
- ``S_REGION`` in the SCI header (``footprint``);
- the photometric keywords PHOTMJSR, PHOTUJA2, PIXAR_SR, PIXAR_A2 and BUNIT copied from PRIMARY
  into SCI (jwst reads them from SCI), BUNIT also into ERR;
- ``DATAMODL`` and ``FILENAME`` in PRIMARY, so ``jwst.datamodels.open`` picks the model class.

The FITS keywords stay the record: stdatamodels fills ``meta`` from them (its schema says which
extension holds each) and the tree adds what keywords cannot hold (the gwcs, the array links).
The key names are those of the jwst datamodel schemas (``meta.exposure.exposure_time`` is EFFEXPTM
there; ours comes from EXPTIME, the exposure's total time).
"""

from __future__ import annotations

import logging
from typing import Any

from .asdf_text import asdf_hdu, fits_array_link
from .fits_text import ascii_text
from .footprint import s_region
from .gwcs_tree import gwcs_node
from .lazy import fits
from .models import ImageModel
from .steps import STEPS

log = logging.getLogger(__name__)

#: keywords copied from PRIMARY into SCI, where jwst's schemas look for them
PHOTOMETRIC_KEYWORDS = ("PHOTMJSR", "PHOTUJA2", "PIXAR_SR", "PIXAR_A2", "BUNIT")

#: meta path -> PRIMARY keyword, for the tree
_PRIMARY_META = {
    ("telescope",): "TELESCOP",
    ("date",): "DATE",
    ("calibration_software_name",): "CAL_SW",
    ("calibration_software_version",): "CAL_VER",
    ("instrument", "name"): "INSTRUME",
    ("instrument", "detector"): "DETECTOR",
    ("instrument", "filter"): "FILTER",
    ("instrument", "pupil"): "PUPIL",
    ("exposure", "type"): "EXPTYPE",
    ("exposure", "exposure_time"): "EXPTIME",
    ("exposure", "integration_time"): "EFFINTTM",
    ("exposure", "nints"): "NINTS",
    ("exposure", "start_time"): "MJD-OBS",
    ("observation", "date_beg"): "DATE-OBS",
    ("target", "catalog_name"): "OBJECT",
    ("subarray", "name"): "SUBARRAY",
    ("subarray", "xstart"): "SUBSTRT1",
    ("subarray", "ystart"): "SUBSTRT2",
    ("subarray", "xsize"): "SUBSIZE1",
    ("subarray", "ysize"): "SUBSIZE2",
    ("photometry", "conversion_megajanskys"): "PHOTMJSR",
    ("photometry", "conversion_microjanskys"): "PHOTUJA2",
    ("photometry", "pixelarea_steradians"): "PIXAR_SR",
    ("photometry", "pixelarea_arcsecsq"): "PIXAR_A2",
}

#: our step -> the jwst ``meta.cal_step`` name of its status (S_* keyword)
_CAL_STEP_NAMES = {"bkg_subtract": "bkg_subtract", "assign_wcs": "assign_wcs",
                   "dark_current": "dark_sub", "flat_field": "flat_field", "photom": "photom",
                   "resample": "resample", "parse_subarray_map": "parse_subarray_map"}

#: R_* keyword -> ``meta.ref_file`` entry
_REFERENCE_KEYWORDS = {"R_DARK": "dark", "R_FLAT": "flat", "R_PHOTOM": "photom",
                       "R_DISTOR": "distortion"}

#: extension -> name of its array in the tree (stdatamodels' attribute names)
_ARRAY_NAMES = {"SCI": "data", "ERR": "err", "DQ": "dq", "AREA": "area", "WHT": "wht",
                "CON": "con", "SUBARR_MAP": "subarr_map"}


def model_type(model: ImageModel) -> str:
    return "CubeModel" if model.is_3d else "ImageModel"


def _plain(value: Any) -> Any:
    """A header value as a tree scalar (astropy's Undefined and other oddities -> None)."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return None


def _set(tree: dict, path: tuple[str, ...], value: Any) -> None:
    if value is None:
        return
    node = tree
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def wcsinfo(sci: fits.Header) -> dict[str, Any]:
    """``meta.wcsinfo``: the SCI header's WCS keywords under jwst's lower-case names."""
    info: dict[str, Any] = {}
    for key in ("WCSAXES", "CTYPE1", "CTYPE2", "CUNIT1", "CUNIT2", "CRPIX1", "CRPIX2", "CRVAL1",
                "CRVAL2", "CDELT1", "CDELT2", "PC1_1", "PC1_2", "PC2_1", "PC2_2", "LONPOLE",
                "LATPOLE", "S_REGION"):
        value = _plain(sci.get(key))
        if value is not None:
            info[key.lower()] = value
    for name, key in (("ra_ref", "CRVAL1"), ("dec_ref", "CRVAL2")):
        if key in info or key.lower() in info:
            info[name] = info[key.lower()]
    return info


def metadata_tree(model: ImageModel, primary: fits.Header, sci: fits.Header,
                  filename: str) -> tuple[dict[str, Any], str | None]:
    """(``meta``, why no gwcs or None) of a product about to be written as ``filename``."""
    meta: dict[str, Any] = {"filename": filename, "model_type": model_type(model)}
    for path, key in _PRIMARY_META.items():
        _set(meta, path, _plain(primary.get(key)))
    date_obs = _plain(primary.get("DATE-OBS"))
    if isinstance(date_obs, str) and "T" in date_obs:
        day, time = date_obs.split("T", 1)
        _set(meta, ("observation", "date"), day)
        _set(meta, ("observation", "time"), time)
    for step in STEPS:
        status = _plain(primary.get(step.status_keyword))
        _set(meta, ("cal_step", _CAL_STEP_NAMES.get(step.name, step.name)), status)
    for key, kind in _REFERENCE_KEYWORDS.items():
        _set(meta, ("ref_file", kind, "name"), _plain(primary.get(key)))
    frame = _plain(primary.get("RADESYS")) or _plain(sci.get("RADESYS"))
    _set(meta, ("coordinates", "reference_frame"), frame)
    meta["wcsinfo"] = wcsinfo(sci)
    _set(meta, ("bunit_data",), _plain(sci.get("BUNIT")))
    _set(meta, ("bunit_err",), _plain(sci.get("BUNIT")))
    node, reason = gwcs_node(model.wcs, model.image_shape)
    if node is not None:
        meta["wcs"] = node
    return meta, reason


def add_downstream(hdul: fits.HDUList, model: ImageModel, filename: str) -> None:
    """Add the keywords and the ASDF extension listed in the module docstring to ``hdul`` (the
    HDU list ``model_to_hdul`` made of ``model``; extensions after the images stay last)."""
    primary, sci = hdul[0].header, hdul["SCI"].header
    primary["DATAMODL"] = (model_type(model), "data model (stdatamodels class)")
    primary["FILENAME"] = (ascii_text(filename), "name of this file")
    for key in PHOTOMETRIC_KEYWORDS:
        if key in primary:
            sci[key] = (primary[key], primary.comments[key])
    if "BUNIT" in sci and "ERR" in hdul:
        hdul["ERR"].header["BUNIT"] = sci["BUNIT"]
    if model.wcs is not None:
        sci["S_REGION"] = (s_region(model.wcs, model.image_shape), "footprint of the image")
    meta, reason = metadata_tree(model, primary, sci, filename)
    if reason is not None and model.wcs is not None:
        log.warning("%s: the ASDF extension carries no gwcs: %s (the FITS WCS keywords hold it)",
                    filename, reason)
    tree: dict[str, Any] = {"meta": meta}
    for hdu in hdul[1:]:
        name = _ARRAY_NAMES.get(hdu.name)
        if name is not None and isinstance(hdu, fits.ImageHDU) and hdu.data is not None:
            tree[name] = fits_array_link(hdu.name, hdu.data)
    hdul.append(asdf_hdu(tree))
