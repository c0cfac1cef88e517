"""Load, validate and query the workflow configuration.

One JSON schema (``schemas/config.schema.yaml``, linked from ``workflow/schemas/``) is the
contract; on top of it we check the cross references a schema cannot express (a figure
naming an unknown model, a panel whose k range exceeds the samples drawn). Every failure is
one ``ConfigError`` whose message names the offending key, so a typo never surfaces later
as a KeyError inside a cluster job.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml


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
    _check_references(config, source)
    return config


def load(path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a YAML config file, deep-merge ``overrides`` on top, validate."""
    try:
        config = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
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
        for bench in model.get("n", {}):
            if bench not in benchmarks:
                raise ConfigError(f"{source}: models.{name}.n.{bench}: unknown benchmark")
    for name, bench in benchmarks.items():
        if config["data_source"] not in bench:
            raise ConfigError(
                f"{source}: benchmarks.{name}: data_source is {config['data_source']!r} "
                f"but the benchmark has no {config['data_source']!r} source"
            )
    for fig, figure in config["figures"].items():
        for i, bench in enumerate(figure["rows"]):
            if bench not in benchmarks:
                raise ConfigError(f"{source}: figures.{fig}.rows.{i}: unknown benchmark {bench!r}")
        for j, column in enumerate(figure["columns"]):
            for m, model in enumerate(column["models"]):
                if model not in models:
                    raise ConfigError(
                        f"{source}: figures.{fig}.columns.{j}.models.{m}: unknown model {model!r}"
                    )


def config_hash(fragment: Any) -> str:
    """Stable short hash of any JSON-serialisable config fragment."""
    blob = json.dumps(fragment, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class Shard:
    """One sampling job: samples ``start .. start+size-1`` of every problem."""

    index: int
    start: int
    size: int


def n_samples(config: dict[str, Any], model: str, benchmark: str) -> int:
    """Samples per problem for a (model, benchmark) pair: the model's override or the benchmark's n."""
    return config["models"][model].get("n", {}).get(benchmark, config["benchmarks"][benchmark]["n"])


def shards(config: dict[str, Any], model: str, benchmark: str) -> list[Shard]:
    """Seed shards covering n samples; raising n appends shards and leaves old ones intact.

    The size is the benchmark's ``shard_size``, halved by the planner until one sampling job
    fits ``cluster.job_hours``. Samples do not depend on the layout (per-request seeds), so a
    re-sized layout redraws identical samples under new file names.
    """
    from rlvr_boundary.plan import shard_size  # plan builds on this module

    n = n_samples(config, model, benchmark)
    size = shard_size(config, model, benchmark)
    return [Shard(i, start, min(size, n - start)) for i, start in enumerate(range(0, n, size))]


def shard(config: dict[str, Any], model: str, benchmark: str, index: int) -> Shard:
    table = shards(config, model, benchmark)
    if not 0 <= index < len(table):
        raise ConfigError(f"{model}/{benchmark}: no seed shard {index} (there are {len(table)})")
    return table[index]


@dataclass(frozen=True)
class Panel:
    """One pass@k panel of a figure grid."""

    row: int
    col: int
    benchmark: str
    title: str
    models: tuple[str, ...]


def panels(config: dict[str, Any], figure: str) -> list[Panel]:
    spec = config["figures"][figure]
    return [
        Panel(r, c, bench, column["title"], tuple(column["models"]))
        for r, bench in enumerate(spec["rows"])
        for c, column in enumerate(spec["columns"])
    ]


def figure_pairs(config: dict[str, Any], figure: str) -> list[tuple[str, str]]:
    """Distinct (model, benchmark) pairs a figure needs, in panel order."""
    seen: dict[tuple[str, str], None] = {}
    for panel in panels(config, figure):
        for model in panel.models:
            seen[(model, panel.benchmark)] = None
    return list(seen)
