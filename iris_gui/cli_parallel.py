"""iris-image2's many-product runs: ``--jobs`` (worker processes on this machine), ``--dask-local``
and ``--scheduler`` (one Dask task per product), and ``--resume``.

Whatever runs the products, the run's output plan was checked over the whole run first; each
product's worker gets only its own part of the plan, and writes its files whole or not at all.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .cli_common import UsageError, positive_int
from .engine.association import Association
from .engine.output_plan import OutputPlan

#: below this many science pixels in all (about four 1024x1024 frames) the default --jobs runs in
#: this process: starting a worker process (a second or two) costs more than it saves
AUTO_PARALLEL_PIXELS = 4 * 1024 * 1024


def add_parallel_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", metavar="N", type=positive_int,
                        help="cores to use: products run at once, each in its own process "
                             "(default: the number of cores, fewer when memory is short; a small "
                             "run stays in one process, whose resample uses N cores; 1: one "
                             "product at a time, in this process, on one core)")
    parser.add_argument("--dask-local", metavar="N", type=positive_int,
                        help="run the products on a Dask LocalCluster of N worker processes "
                             "started for this run (Dask's dashboard; needs iris_gui[dask])")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="send one task per product to the dask.distributed scheduler at "
                             "ADDRESS (e.g. tcp://head:8786); its workers must see the inputs "
                             "and the output folder at the same paths")
    parser.add_argument("--summary", metavar="FILE",
                        help="write a summary of the run (FILE.json or FILE.csv): each "
                             "product's status, time, steps, outputs and warnings")
    parser.add_argument("--resume", action="store_true",
                        help="skip products whose outputs are there and were made from the same "
                             "inputs, references and parameters")


def check_parallel_options(args: argparse.Namespace) -> None:
    """Usage errors of --jobs / --dask-local / --scheduler, before anything runs."""
    chosen = [name for name, value in (("--jobs", args.jobs), ("--dask-local", args.dask_local),
                                       ("--scheduler", args.scheduler)) if value]
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)}: choose one way to run the products")
    dask = args.dask_local or args.scheduler
    if dask and (args.report or args.from_output):
        raise UsageError(f"{chosen[0]} does not go with --report or --from-output, which run "
                         "in this process")
    if args.scheduler and "://" not in args.scheduler and ":" not in args.scheduler:
        raise UsageError(f"--scheduler {args.scheduler}: give the scheduler's address, e.g. "
                         "tcp://head:8786")


def parallel_workers(args: argparse.Namespace, products: list) -> int:
    """How many products run at once in worker processes: --jobs (default: the cores), at most
    one per product; 1 (in this process) for --report, --from-output, one product or a small
    default run. Dask runs ignore it (the cluster decides)."""
    if args.dask_local or args.scheduler:
        return args.dask_local or 1
    if args.report or args.from_output or len(products) < 2:
        if args.jobs and args.jobs > 1 and args.report and not args.quiet:
            print("iris-image2: --report runs the products one at a time, in this process",
                  file=sys.stderr)
        return 1
    from .engine.batch import _frame_pixels

    wanted = args.jobs or os.cpu_count() or 1
    if args.jobs is None and sum(_frame_pixels(p.science) for p in products) \
            < AUTO_PARALLEL_PIXELS:
        return 1
    return min(wanted, len(products))


def batch_jobs(config, products, output_dir, ref_dir, plan: OutputPlan) -> list:
    """One BatchJob per product, each with only its own part of the run's plan."""
    from .engine.batch import BatchJob, estimate_peak_bytes
    from .engine.outputs import product_source

    jobs = []
    for product in products:
        source = product_source(product)
        own = OutputPlan()  # only this product's files travel to its worker
        own.outputs = [o for o in plan.outputs if o.product == product.name and o.source == source]
        jobs.append(BatchJob(product, config, ref_dir, output_dir, own, source,
                             estimate_peak_bytes(product, config)))
    return jobs


def run_parallel(args, config, products, output_dir, ref_dir, plan, workers):
    from .engine.batch import available_memory, fitting_at_once, run_batch
    from .engine.run_summary import BatchProgress

    jobs = batch_jobs(config, products, output_dir, ref_dir, plan)
    available = available_memory()
    fit = fitting_at_once([job.peak_bytes for job in jobs], available)
    if fit < workers:
        biggest = max(job.peak_bytes for job in jobs)
        print(f"iris-image2: memory limits the run to {fit} product(s) at once, not {workers}: "
              f"{available / 2**30:.1f} GB available, up to {biggest / 2**30:.1f} GB each",
              file=sys.stderr)
    elif not args.quiet:
        print(f"iris-image2: {len(jobs)} product(s), {workers} at once", file=sys.stderr)
    progress = BatchProgress(sys.stderr, args.quiet, len(jobs), workers)
    level = logging.WARNING if args.quiet else logging.INFO
    try:
        return run_batch(jobs, workers, level=level, on_event=progress, available=available)
    finally:
        progress.finish()


def run_on_dask(args, config, products, output_dir, ref_dir, plan, started=None):
    """--dask-local N or --scheduler ADDRESS: one Dask task per product."""
    from .engine.batch_dask import run_dask
    from .engine.run_summary import BatchProgress

    if not products:
        return []
    jobs = batch_jobs(config, products, output_dir, ref_dir, plan)
    workers = args.dask_local or 0
    progress = BatchProgress(sys.stderr, args.quiet, len(jobs), workers or len(jobs))
    level = logging.WARNING if args.quiet else logging.INFO
    try:
        return run_dask(jobs, address=args.scheduler, local_workers=args.dask_local,
                        level=level, on_event=progress, quiet=args.quiet, started=started)
    finally:
        progress.finish()


def resume_filter(associations, config, output_dir, ref_dir, plan):
    """(associations holding the products to run, records of those skipped as up to date)."""
    from .engine.batch import ProductRecord
    from .engine.outputs import product_source
    from .engine.provenance import up_to_date

    kept, skipped = [], []
    for association in associations:
        products = []
        for product in association.products:
            source = product_source(product)
            product_ref_dir = ref_dir or os.path.dirname(product.science)
            planned = plan.paths_for(product.name, source)
            if not product.problems and up_to_date(product, config, product_ref_dir, planned):
                outputs = sorted(str(p) for p in planned if p.exists())
                skipped.append(ProductRecord(product.name, source, "skipped", outputs=outputs))
            else:
                products.append(product)
        if products:
            kept.append(Association(products, association.path))
    return kept, skipped
