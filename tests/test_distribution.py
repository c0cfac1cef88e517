"""Inside the base model's distribution? Sampling variants, token entropy and the entropy
match (Figs. 16, 17), the guessing filter (Fig. 12) and response scoring (Fig. 6), on
constructed inputs with known answers, the paper config, and the real vLLM engine."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from conftest import PROJECT
from rlvr_boundary import config, dag, entropy, figures, guessing, jobs, scoring, tables
from rlvr_boundary.config import ConfigError
from rlvr_boundary.specs import EntropyMatchSpec, Probe, ScoreSpec


@pytest.fixture(scope="module")
def paper() -> dict:
    return config.load(PROJECT / "config.yaml")


# ------------------------------------------------------------------------------ variants


def test_a_variant_is_its_parent_sampled_another_way(paper: dict) -> None:
    hot = paper["models"]["qwen2.5-7b.t1.0"]
    assert hot["variant_of"] == "qwen2.5-7b" and hot["hf_id"] == "Qwen/Qwen2.5-7B"
    assert config.sampling_for(paper, "qwen2.5-7b.t1.0") == {**paper["sampling"], "temperature": 1.0}
    assert hot["label"] == "Qwen2.5-7B, T = 1.0"
    direct = paper["models"]["qwen2.5-7b.answer-only"]
    assert (direct["template"], direct["max_tokens"], config.n_samples(paper, "qwen2.5-7b.answer-only", "aime24")) == (
        "qwen-boxed-direct",
        32,
        128,
    )
    spec = dag.sample_spec(paper, "qwen2.5-7b.t1.0", "aime24", 0)
    assert spec.sampling["temperature"] == 1.0 and spec.model == dag.sample_spec(paper, "qwen2.5-7b", "aime24", 0).model
    assert dag.samples_path("qwen2.5-7b.t1.0", "aime24", 0) == "results/samples/qwen2.5-7b.t1.0/aime24/seed0.parquet"


def test_variants_leave_the_default_samples_as_they_are(paper: dict) -> None:
    """The default model's job spec (its rerun trigger and its samples' fingerprint) is the
    same with or without variants configured."""
    plain = copy.deepcopy(paper)
    for name in [m for m in plain["models"] if "variant_of" in plain["models"][m]]:
        del plain["models"][name]
    for spec in plain["models"].values():
        spec.pop("variants", None)
    plain["figures"] = {k: v for k, v in plain["figures"].items() if v["kind"] in ("passk", "histogram")}
    plain["figures"].pop("fig12")
    plain["figures"].pop("fig16")
    del plain["benchmarks"]["aime24-filtered"]
    plain = config.validate(plain)
    for model in ("qwen2.5-7b", "simplerl-zoo-qwen2.5-7b"):
        for seed in range(8):
            with_variants = dag.sample_spec(paper, model, "aime24", seed)
            assert with_variants == dag.sample_spec(plain, model, "aime24", seed)
            assert with_variants.fingerprint() == dag.sample_spec(plain, model, "aime24", seed).fingerprint()


def test_the_entropy_grid_adds_one_variant_per_temperature(paper: dict) -> None:
    grid = paper["figures"]["fig17"]["temperatures"]
    names = {dag.grid_model(paper, "simplerl-zoo-qwen2.5-7b", t) for t in grid}
    assert "simplerl-zoo-qwen2.5-7b" in names  # T = 0.6 is the model itself
    assert "simplerl-zoo-qwen2.5-7b.t1.0" in names and "simplerl-zoo-qwen2.5-7b.t1.5" in names  # t1.0 reused
    assert len(names) == len(grid)
    for name in names - {"simplerl-zoo-qwen2.5-7b"}:
        assert config.sampling_for(paper, name)["temperature"] in grid
    again = config.validate(copy.deepcopy(paper))
    assert again["models"] == paper["models"]  # idempotent


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["models"].__setitem__("qwen2.5-7b.t1.0", dict(c["models"]["qwen2.5-7b"], label="x")),
            "models.qwen2.5-7b.variants.t1.0: model 'qwen2.5-7b.t1.0' is already configured",
        ),
        (
            lambda c: c["benchmarks"]["aime24-filtered"].__setitem__("filter_of", "nope"),
            "benchmarks.aime24-filtered.filter_of: 'nope' is not another configured, unfiltered benchmark",
        ),
        (
            lambda c: c["benchmarks"]["aime24-filtered"]["guessing"].__setitem__("model", "nobody"),
            "benchmarks.aime24-filtered.guessing.model: unknown model 'nobody'",
        ),
        (
            lambda c: c["figures"]["fig17"]["columns"][0]["models"].append("qwen2.5-14b"),
            "figures.fig17.columns.0.models: an entropy figure compares two models",
        ),
        (
            lambda c: c["models"]["qwen2.5-7b"]["variants"].__setitem__("bad", {"temperature": -1}),
            "models.qwen2.5-7b.variants.bad.temperature",
        ),
        (
            lambda c: c["models"]["simplerl-zoo-qwen2.5-7b"]["variants"].__setitem__("t1.5", {"top_p": 0.5}),
            "figures.fig17: models.simplerl-zoo-qwen2.5-7b.variants.t1.5: not the temperature 1.5 alone",
        ),
    ],
)
def test_bad_variants_and_filters_name_the_key(edit, message: str) -> None:
    raw = config._read_yaml(PROJECT / "config.yaml")
    edit(raw)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(").replace(")", r"\)")):
        config.validate(raw)


# ------------------------------------------------------------------------------ the plan


def test_the_plan_sizes_what_each_new_figure_runs(paper: dict) -> None:
    fig6 = jobs.figure_sample_pairs(paper, "fig6")
    assert fig6 == [("qwen2.5-7b", "aime24", 1), ("simplerl-zoo-qwen2.5-7b", "aime24", 1)]
    fig12 = jobs.figure_sample_pairs(paper, "fig12")
    assert set(fig12) == {
        ("qwen2.5-7b", "aime24", None),
        ("simplerl-zoo-qwen2.5-7b", "aime24", None),
        ("qwen2.5-7b.answer-only", "aime24", None),
    }
    fig17 = {(m, b): first for m, b, first in jobs.figure_sample_pairs(paper, "fig17")}
    assert fig17[("simplerl-zoo-qwen2.5-7b.t0.8", "gsm8k")] == 1  # a probe: its first shard
    assert fig17[("simplerl-zoo-qwen2.5-7b.t1.5", "gsm8k")] is None  # the stand-in for the chosen run
    assert fig17[("qwen2.5-7b", "aime24")] is None
    from rlvr_boundary import plan

    rows = plan.jobs_table(paper, jobs.figure_sample_pairs(paper, "fig6"))
    assert rows.height == 2 and set(rows["seed"]) == {0}
    scoring_jobs = plan.score_table(paper, "fig6")
    assert scoring_jobs.height == 3 and (scoring_jobs["count"] == 128 * 30).all()
    assert (scoring_jobs["limit_hours"] > scoring_jobs["hours"]).all()
    text = plan.format_plan(paper, ["fig6", "fig12", "fig17"])
    assert "Scoring jobs of fig6" in text and "planned as the highest grid temperature's" in text


# ------------------------------------------------------------------------------ entropy


def test_the_entropy_estimator_targets_the_cross_entropy_of_the_sampler() -> None:
    """Simulated tokens from a categorical p at temperature T: the mean of -log p(token) is
    the exact cross-entropy sum q_T log(1/p) (the entropy of p at T = 1), within 4 SE."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=50)
    p = np.exp(logits) / np.exp(logits).sum()
    for temperature in (0.6, 1.0, 1.4):
        q = np.exp(logits / temperature) / np.exp(logits / temperature).sum()
        exact = float(-(q * np.log(p)).sum())
        tokens = rng.choice(50, size=(400, 25), p=q)
        samples = pl.DataFrame(
            {
                "problem_id": [f"p{i % 40}" for i in range(400)],
                "sample_index": [i // 40 for i in range(400)],
                "response": ["x"] * 400,
                "n_tokens": [25] * 400,
                "finish_reason": ["length"] * 400,
                "cumulative_logprob": np.log(p)[tokens].sum(axis=1).tolist(),
            },
            schema=tables.SAMPLES.columns,
        )
        mean, se, n = entropy.summary(entropy.sample_entropy(samples))
        assert n == 400 and abs(mean - exact) < 4 * se, (temperature, mean, exact, se)
        if temperature == 1.0:
            assert abs(exact - float(-(p * np.log(p)).sum())) < 1e-12


def test_the_entropy_standard_error_covers_at_the_nominal_rate() -> None:
    """Problems drawn at random (per-problem mean entropies vary), 8 samples each: the interval
    mean +- t(0.975, 39 df) SE covers the population mean in about 95% of 2,000 simulated
    benchmarks of 40 problems (the SE is the across-problem one, so t has problems - 1 df)."""
    rng = np.random.default_rng(1)
    problems, per_problem, covered = 40, 8, 0
    reps = 2000
    for _ in range(reps):
        centres = rng.gamma(4.0, 0.1, size=problems)  # population mean 0.4
        values = rng.gamma(2.0, centres[:, None] / 2.0, size=(problems, per_problem))
        table = pl.DataFrame(
            {
                "problem_id": np.repeat([f"p{i}" for i in range(problems)], per_problem),
                "sample_index": np.tile(np.arange(per_problem), problems),
                "n_tokens": [10] * (problems * per_problem),
                "entropy": values.ravel(),
            },
            schema=tables.ENTROPY.columns,
        )
        mean, se, _ = entropy.summary(table)
        covered += abs(mean - 0.4) <= 2.0227 * se
    assert 0.935 <= covered / reps <= 0.965, covered / reps


def test_a_sample_without_tokens_has_no_entropy() -> None:
    samples = pl.DataFrame(
        {
            "problem_id": ["a", "a", "b"],
            "sample_index": [0, 1, 0],
            "response": ["", "x", "y"],
            "n_tokens": [0, 4, 2],
            "finish_reason": ["prompt_too_long", "stop", "stop"],
            "cumulative_logprob": [None, -2.0, -3.0],
        },
        schema=tables.SAMPLES.columns,
    )
    table = entropy.sample_entropy(samples)
    assert table["entropy"].to_list() == [None, 0.5, 1.5]
    mean, se, n = entropy.summary(table)
    assert (mean, n) == (1.0, 2)
    assert se == pytest.approx(np.std([0.5, 1.5], ddof=1) / math.sqrt(2))  # across the 2 problems' means


def test_the_closest_temperature_wins_ties_go_low_and_nan_never() -> None:
    assert entropy.closest(0.47, {0.6: 0.22, 1.0: 0.40, 1.5: 0.50}) == 1.5
    assert entropy.closest(0.5, {0.8: 0.4, 1.2: 0.6}) == 0.8
    assert entropy.closest(0.5, {0.8: math.nan, 1.2: 0.9}) == 1.2
    with pytest.raises(ValueError, match="no candidate"):
        entropy.closest(0.5, {0.8: math.nan})


def _entropy_table(path: Path, values: list[float]) -> Path:
    frame = pl.DataFrame(
        {
            "problem_id": [f"p{i}" for i in range(len(values))],
            "sample_index": [0] * len(values),
            "n_tokens": [10] * len(values),
            "entropy": values,
        },
        schema=tables.ENTROPY.columns,
    )
    tables.write(frame, path, tables.ENTROPY, {"stage": "entropy"})
    return path


def test_the_match_table_picks_per_panel(tmp_path: Path) -> None:
    probes = (
        Probe(0, "b1", "base", 0.6, "reference"),
        Probe(0, "b1", "rl", 0.6, "candidate"),
        Probe(0, "b1", "rl.t1.0", 1.0, "candidate"),
        Probe(1, "b2", "base", 0.6, "reference"),
        Probe(1, "b2", "rl", 0.6, "candidate"),
        Probe(1, "b2", "rl.t1.0", 1.0, "candidate"),
    )
    values = [[0.5, 0.5], [0.2, 0.2], [0.45, 0.55], [0.3, 0.3], [0.28, 0.3], [0.6, 0.7]]
    paths = [_entropy_table(tmp_path / f"e{i}.parquet", v) for i, v in enumerate(values)]
    out = tmp_path / "match.csv"
    entropy.write_match(EntropyMatchSpec("fig", probes), paths, out)
    match = figures.read_match(out)
    assert match.filter(pl.col("chosen"))[["panel", "model"]].rows() == [(0, "rl.t1.0"), (1, "rl")]
    assert match["reference_entropy"].to_list() == [0.5, 0.5, 0.3, 0.3]
    assert dag.chosen_models(str(out)) == ["rl.t1.0", "rl"]
    with pytest.raises(ValueError, match="6 probes in the spec but 2 entropy tables"):
        entropy.match_table(EntropyMatchSpec("fig", probes), paths[:2])


# ------------------------------------------------------------------------------ guessing


def test_the_guessing_filter_drops_only_rare_correct_answers() -> None:
    counts = pl.DataFrame(
        {"problem_id": list("abcde"), "index": range(5), "n": [100] * 5, "c": [0, 1, 4, 5, 90]},
        schema=tables.COUNTS.columns,
    )
    kept = guessing.guess_filter(counts, 0.05)
    assert kept["kept"].to_list() == [True, False, False, True, True]  # 5/100 is not below 5%
    assert kept["accuracy"].to_list() == [0.0, 0.01, 0.04, 0.05, 0.9]
    full = counts.with_columns(pl.col("c") * 0 + 3)
    assert guessing.kept_counts(full, kept, "x")["problem_id"].to_list() == ["a", "d", "e"]
    with pytest.raises(ValueError, match="x: the counts and the guessing filter list different problems"):
        guessing.kept_counts(full.head(3), kept, "x")
    with pytest.raises(ValueError, match="keeps no problem"):
        guessing.kept_counts(full, kept.with_columns(kept=pl.lit(False)), "x")


# ------------------------------------------------------------------------------ scoring


def test_perplexity_is_the_exponentiated_mean_negative_logprob() -> None:
    assert scoring.perplexity(-2 * math.log(4), 2) == pytest.approx(4.0)
    assert scoring.perplexity(0.0, 7) == 1.0


def test_perplexity_boxes_follow_the_paper_and_y_gt_is_optional(paper: dict) -> None:
    labels = [box.label for box in dag.perplexity_boxes(paper, "fig6")]
    assert labels == ["PPL_Base(Y_Base)", "PPL_Base(Y_RL)", "PPL_RL(Y_RL)"]
    assert "left out" in dag.perplexity_figure_spec(paper, "fig6").note
    with_gt = copy.deepcopy(paper)
    with_gt["figures"]["fig6"]["reference"] = {"path": "o1.jsonl", "format": "jsonl", "label": "o1"}
    boxes = dag.perplexity_boxes(with_gt, "fig6")
    assert boxes[-1].label == "PPL_Base(Y_GT)" and boxes[-1].responses == "references/fig6"
    assert dag.perplexity_figure_scores(with_gt, "fig6")[-1] == "results/scores/qwen2.5-7b/references/fig6.parquet"
    spec = dag.score_spec(paper, "simplerl-zoo-qwen2.5-7b", "samples/simplerl-zoo-qwen2.5-7b/aime24/seed0")
    assert (spec.benchmark, spec.template, spec.engine["dtype"]) == ("aime24", "qwen-boxed", "bfloat16")
    with pytest.raises(ConfigError, match="neither samples"):
        jobs.responses_source(paper, "elsewhere/x")
    assert jobs.responses_source(paper, "samples/qwen2.5-7b/aime24/seed3") == ("aime24", "qwen2.5-7b", 3)
    assert jobs.scored_responses(paper, "references/fig6") == ("aime24", 32)


@pytest.mark.engine
def test_scores_match_transformers_log_likelihood(
    engine, tiny_model: Path, arithmetic_table: Path, tmp_path: Path
) -> None:
    """The tiny model's own responses, scored by vLLM's prompt logprobs, against transformers'
    float32 log-likelihood of the same tokens: within 1e-3 nats per token."""
    import torch
    from transformers import AutoModelForCausalLM

    from rlvr_boundary import sampling
    from rlvr_boundary.prompts import render
    from rlvr_boundary.specs import SampleSpec, Shard

    sampling_params = {"temperature": 1.0, "top_p": 1.0, "max_tokens": 48, "stop_policy": "markup", "seed": 0}
    job = SampleSpec("tiny", {"path": str(tiny_model)}, "arith", "qwen-boxed", Shard(0, 0, 2), sampling_params)
    samples_path = tmp_path / "samples.parquet"
    sampling.sample_shard(job, arithmetic_table, samples_path, lambda _: engine)
    spec = ScoreSpec("tiny", {"path": str(tiny_model)}, "arith", "qwen-boxed", "samples/tiny/arith/seed0", {})
    out = tmp_path / "scores.parquet"
    scoring.score(spec, samples_path, arithmetic_table, out, lambda _: engine)
    scores = tables.read(out, tables.SCORES)
    samples = tables.read(samples_path, tables.SAMPLES)
    assert scores.height == samples.height == 20 and set(scores["status"]) == {"scored"}
    assert tables.read_provenance(out)["stage"] == "score"

    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32).eval()
    questions = dict(tables.read_benchmark(arithmetic_table).select("problem_id", "question").iter_rows())
    worst = 0.0
    for row in samples.join(scores, on=["problem_id", "sample_index"]).iter_rows(named=True):
        prompt = engine.tokenize(render("qwen-boxed", questions[row["problem_id"]]))
        response = engine.tokenize_continuation(row["response"])
        assert len(response) == row["response_tokens"]
        ids = torch.tensor([prompt + response])
        with torch.no_grad():
            logprobs = torch.log_softmax(model(ids).logits[0, :-1].float(), dim=-1)
        reference = logprobs.gather(1, ids[0, 1:, None])[len(prompt) - 1 :, 0].sum().item()
        worst = max(worst, abs(reference - row["logprob"]) / len(response))
        assert row["perplexity"] == pytest.approx(math.exp(-row["logprob"] / len(response)))
    assert worst < 1e-3, worst


def test_scoring_jobs_go_to_the_gpu_partition_like_sampling() -> None:
    """profiles/slurm gives the score rule the sample rule's GPU partition, CPUs and memory."""
    yte = pytest.importorskip("yte")
    with open(PROJECT / "profiles/slurm/config.yaml") as handle:
        profile = yte.process_yaml(handle)
    assert profile["set-resources"]["score"] == profile["set-resources"]["sample"]
    assert "gpu" in profile["set-resources"]["score"]["slurm_partition"]
