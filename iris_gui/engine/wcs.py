"""World coordinates: building the FITS WCS of an exposure, pixel areas, output grids, pixel maps.

Conventions (the FITS standard, WCS paper I §2.1.4):

* Pixel coordinates in this code are **0-based** array indices: the centre of ``data[0, 0]`` is
  (x, y) = (0, 0). The FITS keywords (CRPIX) are 1-based, so FITS pixel ``p`` is array index
  ``p - 1``; astropy's ``origin=0`` does exactly that conversion. (The 2025 upstream evaluates
  the WCS on 0-based indices as if they were 1-based and is one pixel off; we do not.)
* The header WCS describes the array **as stored**. A subarray exposure's CRPIX is therefore
  relative to its own first pixel: a subarray cut at SUBSTRT1/SUBSTRT2 (1-based) from a
  full-frame exposure whose reference pixel is CRPIX has CRPIX - (SUBSTRT - 1).
* The WCS is built from a copy of the header with NAXIS = 2 and NAXIS1/NAXIS2 set to the image
  shape (a primary header has NAXIS = 0; a rateints SCI header has NAXIS = 3): the celestial WCS
  applies to every integration of a (nints, ny, nx) cube.

The resample pixel map (input pixel -> output pixel) built from ``map_pixels`` is in
``pixel_map``.
"""

from __future__ import annotations

import logging
import math
import os
import re
import warnings
from typing import TYPE_CHECKING

import numpy as np

from . import header_values
from .errors import InputError
from .files import check_not_lfs_pointer
from .lazy import fits

if TYPE_CHECKING:
    from astropy.wcs import WCS

log = logging.getLogger(__name__)

#: keywords without which a celestial WCS cannot be built (besides a scale, see below)
REQUIRED_KEYWORDS = ("CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2")

#: degrees -> arcseconds, and steradian -> square arcseconds
ARCSEC_PER_DEG = 3600.0
ARCSEC2_PER_SR = (180.0 / math.pi * 3600.0) ** 2  # 4.25451703e10


_SIP_KEY = re.compile(r"^(A|B|AP|BP)_(ORDER|DMAX|\d+_\d+)$")
_WCS_KEY = re.compile(
    r"^(WCSAXES|WCSNAME|CTYPE\d|CUNIT\d|CRVAL\d|CRPIX\d|CDELT\d|CROTA\d|CD\d_\d|PC\d_\d|PV\d_\d+|"
    r"PS\d_\d+|LONPOLE|LATPOLE|RADESYS|RADECSYS|EQUINOX|EPOCH|MJDREF|DATEREF|CRDER\d|CSYER\d)$"
)


# ---- building -------------------------------------------------------------------------------------

def is_wcs_keyword(key: str) -> bool:
    """True for the FITS WCS keywords (primary description and SIP coefficients)."""
    key = key.upper()
    return bool(_WCS_KEY.match(key) or _SIP_KEY.match(key))


def is_sip_keyword(key: str) -> bool:
    return bool(_SIP_KEY.match(key.upper()))


def missing_wcs_keywords(header: fits.Header) -> list[str]:
    """The keywords a celestial WCS needs that ``header`` lacks (empty: it has them all).

    Besides CTYPE/CRVAL/CRPIX for both axes, a scale is needed: CDi_j, or CDELT1 and CDELT2
    (optionally with PCi_j). Without one, FITS defaults every scale to 1 degree per pixel, which is
    never what an imager means.
    """
    missing = [key for key in REQUIRED_KEYWORDS if header.get(key) in (None, "")]
    has_cd = any(f"CD{i}_{j}" in header for i in (1, 2) for j in (1, 2))
    has_cdelt = "CDELT1" in header and "CDELT2" in header
    if not has_cd and not has_cdelt:
        missing.append("CDi_j or CDELT1/CDELT2")
    return missing


def wcs_source(primary: fits.Header, sci: fits.Header | None) -> tuple[fits.Header, str]:
    """(header that holds the exposure's WCS, its name): the primary header, or
    the SCI header when only it has WCS keywords (files written by other software)."""
    if primary.get("CTYPE1") is None and sci is not None and sci.get("CTYPE1") is not None:
        return sci, "SCI header"
    return primary, "primary header"


