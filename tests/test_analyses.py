"""The count-based stages: per-curve bands, per-shard curves, pair statistics, histograms,
lucky-guess pages and the figures that draw them, on constructed tables with known answers."""

from __future__ import annotations

import json
from fractions import Fraction
from math import comb
from pathlib import Path

import matplotlib as mpl
import numpy as np
import polars as pl
import pytest

from rlvr_boundary import comparisons, curves, dag, figures, layout, lucky, stats, tables
from rlvr_boundary.config import ConfigError, validate
from rlvr_boundary.layout import Curve, Panel
from rlvr_boundary.specs import (
    Bootstrap,
    Comparison,
    CurveSpec,
    FigureSpec,
    LuckySpec,
    Shard,
    ShardCurveSpec,
    StatsSpec,
)

MODELS = {"base": {"label": "Base", "role": "base"}, "rl": {"label": "RL", "role": "rl"}}


def _counts_frame(c: list[int], n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"problem_id": [f"p{i}" for i in range(len(c))], "index": range(len(c)), "n": [n] * len(c), "c": c},
        schema=tables.COUNTS.columns,
    )


def _write_counts(path: Path, c: list[int], n: int) -> Path:
    tables.write(_counts_frame(c, n), path, tables.COUNTS, tables.provenance(stage="count", benchmark="b"))
    return path


def _exact_curve(c: list[int], n: int, k: int) -> float:
    return float(sum((1 - Fraction(comb(n - x, k), comb(n, k)) for x in c), Fraction(0)) / len(c))


BASE_C = [0, 1, 2, 5, 16, 0, 3, 8, 1, 12]  # solves many problems rarely
RL_C = [0, 0, 9, 14, 16, 0, 15, 16, 0, 16]  # solves fewer problems, often


def test_passk_table_has_exact_estimate_band_and_posterior() -> None:
    n = np.full(len(BASE_C), 16)
    frame = curves.passk_table(n, np.array(BASE_C), CurveSpec(Bootstrap(200, 0.9, 3)))
    assert frame.columns == list(tables.PASSK.columns) and frame["k"].to_list() == list(range(1, 17))
    for k, value in frame.select("k", "pass_at_k").iter_rows():
        assert abs(value - _exact_curve(BASE_C, 16, k)) < 1e-13
    assert (frame["low"] <= frame["pass_at_k"]).all() and (frame["pass_at_k"] <= frame["high"]).all()
    assert (frame["high"] > frame["low"]).all()
    posterior = stats.posterior_pass_at_k(n, BASE_C, frame["k"])
    assert np.allclose(frame["posterior_sd"], posterior["sd"], rtol=0, atol=1e-15)


def _verdicts(path: Path, per_problem: dict[str, list[bool]], start: int) -> Path:
    rows = [(pid, start + i, ok) for pid, oks in per_problem.items() for i, ok in enumerate(oks)]
    frame = pl.DataFrame(
        {
            "problem_id": [r[0] for r in rows],
            "sample_index": [r[1] for r in rows],
            "extracted": ["1"] * len(rows),
            "correct": [r[2] for r in rows],
            "status": ["correct" if r[2] else "wrong" for r in rows],
            "detail": [""] * len(rows),
        },
        schema=tables.VERDICTS.columns,
    )
    tables.write(frame, path, tables.VERDICTS, tables.provenance(stage="verify", grader="ours", benchmark="b"))
    return path


def _benchmark(path: Path, ids: list[str]) -> Path:
    frame = pl.DataFrame(
        {
            "problem_id": ids,
            "index": range(len(ids)),
            "question": [f"What is {i} + <1>?" for i in range(len(ids))],
            "gold": [str(i + 1) for i in range(len(ids))],
            "metadata": ["{}"] * len(ids),
        },
        schema=tables.MATH_BENCHMARK.columns,
    )
    tables.write(frame, path, tables.MATH_BENCHMARK, tables.provenance(stage="prepare", benchmark="b"))
    return path


