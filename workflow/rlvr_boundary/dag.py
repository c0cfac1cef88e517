"""What the Snakemake rules ask of the config: each job's spec and its inputs' paths.

The rules stay thin: every input function and ``params`` value is one call here, with the
config and the job's wildcards, so the DAG's logic is testable without Snakemake and the
file layout (``results/{stage}/{grader}/{model}/{benchmark}/...``) is written in one place.
"""

from __future__ import annotations

import csv
import glob
import re
from typing import Any

from rlvr_boundary import hub, jobs
from rlvr_boundary.config import (
    MATH_GRADERS,
    ConfigError,
    grader_for,
    grid_model,
    is_imported,
    lab_run_paths,
    n_samples,
    sampling_for,
    source_kind,
    template_for,
)
from rlvr_boundary.layout import Curve, Panel, panel_pairs, panels, unreleased_models
from rlvr_boundary.specs import (
    Bootstrap,
    BoundaryTableSpec,
    Box,
    Comparison,
    CountSpec,
    CurveSpec,
    DisagreementSpec,
    EntropyMatchSpec,
    FigureSpec,
    GuessFilterSpec,
    ImportSpec,
    LuckySpec,
    PerplexityFigureSpec,
    PrepareSpec,
    Probe,
    ReferenceSpec,
    RLSpec,
    SampleSpec,
    ScoreSpec,
    ShardCurveSpec,
    SolvableSpec,
    StatsSpec,
    SubsetSpec,
    TrainingFigureSpec,
    VerifySpec,
)
from rlvr_boundary.tables import config_hash

SAMPLING_MODEL_KEYS = ("hf_id", "revision", "path", "tensor_parallel_size", "max_model_len", "backend", "image_pixels")
"""Model keys that change what is sampled (labels and roles only change plots; the prompt
template and max_tokens travel in the sample spec, resolved per benchmark)."""
PREPARE_BENCHMARK_KEYS = ("kind", "local", "hf", "url", "fields", "gold", "format", "window", "keep")
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


def disagreements_path(grader: str, model: str, benchmark: str) -> str:
    """Samples ``grader`` judges differently from the reference grader (``MATH_GRADERS[0]``)."""
    return f"results/grader_disagreements/{grader}/{model}/{benchmark}.parquet"


def shard_passk_path(grader: str, model: str, benchmark: str) -> str:
    return f"results/passk_by_shard/{grader}/{model}/{benchmark}.parquet"


def pair_stem(grader: str, benchmark: str, model_a: str, model_b: str) -> str:
    return f"pairs/{grader}/{benchmark}/{model_a}/{model_b}"


def stats_paths(name: str) -> dict[str, str]:
    """The statistics stage's outputs, by role, for a figure or a ``pair_stem``."""
    stem = f"results/stats/{name}"
    return {
        "stats": f"{stem}.csv",
        "differences": f"{stem}.differences.csv",
        "solvable": f"{stem}.solvable.csv",
        "provenance": f"{stem}.provenance.json",
    }


def lucky_path(grader: str, benchmark: str, model_a: str, model_b: str) -> str:
    return f"results/lucky/{grader}/{benchmark}/{model_a}/{model_b}.html"


def entropy_path(model: str, benchmark: str, seed: int) -> str:
    return f"results/entropy/{model}/{benchmark}/seed{seed}.parquet"


def responses_of_samples(model: str, benchmark: str, seed: int) -> str:
    """The ``{responses}`` of a score target for a shard of samples (``results/{responses}.parquet``)."""
    return f"samples/{model}/{benchmark}/seed{seed}"


def responses_of_reference(figure: str) -> str:
    """The ``{responses}`` of a score target for a perplexity figure's Y_GT file."""
    return f"references/{figure}"


def scores_path(scorer: str, responses: str) -> str:
    return f"results/scores/{scorer}/{responses}.parquet"


def guess_filter_path(grader: str, benchmark: str) -> str:
    return f"results/filters/{grader}/{benchmark}.parquet"


