"""Figures and tables: pass@k grids in the paper's layout, drawn from pass@k tables (with
their bootstrap bands) and the statistics table (crossover marks); accuracy histograms
(Figs. 5, 13) and the solvable-problem tables (Tables 4, 5), made from per-problem counts.
The figure stage reads tables and the grid layout; it knows no model, verifier or cluster.

A figure is a grid (rows = benchmarks, columns = model groups); each pass@k panel plots
pass@k against k on a log2 axis for its models, with the paper's convention of base vs RL
colours. Every PDF gets a CSV beside it with exactly the plotted numbers, so a reviewer can
check a point without parsing a plot, and a JSON summary of its inputs' provenance.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np

mpl.use("Agg")
import matplotlib.pyplot as plt
import polars as pl
import seaborn as sns

from rlvr_boundary import stats, tables
from rlvr_boundary.comparisons import matched_counts
from rlvr_boundary.layout import Curve, Panel
from rlvr_boundary.specs import FigureSpec, PerplexityFigureSpec

ROLE_COLOURS = {"base": "#1f77b4", "rl": "#d62728", "instruct": "#2ca02c", "distill": "#9467bd", "matched": "#ff7f0e"}
"""Curve colours by role; ``matched`` is Fig. 17's RL model at the entropy-matched temperature."""
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
                    "low",
                    "high",
                    "n_problems",
                )
            )
    return pl.concat(frames)


def _paths_by_curve(spec: FigureSpec, paths: Sequence[str | Path], what: str) -> dict[Curve, str | Path]:
    if len(spec.curves) != len(paths):
        raise ValueError(f"figure: {len(spec.curves)} curves in the spec but {len(paths)} {what} files")
    return dict(zip(spec.curves, paths, strict=True))


def label_colours(data: Any) -> dict[str, Any]:
    """One colour per model label, in order of appearance, by the model's role; a role's
    second and later models (an RL run's checkpoints, two algorithms) get darker shades of it."""
    colours: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for label, role in data.drop_duplicates("label")[["label", "role"]].itertuples(index=False):
        shade = seen.get(role, 0)
        seen[role] = shade + 1
        colours[label] = mpl.colors.to_hex(np.array(mpl.colors.to_rgb(ROLE_COLOURS[role])) * 0.72**shade)
    return colours


def _palette(data: Any) -> list[str]:
    return list(label_colours(data).values())


def _grid(points: pl.DataFrame) -> tuple[plt.Figure, Any, int, int]:
    sns.set_theme(style="whitegrid", context="paper")
    n_rows, n_cols = int(points["row"].max()) + 1, int(points["col"].max()) + 1
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(PANEL_WIDTH_IN * n_cols, PANEL_HEIGHT_IN * n_rows), squeeze=False)
    return fig, axes, n_rows, n_cols


def _mark_crossovers(ax: plt.Axes, crossovers: pl.DataFrame, colours: Mapping[str, Any]) -> None:
    """A dotted line at each pair's crossover k (base >= the other from there), its interval
    shaded, in the other model's colour (``colours``: by model)."""
    for row in crossovers.iter_rows(named=True):
        if row["crossover_k"] is None:
            continue
        colour = colours[row["model_b"]]
        if row["crossover_low"] is not None and row["crossover_high"] is not None:
            ax.axvspan(row["crossover_low"], row["crossover_high"], color=colour, alpha=0.06, lw=0)
        ax.axvline(row["crossover_k"], color=colour, ls=":", lw=1.2)
        ax.annotate(
            f"k={row['crossover_k']}",
            (row["crossover_k"], 0.03),
            fontsize=6,
            color=colour,
            xytext=(2, 0),
            textcoords="offset points",
        )


