"""A realistic, deterministic synthetic IRIS imager dataset for the image2 stage.

``write_demo_dataset(directory, size, seed)`` writes, for a ``size`` x ``size`` detector (all rates
in DN/s, float32, written atomically through :func:`iris_gui.engine.models.write_image`):

* ``iris_demo_rate.fits`` -- the full-frame science exposure::

      SCI = (sky + stars) * flat_eff + dark_eff + noise

  where ``sky`` is ~5 DN/s with a gentle gradient, ``stars`` are ~size/20 Gaussian PSFs
  (FWHM 3 px, pixel-integrated, 100..50000 DN/s total, two bright ones, the brightest inside the
  subarray window), ``flat_eff`` is the flat with 1 wherever the flat is NaN, 0 or flagged
  NO_FLAT_FIELD, and ``dark_eff`` is the dark with NaN taken as 0 (as the engine does). The noise
  is Gaussian with variance ``0.3**2 + signal / EFFINTTM`` (read noise plus a Poisson-like term);
  ERR is the square root of that variance. DQ carries DEAD + DO_NOT_USE on a few detector pixels
  (SCI 0 there, in every exposure), SATURATED where the noiseless rate exceeds
  ``SATURATION_RATE`` (bright star cores; values kept), and a handful of NaN SCI/ERR pixels flagged
  DO_NOT_USE. No S_DARK keyword: the dark is still to be subtracted.
* ``iris_demo_sub_rate.fits`` -- a cut of that same exposure to the window
  ``SUB<size//4>`` at SUBSTRT1 = size//4 + 1, SUBSTRT2 = size//2 + 1 (1-based); its CRPIX are
  shifted by -(SUBSTRT - 1) so the header WCS describes the stored array.
* ``iris_demo_submap_rate.fits`` -- the same full-frame exposure plus a uint16 SUBARR_MAP with two
  rectangular windows numbered 1 and 2 (``DemoDataset.submap_windows``).
* ``iris_demo_ints_rateints.fits`` -- ``nints`` integrations of the same scene with independent
  noise and NaN pixels (EFFINTTM 60 s each, EXPTIME = nints * 60 s).
* ``iris_demo_bkg<k>_rate.fits`` (k = 1..n_backgrounds) -- blank-sky exposures,
  ``sky * (1 + offset_k) * flat_eff + noise`` with offsets of a few 0.1 % that average to exactly
  zero, a few unflagged cosmic-ray outliers each, already dark-subtracted (S_DARK = 'COMPLETE').
* references: ``iris_demo_dark.fits`` (~0.05 DN/s, hot pixels flagged HOT, a few NaN),
  ``iris_demo_flat.fits`` (FILTER KN3: 0.9..1.1 pattern x 1 % pixel noise, a few NaN, zero and
  NO_FLAT_FIELD pixels), ``iris_demo_flat_h.fits`` (FILTER H, a different pattern, so choosing by
  FILTER matters) and ``iris_demo_photom.fits`` (several filters, KN3 included).
* ``iris_demo_asn.json`` -- four image2 products (``iris_demo``, ``iris_demo_sub``,
  ``iris_demo_submap``, ``iris_demo_ints``), each with every background.

Every science/background file has the IRIS imager keywords and a FITS TAN WCS (4 mas pixels,
0.5 deg rotation) in its primary header. The returned :class:`DemoDataset` names every file and
holds the truth: the star list, the noiseless sky and star images, the dark and flat arrays and the
positions of every planted defect. Pixel positions in the truth are 0-based (row, column) index
arrays unless named as a :class:`SubarrayWindow` (1-based, like the FITS keywords).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits

from .dq import DQ_DTYPE, DQ_FLAGS
from .errors import InputError
from .files import atomic_write_text, check_output_dir
from .models import ImageModel, PhotomRow, SubarrayWindow, write_image, write_photom

DEMO_ASN = "iris_demo_asn.json"
DEMO_POOL = "iris_demo_pool"
SCIENCE_NAME = "iris_demo_rate.fits"
SUBARRAY_NAME = "iris_demo_sub_rate.fits"
SUBMAP_NAME = "iris_demo_submap_rate.fits"
RATEINTS_NAME = "iris_demo_ints_rateints.fits"
DARK_NAME = "iris_demo_dark.fits"
FLAT_NAME = "iris_demo_flat.fits"
FLAT_OTHER_NAME = "iris_demo_flat_h.fits"
PHOTOM_NAME = "iris_demo_photom.fits"


# ---- the one rule for the demo size (iris-image2 demo --size, iris-gui --demo-size) ----------------

DEMO_MIN_SIZE = 64
#: 8192 takes ~9 GB of memory and ~75 s (2048: 0.6 GB, 4 s; memory grows as size²)
DEMO_MAX_SIZE = 8192
#: the subarray and SUBARR_MAP windows are size/4 and size/8 wide, placed at multiples of size/8
DEMO_SIZE_STEP = 16


class DemoSizeError(InputError, ValueError):
    """A demo size outside the rule: an InputError (one line for people) that is also the
    ValueError write_demo_dataset has always raised for bad arguments."""


def check_demo_size(size: object, option: str = "demo size") -> int:
    """``size`` as an int if it is a multiple of DEMO_SIZE_STEP within DEMO_MIN_SIZE ..
    DEMO_MAX_SIZE; otherwise DemoSizeError naming ``option`` and the allowed sizes."""
    try:
        value = int(size)  # type: ignore[call-overload]
        whole = not isinstance(size, bool) and float(size) == value  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        whole, value = False, 0
    if not whole or not DEMO_MIN_SIZE <= value <= DEMO_MAX_SIZE or value % DEMO_SIZE_STEP:
        raise DemoSizeError(f"{option} {str(size).strip()[:20]}: must be a multiple of {DEMO_SIZE_STEP} from "
                            f"{DEMO_MIN_SIZE} to {DEMO_MAX_SIZE} (e.g. 256, 1024, 2048)")
    return value


def background_name(index: int) -> str:
    """File name of background ``index`` (1-based)."""
    return f"iris_demo_bkg{index}_rate.fits"


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

TELESCOPE = "TMT"
INSTRUMENT = "IRIS"
DETECTOR = "IMAGER"
CRVAL = (83.8221, -5.3911)  #: deg, the Trapezium
PIXEL_SCALE_DEG = 0.004 / 3600.0  #: 4 mas pixels
ROTATION_DEG = 0.5
OBJECT = "Orion Trapezium (synthetic)"
DATE_OBS = datetime(2031, 2, 14, 5, 12, 0)
MJD_ZERO = datetime(1858, 11, 17)
STAMP_HALF = 8  #: star stamps are (2 * STAMP_HALF + 1) square: > 6 sigma of the PSF each side


@dataclass(frozen=True)
class Star:
    """A star of the truth: centre in 0-based pixel coordinates (x = column, y = row), total flux
    in flat-fielded DN/s."""

    x: float
    y: float
    flux: float


Pixels = tuple[np.ndarray, np.ndarray]  # (rows, columns), 0-based, for direct fancy indexing


@dataclass
class DemoDataset:
    """What :func:`write_demo_dataset` wrote, and the truth it was made from."""

    directory: Path
    size: int
    seed: int
    nints: int
    # files
    asn: Path
    science: Path
    subarray_science: Path
    submap_science: Path
    rateints: Path
    backgrounds: list[Path]
    dark: Path
    flat: Path
    flat_other: Path  #: the FILTER = H flat, which must not be chosen for KN3 science
    photom: Path
    # metadata
    filter: str = FILTER
    exptime: float = EXPTIME
    photmjsr: float = 0.0  #: conversion for the science filter
    photom_rows: list[PhotomRow] = field(default_factory=list)
    subarray_window: SubarrayWindow | None = None
    submap_windows: dict[int, SubarrayWindow] = field(default_factory=dict)
    # truth
    stars: list[Star] = field(default_factory=list)
    sky_level: float = SKY_LEVEL
    sky_image: np.ndarray | None = None  #: noiseless flat-fielded sky, DN/s
    star_image: np.ndarray | None = None  #: noiseless flat-fielded stars, DN/s
    dark_data: np.ndarray | None = None  #: the dark reference SCI (with its NaN and hot pixels)
    flat_data: np.ndarray | None = None  #: the KN3 flat SCI (with its NaN and zero pixels)
    flat_effective: np.ndarray | None = None  #: the flat the science was made with (1 at bad)
    flat_nan: Pixels | None = None
    flat_zero: Pixels | None = None
    flat_no_flat_field: Pixels | None = None  #: flagged NO_FLAT_FIELD in the flat DQ, value 1
    dark_nan: Pixels | None = None
    dark_hot: Pixels | None = None
    dead: Pixels | None = None  #: DEAD + DO_NOT_USE, SCI 0 in every exposure
    science_nan: Pixels | None = None  #: NaN + DO_NOT_USE in the science (and its sub/submap)
    saturated: np.ndarray | None = None  #: bool mask of SATURATED pixels (every science file)
    rateints_nan: list[Pixels] = field(default_factory=list)
    background_offsets: list[float] = field(default_factory=list)
    cosmic_rays: list[Pixels] = field(default_factory=list)  #: per background

    def true_flux(self) -> np.ndarray:
        """Noiseless flat-fielded sky + stars in DN/s: what the science is before the flat, the
        dark and the noise are applied."""
        return self.sky_image + self.star_image

    @property
    def star_table(self) -> np.ndarray:
        """The stars as an (n, 3) float array of x, y, flux."""
        return np.array([(s.x, s.y, s.flux) for s in self.stars], dtype=float).reshape(-1, 3)


# ---- building blocks -----------------------------------------------------------------------------

def _distinct_pixels(rng: np.random.Generator, size: int, count: int,
                     taken: np.ndarray | None = None) -> np.ndarray:
    """``count`` distinct flat pixel indices, avoiding the flat indices in ``taken``."""
    extra = 0 if taken is None else len(taken)
    picks = rng.choice(size * size, count + extra, replace=False)
    if taken is not None and extra:
        picks = picks[~np.isin(picks, taken)]
    return np.sort(picks[:count])


def _unravel(indices: np.ndarray, size: int) -> Pixels:
    rows, cols = np.divmod(indices.astype(np.intp), size)
    return rows, cols


def _sky(size: int) -> np.ndarray:
    axis = (np.arange(size, dtype=np.float32) - np.float32((size - 1) / 2)) / np.float32(size)
    gx, gy = SKY_GRADIENT
    return (np.float32(SKY_LEVEL)
            * (1 + np.float32(gx) * axis[np.newaxis, :] + np.float32(gy) * axis[:, np.newaxis]))


def _pixel_integrated_gaussian(centre: float, start: int, count: int, sigma: float) -> np.ndarray:
    """Fraction of a 1D unit Gaussian falling in each of ``count`` pixels from ``start``."""
    edges = np.arange(start, start + count + 1, dtype=float) - 0.5 - centre
    cdf = np.array([0.5 * (1.0 + math.erf(e / (sigma * math.sqrt(2.0)))) for e in edges])
    return np.diff(cdf)


def _make_stars(rng: np.random.Generator, size: int, inside: SubarrayWindow) -> list[Star]:
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


def _render_stars(stars: list[Star], size: int) -> np.ndarray:
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


def _flat_pattern(rng: np.random.Generator, size: int, phase: float) -> np.ndarray:
    """A 0.9..1.1 large-scale pattern times 1 % pixel-to-pixel noise."""
    u = np.arange(size, dtype=np.float32) / np.float32(size) - np.float32(0.5)
    wave_x = np.sin(np.float32(2 * math.pi * 0.8) * u + np.float32(phase))
    wave_y = np.cos(np.float32(2 * math.pi * 0.6) * u - np.float32(0.3 + phase))
    vignette = np.float32(0.06) * (u * u)  # <= 0.015 at an edge, 0.03 at a corner
    large = (np.float32(1.0) + np.float32(0.06) * wave_y[:, np.newaxis] * wave_x[np.newaxis, :]
             - vignette[:, np.newaxis] - vignette[np.newaxis, :])
    pixel = np.float32(1.0) + np.float32(0.01) * rng.standard_normal((size, size), np.float32)
    return large * pixel


def _noisy(rng: np.random.Generator, signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(SCI, ERR): ``signal`` plus Gaussian noise of variance read^2 + signal / EFFINTTM."""
    variance = np.maximum(signal, np.float32(0.0))
    variance *= np.float32(1.0 / EXPTIME)
    variance += np.float32(READ_NOISE_RATE**2)
    err = np.sqrt(variance)
    data = rng.standard_normal(signal.shape, np.float32)
    data *= err
    data += signal
    return data, err


