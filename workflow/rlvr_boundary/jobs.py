"""The job model: seed shards, GPUs per model, time limits, what each job costs.

Everything here is a pure function of a validated config (``config.validate``), so the
numbers ``python -m rlvr_boundary plan`` prints before a run (``plan`` only prints them)
are the very jobs and resources the Snakemake rules request from SLURM during it. Site
facts (partitions, account, GPU type) are not here: they live in ``profiles/slurm``.

The model, and why (``cluster:`` in config.yaml holds every number):

- Memory. bf16 weights take ``2 * params_b`` GB. A model is split over the fewest GPUs
  (a power of two) on which its weight shard fills at most ``weight_fraction`` of the
  memory vLLM may use (``gpu_memory_gb * sampling.gpu_memory_utilization``); the rest is KV
  cache, which is what lets vLLM batch hundreds of 16k-token samples. A configured
  ``tensor_parallel_size`` is a floor, never lowered.
- Output length. Generated tokens per sample are not ``max_tokens``: most samples stop
  around ``typical_output_tokens``, and a ``truncated_fraction`` of them (base models
  looping) run to the cap. Mean = (1 - f) * min(typical, cap) + f * cap, where the cap is
  ``max_tokens`` or the model's context length if smaller. Once jobs have run,
  ``plan --calibrate`` measures the mean per (model, benchmark), which then wins.
- Speed. vLLM decoding with large batches is memory-bandwidth bound, so throughput per GPU
  falls roughly in proportion to model size: ``tokens_per_gpu_second`` is measured (or
  assumed) at ``reference_params_b`` and scaled by ``reference_params_b / params_b``; a job
  on ``tp`` GPUs is ``tp`` times as fast. Prompt (prefill) tokens are ignored: the n copies
  of one prompt share their prefix. Calibrated throughputs (``measured_tokens_per_gpu_second``,
  by size) replace the assumption, the nearest measured size scaling to the others.
- Subsets. A benchmark ``subset_of`` another draws no samples of its own for a model that
  is evaluated on the other too (``sample_source``): its shards are cut from the other's.
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

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlvr_boundary import tables
from rlvr_boundary.config import (
    ConfigError,
    grid_model,
    is_imported,
    n_samples,
    origin_benchmark,
    sampling_for,
    template_for,
)
from rlvr_boundary.layout import figure_pairs, panels
from rlvr_boundary.specs import Shard

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
    return ModelSizing(
        model,
        params_b,
        tp,
        weights_gb / tp,
        usable_gb - weights_gb / tp,
        tp * _per_gpu_tokens_per_second(cluster, params_b),
    )


def _per_gpu_tokens_per_second(cluster: dict[str, Any], params_b: float) -> float:
    """Measured throughput at the nearest calibrated size (``plan --calibrate``), else the
    assumed one at ``reference_params_b``, scaled by size in either case."""
    measured = {float(size): tps for size, tps in cluster.get("measured_tokens_per_gpu_second", {}).items()}
    if measured:
        size = min(measured, key=lambda s: abs(math.log(s / params_b)))
        return measured[size] * size / params_b
    return cluster["tokens_per_gpu_second"] * cluster["reference_params_b"] / params_b


def tensor_parallel_size(config: dict[str, Any], model: str) -> int:
    """GPUs per sampling job of ``model``: the engine's tensor_parallel_size and the job's gpu count."""
    return model_sizing(config, model).tensor_parallel_size


def problem_count(config: dict[str, Any], benchmark: str) -> int:
    """Problems in ``benchmark``: ``cluster.problems``, else the demo's generated count, else
    the lines of its local jsonl (the rows its ``keep`` rule keeps); a filtered benchmark's origin's (the filter's result is
    known only once it has run)."""
    benchmark = origin_benchmark(config, benchmark)
    known = _cluster(config)["problems"]
    if benchmark in known:
        return known[benchmark]
    generated = config.get("demo", {}).get("benchmarks", {}).get(benchmark)
    if generated is not None:
        return generated["problems"]
    spec = config["benchmarks"][benchmark]
    local = spec.get("local")
    if local is not None and Path(local["path"]).is_file():
        if "keep" in spec or local["path"].endswith(".json"):
            from rlvr_boundary.benchmarks import kept_rows  # only here: the planner stays light

            return len(kept_rows(tables.read_json_rows(local["path"]), spec.get("keep"), local["path"]))
        return count_lines(local["path"])
    raise ConfigError(f"cluster.problems.{benchmark}: number of problems unknown (no local file to count); add it")


def count_lines(path: str | Path) -> int:
    """Non-empty lines of a jsonl file, gzipped or not (one problem each)."""
    with tables.open_text(path) as handle:
        return sum(1 for line in handle if line.strip())


def mean_output_tokens(config: dict[str, Any], model: str, benchmark: str | None = None) -> float:
    """Expected generated tokens per sample of ``model``: measured on ``benchmark`` by
    ``plan --calibrate`` where it has run, else the module docstring's model."""
    cluster, sampling = _cluster(config), sampling_for(config, model)
    measured = cluster.get("measured_output_tokens", {}).get(model, {})
    if benchmark in measured:
        return measured[benchmark]
    context = config["models"][model].get("max_model_len") or sampling.get("max_model_len")
    cap = min(sampling["max_tokens"], context) if context else sampling["max_tokens"]
    typical = min(config["models"][model].get("typical_output_tokens", cluster["typical_output_tokens"]), cap)
    return (1 - cluster["truncated_fraction"]) * typical + cluster["truncated_fraction"] * cap


