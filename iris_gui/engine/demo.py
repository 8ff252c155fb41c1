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

Where each part lives: this module has the file names, the size rule and the writing of the
exposures and the association; ``demo_scene`` the physics and the truth arrays (sky, stars, flat,
dark, defects, noise); ``demo_headers`` the FITS headers and WCS; ``demo_references`` the
reference files.
"""


from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np

from .demo_headers import (  # noqa: F401 (re-exported: the demo's identity and pointing)
    CRVAL,
    DATE_OBS,
    DETECTOR,
    INSTRUMENT,
    MJD_ZERO,
    OBJECT,
    PIXEL_SCALE_DEG,
    ROTATION_DEG,
    TELESCOPE,
    exposure_header,
)
from .demo_references import (  # noqa: F401 (re-exported: the reference file names)
    DARK_NAME,
    FLAT_NAME,
    FLAT_OTHER_NAME,
    PHOTOM_NAME,
    write_references,
)
from .demo_scene import (  # noqa: F401 (re-exported: the physics of the dataset)
    BACKGROUND_OFFSET,
    BRIGHT_STAR_FLUXES,
    COSMIC_RAY_RANGE,
    DARK_ERR,
    DARK_LEVEL,
    EXPTIME,
    FILTER,
    FLAT_ERR,
    FWHM,
    HOT_RANGE,
    OTHER_FLAT_FILTER,
    PHOTOM_TABLE,
    READ_NOISE_RATE,
    SATURATION_RATE,
    SKY_GRADIENT,
    SKY_LEVEL,
    STAMP_HALF,
    STAR_FLUX_RANGE,
    Pixels,
    Star,
    background_exposure,
    background_offsets,
    make_scene,
    science_exposures,
)
from .errors import InputError
from .files import atomic_write_text, check_output_dir
from .lazy import fits
from .models import ImageModel, PhotomRow, SubarrayWindow, write_image

DEMO_ASN = "iris_demo_asn.json"
DEMO_POOL = "iris_demo_pool"
SCIENCE_NAME = "iris_demo_rate.fits"
SUBARRAY_NAME = "iris_demo_sub_rate.fits"
SUBMAP_NAME = "iris_demo_submap_rate.fits"
RATEINTS_NAME = "iris_demo_ints_rateints.fits"


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
    scene = make_scene(size, rng_stars, rng_flat, rng_dark, rng_detector)
    sub_window = scene.sub_window
    paths: dict[str, Path] = {}

    # -- science, its subarray cut and the SUBARR_MAP copy
    (data,), (err,), (dq,), (science_nan,) = science_exposures(scene, rng_science, 1)
    header = exposure_header(size, exptype="SCIENCE", date=DATE_OBS, obj=OBJECT, crval=CRVAL)
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
    for number, window in scene.submap_windows.items():
        rows, cols = window.slices_within(science.window)
        subarr_map[rows, cols] = number
    paths["submap"] = write_image(science.derive(subarr_map=subarr_map), folder / SUBMAP_NAME)
    done()

    # -- rateints
    datas, errs, dqs, ints_nan = science_exposures(scene, rng_ints, nints)
    ints_header = exposure_header(size, exptype="SCIENCE", date=DATE_OBS + timedelta(minutes=30),
                                  obj=OBJECT, crval=CRVAL, nints=nints)
    ints = ImageModel(data=np.stack(datas), err=np.stack(errs), dq=np.stack(dqs),
                      header=ints_header, sci_header=fits.Header([("BUNIT", "DN/s")]))
    del datas, errs, dqs
    paths["ints"] = write_image(ints, folder / RATEINTS_NAME)
    del ints
    done()

    # -- backgrounds: offsets that average to zero, so their mean is exactly the sky
    bkg_rngs = rng_bkg.spawn(n_backgrounds + 1)
    offsets = background_offsets(bkg_rngs[0], n_backgrounds)
    sky_flat = scene.sky * scene.flat_eff
    backgrounds, cosmic_rays = [], []
    for k in range(n_backgrounds):
        bdata, berr, crs = background_exposure(scene, bkg_rngs[k + 1], offsets[k], sky_flat)
        cosmic_rays.append(crs)
        bheader = exposure_header(
            size, exptype="BACKGROUND", date=DATE_OBS + timedelta(minutes=2 * (k + 1)),
            obj="blank sky near " + OBJECT,
            crval=(CRVAL[0], CRVAL[1] + 30.0 * (k + 1) / 3600.0))
        bheader["S_DARK"] = "COMPLETE"
        bmodel = ImageModel(data=bdata, err=berr, dq=scene.detector_dq.copy(), header=bheader,
                            sci_header=fits.Header([("BUNIT", "DN/s")]))
        backgrounds.append(write_image(bmodel, folder / background_name(k + 1)))
        done()

    # -- references
    references = write_references(scene, folder, done)

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
        dark=references.dark,
        flat=references.flat,
        flat_other=references.flat_other,
        photom=references.photom,
        photmjsr=next(p for f, p, _ in PHOTOM_TABLE if f == FILTER),
        photom_rows=references.photom_rows,
        subarray_window=sub_window,
        submap_windows=scene.submap_windows,
        stars=scene.stars,
        sky_image=scene.sky,
        star_image=scene.star_image,
        dark_data=scene.dark,
        flat_data=scene.flat,
        flat_effective=scene.flat_eff,
        flat_nan=scene.flat_nan,
        flat_zero=scene.flat_zero,
        flat_no_flat_field=scene.flat_noflat,
        dark_nan=scene.dark_nan,
        dark_hot=scene.dark_hot,
        dead=scene.dead,
        science_nan=science_nan,
        saturated=scene.saturated,
        rateints_nan=ints_nan,
        background_offsets=[float(o) for o in offsets],
        cosmic_rays=cosmic_rays,
    )