def _wcs_keywords(size: int, crval: tuple[float, float]) -> dict[str, object]:
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


def _identity(size: int) -> dict[str, object]:
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


def _exposure_header(size: int, *, exptype: str, date: datetime, obj: str,
                     crval: tuple[float, float], nints: int = 1) -> fits.Header:
    header = fits.Header()
    for key, value in _identity(size).items():
        header[key] = value
    header["FILTER"] = FILTER
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
    for key, value in _wcs_keywords(size, crval).items():
        header[key] = value
    return header


def _reference_header(size: int, reftype: str, datamodel: str, description: str) -> fits.Header:
    header = fits.Header()
    header["REFTYPE"] = reftype
    header["DATAMODL"] = datamodel
    for key, value in _identity(size).items():
        header[key] = value
    header["DESCRIP"] = description
    header["PEDIGREE"] = "DUMMY"
    header["USEAFTER"] = "2030-01-01T00:00:00"
    header["AUTHOR"] = "iris_gui demo"
    return header


# ---- the dataset ---------------------------------------------------------------------------------

def write_demo_dataset(
    directory: str | os.PathLike,
    size: int = 2048,
    seed: int = 42,
    n_backgrounds: int = 5,
    nints: int = 3,
    progress: Callable[[float], None] | None = None,
) -> DemoDataset:
    """Write the demo dataset into ``directory`` (created if needed) and return what was written.

    The same ``size`` and ``seed`` give identical files; ``progress(fraction)`` is called after
    each file. ``size`` follows :func:`check_demo_size`; a machine without the memory it needs
    gets an InputError saying so.
    """
    try:
        return _write_demo_dataset(directory, size, seed, n_backgrounds, nints, progress)
    except MemoryError:
        raise InputError(f"demo size {size}: not enough memory to make it (about "
                         f"{0.6 * (int(size) / 2048) ** 2:.1f} GB needed); try a smaller size") \
            from None


