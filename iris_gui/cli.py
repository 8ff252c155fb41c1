"""iris-image2: the headless image2 runner (same engine, same parameter files as the window).

    iris-image2 INPUT(.json|.fits)... [--config image2.cfg|.asdf] [--save-bsub]
                [--output-layout iris|liger]
                [--output-dir DIR] [--ref-dir DIR] [--steps.STEP.PARAM=VALUE ...]
                [--save-parameters out.cfg|.asdf]
                [--report DIR [--reviewer NAME] [--checks checks.cfg]]
                [--jobs N | --dask-local N | --scheduler ADDRESS]
                [--summary FILE.json|.csv] [--resume]
    iris-image2 --from-output X_cal.fits [--output-dir DIR]
    iris-image2 --watch DIR --output-dir OUT [--pattern GLOB] [--backgrounds-from ASN|DIR|recent:N]
    iris-image2 report X_cal.fits... -o DIR [--reviewer NAME] [--checks checks.cfg]
    iris-image2 demo DIR [--size N] [--seed S]

Exit status: 0 every product done; 1 a product failed (``report``: a product could not be re-made,
or the report could not be written); 2 bad input or usage (one line on stderr).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .cli_commands import report_options, run_demo_command, run_report_command, write_run_report
from .cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Parser,
    UsageError,
    configure_logging,
    exit_without_teardown,
)
from .cli_parallel import (
    add_parallel_arguments,
    check_parallel_options,
    parallel_workers,
    resume_filter,
    run_on_dask,
    run_parallel,
)
from .cli_watch import add_watch_arguments, check_watch_options, run_watch
from .engine.association import Association, load_inputs
from .engine.config import PipelineConfig
from .engine.errors import InputError
from .engine.liger_layout import OUTPUT_LAYOUTS
from .engine.output_plan import OutputPlan
from .engine.outputs import plan_product
from .engine.pages import small_pages
from .engine.parameter_files import load_parameters, save_parameters
from .engine.pipeline import Image2Pipeline, PipelineCallbacks
from .engine.product_pool import start_forkserver
from .engine.provenance import rerun_setup
from .engine.steps import STEPS

log = logging.getLogger("iris_gui.cli")


def _step_help() -> str:
    lines = ["step parameters (--steps.STEP.PARAM=VALUE):"]
    for step in STEPS:
        params = ", ".join(
            f"{p.name}={p.to_text(p.default)}" for p in step.all_parameters
        )
        lines.append(f"  {step.name}: {params}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="iris-image2",
        description="Run the IRIS/Liger imager image2 stage on rate files or image2 associations.",
        epilog=_step_help() + "\n\n`iris-image2 demo DIR [--size N]` writes the demo dataset.\n"
               "`iris-image2 report X_cal.fits... -o DIR` re-makes the review report from "
               "outputs (see `iris-image2 report --help`).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="association (.json) or rate/rateints file (.fits)")
    parser.add_argument("--config", metavar="FILE", help="parameter file (image2.cfg or .asdf)")
    parser.add_argument("--save-bsub", action="store_true", default=None,
                        help="also write the background-subtracted _bsub/_bsubints file")
    parser.add_argument("--output-layout", choices=OUTPUT_LAYOUTS, default=None,
                        help="file layout of the outputs: iris (SCI/ERR/DQ with an ASDF "
                             "extension, the default) or liger (the upstream "
                             "liger_iris_pipeline's DATA layout; 2-D products only)")
    parser.add_argument("--output-dir", metavar="DIR",
                        help="folder for the outputs (default: the current folder)")
    parser.add_argument("--ref-dir", metavar="DIR",
                        help="folder searched for reference files (default: each input's folder)")
    parser.add_argument("--save-parameters", metavar="FILE",
                        help="write the full parameter set used (.cfg or .asdf)")
    parser.add_argument("--from-output", metavar="FILE",
                        help="re-make an iris_gui output from the provenance it records")
    parser.add_argument("--report", metavar="DIR",
                        help="after the run, write the review report DIR/review.html and "
                             "DIR/review.pdf")
    parser.add_argument("--reviewer", metavar="NAME", help="reviewer named in the report")
    parser.add_argument("--checks", metavar="FILE",
                        help="report check thresholds (checks.cfg; default: the documented ones)")
    add_parallel_arguments(parser)
    add_watch_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--version", action="version", version=f"iris-image2 {__version__}")
    return parser


def split_step_overrides(argv: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Take ``--steps.S.P=V`` / ``--steps.S.P V`` out of argv."""
    rest: list[str] = []
    overrides: list[tuple[str, str]] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        if token.startswith("--steps."):
            key = token[2:]
            if "=" in key:
                key, value = key.split("=", 1)
            else:
                if index + 1 >= len(argv):
                    raise UsageError(f"{token}: needs a value (--{key}=VALUE)")
                index += 1
                value = argv[index]
            overrides.append((key, value))
        else:
            rest.append(token)
        index += 1
    return rest, overrides


