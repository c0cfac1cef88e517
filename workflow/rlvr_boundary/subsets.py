"""Cut a subset benchmark's shard from its superset's samples, so no sample is drawn twice.

A sample depends only on (config seed, problem id, sample index, prompt, model, sampling
settings), so the samples of LiveCodeBench's paper window are already inside the release_v5
shards of the same model. This stage checks that claim on the files themselves (the
problems are the superset's, with the same question and starter code; the superset shards
were drawn by the very job this shard's own sampling would have been: same model, prompt and
sampling), then writes the shard exactly as the sampler would have, in benchmark order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from rlvr_boundary import tables
from rlvr_boundary.sampling import shard_order, shard_record
from rlvr_boundary.specs import SubsetSpec

_PROMPT_FIELDS = ("question", "starter_code")


def _check_problems(subset: pl.DataFrame, superset: pl.DataFrame, subset_path: Path, superset_path: Path) -> None:
    fields = [f for f in _PROMPT_FIELDS if f in subset.columns]
    joined = subset.select("problem_id", *fields).join(
        superset.select("problem_id", *[pl.col(f).alias(f"{f}_superset") for f in fields if f in superset.columns]),
        on="problem_id",
        how="left",
    )
    for field in fields:
        other = f"{field}_superset"
        if other not in joined.columns:
            raise ValueError(f"{superset_path}: field {field!r}: absent, so prompts cannot be compared")
        differ = joined.filter(pl.col(other).is_null() | (pl.col(field) != pl.col(other)))
        if differ.height:
            raise ValueError(
                f"{subset_path}: field 'problem_id'/{field!r}: {differ.height} problems are not in {superset_path}"
                f" with the same {field} (first: {differ['problem_id'][0]})"
            )


def _check_source(path: str | Path, spec: SubsetSpec) -> None:
    record = tables.read_provenance(path)
    wanted = {
        "model_spec": spec.sample.model,
        "prompt_template": spec.sample.template,
        "sampling": spec.sample.sampling,
    }
    for field, value in wanted.items():
        if record.get(field) != value:
            raise ValueError(
                f"{path}: provenance field {field!r}: {record.get(field)!r}, but {spec.sample.benchmark}"
                f" would be sampled with {value!r}; its samples would differ"
            )


def cut_shard(
    spec: SubsetSpec,
    superset_samples: Sequence[str | Path],
    benchmark_path: str | Path,
    superset_path: str | Path,
    output: str | Path,
) -> None:
    """Write ``output``: seed shard ``spec.sample.shard`` of the subset, from the superset's shards."""
    job = spec.sample
    subset = tables.read_benchmark(benchmark_path)
    _check_problems(subset, tables.read_benchmark(superset_path), Path(benchmark_path), Path(superset_path))
    for path in superset_samples:
        _check_source(path, spec)
    order = shard_order(job, subset)
    rows = pl.concat([tables.read(path, tables.SAMPLES) for path in superset_samples])
    cut = order.join(rows, on=["problem_id", "sample_index"], how="left", maintain_order="left")
    missing = cut.filter(pl.col("finish_reason").is_null())
    if missing.height or cut.height != order.height:
        raise ValueError(
            f"{', '.join(map(str, superset_samples))}: {missing.height} samples of {job.benchmark} shard"
            f" {job.shard.index} are absent or repeated (first: {missing.head(1).to_dicts()})"
        )
    sources: list[dict[str, Any]] = [
        {"path": str(path), "sha256": tables.sha256_file(path), "provenance": tables.read_provenance(path)}
        for path in superset_samples
    ]
    record = shard_record(job, benchmark_path, cut_from={"benchmark": spec.superset, "shards": sources})
    tables.write(cut, output, tables.SAMPLES, record)
