"""Quick-look: calibrate each new exposure of a watched folder as it lands, once.

``QuickLook.poll_once`` takes the files the ``FolderWatcher`` found complete and, for each one:

- a sky frame (its header says so, or the background rule names it) is listed as ``sky`` and
  becomes a candidate background;
- an exposure already calibrated is recognised from its outputs' PROVENANCE: the outputs exist
  and record the identity (``provenance.up_to_date``: sha256 of the inputs with the cheap
  size/mtime pre-check, the references, the parameters) this run would give it with the
  backgrounds those outputs were made with — listed as ``done earlier``, not run again;
- an exposure whose run failed before, with the same identity, is listed failed with the
  reason the night log recorded (``night_log``), not run again; ``retry`` runs it;
- any other exposure is run as a batch product is (``batch.run_job_with``: the same pipeline
  run and writer, its own output plan checked first — never over a file it reads, each product
  written whole or not at all), with the current parameters, references chosen as for any run
  (from ``ref_dir``, else the watched folder), and backgrounds from the rule.

``on_row(row)`` is called whenever a row changes, ``on_result(result)`` as soon as a product's
files are written (before its checks are measured: the window shows it at once), and
``measure(result) -> dict`` gives the row's sky level, new DQ fraction and checks (the review
report's, ``report.night_checks``; the engine does not import the report). Everything runs on
the caller's thread; ``request_retry`` and ``stop`` may be called from another.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .association import Member, Product, product_name_for
from .batch import BatchJob, run_job_with
from .cancel import CancelToken
from .config import PipelineConfig
from .errors import InputError
from .files import check_output_dir
from .night_log import (
    DONE,
    EARLIER,
    FAILED,
    FILE_FAILURE,
    PROCESSING,
    RUN_FAILURE,
    SKY,
    WAITING,
    NightRow,
    night_log_text,
    plan_night_log,
    read_night_log,
    write_night_log,
)
from .output_plan import OutputPlan
from .outputs import plan_product, product_source
from .provenance import earlier_provenance, file_checks, run_identity, up_to_date
from .watch import DEFAULT_PATTERN, INCOMPLETE_TIMEOUT, POLL_SECONDS, FolderWatcher
from .watch_backgrounds import (
    BackgroundRule,
    SkyFrame,
    observation_time,
    read_primary_header,
    says_sky,
)

log = logging.getLogger("iris_gui.engine.quicklook")


@dataclass
class WatchSettings:
    folder: str
    output_dir: str
    pattern: str = DEFAULT_PATTERN
    backgrounds: BackgroundRule = field(default_factory=BackgroundRule)
    ref_dir: str | None = None
    poll_seconds: float = POLL_SECONDS
    #: seconds a settled file that is not whole is waited for before it is failed
    incomplete_timeout: float = INCOMPLETE_TIMEOUT

    def describe(self) -> str:
        return (f"watching {self.folder} for {self.pattern}; outputs to {self.output_dir}; "
                f"{self.backgrounds.describe()}")


#: what the first product would otherwise import (~2 s): imported when the watch starts
WARM_UP_MODULES = ("astropy.io.fits", "astropy.wcs", "astropy.stats", "drizzle.resample")


def warm_up() -> None:
    """Import what a run needs, so the first exposure of the night is as quick as the next."""
    import importlib

    for name in WARM_UP_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # the run that needs it says so
            pass


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class QuickLook:
    def __init__(self, settings: WatchSettings, config: PipelineConfig, *,
                 on_row: Callable[[NightRow], None] | None = None,
                 on_result: Callable[..., None] | None = None,
                 measure: Callable[..., dict] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.config = config.copy()
        self.on_row = on_row or (lambda row: None)
        self.on_result = on_result
        self.measure = measure
        self.folder = os.path.abspath(settings.folder)
        self.output_dir = os.path.abspath(settings.output_dir)
        self.ref_dir = os.path.abspath(settings.ref_dir or settings.folder)
        self.watcher = FolderWatcher(self.folder, settings.pattern,
                                     poll_seconds=settings.poll_seconds,
                                     timeout=settings.incomplete_timeout, clock=clock)
        self.rows: dict[str, NightRow] = {}
        self.sky_frames: list[SkyFrame] = []
        self.cancel = CancelToken()
        self._earlier: dict[str, NightRow] = {}
        self._retries: list[str] = []
        #: observation time (epoch seconds) of each exposure judged
        self._times: dict[str, float] = {}
        self._lock = threading.Lock()
        self._started = False

    # ---- starting -------------------------------------------------------------------------------
    def start(self) -> None:
        """Check the folders and read the night log an earlier run left; InputError if the
        watched folder is not a folder or the output folder cannot be used."""
        if not os.path.isdir(self.folder):
            raise InputError(f"--watch {self.settings.folder}: not a folder")
        if not os.path.isdir(self.ref_dir):
            raise InputError(f"--ref-dir {self.ref_dir}: not a folder")
        check_output_dir(self.output_dir)
        plan = OutputPlan()
        plan_night_log(plan, self.output_dir)
        plan.check()
        warm_up()
        self._earlier = read_night_log(self.output_dir)
        for row in self._earlier.values():
            if row.status == FAILED and row.failure == FILE_FAILURE:
                if self.watcher.mark(row.path, FAILED, row.reason, row.size, row.mtime_ns):
                    self._set(row)
        self._started = True

    # ---- the loop ---------------------------------------------------------------------------------
    def poll_once(self) -> list[NightRow]:
        """One poll: judge and run what became ready; the rows that changed."""
        if not self._started:
            self.start()
        changed: list[NightRow] = []
        with self._lock:
            retries, self._retries = self._retries, []
        for path in retries:
            self.watcher.forget(path)
            self._earlier.pop(path, None)
            row = self.rows.get(path)
            if row is not None:
                row.status, row.reason, row.identity = WAITING, "retry asked", None
                changed.append(self._set(row))
        events = self.watcher.poll()
        for tracked in self.watcher.waiting():
            row = self.rows.get(tracked.path)
            reason = tracked.reason or "being written"
            if row is None or row.status != WAITING or row.reason != reason:
                row = row or NightRow(tracked.path)
                row.status, row.reason = WAITING, reason
                changed.append(self._set(row))
        ready = []
        for event in events:
            if event.kind == FAILED:
                changed.append(self._file_failed(event.path, event.reason))
            else:
                ready.append(event.path)
        # sky frames first, then the exposures by observation time: a burst that brings both
        # gives each exposure the sky frames observed before it
        science = []
        for path in ready:
            row = self._judge(path)
            changed.append(row)
            if row.status == WAITING:
                science.append(row)
        for row in sorted(science, key=lambda r: (self._times.get(r.path, 0.0), r.path)):
            if self.cancel.cancelled:
                break
            changed.append(self._process(row))
        return changed

    def run(self, stop: threading.Event | None = None) -> None:
        """Poll until ``stop`` is set (or ``self.stop()``)."""
        stop = stop or threading.Event()
        self._stop = stop
        while not stop.is_set() and not self.cancel.cancelled:
            started = time.monotonic()
            self.poll_once()
            stop.wait(max(0.0, self.settings.poll_seconds - (time.monotonic() - started)))

    def stop(self) -> None:
        """Stop the loop; the product being run stops at its next check (nothing written)."""
        self.cancel.cancel()
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()

    def request_retry(self, path: str) -> None:
        """Run ``path`` again at the next poll (a failed file; any thread)."""
        with self._lock:
            self._retries.append(os.path.abspath(path))

    def from_earlier_run(self, row: NightRow) -> bool:
        """``row`` is what an earlier run found (calibrated then, or failed then), not news."""
        earlier = self._earlier.get(row.path)
        return row.status == EARLIER or (earlier is not None and row.status == FAILED
                                         and earlier.finished == row.finished)

    # ---- one file -----------------------------------------------------------------------------
    def _set(self, row: NightRow) -> NightRow:
        self.rows[row.path] = row
        self.on_row(row)
        return row

    def _stamp(self, row: NightRow) -> None:
        try:
            info = os.stat(row.path)
            row.size, row.mtime_ns = info.st_size, info.st_mtime_ns
        except OSError:
            pass
        row.finished = _now()

    def _file_failed(self, path: str, reason: str) -> NightRow:
        row = self.rows.get(path) or NightRow(path)
        row.status, row.reason, row.failure = FAILED, reason, FILE_FAILURE
        self._stamp(row)
        log.error("%s: %s", os.path.basename(path), reason)
        self._set(row)
        self._save()
        return row

    def _judge(self, path: str) -> NightRow:
        """Read a complete file's primary header: a sky frame, or an exposure to run (left
        WAITING; its observation time in ``_times``)."""
        row = self.rows.get(path) or NightRow(path)
        row.product = product_name_for(path)
        try:
            header = read_primary_header(path)
        except Exception as exc:  # complete by its headers, but astropy refuses it
            row.status, row.reason, row.failure = FAILED, f"not a readable FITS file ({exc})", \
                FILE_FAILURE
            self._stamp(row)
            self._save()
            return self._set(row)
        row.time = str(header.get("DATE-OBS", "") or "")
        if header.get("TIME-OBS") and "T" not in row.time:
            row.time = f"{row.time}T{header['TIME-OBS']}"
        row.filter = str(header.get("FILTER", "") or "")
        when = observation_time(header, path)
        if says_sky(header) or self.settings.backgrounds.is_background(path):
            self.sky_frames = [f for f in self.sky_frames if f.path != path]
            self.sky_frames.append(SkyFrame(path, when))
            row.status, row.reason = SKY, "sky frame (a candidate background)"
            self._stamp(row)
            return self._set(row)
        self._times[path] = when
        row.status, row.reason = WAITING, "complete; queued"
        return self._set(row)

    def product_for(self, path: str, backgrounds: list[str]) -> Product:
        members = [Member(os.path.abspath(path), "science", os.path.basename(path))]
        members += [Member(os.path.abspath(b), "background", os.path.basename(b))
                    for b in backgrounds]
        return Product(product_name_for(path), members)

    def plan_for(self, product: Product) -> OutputPlan:
        """The product's output plan (and the night log's), checked: InputError if broken."""
        plan = OutputPlan()
        plan_product(plan, product, self.config, self.output_dir, self.ref_dir)
        plan_night_log(plan, self.output_dir)
        plan.check()
        return plan

    def _recognised(self, row: NightRow, product: Product, plan: OutputPlan) -> bool:
        """Outputs of ``row`` exist and are up to date with the backgrounds they were made with
        (see the module docstring). InputError when they were made from another exposure."""
        planned = plan.paths_for(product.name, product_source(product))
        found = earlier_provenance(planned)
        if found is None:
            return False
        existing, document = found
        inputs = document.get("inputs") if isinstance(document.get("inputs"), dict) else {}
        science = inputs.get("science")
        if isinstance(science, str) and os.path.abspath(science) != row.path:
            raise InputError(f"{existing[0]} was made from {science}, another exposure of the "
                             f"same product name; not overwritten (choose another output "
                             f"folder)")
        recorded = inputs.get("backgrounds")
        if not isinstance(recorded, list) or not all(isinstance(b, str) for b in recorded):
            return False
        earlier = self.product_for(row.path, recorded)
        if not up_to_date(earlier, self.config, self.ref_dir, planned, found):
            return False
        row.backgrounds = [os.path.basename(b) for b in recorded]
        row.outputs = [str(p) for p in existing]
        return True

    def _failed_before(self, row: NightRow, product: Product) -> NightRow | None:
        earlier = self._earlier.get(row.path)
        if earlier is None or earlier.status != FAILED or earlier.failure != RUN_FAILURE:
            return None
        current = run_identity(product, self.config, self.ref_dir, earlier.file_checks)
        return earlier if current == earlier.identity else None

    def _process(self, row: NightRow) -> NightRow:
        path = row.path
        try:
            backgrounds = self.settings.backgrounds.backgrounds_for(
                path, self._times.get(path, 0.0), self.sky_frames)
            product = self.product_for(path, backgrounds)
            plan = self.plan_for(product)
            row.backgrounds = [os.path.basename(b) for b in backgrounds]
            if self._recognised(row, product, plan):
                earlier = self._earlier.get(path)
                if earlier is not None and earlier.status in (DONE, EARLIER):
                    for name in ("sky_level", "sky_source", "new_dq_fraction", "verdict",
                                 "checks", "seconds"):
                        setattr(row, name, getattr(earlier, name))
                row.status, row.reason = EARLIER, "outputs up to date (from their provenance)"
                self._stamp(row)
                self._save()
                return self._set(row)
            before = self._failed_before(row, product)
            if before is not None:
                row.status, row.reason, row.failure = FAILED, before.reason, RUN_FAILURE
                row.identity, row.file_checks = before.identity, before.file_checks
                row.finished = before.finished
                return self._set(row)
        except InputError as exc:
            return self._run_failed(row, None, str(exc))
        row.status, row.reason = PROCESSING, ""
        self._set(row)
        job = BatchJob(product, self.config, self.ref_dir, self.output_dir, plan,
                       product_source(product))
        kept = []
        record = run_job_with(job, lambda *event: None, self.cancel,
                              on_result=lambda result: kept.append(result) or self._shown(result))
        row.seconds = record.seconds
        if record.status == "cancelled":
            row.status, row.reason = WAITING, "stopped before it finished; nothing written"
            return self._set(row)
        if record.status != "done":
            return self._run_failed(row, product, record.error or "failed")
        row.outputs = list(record.outputs)
        row.status, row.reason, row.failure = DONE, "; ".join(record.warnings[:3]), ""
        row.identity = row.file_checks = None
        if self.measure is not None and kept:
            try:
                for key, value in self.measure(kept[0]).items():
                    setattr(row, key, value)
            except Exception as exc:  # the product is written; only its numbers are missing
                log.warning("%s: the night table's checks could not be measured: %s",
                            row.name, exc)
        self._stamp(row)
        self._save()
        return self._set(row)

    def _shown(self, result) -> None:
        if self.on_result is not None and result.ok:
            self.on_result(result)

    def _run_failed(self, row: NightRow, product: Product | None, reason: str) -> NightRow:
        row.status, row.reason, row.failure = FAILED, reason, RUN_FAILURE
        row.identity = row.file_checks = None
        if product is not None:
            try:
                row.identity = run_identity(product, self.config, self.ref_dir)
                row.file_checks = file_checks(row.identity)
            except Exception:  # noqa: BLE001 - without it the failure is simply retried
                row.identity = None
        self._stamp(row)
        log.error("%s: %s", row.name, reason)
        self._save()
        return self._set(row)

    # ---- the night log ----------------------------------------------------------------------------
    def night_rows(self) -> list[NightRow]:
        return list(self.rows.values())

    def _save(self) -> None:
        rows = [r for r in self.rows.values() if r.status in (DONE, EARLIER, FAILED, SKY)]
        # rows of an earlier run not seen (yet) in this one are kept
        rows += [r for p, r in self._earlier.items() if p not in self.rows]
        plan = OutputPlan()
        plan_night_log(plan, self.output_dir)
        text = night_log_text(rows, self.folder, self.settings.pattern,
                              self.settings.backgrounds.to_text())
        try:
            write_night_log(text, self.output_dir, plan)
        except Exception as exc:  # the products are written; the table is only not kept
            log.warning("the quick-look night log could not be written to %s: %s",
                        Path(self.output_dir), exc)
