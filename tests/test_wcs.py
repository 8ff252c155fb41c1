"""assign_wcs and the WCS helpers against the FITS standard worked out by hand.

The expected sky positions are computed here from WCS papers I and II (Greisen & Calabretta 2002,
Calabretta & Greisen 2002) and the SIP convention (Shupe et al. 2005), never with astropy:

1. pixel coordinates: FITS pixel p = 0-based array index + 1; offsets u = p1 - CRPIX1,
   v = p2 - CRPIX2; SIP adds f(u, v) = sum A_p_q u^p v^q to u and g(u, v) to v;
2. intermediate world coordinates (degrees): (x, y) = CD (u, v), where CD is CDi_j, or
   diag(CDELT) PC, or diag(CDELT) times the CROTA2 rotation;
3. native spherical coordinates of the gnomonic (TAN) projection (paper II §5.1.3):
   phi = arg(-y, x) = atan2(x, -y), R = sqrt(x² + y²), theta = atan(180 / (pi R));
4. celestial coordinates (paper II eq. 2) with the native pole at (alpha_p, delta_p) =
   (CRVAL1, CRVAL2) and phi_p = LONPOLE = 180 deg (the default for a zenithal projection):
   alpha = alpha_p + atan2(-cos th sin(phi - phi_p), sin th cos d_p - cos th sin d_p cos(phi - phi_p))
   delta = asin(sin th sin d_p + cos th cos d_p cos(phi - phi_p)).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from factories import context_for, make_model

from iris_gui.engine.errors import InputError
from iris_gui.engine.models import read_image
from iris_gui.engine.pixel_map import exact_pixel_map, interpolated_pixel_map, pixel_map
from iris_gui.engine.steps import COMPLETE, SKIPPED, STEP_BY_NAME
from iris_gui.engine.wcs import (
    build_wcs,
    map_pixels,
    output_grid,
    pixel_area_sr,
    pixel_scale_deg,
    position_angle_deg,
)

MAS = 1.0 / 3.6e6  # degrees
MICROARCSEC = 1e-6 / 3600.0  # degrees
DEMO_SCALE = 4 * MAS
TOLERANCE_ARCSEC = 1e-6


# ---- the FITS standard, by hand ------------------------------------------------------------

def sip_offset(coefficients: dict[tuple[int, int], float], u: float, v: float) -> float:
    return sum(c * u**p * v**q for (p, q), c in coefficients.items())


def hand_world(x_index: float, y_index: float, *, crpix, crval, cd, sip_a=None, sip_b=None,
               lonpole: float = 180.0) -> tuple[float, float]:
    """(RA, Dec) in degrees of 0-based array position (x_index, y_index) for a TAN(-SIP) WCS."""
    u = x_index + 1.0 - crpix[0]
    v = y_index + 1.0 - crpix[1]
    du = sip_offset(sip_a or {}, u, v)
    dv = sip_offset(sip_b or {}, u, v)
    u, v = u + du, v + dv
    x = cd[0][0] * u + cd[0][1] * v
    y = cd[1][0] * u + cd[1][1] * v
    phi = math.atan2(x, -y)
    r = math.hypot(x, y)
    theta = math.atan2(180.0 / math.pi, r)  # = atan(180 / (pi R)), R in degrees
    alpha_p, delta_p = math.radians(crval[0]), math.radians(crval[1])
    dphi = phi - math.radians(lonpole)
    alpha = alpha_p + math.atan2(
        -math.cos(theta) * math.sin(dphi),
        math.sin(theta) * math.cos(delta_p) - math.cos(theta) * math.sin(delta_p) * math.cos(dphi))
    delta = math.asin(math.sin(theta) * math.sin(delta_p)
                      + math.cos(theta) * math.cos(delta_p) * math.cos(dphi))
    return math.degrees(alpha) % 360.0, math.degrees(delta)


def rotated_cd(scale: float, angle_deg: float) -> list[list[float]]:
    """CD of square pixels, east to the left, +y at ``angle_deg`` east of north."""
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return [[-scale * c, scale * s], [scale * s, scale * c]]


def tan_header(crpix, crval, cd, **extra) -> fits.Header:
    header = fits.Header()
    for key, value in {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CUNIT1": "deg",
                       "CUNIT2": "deg", "CRPIX1": crpix[0], "CRPIX2": crpix[1],
                       "CRVAL1": crval[0], "CRVAL2": crval[1], "CD1_1": cd[0][0],
                       "CD1_2": cd[0][1], "CD2_1": cd[1][0], "CD2_2": cd[1][1],
                       "RADESYS": "ICRS", **extra}.items():
        header[key] = value
    return header


def separation_arcsec(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Small-angle distance between two (RA, Dec) positions, arcsec (RA wrap handled)."""
    dra = (a[0] - b[0] + 180.0) % 360.0 - 180.0
    return math.hypot(dra * math.cos(math.radians(b[1])), a[1] - b[1]) * 3600.0


