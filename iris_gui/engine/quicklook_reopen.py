"""A quick-look product shown again from its written ``_cal`` after the window let its result go.

The window keeps only the newest few quick-look results in memory (a 2048² product with every
step's frames is ~370 MB); the night table keeps every file. Selecting an older exposure reads
its ``_cal`` (``_calints``) back — the calibrated frame the quick-look wrote — with the rate file
as the frame before it, so the view shows photom's Before / After of that exposure. Only the
written frame comes back: the other steps' frames were never written, and the result is not
the window's own computation (a run of the product recomputes every step).

``reopen_result`` runs on a worker thread (it reads two files); it raises InputError naming the
file when the output is gone or unreadable.
"""

from __future__ import annotations

import os
from pathlib import Path

from .association import Member, Product, product_name_for
from .config import PipelineConfig
from .errors import InputError
from .night_log import NightRow
from .product_result import ProductResult
from .steps import COMPLETE, StepResult

#: the step whose output is the written ``_cal``: the frame shown again
REOPENED_STEP = "photom"
#: how the reopened step's reason begins (``read_back_from`` looks for it)
REOPENED_NOTE = "read back from "


def cal_output(row: NightRow) -> str | None:
    """The ``_cal`` (or ``_calints``) among the outputs the row lists, if any."""
    for path in row.outputs:
        if Path(path).name.lower().endswith(("_cal.fits", "_calints.fits")):
            return path
    return None


def reopened_product(row: NightRow) -> Product:
    """The product of ``row``: its exposure and the backgrounds it was calibrated with (names
    in the night table, found beside the exposure)."""
    folder = os.path.dirname(row.path)
    members = [Member(row.path, "science", os.path.basename(row.path))]
    members += [Member(os.path.join(folder, name), "background", name)
                for name in row.backgrounds]
    return Product(row.product or product_name_for(row.path), members)


def reopen_result(row: NightRow, config: PipelineConfig, ref_dir: str = "") -> ProductResult:
    """The result of ``row`` from its ``_cal``: photom's output, its input the rate file."""
    from .reading import read_image  # astropy.io.fits: not at the window's start

    cal = cal_output(row)
    if cal is None:
        raise InputError(f"{row.name}: the quick-look wrote no _cal for it "
                         f"({row.status}{': ' + row.reason if row.reason else ''})")
    if not os.path.exists(cal):
        raise InputError(f"{cal}: not found (the quick-look's output of {row.name} was moved "
                         f"or deleted)")
    model = read_image(cal, what="quick-look output")
    exposure = read_image(row.path) if os.path.exists(row.path) else None
    step = StepResult(COMPLETE, model,
                      reason=f"{REOPENED_NOTE}{Path(cal).name} (written by the quick-look); "
                             f"the other steps' frames were not kept")
    return ProductResult(reopened_product(row), config.copy(), ref_dir, input_model=exposure,
                         steps={REOPENED_STEP: step}, outputs=[Path(cal)],
                         elapsed=float(row.seconds or 0.0))


def read_back_from(result: ProductResult | None) -> str:
    """The reason of a result ``reopen_result`` made ("read back from X_cal.fits …"), else ""."""
    if result is None or list(result.steps) != [REOPENED_STEP]:
        return ""
    reason = result.steps[REOPENED_STEP].reason
    return reason if reason.startswith(REOPENED_NOTE) else ""
