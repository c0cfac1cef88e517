"""Fit the plan's throughput and output-length assumptions to sampling jobs that have run.

Each finished sampling job leaves its shard (``n_tokens`` per sample; the provenance's
``timing``: engine start, generation seconds, samples drawn and resumed) and Snakemake's
``benchmark:`` file (the job's wall time). From them: generated tokens/s per GPU by model
size (jobs that resumed are left out, since their generation time covers only part of their
tokens), the mean tokens per sample of each (model, benchmark), and the start-up minutes per
job (wall time minus generation). The result is a config overlay (``cluster:`` keys) that the
next ``plan`` reads; shards cut from a superset (``subset_of``) are not jobs and are skipped.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from rlvr_boundary import jobs, tables

DEFAULT_OUTPUT = Path("results/plan/calibration.yaml")
"""Where ``plan --calibrate`` writes the overlay and where ``plan`` looks for it."""


def _wall_seconds(results: Path, model: str, benchmark: str, seed: str) -> float | None:
    path = results / "benchmarks" / "sample" / model / benchmark / f"seed{seed}.tsv"
    if not path.is_file():
        return None
    try:
        return float(pl.read_csv(path, separator="\t")["s"][0])
    except Exception as exc:  # a truncated or foreign file: say which
        raise ValueError(f"{path}: field 's': cannot read the job's wall time ({exc})") from exc


def finished_jobs(config: dict[str, Any], results: str | Path) -> pl.DataFrame:
    """One row per sampling job that ran (a shard under ``results/samples`` drawn here)."""
    results = Path(results)
    rows = []
    for path in sorted(results.glob("samples/*/*/seed*.parquet")):
        model, benchmark, seed = path.parent.parent.name, path.parent.name, path.stem.removeprefix("seed")
        record = tables.read_provenance(path)
        timing = record.get("timing") or {}
        if record.get("stage") != "sample" or "cut_from" in record or "generation_s" not in timing:
            continue
        if model not in config["models"] or benchmark not in config["benchmarks"]:
            continue
        samples = tables.read(path, tables.SAMPLES)  # a prompt too long to answer costs 0 tokens, as planned
        rows.append(
            {
                "model": model,
                "benchmark": benchmark,
                "seed": int(seed),
                "params_b": config["models"][model].get("params_b"),
                "gpus": jobs.tensor_parallel_size(config, model),
                "samples": samples.height,
                "tokens": int(samples["n_tokens"].sum()),
                "resumed": timing.get("resumed_samples", 0) > 0,
                "generation_s": float(timing["generation_s"]),
                "wall_s": _wall_seconds(results, model, benchmark, seed),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "model": pl.String,
            "benchmark": pl.String,
            "seed": pl.Int64,
            "params_b": pl.Float64,
            "gpus": pl.Int64,
            "samples": pl.Int64,
            "tokens": pl.Int64,
            "resumed": pl.Boolean,
            "generation_s": pl.Float64,
            "wall_s": pl.Float64,
        },
    )


def _size_key(params_b: float) -> str:
    return f"{params_b:g}"


def fit(finished: pl.DataFrame) -> dict[str, Any]:
    """The ``cluster:`` overlay fitted to ``finished`` (``finished_jobs``); keys with no data are left out."""
    cluster: dict[str, Any] = {}
    timed = finished.filter(~pl.col("resumed") & pl.col("params_b").is_not_null() & (pl.col("generation_s") > 0))
    if timed.height:
        by_size = timed.group_by("params_b").agg(
            pl.col("tokens").sum(), (pl.col("generation_s") * pl.col("gpus")).sum()
        )
        cluster["measured_tokens_per_gpu_second"] = {
            _size_key(size): round(tokens / gpu_seconds, 3)
            for size, tokens, gpu_seconds in by_size.sort("params_b").iter_rows()
        }
    means = finished.group_by("model", "benchmark").agg(
        (pl.col("tokens").sum() / pl.col("samples").sum()).alias("mean")
    )
    measured: dict[str, dict[str, float]] = {}
    for model, benchmark, mean in means.sort("model", "benchmark").iter_rows():
        if mean is not None:
            measured.setdefault(model, {})[benchmark] = round(float(mean), 3)
    if measured:
        cluster["measured_output_tokens"] = measured
    startups = [(w - g) / 60 for w, g in finished.select("wall_s", "generation_s").iter_rows() if w is not None]
    if startups:
        cluster["startup_minutes"] = round(max(0.0, statistics.median(startups)), 3)
    return cluster


def comparison(config: dict[str, Any], calibrated: dict[str, Any], finished: pl.DataFrame) -> pl.DataFrame:
    """Per finished job: generation minutes the plan expected before and after calibration, and measured."""
    rows = []
    for model, benchmark, seed, tokens, generation_s in finished.select(
        "model", "benchmark", "seed", "tokens", "generation_s"
    ).iter_rows():
        size = jobs.shard(config, model, benchmark, seed).size
        before = jobs.generation_minutes(config, model, benchmark, size)
        after = jobs.generation_minutes(calibrated, model, benchmark, size)
        rows.append(
            {
                "model": model,
                "benchmark": benchmark,
                "seed": seed,
                "tokens_expected": round(
                    size * jobs.problem_count(config, benchmark) * jobs.mean_output_tokens(config, model, benchmark)
                ),
                "tokens": tokens,
                "minutes_expected": before,
                "minutes_calibrated": after,
                "minutes_measured": generation_s / 60,
            }
        )
    return pl.DataFrame(
        rows,
        schema_overrides={
            "minutes_expected": pl.Float64,
            "minutes_calibrated": pl.Float64,
            "minutes_measured": pl.Float64,
        },
    )


def write_overlay(cluster: dict[str, Any], finished: pl.DataFrame, output: str | Path) -> None:
    """The fitted values as a config overlay, with a header saying what they rest on."""
    header = (
        f"# Fitted by `python -m rlvr_boundary plan --calibrate` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from"
        f" {finished.height} sampling jobs ({finished['tokens'].sum()} generated tokens).\n"
        "# `plan` reads this file when it exists; pass it to snakemake (--configfile config.yaml <this file>)\n"
        "# to size SLURM time limits and shards by it too (shards sized differently are new jobs).\n"
    )
    with tables.atomic_path(output) as tmp:
        tmp.write_text(header + yaml.safe_dump({"cluster": cluster}, sort_keys=True))
