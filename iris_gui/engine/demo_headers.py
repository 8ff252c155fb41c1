"""FITS headers of the demo dataset: the IRIS imager identity, the pointing and TAN WCS, and the
headers of exposures and reference files."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from .demo_scene import EXPTIME, FILTER
from .lazy import fits

TELESCOPE = "TMT"
INSTRUMENT = "IRIS"
DETECTOR = "IMAGER"
PUPIL = "CLEAR"  #: a flat selection key in the TMT CRDS rules
CRVAL = (83.8221, -5.3911)  #: deg, the Trapezium
PIXEL_SCALE_DEG = 0.004 / 3600.0  #: 4 mas pixels
ROTATION_DEG = 0.5
OBJECT = "Orion Trapezium (synthetic)"
DATE_OBS = datetime(2031, 2, 14, 5, 12, 0)
MJD_ZERO = datetime(1858, 11, 17)


def wcs_keywords(size: int, crval: tuple[float, float]) -> dict[str, object]:
    """A TAN WCS centred on the array: PIXEL_SCALE_DEG pixels rotated by ROTATION_DEG."""
    theta = math.radians(ROTATION_DEG)
    s = PIXEL_SCALE_DEG
    return {
        "WCSAXES": 2,
        "CTYPE1": "RA---TAN",
        "CTYPE2": "DEC--TAN",
        "CUNIT1": "deg",
        "CUNIT2": "deg",
        "CRVAL1": crval[0],
        "CRVAL2": crval[1],
        "CRPIX1": size / 2 + 0.5,
        "CRPIX2": size / 2 + 0.5,
        "CD1_1": -s * math.cos(theta),
        "CD1_2": s * math.sin(theta),
        "CD2_1": s * math.sin(theta),
        "CD2_2": s * math.cos(theta),
        "RADESYS": "ICRS",
    }


def identity_keywords(size: int) -> dict[str, object]:
    return {
        "TELESCOP": TELESCOPE,
        "INSTRUME": INSTRUMENT,
        "DETECTOR": DETECTOR,
        "SUBARRAY": "FULL",
        "SUBSTRT1": 1,
        "SUBSTRT2": 1,
        "SUBSIZE1": size,
        "SUBSIZE2": size,
    }


def exposure_header(size: int, *, exptype: str, date: datetime, obj: str,
                    crval: tuple[float, float], nints: int = 1) -> fits.Header:
    """Primary header of a full-frame science or background rate file."""
    header = fits.Header()
    for key, value in identity_keywords(size).items():
        header[key] = value
    header["FILTER"] = FILTER
    header["PUPIL"] = PUPIL
    header["EXPTYPE"] = exptype
    header["EXPTIME"] = (EXPTIME * nints, "[s] total exposure time")
    header["EFFINTTM"] = (EXPTIME, "[s] time per integration")
    header["NINTS"] = nints
    header["DATE-OBS"] = date.strftime("%Y-%m-%dT%H:%M:%S.000")
    header["MJD-OBS"] = (date - MJD_ZERO) / timedelta(days=1)
    header["OBJECT"] = obj
    header["BUNIT"] = "DN/s"
    header["DATAMODL"] = "CubeModel" if nints > 1 else "ImageModel"
    header["ORIGIN"] = "iris_gui demo dataset (synthetic)"
    for key, value in wcs_keywords(size, crval).items():
        header[key] = value
    return header


def reference_header(size: int, reftype: str, datamodel: str, description: str) -> fits.Header:
    """Primary header of a reference file (dark, flat, photom)."""
    header = fits.Header()
    header["REFTYPE"] = reftype
    header["DATAMODL"] = datamodel
    for key, value in identity_keywords(size).items():
        header[key] = value
    header["DESCRIP"] = description
    header["PEDIGREE"] = "DUMMY"
    header["USEAFTER"] = "2030-01-01T00:00:00"
    header["AUTHOR"] = "iris_gui demo"
    return header
