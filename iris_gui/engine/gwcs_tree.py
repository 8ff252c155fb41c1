"""The gwcs of a product, as an ASDF tree built from its astropy (FITS) WCS.

The forward transform is the FITS one, step by step (WCS papers I/II, the SIP convention), on
0-based array indices as gwcs and jwst use them:

    Shift(-(CRPIX1 - 1)) & Shift(-(CRPIX2 - 1))        pixel -> offsets (u, v) from CRPIX
    [Mapping(0, 1, 0, 1) | Polynomial2D & Polynomial2D]  SIP: u + A(u, v), v + B(u, v)
    AffineTransformation2D(CDELT * PC)                   -> intermediate world coordinates, degrees
    Pix2Sky_<projection>                                 -> native spherical coordinates
    RotateNative2Celestial(CRVAL1, CRVAL2, LONPOLE)      -> RA, Dec (ICRS)

The SIP block gets the AP/BP polynomials as its inverse when the WCS has them; without them an
inverse polynomial is fitted here (least squares on a 33 x 33 grid over the array, one degree
above the forward one), since gwcs 1.0's own numerical inverse fails on a deserialized
projection ('Pix2Sky_Gnomonic' object has no attribute '__name__'). The bounding box is the
array's outer pixel edges, -0.5 .. n - 0.5.

What cannot be written (the tree is then left out, with the reason, and the FITS WCS in the
headers stays the description): projections other than the zenithal ones whose native pole is
the reference point without parameters (TAN, SIN, ARC, STG, ZEA), PVi_m parameters, lookup-table
distortions (CPDIS/DET2IM), reference frames other than ICRS, units other than degrees.

Tag versions are those of ASDF standard 1.5 (transform-1.5.0, gwcs-1.0.0 manifests), which
current and older asdf/gwcs releases both read.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .asdf_text import TRANSFORM, Tagged, unit

if TYPE_CHECKING:
    from astropy.wcs import WCS

GWCS = "tag:stsci.edu:gwcs/"
ICRS_TAG = "tag:astropy.org:astropy/coordinates/frames/icrs-1.1.0"

#: FITS projection code -> ASDF transform name (zenithal, native pole at the reference point)
PROJECTIONS = {
    "TAN": "gnomonic-1.2.0",
    "SIN": "slant_orthographic-1.2.0",
    "ARC": "zenithal_equidistant-1.2.0",
    "STG": "stereographic-1.2.0",
    "ZEA": "zenithal_equal_area-1.2.0",
}


def _transform(name: str, body: dict[str, Any], label: str | None = None) -> Tagged:
    if label:
        body = {"name": label, **body}
    return Tagged(TRANSFORM + name, body)


def _compose(*steps: Tagged) -> Tagged:
    node = steps[0]
    for step in steps[1:]:
        node = _transform("compose-1.2.0", {"forward": [node, step]})
    return node


def _polynomial(coefficients: np.ndarray, label: str) -> Tagged:
    return _transform("polynomial-1.2.0", {"coefficients": np.asarray(coefficients).tolist()},
                      label)


def _sip_block(a: np.ndarray, b: np.ndarray, label: str) -> Tagged:
    """(u, v) -> (u + A(u, v), v + B(u, v)): A[p, q] is the coefficient of u**p v**q, as in
    astropy's Polynomial2D ``c{p}_{q}``."""
    a = np.array(a, dtype=float)
    b = np.array(b, dtype=float)
    a[1, 0] += 1.0
    b[0, 1] += 1.0
    mapping = _transform("remap_axes-1.3.0", {"mapping": [0, 1, 0, 1]})
    pair = _transform("concatenate-1.2.0", {"forward": [_polynomial(a, f"{label}_x"),
                                                        _polynomial(b, f"{label}_y")]})
    return _transform("compose-1.2.0", {"forward": [mapping, pair]}, label)


def _poly_terms(degree: int) -> list[tuple[int, int]]:
    return [(p, q) for p in range(degree + 1) for q in range(degree + 1 - p)]


