"""Cluster sizing from the config: GPUs per model, shard sizes, time limits, the plan."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from conftest import PROJECT, shared_data
from rlvr_boundary import config as rb_config
from rlvr_boundary import jobs, layout, plan


@pytest.fixture(scope="module")
def paper() -> dict[str, Any]:
    return rb_config.load(PROJECT / "config.yaml")


def with_cluster(config: dict[str, Any], **cluster: Any) -> dict[str, Any]:
    changed = copy.deepcopy(config)
    changed["cluster"].update(cluster)
    return changed


def test_gpus_per_model_size_on_80_and_40_gb_cards(paper: dict[str, Any]) -> None:
    """7B/8B/14B fit one 80 GB card with room for KV cache; 32B needs two (as configured)."""
    assert {
        m: jobs.tensor_parallel_size(paper, m) for m in ("qwen2.5-7b", "llama-3.1-8b", "qwen2.5-14b", "qwen2.5-32b")
    } == {"qwen2.5-7b": 1, "llama-3.1-8b": 1, "qwen2.5-14b": 1, "qwen2.5-32b": 2}
    small = with_cluster(paper, gpu_memory_gb=40)
    assert [jobs.tensor_parallel_size(small, m) for m in ("qwen2.5-7b", "qwen2.5-14b", "qwen2.5-32b")] == [1, 2, 4]
    sizing = jobs.model_sizing(paper, "qwen2.5-32b")
    assert sizing.weights_gb_per_gpu == 32 and sizing.kv_cache_gb_per_gpu == pytest.approx(80 * 0.9 - 32)


def test_configured_tensor_parallel_size_is_a_floor(paper: dict[str, Any]) -> None:
    config = copy.deepcopy(paper)
    config["models"]["qwen2.5-7b"]["tensor_parallel_size"] = 4
    assert jobs.tensor_parallel_size(config, "qwen2.5-7b") == 4
    assert jobs.model_sizing(config, "qwen2.5-7b").tokens_per_second == 4 * 5000


def test_mean_output_tokens_is_capped_by_the_models_context(paper: dict[str, Any]) -> None:
    assert jobs.mean_output_tokens(paper, "qwen2.5-7b") == pytest.approx(0.995 * 600 + 0.005 * 16384)
    # Qwen2.5-Math-7B has a 4096-token context (max_model_len in config.yaml)
    assert jobs.mean_output_tokens(paper, "qwen2.5-math-7b") == pytest.approx(0.995 * 600 + 0.005 * 4096)


def test_configured_problem_counts_match_the_local_files(paper: dict[str, Any]) -> None:
    local = {b: spec["local"]["path"] for b, spec in paper["benchmarks"].items() if "local" in spec}
    assert set(local) == set(paper["cluster"]["problems"]) - {"livecodebench", "livecodebench_full", "mathvista"}
    for benchmark, path in local.items():
        shared_data(*Path(path).parts[3:])  # skips when the data is absent
        counted = {**paper, "cluster": {**paper["cluster"], "problems": {}}}  # counted from the file
        assert jobs.problem_count(counted, benchmark) == paper["cluster"]["problems"][benchmark], benchmark


def test_unknown_problem_count_names_the_key(paper: dict[str, Any], tmp_path: Path) -> None:
    config = copy.deepcopy(paper)
    config["benchmarks"]["new"] = {**config["benchmarks"]["gsm8k"], "local": {"path": str(tmp_path / "no.jsonl")}}
    with pytest.raises(rb_config.ConfigError, match=r"cluster\.problems\.new"):
        jobs.problem_count(config, "new")
    (tmp_path / "no.jsonl").write_text('{"a": 1}\n{"a": 2}\n\n')
    assert jobs.problem_count(config, "new") == 2


def test_shards_are_halved_until_one_job_fits_the_wall_time(paper: dict[str, Any]) -> None:
    budget = paper["cluster"]["job_hours"] * 60
    for model in paper["models"]:
        for benchmark in paper["benchmarks"]:
            size = jobs.shard_size(paper, model, benchmark)
            configured = paper["benchmarks"][benchmark]["shard_size"]
            assert configured % size == 0
            assert jobs.time_limit_minutes(paper, model, benchmark, size) <= budget
            if size < configured:  # the next larger shard would not have fitted
                assert jobs.time_limit_minutes(paper, model, benchmark, 2 * size) > budget


def test_the_dag_lays_out_shards_of_the_fitted_size(paper: dict[str, Any]) -> None:
    """jobs.shards (the DAG's seed shards) uses jobs.shard_size: jobs, limits and plan agree."""
    for model, benchmark in layout.figure_pairs(paper, "fig2"):
        size = jobs.shard_size(paper, model, benchmark)
        assert {s.size for s in jobs.shards(paper, model, benchmark)[:-1]} <= {size}


def test_small_jobs_keep_the_configured_shard_size(paper: dict[str, Any]) -> None:
    assert jobs.shard_size(paper, "qwen2.5-7b", "aime24") == 128
    assert jobs.shard_size(paper, "qwen2.5-32b", "olympiadbench") == 64  # halved to fit job_hours


def test_time_limit_grows_with_the_attempt_up_to_the_cap(paper: dict[str, Any]) -> None:
    first = jobs.sample_resources(paper, "qwen2.5-32b", "aime24", 0)
    # 128 samples x 30 problems x 678.9 tokens at 2187.5 tokens/s, x 1.5, + 10 min startup
    expected = 10 + 1.5 * 128 * 30 * (0.995 * 600 + 0.005 * 16384) / (2 * 5000 * 7 / 32) / 60
    assert first == {"gpu": 2, "runtime": math.ceil(expected)}
    second = jobs.sample_resources(paper, "qwen2.5-32b", "aime24", 0, attempt=2)
    assert second["runtime"] == 2 * first["runtime"]
    assert jobs.sample_resources(paper, "qwen2.5-32b", "aime24", 0, attempt=99)["runtime"] == 24 * 60
    with pytest.raises(rb_config.ConfigError, match="no seed shard 99"):
        jobs.sample_resources(paper, "qwen2.5-32b", "aime24", 99)


def test_the_last_shard_gets_its_own_smaller_time_limit(paper: dict[str, Any]) -> None:
    config = copy.deepcopy(paper)
    config["models"]["qwen2.5-7b"]["n"] = {"aime24": 130}  # shards of 128 and 2
    limits = [jobs.sample_resources(config, "qwen2.5-7b", "aime24", s)["runtime"] for s in (0, 1)]
    assert limits[1] < limits[0]


def test_rule_resources_are_callables_of_wildcards_and_attempt(paper: dict[str, Any]) -> None:
    resources = jobs.sample_rule_resources(paper)
    wildcards = SimpleNamespace(model="qwen2.5-14b", benchmark="olympiadbench", seed="0")
    assert resources["gpu"](wildcards) == 1
    expected = jobs.sample_resources(paper, "qwen2.5-14b", "olympiadbench", 0, attempt=2)["runtime"]
    assert resources["runtime"](wildcards, 2) == expected


def test_a_model_without_size_gets_the_longest_limit_and_is_flagged(paper: dict[str, Any]) -> None:
    config = copy.deepcopy(paper)
    del config["models"]["qwen2.5-7b"]["params_b"]
    assert jobs.sample_resources(config, "qwen2.5-7b", "aime24", 0) == {"gpu": 1, "runtime": 24 * 60}
    assert jobs.shard_size(config, "qwen2.5-7b", "olympiadbench") == 128
    text = plan.format_plan(config, ["fig2"])
    assert "Unsized (no params_b; time limit = max_job_hours): qwen2.5-7b" in text


def test_figure_2_plan(paper: dict[str, Any]) -> None:
    """The numbers the README quotes: 130 jobs, 2.94 M samples, 2.0 G tokens, ~221 GPU-h."""
    summary = plan.figure_summary(paper, ["fig2"]).row(0, named=True)
    samples = 6 * (30 * 1024 + (500 + 272 + 675) * 128) + 2 * (30 * 1024 + (500 + 272) * 128 + 675 * 1024)
    assert summary["pairs"] == 32 and summary["sampling_jobs"] == 130 and summary["samples"] == samples
    assert summary["tokens"] == pytest.approx(samples * (0.995 * 600 + 0.005 * 16384), rel=1e-6)
    assert 200 < summary["gpu_hours"] < summary["gpu_hours_limit"] < 350
    assert summary["longest_job_h"] <= paper["cluster"]["job_hours"]
    assert summary["jobs_over_job_hours"] == 0 and summary["unsized_jobs"] == 0


def test_plan_command_prints_every_figure_or_names_a_missing_one(capsys: pytest.CaptureFixture[str]) -> None:
    config = str(PROJECT / "config.yaml")
    assert plan.main(["--config", config, "--figure", "fig2"]) == 0
    out = capsys.readouterr().out
    assert "Sampling jobs of fig2" in out and "simplerl-zoo-llama-3.1-8b" in out and "fig9" not in out
    assert plan.main(["--config", config, "--figure", "fig99"]) == 2
    assert "no figure fig99" in capsys.readouterr().err


def test_plan_reads_overlays_like_snakemake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"cluster": {"gpu_memory_gb": 40}}))
    config = rb_config.load_many([PROJECT / "config.yaml", overlay])
    assert config["cluster"]["gpu_memory_gb"] == 40 and config["cluster"]["job_hours"] == 8
    assert plan.main(["--config", str(PROJECT / "config.yaml"), "--config", str(overlay), "--figure", "fig10"]) == 0
    assert "Sampling jobs of fig10" in capsys.readouterr().out


