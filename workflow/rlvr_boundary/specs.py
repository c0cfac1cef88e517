"""What each stage's job depends on: one frozen dataclass per stage, and its JSON form.

The Snakemake rules build a spec from the config (``dag``) and pass it as ``--spec JSON``;
the CLI parses it back here. Snakemake's params-based rerun trigger therefore re-runs a
job exactly when its spec changes, a job can be rerun by hand with the same command line,
and the specs are testable without Snakemake. Parsing names the spec and the field that
is missing, unknown or malformed.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from rlvr_boundary.layout import Curve, Panel
from rlvr_boundary.tables import config_hash


@dataclass(frozen=True)
class Shard:
    """One sampling job's samples: ``start .. start+size-1`` of every problem."""

    index: int
    start: int
    size: int


@dataclass(frozen=True)
class PrepareSpec:
    """Prepare one benchmark table: its config entry (source keys only) and the source used."""

    name: str
    benchmark: dict[str, Any]
    source: str


@dataclass(frozen=True)
class SampleSpec:
    """Everything that determines a shard's content (and nothing that does not)."""

    model_name: str
    model: dict[str, Any]
    benchmark: str
    template: str
    shard: Shard
    sampling: dict[str, Any]

    def fingerprint(self) -> str:
        return config_hash(asdict(self))


@dataclass(frozen=True)
class SubsetSpec:
    """One seed shard of a benchmark declared ``subset_of`` another, cut from that one's
    shards: ``sample`` is the job that would have drawn it, which the superset shards'
    provenance must match (model, prompt, sampling) for their samples to be the same."""

    sample: SampleSpec
    superset: str


@dataclass(frozen=True)
class ImportSpec:
    """One seed shard of a model's samples read from another tool's files (``samples_from``):
    the files in pooling order, how their problems match the benchmark's, the n every
    problem must have, and the per-doc metric that is a sample's score (lm-eval, lighteval)."""

    model_name: str
    benchmark: str
    format: str
    paths: tuple[str, ...]
    match: str
    n: int
    shard: Shard
    score_field: str | None = None


@dataclass(frozen=True)
class VerifySpec:
    """Judge one shard: a math grader and its timeout, or, for code, the prompt (its open
    fence) and the per-test time limit (None: the benchmark's own). ``trusted``: the
    verdicts are the imported files' own scores (``samples_from.trust_scores``), not judged."""

    benchmark: str
    grader: str
    timeout_s: float | None = None
    template: str | None = None
    code_timeout_s: float | None = None
    trusted: ImportSpec | None = None


@dataclass(frozen=True)
class CountSpec:
    """Per-problem (n, c) of one (grader, model, benchmark): every problem needs n samples."""

    benchmark: str
    n: int


@dataclass(frozen=True)
class DisagreementSpec:
    """Where two graders' verdicts on the same samples differ."""

    benchmark: str
    graders: tuple[str, ...]


@dataclass(frozen=True)
class Bootstrap:
    """The problem bootstrap behind every band and interval (config ``stats``)."""

    resamples: int = 1000
    level: float = 0.95
    seed: int = 0


@dataclass(frozen=True)
class CurveSpec:
    """pass@k of one (grader, model, benchmark), with its bootstrap band."""

    bootstrap: Bootstrap


@dataclass(frozen=True)
class ShardCurveSpec:
    """pass@k of each seed shard of one (grader, model, benchmark), verdict files in shard order."""

    benchmark: str
    shards: tuple[Shard, ...]


@dataclass(frozen=True)
class FigureSpec:
    """A figure grid (pass@k curves or accuracy histograms): its panels, the curves in the
    order of the input files, model labels and roles."""

    title: str
    panels: tuple[Panel, ...]
    curves: tuple[Curve, ...]
    models: dict[str, dict[str, str]]
    note: str | None = None
    bands: bool = True


@dataclass(frozen=True)
class Comparison:
    """One pair to compare: model_a (the reference, usually the base) and model_b in a panel."""

    panel: int
    model_a: str
    model_b: str


@dataclass(frozen=True)
class StatsSpec:
    """The statistics of the given pairs (a figure's, or one pair's), counts files in curve order."""

    name: str
    panels: tuple[Panel, ...]
    curves: tuple[Curve, ...]
    models: dict[str, dict[str, str]]
    comparisons: tuple[Comparison, ...]
    bootstrap: Bootstrap
    delta_se_k: int


@dataclass(frozen=True)
class LuckySpec:
    """Correct responses on rarely solved problems of a (base, other) pair, for reading by hand."""

    benchmark: str
    grader: str
    models: tuple[str, ...]
    labels: dict[str, str]
    below: float
    examples: tuple[int, ...] = ()


