"""Size cluster runs from the config: GPUs per model, shards per job, time limits, GPU-hours.

Everything here is a pure function of a validated config (``config.validate``), so the
numbers printed by ``python -m rlvr_boundary plan`` before a run are the very numbers the
Snakemake rules request from SLURM during it. Site facts (partitions, account, GPU type)
are not here: they live in ``profiles/slurm``.

The model, and why (``cluster:`` in config.yaml holds every number):

- Memory. bf16 weights take ``2 * params_b`` GB. A model is split over the fewest GPUs
  (a power of two) on which its weight shard fills at most ``weight_fraction`` of the
  memory vLLM may use (``gpu_memory_gb * sampling.gpu_memory_utilization``); the rest is KV
  cache, which is what lets vLLM batch hundreds of 16k-token samples. A configured
  ``tensor_parallel_size`` is a floor, never lowered.
- Output length. Generated tokens per sample are not ``max_tokens``: most samples stop
  around ``typical_output_tokens``, and a ``truncated_fraction`` of them (base models
  looping) run to the cap. Mean = (1 - f) * min(typical, cap) + f * cap, where the cap is
  ``max_tokens`` or the model's context length if smaller.
- Speed. vLLM decoding with large batches is memory-bandwidth bound, so throughput per GPU
  falls roughly in proportion to model size: ``tokens_per_gpu_second`` is measured (or
  assumed) at ``reference_params_b`` and scaled by ``reference_params_b / params_b``; a job
  on ``tp`` GPUs is ``tp`` times as fast. Prompt (prefill) tokens are ignored: the n copies
  of one prompt share their prefix.
- Jobs. A sampling job (one shard) costs ``startup_minutes`` (engine start, weight load)
  plus its generation time; its SLURM time limit adds ``safety_factor`` to the generation
  time and grows with the retry attempt (attempt x limit), capped at ``max_job_hours``.
  The shard size of a (model, benchmark) is the benchmark's ``shard_size``, halved until
  one job fits in ``job_hours``; per-request seeds do not depend on the shard layout, so
  re-sharding never changes a sample.

A model without ``params_b`` cannot be sized: it keeps its configured tensor-parallel
size and shard size, and gets the longest time limit (``max_job_hours``), which is never
wrong, only slow to schedule; ``plan`` flags it.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from rlvr_boundary import config as rb_config
from rlvr_boundary import tables
from rlvr_boundary.config import (
    ConfigError,
    deep_merge,
    figure_pairs,
    sampling_for,
    validate,
)

_DTYPE_BYTES = {"auto": 2, "bfloat16": 2, "float16": 2, "float32": 4}


@dataclass(frozen=True)
class ModelSizing:
    """How one model is laid out on GPUs and how fast it generates."""

    model: str
    params_b: float | None
    tensor_parallel_size: int
    weights_gb_per_gpu: float | None
    kv_cache_gb_per_gpu: float | None
    tokens_per_second: float | None  # whole job (all its GPUs); None when unsized


def _cluster(config: dict[str, Any]) -> dict[str, Any]:
    return config["cluster"]


def model_sizing(config: dict[str, Any], model: str) -> ModelSizing:
    """Tensor-parallel size, memory per GPU and job throughput of ``model``."""
    spec, cluster = config["models"][model], _cluster(config)
    configured = spec.get("tensor_parallel_size", 1)
    params_b = spec.get("params_b")
    if params_b is None:
        return ModelSizing(model, None, configured, None, None, None)
    usable_gb = cluster["gpu_memory_gb"] * config["sampling"].get("gpu_memory_utilization", 0.9)
    weights_gb = params_b * _DTYPE_BYTES[config["sampling"].get("dtype", "auto")]
    tp = 1
    while weights_gb / tp > cluster["weight_fraction"] * usable_gb:
        tp *= 2
    tp = max(tp, configured)
    per_gpu_tps = cluster["tokens_per_gpu_second"] * cluster["reference_params_b"] / params_b
    return ModelSizing(model, params_b, tp, weights_gb / tp, usable_gb - weights_gb / tp, tp * per_gpu_tps)


def tensor_parallel_size(config: dict[str, Any], model: str) -> int:
    """GPUs per sampling job of ``model``: the engine's tensor_parallel_size and the job's gpu count."""
    return model_sizing(config, model).tensor_parallel_size


def problem_count(config: dict[str, Any], benchmark: str) -> int:
    """Problems in ``benchmark``: ``cluster.problems``, else the lines of its local jsonl."""
    known = _cluster(config)["problems"]
    if benchmark in known:
        return known[benchmark]
    local = config["benchmarks"][benchmark].get("local")
    if local is not None and Path(local["path"]).is_file():
        return count_lines(local["path"])
    raise ConfigError(
        f"cluster.problems.{benchmark}: number of problems unknown (no local file to count); add it"
    )


def count_lines(path: str | Path) -> int:
    """Non-empty lines of a jsonl file, gzipped or not (one problem each)."""
    with tables.open_text(path) as handle:
        return sum(1 for line in handle if line.strip())


def mean_output_tokens(config: dict[str, Any], model: str) -> float:
    """Expected generated tokens per sample of ``model`` (see the module docstring)."""
    cluster, sampling = _cluster(config), sampling_for(config, model)
    context = config["models"][model].get("max_model_len") or sampling.get("max_model_len")
    cap = min(sampling["max_tokens"], context) if context else sampling["max_tokens"]
    typical = min(config["models"][model].get("typical_output_tokens", cluster["typical_output_tokens"]), cap)
    return (1 - cluster["truncated_fraction"]) * typical + cluster["truncated_fraction"] * cap


def generation_minutes(config: dict[str, Any], model: str, benchmark: str, samples_per_problem: int) -> float | None:
    """Expected generation time of one job drawing ``samples_per_problem`` for every problem."""
    tps = model_sizing(config, model).tokens_per_second
    if tps is None:
        return None
    tokens = samples_per_problem * problem_count(config, benchmark) * mean_output_tokens(config, model)
    return tokens / tps / 60


def time_limit_minutes(config: dict[str, Any], model: str, benchmark: str, samples_per_problem: int,
                       attempt: int = 1) -> int:
    """SLURM time limit of a sampling job: (startup + safety x generation) x attempt, capped."""
    cluster = _cluster(config)
    cap = math.ceil(cluster["max_job_hours"] * 60)
    minutes = generation_minutes(config, model, benchmark, samples_per_problem)
    if minutes is None:
        return cap
    first = math.ceil(cluster["startup_minutes"] + cluster["safety_factor"] * minutes)
    return min(first * attempt, cap)


def shard_size(config: dict[str, Any], model: str, benchmark: str) -> int:
    """Samples per problem in one job: the benchmark's shard_size, halved until it fits job_hours.

    ``config.shards`` lays out the seed shards with this size, so the DAG, the time limits
    and the plan all see the same jobs.
    """
    size = config["benchmarks"][benchmark]["shard_size"]
    if model_sizing(config, model).params_b is None:
        return size
    budget = _cluster(config)["job_hours"] * 60
    while size > 1 and time_limit_minutes(config, model, benchmark, size) > budget:
        size //= 2
    return size


def sample_resources(config: dict[str, Any], model: str, benchmark: str, seed: int,
                     attempt: int = 1) -> dict[str, int]:
    """Snakemake resources of one sampling job: GPUs and time limit (minutes) for ``attempt``."""
    size = rb_config.shard(config, model, benchmark, seed).size
    return {
        "gpu": tensor_parallel_size(config, model),
        "runtime": time_limit_minutes(config, model, benchmark, size, attempt),
    }


def sample_rule_resources(config: dict[str, Any]) -> dict[str, Callable[..., int]]:
    """The sample rule's ``resources:`` (wildcards model, benchmark, seed), evaluated per job and attempt."""

    def gpu(wildcards: Any) -> int:
        return tensor_parallel_size(config, wildcards.model)

    def runtime(wildcards: Any, attempt: int) -> int:
        job = sample_resources(config, wildcards.model, wildcards.benchmark, int(wildcards.seed), attempt)
        return job["runtime"]

    return {"gpu": gpu, "runtime": runtime}


