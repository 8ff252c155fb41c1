"""iris-image2 --watch DIR: the quick-look from the command line.

    iris-image2 --watch DIR --output-dir OUT [--pattern '*_rate*.fits']
                [--backgrounds-from ASN.json|SKYDIR|recent:N|none] [--config image2.cfg]
                [--ref-dir DIR] [--steps.STEP.PARAM=VALUE ...] [--poll SECONDS]
                [--incomplete-timeout SECONDS] [-q]

Runs until Ctrl-C (exit 130; the product being written is removed, nothing is half-written) or
SIGTERM. Prints one line per exposure calibrated or failed on stdout; what a restart found
(calibrated earlier, failed earlier) on stderr, with the failed ones named.
"""

from __future__ import annotations

import argparse
import sys

from .cli_common import UsageError
from .engine.night_log import DONE, EARLIER, FAILED, NightRow


def add_watch_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("quick-look (watch a folder)")
    group.add_argument("--watch", metavar="DIR",
                       help="calibrate each new exposure that lands in DIR, once it is "
                            "complete, until Ctrl-C (needs --output-dir)")
    group.add_argument("--pattern", metavar="GLOB",
                       help="file names to take in DIR (default '*_rate*.fits')")
    group.add_argument("--backgrounds-from", metavar="ASN|DIR|recent:N",
                       help="backgrounds of each exposure: an association's background members, "
                            "every FITS file of a folder of sky frames, or the N sky frames "
                            "(IMTYPE/EXP_TYPE/EXPTYPE = SKY) nearest in time (default none)")
    group.add_argument("--poll", metavar="SECONDS", type=_seconds,
                       help="seconds between looks at DIR (default 0.5)")
    group.add_argument("--incomplete-timeout", metavar="SECONDS", type=_seconds,
                       help="seconds an unchanged file that is not whole is waited for before "
                            "it is listed as failed (default 60)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def check_watch_options(args: argparse.Namespace) -> None:
    watch_only = [name for name, value in (("--pattern", args.pattern),
                                           ("--backgrounds-from", args.backgrounds_from),
                                           ("--poll", args.poll),
                                           ("--incomplete-timeout", args.incomplete_timeout))
                  if value is not None]
    if not args.watch:
        if watch_only:
            raise UsageError(f"{', '.join(watch_only)} go with --watch DIR")
        return
    if args.inputs or args.from_output:
        raise UsageError("--watch takes no INPUT or --from-output: it finds its inputs in DIR")
    if not args.output_dir:
        raise UsageError("--watch needs --output-dir OUT (the watched folder stays as it is)")
    others = [name for name, value in (("--report", args.report), ("--resume", args.resume),
                                       ("--summary", args.summary), ("--jobs", args.jobs),
                                       ("--dask-local", args.dask_local),
                                       ("--scheduler", args.scheduler),
                                       ("--save-parameters", args.save_parameters))
              if value]
    if others:
        raise UsageError(f"--watch does not go with {', '.join(others)} (it resumes by itself "
                         f"and runs one exposure at a time)")


def row_line(row: NightRow) -> str:
    """One line of the night for stdout."""
    if row.status == FAILED:
        return f"{row.name}: FAILED: {row.reason}"
    parts = [f"{row.name}: {row.status}"]
    if row.seconds is not None and row.status == DONE:
        parts.append(f"{row.seconds:.2f} s")
    if row.filter:
        parts.append(row.filter)
    if row.sky_level is not None:
        source = "" if row.sky_source == "backgrounds" else f" ({row.sky_source})"
        parts.append(f"sky {row.sky_level:.4g}{source}")
    if row.new_dq_fraction is not None:
        parts.append(f"new DQ {100 * row.new_dq_fraction:.3g} %")
    if row.verdict:
        bad = f" ({', '.join(row.checks)})" if row.checks else ""
        parts.append(f"checks {row.verdict}{bad}")
    if row.backgrounds:
        parts.append(f"{len(row.backgrounds)} background(s)")
    return "  ".join(parts)


def watch_config(args: argparse.Namespace, overrides: list[tuple[str, str]]):
    """The parameters in force: --config, then --steps.S.P=V, then --save-bsub."""
    from .engine.config import PipelineConfig
    from .engine.parameter_files import load_parameters

    config = load_parameters(args.config) if args.config else PipelineConfig()
    for key, value in overrides:
        config.set(key, value, "command line")
    if args.save_bsub:
        config.pipeline["save_bsub"] = True
    return config


def run_watch(args: argparse.Namespace, overrides: list[tuple[str, str]]) -> int:
    from .engine.quicklook import QuickLook, WatchSettings
    from .engine.watch import DEFAULT_PATTERN, INCOMPLETE_TIMEOUT, POLL_SECONDS
    from .engine.watch_backgrounds import BackgroundRule
    from .report.night_checks import night_measurements

    config = watch_config(args, overrides)
    settings = WatchSettings(args.watch, args.output_dir, args.pattern or DEFAULT_PATTERN,
                             BackgroundRule.parse(args.backgrounds_from), args.ref_dir,
                             args.poll or POLL_SECONDS,
                             args.incomplete_timeout or INCOMPLETE_TIMEOUT)
    printed: set[tuple[str, str]] = set()
    earlier: list[NightRow] = []
    started = False

    def on_row(row: NightRow) -> None:
        if not started and quicklook_of[0].from_earlier_run(row):
            earlier.append(row)
            return
        if row.status in (DONE, FAILED) and (row.path, row.finished) not in printed:
            printed.add((row.path, row.finished))
            print(row_line(row), flush=True)

    quicklook = QuickLook(settings, config, on_row=on_row, measure=night_measurements)
    quicklook_of = [quicklook]
    quicklook.start()  # InputError (exit 2) for a folder that cannot be watched or written
    if not args.quiet:
        print(f"iris-image2: {settings.describe()} (Ctrl-C stops)", file=sys.stderr)
    quicklook.poll_once()
    started = True
    if earlier and not args.quiet:
        done = sum(1 for r in earlier if r.status == EARLIER)
        failed = [r for r in earlier if r.status == FAILED]
        print(f"iris-image2: --watch: {done} exposure(s) calibrated earlier (outputs up to "
              f"date), {len(failed)} failed earlier (--watch lists them; the window's night "
              f"table retries)", file=sys.stderr)
        for row in failed:
            print(f"iris-image2:   {row.name}: {row.reason}", file=sys.stderr)
    quicklook.run()  # until KeyboardInterrupt / SIGTERM (cli.main turns them into exit codes)
    return 0