@dataclass(frozen=True)
class SolvableSpec:
    """Tables 4/5: two models' solvable problems on one benchmark, optionally an index range."""

    title: str
    benchmark: str
    models: tuple[str, ...]
    labels: dict[str, str]
    indices: tuple[int, ...] | None = None


@dataclass(frozen=True)
class BoundaryTableSpec:
    """Tables 2/3: pass@1 and pass@k per model and benchmark, Delta-SE against ``base``."""

    title: str
    benchmarks: tuple[str, ...]
    models: tuple[str, ...]
    labels: dict[str, str]
    base: str | None = None
    k: int | None = None
    bootstrap: Bootstrap = Bootstrap()


@dataclass(frozen=True)
class TrainingFigureSpec:
    """Fig. 18: training curves of runs, by their labels, smoothed over ``smooth`` steps."""

    title: str
    runs: tuple[str, ...]
    labels: dict[str, str]
    smooth: int = 10
    note: str | None = None


@dataclass(frozen=True)
class Probe:
    """One entropy table an entropy match reads: the reference model at its temperature, or
    a candidate (the probed model at one grid temperature), on one benchmark."""

    panel: int
    benchmark: str
    model: str
    temperature: float
    role: str


@dataclass(frozen=True)
class EntropyMatchSpec:
    """Fig. 17's choice: per benchmark, the candidate temperature whose entropy is nearest the
    reference's; entropy tables in the order of ``probes``."""

    figure: str
    probes: tuple[Probe, ...]


@dataclass(frozen=True)
class ScoreSpec:
    """Score given responses under a model (prompt logprobs): the scorer's weights, its prompt
    on the benchmark, the engine settings, and whose responses they are."""

    scorer: str
    model: dict[str, Any]
    benchmark: str
    template: str
    responses: str
    engine: dict[str, Any]


@dataclass(frozen=True)
class ReferenceSpec:
    """Y_GT of a perplexity figure: responses read from a file, kept for the figure's problems."""

    figure: str
    benchmark: str
    format: str
    path: str
    match: str
    problems: tuple[int, ...]


@dataclass(frozen=True)
class GuessFilterSpec:
    """The guessing filter (Appendix D.2): drop problems whose answer-only accuracy lies in (0, below)."""

    benchmark: str
    origin: str
    model: str
    below: float


@dataclass(frozen=True)
class Box:
    """One box of a perplexity panel: the scores of ``responses`` under ``scorer``, by file order."""

    label: str
    scorer: str
    responses: str


@dataclass(frozen=True)
class PerplexityFigureSpec:
    """Fig. 6: per configured problem, one box per (scorer, responses), score tables in box order."""

    title: str
    benchmark: str
    problems: tuple[int, ...]
    responses: int
    boxes: tuple[Box, ...]
    note: str | None = None


@dataclass(frozen=True)
class RLSpec:
    """One RLVR run of the lab: the algorithm, its schedule and rollouts, the checkpoint steps,
    and the evaluation prompt the policy is trained with; ``beta`` > 0 adds the KL term."""

    algorithm: str
    steps: int
    checkpoints: tuple[int, ...]
    template: str
    learning_rate: float = 3e-5
    prompts_per_step: int = 8
    rollouts: int = 8
    temperature: float = 1.0
    max_tokens: int = 64
    beta: float = 0.0
    seed: int = 0


Spec = TypeVar("Spec")


def to_json(spec: Any) -> str:
    """A spec as the canonical JSON the rules pass (sorted keys: stable rerun triggers)."""
    return json.dumps(asdict(spec), sort_keys=True)


def _build(cls: type[Spec], value: Any, where: str) -> Spec:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(value).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, spec_field in fields.items():
        if name not in value:
            if spec_field.default is dataclasses.MISSING:
                raise ValueError(f"{where}: missing field {name!r}")
            continue
        kwargs[name] = _convert(hints[name], value[name], f"{where}.{name}")
    return cls(**kwargs)


def _convert(hint: Any, value: Any, where: str) -> Any:
    """JSON value to the field's type: nested specs and tuples; other values as they are."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):  # X | None: None stays, else convert as X
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return None if value is None else _convert(inner[0], value, where)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: expected a JSON array, got {type(value).__name__}")
        item = typing.get_args(hint)[0]
        return tuple(_convert(item, v, f"{where}.{i}") for i, v in enumerate(value))
    return value


def from_json(cls: type[Spec], text: str) -> Spec:
    """Parse ``--spec`` JSON into ``cls``; a ValueError names the spec and the field."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--spec ({cls.__name__}) is not JSON: {exc}") from exc
    return _build(cls, value, cls.__name__)


def fields_help(cls: type) -> str:
    """The spec's fields, for ``--help``."""
    return f"{cls.__name__} as JSON: {{{', '.join(f.name for f in dataclasses.fields(cls))}}}. {cls.__doc__}"