def build_wcs(header: fits.Header, image_shape: tuple[int, int],
              distortion: fits.Header | None = None, where: str = "header") -> WCS:
    """The celestial astropy WCS of an image of ``image_shape`` (ny, nx) described by ``header``.

    ``distortion``: SIP keywords (A_ORDER, A_p_q, B_..., optional AP_/BP_) that replace any in
    ``header``; the CTYPEs then get the ``-SIP`` suffix. Raises InputError for a header whose
    values cannot make a WCS; callers check ``missing_wcs_keywords`` first.
    """
    ny, nx = (int(n) for n in image_shape[-2:])
    work = fits.Header()
    for card in header.cards:
        key = card.keyword
        if not key or key in ("COMMENT", "HISTORY", "") or key.startswith("NAXIS"):
            continue
        if distortion is not None and is_sip_keyword(key):
            continue
        work.append(card, end=True)
    work["NAXIS"] = 2
    work["NAXIS1"] = nx
    work["NAXIS2"] = ny
    if "RADECSYS" in work and "RADESYS" not in work:  # the pre-2002 spelling
        work["RADESYS"] = work["RADECSYS"]
    work.remove("RADECSYS", ignore_missing=True, remove_all=True)
    if "WCSAXES" in work:
        work["WCSAXES"] = 2
    if distortion is not None:
        for card in distortion.cards:
            if is_sip_keyword(card.keyword):
                work[card.keyword] = card.value
        for axis in (1, 2):
            ctype = str(work[f"CTYPE{axis}"]).strip()
            if not ctype.upper().endswith("-SIP"):
                work[f"CTYPE{axis}"] = ctype + "-SIP"
    from astropy.wcs import WCS, FITSFixedWarning  # ~0.15 s (astropy.coordinates): not at start

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(work, relax=True, fix=True)
            wcs.wcs.set()
    except Exception as exc:  # astropy/wcslib raise many types for bad values
        log.debug("%s: WCS construction failed: %r", where, exc)
        raise InputError(
            f"{where}: the WCS keywords (CTYPE1/CTYPE2 = {header.get('CTYPE1')!r}/"
            f"{header.get('CTYPE2')!r}) do not make a valid WCS") from exc
    if not wcs.has_celestial or wcs.wcs.lng != 0 or wcs.wcs.lat != 1:
        raise InputError(
            f"{where}: CTYPE1/CTYPE2 = {header.get('CTYPE1')!r}/{header.get('CTYPE2')!r} do not "
            f"describe celestial longitude and latitude on the two image axes"
        )
    if wcs.naxis != 2:
        wcs = wcs.sub(2)
    wcs.pixel_shape = (nx, ny)
    return wcs


def read_distortion(path: str) -> fits.Header:
    """The SIP keywords (plus CRPIX and window keywords) of a distortion reference file."""
    if not os.path.isfile(path):  # a folder, pipe or device: never opened (a FIFO would block)
        raise InputError(f"{path}: distortion reference is missing or not a regular file")
    check_not_lfs_pointer(path, "distortion reference")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False) as hdul:
                hdul.verify("silentfix")
                headers = [hdu.header.copy() for hdu in hdul]
    except (OSError, ValueError, TypeError, OverflowError, fits.VerifyError) as exc:
        log.debug("%s: reading failed: %r", path, exc)
        raise InputError(f"{path}: not a readable FITS distortion reference") from exc
    from .models import reference_kind

    declared = reference_kind(headers[0])
    if declared is not None and declared != "distortion":
        raise InputError(f"{path}: is a {declared} reference, not a distortion reference")
    for header in headers:
        if "A_ORDER" in header or "B_ORDER" in header:
            break
    else:
        raise InputError(f"{path}: distortion reference has no SIP keywords (A_ORDER, B_ORDER)")
    for key in ("A_ORDER", "B_ORDER"):
        if key not in header:
            raise InputError(f"{path}: distortion reference lacks {key}")
    keep = fits.Header()
    for card in header.cards:
        if is_sip_keyword(card.keyword) or card.keyword in ("CRPIX1", "CRPIX2"):
            keep[card.keyword] = card.value
    header_values.wcs_values(keep, path)  # numbers, or InputError naming the key
    for key, value in header_values.window_values(headers[0], path).items():
        if key.startswith("SUBSTRT"):
            keep[key] = value
    return keep


