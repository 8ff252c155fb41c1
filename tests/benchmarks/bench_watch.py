"""Quick-look speed: a SIZE² exposure (B backgrounds, all steps) from "file complete" to shown
calibrated, and the window's GUI-thread stalls while exposures arrive every INTERVAL seconds.

    python tests/benchmarks/bench_watch.py [--size 2048] [--exposures 4] [--interval 10]
                                           [--backgrounds 3] [--modes engine,window]

Each exposure is written under a hidden name and renamed into the watched folder, so "complete"
is the rename's moment (in the window mode the copy runs on a thread of its own: the
telescope's writer is not the window's GUI thread). ``engine``: the command line's in-process
QuickLook (its default poll), time to the product's files written. ``window``: the real window
(offscreen) with File ▸ Watch folder's process; time until the product is the window's current
one with its result and the view has settled; the GUI thread's stalls measured by a 5 ms timer
(the longest gap beyond 5 ms, and how many exceed 20 ms), also for the same time with no watch
running (the machine's own noise). Prints the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path


def make_night(folder: Path, size: int, backgrounds: int) -> tuple[Path, Path]:
    """(demo folder, watched folder holding the references and B sky frames)."""
    from iris_gui.engine.demo import write_demo_dataset

    demo = write_demo_dataset(folder / "demo", size=size, seed=21, n_backgrounds=backgrounds,
                              nints=1)
    watched = folder / "night"
    watched.mkdir()
    for path in (demo.dark, demo.flat, demo.flat_other, demo.photom):
        shutil.copy(path, watched)
    for k, path in enumerate(demo.backgrounds, 1):
        shutil.copy(path, watched / f"sky{k}_rate.fits")
    return demo.science, watched


def land(science: Path, watched: Path, name: str) -> float:
    """Write ``name`` whole under a hidden name, rename it in; the moment it is complete."""
    hidden = watched / f".{name}.tmp"
    shutil.copy(science, hidden)
    os.replace(hidden, watched / name)
    return time.perf_counter()


def bench_engine(science, watched, out, exposures, interval) -> list[float]:
    from iris_gui.engine.config import PipelineConfig
    from iris_gui.engine.quicklook import QuickLook, WatchSettings
    from iris_gui.engine.watch_backgrounds import BackgroundRule
    from iris_gui.report.night_checks import night_measurements

    shown: dict[str, float] = {}
    settings = WatchSettings(str(watched), str(out), backgrounds=BackgroundRule.parse(
        "recent:3"))
    quicklook = QuickLook(settings, PipelineConfig(), measure=night_measurements,
                          on_result=lambda r: shown.setdefault(r.product.name,
                                                               time.perf_counter()))
    stop = threading.Event()
    runner = threading.Thread(target=quicklook.run, args=(stop,), daemon=True)
    runner.start()
    time.sleep(3)  # started, sky frames judged
    latencies = []
    for index in range(exposures):
        name = f"e{index:02d}"
        complete = land(science, watched, f"{name}_rate.fits")
        while name not in shown:
            time.sleep(0.01)
        latencies.append(shown[name] - complete)
        print(f"  engine {name}: {latencies[-1]:.2f} s from complete to written", flush=True)
        time.sleep(max(0.0, interval - (time.perf_counter() - complete)))
    stop.set()
    quicklook.stop()
    runner.join()
    return latencies


def bench_window(science, watched, out, exposures, interval):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("IRIS_GUI_STATE_DIR", tempfile.mkdtemp(prefix="bench-watch-state-"))
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from iris_gui.engine.quicklook import WatchSettings
    from iris_gui.engine.watch_backgrounds import BackgroundRule
    from iris_gui.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(out.parent / "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    window.resize(1600, 1000)
    window.show()
    from iris_gui.gui.app import prepare_event_loop
    prepare_event_loop()  # as iris-gui does before its event loop
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0] - 0.005)
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(5)

    def spin(seconds: float, until=None) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end and not (until and until()):
            app.processEvents()
            time.sleep(0.001)

    spin(3)
    gaps.clear()
    spin(interval)  # the machine's own noise, no watch
    idle = list(gaps)
    window.watch.start(WatchSettings(str(watched), str(out),
                                     backgrounds=BackgroundRule.parse("recent:3")))
    spin(6)  # the watch process started and warm
    gaps.clear()
    latencies = []
    for index in range(exposures):
        name = f"w{index:02d}"
        # the telescope writes on a thread of its own: the copy is not the GUI thread's stall
        landed: list[float] = []
        writer = threading.Thread(target=lambda n=name, out=landed: out.append(
            land(science, watched, f"{n}_rate.fits")))
        writer.start()
        spin(60, lambda out=landed: bool(out))
        writer.join()
        complete = landed[0]

        def shown(name=name) -> bool:
            current = window.workbench.current_product
            return (current is not None and current.name == name
                    and window.workbench.result_for(current) is not None
                    and not window.image_view.busy)

        spin(60, shown)
        latencies.append(time.perf_counter() - complete)
        print(f"  window {name}: {latencies[-1]:.2f} s from complete to shown", flush=True)
        spin(max(0.0, interval - (time.perf_counter() - complete)))
    watching = list(gaps)
    window.close()
    app.processEvents()
    return latencies, idle, watching


def stall_text(gaps: list[float]) -> str:
    if not gaps:
        return "no samples"
    ordered = sorted(gaps)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    over = sum(1 for g in gaps if g > 0.020)
    return (f"longest {1000 * ordered[-1]:.0f} ms, 99th percentile {1000 * p99:.1f} ms, "
            f"{over} of {len(gaps)} ticks late by > 20 ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--exposures", type=int, default=4)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--backgrounds", type=int, default=3)
    parser.add_argument("--modes", default="engine,window")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        tmp = Path(tmp)
        science, watched = make_night(tmp, args.size, args.backgrounds)
        modes = args.modes.split(",")
        if "engine" in modes:
            latencies = bench_engine(science, watched, tmp / "out-engine", args.exposures,
                                     args.interval)
            print(f"engine: complete -> written: best {min(latencies):.2f} s, median "
                  f"{statistics.median(latencies):.2f} s, worst {max(latencies):.2f} s")
        if "window" in modes:
            latencies, idle, watching = bench_window(science, watched, tmp / "out-window",
                                                     args.exposures, args.interval)
            print(f"window: complete -> shown: best {min(latencies):.2f} s, median "
                  f"{statistics.median(latencies):.2f} s, worst {max(latencies):.2f} s")
            print(f"window: GUI thread, no watch: {stall_text(idle)}")
            print(f"window: GUI thread, watching: {stall_text(watching)}")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
