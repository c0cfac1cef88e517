"""Figure layout: which pass@k panels a configured figure has, and the curves it plots.

A figure is a grid: benchmarks down the rows and model groups across the columns (swapped
when ``transpose``); a panel plots pass@k against k for its models. This module knows the
grid only: it loads no tables and no cluster model, so the figure stage stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Panel:
    """One pass@k panel of a figure grid."""

    row: int
    col: int
    benchmark: str
    title: str
    models: tuple[str, ...]
    benchmark_label: str = ""


@dataclass(frozen=True)
class Curve:
    """One plotted pass@k curve: whose verdicts, which model, which benchmark."""

    grader: str
    model: str
    benchmark: str


def available(config: dict[str, Any], model: str) -> bool:
    """Whether a model can have curves: weights to sample (hub id or path) or imported samples;
    an ``unreleased`` model without either is left out of the panels."""
    spec = config["models"][model]
    return "unreleased" not in spec or bool({"hf_id", "path", "samples_from"} & set(spec))


def panels(config: dict[str, Any], figure: str) -> list[Panel]:
    """Panels of a figure: benchmarks down the rows (across the columns when transposed); none
    for a training-curve figure, which reads logs, not samples.

    A model group restricted to some benchmarks (``benchmarks``) gets panels on those only, and
    a benchmark's panels sit side by side, so Fig. 4's code pair on two benchmarks and visual
    pair on two others make one row of four. Unreleased models are left out.
    """
    spec = config["figures"][figure]
    if spec["kind"] == "training":
        return []
    flip = spec.get("transpose", False)
    grid = []
    for r, bench in enumerate(spec["rows"]):
        groups = [column for column in spec["columns"] if bench in column.get("benchmarks", spec["rows"])]
        for c, column in enumerate(groups):
            models = tuple(m for m in column["models"] if available(config, m))
            if models:
                label = config["benchmarks"][bench].get("label", bench)
                grid.append(Panel(c if flip else r, r if flip else c, bench, column["title"], models, label))
    return grid


def unreleased_models(config: dict[str, Any], figure: str) -> list[str]:
    """The figure's models left out because their weights are not public."""
    spec = config["figures"][figure]
    named = dict.fromkeys(m for column in spec.get("columns", []) for m in column["models"])
    return [m for m in named if not available(config, m)]


def pairs(grid: list[Panel]) -> list[tuple[str, str]]:
    """Distinct (model, benchmark) pairs of the panels, in panel order."""
    return list(dict.fromkeys((model, panel.benchmark) for panel in grid for model in panel.models))


def figure_pairs(config: dict[str, Any], figure: str) -> list[tuple[str, str]]:
    """Distinct (model, benchmark) pairs a figure needs, in panel order."""
    return pairs(panels(config, figure))


def panel_pairs(panel: Panel, roles: dict[str, str]) -> list[tuple[str, str]]:
    """The (reference, other) pairs a panel compares: its first base model (else its first
    model) against each other model, so a four-model panel gives three pairs."""
    reference = next((m for m in panel.models if roles[m] == "base"), panel.models[0])
    return [(reference, model) for model in panel.models if model != reference]
