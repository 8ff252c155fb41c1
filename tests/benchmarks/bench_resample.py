"""Wall time and peak memory of the resample step's arithmetic on a full 4096² frame.

    python tests/benchmarks/bench_resample.py [--size 4096] [--nints 1] [--kernel square]
                                              [--repeat 3] [--workers N]

Three cases, alternating within each repetition, each in a fresh process: ``one call`` (the
baseline: one drizzle add_image over the whole frame, weights included, nothing else),
``1 worker`` (the step's resample_model in this process only) and ``N workers`` (resample_model on
N processes, N = the cores this process may use unless --workers says); printed with the ratios
one call / N workers and 1 worker / N workers of the same repetition, then best and median.

Each repetition runs in its own process, so its peak RSS (ru_maxrss) is its own and the
first-touch cost of fresh memory is counted every time, as it is for a real run. The input is
a float32 frame with a 4 mas TAN WCS rotated by 0.5 deg (the demo geometry) plus a few flagged
pixels; the output is the default north-up grid (rotation 0, same pixel scale). Timed:

    grid     output_grid (output WCS and shape)
    resample resample_model: pixel map + weights + drizzle (SCI, variance, DQ, context) + ERR,
             i.e. everything the step computes; file I/O excluded
    total    grid + resample
    pixmap   pixel_map alone (input pixel -> output pixel for every input pixel), timed again
             after the rest in warm memory; not added to the total
    and, inside resample: its pixel map, weight preparation, drizzle add_image calls, rest
    peak RSS of the process at the end of resample (input arrays included)

Targets: 4096², square kernel, total <= 3 s on 2 cores (issue 3); resample >= 1.7x faster on
2 cores than on 1 (issue 15). CPU seconds of the children (the forked drizzlers) are printed too:
on a loaded machine the wall ratio says more about the load than about the code.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

import numpy as np


def make_model(size: int, nints: int, seed: int = 1):
    from astropy.io import fits

    from iris_gui.engine.models import ImageModel
    from iris_gui.engine.wcs import build_wcs

    scale = 0.004 / 3600.0
    theta = math.radians(0.5)
    header = fits.Header()
    for key, value in {
        "INSTRUME": "IRIS", "DETECTOR": "IMAGER", "SUBARRAY": "FULL", "FILTER": "KN3",
        "EXPTIME": 60.0 * nints, "EFFINTTM": 60.0, "BUNIT": "MJy/sr",
        "CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CUNIT1": "deg", "CUNIT2": "deg",
        "CRVAL1": 83.8221, "CRVAL2": -5.3911, "CRPIX1": size / 2 + 0.5, "CRPIX2": size / 2 + 0.5,
        "CD1_1": -scale * math.cos(theta), "CD1_2": scale * math.sin(theta),
        "CD2_1": scale * math.sin(theta), "CD2_2": scale * math.cos(theta), "RADESYS": "ICRS",
    }.items():
        header[key] = value
    rng = np.random.default_rng(seed)
    shape = (nints, size, size) if nints > 1 else (size, size)
    data = rng.standard_normal(shape, dtype=np.float32)
    data += np.float32(5.0)
    err = np.full(shape, 1.0, np.float32)
    dq = np.zeros(shape, np.uint32)
    flat = dq.reshape(-1)
    flat[rng.integers(0, flat.size, flat.size // 1000)] = 1 | 1024  # DO_NOT_USE + DEAD
    flat[rng.integers(0, flat.size, flat.size // 1000)] = 2  # SATURATED (still good)
    model = ImageModel(data=data, err=err, dq=dq, header=header)
    model.wcs = build_wcs(header, (size, size))
    return model


def _timed(spent: dict, name: str, function):
    """``function`` wrapped to add its wall time to ``spent[name]``."""
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
    return wrapper


def run_one_call(size: int, nints: int, kernel: str) -> dict:
    """The baseline: drizzle's add_image once per integration over the whole frame."""
    import warnings

    from drizzle.resample import Drizzle

    from iris_gui.engine.pixel_map import pixel_map
    from iris_gui.engine.resample_weights import fill_weights
    from iris_gui.engine.wcs import output_grid

    model = make_model(size, nints)
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    out_wcs, out_shape = output_grid(model.wcs, (size, size))
    pixmap = pixel_map(model.wcs, out_wcs, (size, size))
    driz = Drizzle(kernel=kernel, fillval="INDEF", fillval2="INDEF", out_shape=out_shape,
                   disable_ctx=nints == 1, max_ctx_id=max(nints - 1, 0))
    weight = np.empty((size, size), np.float32)
    variance = np.empty((size, size), np.float32)
    for k in range(nints):
        data, err, dq = (a[k] if a.ndim == 3 else a for a in (model.data, model.err, model.dq))
        fill_weights(data, err, dq, np.uint32(1), "exptime", 60.0, weight, variance, None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            driz.add_image(data, 60.0, pixmap, data2=[variance], dq=dq, weight_map=weight,
                           in_units="cps")
    t1 = time.perf_counter()
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"total": t1 - t0, "user": usage1.ru_utime - usage0.ru_utime,
            "system": usage1.ru_stime - usage0.ru_stime, "children_user": 0.0,
            "peak_rss_mb": usage1.ru_maxrss / 1024}


