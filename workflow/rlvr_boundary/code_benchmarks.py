"""Prepared benchmark tables for the code experiments: HumanEval+, MBPP+ and LiveCodeBench.

Each reader returns a polars DataFrame with one row per task and the same columns
(``tables.CODE_BENCHMARK``), so the tables can be concatenated and a row handed to
:func:`rlvr_boundary.verify.code.verify` as a mapping:

``benchmark`` (humanevalplus | mbppplus | livecodebench), ``problem_id`` (evalplus task id
or LCB question id), ``index`` (0-based row order), ``source_index`` (0-based position in
the source file before any filtering -- LCB's full release ordering), ``question`` (the text
the prompt embeds: evalplus ``prompt.strip()``, LCB ``question_content``), ``starter_code``,
``entry_point`` (function name; LCB functional ``func_name``; null for stdin problems),
``test_mode`` (evalplus | lcb_functional | lcb_stdin), ``tests`` (JSON; see below),
``n_tests``, ``atol`` (evalplus), ``canonical_solution`` (evalplus: prompt + canonical
solution), ``platform``, ``difficulty``, ``contest_date`` (ISO date; LCB).

``tests`` JSON -- evalplus: ``{"dataset", "inputs" (base then plus, as stored), "n_base",
"expected" (encoded canonical outputs), "ref_time" (canonical call seconds), "atol"}``;
LiveCodeBench: ``{"inputs", "outputs" (public then private, as strings), "n_public"}``.

Expected outputs for evalplus come from running each canonical solution on its inputs in
the sandbox (as evalplus does, but isolated). That takes about a minute per benchmark on
two cores, so the result is cached on disk, keyed by the file's sha256 and the runner.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import multiprocessing
import os
import pickle
import zlib
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from rlvr_boundary import tables
from rlvr_boundary.verify import code as code_verify
from rlvr_boundary.verify import code_runner

__all__ = [
    "LCB_DATASET",
    "LCB_RELEASE_FILES",
    "default_cache_dir",
    "download_livecodebench",
    "read_evalplus",
    "read_livecodebench",
]


LCB_DATASET = "livecodebench/code_generation_lite"
LCB_RELEASE_FILES: dict[str, list[str]] = {
    f"release_v{n}": ["test.jsonl"] + [f"test{k}.jsonl" for k in range(2, n + 1)] for n in range(1, 7)
}
"""Files of each ``version_tag`` in the hub dataset (as its loading script defines them)."""

_EXPECTED_CACHE_VERSION = "1"


# --------------------------------------------------------------------------------------
# evalplus


def default_cache_dir() -> Path:
    """Where computed expected outputs and downloaded release files are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rlvr_boundary"


def _inputs(row: Mapping[str, Any], key: str) -> list:
    """A task's input list. MBPP+ v0.2.0 stores Mbpp/793's empty plus inputs as ``{}``."""
    value = row[key]
    if isinstance(value, list):
        return value
    if not value:
        return []
    raise ValueError(f"{row['task_id']}: {key} is a {type(value).__name__}, expected a list")


def _canonical_job(row: Mapping[str, Any]) -> tuple[str, list, list[float]]:
    dataset = "humaneval" if row["task_id"].startswith("HumanEval/") else "mbpp"
    inputs = _inputs(row, "base_input") + _inputs(row, "plus_input")
    values, times = code_verify.canonical_outputs(
        row["prompt"] + row["canonical_solution"], row["entry_point"], inputs, task_id=row["task_id"], dataset=dataset
    )
    return row["task_id"], values, times


def _expected_outputs(rows: list[dict], digest: str, cache_dir: Path, workers: int) -> dict[str, dict]:
    """Canonical outputs and times per task, computed in the sandbox once and cached."""
    runner_digest = hashlib.sha256(code_verify._RUNNER_SOURCE).hexdigest()[:12]
    cache = cache_dir / f"evalplus-expected-{digest[:16]}-{runner_digest}-v{_EXPECTED_CACHE_VERSION}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    if workers > 1:  # spawn: the caller may already run threads (polars), which fork does not copy safely
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_canonical_job, rows))
    else:
        results = [_canonical_job(row) for row in rows]
    expected = {task_id: {"expected": values, "ref_time": times} for task_id, values, times in results}
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(expected, handle)
    os.replace(tmp, cache)
    for stale in cache_dir.glob(f"evalplus-expected-{digest[:16]}-*.json"):
        if stale != cache:  # the same file computed by an older runner: never read again
            stale.unlink(missing_ok=True)
    return expected