def test_shard_curves_are_each_shard_on_its_own(tmp_path: Path) -> None:
    table = _benchmark(tmp_path / "b.parquet", ["p0", "p1"])
    first = _verdicts(tmp_path / "s0.parquet", {"p0": [True, False, False], "p1": [False] * 3}, 0)
    second = _verdicts(tmp_path / "s1.parquet", {"p0": [True, True, True], "p1": [False, True, False]}, 3)
    spec = ShardCurveSpec("b", (Shard(0, 0, 3), Shard(1, 3, 3)))
    curves.shard_passk(spec, [first, second], table, tmp_path / "out.parquet")
    out = tables.read(tmp_path / "out.parquet", tables.SHARD_PASSK)
    for seed, c in ((0, [1, 0]), (1, [3, 1])):
        shard = out.filter(pl.col("seed") == seed).sort("k")
        assert shard["k"].to_list() == [1, 2, 3]
        assert np.allclose(shard["pass_at_k"], [_exact_curve(c, 3, k) for k in (1, 2, 3)], atol=1e-14)
    # a shard holding another shard's sample range is an error, never counted
    with pytest.raises(ValueError, match=r"samples 3\.\.5"):
        curves.shard_passk(spec, [first, first], table, tmp_path / "bad.parquet")


def _stats_spec(panels: tuple[Panel, ...], curve_list: tuple[Curve, ...], resamples: int = 300) -> StatsSpec:
    comparisons = (Comparison(0, "base", "rl"),)
    return StatsSpec("figure x", panels, curve_list, MODELS, comparisons, Bootstrap(resamples, 0.95, 1), 256)


def test_pair_tables_match_the_statistics_module(tmp_path: Path) -> None:
    panel = Panel(0, 0, "b", "Qwen", ("base", "rl"))
    curve_list = (Curve("ours", "base", "b"), Curve("ours", "rl", "b"))
    counts = {curve_list[0]: _counts_frame(BASE_C, 16), curve_list[1]: _counts_frame(RL_C, 16)}
    summary, differences, sets = comparisons.pair_tables(_stats_spec((panel,), curve_list), counts)
    row = summary.row(0, named=True)
    want = stats.compare_pair([16] * 10, BASE_C, [16] * 10, RL_C, resamples=300, level=0.95, seed=1)
    assert row["pass1_a"] == want.pass1_a.estimate and row["pass_kmax_b_high"] == want.pass_kmax_b.high
    assert row["crossover_k"] == want.crossover.k and row["delta_se"] == want.delta_se.estimate
    assert abs(row["pass1_b"] - _exact_curve(RL_C, 16, 1)) < 1e-14
    assert abs(row["difference_kmax"] - (_exact_curve(RL_C, 16, 16) - _exact_curve(BASE_C, 16, 16))) < 1e-14
    # solvable: base solves 8 (indices 1..4, 6..9), RL 6 (2, 3, 4, 6, 7, 9): only base {1, 8}
    assert (row["both"], row["only_a"], row["only_b"], row["neither"]) == (6, 2, 0, 2)
    assert row["srr"] == pytest.approx(6 / 8) and row["ndr"] == 0.0 and row["nscr"] == pytest.approx(-2 / 8)
    listed = dict(sets.select("set", "indices").iter_rows())
    assert listed == {"both": "2, 3, 4, 6, 7, 9", "only_a": "1, 8", "only_b": "", "neither": "0, 5"}
    assert differences["k"].to_list() == list(range(1, 17))
    assert np.allclose(differences["difference"], want.difference["difference"], atol=1e-15)


