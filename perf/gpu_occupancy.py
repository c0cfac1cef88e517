"""GPU time of chunked sampling against one continuous stream: a batched-decoding simulation.

    python perf/gpu_occupancy.py [--problems 500] [--samples 128] [--chunk-problems 64]
        [--max-num-seqs 256 512 1024] [--fixed-ms 15] [--per-seq-ms 0.05]
        [--mean 606] [--p99 7925] [--cap 16384] [--difficulty-shares 0 0.5] [--seed 0]

The question: a shard of ``problems x samples`` requests drawn in chunks of
``chunk_problems`` problems, each chunk one vLLM ``generate`` call that waits for its
slowest sample before the next chunk starts, against the same requests in one stream that
refills the batch whenever a sequence finishes. How much more GPU time do the chunks cost?

The engine model (vLLM's continuous batching, decode only):

- Each engine step generates one token for every running sequence and takes
  ``fixed_ms + per_seq_ms x running`` (weights read once per step, plus per-sequence
  attention/sampling work). Defaults: 15 ms + 0.05 ms per sequence, i.e. 9.2k tokens/s at 256
  running and 15.5k at 1,024, roughly a 7B model on one H100/H200-class GPU.
- At most ``max_num_seqs`` sequences run; a finished one's slot is refilled at the next step
  from the queue (first come, first served, problem by problem as the sampler queues them).
- Prefill is ignored (the n samples of a problem share their prompt's prefix, and prompts
  are short next to the outputs), and so are KV-cache limits and preemption: every slot can
  always hold its sequence.
- GPU-seconds are the engine's wall time; a job on ``tp`` GPUs costs ``tp`` times as much
  either way, so the ratio does not depend on it.

Output lengths: a lognormal whose clipped version has the reported MATH500 statistics of
Qwen2.5-7B (``--mean`` 606 tokens, ``--p99`` 7,925), clipped at ``--cap`` (16,384, the
``max_tokens``). ``--difficulty-shares`` splits the log-length variance between the problem
(some problems make every sample long) and the sample; the marginal length distribution is
the same for every share, only how long samples cluster in problems (and so in chunks)
changes. Share 0 is independent samples.

Sanity check (run first, exits 1 if it fails): with every length equal, chunked and
continuous take the same time (ratio 1).
"""

from __future__ import annotations

import argparse
import heapq
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

_NORMAL = NormalDist()


@dataclass(frozen=True)
class Engine:
    """Step time of batched decoding: ``fixed_s + per_seq_s x running`` seconds per step."""

    max_num_seqs: int
    fixed_s: float = 0.015
    per_seq_s: float = 0.00005


@dataclass(frozen=True)
class Run:
    """One simulated run: engine seconds and the time integral of running sequences."""

    seconds: float
    seq_seconds: float  # integral of (running sequences) dt
    tokens: int
    max_num_seqs: int

    @property
    def occupancy(self) -> float:
        """Mean fraction of the ``max_num_seqs`` slots in use, weighted by time."""
        return self.seq_seconds / (self.seconds * self.max_num_seqs) if self.seconds else 0.0

    def __add__(self, other: Run) -> Run:
        return Run(
            self.seconds + other.seconds,
            self.seq_seconds + other.seq_seconds,
            self.tokens + other.tokens,
            self.max_num_seqs,
        )


def stream(lengths: Sequence[int], engine: Engine) -> Run:
    """Decode ``lengths`` (tokens per request, in queue order) with a batch refilled as slots free.

    Event-driven: the running set only changes when a sequence finishes, so the simulation
    jumps from one finish to the next (steps x the step time at that batch size) instead of
    stepping token by token.
    """
    lengths = [int(n) for n in lengths]
    if any(n < 1 for n in lengths):
        raise ValueError("every request generates at least one token")
    admitted = min(engine.max_num_seqs, len(lengths))
    finishing = lengths[:admitted]  # the step at which each running sequence frees its slot
    heapq.heapify(finishing)
    step, seconds, seq_seconds, tokens = 0, 0.0, 0.0, 0
    while finishing:
        running, until = len(finishing), finishing[0]
        span = (until - step) * (engine.fixed_s + engine.per_seq_s * running)
        seconds += span
        seq_seconds += running * span
        tokens += (until - step) * running
        step = until
        while finishing and finishing[0] == step:
            heapq.heappop(finishing)
            if admitted < len(lengths):
                heapq.heappush(finishing, step + lengths[admitted])
                admitted += 1
    assert tokens == sum(lengths)  # every token generated exactly once
    return Run(seconds, seq_seconds, tokens, engine.max_num_seqs)


def chunked(lengths: Sequence[int], chunk_requests: int, engine: Engine) -> Run:
    """The same queue cut into chunks of ``chunk_requests``, each waiting for its slowest sample."""
    total = Run(0.0, 0.0, 0, engine.max_num_seqs)
    for start in range(0, len(lengths), chunk_requests):
        total += stream(lengths[start : start + chunk_requests], engine)
    return total


def _clipped_mean(mu: float, sigma: float, cap: float) -> float:
    """E[min(X, cap)] for log X ~ N(mu, sigma^2)."""
    log_cap = math.log(cap)
    below = math.exp(mu + sigma**2 / 2) * _NORMAL.cdf((log_cap - mu - sigma**2) / sigma)
    return below + cap * (1 - _NORMAL.cdf((log_cap - mu) / sigma))