def verify_runtime_minutes(config: dict[str, Any], model: str, benchmark: str, seed: int, attempt: int = 1) -> int:
    """Time limit of a verify job. Math: an hour (10^5 answers take minutes). Code: every
    sample runs its tests in the sandbox, so samples x ``cluster.code_sample_seconds`` /
    ``verify.workers`` x safety, x attempt on retry, capped at ``max_job_hours``."""
    cluster = _cluster(config)
    if config["benchmarks"][benchmark].get("kind", "math") != "code":
        return 60 * attempt
    samples = rb_config.shard(config, model, benchmark, seed).size * problem_count(config, benchmark)
    seconds = samples * cluster["code_sample_seconds"] / config["verify"]["workers"]
    first = math.ceil(10 + cluster["safety_factor"] * seconds / 60)
    return min(first * attempt, math.ceil(cluster["max_job_hours"] * 60))


def verify_rule_resources(config: dict[str, Any]) -> dict[str, Callable[..., int]]:
    """The verify rule's ``resources:``: its time limit, per job and attempt."""

    def runtime(wildcards: Any, attempt: int) -> int:
        return verify_runtime_minutes(config, wildcards.model, wildcards.benchmark, int(wildcards.seed), attempt)

    return {"runtime": runtime}


def models_table(config: dict[str, Any], models: Sequence[str]) -> pl.DataFrame:
    """One row per model: GPUs, memory per GPU, throughput."""
    rows = [model_sizing(config, m) for m in models]
    return pl.DataFrame(
        {
            "model": [r.model for r in rows],
            "params_b": [r.params_b for r in rows],
            "gpus": [r.tensor_parallel_size for r in rows],
            "weights_gb_per_gpu": [r.weights_gb_per_gpu for r in rows],
            "kv_cache_gb_per_gpu": [r.kv_cache_gb_per_gpu for r in rows],
            "tokens_per_s": [r.tokens_per_second for r in rows],
            "mean_output_tokens": [mean_output_tokens(config, m) for m in models],
        },
        schema_overrides={"params_b": pl.Float64, "weights_gb_per_gpu": pl.Float64,
                          "kv_cache_gb_per_gpu": pl.Float64, "tokens_per_s": pl.Float64},
    )


