"""The demo dataset's physics and truth: sky, stars, flat, dark, detector defects and noise.

Everything here is arrays and numbers, no files: :func:`make_scene` draws the noiseless truth
(``Scene``) from its random streams, :func:`science_exposures` and :func:`background_exposure`
add the noise of one exposure. ``demo.write_demo_dataset`` writes them; ``demo`` describes the
dataset as a whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .dq import DQ_DTYPE, DQ_FLAGS
from .models import SubarrayWindow

# ---- the physics, in one place -------------------------------------------------------------------

FILTER = "KN3"
OTHER_FLAT_FILTER = "H"
EXPTIME = 60.0  #: seconds per integration (EFFINTTM); EXPTIME of a rate file
SKY_LEVEL = 5.0  #: DN/s, flat-fielded sky at the array centre
SKY_GRADIENT = (0.04, -0.03)  #: fractional change of the sky across the array in x and y
READ_NOISE_RATE = 0.3  #: DN/s, Gaussian noise floor of a rate pixel
FWHM = 3.0  #: px, stellar PSF
STAR_FLUX_RANGE = (100.0, 50000.0)  #: DN/s total per star
BRIGHT_STAR_FLUXES = (50000.0, 25000.0)
SATURATION_RATE = 1000.0  #: DN/s: 60000 DN full well over a 60 s integration
DARK_LEVEL = 0.05  #: DN/s
DARK_ERR = 0.01
HOT_RANGE = (5.0, 50.0)  #: DN/s
FLAT_ERR = 0.005
BACKGROUND_OFFSET = 0.005  #: fractional sky-level offsets of the backgrounds are within +-this
COSMIC_RAY_RANGE = (20.0, 500.0)  #: DN/s added to a background pixel by a cosmic ray
PHOTOM_TABLE = (  # filter, PHOTMJSR (MJy/sr per DN/s), uncertainty
    ("Z", 3.4e-4, 2e-6),
    ("J", 2.9e-4, 1.5e-6),
    ("H", 2.5e-4, 1.2e-6),
    ("K", 2.2e-4, 1e-6),
    ("KN3", 2.1e-4, 1e-6),
    ("KS", 2.3e-4, 1e-6),
)
STAMP_HALF = 8  #: star stamps are (2 * STAMP_HALF + 1) square: > 6 sigma of the PSF each side


@dataclass(frozen=True)
class Star:
    """A star of the truth: centre in 0-based pixel coordinates (x = column, y = row), total flux
    in flat-fielded DN/s."""

    x: float
    y: float
    flux: float


Pixels = tuple[np.ndarray, np.ndarray]  # (rows, columns), 0-based, for direct fancy indexing


# ---- building blocks -----------------------------------------------------------------------------

def distinct_pixels(rng: np.random.Generator, size: int, count: int,
                    taken: np.ndarray | None = None) -> np.ndarray:
    """``count`` distinct flat pixel indices, avoiding the flat indices in ``taken``."""
    extra = 0 if taken is None else len(taken)
    picks = rng.choice(size * size, count + extra, replace=False)
    if taken is not None and extra:
        picks = picks[~np.isin(picks, taken)]
    return np.sort(picks[:count])


def unravel(indices: np.ndarray, size: int) -> Pixels:
    rows, cols = np.divmod(indices.astype(np.intp), size)
    return rows, cols


def sky_image(size: int) -> np.ndarray:
    """The noiseless flat-fielded sky: SKY_LEVEL with the SKY_GRADIENT across the array."""
    axis = (np.arange(size, dtype=np.float32) - np.float32((size - 1) / 2)) / np.float32(size)
    gx, gy = SKY_GRADIENT
    return (np.float32(SKY_LEVEL)
            * (1 + np.float32(gx) * axis[np.newaxis, :] + np.float32(gy) * axis[:, np.newaxis]))


def _pixel_integrated_gaussian(centre: float, start: int, count: int, sigma: float) -> np.ndarray:
    """Fraction of a 1D unit Gaussian falling in each of ``count`` pixels from ``start``."""
    edges = np.arange(start, start + count + 1, dtype=float) - 0.5 - centre
    cdf = np.array([0.5 * (1.0 + math.erf(e / (sigma * math.sqrt(2.0)))) for e in edges])
    return np.diff(cdf)


def make_stars(rng: np.random.Generator, size: int, inside: SubarrayWindow) -> list[Star]:
    """~size/20 stars, log-uniform in flux, the two brightest fixed, the brightest ``inside``."""
    count = max(size // 20, 4)
    margin = STAMP_HALF
    lo, hi = STAR_FLUX_RANGE
    fluxes = np.exp(rng.uniform(math.log(lo), math.log(hi), count))
    fluxes[: len(BRIGHT_STAR_FLUXES)] = BRIGHT_STAR_FLUXES
    xs = rng.uniform(margin, size - 1 - margin, count)
    ys = rng.uniform(margin, size - 1 - margin, count)
    # the brightest star sits in the subarray window, so the subarray has a saturated core too
    xs[0] = inside.xstart - 1 + inside.xsize * rng.uniform(0.3, 0.7)
    ys[0] = inside.ystart - 1 + inside.ysize * rng.uniform(0.3, 0.7)
    return [Star(float(x), float(y), float(f)) for x, y, f in zip(xs, ys, fluxes, strict=True)]


def render_stars(stars: list[Star], size: int) -> np.ndarray:
    """Pixel-integrated Gaussian PSFs, each drawn into a small stamp."""
    image = np.zeros((size, size), np.float32)
    sigma = FWHM / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    for star in stars:
        x0 = max(int(round(star.x)) - STAMP_HALF, 0)
        y0 = max(int(round(star.y)) - STAMP_HALF, 0)
        x1 = min(int(round(star.x)) + STAMP_HALF + 1, size)
        y1 = min(int(round(star.y)) + STAMP_HALF + 1, size)
        px = _pixel_integrated_gaussian(star.x, x0, x1 - x0, sigma)
        py = _pixel_integrated_gaussian(star.y, y0, y1 - y0, sigma)
        image[y0:y1, x0:x1] += (star.flux * np.outer(py, px)).astype(np.float32)
    return image


def flat_pattern(rng: np.random.Generator, size: int, phase: float) -> np.ndarray:
    """A 0.9..1.1 large-scale pattern times 1 % pixel-to-pixel noise."""
    u = np.arange(size, dtype=np.float32) / np.float32(size) - np.float32(0.5)
    wave_x = np.sin(np.float32(2 * math.pi * 0.8) * u + np.float32(phase))
    wave_y = np.cos(np.float32(2 * math.pi * 0.6) * u - np.float32(0.3 + phase))
    vignette = np.float32(0.06) * (u * u)  # <= 0.015 at an edge, 0.03 at a corner
    large = (np.float32(1.0) + np.float32(0.06) * wave_y[:, np.newaxis] * wave_x[np.newaxis, :]
             - vignette[:, np.newaxis] - vignette[np.newaxis, :])
    pixel = np.float32(1.0) + np.float32(0.01) * rng.standard_normal((size, size), np.float32)
    return large * pixel


def noisy(rng: np.random.Generator, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(SCI, ERR): ``signal`` plus Gaussian noise of variance read^2 + signal / EFFINTTM."""
    variance = np.maximum(signal, np.float32(0.0))
    variance *= np.float32(1.0 / EXPTIME)
    variance += np.float32(READ_NOISE_RATE**2)
    err = np.sqrt(variance)
    data = rng.standard_normal(signal.shape, np.float32)
    data *= err
    data += signal
    return data, err


