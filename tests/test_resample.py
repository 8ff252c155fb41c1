"""resample: drizzle onto the north-up grid, checked against answers worked out by hand.

Geometry used below: two TAN WCSs with the same tangent point (CRVAL) and pixel scale differ
only in CRPIX and the CD rotation, so the input -> output pixel map is exactly affine:
CD_out (out - crpix_out) = CD_in (in - crpix_in). With the square kernel and pixfrac 1 an
output pixel is the overlap-area-weighted mean of the input pixels it covers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from factories import context_for, make_model

from iris_gui.engine.association import load_association
from iris_gui.engine.config import PipelineConfig
from iris_gui.engine.dq import DO_NOT_USE, DQ_FLAGS
from iris_gui.engine.errors import ParameterError
from iris_gui.engine.models import read_image
from iris_gui.engine.pipeline import Image2Pipeline
from iris_gui.engine.steps import COMPLETE, STEP_BY_NAME
from iris_gui.engine.steps.resample import parse_good_bits, resample_model
from iris_gui.engine.wcs import build_wcs, pixel_scale_deg

SCALE = 0.004 / 3600.0  # 4 mas
CRVAL = (83.8221, -5.3911)
EXPTIME = 10.0
SATURATED = DQ_FLAGS["SATURATED"]
DEAD = DQ_FLAGS["DEAD"]


def rotated_cd(scale: float, angle_deg: float) -> list[list[float]]:
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return [[-scale * c, scale * s], [scale * s, scale * c]]


def wcs_keywords(crpix, angle_deg=0.0, scale=SCALE) -> dict:
    cd = rotated_cd(scale, angle_deg)
    return {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRPIX1": crpix[0], "CRPIX2": crpix[1],
            "CRVAL1": CRVAL[0], "CRVAL2": CRVAL[1], "CD1_1": cd[0][0], "CD1_2": cd[0][1],
            "CD2_1": cd[1][0], "CD2_2": cd[1][1], "RADESYS": "ICRS"}


def tan_wcs(crpix, shape, angle_deg=0.0, scale=SCALE):
    header = fits.Header()
    for key, value in wcs_keywords(crpix, angle_deg, scale).items():
        header[key] = value
    return build_wcs(header, shape)


def sky_model(data, crpix, angle_deg=0.0, err=None, dq=None, bunit="MJy/sr"):
    data = np.asarray(data, np.float32)
    err = np.ones_like(data) if err is None else err
    model = make_model(data, err, dq, EFFINTTM=EXPTIME, EXPTIME=EXPTIME, BUNIT=bunit,
                       **wcs_keywords(crpix, angle_deg))
    model.wcs = build_wcs(model.header, data.shape[-2:])
    return model


def gaussian(x, y, x0, y0, sigma, amplitude=1.0):
    return amplitude * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))


# ---- known images -------------------------------------------------------------------------

def test_pure_shift_is_bilinear_overlap_and_the_shifted_blob():
    """Output = input moved by (+0.3, +0.6) px. Output pixel (i, j) covers input x in
    [i - 0.8, i + 0.2] and y in [j - 1.1, j - 0.1]: 0.3 of column i-1 and 0.7 of column i,
    0.6 of row j-1 and 0.4 of row j."""
    dx, dy = 0.3, 0.6
    ny, nx, sigma = 36, 40, 4.0
    y, x = np.mgrid[0:ny, 0:nx].astype(float)
    blob = gaussian(x, y, 19.2, 16.7, sigma)
    model = sky_model(blob, crpix=(20.0, 18.0))
    # one more output row and column, so the shifted input lies wholly inside the output
    # (drizzle drops input pixels that hang over the output's edge by more than half a pixel)
    out_wcs = tan_wcs((20.0 + dx, 18.0 + dy), (ny + 1, nx + 1))
    out, _ = resample_model(model, out_wcs, (ny + 1, nx + 1))
    interior = (slice(1, ny), slice(1, nx))
    v = blob.astype(np.float32).astype(float)
    expected = ((1 - dx) * (1 - dy) * v[1:, 1:] + dx * (1 - dy) * v[1:, :-1]
                + (1 - dx) * dy * v[:-1, 1:] + dx * dy * v[:-1, :-1])
    np.testing.assert_allclose(out.data[interior], expected, rtol=0, atol=2e-7)
    # against the analytically shifted blob: bilinear interpolation is off by at most
    # (h²/8)(max|f_xx| + max|f_yy|) = 2 / (8 sigma²) for a unit Gaussian (h = 1 px)
    oy, ox = np.mgrid[0:ny + 1, 0:nx + 1].astype(float)
    analytic = gaussian(ox, oy, 19.2 + dx, 16.7 + dy, sigma)
    bound = 2.0 / (8 * sigma**2)  # 0.0156
    assert np.abs(out.data - analytic)[interior].max() <= bound
    # a slip of a whole pixel would be seen: the blob's slope reaches 0.15 per pixel
    slipped = gaussian(ox, oy, 19.2 + dx + 1, 16.7 + dy, sigma)
    assert np.abs(out.data - slipped)[interior].max() > 4 * bound
    # weights: every interior output pixel is fully covered, each overlap times EFFINTTM
    wht = out.extra_arrays["WHT"]
    np.testing.assert_allclose(wht[interior], EXPTIME, rtol=1e-6)
    # corners: output (0, 0) sees 0.7 of column 0 times 0.4 of row 0; output (nx, ny) sees
    # 0.3 of the last column times 0.6 of the last row
    np.testing.assert_allclose(wht[0, 0], (1 - dx) * (1 - dy) * EXPTIME, rtol=1e-5)
    np.testing.assert_allclose(wht[ny, nx], dx * dy * EXPTIME, rtol=1e-5)
    # ERR: variance drizzled with squared weights; ERR = 1 everywhere ->
    # sqrt((0.7² + 0.3²) (0.4² + 0.6²)) = sqrt(0.58 * 0.52) = 0.549181
    np.testing.assert_allclose(out.err[interior], math.sqrt(0.58 * 0.52), rtol=1e-5)


def test_quarter_turn_maps_pixels_onto_pixels():
    """Input north up, output with +y 90 deg east of north, both with the reference pixel at
    0-based (15, 15): out - c = [[0, 1], [-1, 0]] (in - c), so out[30 - i, j] = in[j, i]."""
    n = 31
    rng = np.random.default_rng(3)
    image = rng.uniform(1.0, 2.0, (n, n)).astype(np.float32)
    model = sky_model(image, crpix=(16.0, 16.0))
    out, _ = resample_model(model, tan_wcs((16.0, 16.0), (n, n), angle_deg=90.0), (n, n))
    j, i = np.mgrid[0:n, 0:n]
    expected = np.empty_like(image)
    expected[30 - i, j] = image[j, i]
    np.testing.assert_allclose(out.data, expected, rtol=1e-5)
    np.testing.assert_allclose(out.extra_arrays["WHT"], EXPTIME, rtol=1e-5)


def sawtooth_mean_bound(angle_deg: float) -> float:
    """Largest |mean of (p - nearest input pixel centre)| along one axis over an output pixel
    rotated by ``angle_deg`` against the input grid.

    The position along x of a uniform point in the rotated unit square is the sum of two uniform
    variables of widths |cos a| and |sin a|; the sawtooth p - round(p) has Fourier amplitudes
    1/(pi k), so its mean is at most sum_k |sinc(k cos a) sinc(k sin a)| / (pi k).
    """
    c, s = abs(math.cos(math.radians(angle_deg))), abs(math.sin(math.radians(angle_deg)))

    def sinc(t):
        return 1.0 if t == 0 else math.sin(math.pi * t) / (math.pi * t)

    return sum(abs(sinc(k * c) * sinc(k * s)) / (math.pi * k) for k in range(1, 20000))


def test_rotation_recovers_the_rotated_blob():
    """Input at 30 deg, output north up, centred on the same sky point: a Gaussian blob off the
    rotation centre must come out where the rotation puts it, with the same total flux."""
    angle, sigma = 30.0, 6.0
    n_in, n_out = 80, 96
    c_in, c_out = 39.5, 47.5  # 0-based reference pixels
    y, x = np.mgrid[0:n_in, 0:n_in].astype(float)
    x0, y0 = 52.3, 31.6
    blob = gaussian(x, y, x0, y0, sigma)
    model = sky_model(blob, crpix=(c_in + 1, c_in + 1), angle_deg=angle)
    out, _ = resample_model(model, tan_wcs((c_out + 1, c_out + 1), (n_out, n_out)),
                            (n_out, n_out))
    ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))

    def to_output(px, py):  # out - c_out = [[c, -s], [s, c]] (in - c_in)
        return (c_out + ca * (px - c_in) - sa * (py - c_in),
                c_out + sa * (px - c_in) + ca * (py - c_in))

    def to_input(px, py):
        return (c_in + ca * (px - c_out) + sa * (py - c_out),
                c_in - sa * (px - c_out) + ca * (py - c_out))

    oy, ox = np.mgrid[0:n_out, 0:n_out].astype(float)
    qx, qy = to_input(ox, oy)
    analytic = gaussian(qx, qy, x0, y0, sigma)
    inside = (qx > 1) & (qx < n_in - 2) & (qy > 1) & (qy < n_in - 2)
    # Tolerance: an output pixel is a convex mix of f at the input centres it overlaps.
    # Expanding f about q (the output centre in input coordinates): the first-order term is
    # grad f . d, d = mean over the output pixel of (nearest input centre - p), each component
    # bounded by sawtooth_mean_bound (0.034 at 30 deg); the second-order term is at most
    # 1/2 max|H| E|c - q|², with E|c - q|² <= (sqrt(1/6) + sqrt(1/2))² = 1.244.
    # For a unit Gaussian max|grad f| = exp(-1/2) / sigma and max|H| = 1 / sigma².
    d = sawtooth_mean_bound(angle)
    bound = math.sqrt(2) * d * math.exp(-0.5) / sigma + 0.5 * 1.244 / sigma**2  # 0.022
    error = np.abs(out.data - analytic)[inside]
    assert error.max() <= bound
    # ... tight enough to see a one-pixel slip (slope up to 0.1 per pixel) or a wrong sense
    slipped = gaussian(qx + 1, qy, x0, y0, sigma)
    assert np.abs(out.data - slipped)[inside].max() > 3 * bound
    # flux: every input pixel lands wholly inside the output and pixel areas are equal, so the
    # sum is conserved exactly (up to float32 rounding)
    assert np.nansum(out.data, dtype=np.float64) == pytest.approx(blob.sum(), rel=1e-5, abs=0)
    # centroid: each input pixel's flux lands around its mapped centre, displaced by at most the
    # same sawtooth mean in each axis
    total = np.nansum(out.data, dtype=np.float64)
    cx = np.nansum(out.data * ox) / total
    cy = np.nansum(out.data * oy) / total
    ex, ey = to_output(float((blob * x).sum() / blob.sum()), float((blob * y).sum() / blob.sum()))
    assert abs(cx - ex) <= d and abs(cy - ey) <= d


@pytest.mark.parametrize("bunit, value, err", [("MJy/sr", 4.0, 1.0), ("DN/s", 1.0, 0.25)])
def test_finer_output_grid_keeps_surface_brightness_and_splits_rates(bunit, value, err):
    """Output pixels half the size, aligned so each lies inside one input pixel (input 4.0 +- 1
    everywhere). Surface brightness keeps its value and error; a rate per pixel is split by
    the area ratio 1/4, value and error alike (the four quarters are the same measurement)."""
    model = sky_model(np.full((10, 10), 4.0), crpix=(5.5, 5.5), bunit=bunit,
                      err=np.ones((10, 10), np.float32))
    # output index j <-> input position 4.5 + (j - 9.5) / 2: pixel 9 covers input 4.0 .. 4.5
    out, _ = resample_model(model, tan_wcs((10.5, 10.5), (20, 20), scale=SCALE / 2), (20, 20))
    np.testing.assert_allclose(out.data, value, rtol=1e-6)
    np.testing.assert_allclose(out.err, err, rtol=1e-6)
    np.testing.assert_allclose(out.extra_arrays["WHT"], EXPTIME / 4, rtol=1e-6)
    assert out.header["PXSCLRT"] == pytest.approx(0.5, rel=1e-12, abs=0)


# ---- DQ, weights and good_bits -------------------------------------------------------------

def flagged_model():
    """10x10 of 2.0 with: a DO_NOT_USE+DEAD pixel of 1e30 at (row 4, col 4); a 2x2 block of
    DO_NOT_USE 1e30 pixels at rows 7-8, cols 1-2; a SATURATED (still good) pixel at (2, 6);
    an unflagged NaN at (6, 6)."""
    data = np.full((10, 10), 2.0, np.float32)
    dq = np.zeros((10, 10), np.uint32)
    data[4, 4], dq[4, 4] = 1e30, DO_NOT_USE | DEAD
    data[7:9, 1:3], dq[7:9, 1:3] = 1e30, DO_NOT_USE
    dq[2, 6] = SATURATED
    data[6, 6] = np.nan
    return sky_model(data, crpix=(5.0, 5.0), dq=dq)


def shifted_half(model, **kwargs):
    """Resample shifted by (+0.5, +0.5): output (row, col) = mean of input rows row-1, row and
    columns col-1, col (the good ones)."""
    return resample_model(model, tan_wcs((5.5, 5.5), (11, 11)), (11, 11), **kwargs)[0]


def test_flagged_pixels_are_excluded_and_uncovered_pixels_flagged():
    out = shifted_half(flagged_model())
    wht, dq = out.extra_arrays["WHT"], out.dq
    # nothing leaks: every output value is 2 or NaN
    finite = np.isfinite(out.data)
    np.testing.assert_allclose(out.data[finite], 2.0, rtol=1e-6)
    # around the 1e30 DO_NOT_USE+DEAD pixel: 3 of 4 quarter overlaps, and none of its DQ bits
    for row, col in ((4, 4), (4, 5), (5, 4), (5, 5)):
        assert wht[row, col] == pytest.approx(0.75 * EXPTIME)
        assert dq[row, col] == 0
    # the output pixel covering only the flagged 2x2 block got nothing: WHT 0, DO_NOT_USE, NaN
    assert wht[8, 2] == 0 and dq[8, 2] & DO_NOT_USE and np.isnan(out.data[8, 2])
    assert wht[8, 1] == pytest.approx(0.5 * EXPTIME) and dq[8, 1] == 0
    # the unflagged NaN is excluded too
    for row, col in ((6, 6), (6, 7), (7, 6), (7, 7)):
        assert wht[row, col] == pytest.approx(0.75 * EXPTIME)
    # the SATURATED pixel counts (default good_bits) and its flag is OR-ed into its outputs
    for row, col in ((2, 6), (2, 7), (3, 6), (3, 7)):
        assert wht[row, col] == pytest.approx(EXPTIME) and dq[row, col] == SATURATED
    assert np.count_nonzero(dq & SATURATED) == 4
    # edges: the corner output pixel overlaps one input quarter
    assert wht[0, 0] == pytest.approx(0.25 * EXPTIME)
    # only the uncovered pixel carries DO_NOT_USE, and it is the only one with WHT 0
    assert np.array_equal((dq & DO_NOT_USE) != 0, wht == 0)
    assert np.count_nonzero(wht == 0) == 1
    # the CON (context) extension marks the one input wherever it contributed
    np.testing.assert_array_equal(out.extra_arrays["CON"], (wht > 0).astype(np.int32))


def test_good_bits_decide_which_flags_still_count():
    only_clean = shifted_half(flagged_model(), good_bits=parse_good_bits("0"))
    for row, col in ((2, 6), (2, 7), (3, 6), (3, 7)):  # the SATURATED pixel is now excluded
        assert only_clean.extra_arrays["WHT"][row, col] == pytest.approx(0.75 * EXPTIME)
        assert only_clean.dq[row, col] == 0
    everything = shifted_half(flagged_model(), good_bits=parse_good_bits("~0"))
    assert everything.data[4, 4] > 1e29  # told that DO_NOT_USE is good, it is used


@pytest.mark.parametrize("text, mask", [
    ("~DO_NOT_USE+NON_SCIENCE", 0xFFFFFFFF & ~(1 | 512)),
    ("~DO_NOT_USE", 0xFFFFFFFE),
    ("SATURATED,JUMP_DET", 6),
    ("saturated+jump_det", 6),
    ("6", 6),
    ("0x6", 6),
    ("0", 0),
    ("", 0),
    (None, 0),
    ("~0", 0xFFFFFFFF),
    (" ~ 6 ", 0xFFFFFFF9),
])
def test_parse_good_bits(text, mask):
    assert parse_good_bits(text) == mask


@pytest.mark.parametrize("text", ["NOT_A_FLAG", "-1", "4294967296", "~SATURATED+BOGUS"])
def test_parse_good_bits_rejects_nonsense(text):
    with pytest.raises(ParameterError, match="good_bits"):
        parse_good_bits(text)


def test_default_good_bits_exclude_do_not_use_and_non_science():
    default = STEP_BY_NAME["resample"].defaults()["good_bits"]
    mask = parse_good_bits(default)
    assert not mask & DO_NOT_USE and not mask & DQ_FLAGS["NON_SCIENCE"]
    assert mask | DO_NOT_USE | DQ_FLAGS["NON_SCIENCE"] == 0xFFFFFFFF


# ---- flux conservation on the demo stars ---------------------------------------------------

@pytest.fixture(scope="module")
def demo_run(demo_dataset, tmp_path_factory):
    """The default pipeline on the demo full-frame product, outputs written."""
    out = tmp_path_factory.mktemp("resample_out")
    association = load_association(demo_dataset.asn)
    association.products = [p for p in association.products if p.name == "iris_demo"]
    result = Image2Pipeline(PipelineConfig(), output_dir=out, cache=False).run(association)[0]
    assert result.ok
    return result, out


def aperture_sum(image, x, y, radius):
    yy, xx = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    inside = (xx - x) ** 2 + (yy - y) ** 2 <= radius**2
    return float(np.sum(image[inside], dtype=np.float64)), inside


def isolated_stars(dataset, distance):
    stars = dataset.stars
    return [s for s in stars if all(math.hypot(s.x - o.x, s.y - o.y) > distance
                                    for o in stars if o is not s)]


def test_square_kernel_conserves_the_flux_of_the_demo_stars(demo_dataset, demo_run):
    """Aperture sums (radius 10 px = 8 sigma of the PSF) of the _i2d against the _cal, for the
    bright isolated stars whose aperture holds no DO_NOT_USE pixel."""
    result, out_dir = demo_run
    cal = read_image(out_dir / "iris_demo_cal.fits")
    i2d = read_image(out_dir / "iris_demo_i2d.fits")
    cal_wcs, i2d_wcs = build_wcs(cal.header, cal.image_shape), build_wcs(i2d.header, i2d.image_shape)
    # equal pixel areas (pixel_scale_ratio 1), MJy/sr in both: sums compare directly
    assert pixel_scale_deg(i2d_wcs) == pytest.approx(pixel_scale_deg(cal_wcs), rel=1e-12, abs=0)
    radius, checked = 10.0, 0
    size = demo_dataset.size
    for star in isolated_stars(demo_dataset, 2 * radius + 2):
        if star.flux < 5000 or not (radius < star.x < size - 1 - radius
                                    and radius < star.y < size - 1 - radius):
            continue  # below 5000 DN/s the noise of the aperture edge reaches 0.05 %
        cal_sum, inside = aperture_sum(cal.data, star.x, star.y, radius)
        if np.any(cal.dq[inside] & DO_NOT_USE):
            continue
        ra, dec = cal_wcs.all_pix2world([star.x], [star.y], 0)
        ox, oy = i2d_wcs.all_world2pix(ra, dec, 0)
        i2d_sum, _ = aperture_sum(i2d.data, ox[0], oy[0], radius)
        assert i2d_sum == pytest.approx(cal_sum, rel=1e-3, abs=0), star
        # and both are the true flux (MJy/sr) to the accuracy of the calibration
        assert i2d_sum / demo_dataset.photmjsr == pytest.approx(star.flux, rel=5e-3, abs=0)
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("ratio, bunit", [(1.0, "MJy/sr"), (0.5, "MJy/sr"), (0.5, "DN/s")])
def test_noiseless_demo_stars_keep_their_flux(demo_dataset, ratio, bunit):
    """The truth star image (no sky, no noise) with the demo WCS, through the resample step:
    each isolated star's aperture sum is its true flux. Surface brightness keeps its value on
    smaller pixels (the sum scales with the pixel area, ratio²); DN/s per pixel is scaled by
    the area so the plain sum is conserved."""
    science = read_image(demo_dataset.science)
    model = science.derive(data=demo_dataset.star_image.copy(),
                           err=np.ones_like(science.err), dq=np.zeros_like(science.dq))
    model.header["BUNIT"] = bunit
    model.sci_header["BUNIT"] = bunit
    model.wcs = build_wcs(model.header, model.image_shape)
    values = STEP_BY_NAME["resample"].defaults()
    values["pixel_scale_ratio"] = ratio
    result = STEP_BY_NAME["resample"].run(model, values, context_for())
    assert result.status == COMPLETE
    i2d = result.products["i2d"]
    out_wcs = i2d.wcs
    area_factor = ratio**2 if bunit == "MJy/sr" else 1.0
    checked = 0
    for star in isolated_stars(demo_dataset, 20):
        ra, dec = model.wcs.all_pix2world([star.x], [star.y], 0)
        ox, oy = out_wcs.all_world2pix(ra, dec, 0)
        total, _ = aperture_sum(np.nan_to_num(i2d.data), ox[0], oy[0], 9.0 / ratio)
        assert total * area_factor == pytest.approx(star.flux, rel=1e-4, abs=0), star
        checked += 1
    assert checked >= 5  # faint ones too: 100 .. 50000 DN/s


# ---- the written _i2d and the untouched _cal ------------------------------------------------

def test_i2d_file_has_wht_con_and_the_output_wcs(demo_dataset, demo_run):
    result, out_dir = demo_run
    path = out_dir / "iris_demo_i2d.fits"
    with fits.open(path) as hdul:
        names = [hdu.name for hdu in hdul]
        assert names[:6] == ["PRIMARY", "SCI", "ERR", "DQ", "WHT", "CON"]
        sci, wht, con = hdul["SCI"].data, hdul["WHT"].data, hdul["CON"].data
        primary, sci_header = hdul[0].header, hdul["SCI"].header
        assert wht.shape == sci.shape == con.shape and wht.dtype.kind == "f"
        assert con.dtype.kind == "i"
    assert primary["S_RESAMP"] == COMPLETE
    # one input: CON is 1 exactly where WHT > 0; elsewhere NaN SCI and DO_NOT_USE
    np.testing.assert_array_equal(con, (wht > 0).astype(con.dtype))
    i2d = read_image(path)
    uncovered = wht == 0
    assert uncovered.any() and np.isnan(i2d.data[uncovered]).all()
    assert np.all(i2d.dq[uncovered] & DO_NOT_USE)
    # the output WCS, in the primary and SCI headers alike: north up, 4 mas, centred on the
    # input's centre, which by the demo's construction (CRPIX = size/2 + 0.5) is CRVAL
    size = demo_dataset.size
    for header in (primary, sci_header):
        wcs = build_wcs(header, sci.shape)
        np.testing.assert_allclose(wcs.pixel_scale_matrix, [[-SCALE, 0], [0, SCALE]],
                                   rtol=0, atol=1e-18)
        ra, dec = wcs.all_pix2world([header["CRPIX1"] - 1], [header["CRPIX2"] - 1], 0)
        assert (ra[0], dec[0]) == pytest.approx(CRVAL, abs=1e-12)
    # 256 px rotated 0.5 deg: 256 (cos + sin) = 258.2 -> 259 px
    assert sci.shape == (259, 259)
    assert i2d.header["SUBARRAY"] == "FULL" and i2d.header["PXSCLRT"] == 1.0
    # the flux-conservation test above uses this very file; its stars sit where the WCS says
    assert size == 256


def test_the_cal_stays_unrectified(demo_dataset, demo_run):
    result, out_dir = demo_run
    cal = read_image(out_dir / "iris_demo_cal.fits")
    assert cal.header["S_RESAMP"] == COMPLETE
    assert cal.data.shape == (demo_dataset.size, demo_dataset.size)
    # the resample step hands on photom's arrays untouched ...
    photom = result.steps["photom"].model
    assert result.steps["resample"].model.data is photom.data
    np.testing.assert_array_equal(cal.data, photom.data)
    np.testing.assert_array_equal(cal.dq, photom.dq)
    # ... and the _cal keeps the detector WCS (0.5 deg, CRPIX at the array centre)
    for header in (cal.header, cal.sci_header):
        wcs = build_wcs(header, cal.image_shape)
        assert math.degrees(math.atan2(wcs.pixel_scale_matrix[1, 0],
                                       wcs.pixel_scale_matrix[1, 1])) == pytest.approx(0.5)
        assert header["CRPIX1"] == demo_dataset.size / 2 + 0.5
    assert "PIXFRAC" not in cal.header and "WHT" not in cal.extra_arrays


@pytest.mark.parametrize("kernel", ["square", "point", "turbo", "gaussian", "lanczos2",
                                    "lanczos3"])
def test_every_kernel_runs_and_non_conserving_ones_say_so(kernel):
    rng = np.random.default_rng(5)
    model = sky_model(rng.uniform(1, 2, (24, 24)), crpix=(12.5, 12.5), angle_deg=10.0)
    values = STEP_BY_NAME["resample"].defaults()
    values["kernel"] = kernel
    result = STEP_BY_NAME["resample"].run(model, values, context_for())
    assert result.status == COMPLETE
    i2d = result.products["i2d"]
    wht = i2d.extra_arrays["WHT"]
    assert np.isfinite(i2d.data[wht > 0]).all() and np.isnan(i2d.data[wht == 0]).all()
    # values between 1 and 2 stay there in the well-covered middle (lanczos rings at the edges)
    middle = i2d.data[8:-8, 8:-8]
    assert np.nanmin(middle) >= 0.5 and np.nanmax(middle) <= 2.5  # point: holes are NaN
    warned = any("does not conserve flux" in w for w in result.warnings)
    assert warned == (kernel in ("gaussian", "lanczos2", "lanczos3"))


# ---- several integrations ------------------------------------------------------------------

def test_integrations_are_combined_as_their_weighted_mean_with_one_context_bit_each():
    """Three integrations of a rotated, SIP-distorted 130x96 frame with ivm weights and NaN /
    flagged pixels differing per integration (a 6x6 hole in the last): the _i2d is the
    WHT-weighted mean of the three single-integration results, WHT their sum, and CON has bit
    k wherever integration k contributed."""
    ny, nx, nints = 130, 96, 3
    rng = np.random.default_rng(11)
    data = rng.uniform(1.0, 3.0, (nints, ny, nx)).astype(np.float32)
    err = rng.uniform(0.1, 0.2, (nints, ny, nx)).astype(np.float32)
    dq = np.zeros((nints, ny, nx), np.uint32)
    for k in range(nints):
        data[k, rng.integers(0, ny, 30), rng.integers(0, nx, 30)] = np.nan
        dq[k, rng.integers(0, ny, 30), rng.integers(0, nx, 30)] = DO_NOT_USE
        dq[k, rng.integers(0, ny, 30), rng.integers(0, nx, 30)] = SATURATED
    dq[-1, 59:65, 40:46] = DO_NOT_USE

    def model_of(d, e, q):
        model = sky_model(d, crpix=(48.5, 65.5), angle_deg=20.0, err=e, dq=q)
        model.header["CTYPE1"], model.header["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
        for key, value in {"A_ORDER": 2, "A_2_0": 2e-5, "A_1_1": -1e-5, "B_ORDER": 2,
                           "B_0_2": 1.5e-5}.items():
            model.header[key] = value
        model.wcs = build_wcs(model.header, (ny, nx))
        assert model.wcs.sip is not None
        return model

    values = STEP_BY_NAME["resample"].defaults()
    values["weight_type"] = "ivm"
    cube = STEP_BY_NAME["resample"].run(model_of(data, err, dq), values,
                                        context_for()).products["i2d"]
    singles = [STEP_BY_NAME["resample"].run(model_of(data[k], err[k], dq[k]), values,
                                            context_for()).products["i2d"] for k in range(nints)]
    weights = np.array([s.extra_arrays["WHT"] for s in singles], dtype=float)
    values_k = np.array([np.nan_to_num(s.data) for s in singles], dtype=float)
    total = weights.sum(axis=0)
    covered = total > 0
    np.testing.assert_allclose(cube.extra_arrays["WHT"], total, rtol=1e-5)
    np.testing.assert_allclose(cube.data[covered],
                               (weights * values_k).sum(axis=0)[covered] / total[covered],
                               rtol=1e-5)
    np.testing.assert_array_equal(cube.dq, np.bitwise_or.reduce([s.dq for s in singles]) &
                                  np.where(covered, ~np.uint32(DO_NOT_USE), np.uint32(0xFFFFFFFF)))
    con = cube.extra_arrays["CON"]
    expected = sum((weights[k] > 0).astype(np.int64) << k for k in range(nints))
    np.testing.assert_array_equal(con, expected)
    # every integration's bit somewhere, and the hole of the last one shows
    assert set(np.unique(con).tolist()) == {0, 0b111, 0b011}
    for single in singles:  # one integration: CON is 1 exactly where WHT > 0
        np.testing.assert_array_equal(single.extra_arrays["CON"],
                                      (single.extra_arrays["WHT"] > 0).astype(np.int32))


def test_fillval_fills_sci_and_err_is_nan_where_nothing_contributed():
    out = shifted_half(flagged_model(), fillval="0")
    wht = out.extra_arrays["WHT"]
    assert out.data[8, 2] == 0.0 and np.isnan(out.err[8, 2]) and wht[8, 2] == 0
    assert out.dq[8, 2] & DO_NOT_USE
    assert np.isfinite(out.data).all()
    assert np.isfinite(out.err[wht > 0]).all()
    # the step takes the parameter text
    values = STEP_BY_NAME["resample"].defaults()
    values["fillval"] = "-1.5"
    model = sky_model(np.ones((12, 12)), crpix=(6.5, 6.5), angle_deg=45.0)
    i2d = STEP_BY_NAME["resample"].run(model, values, context_for()).products["i2d"]
    uncovered = i2d.extra_arrays["WHT"] == 0
    assert uncovered.any() and np.all(i2d.data[uncovered] == -1.5)
    assert np.isnan(i2d.err[uncovered]).all()


@pytest.mark.parametrize("shape, status", [((1, 1), "SKIPPED"), ((1, 3), "SKIPPED"),
                                           ((3, 1), "SKIPPED"), ((2, 2), "COMPLETE")])
def test_images_too_small_to_drizzle_skip_resample_and_keep_the_cal(tmp_path, capsys, shape,
                                                                    status):
    from factories import write_model

    from iris_gui.cli import main

    wcs = dict(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRPIX1=1, CRPIX2=1, CRVAL1=10.0,
               CRVAL2=20.0, CD1_1=-1e-5, CD1_2=0.0, CD2_1=0.0, CD2_2=1e-5)
    science = write_model(tmp_path / "t_rate.fits", np.ones(shape), **wcs)
    assert main([str(science), "--output-dir", str(tmp_path / "out")]) == 0
    with fits.open(tmp_path / "out" / "t_cal.fits") as hdul:
        assert hdul[0].header["S_RESAMP"] == status
    assert (tmp_path / "out" / "t_i2d.fits").exists() == (status == "COMPLETE")
    if status == "SKIPPED":
        assert "drizzling needs at least 2 pixels" in capsys.readouterr().err


# ---- drizzling one integration in bands of rows ---------------------------------------------
def test_row_bands_cover_every_row_once_in_order():
    from iris_gui.engine.resample_parallel import row_bands

    assert row_bands(0, 20, 1 << 18) == [(0, 3), (4, 7), (8, 11), (12, 15), (16, 19)]
    assert row_bands(0, 10, 1 << 20) == [(0, 3), (4, 9)]  # never fewer than 4 rows a band
    assert row_bands(0, 9, 1 << 18) == [(0, 3), (4, 8)]  # a short last band joins the one before
    assert row_bands(0, 3, 7) == [(0, 2)]
    assert row_bands(5, 14, 1 << 18) == [(5, 8), (9, 13)]  # a worker's block of rows 5..13
    bands = row_bands(0, 2049, 2048)
    assert bands[0] == (0, 511) and bands[-1] == (1536, 2048)
    assert [b[0] for b in bands[1:]] == [b[1] + 1 for b in bands[:-1]]


@pytest.mark.parametrize("kernel", ["square", "point", "turbo", "gaussian", "lanczos3"])
def test_drizzling_in_bands_gives_the_same_bits_as_one_call(kernel, monkeypatch):
    from iris_gui.engine import resample_parallel

    rng = np.random.default_rng(11)
    dq = np.zeros((37, 29), np.uint32)
    dq[5, 7] = SATURATED
    model = sky_model(rng.uniform(1, 2, (37, 29)), crpix=(15.0, 19.0), angle_deg=17.0, dq=dq)
    values = STEP_BY_NAME["resample"].defaults()
    values["kernel"] = kernel

    def run():
        return STEP_BY_NAME["resample"].run(model, values, context_for()).products["i2d"]

    whole = run()
    monkeypatch.setattr(resample_parallel, "BAND_PIXELS", 29 * 4)  # bands of 4 rows: 9 calls
    assert len(resample_parallel.row_bands(0, 37, 29)) == 9
    banded = run()
    for name in ("WHT", "CON"):
        np.testing.assert_array_equal(banded.extra_arrays[name], whole.extra_arrays[name])
    np.testing.assert_array_equal(banded.data, whole.data)
    np.testing.assert_array_equal(banded.err, whole.err)
    np.testing.assert_array_equal(banded.dq, whole.dq)


def test_a_cancel_is_seen_between_bands(monkeypatch):
    from iris_gui.engine import resample_parallel
    from iris_gui.engine.cancel import CancelToken
    from iris_gui.engine.errors import Cancelled

    monkeypatch.setattr(resample_parallel, "BAND_PIXELS", 24 * 4)
    model = sky_model(np.ones((24, 24)), crpix=(12.5, 12.5))
    token = CancelToken()
    seen = []

    def progress(fraction):
        seen.append(fraction)
        if len(seen) == 3:  # pixel map, first band: cancel now
            token.cancel()

    out = tan_wcs((12.5, 12.5), (24, 24))
    with pytest.raises(Cancelled):
        resample_model(model, out, (24, 24), cancel=token, progress=progress)
    assert len(seen) == 3  # the other four bands never ran
