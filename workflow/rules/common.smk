# Config validation and the input/params helpers every rule uses.
import json

from snakemake.exceptions import WorkflowError

from rlvr_boundary import config as rb_config
from rlvr_boundary import hub as rb_hub
from rlvr_boundary import plan as rb_plan

try:
    rb_config.validate(config, "config (config.yaml + --configfile overlays)")
except rb_config.ConfigError as error:
    raise WorkflowError(str(error)) from None

NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"


def one_of(names):
    """A wildcard matching only configured names (figures/*.csv holds figures and tables)."""
    return "|".join(sorted(names)) or "(?!)"


wildcard_constraints:
    model=NAME,
    benchmark=NAME,
    figure=one_of(config["figures"]),
    table=one_of(config["tables"]),
    seed=r"\d+",


# Model keys that change what is sampled (labels and roles only change plots; the prompt
# template and max_tokens travel in the sample spec, resolved per benchmark).
SAMPLING_MODEL_KEYS = ("hf_id", "revision", "path", "tensor_parallel_size", "max_model_len")


def as_json(value):
    return json.dumps(value, sort_keys=True)


def benchmark_source(wildcards):
    """The local benchmark file, so a rule that makes it (the demo) runs first."""
    spec = config["benchmarks"][wildcards.benchmark]
    if rb_config.source_kind(config, wildcards.benchmark) == "local":
        return [spec["local"]["path"]]
    return []


# Benchmark keys that change the prepared table (n, shard_size, template only change sampling).
PREPARE_BENCHMARK_KEYS = ("kind", "local", "hf", "url", "fields", "gold", "format", "window")


def prepare_spec(wildcards):
    spec = config["benchmarks"][wildcards.benchmark]
    return as_json({
        "name": wildcards.benchmark,
        "benchmark": {k: spec[k] for k in PREPARE_BENCHMARK_KEYS if k in spec},
        "source": rb_config.source_kind(config, wildcards.benchmark),
    })


def model_weights(wildcards):
    """The folder the engine loads: a local model (the demo builds it) or the cached download."""
    model = config["models"][wildcards.model]
    if "path" in model:
        return [model["path"]]
    cached = rb_hub.published_dir(config, wildcards.model)
    return [cached] if cached else []


def engine_model(name):
    """The sampled model's spec: where its weights load from and its GPU layout."""
    model = config["models"][name]
    spec = {k: model[k] for k in SAMPLING_MODEL_KEYS if k in model}
    spec["tensor_parallel_size"] = rb_plan.tensor_parallel_size(config, name)
    cached = rb_hub.published_dir(config, name)
    if cached:
        spec["path"] = cached  # downloaded once by download_model; jobs run with the hub offline
    return spec


def hub_offline(wildcards):
    return "HF_HUB_OFFLINE=1 " if config.get("model_cache") else ""


def sample_spec(wildcards):
    shard = rb_config.shard(config, wildcards.model, wildcards.benchmark, int(wildcards.seed))
    return as_json({
        "model_name": wildcards.model,
        "model": engine_model(wildcards.model),
        "benchmark": wildcards.benchmark,
        "template": rb_config.template_for(config, wildcards.model, wildcards.benchmark),
        "shard": {"index": shard.index, "start": shard.start, "size": shard.size},
        "sampling": rb_config.sampling_for(config, wildcards.model),
    })


def sample_shards(wildcards):
    return [
        f"results/samples/{wildcards.model}/{wildcards.benchmark}/seed{s.index}.parquet"
        for s in rb_config.shards(config, wildcards.model, wildcards.benchmark)
    ]


def verdict_shards(wildcards):
    return [
        f"results/verdicts/{wildcards.model}/{wildcards.benchmark}/seed{s.index}.parquet"
        for s in rb_config.shards(config, wildcards.model, wildcards.benchmark)
    ]


def figure_pairs(wildcards):
    return rb_config.figure_pairs(config, wildcards.figure)


def figure_passk(wildcards):
    return [f"results/passk/{m}/{b}.parquet" for m, b in figure_pairs(wildcards)]


def figure_grader_curves(wildcards):
    return [f"results/grader_disagreements/{m}/{b}.passk.parquet" for m, b in figure_pairs(wildcards)]


def verify_spec(wildcards):
    """What judging one (model, benchmark) depends on: the grader settings of its kind."""
    spec = {"benchmark": wildcards.benchmark}
    if config["benchmarks"][wildcards.benchmark]["kind"] == "code":
        template = rb_config.template_for(config, wildcards.model, wildcards.benchmark)
        spec |= {"template": template, "code_timeout_s": config["verify"]["code_timeout_s"]}
    else:
        spec |= {"grader": config["verify"]["grader"], "timeout_s": config["verify"]["timeout_s"]}
    return as_json(spec)


def table_counts(wildcards):
    table = config["tables"][wildcards.table]
    return [f"results/counts/{m}/{table['benchmark']}.parquet" for m in table["models"]]


def table_spec(wildcards):
    table = config["tables"][wildcards.table]
    labels = {m: config["models"][m]["label"] for m in table["models"]}
    return as_json({**table, "labels": labels})


def figure_spec(wildcards):
    panels = rb_config.panels(config, wildcards.figure)
    used = {m for p in panels for m in p.models}
    return as_json({
        "title": config["figures"][wildcards.figure]["title"],
        "note": config["figures"][wildcards.figure].get("note"),
        "panels": [vars(p) for p in panels],
        "pairs": figure_pairs(wildcards),
        "models": {m: {"label": config["models"][m]["label"], "role": config["models"][m]["role"]} for m in used},
    })


def demo_model_init(wildcards):
    """The demo model a continued demo model starts from."""
    parent = config["demo"]["models"][wildcards.model].get("init_from")
    return [f"data/demo/models/{parent}"] if parent else []
