"""Entry point of ``iris-gui`` (and ``python -m iris_gui``).

    iris-gui [FILE.fits | ASN.json ...] [--demo] [--demo-size N] [--config image2.cfg]
             [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import __version__

DEMO_SIZE = 2048


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iris-gui", description="Desktop workbench for the IRIS/Liger imager image2 stage.")
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="rate/rateints files (.fits) or image2 associations (.json)")
    parser.add_argument("--demo", action="store_true",
                        help="open the demo dataset (written to the cache folder if absent) and "
                             "run its first product")
    parser.add_argument("--demo-size", type=int, default=DEMO_SIZE, metavar="N",
                        help=f"demo frame size in pixels (default {DEMO_SIZE})")
    parser.add_argument("--config", metavar="FILE", help="parameter file to load (.cfg, .asdf)")
    parser.add_argument("--output-dir", metavar="DIR", help="folder for exported files")
    parser.add_argument("--version", action="version", version=f"iris-gui {__version__}")
    return parser


def demo_folder(size: int) -> Path:
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericCacheLocation)
    if not base:
        base = str(Path.home() / ".cache")
    return Path(base) / "iris_gui" / f"demo-{size}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.demo_size < 64 or args.demo_size % 16:
        print("iris-gui: error: --demo-size must be a multiple of 16, at least 64", file=sys.stderr)
        return 2

    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("iris_gui")
    app.setOrganizationName("iris_gui")
    app.setApplicationVersion(__version__)
    window = MainWindow()
    if args.output_dir:
        window.session.output_dir = str(Path(args.output_dir).resolve())
        window.steps_panel.set_folders(window.session.output_dir, window.session.ref_dir)
        window.session.apply_locations()
    if args.config:
        window.load_parameters_from(args.config)
    window.show()
    if args.inputs:
        window.open_paths(args.inputs)
    if args.demo:
        folder = demo_folder(args.demo_size)
        window.statusBar().showMessage(f"Preparing the demo dataset in {folder} …")
        window.run_when_demo_ready = True
        window.worker.requestDemo.emit(str(folder), args.demo_size)
    code = app.exec()
    window.shutdown()
    return code
