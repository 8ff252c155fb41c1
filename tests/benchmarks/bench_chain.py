"""Compute time and peak memory of the image2 chain bkg_subtract + parse_subarray_map +
dark_current + flat_field on in-memory frames (file I/O excluded).

    python tests/benchmarks/bench_chain.py [--size 2048 4096] [--backgrounds 3 10] [--repeat 3]

Each (size, backgrounds) case runs in its own process so its peak RSS is its own.
Target (issue 2): 4096², 3 backgrounds, <= 0.35 s of compute on 2 cores; peak RSS <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def make_inputs(size: int, n_backgrounds: int, seed: int = 1):
    from astropy.io import fits

    from iris_gui.engine.dq import NO_FLAT_FIELD
    from iris_gui.engine.models import ImageModel

    rng = np.random.default_rng(seed)

    def model(data, err, dq=None, **keywords):
        header = fits.Header({"INSTRUME": "IRIS", "DETECTOR": "IMAGER", "SUBARRAY": "FULL",
                              **keywords})
        dq = np.zeros(data.shape, np.uint32) if dq is None else dq
        return ImageModel(data=data, err=err, dq=dq, header=header)

    shape = (size, size)
    noise = rng.standard_normal(shape, dtype=np.float32)
    science = model(10 + noise, np.full(shape, 1.0, np.float32))
    science.subarr_map = np.zeros(shape, np.uint16)
    science.subarr_map[100:300, 200:600] = 1
    science.subarr_map[1000:1100, 50:90] = 2
    backgrounds = []
    for _ in range(n_backgrounds):
        data = 9 + rng.standard_normal(shape, dtype=np.float32)
        hits = rng.integers(0, size, (2, size))
        data[hits[0], hits[1]] = 5000.0  # cosmic rays
        backgrounds.append(model(data, np.full(shape, 1.0, np.float32), S_DARK="COMPLETE"))
    dark = model(np.full(shape, 0.05, np.float32), np.full(shape, 0.01, np.float32))
    dark.data[rng.integers(0, size, 200), rng.integers(0, size, 200)] = np.nan
    flat_value = (1 + 0.01 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
    flat_value[rng.integers(0, size, 200), rng.integers(0, size, 200)] = np.nan
    flat_dq = np.zeros(shape, np.uint32)
    flat_dq[rng.integers(0, size, 200), rng.integers(0, size, 200)] = NO_FLAT_FIELD
    flat = model(flat_value, np.full(shape, 0.005, np.float32), flat_dq)
    return science, backgrounds, dark, flat


def run_case(size: int, n_backgrounds: int, repeat: int) -> dict:
    from iris_gui.engine.blocks import worker_count
    from iris_gui.engine.steps.bkg_subtract import subtract_background
    from iris_gui.engine.steps.dark_current import subtract_dark
    from iris_gui.engine.steps.flat_field import apply_flat
    from iris_gui.engine.steps.parse_subarray_map import flag_subarray_map

    science, backgrounds, dark, flat = make_inputs(size, n_backgrounds)
    timings: dict[str, list[float]] = {"bkg_subtract": [], "parse_subarray_map": [],
                                       "dark_current": [], "flat_field": [], "chain": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        model, _background, _combined = subtract_background(science, backgrounds, 3.0, None)
        t1 = time.perf_counter()
        model, _windows, _notes = flag_subarray_map(model)
        t2 = time.perf_counter()
        model = subtract_dark(model, dark)
        t3 = time.perf_counter()
        model = apply_flat(model, flat)
        t4 = time.perf_counter()
        for name, value in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0),
                               strict=True):
            timings[name].append(value)
        del model, _background, _combined
    best = {name: min(values) for name, values in timings.items()}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"size": size, "backgrounds": n_backgrounds, "threads": worker_count(),
            "best": best, "peak_rss_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, nargs="+", default=[2048, 4096])
    parser.add_argument("--backgrounds", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case[0], args.case[1], args.repeat)))
        return
    print(f"{'size':>6} {'bkgs':>4} {'bkg_sub':>8} {'parse':>7} {'dark':>7} {'flat':>7} "
          f"{'chain':>7} {'peak RSS':>9}   (best of {args.repeat}, seconds / MB)")
    for size in args.size:
        for n in args.backgrounds:
            completed = subprocess.run(
                [sys.executable, __file__, "--case", str(size), str(n), "--repeat",
                 str(args.repeat)], capture_output=True, text=True, check=True)
            r = json.loads(completed.stdout.strip().splitlines()[-1])
            b = r["best"]
            print(f"{size:>6} {n:>4} {b['bkg_subtract']:8.3f} {b['parse_subarray_map']:7.3f} "
                  f"{b['dark_current']:7.3f} {b['flat_field']:7.3f} {b['chain']:7.3f} "
                  f"{r['peak_rss_mb']:8.0f}M   threads={r['threads']}")


if __name__ == "__main__":
    main()