def assert_sky(wcs, pixels, expected_fn, tolerance=TOLERANCE_ARCSEC):
    xs = np.array([p[0] for p in pixels], dtype=float)
    ys = np.array([p[1] for p in pixels], dtype=float)
    ra, dec = wcs.all_pix2world(xs, ys, 0)
    for x, y, r, d in zip(xs, ys, ra, dec, strict=True):
        expected = expected_fn(x, y)
        assert separation_arcsec((r, d), expected) <= tolerance, (x, y, (r, d), expected)


def run_assign_wcs(model, context=None, **params):
    values = STEP_BY_NAME["assign_wcs"].defaults()
    values.update(params)
    return STEP_BY_NAME["assign_wcs"].run(model, values, context or context_for())


def wcs_model(header: fits.Header, shape=(8, 8)) -> object:
    model = make_model(np.zeros(shape))
    for card in header.cards:
        model.header[card.keyword] = card.value
    return model


# ---- RA/Dec at known pixels ------------------------------------------------------------------

DEMO = {"crpix": (2048.5, 2048.5), "crval": (83.8221, -5.3911), "cd": rotated_cd(DEMO_SCALE, 0.5)}


@pytest.mark.parametrize("geometry", [
    DEMO,
    # a wide field near the pole, where the gnomonic projection is far from linear: pixels
    # 300 px from CRPIX are 15 deg away and a linear formula would be off by degrees
    {"crpix": (150.5, 120.0), "crval": (250.0, 75.0), "cd": rotated_cd(0.05, 30.0)},
    # across RA = 0/360 and the equator
    {"crpix": (10.0, 20.0), "crval": (359.999, -0.0002), "cd": rotated_cd(1e-4, -140.0)},
], ids=["demo-4mas", "wide-near-pole", "ra-wrap"])
def test_sky_positions_match_the_hand_computed_tan_projection(geometry):
    header = tan_header(geometry["crpix"], geometry["crval"], geometry["cd"])
    result = run_assign_wcs(wcs_model(header, (4096, 4096)))
    assert result.status == COMPLETE
    wcs = result.model.wcs
    pixels = [(0, 0), (4095, 4095), (0, 4095), (4095, 0), (1234.25, 3000.5), (17, 2),
              (geometry["crpix"][0] - 1, geometry["crpix"][1] - 1)]
    assert_sky(wcs, pixels, lambda x, y: hand_world(x, y, **geometry))


def test_pixels_are_0_based_array_indices():
    """Array index (0, 0) is FITS pixel (1, 1): with CRPIX = (1, 1) it is exactly CRVAL, and
    index (CRPIX - 1) is CRVAL for any CRPIX; one index step is one CD column."""
    cd = rotated_cd(DEMO_SCALE, 0.5)
    wcs = build_wcs(tan_header((1.0, 1.0), (83.8221, -5.3911), cd), (64, 64))
    ra, dec = wcs.all_pix2world([0.0], [0.0], 0)
    assert (ra[0], dec[0]) == pytest.approx((83.8221, -5.3911), abs=1e-12)
    wcs = build_wcs(tan_header((20.0, 7.5), (83.8221, -5.3911), cd), (64, 64))
    ra, dec = wcs.all_pix2world([19.0, 20.0], [6.5, 6.5], 0)
    assert (ra[0], dec[0]) == pytest.approx((83.8221, -5.3911), abs=1e-12)
    # one pixel along +x: dDec = CD2_1, dRA cos(Dec) = CD1_1 (to first order at 4 mas)
    assert (dec[1] - dec[0]) == pytest.approx(cd[1][0], rel=1e-6, abs=0)
    assert (ra[1] - ra[0]) * math.cos(math.radians(-5.3911)) == pytest.approx(cd[0][0], rel=1e-6, abs=0)
    # a 1-based slip would move every position by a whole 4 mas pixel: 4000x the tolerance
    slipped = hand_world(0 + 1, 0 + 1, crpix=(20.0, 7.5), crval=(83.8221, -5.3911), cd=cd)
    ra0, dec0 = wcs.all_pix2world([0.0], [0.0], 0)
    assert separation_arcsec((ra0[0], dec0[0]), slipped) > 3e-3


