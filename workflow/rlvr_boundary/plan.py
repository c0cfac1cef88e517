"""``python -m rlvr_boundary plan``: print the jobs, GPUs, tokens and GPU-hours of figures
before anything is submitted. The numbers come from the job model (``jobs``); this module
only tabulates and prints them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from rlvr_boundary import calibration, dag, jobs
from rlvr_boundary.config import ConfigError, deep_merge, is_imported, load_many, validate


def models_table(config: dict[str, Any], models: Sequence[str]) -> pl.DataFrame:
    """One row per model: GPUs, memory per GPU, throughput."""
    rows = [jobs.model_sizing(config, m) for m in models]
    return pl.DataFrame(
        {
            "model": [r.model for r in rows],
            "params_b": [r.params_b for r in rows],
            "gpus": [r.tensor_parallel_size for r in rows],
            "weights_gb_per_gpu": [r.weights_gb_per_gpu for r in rows],
            "kv_cache_gb_per_gpu": [r.kv_cache_gb_per_gpu for r in rows],
            "tokens_per_s": [r.tokens_per_second for r in rows],
            "mean_output_tokens": [jobs.mean_output_tokens(config, m) for m in models],
        },
        schema_overrides={
            "params_b": pl.Float64,
            "weights_gb_per_gpu": pl.Float64,
            "kv_cache_gb_per_gpu": pl.Float64,
            "tokens_per_s": pl.Float64,
        },
    )


def jobs_table(config: dict[str, Any], pairs: Sequence[tuple[str, str, int | None]]) -> pl.DataFrame:
    """One row per sampling job of the (model, benchmark, first shards) of ``jobs.figure_sample_pairs``
    (None = all shards): size, tokens, hours, GPU-hours. Imported models (``samples_from``)
    run no sampling job, and a pair cut from a superset's samples (``subset_of``) plans that
    superset's jobs instead, once."""
    startup = config["cluster"]["startup_minutes"]
    rows: list[dict[str, Any]] = []
    sampled: dict[tuple[str, str], int | None] = {}
    for m, b, first in pairs:
        if not is_imported(config, m):
            key = (m, jobs.sample_source(config, m, b))
            have = sampled.get(key, 0)
            sampled[key] = None if first is None or have is None else max(have, first)
    for (model, benchmark), first in sampled.items():
        sizing, problems = jobs.model_sizing(config, model), jobs.problem_count(config, benchmark)
        tokens_per_sample = jobs.mean_output_tokens(config, model, benchmark)
        for shard in jobs.shards(config, model, benchmark)[:first]:
            generation = jobs.generation_minutes(config, model, benchmark, shard.size)
            hours = None if generation is None else (startup + generation) / 60
            rows.append(
                {
                    "model": model,
                    "benchmark": benchmark,
                    "seed": shard.index,
                    "problems": problems,
                    "samples_per_problem": shard.size,
                    "samples": shard.size * problems,
                    "tokens": round(shard.size * problems * tokens_per_sample),
                    "gpus": sizing.tensor_parallel_size,
                    "hours": hours,
                    "gpu_hours": None if hours is None else hours * sizing.tensor_parallel_size,
                    "limit_hours": jobs.time_limit_minutes(config, model, benchmark, shard.size) / 60,
                    "sized": sizing.params_b is not None,
                }
            )
    return pl.DataFrame(rows, schema_overrides={"hours": pl.Float64, "gpu_hours": pl.Float64})


def _sum_or_null(column: str) -> pl.Expr:
    """A sum that stays unknown when any term is (polars would count nulls as 0)."""
    return pl.when(pl.col(column).is_null().any()).then(None).otherwise(pl.col(column).sum()).alias(column)


def pairs_table(job_rows: pl.DataFrame) -> pl.DataFrame:
    """Jobs summed per (model, benchmark)."""
    return job_rows.group_by("model", "benchmark", maintain_order=True).agg(
        pl.len().alias("jobs"),
        pl.col("samples_per_problem").max().alias("shard_size"),
        pl.col("samples_per_problem").sum().alias("n"),
        pl.col("problems").first(),
        pl.col("tokens").sum(),
        pl.col("gpus").first(),
        _sum_or_null("gpu_hours"),
        pl.col("hours").max().alias("longest_job_h"),
        pl.col("limit_hours").max().alias("time_limit_h"),
    )


