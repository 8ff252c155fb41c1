"""Live re-run latency: bkg_subtract's ``sigma`` changed -> its new result, and -> the last step.

    python tests/benchmarks/bench_live.py [--size 2048] [--repeat 5] [--modes engine worker gui]
    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_live.py --modes gui

Each mode runs in a fresh process on the demo dataset (``iris_gui.engine.demo``, product
``iris_demo``: 5 backgrounds, all seven steps). Every edit gives sigma a value it has not had just
before, so bkg_subtract and everything after it must be computed again. Each new bkg_subtract
result is recognised by its pixels (compared, outside the timing, with a run of a fresh pipeline
at that sigma), so a stale result can never be counted.

* ``engine``: ``Image2Pipeline.run_product`` on this thread after the edit (the runner alone),
  with the background budget the window's worker gives its pipeline and, after the cold run,
  ``prepare_backgrounds`` as the worker calls it when idle (when the engine has them).
* ``worker``: the window's protocol through the real ``PipelineWorker`` on its QThread: a run
  request; while a run is in flight, a new request cancels it and is sent when ``runFinished``
  arrives (``MainWindow.start_run``). Times are taken on the GUI thread when the signal is
  delivered. ``idle``: the edit comes after the previous run ended. ``in bkg``: the edit comes
  while the previous run is in bkg_subtract's combine. ``in resample``: halfway through the
  previous run's resample (drizzle holds the GIL throughout, so the edit is handled only when
  it ends; the time counts from the edit).
  ``--delay-ms`` adds a live delay like the window's before the request.
* ``gui``: the real ``MainWindow`` (offscreen or xcb), Live on, the bkg_subtract step selected:
  the edit is the steps panel's ``parameterChanged`` signal, the time is taken when the After
  pane has been given the new result's pixels and repainted. The window's own LIVE_DELAY_MS
  applies; ``--delay-ms`` replaces it (to try another value).

Baseline, measured in the same process: a cold full run of the product (first run of a new
pipeline; the files are in the page cache). Ratios are latency / baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIGMAS = (2.5, 2.4, 2.6, 2.45)
FIRST_SIGMA = 3.0
PRODUCT = "iris_demo"


# ---- recognising a result ----------------------------------------------------------------------

def expected_outputs(asn: str, sigmas) -> dict[float, np.ndarray]:
    """bkg_subtract's output SCI for each sigma, from a fresh pipeline without cache."""
    from iris_gui.engine.association import load_association
    from iris_gui.engine.config import PipelineConfig
    from iris_gui.engine.pipeline import Image2Pipeline

    product = _product(load_association(asn))
    outputs = {}
    for sigma in sigmas:
        config = PipelineConfig()
        config.set("steps.bkg_subtract.sigma", sigma)
        for step in ("assign_wcs", "parse_subarray_map", "dark_current", "flat_field", "photom",
                     "resample"):
            config.set(f"steps.{step}.skip", True)
        result = Image2Pipeline(config, cache=False).run_product(product)
        outputs[sigma] = result.steps["bkg_subtract"].model.data
    return outputs


class Candidates:
    """bkg_subtract results seen after an edit, with the time each arrived; which one was the
    edit's own is decided afterwards, by its pixels, so the timing costs nothing."""

    def __init__(self, before=()) -> None:
        self.before = list(before)  # results that existed before the edit (kept alive: ids)
        self.seen: set[int] = {id(model) for model in self.before}
        self.items: list[tuple[float, object]] = []

    def add(self, model) -> None:
        if id(model) not in self.seen:
            self.seen.add(id(model))
            self.items.append((time.perf_counter(), model))

    def first_matching(self, expected: np.ndarray) -> float | None:
        for when, model in self.items:
            if np.array_equal(model.data, expected, equal_nan=True):
                return when
        return None


def _product(association):
    return next(p for p in association.products if p.name == PRODUCT)


def waiter(app):
    """``wait(condition, timeout=300.0)``: process ``app``'s events until ``condition()`` holds
    (SystemExit after ``timeout`` seconds)."""
    def wait(condition, timeout=300.0) -> None:
        deadline = time.perf_counter() + timeout
        while not condition():
            app.processEvents()
            time.sleep(0.0005)
            if time.perf_counter() > deadline:
                raise SystemExit("timed out")

    return wait


# ---- engine mode ------------------------------------------------------------------------------