def run_case(size: int, nints: int, kernel: str, workers: int | None = None) -> dict:
    from drizzle.resample import Drizzle

    from iris_gui.engine.pixel_map import pixel_map
    from iris_gui.engine.steps import resample
    from iris_gui.engine.wcs import output_grid

    # where resample's time goes: its pixel map, its weights, drizzle's add_image calls (this
    # process's only: the forked drizzlers' time is in children_user)
    spent: dict[str, float] = {}
    resample.pixel_map = _timed(spent, "pixel_map", resample.pixel_map)
    resample.fill_weights = _timed(spent, "weights", resample.fill_weights)
    Drizzle.add_image = _timed(spent, "drizzle", Drizzle.add_image)

    model = make_model(size, nints)
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    out_wcs, out_shape = output_grid(model.wcs, (size, size))
    t1 = time.perf_counter()
    out, _notes = resample.resample_model(model, out_wcs, out_shape, kernel=kernel,
                                          workers=workers)
    t2 = time.perf_counter()
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    good = np.isfinite(out.data) & (out.extra_arrays["WHT"] > 0)
    mean_out = float(out.data[good].mean())
    del out, good
    # the pixel map on its own, afterwards (so it does not warm the memory resample uses)
    t3 = time.perf_counter()
    pixmap = pixel_map(model.wcs, out_wcs, (size, size))
    t4 = time.perf_counter()
    del pixmap
    return {
        "size": size, "nints": nints, "kernel": kernel, "out_shape": list(out_shape),
        "grid": t1 - t0, "resample": t2 - t1, "total": t2 - t0, "pixmap": t4 - t3,
        "in_resample": spent, "peak_rss_mb": peak_mb, "mean_out": mean_out,
        # CPU seconds of the process during grid + resample: user, and system (page faults of
        # fresh memory, which on a VM that hands freed memory back to the host is most of it)
        "user": usage1.ru_utime - usage0.ru_utime, "system": usage1.ru_stime - usage0.ru_stime,
        "children_user": children.ru_utime, "children_rss_mb": children.ru_maxrss / 1024,
        "workers": workers,
    }


def _run(args, case: str, workers: int | None = None) -> dict:
    command = [sys.executable, __file__, "--case", case, "--size", str(args.size), "--nints",
               str(args.nints), "--kernel", args.kernel]
    if workers is not None:
        command += ["--workers", str(workers)]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _median(values: list[float]) -> float:
    return float(np.median(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--nints", type=int, default=1)
    parser.add_argument("--kernel", default="square")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None,
                        help="processes for the parallel case (default: the usable cores)")
    parser.add_argument("--case", choices=("one-call", "resample"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case == "one-call":
        print(json.dumps(run_one_call(args.size, args.nints, args.kernel)))
        return
    if args.case == "resample":
        print(json.dumps(run_case(args.size, args.nints, args.kernel, args.workers)))
        return
    from iris_gui.engine.resample_parallel import worker_count

    workers = args.workers or worker_count(args.size * args.size)
    print(f"resample {args.size}x{args.size} x{args.nints} kernel={args.kernel}: "
          f"{args.repeat} repetitions of one call / 1 worker / {workers} workers, each in a "
          f"fresh process; load {os.getloadavg()[0]:.2f} at the start")
    rows = {"one call": [], "1 worker": [], f"{workers} workers": []}
    ratios_one, ratios_serial = [], []
    for run in range(args.repeat):
        one = _run(args, "one-call")
        serial = _run(args, "resample", 1)
        parallel = _run(args, "resample", workers)
        for name, r in zip(rows, (one, serial, parallel), strict=True):
            rows[name].append(r)
        ratios_one.append(one["total"] / parallel["total"])
        ratios_serial.append(serial["total"] / parallel["total"])
        inside = parallel["in_resample"]
        print(f"  run {run + 1}: one call {one['total']:.3f} s (CPU {one['user']:.2f}), "
              f"1 worker {serial['total']:.3f} s (CPU {serial['user']:.2f}), {workers} workers "
              f"{parallel['total']:.3f} s (CPU {parallel['user']:.2f} + children "
              f"{parallel['children_user']:.2f}; pixel map {inside['pixel_map']:.3f}); ratio "
              f"one call / parallel {ratios_one[-1]:.2f}, 1 worker / parallel "
              f"{ratios_serial[-1]:.2f}; peak RSS {parallel['peak_rss_mb']:.0f} MB (child "
              f"{parallel['children_rss_mb']:.0f} MB, pages shared with this one counted in "
              f"both); load {os.getloadavg()[0]:.2f}")
    for name, results in rows.items():
        totals = [r["total"] for r in results]
        print(f"{name:>10}: best {min(totals):.3f} s, median {_median(totals):.3f} s")
    print(f"ratio 1 worker / {workers} workers: best {max(ratios_serial):.2f}, median "
          f"{_median(ratios_serial):.2f}; one call / {workers} workers: best "
          f"{max(ratios_one):.2f}, median {_median(ratios_one):.2f}; peak RSS "
          f"{max(r['peak_rss_mb'] for r in rows[f'{workers} workers']):.0f} MB")


if __name__ == "__main__":
    main()
