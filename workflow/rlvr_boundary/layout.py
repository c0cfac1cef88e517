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


def panels(config: dict[str, Any], figure: str) -> list[Panel]:
    """Panels of a figure: benchmarks down the rows (across the columns when transposed); none
    for a training-curve figure, which reads logs, not samples."""
    spec = config["figures"][figure]
    if spec["kind"] == "training":
        return []
    flip = spec.get("transpose", False)
    return [
        Panel(
            c if flip else r,
            r if flip else c,
            bench,
            column["title"],
            tuple(column["models"]),
            config["benchmarks"][bench].get("label", bench),
        )
        for r, bench in enumerate(spec["rows"])
        for c, column in enumerate(spec["columns"])
    ]


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