def child_engine(asn: str, repeat: int, sigmas) -> dict:
    from iris_gui.engine.association import load_association
    from iris_gui.engine.pipeline import Image2Pipeline, PipelineCallbacks

    product = _product(load_association(asn))
    marks: dict[str, float] = {}
    callbacks = PipelineCallbacks(step_done=lambda p, s, r: marks.setdefault(s.name,
                                                                             time.perf_counter()))
    pipeline = Image2Pipeline(callbacks=callbacks)
    try:  # as the window's worker sets it up
        from iris_gui.gui.worker import background_budget

        pipeline.keep_backgrounds(background_budget())
    except (ImportError, AttributeError):
        pass
    pipeline.config.set("steps.bkg_subtract.sigma", FIRST_SIGMA)
    started = time.perf_counter()
    pipeline.run_product(product)
    cold = time.perf_counter() - started
    if hasattr(pipeline, "prepare_backgrounds"):  # the worker does this when idle
        pipeline.prepare_backgrounds(product)
    bkg, last, results = [], [], []
    for k in range(repeat):
        marks.clear()
        config = pipeline.config.copy()
        sigma = sigmas[k % len(sigmas)]
        config.set("steps.bkg_subtract.sigma", sigma)
        pipeline.config = config
        started = time.perf_counter()
        result = pipeline.run_product(product)
        bkg.append(marks["bkg_subtract"] - started)
        last.append(marks["resample"] - started)
        results.append((sigma, result.steps["bkg_subtract"].model))
    return {"cold": cold, "scenarios": {"idle": {"bkg": bkg, "last": last}}, "_results": results}


# ---- worker mode ------------------------------------------------------------------------------

def child_worker(asn: str, repeat: int, delay_ms: int, sigmas, expected) -> dict:
    from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Slot

    from iris_gui.engine.association import load_association
    from iris_gui.engine.pipeline import Image2Pipeline
    from iris_gui.gui.worker import WorkerThread

    app = QCoreApplication(sys.argv[:1])
    product = _product(load_association(asn))
    engine = WorkerThread()
    worker = engine.worker
    pipeline = Image2Pipeline()

    class Window(QObject):
        """MainWindow's run protocol (start_run / _run_finished / the live timer), nothing else."""

        def __init__(self) -> None:
            super().__init__()
            self.running = False
            self.rerun_when_done = False
            self.config = pipeline.config.copy()
            self.timer = QTimer(self)
            self.timer.setSingleShot(True)
            self.timer.timeout.connect(self.start_run)
            #: (step name, fraction, sigma, delay s): edit that long after a run gets there
            self.trigger = None
            self.clicked = False
            self.finished_runs = 0
            self.edited_at = 0.0
            self.bkg = Candidates()
            self.resampled: list[float] = []
            worker.stepDone.connect(self.step_done)
            worker.stepProgress.connect(self.step_progress)
            worker.runFinished.connect(self.run_finished)

        def edit(self, sigma: float) -> None:
            self.config = self.config.copy()
            self.config.set("steps.bkg_subtract.sigma", sigma)
            self.edited_at = time.perf_counter()
            self.bkg = Candidates()
            self.resampled = []
            if delay_ms:
                self.timer.start(delay_ms)
            else:
                self.start_run()

        @Slot()
        def start_run(self) -> None:
            if self.running:
                self.rerun_when_done = True
                worker.cancel()
                return
            self.running = True
            self.rerun_when_done = False
            token = worker.new_run_token()
            worker.requestRun.emit(pipeline, [product], self.config.copy(), token)

        @Slot(int)
        def run_finished(self, cancelled: int) -> None:
            self.running = False
            self.finished_runs += 1
            if self.rerun_when_done:
                self.rerun_when_done = False
                self.start_run()

        @Slot(object, object, object)
        def step_done(self, p, step, result) -> None:
            if step.name == "bkg_subtract":
                self.bkg.add(result.model)
            elif step.name == "resample":
                self.resampled.append(time.perf_counter())
                self.resample_elapsed = result.elapsed

        @Slot(object, object, float)
        def step_progress(self, p, step, fraction) -> None:
            if self.trigger is None or step.name != self.trigger[0] or fraction < self.trigger[1]:
                return
            name, at, sigma, later = self.trigger
            self.trigger = None
            reached = min((t for t, n, f in list(emitted)
                           if n == name and f >= at and t >= self.edited_at),
                          default=time.perf_counter())

            def click() -> None:  # the user's edit, `later` s after the run got there
                self.edit(sigma)
                self.edited_at = reached + later
                self.clicked = True

            if later:
                QTimer.singleShot(int(later * 1000), click)
            else:
                click()

    window = Window()
    # When the worker reports progress: the moment a click would arrive. A slot on the GUI thread
    # would run only once the GIL is free again (drizzle holds it for the whole resample), which
    # would hide that wait; this one runs on the worker's thread as the signal is emitted.
    emitted: list[tuple[float, str, float]] = []

    def note_progress(p, step, fraction) -> None:
        emitted.append((time.perf_counter(), step.name, fraction))

    worker.stepProgress.connect(note_progress, Qt.ConnectionType.DirectConnection)

    wait = waiter(app)

    # baseline: the first (cold) run of the product
    window.config.set("steps.bkg_subtract.sigma", FIRST_SIGMA)
    started = time.perf_counter()
    window.start_run()
    wait(lambda: window.finished_runs == 1)
    cold = time.perf_counter() - started
    resample_seconds = window.resample_elapsed

    scenarios: dict[str, dict[str, list]] = {}
    cycle = iter(range(10**9))
    # in resample: when drizzle is half done (its pixel map reports 0.1; drizzle takes the rest)
    for name, trigger in (("idle", None), ("edit while in bkg", ("bkg_subtract", 0.5, 0.0)),
                          ("edit while in resample", ("resample", 0.1, 0.5 * resample_seconds))):
        runs = scenarios[name] = {"bkg": [], "last": []}
        for _ in range(repeat):
            wait(lambda: not window.running)
            sigma = sigmas[next(cycle) % len(sigmas)]
            if trigger is None:
                window.edit(sigma)
            else:  # a run with one sigma, and the edit to the next while it is at the trigger
                step_name, fraction, later = trigger
                window.trigger = (step_name, fraction, sigmas[next(cycle) % len(sigmas)], later)
                window.clicked = False
                window.edit(sigma)
                wait(lambda: window.clicked)
                sigma = window.config.steps["bkg_subtract"]["sigma"]
            edited = window.edited_at

            def finished() -> bool:
                return not window.running and bool(window.resampled)

            wait(finished)
            arrived = window.bkg.first_matching(expected[sigma])
            if arrived is None:
                raise SystemExit(f"{name}: no bkg_subtract result with sigma {sigma}'s pixels")
            runs["bkg"].append(arrived - edited)
            runs["last"].append(min(t for t in window.resampled if t >= arrived) - edited)
    engine.stop()
    return {"cold": cold, "scenarios": scenarios}