def figures_of_kind(config: dict[str, Any], kind: str) -> list[str]:
    """The configured figures of one kind (``passk``, ``histogram``, ``entropy``, ``perplexity``)."""
    return [name for name, spec in config["figures"].items() if spec["kind"] == kind]


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
    """The folder the engine loads: a local model (the demo builds it) or the cached download;
    for a lab RL checkpoint, its run's training log (written after every checkpoint)."""
    spec = config["models"][model]
    run = spec.get("checkpoint_of")
    if run in config.get("demo", {}).get("rl", {}):
        return [lab_run_paths(run, [])[1]]
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


def imported_models(config: dict[str, Any]) -> list[str]:
    return [m for m in config["models"] if is_imported(config, m)]


def sampled_models(config: dict[str, Any]) -> list[str]:
    return [m for m in config["models"] if not is_imported(config, m)]


def _natural(path: str) -> list[Any]:
    """Sort key: ``seed2`` before ``seed10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def import_sources(config: dict[str, Any], model: str, benchmark: str) -> list[str]:
    """The files of ``samples_from.paths[benchmark]``, each glob pattern expanded (naturally
    sorted) in place; a ConfigError for a benchmark without files or a pattern matching none."""
    imported = config["models"][model].get("samples_from")
    if imported is None:
        return []
    where = f"models.{model}.samples_from.paths"
    if benchmark not in imported["paths"]:
        raise ConfigError(f"{where}: no files for benchmark {benchmark!r}")
    files: list[str] = []
    for pattern in imported["paths"][benchmark]:
        found = sorted(glob.glob(pattern), key=_natural) if glob.has_magic(pattern) else [pattern]
        if not found:
            raise ConfigError(f"{where}.{benchmark}: {pattern!r} matches no file")
        files.extend(found)
    return files


def import_spec(config: dict[str, Any], model: str, benchmark: str, seed: int) -> ImportSpec:
    from rlvr_boundary.importers import DEFAULT_MATCH

    imported = config["models"][model]["samples_from"]
    return ImportSpec(
        model_name=model,
        benchmark=benchmark,
        format=imported["format"],
        paths=tuple(import_sources(config, model, benchmark)),
        match=imported.get("match", DEFAULT_MATCH[imported["format"]]),
        n=n_samples(config, model, benchmark),
        shard=jobs.shard(config, model, benchmark, seed),
        score_field=imported.get("score_field"),
    )


def trusted_sources(config: dict[str, Any], model: str, benchmark: str) -> list[str]:
    """The files whose scores are the verdicts (``trust_scores``); none otherwise."""
    imported = config["models"][model].get("samples_from", {})
    return import_sources(config, model, benchmark) if imported.get("trust_scores") else []


def sample_spec(config: dict[str, Any], model: str, benchmark: str, seed: int) -> SampleSpec:
    return SampleSpec(
        model_name=model,
        model=engine_model(config, model),
        benchmark=benchmark,
        template=template_for(config, model, benchmark),
        shard=jobs.shard(config, model, benchmark, seed),
        sampling=sampling_for(config, model),
    )


def derived_pairs(config: dict[str, Any]) -> list[str]:
    """``model/benchmark`` of every sampled model whose samples on a ``subset_of`` benchmark
    are cut from the superset's shards (``jobs.sample_source``) instead of drawn."""
    return [
        f"{model}/{benchmark}"
        for benchmark, spec in config["benchmarks"].items()
        if "subset_of" in spec
        for model in sampled_models(config)
        if jobs.sample_source(config, model, benchmark) != benchmark
    ]


def _split_pair(pair: str) -> tuple[str, str]:
    model, benchmark = pair.split("/")
    return model, benchmark


def subset_inputs(config: dict[str, Any], pair: str, seed: int) -> dict[str, Any]:
    """The cut's inputs: the superset shards holding the shard's samples and both tables."""
    model, benchmark = _split_pair(pair)
    superset = jobs.sample_source(config, model, benchmark)
    return {
        "superset_samples": [
            samples_path(model, superset, s.index) for s in jobs.source_shards(config, model, benchmark, seed)
        ],
        "table": benchmark_table(benchmark),
        "superset_table": benchmark_table(superset),
    }


