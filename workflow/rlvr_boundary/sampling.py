"""Draw one seed shard of samples for a (model, benchmark) pair, resumably.

A shard holds samples ``start .. start+size-1`` of every problem. Each sample is a separate
request whose seed is a hash of (config seed, problem id, sample index), so a sample's
text depends on nothing else: not the shard layout, the batch, the chunking or a restart.
Raising n appends shards and never changes old ones.

Work is cut into chunks of problems; each finished chunk is written atomically to
``seed{S}.chunks/`` next to the output, under a manifest holding the job's fingerprint. A
job killed midway restarts from the first unfinished chunk; a changed configuration (other
fingerprint) discards stale chunks instead of mixing them in. Sampling never judges:
correctness is the verifier's business.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from rlvr_boundary import tables
from rlvr_boundary.engines import Completion, Request
from rlvr_boundary.prompts import StopRule, render, stop_rule
from rlvr_boundary.specs import SampleSpec

PROMPT_TOO_LONG = "prompt_too_long"
log = logging.getLogger(__name__)


class Engine(Protocol):
    max_model_len: int

    def tokenize(self, prompt: str) -> list[int]: ...

    def generate(
        self, requests: list[Request], *, temperature: float, top_p: float, stop: StopRule
    ) -> list[Completion]: ...

    def close(self) -> None: ...


def request_seed(base_seed: int, problem_id: str, sample_index: int) -> int:
    """A 63-bit per-request seed: distinct across problems and samples, stable everywhere."""
    digest = hashlib.blake2b(f"{base_seed}\x1f{problem_id}\x1f{sample_index}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") & (2**63 - 1)


def model_source(model: dict[str, Any]) -> tuple[str, str | None]:
    """Where the engine loads weights from: a local folder, or a hub id at a revision."""
    if "path" in model:
        return model["path"], None
    return model["hf_id"], model["revision"]


def _chunk_dir(output: Path) -> Path:
    return output.with_name(output.stem + ".chunks")


def _open_chunks(output: Path, fingerprint: str) -> Path:
    chunk_dir = _chunk_dir(output)
    manifest = chunk_dir / "manifest.json"
    if chunk_dir.exists():
        try:
            previous = json.loads(manifest.read_text())["fingerprint"]
        except (OSError, ValueError, KeyError):
            previous = None
        if previous != fingerprint:
            shutil.rmtree(chunk_dir)
    chunk_dir.mkdir(parents=True, exist_ok=True)
    if not manifest.exists():
        with tables.atomic_path(manifest) as tmp:
            tmp.write_text(json.dumps({"fingerprint": fingerprint}))
    return chunk_dir


def _draw_chunk(engine: Engine, job: SampleSpec, problems: pl.DataFrame) -> pl.DataFrame:
    sampling, shard = job.sampling, job.shard
    stop = stop_rule(job.template, sampling["stop_policy"], model_source(job.model)[0])
    requests: list[Request] = []
    rows: list[dict[str, Any]] = []
    pending: list[int] = []
    starter = problems["starter_code"] if "starter_code" in problems.columns else [""] * problems.height
    for (problem_id, question), starter_code in zip(
        problems.select("problem_id", "question").iter_rows(), starter, strict=True
    ):
        prompt_ids = engine.tokenize(render(job.template, question, starter_code or ""))
        budget = min(sampling["max_tokens"], engine.max_model_len - len(prompt_ids))
        for sample_index in range(shard.start, shard.start + shard.size):
            row = {"problem_id": problem_id, "sample_index": sample_index}
            if budget < 1:
                row |= {"response": "", "n_tokens": 0, "finish_reason": PROMPT_TOO_LONG, "cumulative_logprob": None}
            else:
                pending.append(len(rows))
                requests.append(Request(prompt_ids, request_seed(sampling["seed"], problem_id, sample_index), budget))
            rows.append(row)
    completions = engine.generate(requests, temperature=sampling["temperature"], top_p=sampling["top_p"], stop=stop)
    for position, completion in zip(pending, completions, strict=True):
        rows[position] |= {
            "response": completion.text,
            "n_tokens": completion.n_tokens,
            "finish_reason": completion.finish_reason,
            "cumulative_logprob": completion.cumulative_logprob,
        }
    return pl.DataFrame(rows, schema=tables.SAMPLES.columns)


def sample_shard(
    job: SampleSpec,
    benchmark_path: str | Path,
    output: str | Path,
    make_engine: Callable[[SampleSpec], Engine],
    provenance: dict[str, Any] | None = None,
) -> None:
    """Write ``output`` with every sample of ``job``, resuming from finished chunks."""
    output = Path(output)
    table = tables.read_benchmark(benchmark_path)
    fingerprint = job.fingerprint()
    chunk_dir = _open_chunks(output, fingerprint)
    step = job.sampling["chunk_problems"]
    starts = range(0, table.height, step)
    todo = [s for s in starts if not (chunk_dir / f"{s // step:05d}.parquet").exists()]
    log.info("%s: %d of %d chunks already done, drawing %d", output, len(starts) - len(todo), len(starts), len(todo))
    if todo:
        engine = make_engine(job)
        try:
            for start in todo:
                frame = _draw_chunk(engine, job, table.slice(start, step))
                tables.write_parquet(frame, chunk_dir / f"{start // step:05d}.parquet", {"fingerprint": fingerprint})
        finally:
            engine.close()
    frames = [tables.read(chunk_dir / f"{s // step:05d}.parquet", tables.SAMPLES) for s in starts]
    samples = pl.concat(frames)
    record = tables.provenance(
        stage="sample",
        model=job.model_name,
        model_spec=job.model,
        benchmark=job.benchmark,
        benchmark_provenance=tables.read_provenance(benchmark_path),
        prompt_template=job.template,
        shard=asdict(job.shard),
        sampling=job.sampling,
        config_hash=fingerprint,
        **(provenance or {}),
    )
    tables.write(samples, output, tables.SAMPLES, record)
    shutil.rmtree(chunk_dir)


def sample(job: SampleSpec, benchmark_path: str | Path, output: str | Path, threads: int) -> None:
    """The sample stage: one shard with the vLLM engine (configured for CPU when no GPU is present)."""
    import torch

    from rlvr_boundary import engines

    on_cpu = not torch.cuda.is_available()
    if on_cpu:
        engines.configure_cpu_runtime(threads)

    def make_engine(spec: SampleSpec) -> engines.VllmEngine:
        source, revision = model_source(spec.model)
        return engines.VllmEngine(
            source,
            revision=revision,
            tensor_parallel_size=spec.model.get("tensor_parallel_size", 1),
            dtype=spec.sampling.get("dtype", "auto"),
            max_model_len=spec.model.get("max_model_len") or spec.sampling.get("max_model_len"),
            enforce_eager=spec.sampling.get("enforce_eager", False),
            gpu_memory_utilization=spec.sampling.get("gpu_memory_utilization", 0.9),
            enable_chunked_prefill=False if on_cpu else None,
        )

    sample_shard(job, benchmark_path, output, make_engine)
