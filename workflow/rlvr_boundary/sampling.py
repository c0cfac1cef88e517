"""Draw one seed shard of samples for a (model, benchmark) pair, continuously and resumably.

A shard holds samples ``start .. start+size-1`` of every problem. Each sample is a separate
request whose seed is a hash of (config seed, problem id, sample index), so a sample's
text depends on nothing else: not the shard layout, the batch, the order or a restart.
Raising n appends shards and never changes old ones.

Every request of the shard goes to the engine at once and the engine is stepped until the
last one finishes, so its batch stays full until the shard's final stragglers (drawing the
shard in pieces would wait for each piece's slowest sample). Finished samples are flushed
atomically to ``seed{S}.parts/`` next to the output every ``flush_samples`` samples or
``flush_seconds`` seconds, under a manifest holding the job's fingerprint: a job killed
midway, even by SIGKILL, loses only its unflushed samples and its rerun draws just the
missing ones; a changed configuration (other fingerprint) discards stale parts instead of
mixing them in. The final file lists samples in benchmark order whatever order they
finished in, so it is the same file whether or not the job was interrupted. Sampling
never judges: correctness is the verifier's business.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from rlvr_boundary import tables
from rlvr_boundary.engines import Completion, Request, model_source
from rlvr_boundary.images import ImageProcessor
from rlvr_boundary.progress import Progress
from rlvr_boundary.prompts import StopRule, render, stop_rule
from rlvr_boundary.specs import SampleSpec

PROMPT_TOO_LONG = "prompt_too_long"
log = logging.getLogger(__name__)


class Engine(Protocol):
    max_model_len: int

    def tokenize(self, prompt: str) -> list[int]: ...

    def image_tokens(self, image: bytes) -> int: ...

    def stream(
        self, requests: Sequence[Request], *, temperature: float, top_p: float, stop: StopRule
    ) -> Iterator[list[tuple[int, Completion]]]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Cadence:
    """How often a sampling job saves finished samples and logs its progress (none of it
    changes a sample, so none of it is in the job's fingerprint)."""

    flush_samples: int = 512
    flush_seconds: float = 60.0
    log_seconds: float = 30.0


def request_seed(base_seed: int, problem_id: str, sample_index: int) -> int:
    """A 63-bit per-request seed: distinct across problems and samples, stable everywhere."""
    digest = hashlib.blake2b(f"{base_seed}\x1f{problem_id}\x1f{sample_index}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") & (2**63 - 1)


def parts_dir(output: str | Path) -> Path:
    """Where a shard's flushed samples wait until the shard is complete."""
    output = Path(output)
    return output.with_name(output.stem + ".parts")


def _open_parts(output: Path, fingerprint: str) -> Path:
    folder = parts_dir(output)
    manifest = folder / "manifest.json"
    if folder.exists():
        try:
            previous = json.loads(manifest.read_text())["fingerprint"]
        except (OSError, ValueError, KeyError):
            previous = None
        if previous != fingerprint:
            log.info("%s: discarding parts of another configuration", folder)
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not manifest.exists():
        with tables.atomic_path(manifest) as tmp:
            tmp.write_text(json.dumps({"fingerprint": fingerprint}))
    return folder


def _flushed(folder: Path) -> list[pl.DataFrame]:
    return [tables.read(path, tables.SAMPLES) for path in sorted(folder.glob("part-*.parquet"))]


class _Flusher:
    """Collects finished samples and writes them as a new part every N samples or T seconds."""

    def __init__(self, folder: Path, fingerprint: str, cadence: Cadence, first_part: int) -> None:
        self.folder, self.fingerprint, self.cadence = folder, fingerprint, cadence
        self.rows: list[dict[str, Any]] = []
        self.next_part = first_part
        self.last_flush = time.monotonic()

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.cadence.flush_samples:
            self.flush()

    def tick(self) -> None:
        if self.rows and time.monotonic() - self.last_flush >= self.cadence.flush_seconds:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            frame = pl.DataFrame(self.rows, schema=tables.SAMPLES.columns)
            path = self.folder / f"part-{self.next_part:06d}.parquet"
            tables.write_parquet(frame, path, {"fingerprint": self.fingerprint})
            self.next_part += 1
            self.rows = []
        self.last_flush = time.monotonic()


def shard_order(job: SampleSpec, problems: pl.DataFrame) -> pl.DataFrame:
    """(problem_id, sample_index) of every sample of the shard, in output order."""
    indices = list(range(job.shard.start, job.shard.start + job.shard.size))
    return pl.DataFrame(
        {"problem_id": problems["problem_id"].to_list(), "sample_index": [indices] * problems.height},
        schema={"problem_id": pl.String, "sample_index": pl.List(pl.Int64)},
    ).explode("sample_index")


def _sample_row(problem_id: str, sample_index: int, completion: Completion) -> dict[str, Any]:
    """One row of the samples table."""
    return {
        "problem_id": problem_id,
        "sample_index": sample_index,
        "response": completion.text,
        "n_tokens": completion.n_tokens,
        "finish_reason": completion.finish_reason,
        "cumulative_logprob": completion.cumulative_logprob,
    }


def _requests(
    engine: Engine, job: SampleSpec, problems: pl.DataFrame, done: set[tuple[str, int]], flusher: _Flusher
) -> tuple[list[tuple[str, int]], list[Request]]:
    """The requests still to draw, with their keys; a sample whose prompt leaves no room to
    generate is settled here (status ``prompt_too_long``) without the engine. A visual
    problem's prompt is counted with its image expanded (one placeholder becomes many)."""
    sampling, shard = job.sampling, job.shard
    keys: list[tuple[str, int]] = []
    requests: list[Request] = []
    blank = [None] * problems.height
    starter = problems["starter_code"] if "starter_code" in problems.columns else blank
    images = problems["image"] if "image" in problems.columns else blank
    for (problem_id, question), starter_code, image in zip(
        problems.select("problem_id", "question").iter_rows(), starter, images, strict=True
    ):
        missing = [i for i in range(shard.start, shard.start + shard.size) if (problem_id, i) not in done]
        if not missing:
            continue
        prompt_ids = engine.tokenize(render(job.template, question, starter_code or ""))
        length = len(prompt_ids) + (engine.image_tokens(image) - 1 if image is not None else 0)
        budget = min(sampling["max_tokens"], engine.max_model_len - length)
        for sample_index in missing:
            if budget < 1:
                flusher.add(_sample_row(problem_id, sample_index, Completion("", 0, PROMPT_TOO_LONG, None)))
            else:
                keys.append((problem_id, sample_index))
                seed = request_seed(sampling["seed"], problem_id, sample_index)
                requests.append(Request(prompt_ids, seed, budget, image))
    return keys, requests


def _draw(
    engine: Engine,
    job: SampleSpec,
    keys: list[tuple[str, int]],
    requests: list[Request],
    flusher: _Flusher,
    progress: Progress,
) -> None:
    """Stream ``requests`` through the engine, handing each finished sample to the flusher."""
    stop = stop_rule(job.template, job.sampling["stop_policy"], model_source(job.model)[0])
    steps = engine.stream(requests, temperature=job.sampling["temperature"], top_p=job.sampling["top_p"], stop=stop)
    for finished in steps:
        for position, completion in finished:
            flusher.add(_sample_row(*keys[position], completion))
            progress.advance(1, tokens=completion.n_tokens)
        flusher.tick()
        progress.tick()
    flusher.flush()


def _assemble(order: pl.DataFrame, drawn: list[pl.DataFrame], output: Path) -> pl.DataFrame:
    """The shard's rows in output order; an error if any sample is missing or drawn twice."""
    rows = pl.concat(drawn) if drawn else pl.DataFrame(schema=tables.SAMPLES.columns)
    counts = rows.group_by("problem_id", "sample_index").len()
    counted = order.join(counts, on=["problem_id", "sample_index"], how="left")
    wrong = counted.filter(pl.col("len").fill_null(0) != 1)
    if wrong.height or rows.height != order.height:
        raise ValueError(
            f"{parts_dir(output)}: {wrong.height} samples missing or drawn twice "
            f"(first: {wrong.head(1).to_dicts()}); delete the folder to redraw the shard"
        )
    return order.join(rows, on=["problem_id", "sample_index"], how="left", maintain_order="left")


def shard_record(job: SampleSpec, benchmark_path: str | Path, **extra: Any) -> dict[str, Any]:
    """The provenance of a shard of samples: model, benchmark, prompt, shard, sampling, hash."""
    return tables.provenance(
        stage="sample",
        model=job.model_name,
        model_spec=job.model,
        benchmark=job.benchmark,
        benchmark_provenance=tables.read_provenance(benchmark_path),
        prompt_template=job.template,
        shard=asdict(job.shard),
        sampling=job.sampling,
        config_hash=job.fingerprint(),
        **extra,
    )


def sample_shard(
    job: SampleSpec,
    benchmark_path: str | Path,
    output: str | Path,
    make_engine: Callable[[SampleSpec], Engine],
    provenance: dict[str, Any] | None = None,
    cadence: Cadence = Cadence(),
) -> None:
    """Write ``output`` with every sample of ``job``, resuming from flushed parts."""
    output = Path(output)
    table = tables.read_benchmark(benchmark_path)
    fingerprint = job.fingerprint()
    folder = _open_parts(output, fingerprint)
    order = shard_order(job, table)
    drawn = _flushed(folder)
    done = {key for frame in drawn for key in frame.select("problem_id", "sample_index").iter_rows()}
    log.info("%s: %d of %d samples already drawn", output, len(done), order.height)
    timing: dict[str, Any] = {"resumed_samples": len(done)}
    extra: dict[str, Any] = {}
    if "image" in table.columns:
        extra["image_preprocessing"] = ImageProcessor(
            *model_source(job.model), job.model.get("image_pixels")
        ).preprocessing()
    if len(done) < order.height:
        started = time.monotonic()
        engine = make_engine(job)
        try:
            timing["engine_start_s"] = round(time.monotonic() - started, 3)
            flusher = _Flusher(folder, fingerprint, cadence, first_part=len(drawn))
            keys, requests = _requests(engine, job, table, done, flusher)
            progress = Progress(
                len(requests), every_s=cadence.log_seconds, unit="samples", name=str(output), tokens=True, logger=log
            )
            generating = time.monotonic()
            _draw(engine, job, keys, requests, flusher, progress)
            progress.finish()
            timing |= {"generation_s": round(time.monotonic() - generating, 3), "drawn_samples": len(requests)}
        finally:
            engine.close()
        drawn = _flushed(folder)
    samples = _assemble(order, drawn, output)
    tables.write(
        samples,
        output,
        tables.SAMPLES,
        shard_record(job, benchmark_path, timing=timing, **extra, **(provenance or {})),
    )
    shutil.rmtree(folder)


def sample(job: SampleSpec, benchmark_path: str | Path, output: str | Path, threads: int, cadence: Cadence) -> None:
    """The sample stage: one shard with the vLLM engine (configured for CPU when no GPU is present)."""
    from rlvr_boundary import engines

    sample_shard(
        job, benchmark_path, output, lambda spec: engines.load(spec.model, spec.sampling, threads), cadence=cadence
    )