def _write_demo_dataset(
    directory: str | os.PathLike,
    size: int,
    seed: int,
    n_backgrounds: int,
    nints: int,
    progress: Callable[[float], None] | None,
) -> DemoDataset:
    size = check_demo_size(size)
    if n_backgrounds < 1:
        raise ValueError("the demo dataset needs at least one background")
    if nints < 1:
        raise ValueError("nints must be at least 1")
    folder = check_output_dir(directory)

    total_files = 9 + n_backgrounds
    written = 0

    def done() -> None:
        nonlocal written
        written += 1
        if progress is not None:
            progress(written / total_files)

    # independent streams per component, so e.g. n_backgrounds does not change the science noise
    (rng_stars, rng_flat, rng_dark, rng_detector, rng_science, rng_ints,
     rng_bkg) = np.random.default_rng(seed).spawn(7)
    dnu = np.uint32(DQ_FLAGS["DO_NOT_USE"])
    n_few = max(4, size * size // 200_000)

    # windows
    sub = size // 4
    sub_window = SubarrayWindow(size // 4 + 1, size // 2 + 1, sub, sub, f"SUB{sub}")
    submap_windows = {
        1: SubarrayWindow(size // 8 + 1, size // 8 + 1, size // 4, size // 8, "WINDOW1"),
        2: SubarrayWindow(5 * size // 8 + 1, 5 * size // 8 + 1, size // 8, size // 4, "WINDOW2"),
    }

    # truth: sky and stars
    sky = _sky(size)
    stars = _make_stars(rng_stars, size, sub_window)
    star_image = _render_stars(stars, size)

    # flat (KN3), its defects, and the H flat with the same defects
    flat = _flat_pattern(rng_flat, size, phase=0.4)
    flat_other = _flat_pattern(rng_flat, size, phase=1.9) * np.float32(1.03)
    bad = _distinct_pixels(rng_flat, size, 3 * n_few)
    flat_nan = _unravel(bad[0::3], size)
    flat_zero = _unravel(bad[1::3], size)
    flat_noflat = _unravel(bad[2::3], size)
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
    picks = _distinct_pixels(rng_dark, size, n_hot + n_dark_nan)
    picks = rng_dark.permutation(picks)
    dark_hot = _unravel(np.sort(picks[:n_hot]), size)
    dark_nan = _unravel(np.sort(picks[n_hot:]), size)
    dark[dark_hot] = rng_dark.uniform(*HOT_RANGE, n_hot).astype(np.float32)
    dark[dark_nan] = np.nan
    dark_dq = np.zeros((size, size), DQ_DTYPE)
    dark_dq[dark_hot] = DQ_FLAGS["HOT"]
    dark_eff = np.nan_to_num(dark, nan=0.0)

    # detector defects shared by every exposure
    dead = _unravel(_distinct_pixels(rng_detector, size, n_few), size)
    detector_dq = np.zeros((size, size), DQ_DTYPE)
    detector_dq[dead] = DQ_FLAGS["DEAD"] | DQ_FLAGS["DO_NOT_USE"]

    # science signal and saturation
    signal = (sky + star_image) * flat_eff + dark_eff
    saturated = signal > np.float32(SATURATION_RATE)
    science_dq = detector_dq.copy()
    science_dq[saturated] |= np.uint32(DQ_FLAGS["SATURATED"])
    taken = np.ravel_multi_index(dead, (size, size))

    def exposure(rng: np.random.Generator, planes: int) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray, list[Pixels]]:
        """``planes`` noisy integrations of the science scene, with their own NaN pixels."""
        datas, errs, dqs, nans = [], [], [], []
        for _ in range(planes):
            data, err = _noisy(rng, signal)
            data[dead] = 0.0
            err[dead] = READ_NOISE_RATE
            nan = _unravel(_distinct_pixels(rng, size, n_few, taken), size)
            data[nan] = np.nan
            err[nan] = np.nan
            dq = science_dq.copy()
            dq[nan] |= dnu
            datas.append(data)
            errs.append(err)
            dqs.append(dq)
            nans.append(nan)
        return datas, errs, dqs, nans

    paths: dict[str, Path] = {}

    # -- science, its subarray cut and the SUBARR_MAP copy
    (data,), (err,), (dq,), (science_nan,) = exposure(rng_science, 1)
    header = _exposure_header(size, exptype="SCIENCE", date=DATE_OBS, obj=OBJECT, crval=CRVAL)
    science = ImageModel(data=data, err=err, dq=dq, header=header,
                         sci_header=fits.Header([("BUNIT", "DN/s")]))
    paths["science"] = write_image(science, folder / SCIENCE_NAME)
    done()

    cut = science.cutout(sub_window)
    cut.header["CRPIX1"] = header["CRPIX1"] - (sub_window.xstart - 1)
    cut.header["CRPIX2"] = header["CRPIX2"] - (sub_window.ystart - 1)
    paths["sub"] = write_image(cut, folder / SUBARRAY_NAME)
    done()

    subarr_map = np.zeros((size, size), np.uint16)
    for number, window in submap_windows.items():
        rows, cols = window.slices_within(science.window)
        subarr_map[rows, cols] = number
    paths["submap"] = write_image(science.derive(subarr_map=subarr_map), folder / SUBMAP_NAME)
    done()

    # -- rateints
    datas, errs, dqs, ints_nan = exposure(rng_ints, nints)
    ints_header = _exposure_header(size, exptype="SCIENCE", date=DATE_OBS + timedelta(minutes=30),
                                   obj=OBJECT, crval=CRVAL, nints=nints)
    ints = ImageModel(data=np.stack(datas), err=np.stack(errs), dq=np.stack(dqs),
                      header=ints_header, sci_header=fits.Header([("BUNIT", "DN/s")]))
    del datas, errs, dqs
    paths["ints"] = write_image(ints, folder / RATEINTS_NAME)
    del ints
    done()

    # -- backgrounds: offsets that average to zero, so their mean is exactly the sky
    bkg_rngs = rng_bkg.spawn(n_backgrounds + 1)
    offsets = bkg_rngs[0].uniform(-BACKGROUND_OFFSET, BACKGROUND_OFFSET, n_backgrounds)
    offsets -= offsets.mean()
    sky_flat = sky * flat_eff
    n_cr = max(5, size * size // 20_000)
    backgrounds, cosmic_rays = [], []
    for k in range(n_backgrounds):
        rng = bkg_rngs[k + 1]
        bsignal = sky_flat * np.float32(1.0 + offsets[k])
        # shot noise of the subtracted dark stays in the noise, not in the signal
        bdata, berr = _noisy(rng, bsignal + dark_eff)
        bdata -= dark_eff
        bdata[dead] = 0.0
        berr[dead] = READ_NOISE_RATE
        crs = _unravel(_distinct_pixels(rng, size, n_cr, taken), size)
        bdata[crs] += rng.uniform(*COSMIC_RAY_RANGE, n_cr).astype(np.float32)
        cosmic_rays.append(crs)
        bheader = _exposure_header(
            size, exptype="BACKGROUND", date=DATE_OBS + timedelta(minutes=2 * (k + 1)),
            obj="blank sky near " + OBJECT,
            crval=(CRVAL[0], CRVAL[1] + 30.0 * (k + 1) / 3600.0))
        bheader["S_DARK"] = "COMPLETE"
        bmodel = ImageModel(data=bdata, err=berr, dq=detector_dq.copy(), header=bheader,
                            sci_header=fits.Header([("BUNIT", "DN/s")]))
        backgrounds.append(write_image(bmodel, folder / background_name(k + 1)))
        done()

    # -- references
    dark_header = _reference_header(size, "DARK", "DarkModel", "Synthetic IRIS imager dark rate")
    dark_header["BUNIT"] = "DN/s"
    paths["dark"] = write_image(
        ImageModel(data=dark, err=np.full((size, size), DARK_ERR, np.float32), dq=dark_dq,
                   header=dark_header), folder / DARK_NAME)
    done()

    flat_paths = []
    for image, filter_name, name in ((flat, FILTER, FLAT_NAME),
                                     (flat_other, OTHER_FLAT_FILTER, FLAT_OTHER_NAME)):
        flat_header = _reference_header(size, "FLAT", "FlatModel",
                                        f"Synthetic IRIS imager flat, filter {filter_name}")
        flat_header["FILTER"] = filter_name
        flat_paths.append(write_image(
            ImageModel(data=image, err=np.full((size, size), FLAT_ERR, np.float32),
                       dq=flat_dq.copy(), header=flat_header), folder / name))
        done()

    photom_rows = [PhotomRow(f, p, u) for f, p, u in PHOTOM_TABLE]
    photom_header = _reference_header(size, "PHOTOM", "ImagerPhotomModel",
                                      "Synthetic IRIS imager photometric conversion")
    paths["photom"] = write_photom(photom_rows, photom_header, folder / PHOTOM_NAME)
    done()

    # -- association
    bkg_members = [{"expname": p.name, "exptype": "background"} for p in backgrounds]
    products = [
        {"name": name, "members": [{"expname": paths[key].name, "exptype": "science"}]
         + [dict(m) for m in bkg_members]}
        for name, key in (("iris_demo", "science"), ("iris_demo_sub", "sub"),
                          ("iris_demo_submap", "submap"), ("iris_demo_ints", "ints"))
    ]
    asn = {"asn_type": "image2", "asn_rule": "Asn_Lv2Image", "asn_pool": DEMO_POOL,
           "products": products}
    asn_path = atomic_write_text(folder / DEMO_ASN, json.dumps(asn, indent=2) + "\n")
    done()

    return DemoDataset(
        directory=folder,
        size=size,
        seed=seed,
        nints=nints,
        asn=asn_path,
        science=paths["science"],
        subarray_science=paths["sub"],
        submap_science=paths["submap"],
        rateints=paths["ints"],
        backgrounds=backgrounds,
        dark=paths["dark"],
        flat=flat_paths[0],
        flat_other=flat_paths[1],
        photom=paths["photom"],
        photmjsr=next(p for f, p, _ in PHOTOM_TABLE if f == FILTER),
        photom_rows=photom_rows,
        subarray_window=sub_window,
        submap_windows=submap_windows,
        stars=stars,
        sky_image=sky,
        star_image=star_image,
        dark_data=dark,
        flat_data=flat,
        flat_effective=flat_eff,
        flat_nan=flat_nan,
        flat_zero=flat_zero,
        flat_no_flat_field=flat_noflat,
        dark_nan=dark_nan,
        dark_hot=dark_hot,
        dead=dead,
        science_nan=science_nan,
        saturated=saturated,
        rateints_nan=ints_nan,
        background_offsets=[float(o) for o in offsets],
        cosmic_rays=cosmic_rays,
    )