def test_cd_cdelt_pc_and_crota_forms_give_the_same_sky():
    crpix, crval = (33.0, 40.5), (210.0, 54.3)
    scale, angle = 0.01, 25.0
    cd = rotated_cd(scale, angle)
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))

    def header(**scale_keys):
        h = tan_header(crpix, crval, [[0, 0], [0, 0]])
        for key in ("CD1_1", "CD1_2", "CD2_1", "CD2_2"):
            del h[key]
        for key, value in scale_keys.items():
            h[key] = value
        return h

    forms = {
        "CD": header(CD1_1=cd[0][0], CD1_2=cd[0][1], CD2_1=cd[1][0], CD2_2=cd[1][1]),
        # CD = diag(CDELT) PC -> PC = [[c, -s], [s, c]] for CDELT = (-scale, scale)
        "PC+CDELT": header(CDELT1=-scale, CDELT2=scale, PC1_1=c, PC1_2=-s, PC2_1=s, PC2_2=c),
        # AIPS convention: CD = [[CDELT1 cos r, -CDELT2 sin r], [CDELT1 sin r, CDELT2 cos r]]
        "CDELT+CROTA2": header(CDELT1=-scale, CDELT2=scale, CROTA2=-angle),
    }
    pixels = [(0, 0), (63, 63), (5.5, 50.25), (32, 39.5)]
    for name, h in forms.items():
        wcs = build_wcs(h, (64, 64))
        assert_sky(wcs, pixels, lambda x, y: hand_world(x, y, crpix=crpix, crval=crval, cd=cd))
        assert pixel_scale_deg(wcs) == pytest.approx(scale, rel=1e-12, abs=0), name
    # CDELT alone (no rotation) is CD = diag(CDELT)
    plain = build_wcs(header(CDELT1=-scale, CDELT2=scale), (64, 64))
    diag = [[-scale, 0.0], [0.0, scale]]
    assert_sky(plain, pixels, lambda x, y: hand_world(x, y, crpix=crpix, crval=crval, cd=diag))


def test_radecsys_is_accepted_and_written_as_radesys():
    h = tan_header((4.5, 4.5), (83.8221, -5.3911), rotated_cd(DEMO_SCALE, 0.5))
    del h["RADESYS"]
    h["RADECSYS"] = "FK5"
    h["EQUINOX"] = 2000.0
    result = run_assign_wcs(wcs_model(h))
    assert result.status == COMPLETE
    wcs = result.model.wcs
    assert wcs.wcs.radesys == "FK5" and wcs.wcs.equinox == 2000.0
    sci = result.model.sci_header
    assert sci["RADESYS"] == "FK5" and "RADECSYS" not in sci
    assert_sky(wcs, [(0, 0), (7, 3)], lambda x, y: hand_world(
        x, y, crpix=(4.5, 4.5), crval=(83.8221, -5.3911), cd=rotated_cd(DEMO_SCALE, 0.5)))


