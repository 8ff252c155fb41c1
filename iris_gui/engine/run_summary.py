"""The progress of a many-product run, its final table and its ``--summary`` file.

``BatchProgress`` takes the events ``batch.run_batch`` reports (a product started, a step started
or finished, a product done, a worker's log record) and shows one aggregated display on stderr:
on a terminal a status line redrawn in place (done / running / failed, the step each running
product is in, an ETA); otherwise plain lines, one per event worth a line. ``write_summary``
writes the records as JSON or CSV (one row per product, a status and a time column per step).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from pathlib import Path

from .batch import ProductRecord
from .files import atomic_write_text
from .steps import STEPS

worker_log = logging.getLogger("iris_gui.worker")

SUMMARY_SUFFIXES = (".json", ".csv")


class BatchProgress:
    def __init__(self, stream, quiet: bool, total: int, workers: int) -> None:
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.quiet = quiet
        self.total = total
        self.workers = max(1, workers)
        self.current: dict[str, str] = {}  # running product -> step
        self.done = self.failed = 0
        self.started = time.monotonic()
        self.last_draw = 0.0

    def __call__(self, event: tuple) -> None:
        kind = event[0]
        if kind == "log":
            self._clear()
            worker_log.log(event[1], "%s", event[2])
        elif kind == "start":
            self.current[event[1]] = "starting"
            self._say(f"{event[1]}: started")
        elif kind == "step":
            _, name, step, status, seconds = event
            if status == "RUNNING":
                self.current[name] = step
                self._draw()
            else:
                timing = f" {seconds:.2f}s" if status == "COMPLETE" else ""
                self._say(f"{name}: {step}: {status}{timing}")
        elif kind == "retry":  # its worker died; it waits to run again
            self.current.pop(event[1], None)
            self._draw(force=True)
        elif kind == "done":
            record: ProductRecord = event[1]
            self.current.pop(record.name, None)
            if record.ok:
                self.done += 1
            else:
                self.failed += 1
            self._say(f"[{self.done + self.failed}/{self.total}] {record.name}: {record.status} "
                      f"in {record.seconds:.1f} s ({self.counts()})")

    def counts(self) -> str:
        return f"done {self.done}, running {len(self.current)}, failed {self.failed}"

    def eta(self) -> str:
        finished = self.done + self.failed
        if not finished:
            return ""
        per = (time.monotonic() - self.started) / finished
        left = per * (self.total - finished)
        return f", ETA {left:.0f} s"

    def _say(self, text: str) -> None:
        if self.quiet:
            return
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()
        self._draw(force=True)

    def _clear(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\r\033[K")

    def _draw(self, force: bool = False) -> None:
        if not self.tty or self.quiet or (not force and time.monotonic() - self.last_draw < 0.1):
            return
        self.last_draw = time.monotonic()
        steps = " | ".join(f"{name}: {step}" for name, step in sorted(self.current.items()))
        line = f"{self.counts()}{self.eta()}" + (f" | {steps}" if steps else "")
        self.stream.write("\r\033[K" + line[:200])
        self.stream.flush()

    def finish(self) -> None:
        self._clear()
        if self.tty and not self.quiet:
            self.stream.flush()


def table(records: list[ProductRecord]) -> str:
    """The final table: product, status, seconds, files written, error."""
    rows = [("product", "status", "seconds", "files", "error")]
    rows += [(r.name, r.status, f"{r.seconds:.1f}", str(len(r.outputs)), r.error[:60])
             for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) +
             (f"  {row[4]}" if row[4] else "") for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def summary_text(records: list[ProductRecord], path: str | Path, seconds: float,
                 workers: int) -> str:
    if str(path).lower().endswith(".csv"):
        return _csv(records)
    return json.dumps({
        "products": [r.to_dict() for r in records],
        "total": {"products": len(records),
                  "done": sum(r.status == "done" for r in records),
                  "skipped": sum(r.status == "skipped" for r in records),
                  "failed": sum(r.status == "failed" for r in records),
                  "cancelled": sum(r.status == "cancelled" for r in records),
                  "seconds": round(seconds, 3), "jobs": workers},
    }, indent=1) + "\n"


def _csv(records: list[ProductRecord]) -> str:
    buffer = io.StringIO()
    columns = ["product", "source", "status", "seconds"]
    for step in STEPS:
        columns += [f"{step.name}_status", f"{step.name}_seconds"]
    columns += ["outputs", "warnings", "error"]
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    for record in records:
        row = {"product": record.name, "source": record.source, "status": record.status,
               "seconds": f"{record.seconds:.3f}", "outputs": "; ".join(record.outputs),
               "warnings": "; ".join(record.warnings), "error": record.error}
        for step in record.steps:
            row[f"{step.name}_status"] = step.status
            row[f"{step.name}_seconds"] = f"{step.seconds:.3f}"
        writer.writerow(row)
    return buffer.getvalue()


def write_summary(records: list[ProductRecord], path: str | Path, seconds: float,
                  workers: int) -> Path:
    return atomic_write_text(path, summary_text(records, path, seconds, workers))