def subset_spec(config: dict[str, Any], pair: str, seed: int) -> SubsetSpec:
    model, benchmark = _split_pair(pair)
    return SubsetSpec(sample_spec(config, model, benchmark, seed), jobs.sample_source(config, model, benchmark))


def sample_job_options(config: dict[str, Any]) -> str:
    """The sample command's save and progress options, from ``sample_job``."""
    job = config["sample_job"]
    return (
        f"--flush-samples {job['flush_samples']} --flush-seconds {job['flush_seconds']}"
        f" --log-seconds {job['log_seconds']}"
    )


def sample_shards(config: dict[str, Any], model: str, benchmark: str) -> list[str]:
    return [samples_path(model, benchmark, s.index) for s in jobs.shards(config, model, benchmark)]


def verdict_shards(config: dict[str, Any], grader: str, model: str, benchmark: str) -> list[str]:
    check_grader(config, grader, benchmark)
    return [verdicts_path(grader, model, benchmark, s.index) for s in jobs.shards(config, model, benchmark)]


def verify_spec(config: dict[str, Any], grader: str, model: str, benchmark: str, seed: int | None = None) -> VerifySpec:
    """What judging one (model, benchmark) depends on: the grader settings of its kind; for
    an imported model that trusts its files' scores, the shard's import (no judging)."""
    check_grader(config, grader, benchmark)
    if trusted_sources(config, model, benchmark):
        if seed is None:
            raise ConfigError(f"models.{model}: trusted verdicts are taken per seed shard")
        return VerifySpec(benchmark, grader, trusted=import_spec(config, model, benchmark, seed))
    imported = is_imported(config, model)
    if config["benchmarks"][benchmark]["kind"] == "code":
        return VerifySpec(
            benchmark,
            grader,
            template=None if imported else template_for(config, model, benchmark),  # imported: no prefill
            code_timeout_s=config["verify"]["code_timeout_s"],
        )
    return VerifySpec(benchmark, grader, timeout_s=config["verify"]["timeout_s"])


def count_spec(config: dict[str, Any], model: str, benchmark: str) -> CountSpec:
    return CountSpec(benchmark, n_samples(config, model, benchmark))


def bootstrap(config: dict[str, Any]) -> Bootstrap:
    settings = config["stats"]
    return Bootstrap(settings["resamples"], settings["level"], settings["seed"])


def curve_spec(config: dict[str, Any]) -> CurveSpec:
    return CurveSpec(bootstrap(config))


def shard_curve_spec(config: dict[str, Any], model: str, benchmark: str) -> ShardCurveSpec:
    return ShardCurveSpec(benchmark, tuple(jobs.shards(config, model, benchmark)))


def shard_curve_targets(config: dict[str, Any]) -> list[str]:
    """Per-shard curves of every curve of every pass@k figure drawn from more than one shard."""
    curves = dict.fromkeys(c for figure in figures_of_kind(config, "passk") for c in figure_curves(config, figure))
    return [
        shard_passk_path(c.grader, c.model, c.benchmark)
        for c in curves
        if c.benchmark not in filtered_benchmarks(config) and len(jobs.shards(config, c.model, c.benchmark)) > 1
    ]


def disagreement_spec(benchmark: str, grader: str) -> DisagreementSpec:
    if grader not in MATH_GRADERS[1:]:
        raise ConfigError(f"grader {grader!r}: disagreements are taken against {MATH_GRADERS[0]!r}")
    return DisagreementSpec(benchmark, (MATH_GRADERS[0], grader))


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
    """The grader figure's companions: per (other grader, model, benchmark), the samples that
    grader judges differently from the reference one."""
    pairs = dict.fromkeys((c.model, c.benchmark) for c in figure_curves(config, figure, all_graders=True))
    return [disagreements_path(g, model, benchmark) for g in MATH_GRADERS[1:] for model, benchmark in pairs]


def figure_counts(config: dict[str, Any], figure: str) -> list[str]:
    """The figure's counts files, in the order of its spec's curves (histograms, statistics)."""
    return [counts_path(c.grader, c.model, c.benchmark) for c in figure_curves(config, figure)]