def test_sip_coefficients_are_applied():
    """A_2_0 = 1e-4: at u = p1 - CRPIX1 = -50 the x offset grows by A_2_0 u² = 0.25 px."""
    crpix, crval, cd = (51.0, 41.0), (83.8221, -5.3911), rotated_cd(DEMO_SCALE, 0.5)
    h = tan_header(crpix, crval, cd, A_ORDER=2, A_2_0=1e-4, B_ORDER=2)
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    result = run_assign_wcs(wcs_model(h, (100, 120)))
    wcs = result.model.wcs
    a = {(2, 0): 1e-4}
    # array index (0, 40): FITS (1, 41): u = -50, v = 0 -> u' = -50 + 0.25 = -49.75
    assert sip_offset(a, -50.0, 0.0) == pytest.approx(0.25)
    assert_sky(wcs, [(0, 40), (99, 119), (50, 40), (20, 3)],
               lambda x, y: hand_world(x, y, crpix=crpix, crval=crval, cd=cd, sip_a=a))
    # and the distortion is really there: without it index 0 would be 0.25 px = 1 mas away
    ra, dec = wcs.all_pix2world([0.0], [40.0], 0)
    plain = hand_world(0, 40, crpix=crpix, crval=crval, cd=cd)
    assert separation_arcsec((ra[0], dec[0]), plain) == pytest.approx(0.25 * 0.004, rel=1e-3, abs=0)
    # the SCI header written by the step carries the SIP terms and rebuilds the same WCS
    sci = result.model.sci_header
    assert sci["A_2_0"] == 1e-4 and sci["CTYPE1"] == "RA---TAN-SIP"
    assert_sky(build_wcs(sci, (100, 120)), [(0, 40), (99, 119)],
               lambda x, y: hand_world(x, y, crpix=crpix, crval=crval, cd=cd, sip_a=a))


def test_missing_keywords_skip_the_step_and_name_them():
    h = tan_header((4.5, 4.5), (83.8221, -5.3911), rotated_cd(DEMO_SCALE, 0.5))
    for key in ("CRVAL2", "CD1_1", "CD1_2", "CD2_1", "CD2_2"):
        del h[key]
    model = wcs_model(h)
    result = run_assign_wcs(model)
    assert result.status == SKIPPED
    assert result.model.wcs is None
    assert "CRVAL2" in result.reason and "CDi_j or CDELT1/CDELT2" in result.reason
    assert "CRVAL1" not in result.reason and "CTYPE1" not in result.reason
    # a file with no WCS at all names every keyword it lacks
    bare = run_assign_wcs(make_model(np.zeros((2, 2))))
    assert bare.status == SKIPPED
    for key in ("CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2"):
        assert key in bare.reason


def test_wcs_keywords_that_are_not_celestial_are_a_clear_error():
    h = tan_header((4.5, 4.5), (1.0, 2.0), [[1, 0], [0, 1]])
    h["CTYPE1"], h["CTYPE2"] = "LINEAR", "LINEAR"
    with pytest.raises(InputError, match="CTYPE1/CTYPE2"):
        run_assign_wcs(wcs_model(h))


# ---- subarrays and the demo files ----------------------------------------------------------

def test_demo_subarray_wcs_agrees_with_the_full_frame_at_the_same_detector_pixel(demo_dataset):
    full = run_assign_wcs(read_image(demo_dataset.science)).model.wcs
    sub = run_assign_wcs(read_image(demo_dataset.subarray_science)).model.wcs
    window = demo_dataset.subarray_window
    size = demo_dataset.size
    geometry = {"crpix": (size / 2 + 0.5, size / 2 + 0.5), "crval": (83.8221, -5.3911),
                "cd": rotated_cd(DEMO_SCALE, 0.5)}
    sub_pixels = [(0, 0), (window.xsize - 1, window.ysize - 1), (13.5, 40.25)]
    for x, y in sub_pixels:
        fx, fy = x + window.xstart - 1, y + window.ystart - 1  # same detector pixel, full frame
        sra, sdec = sub.all_pix2world([x], [y], 0)
        fra, fdec = full.all_pix2world([fx], [fy], 0)
        assert separation_arcsec((sra[0], sdec[0]), (fra[0], fdec[0])) < 1e-9
        assert separation_arcsec((sra[0], sdec[0]), hand_world(fx, fy, **geometry)) \
            <= TOLERANCE_ARCSEC


# ---- the distortion reference ------------------------------------------------------------

def write_distortion(path, crpix=None, window=None, reftype="DISTORTION", sip=True):
    header = fits.Header()
    header["REFTYPE"] = reftype
    for key, value in {"TELESCOP": "TMT", "INSTRUME": "IRIS", "DETECTOR": "IMAGER"}.items():
        header[key] = value
    if sip:
        header["A_ORDER"], header["A_2_0"] = 2, 1e-4
        header["B_ORDER"], header["B_0_2"] = 2, -5e-5
    if crpix is not None:
        header["CRPIX1"], header["CRPIX2"] = crpix
    if window is not None:
        header["SUBARRAY"] = "FULL"
        header["SUBSTRT1"], header["SUBSTRT2"], header["SUBSIZE1"], header["SUBSIZE2"] = window
    fits.PrimaryHDU(header=header).writeto(path)
    return path


