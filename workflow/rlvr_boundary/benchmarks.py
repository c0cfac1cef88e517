"""Benchmarks: turn a source (local file, pinned Hugging Face dataset or pinned release URL)
into one prepared table, ``data/benchmarks/{benchmark}.parquet``.

Code benchmarks (HumanEval+, MBPP+, LiveCodeBench) get the columns of
``tables.CODE_BENCHMARK`` (tests included). A math benchmark's table (``tables.MATH_BENCHMARK``)
has one row per problem:
``problem_id`` (str), ``index`` (0-based source order, as the paper's Table 4 counts),
``question`` (str), ``gold`` (str, already extracted as the authors' loader did) and
``metadata`` (JSON of every other source field). Gold extraction follows the paper's repo
(PAPER.md section 3): MATH500 and Minerva take the last ``\\boxed{}`` of the solution, GSM8K
the text after ``####``, OlympiadBench ``final_answer[0]`` without ``$``.

A visual benchmark (MathVista, MathVision; ``tables.VISUAL_BENCHMARK``) is a math table plus
each problem's image bytes and their sha256; ``keep`` drops the multiple-choice problems as
the paper did (MathVista: ``question_type == free_form``; MathVision: empty ``options``), and
the prepared table's provenance records how many rows the source had and how many were kept.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from rlvr_boundary import code_benchmarks, tables
from rlvr_boundary.specs import PrepareSpec
from rlvr_boundary.verify.math_extract import last_boxed

log = logging.getLogger(__name__)


class BenchmarkError(ValueError):
    """A source row that cannot become a problem; the message names file, row and field."""


def _as_text(value: Any) -> str:
    """Scalar to text the way a grader should see it: 27.0 -> "27", "073" stays "073"."""
    if isinstance(value, bool):
        raise TypeError("boolean")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float, str)):
        return str(value).strip()
    raise TypeError(type(value).__name__)


def extract_gold(value: Any, method: str) -> str:
    """Gold answer from a source field, by the paper's loader rule ``method``."""
    if method == "last_boxed":
        boxed = last_boxed(str(value), join=False)
        if boxed is None:
            raise ValueError("no \\boxed{} in the field")
        return boxed.strip()
    if method == "after_hashes":
        text = str(value)
        if "####" not in text:
            raise ValueError("no '####' in the field")
        return text.split("####")[-1].strip().replace(",", "")
    if method == "first_item":
        if not isinstance(value, list) or not value:
            raise ValueError("expected a non-empty list")
        return _as_text(value[0]).strip("$").strip()
    if method == "none":
        return _as_text(value)
    raise ValueError(f"unknown gold extraction {method!r}")


def build_table(rows: Iterable[dict[str, Any]], spec: dict[str, Any], origin: str) -> pl.DataFrame:
    """Map source rows to the prepared table; ``origin`` names the source in errors."""
    fields, gold = spec["fields"], spec["gold"]
    records = []
    for index, row in enumerate(rows):
        where = f"{origin}: row {index}"
        for key in [fields["question"], gold["field"], *([fields["id"]] if "id" in fields else [])]:
            if row.get(key) is None:
                raise BenchmarkError(f"{where}: field {key!r} is missing or null")
        question = str(row[fields["question"]])
        context = row.get(fields["context"]) if "context" in fields else None
        if context:
            question = f"{context}\n{question}"
        try:
            answer = extract_gold(row[gold["field"]], gold["extract"])
        except (TypeError, ValueError) as exc:
            raise BenchmarkError(f"{where}: field {gold['field']!r}: {exc}") from exc
        if not answer:
            raise BenchmarkError(f"{where}: field {gold['field']!r}: empty gold answer")
        used = {fields["question"], gold["field"], fields.get("id"), fields.get("context")}
        records.append(
            {
                "problem_id": str(row[fields["id"]]) if "id" in fields else str(index),
                "index": index,
                "question": question,
                "gold": answer,
                "metadata": json.dumps({k: v for k, v in row.items() if k not in used}, default=str),
            }
        )
    if not records:
        raise BenchmarkError(f"{origin}: no rows")
    frame = pl.DataFrame(records, schema=tables.MATH_BENCHMARK.columns)
    duplicated = frame.filter(pl.col("problem_id").is_duplicated())["problem_id"].unique().to_list()
    if duplicated:
        raise BenchmarkError(f"{origin}: field {fields.get('id')!r}: duplicate problem ids {duplicated[:5]}")
    return frame


def kept_rows(rows: list[dict[str, Any]], keep: dict[str, Any] | None, origin: str) -> list[dict[str, Any]]:
    """The rows a benchmark keeps: ``{field, equals: value}`` or ``{field, empty: true}``
    (a missing, null, empty string or empty list counts as empty); no rule keeps all."""
    if keep is None:
        return rows
    field = keep["field"]
    kept = []
    for index, row in enumerate(rows):
        if field not in row:
            raise BenchmarkError(f"{origin}: row {index}: field {field!r} (benchmark keep rule) is missing")
        value = row[field]
        if "equals" in keep:
            selected = value == keep["equals"]
        else:
            selected = (value is None or value == "" or value == []) == keep["empty"]
        if selected:
            kept.append(row)
    return kept