# ---- the scene -----------------------------------------------------------------------------------

@dataclass
class Scene:
    """The noiseless truth every exposure and reference of one demo dataset is made from."""

    size: int
    n_few: int  #: how many of each rare defect (NaN, dead, flat defects) to plant
    sub_window: SubarrayWindow
    submap_windows: dict[int, SubarrayWindow]
    sky: np.ndarray
    stars: list[Star]
    star_image: np.ndarray
    flat: np.ndarray  #: KN3 flat with its NaN, zero and NO_FLAT_FIELD pixels
    flat_other: np.ndarray  #: the H flat, same defects
    flat_dq: np.ndarray
    flat_eff: np.ndarray  #: the flat the science is made with (1 at bad pixels)
    flat_nan: Pixels
    flat_zero: Pixels
    flat_noflat: Pixels
    dark: np.ndarray
    dark_dq: np.ndarray
    dark_eff: np.ndarray  #: the dark with NaN as 0 (as the engine does)
    dark_hot: Pixels
    dark_nan: Pixels
    dead: Pixels
    detector_dq: np.ndarray  #: DEAD + DO_NOT_USE, shared by every exposure
    signal: np.ndarray  #: noiseless science rate: (sky + stars) * flat_eff + dark_eff
    saturated: np.ndarray
    science_dq: np.ndarray
    taken: np.ndarray  #: flat indices of the dead pixels (other defects avoid them)


