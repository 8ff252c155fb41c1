"""A night in miniature: N products of SIZE² with B backgrounds, run by iris-image2 one at a time,
on worker processes and on a Dask LocalCluster, alternating, each a fresh process.

    python tests/benchmarks/bench_batch.py [--size 2048] [--products 8] [--backgrounds 3]
                                           [--repeat 3] [--modes jobs1,jobs2,dask2]

Prints each run's wall time and the peak memory of the whole run (the sum of the resident sets of
the run's process and all its children, sampled every 50 ms), then best and median per mode and
their ratios to ``--jobs 1`` measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

MODES = {"jobs1": ["--jobs", "1"], "jobs2": ["--jobs", "2"], "dask2": ["--dask-local", "2"]}


def make_night(folder: Path, size: int, products: int, backgrounds: int) -> Path:
    """The demo's science and background frames, as ``products`` products of one association."""
    from iris_gui.engine.demo import write_demo_dataset

    demo = write_demo_dataset(folder, size=size, seed=11)
    science = folder / "iris_demo_rate.fits"
    members = [{"expname": f"iris_demo_bkg{i + 1}_rate.fits", "exptype": "background"}
               for i in range(backgrounds)]
    entries = []
    for index in range(products):
        name = f"night_{index:03d}"
        shutil.copyfile(science, folder / f"{name}_rate.fits")
        entries.append({"name": name, "members": [
            {"expname": f"{name}_rate.fits", "exptype": "science"}, *members]})
    asn = folder / "night_asn.json"
    document = json.loads(Path(demo.asn).read_text())
    document["products"] = entries
    asn.write_text(json.dumps(document))
    return asn


def timed_run(asn: Path, out: Path, options: list[str]) -> tuple[float, int]:
    """(wall seconds, peak bytes of the process tree) of one fresh iris-image2 process."""
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "iris_gui.cli", str(asn), "--output-dir",
                                str(out), "-q", *options])
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if code != 0:
        raise SystemExit(f"iris-image2 {' '.join(options)} failed with exit status {code}")
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--products", type=int, default=8)
    parser.add_argument("--backgrounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", default="jobs1,jobs2,dask2")
    args = parser.parse_args()
    modes = args.modes.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        asn = make_night(Path(tmp) / "data", args.size, args.products, args.backgrounds)
        print(f"{args.products} products of {args.size}², {args.backgrounds} backgrounds, "
              f"{psutil.cpu_count()} cores; modes {', '.join(modes)}, alternating")
        times: dict[str, list[float]] = {mode: [] for mode in modes}
        peaks: dict[str, list[int]] = {mode: [] for mode in modes}
        for repeat in range(args.repeat):
            for mode in modes:
                seconds, peak = timed_run(asn, Path(tmp) / "out", MODES[mode])
                times[mode].append(seconds)
                peaks[mode].append(peak)
                print(f"  run {repeat + 1} {mode:6s} {seconds:7.2f} s   peak {peak / 2**30:.2f} GB")
        base = statistics.median(times[modes[0]])
        print(f"{'mode':6s} {'best':>7s} {'median':>7s} {'x vs ' + modes[0]:>10s} {'peak GB':>8s}")
        for mode in modes:
            median = statistics.median(times[mode])
            print(f"{mode:6s} {min(times[mode]):7.2f} {median:7.2f} {base / median:10.2f} "
                  f"{max(peaks[mode]) / 2**30:8.2f}")


if __name__ == "__main__":
    main()
