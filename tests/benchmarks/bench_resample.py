"""Wall time and peak memory of the resample step's arithmetic on a full 4096² frame.

    python tests/benchmarks/bench_resample.py [--size 4096] [--nints 1] [--kernel square]
                                              [--repeat 3]

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

Target (issue 3): 4096², square kernel, total <= 3 s on 2 cores; report the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import math
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


def run_case(size: int, nints: int, kernel: str) -> dict:
    from drizzle.resample import Drizzle

    from iris_gui.engine.pixel_map import pixel_map
    from iris_gui.engine.steps import resample
    from iris_gui.engine.wcs import output_grid

    # where resample's time goes: its pixel map, its weights, drizzle's add_image calls
    spent: dict[str, float] = {}
    resample.pixel_map = _timed(spent, "pixel_map", resample.pixel_map)
    resample._fill_weights = _timed(spent, "weights", resample._fill_weights)
    Drizzle.add_image = _timed(spent, "drizzle", Drizzle.add_image)

    model = make_model(size, nints)
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    out_wcs, out_shape = output_grid(model.wcs, (size, size))
    t1 = time.perf_counter()
    out, _notes = resample.resample_model(model, out_wcs, out_shape, kernel=kernel)
    t2 = time.perf_counter()
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--nints", type=int, default=1)
    parser.add_argument("--kernel", default="square")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.size, args.nints, args.kernel)))
        return
    print(f"resample {args.size}x{args.size} x{args.nints} kernel={args.kernel}: "
          f"{args.repeat} runs, each in a fresh process")
    results = []
    for run in range(args.repeat):
        completed = subprocess.run(
            [sys.executable, __file__, "--case", "--size", str(args.size), "--nints",
             str(args.nints), "--kernel", args.kernel],
            capture_output=True, text=True, check=True)
        r = json.loads(completed.stdout.strip().splitlines()[-1])
        results.append(r)
        inside = r["in_resample"]
        rest = r["resample"] - sum(inside.values())
        print(f"  run {run + 1}: total {r['total']:.3f} s  (grid {r['grid']:.3f}, resample "
              f"{r['resample']:.3f} = pixel map {inside['pixel_map']:.3f} + weights "
              f"{inside['weights']:.3f} + drizzle {inside['drizzle']:.3f} + rest {rest:.3f}); "
              f"pixmap alone {r['pixmap']:.3f} s; CPU user {r['user']:.2f} s system "
              f"{r['system']:.2f} s; peak RSS {r['peak_rss_mb']:.0f} MB "
              f"-> {r['out_shape'][1]}x{r['out_shape'][0]}")
    totals = [r["total"] for r in results]
    print(f"best total {min(totals):.3f} s, spread {min(totals):.3f}..{max(totals):.3f} s; "
          f"best pixmap {min(r['pixmap'] for r in results):.3f} s; "
          f"peak RSS {max(r['peak_rss_mb'] for r in results):.0f} MB")


if __name__ == "__main__":
    main()
