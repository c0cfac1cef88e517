"""rlvr_boundary.runs: the training-curve figure (Fig. 18) and the pass@1 / pass@k table with
Delta-SE (Tables 2, 3), on small tables with known numbers."""

from __future__ import annotations

from fractions import Fraction
from math import comb
from pathlib import Path

import polars as pl
import pytest

from rlvr_boundary import runs, tables
from rlvr_boundary.specs import Bootstrap, BoundaryTableSpec, TrainingFigureSpec


def _log(path: Path, rewards: list[float]) -> Path:
    steps = len(rewards)
    frame = pl.DataFrame(
        {
            "step": list(range(1, steps + 1)),
            "reward": rewards,
            "reward_std": [0.1] * steps,
            "frac_reward_zero_std": [0.5] * steps,
            "mean_length": [float(20 + s) for s in range(steps)],
            "entropy": [0.5 - 0.01 * s for s in range(steps)],
            "grad_norm": [1.0] * steps,
            "step_time": [1.0] * steps,
        }
    )
    tables.write(frame, path, tables.TRAINING_LOG, {"stage": "rl", "training": {"algorithm": "grpo"}})
    return path


def _counts(path: Path, n: int, c: list[int]) -> Path:
    frame = pl.DataFrame(
        {"problem_id": [str(i) for i in range(len(c))], "index": list(range(len(c))), "n": [n] * len(c), "c": c}
    )
    tables.write(frame, path, tables.COUNTS, {"stage": "counts"})
    return path


def test_training_points_hold_the_log_and_its_centred_rolling_mean(tmp_path: Path) -> None:
    spec = TrainingFigureSpec(title="t", runs=("grpo",), labels={"grpo": "GRPO"}, smooth=3)
    points = runs.training_points(spec, [_log(tmp_path / "a.parquet", [0.0, 0.3, 0.6, 0.9])])
    reward = points.filter(pl.col("metric") == "reward").sort("step")
    assert reward["value"].to_list() == [0.0, 0.3, 0.6, 0.9]
    assert reward["smoothed"].to_list() == pytest.approx([0.15, 0.3, 0.6, 0.75])
    assert set(points["metric"]) == set(runs.METRICS)


def test_training_figure_writes_pdf_csv_and_each_logs_provenance(tmp_path: Path) -> None:
    logs = [_log(tmp_path / "g.parquet", [0.1, 0.2, 0.4]), _log(tmp_path / "r.parquet", [0.1, 0.1, 0.3])]
    spec = TrainingFigureSpec(title="curves", runs=("grpo", "rloo"), labels={"grpo": "GRPO", "rloo": "RLOO"})
    out = tmp_path / "figures" / "fig18.pdf"
    runs.training_figure(spec, logs, out)
    assert out.read_bytes().startswith(b"%PDF")
    csv = pl.read_csv(out.with_suffix(".csv"))
    assert csv.height == 2 * 3 * len(runs.METRICS)
    assert "g.parquet" in out.with_suffix(".provenance.json").read_text()
    with pytest.raises(ValueError, match="2 runs but 1 logs"):
        runs.training_points(spec, logs[:1])


def test_boundary_table_matches_the_estimators_and_delta_se(tmp_path: Path) -> None:
    base = _counts(tmp_path / "base.parquet", 4, [0, 1, 4, 2])
    rl = _counts(tmp_path / "rl.parquet", 4, [0, 3, 4, 4])
    spec = BoundaryTableSpec(
        title="T2",
        benchmarks=("b",),
        models=("base", "rl"),
        labels={"base": "Base", "rl": "RL"},
        base="base",
        k=4,
        bootstrap=Bootstrap(resamples=200),
    )
    table = runs.boundary_table(spec, [base, rl])
    base_row, rl_row = table.row(0, named=True), table.row(1, named=True)
    assert base_row["pass_at_1"] == pytest.approx(7 / 16) and base_row["pass_at_k"] == pytest.approx(3 / 4)
    assert base_row["delta_se"] is None
    assert rl_row["pass_at_1"] == pytest.approx(11 / 16) and rl_row["pass_at_k"] == pytest.approx(3 / 4)
    assert rl_row["delta_se"] == pytest.approx(3 / 4 - 11 / 16)
    assert rl_row["delta_se_low"] <= rl_row["delta_se"] <= rl_row["delta_se_high"]
    assert rl_row["pass_at_1_low"] <= rl_row["pass_at_1"] <= rl_row["pass_at_1_high"]
    # k defaults to the samples per problem; pass@2 of c = 1 of 4 is 1 - C(3,2)/C(4,2)
    two = runs.boundary_table(BoundaryTableSpec("T", ("b",), ("base",), {"base": "Base"}, k=2), [base]).row(
        0, named=True
    )
    exact = (0 + (1 - Fraction(comb(3, 2), comb(4, 2))) + 1 + (1 - Fraction(comb(2, 2), comb(4, 2)))) / 4
    assert two["pass_at_k"] == pytest.approx(float(exact))
    out = tmp_path / "table2.csv"
    runs.write_boundary_table(spec, [base, rl], out)
    assert pl.read_csv(out)["model"].to_list() == ["base", "rl"]


def test_boundary_table_refuses_mismatched_inputs(tmp_path: Path) -> None:
    base = _counts(tmp_path / "base.parquet", 4, [0, 1, 4])
    other = _counts(tmp_path / "other.parquet", 4, [0, 1])
    spec = BoundaryTableSpec("T", ("b",), ("base", "rl"), {"base": "B", "rl": "R"}, base="base")
    with pytest.raises(ValueError, match="2 counts tables expected, got 1"):
        runs.boundary_table(spec, [base])
    with pytest.raises(ValueError, match="T: base vs rl on b"):
        runs.boundary_table(spec, [base, other])