def check_distortion_centre(distortion: fits.Header, header: fits.Header, xstart: int,
                            ystart: int, path: str) -> None:
    """SIP polynomials are in pixel offsets from CRPIX: the reference's CRPIX (if it has one)
    must be the same detector pixel as the exposure's, or the coefficients do not apply."""
    if "CRPIX1" not in distortion or "CRPIX2" not in distortion:
        return
    theirs = header_values.wcs_values(distortion, path)
    ours = header_values.wcs_values(header, "the exposure")
    start = header_values.window_values(distortion, path)
    ref = (theirs["CRPIX1"] + start.get("SUBSTRT1", 1) - 1,
           theirs["CRPIX2"] + start.get("SUBSTRT2", 1) - 1)
    sci = (ours["CRPIX1"] + xstart - 1, ours["CRPIX2"] + ystart - 1)
    if abs(ref[0] - sci[0]) > 1e-3 or abs(ref[1] - sci[1]) > 1e-3:
        raise InputError(
            f"{path}: the SIP coefficients are centred on detector pixel "
            f"({ref[0]:g}, {ref[1]:g}) (1-based) but the exposure's reference pixel is "
            f"({sci[0]:g}, {sci[1]:g}); they cannot be applied"
        )


def wcs_header(wcs: WCS) -> fits.Header:
    """The standard FITS keywords of ``wcs`` (PC + CDELT form, SIP coefficients if any)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        header = wcs.to_header(relax=True)
    for key in ("DATE-OBS", "MJD-OBS", "DATEREF", "MJDREF", "MJDREFI", "MJDREFF", "DATE-BEG",
                "MJD-BEG", "DATE-END", "MJD-END", "DATE-AVG", "MJD-AVG", "TIMESYS", "TIMEUNIT"):
        header.remove(key, ignore_missing=True, remove_all=True)
    return header


def replace_wcs_keywords(header: fits.Header, wcs: WCS) -> None:
    """Remove every WCS keyword of ``header`` (in place) and write those of ``wcs``."""
    for key in [k for k in header.keys() if k and is_wcs_keyword(k)]:
        header.remove(key, ignore_missing=True, remove_all=True)
    header.update(wcs_header(wcs))


# ---- pixel geometry -------------------------------------------------------------------------------

def _sip_linear(wcs: WCS) -> np.ndarray:
    """I + the first-order SIP terms: the distortion's Jacobian at the reference pixel."""
    jac = np.eye(2)
    sip = wcs.sip
    if sip is not None:
        a, b = sip.a, sip.b
        if a.shape[0] > 1:
            jac[0, 0] += a[1, 0]
            jac[0, 1] += a[0, 1]
        if b.shape[0] > 1:
            jac[1, 0] += b[1, 0]
            jac[1, 1] += b[0, 1]
    return jac


def pixel_area_deg2(wcs: WCS) -> float:
    """Solid angle of a pixel at the reference pixel, square degrees.

    For the zenithal projections (TAN and kin) the projection plane touches the sphere at the
    reference point, so the projection-plane area |det(CD · J_SIP)| there is the true solid angle.
    """
    matrix = wcs.pixel_scale_matrix @ _sip_linear(wcs)
    return float(abs(np.linalg.det(matrix)))


def pixel_area_sr(wcs: WCS) -> float:
    return pixel_area_deg2(wcs) * (math.pi / 180.0) ** 2


def pixel_scale_deg(wcs: WCS) -> float:
    """Side of a square pixel with the reference pixel's area, degrees."""
    return math.sqrt(pixel_area_deg2(wcs))


def position_angle_deg(wcs: WCS) -> float:
    """Position angle (east of north) of the +y pixel axis at the reference pixel, degrees."""
    matrix = wcs.pixel_scale_matrix @ _sip_linear(wcs)
    return math.degrees(math.atan2(matrix[0, 1], matrix[1, 1]))


def tan_wcs(crval: tuple[float, float], crpix: tuple[float, float], scale_deg: float,
            rotation_deg: float, shape: tuple[int, int] | None = None,
            radesys: str = "ICRS") -> WCS:
    """An undistorted TAN WCS, east to the left of north, the +y axis at ``rotation_deg`` east
    of north (0 = north up). ``crpix`` is 1-based (FITS)."""
    from astropy.wcs import WCS

    theta = math.radians(rotation_deg)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cunit = ["deg", "deg"]
    wcs.wcs.crval = [float(crval[0]), float(crval[1])]
    wcs.wcs.crpix = [float(crpix[0]), float(crpix[1])]
    wcs.wcs.cdelt = [scale_deg, scale_deg]
    wcs.wcs.pc = [[-math.cos(theta), math.sin(theta)], [math.sin(theta), math.cos(theta)]]
    wcs.wcs.radesys = radesys
    wcs.wcs.set()
    if shape is not None:
        wcs.pixel_shape = (int(shape[1]), int(shape[0]))
    return wcs


