"""The demo dataset's reference files: the dark, the KN3 and H flats and the photom table.

They carry the keys the reference rules select on (``reference_rules``): the dark DETECTOR,
FILTER and SUBARRAY, the flats DETECTOR, FILTER and PUPIL, all a USEAFTER before the demo's
DATE-OBS, so a demo run chooses them with every key matched exactly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .demo_headers import PUPIL, reference_header
from .demo_scene import DARK_ERR, FILTER, FLAT_ERR, OTHER_FLAT_FILTER, PHOTOM_TABLE, Scene
from .models import ImageModel, PhotomRow, write_image, write_photom

DARK_NAME = "iris_demo_dark.fits"
FLAT_NAME = "iris_demo_flat.fits"
FLAT_OTHER_NAME = "iris_demo_flat_h.fits"
PHOTOM_NAME = "iris_demo_photom.fits"


@dataclass
class ReferenceFiles:
    dark: Path
    flat: Path
    flat_other: Path  #: the FILTER = H flat, which must not be chosen for KN3 science
    photom: Path
    photom_rows: list[PhotomRow]


def write_references(scene: Scene, folder: Path, done: Callable[[], None]) -> ReferenceFiles:
    """Write the four reference files of ``scene`` into ``folder``; ``done()`` after each."""
    size = scene.size
    dark_header = reference_header(size, "DARK", "DarkModel", "Synthetic IRIS imager dark rate")
    dark_header["BUNIT"] = "DN/s"
    dark_header["FILTER"] = FILTER
    dark = write_image(
        ImageModel(data=scene.dark, err=np.full((size, size), DARK_ERR, np.float32),
                   dq=scene.dark_dq, header=dark_header), folder / DARK_NAME)
    done()

    flat_paths = []
    for image, filter_name, name in ((scene.flat, FILTER, FLAT_NAME),
                                     (scene.flat_other, OTHER_FLAT_FILTER, FLAT_OTHER_NAME)):
        flat_header = reference_header(size, "FLAT", "FlatModel",
                                       f"Synthetic IRIS imager flat, filter {filter_name}")
        flat_header["FILTER"] = filter_name
        flat_header["PUPIL"] = PUPIL
        flat_paths.append(write_image(
            ImageModel(data=image, err=np.full((size, size), FLAT_ERR, np.float32),
                       dq=scene.flat_dq.copy(), header=flat_header), folder / name))
        done()

    photom_rows = [PhotomRow(f, p, u) for f, p, u in PHOTOM_TABLE]
    photom_header = reference_header(size, "PHOTOM", "ImagerPhotomModel",
                                     "Synthetic IRIS imager photometric conversion")
    photom = write_photom(photom_rows, photom_header, folder / PHOTOM_NAME)
    done()
    return ReferenceFiles(dark, flat_paths[0], flat_paths[1], photom, photom_rows)
