"""What the Snakemake rules ask of the config: each job's spec and its inputs' paths.

The rules stay thin: every input function and ``params`` value is one call here, with the
config and the job's wildcards, so the DAG's logic is testable without Snakemake and the
file layout (``results/{stage}/{grader}/{model}/{benchmark}/...``) is written in one place.
"""

from __future__ import annotations

from typing import Any

from rlvr_boundary import hub, jobs
from rlvr_boundary.config import (
    MATH_GRADERS,
    ConfigError,
    grader_for,
    n_samples,
    sampling_for,
    source_kind,
    template_for,
)
from rlvr_boundary.layout import Curve, panels
from rlvr_boundary.specs import (
    CountSpec,
    DisagreementSpec,
    FigureSpec,
    PrepareSpec,
    SampleSpec,
    SolvableSpec,
    VerifySpec,
)

SAMPLING_MODEL_KEYS = ("hf_id", "revision", "path", "tensor_parallel_size", "max_model_len")
"""Model keys that change what is sampled (labels and roles only change plots; the prompt
template and max_tokens travel in the sample spec, resolved per benchmark)."""
PREPARE_BENCHMARK_KEYS = ("kind", "local", "hf", "url", "fields", "gold", "format", "window")
"""Benchmark keys that change the prepared table (n, shard_size, template only change sampling)."""


def benchmark_table(benchmark: str) -> str:
    return f"data/benchmarks/{benchmark}.parquet"


def samples_path(model: str, benchmark: str, seed: int) -> str:
    return f"results/samples/{model}/{benchmark}/seed{seed}.parquet"


def verdicts_path(grader: str, model: str, benchmark: str, seed: int) -> str:
    return f"results/verdicts/{grader}/{model}/{benchmark}/seed{seed}.parquet"


def counts_path(grader: str, model: str, benchmark: str) -> str:
    return f"results/counts/{grader}/{model}/{benchmark}.parquet"


def passk_path(grader: str, model: str, benchmark: str) -> str:
    return f"results/passk/{grader}/{model}/{benchmark}.parquet"


def disagreements_path(model: str, benchmark: str) -> str:
    return f"results/grader_disagreements/{model}/{benchmark}.parquet"


def check_grader(config: dict[str, Any], grader: str, benchmark: str) -> None:
    """A ConfigError unless ``grader`` can judge ``benchmark`` (code: only its tests, ``ours``)."""
    if config["benchmarks"][benchmark]["kind"] == "code" and grader != "ours":
        raise ConfigError(
            f"benchmarks.{benchmark}: a code benchmark is judged by its tests (grader 'ours'); "
            f"there are no {grader!r} verdicts"
        )
    if grader not in MATH_GRADERS:
        raise ConfigError(f"grader {grader!r}: not one of {', '.join(MATH_GRADERS)}")


def benchmark_source(config: dict[str, Any], benchmark: str) -> list[str]:
    """The local benchmark file, so a rule that makes it (the demo) runs first."""
    if source_kind(config, benchmark) == "local":
        return [config["benchmarks"][benchmark]["local"]["path"]]
    return []


def prepare_spec(config: dict[str, Any], benchmark: str) -> PrepareSpec:
    spec = config["benchmarks"][benchmark]
    return PrepareSpec(
        benchmark, {k: spec[k] for k in PREPARE_BENCHMARK_KEYS if k in spec}, source_kind(config, benchmark)
    )


def model_weights(config: dict[str, Any], model: str) -> list[str]:
    """The folder the engine loads: a local model (the demo builds it) or the cached download."""
    spec = config["models"][model]
    if "path" in spec:
        return [spec["path"]]
    cached = hub.published_dir(config, model)
    return [cached] if cached else []


def engine_model(config: dict[str, Any], model: str) -> dict[str, Any]:
    """The sampled model's spec: where its weights load from and its GPU layout."""
    spec = {k: config["models"][model][k] for k in SAMPLING_MODEL_KEYS if k in config["models"][model]}
    spec["tensor_parallel_size"] = jobs.tensor_parallel_size(config, model)
    cached = hub.published_dir(config, model)
    if cached:
        spec["path"] = cached  # downloaded once by download_model; jobs run with the hub offline
    return spec