def make_scene(size: int, rng_stars: np.random.Generator, rng_flat: np.random.Generator,
               rng_dark: np.random.Generator, rng_detector: np.random.Generator) -> Scene:
    """Draw the truth; each random stream serves one component, in a fixed order."""
    n_few = max(4, size * size // 200_000)

    # windows
    sub = size // 4
    sub_window = SubarrayWindow(size // 4 + 1, size // 2 + 1, sub, sub, f"SUB{sub}")
    submap_windows = {
        1: SubarrayWindow(size // 8 + 1, size // 8 + 1, size // 4, size // 8, "WINDOW1"),
        2: SubarrayWindow(5 * size // 8 + 1, 5 * size // 8 + 1, size // 8, size // 4, "WINDOW2"),
    }

    # truth: sky and stars
    sky = sky_image(size)
    stars = make_stars(rng_stars, size, sub_window)
    star_image = render_stars(stars, size)

    # flat (KN3), its defects, and the H flat with the same defects
    flat = flat_pattern(rng_flat, size, phase=0.4)
    flat_other = flat_pattern(rng_flat, size, phase=1.9) * np.float32(1.03)
    bad = distinct_pixels(rng_flat, size, 3 * n_few)
    flat_nan = unravel(bad[0::3], size)
    flat_zero = unravel(bad[1::3], size)
    flat_noflat = unravel(bad[2::3], size)
    flat_dq = np.zeros((size, size), DQ_DTYPE)
    for image in (flat, flat_other):
        image[flat_nan] = np.nan
        image[flat_zero] = 0.0
        image[flat_noflat] = 1.0
    flat_dq[flat_noflat] = DQ_FLAGS["NO_FLAT_FIELD"]
    flat_eff = flat.copy()
    flat_eff[flat_nan] = 1.0
    flat_eff[flat_zero] = 1.0

    # dark: level + small scatter, hot pixels, a few NaN
    dark = np.float32(DARK_LEVEL) + np.float32(0.1 * DARK_ERR) * rng_dark.standard_normal(
        (size, size), np.float32)
    n_hot = max(8, size * size // 14_000)
    n_dark_nan = max(3, size * size // 400_000)
    picks = distinct_pixels(rng_dark, size, n_hot + n_dark_nan)
    picks = rng_dark.permutation(picks)
    dark_hot = unravel(np.sort(picks[:n_hot]), size)
    dark_nan = unravel(np.sort(picks[n_hot:]), size)
    dark[dark_hot] = rng_dark.uniform(*HOT_RANGE, n_hot).astype(np.float32)
    dark[dark_nan] = np.nan
    dark_dq = np.zeros((size, size), DQ_DTYPE)
    dark_dq[dark_hot] = DQ_FLAGS["HOT"]
    dark_eff = np.nan_to_num(dark, nan=0.0)

    # detector defects shared by every exposure
    dead = unravel(distinct_pixels(rng_detector, size, n_few), size)
    detector_dq = np.zeros((size, size), DQ_DTYPE)
    detector_dq[dead] = DQ_FLAGS["DEAD"] | DQ_FLAGS["DO_NOT_USE"]

    # science signal and saturation
    signal = (sky + star_image) * flat_eff + dark_eff
    saturated = signal > np.float32(SATURATION_RATE)
    science_dq = detector_dq.copy()
    science_dq[saturated] |= np.uint32(DQ_FLAGS["SATURATED"])
    taken = np.ravel_multi_index(dead, (size, size))
    return Scene(
        size=size, n_few=n_few, sub_window=sub_window, submap_windows=submap_windows, sky=sky,
        stars=stars, star_image=star_image, flat=flat, flat_other=flat_other, flat_dq=flat_dq,
        flat_eff=flat_eff, flat_nan=flat_nan, flat_zero=flat_zero, flat_noflat=flat_noflat,
        dark=dark, dark_dq=dark_dq, dark_eff=dark_eff, dark_hot=dark_hot, dark_nan=dark_nan,
        dead=dead, detector_dq=detector_dq, signal=signal, saturated=saturated,
        science_dq=science_dq, taken=taken,
    )


def science_exposures(scene: Scene, rng: np.random.Generator, planes: int
                      ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[Pixels]]:
    """``planes`` noisy integrations of the science scene, with their own NaN pixels:
    (SCI, ERR, DQ, NaN pixels) per plane."""
    size, dead = scene.size, scene.dead
    dnu = np.uint32(DQ_FLAGS["DO_NOT_USE"])
    datas, errs, dqs, nans = [], [], [], []
    for _ in range(planes):
        data, err = noisy(rng, scene.signal)
        data[dead] = 0.0
        err[dead] = READ_NOISE_RATE
        nan = unravel(distinct_pixels(rng, size, scene.n_few, scene.taken), size)
        data[nan] = np.nan
        err[nan] = np.nan
        dq = scene.science_dq.copy()
        dq[nan] |= dnu
        datas.append(data)
        errs.append(err)
        dqs.append(dq)
        nans.append(nan)
    return datas, errs, dqs, nans


def background_offsets(rng: np.random.Generator, count: int) -> np.ndarray:
    """Fractional sky offsets of ``count`` backgrounds that average to zero, so their mean is
    exactly the sky."""
    offsets = rng.uniform(-BACKGROUND_OFFSET, BACKGROUND_OFFSET, count)
    offsets -= offsets.mean()
    return offsets


def background_exposure(scene: Scene, rng: np.random.Generator, offset: float,
                        sky_flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, Pixels]:
    """(SCI, ERR, cosmic-ray pixels) of one blank-sky exposure, already dark-subtracted;
    ``sky_flat`` is ``scene.sky * scene.flat_eff`` (computed once for every background)."""
    size, dead = scene.size, scene.dead
    n_cr = max(5, size * size // 20_000)
    bsignal = sky_flat * np.float32(1.0 + offset)
    # shot noise of the subtracted dark stays in the noise, not in the signal
    bdata, berr = noisy(rng, bsignal + scene.dark_eff)
    bdata -= scene.dark_eff
    bdata[dead] = 0.0
    berr[dead] = READ_NOISE_RATE
    crs = unravel(distinct_pixels(rng, size, n_cr, scene.taken), size)
    bdata[crs] += rng.uniform(*COSMIC_RAY_RANGE, n_cr).astype(np.float32)
    return bdata, berr, crs
