"""The guessing filter (paper Appendix D.2, Fig. 12): drop problems a model guesses.

The base model is prompted to give the final answer directly, without reasoning (an
answer-only prompt variant), and sampled n times per problem. A problem it answers
correctly with a low but non-zero accuracy, 0 < c/n < ``below`` (5% by default), counts
as guessable and is removed; problems it answers often are kept (they are likely easy and
solvable with valid reasoning), as are those it never answers. The kept problems form a
derived benchmark whose counts are the original benchmark's counts restricted to them:
nothing is sampled or judged again, so its pass@k comes from the very shards of the full
benchmark.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import polars as pl

from rlvr_boundary import tables
from rlvr_boundary.specs import GuessFilterSpec


def guess_filter(counts: pl.DataFrame, below: float) -> pl.DataFrame:
    """Per problem: the answer-only (n, c), its accuracy and whether the problem is kept."""
    accuracy = pl.col("c") / pl.col("n")
    return counts.select(
        "problem_id",
        "index",
        "n",
        "c",
        accuracy.alias("accuracy"),
        (~((accuracy > 0) & (accuracy < below))).alias("kept"),
    )


def kept_counts(counts: pl.DataFrame, kept: pl.DataFrame, where: str) -> pl.DataFrame:
    """``counts`` restricted to the kept problems, in benchmark order (original indices kept);
    an error if the two tables do not list the same problems."""
    if set(counts["problem_id"]) != set(kept["problem_id"]):
        raise ValueError(f"{where}: the counts and the guessing filter list different problems")
    keep = set(kept.filter(pl.col("kept"))["problem_id"])
    if not keep:
        raise ValueError(f"{where}: the guessing filter keeps no problem")
    return counts.filter(pl.col("problem_id").is_in(keep))


def write_filter(spec: GuessFilterSpec, counts_path: str | Path, output: str | Path) -> None:
    """The filter stage: the answer-only model's counts in, the per-problem decision out."""
    table = guess_filter(tables.read(counts_path, tables.COUNTS), spec.below)
    record = tables.provenance(
        stage="guess_filter", **asdict(spec), counts_provenance=tables.read_provenance(counts_path)
    )
    tables.write(table, output, tables.GUESS_FILTER, record)


def write_kept_counts(
    spec: GuessFilterSpec, counts_path: str | Path, filter_path: str | Path, output: str | Path
) -> None:
    """A filtered benchmark's counts: its origin's counts for one model, kept problems only."""
    kept = tables.read(filter_path, tables.GUESS_FILTER)
    counts = kept_counts(tables.read(counts_path, tables.COUNTS), kept, f"{spec.benchmark} ({counts_path})")
    record = tables.provenance(
        stage="count",
        **asdict(spec),
        kept_indices=kept.filter(pl.col("kept"))["index"].to_list(),
        counts_provenance=tables.read_provenance(counts_path),
        filter_provenance=tables.read_provenance(filter_path),
    )
    tables.write(counts, output, tables.COUNTS, record)
