"""Small hand-made models and files for tests whose answers are worked out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

from iris_gui.engine.association import Member, Product
from iris_gui.engine.models import ImageModel, write_image
from iris_gui.engine.steps.base import StepContext

IDENTITY = {"TELESCOP": "TMT", "INSTRUME": "IRIS", "DETECTOR": "IMAGER", "FILTER": "KN3"}


def make_model(data, err=None, dq=None, *, window=None, subarr_map=None, **keywords) -> ImageModel:
    """A model from nested lists; ``window`` = (xstart, ystart) makes it a subarray."""
    data = np.asarray(data, dtype=np.float32)
    err = np.zeros_like(data) if err is None else np.asarray(err, dtype=np.float32)
    dq = np.zeros(data.shape, np.uint32) if dq is None else np.asarray(dq, dtype=np.uint32)
    header = fits.Header()
    for key, value in {**IDENTITY, "EXPTIME": 10.0, **keywords}.items():
        header[key] = value
    if window is not None:
        header["SUBARRAY"] = "SUBTEST"
        header["SUBSTRT1"], header["SUBSTRT2"] = window
        header["SUBSIZE1"], header["SUBSIZE2"] = data.shape[-1], data.shape[-2]
    else:
        header["SUBARRAY"] = "FULL"
    return ImageModel(data=data, err=err, dq=dq, header=header,
                      subarr_map=None if subarr_map is None else np.asarray(subarr_map, np.uint16))


def write_model(path: Path, *args, **kwargs) -> Path:
    write_image(make_model(*args, **kwargs), path)
    return Path(path)


def write_reference(path: Path, reftype: str, data, err=None, dq=None, **keywords) -> Path:
    """A dark/flat reference file (REFTYPE set) with the test identity keywords."""
    return write_model(path, data, err, dq, REFTYPE=reftype, **keywords)


def context_for(science: str | Path = "science_rate.fits", backgrounds=(), ref_dir=".",
                **kwargs) -> StepContext:
    members = [Member(str(science), "science")]
    members += [Member(str(b), "background") for b in backgrounds]
    return StepContext(product=Product("test", members), ref_dir=Path(ref_dir), **kwargs)


def small_product(folder: Path) -> Product:
    """A 4x4 science with three backgrounds, a dark and a flat in ``folder`` (made here)."""
    import numpy as np

    folder.mkdir()
    science = write_model(folder / "sci_rate.fits", np.full((4, 4), 20.0), np.ones((4, 4)))
    backgrounds = [
        write_model(folder / f"bkg{k}_rate.fits", np.full((4, 4), 4.0 + k), np.zeros((4, 4)),
                    S_DARK="COMPLETE")
        for k in range(3)
    ]
    write_reference(folder / "dark.fits", "DARK", np.full((4, 4), 1.0))
    write_reference(folder / "flat.fits", "FLAT", np.full((4, 4), 2.0))
    members = [Member(str(science), "science")] + [Member(str(b), "background") for b in backgrounds]
    return Product("sci", members)


def default_sigint() -> None:
    """``preexec_fn`` of a command-line run a test stops with Ctrl-C: SIGINT as a terminal gives
    it. A suite started in the background by a shell without job control inherits SIGINT
    ignored, and so would the run, which would then (rightly) go on through a Ctrl-C."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def mapping_flags(array) -> set[str]:
    """The kernel's VmFlags of the mapping that holds ``array``'s first byte (Linux's smaps):
    e.g. ``"nh"`` where the mapping is advised never to get huge pages, ``"hg"`` always to."""
    address = array.ctypes.data
    inside = False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split(maxsplit=1)[0]
            if "-" in head and ":" not in head:  # a mapping's first line: start-end ...
                start, end = (int(x, 16) for x in head.split("-"))
                inside = start <= address < end
            elif inside and head == "VmFlags:":
                return set(line.split()[1:])
    raise LookupError(f"no mapping holds address {address:#x}")