def grid_figure(
    points: pl.DataFrame,
    title: str,
    note: str | None = None,
    *,
    bands: bool = True,
    crossovers: pl.DataFrame | None = None,
) -> plt.Figure:
    """The figure grid of ``points``: one panel per (row, col); a long title wraps to the page.

    ``bands`` shades each curve's bootstrap interval; ``crossovers`` (rows of the statistics
    table) marks where a base model reaches the other model of its pair.
    """
    fig, axes, n_rows, n_cols = _grid(points)
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
            palette=_palette(data),
            markers=False,
            dashes=by_grader,
            ax=ax,
            linewidth=1.6,
            errorbar=None,
        )
        colours = label_colours(data)
        powers = data[(data["k"] & (data["k"] - 1)) == 0]
        for _, group in powers.groupby(["label", "grader"] if by_grader else "label", sort=False):
            ax.plot(group["k"], group["pass_at_k"], "o", ms=3, color=colours[group["label"].iloc[0]])
        if bands:
            for _, group in data.groupby(["label", "grader"], sort=False):
                colour = colours[group["label"].iloc[0]]
                ax.fill_between(group["k"], group["low"], group["high"], color=colour, alpha=0.18, lw=0)
        if crossovers is not None:
            mine = crossovers.filter(
                (pl.col("panel") == panel["panel"][0]) & (pl.col("benchmark") == panel["benchmark"][0])
            )
            _mark_crossovers(ax, mine, {m: colours[lab] for m, lab in zip(data["model"], data["label"], strict=True)})
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{panel['panel'][0]} — {panel['benchmark_label'][0]}", fontsize=9)
        ax.set_xlabel("k" if row == n_rows - 1 else "")
        ax.set_ylabel("pass@k" if col == 0 else "")
        handles, labels = ax.get_legend_handles_labels()
        shown = set(data["label"]) | (set(data["grader"]) if by_grader else set())
        keep = [(h, lab) for h, lab in zip(handles, labels, strict=True) if lab in shown]
        ax.legend(*zip(*keep, strict=True), fontsize=7, loc="lower right")
    titles(fig, title, note, n_rows, n_cols)
    return fig


def titles(fig: plt.Figure, title: str, note: str | None, n_rows: int, n_cols: int) -> None:
    width_chars = int(PANEL_WIDTH_IN * n_cols * TITLE_CHARS_PER_INCH)
    title_lines = textwrap.wrap(title, width_chars) or [""]
    fig.suptitle("\n".join(title_lines))
    if note:
        fig.text(
            0.5, 0.005, "\n".join(textwrap.wrap(note, int(width_chars * 1.4))), ha="center", fontsize=8, style="italic"
        )
    title_share = 0.03 * len(title_lines) / n_rows
    fig.tight_layout(rect=(0, 0.02 if note else 0, 1, 1 - title_share))


def provenance_path(pdf: str | Path) -> Path:
    """Where a figure's provenance summary goes: beside it, ``{fig}.provenance.json``."""
    return Path(pdf).with_suffix(".provenance.json")


def save_figure(fig: plt.Figure, pdf: str | Path) -> None:
    with tables.atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf")
    plt.close(fig)


def draw(
    points: pl.DataFrame,
    title: str,
    pdf: str | Path,
    note: str | None = None,
    *,
    bands: bool = True,
    crossovers: pl.DataFrame | None = None,
) -> None:
    """Render the grid to ``pdf`` and write ``points`` as CSV beside it (both atomically)."""
    save_figure(grid_figure(points, title, note, bands=bands, crossovers=crossovers), pdf)
    tables.write_csv(points, Path(pdf).with_suffix(".csv"), tables.FIGURE_POINTS)


def passk_figure(
    spec: FigureSpec, passk_paths: Sequence[str | Path], output: str | Path, stats_path: str | Path | None = None
) -> None:
    """The pass@k figure stage: pass@k tables (in ``spec.curves`` order) and, optionally, the
    figure's statistics table in; PDF, CSV and provenance summary out."""
    points = figure_table(spec.panels, _paths_by_curve(spec, passk_paths, "pass@k"), spec.models)
    crossovers = (
        None
        if stats_path is None
        else tables.check(
            pl.read_csv(stats_path, schema_overrides=tables.PAIR_STATS.columns), tables.PAIR_STATS, stats_path
        )
    )
    draw(points, spec.title, output, spec.note, bands=spec.bands, crossovers=crossovers)
    tables.write_json(tables.provenance_summary(passk_paths), provenance_path(output))