def _evaluate(coefficients: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return sum(coefficients[p, q] * u ** p * v ** q
               for p, q in _poly_terms(coefficients.shape[0] - 1))


def fitted_sip_inverse(a: np.ndarray, b: np.ndarray, crpix: tuple[float, float],
                       shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """AP, BP such that u = u' + AP(u', v'), v = v' + BP(u', v') over the array (u, v: offsets
    from CRPIX; u', v': after the forward SIP)."""
    ny, nx = (int(n) for n in shape[-2:])
    x, y = np.meshgrid(np.linspace(-0.5, nx - 0.5, 33), np.linspace(-0.5, ny - 0.5, 33))
    u = x.ravel() - (crpix[0] - 1.0)
    v = y.ravel() - (crpix[1] - 1.0)
    up, vp = u + _evaluate(a, u, v), v + _evaluate(b, u, v)
    degree = max(a.shape[0], b.shape[0])  # one above the forward order
    terms = _poly_terms(degree)
    scale = max(float(np.max(np.abs(up))), float(np.max(np.abs(vp))), 1.0)
    design = np.column_stack([(up / scale) ** p * (vp / scale) ** q for p, q in terms])
    inverse = []
    for target in (u - up, v - vp):
        solution = np.linalg.lstsq(design, target, rcond=None)[0]
        coefficients = np.zeros((degree + 1, degree + 1))
        for (p, q), value in zip(terms, solution, strict=True):
            coefficients[p, q] = value / scale ** (p + q)
        inverse.append(coefficients)
    return inverse[0], inverse[1]


def unsupported_reason(wcs: WCS | None) -> str | None:
    """Why ``wcs`` cannot be written as a gwcs (None: it can)."""
    if wcs is None:
        return "the product has no WCS (assign_wcs did not run)"
    if wcs.naxis != 2 or not wcs.has_celestial:
        return "its WCS is not a 2-D celestial one"
    ctypes = [str(c).upper() for c in wcs.wcs.ctype]
    if not (ctypes[0].startswith("RA--") and ctypes[1].startswith("DEC-")):
        return f"its axes are {ctypes[0]}/{ctypes[1]}, not RA/Dec"
    code = ctypes[0][5:8]
    if code not in PROJECTIONS:
        return f"projection {code} is not one of {', '.join(PROJECTIONS)}"
    if wcs.wcs.get_pv():
        return "its projection has PVi_m parameters"
    if any(getattr(wcs, name, None) is not None for name in ("cpdis1", "cpdis2", "det2im1",
                                                             "det2im2")):
        return "it has a lookup-table distortion (CPDIS/DET2IM)"
    frame = str(wcs.wcs.radesys or "ICRS").strip().upper() or "ICRS"
    if frame != "ICRS":
        return f"its reference frame is {frame}, not ICRS"
    if [str(u).strip() for u in wcs.wcs.cunit] != ["deg", "deg"]:
        return "its units are not degrees"
    values = [*wcs.wcs.crpix, *wcs.wcs.crval, wcs.wcs.lonpole, *wcs.pixel_scale_matrix.ravel()]
    if not all(math.isfinite(float(v)) for v in values):
        return "its keywords hold non-finite values"
    return None


def forward_transform(wcs: WCS, shape: tuple[int, int]) -> Tagged:
    """The detector -> sky transform of ``wcs`` for an array of ``shape`` (ny, nx)."""
    crpix1, crpix2 = (float(v) for v in wcs.wcs.crpix)
    steps = [_transform("concatenate-1.2.0", {"forward": [
        _transform("shift-1.2.0", {"offset": -(crpix1 - 1.0)}, "crpix1"),
        _transform("shift-1.2.0", {"offset": -(crpix2 - 1.0)}, "crpix2")]})]
    sip = wcs.sip
    if sip is not None:
        block = _sip_block(sip.a, sip.b, "sip")
        if sip.ap is not None and sip.bp is not None:
            ap, bp = sip.ap, sip.bp
        else:
            ap, bp = fitted_sip_inverse(np.asarray(sip.a), np.asarray(sip.b), (crpix1, crpix2),
                                        shape)
        block = Tagged(block.tag, {**block.value, "inverse": _sip_block(ap, bp, "sip_inverse")})
        steps.append(block)
    matrix = np.asarray(wcs.pixel_scale_matrix, dtype=float)
    steps.append(_transform("affine-1.3.0", {"matrix": matrix.tolist(),
                                             "translation": [0.0, 0.0]}, "cd_matrix"))
    code = str(wcs.wcs.ctype[0]).upper()[5:8]
    steps.append(_transform(PROJECTIONS[code], {"direction": "pix2sky"}, code.lower()))
    crval1, crval2 = (float(v) for v in wcs.wcs.crval)
    steps.append(_transform("rotate3d-1.3.0", {
        "phi": crval1, "theta": crval2, "psi": float(wcs.wcs.lonpole),
        "direction": "native2celestial"}, "crval"))
    forward = _compose(*steps)
    ny, nx = (int(n) for n in shape[-2:])
    # old-style bounding box: one interval per input, in C order (y first)
    body = {**forward.value, "bounding_box": [[-0.5, ny - 0.5], [-0.5, nx - 0.5]]}
    return Tagged(forward.tag, body)


def gwcs_node(wcs: WCS | None, shape: tuple[int, int]) -> tuple[Tagged | None, str | None]:
    """(the gwcs tree of ``wcs``, None) or (None, why it cannot be written)."""
    reason = unsupported_reason(wcs)
    if reason is not None:
        return None, reason
    ny, nx = (int(n) for n in shape[-2:])
    detector = Tagged(GWCS + "frame2d-1.0.0", {
        "name": "detector", "axes_names": ["x", "y"], "axes_order": [0, 1],
        "unit": [unit("pixel"), unit("pixel")]})
    sky = Tagged(GWCS + "celestial_frame-1.0.0", {
        "name": "world", "axes_names": ["lon", "lat"], "axes_order": [0, 1],
        "axis_physical_types": ["pos.eq.ra", "pos.eq.dec"],
        "reference_frame": Tagged(ICRS_TAG, {"frame_attributes": {}}),
        "unit": [unit("deg"), unit("deg")]})
    steps = [Tagged(GWCS + "step-1.1.0", {"frame": detector,
                                          "transform": forward_transform(wcs, shape)}),
             Tagged(GWCS + "step-1.1.0", {"frame": sky, "transform": None})]
    return Tagged(GWCS + "wcs-1.1.0", {"name": "", "steps": steps,
                                       "pixel_shape": [nx, ny]}), None