def _model_labels(config: dict[str, Any], figure: str) -> dict[str, dict[str, str]]:
    used = {m for p in panels(config, figure) for m in p.models}
    return {m: {"label": config["models"][m]["label"], "role": config["models"][m]["role"]} for m in sorted(used)}


def figure_note(config: dict[str, Any], figure: str) -> str | None:
    """The figure's configured note, and which unreleased models it cannot draw yet."""
    missing = [
        f"{config['models'][m]['label']} not drawn ({config['models'][m]['unreleased']})"
        for m in unreleased_models(config, figure)
    ]
    lines = [line for line in [config["figures"][figure].get("note"), *missing] if line]
    return "; ".join(lines) or None


def figure_spec(config: dict[str, Any], figure: str, *, all_graders: bool = False) -> FigureSpec:
    spec = config["figures"][figure]
    return FigureSpec(
        title=spec["title"],
        panels=tuple(panels(config, figure)),
        curves=tuple(figure_curves(config, figure, all_graders=all_graders)),
        models=_model_labels(config, figure),
        note=figure_note(config, figure),
        bands=spec["bands"],
    )


def stats_spec(config: dict[str, Any], figure: str) -> StatsSpec:
    """Every panel's first base model (else its first model) against each other model of the panel."""
    grid = panels(config, figure)
    models = _model_labels(config, figure)
    roles = {m: info["role"] for m, info in models.items()}
    return StatsSpec(
        name=f"figure {figure}",
        panels=tuple(grid),
        curves=tuple(figure_curves(config, figure)),
        models=models,
        comparisons=tuple(Comparison(i, a, b) for i, panel in enumerate(grid) for a, b in panel_pairs(panel, roles)),
        bootstrap=bootstrap(config),
        delta_se_k=config["stats"]["delta_se_k"],
    )


def pair_counts(config: dict[str, Any], grader: str, benchmark: str, model_a: str, model_b: str) -> list[str]:
    check_grader(config, grader, benchmark)
    return [counts_path(grader, model, benchmark) for model in (model_a, model_b)]


def pair_stats_spec(config: dict[str, Any], grader: str, benchmark: str, model_a: str, model_b: str) -> StatsSpec:
    """Any two models on one benchmark, model_a as the reference: one pair, one target."""
    check_grader(config, grader, benchmark)
    if model_a == model_b:
        raise ConfigError(f"pair statistics: {model_a} against itself")
    spec = {m: config["models"][m] for m in (model_a, model_b)}
    label = config["benchmarks"][benchmark].get("label", benchmark)
    panel = Panel(0, 0, benchmark, f"{spec[model_a]['label']} vs {spec[model_b]['label']}", (model_a, model_b), label)
    return StatsSpec(
        name=f"pair {model_a} vs {model_b} on {benchmark}",
        panels=(panel,),
        curves=tuple(Curve(grader, m, benchmark) for m in (model_a, model_b)),
        models={m: {"label": spec[m]["label"], "role": spec[m]["role"]} for m in (model_a, model_b)},
        comparisons=(Comparison(0, model_a, model_b),),
        bootstrap=bootstrap(config),
        delta_se_k=config["stats"]["delta_se_k"],
    )


