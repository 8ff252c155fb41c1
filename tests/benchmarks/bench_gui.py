"""Desktop window timings: cold start to first paint, opening a rate file to its image on screen,
Run to the last step's image on screen, cancel latency, and Run all in the window's process
against Run all in the pool of worker processes, on the demo dataset.

    QT_QPA_PLATFORM=xcb xvfb-run -a python tests/benchmarks/bench_gui.py [--size 2048] [--repeat 3]
        [--modes start open run cancel runall memory] [--workers 2] [--settle 3]

(``QT_QPA_PLATFORM=offscreen`` works too, with cheaper painting.) Each cold start is a fresh
process: the clock starts just before the process is launched and stops at the window's first
paint. "Run to last image" is the time from triggering Run on the iris_demo product until the
window reports the run's results shown (``runCompleted``) and the pending paints are flushed.
Cancel latency: Run all, cancel while bkg_subtract is in its combine loop, time until the run
reports it stopped (at 2048² Run all goes to the pool). Open: File ▸ Open's code path on the
science rate file, until the view has drawn it (the file is read on the worker, the display
prepared on the view's pool).

Run all (``runall``): the demo's four products, from Run all until the results are shown
(``runCompleted``, paints flushed), once with ``pool_workers = 0`` (the engine's worker thread,
as before the pool) and once with ``--workers`` processes, alternating, each in a fresh window
process that opened the association ``--settle`` seconds before (the same wait for both: the
worker's warm-up imports, the pool's processes starting). Best and median of each, the ratio,
and the longest the GUI thread waited between two ticks of a 10 ms timer during the run.
``--series`` adds ``thread-serial`` (the window's process with resample on one core, as it was
before resample used every core) and ``filed`` (the code of ``--filed-tree``, a checkout of the
commit at which the issue asking for the pool was filed, in the window's process: "today" as
the issue meant it, measured in the same run). A pool worker's resample uses as many processes as the
window's own would (the same bits).
Memory (``memory``): after Run all in the pool, the window's resident memory (VmRSS, and its
file-mapped part RssFile) before any product is shown and after selecting each one in turn (the
view drawn), against the same after Run all in the window's process.
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


def resident() -> dict[str, float]:
    """This process's VmRSS, RssAnon and RssFile in MB."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile"):
                found[key] = int(line.split()[1]) / 1024
    return found