def jobs_table(config: dict[str, Any], pairs: Sequence[tuple[str, str]]) -> pl.DataFrame:
    """One row per sampling job of the (model, benchmark) pairs: size, tokens, hours, GPU-hours."""
    startup = _cluster(config)["startup_minutes"]
    rows: list[dict[str, Any]] = []
    for model, benchmark in pairs:
        sizing, problems = model_sizing(config, model), problem_count(config, benchmark)
        tokens_per_sample = mean_output_tokens(config, model)
        for shard in rb_config.shards(config, model, benchmark):
            generation = generation_minutes(config, model, benchmark, shard.size)
            hours = None if generation is None else (startup + generation) / 60
            rows.append({
                "model": model, "benchmark": benchmark, "seed": shard.index,
                "problems": problems, "samples_per_problem": shard.size,
                "samples": shard.size * problems,
                "tokens": round(shard.size * problems * tokens_per_sample),
                "gpus": sizing.tensor_parallel_size,
                "hours": hours,
                "gpu_hours": None if hours is None else hours * sizing.tensor_parallel_size,
                "limit_hours": time_limit_minutes(config, model, benchmark, shard.size) / 60,
                "sized": sizing.params_b is not None,
            })
    return pl.DataFrame(rows, schema_overrides={"hours": pl.Float64, "gpu_hours": pl.Float64})


def _sum_or_null(column: str) -> pl.Expr:
    """A sum that stays unknown when any term is (polars would count nulls as 0)."""
    return pl.when(pl.col(column).is_null().any()).then(None).otherwise(pl.col(column).sum()).alias(column)


def pairs_table(jobs: pl.DataFrame) -> pl.DataFrame:
    """Jobs summed per (model, benchmark)."""
    return (
        jobs.group_by("model", "benchmark", maintain_order=True)
        .agg(
            pl.len().alias("jobs"),
            pl.col("samples_per_problem").max().alias("shard_size"),
            pl.col("samples_per_problem").sum().alias("n"),
            pl.col("problems").first(),
            pl.col("tokens").sum(),
            pl.col("gpus").first(),
            _sum_or_null("gpu_hours"),
            pl.col("hours").max().alias("longest_job_h"),
            pl.col("limit_hours").max().alias("time_limit_h"),
        )
    )


