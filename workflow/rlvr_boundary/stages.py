"""The pipeline's stages as functions from files to files (what the Snakemake rules call).

Each stage reads its inputs, checks them, calls the pure logic of one module and writes one
table atomically with its provenance. Stages never reach into each other's internals: the
tables and their schemas are the interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from rlvr_boundary import benchmarks, tables
from rlvr_boundary.config import config_hash
from rlvr_boundary.passk import pass_at_k_curve
from rlvr_boundary.sampling import ShardJob, load_samples, model_source, sample_shard

VERDICT_SCHEMA: dict[str, type[pl.DataType]] = {
    "problem_id": pl.String,
    "sample_index": pl.Int64,
    "extracted": pl.String,   # math: the answer as written; code: the program that ran
    "correct": pl.Boolean,
    "status": pl.String,      # math: ok/no_answer/timeout/error; code: passed/failed/timeout/...
    "detail": pl.String,      # code: how the program was found and why it failed; math: null
}
COUNT_SCHEMA: dict[str, type[pl.DataType]] = {
    "problem_id": pl.String, "index": pl.Int64, "n": pl.Int64, "c": pl.Int64,
}
PASSK_SCHEMA: dict[str, type[pl.DataType]] = {
    "k": pl.Int64, "pass_at_k": pl.Float64, "n_problems": pl.Int64,
}


def prepare(name: str, spec: dict[str, Any], source_kind: str, output: str | Path) -> None:
    frame, source = benchmarks.prepare(name, spec, source_kind)
    judged_by = "tests" if benchmarks.is_code(frame) else "gold"
    content = config_hash(frame.select("problem_id", "question", judged_by).rows())
    tables.write_parquet(frame, output, tables.provenance(stage="prepare", content_hash=content, **source))


def sample(job: ShardJob, benchmark_path: str | Path, output: str | Path, threads: int) -> None:
    """Sample one shard with the vLLM engine (configured for CPU when no GPU is present)."""
    import torch

    from rlvr_boundary import engines

    on_cpu = not torch.cuda.is_available()
    if on_cpu:
        engines.configure_cpu_runtime(threads)

    def make_engine(shard_job: ShardJob) -> engines.VllmEngine:
        source, revision = model_source(shard_job.model)
        return engines.VllmEngine(
            source, revision=revision,
            tensor_parallel_size=shard_job.model.get("tensor_parallel_size", 1),
            dtype=shard_job.sampling.get("dtype", "auto"),
            max_model_len=shard_job.model.get("max_model_len") or shard_job.sampling.get("max_model_len"),
            enforce_eager=shard_job.sampling.get("enforce_eager", False),
            gpu_memory_utilization=shard_job.sampling.get("gpu_memory_utilization", 0.9),
            enable_chunked_prefill=False if on_cpu else None,
        )

    sample_shard(job, benchmark_path, output, make_engine)


def _check_problem_ids(samples: pl.DataFrame, problems: pl.DataFrame, samples_path: str | Path,
                       benchmark_path: str | Path) -> None:
    unknown = sorted(set(samples["problem_id"]) - set(problems["problem_id"]))
    if unknown:
        raise ValueError(f"{samples_path}: field 'problem_id': not in {benchmark_path}: {unknown[:5]}")


def _judge(samples: pl.DataFrame, golds: pl.DataFrame, samples_path: str | Path, benchmark_path: str | Path,
           *, grader: str, timeout_s: float, workers: int) -> pl.DataFrame:
    """Verdicts for ``samples`` (one row each) by one grader."""
    from rlvr_boundary.verify import math as math_verify

    _check_problem_ids(samples, golds, samples_path, benchmark_path)
    joined = samples.join(golds, on="problem_id", how="left", maintain_order="left")
    verdicts = math_verify.verify_batch(
        joined["response"].to_list(), joined["gold"].to_list(), grader=grader,
        timeout_s=timeout_s, workers=workers, problem_ids=joined["problem_id"].to_list(),
    )
    return _verdict_frame(joined, verdicts, [None] * len(verdicts))


def _verdict_frame(samples: pl.DataFrame, verdicts: Sequence[Any], details: Sequence[str | None]) -> pl.DataFrame:
    return samples.select("problem_id", "sample_index").with_columns(
        pl.Series("extracted", [v.extracted for v in verdicts], dtype=pl.String),
        pl.Series("correct", [v.correct for v in verdicts], dtype=pl.Boolean),
        pl.Series("status", [v.status for v in verdicts], dtype=pl.String),
        pl.Series("detail", details, dtype=pl.String),
    )


def _judge_code(samples: pl.DataFrame, tasks: pl.DataFrame, samples_path: str | Path, benchmark_path: str | Path,
                *, template: str, timeout_s: float | None, workers: int) -> pl.DataFrame:
    """Verdicts for code samples: each program runs the task's tests in the sandbox."""
    from rlvr_boundary.prompts import code_prefill
    from rlvr_boundary.verify import code as code_verify

    _check_problem_ids(samples, tasks, samples_path, benchmark_path)
    by_id = {row["problem_id"]: row for row in tasks.iter_rows(named=True)}
    verdicts = code_verify.verify_batch(
        samples["response"].to_list(), [by_id[p] for p in samples["problem_id"]],
        workers=workers, timeout_s=timeout_s, prefill=code_prefill(template),
    )
    details = [": ".join(part for part in (v.extraction, v.detail) if part) for v in verdicts]
    return _verdict_frame(samples, verdicts, details)