# ---- gui mode ---------------------------------------------------------------------------------

def child_gui(asn: str, repeat: int, delay_ms: int, sigmas, expected) -> dict:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from iris_gui.gui import main_window
    from iris_gui.gui.main_window import MainWindow

    if delay_ms:
        main_window.LIVE_DELAY_MS = delay_ms
    live_delay = main_window.LIVE_DELAY_MS

    app = QApplication(sys.argv[:1])
    settings_file = os.path.join(tempfile.mkdtemp(), "settings.ini")
    window = MainWindow(settings=QSettings(settings_file, QSettings.Format.IniFormat))
    window.workbench.set_output_dir(tempfile.mkdtemp())
    window.show()
    from iris_gui.gui.app import prepare_event_loop
    prepare_event_loop()  # as iris-gui does before its event loop
    view = window.image_view
    pane = view.right  # the After pane: bkg_subtract's output
    state = {"shown": Candidates()}
    original = pane.show_index

    def show_index(*args, **kwargs):
        original(*args, **kwargs)
        pane.plot.viewport().repaint()  # on screen now, not at the next paint event
        result = view.result
        step = result.steps.get("bkg_subtract") if result is not None else None
        if step is not None and view.step_name == "bkg_subtract":
            state["shown"].add(step.model)

    pane.show_index = show_index

    wait = waiter(app)

    finished: list = []
    window.runCompleted.connect(lambda code: finished.append(time.perf_counter()))
    window.open_paths([asn])
    wait(lambda: window.workbench.current_product is not None)
    product = next(p for p in window.workbench.all_products if p.name == PRODUCT)
    window.select_product(product)
    window.workbench.select_step("bkg_subtract")
    window.workbench.set_parameter("steps.bkg_subtract.sigma", FIRST_SIGMA)
    started = time.perf_counter()
    window.run_current()
    wait(lambda: finished)
    cold = time.perf_counter() - started
    wait(lambda: not view.busy)
    window.live_box.setChecked(True)
    bkg, last = [], []
    for k in range(repeat):
        wait(lambda: not window.running and not view.busy)
        sigma = sigmas[k % len(sigmas)]
        current = view.result.steps.get("bkg_subtract") if view.result is not None else None
        state["shown"] = shown = Candidates([current.model] if current is not None else [])
        finished.clear()
        edited = time.perf_counter()
        window.steps_panel.parameterChanged.emit("bkg_subtract", "sigma", sigma)
        wait(lambda: finished and not window.running and not view.busy)
        arrived = shown.first_matching(expected[sigma])
        if arrived is None:
            raise SystemExit(f"no After image with sigma {sigma}'s pixels was shown")
        bkg.append(arrived - edited)
        last.append(finished[-1] - edited)
    window.shutdown()
    return {"cold": cold,
            "scenarios": {f"idle, delay {live_delay} ms, edit -> on screen":
                          {"bkg": bkg, "last": last}}}


