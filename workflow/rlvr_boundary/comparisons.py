"""The statistics stage: every (base, other) pair of a figure's panels, or one pair, from
their counts.

Per pair it writes one row of ``results/stats/{figure}.csv`` (pass@1 and pass@k_max with
intervals, their difference, the crossover k, Delta-SE, the solvable split and the support
change), the paired difference at every k (``.differences.csv``) and the problems of each
solvable set (``.solvable.csv``). All numbers come from ``rlvr_boundary.stats``; this
module only matches problems and writes tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import polars as pl

from rlvr_boundary import stats, tables
from rlvr_boundary.layout import Curve
from rlvr_boundary.specs import Bootstrap, StatsSpec


def matched_counts(first: pl.DataFrame, second: pl.DataFrame, where: str) -> pl.DataFrame:
    """The two models' counts side by side, problem by problem; different problem sets are an error."""
    if first["problem_id"].to_list() != second["problem_id"].to_list():
        missing = set(first["problem_id"]) ^ set(second["problem_id"])
        detail = f"e.g. {sorted(missing)[0]!r} is in one only" if missing else "the problems are in another order"
        raise ValueError(f"{where}: the two models were not run on the same problems ({detail})")
    return first.select("index", n_a="n", c_a="c").with_columns(n_b=second["n"], c_b=second["c"])


def _indices(frame: pl.DataFrame, positions) -> str:
    return ", ".join(str(i) for i in frame["index"].gather(positions).to_list())


def compare_matched(pair: pl.DataFrame, boot: Bootstrap, delta_se_k: int) -> stats.PairComparison:
    """``stats.compare_pair`` of a ``matched_counts`` pair under the config's bootstrap."""
    return stats.compare_pair(
        pair["n_a"],
        pair["c_a"],
        pair["n_b"],
        pair["c_b"],
        resamples=boot.resamples,
        level=boot.level,
        seed=boot.seed,
        delta_se_k=delta_se_k,
    )


def _curve(spec: StatsSpec, model: str, benchmark: str) -> Curve:
    return next(c for c in spec.curves if c.model == model and c.benchmark == benchmark)


def pair_tables(spec: StatsSpec, counts: Mapping[Curve, pl.DataFrame]) -> tuple[pl.DataFrame, ...]:
    """(statistics, differences, solvable sets) of the spec's comparisons, in its order."""
    boot = spec.bootstrap
    rows, differences, sets = [], [], []
    for comparison in spec.comparisons:
        panel, model_a, model_b = spec.panels[comparison.panel], comparison.model_a, comparison.model_b
        curve_a, curve_b = (_curve(spec, model, panel.benchmark) for model in (model_a, model_b))
        where = f"{spec.name}, panel {panel.title!r}, {panel.benchmark}: {model_a} vs {model_b}"
        pair = matched_counts(counts[curve_a], counts[curve_b], where)
        result = compare_matched(pair, boot, spec.delta_se_k)
        key = {
            "panel": panel.title,
            "benchmark": panel.benchmark,
            "grader": curve_a.grader,
            "model_a": model_a,
            "model_b": model_b,
        }
        intervals = {
            "pass1_a": result.pass1_a,
            "pass1_b": result.pass1_b,
            "pass_kmax_a": result.pass_kmax_a,
            "pass_kmax_b": result.pass_kmax_b,
            "difference_kmax": result.difference_kmax,
            "delta_se": result.delta_se,
        }
        support = result.support
        rows.append(
            {
                **key,
                "label_a": spec.models[model_a]["label"],
                "label_b": spec.models[model_b]["label"],
                "n_problems": pair.height,
                "k_max": result.k_max,
                **{
                    f"{name}{end}": value
                    for name, interval in intervals.items()
                    for end, value in (("", interval.estimate), ("_low", interval.low), ("_high", interval.high))
                },
                "crossover_k": result.crossover.k,
                "crossover_low": result.crossover.low,
                "crossover_high": result.crossover.high,
                "crossover_none_share": result.crossover.none_share,
                "delta_se_k": result.delta_se_k,
                "both": support.preserved,
                "only_a": support.shrunk,
                "only_b": support.expanded,
                "neither": support.out,
                "srr": support.srr,
                "ndr": support.ndr,
                "sds": support.sds,
                "nscr": support.nscr,
                **asdict(boot),
            }
        )
        differences.append(result.difference.select(*(pl.lit(v).alias(k) for k, v in key.items()), pl.all()))
        for name, positions in stats.solvable_sets(pair["c_a"], pair["c_b"]).items():
            sets.append({**key, "set": name, "problems": len(positions), "indices": _indices(pair, positions)})
    # a figure of one model per panel (an imported run on its own) has no pair: empty tables
    difference = pl.concat(differences) if differences else pl.DataFrame(schema=tables.PAIR_DIFFERENCE.columns)
    return (
        tables.check(pl.DataFrame(rows, schema=tables.PAIR_STATS.columns), tables.PAIR_STATS, spec.name),
        tables.check(difference, tables.PAIR_DIFFERENCE, spec.name),
        tables.check(pl.DataFrame(sets, schema=tables.SOLVABLE_SETS.columns), tables.SOLVABLE_SETS, spec.name),
    )


def figure_stats(spec: StatsSpec, counts_paths: Sequence[str | Path], outputs: Sequence[str | Path]) -> None:
    """The stage: counts files (in ``spec.curves`` order) in; statistics, differences and
    solvable sets out, each a CSV, and the summary of the counts' provenance as JSON."""
    if len(counts_paths) != len(spec.curves):
        raise ValueError(f"{spec.name}: {len(spec.curves)} curves but {len(counts_paths)} counts files")
    counts = {c: tables.read(p, tables.COUNTS) for c, p in zip(spec.curves, counts_paths, strict=True)}
    schemas = (tables.PAIR_STATS, tables.PAIR_DIFFERENCE, tables.SOLVABLE_SETS)
    *csvs, provenance = outputs
    for frame, output, schema in zip(pair_tables(spec, counts), csvs, schemas, strict=True):
        tables.write_csv(frame, output, schema)
    tables.write_json(tables.provenance_summary(counts_paths), provenance)
