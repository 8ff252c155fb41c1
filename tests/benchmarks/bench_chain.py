"""Compute time and peak memory of the image2 chain bkg_subtract + parse_subarray_map +
dark_current + flat_field.

    python tests/benchmarks/bench_chain.py [--size 2048 4096] [--backgrounds 3 10] [--repeat 3]

Two measurements per (size, backgrounds) case, each in its own process so its peak RSS is its own:

* ``memory``: the step functions on frames already in memory (all inputs held throughout),
  best of ``--repeat``: pure compute.
* ``runner``: what a user's run does: ``Image2Pipeline.run_product`` on FITS files (science
  with a SUBARR_MAP, the backgrounds, dark and flat references), assign_wcs/photom/resample
  skipped, once, cold. Compute = the steps' own compute times (file reading excluded); wall = the
  whole run_product including reading; peak RSS of the process, which keeps every step's result
  (the GUI shows them) but frees backgrounds and references after use.

* ``whole`` (``--whole``): the whole ``iris-image2`` process, all seven steps, on the demo
  dataset at that size with that many backgrounds (one product), in ``--repeat`` fresh
  processes: wall, CPU (with the forked drizzler's) and the peak RSS of the largest process of
  the run (RUSAGE_CHILDREN), best and median, with the load.

Each ``runner`` row is followed by its ratio to the ``memory`` row of the same run (cold /
in memory), and by the same run with the buffer pool off (``IRIS_BUFFER_POOL_MB=0``) and its
ratio, alternating; the load average is printed with every row.

Targets: issue 2: 4096², 3 backgrounds, <= 0.35 s of compute on 2 cores; peak RSS <= 1.5 GB.
Issue 15: in memory <= 0.30 s; cold <= 0.6 s compute and <= 1.0 s wall; whole process <= 3.0 s
wall, peak RSS <= 1.0 GB (<= 1.3 GB with 10 backgrounds).
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


def run_runner_case(size: int, n_backgrounds: int, folder: str, pool_off: bool = False) -> dict:
    import os

    from iris_gui.engine.models import write_image

    science, backgrounds, dark, flat = make_inputs(size, n_backgrounds)
    paths = [os.path.join(folder, "science_rate.fits")]
    write_image(science, paths[0])
    for k, background in enumerate(backgrounds):
        paths.append(os.path.join(folder, f"background{k}_rate.fits"))
        write_image(background, paths[-1])
    for reftype, reference in (("DARK", dark), ("FLAT", flat)):
        reference.header["REFTYPE"] = reftype
        write_image(reference, os.path.join(folder, f"{reftype.lower()}.fits"))
    del science, backgrounds, dark, flat
    # measure only the run: restart the peak-RSS counter by running it in a fresh process
    results = []
    for off in (False, True):  # the pool on, then off, on the same files
        env = {**os.environ, **({"IRIS_BUFFER_POOL_MB": "0"} if off else {})}
        completed = subprocess.run(
            [sys.executable, __file__, "--runner-only", folder, str(n_backgrounds)],
            capture_output=True, text=True, check=True, env=env)
        results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    return {"on": results[0], "off": results[1]}


def runner_only(folder: str, n_backgrounds: int) -> dict:
    import os

    from iris_gui.engine.association import Member, Product
    from iris_gui.engine.config import PipelineConfig
    from iris_gui.engine.pages import use_small_pages
    from iris_gui.engine.pipeline import Image2Pipeline

    use_small_pages()  # as iris-image2 runs (engine/pages.py)
    members = [Member(os.path.join(folder, "science_rate.fits"), "science")]
    members += [Member(os.path.join(folder, f"background{k}_rate.fits"), "background")
                for k in range(n_backgrounds)]
    config = PipelineConfig()
    for name in ("assign_wcs", "photom", "resample"):
        config.set(f"steps.{name}.skip", True)
    pipeline = Image2Pipeline(config)
    start = time.perf_counter()
    result = pipeline.run_product(Product("bench", members))
    wall = time.perf_counter() - start
    assert result.ok, result.error
    steps = {name: step.compute for name, step in result.steps.items()
             if step.status == "COMPLETE"}
    assert set(steps) == {"bkg_subtract", "parse_subarray_map", "dark_current", "flat_field"}, steps
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"steps": steps, "compute": sum(steps.values()), "wall": wall,
            "peak_rss_mb": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime}


def whole_process(size: int, n_backgrounds: int, repeat: int) -> list[dict]:
    """iris-image2 on the demo dataset (one product, ``n_backgrounds``), ``repeat`` fresh runs."""
    import json as _json
    import os
    import tempfile

    from iris_gui.engine.demo import write_demo_dataset

    with tempfile.TemporaryDirectory(prefix="iris-bench-whole-") as folder:
        write_demo_dataset(folder, size=size, n_backgrounds=n_backgrounds, nints=2)
        with open(os.path.join(folder, "iris_demo_asn.json")) as handle:
            asn = _json.load(handle)
        asn["products"] = asn["products"][:1]
        one = os.path.join(folder, "one_asn.json")
        with open(one, "w") as handle:
            _json.dump(asn, handle)
        runs = []
        for number in range(repeat):
            out = os.path.join(folder, f"out{number}")
            completed = subprocess.run(
                [sys.executable, __file__, "--whole-only", one, out, folder],
                capture_output=True, text=True, check=True)
            runs.append(_json.loads(completed.stdout.strip().splitlines()[-1]))
        return runs


def whole_only(asn: str, out: str, ref_dir: str) -> dict:
    """One iris-image2 process, timed from here (its start-up included)."""
    import os

    load = os.getloadavg()[0]
    start = time.perf_counter()
    completed = subprocess.run(["iris-image2", asn, "--output-dir", out, "--ref-dir", ref_dir],
                               capture_output=True, text=True)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode:
        raise SystemExit(completed.stderr[-2000:])
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024, "load": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, nargs="+", default=[2048, 4096])
    parser.add_argument("--backgrounds", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case", type=int, nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--runner-case", type=int, nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--runner-only", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--whole", action="store_true",
                        help="also time the whole iris-image2 process, all seven steps")
    parser.add_argument("--whole-only", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.whole_only:
        print(json.dumps(whole_only(*args.whole_only)))
        return
    if args.case:
        print(json.dumps(run_case(args.case[0], args.case[1], args.repeat)))
        return
    if args.runner_only:
        print(json.dumps(runner_only(args.runner_only[0], int(args.runner_only[1]))))
        return
    if args.runner_case:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="iris-bench-") as folder:
            print(json.dumps(run_runner_case(*args.runner_case, folder)))
        return
    import os

    print(f"{'mode':>7} {'size':>6} {'bkgs':>4} {'bkg_sub':>8} {'parse':>7} {'dark':>7} "
          f"{'flat':>7} {'chain':>7} {'wall':>7} {'peak RSS':>9}   (seconds / MB)")
    for size in args.size:
        for n in args.backgrounds:
            r = _child(["--case", str(size), str(n), "--repeat", str(args.repeat)])
            memory = r["best"]["chain"]
            _row("memory", size, n, r["best"], memory, None, r["peak_rss_mb"],
                 f"best of {args.repeat}, threads={r['threads']}, load {os.getloadavg()[0]:.2f}")
            both = _child(["--runner-case", str(size), str(n)])
            for label, key in (("runner", "on"), ("no pool", "off")):
                c = both[key]
                _row(label, size, n, c["steps"], c["compute"], c["wall"], c["peak_rss_mb"],
                     f"cold, from FITS files: compute {c['compute'] / memory:.2f}x in memory, "
                     f"CPU {c['cpu']:.2f} s, load {os.getloadavg()[0]:.2f}")
            print(f"{'':>7} pool on / off: compute {both['on']['compute'] / both['off']['compute']:.2f}, "
                  f"wall {both['on']['wall'] / both['off']['wall']:.2f}, peak "
                  f"{both['on']['peak_rss_mb'] / both['off']['peak_rss_mb']:.2f}")
            if args.whole:
                runs = whole_process(size, n, args.repeat)
                walls = sorted(run["wall"] for run in runs)
                peaks = sorted(run["peak_rss_mb"] for run in runs)
                print(f"  whole {size:>6} {n:>4}  iris-image2, 7 steps, {len(runs)} fresh "
                      f"processes: wall best {walls[0]:.2f} s, median {walls[len(walls) // 2]:.2f}"
                      f" s; peak RSS best {peaks[0]:.0f} MB, median {peaks[len(peaks) // 2]:.0f} "
                      f"MB; CPU {[round(run['cpu'], 2) for run in runs]} s; load "
                      f"{[round(run['load'], 2) for run in runs]}")


def _child(arguments: list[str]) -> dict:
    completed = subprocess.run([sys.executable, __file__, *arguments], capture_output=True,
                               text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _row(mode: str, size: int, n: int, steps: dict, chain: float, wall: float | None,
         peak_mb: float, note: str) -> None:
    wall_text = f"{wall:7.3f}" if wall is not None else " " * 7
    print(f"{mode:>7} {size:>6} {n:>4} {steps['bkg_subtract']:8.3f} "
          f"{steps['parse_subarray_map']:7.3f} {steps['dark_current']:7.3f} "
          f"{steps['flat_field']:7.3f} {chain:7.3f} {wall_text} {peak_mb:8.0f}M   {note}")

if __name__ == "__main__":
    main()