def histogram_table(
    panels: Sequence[Panel], curves: Mapping[Curve, str | Path], models: Mapping[str, Mapping[str, str]]
) -> pl.DataFrame:
    """Figs. 5 and 13: per panel and model, problems per bin of accuracy c/n (``stats.ACCURACY_BINS``)."""
    frames = []
    for panel in panels:
        for model in panel.models:
            curve = next((c for c in curves if c.model == model and c.benchmark == panel.benchmark), None)
            if curve is None:
                raise ValueError(f"figure panel {panel.title!r} ({panel.benchmark}): no counts table for {model}")
            counts = tables.read(curves[curve], tables.COUNTS)
            per_bin = stats.accuracy_histogram(counts["n"], counts["c"])
            frames.append(
                pl.DataFrame(
                    {
                        "row": panel.row,
                        "col": panel.col,
                        "panel": panel.title,
                        "benchmark": panel.benchmark,
                        "benchmark_label": panel.benchmark_label or panel.benchmark,
                        "model": model,
                        "label": models[model]["label"],
                        "role": models[model]["role"],
                        "grader": curve.grader,
                        "bin": range(len(stats.ACCURACY_BINS)),
                        "bin_label": stats.ACCURACY_BINS,
                        "problems": per_bin,
                        "percent": 100.0 * per_bin / counts.height,
                        "n": int(counts["n"].min()),
                    },
                    schema=tables.HISTOGRAM.columns,
                )
            )
    return pl.concat(frames)


def histogram_grid(bins: pl.DataFrame, title: str, note: str | None = None) -> plt.Figure:
    """Grouped bars per panel, one colour per model: count on the left axis, percent on the right."""
    fig, axes, n_rows, n_cols = _grid(bins)
    for (row, col), panel in bins.group_by(["row", "col"], maintain_order=True):
        ax = axes[row][col]
        data = panel.to_pandas()
        sns.barplot(
            data=data,
            x="bin_label",
            y="problems",
            hue="label",
            palette=_palette(data),
            ax=ax,
        )
        total = int(panel.filter(pl.col("model") == panel["model"][0])["problems"].sum())
        right = ax.twinx()
        right.set_ylim(0, 100 * ax.get_ylim()[1] / total)
        right.grid(False)
        right.set_ylabel("% of problems" if col == n_cols - 1 else "", fontsize=8)
        ax.set_title(f"{panel['panel'][0]} — {panel['benchmark_label'][0]} (n={panel['n'][0]})", fontsize=9)
        ax.set_xlabel("accuracy c/n" if row == n_rows - 1 else "")
        ax.set_ylabel("problems" if col == 0 else "")
        ax.tick_params(axis="x", labelrotation=60, labelsize=6)
        ax.legend(fontsize=7, loc="best")
    titles(fig, title, note, n_rows, n_cols)
    return fig


def histogram_figure(spec: FigureSpec, counts_paths: Sequence[str | Path], output: str | Path) -> None:
    """The histogram figure stage: counts tables in; PDF, CSV and provenance summary out."""
    bins = histogram_table(spec.panels, _paths_by_curve(spec, counts_paths, "counts"), spec.models)
    save_figure(histogram_grid(bins, spec.title, spec.note), output)
    tables.write_csv(bins, Path(output).with_suffix(".csv"), tables.HISTOGRAM)
    tables.write_json(tables.provenance_summary(counts_paths), provenance_path(output))