def read_evalplus(
    path: str | os.PathLike, *, cache_dir: str | os.PathLike | None = None, workers: int = 2
) -> pl.DataFrame:
    """Prepared table of an evalplus release file (HumanEvalPlus / MbppPlus, .jsonl or .jsonl.gz).

    Expected outputs are computed by running each canonical solution in the sandbox (cached
    under ``cache_dir``, default ``$XDG_CACHE_HOME/rlvr_boundary``; the cache file is
    private to the user, mode 0600).
    """
    path = Path(path)
    raw = path.read_bytes()
    rows = tables.read_jsonl(path)
    digest = hashlib.sha256(gzip.decompress(raw) if path.suffix == ".gz" else raw).hexdigest()
    first = rows[0]["task_id"] if rows else ""
    benchmark, dataset = ("humanevalplus", "humaneval") if first.startswith("HumanEval/") else ("mbppplus", "mbpp")
    for row in rows:  # verification parses inputs and encoded outputs in one pass
        if code_runner.has_tags(_inputs(row, "base_input") + _inputs(row, "plus_input")):
            raise ValueError(
                f"{path}: {row['task_id']}: an input holds a one-key object keyed like a codec tag ('$tuple', ...)"
            )
    expected = _expected_outputs(rows, digest, Path(cache_dir) if cache_dir else default_cache_dir(), workers)
    records = []
    for index, row in enumerate(rows):
        base = _inputs(row, "base_input")
        inputs = base + _inputs(row, "plus_input")
        tests = {
            "dataset": dataset,
            "inputs": inputs,
            "n_base": len(base),
            "expected": expected[row["task_id"]]["expected"],
            "ref_time": expected[row["task_id"]]["ref_time"],
            "atol": float(row["atol"]),
        }
        records.append(
            {
                "benchmark": benchmark,
                "problem_id": row["task_id"],
                "index": index,
                "source_index": index,
                "question": row["prompt"].strip(),
                "starter_code": "",
                "entry_point": row["entry_point"],
                "test_mode": "evalplus",
                "tests": json.dumps(tests),
                "n_tests": len(inputs),
                "atol": float(row["atol"]),
                "canonical_solution": row["prompt"] + row["canonical_solution"],
                "platform": None,
                "difficulty": None,
                "contest_date": None,
            }
        )
    return pl.DataFrame(records, schema=tables.CODE_BENCHMARK.columns)


# --------------------------------------------------------------------------------------
# LiveCodeBench


class _StrOnlyUnpickler(pickle.Unpickler):
    """LCB pickles a plain JSON *string*; refusing every global keeps unpickling inert."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from test data")


def _private_tests(raw: str) -> list[dict]:
    """LCB's ``private_test_cases``: JSON, or base64(zlib(pickle(JSON string)))."""
    try:
        return json.loads(raw)
    except ValueError:
        blob = zlib.decompress(base64.b64decode(raw.encode("utf-8")))
        decoded = _StrOnlyUnpickler(io.BytesIO(blob)).load()
        return json.loads(decoded)


def _parse_date(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=None)


LcbSource = str | os.PathLike | Iterable[str | os.PathLike | Mapping[str, Any]]


def _lcb_rows(source: LcbSource) -> Iterable[Mapping[str, Any]]:
    """Rows from a jsonl path, from several paths in order, or from rows themselves."""
    if isinstance(source, (str, os.PathLike)):
        yield from tables.read_jsonl(Path(source))
        return
    for item in source:
        if isinstance(item, (str, os.PathLike)):
            yield from tables.read_jsonl(Path(item))
        else:
            yield item


def read_livecodebench(
    path_or_rows: LcbSource, *, start_date: str | dt.date | None, end_date: str | dt.date | None
) -> pl.DataFrame:
    """Prepared table of LiveCodeBench code-generation problems within a contest-date window.

    ``path_or_rows`` is a local jsonl(.gz) in the ``code_generation_lite`` schema, a list of
    such files read in order (e.g. :func:`download_livecodebench`'s result), or an iterable
    of rows (e.g. a ``datasets`` split). The window is inclusive, compared as LCB does (``start <= contest_date <= end``
    on datetimes, dates meaning midnight); ``None`` leaves that side open. The paper's window
    is 2024-08-01 .. 2025-02-01 on release_v5 (279 problems); Fig. 11 right uses all 880.
    A problem is functional when its metadata has ``func_name`` (LCB's rule), else stdin.
    """
    start = _parse_date(start_date) if start_date is not None else None
    end = _parse_date(end_date) if end_date is not None else None
    records = []
    for source_index, row in enumerate(_lcb_rows(path_or_rows)):
        when = _parse_date(row["contest_date"])
        if (start is not None and when < start) or (end is not None and when > end):
            continue
        public = json.loads(row["public_test_cases"])
        private = _private_tests(row["private_test_cases"])
        cases = public + private
        metadata = json.loads(row["metadata"]) if isinstance(row["metadata"], str) else dict(row["metadata"] or {})
        func_name = metadata.get("func_name")
        tests = {
            "inputs": [c["input"] for c in cases],
            "outputs": [c["output"] for c in cases],
            "n_public": len(public),
        }
        records.append(
            {
                "benchmark": "livecodebench",
                "problem_id": str(row["question_id"]),
                "index": len(records),
                "source_index": source_index,
                "question": row["question_content"],
                "starter_code": row.get("starter_code") or "",
                "entry_point": func_name,
                "test_mode": "lcb_functional" if func_name else "lcb_stdin",
                "tests": json.dumps(tests),
                "n_tests": len(cases),
                "atol": None,
                "canonical_solution": None,
                "platform": str(row.get("platform")),
                "difficulty": str(row.get("difficulty")),
                "contest_date": when.date().isoformat(),
            }
        )
    return pl.DataFrame(records, schema=tables.CODE_BENCHMARK.columns)


def download_livecodebench(
    revision: str,
    *,
    version_tag: str = "release_v5",
    dataset: str = LCB_DATASET,
    cache_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Fetch the raw jsonl files of ``version_tag`` at a pinned hub ``revision``.

    The hub dataset is defined by a loading script, which ``datasets`` >= 4 no longer
    runs; the files it reads are plain jsonl, so they are downloaded directly (same
    content, same order); pass the returned list to :func:`read_livecodebench`.
    """
    from huggingface_hub import hf_hub_download

    if version_tag not in LCB_RELEASE_FILES:
        raise ValueError(f"unknown version_tag {version_tag!r}; known: {sorted(LCB_RELEASE_FILES)}")
    return [
        Path(hf_hub_download(dataset, name, repo_type="dataset", revision=revision, cache_dir=cache_dir))
        for name in LCB_RELEASE_FILES[version_tag]
    ]
