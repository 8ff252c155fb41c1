"""iris-image2's other commands: ``report`` (re-make the review report from outputs) and
``demo`` (write the demo dataset), and ``--report DIR`` after a run."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .cli_common import EXIT_FAILED, EXIT_OK, Parser, UsageError, configure_logging
from .engine.errors import InputError
from .engine.output_plan import OutputPlan


def report_options(args: argparse.Namespace):
    """The checks thresholds of a run or report command (exit 2 if the file is bad); first makes
    sure the report's libraries are there."""
    import importlib.util

    missing = [package for module, package in (("reportlab", "reportlab"), ("PIL", "Pillow"))
               if importlib.util.find_spec(module) is None]
    if missing:
        raise UsageError(f"the review report needs {' and '.join(missing)}, which this "
                         f"installation lacks (pip install reportlab Pillow)")
    from .report.checks import Thresholds, load_checks

    return load_checks(args.checks) if args.checks else Thresholds()


def run_report_command(argv: list[str]) -> int:
    """``iris-image2 report X_cal.fits... -o DIR``: the review report re-made from outputs."""
    parser = Parser(prog="iris-image2 report",
                     description="Re-make the review report (review.html, review.pdf) from "
                                 "_cal/_calints files and the provenance they carry; the "
                                 "products are run again in memory to show each step.")
    parser.add_argument("files", nargs="*", metavar="CAL_FILE", help="iris_gui output files")
    parser.add_argument("-o", "--output-dir", metavar="DIR", help="folder for the report")
    parser.add_argument("--reviewer", metavar="NAME", default="", help="reviewer named in it")
    parser.add_argument("--checks", metavar="FILE", help="check thresholds (checks.cfg)")
    parser.add_argument("--ref-dir", metavar="DIR",
                        help="reference folder (default: the one each output records)")
    parser.add_argument("--print-checks", action="store_true",
                        help="print a checks.cfg holding every default threshold and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    args = parser.parse_args(argv)
    if args.print_checks:
        from .report.checks import defaults_cfg_text

        print(defaults_cfg_text())
        return EXIT_OK
    if not args.files:
        raise UsageError("report: no CAL_FILE given (an iris_gui _cal or _calints file)")
    if not args.output_dir:
        raise UsageError("report: -o DIR is required (the folder for review.html and review.pdf)")
    if args.ref_dir is not None and not Path(args.ref_dir).is_dir():
        raise InputError(f"--ref-dir {args.ref_dir}: not a folder")
    thresholds = report_options(args)
    restore_logging = configure_logging(True)
    try:
        from .report.remake import remake_report

        def progress(_fraction: float, message: str) -> None:
            if not args.quiet and message.startswith("re-making"):
                print(f"iris-image2: {message}", file=sys.stderr)

        files = remake_report(args.files, args.output_dir, reviewer=args.reviewer,
                              thresholds=thresholds, ref_dir=args.ref_dir, progress=progress)
    finally:
        restore_logging()
    report = files.report
    for item in report.not_remade:
        print(f"iris-image2: could not re-make {item.name} ({item.file}): {item.reason}",
              file=sys.stderr)
    if not args.quiet:
        print(f"iris-image2: review report of {len(report.products)} product(s) written to "
              f"{files.html} and {files.pdf.name} in {files.seconds:.1f} s", file=sys.stderr)
    return EXIT_FAILED if report.not_remade else EXIT_OK


def run_demo_command(argv: list[str]) -> int:
    parser = Parser(prog="iris-image2 demo", description="Write the demo dataset.")
    parser.add_argument("directory")
    from .engine.demo import (
        DEMO_MAX_SIZE,
        DEMO_MIN_SIZE,
        DEMO_SIZE_STEP,
        check_demo_size,
        write_demo_dataset,
    )

    parser.add_argument("--size", default="2048",
                        help=f"frame size in pixels, a multiple of {DEMO_SIZE_STEP} from "
                             f"{DEMO_MIN_SIZE} to {DEMO_MAX_SIZE} (default 2048)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    args.size = check_demo_size(args.size, "--size")  # InputError: one line, exit 2

    started = time.perf_counter()
    dataset = write_demo_dataset(args.directory, size=args.size, seed=args.seed)
    print(f"demo dataset ({args.size}x{args.size}) written to {dataset.directory} in "
          f"{time.perf_counter() - started:.1f} s; association: {dataset.asn}", file=sys.stderr)
    return EXIT_OK


def write_run_report(args: argparse.Namespace, collector, plan: OutputPlan) -> bool:
    """``--report DIR`` after the run: True when both files were written."""
    from .engine.files import OutputWriteError
    from .report.build import write_report

    started = time.perf_counter()
    try:
        report = collector.report()
        html, pdf = write_report(report, args.report, plan=plan)
    except (InputError, OutputWriteError) as exc:
        print(f"iris-image2: error: review report not written: {exc}", file=sys.stderr)
        return False
    if not args.quiet:
        print(f"iris-image2: review report written to {html} and {pdf.name} "
              f"({time.perf_counter() - started:.1f} s after the run)", file=sys.stderr)
    return True
