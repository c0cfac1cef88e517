"""Figures and tables: pass@k grids in the paper's layout, drawn from pass@k tables only,
and the solvable-problem tables (Tables 4, 5), made from per-problem counts. The figure
stage reads tables and the grid layout; it knows no model, verifier or cluster.

A figure is a grid (rows = benchmarks, columns = model groups); each panel plots pass@k
against k on a log2 axis for its models, with the paper's convention of base vs RL colours.
Every PDF gets a CSV beside it with exactly the plotted numbers, so a reviewer can check a
point without parsing a plot.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt
import polars as pl
import seaborn as sns

from rlvr_boundary import tables
from rlvr_boundary.layout import Curve, Panel

ROLE_COLOURS = {"base": "#1f77b4", "rl": "#d62728", "instruct": "#2ca02c", "distill": "#9467bd"}
PANEL_WIDTH_IN, PANEL_HEIGHT_IN = 3.2, 2.6
TITLE_CHARS_PER_INCH = 11  # suptitle at 12 pt: a title wraps before it outgrows the page


def figure_table(
    panels: Sequence[Panel], curves: Mapping[Curve, str | Path], models: Mapping[str, Mapping[str, str]]
) -> pl.DataFrame:
    """Long table of every plotted point: one row per (panel, grader, model, k).

    Within a panel every curve is cut to the smallest n among them, so no curve is drawn
    past the samples another one has.
    """
    frames = []
    for panel in panels:
        graders = sorted({c.grader for c in curves if c.benchmark == panel.benchmark})
        if not graders:
            raise ValueError(f"figure panel {panel.title!r} ({panel.benchmark}): no pass@k table for its benchmark")
        wanted = [Curve(grader, model, panel.benchmark) for grader in graders for model in panel.models]
        missing = [c for c in wanted if c not in curves]
        if missing:
            raise ValueError(f"figure panel {panel.title!r} ({panel.benchmark}): no pass@k table for {missing[0]}")
        mine = {c: tables.read(curves[c], tables.PASSK) for c in wanted}
        k_max = min(int(curve["k"].max()) for curve in mine.values())
        for curve, table in mine.items():
            frames.append(
                table.filter(pl.col("k") <= k_max).select(
                    pl.lit(panel.row, pl.Int64).alias("row"),
                    pl.lit(panel.col, pl.Int64).alias("col"),
                    pl.lit(panel.title).alias("panel"),
                    pl.lit(panel.benchmark).alias("benchmark"),
                    pl.lit(panel.benchmark_label or panel.benchmark).alias("benchmark_label"),
                    pl.lit(curve.model).alias("model"),
                    pl.lit(models[curve.model]["label"]).alias("label"),
                    pl.lit(models[curve.model]["role"]).alias("role"),
                    pl.lit(curve.grader).alias("grader"),
                    "k",
                    "pass_at_k",
                    "n_problems",
                )
            )
    return pl.concat(frames)


def grid_figure(points: pl.DataFrame, title: str, note: str | None = None) -> plt.Figure:
    """The figure grid of ``points``: one panel per (row, col); a long title wraps to the page."""
    sns.set_theme(style="whitegrid", context="paper")
    n_rows, n_cols = int(points["row"].max()) + 1, int(points["col"].max()) + 1
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(PANEL_WIDTH_IN * n_cols, PANEL_HEIGHT_IN * n_rows), squeeze=False)
    by_grader = points["grader"].n_unique() > 1
    for (row, col), panel in points.group_by(["row", "col"], maintain_order=True):
        ax = axes[row][col]
        data = panel.to_pandas()
        sns.lineplot(
            data=data,
            x="k",
            y="pass_at_k",
            hue="label",
            style="grader" if by_grader else "role",
            palette=[ROLE_COLOURS[r] for r in data.drop_duplicates("label")["role"]],
            markers=False,
            dashes=by_grader,
            ax=ax,
            linewidth=1.6,
        )
        powers = data[(data["k"] & (data["k"] - 1)) == 0]
        for _, group in powers.groupby(["label", "grader"] if by_grader else "label", sort=False):
            ax.plot(group["k"], group["pass_at_k"], "o", ms=3, color=ROLE_COLOURS[group["role"].iloc[0]])
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{panel['panel'][0]} — {panel['benchmark_label'][0]}", fontsize=9)
        ax.set_xlabel("k" if row == n_rows - 1 else "")
        ax.set_ylabel("pass@k" if col == 0 else "")
        handles, labels = ax.get_legend_handles_labels()
        shown = set(data["label"]) | (set(data["grader"]) if by_grader else set())
        keep = [(h, lab) for h, lab in zip(handles, labels, strict=True) if lab in shown]
        ax.legend(*zip(*keep, strict=True), fontsize=7, loc="lower right")
    width_chars = int(PANEL_WIDTH_IN * n_cols * TITLE_CHARS_PER_INCH)
    title_lines = textwrap.wrap(title, width_chars) or [""]
    fig.suptitle("\n".join(title_lines))
    if note:
        fig.text(
            0.5, 0.005, "\n".join(textwrap.wrap(note, int(width_chars * 1.4))), ha="center", fontsize=8, style="italic"
        )
    title_share = 0.03 * len(title_lines) / n_rows
    fig.tight_layout(rect=(0, 0.02 if note else 0, 1, 1 - title_share))
    return fig


def draw(points: pl.DataFrame, title: str, pdf: str | Path, note: str | None = None) -> None:
    """Render the grid to ``pdf`` and write ``points`` as CSV beside it (both atomically)."""
    fig = grid_figure(points, title, note)
    pdf = Path(pdf)
    with tables.atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf")
    plt.close(fig)
    tables.write_csv(points, pdf.with_suffix(".csv"), tables.FIGURE_POINTS)


def solvable_table(
    counts: Mapping[str, pl.DataFrame], labels: Mapping[str, str], indices: Sequence[int] | None = None
) -> pl.DataFrame:
    """Tables 4 and 5: per model, the 0-based indices of problems with at least one correct
    sample (pass@n > 0), then the indices only the first or only the second model solves.

    ``counts`` maps two models, in order, to their (n, c) tables; ``indices`` = [first, last)
    restricts the listing (Table 5 shows LiveCodeBench problems 400-449).
    """
    solved: dict[str, list[int]] = {}
    for model, table in counts.items():
        rows = table.filter(pl.col("c") > 0)
        if indices is not None:
            rows = rows.filter(pl.col("index").is_between(indices[0], indices[1], closed="left"))
        solved[model] = sorted(rows["index"].to_list())
    first, second = list(counts)
    only = {
        f"only {labels[first]}": sorted(set(solved[first]) - set(solved[second])),
        f"only {labels[second]}": sorted(set(solved[second]) - set(solved[first])),
    }
    lines = [(labels[m], m, solved[m]) for m in (first, second)] + [(name, "", ids) for name, ids in only.items()]
    return pl.DataFrame(
        {
            "row": [name for name, _, _ in lines],
            "model": [model for _, model, _ in lines],
            "n_solvable": [len(ids) for _, _, ids in lines],
            "indices": [", ".join(map(str, ids)) for _, _, ids in lines],
        }
    )


def write_solvable(
    counts_paths: Sequence[str | Path],
    models: Sequence[str],
    labels: Mapping[str, str],
    indices: Sequence[int] | None,
    output: str | Path,
) -> None:
    """The solvable-table stage: read two models' counts, write Table 4/5 as CSV."""
    if len(counts_paths) != len(models):
        raise ValueError(f"solvable: {len(models)} models but {len(counts_paths)} counts files")
    counts = {m: tables.read(p, tables.COUNTS) for m, p in zip(models, counts_paths, strict=True)}
    tables.write_csv(solvable_table(counts, labels, indices), output, tables.SOLVABLE)
