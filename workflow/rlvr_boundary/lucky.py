"""Lucky-guess material: every correct response on problems a model rarely solves.

The paper judged by hand whether correct answers on problems with mean accuracy below 5%
came with a valid chain of thought, or were guesses (its Figs. 19-20 show two). This stage
writes one self-contained HTML page per (base, other) pair and benchmark with, for each
model, every problem whose accuracy c/n lies in (0, ``below``) plus any configured example
problems, and under each: question, gold answer and every correct response in full.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from rlvr_boundary import stats, tables
from rlvr_boundary.specs import LuckySpec

STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:auto;padding:1em}"
    "pre{white-space:pre-wrap;background:#f6f6f6;padding:.6em;border-left:3px solid #ccc}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}"
)


@dataclass(frozen=True)
class ModelRuns:
    """One model's counts, verdict shards and sample shards on the benchmark."""

    counts: str | Path
    verdicts: Sequence[str | Path]
    samples: Sequence[str | Path]


def correct_responses(runs: ModelRuns, problem_ids: Sequence[str]) -> pl.DataFrame:
    """Every correct sample of the given problems with its response, in sample order."""
    verdicts = pl.concat([tables.read(p, tables.VERDICTS) for p in runs.verdicts])
    wanted = verdicts.filter(pl.col("correct") & pl.col("problem_id").is_in(list(problem_ids)))
    samples = pl.concat([tables.read(p, tables.SAMPLES) for p in runs.samples]).select(
        "problem_id", "sample_index", "response", "n_tokens"
    )
    joined = wanted.join(samples, on=["problem_id", "sample_index"], how="left")
    if joined["response"].null_count():
        row = joined.filter(pl.col("response").is_null()).row(0, named=True)
        raise ValueError(f"lucky guesses: no sample for verdict {row['problem_id']}#{row['sample_index']}")
    return joined.sort("problem_id", "sample_index")


def selected_problems(counts: pl.DataFrame, below: float, examples: Sequence[int]) -> pl.DataFrame:
    """Problems rarely solved (0 < c/n < below) or named as examples, in benchmark order."""
    rare = set(counts["index"].gather(stats.rarely_solved(counts["n"], counts["c"], below)).to_list())
    unknown = sorted(set(examples) - set(counts["index"].to_list()))
    if unknown:
        raise ValueError(f"lucky guesses: example index {unknown[0]} is not a problem of the benchmark")
    return counts.filter(pl.col("index").is_in(sorted(rare | set(examples)))).with_columns(
        rare=pl.col("index").is_in(sorted(rare))
    )


def _section(label: str, chosen: pl.DataFrame, responses: pl.DataFrame, problems: pl.DataFrame, below: float) -> str:
    parts = [f"<h2>{html.escape(label)}</h2>"]
    if not chosen.height:
        parts.append(f"<p>No problem with accuracy in (0, {below:.0%}) and no example problem.</p>")
    for row in chosen.iter_rows(named=True):
        problem = problems.filter(pl.col("problem_id") == row["problem_id"]).row(0, named=True)
        mine = responses.filter(pl.col("problem_id") == row["problem_id"])
        why = "rarely solved" if row["rare"] else "example"
        parts.append(
            f"<h3>Problem {row['index']} ({html.escape(row['problem_id'])}): {row['c']} of {row['n']} correct"
            f" ({row['c'] / row['n']:.2%}, {why})</h3>"
            f"<p><b>Question</b></p><pre>{html.escape(problem['question'])}</pre>"
        )
        if "gold" in problem:
            parts.append(f"<p><b>Gold:</b> <code>{html.escape(problem['gold'])}</code></p>")
        parts.extend(
            f"<h4>Sample {sample['sample_index']}: extracted <code>{html.escape(sample['extracted'])}</code>,"
            f" {sample['n_tokens']} tokens</h4><pre>{html.escape(sample['response'])}</pre>"
            for sample in mine.iter_rows(named=True)
        )
    return "\n".join(parts)


def lucky_page(spec: LuckySpec, runs: Mapping[str, ModelRuns], benchmark_path: str | Path) -> str:
    """The HTML page of one pair on one benchmark."""
    problems = tables.read_benchmark(benchmark_path)
    summary, sections = [], []
    for model in spec.models:
        counts = tables.read(runs[model].counts, tables.COUNTS)
        chosen = selected_problems(counts, spec.below, spec.examples)
        responses = correct_responses(runs[model], chosen["problem_id"].to_list())
        label = spec.labels[model]
        summary.append(
            f"<tr><td>{html.escape(label)}</td><td>{int(chosen['rare'].sum())}</td>"
            f"<td>{responses.height}</td><td>{int(counts['n'].min())}</td></tr>"
        )
        sections.append(_section(label, chosen, responses, problems, spec.below))
    title = f"Rarely solved problems on {spec.benchmark} ({spec.grader} grader): " + " vs ".join(
        spec.labels[m] for m in spec.models
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>Every correct response on problems whose accuracy c/n lies in (0, {spec.below:.0%}), and on the"
        f" example problems {list(spec.examples) or 'none'}, for judging by hand whether the reasoning is valid"
        " or the answer a lucky guess (the paper, Section 4 and Figs. 19-20).</p>"
        "<table><tr><th>model</th><th>rarely solved problems</th><th>correct responses shown</th><th>n</th></tr>"
        + "".join(summary)
        + "</table>"
        + "".join(sections)
        + "</body></html>\n"
    )


def export(spec: LuckySpec, runs: Mapping[str, ModelRuns], benchmark_path: str | Path, output: str | Path) -> None:
    """The stage: write the page atomically."""
    page = lucky_page(spec, runs, benchmark_path)
    with tables.atomic_path(output) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
