"""Watching a folder for new exposures: which files are complete, never reading one half-written.

``FolderWatcher.poll()`` lists the folder (``os.scandir``, top level only) for regular files whose
name matches the pattern (default ``*_rate*.fits``; hidden files, our ``.iris-*.part``
temporaries and our own outputs are never taken) and reports each file once, when it is
complete (``ready``) or when it will not be (``failed``, with the reason):

- its size and modification time are the same on two polls in a row (a file already older than
  that when first seen counts as settled at once: a restart does not wait for the backlog), and
- ``fits_extent``: its header blocks (only those are read, 2880 bytes at a time, skipping the
  data) describe every HDU whole — BITPIX × NAXIS1 × … (+ PCOUNT) bytes of data after each
  header, up to the file's length — and it has a SCI (or DATA) extension.

A file that is settled but not yet whole (a writer that paused, a truncated copy) is waited for;
once it has stayed unchanged for ``timeout`` seconds it is reported failed with the reason
("truncated: the SCI extension describes 4194304 bytes of data but only 1000000 follow"). A file
that is not FITS at all (its first bytes are not ``SIMPLE  =``) fails as soon as it has settled.
A file that changes after it was reported (rewritten, or a failed one completed later) is
watched again from the start.

Why polling and not file-system events (watchdog, inotify): the complete-file rule needs the
size and time on successive polls anyway, and events do not cross NFS or SMB mounts (where
observatory data usually lands), so watchdog itself falls back to polling there. Listing a folder
of a few hundred files costs well under a millisecond; 0.25 s polls are cheap and portable. A
file is complete 0.25–0.5 s after its last byte (two polls a quarter of a second apart, then the
header check): the quick-look's own wait is small beside a calibration's seconds. A writer
that pauses longer than a poll between whole HDUs, after the SCI one, would be taken early —
with any window; writers that rename a finished file in (rsync, most acquisition systems) or
write it in one go are not.
"""

from __future__ import annotations

import fnmatch
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_PATTERN = "*_rate*.fits"
#: seconds between polls of the folder (a file is settled once two polls saw the same size)
POLL_SECONDS = 0.25
#: seconds a settled file that is not whole yet is waited for before it is listed as failed
INCOMPLETE_TIMEOUT = 60.0

BLOCK = 2880
_BITPIX_BYTES = {8: 1, 16: 2, 32: 4, 64: 8, -32: 4, -64: 8}
#: outputs iris_gui writes: never taken as new exposures (an output folder inside the watched
#: one, or a pattern as wide as ``*.fits``)
_OUTPUT_NAME = re.compile(r"_(cal|calints|i2d|bsub|bsubints)\.fits$", re.IGNORECASE)

READY, FAILED, WAITING = "ready", "failed", "waiting"


@dataclass(frozen=True)
class FitsExtent:
    """What the header blocks of a file say: ``complete``, else why not; ``final``: it can never
    become a whole FITS file by being written further (it is not FITS at all)."""

    complete: bool
    reason: str = ""
    final: bool = False
    size: int = 0
    names: tuple[str, ...] = ()


def _card_value(card: str) -> str:
    text = card[10:].strip()
    if text.startswith("'"):
        end = text.find("'", 1)
        return (text[1:end] if end > 0 else text[1:]).rstrip()  # trailing blanks mean nothing
    return text.split("/")[0].strip()


def _card_int(cards: dict[str, str], key: str, default: int | None = None) -> int | None:
    text = cards.get(key)
    if text is None:
        return default
    try:
        return int(float(text.replace("D", "E")))
    except ValueError:
        return None