def figure_summary(config: dict[str, Any], figures: Sequence[str]) -> pl.DataFrame:
    """Per figure: sampling jobs, samples, generated tokens, GPU-hours (expected and as requested)."""
    budget_h = config["cluster"]["job_hours"]
    rows = []
    for figure in figures:
        job_rows = jobs_table(config, jobs.figure_sample_pairs(config, figure))
        scoring = score_table(config, figure)
        rows.append(
            {
                "figure": figure,
                "pairs": job_rows.select("model", "benchmark").unique().height,
                "sampling_jobs": job_rows.height,
                "samples": job_rows["samples"].sum(),
                "tokens": job_rows["tokens"].sum(),
                "gpu_hours": job_rows.select(_sum_or_null("gpu_hours")).item(),
                "gpu_hours_limit": (job_rows["limit_hours"] * job_rows["gpus"]).sum(),
                "longest_job_h": job_rows["hours"].max(),
                "jobs_over_job_hours": job_rows.filter(pl.col("limit_hours") > budget_h).height,
                "unsized_jobs": job_rows.filter(~pl.col("sized")).height,
                "scoring_jobs": scoring.height,
                "scoring_gpu_hours": scoring.select(_sum_or_null("gpu_hours")).item() if scoring.height else 0.0,
            }
        )
    return pl.DataFrame(
        rows, schema_overrides={"gpu_hours": pl.Float64, "longest_job_h": pl.Float64, "scoring_gpu_hours": pl.Float64}
    )


def score_table(config: dict[str, Any], figure: str) -> pl.DataFrame:
    """One row per scoring job of a perplexity figure (none for other kinds): responses,
    GPUs, expected hours and time limit."""
    if config["figures"][figure]["kind"] != "perplexity":
        return pl.DataFrame(schema={"scorer": pl.String, "responses": pl.String, "gpu_hours": pl.Float64})
    startup = config["cluster"]["startup_minutes"]
    rows = []
    for box in dag.perplexity_boxes(config, figure):
        benchmark, responses = jobs.scored_responses(config, box.responses)
        minutes = jobs.score_minutes(config, box.scorer, responses, benchmark)
        gpus = jobs.tensor_parallel_size(config, box.scorer)
        rows.append(
            {
                "scorer": box.scorer,
                "responses": box.responses,
                "count": responses,
                "gpus": gpus,
                "hours": None if minutes is None else (startup + minutes) / 60,
                "gpu_hours": None if minutes is None else (startup + minutes) / 60 * gpus,
                "limit_hours": jobs.score_time_limit_minutes(config, box.scorer, responses, benchmark) / 60,
            }
        )
    return pl.DataFrame(rows, schema_overrides={"hours": pl.Float64, "gpu_hours": pl.Float64})


def _table_style() -> pl.Config:
    return pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=200,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        float_precision=1,
        thousands_separator=True,
    )


def _speed_line(cluster: dict[str, Any]) -> str:
    measured = cluster.get("measured_tokens_per_gpu_second")
    if measured:
        speeds = ", ".join(f"{tps:,.0f} at {size}B" for size, tps in measured.items())
        where = f"measured (plan --calibrate): {speeds}"
    else:
        where = f"{cluster['tokens_per_gpu_second']} at {cluster['reference_params_b']}B (assumed)"
    return f"  generated tokens/s per GPU {where}, scaled by size; startup {cluster['startup_minutes']} min per job"


