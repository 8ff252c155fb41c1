"""Entry point of ``iris-gui`` (and ``python -m iris_gui``).

    iris-gui [FILE.fits | ASN.json ...] [--demo] [--demo-size N] [--config image2.cfg]
             [--output-dir DIR] [--smoke-test OUTDIR]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

from .. import __version__
from ..engine.demo import DEMO_MAX_SIZE, DEMO_MIN_SIZE, DEMO_SIZE_STEP, check_demo_size
from ..engine.errors import InputError

DEMO_SIZE = 2048
SMOKE_TEST_TIMEOUT_S = 600


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iris-gui", description="Desktop workbench for the IRIS/Liger imager image2 stage.")
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="rate/rateints files (.fits) or image2 associations (.json)")
    parser.add_argument("--demo", action="store_true",
                        help="open the demo dataset (written to the cache folder if absent) and "
                             "run its first product")
    parser.add_argument("--demo-size", default=str(DEMO_SIZE), metavar="N",
                        help=f"demo frame size in pixels, a multiple of {DEMO_SIZE_STEP} from "
                             f"{DEMO_MIN_SIZE} to {DEMO_MAX_SIZE} (default {DEMO_SIZE})")
    parser.add_argument("--config", metavar="FILE", help="parameter file to load (.cfg, .asdf)")
    parser.add_argument("--output-dir", metavar="DIR", help="folder for exported files")
    parser.add_argument("--smoke-test", metavar="OUTDIR",
                        help="non-interactive check (packaged builds, CI): open the inputs (the demo "
                             "dataset when none are given), Run all, Export all to OUTDIR, quit; exit "
                             "code 0 only if every product ran and a _cal file was written")
    parser.add_argument("--version", action="version", version=f"iris-gui {__version__}")
    return parser


#: Qt platform plugins that draw on an X11 or Wayland display (the Linux default is xcb)
DISPLAY_PLATFORMS = ("xcb", "wayland")


def needs_display(environ=None, platform: str | None = None) -> bool:
    """True when Qt would pick a platform plugin that needs a display and there is none.

    Only on Linux: QT_QPA_PLATFORM unset or naming only xcb/wayland* (``wayland;xcb`` is a list
    of fallbacks, ``xcb:option`` carries options), and neither DISPLAY nor WAYLAND_DISPLAY set.
    offscreen, minimal, vnc, eglfs, linuxfb … need no display.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return False
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return False
    names = [entry.split(":", 1)[0].strip().lower()
             for entry in environ.get("QT_QPA_PLATFORM", "").split(";")]
    names = [name for name in names if name]
    return all(name.startswith(DISPLAY_PLATFORMS) for name in names)


NO_DISPLAY_MESSAGE = (
    "iris-gui: error: no display (neither DISPLAY nor WAYLAND_DISPLAY is set); for headless runs "
    "use iris-image2, or iris-gui --smoke-test OUTDIR, or set QT_QPA_PLATFORM=offscreen")


def _say(message: str) -> None:
    stream = sys.stdout or sys.stderr  # a windowed build may have neither
    if stream is not None:
        print(message, file=stream, flush=True)


