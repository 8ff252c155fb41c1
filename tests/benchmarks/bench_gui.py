"""Desktop window timings: cold start to first paint, opening a rate file to its image on screen,
Run to the last step's image on screen, and cancel latency, on the demo dataset.

    QT_QPA_PLATFORM=xcb xvfb-run -a python tests/benchmarks/bench_gui.py [--size 2048] [--repeat 3]
        [--modes start open run cancel]

(``QT_QPA_PLATFORM=offscreen`` works too, with cheaper painting.) Each cold start is a fresh
process: the clock starts just before the process is launched and stops at the window's first
paint. "Run to last image" is the time from triggering Run on the iris_demo product until the
window reports the run's results shown (``runCompleted``) and the pending paints are flushed.
Cancel latency: Run all, cancel while bkg_subtract is in its combine loop, time until the run
reports it stopped. Open: File ▸ Open's code path on the science rate file, until the view has
drawn it (the file is read on the worker, the display prepared on the view's pool).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(mode: str, asn: str, launched: float) -> dict:
    from PySide6.QtCore import QEvent, QObject, QSettings, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    from iris_gui.gui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    settings_file = os.path.join(tempfile.mkdtemp(), "settings.ini")
    window = MainWindow(settings=QSettings(settings_file, QSettings.Format.IniFormat))
    window.workbench.set_output_dir(tempfile.mkdtemp())
    result: dict = {}

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 (Qt naming)
            if event.type() == QEvent.Type.Paint and "first_paint" not in result:
                result["first_paint"] = time.time() - launched
                QTimer.singleShot(0, after_start)
            return False

    painter_watch = FirstPaint()
    window.installEventFilter(painter_watch)

    def after_start() -> None:
        if mode == "start":
            app.quit()
            return
        if mode == "open":
            result["started"] = time.perf_counter()
            window.open_paths([os.path.join(os.path.dirname(asn), "iris_demo_rate.fits")])
            poll.start(2)
            return
        window.open_paths([asn])
        QTimer.singleShot(200, start_run)

    def start_run() -> None:
        result["started"] = time.perf_counter()
        if mode == "run":
            window.run_action.trigger()
        else:
            window.run_all_action.trigger()

    class CancelInTheLoop(QObject):
        """Receives the worker's progress on the GUI thread (a bound slot of a GUI-thread
        QObject; a plain function would be called on the worker thread)."""

        @Slot(object, object, float)
        def progress(self, product, step, fraction) -> None:
            if step.name == "bkg_subtract" and 0.4 < fraction < 0.9 and "cancel_at" not in result:
                result["cancel_at"] = time.perf_counter()
                window.cancel_run()

    def completed(code: int) -> None:
        app.processEvents()  # flush the paints the results queued
        now = time.perf_counter()
        result["code"] = code
        if mode == "run":
            result["run_to_last_image"] = now - result["started"]
            result["steps"] = {name: round(step.elapsed, 3) for name, step in
                               window.workbench.current_result.steps.items()}
        elif "cancel_at" in result:
            result["cancel_latency"] = now - result["cancel_at"]
        app.quit()

    def opened() -> None:
        view = window.image_view
        if view.left.index is not None and not view.busy:
            poll.stop()
            view.left.plot.viewport().repaint()
            result["open_to_image"] = time.perf_counter() - result["started"]
            app.quit()

    poll = QTimer()
    poll.timeout.connect(opened)
    window.runCompleted.connect(completed)
    canceller = CancelInTheLoop()
    if mode == "cancel":
        window.worker.stepProgress.connect(canceller.progress)
    window.show()
    app.exec()
    window.shutdown()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=["start", "open", "run", "cancel"],
                        choices=["start", "open", "run", "cancel"])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, asn, launched = args.child
        print(json.dumps(child(mode, asn, float(launched))))
        return

    from iris_gui.engine.demo import write_demo_dataset

    folder = Path(tempfile.mkdtemp(prefix="iris-gui-bench-"))
    dataset = write_demo_dataset(folder, size=args.size)
    print(f"platform {os.environ.get('QT_QPA_PLATFORM', '(default)')}, demo {args.size}², "
          f"{args.repeat} run(s) each")
    for mode in args.modes:
        for _ in range(args.repeat):
            launched = time.time()
            completed = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(dataset.asn), repr(launched)],
                capture_output=True, text=True)
            if completed.returncode != 0:
                print(completed.stderr[-2000:])
                raise SystemExit(f"{mode}: child failed")
            r = json.loads(completed.stdout.strip().splitlines()[-1])
            if mode == "start":
                print(f"cold start to first paint   {r['first_paint']:.2f} s")
            elif mode == "open":
                print(f"open rate file to its image  {r['open_to_image']:.2f} s")
            elif mode == "run":
                print(f"Run to last step's image    {r['run_to_last_image']:.2f} s   "
                      f"steps (s, reading included): {r['steps']}")
            else:
                print(f"cancel latency              {r.get('cancel_latency', float('nan')):.3f} s"
                      f"   (run ended with code {r['code']})")


if __name__ == "__main__":
    main()
