"""rlvr_boundary.distill: the teacher's verified-correct samples, and a real fine-tuning run on them."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from rlvr_boundary import benchmarks, demo, distill, tables
from rlvr_boundary.specs import PrepareSpec


@pytest.fixture(scope="module")
def teacher_shards(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], list[Path], Path]:
    """A prepared train split, two sample shards with their verdicts, and a 3-step student."""
    root = tmp_path_factory.mktemp("distill")
    demo.write_benchmark(root / "train.jsonl", n_problems=3, seed=0, kind="train")
    spec = PrepareSpec(
        "train",
        {
            "kind": "math",
            "local": {"path": str(root / "train.jsonl")},
            "fields": {"id": "id", "question": "problem"},
            "gold": {"field": "answer", "extract": "none"},
        },
        "local",
    )
    benchmarks.write_prepared(spec, root / "train.parquet")
    rows = tables.read_benchmark(root / "train.parquet")
    samples, verdicts = [], []
    for seed, right in enumerate(([True, False, True], [False, False, True])):
        shard = pl.DataFrame(
            {
                "problem_id": rows["problem_id"],
                "sample_index": [seed] * 3,
                "response": [f"seed {seed}: \\boxed{{{g}}}" for g in rows["gold"]],
                "n_tokens": [5] * 3,
                "finish_reason": ["stop"] * 3,
                "cumulative_logprob": [-1.0] * 3,
            }
        )
        samples.append(root / f"samples{seed}.parquet")
        tables.write(shard, samples[-1], tables.SAMPLES, {"stage": "sample"})
        judged = pl.DataFrame(
            {
                "problem_id": rows["problem_id"],
                "sample_index": [seed] * 3,
                "extracted": rows["gold"],
                "correct": right,
                "status": ["correct" if r else "wrong" for r in right],
                "detail": [""] * 3,
            }
        )
        verdicts.append(root / f"verdicts{seed}.parquet")
        tables.write(judged, verdicts[-1], tables.VERDICTS, {"stage": "verify"})
    student = root / "student"
    demo.train_model(student, steps=3, seed=0)
    return root / "train.parquet", samples, verdicts, student


def test_correct_examples_are_exactly_the_verified_samples(teacher_shards) -> None:
    table, samples, verdicts, _ = teacher_shards
    examples = distill.correct_examples(table, samples, verdicts)
    rows = tables.read_benchmark(table)
    assert examples["response"].to_list() == [
        f"seed 0: \\boxed{{{rows['gold'][0]}}}",
        f"seed 0: \\boxed{{{rows['gold'][2]}}}",
        f"seed 1: \\boxed{{{rows['gold'][2]}}}",
    ]
    assert examples["question"].to_list() == [rows["question"][0], rows["question"][2], rows["question"][2]]
    with pytest.raises(ValueError, match="2 sample shards but 1 verdict shards"):
        distill.correct_examples(table, samples, verdicts[:1])
    with pytest.raises(ValueError, match="do not match the samples"):
        distill.correct_examples(table, samples[:1], verdicts[1:])


def test_distill_fine_tunes_the_student_and_records_what_it_learnt_from(teacher_shards, tmp_path: Path) -> None:
    table, samples, verdicts, student = teacher_shards
    stats = distill.distill(student, table, samples, verdicts, tmp_path / "distilled", steps=2, seed=0, threads=1)
    saved = json.loads((tmp_path / "distilled" / "demo_training.json").read_text())
    assert saved == stats
    assert (saved["steps"], saved["total_steps"], saved["solutions"]) == (2, 5, "examples")
    assert saved["distilled_from"]["correct_samples"] == 3 and saved["distilled_from"]["problems"] == 2
    assert saved["distilled_from"]["verdicts"][0]["sha256"] == tables.sha256_file(verdicts[0])
    before = json.loads((student / "demo_training.json").read_text())["weights_sha256"]
    assert saved["weights_sha256"] != before


def test_distill_refuses_a_teacher_with_no_correct_sample(teacher_shards, tmp_path: Path) -> None:
    table, samples, verdicts, student = teacher_shards
    wrong = tmp_path / "wrong.parquet"
    tables.write(
        tables.read(verdicts[0], tables.VERDICTS).with_columns(pl.lit(False).alias("correct")),
        wrong,
        tables.VERDICTS,
        {},
    )
    with pytest.raises(ValueError, match="the teacher has no correct sample"):
        distill.distill(student, table, samples[:1], [wrong], tmp_path / "out", steps=1, seed=0)
    assert not (tmp_path / "out").exists()