class _Progress:
    """Per-product/step progress on stderr: a bar on a terminal, plain lines otherwise."""

    def __init__(self, stream, quiet: bool) -> None:
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.quiet = quiet
        self.product_label = ""
        self.last_draw = 0.0

    def callbacks(self) -> PipelineCallbacks:
        return PipelineCallbacks(product_start=self.product_start, step_start=self.step_start,
                                 step_progress=self.step_progress, step_done=self.step_done)

    def product_start(self, product, index, total) -> None:
        self.product_label = f"[{index + 1}/{total}] {product.name}"
        if not self.quiet:
            self._line(f"{self.product_label}: started")

    def step_start(self, product, step) -> None:
        if self.tty and not self.quiet:
            self._bar(step.name, 0.0)

    def step_progress(self, product, step, fraction) -> None:
        if self.tty and not self.quiet and time.monotonic() - self.last_draw > 0.1:
            self._bar(step.name, fraction)

    def step_done(self, product, step, result) -> None:
        if self.quiet:
            return
        reason = f" ({result.reason})" if result.reason else ""
        cached = " [cached]" if result.from_cache else ""
        timing = f" {result.elapsed:.2f}s" if result.status == "COMPLETE" else ""
        self._line(f"{self.product_label}: {step.name}: {result.status}{timing}{cached}{reason}")

    def _bar(self, name: str, fraction: float) -> None:
        self.last_draw = time.monotonic()
        width = 30
        filled = int(round(width * fraction))
        self.stream.write(f"\r{self.product_label}: {name:<20} [{'#' * filled}{'.' * (width - filled)}]"
                          f" {fraction * 100:5.1f}%")
        self.stream.flush()

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: handled like Ctrl-C (the product being written is removed)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, _frame) -> None:
    raise Terminated(signum)


