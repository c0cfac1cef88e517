"""Score given responses under a model: log-likelihood and perplexity (Fig. 6).

Each response is appended to the scorer's prompt for its problem and the whole sequence
goes through the engine once with ``prompt_logprobs`` (a prefill pass, no generation); the
log-probabilities of the response's tokens are summed, the prompt's are not. The prompt
is tokenized as sampling tokenizes it and the response text alone, without special
tokens, so the sequence is what the scorer would have seen had it written the response
(its own samples re-tokenize to the same tokens unless their text was cut at a stop
string). The end-of-response token is not scored: imported responses do not say how they
ended. Perplexity = exp(-logprob / response tokens), under the model's raw distribution.

A response with no token, or one that does not fit the scorer's context with its prompt,
is a recorded status, not an error. Scoring never judges.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from rlvr_boundary import tables
from rlvr_boundary.progress import Progress
from rlvr_boundary.prompts import render
from rlvr_boundary.specs import ScoreSpec

BATCH = 256
"""Sequences per engine call: a progress line between calls, the engine batches within one."""
log = logging.getLogger(__name__)


class Scorer(Protocol):
    max_model_len: int

    def tokenize(self, prompt: str) -> list[int]: ...

    def tokenize_continuation(self, text: str) -> list[int]: ...

    def prompt_logprobs(self, sequences: Sequence[list[int]]) -> list[list[float]]: ...

    def close(self) -> None: ...


def perplexity(logprob: float, tokens: int) -> float:
    """exp of the mean negative log-probability per token."""
    return math.exp(-logprob / tokens)


def score_rows(job: ScoreSpec, responses: pl.DataFrame, problems: pl.DataFrame, engine: Scorer) -> pl.DataFrame:
    """The scores table of ``responses`` (a samples table) under ``engine``."""
    questions = dict(problems.select("problem_id", "question").iter_rows())
    unknown = sorted(set(responses["problem_id"]) - set(questions))
    if unknown:
        raise ValueError(f"{job.responses}: problem {unknown[0]!r} is not in benchmark {job.benchmark}")
    prompts = {pid: engine.tokenize(render(job.template, questions[pid])) for pid in set(responses["problem_id"])}
    rows: list[dict[str, Any]] = []
    pending: list[tuple[int, list[int], int]] = []
    for problem_id, sample_index, text in responses.select("problem_id", "sample_index", "response").iter_rows():
        tokens = engine.tokenize_continuation(text or "")
        prompt = prompts[problem_id]
        status = "empty" if not tokens else "too_long" if len(prompt) + len(tokens) + 1 > engine.max_model_len else None
        rows.append(
            {
                "problem_id": problem_id,
                "sample_index": sample_index,
                "response_tokens": len(tokens),
                "logprob": None,
                "perplexity": None,
                "status": status or "scored",
            }
        )
        if status is None:
            pending.append((len(rows) - 1, prompt + tokens, len(prompt)))
    progress = Progress(len(pending), every_s=30.0, unit="responses", name=job.responses, logger=log)
    for start in range(0, len(pending), BATCH):
        batch = pending[start : start + BATCH]
        for (row, _, prompt_length), logprobs in zip(
            batch, engine.prompt_logprobs([sequence for _, sequence, _ in batch]), strict=True
        ):
            total = math.fsum(logprobs[prompt_length - 1 :])  # logprobs[i] is token i + 1's
            rows[row]["logprob"] = total
            rows[row]["perplexity"] = perplexity(total, rows[row]["response_tokens"])
        progress.advance(len(batch))
        progress.tick()
    progress.finish()
    return pl.DataFrame(rows, schema=tables.SCORES.columns)


def score(
    job: ScoreSpec,
    responses_path: str | Path,
    benchmark_path: str | Path,
    output: str | Path,
    make_engine: Callable[[ScoreSpec], Scorer],
) -> None:
    """The score stage: one responses file (a shard of samples, or a figure's reference) in,
    its scores table out, with the scorer and the responses' provenance."""
    responses = tables.read(responses_path, tables.SAMPLES)
    problems = tables.read_benchmark(benchmark_path)
    engine = make_engine(job)
    try:
        scores = score_rows(job, responses, problems, engine)
    finally:
        engine.close()
    record = tables.provenance(
        stage="score",
        scorer=job.scorer,
        model_spec=job.model,
        benchmark=job.benchmark,
        prompt_template=job.template,
        engine=job.engine,
        responses=job.responses,
        responses_provenance=tables.read_provenance(responses_path),
        config_hash=tables.config_hash(asdict(job)),
    )
    tables.write(scores, output, tables.SCORES, record)


def run(
    job: ScoreSpec, responses_path: str | Path, benchmark_path: str | Path, output: str | Path, threads: int
) -> None:
    """The score stage with the vLLM engine."""
    from rlvr_boundary import engines

    score(job, responses_path, benchmark_path, output, lambda spec: engines.load(spec.model, spec.engine, threads))