def solvable_table(
    counts: Mapping[str, pl.DataFrame], labels: Mapping[str, str], indices: Sequence[int] | None = None
) -> pl.DataFrame:
    """Tables 4 and 5: per model, the 0-based indices of problems with at least one correct
    sample (pass@n > 0), then the indices only the first or only the second model solves:
    the solvable sets of ``stats.solvable_sets``, listed as the paper prints them.

    ``counts`` maps two models, in order, to their (n, c) tables; ``indices`` = [first, last)
    restricts the listing (Table 5 shows LiveCodeBench problems 400-449).
    """
    first, second = list(counts)
    pair = matched_counts(counts[first], counts[second], f"table of {first} vs {second}")
    if indices is not None:
        pair = pair.filter(pl.col("index").is_between(indices[0], indices[1], closed="left"))
    sets = {
        name: sorted(pair["index"].gather(rows).to_list())
        for name, rows in stats.solvable_sets(pair["c_a"], pair["c_b"]).items()
    }
    lines = [
        (labels[first], first, sorted(sets["both"] + sets["only_a"])),
        (labels[second], second, sorted(sets["both"] + sets["only_b"])),
        (f"only {labels[first]}", "", sets["only_a"]),
        (f"only {labels[second]}", "", sets["only_b"]),
    ]
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
    """The solvable-table stage: read two models' counts, write Table 4/5 as CSV and the
    counts' provenance summary beside it."""
    if len(counts_paths) != len(models):
        raise ValueError(f"solvable: {len(models)} models but {len(counts_paths)} counts files")
    counts = {m: tables.read(p, tables.COUNTS) for m, p in zip(models, counts_paths, strict=True)}
    tables.write_csv(solvable_table(counts, labels, indices), output, tables.SOLVABLE)
    tables.write_json(tables.provenance_summary(counts_paths), provenance_path(output))


def read_match(path: str | Path) -> pl.DataFrame:
    """An entropy-match table (CSV, the checkpoint's output), checked against its contract."""
    return tables.check(pl.read_csv(path, schema_overrides=tables.ENTROPY_MATCH.columns), tables.ENTROPY_MATCH, path)


def _entropy_note(row: dict[str, Any], grid: Sequence[float]) -> str:
    """What a Fig. 17 panel says about its match: both entropies and the chosen temperature,
    flagged when it is the grid's end (the true match may lie beyond it)."""
    edge = ", the grid's end" if row["temperature"] in (min(grid), max(grid)) else ""
    return (
        f"entropy {row['reference_entropy']:.3f} (T={row['reference_temperature']:g})"
        f" vs {row['entropy']:.3f} (T={row['temperature']:g}{edge})"
    )


def entropy_figure(
    spec: FigureSpec,
    passk_paths: Sequence[str | Path],
    matched_paths: Sequence[str | Path],
    match_path: str | Path,
    output: str | Path,
) -> None:
    """Fig. 17: per panel, the reference and the probed model at their own temperature, and
    the probed model at the grid temperature whose entropy is nearest the reference's (one
    pass@k table per panel, in panel order). Each panel states both entropies and the
    temperature; the match table is written beside the figure (``{fig}.entropy.csv``)."""
    curves = _paths_by_curve(spec, passk_paths, "pass@k")
    match = read_match(match_path)
    chosen = match.filter(pl.col("chosen")).sort("panel")
    if chosen["panel"].to_list() != list(range(len(spec.panels))) or len(matched_paths) != len(spec.panels):
        raise ValueError(
            f"{match_path}: chosen temperatures for panels {chosen['panel'].to_list()} and"
            f" {len(matched_paths)} matched pass@k tables, for {len(spec.panels)} panels"
        )
    panels, models, notes = [], dict(spec.models), {}
    for panel, row, path in zip(spec.panels, chosen.iter_rows(named=True), matched_paths, strict=True):
        matched = row["model"]
        if matched not in panel.models:
            grader = next(c.grader for c in curves if c.benchmark == panel.benchmark)
            curves[Curve(grader, matched, panel.benchmark)] = path
            models[matched] = {"label": f"{spec.models[matched]['label']} (entropy-matched)", "role": "matched"}
            panel = replace(panel, models=(*panel.models, matched))
        panels.append(panel)
        grid = match.filter(pl.col("panel") == row["panel"])["temperature"].to_list()
        notes[(panel.row, panel.col)] = _entropy_note(row, grid)
    points = figure_table(panels, curves, models)
    fig = grid_figure(points, spec.title, spec.note, bands=spec.bands)
    axes = np.asarray(fig.axes).reshape(int(points["row"].max()) + 1, int(points["col"].max()) + 1)
    for (row, col), text in notes.items():
        axes[row][col].set_title(f"{axes[row][col].get_title()}\n{text}", fontsize=8)
    save_figure(fig, output)
    tables.write_csv(points, Path(output).with_suffix(".csv"), tables.FIGURE_POINTS)
    tables.write_csv(match, Path(output).with_suffix(".entropy.csv"), tables.ENTROPY_MATCH)
    tables.write_json(tables.provenance_summary([*passk_paths, *matched_paths]), provenance_path(output))


