"""Figures and tables: pass@k grids in the paper's layout, drawn from pass@k tables only,
and the solvable-problem tables (Tables 4, 5), made from per-problem counts.

A figure is a grid (rows = benchmarks, columns = model groups); each panel plots pass@k
against k on a log2 axis for its models, with the paper's convention of base vs RL colours.
Every PDF gets a CSV beside it with exactly the plotted numbers, so a reviewer can check a
point without parsing a plot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
import seaborn as sns  # noqa: E402

from rlvr_boundary import tables  # noqa: E402
from rlvr_boundary.config import Panel  # noqa: E402

ROLE_COLOURS = {"base": "#1f77b4", "rl": "#d62728", "instruct": "#2ca02c", "distill": "#9467bd"}
ROLE_ORDER = ["base", "rl", "instruct", "distill"]


def _panel_columns(panel: Panel, model: str, models: Mapping[str, Mapping[str, str]]) -> list[pl.Expr]:
    """The columns that say which panel and model a plotted point belongs to."""
    return [
        pl.lit(panel.row).alias("row"), pl.lit(panel.col).alias("col"),
        pl.lit(panel.title).alias("panel"), pl.lit(panel.benchmark).alias("benchmark"),
        pl.lit(panel.benchmark_label or panel.benchmark).alias("benchmark_label"),
        pl.lit(model).alias("model"), pl.lit(models[model]["label"]).alias("label"),
        pl.lit(models[model]["role"]).alias("role"),
    ]


def figure_table(panels: Sequence[Panel], passk_paths: Mapping[tuple[str, str], str | Path],
                 models: Mapping[str, Mapping[str, str]]) -> pl.DataFrame:
    """Long table of every plotted point: one row per (panel, model, k)."""
    frames = []
    for panel in panels:
        curves = {m: tables.read_parquet(passk_paths[(m, panel.benchmark)]) for m in panel.models}
        k_max = min(int(curve["k"].max()) for curve in curves.values())
        for model, curve in curves.items():
            frames.append(curve.filter(pl.col("k") <= k_max).select(
                *_panel_columns(panel, model, models), "k", "pass_at_k", "n_problems",
            ))
    return pl.concat(frames)


def grader_table(panels: Sequence[Panel], curve_paths: Mapping[tuple[str, str], str | Path],
                 models: Mapping[str, Mapping[str, str]]) -> pl.DataFrame:
    """Like ``figure_table`` for grader-comparison tables: one row per (panel, model, grader, k)."""
    frames = []
    for panel in panels:
        for model in panel.models:
            curves = tables.read_parquet(curve_paths[(model, panel.benchmark)])
            for grader in ("ours", "paper"):
                frames.append(curves.select(
                    *_panel_columns(panel, model, models), pl.lit(grader).alias("grader"),
                    "k", pl.col(f"pass_at_k_{grader}").alias("pass_at_k"),
                ))
    return pl.concat(frames)


def draw(points: pl.DataFrame, title: str, pdf: str | Path, note: str | None = None) -> None:
    """Render the grid to ``pdf`` and write ``points`` as CSV beside it (both atomically)."""
    sns.set_theme(style="whitegrid", context="paper")
    n_rows, n_cols = int(points["row"].max()) + 1, int(points["col"].max()) + 1
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 2.6 * n_rows), squeeze=False)
    for (row, col), panel in points.group_by(["row", "col"], maintain_order=True):
        ax = axes[row][col]
        data = panel.to_pandas()
        by_grader = "grader" in data.columns
        sns.lineplot(data=data, x="k", y="pass_at_k", hue="label", style="grader" if by_grader else "role",
                     palette=[ROLE_COLOURS[r] for r in data.drop_duplicates("label")["role"]],
                     markers=False, dashes=by_grader, ax=ax, linewidth=1.6)
        powers = data[(data["k"] & (data["k"] - 1)) == 0]
        for _, group in powers.groupby(["label", "grader"] if by_grader else "label", sort=False):
            ax.plot(group["k"], group["pass_at_k"], "o", ms=3,
                    color=ROLE_COLOURS[group["role"].iloc[0]])
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{panel['panel'][0]} — {panel['benchmark_label'][0]}", fontsize=9)
        ax.set_xlabel("k" if row == n_rows - 1 else "")
        ax.set_ylabel("pass@k" if col == 0 else "")
        handles, labels = ax.get_legend_handles_labels()
        shown = set(data["label"]) | (set(data["grader"]) if by_grader else set())
        keep = [(h, lab) for h, lab in zip(handles, labels) if lab in shown]
        ax.legend(*zip(*keep), fontsize=7, loc="lower right")
    fig.suptitle(title)
    if note:
        fig.text(0.5, 0.005, note, ha="center", fontsize=8, style="italic")
    fig.tight_layout(rect=(0, 0.02 if note else 0, 1, 0.97))
    pdf = Path(pdf)
    with tables.atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf")
    plt.close(fig)
    write_csv(points, pdf.with_suffix(".csv"))


def solvable_table(counts: Mapping[str, pl.DataFrame], labels: Mapping[str, str],
                   indices: Sequence[int] | None = None) -> pl.DataFrame:
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
    return pl.DataFrame({
        "row": [name for name, _, _ in lines],
        "model": [model for _, model, _ in lines],
        "n_solvable": [len(ids) for _, _, ids in lines],
        "indices": [", ".join(map(str, ids)) for _, _, ids in lines],
    })


def write_csv(frame: pl.DataFrame, path: str | Path) -> None:
    with tables.atomic_path(path) as tmp:
        frame.write_csv(tmp)