def test_distortion_reference_adds_sip_to_full_frames_and_subarrays(tmp_path):
    crpix, crval, cd = (51.0, 41.0), (83.8221, -5.3911), rotated_cd(DEMO_SCALE, 0.5)
    sip_a, sip_b = {(2, 0): 1e-4}, {(0, 2): -5e-5}
    refs = tmp_path / "refs"
    refs.mkdir()
    reference = write_distortion(refs / "distortion.fits", crpix=crpix, window=(1, 1, 100, 80))

    full = wcs_model(tan_header(crpix, crval, cd), (80, 100))
    result = run_assign_wcs(full, context_for(ref_dir=refs))  # chosen from the folder
    assert result.status == COMPLETE
    assert result.references == {"distortion": str(reference)}
    wcs = result.model.wcs
    assert list(wcs.wcs.ctype) == ["RA---TAN-SIP", "DEC--TAN-SIP"]
    assert_sky(wcs, [(0, 0), (99, 79), (10, 60.5)], lambda x, y: hand_world(
        x, y, crpix=crpix, crval=crval, cd=cd, sip_a=sip_a, sip_b=sip_b))

    # a 30x20 subarray at SUBSTRT = (21, 11): its CRPIX is relative to its own first pixel,
    # and the full-frame coefficients apply about the same detector pixel
    sub = make_model(np.zeros((20, 30)), window=(21, 11))
    for card in tan_header((crpix[0] - 20, crpix[1] - 10), crval, cd).cards:
        sub.header[card.keyword] = card.value
    sub_result = run_assign_wcs(sub, context_for(ref_dir=tmp_path / "elsewhere"),
                                override_distortion=str(reference))
    assert sub_result.references == {"distortion": str(reference)}
    assert_sky(sub_result.model.wcs, [(0, 0), (29, 19), (3.5, 8)], lambda x, y: hand_world(
        x + 20, y + 10, crpix=crpix, crval=crval, cd=cd, sip_a=sip_a, sip_b=sip_b))

    # no reference anywhere: the header WCS alone
    plain = run_assign_wcs(full, context_for(ref_dir=tmp_path / "elsewhere"))
    assert plain.references == {} and not plain.model.wcs.sip


def test_distortion_reference_problems_are_clear_errors(tmp_path):
    model = wcs_model(tan_header((51.0, 41.0), (83.8221, -5.3911), rotated_cd(DEMO_SCALE, 0.5)),
                      (80, 100))
    other_centre = write_distortion(tmp_path / "off.fits", crpix=(60.0, 41.0))
    with pytest.raises(InputError, match=r"off\.fits.*centred on detector pixel \(60, 41\)"):
        run_assign_wcs(model, override_distortion=str(other_centre))
    no_sip = write_distortion(tmp_path / "nosip.fits", sip=False)
    with pytest.raises(InputError, match=r"nosip\.fits.*no SIP keywords"):
        run_assign_wcs(model, override_distortion=str(no_sip))
    a_flat = write_distortion(tmp_path / "flat.fits", reftype="FLAT")
    with pytest.raises(InputError, match=r"flat\.fits is a flat reference, not a distortion"):
        run_assign_wcs(model, override_distortion=str(a_flat))
    with pytest.raises(InputError, match="does not exist"):
        run_assign_wcs(model, override_distortion=str(tmp_path / "absent.fits"))


# ---- pixel geometry --------------------------------------------------------------------------