def sample_spec(config: dict[str, Any], model: str, benchmark: str, seed: int) -> SampleSpec:
    return SampleSpec(
        model_name=model,
        model=engine_model(config, model),
        benchmark=benchmark,
        template=template_for(config, model, benchmark),
        shard=jobs.shard(config, model, benchmark, seed),
        sampling=sampling_for(config, model),
    )


def sample_shards(config: dict[str, Any], model: str, benchmark: str) -> list[str]:
    return [samples_path(model, benchmark, s.index) for s in jobs.shards(config, model, benchmark)]


def verdict_shards(config: dict[str, Any], grader: str, model: str, benchmark: str) -> list[str]:
    check_grader(config, grader, benchmark)
    return [verdicts_path(grader, model, benchmark, s.index) for s in jobs.shards(config, model, benchmark)]


def verify_spec(config: dict[str, Any], grader: str, model: str, benchmark: str) -> VerifySpec:
    """What judging one (model, benchmark) depends on: the grader settings of its kind."""
    check_grader(config, grader, benchmark)
    if config["benchmarks"][benchmark]["kind"] == "code":
        return VerifySpec(
            benchmark,
            grader,
            template=template_for(config, model, benchmark),
            code_timeout_s=config["verify"]["code_timeout_s"],
        )
    return VerifySpec(benchmark, grader, timeout_s=config["verify"]["timeout_s"])


def count_spec(config: dict[str, Any], model: str, benchmark: str) -> CountSpec:
    return CountSpec(benchmark, n_samples(config, model, benchmark))


def disagreement_spec(benchmark: str) -> DisagreementSpec:
    return DisagreementSpec(benchmark, MATH_GRADERS)


def figure_curves(config: dict[str, Any], figure: str, *, all_graders: bool = False) -> list[Curve]:
    """The curves a figure plots, in panel order: each pair under the configured grader, or
    (the grader figure) under every math grader."""
    curves: dict[Curve, None] = {}
    for panel in panels(config, figure):
        if all_graders and config["benchmarks"][panel.benchmark]["kind"] == "code":
            raise ConfigError(
                f"figures.{figure}: {panel.benchmark} is a code benchmark; graders are compared on math only"
            )
        graders = MATH_GRADERS if all_graders else (grader_for(config, panel.benchmark),)
        for grader in graders:
            for model in panel.models:
                curves[Curve(grader, model, panel.benchmark)] = None
    return list(curves)


def figure_passk(config: dict[str, Any], figure: str, *, all_graders: bool = False) -> list[str]:
    """The figure's pass@k files, in the order of its spec's curves."""
    return [passk_path(c.grader, c.model, c.benchmark) for c in figure_curves(config, figure, all_graders=all_graders)]


def figure_disagreements(config: dict[str, Any], figure: str) -> list[str]:
    """The grader figure's companions: per (model, benchmark), the samples the graders disagree on."""
    pairs = dict.fromkeys((c.model, c.benchmark) for c in figure_curves(config, figure, all_graders=True))
    return [disagreements_path(model, benchmark) for model, benchmark in pairs]


def figure_spec(config: dict[str, Any], figure: str, *, all_graders: bool = False) -> FigureSpec:
    grid = panels(config, figure)
    used = {m for p in grid for m in p.models}
    return FigureSpec(
        title=config["figures"][figure]["title"],
        panels=tuple(grid),
        curves=tuple(figure_curves(config, figure, all_graders=all_graders)),
        models={m: {"label": config["models"][m]["label"], "role": config["models"][m]["role"]} for m in sorted(used)},
        note=config["figures"][figure].get("note"),
    )


def table_counts(config: dict[str, Any], table: str) -> list[str]:
    spec = config["tables"][table]
    grader = grader_for(config, spec["benchmark"])
    return [counts_path(grader, m, spec["benchmark"]) for m in spec["models"]]


def table_spec(config: dict[str, Any], table: str) -> SolvableSpec:
    spec = config["tables"][table]
    indices = spec.get("indices")
    return SolvableSpec(
        title=spec["title"],
        benchmark=spec["benchmark"],
        models=tuple(spec["models"]),
        labels={m: config["models"][m]["label"] for m in spec["models"]},
        indices=None if indices is None else tuple(indices),
    )


def demo_model_init(config: dict[str, Any], model: str) -> list[str]:
    """The demo model a continued demo model starts from."""
    parent = config["demo"]["models"][model].get("init_from")
    return [f"data/demo/models/{parent}"] if parent else []