def generation_minutes(config: dict[str, Any], model: str, benchmark: str, samples_per_problem: int) -> float | None:
    """Expected generation time of one job drawing ``samples_per_problem`` for every problem."""
    tps = model_sizing(config, model).tokens_per_second
    if tps is None:
        return None
    tokens = samples_per_problem * problem_count(config, benchmark) * mean_output_tokens(config, model, benchmark)
    return tokens / tps / 60


def time_limit_minutes(
    config: dict[str, Any], model: str, benchmark: str, samples_per_problem: int, attempt: int = 1
) -> int:
    """SLURM time limit of a sampling job: (startup + safety x generation) x attempt, capped."""
    return _limit_minutes(config, generation_minutes(config, model, benchmark, samples_per_problem), attempt)


def _limit_minutes(config: dict[str, Any], minutes: float | None, attempt: int) -> int:
    """A GPU job's time limit from its expected work: (startup + safety x work) x attempt,
    capped at ``max_job_hours``; the cap when the work cannot be sized."""
    cluster = _cluster(config)
    cap = math.ceil(cluster["max_job_hours"] * 60)
    if minutes is None:
        return cap
    return min(math.ceil(cluster["startup_minutes"] + cluster["safety_factor"] * minutes) * attempt, cap)


def shard_size(config: dict[str, Any], model: str, benchmark: str) -> int:
    """Samples per problem in one job: the benchmark's shard_size, halved until it fits job_hours.

    ``shards`` lays out the seed shards with this size, so the DAG, the time limits and the
    plan all see the same jobs.
    """
    benchmark = origin_benchmark(config, benchmark)  # a filtered benchmark's samples are its origin's
    size = config["benchmarks"][benchmark]["shard_size"]
    if model_sizing(config, model).params_b is None:
        return size
    budget = _cluster(config)["job_hours"] * 60
    while size > 1 and time_limit_minutes(config, model, benchmark, size) > budget:
        size //= 2
    return size


def shards(config: dict[str, Any], model: str, benchmark: str) -> list[Shard]:
    """Seed shards covering n samples; raising n appends shards and leaves old ones intact.

    Samples do not depend on the layout (per-request seeds), so a re-sized layout redraws
    identical samples under new file names.
    """
    n = n_samples(config, model, benchmark)
    size = shard_size(config, model, benchmark)
    return [Shard(i, start, min(size, n - start)) for i, start in enumerate(range(0, n, size))]