def test_older_configs_without_cluster_section_still_validate() -> None:
    raw = yaml.safe_load((PROJECT / "config.yaml").read_text())
    raw.pop("cluster")
    raw.pop("model_cache")
    config = rb_config.validate(raw)
    assert config["model_cache"] is None and config["cluster"]["max_job_hours"] == 24
    with pytest.raises(rb_config.ConfigError, match="cluster"):
        rb_config.validate({**yaml.safe_load((PROJECT / "config.yaml").read_text()), "cluster": {"gpus": 3}})


def test_code_verify_jobs_get_time_for_their_sandbox_runs(paper: dict[str, Any]) -> None:
    # HumanEval+: one shard of 128 samples x 164 problems, 2 s each on 2 workers, x 1.5, + 10 min.
    samples = 128 * 164
    assert jobs.verify_runtime_minutes(paper, "coder1-zero-qwen2.5-7b", "humanevalplus", 0) == 10 + math.ceil(
        1.5 * samples * 2 / 2 / 60
    )
    assert jobs.verify_runtime_minutes(paper, "coder1-zero-qwen2.5-7b", "humanevalplus", 0, attempt=3) == 24 * 60
    more = copy.deepcopy(paper)
    more["verify"]["workers"] = 32
    assert jobs.verify_runtime_minutes(more, "coder1-zero-qwen2.5-7b", "humanevalplus", 0) == 10 + math.ceil(
        1.5 * samples * 2 / 32 / 60
    )
    assert jobs.verify_runtime_minutes(paper, "qwen2.5-7b", "math500", 0, attempt=2) == 120
