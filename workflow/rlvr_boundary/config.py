"""Load, validate and query the workflow configuration (a leaf: no other stage's logic).

One JSON schema (``schemas/config.schema.yaml``, linked from ``workflow/schemas/``) is the
contract; on top of it we check the cross references a schema cannot express (a figure
naming an unknown model, a panel whose k range exceeds the samples drawn). Every failure is
one ``ConfigError`` whose message names the offending key, so a typo never surfaces later
as a KeyError inside a cluster job.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from rlvr_boundary.prompts import template_kind


class ConfigError(ValueError):
    """A configuration problem, with the dotted key that causes it in the message."""


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    text = resources.files("rlvr_boundary").joinpath("schemas/config.schema.yaml").read_text()
    return yaml.safe_load(text)


def _dotted(path: Any) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def _fill_defaults(instance: Any, node: dict[str, Any]) -> None:
    """Write schema ``default`` values into the config (jsonschema only validates)."""
    if not isinstance(instance, dict):
        return
    for key, sub in node.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])  # never share the cached schema's objects
        if key in instance:
            _fill_defaults(instance[key], sub)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in node.get("properties", {}):
                _fill_defaults(value, extra)


def validate(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Validate ``config`` in place (filling defaults) and return it; raise ``ConfigError``."""
    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise ConfigError(f"{source}: {_dotted(error.absolute_path)}: {error.message}")
    _fill_defaults(config, schema())
    _expand_checkpoints(config, source)
    _expand_variants(config, source)
    _derive_filtered(config, source)
    _check_references(config, source)
    return config


def temperature_variant(variants: dict[str, Any], temperature: float) -> str:
    """The name of a model's variant that differs from it by ``temperature`` only (its n and
    label aside): one already configured (e.g. ``t1.0: {temperature: 1.0}``), else ``t{T}``
    (``t1.5``); a ConfigError if that name is taken by another kind of variant."""
    alone = {"temperature", "n", "label"}
    same = [name for name, v in variants.items() if v.get("temperature") == temperature and set(v) <= alone]
    if same:
        return same[0]
    name = f"t{float(temperature)}"
    if name in variants:
        raise ConfigError(f"variants.{name}: not the temperature {temperature} alone; rename it")
    return name


def grid_model(config: dict[str, Any], model: str, temperature: float) -> str:
    """``model`` sampled at ``temperature``: itself at its own, else its temperature variant."""
    if temperature == sampling_for(config, model)["temperature"]:
        return model
    return f"{model}.{temperature_variant(config['models'][model].get('variants', {}), temperature)}"


def _describe(variant: dict[str, Any]) -> str:
    words = {"temperature": "T = {}", "top_p": "top-p {}", "template": "prompt {}", "max_tokens": "{} tokens"}
    return ", ".join(text.format(variant[key]) for key, text in words.items() if key in variant)


CHECKPOINT_WEIGHTS = ("path", "hf_id", "revision")
LAB_RL_DIR = "data/demo/rl"
"""Where rule rl_train writes run ``r``: ``{LAB_RL_DIR}/r/step{N}`` and its training log."""


def lab_run_paths(run: str, steps: Sequence[int]) -> tuple[dict[str, dict[str, str]], str]:
    """The checkpoints and log a ``training_runs`` entry names for the lab's run ``run``."""
    return {str(s): {"path": f"{LAB_RL_DIR}/{run}/step{s}"} for s in steps}, f"{LAB_RL_DIR}/{run}/training_log.parquet"


def checkpoint_model(run: str, step: int | str) -> str:
    """The model name of a training run's checkpoint."""
    return f"{run}-step{step}"