def child(mode: str, asn: str, launched: float, workers: int = 2, settle: float = 3.0) -> dict:
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
        if mode in ("runall-thread", "runall-thread-serial", "memory-thread"):
            window.pool_workers = 0
        elif mode in ("runall-pool", "memory-pool"):
            window.pool_workers = workers
        window.open_paths([asn])
        wait = settle if mode.startswith(("runall", "memory")) else 0.2
        QTimer.singleShot(int(wait * 1000), start_run)

    ticks = {"last": 0.0, "stall": 0.0}

    def tick() -> None:
        """The GUI thread's longest wait between two 10 ms timer ticks during the run."""
        now = time.perf_counter()
        if ticks["last"]:
            ticks["stall"] = max(ticks["stall"], now - ticks["last"])
        ticks["last"] = now

    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(tick)

    def start_run() -> None:
        result["started"] = time.perf_counter()
        heartbeat.start()
        if mode == "run":
            window.run_action.trigger()
        else:
            window.run_all_action.trigger()

    selection = []

    def show_next() -> None:
        """memory: select each product in turn and measure once the view has drawn it."""
        view = window.image_view
        if selection and (view.busy or view.left.index is None):
            QTimer.singleShot(20, show_next)
            return
        if selection:
            app.processEvents()
            result["memory"].append((selection[-1], resident()))
        products = window.workbench.all_products
        if len(selection) == len(products):
            app.quit()
            return
        selection.append(products[len(selection)].name)
        window.workbench.select(products[len(selection) - 1])
        QTimer.singleShot(20, show_next)

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
        elif mode.startswith("runall"):
            heartbeat.stop()
            result["run_all"] = now - result["started"]
            result["gui_stall"] = ticks["stall"]
            result["products"] = {r.product.name: round(r.elapsed, 2)
                                  for r in window.workbench.product_results.values()}
        elif mode.startswith("memory"):
            window.workbench.select(None)
            app.processEvents()
            result["memory"] = [("(none shown)", resident())]
            QTimer.singleShot(500, show_next)
            return
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
    try:
        from iris_gui.gui.app import prepare_event_loop
    except ImportError:  # --series filed: the code from before there was one
        pass
    else:
        prepare_event_loop()  # as iris-gui does before its event loop
    app.exec()
    window.shutdown()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=["start", "open", "run", "cancel"],
                        choices=["start", "open", "run", "cancel", "runall", "memory"])
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes of the pool in the runall and memory modes")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds between opening the demo and Run all (runall, memory)")
    parser.add_argument("--series", nargs="+", default=["thread", "pool"],
                        choices=["thread", "pool", "thread-serial", "filed"],
                        help="runall: what to compare (thread-serial: the window's process with "
                             "resample on one core, as before resample used every core)")
    parser.add_argument("--filed-tree", metavar="DIR",
                        help="runall --series filed: a checkout of the code as it was when issue "
                             "13 was filed (git worktree add DIR 2b6314d), run in the window's "
                             "process as it did then")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, asn, launched = args.child
        print(json.dumps(child(mode, asn, float(launched), args.workers, args.settle)))
        return

    from iris_gui.engine.demo import write_demo_dataset

    folder = Path(tempfile.mkdtemp(prefix="iris-gui-bench-"))
    dataset = write_demo_dataset(folder, size=args.size)
    print(f"platform {os.environ.get('QT_QPA_PLATFORM', '(default)')}, demo {args.size}², "
          f"{args.repeat} run(s) each")
    def run_child(mode: str) -> dict:
        launched = time.time()
        env = dict(os.environ)
        if mode == "runall-thread-serial":  # resample on one core, as before issue 15
            env["IRIS_RESAMPLE_WORKERS"] = "1"
        if mode == "runall-filed":  # the code as it was when issue 13 was filed
            if not args.filed_tree:
                raise SystemExit("--series filed needs --filed-tree (see --help)")
            env["PYTHONPATH"] = os.pathsep.join(
                [os.path.abspath(args.filed_tree), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
            mode = "runall-thread"
        completed = subprocess.run(
            [sys.executable, __file__, "--child", mode, str(dataset.asn), repr(launched),
             "--workers", str(args.workers), "--settle", str(args.settle)],
            capture_output=True, text=True, env=env)
        if completed.returncode != 0:
            print(completed.stderr[-2000:])
            raise SystemExit(f"{mode}: child failed")
        return json.loads(completed.stdout.strip().splitlines()[-1])

    for mode in args.modes:
        if mode == "runall":
            run_all_comparison(run_child, args)
            continue
        if mode == "memory":
            for child_mode in ("memory-thread", "memory-pool"):
                r = run_child(child_mode)
                print(f"{child_mode}: resident MB after Run all, then with each product shown")
                for name, memory in r["memory"]:
                    print(f"    {name:<18} VmRSS {memory['VmRSS']:7.0f}  RssAnon "
                          f"{memory['RssAnon']:7.0f}  RssFile {memory['RssFile']:7.0f}")
            continue
        for _ in range(args.repeat):
            r = run_child(mode)
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


def run_all_comparison(run_child, args) -> None:
    """Run all in the window's process and in the pool, alternating fresh processes."""
    import statistics

    times: dict[str, list[float]] = {f"runall-{name}": [] for name in args.series}
    for repeat in range(args.repeat):
        order = list(times) if repeat % 2 == 0 else list(times)[::-1]
        for mode in order:
            r = run_child(mode)
            times[mode].append(r["run_all"])
            print(f"{mode:<22} Run all {r['run_all']:6.2f} s   longest GUI stall "
                  f"{r['gui_stall'] * 1000:5.0f} ms   products (s): {r['products']}   "
                  f"load {os.getloadavg()[0]:.2f}")
    for mode, values in times.items():
        print(f"{mode:<22} best {min(values):6.2f} s   median {statistics.median(values):6.2f} s")
    for slow in [m for m in times if "thread" in m or "filed" in m]:
        for fast in [m for m in times if "pool" in m]:
            a, b = times[slow], times[fast]
            print(f"ratio {slow} / {fast} ({args.workers} workers): best {min(a) / min(b):.2f}x"
                  f"   median {statistics.median(a) / statistics.median(b):.2f}x")


if __name__ == "__main__":
    main()