# ---- driver -----------------------------------------------------------------------------------

def child(mode: str, asn: str, repeat: int, delay_ms: int, sigmas) -> dict:
    expected = expected_outputs(asn, sigmas)
    if mode == "engine":
        out = child_engine(asn, repeat, sigmas)
        # every result is the one a fresh pipeline gives for that sigma
        out["correct"] = all(np.array_equal(model.data, expected[sigma], equal_nan=True)
                             for sigma, model in out.pop("_results"))
        return out
    if mode == "worker":
        out = child_worker(asn, repeat, delay_ms, sigmas, expected)
    else:
        out = child_gui(asn, repeat, delay_ms, sigmas, expected)
    out["correct"] = True  # each time counted is that of a result with the expected pixels
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048, help="demo size (2048; 4096 works too)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--modes", nargs="+", default=["engine", "worker"],
                        choices=["engine", "worker", "gui"])
    parser.add_argument("--sigmas", nargs="+", type=float, default=list(SIGMAS),
                        help="values the edits cycle through (spin-box steps from 3.0 by default; "
                             "below ~2.3 with 5 backgrounds a large share of pixels is clipped)")
    parser.add_argument("--delay-ms", type=int, default=0,
                        help="worker mode: a live delay before the request; gui mode: replaces "
                             "the window's LIVE_DELAY_MS")
    parser.add_argument("--data", help="folder of an existing demo dataset of --size")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, asn, repeat, delay, sigmas = args.child
        print(json.dumps(child(mode, asn, int(repeat), int(delay),
                               [float(s) for s in sigmas.split(",")])))
        return
    if len(set(args.sigmas)) < 3 or FIRST_SIGMA in args.sigmas:
        raise SystemExit(f"--sigmas: at least 3 distinct values, none {FIRST_SIGMA}")

    from iris_gui.engine.demo import DEMO_ASN, write_demo_dataset

    folder = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="iris-live-bench-"))
    if not (folder / DEMO_ASN).exists():
        write_demo_dataset(folder, size=args.size)
    asn = str(folder / DEMO_ASN)
    print(f"demo {args.size}², product {PRODUCT}, sigma {FIRST_SIGMA} then edits to "
          f"{', '.join(map(str, args.sigmas))}; {args.repeat} per scenario"
          + (f"; live delay {args.delay_ms} ms" if args.delay_ms else ""))
    for mode in args.modes:
        completed = subprocess.run(
            [sys.executable, __file__, "--child", mode, asn, str(args.repeat), str(args.delay_ms),
             ",".join(map(str, args.sigmas))], capture_output=True, text=True)
        if completed.returncode != 0:
            print(completed.stderr[-3000:])
            raise SystemExit(f"{mode}: child failed")
        r = json.loads(completed.stdout.strip().splitlines()[-1])
        cold = r["cold"]
        print(f"[{mode}] baseline: cold full run {cold:.3f} s; results correct: {r['correct']}")
        for name, times in r["scenarios"].items():
            for what, label in (("bkg", "-> bkg_subtract result"), ("last", "-> last step done")):
                values = times[what]
                best, median = min(values), statistics.median(values)
                print(f"  {name:32s} {label:24s} best {best:.3f} s  median {median:.3f} s  "
                      f"ratio {median / cold:.2f}")


if __name__ == "__main__":
    main()
