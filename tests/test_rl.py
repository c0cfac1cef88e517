"""The lab's RLVR stage: TRL's real GRPO and RLOO trainers on a tiny model, rewarded by the
project's math verifier (short runs: what they write, and that a seed fixes the result)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rlvr_boundary import rl, specs, tables

SPEC = specs.RLSpec(
    algorithm="grpo", steps=3, checkpoints=(1, 3), template="qwen-boxed", prompts_per_step=2, rollouts=4, max_tokens=24
)


def test_reward_is_the_verifier_on_known_right_and_wrong_responses() -> None:
    reward = rl.verifier_reward()
    responses = [
        "3 + 4 = 7, 7 + 5 = 12. The answer is \\boxed{12}.",  # right
        "3 + 4 = 7, 7 + 5 = 13. The answer is \\boxed{13}.",  # wrong answer
        "3 + 4 = 7, 7 + 5 = 12. The answer is 12.",  # no box: the verifier's fallback decides
        "The answer is \\boxed{12.0}.",  # equivalent form
        "",  # nothing
    ]
    golds = ["12"] * len(responses)
    expected = [1.0, 0.0, None, 1.0, 0.0]
    got = reward(responses, answer=golds, prompts=["p"] * len(responses))
    assert [g for g, e in zip(got, expected, strict=True) if e is not None] == [1.0, 0.0, 1.0, 0.0]
    assert all(g in (0.0, 1.0) for g in got)


def test_training_log_keeps_step_rows_only() -> None:
    history = [
        {
            "step": s,
            "reward": 0.5,
            "reward_std": 0.1,
            "frac_reward_zero_std": 0.0,
            "completions/mean_length": 20.0,
            "entropy": 0.3,
            "grad_norm": 1.0,
            "step_time": 0.5,
            "loss": 0.0,
        }
        for s in (1, 2)
    ] + [{"step": 2, "train_runtime": 3.0}]
    log = rl.training_log(history)
    assert log["step"].to_list() == [1, 2]
    assert log.columns == list(tables.TRAINING_LOG.columns)


def test_rejects_unknown_algorithm_and_checkpoints_outside_the_run(
    tmp_path: Path, tiny_model: Path, arithmetic_table: Path
) -> None:
    problems = arithmetic_table
    with pytest.raises(ValueError, match=r"RLSpec.algorithm: unknown RL algorithm 'ppo'"):
        rl.train(tiny_model, problems, tmp_path / "x", replace(SPEC, algorithm="ppo"))
    with pytest.raises(ValueError, match=r"RLSpec.checkpoints: steps must lie in 1..3, got \[5\]"):
        rl.train(tiny_model, problems, tmp_path / "x", replace(SPEC, checkpoints=(1, 5)))
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("algorithm", rl.ALGORITHMS)
def test_a_short_run_writes_checkpoints_and_a_log_and_its_seed_fixes_the_weights(
    tmp_path: Path, tiny_model: Path, arithmetic_table: Path, algorithm: str
) -> None:
    spec = replace(SPEC, algorithm=algorithm)
    first, second = tmp_path / "a", tmp_path / "b"
    log = rl.train(tiny_model, arithmetic_table, first, spec)
    again_log = rl.train(tiny_model, arithmetic_table, second, spec)
    other_seed = rl.train(tiny_model, arithmetic_table, tmp_path / "c", replace(spec, seed=1))
    # the rollouts themselves are fixed by the seed (this holds even when no reward moves the weights)
    assert again_log.drop("step_time").equals(log.drop("step_time"))
    assert not other_seed.drop("step_time").equals(log.drop("step_time"))
    assert log["step"].to_list() == [1, 2, 3]
    assert log["reward"].is_between(0.0, 1.0).all() and (log["mean_length"] > 0).all()
    assert tables.read(first / "training_log.parquet", tables.TRAINING_LOG).equals(log)
    record = tables.read_provenance(first / "training_log.parquet")
    assert record["training"]["algorithm"] == algorithm
    assert record["problems"]["sha256"] == tables.sha256_file(arithmetic_table) and record["problems"]["rows"] == 10
    for step in spec.checkpoints:
        stats = json.loads((first / f"step{step}" / "demo_training.json").read_text())
        assert stats["total_steps"] == step
        again = json.loads((second / f"step{step}" / "demo_training.json").read_text())
        assert stats["weights_sha256"] == again["weights_sha256"]  # same seed, same machine: same weights
    # beta = 0: the policy moves only where a group's rewards differ (a 20-step model may solve nothing)
    base = json.loads((tiny_model / "demo_training.json").read_text())["weights_sha256"]
    moved = json.loads((first / "step3" / "demo_training.json").read_text())["weights_sha256"] != base
    assert moved == bool((log["frac_reward_zero_std"] < 1).any())
    assert not (first / "step2").exists()
