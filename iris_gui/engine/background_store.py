"""Backgrounds kept between runs, for the window's live re-runs after a bkg_subtract edit.

A change of ``sigma`` or ``maxiters`` re-runs bkg_subtract on the same science and backgrounds.
Reading the backgrounds again (5 x 48 MB at 2048², big-endian FITS) and redoing the sigma-free
part of the combine is most of that step's time. An ``Image2Pipeline`` given a byte budget
(``keep_backgrounds``) therefore keeps, per set of background files and science window, the
backgrounds as ``background_prepared.PreparedBackgrounds``, and whenever they are kept hands them
to bkg_subtract (``BackgroundStore.backgrounds``, the step's ``StepContext.backgrounds``): the
step combines them with ``combine_prepared``, bit for bit what ``combine_backgrounds`` gives of
the files it would read, and does the rest itself (the tests compare the two ways).

They are kept by ``Image2Pipeline.prepare_backgrounds``, which the window's worker calls when it
is idle after a run, or by a second computation of bkg_subtract for the same product (a parameter
is being tried), not by a first run: that reads its backgrounds and frees them for its outputs,
as a batch run does, so it costs neither time nor memory it did not cost before (on the
development VM, keeping 0.9 GB of backgrounds at 4096² made the run's own new arrays ~1.5 s
slower to touch).

Entries are keyed by each background file's (path, size, mtime), the science window and
instrument/detector (what ``background_for_science`` checks), so a changed file is not served
from the store. The least recently used entries are dropped to stay within the budget; a set that
would not fit is not kept.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from .background_prepared import PreparedBackgrounds, combine_prepared, prepare_backgrounds
from .models import ImageModel
from .steps import bkg_subtract
from .steps.base import StepContext

__all__ = ["BackgroundStore", "supports_step"]

#: the bkg_subtract parameters the store's backgrounds serve (besides the common ones): the
#: combine's, and subtract_dark_from_backgrounds, with which the step reads its backgrounds
#: itself when it is on; if the step declares others, the store is bypassed rather than
#: ignoring them
KNOWN_PARAMETERS = ("sigma", "maxiters", "subtract_dark_from_backgrounds")


def supports_step() -> bool:
    """True while bkg_subtract is the step the store serves (its own function, whose
    parameters are the combine's); otherwise the pipeline lets the step read its backgrounds."""
    step = bkg_subtract.STEP
    return (step.run is bkg_subtract.run
            and tuple(p.name for p in step.parameters) == KNOWN_PARAMETERS)


@dataclass
class _Entry:
    prepared: PreparedBackgrounds
    names: list[str]
    filters: list[str | None]
    dark_subtracted: bool
    nbytes: int

    def backgrounds(self) -> bkg_subtract.Backgrounds:
        return bkg_subtract.Backgrounds(self.names, self.filters, self.dark_subtracted,
                                        partial(combine_prepared, self.prepared))


def _identity(path: str) -> tuple:
    from .pipeline import _file_identity

    return _file_identity(path)


class BackgroundStore:
    """Prepared backgrounds of the latest science windows, within ``budget`` bytes."""

    def __init__(self, budget: int) -> None:
        self.budget = int(budget)
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        #: how many times backgrounds were read (not served from the store)
        self.reads = 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(entry.nbytes for entry in self._entries.values())

    def fits(self, model: ImageModel, paths: list[str]) -> bool:
        """Whether the prepared backgrounds of ``paths`` for ``model`` fit in the budget: N
        float32 SCI and ERR frames plus four frames of sigma-free results."""
        ny, nx = model.image_shape
        return (len(paths) * 8 + 16) * ny * nx <= self.budget

    def _key(self, paths: list[str], model: ImageModel) -> tuple:
        return (tuple(_identity(p) for p in paths), model.window, model.instrument,
                model.detector)

    def has(self, paths: list[str], model: ImageModel) -> bool:
        """Whether the backgrounds ``paths`` (as they are now) are kept for ``model``'s window."""
        key = self._key(paths, model)
        with self._lock:
            return key in self._entries

    def entry(self, paths: list[str], model: ImageModel, context: StepContext) -> _Entry:
        """The kept backgrounds of ``paths`` for ``model``, read and prepared if they are not."""
        key = self._key(paths, model)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        entry = self._read(paths, model, context)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while sum(e.nbytes for e in self._entries.values()) > self.budget \
                    and len(self._entries) > 1:
                self._entries.popitem(last=False)
        return entry

    def backgrounds(self, paths: list[str], model: ImageModel,
                    context: StepContext) -> bkg_subtract.Backgrounds:
        """bkg_subtract's ``StepContext.backgrounds``: the kept backgrounds of ``paths`` for
        ``model`` (read and prepared if they are not yet)."""
        return self.entry(paths, model, context).backgrounds()

    def _read(self, paths: list[str], model: ImageModel, context: StepContext) -> _Entry:
        """Read and prepare, as bkg_subtract reads (one background at a time, each cut
        to the science window by the step's own ``background_for_science``)."""
        self.reads += 1
        sci, err, dq, filters, dark = [], [], [], [], []
        share = bkg_subtract.LOADED / 2  # reading, then preparing
        for background in bkg_subtract.each_background(paths, model, context, share):
            filters.append(background.filter)
            dark.append(bkg_subtract.is_dark_subtracted(background))
            # contiguous float32 copies of the cut: the full frames can go
            sci.append(np.ascontiguousarray(background.data, dtype=np.float32))
            err.append(np.ascontiguousarray(background.err, dtype=np.float32))
            dq.append(np.ascontiguousarray(background.dq))
            del background
        prepared = prepare_backgrounds(sci, err, dq, cancel=context.cancel,
                                       progress=lambda f: context.progress(share + share * f))
        del dq  # the OR is in the prepared result
        nbytes = prepared.nbytes + sum(a.nbytes for a in prepared.sci + prepared.err)
        return _Entry(prepared, [Path(p).name for p in paths], filters, all(dark), nbytes)