def _radesys(wcs: WCS) -> str:
    return str(wcs.wcs.radesys or "ICRS").strip() or "ICRS"


def map_pixels(in_wcs: WCS, out_wcs: WCS, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """Exact input pixel (0-based) -> output pixel (0-based) through the sky."""
    ra, dec = in_wcs.all_pix2world(x, y, 0)
    if out_wcs.has_distortion:
        return out_wcs.all_world2pix(ra, dec, 0)
    return out_wcs.wcs_world2pix(ra, dec, 0)


def footprint(in_wcs: WCS, out_wcs: WCS, shape: tuple[int, int],
              samples: int = 65) -> tuple[np.ndarray, np.ndarray]:
    """Output pixel coordinates of the input array's outline (pixel edges), ``samples`` per side."""
    ny, nx = shape
    ex = np.linspace(-0.5, nx - 0.5, samples)
    ey = np.linspace(-0.5, ny - 0.5, samples)
    xs = np.concatenate([ex, np.full(samples, nx - 0.5), ex[::-1], np.full(samples, -0.5)])
    ys = np.concatenate([np.full(samples, -0.5), ey, np.full(samples, ny - 0.5), ey[::-1]])
    return map_pixels(in_wcs, out_wcs, xs, ys)


def output_grid(
    in_wcs: WCS,
    shape: tuple[int, int],
    *,
    pixel_scale_ratio: float = 1.0,
    pixel_scale: float | None = None,
    rotation: float | None = 0.0,
    output_shape: tuple[int, int] | None = None,
    crpix: tuple[float, float] | None = None,
    crval: tuple[float, float] | None = None,
) -> tuple[WCS, tuple[int, int]]:
    """The resample output WCS and (ny, nx): undistorted TAN, north up unless ``rotation``.

    pixel_scale: arcsec per output pixel; else the input pixel scale at the reference pixel times
    ``pixel_scale_ratio``. rotation: position angle of +y (deg, east of north); None keeps the
    detector's orientation. output_shape: (nx, ny). crpix: 1-based (FITS) reference pixel of the
    output; crval: (RA, Dec) in degrees at crpix. By default crval is the sky position of the
    input array's centre, and the output is just large enough to hold the whole input, centred.
    """
    ny, nx = shape
    if pixel_scale is not None:
        scale = pixel_scale / ARCSEC_PER_DEG
    else:
        scale = pixel_scale_deg(in_wcs) * pixel_scale_ratio
    angle = position_angle_deg(in_wcs) if rotation is None else float(rotation)
    if crval is None:
        ra, dec = in_wcs.all_pix2world([(nx - 1) / 2.0], [(ny - 1) / 2.0], 0)
        crval = (float(ra[0]), float(dec[0]))
    # provisional grid with crval at 0-based pixel (0, 0) (FITS 1, 1)
    provisional = tan_wcs(crval, (1.0, 1.0), scale, angle, radesys=_radesys(in_wcs))
    fx, fy = footprint(in_wcs, provisional, shape)
    if crpix is not None:
        # the 0-based position of crval is crpix - 1; the footprint moves with it
        ref = (float(crpix[0]), float(crpix[1]))
        if output_shape is None:
            width = int(math.ceil(float(fx.max()) + ref[0] - 1 + 0.5 - 1e-6))
            height = int(math.ceil(float(fy.max()) + ref[1] - 1 + 0.5 - 1e-6))
            output_shape = (max(width, 1), max(height, 1))
    else:
        extent_x = float(fx.max() - fx.min())
        extent_y = float(fy.max() - fy.min())
        if output_shape is None:
            output_shape = (max(1, int(math.ceil(extent_x - 1e-6))),
                            max(1, int(math.ceil(extent_y - 1e-6))))
        pad_x = (output_shape[0] - extent_x) / 2.0
        pad_y = (output_shape[1] - extent_y) / 2.0
        ref = (0.5 - float(fx.min()) + pad_x, 0.5 - float(fy.min()) + pad_y)
    out_nx, out_ny = int(output_shape[0]), int(output_shape[1])
    wcs = tan_wcs(crval, ref, scale, angle, shape=(out_ny, out_nx), radesys=_radesys(in_wcs))
    return wcs, (out_ny, out_nx)


# ---- the pixel map ----------------------------------------------------------------------------------
