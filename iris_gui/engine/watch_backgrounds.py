"""Which backgrounds a watched exposure gets: the rule the user chose, said in words.

Rules (``BackgroundRule.parse`` reads the command line's ``--backgrounds-from``):

- ``none``: no background (bkg_subtract is skipped, saying why).
- an association (``.json``): the background members of the product whose science member is
  the exposure (by path, else by file name); an exposure the association does not name gets
  every background member of the association.
- a folder of sky frames: every complete FITS file in it, by name.
- ``recent:N``: of the sky frames of the watched folder that have arrived, the N observed
  nearest in time to the exposure (DATE-OBS [+ TIME-OBS]; the file's modification time when a
  frame has none) — while the night goes on, the N most recent. A frame is a sky frame when its
  primary header's IMTYPE, EXP_TYPE or EXPTYPE says so (``SKY``, ``BACKGROUND``, ``BKG``, or a
  JWST-style ``..._BKG`` / ``..._SKY``); the demo dataset and the upstream's associations label
  them that way (EXPTYPE = BACKGROUND, exptype SKY). A restart does not choose again for an
  exposure already calibrated: its outputs record the backgrounds it was made with.

Sky frames in the watched folder are never calibrated as science: the night table lists them
as ``sky``.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from .association import load_association
from .errors import InputError
from .lazy import fits
from .watch import fits_extent

NONE, ASSOCIATION, FOLDER, RECENT = "none", "association", "folder", "recent"
#: header keywords that say what kind of exposure a file is, in the order they are asked
TYPE_KEYWORDS = ("IMTYPE", "EXP_TYPE", "EXPTYPE")
SKY_VALUES = ("SKY", "BACKGROUND", "BKG", "BACK")
FITS_NAMES = (".fits", ".fit", ".fts", ".fits.gz")


def says_sky(header) -> bool:
    """The header's IMTYPE, EXP_TYPE or EXPTYPE labels the exposure a sky / background frame."""
    for key in TYPE_KEYWORDS:
        value = header.get(key)
        if value is None:
            continue
        text = str(value).strip().upper()
        if text in SKY_VALUES or text.endswith(("_BKG", "_SKY", "_BACKGROUND")):
            return True
    return False


def observation_time(header, path: str) -> float:
    """Seconds since the epoch of DATE-OBS [+ TIME-OBS]; the file's mtime without them."""
    from .reference_rules import exposure_date

    try:
        date, _text = exposure_date(header, path)
    except InputError:
        date = None
    if date is not None:
        return date.replace(tzinfo=datetime.timezone.utc).timestamp()
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0


@dataclass(frozen=True)
class SkyFrame:
    path: str
    time: float


@dataclass(frozen=True)
class BackgroundRule:
    kind: str = NONE
    #: the association file or the folder of sky frames
    source: str = ""
    #: recent:N
    count: int = 0

    @classmethod
    def parse(cls, text: str | None, option: str = "--backgrounds-from") -> BackgroundRule:
        """``none``, ``recent:N``, an association ``.json`` or a folder; InputError if not."""
        text = (text or "").strip()
        if not text or text.lower() == NONE:
            return cls()
        if text.lower().startswith("recent:"):
            number = text.split(":", 1)[1].strip()
            if not number.isdigit() or int(number) < 1:
                raise InputError(f"{option} {text}: write recent:N with N a whole number of at "
                                 f"least 1 (e.g. recent:3)")
            return cls(RECENT, "", int(number))
        path = os.path.abspath(text)
        if os.path.isdir(path):
            return cls(FOLDER, path)
        if path.lower().endswith(".json"):
            if not os.path.isfile(path):
                raise InputError(f"{option} {text}: association file not found")
            load_association(path, strict=False)  # unreadable: say so now, not at the first file
            return cls(ASSOCIATION, path)
        if not os.path.exists(path):
            raise InputError(f"{option} {text}: not found (give an association .json, a folder "
                             f"of sky frames, recent:N or none)")
        raise InputError(f"{option} {text}: neither an association .json nor a folder (or "
                         f"recent:N, none)")

    def to_text(self) -> str:
        """What ``parse`` reads back (and the session stores)."""
        if self.kind == RECENT:
            return f"recent:{self.count}"
        return self.source if self.kind in (ASSOCIATION, FOLDER) else NONE

    def describe(self) -> str:
        """The rule in words, as the window and the command line show it."""
        if self.kind == ASSOCIATION:
            return (f"backgrounds from the association {Path(self.source).name}: its product "
                    f"naming the exposure, else all its background members")
        if self.kind == FOLDER:
            return f"every FITS file in the sky-frame folder {self.source}"
        if self.kind == RECENT:
            return (f"the {self.count} sky frame{'s' if self.count != 1 else ''} (IMTYPE / "
                    f"EXP_TYPE / EXPTYPE = SKY or BACKGROUND) observed nearest in time to each "
                    f"exposure, of those arrived")
        return "no backgrounds (bkg_subtract skipped)"

    def backgrounds_for(self, science: str, science_time: float,
                        sky_frames: list[SkyFrame]) -> list[str]:
        """The background files for the exposure ``science`` observed at ``science_time``;
        ``sky_frames``: the watched folder's complete sky frames so far."""
        if self.kind == RECENT:
            others = [f for f in sky_frames
                      if os.path.abspath(f.path) != os.path.abspath(science)]
            nearest = sorted(others, key=lambda f: (abs(f.time - science_time), -f.time,
                                                    f.path))[:self.count]
            return [f.path for f in sorted(nearest, key=lambda f: (f.time, f.path))]
        if self.kind == FOLDER:
            return self._folder_frames()
        if self.kind == ASSOCIATION:
            return self._association_backgrounds(science)
        return []

    def is_background(self, path: str) -> bool:
        """``path`` is one of the rule's own sky frames (a member of its folder or a
        background member of its association)."""
        path = os.path.abspath(path)
        if self.kind == FOLDER:
            return os.path.dirname(path) == self.source
        if self.kind == ASSOCIATION:
            try:
                association = load_association(self.source, strict=False)
            except InputError:
                return False
            return any(os.path.abspath(b) == path for p in association.products
                       for b in p.backgrounds)
        return False

    def _folder_frames(self) -> list[str]:
        try:
            names = sorted(os.listdir(self.source))
        except OSError as exc:
            raise InputError(f"sky-frame folder {self.source}: cannot be read "
                             f"({exc.strerror})") from None
        paths = [os.path.join(self.source, n) for n in names
                 if n.lower().endswith(FITS_NAMES) and not n.startswith(".")]
        return [p for p in paths if os.path.isfile(p) and fits_extent(p).complete]

    def _association_backgrounds(self, science: str) -> list[str]:
        association = load_association(self.source, strict=False)
        science = os.path.abspath(science)
        for matches in (lambda m: os.path.abspath(m) == science,
                        lambda m: os.path.basename(m) == os.path.basename(science)):
            for product in association.products:
                if any(m.exptype == "science" and matches(m.path) for m in product.members):
                    return list(product.backgrounds)
        every: list[str] = []
        for product in association.products:
            every += [b for b in product.backgrounds if b not in every]
        return every


def read_primary_header(path: str):
    """The primary header of a complete file (for the sky label and the time)."""
    with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
        return hdul[0].header.copy()
