"""The verify stage: one shard of samples in, one verdict per sample out.

Math samples are graded against the gold answer by ``verify.math`` with the spec's grader
(a sample whose finish reason is not "stop" was cut off: grader "ours" reads no unmarked
answer from it);
programs run the task's tests in the sandbox (``verify.code``). Each grader's verdicts are
their own files (``results/verdicts/{grader}/...``), so counts, pass@k and figures serve
every grader alike, and where two graders differ is a join of their verdict files.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import polars as pl

from rlvr_boundary import importers, tables
from rlvr_boundary.prompts import code_prefill
from rlvr_boundary.specs import DisagreementSpec, ImportSpec, VerifySpec
from rlvr_boundary.verify import Verdict
from rlvr_boundary.verify import code as code_verify
from rlvr_boundary.verify import math as math_verify

log = logging.getLogger(__name__)
FINISHED = ("stop", importers.UNKNOWN_FINISH)  # responses that ended by themselves, or may have


def _check_problem_ids(
    samples: pl.DataFrame, problems: pl.DataFrame, samples_path: str | Path, benchmark_path: str | Path
) -> None:
    unknown = sorted(set(samples["problem_id"]) - set(problems["problem_id"]))
    if unknown:
        raise ValueError(f"{samples_path}: field 'problem_id': not in {benchmark_path}: {unknown[:5]}")


def _frame(samples: pl.DataFrame, verdicts: Sequence[Verdict]) -> pl.DataFrame:
    return samples.select("problem_id", "sample_index").with_columns(
        pl.Series("extracted", [v.extracted for v in verdicts], dtype=pl.String),
        pl.Series("correct", [v.correct for v in verdicts], dtype=pl.Boolean),
        pl.Series("status", [v.status for v in verdicts], dtype=pl.String),
        pl.Series("detail", [v.detail for v in verdicts], dtype=pl.String),
    )


def _trusted(samples: pl.DataFrame, table: pl.DataFrame, spec: ImportSpec) -> tuple[pl.DataFrame, dict]:
    """Verdicts that are the imported files' own per-sample scores (``trust_scores``)."""
    key = ["problem_id", "sample_index"]
    scores = importers.imported(spec, table)
    if "correct" not in scores.columns or scores["correct"].null_count():
        raise ValueError(
            f"{', '.join(spec.paths)}: field 'correct': trust_scores needs the file's score of every sample "
            "(qwen-math 'score', evalplus results beside samples.jsonl, jsonl 'correct', or samples_from.score_field)"
        )
    joined = samples.select(key).join(scores.select(*key, "correct"), on=key, how="left", maintain_order="left")
    passed, failed = ("passed", "failed") if tables.is_code(table) else ("correct", "wrong")
    frame = joined.with_columns(
        extracted=pl.lit(None, pl.String),
        status=pl.when(pl.col("correct")).then(pl.lit(passed)).otherwise(pl.lit(failed)),
        detail=pl.lit("score from the imported file (trust_scores)"),
    ).select(*key, "extracted", "correct", "status", "detail")
    return frame, {"samples": samples.height, "trusted_sources": importers.sources(spec)}


def judge(samples: pl.DataFrame, table: pl.DataFrame, spec: VerifySpec, *, workers: int) -> tuple[pl.DataFrame, dict]:
    """Verdicts for ``samples`` (one row each) and what grading them cost."""
    if spec.trusted is not None:
        return _trusted(samples, table, spec.trusted)
    if tables.is_code(table):
        if spec.grader != "ours":
            raise ValueError(
                f"{spec.benchmark}: a code benchmark is judged by its tests (grader 'ours'), not {spec.grader!r}"
            )
        by_id = {row["problem_id"]: row for row in table.iter_rows(named=True)}
        verdicts = code_verify.verify_batch(
            samples["response"].to_list(),
            [by_id[p] for p in samples["problem_id"]],
            workers=workers,
            timeout_s=spec.code_timeout_s,
            prefill=code_prefill(spec.template) if spec.template else "",
        )
        return _frame(samples, verdicts), {"samples": samples.height}
    joined = samples.join(table.select("problem_id", "gold"), on="problem_id", how="left", maintain_order="left")
    verdicts, stats = math_verify.grade(
        joined["response"].to_list(),
        joined["gold"].to_list(),
        grader=spec.grader,
        timeout_s=spec.timeout_s,
        workers=workers,
        problem_ids=joined["problem_id"].to_list(),
        finished=joined["finish_reason"].is_in(FINISHED).to_list(),
    )
    return _frame(joined, verdicts), asdict(stats)


def verify(
    spec: VerifySpec, samples_path: str | Path, benchmark_path: str | Path, output: str | Path, *, workers: int
) -> None:
    """Judge every sample of one shard and write the verdicts with their provenance."""
    table = tables.read_benchmark(benchmark_path)
    samples = tables.read(samples_path, tables.SAMPLES)
    _check_problem_ids(samples, table, samples_path, benchmark_path)
    frame, cost = judge(samples, table, spec, workers=workers)
    log.info("%s: %d samples judged, %d correct; %s", output, frame.height, frame["correct"].sum(), cost)
    kind = "code" if tables.is_code(table) else "math"
    record = tables.provenance(
        stage="verify", kind=kind, **asdict(spec), cost=cost, samples_provenance=tables.read_provenance(samples_path)
    )
    tables.write(frame, output, tables.VERDICTS_OF_KIND[kind], record)


def disagreements(
    spec: DisagreementSpec,
    verdicts_a: Sequence[str | Path],
    verdicts_b: Sequence[str | Path],
    samples_paths: Sequence[str | Path],
    benchmark_path: str | Path,
    output: str | Path,
) -> None:
    """Samples two graders judge differently: a join of their verdict shards with the
    responses and gold answers, one row per disagreeing sample."""
    table = tables.read_benchmark(benchmark_path)
    if tables.is_code(table):
        raise ValueError(f"{benchmark_path}: {spec.benchmark} is a code benchmark; graders are compared on math only")
    key = ["problem_id", "sample_index"]
    first, second = spec.graders

    def side(paths: Sequence[str | Path], grader: str, suffix: str) -> pl.DataFrame:
        frame = pl.concat([tables.read(p, tables.VERDICTS) for p in paths]).drop("detail")
        return frame.rename({c: f"{c}_{suffix}" for c in ("extracted", "correct", "status")}).with_columns(
            pl.lit(grader).alias(f"grader_{suffix}")
        )

    samples = pl.concat([tables.read(p, tables.SAMPLES) for p in samples_paths]).select(*key, "response")
    both = side(verdicts_a, first, "a").join(
        side(verdicts_b, second, "b"), on=key, how="full", coalesce=True, validate="1:1"
    )
    if both.height != samples.height or both["grader_a"].null_count() or both["grader_b"].null_count():
        raise ValueError(f"{output}: the {first} and {second} verdicts do not cover the same samples")
    differ = (
        both.filter(pl.col("correct_a") != pl.col("correct_b"))
        .join(samples, on=key, how="left")
        .join(table.select("problem_id", "gold"), on="problem_id", how="left")
        .sort(key)
    )
    record = tables.provenance(
        stage="disagreements",
        **asdict(spec),
        verdict_provenance={
            g: [tables.read_provenance(p) for p in paths] for g, paths in ((first, verdicts_a), (second, verdicts_b))
        },
    )
    tables.write(differ, output, tables.DISAGREEMENTS, record)