def _fill_lab_run(run: str, spec: dict[str, Any], lab: dict[str, Any], where: str) -> None:
    """A lab run's checkpoints and log are what rule rl_train writes for ``demo.rl.{run}``:
    filled in when left out, a ConfigError when listed otherwise."""
    checkpoints, log = lab_run_paths(run, lab["checkpoints"])
    listed = {str(k): v for k, v in spec.get("checkpoints", checkpoints).items()}
    if listed != checkpoints or spec["log"] not in (None, log):
        raise ConfigError(
            f"{where}: a run of demo.rl lists what rl_train writes (checkpoints {checkpoints}, log {log!r}); leave both out"
        )
    if spec["base"] != lab["init"]:
        raise ConfigError(f"{where}.base: {spec['base']!r}, but demo.rl.{run} starts from {lab['init']!r}")
    spec.update(checkpoints=checkpoints, log=log)


def _expand_checkpoints(config: dict[str, Any], source: str) -> None:
    """The lab's RL runs (``demo.rl``) are checked and their ``training_runs`` entries filled
    in; then every checkpoint of ``training_runs`` becomes the model ``{run}-step{N}``: its base
    model's prompt and settings (not its variants or imported samples) with the checkpoint's
    weights, role ``rl`` and ``checkpoint_of`` naming the run. Idempotent."""
    models, demo = config["models"], config.get("demo", {})
    lab = demo.get("rl", {})
    for run, spec in lab.items():
        where = f"{source}: demo.rl.{run}"
        if spec["init"] not in demo.get("models", {}) or spec["init"] not in models:
            raise ConfigError(f"{where}.init: {spec['init']!r} is not one of demo.models and a configured model")
        if spec["problems"] not in demo.get("benchmarks", {}):
            raise ConfigError(f"{where}.problems: {spec['problems']!r} is not one of demo.benchmarks")
        if any(not 1 <= s <= spec["steps"] for s in spec["checkpoints"]):
            raise ConfigError(f"{where}.checkpoints: steps must lie in 1..{spec['steps']}")
    for run, spec in config["training_runs"].items():
        if run in lab:
            _fill_lab_run(run, spec, lab[run], f"{source}: training_runs.{run}")
        if "checkpoints" not in spec:
            raise ConfigError(f"{source}: training_runs.{run}.checkpoints: required (not a run of demo.rl)")
        spec["checkpoints"] = {str(step): weights for step, weights in spec["checkpoints"].items()}  # YAML ints
        base = models.get(spec["base"])
        if base is None or "variant_of" in base or "samples_from" in base:
            raise ConfigError(f"{source}: training_runs.{run}.base: {spec['base']!r} is not a configured sampled model")
        for step, weights in spec["checkpoints"].items():
            name = checkpoint_model(run, step)
            if name in models and models[name].get("checkpoint_of") != run:
                raise ConfigError(
                    f"{source}: training_runs.{run}.checkpoints.{step}: model {name!r} is already configured"
                )
            entry = {k: copy.deepcopy(v) for k, v in base.items() if k not in (*CHECKPOINT_WEIGHTS, "variants")}
            entry.update(copy.deepcopy(weights))
            entry.update(label=f"{spec['label']}, step {step}", role="rl", checkpoint_of=run)
            models[name] = entry