def test_pixel_area_scale_and_position_angle_by_hand():
    cd = [[-2e-6, 3e-7], [5e-7, 1.5e-6]]
    wcs = build_wcs(tan_header((4.5, 4.5), (10.0, 20.0), cd), (8, 8))
    det = abs(-2e-6 * 1.5e-6 - 3e-7 * 5e-7)  # 3.15e-12 deg²
    assert pixel_area_sr(wcs) == pytest.approx(det * (math.pi / 180) ** 2, rel=1e-12, abs=0)
    # the demo's rotated 4 mas pixels: (0.004")² = 1.6e-5 arcsec² = 3.7606e-16 sr
    demo = build_wcs(tan_header(DEMO["crpix"], DEMO["crval"], DEMO["cd"]), (16, 16))
    assert pixel_area_sr(demo) == pytest.approx(1.6e-5 / 206264.80624709636**2, rel=1e-12, abs=0)
    assert pixel_scale_deg(demo) * 3.6e6 == pytest.approx(4.0, rel=1e-12, abs=0)
    assert position_angle_deg(demo) == pytest.approx(0.5, abs=1e-12)
    # first-order SIP terms stretch the pixel: area x det(I + J) = (1 + A_1_0)(1 + B_0_1)
    h = tan_header((4.5, 4.5), (10.0, 20.0), [[-1e-6, 0], [0, 1e-6]], A_ORDER=2, A_1_0=0.02,
                   B_ORDER=2, B_0_1=-0.01)
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    stretched = build_wcs(h, (8, 8))
    assert pixel_area_sr(stretched) == pytest.approx(
        1e-12 * 1.02 * 0.99 * (math.pi / 180) ** 2, rel=1e-12, abs=0)


def test_output_grid_is_north_up_holds_the_input_and_centres_on_it():
    crpix, crval, cd = (40.5, 30.5), (83.8221, -5.3911), rotated_cd(DEMO_SCALE, 20.0)
    in_wcs = build_wcs(tan_header(crpix, crval, cd), (60, 80))
    out_wcs, (ny, nx) = output_grid(in_wcs, (60, 80))
    # north up, east left, same scale
    np.testing.assert_allclose(out_wcs.pixel_scale_matrix,
                               [[-DEMO_SCALE, 0], [0, DEMO_SCALE]], rtol=0, atol=1e-18)
    # the input is 80x60 rotated by 20 deg: 80 cos + 60 sin = 95.7, 80 sin + 60 cos = 83.7
    assert (nx, ny) == (96, 84)
    # crval is the sky position of the input's centre, 0-based ((80-1)/2, (60-1)/2)
    assert tuple(out_wcs.wcs.crval) == pytest.approx(
        hand_world(39.5, 29.5, crpix=crpix, crval=crval, cd=cd), abs=1e-12)
    # every input corner lands inside the output array (pixel edges at -0.5 .. n - 0.5)
    corners = np.array([[-0.5, -0.5], [79.5, -0.5], [-0.5, 59.5], [79.5, 59.5]])
    ox, oy = map_pixels(in_wcs, out_wcs, corners[:, 0], corners[:, 1])
    assert ox.min() >= -0.5 and ox.max() <= nx - 0.5 and oy.min() >= -0.5 and oy.max() <= ny - 0.5
    assert ox.max() - ox.min() > nx - 1 and oy.max() - oy.min() > ny - 1  # and fills it
    # rotation None keeps the detector orientation; explicit crpix (1-based) and shape
    kept, shape = output_grid(in_wcs, (60, 80), rotation=None, crpix=(5.0, 6.0),
                              crval=(83.82, -5.39), output_shape=(20, 30))
    assert shape == (30, 20)
    assert position_angle_deg(kept) == pytest.approx(20.0, abs=1e-9)
    ra, dec = kept.all_pix2world([4.0], [5.0], 0)
    assert (ra[0], dec[0]) == pytest.approx((83.82, -5.39), abs=1e-12)
    half, _ = output_grid(in_wcs, (60, 80), pixel_scale_ratio=0.5)
    assert pixel_scale_deg(half) == pytest.approx(DEMO_SCALE / 2, rel=1e-12, abs=0)
    absolute, _ = output_grid(in_wcs, (60, 80), pixel_scale=0.01)
    assert pixel_scale_deg(absolute) * 3600 == pytest.approx(0.01, rel=1e-12, abs=0)


# ---- the pixel map -----------------------------------------------------------------------------

def sip_header(crpix, crval, cd, order, **terms) -> fits.Header:
    h = tan_header(crpix, crval, cd, A_ORDER=order, B_ORDER=order, **terms)
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    return h


