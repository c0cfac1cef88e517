"""Samples made elsewhere: five tools' sample files read into the samples table.

A model whose config says ``samples_from: {format, paths}`` is not sampled: the import stage
reads its files, matches their problems to the prepared benchmark table, and writes the same
``results/samples/...`` shards the sampler would (every downstream rule is unchanged). The
readers follow each tool's own code (README, "Samples made elsewhere"):

* ``qwen-math`` — the Qwen2.5-Math harness the paper's ``math_eval.py`` extends: one json line
  per problem, ``idx``, ``question``, ``gt``, per-sample lists ``code`` (responses), ``pred``,
  ``score`` and (the paper's fork) ``finish_reason``; one file per seed run, pooled in order.
* ``lm-eval`` — lm-evaluation-harness ``samples_{task}_{date}.jsonl``: ``doc_id``, ``doc``,
  ``resps`` (``[[k generations]]``), ``filter`` (one line per doc and filter: the first filter
  is read), per-doc metric fields (a score only when k = 1).
* ``lighteval`` — details parquet: ``doc``/``model_response``/``metric`` structs (0.11 on) or
  the flat ``example``/``predictions``/``metrics`` columns (0.5-0.10).
* ``evalplus`` — ``samples.jsonl`` (``task_id`` with ``solution`` or ``completion``, one line
  per sample) and, beside it, ``samples_eval_results.json`` / ``samples.eval_results.json``
  when present (``base_status``/``plus_status``: a sample passes when both are "pass").
* ``jsonl`` — ours: ``problem_id``, optional ``sample_index``, ``response``, optional
  ``correct``, ``finish_reason``, ``question``.

A file that does not record why a response ended gets the finish reason ``unknown``, which
the verifier treats as finished. Problems are never padded: a benchmark problem with fewer
than n samples, or a file problem absent from the benchmark, is one error naming them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from rlvr_boundary import tables
from rlvr_boundary.specs import ImportSpec, ReferenceSpec, Shard

FORMATS = ("qwen-math", "lm-eval", "lighteval", "evalplus", "jsonl")
MATCHES = ("id", "index", "question")
DEFAULT_MATCH = {"qwen-math": "index", "lm-eval": "index", "lighteval": "index", "evalplus": "id", "jsonl": "id"}
ID_FIELD = {
    "qwen-math": "idx",
    "lm-eval": "doc_id",
    "lighteval": "doc.id",
    "evalplus": "task_id",
    "jsonl": "problem_id",
}
UNKNOWN_FINISH = "unknown"
_SAMPLE_COLUMNS = [c for c in tables.SAMPLES.columns if c != "problem_id"]
_SHOWN = 5  # problems named in an error


class SampleFileError(ValueError):
    """A malformed sample file: the message names the file, the line (or row) and the field."""


Record = dict[str, Any]  # one sample: problem, response; optional question, correct, finish_reason, n_tokens


def _where(path: Path, line: int | None, field: str) -> str:
    return f"{path}:{line}: field {field!r}" if line is not None else f"{path}: field {field!r}"


def _need(row: Any, field: str, kind: type | tuple[type, ...], path: Path, line: int) -> Any:
    if not isinstance(row, dict):
        raise SampleFileError(f"{path}:{line}: expected a JSON object, got {type(row).__name__}")
    if field not in row:
        raise SampleFileError(f"{_where(path, line, field)}: missing")
    value = row[field]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise SampleFileError(f"{_where(path, line, field)}: expected {name}, got {type(value).__name__}")
    return value


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError as exc:
                raise SampleFileError(f"{path}:{number}: not JSON ({exc.msg})") from None


def _same_length(row: dict, fields: Iterable[str], length: int, path: Path, line: int) -> None:
    for field in fields:
        if field in row and row[field] is not None and len(row[field]) != length:
            raise SampleFileError(f"{_where(path, line, field)}: {len(row[field])} entries, but 'code' has {length}")


def _qwen_math(path: Path) -> Iterator[Record]:
    for line, row in _json_lines(path):
        idx = _need(row, "idx", (int, str), path, line)
        responses = _need(row, "code", list, path, line)
        _same_length(row, ("pred", "score", "finish_reason", "report"), len(responses), path, line)
        for j, response in enumerate(responses):
            if not isinstance(response, str):
                raise SampleFileError(f"{_where(path, line, 'code')}: entry {j} is not a string")
            yield {
                "line": line,
                "problem": str(idx),
                "question": row.get("question"),
                "response": response,
                "correct": None if row.get("score") is None else bool(row["score"][j]),
                "finish_reason": (row.get("finish_reason") or [None] * len(responses))[j],
            }


def _lm_eval_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8") as handle:
        head = handle.read(4096).lstrip()[:1]
    if head == "[":  # lm-eval <= 0.4.2 wrote one indented JSON array under a .jsonl name
        try:
            yield from enumerate(json.loads(path.read_text(encoding="utf-8")), 1)
        except json.JSONDecodeError as exc:
            raise SampleFileError(f"{path}: not JSON ({exc.msg})") from None
        return
    yield from _json_lines(path)


def _lm_eval(path: Path, score_field: str | None) -> Iterator[Record]:
    first_filter: str | None = None
    for line, row in _lm_eval_rows(path):
        doc_id = _need(row, "doc_id", int, path, line)
        resps = _need(row, "resps", list, path, line)
        kept = row.get("filter", "none")
        first_filter = kept if first_filter is None else first_filter
        if kept != first_filter:
            continue  # the same generations again under another filter
        if len(resps) != 1 or not isinstance(resps[0], list):
            raise SampleFileError(
                f"{_where(path, line, 'resps')}: expected [[generations]] of one generate_until request, "
                f"got {len(resps)} requests (a log-likelihood task has no responses to grade)"
            )
        doc = row.get("doc") if isinstance(row.get("doc"), dict) else {}
        generations = resps[0]
        score = row.get(score_field) if score_field else None
        if score_field and score is None:
            raise SampleFileError(f"{_where(path, line, score_field)}: missing (samples_from.score_field)")
        for response in generations:
            if not isinstance(response, str):
                raise SampleFileError(f"{_where(path, line, 'resps')}: a generation is not a string")
            yield {
                "line": line,
                "problem": str(doc_id),
                "question": doc.get("problem") or doc.get("question"),
                "response": response,
                "correct": None if score is None or len(generations) != 1 else bool(float(score)),
            }


def _lighteval(path: Path, score_field: str | None) -> Iterator[Record]:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # not parquet, or unreadable
        raise SampleFileError(f"{path}: not a lighteval details parquet ({exc})") from None
    new_layout = "model_response" in frame.columns
    needed = ("doc", "model_response") if new_layout else ("example", "predictions")
    for column in needed:
        if column not in frame.columns:
            raise SampleFileError(f"{_where(path, None, column)}: missing column")
    for row_number, row in enumerate(frame.iter_rows(named=True)):
        if new_layout:
            doc, response = row["doc"] or {}, row["model_response"] or {}
            texts, question = response.get("text"), doc.get("original_query") or doc.get("query")
            problem = doc.get("id") or str(row_number)
            metrics = row.get("metric") or {}
        else:
            texts, question, problem = row["predictions"], row["example"], str(row_number)
            metrics = row.get("metrics") or {}
        field = "model_response.text" if new_layout else "predictions"
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise SampleFileError(f"{path}: row {row_number}: field {field!r}: expected a list of strings")
        score = metrics.get(score_field) if score_field else None
        if score_field and score is None:
            raise SampleFileError(
                f"{path}: row {row_number}: field {score_field!r}: missing (samples_from.score_field)"
            )
        for text in texts:
            yield {
                "line": row_number,
                "problem": str(problem),
                "question": question,
                "response": text,
                "correct": None if score is None or len(texts) != 1 else bool(float(score)),
            }


def _evalplus_results(path: Path) -> dict[str, list[bool]] | None:
    for name in (path.name.replace(".jsonl", "_eval_results.json"), path.name.replace(".jsonl", ".eval_results.json")):
        results = path.with_name(name)
        if results.is_file():
            break
    else:
        return None
    try:
        tasks = json.loads(results.read_text(encoding="utf-8"))["eval"]
        return {
            task: [r["base_status"] == "pass" and r.get("plus_status") in ("pass", None) for r in runs]
            for task, runs in tasks.items()
        }
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise SampleFileError(f"{results}: field 'eval': not evalplus results ({exc})") from None


def _evalplus(path: Path) -> Iterator[Record]:
    passed = _evalplus_results(path)
    seen: dict[str, int] = {}
    for line, row in _json_lines(path):
        task = _need(row, "task_id", str, path, line)
        field = "solution" if "solution" in row else "completion"
        code = _need(row, field, str, path, line)
        k = seen[task] = seen.get(task, -1) + 1
        correct = None
        if passed is not None:
            if task not in passed or k >= len(passed[task]):
                raise SampleFileError(f"{_where(path, line, 'task_id')}: {task} sample {k} has no evalplus result")
            correct = passed[task][k]
        yield {"line": line, "problem": task, "response": code, "correct": correct, "completion": field == "completion"}


def _plain(path: Path) -> Iterator[Record]:
    for line, row in _json_lines(path):
        problem = _need(row, "problem_id", (str, int), path, line)
        record = {"line": line, "problem": str(problem), "response": _need(row, "response", str, path, line)}
        if "sample_index" in row:
            record["sample_index"] = _need(row, "sample_index", int, path, line)
        if row.get("correct") is not None:
            record["correct"] = _need(row, "correct", bool, path, line)
        for optional in ("finish_reason", "question"):
            if row.get(optional) is not None:
                record[optional] = _need(row, optional, str, path, line)
        yield record


def _reader(format: str, score_field: str | None) -> Callable[[Path], Iterator[Record]]:
    readers: dict[str, Callable[[Path], Iterator[Record]]] = {
        "qwen-math": _qwen_math,
        "lm-eval": lambda p: _lm_eval(p, score_field),
        "lighteval": lambda p: _lighteval(p, score_field),
        "evalplus": _evalplus,
        "jsonl": _plain,
    }
    if format not in readers:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    return readers[format]


def read_samples(path: str | Path, *, format: str, score_field: str | None = None) -> pl.DataFrame:
    """One file's samples: the samples table's columns (``problem_id`` is the file's own id),
    plus ``correct`` when the file carries per-sample scores and ``question`` when it names
    the problem's text. ``score_field``: the per-doc metric that is the score (lm-eval,
    lighteval; a score exists only for docs with one generation)."""
    return _located(path, format, score_field).drop("source", "line")


def _located(path: str | Path, format: str, score_field: str | None) -> pl.DataFrame:
    """``read_samples`` plus where each sample was read: ``source`` (the file) and ``line``
    (row, for parquet), so that a later error can point at it."""
    path = Path(path)
    if not path.is_file():
        raise SampleFileError(f"{path}: no such sample file")
    records = list(_reader(format, score_field)(path))
    if not records:
        raise SampleFileError(f"{path}: no samples in the file")
    frame = pl.DataFrame(
        {
            "problem_id": [r["problem"] for r in records],
            "response": [r["response"] for r in records],
            "finish_reason": [r.get("finish_reason") or UNKNOWN_FINISH for r in records],
            "question": [r.get("question") for r in records],
            "correct": [r.get("correct") for r in records],
            "completion": [bool(r.get("completion")) for r in records],
            "given_index": [r.get("sample_index") for r in records],
            "line": [r["line"] for r in records],
        },
        schema_overrides={"question": pl.String, "correct": pl.Boolean, "given_index": pl.Int64},
    )
    unknown = sorted(set(frame["finish_reason"]) - set(tables.FINISH_REASONS))
    if unknown:
        raise SampleFileError(f"{path}: field 'finish_reason': unknown value {unknown[0]!r}")
    order = pl.int_range(pl.len()).over("problem_id")
    frame = frame.with_columns(
        sample_index=pl.coalesce("given_index", order).cast(pl.Int64),
        n_tokens=pl.lit(None, pl.Int64),
        cumulative_logprob=pl.lit(None, pl.Float64),
    )
    duplicated = frame.filter(pl.struct("problem_id", "sample_index").is_duplicated())
    if duplicated.height:
        first = duplicated.row(0, named=True)
        raise SampleFileError(
            f"{path}: field 'sample_index': {first['sample_index']} appears twice for problem {first['problem_id']!r}"
        )
    keep = [c for c in ("question", "correct", "completion") if frame[c].null_count() < frame.height]
    keep = [c for c in keep if c != "completion" or frame["completion"].any()]
    return frame.select("problem_id", *_SAMPLE_COLUMNS, *keep, pl.lit(str(path)).alias("source"), "line")


def _normalised(text: str | None) -> str | None:
    return None if text is None else re.sub(r"\s+", " ", text).strip().casefold()


def pooled(spec: ImportSpec) -> pl.DataFrame:
    """Every file of the spec read and pooled in order (seed runs: file k's samples follow
    file k-1's for each problem); ids are still the files' own (``matched`` maps them)."""
    frames = [_located(p, spec.format, spec.score_field) for p in spec.paths]
    columns = sorted({c for f in frames for c in f.columns} - set(tables.SAMPLES.columns))
    frames = [f.with_columns(pl.lit(None).alias(c) for c in columns if c not in f.columns) for f in frames]
    offset = pl.int_range(pl.len()).over("problem_id")
    return pl.concat(
        [f.select("problem_id", *_SAMPLE_COLUMNS, *columns) for f in frames], how="vertical_relaxed"
    ).with_columns(sample_index=offset.cast(pl.Int64) if len(frames) > 1 else pl.col("sample_index"))


def matched(samples: pl.DataFrame, table: pl.DataFrame, spec: ImportSpec, source: str) -> pl.DataFrame:
    """``samples`` with the benchmark's ``problem_id``: the file's id matched by id, by the
    0-based index, or by whitespace- and case-normalised question text."""
    if spec.match == "id":
        keys, table_keys = samples["problem_id"], table["problem_id"]
    elif spec.match == "index":
        keys, table_keys = samples["problem_id"], table["index"].cast(pl.String)
    else:
        if "question" not in samples.columns:
            raise SampleFileError(f"{source}: field 'question': the file names no question text to match by")
        keys = samples["question"].map_elements(_normalised, return_dtype=pl.String)
        table_keys = table["question"].map_elements(_normalised, return_dtype=pl.String)
    lookup = pl.DataFrame({"key": table_keys, "benchmark_id": table["problem_id"]}).unique("key", keep="first")
    joined = samples.with_columns(key=keys).join(lookup, on="key", how="left", maintain_order="left")
    unmatched = joined.filter(pl.col("benchmark_id").is_null())
    if unmatched.height:
        first = unmatched.row(0, named=True)
        field = "question" if spec.match == "question" else ID_FIELD[spec.format]
        missing = unmatched["problem_id"].unique(maintain_order=True).to_list()
        raise SampleFileError(
            f"{first['source']}:{first['line']}: field {field!r}: {len(missing)} problem(s) not in benchmark "
            f"{spec.benchmark} (matched by {spec.match}): {missing[:_SHOWN]}"
        )
    return joined.with_columns(problem_id=pl.col("benchmark_id")).drop("key", "benchmark_id")


def _checked_counts(samples: pl.DataFrame, table: pl.DataFrame, spec: ImportSpec, source: str) -> None:
    counts = dict(samples.group_by("problem_id").len().iter_rows())
    short = [(p, counts.get(p, 0)) for p in table["problem_id"] if counts.get(p, 0) < spec.n]
    if short:
        shown = ", ".join(f"{p!r}: {c}" for p, c in short[:_SHOWN])
        raise SampleFileError(
            f"{source}: {len(short)} problem(s) of {spec.benchmark} have fewer than n = {spec.n} samples "
            f"(never padded): {shown}"
        )


def imported(spec: ImportSpec, table: pl.DataFrame) -> pl.DataFrame:
    """The spec's shard: samples ``shard.start .. start + size - 1`` of every benchmark problem,
    with ``correct`` when the files carry scores. Code completions (evalplus ``completion``)
    get the problem's prompt in front, as evalplus runs them."""
    source = ", ".join(spec.paths)
    samples = matched(pooled(spec), table, spec, source)
    _checked_counts(samples, table, spec, source)
    start, stop = spec.shard.start, spec.shard.start + spec.shard.size
    shard = samples.filter(pl.col("sample_index").is_between(start, stop - 1)).drop("source", "line")
    if "completion" in shard.columns:
        prompts = table.select("problem_id", prompt="question")
        shard = shard.join(prompts, on="problem_id", how="left", maintain_order="left").with_columns(
            response=pl.when(pl.col("completion")).then(pl.col("prompt") + pl.col("response")).otherwise("response")
        )
    return shard.sort("problem_id", "sample_index")


def sources(spec: ImportSpec) -> list[dict[str, str]]:
    return [{"path": p, "sha256": tables.sha256_file(p)} for p in spec.paths]


def import_shard(spec: ImportSpec, benchmark_path: str | Path, output: str | Path) -> None:
    """Write one seed shard of an imported model's samples, with its sources' checksums."""
    table = tables.read_benchmark(benchmark_path)
    shard = imported(spec, table)
    record = tables.provenance(
        stage="import",
        **asdict(spec),
        sources=sources(spec),
        scores_in_files=bool("correct" in shard.columns and shard["correct"].null_count() == 0),
        benchmark_provenance=tables.read_provenance(benchmark_path),
    )
    tables.write(shard.select(list(tables.SAMPLES.columns)), output, tables.SAMPLES, record)


def import_reference(spec: ReferenceSpec, benchmark_path: str | Path, output: str | Path) -> None:
    """A perplexity figure's Y_GT: the file's responses to the figure's problems (any number
    each, in file order), matched to the benchmark like an import; every figure problem
    needs at least one, other problems in the file are ignored."""
    table = tables.read_benchmark(benchmark_path)
    wanted = table.filter(pl.col("index").is_in(list(spec.problems)))
    if wanted.height != len(set(spec.problems)):
        raise SampleFileError(
            f"figures.{spec.figure}.problems: not all of {list(spec.problems)} are in {spec.benchmark}"
        )
    reading = ImportSpec(
        f"reference of {spec.figure}", spec.benchmark, spec.format, (spec.path,), spec.match, 1, Shard(0, 0, 1)
    )
    samples = matched(pooled(reading), table, reading, spec.path)
    mine = samples.filter(pl.col("problem_id").is_in(wanted["problem_id"].to_list()))
    missing = sorted(set(wanted["problem_id"]) - set(mine["problem_id"]))
    if missing:
        raise SampleFileError(f"{spec.path}: no response for problem(s) {missing[:_SHOWN]} of figure {spec.figure}")
    record = tables.provenance(
        stage="import",
        **asdict(spec),
        sources=sources(reading),
        benchmark_provenance=tables.read_provenance(benchmark_path),
    )
    tables.write(mine.sort("problem_id", "sample_index"), output, tables.SAMPLES, record)
