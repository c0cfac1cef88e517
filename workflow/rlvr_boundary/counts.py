"""The count stage: per-problem (n, c) from every verdict shard of one (grader, model, benchmark).

Every problem must have exactly samples 0..n-1: a missing or duplicated sample is an error
naming the problem, never padded (PAPER.md hazard 4), so pass@k is never silently biased.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import polars as pl

from rlvr_boundary import tables
from rlvr_boundary.specs import CountSpec


def per_problem_counts(
    verdicts: pl.DataFrame, problems: pl.DataFrame, n_expected: int, where: str, first: int = 0
) -> pl.DataFrame:
    """(n, c) per problem in benchmark order; every problem must have exactly the samples
    first .. first+n-1 (0..n-1 for all shards together, one shard's range for one shard)."""
    duplicated = verdicts.select("problem_id", "sample_index").is_duplicated()
    if duplicated.any():
        first = verdicts.filter(duplicated).row(0, named=True)
        raise ValueError(f"{where}: duplicate sample {first['problem_id']}#{first['sample_index']}")
    per_problem = verdicts.group_by("problem_id").agg(
        pl.len().cast(pl.Int64).alias("n"),
        pl.col("correct").sum().cast(pl.Int64).alias("c"),
        pl.col("sample_index").min().alias("first"),
        pl.col("sample_index").max().alias("last"),
    )
    counts = problems.select("problem_id", "index").join(
        per_problem, on="problem_id", how="left", maintain_order="left"
    )
    incomplete = counts.filter(
        pl.col("n").is_null()
        | (pl.col("n") != n_expected)
        | (pl.col("first") != first)
        | (pl.col("last") != first + n_expected - 1)
    )
    if incomplete.height:
        row = incomplete.row(0, named=True)
        raise ValueError(
            f"{where}: problem {row['problem_id']} has {row['n'] or 0} of the {n_expected} samples "
            f"{first}..{first + n_expected - 1} (never padded: rerun the missing shard)"
        )
    return counts.select(list(tables.COUNTS.columns))


def count(spec: CountSpec, verdict_paths: Sequence[str | Path], benchmark_path: str | Path, output: str | Path) -> None:
    """Write the (n, c) table of one (grader, model, benchmark) from all its verdict shards."""
    problems = tables.read_benchmark(benchmark_path)
    verdicts = pl.concat([tables.read(p, tables.VERDICTS) for p in verdict_paths])
    counts = per_problem_counts(verdicts, problems, spec.n, f"{spec.benchmark} ({len(verdict_paths)} verdict shards)")
    record = tables.provenance(
        stage="count", **asdict(spec), verdict_provenance=[tables.read_provenance(p) for p in verdict_paths]
    )
    tables.write(counts, output, tables.COUNTS, record)