def format_plan(config: dict[str, Any], figures: Sequence[str]) -> str:
    """The plan as text: assumptions, models, per-pair jobs of each figure, and the totals."""
    cluster = config["cluster"]
    pairs = list(dict.fromkeys(p for f in figures for p in jobs.figure_sample_pairs(config, f)))
    models = list(dict.fromkeys(m for m, _, _ in pairs if not is_imported(config, m)))
    utilisation = config["sampling"].get("gpu_memory_utilization", 0.9)
    lines = [
        "Assumptions (config.yaml cluster:, sampling:):",
        (
            f"  GPU memory {cluster['gpu_memory_gb']} GB x utilisation {utilisation},"
            f" weights <= {cluster['weight_fraction']:.0%} of it per GPU"
        ),
        _speed_line(cluster),
        (
            f"  output: typical {cluster['typical_output_tokens']} tokens (unless a model sets its own),"
            f" {cluster['truncated_fraction']:.0%}"
            f" run to max_tokens={config['sampling']['max_tokens']}"
        ),
        (
            f"  one job <= {cluster['job_hours']} h (shards halved to fit); time limit = startup +"
            f" {cluster['safety_factor']} x generation, x attempt on retry, <= {cluster['max_job_hours']} h"
        ),
    ]
    if cluster.get("measured_output_tokens"):
        lines.append("  mean output tokens measured (plan --calibrate) where a (model, benchmark) has run")
    lines.append("")
    with _table_style():
        lines += ["Models:", str(models_table(config, models)), ""]
        for figure in figures:
            lines += [
                f"Sampling jobs of {figure} per (model, benchmark):",
                str(pairs_table(jobs_table(config, jobs.figure_sample_pairs(config, figure)))),
                "",
            ]
            if config["figures"][figure]["kind"] == "entropy":
                lines += [
                    (
                        f"  {figure}: grid models sample their first shard (the probes); each panel's full run at"
                        " the chosen temperature is planned as the highest grid temperature's"
                    ),
                    "",
                ]
            scoring = score_table(config, figure)
            if scoring.height:
                lines += [f"Scoring jobs of {figure} (one prefill pass each):", str(scoring), ""]
        summary = figure_summary(config, figures)
        lines += [
            "Per figure (tokens generated, GPU-hours expected / as requested from SLURM):",
            str(summary.with_columns((pl.col("tokens") / 1e9).alias("tokens_billion")).drop("tokens")),
        ]
    unsized = [m for m in models if jobs.model_sizing(config, m).params_b is None]
    if unsized:
        lines += ["", f"Unsized (no params_b; time limit = max_job_hours): {', '.join(unsized)}"]
    return "\n".join(lines)


def calibrate(config: dict[str, Any], results: Path, output: Path) -> str:
    """Fit the plan to the sampling jobs under ``results``, write the overlay, and report."""
    finished = calibration.finished_jobs(config, results)
    if finished.is_empty():
        raise ConfigError(
            f"{results}: no finished sampling jobs (samples/<model>/<benchmark>/seed<S>.parquet with timing)"
        )
    fitted = calibration.fit(finished)
    calibrated = validate(deep_merge(config, {"cluster": fitted}), f"{output} (fitted)")
    calibration.write_overlay(fitted, finished, output)
    with _table_style():
        report = str(calibration.comparison(config, calibrated, finished))
    return "\n".join(
        [
            f"Finished sampling jobs under {results}: estimate before calibration vs measured (generation only):",
            report,
            "",
            "Fitted:",
            *(f"  {key}: {value}" for key, value in fitted.items()),
            f"Written to {output}; the next plan reads it.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rlvr_boundary plan``: print the plan before anything is submitted."""
    parser = argparse.ArgumentParser(prog="rlvr-boundary plan", description=main.__doc__)
    parser.add_argument(
        "--config",
        action="append",
        metavar="YAML",
        help="config.yaml, then overlays in order (repeat); default: config.yaml",
    )
    parser.add_argument(
        "--figure", action="append", metavar="NAME", help="a figure of the config (repeat); default: all"
    )
    parser.add_argument(
        "--calibrate",
        metavar="RESULTS",
        type=Path,
        help="fit throughput, output lengths and start-up to the sampling jobs under RESULTS (e.g. results/)",
    )
    parser.add_argument(
        "--calibration",
        metavar="YAML",
        type=Path,
        default=calibration.DEFAULT_OUTPUT,
        help=f"the fitted overlay: written by --calibrate, read by the plan when it exists (default {calibration.DEFAULT_OUTPUT})",
    )
    args = parser.parse_args(argv)
    try:
        configs = args.config or ["config.yaml"]
        if args.calibrate is not None:
            print(calibrate(load_many(configs), args.calibrate, args.calibration))
            return 0
        if args.calibration.is_file():
            configs = [*configs, str(args.calibration)]
            print(f"Calibrated by {args.calibration}\n")
        config = load_many(configs)
        figures = args.figure or list(config["figures"])
        unknown = [f for f in figures if f not in config["figures"]]
        if unknown:
            raise ConfigError(f"figures: no figure {', '.join(unknown)} (have {', '.join(config['figures'])})")
        print(format_plan(config, figures))
    except (ConfigError, ValueError) as exc:
        print(f"plan: {exc}", file=sys.stderr)
        return 2
    return 0
