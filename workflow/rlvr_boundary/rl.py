"""RLVR for the laptop lab: train a model on a benchmark's problems with TRL's GRPO or RLOO
trainer, rewarded by the project's own math verifier.

The paper's RL runs (VeRL, Qwen2.5-7B) need GPUs; TRL's trainers run on these CPUs with the
pinned transformers, so the lab trains for real with the same reward the pipeline grades
with: a completion earns 1 when ``verify.math.verify`` calls it correct, else 0. Prompts are
rendered with the evaluation template (no chat template), so the policy is trained on the
very strings the sampling rule sends. Checkpoints are saved at the configured steps as
ordinary Hugging Face directories (atomically, with their weights' sha256), so each is a
model the DAG samples like any other; the per-step statistics TRL logs (reward, response
length, token entropy) are written as the training-log table, Fig. 18's input.

The algorithm names the loss: ``grpo`` is TRL's ``GRPOTrainer`` with ``loss_type="grpo"``
(per-sequence normalisation, as in the GRPO paper; TRL's default would be DAPO's token-level
aggregation), ``rloo`` is ``RLOOTrainer`` (leave-one-out baseline).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from rlvr_boundary import tables
from rlvr_boundary.demo import save_model_atomically
from rlvr_boundary.progress import Progress
from rlvr_boundary.prompts import render
from rlvr_boundary.specs import RLSpec
from rlvr_boundary.verify.math import verify

ALGORITHMS = ("grpo", "rloo")

_LOG_FIELDS = {  # training-log column -> TRL's log_history key
    "reward": "reward",
    "reward_std": "reward_std",
    "frac_reward_zero_std": "frac_reward_zero_std",
    "mean_length": "completions/mean_length",
    "entropy": "entropy",
    "grad_norm": "grad_norm",
    "step_time": "step_time",
}


def verifier_reward(grader: str = "ours") -> Callable[..., list[float]]:
    """TRL reward function: 1.0 for a completion the math verifier accepts, else 0.0.

    TRL passes the dataset's extra columns as keyword arguments; ``answer`` is the gold.
    """

    def reward(completions: Sequence[str], answer: Sequence[str], **_: Any) -> list[float]:
        return [float(verify(c, a, grader=grader).correct) for c, a in zip(completions, answer, strict=True)]

    reward.__name__ = f"verifier_{grader}"
    return reward


def training_log(log_history: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """The per-step rows of TRL's ``state.log_history`` as the training-log table (the
    end-of-training summary row, which has no reward, is left out)."""
    rows = [
        {"step": int(entry["step"]), **{col: float(entry[key]) for col, key in _LOG_FIELDS.items()}}
        for entry in log_history
        if "reward" in entry
    ]
    frame = pl.DataFrame(rows, schema=dict(tables.TRAINING_LOG.columns))
    return tables.check(frame, tables.TRAINING_LOG, "log_history")


def train(init: Path, problems_table: Path, output: Path, spec: RLSpec, threads: int = 2) -> pl.DataFrame:
    """Train ``init`` on the problems of a prepared math benchmark table; return the training log.

    Writes ``output/step{N}`` for each of ``spec.checkpoints`` and
    ``output/training_log.parquet``. Each step samples ``spec.rollouts`` completions for each
    of ``spec.prompts_per_step`` prompts at ``spec.temperature``.
    """
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

    if spec.algorithm not in ALGORITHMS:
        raise ValueError(f"RLSpec.algorithm: unknown RL algorithm {spec.algorithm!r}; known: {list(ALGORITHMS)}")
    bad = sorted(s for s in spec.checkpoints if not 1 <= s <= spec.steps)
    if bad or not spec.checkpoints:
        raise ValueError(f"RLSpec.checkpoints: steps must lie in 1..{spec.steps}, got {bad or 'none'}")
    problems = tables.read_benchmark(problems_table)
    torch.set_num_threads(threads)
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(init)
    model = AutoModelForCausalLM.from_pretrained(init, dtype=torch.float32)
    dataset = Dataset.from_dict(
        {
            "prompt": [render(spec.template, q) for q in problems["question"]],
            "answer": problems["gold"].to_list(),
        }
    )
    output = Path(output)
    wanted = set(spec.checkpoints)
    training: dict[str, Any] = {
        **asdict(spec),
        "init_from": str(init),
        "threads": threads,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
    }

    progress = Progress(spec.steps, every_s=15.0, unit="steps", name="rl")

    class SaveCheckpoints(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **_: Any) -> None:
            progress.advance()
            if state.global_step in wanted:
                save_model_atomically(
                    output / f"step{state.global_step}",
                    model,
                    tokenizer,
                    {**training, "total_steps": state.global_step, "seconds": round(time.perf_counter() - started, 1)},
                )

    trainer = _trainer(spec, model, tokenizer, dataset, output)
    trainer.add_callback(SaveCheckpoints())
    trainer.train()
    progress.finish()
    log = training_log(trainer.state.log_history)
    record = tables.provenance(
        stage="rl",
        training=training,
        problems={"path": str(problems_table), "sha256": tables.sha256_file(problems_table), "rows": problems.height},
        seconds=round(time.perf_counter() - started, 1),
    )
    tables.write_parquet(log, output / "training_log.parquet", record)
    return log


def _trainer(spec: RLSpec, model: Any, tokenizer: Any, dataset: Any, output: Path) -> Any:
    """TRL's trainer for ``spec.algorithm`` with the lab's settings (CPU, no saving or
    reporting by TRL itself, a constant rate, one log row per step)."""
    common = {
        "output_dir": str(output / ".trl"),
        "max_steps": spec.steps,
        "learning_rate": spec.learning_rate,
        "lr_scheduler_type": "constant",
        "per_device_train_batch_size": spec.prompts_per_step * spec.rollouts,
        "num_generations": spec.rollouts,
        "max_completion_length": spec.max_tokens,
        "temperature": spec.temperature,
        "beta": spec.beta,
        "seed": spec.seed,
        "data_seed": spec.seed,
        "use_cpu": True,
        "bf16": False,
        "report_to": [],
        "save_strategy": "no",
        "logging_steps": 1,
        "disable_tqdm": True,
    }
    reward = verifier_reward()
    if spec.algorithm == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        args = GRPOConfig(loss_type="grpo", **common)
        return GRPOTrainer(
            model=model, reward_funcs=reward, args=args, train_dataset=dataset, processing_class=tokenizer
        )
    from trl import RLOOConfig, RLOOTrainer

    args = RLOOConfig(**common)
    return RLOOTrainer(model=model, reward_funcs=reward, args=args, train_dataset=dataset, processing_class=tokenizer)