def shard(config: dict[str, Any], model: str, benchmark: str, index: int) -> Shard:
    """Seed shard ``index`` of a (model, benchmark); a ConfigError when there is none."""
    table = shards(config, model, benchmark)
    if not 0 <= index < len(table):
        raise ConfigError(f"{model}/{benchmark}: no seed shard {index} (there are {len(table)})")
    return table[index]


def evaluated_pairs(config: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (model, benchmark) that a figure or table of the config evaluates."""
    found = {pair for figure in config["figures"] for pair in figure_pairs(config, figure)}
    for table in config.get("tables", {}).values():
        on = table["benchmarks"] if table["kind"] == "boundary" else [table["benchmark"]]
        found |= {(model, bench) for model in table["models"] for bench in on}
    return found


def sample_source(config: dict[str, Any], model: str, benchmark: str) -> str:
    """The benchmark whose sampling jobs draw ``model``'s samples on ``benchmark``.

    A sample depends only on (seed, problem id, sample index, prompt, model, sampling), so
    a benchmark declared ``subset_of`` another takes its samples from the other's shards
    whenever the model is evaluated on that one too (LiveCodeBench's paper window inside
    release_v5): those problems are never sampled twice. Otherwise it samples on its own.
    """
    if "filter_of" in config["benchmarks"][benchmark]:
        return origin_benchmark(config, benchmark)  # a filtered benchmark's samples are its origin's
    superset = config["benchmarks"][benchmark].get("subset_of")
    if superset is None or is_imported(config, model) or (model, superset) not in evaluated_pairs(config):
        return benchmark
    where = f"benchmarks.{benchmark}.subset_of: {model}"
    if template_for(config, model, benchmark) != template_for(config, model, superset):
        raise ConfigError(f"{where} is prompted differently on {benchmark!r} and {superset!r}; drop subset_of")
    if n_samples(config, model, benchmark) > n_samples(config, model, superset):
        raise ConfigError(
            f"{where} needs n = {n_samples(config, model, benchmark)} on {benchmark!r} but draws only"
            f" {n_samples(config, model, superset)} on {superset!r}; raise that n"
        )
    return superset


def source_shards(config: dict[str, Any], model: str, benchmark: str, index: int) -> list[Shard]:
    """The shards of ``sample_source`` holding samples of seed shard ``index`` of (model, benchmark)."""
    wanted = shard(config, model, benchmark, index)
    return [
        s
        for s in shards(config, model, sample_source(config, model, benchmark))
        if s.start < wanted.start + wanted.size and wanted.start < s.start + s.size
    ]


def sample_resources(config: dict[str, Any], model: str, benchmark: str, seed: int, attempt: int = 1) -> dict[str, int]:
    """Snakemake resources of one sampling job: GPUs and time limit (minutes) for ``attempt``."""
    size = shard(config, model, benchmark, seed).size
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
    samples = shard(config, model, benchmark, seed).size * problem_count(config, benchmark)
    seconds = samples * cluster["code_sample_seconds"] / config["verify"]["workers"]
    first = math.ceil(10 + cluster["safety_factor"] * seconds / 60)
    return min(first * attempt, math.ceil(cluster["max_job_hours"] * 60))


def verify_rule_resources(config: dict[str, Any]) -> dict[str, Callable[..., int]]:
    """The verify rule's ``resources:``: its time limit, per job and attempt."""

    def runtime(wildcards: Any, attempt: int) -> int:
        return verify_runtime_minutes(config, wildcards.model, wildcards.benchmark, int(wildcards.seed), attempt)

    return {"runtime": runtime}


def figure_sample_pairs(config: dict[str, Any], figure: str) -> list[tuple[str, str, int | None]]:
    """(model, benchmark, first shards) of every sampling a figure needs; None = all shards.

    A filtered benchmark needs its origin's samples and the answer-only model's; an entropy
    figure probes the first shard of each grid temperature and then draws one full run per
    panel at the temperature chosen, which is known only after the probes: it is planned as
    the highest grid temperature's run (the longest outputs); a perplexity figure scores the
    first shard of its two models.
    """
    spec, needed = config["figures"][figure], {}

    def need(model: str, benchmark: str, first: int | None) -> None:
        have = needed.get((model, benchmark), 0)
        needed[(model, benchmark)] = None if first is None or have is None else max(have, first)

    for model, benchmark in figure_pairs(config, figure):
        origin = origin_benchmark(config, benchmark)
        need(model, origin, 1 if spec["kind"] == "perplexity" else None)
        if origin != benchmark:
            need(config["benchmarks"][benchmark]["guessing"]["model"], origin, None)
    if spec["kind"] == "entropy":
        for panel in panels(config, figure):
            probed = panel.models[1]
            for temperature in spec["temperatures"]:
                need(grid_model(config, probed, temperature), panel.benchmark, 1)
            need(grid_model(config, probed, max(spec["temperatures"])), panel.benchmark, None)
    return [(model, benchmark, first) for (model, benchmark), first in needed.items()]


def score_minutes(config: dict[str, Any], scorer: str, responses: int, benchmark: str) -> float | None:
    """Expected time of a scoring job: one prefill pass over ``responses`` responses of the
    benchmark's typical length, ``scoring_speedup`` times faster than generating them."""
    tps = model_sizing(config, scorer).tokens_per_second
    if tps is None:
        return None
    tokens = responses * mean_output_tokens(config, scorer, benchmark)
    return tokens / (tps * _cluster(config)["scoring_speedup"]) / 60


def score_time_limit_minutes(
    config: dict[str, Any], scorer: str, responses: int, benchmark: str, attempt: int = 1
) -> int:
    """SLURM time limit of a scoring job, as for sampling."""
    return _limit_minutes(config, score_minutes(config, scorer, responses, benchmark), attempt)


def responses_source(config: dict[str, Any], responses: str) -> tuple[str, str | None, int | None]:
    """(benchmark, model, seed) of a score target's ``{responses}``: a shard of samples
    (``samples/{model}/{benchmark}/seed{S}``), or a perplexity figure's reference file
    (``references/{figure}``: its benchmark, no model or seed)."""
    parts = responses.split("/")
    if parts[0] == "samples" and len(parts) == 4 and parts[3].removeprefix("seed").isdigit():
        return parts[2], parts[1], int(parts[3].removeprefix("seed"))
    if parts[0] == "references" and len(parts) == 2 and parts[1] in config["figures"]:
        return config["figures"][parts[1]]["rows"][0], None, None
    raise ConfigError(f"scores: {responses!r} is neither samples/<model>/<benchmark>/seed<S> nor references/<figure>")


def scored_responses(config: dict[str, Any], responses: str) -> tuple[str, int]:
    """(benchmark, number of responses) of a score target, for sizing: a shard's samples, or
    ``responses`` per figure problem for a reference file."""
    benchmark, model, seed = responses_source(config, responses)
    if model is None or seed is None:
        figure = config["figures"][responses.split("/")[1]]
        return benchmark, figure["responses"] * len(figure["problems"])
    return benchmark, shard(config, model, benchmark, seed).size * problem_count(config, benchmark)


def score_rule_resources(config: dict[str, Any]) -> dict[str, Callable[..., int]]:
    """The score rule's ``resources:`` (wildcards scorer, responses): the scorer's GPUs and time limit."""

    def gpu(wildcards: Any) -> int:
        return tensor_parallel_size(config, wildcards.scorer)

    def runtime(wildcards: Any, attempt: int) -> int:
        benchmark, responses = scored_responses(config, wildcards.responses)
        return score_time_limit_minutes(config, wildcards.scorer, responses, benchmark, attempt)

    return {"gpu": gpu, "runtime": runtime}