def verify(samples_path: str | Path, benchmark_path: str | Path, output: str | Path, *,
           spec: dict[str, Any], workers: int) -> None:
    """Judge every sample of one shard: math answers against the gold answer (``spec``:
    benchmark, grader, timeout_s), programs against the tests (benchmark, template, code_timeout_s)."""
    table = benchmarks.load(spec["benchmark"], benchmark_path)
    samples = load_samples(samples_path)
    if benchmarks.is_code(table):
        frame = _judge_code(samples, table, samples_path, benchmark_path, template=spec["template"],
                            timeout_s=spec["code_timeout_s"], workers=workers)
    else:
        frame = _judge(samples, table.select("problem_id", "gold"), samples_path, benchmark_path,
                       grader=spec["grader"], timeout_s=spec["timeout_s"], workers=workers)
    record = tables.provenance(stage="verify", **spec, samples_provenance=tables.read_provenance(samples_path))
    tables.write_parquet(frame, output, record)


def per_problem_counts(verdicts: pl.DataFrame, problems: pl.DataFrame, n_expected: int, where: str) -> pl.DataFrame:
    """(n, c) per problem; every problem must have exactly samples 0..n-1, never padded."""
    duplicated = verdicts.select("problem_id", "sample_index").is_duplicated()
    if duplicated.any():
        first = verdicts.filter(duplicated).row(0, named=True)
        raise ValueError(f"{where}: duplicate sample {first['problem_id']}#{first['sample_index']}")
    per_problem = verdicts.group_by("problem_id").agg(
        pl.len().cast(pl.Int64).alias("n"),
        pl.col("correct").sum().cast(pl.Int64).alias("c"),
        pl.col("sample_index").max().alias("last"),
    )
    counts = problems.select("problem_id", "index").join(per_problem, on="problem_id", how="left", maintain_order="left")
    incomplete = counts.filter(
        pl.col("n").is_null() | (pl.col("n") != n_expected) | (pl.col("last") != n_expected - 1)
    )
    if incomplete.height:
        row = incomplete.row(0, named=True)
        raise ValueError(
            f"{where}: problem {row['problem_id']} has {row['n'] or 0} of {n_expected} samples "
            "(never padded: rerun the missing shard)"
        )
    return counts.select(list(COUNT_SCHEMA))


def count(verdict_paths: Sequence[str | Path], benchmark_path: str | Path, output: str | Path, *,
          benchmark: str, n_expected: int) -> None:
    """Per-problem (n, c) from all verdict shards of one (model, benchmark)."""
    problems = benchmarks.load(benchmark, benchmark_path)
    verdicts = pl.concat([tables.read_parquet(p, VERDICT_SCHEMA) for p in verdict_paths])
    counts = per_problem_counts(verdicts, problems, n_expected, f"{benchmark} ({len(verdict_paths)} verdict shards)")
    record = tables.provenance(
        stage="count", benchmark=benchmark, n=n_expected,
        verdict_provenance=[tables.read_provenance(p) for p in verdict_paths],
    )
    tables.write_parquet(counts, output, record)


def _curve(counts: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    n, c = counts["n"].to_numpy(), counts["c"].to_numpy()
    ks = np.arange(1, int(n.min()) + 1)
    return ks, pass_at_k_curve(n, c, ks)


def compare_graders(sample_paths: Sequence[str | Path], benchmark_path: str | Path, disagreements: str | Path,
                    curves: str | Path, *, benchmark: str, n_expected: int, timeout_s: float, workers: int) -> None:
    """Grade the same samples with our grader and the paper's; keep where they disagree.

    ``disagreements``: one row per sample the graders judge differently. ``curves``: pass@k
    for k = 1..n under each grader, so a figure can show how far the boundary moves.
    """
    problems = benchmarks.load(benchmark, benchmark_path)
    if benchmarks.is_code(problems):
        raise ValueError(f"{benchmark_path}: {benchmark} is a code benchmark; graders are compared on math only")
    golds = problems.select("problem_id", "gold")
    samples = pl.concat([load_samples(p) for p in sample_paths])
    judged = {
        grader: _judge(samples, golds, sample_paths[0], benchmark_path, grader=grader,
                       timeout_s=timeout_s, workers=workers)
        for grader in ("ours", "paper")
    }
    both = judged["ours"].drop("detail").join(judged["paper"].drop("detail"), on=["problem_id", "sample_index"], suffix="_paper")
    differ = both.filter(pl.col("correct") != pl.col("correct_paper")).join(
        samples.select("problem_id", "sample_index", "response"), on=["problem_id", "sample_index"]
    ).join(golds, on="problem_id").rename({"extracted": "extracted_ours", "correct": "correct_ours",
                                           "status": "status_ours"})
    ks, ours = _curve(per_problem_counts(judged["ours"], problems, n_expected, benchmark))
    _, paper = _curve(per_problem_counts(judged["paper"], problems, n_expected, benchmark))
    record = tables.provenance(
        stage="compare_graders", benchmark=benchmark, n=n_expected, timeout_s=timeout_s,
        samples_provenance=[tables.read_provenance(p) for p in sample_paths],
    )
    tables.write_parquet(differ, disagreements, record)
    tables.write_parquet(pl.DataFrame({"k": ks, "pass_at_k_ours": ours, "pass_at_k_paper": paper}), curves, record)


def passk(counts_path: str | Path, output: str | Path) -> None:
    """pass@k for every k from 1 to n, averaged over problems."""
    counts = tables.read_parquet(counts_path, COUNT_SCHEMA)
    ks, curve = _curve(counts)
    frame = pl.DataFrame({"k": ks, "pass_at_k": curve, "n_problems": np.full(ks.size, counts.height)},
                         schema=PASSK_SCHEMA)
    record = tables.provenance(stage="passk", counts_provenance=tables.read_provenance(counts_path))
    tables.write_parquet(frame, output, record)
