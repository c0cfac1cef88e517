"""Token entropy of sampled responses, and the temperature whose entropy matches (Fig. 17).

The paper does not define its entropy estimator. Ours: a sample's entropy is the mean
negative log-probability of its generated tokens under the model's own next-token
distribution, ``-cumulative_logprob / n_tokens``. vLLM records that log-probability for
every sample (``logprobs_mode`` ``raw_logprobs``, its default: before temperature and top-p),
so the estimate needs no second pass over the samples and leaves their files untouched. At
T = 1 and top-p = 1 it is an unbiased estimate of the model's per-token entropy along its
own samples; at other temperatures it is the cross-entropy of the sampling distribution
against the model, which grows with T -- what the matching needs. Units are nats.

A shard's entropy is the mean over its samples (each sample weighs the same, whatever its
length), with the standard error across problems (the per-problem means are independent;
samples of one problem are not). Samples with no generated token have none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import polars as pl

from rlvr_boundary import tables
from rlvr_boundary.specs import EntropyMatchSpec


def sample_entropy(samples: pl.DataFrame) -> pl.DataFrame:
    """Per sample: generated tokens and the mean negative log-probability per token (null
    without tokens or without a recorded log-probability, e.g. imported samples)."""
    tokens = pl.col("n_tokens")
    return samples.select(
        "problem_id",
        "sample_index",
        "n_tokens",
        entropy=pl.when(tokens > 0).then(-pl.col("cumulative_logprob") / tokens).otherwise(None),
    )


def summary(entropies: pl.DataFrame) -> tuple[float, float, int]:
    """(mean entropy over samples, its standard error across problems, samples with one)."""
    known = entropies.filter(pl.col("entropy").is_not_null())
    if known.height == 0:
        return math.nan, math.nan, 0
    per_problem = known.group_by("problem_id").agg(pl.col("entropy").mean())["entropy"]
    se = float(per_problem.std() / math.sqrt(per_problem.len())) if per_problem.len() > 1 else math.nan
    return float(known["entropy"].mean()), se, known.height


def closest(target: float, candidates: Mapping[float, float]) -> float:
    """The key of ``candidates`` (temperature -> entropy) whose entropy is nearest ``target``;
    a tie goes to the lower temperature. NaN entropies never win."""
    usable = {t: e for t, e in candidates.items() if not math.isnan(e)}
    if not usable:
        raise ValueError("no candidate temperature has an entropy")
    return min(usable, key=lambda t: (abs(usable[t] - target), t))


def write_entropy(samples_path: str | Path, output: str | Path) -> None:
    """The entropy stage: one shard of samples in, its per-sample entropy table out."""
    samples = tables.read(samples_path, tables.SAMPLES)
    record = tables.provenance(
        stage="entropy",
        estimator="-cumulative_logprob / n_tokens (vLLM raw logprobs), nats per token",
        samples_provenance=tables.read_provenance(samples_path),
    )
    tables.write(sample_entropy(samples), output, tables.ENTROPY, record)


def match_table(spec: EntropyMatchSpec, paths: Sequence[str | Path]) -> pl.DataFrame:
    """One row per (benchmark, candidate temperature) of the probed model, beside the
    reference's entropy; ``chosen`` marks the nearest. ``paths``: the entropy tables in the
    order of ``spec.probes``."""
    if len(paths) != len(spec.probes):
        raise ValueError(f"entropy match: {len(spec.probes)} probes in the spec but {len(paths)} entropy tables")
    measured = {
        (probe.panel, probe.model): summary(tables.read(path, tables.ENTROPY))
        for probe, path in zip(spec.probes, paths, strict=True)
    }
    references = {p.panel: p for p in spec.probes if p.role == "reference"}
    rows = []
    for probe in spec.probes:
        if probe.role != "candidate":
            continue
        reference = references[probe.panel]
        entropy, se, n = measured[(probe.panel, probe.model)]
        rows.append(
            {
                "panel": probe.panel,
                "benchmark": probe.benchmark,
                "reference": reference.model,
                "reference_temperature": reference.temperature,
                "reference_entropy": measured[(reference.panel, reference.model)][0],
                "reference_entropy_se": measured[(reference.panel, reference.model)][1],
                "model": probe.model,
                "temperature": probe.temperature,
                "entropy": entropy,
                "entropy_se": se,
                "samples": n,
            }
        )
    table = pl.DataFrame(rows, schema={c: t for c, t in tables.ENTROPY_MATCH.columns.items() if c != "chosen"})
    chosen = {
        panel: closest(group["reference_entropy"][0], dict(zip(group["temperature"], group["entropy"], strict=True)))
        for (panel,), group in table.group_by("panel", maintain_order=True)
    }
    return table.with_columns(
        chosen=pl.struct("panel", "temperature").map_elements(
            lambda row: chosen[row["panel"]] == row["temperature"], return_dtype=pl.Boolean
        )
    )


def write_match(spec: EntropyMatchSpec, paths: Sequence[str | Path], output: str | Path) -> None:
    """The entropy-match stage (a Snakemake checkpoint: the figure's inputs depend on it)."""
    tables.write_csv(match_table(spec, paths), output, tables.ENTROPY_MATCH)
    tables.write_json(
        {"spec": asdict(spec), **tables.provenance_summary(list(paths))}, Path(output).with_suffix(".provenance.json")
    )