def figure_pairs_by_benchmark(config: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(grader, benchmark, base, other) of every panel pair of every pass@k figure, once each."""
    found: dict[tuple[str, str, str, str], None] = {}
    for figure in figures_of_kind(config, "passk"):
        roles = {m: info["role"] for m, info in _model_labels(config, figure).items()}
        for panel in panels(config, figure):
            for model_a, model_b in panel_pairs(panel, roles):
                found[(grader_for(config, panel.benchmark), panel.benchmark, model_a, model_b)] = None
    return list(found)


def lucky_targets(config: dict[str, Any]) -> list[str]:
    """Lucky-guess pages of every panel pair, on benchmarks with samples of their own."""
    filtered = filtered_benchmarks(config)
    return [lucky_path(*pair) for pair in figure_pairs_by_benchmark(config) if pair[1] not in filtered]


def lucky_inputs(config: dict[str, Any], grader: str, benchmark: str, model_a: str, model_b: str) -> dict[str, Any]:
    """Both models' counts, verdict shards and sample shards on the benchmark, and its table."""
    inputs: dict[str, Any] = {"table": benchmark_table(benchmark)}
    for side, model in (("a", model_a), ("b", model_b)):
        inputs[f"counts_{side}"] = counts_path(grader, model, benchmark)
        inputs[f"verdicts_{side}"] = verdict_shards(config, grader, model, benchmark)
        inputs[f"samples_{side}"] = sample_shards(config, model, benchmark)
    return inputs


def lucky_spec(config: dict[str, Any], grader: str, benchmark: str, model_a: str, model_b: str) -> LuckySpec:
    settings = config["lucky_guesses"]
    return LuckySpec(
        benchmark=benchmark,
        grader=grader,
        models=(model_a, model_b),
        labels={m: config["models"][m]["label"] for m in (model_a, model_b)},
        below=settings["below"],
        examples=tuple(settings["examples"].get(benchmark, ())),
    )


def all_targets(config: dict[str, Any]) -> list[str]:
    """What ``rule all`` builds: every figure and table, each pass@k figure's statistics, the
    per-shard curves and the lucky-guess pages."""
    targets = [f"figures/{figure}.pdf" for figure in config["figures"]]
    targets += [f"figures/{table}.csv" for table in config["tables"]]
    targets += [stats_paths(figure)["stats"] for figure in figures_of_kind(config, "passk")]
    return targets + shard_curve_targets(config) + lucky_targets(config)


def demo_targets(config: dict[str, Any]) -> list[str]:
    """``rule all`` of the demo: the same targets for the figures and tables ``demo`` names,
    and the grader figures of ``demo.grader_figures``."""
    kept = {"figures": config["demo"]["figures"], "tables": config["demo"]["tables"]}
    graders = [f"figures/graders/{figure}.pdf" for figure in config["demo"].get("grader_figures", [])]
    return all_targets({**config, **{key: {n: config[key][n] for n in names} for key, names in kept.items()}}) + graders


def tables_of_kind(config: dict[str, Any], kind: str) -> list[str]:
    """The configured tables of one kind (``solvable``, ``boundary``)."""
    return [name for name, spec in config["tables"].items() if spec["kind"] == kind]


def table_counts(config: dict[str, Any], table: str) -> list[str]:
    """A table's counts: per model, per benchmark (a solvable table has one benchmark)."""
    spec = config["tables"][table]
    on = spec["benchmarks"] if spec["kind"] == "boundary" else [spec["benchmark"]]
    return [counts_path(grader_for(config, b), m, b) for m in spec["models"] for b in on]


def boundary_table_spec(config: dict[str, Any], table: str) -> BoundaryTableSpec:
    spec = config["tables"][table]
    return BoundaryTableSpec(
        title=spec["title"],
        benchmarks=tuple(spec["benchmarks"]),
        models=tuple(spec["models"]),
        labels={m: config["models"][m]["label"] for m in spec["models"]},
        base=spec.get("base"),
        k=spec.get("k"),
        bootstrap=bootstrap(config),
    )


def training_figure_spec(config: dict[str, Any], figure: str) -> TrainingFigureSpec:
    spec = config["figures"][figure]
    return TrainingFigureSpec(
        title=spec["title"],
        runs=tuple(spec["runs"]),
        labels={run: config["training_runs"][run]["label"] for run in spec["runs"]},
        smooth=spec["smooth"],
        note=spec.get("note"),
    )


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


def demo_benchmark_exclude(config: dict[str, Any], benchmark: str) -> list[str]:
    """A train split leaves out every question of the other (test) demo benchmarks."""
    benchmarks = config["demo"]["benchmarks"]
    if benchmarks[benchmark]["kind"] != "train":
        return []
    return [f"data/demo/{b}.jsonl" for b, spec in benchmarks.items() if spec["kind"] != "train"]


def rl_inputs(config: dict[str, Any], run: str) -> dict[str, str]:
    spec = config["demo"]["rl"][run]
    return {"init": f"data/demo/models/{spec['init']}", "problems": benchmark_table(spec["problems"])}


def rl_spec(config: dict[str, Any], run: str) -> RLSpec:
    """The run's RLSpec; the policy is trained with the prompt its init model is evaluated with."""
    spec = dict(config["demo"]["rl"][run])
    init, problems = spec.pop("init"), spec.pop("problems")
    template = template_for(config, init, problems)
    return RLSpec(**{**spec, "checkpoints": tuple(spec["checkpoints"])}, template=template)


def distill_inputs(config: dict[str, Any], name: str) -> dict[str, Any]:
    """The student, the train split and the teacher's sample and verdict shards on it."""
    spec = config["demo"]["distill"][name]
    teacher, benchmark = spec["teacher"], spec["benchmark"]
    return {
        "student": f"data/demo/models/{spec['student']}",
        "benchmark": benchmark_table(benchmark),
        "samples": sample_shards(config, teacher, benchmark),
        "verdicts": verdict_shards(config, grader_for(config, benchmark), teacher, benchmark),
    }


def training_logs(config: dict[str, Any], figure: str) -> list[str]:
    """The logs of a training figure's runs, in its order; a ConfigError for a run without one."""
    logs = []
    for run in config["figures"][figure]["runs"]:
        log = config["training_runs"][run]["log"]
        if log is None:
            raise ConfigError(f"figures.{figure}.runs: training_runs.{run} has no log")
        logs.append(log)
    return logs


def demo_model_init(config: dict[str, Any], model: str) -> list[str]:
    """The demo model a continued demo model starts from."""
    parent = config["demo"]["models"][model].get("init_from")
    return [f"data/demo/models/{parent}"] if parent else []


def _source(config: dict[str, Any], benchmark: str) -> str:
    spec = config["benchmarks"][benchmark]
    kind = source_kind(config, benchmark)
    if "filter_of" in spec:
        guessing = spec["guessing"]
        return (
            f"{spec['filter_of']} without the problems {guessing['model']} guesses"
            f" (answer-only accuracy in (0, {guessing['below']}))"
        )
    if kind == "local":
        sha = spec["local"].get("sha256")
        return f"{spec['local']['path']}" + (f" (sha256 {sha[:12]}…)" if sha else " (built by the demo)")
    if kind == "hf":
        return f"hub {spec['hf']['id']}@{spec['hf']['revision']}"
    return f"{spec['url']['href']} (sha256 {spec['url']['sha256'][:12]}…)"


def about(
    config: dict[str, Any],
    figure: str | None = None,
    *,
    models: list[str] | None = None,
    benchmarks: list[str] | None = None,
) -> str:
    """What a report item rests on, for its caption: models with weights and prompt, benchmarks
    with source and checksum, n per (model, benchmark), grader, bootstrap settings. The exact
    provenance of the files read (resolved revisions, package versions, config hashes) is in
    the item's ``.provenance.json``."""
    if figure is not None:
        grid = panels(config, figure)
        models = list(dict.fromkeys(m for p in grid for m in p.models))
        benchmarks = list(dict.fromkeys(p.benchmark for p in grid))
    lines = []
    for model in models or []:
        spec = config["models"][model]
        weights = spec.get("path") or (f"{spec['hf_id']}@{spec['revision']}" if "hf_id" in spec else "")
        if "samples_from" in spec:
            imported = spec["samples_from"]
            trusted = ", their scores as verdicts" if imported.get("trust_scores") else ""
            weights = f"{weights} samples imported from {imported['format']} files{trusted}".strip()
        n = ", ".join(f"{b}: n={n_samples(config, model, b)}" for b in benchmarks or [])
        lines.append(f"- {spec['label']} ({spec['role']}): {weights}; {n}")
    for bench in benchmarks or []:
        label = config["benchmarks"][bench].get("label", bench)
        lines.append(f"- {label}: {_source(config, bench)}; grader {grader_for(config, bench)}")
    boot = config["stats"]
    lines.append(
        f"- bands and intervals: problem bootstrap, {boot['resamples']} resamples, level {boot['level']}, "
        f"seed {boot['seed']}; config hash {config_hash(config)}"
    )
    return "\n".join(lines)


# ------------------------------------------------------------------ derived benchmarks


def filtered_benchmarks(config: dict[str, Any]) -> list[str]:
    """Benchmarks derived by the guessing filter (``filter_of``): counts, no samples of their own."""
    return [name for name, spec in config["benchmarks"].items() if "filter_of" in spec]


def original_benchmarks(config: dict[str, Any]) -> list[str]:
    return [name for name in config["benchmarks"] if name not in filtered_benchmarks(config)]


def guess_filter_spec(config: dict[str, Any], benchmark: str) -> GuessFilterSpec:
    spec = config["benchmarks"][benchmark]
    if "filter_of" not in spec:
        raise ConfigError(f"benchmarks.{benchmark}: not a filtered benchmark (no filter_of)")
    return GuessFilterSpec(benchmark, spec["filter_of"], spec["guessing"]["model"], spec["guessing"]["below"])


def guess_filter_counts(config: dict[str, Any], grader: str, benchmark: str) -> str:
    """The answer-only model's counts on the benchmark the filter applies to."""
    spec = guess_filter_spec(config, benchmark)
    check_grader(config, grader, spec.origin)
    return counts_path(grader, spec.model, spec.origin)


def kept_counts_inputs(config: dict[str, Any], grader: str, model: str, benchmark: str) -> dict[str, str]:
    """A filtered benchmark's counts come from its origin's counts and the filter's decision."""
    spec = guess_filter_spec(config, benchmark)
    return {"counts": counts_path(grader, model, spec.origin), "filter": guess_filter_path(grader, benchmark)}


# ------------------------------------------------------------------ entropy (Fig. 17)


def _temperature(config: dict[str, Any], model: str) -> float:
    return float(sampling_for(config, model)["temperature"])


def entropy_match_spec(config: dict[str, Any], figure: str) -> EntropyMatchSpec:
    """Per panel: the reference model, then the probed model at every grid temperature."""
    probes: list[Probe] = []
    for i, panel in enumerate(panels(config, figure)):
        reference, probed = panel.models
        probes.append(Probe(i, panel.benchmark, reference, _temperature(config, reference), "reference"))
        probes.extend(
            Probe(i, panel.benchmark, grid_model(config, probed, temperature), float(temperature), "candidate")
            for temperature in config["figures"][figure]["temperatures"]
        )
    return EntropyMatchSpec(figure, tuple(probes))


def entropy_match_inputs(config: dict[str, Any], figure: str) -> list[str]:
    """The first seed shard's entropy table of every probe, in probe order."""
    return [entropy_path(p.model, p.benchmark, 0) for p in entropy_match_spec(config, figure).probes]


def chosen_models(match_csv: str) -> list[str]:
    """The entropy-matched model of each panel, in panel order, from the match table."""
    with open(match_csv, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["chosen"].lower() == "true"]
    return [row["model"] for row in sorted(rows, key=lambda row: int(row["panel"]))]


def entropy_figure_matched(config: dict[str, Any], figure: str, match_csv: str) -> list[str]:
    """The pass@k files of the entropy-matched curves, one per panel in panel order."""
    grid = panels(config, figure)
    return [
        passk_path(grader_for(config, panel.benchmark), model, panel.benchmark)
        for panel, model in zip(grid, chosen_models(match_csv), strict=True)
    ]


def entropy_figure_spec(config: dict[str, Any], figure: str) -> FigureSpec:
    """The figure's static curves (reference and probed model at their temperatures), with
    the labels of every grid model a panel may add."""
    spec = figure_spec(config, figure)
    grid = {p.model for p in entropy_match_spec(config, figure).probes}
    labels = {m: {"label": config["models"][m]["label"], "role": "matched"} for m in sorted(grid - set(spec.models))}
    return FigureSpec(spec.title, spec.panels, spec.curves, {**spec.models, **labels}, spec.note, spec.bands)


# ------------------------------------------------------------------ perplexity (Fig. 6)


def _perplexity_pair(config: dict[str, Any], figure: str) -> tuple[str, str, str]:
    spec = config["figures"][figure]
    if len(spec["rows"]) != 1 or len(spec["columns"]) != 1 or len(spec["columns"][0]["models"]) != 2:
        raise ConfigError(
            f"figures.{figure}: a perplexity figure has one benchmark row and one column of two models (base, RL)"
        )
    base, rl = spec["columns"][0]["models"]
    return spec["rows"][0], base, rl


def perplexity_boxes(config: dict[str, Any], figure: str) -> tuple[Box, ...]:
    """The paper's four boxes: PPL_Base(Y_Base), PPL_Base(Y_RL), PPL_RL(Y_RL), PPL_Base(Y_GT);
    the last only with a reference file."""
    benchmark, base, rl = _perplexity_pair(config, figure)
    boxes = [
        Box("PPL_Base(Y_Base)", base, responses_of_samples(base, benchmark, 0)),
        Box("PPL_Base(Y_RL)", base, responses_of_samples(rl, benchmark, 0)),
        Box("PPL_RL(Y_RL)", rl, responses_of_samples(rl, benchmark, 0)),
    ]
    if config["figures"][figure]["reference"] is not None:
        boxes.append(Box("PPL_Base(Y_GT)", base, responses_of_reference(figure)))
    return tuple(boxes)


def perplexity_figure_spec(config: dict[str, Any], figure: str) -> PerplexityFigureSpec:
    spec = config["figures"][figure]
    benchmark, base, rl = _perplexity_pair(config, figure)
    labels = {m: config["models"][m]["label"] for m in (base, rl)}
    reference = spec["reference"]
    gt = f"Y_GT: {reference['label']}" if reference else "no Y_GT file configured: the PPL_Base(Y_GT) box is left out"
    note = f"Base = {labels[base]}, RL = {labels[rl]}; {gt}." + (f" {spec['note']}" if spec.get("note") else "")
    return PerplexityFigureSpec(
        spec["title"], benchmark, tuple(spec["problems"]), spec["responses"], perplexity_boxes(config, figure), note
    )


def perplexity_benchmark_table(config: dict[str, Any], figure: str) -> str:
    """The prepared table of a perplexity figure's benchmark (its prompts and problem indices)."""
    return benchmark_table(_perplexity_pair(config, figure)[0])


def perplexity_figure_scores(config: dict[str, Any], figure: str) -> list[str]:
    return [scores_path(box.scorer, box.responses) for box in perplexity_boxes(config, figure)]


def reference_spec(config: dict[str, Any], figure: str) -> ReferenceSpec:
    from rlvr_boundary.importers import DEFAULT_MATCH

    reference = config["figures"][figure].get("reference")
    if reference is None:
        raise ConfigError(f"figures.{figure}.reference: none configured")
    return ReferenceSpec(
        figure,
        _perplexity_pair(config, figure)[0],
        reference["format"],
        reference["path"],
        reference.get("match", DEFAULT_MATCH[reference["format"]]),
        tuple(config["figures"][figure]["problems"]),
    )


def score_inputs(config: dict[str, Any], scorer: str, responses: str) -> dict[str, Any]:
    return {
        "responses": f"results/{responses}.parquet",
        "table": benchmark_table(jobs.responses_source(config, responses)[0]),
        "weights": model_weights(config, scorer),
    }


ENGINE_KEYS = ("dtype", "enforce_eager", "max_model_len", "gpu_memory_utilization")
"""Sampling settings that shape a scoring engine (the rest concern generation only)."""


def score_spec(config: dict[str, Any], scorer: str, responses: str) -> ScoreSpec:
    if is_imported(config, scorer):
        raise ConfigError(f"models.{scorer}: an imported model has no weights here to score with")
    benchmark = jobs.responses_source(config, responses)[0]
    sampling = sampling_for(config, scorer)
    return ScoreSpec(
        scorer=scorer,
        model=engine_model(config, scorer),
        benchmark=benchmark,
        template=template_for(config, scorer, benchmark),
        responses=responses,
        engine={k: sampling[k] for k in ENGINE_KEYS if k in sampling},
    )