def fits_extent(path: str | os.PathLike) -> FitsExtent:
    """Whether the FITS file at ``path`` holds every byte its headers describe (and a SCI or
    DATA extension). Reads the header blocks only."""
    try:
        size = os.path.getsize(path)
        handle = open(path, "rb")
    except OSError as exc:
        return FitsExtent(False, f"cannot be read ({exc.strerror or exc})", size=0)
    names: list[str] = []
    with handle:
        offset, index = 0, 0
        while offset < size:
            label = "the primary header" if index == 0 else f"extension {index}"
            cards: dict[str, str] = {}
            ended = False
            while not ended:
                handle.seek(offset)
                block = handle.read(BLOCK)
                if offset == 0 and not b"SIMPLE  =".startswith(block[:9]):
                    return FitsExtent(False, "not a FITS file (it does not begin with a FITS "
                                      "header)", final=True, size=size)
                if len(block) < BLOCK:
                    what = "empty" if size == 0 else f"{label} is cut off before its END card"
                    return FitsExtent(False, what, size=size, names=tuple(names))
                for start in range(0, BLOCK, 80):
                    card = block[start:start + 80].decode("ascii", "replace")
                    key = card[:8].rstrip()
                    if key == "END":
                        ended = True
                        break
                    if card[8:10] == "= ":
                        cards.setdefault(key, _card_value(card))
                offset += BLOCK
            name = cards.get("EXTNAME", "PRIMARY" if index == 0 else "").upper()
            label = f"the {name} extension" if name and index else label
            bitpix, naxis = _card_int(cards, "BITPIX"), _card_int(cards, "NAXIS")
            if bitpix not in _BITPIX_BYTES or naxis is None or not 0 <= naxis <= 999:
                return FitsExtent(False, f"{label}: BITPIX or NAXIS is not readable", final=True,
                                  size=size, names=tuple(names))
            pixels = 1 if naxis else 0
            for axis in range(1, naxis + 1):
                length = _card_int(cards, f"NAXIS{axis}")
                if length is None or length < 0:
                    return FitsExtent(False, f"{label}: NAXIS{axis} is not readable",
                                      final=True, size=size, names=tuple(names))
                pixels *= length
            pcount = _card_int(cards, "PCOUNT", 0) or 0
            gcount = _card_int(cards, "GCOUNT", 1) or 1
            nbytes = _BITPIX_BYTES[bitpix] * gcount * (pcount + pixels) if pixels or pcount else 0
            if offset + nbytes > size:
                return FitsExtent(False, f"truncated: {label} describes {nbytes} bytes of data "
                                  f"but only {max(size - offset, 0)} follow", size=size,
                                  names=tuple(names))
            names.append(name)
            offset += -(-nbytes // BLOCK) * BLOCK
            index += 1
    if not names:
        return FitsExtent(False, "empty", size=size)
    if "SCI" not in names and "DATA" not in names:
        return FitsExtent(False, "no SCI (or DATA) extension yet", size=size, names=tuple(names))
    return FitsExtent(True, size=size, names=tuple(names))


@dataclass
class WatchedFile:
    path: str
    size: int
    mtime_ns: int
    #: monotonic time of the last change of size or mtime
    changed_at: float
    #: polls in a row that saw this size and mtime
    same_polls: int = 1
    state: str = WAITING
    reason: str = ""


@dataclass(frozen=True)
class WatchEvent:
    kind: str        # ready | failed
    path: str
    reason: str = ""


class FolderWatcher:
    """Polls ``folder`` for complete files matching ``pattern`` (see the module docstring).

    ``clock`` (monotonic seconds) and ``wall_clock`` (epoch seconds, compared with mtimes) are
    parameters so tests can drive time; ``inspect`` is ``fits_extent`` unless a test spies on it.
    """

    def __init__(self, folder: str | os.PathLike, pattern: str = DEFAULT_PATTERN, *,
                 poll_seconds: float = POLL_SECONDS, timeout: float = INCOMPLETE_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time,
                 inspect: Callable[[str], FitsExtent] = fits_extent) -> None:
        self.folder = os.path.abspath(folder)
        self.pattern = pattern or DEFAULT_PATTERN
        self.poll_seconds = float(poll_seconds)
        self.timeout = float(timeout)
        self.clock = clock
        self.wall_clock = wall_clock
        self.inspect = inspect
        self.files: dict[str, WatchedFile] = {}
        #: paths never to report (files this process wrote)
        self.ignored: set[str] = set()

    def matches(self, name: str) -> bool:
        return (not name.startswith(".") and fnmatch.fnmatchcase(name, self.pattern)
                and not _OUTPUT_NAME.search(name))

    def _listing(self) -> dict[str, os.stat_result]:
        found = {}
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if not self.matches(entry.name) or entry.path in self.ignored:
                    continue
                try:
                    if not entry.is_file():
                        continue
                    found[entry.path] = entry.stat()
                except OSError:  # removed while listed
                    continue
        return found

    def poll(self) -> list[WatchEvent]:
        """One look at the folder: the files that became ready or failed since the last one,
        oldest modification first. OSError if the folder cannot be listed."""
        now = self.clock()
        listing = self._listing()
        for path in [p for p in self.files if p not in listing]:
            del self.files[path]  # removed (or renamed away): forget it
        events: list[tuple[int, WatchEvent]] = []
        for path, info in listing.items():
            tracked = self.files.get(path)
            if tracked is None or (tracked.size, tracked.mtime_ns) != (info.st_size,
                                                                      info.st_mtime_ns):
                tracked = WatchedFile(path, info.st_size, info.st_mtime_ns, now)
                old = self.wall_clock() - info.st_mtime_ns / 1e9
                if old > max(2 * self.poll_seconds, 1.0):
                    tracked.same_polls = 2  # settled long before we looked (a restart's backlog)
                self.files[path] = tracked
            else:
                tracked.same_polls += 1
            if tracked.state != WAITING or tracked.same_polls < 2:
                continue
            extent = self.inspect(path)
            if extent.complete:
                tracked.state = READY
            elif extent.final or now - tracked.changed_at >= self.timeout:
                tracked.state, tracked.reason = FAILED, extent.reason
            else:
                tracked.reason = extent.reason
                continue
            events.append((info.st_mtime_ns, WatchEvent(tracked.state, path, tracked.reason)))
        return [event for _, event in sorted(events, key=lambda e: (e[0], e[1].path))]

    def waiting(self) -> list[WatchedFile]:
        """Files seen but not reported yet (being written, or not whole)."""
        return [f for f in self.files.values() if f.state == WAITING]

    def forget(self, path: str) -> None:
        """Watch ``path`` again from the start (a retry)."""
        self.files.pop(os.path.abspath(path), None)

    def mark(self, path: str, state: str, reason: str, size: int, mtime_ns: int) -> bool:
        """Take an earlier run's verdict on ``path`` (READY or FAILED) if the file is unchanged
        since (same size and mtime); True when taken."""
        path = os.path.abspath(path)
        try:
            info = os.stat(path)
        except OSError:
            return False
        if (info.st_size, info.st_mtime_ns) != (size, mtime_ns):
            return False
        self.files[path] = WatchedFile(path, size, mtime_ns, self.clock(), 2, state, reason)
        return True
