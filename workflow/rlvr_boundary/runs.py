"""Analyses of RL training runs: the training curves (Fig. 18) and the pass@1 / pass@k table
with Delta-SE (Tables 2 and 3).

Both read tables only: training logs (``tables.TRAINING_LOG``, written by ``rl-train`` or
converted from another trainer's log) and per-problem counts. The curves are drawn raw and
as a centred rolling mean, since one step's reward over its few rollouts is noisy; the
CSV beside the PDF holds both. Every pass@k and Delta-SE in the table carries its problem-
bootstrap interval, which the paper's tables did not.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import polars as pl
import seaborn as sns

from rlvr_boundary import stats, tables
from rlvr_boundary.comparisons import compare_matched, matched_counts
from rlvr_boundary.figures import PANEL_HEIGHT_IN, PANEL_WIDTH_IN, provenance_path, save_figure, titles
from rlvr_boundary.specs import BoundaryTableSpec, TrainingFigureSpec

METRICS = {"reward": "mean reward", "mean_length": "response length (tokens)", "entropy": "token entropy (nats)"}
"""Fig. 18's panels: training-log column -> axis label."""


def training_points(spec: TrainingFigureSpec, logs: Sequence[str | Path]) -> pl.DataFrame:
    """The plotted numbers: per run, step and metric, the logged value and its rolling mean."""
    if len(logs) != len(spec.runs):
        raise ValueError(f"training figure: {len(spec.runs)} runs but {len(logs)} logs")
    frames = []
    for run, path in zip(spec.runs, logs, strict=True):
        log = tables.read(path, tables.TRAINING_LOG).sort("step")
        if log.height == 0:
            raise ValueError(f"{path}: the training log has no steps")
        frames.extend(
            log.select(
                pl.lit(run).alias("run"),
                pl.lit(spec.labels[run]).alias("label"),
                pl.lit(metric).alias("metric"),
                "step",
                pl.col(metric).alias("value"),
                pl.col(metric).rolling_mean(spec.smooth, center=True, min_samples=1).alias("smoothed"),
            )
            for metric in METRICS
        )
    return tables.check(pl.concat(frames), tables.TRAINING_POINTS, "training figure")


def training_figure(spec: TrainingFigureSpec, logs: Sequence[str | Path], output: str | Path) -> None:
    """Fig. 18: one panel per metric, one colour per run (faint raw values, the rolling mean
    on top); PDF, CSV and the logs' provenance out."""
    points = training_points(spec, logs)
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, len(METRICS), figsize=(PANEL_WIDTH_IN * len(METRICS), PANEL_HEIGHT_IN), squeeze=False)
    palette = dict(zip(spec.runs, sns.color_palette(n_colors=len(spec.runs)), strict=True))
    for ax, (metric, axis_label) in zip(axes[0], METRICS.items(), strict=True):
        for run in spec.runs:
            data = points.filter((pl.col("run") == run) & (pl.col("metric") == metric))
            ax.plot(data["step"], data["value"], color=palette[run], alpha=0.25, linewidth=0.8)
            ax.plot(data["step"], data["smoothed"], color=palette[run], linewidth=1.6, label=spec.labels[run])
        ax.set_xlabel("training step")
        ax.set_title(axis_label, fontsize=9)
        ax.legend(fontsize=7, loc="best")
    titles(fig, spec.title, spec.note, 1, len(METRICS))
    save_figure(fig, output)
    tables.write_csv(points, Path(output).with_suffix(".csv"), tables.TRAINING_POINTS)
    tables.write_json({str(p): tables.read_provenance(p) for p in logs}, provenance_path(output))


def boundary_table(spec: BoundaryTableSpec, counts_paths: Sequence[str | Path]) -> pl.DataFrame:
    """Tables 2 and 3: per benchmark and model, pass@1 and pass@k (k = ``spec.k``, else the
    samples per problem) with bootstrap intervals, and Delta-SE = the base's pass@k minus
    the model's pass@1 with its paired interval from ``stats.compare_pair`` (the figures'
    statistics table has the same number); empty on the base's own row.

    ``counts_paths`` are in ``spec.models`` order, each model's in ``spec.benchmarks`` order.
    """
    expected = len(spec.models) * len(spec.benchmarks)
    if len(counts_paths) != expected:
        raise ValueError(f"{spec.title}: {expected} counts tables expected, got {len(counts_paths)}")
    paths = iter(counts_paths)
    counts = {(m, b): tables.read(next(paths), tables.COUNTS) for m in spec.models for b in spec.benchmarks}
    boot = spec.bootstrap
    rows = []
    for bench in spec.benchmarks:
        k = spec.k or int(min(counts[m, bench]["n"].min() for m in spec.models))
        for model in spec.models:
            table = counts[model, bench]
            curve = stats.bootstrap_curve(
                table["n"], table["c"], [1, k], resamples=boot.resamples, level=boot.level, seed=boot.seed
            )
            gap: tuple[float | None, ...] = (None, None, None)
            if spec.base is not None and model != spec.base:
                where = f"{spec.title}: {spec.base} vs {model} on {bench}"
                delta = compare_matched(matched_counts(counts[spec.base, bench], table, where), boot, k).delta_se
                gap = (delta.estimate, delta.low, delta.high)
            one, at_k = curve.row(0, named=True), curve.row(1, named=True)
            rows.append(
                {
                    "benchmark": bench,
                    "model": model,
                    "label": spec.labels[model],
                    "problems": table.height,
                    "k": k,
                    "pass_at_1": one["pass_at_k"],
                    "pass_at_1_low": one["low"],
                    "pass_at_1_high": one["high"],
                    "pass_at_k": at_k["pass_at_k"],
                    "pass_at_k_low": at_k["low"],
                    "pass_at_k_high": at_k["high"],
                    "delta_se": gap[0],
                    "delta_se_low": gap[1],
                    "delta_se_high": gap[2],
                }
            )
    return tables.check(pl.DataFrame(rows, schema=tables.BOUNDARY_TABLE.columns), tables.BOUNDARY_TABLE, spec.title)


def write_boundary_table(spec: BoundaryTableSpec, counts_paths: Sequence[str | Path], output: str | Path) -> None:
    """The table stage: counts in; the CSV and the counts' provenance summary out."""
    tables.write_csv(boundary_table(spec, counts_paths), output, tables.BOUNDARY_TABLE)
    tables.write_json(tables.provenance_summary(list(counts_paths)), provenance_path(output))