BOX_COLOURS = {
    "PPL_Base(Y_Base)": ROLE_COLOURS["base"],
    "PPL_Base(Y_RL)": "#8c9fd4",
    "PPL_RL(Y_RL)": ROLE_COLOURS["rl"],
    "PPL_Base(Y_GT)": "#7f7f7f",
}


def perplexity_table(
    spec: PerplexityFigureSpec, score_paths: Sequence[str | Path], benchmark_path: str | Path
) -> pl.DataFrame:
    """Fig. 6's points: per configured problem and box, the perplexities of the first
    ``spec.responses`` scored responses (lowest sample index first)."""
    if len(score_paths) != len(spec.boxes):
        raise ValueError(f"perplexity figure: {len(spec.boxes)} boxes but {len(score_paths)} score tables")
    problems = tables.read_benchmark(benchmark_path).select("problem_id", "index")
    frames = []
    scores = [tables.read(path, tables.SCORES) for path in score_paths]
    for panel, index in enumerate(spec.problems):
        found = problems.filter(pl.col("index") == index)
        if found.height == 0:
            raise ValueError(f"{benchmark_path}: {spec.benchmark} has no problem with index {index}")
        problem_id = found["problem_id"][0]
        for box, table, path in zip(spec.boxes, scores, score_paths, strict=True):
            mine = table.filter((pl.col("problem_id") == problem_id) & (pl.col("status") == "scored"))
            if mine.height == 0:
                raise ValueError(f"{path}: no scored response to problem {problem_id!r} (index {index})")
            frames.append(
                mine.sort("sample_index")
                .head(spec.responses)
                .select(
                    pl.lit(panel, pl.Int64).alias("panel"),
                    "problem_id",
                    pl.lit(index, pl.Int64).alias("index"),
                    pl.lit(box.label).alias("box"),
                    pl.lit(box.scorer).alias("scorer"),
                    pl.lit(box.responses).alias("responses"),
                    "sample_index",
                    "response_tokens",
                    "perplexity",
                )
            )
    return pl.concat(frames)


def perplexity_figure(
    spec: PerplexityFigureSpec, score_paths: Sequence[str | Path], benchmark_path: str | Path, output: str | Path
) -> None:
    """Fig. 6: one panel per problem, one box per (scorer, responses); PDF, CSV and provenance."""
    points = perplexity_table(spec, score_paths, benchmark_path)
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, len(spec.problems), figsize=(PANEL_WIDTH_IN * len(spec.problems), 3.0), squeeze=False)
    order = [box.label for box in spec.boxes]
    for panel, index in enumerate(spec.problems):
        ax = axes[0][panel]
        data = points.filter(pl.col("panel") == panel).to_pandas()
        sns.boxplot(data=data, x="box", y="perplexity", hue="box", order=order, palette=BOX_COLOURS, ax=ax)
        counts = data.groupby("box").size()
        ax.set_xticks(range(len(order)), [f"{label}\nn={counts.get(label, 0)}" for label in order], fontsize=6)
        ax.set_title(f"{spec.benchmark} problem {index}", fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("perplexity" if panel == 0 else "")
    titles(fig, spec.title, spec.note, 1, len(spec.problems))
    save_figure(fig, output)
    tables.write_csv(points, Path(output).with_suffix(".csv"), tables.PERPLEXITY_POINTS)
    tables.write_json(tables.provenance_summary(score_paths), provenance_path(output))