def _expand_variants(config: dict[str, Any], source: str) -> None:
    """Every ``variants`` entry becomes a model of its own, ``{model}.{name}``: the parent's
    weights and settings with the variant's sampling, prompt, budget or n. The entropy figures'
    temperature grids add ``t{T}`` variants to the model each column probes. Idempotent, so a
    validated config validates again unchanged."""
    models = config["models"]
    for name, figure in config["figures"].items():
        if figure["kind"] != "entropy":
            continue
        for j, column in enumerate(figure["columns"]):
            if len(column["models"]) != 2:
                raise ConfigError(
                    f"{source}: figures.{name}.columns.{j}.models: an entropy figure compares two models "
                    "(the reference, then the one probed over the temperature grid)"
                )
            probed = column["models"][1]
            if probed not in models or "variant_of" in models[probed]:
                raise ConfigError(
                    f"{source}: figures.{name}.columns.{j}.models.1: {probed!r} is not a configured model"
                )
            own = models[probed].get("sampling", {}).get("temperature", config["sampling"]["temperature"])
            for temperature in figure["temperatures"]:
                if temperature != own:
                    variants = models[probed].setdefault("variants", {})
                    try:
                        variant = temperature_variant(variants, temperature)
                    except ConfigError as exc:
                        raise ConfigError(f"{source}: figures.{name}: models.{probed}.{exc}") from None
                    variants.setdefault(variant, {"temperature": temperature})
    for parent, spec in list(models.items()):
        for suffix, variant in spec.get("variants", {}).items():
            name = f"{parent}.{suffix}"
            if name in models and models[name].get("variant_of") != parent:
                raise ConfigError(f"{source}: models.{parent}.variants.{suffix}: model {name!r} is already configured")
            entry = {key: copy.deepcopy(value) for key, value in spec.items() if key != "variants"}
            sampling = {**spec.get("sampling", {}), **{k: variant[k] for k in ("temperature", "top_p") if k in variant}}
            if sampling:
                entry["sampling"] = sampling
            if "template" in variant:
                entry.pop("templates", None)  # the variant's prompt, on every benchmark
            entry.update({k: copy.deepcopy(variant[k]) for k in ("template", "max_tokens", "n") if k in variant})
            entry["label"] = variant.get("label", f"{spec['label']}, {_describe(variant)}")
            entry["variant_of"] = parent
            models[name] = entry


def _derive_filtered(config: dict[str, Any], source: str) -> None:
    """A ``filter_of`` benchmark takes its kind, n and shard size from the benchmark it
    filters (its samples are that one's); its label says it is filtered."""
    benchmarks = config["benchmarks"]
    for name, bench in benchmarks.items():
        origin = bench.get("filter_of")
        if origin is None:
            continue
        where = f"{source}: benchmarks.{name}"
        if origin not in benchmarks or "filter_of" in benchmarks[origin] or origin == name:
            raise ConfigError(f"{where}.filter_of: {origin!r} is not another configured, unfiltered benchmark")
        model = bench["guessing"]["model"]
        if model not in config["models"]:
            raise ConfigError(f"{where}.guessing.model: unknown model {model!r}")
        _checked_model_on(config, model, origin, f"{where}.guessing.model")
        for key in ("kind", "n", "shard_size"):
            bench[key] = benchmarks[origin][key]
        bench.setdefault("label", f"{benchmarks[origin].get('label', origin)}, guessing filter")


def origin_benchmark(config: dict[str, Any], benchmark: str) -> str:
    """The benchmark whose samples and verdicts a benchmark uses: a filtered one's origin,
    else itself."""
    return config["benchmarks"][benchmark].get("filter_of", benchmark)


def _read_yaml(path: str | Path) -> dict[str, Any]:
    try:
        return yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc


def load(path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a YAML config file, deep-merge ``overrides`` on top, validate."""
    config = _read_yaml(path)
    if overrides:
        config = deep_merge(config, overrides)
    return validate(config, str(path))


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge in Snakemake's manner: dicts merge, everything else replaces."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _check_references(config: dict[str, Any], source: str) -> None:
    models, benchmarks = config["models"], config["benchmarks"]
    for name, model in models.items():
        for key in ("n", "templates"):
            for bench in model.get(key, {}):
                if bench not in benchmarks:
                    raise ConfigError(f"{source}: models.{name}.{key}.{bench}: unknown benchmark")
    for name, bench in benchmarks.items():
        if config["data_source"] == "hf" and not ({"hf", "url", "filter_of"} & set(bench)):
            raise ConfigError(
                f"{source}: benchmarks.{name}: data_source is 'hf' but the benchmark has no hf or url source"
            )
        if bench["kind"] == "code" and "hf" in bench:
            if bench["format"] != "livecodebench":
                raise ConfigError(f"{source}: benchmarks.{name}.hf: evalplus files come from a url source, not the hub")
            if "version_tag" not in bench["hf"]:
                raise ConfigError(f"{source}: benchmarks.{name}.hf.version_tag: required for LiveCodeBench")
    for name, bench in benchmarks.items():
        superset = bench.get("subset_of")
        if superset is None:
            continue
        where = f"{source}: benchmarks.{name}.subset_of"
        if superset not in benchmarks or superset == name:
            raise ConfigError(f"{where}: {superset!r} is not another configured benchmark")
        if "subset_of" in benchmarks[superset]:
            raise ConfigError(f"{where}: {superset!r} is itself a subset; name the largest benchmark")
        if benchmarks[superset]["kind"] != bench["kind"]:
            raise ConfigError(f"{where}: {superset!r} is a {benchmarks[superset]['kind']} benchmark, {name!r} is not")
    for fig, figure in config["figures"].items():
        if figure["kind"] == "perplexity":
            for j, column in enumerate(figure["columns"]):
                for m, model in enumerate(column["models"]):
                    if models.get(model, {}).get("backend") == "transformers":
                        raise ConfigError(
                            f"{source}: figures.{fig}.columns.{j}.models.{m}: {model!r} samples with backend "
                            "transformers; scoring (perplexity) runs on vLLM only"
                        )
        if figure["kind"] == "training":
            for i, run in enumerate(figure["runs"]):
                if run not in config["training_runs"]:
                    raise ConfigError(f"{source}: figures.{fig}.runs.{i}: unknown training run {run!r}")
            continue
        for i, bench in enumerate(figure["rows"]):
            if bench not in benchmarks:
                raise ConfigError(f"{source}: figures.{fig}.rows.{i}: unknown benchmark {bench!r}")
        for j, column in enumerate(figure["columns"]):
            for b, bench in enumerate(column.get("benchmarks", [])):
                if bench not in figure["rows"]:
                    raise ConfigError(f"{source}: figures.{fig}.columns.{j}.benchmarks.{b}: {bench!r} is not in rows")
            for m, model in enumerate(column["models"]):
                if model not in models:
                    raise ConfigError(f"{source}: figures.{fig}.columns.{j}.models.{m}: unknown model {model!r}")
                for bench in column.get("benchmarks", figure["rows"]):
                    _checked_model_on(config, model, bench, f"{source}: figures.{fig}: {model} on {bench}")
    for key in ("figures", "tables"):
        for name in config.get("demo", {}).get(key, []):
            if name not in config[key]:
                raise ConfigError(f"{source}: demo.{key}: unknown {key[:-1]} {name!r}")
    for name in config.get("demo", {}).get("grader_figures", []):
        if name not in config.get("demo", {}).get("figures", []):
            raise ConfigError(f"{source}: demo.grader_figures: {name!r} is not one of demo.figures")
    _check_lab(config, source)
    for bench in config["lucky_guesses"]["examples"]:
        if bench not in benchmarks:
            raise ConfigError(f"{source}: lucky_guesses.examples.{bench}: unknown benchmark")
    for name, table in config.get("tables", {}).items():
        on = table["benchmarks"] if table["kind"] == "boundary" else [table["benchmark"]]
        keys = [f"benchmarks.{i}" for i in range(len(on))] if table["kind"] == "boundary" else ["benchmark"]
        for key, bench in zip(keys, on, strict=True):
            if bench not in benchmarks:
                raise ConfigError(f"{source}: tables.{name}.{key}: unknown benchmark {bench!r}")
        if table.get("base") is not None and table["base"] not in table["models"]:
            raise ConfigError(f"{source}: tables.{name}.base: {table['base']!r} is not one of the table's models")
        for m, model in enumerate(table["models"]):
            if model not in models:
                raise ConfigError(f"{source}: tables.{name}.models.{m}: unknown model {model!r}")
            for bench in on:
                _checked_model_on(config, model, bench, f"{source}: tables.{name}: {model}")


def _check_lab(config: dict[str, Any], source: str) -> None:
    """The lab's distillations name demo models and benchmarks and a configured teacher."""
    demo = config.get("demo", {})
    for name, spec in demo.get("distill", {}).items():
        where = f"{source}: demo.distill.{name}"
        if spec["student"] not in demo.get("models", {}):
            raise ConfigError(f"{where}.student: {spec['student']!r} is not one of demo.models")
        if spec["teacher"] not in config["models"]:
            raise ConfigError(f"{where}.teacher: {spec['teacher']!r} is not a configured model")
        if spec["benchmark"] not in demo.get("benchmarks", {}):
            raise ConfigError(f"{where}.benchmark: {spec['benchmark']!r} is not one of demo.benchmarks")


def _checked_model_on(config: dict[str, Any], model: str, benchmark: str, where: str) -> None:
    """A sampled model needs a prompt for the benchmark; an imported one, files for it."""
    benchmark = origin_benchmark(config, benchmark)
    imported = config["models"][model].get("samples_from")
    if imported is not None:
        if benchmark not in imported["paths"]:
            raise ConfigError(f"{where}: models.{model}.samples_from.paths: no files for {benchmark!r}")
        return
    try:
        template_for(config, model, benchmark)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def template_for(config: dict[str, Any], model: str, benchmark: str) -> str:
    """The prompt a model gets on a benchmark: the model's per-benchmark entry, else the
    code or visual benchmark's own template, else the model's (math) template; its kind must match."""
    spec, bench = config["models"][model], config["benchmarks"][benchmark]
    template = spec.get("templates", {}).get(benchmark) or bench.get("template") or spec.get("template")
    if template is None:
        raise ValueError(f"models.{model}.template: no prompt template for benchmark {benchmark!r}")
    kind = bench.get("kind", "math")
    if template_kind(template) != kind:
        raise ValueError(
            f"template {template!r} is a {template_kind(template)} prompt but {benchmark!r} is a {kind} benchmark"
        )
    return template


def sampling_for(config: dict[str, Any], model: str) -> dict[str, Any]:
    """The sampling parameters of one model: ``sampling`` with the model's own ``sampling``
    (a variant's temperature or top-p) and ``max_tokens``."""
    sampling = {**config["sampling"], **config["models"][model].get("sampling", {})}
    if "max_tokens" in config["models"][model]:
        sampling["max_tokens"] = config["models"][model]["max_tokens"]
    return sampling


def source_kind(config: dict[str, Any], benchmark: str) -> str:
    """Which configured source a benchmark is read from: ``local``, ``hf`` or ``url``.

    ``data_source: local`` takes the local copy where there is one (LiveCodeBench has none
    here, so it comes from the hub); ``hf`` takes the remote source.
    """
    spec = config["benchmarks"][benchmark]
    if config["data_source"] == "local" and "local" in spec:
        return "local"
    return "hf" if "hf" in spec else "url" if "url" in spec else "local"


def n_samples(config: dict[str, Any], model: str, benchmark: str) -> int:
    """Samples per problem for a (model, benchmark) pair: the model's override or the benchmark's n."""
    benchmark = origin_benchmark(config, benchmark)
    return config["models"][model].get("n", {}).get(benchmark, config["benchmarks"][benchmark]["n"])


def is_imported(config: dict[str, Any], model: str) -> bool:
    """The model's samples come from another tool's files (``samples_from``), not vLLM."""
    return "samples_from" in config["models"][model]


MATH_GRADERS = ("ours", "strict", "paper")
"""Math verdict sets: our extraction (marked answers, else the concluding sentence of a
finished response), "strict" (marked answers only) or the paper repo's order; all three with
our equivalence. The first is the reference the others' disagreements are taken against."""


def grader_for(config: dict[str, Any], benchmark: str) -> str:
    """Whose verdicts a figure plots for a benchmark: ``verify.grader`` for math; code is
    judged by its tests, which only our verifier runs (grader ``ours``)."""
    return "ours" if config["benchmarks"][benchmark]["kind"] == "code" else config["verify"]["grader"]


def load_many(paths: Sequence[str | Path]) -> dict[str, Any]:
    """config.yaml plus overlays, merged like Snakemake's --configfile list, then validated."""
    merged: dict[str, Any] = {}
    for path in paths:
        merged = deep_merge(merged, _read_yaml(path))
    return validate(merged, " + ".join(str(p) for p in paths))