def _install_signal_handlers() -> Callable[[], None]:
    """SIGTERM/SIGHUP raise Terminated in the main thread; returns what puts them back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    saved = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            saved[signum] = signal.signal(signum, _raise_terminated)

    def restore() -> None:
        for signum, handler in saved.items():
            signal.signal(signum, handler)

    return restore


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    restore_signals = _install_signal_handlers()
    try:
        if argv and argv[0] == "demo":
            return run_demo_command(argv[1:])
        if argv and argv[0] == "report":
            return run_report_command(argv[1:])
        return _run(argv)
    except Terminated as exc:
        name = signal.Signals(exc.signum).name
        print(f"iris-image2: stopped by {name}; unfinished products were not written",
              file=sys.stderr)
        return 128 + exc.signum
    except UsageError as exc:
        print(f"iris-image2: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except InputError as exc:
        print(f"iris-image2: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("iris-image2: interrupted; unfinished products were not written", file=sys.stderr)
        return 130
    finally:
        restore_signals()


def _run(argv: list[str]) -> int:
    argv, overrides = split_step_overrides(argv)
    args = build_parser().parse_args(argv)
    restore_logging = configure_logging(args.quiet)
    try:
        with small_pages():  # a run from files: fresh memory without huge pages (engine.pages)
            return _run_configured(args, overrides)
    finally:
        restore_logging()


def _run_configured(args: argparse.Namespace, overrides: list[tuple[str, str]]) -> int:
    check_parallel_options(args)
    check_watch_options(args)
    if args.watch:  # the quick-look: runs until Ctrl-C (cli_watch)
        return run_watch(args, overrides)
    cluster_start = None
    if args.dask_local or args.scheduler:  # the cluster comes up while the run is planned
        from .engine.batch_dask import ClusterStart

        cluster_start = ClusterStart(args.scheduler, args.dask_local, args.quiet)
    try:
        return _run_products(args, overrides, cluster_start)
    finally:
        if cluster_start is not None:
            cluster_start.close()


def _run_products(args: argparse.Namespace, overrides: list[tuple[str, str]],
                  cluster_start) -> int:
    ref_dir = args.ref_dir
    if args.from_output:
        if args.inputs or args.config:
            raise UsageError("--from-output takes no INPUT or --config: the file records both")
        product, config, recorded_ref_dir = rerun_setup(args.from_output)
        if product.problems:
            raise InputError(f"{args.from_output}: {product.problems[0]}")
        associations = [Association([product])]
        ref_dir = ref_dir or recorded_ref_dir
        output_dir = args.output_dir or str(Path(args.from_output).resolve().parent)
    else:
        if not args.inputs:
            raise UsageError("no INPUT given (an association .json or a rate .fits); see --help")
        config = load_parameters(args.config) if args.config else PipelineConfig()
        associations = [load_inputs(path) for path in args.inputs]
        output_dir = args.output_dir or "."
    for key, value in overrides:
        config.set(key, value, "command line")
    if args.save_bsub:
        config.pipeline["save_bsub"] = True
    if args.output_layout:
        config.set("output_layout", args.output_layout, "--output-layout")
    if ref_dir is not None and not Path(ref_dir).is_dir():
        raise InputError(f"--ref-dir {ref_dir}: not a folder")
    if (args.reviewer is not None or args.checks) and not args.report:
        raise UsageError("--reviewer and --checks go with --report DIR")
    thresholds = report_options(args) if args.report else None
    if not (args.dask_local or args.scheduler) and parallel_workers(
            args, [p for association in associations for p in association.products]) > 1:
        start_forkserver()  # the workers' imports run while the plan is checked
    plan = _plan_run(args, config, associations, output_dir, ref_dir)
    stale = plan.remove_stale_temporaries()
    if stale:
        log.info("removed %d temporary file(s) left by an earlier run that was stopped", stale)
    if args.save_parameters:
        save_parameters(config, args.save_parameters)

    started = time.perf_counter()
    products = [(association, product) for association in associations
                for product in association.products]
    skipped: list = []
    if args.resume:
        associations, skipped = resume_filter(associations, config, output_dir, ref_dir, plan)
        if not args.quiet:
            print(f"iris-image2: --resume: {len(skipped)} of {len(products)} product(s) are up "
                  f"to date and skipped", file=sys.stderr)
    todo = [product for association in associations for product in association.products]
    workers = parallel_workers(args, todo)
    collector = None
    if args.scheduler or args.dask_local:
        records = run_on_dask(args, config, todo, output_dir, ref_dir, plan, cluster_start)
    elif workers > 1:
        records = run_parallel(args, config, todo, output_dir, ref_dir, plan, workers)
    else:
        from .engine.cores import set_core_budget

        set_core_budget(args.jobs)  # --jobs 1: one core, resample's drizzle included
        try:
            records, collector = _run_serial(args, config, associations, output_dir, ref_dir,
                                             plan, thresholds)
        finally:
            set_core_budget(None)
    records = skipped + records
    # each failure was logged once, as it happened; the summary only counts
    failed = [r for r in records if not r.ok]
    if not args.quiet:
        if len(records) > 1:
            from .engine.run_summary import table

            print(table(records), file=sys.stderr)
        written = sum(1 for r in records if r.status != "skipped" for path in r.outputs
                      if Path(path).exists())
        names = f"; failed: {', '.join(r.name for r in failed)}" if failed else ""
        print(f"iris-image2: {len(records) - len(failed)}/{len(records)} product(s) done, "
              f"{written} file(s) written to {Path(output_dir).resolve()}{names}", file=sys.stderr)
    if args.summary:
        from .engine.run_summary import write_summary

        write_summary(records, args.summary, time.perf_counter() - started, workers)
    report_failed = collector is not None and not write_run_report(args, collector, plan)
    if not failed:
        return EXIT_FAILED if report_failed else EXIT_OK
    return EXIT_USAGE if all(r.error_is_input for r in failed) else EXIT_FAILED


def _run_serial(args, config, associations, output_dir, ref_dir, plan, thresholds):
    """One product at a time, in this process (``--jobs 1``, a small run, ``--report``)."""
    from .engine.batch import record_of
    from .engine.outputs import product_source

    progress = _Progress(sys.stderr, args.quiet)
    callbacks = progress.callbacks()
    collector = None
    if args.report:  # each product is collected for the report while the next one runs
        from .report.build import ReportCollector

        collector = ReportCollector(reviewer=args.reviewer or "", thresholds=thresholds,
                                    background=True)
        callbacks.product_done = collector.add
    # without a report nothing reads a step's input after the next step: it is released
    pipeline = Image2Pipeline(config, ref_dir=ref_dir, output_dir=output_dir,
                              callbacks=callbacks, cache=False,
                              keep_intermediates=collector is not None)
    results = []
    from .engine.checksum_prefetch import prefetch_checksums

    prefetch_checksums(path for association in associations for product in association.products
                       for path in product.input_paths)
    try:
        for association in associations:
            results.extend(pipeline.run(association, output_dir=output_dir, plan=plan))
    except BaseException:
        if collector is not None:
            collector.close()
        raise
    return [record_of(r, product_source(r.product)) for r in results], collector


def _plan_run(args: argparse.Namespace, config: PipelineConfig, associations: list[Association],
              output_dir: str, ref_dir: str | None) -> OutputPlan:
    """Every file this run writes and reads, checked before anything runs (exit 2 if not)."""
    plan = OutputPlan()
    for path in config.read_files or ([config.source] if config.source else []):
        plan.add_read(path, f"the parameter file {Path(path).name}")
    if args.from_output:
        plan.add_read(args.from_output, f"the file being re-made ({Path(args.from_output).name})")
    for association in associations:
        if association.path:
            plan.add_read(association.path, f"the association {Path(association.path).name}")
        for product in association.products:
            product_ref_dir = ref_dir or os.path.dirname(product.science)
            plan_product(plan, product, config, output_dir, product_ref_dir)
    if args.save_parameters:
        plan.add_file(args.save_parameters, "", "", "--save-parameters")
    if args.summary:
        if not args.summary.lower().endswith((".json", ".csv")):
            raise UsageError(f"--summary {args.summary}: name a .json or .csv file")
        plan.add_file(args.summary, "", "", "--summary")
    if args.report:
        from .report.build import plan_report

        plan_report(plan, args.report, "--report")
    plan.check()
    return plan


def console_main() -> None:
    """The ``iris-image2`` command: ``main`` and the process's end, without the interpreter's
    teardown (``cli_common.exit_without_teardown``); ``main`` itself returns, for in-process use."""
    exit_without_teardown(main())


if __name__ == "__main__":  # pragma: no cover
    console_main()
