"""Speed of the problem bootstrap against a loop over resamples, in one run.

    python perf/stats_speed.py [--problems 500] [--n 1024] [--resamples 1000] [--loop-resamples 100]

Realistic counts (p ~ Beta(0.3, 1.0), c ~ Binomial(n, p), seeded), every k from 1 to n:

* vectorised: ``rlvr_boundary.stats.bootstrap_curve`` (one resample-weight matrix against the
  per-problem pass@k matrix), best of 5 warm runs, and its first (cold) run;
* ``stats.compare_pair`` on two such models (two curves, difference, crossover, Delta-SE);
* baseline: a Python loop over the same resamples (the same ``stats.resample_weights``)
  calling ``passk.pass_at_k_curve`` on each resampled problem set. It times
  ``--loop-resamples`` of them and scales to ``--resamples`` (printed as such).

The two bands must agree: the loop's percentiles over its resamples equal the vectorised
ones computed from the same resamples to 1e-12, or the script exits 1. Targets (issue 9):
under 2 s and at least 50x the loop, on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from rlvr_boundary import stats
from rlvr_boundary.passk import pass_at_k_curve, pass_at_k_matrix


def _best(func, repeats: int = 5) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def _cpu() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.machine())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--loop-resamples", type=int, default=100)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    n = np.full(args.problems, args.n)
    c_a = rng.binomial(args.n, rng.beta(0.3, 1.0, args.problems))
    c_b = rng.binomial(args.n, rng.beta(0.6, 1.0, args.problems))
    ks = np.arange(1, args.n + 1)
    print(f"machine: {_cpu()}, {os.cpu_count()} CPUs; python {platform.python_version()}, numpy {np.__version__}")
    print(f"Q = {args.problems} problems, n = {args.n}, every k 1..{args.n}, {args.resamples} resamples")

    start = time.perf_counter()
    stats.bootstrap_curve(n, c_a, ks, resamples=args.resamples)
    cold = time.perf_counter() - start
    warm, _ = _best(lambda: stats.bootstrap_curve(n, c_a, ks, resamples=args.resamples))
    pair, _ = _best(lambda: stats.compare_pair(n, c_a, n, c_b, resamples=args.resamples), repeats=3)

    weights = stats.resample_weights(args.problems, args.resamples, seed=0)
    subset = weights[: args.loop_resamples]
    start = time.perf_counter()
    looped = np.stack([pass_at_k_curve(np.repeat(n, w.astype(int)), np.repeat(c_a, w.astype(int)), ks) for w in subset])
    loop = (time.perf_counter() - start) * args.resamples / len(subset)

    vectorised = subset @ pass_at_k_matrix(n, c_a, ks) / args.problems
    agree = float(
        np.max(np.abs(np.quantile(looped, [0.025, 0.975], axis=0) - np.quantile(vectorised, [0.025, 0.975], axis=0)))
    )

    print(f"bootstrap_curve, vectorised: {warm:.3f} s (best of 5 warm runs; first run {cold:.3f} s)")
    print(f"compare_pair (two curves, difference, crossover, Delta-SE): {pair:.3f} s")
    print(
        f"loop over resamples calling pass_at_k_curve: {loop:.2f} s "
        f"(timed {len(subset)} resamples, scaled to {args.resamples})"
    )
    ratio = loop / warm
    print(f"ratio loop / vectorised: {ratio:.0f}x (cold: {loop / cold:.0f}x)")
    print(f"max |band difference| on the same {len(subset)} resamples: {agree:.1e}")
    print(
        f"targets: under 2 s: {'met' if warm < 2 else 'NOT met'}; at least 50x: {'met' if ratio >= 50 else 'NOT met'}"
    )
    return 0 if agree < 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())