def test_a_four_model_panel_compares_its_base_with_each_other_model() -> None:
    roles = {"inst": "instruct", "base": "base", "rl": "rl", "dist": "distill"}
    assert layout.panel_pairs(Panel(0, 0, "b", "family", ("inst", "base", "rl", "dist")), roles) == [
        ("base", "inst"),
        ("base", "rl"),
        ("base", "dist"),
    ]
    assert layout.panel_pairs(Panel(0, 0, "b", "no base", ("inst", "dist")), roles) == [("inst", "dist")]
    spec = dag.stats_spec(_config(), "fig7")  # Qwen2.5-Math-7B against Oat-Zero, Instruct and R1-Distill
    assert [(c.model_a, c.model_b) for c in spec.comparisons] == [
        ("qwen2.5-math-7b", "oat-zero-7b"),
        ("qwen2.5-math-7b", "qwen2.5-math-7b-instruct"),
        ("qwen2.5-math-7b", "r1-distill-qwen-7b"),
    ]


def test_one_pair_is_one_target_with_its_reference_first() -> None:
    config = _config()
    spec = dag.pair_stats_spec(config, "ours", "math500", "simplerl-zoo-qwen2.5-7b", "qwen2.5-7b")
    assert [(c.model_a, c.model_b) for c in spec.comparisons] == [("simplerl-zoo-qwen2.5-7b", "qwen2.5-7b")]
    assert dag.pair_counts(config, "paper", "math500", "qwen2.5-7b", "simplerl-zoo-qwen2.5-7b") == [
        "results/counts/paper/qwen2.5-7b/math500.parquet",
        "results/counts/paper/simplerl-zoo-qwen2.5-7b/math500.parquet",
    ]
    with pytest.raises(ConfigError, match="against itself"):
        dag.pair_stats_spec(config, "ours", "math500", "qwen2.5-7b", "qwen2.5-7b")
    with pytest.raises(ConfigError, match="judged by its tests"):
        dag.pair_counts(config, "paper", "humanevalplus", "qwen2.5-7b-instruct-1m", "coder1-zero-qwen2.5-7b")


def test_pair_on_different_problems_is_an_error() -> None:
    panel = Panel(0, 0, "b", "Qwen", ("base", "rl"))
    curve_list = (Curve("ours", "base", "b"), Curve("ours", "rl", "b"))
    counts = {curve_list[0]: _counts_frame(BASE_C, 16), curve_list[1]: _counts_frame(RL_C[:-1], 16)}
    with pytest.raises(ValueError, match="not run on the same problems"):
        comparisons.pair_tables(_stats_spec((panel,), curve_list), counts)


def test_figure_stats_stage_writes_three_tables_and_provenance(tmp_path: Path) -> None:
    panel = Panel(0, 0, "b", "Qwen", ("base", "rl"))
    curve_list = (Curve("ours", "base", "b"), Curve("ours", "rl", "b"))
    paths = [_write_counts(tmp_path / "a.parquet", BASE_C, 16), _write_counts(tmp_path / "b.parquet", RL_C, 16)]
    outputs = [tmp_path / name for name in ("s.csv", "d.csv", "sets.csv", "p.json")]
    comparisons.figure_stats(_stats_spec((panel,), curve_list), paths, outputs)
    summary = pl.read_csv(outputs[0], schema_overrides=tables.PAIR_STATS.columns)
    tables.check(summary, tables.PAIR_STATS, outputs[0])
    assert set(pl.read_csv(outputs[2])["set"]) == set(tables.SOLVABLE_SET_WORDS)
    assert "count" in json.loads(outputs[3].read_text())["packages"]


