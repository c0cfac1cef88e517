"""The pass@k stages: a counts table in, the unbiased pass@k curve for k = 1..n out, with
its problem-bootstrap band and Beta-posterior sd; and one curve per seed shard, so a
reader sees how far runs of the same model differ (the paper pools them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import polars as pl

from rlvr_boundary import stats, tables
from rlvr_boundary.counts import per_problem_counts
from rlvr_boundary.passk import pass_at_k_curve
from rlvr_boundary.specs import CurveSpec, ShardCurveSpec


def passk_table(n: np.ndarray, c: np.ndarray, spec: CurveSpec) -> pl.DataFrame:
    """Every k from 1 to the smallest n: estimate, bootstrap band, posterior sd."""
    ks = np.arange(1, int(n.min()) + 1)
    boot = spec.bootstrap
    band = stats.bootstrap_curve(n, c, ks, resamples=boot.resamples, level=boot.level, seed=boot.seed)
    posterior = stats.posterior_pass_at_k(n, c, ks)
    return band.with_columns(posterior_sd=posterior["sd"], n_problems=pl.lit(n.size, pl.Int64)).select(
        list(tables.PASSK.columns)
    )


def passk(spec: CurveSpec, counts_path: str | Path, output: str | Path) -> None:
    """The pass@k stage of one (grader, model, benchmark)."""
    counts = tables.read(counts_path, tables.COUNTS)
    frame = passk_table(counts["n"].to_numpy(), counts["c"].to_numpy(), spec)
    record = tables.provenance(stage="passk", spec=asdict(spec), counts_provenance=tables.read_provenance(counts_path))
    tables.write(frame, output, tables.PASSK, record)


def shard_passk(
    spec: ShardCurveSpec, verdict_paths: Sequence[str | Path], benchmark_path: str | Path, output: str | Path
) -> None:
    """pass@k of each seed shard on its own (k = 1..shard size), shards in seed order."""
    if len(verdict_paths) != len(spec.shards):
        raise ValueError(f"{output}: {len(spec.shards)} shards but {len(verdict_paths)} verdict files")
    problems = tables.read_benchmark(benchmark_path)
    frames = []
    for shard, path in zip(spec.shards, verdict_paths, strict=True):
        counts = per_problem_counts(tables.read(path, tables.VERDICTS), problems, shard.size, str(path), shard.start)
        ks = np.arange(1, shard.size + 1)
        frames.append(
            pl.DataFrame(
                {
                    "seed": np.full(ks.size, shard.index),
                    "k": ks,
                    "pass_at_k": pass_at_k_curve(counts["n"], counts["c"], ks),
                    "n_problems": np.full(ks.size, counts.height),
                },
                schema=tables.SHARD_PASSK.columns,
            )
        )
    record = tables.provenance(
        stage="shard_passk",
        benchmark=spec.benchmark,
        verdict_provenance=[tables.read_provenance(p) for p in verdict_paths],
    )
    tables.write(pl.concat(frames), output, tables.SHARD_PASSK, record)