@pytest.mark.parametrize("terms, coarsest", [
    # quadratic distortion of ~0.2 px at the edges: the first 64 px grid is enough
    ({"A_2_0": 2e-6, "B_0_2": -1.5e-6, "B_1_1": 1e-6}, 64),
    # a fifth-order term the cubic interpolation cannot follow on a 64 px grid: refined
    ({"A_2_0": 2e-6, "B_0_2": -1.5e-6, "A_5_0": 1e-13, "B_2_3": -1e-13, "A_1_4": 5e-14}, 16),
], ids=["quadratic", "quintic"])
def test_interpolated_pixel_map_matches_full_evaluation(terms, coarsest):
    """512² frame, rotated by 30 deg and distorted, onto the north-up grid."""
    order = 5 if "A_5_0" in terms else 2
    in_wcs = build_wcs(sip_header((200.5, 300.25), (83.8221, -5.3911),
                                  rotated_cd(DEMO_SCALE, 30.0), order, **terms), (512, 512))
    out_wcs, _ = output_grid(in_wcs, (512, 512))

    def transform(x, y):
        return map_pixels(in_wcs, out_wcs, x, y)

    exact = exact_pixel_map(transform, (512, 512))
    interpolated, step, check_error = interpolated_pixel_map(transform, (512, 512))
    assert 1 < step <= coarsest  # interpolated, not evaluated everywhere
    assert np.abs(interpolated - exact).max() <= 1e-6
    np.testing.assert_array_equal(pixel_map(in_wcs, out_wcs, (512, 512)), interpolated)
    # the full evaluation is what the FITS standard says: spot checks through the sky by hand
    for x, y in ((0, 0), (511, 3), (250, 400)):
        sky = hand_world(x, y, crpix=(200.5, 300.25), crval=(83.8221, -5.3911),
                         cd=rotated_cd(DEMO_SCALE, 30.0),
                         sip_a={tuple(map(int, k[2:].split("_"))): v for k, v in terms.items()
                                if k.startswith("A_")},
                         sip_b={tuple(map(int, k[2:].split("_"))): v for k, v in terms.items()
                                if k.startswith("B_")})
        back = out_wcs.wcs_world2pix([sky[0]], [sky[1]], 0)
        assert exact[y, x] == pytest.approx([back[0][0], back[1][0]], abs=1e-6)


def test_pixel_map_of_a_pure_rotation_by_hand():
    """Same tangent point and scale, input at 30 deg, output north up: out - c = R (in - c)
    exactly, with c the common reference pixel (0-based CRPIX - 1)."""
    crpix, crval = (300.5, 200.5), (83.8221, -5.3911)
    in_wcs = build_wcs(tan_header(crpix, crval, rotated_cd(DEMO_SCALE, 30.0)), (512, 512))
    out_wcs = build_wcs(tan_header(crpix, crval, rotated_cd(DEMO_SCALE, 0.0)), (512, 512))
    pixmap = pixel_map(in_wcs, out_wcs, (512, 512))
    y, x = np.mgrid[0:512, 0:512].astype(float)
    c, s = math.cos(math.radians(30.0)), math.sin(math.radians(30.0))
    dx, dy = x - (crpix[0] - 1), y - (crpix[1] - 1)
    # intermediate coordinates agree: CD_out (out - c) = CD_in (in - c), so
    # out - c = CD_out^-1 CD_in (in - c) = [[-1, 0], [0, 1]] [[-c, s], [s, c]] (in - c)
    #         = [[c, -s], [s, c]] (in - c)
    expected_x = (crpix[0] - 1) + c * dx - s * dy
    expected_y = (crpix[1] - 1) + s * dx + c * dy
    assert np.abs(pixmap[..., 0] - expected_x).max() <= 1e-6
    assert np.abs(pixmap[..., 1] - expected_y).max() <= 1e-6


def test_strong_distortion_falls_back_to_full_evaluation():
    in_wcs = build_wcs(sip_header((200.5, 300.25), (83.8221, -5.3911),
                                  rotated_cd(DEMO_SCALE, 30.0), 5, A_5_0=1e-10), (256, 256))
    out_wcs, _ = output_grid(in_wcs, (256, 256))

    def transform(x, y):
        return map_pixels(in_wcs, out_wcs, x, y)

    pixmap, step, _ = interpolated_pixel_map(transform, (256, 256))
    assert step == 1
    np.testing.assert_array_equal(pixmap, exact_pixel_map(transform, (256, 256)))