def test_crossover_is_marked_and_bands_drawn(tmp_path: Path) -> None:
    panel = Panel(0, 0, "b", "Qwen", ("base", "rl"))
    curve_list = (Curve("ours", "base", "b"), Curve("ours", "rl", "b"))
    passk_paths = []
    for curve, c in zip(curve_list, (BASE_C, RL_C), strict=True):
        frame = curves.passk_table(np.full(10, 16), np.array(c), CurveSpec(Bootstrap(100, 0.95, 0)))
        path = tmp_path / f"{curve.model}.parquet"
        tables.write(frame, path, tables.PASSK, tables.provenance(stage="passk"))
        passk_paths.append(path)
    counts_paths = [_write_counts(tmp_path / f"c{i}.parquet", c, 16) for i, c in enumerate((BASE_C, RL_C))]
    stats_out = [tmp_path / name for name in ("s.csv", "d.csv", "sets.csv", "p.json")]
    comparisons.figure_stats(_stats_spec((panel,), curve_list), counts_paths, stats_out)
    crossing = pl.read_csv(stats_out[0], schema_overrides=tables.PAIR_STATS.columns)
    assert crossing["crossover_k"][0] is not None  # base (8 solvable) overtakes RL (6) by k = 16
    points = figures.figure_table([panel], dict(zip(curve_list, passk_paths, strict=True)), MODELS)
    fig = figures.grid_figure(points, "t", crossovers=crossing)
    ax = fig.axes[0]
    dotted = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert [line.get_xdata()[0] for line in dotted] == [crossing["crossover_k"][0]]
    assert len(ax.collections) >= 2  # one band per curve
    plain = figures.grid_figure(points, "t", bands=False)
    assert not [c for c in plain.axes[0].collections if isinstance(c, mpl.collections.FillBetweenPolyCollection)]
    spec = FigureSpec("t", (panel,), curve_list, MODELS)
    figures.passk_figure(spec, passk_paths, tmp_path / "fig.pdf", stats_out[0])
    assert (tmp_path / "fig.pdf").stat().st_size > 1000 and (tmp_path / "fig.provenance.json").exists()
    assert {"low", "high"} <= set(pl.read_csv(tmp_path / "fig.csv").columns)


def test_histogram_counts_every_problem_once(tmp_path: Path) -> None:
    panel = Panel(0, 0, "b", "Qwen", ("base", "rl"))
    curve_list = (Curve("ours", "base", "b"), Curve("ours", "rl", "b"))
    paths = [_write_counts(tmp_path / "a.parquet", BASE_C, 16), _write_counts(tmp_path / "b.parquet", RL_C, 16)]
    spec = FigureSpec("hist", (panel,), curve_list, MODELS)
    figures.histogram_figure(spec, paths, tmp_path / "hist.pdf")
    bins = pl.read_csv(tmp_path / "hist.csv")
    base = bins.filter(pl.col("model") == "base").sort("bin")
    # c/16: 0, 1/16, 2/16, 5/16, 1, 0, 3/16, 8/16, 1/16, 12/16
    assert base["problems"].to_list() == [2, 2, 2, 0, 1, 1, 0, 0, 1, 0, 0, 1]
    assert base["bin_label"].to_list() == list(stats.ACCURACY_BINS)
    assert bins.group_by("model").agg(pl.col("percent").sum())["percent"].to_list() == pytest.approx([100.0, 100.0])
    assert (tmp_path / "hist.pdf").stat().st_size > 1000


def _samples(path: Path, rows: list[tuple[str, int, str]]) -> Path:
    frame = pl.DataFrame(
        {
            "problem_id": [r[0] for r in rows],
            "sample_index": [r[1] for r in rows],
            "response": [r[2] for r in rows],
            "n_tokens": [len(r[2]) for r in rows],
            "finish_reason": ["stop"] * len(rows),
            "cumulative_logprob": [-1.0] * len(rows),
        },
        schema=tables.SAMPLES.columns,
    )
    tables.write(frame, path, tables.SAMPLES, tables.provenance(stage="sample", model="m"))
    return path


