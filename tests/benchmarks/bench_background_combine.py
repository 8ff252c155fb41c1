"""Benchmark combine_backgrounds against astropy's sigma_clip + mean.

Run:  python tests/benchmarks/bench_background_combine.py [--size 2048 4096] [--depth 3 10]

Data: sky ~ 10 + N(0, 1), a few thousand bright outliers (cosmic rays) and some NaNs per member.
astropy is timed once (it is slow), combine_backgrounds best of 3. "masks equal" compares
n_used with astropy's count of unmasked values and the means (exactly and to 1e-6 relative).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from iris_gui.engine.background_combine import combine_backgrounds  # noqa: E402


def make_members(depth: int, size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    sci, err, dq = [], [], []
    for _ in range(depth):
        frame = rng.standard_normal((size, size), dtype=np.float32)
        frame += np.float32(10)
        hits = rng.integers(0, size, (2, 3000))
        frame[hits[0], hits[1]] += rng.uniform(20, 5000, 3000).astype(np.float32)
        holes = rng.integers(0, size, (2, 300))
        frame[holes[0], holes[1]] = np.nan
        sci.append(frame)
        err.append(np.full((size, size), 0.5, dtype=np.float32))
        dq.append(rng.integers(0, 4, (size, size)).astype(np.uint32))
    return sci, err, dq


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def bench(depth: int, size: int, sigma: float, repeats: int) -> None:
    from astropy.stats import sigma_clip

    sci, err, dq = make_members(depth, size)
    rss_before = peak_rss_mb()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = combine_backgrounds(sci, err, dq, sigma=sigma, maxiters=None)
        best = min(best, time.perf_counter() - start)
    rss_ours = peak_rss_mb()

    stack = np.stack(sci)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clipped = sigma_clip(stack, sigma=sigma, maxiters=None, axis=0)
        mean = clipped.mean(axis=0)
    t_astropy = time.perf_counter() - start
    count = (~np.ma.getmaskarray(clipped)).sum(axis=0)
    ref = np.ma.filled(mean, np.nan).astype(np.float32)
    counts_equal = np.array_equal(count, result.n_used)
    means_exact = np.array_equal(ref, result.data, equal_nan=True)
    means_close = np.allclose(ref, result.data, rtol=1e-6, atol=0, equal_nan=True)
    clipped_px = int((result.n_used < depth).sum())
    print(
        f"N={depth:2d} {size}x{size} sigma={sigma}: astropy {t_astropy:7.3f} s | "
        f"combine {best:7.4f} s | ratio {t_astropy / best:6.1f}x | "
        f"masks equal {counts_equal} | means exact {means_exact} (1e-6: {means_close}) | "
        f"pixels with clipping {clipped_px} | peak RSS after ours {rss_ours:.0f} MB "
        f"(before {rss_before:.0f} MB)"
    )
    del stack, clipped, mean


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs="+", default=[2048, 4096])
    parser.add_argument("--depth", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--sigma", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    for size in args.size:
        for depth in args.depth:
            bench(depth, size, args.sigma, args.repeats)
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