def figure_summary(config: dict[str, Any], figures: Sequence[str]) -> pl.DataFrame:
    """Per figure: sampling jobs, samples, generated tokens, GPU-hours (expected and as requested)."""
    budget_h = _cluster(config)["job_hours"]
    rows = []
    for figure in figures:
        jobs = jobs_table(config, figure_pairs(config, figure))
        rows.append({
            "figure": figure,
            "pairs": jobs.select("model", "benchmark").unique().height,
            "sampling_jobs": jobs.height,
            "samples": jobs["samples"].sum(),
            "tokens": jobs["tokens"].sum(),
            "gpu_hours": jobs.select(_sum_or_null("gpu_hours")).item(),
            "gpu_hours_limit": (jobs["limit_hours"] * jobs["gpus"]).sum(),
            "longest_job_h": jobs["hours"].max(),
            "jobs_over_job_hours": jobs.filter(pl.col("limit_hours") > budget_h).height,
            "unsized_jobs": jobs.filter(~pl.col("sized")).height,
        })
    return pl.DataFrame(rows, schema_overrides={"gpu_hours": pl.Float64, "longest_job_h": pl.Float64})


def format_plan(config: dict[str, Any], figures: Sequence[str]) -> str:
    """The plan as text: assumptions, models, per-pair jobs of each figure, and the totals."""
    cluster = _cluster(config)
    pairs = list(dict.fromkeys(p for f in figures for p in figure_pairs(config, f)))
    models = list(dict.fromkeys(m for m, _ in pairs))
    utilisation = config["sampling"].get("gpu_memory_utilization", 0.9)
    lines = [
        "Assumptions (config.yaml cluster:, sampling:):",
        (f"  GPU memory {cluster['gpu_memory_gb']} GB x utilisation {utilisation},"
         f" weights <= {cluster['weight_fraction']:.0%} of it per GPU"),
        (f"  {cluster['tokens_per_gpu_second']} generated tokens/s per GPU at {cluster['reference_params_b']}B,"
         f" scaled by size; startup {cluster['startup_minutes']} min per job"),
        (f"  output: typical {cluster['typical_output_tokens']} tokens (unless a model sets its own),"
         f" {cluster['truncated_fraction']:.0%}"
         f" run to max_tokens={config['sampling']['max_tokens']}"),
        (f"  one job <= {cluster['job_hours']} h (shards halved to fit); time limit = startup +"
         f" {cluster['safety_factor']} x generation, x attempt on retry, <= {cluster['max_job_hours']} h"),
        "",
    ]
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, float_precision=1, thousands_separator=True):
        lines += ["Models:", str(models_table(config, models)), ""]
        for figure in figures:
            lines += [f"Sampling jobs of {figure} per (model, benchmark):",
                      str(pairs_table(jobs_table(config, figure_pairs(config, figure)))), ""]
        summary = figure_summary(config, figures)
        lines += ["Per figure (tokens generated, GPU-hours expected / as requested from SLURM):",
                  str(summary.with_columns((pl.col("tokens") / 1e9).alias("tokens_billion")).drop("tokens"))]
    unsized = [m for m in models if model_sizing(config, m).params_b is None]
    if unsized:
        lines += ["", f"Unsized (no params_b; time limit = max_job_hours): {', '.join(unsized)}"]
    return "\n".join(lines)


def load_configs(paths: Sequence[str | Path]) -> dict[str, Any]:
    """config.yaml plus overlays, merged like Snakemake's --configfile list, then validated."""
    merged: dict[str, Any] = {}
    for path in paths:
        try:
            merged = deep_merge(merged, yaml.safe_load(Path(path).read_text()) or {})
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    return validate(merged, " + ".join(str(p) for p in paths))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rlvr_boundary plan``: print the plan before anything is submitted."""
    parser = argparse.ArgumentParser(prog="rlvr-boundary plan", description=main.__doc__)
    parser.add_argument("--config", action="append", metavar="YAML",
                        help="config.yaml, then overlays in order (repeat); default: config.yaml")
    parser.add_argument("--figure", action="append", metavar="NAME",
                        help="a figure of the config (repeat); default: all")
    args = parser.parse_args(argv)
    try:
        config = load_configs(args.config or ["config.yaml"])
        figures = args.figure or list(config["figures"])
        unknown = [f for f in figures if f not in config["figures"]]
        if unknown:
            raise ConfigError(f"figures: no figure {', '.join(unknown)} (have {', '.join(config['figures'])})")
        print(format_plan(config, figures))
    except ConfigError as exc:
        print(f"plan: {exc}", file=sys.stderr)
        return 2
    return 0