def test_lucky_page_lists_every_correct_response_of_rarely_solved_problems(tmp_path: Path) -> None:
    table = _benchmark(tmp_path / "b.parquet", ["p0", "p1", "p2"])
    n = 20  # accuracy 1/20 = 5% is not below 5%; use below = 0.1
    oks = {"p0": [i == 7 for i in range(n)], "p1": [i < 10 for i in range(n)], "p2": [False] * n}
    runs = {}
    for model in ("base", "rl"):
        verdicts = _verdicts(tmp_path / f"v-{model}.parquet", oks, 0)
        samples = _samples(
            tmp_path / f"s-{model}.parquet",
            [(pid, i, f"<{model}> step {i} of {pid} \\boxed{{1}}") for pid in oks for i in range(n)],
        )
        counts = _write_counts(tmp_path / f"c-{model}.parquet", [1, 10, 0], n)
        runs[model] = lucky.ModelRuns(counts, [verdicts], [samples])
    spec = LuckySpec("b", "ours", ("base", "rl"), {"base": "Base", "rl": "RL"}, 0.1, (2,))
    page = lucky.lucky_page(spec, runs, table)
    assert page.count("&lt;base&gt; step 7 of p0") == 1 and page.count("&lt;rl&gt; step 7 of p0") == 1
    assert "step 0 of p1" not in page  # 50% accuracy: not rarely solved, not an example
    assert "Problem 2 (p2): 0 of 20 correct" in page  # the example problem, shown with no response
    assert "What is 0 + &lt;1&gt;?" in page  # question escaped
    with pytest.raises(ValueError, match="example index 9"):
        lucky.lucky_page(LuckySpec("b", "ours", ("base", "rl"), spec.labels, 0.1, (9,)), runs, table)
    lucky.export(spec, runs, table, tmp_path / "page.html")
    assert (tmp_path / "page.html").read_text() == page


def test_table_4_of_the_paper_from_counts() -> None:
    """The paper's Table 4 sets (PAPER.md section 7) as counts: the same lists come out."""
    base = [0, 1, 4, 6, 7, 8, 9, 11, 12, 14, 15, 16, 17, 18, 19, 22, 23, 24, 25, 26, 27, 28, 29]
    rl = [0, 1, 6, 7, 8, 9, 12, 14, 15, 16, 18, 22, 23, 24, 25, 26, 27, 28, 29]
    counts = {
        m: _counts_frame([3 if i in solved else 0 for i in range(30)], 1024)
        for m, solved in (("base", base), ("rl", rl))
    }
    table = figures.solvable_table(counts, {"base": "Base", "rl": "RL"})
    assert table["n_solvable"].to_list() == [23, 19, 4, 0]
    assert table["indices"].to_list()[2] == "4, 11, 17, 19"


def _config(**sections: dict) -> dict:
    import yaml

    from conftest import PROJECT

    config = yaml.safe_load((PROJECT / "config.yaml").read_text())
    config.update(sections)
    return validate(config)


def test_the_paper_config_builds_every_analysis() -> None:
    config = _config()
    targets = dag.all_targets(config)
    assert "results/stats/fig2.csv" in targets and "figures/fig5.pdf" in targets and "figures/fig13.pdf" in targets
    assert "results/lucky/ours/aime24/qwen2.5-7b/simplerl-zoo-qwen2.5-7b.html" in targets
    assert "results/passk_by_shard/ours/qwen2.5-7b/aime24.parquet" in targets  # n = 1024 in 8 shards
    assert "results/stats/fig5.csv" not in targets  # histograms have no pair statistics
    assert dag.lucky_spec(config, "ours", "aime24", "qwen2.5-7b", "simplerl-zoo-qwen2.5-7b").examples == (15, 23)
    spec = dag.stats_spec(config, "fig7")
    assert spec.bootstrap == Bootstrap(1000, 0.95, 0) and spec.delta_se_k == 256
    assert dag.figure_spec(config, "fig13").panels[-1].benchmark == "olympiadbench"


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"stats": {"level": 1.5}}, "stats.level"),
        ({"stats": {"resamples": 0}}, "stats.resamples"),
        ({"lucky_guesses": {"examples": {"nope": [1]}}}, "lucky_guesses.examples.nope: unknown benchmark"),
    ],
)
def test_bad_statistics_config_names_the_key(sections: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(**sections)