def fit_lognormal(mean: float, p99: float, cap: float) -> tuple[float, float]:
    """(mu, sigma) of the lognormal whose p99 is ``p99`` and whose mean, clipped at ``cap``, is ``mean``.

    The p99 fixes mu = ln p99 - z99 sigma (p99 < cap, so the clip leaves it alone); the
    clipped mean falls as sigma grows from 0 (where it is p99) to z99, so bisection finds the
    less extreme of the two roots.
    """
    if not 0 < mean < p99 < cap:
        raise ValueError("need 0 < mean < p99 < cap")
    z = _NORMAL.inv_cdf(0.99)
    low, high = 1e-6, z
    if _clipped_mean(math.log(p99) - z * high, high, cap) > mean:
        raise ValueError(f"no lognormal has mean {mean} and p99 {p99}")
    for _ in range(200):
        mid = (low + high) / 2
        if _clipped_mean(math.log(p99) - z * mid, mid, cap) > mean:
            low = mid
        else:
            high = mid
    sigma = (low + high) / 2
    return math.log(p99) - z * sigma, sigma


def draw_lengths(
    problems: int, samples: int, mu: float, sigma: float, cap: int, difficulty_share: float, seed: int
) -> np.ndarray:
    """Output lengths in queue order (problem by problem), shape (problems * samples,).

    log length = mu + sqrt(share) sigma z_problem + sqrt(1 - share) sigma z_sample: the same
    lognormal marginal for every share, with a share of its log-variance common to a problem.
    """
    if not 0 <= difficulty_share < 1:
        raise ValueError("difficulty share must be in [0, 1)")
    rng = np.random.default_rng(seed)
    per_problem = rng.standard_normal(problems)[:, None] * sigma * math.sqrt(difficulty_share)
    per_sample = rng.standard_normal((problems, samples)) * sigma * math.sqrt(1 - difficulty_share)
    return np.clip(np.rint(np.exp(mu + per_problem + per_sample)), 1, cap).astype(np.int64).ravel()


def compare(lengths: np.ndarray, chunk_requests: int, engine: Engine) -> tuple[Run, Run]:
    """(chunked, continuous) runs of the same queue."""
    return chunked(lengths, chunk_requests, engine), stream(lengths, engine)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--samples", type=int, default=128, help="samples per problem in the shard")
    parser.add_argument("--chunk-problems", type=int, default=64)
    parser.add_argument("--max-num-seqs", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--fixed-ms", type=float, default=15.0, help="per engine step")
    parser.add_argument("--per-seq-ms", type=float, default=0.05, help="per running sequence per step")
    parser.add_argument("--mean", type=float, default=606.0, help="mean output tokens (after the cap)")
    parser.add_argument("--p99", type=float, default=7925.0, help="99th percentile of output tokens")
    parser.add_argument("--cap", type=int, default=16384, help="max_tokens")
    parser.add_argument("--difficulty-shares", type=float, nargs="+", default=[0.0, 0.5])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    chunk_requests = args.chunk_problems * args.samples
    engines = [Engine(b, args.fixed_ms / 1000, args.per_seq_ms / 1000) for b in args.max_num_seqs]

    equal = np.full(args.problems * args.samples, round(args.mean), dtype=np.int64)
    worst = max(abs(c.seconds / s.seconds - 1) for c, s in (compare(equal, chunk_requests, e) for e in engines))
    print(f"sanity: every length {round(args.mean)} tokens: |chunked/continuous - 1| = {worst:.1e}")
    if worst > 1e-9:
        return 1

    mu, sigma = fit_lognormal(args.mean, args.p99, args.cap)
    print(
        f"shard: {args.problems} problems x {args.samples} samples = {args.problems * args.samples:,} requests; "
        f"chunks of {args.chunk_problems} problems ({chunk_requests:,} requests, "
        f"{math.ceil(args.problems / args.chunk_problems)} chunks)"
    )
    print(
        f"step time: {args.fixed_ms:g} ms + {args.per_seq_ms:g} ms x running sequences; decode only "
        f"(prefill, KV-cache limits and preemption ignored)"
    )
    print(
        f"lengths: lognormal mu {mu:.3f}, sigma {sigma:.3f} (fitted: clipped mean {args.mean:g}, "
        f"p99 {args.p99:g}), clipped to [1, {args.cap}]"
    )
    header = (
        f"{'share':>5} {'max_num_seqs':>12} {'chunked GPU-s':>14} {'continuous GPU-s':>17} {'ratio':>6} "
        f"{'occ. chunked':>12} {'occ. continuous':>15}"
    )
    rows = []
    for share in args.difficulty_shares:
        lengths = draw_lengths(args.problems, args.samples, mu, sigma, args.cap, share, args.seed)
        print(
            f"  difficulty share {share:g}: realised mean {lengths.mean():.0f}, median {np.median(lengths):.0f}, "
            f"p99 {np.quantile(lengths, 0.99):.0f}, max {lengths.max()}, at cap {np.mean(lengths == args.cap):.2%}"
        )
        for engine in engines:
            chunks, continuous = compare(lengths, chunk_requests, engine)
            rows.append(
                f"{share:>5g} {engine.max_num_seqs:>12} {chunks.seconds:>14,.0f} {continuous.seconds:>17,.0f} "
                f"{chunks.seconds / continuous.seconds:>6.2f} {chunks.occupancy:>12.1%} {continuous.occupancy:>15.1%}"
            )
    print(header)
    print("\n".join(rows))
    print(f"(simulated in {time.perf_counter() - started:.1f} s, seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
