"""Distillation for the laptop lab: fine-tune a student on a teacher's correct samples.

The paper finds that distilling a stronger model's reasoning expands the base's boundary
where RLVR does not (Fig. 7). The lab's analogue takes the teacher's samples on the train
split through the ordinary sample and verify rules, keeps the ones the verifier accepted,
and fine-tunes the student on them with the demo's supervised loop (prompt masked, loss on
the response). The kept samples are judged by the same verdict tables the pass@k curves
come from, so what is distilled is exactly what the pipeline counts as correct.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from rlvr_boundary import demo, tables


def correct_examples(
    benchmark: str | Path, samples: Sequence[str | Path], verdicts: Sequence[str | Path]
) -> pl.DataFrame:
    """The (question, gold, response) rows of every sample its verdict calls correct.

    ``samples`` and ``verdicts`` are the teacher's shards in the same seed order; a verdict
    with no sample (or the reverse) is a ValueError naming the shard, never a silent drop.
    """
    if len(samples) != len(verdicts) or not samples:
        raise ValueError(f"distill: {len(samples)} sample shards but {len(verdicts)} verdict shards")
    problems = tables.read_benchmark(benchmark).select("problem_id", "question", "gold")
    kept = []
    for sample_path, verdict_path in zip(samples, verdicts, strict=True):
        shard = tables.read(sample_path, tables.SAMPLES).select("problem_id", "sample_index", "response")
        judged = tables.read(verdict_path, tables.VERDICTS).select("problem_id", "sample_index", "correct")
        joined = shard.join(judged, on=["problem_id", "sample_index"], how="full", coalesce=True)
        if joined.height != shard.height or joined.height != judged.height:
            raise ValueError(f"{verdict_path}: its verdicts do not match the samples of {sample_path} one to one")
        kept.append(joined.filter(pl.col("correct")))
    examples = pl.concat(kept).join(problems, on="problem_id", how="inner")
    return examples.sort("problem_id", "sample_index").select("question", "gold", "response")


def distill(
    student: Path,
    benchmark: str | Path,
    samples: Sequence[str | Path],
    verdicts: Sequence[str | Path],
    output: Path,
    *,
    steps: int,
    seed: int,
    threads: int = 2,
) -> dict[str, Any]:
    """Fine-tune ``student`` on the teacher's correct samples for ``steps`` batches; save it
    to ``output`` (atomically) and return its statistics, which name the samples used."""
    examples = correct_examples(benchmark, samples, verdicts)
    if examples.height == 0:
        raise ValueError(f"distill: the teacher has no correct sample in {list(map(str, verdicts))}")
    record = {
        "distilled_from": {
            "samples": [{"path": str(p), "sha256": tables.sha256_file(p)} for p in samples],
            "verdicts": [{"path": str(p), "sha256": tables.sha256_file(p)} for p in verdicts],
            "correct_samples": examples.height,
            "problems": examples["question"].n_unique(),
        }
    }
    return demo.train_model(
        output,
        steps=steps,
        seed=seed,
        init_from=student,
        examples=list(examples.iter_rows()),
        threads=threads,
        record=record,
    )