def _image_bytes(row: dict[str, Any], spec: dict[str, Any], source: dict[str, Any], where: str) -> bytes:
    """A problem's image as the source stores it: hub rows carry the bytes (an undecoded
    ``datasets.Image``), local rows a path relative to ``local.images``."""
    if source["kind"] == "hf":
        value = row.get(spec["hf"]["image"])
        if isinstance(value, dict) and value.get("bytes"):
            return bytes(value["bytes"])
        if isinstance(value, dict) and value.get("path") and Path(value["path"]).is_file():
            return Path(value["path"]).read_bytes()
        raise BenchmarkError(f"{where}: field {spec['hf']['image']!r}: no image bytes")
    relative = row.get(spec["fields"]["image"])
    if not relative:
        raise BenchmarkError(f"{where}: field {spec['fields']['image']!r}: no image path")
    path = Path(source["images"]) / str(relative)
    if not path.is_file():
        raise BenchmarkError(
            f"{where}: field {spec['fields']['image']!r}: image {path} not found (local.images is "
            f"{source['images']}; MathVista's repository ships no images: use data_source: hf)"
        )
    return path.read_bytes()


def add_images(
    frame: pl.DataFrame, rows: list[dict[str, Any]], spec: dict[str, Any], source: dict[str, Any], origin: str
) -> pl.DataFrame:
    """The visual table: ``frame`` (built from ``rows``, same order) with each image's bytes
    and sha256."""
    blobs = [_image_bytes(row, spec, source, f"{origin}: row {index}") for index, row in enumerate(rows)]
    return frame.with_columns(
        pl.Series("image", blobs, dtype=pl.Binary),
        pl.Series("image_sha256", [tables.sha256_bytes(blob) for blob in blobs], dtype=pl.String),
    )