def start_smoke_test(app, window, outdir: str, demo: bool, timeout: float = SMOKE_TEST_TIMEOUT_S) -> None:
    """Drive the window through the public run/export API and quit with 0 (passed) or 1.

    With --demo the window first runs the first product by itself (``run_when_demo_ready``);
    then every product is run, everything exported to ``outdir``, and the app quits.
    """
    from PySide6.QtCore import QTimer

    out = Path(outdir).resolve()
    phase = ["demo-run" if demo else "run-all"]
    started = time.perf_counter()

    def finish(code: int, message: str) -> None:
        if phase[0] == "done":
            return
        phase[0] = "done"
        _say(f"smoke-test: {'PASSED' if code == 0 else 'FAILED'}: {message} "
             f"({time.perf_counter() - started:.1f} s)")
        app.exit(code)

    def dialogs_shown() -> str:
        return "; ".join(box.text() for box in window.error_dialogs)

    def run_all() -> None:
        phase[0] = "run-all"
        if not window.workbench.all_products:
            finish(1, "no product was opened" + (f": {dialogs_shown()}" if window.error_dialogs else ""))
            return
        _say(f"smoke-test: window shown; running {len(window.workbench.all_products)} product(s)")
        window.run_all()

    def run_completed(cancelled: int) -> None:
        if phase[0] == "demo-run":
            _say("smoke-test: demo dataset opened, first product run")
            run_all()
            return
        if phase[0] != "run-all":
            return
        if cancelled:
            finish(1, "the run was cancelled")
            return
        for product in window.workbench.all_products:
            result = window.workbench.result_for(product)
            if result is None or not result.ok:
                finish(1, f"{product.name}: {result.error if result is not None else 'no result'}")
                return
            statuses = " ".join(f"{name}={step.status}" for name, step in result.steps.items())
            _say(f"smoke-test: {product.name}: {statuses}")
        expression = "workbench.current_product.name, sorted(workbench.results)[:2], np.__version__"
        try:  # the in-process IPython console (qtconsole + ipykernel) works too
            value = window.ensure_console().evaluate(expression)
        except Exception as exc:  # any failure of the console fails the smoke test
            finish(1, f"the console failed: {type(exc).__name__}: {exc}")
            return
        _say(f"smoke-test: console: {expression} -> {value!r}")
        phase[0] = "export"
        window.set_output_dir(str(out))
        window.export_all()

    def export_completed(written: list, errors: list) -> None:
        if phase[0] != "export":
            return
        for path in written:
            _say(f"smoke-test: wrote {path}")
        cals = [p for p in written if Path(p).name.endswith(("_cal.fits", "_calints.fits"))]
        if errors:
            finish(1, "; ".join(errors))
        elif not cals:
            finish(1, "no _cal file was written")
        else:
            finish(0, f"{len(written)} file(s) in {out}")

    window.runCompleted.connect(run_completed)
    window.exportCompleted.connect(export_completed)
    if not demo:
        QTimer.singleShot(0, run_all)
    watchdog = QTimer(window)
    watchdog.setSingleShot(True)
    watchdog.timeout.connect(lambda: finish(1, f"timed out after {timeout:.0f} s in phase {phase[0]}"
                                               + (f": {dialogs_shown()}" if window.error_dialogs else "")))
    watchdog.start(int(timeout * 1000))


def demo_folder(size: int) -> Path:
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericCacheLocation)
    if not base:
        base = str(Path.home() / ".cache")
    return Path(base) / "iris_gui" / f"demo-{size}"


#: how long a thread may keep Python's lock while another waits for it (Python's default is
#: 5 ms): the window's thread waits for it after most calls into Qt, and with a display
#: worker or the quick-look reader busy, a paint made of many such calls waited 5 ms each time
SWITCH_INTERVAL_S = 0.001


def prepare_event_loop() -> None:
    """What the window's thread needs before its event loop, once the window is built:

    - Python hands its lock over every ``SWITCH_INTERVAL_S`` (``sys.setswitchinterval``);
    - what starting made — modules, Qt wrappers, astropy's and pyqtgraph's tables, ~76 000
      objects that live as long as the window — is taken out of the garbage collector's sight
      (``gc.freeze``): a full collection walked them all, ~40 ms with every thread stopped.
      Garbage made from now on is collected as before;
    - fresh memory without numpy's huge-page advice (``engine.pages``), unless the user set it.
    """
    from ..engine.pages import use_small_pages

    use_small_pages()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        args.demo_size = check_demo_size(args.demo_size, "--demo-size")
    except InputError as exc:
        print(f"iris-gui: error: {exc}", file=sys.stderr)
        return 2
    if args.smoke_test and not args.inputs:
        args.demo = True
    if needs_display():
        if not args.smoke_test:
            # Qt would abort (SIGABRT) naming a missing xcb library instead
            print(NO_DISPLAY_MESSAGE, file=sys.stderr)
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # the smoke test needs no screen

    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("iris_gui")
    app.setOrganizationName("iris_gui")
    app.setApplicationVersion(__version__)
    window = MainWindow()
    if args.output_dir:
        window.set_output_dir(args.output_dir)
    if args.config:
        window.load_parameters_from(args.config)
    window.show()
    if not args.smoke_test:  # a crash last time left an autosave: offer it (non-blocking)
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, window.offer_recovery)
    if args.inputs:
        window.open_paths(args.inputs)
    if args.smoke_test:
        start_smoke_test(app, window, args.smoke_test, args.demo)
    if args.demo:
        folder = demo_folder(args.demo_size)
        window.statusBar().showMessage(f"Preparing the demo dataset in {folder} …")
        window.run_when_demo_ready = True
        window.worker.requestDemo.emit(str(folder), args.demo_size)
    prepare_event_loop()
    code = app.exec()
    window.shutdown()
    return code