def _checked_local(spec: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    path = Path(spec["local"]["path"])
    if not path.is_file():
        raise BenchmarkError(f"{path}: benchmark file not found (set data_source: hf to load from the hub)")
    digest = tables.sha256_file(path)
    expected = spec["local"].get("sha256")
    if expected and digest != expected:
        raise BenchmarkError(f"{path}: sha256 {digest} differs from the configured {expected}")
    return path, {"kind": "local", "path": str(path), "sha256": digest}


def _fetch_url(href: str, sha256: str) -> tuple[Path, dict[str, Any]]:
    """A pinned release file, downloaded once into the cache and checked by its sha256."""
    import urllib.request

    cache = code_benchmarks.default_cache_dir() / "downloads" / sha256
    path = cache / Path(href.split("?")[0]).name
    if not path.is_file():
        try:
            with urllib.request.urlopen(href, timeout=60) as response:
                blob = response.read()
        except OSError as exc:
            raise BenchmarkError(f"url {href}: cannot download ({exc}); use data_source: local") from exc
        digest = tables.sha256_bytes(blob)
        if digest != sha256:
            raise BenchmarkError(f"url {href}: sha256 {digest} differs from the configured {sha256}")
        cache.mkdir(parents=True, exist_ok=True)
        with tables.atomic_path(path) as tmp:
            tmp.write_bytes(blob)
    elif tables.sha256_file(path) != sha256:
        raise BenchmarkError(f"{path}: cached download of {href} is corrupt (sha256 differs); delete it")
    return path, {"kind": "url", "href": href, "sha256": sha256, "path": str(path)}


def _resolve_hub_commit(dataset_id: str, revision: str) -> str:
    """The commit a branch or tag points to now, so the load below is pinned exactly."""
    from huggingface_hub import HfApi

    try:
        return HfApi().dataset_info(dataset_id, revision=revision).sha
    except Exception as exc:  # offline mode, network, auth, unknown repo or revision
        raise BenchmarkError(
            f"hf dataset {dataset_id!r}: cannot resolve revision {revision!r} on the hub "
            f"({type(exc).__name__}: {exc}); use data_source: local or a local dataset folder"
        ) from exc


def _load_hub(spec: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    import datasets

    hub = spec["hf"]
    local_repo = Path(hub["id"]).is_dir()  # a dataset repository checked out on disk
    commit = None if local_repo else _resolve_hub_commit(hub["id"], hub["revision"])
    dataset = datasets.load_dataset(
        hub["id"], hub.get("config"), split=hub["split"], revision=commit or hub["revision"]
    )
    if "image" in hub:  # the file's bytes, not a decoded picture: the model's processor decodes
        if hub["image"] not in dataset.column_names:
            raise BenchmarkError(f"hf dataset {hub['id']!r}: no image column {hub['image']!r}")
        dataset = dataset.cast_column(hub["image"], datasets.Image(decode=False))
    record = {
        "kind": "hf",
        "id": hub["id"],
        "config": hub.get("config"),
        "split": hub["split"],
        "revision": hub["revision"],
        "commit": commit,
        "fingerprint": dataset._fingerprint,
    }
    return list(dataset), record


def _prepare_code(name: str, spec: dict[str, Any], source_kind: str) -> tuple[pl.DataFrame, dict[str, Any]]:
    """A code benchmark's table: evalplus release files or LiveCodeBench releases."""
    if source_kind == "local":
        path, source = _checked_local(spec)
        files: list[Path] = [path]  # LiveCodeBench: the release's files concatenated in order
    elif source_kind == "url":
        path, source = _fetch_url(spec["url"]["href"], spec["url"]["sha256"])
        files = [path]
    else:
        hub = spec["hf"]
        pinned = re.fullmatch(r"[0-9a-f]{40}", hub["revision"]) is not None
        commit = hub["revision"] if pinned else _resolve_hub_commit(hub["id"], hub["revision"])
        try:
            files = code_benchmarks.download_livecodebench(commit, version_tag=hub["version_tag"], dataset=hub["id"])
        except Exception as exc:  # offline, network, auth, missing file
            raise BenchmarkError(
                f"hf dataset {hub['id']!r}@{commit}: cannot download {hub['version_tag']} "
                f"({type(exc).__name__}: {exc}); point local.path at the release files"
            ) from exc
        source = {
            "kind": "hf",
            "id": hub["id"],
            "revision": hub["revision"],
            "commit": commit,
            "version_tag": hub["version_tag"],
            "files": {f.name: tables.sha256_file(f) for f in files},
        }
    try:
        if spec["format"] == "evalplus":
            frame = code_benchmarks.read_evalplus(files[0])
        else:
            window = spec.get("window") or {"start": None, "end": None}
            frame = code_benchmarks.read_livecodebench(files, start_date=window["start"], end_date=window["end"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BenchmarkError(
            f"{source.get('path') or source.get('id')}: not a {spec['format']} file: {type(exc).__name__}: {exc}"
        ) from exc
    if frame.height == 0:
        raise BenchmarkError(f"{source.get('path') or source.get('id')}: no problems (window {spec.get('window')})")
    record = {
        "benchmark": name,
        "kind": "code",
        "format": spec["format"],
        "source": source,
        "window": spec.get("window"),
    }
    return frame, record


def prepare(name: str, spec: dict[str, Any], source_kind: str) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The prepared table of benchmark ``name`` and a record of where it came from.

    ``source_kind`` is ``local``, ``hf`` or ``url`` (``config.source_kind`` picks it).
    """
    if source_kind not in spec:
        raise BenchmarkError(f"benchmarks.{name}: no {source_kind!r} source configured")
    if spec.get("kind", "math") == "code":
        return _prepare_code(name, spec, source_kind)
    kind = spec.get("kind", "math")
    if source_kind == "local":
        path, source = _checked_local(spec)
        try:
            rows = tables.read_json_rows(path)
        except ValueError as exc:
            raise BenchmarkError(str(exc)) from exc
        if kind == "visual":
            source["images"] = str(Path(spec["local"].get("images") or path.parent))
    else:
        rows, source = _load_hub(spec)
    origin = source.get("path") or source["id"]
    kept = kept_rows(rows, spec.get("keep"), origin)
    record = {"benchmark": name, "kind": kind, "source": source, "fields": spec["fields"], "gold": spec["gold"]}
    if spec.get("keep"):
        record["keep"] = {**spec["keep"], "source_rows": len(rows), "kept_rows": len(kept)}
        log.info("%s: kept %d of %d rows (%s)", name, len(kept), len(rows), spec["keep"])
    plain = [{k: v for k, v in row.items() if k != spec.get("hf", {}).get("image")} for row in kept]
    frame = build_table(plain, spec, origin)
    if kind == "visual":
        frame = add_images(frame, kept, spec, source, origin)
        record["images"] = tables.config_hash(frame.select("problem_id", "image_sha256").rows())
    return frame, record


def write_prepared(spec: PrepareSpec, output: str | Path) -> None:
    """The prepare stage: build the table from its source and write it with its provenance."""
    frame, source = prepare(spec.name, spec.benchmark, spec.source)
    schema = tables.benchmark_schema(frame.columns)
    judged = ["tests"] if tables.is_code(frame) else ["gold", *(["image_sha256"] if "image" in frame.columns else [])]
    content = tables.config_hash(frame.select("problem_id", "question", *judged).rows())
    record = tables.provenance(stage="prepare", content_hash=content, **source)
    tables.write(frame, output, schema, record)
