"""Command line: one subcommand per pipeline stage (the Snakemake rules' thin shell calls).

Each stage command takes its job's spec as JSON (``--spec``, defined in ``specs``) and the
paths of its inputs and output; it parses, then calls one stage function. Nothing here
computes anything.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlvr_boundary import specs
from rlvr_boundary.config import ConfigError


def _spec_type(cls: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return specs.from_json(cls, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    parse.__name__ = cls.__name__  # argparse names the type in its error message
    return parse


def _prepare(args: argparse.Namespace) -> None:
    from rlvr_boundary import benchmarks

    benchmarks.write_prepared(args.spec, args.output)


def _import_samples(args: argparse.Namespace) -> None:
    from rlvr_boundary import importers

    importers.import_shard(args.spec, args.benchmark_table, args.output)


def _sample(args: argparse.Namespace) -> None:
    from rlvr_boundary import devices

    # Before torch or vLLM is imported: CUDA reads CUDA_VISIBLE_DEVICES once.
    logging.getLogger(__name__).info("%s", devices.assign_for_job(args.spec.model.get("tensor_parallel_size", 1)))
    from rlvr_boundary import sampling

    cadence = sampling.Cadence(args.flush_samples, args.flush_seconds, args.log_seconds)
    sampling.sample(args.spec, args.benchmark_table, args.output, args.threads, cadence)


def _score(args: argparse.Namespace) -> None:
    from rlvr_boundary import devices

    logging.getLogger(__name__).info("%s", devices.assign_for_job(args.spec.model.get("tensor_parallel_size", 1)))
    from rlvr_boundary import scoring

    scoring.run(args.spec, args.responses, args.benchmark_table, args.output, args.threads)


def _reference(args: argparse.Namespace) -> None:
    from rlvr_boundary import importers

    importers.import_reference(args.spec, args.benchmark_table, args.output)


def _entropy(args: argparse.Namespace) -> None:
    from rlvr_boundary import entropy

    entropy.write_entropy(args.samples, args.output)


def _entropy_match(args: argparse.Namespace) -> None:
    from rlvr_boundary import entropy

    entropy.write_match(args.spec, args.entropy, args.output)


def _guess_filter(args: argparse.Namespace) -> None:
    from rlvr_boundary import guessing

    guessing.write_filter(args.spec, args.counts, args.output)


def _kept_counts(args: argparse.Namespace) -> None:
    from rlvr_boundary import guessing

    guessing.write_kept_counts(args.spec, args.counts, args.filter, args.output)


def _entropy_figure(args: argparse.Namespace) -> None:
    from rlvr_boundary import figures

    figures.entropy_figure(args.spec, args.passk, args.matched, args.match, args.output)


def _perplexity_figure(args: argparse.Namespace) -> None:
    from rlvr_boundary import figures

    figures.perplexity_figure(args.spec, args.scores, args.benchmark_table, args.output)


def _subset_samples(args: argparse.Namespace) -> None:
    from rlvr_boundary import subsets

    subsets.cut_shard(args.spec, args.superset_samples, args.benchmark_table, args.superset_table, args.output)


def _verify(args: argparse.Namespace) -> None:
    from rlvr_boundary import verdicts

    verdicts.verify(args.spec, args.samples, args.benchmark_table, args.output, workers=args.workers)


def _disagreements(args: argparse.Namespace) -> None:
    from rlvr_boundary import verdicts

    verdicts.disagreements(args.spec, args.verdicts_a, args.verdicts_b, args.samples, args.benchmark_table, args.output)


def _count(args: argparse.Namespace) -> None:
    from rlvr_boundary import counts

    counts.count(args.spec, args.verdicts, args.benchmark_table, args.output)


def _passk(args: argparse.Namespace) -> None:
    from rlvr_boundary import curves

    curves.passk(args.spec, args.counts, args.output)


def _shard_passk(args: argparse.Namespace) -> None:
    from rlvr_boundary import curves

    curves.shard_passk(args.spec, args.verdicts, args.benchmark_table, args.output)


def _stats(args: argparse.Namespace) -> None:
    from rlvr_boundary import comparisons

    comparisons.figure_stats(args.spec, args.counts, args.output)


def _lucky(args: argparse.Namespace) -> None:
    from rlvr_boundary import lucky

    if len(args.counts) != 2:
        raise ValueError(f"lucky: --counts takes the two models' counts, got {len(args.counts)} files")
    runs = {
        model: lucky.ModelRuns(counts, verdicts, samples)
        for model, counts, verdicts, samples in zip(
            args.spec.models,
            args.counts,
            (args.verdicts_a, args.verdicts_b),
            (args.samples_a, args.samples_b),
            strict=True,
        )
    }
    lucky.export(args.spec, runs, args.benchmark_table, args.output)


def _figure(args: argparse.Namespace) -> None:
    from rlvr_boundary import figures

    figures.passk_figure(args.spec, args.passk, args.output, args.stats)


def _histogram(args: argparse.Namespace) -> None:
    from rlvr_boundary import figures

    figures.histogram_figure(args.spec, args.counts, args.output)


def _solvable(args: argparse.Namespace) -> None:
    from rlvr_boundary import figures

    spec = args.spec
    figures.write_solvable(args.counts, spec.models, spec.labels, spec.indices, args.output)


def _boundary_table(args: argparse.Namespace) -> None:
    from rlvr_boundary import runs

    runs.write_boundary_table(args.spec, args.counts, args.output)


def _training_figure(args: argparse.Namespace) -> None:
    from rlvr_boundary import runs

    runs.training_figure(args.spec, args.logs, args.output)


def _demo_benchmark(args: argparse.Namespace) -> None:
    from rlvr_boundary import demo

    demo.write_benchmark(
        Path(args.output),
        n_problems=args.problems,
        seed=args.seed,
        kind=args.kind,
        exclude=[Path(p) for p in args.exclude],
    )


def _demo_worked(args: argparse.Namespace) -> None:
    from rlvr_boundary import demo

    demo.write_worked_solutions(Path(args.benchmark), Path(args.output))


def _demo_model(args: argparse.Namespace) -> None:
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: no spinning on shared cores
    from rlvr_boundary import demo

    stats = demo.train_model(
        Path(args.output),
        steps=args.steps,
        seed=args.seed,
        init_from=Path(args.init_from) if args.init_from else None,
        exclude=[Path(p) for p in args.exclude],
        solutions=args.solutions,
        threads=args.threads,
    )
    print(json.dumps(stats, indent=2))


def _tiny_vl(args: argparse.Namespace) -> None:
    from rlvr_boundary import tiny_vl

    print(json.dumps(tiny_vl.build(Path(args.output), seed=args.seed), indent=2))


def _rl_train(args: argparse.Namespace) -> None:
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: no spinning on shared cores
    from rlvr_boundary import rl

    log = rl.train(Path(args.init), Path(args.problems), Path(args.output), args.spec, threads=args.threads)
    print(log.tail(5))


def _demo_distill(args: argparse.Namespace) -> None:
    from rlvr_boundary import distill

    stats = distill.distill(
        Path(args.student),
        args.benchmark,
        args.samples,
        args.verdicts,
        Path(args.output),
        steps=args.steps,
        seed=args.seed,
        threads=args.threads,
    )
    print(json.dumps(stats, indent=2))


def _stage(
    sub: Any,
    name: str,
    help_text: str,
    spec: type | None,
    func: Callable[[argparse.Namespace], None],
    paths: dict[str, dict[str, Any]],
) -> argparse.ArgumentParser:
    """A stage subcommand: ``--spec`` of its spec type, then its input and output paths."""
    parser = sub.add_parser(name, help=help_text, description=help_text)
    if spec is not None:
        parser.add_argument("--spec", type=_spec_type(spec), required=True, help=specs.fields_help(spec))
    for flag, options in paths.items():
        parser.add_argument(flag, **({"required": True} | options))
    parser.set_defaults(func=func)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlvr_boundary",
        description=__doc__,
        epilog="Also: plan (jobs, tokens and GPU-hours per figure), download-model (weights cache).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    many = {"nargs": "+"}
    _stage(sub, "prepare", "write data/benchmarks/{benchmark}.parquet", specs.PrepareSpec, _prepare, {"--output": {}})
    _stage(
        sub,
        "sample",
        "sample one seed shard with vLLM",
        specs.SampleSpec,
        _sample,
        {
            "--benchmark-table": {},
            "--output": {},
            "--threads": {"type": int, "default": 1, "required": False},
            "--flush-samples": {"type": int, "default": 512, "required": False},
            "--flush-seconds": {"type": float, "default": 60.0, "required": False},
            "--log-seconds": {"type": float, "default": 30.0, "required": False},
        },
    )
    _stage(
        sub,
        "import-samples",
        "write one seed shard of samples read from another tool's files",
        specs.ImportSpec,
        _import_samples,
        {"--benchmark-table": {}, "--output": {}},
    )
    _stage(
        sub,
        "subset-samples",
        "write one seed shard of a subset benchmark, cut from its superset's samples",
        specs.SubsetSpec,
        _subset_samples,
        {"--superset-samples": many, "--benchmark-table": {}, "--superset-table": {}, "--output": {}},
    )
    _stage(
        sub,
        "score",
        "score given responses under a model (vLLM prompt logprobs): log-likelihood and perplexity",
        specs.ScoreSpec,
        _score,
        {
            "--responses": {"help": "a samples table (a shard, or a figure's reference responses)"},
            "--benchmark-table": {},
            "--output": {},
            "--threads": {"type": int, "default": 1, "required": False},
        },
    )
    _stage(
        sub,
        "reference",
        "a perplexity figure's Y_GT: responses read from a file, as a samples table",
        specs.ReferenceSpec,
        _reference,
        {"--benchmark-table": {}, "--output": {}},
    )
    _stage(
        sub,
        "entropy",
        "per-sample token entropy of one shard of samples",
        None,
        _entropy,
        {"--samples": {}, "--output": {}},
    )
    _stage(
        sub,
        "entropy-match",
        "Fig. 17's choice: the grid temperature whose entropy is nearest the reference's (CSV)",
        specs.EntropyMatchSpec,
        _entropy_match,
        {"--entropy": many | {"help": "entropy tables, in the order of spec.probes"}, "--output": {}},
    )
    _stage(
        sub,
        "guess-filter",
        "the guessing filter: which problems the answer-only model guesses (kept or dropped)",
        specs.GuessFilterSpec,
        _guess_filter,
        {"--counts": {"help": "the answer-only model's counts on the origin benchmark"}, "--output": {}},
    )
    _stage(
        sub,
        "kept-counts",
        "a filtered benchmark's counts: the origin's counts of one model, kept problems only",
        specs.GuessFilterSpec,
        _kept_counts,
        {"--counts": {}, "--filter": {}, "--output": {}},
    )
    _stage(
        sub,
        "verify",
        "judge one shard of samples with one grader",
        specs.VerifySpec,
        _verify,
        {
            "--samples": {},
            "--benchmark-table": {},
            "--output": {},
            "--workers": {"type": int, "default": 1, "required": False},
        },
    )
    _stage(
        sub,
        "disagreements",
        "samples two graders judge differently (a join of their verdicts)",
        specs.DisagreementSpec,
        _disagreements,
        {"--verdicts-a": many, "--verdicts-b": many, "--samples": many, "--benchmark-table": {}, "--output": {}},
    )
    _stage(
        sub,
        "count",
        "per-problem (n, c) from all verdict shards",
        specs.CountSpec,
        _count,
        {"--verdicts": many, "--benchmark-table": {}, "--output": {}},
    )
    _stage(
        sub,
        "passk",
        "pass@k for k = 1..n with bootstrap band and posterior sd",
        specs.CurveSpec,
        _passk,
        {"--counts": {}, "--output": {}},
    )
    _stage(
        sub,
        "shard-passk",
        "pass@k of each seed shard on its own",
        specs.ShardCurveSpec,
        _shard_passk,
        {
            "--verdicts": many | {"help": "verdict shards, in the order of spec.shards"},
            "--benchmark-table": {},
            "--output": {},
        },
    )
    _stage(
        sub,
        "stats",
        "pair statistics of a figure: intervals, difference, crossover, Delta-SE, solvable sets",
        specs.StatsSpec,
        _stats,
        {
            "--counts": many | {"help": "count tables, in the order of spec.curves"},
            "--output": {"nargs": 4, "help": "statistics CSV, differences CSV, solvable-sets CSV, provenance JSON"},
        },
    )
    _stage(
        sub,
        "lucky",
        "correct responses on rarely solved problems of a pair (HTML)",
        specs.LuckySpec,
        _lucky,
        {
            "--counts": many | {"help": "the two models' count tables, in the order of spec.models"},
            "--verdicts-a": many,
            "--verdicts-b": many,
            "--samples-a": many,
            "--samples-b": many,
            "--benchmark-table": {},
            "--output": {},
        },
    )
    _stage(
        sub,
        "figure",
        "draw one pass@k figure grid (PDF + CSV + provenance JSON beside it)",
        specs.FigureSpec,
        _figure,
        {
            "--passk": many | {"help": "pass@k tables, in the order of spec.curves"},
            "--stats": {"required": False, "default": None, "help": "the figure's statistics CSV (crossover marks)"},
            "--output": {},
        },
    )
    _stage(
        sub,
        "histogram",
        "draw one accuracy-histogram figure (PDF + CSV + provenance JSON beside it)",
        specs.FigureSpec,
        _histogram,
        {"--counts": many | {"help": "count tables, in the order of spec.curves"}, "--output": {}},
    )
    _stage(
        sub,
        "entropy-figure",
        "Fig. 17: pass@k of the reference, the probed model and the probed model at the entropy-matched temperature",
        specs.FigureSpec,
        _entropy_figure,
        {
            "--passk": many | {"help": "pass@k tables, in the order of spec.curves"},
            "--matched": many | {"help": "the entropy-matched model's pass@k table per panel, in panel order"},
            "--match": {"help": "the entropy-match table (CSV)"},
            "--output": {},
        },
    )
    _stage(
        sub,
        "perplexity-figure",
        "Fig. 6: boxplots of responses' perplexity (PDF + CSV + provenance JSON beside it)",
        specs.PerplexityFigureSpec,
        _perplexity_figure,
        {
            "--scores": many | {"help": "score tables, in the order of spec.boxes"},
            "--benchmark-table": {},
            "--output": {},
        },
    )
    _stage(
        sub,
        "solvable",
        "Tables 4/5: indices of problems each model solves (CSV)",
        specs.SolvableSpec,
        _solvable,
        {"--counts": many | {"help": "count tables, in the order of spec.models"}, "--output": {}},
    )
    _stage(
        sub,
        "boundary-table",
        "Tables 2/3: pass@1 and pass@k per model and benchmark with Delta-SE against the base (CSV)",
        specs.BoundaryTableSpec,
        _boundary_table,
        {"--counts": many | {"help": "count tables: per model (spec order), per benchmark"}, "--output": {}},
    )
    _stage(
        sub,
        "training-figure",
        "Fig. 18: training curves of RL runs from their training logs (PDF + CSV)",
        specs.TrainingFigureSpec,
        _training_figure,
        {"--logs": many | {"help": "training-log tables, in the order of spec.runs"}, "--output": {}},
    )
    _stage(
        sub,
        "rl-train",
        "RLVR with TRL (GRPO or RLOO), rewarded by the math verifier: checkpoints and a training log",
        specs.RLSpec,
        _rl_train,
        {
            "--init": {"help": "the model to train (a Hugging Face directory)"},
            "--problems": {"help": "a prepared math benchmark table: the training prompts"},
            "--threads": {"type": int, "default": 1, "required": False},
            "--output": {"help": "directory: step{N}/ checkpoints and training_log.parquet"},
        },
    )
    _stage(
        sub,
        "demo-distill",
        "fine-tune a demo model on a teacher's correct samples (the lab's distillation)",
        None,
        _demo_distill,
        {
            "--student": {"help": "the model to fine-tune (a demo model directory)"},
            "--benchmark": {"help": "the prepared benchmark table the teacher was sampled on"},
            "--samples": {"nargs": "+", "help": "the teacher's sample shards"},
            "--verdicts": {"nargs": "+", "help": "their verdict shards, in the same order"},
            "--steps": {"type": int},
            "--seed": {"type": int, "default": 0, "required": False},
            "--threads": {"type": int, "default": 1, "required": False},
            "--output": {},
        },
    )
    _stage(
        sub,
        "demo-benchmark",
        "write the synthetic arithmetic benchmark (jsonl)",
        None,
        _demo_benchmark,
        {
            "--kind": {},
            "--problems": {"type": int},
            "--seed": {"type": int, "default": 0, "required": False},
            "--exclude": {"nargs": "*", "default": [], "required": False},
            "--output": {},
        },
    )
    _stage(
        sub,
        "demo-worked",
        "write each demo problem's worked solution as a response file (jsonl: problem_id, response)",
        None,
        _demo_worked,
        {"--benchmark": {}, "--output": {}},
    )
    _stage(
        sub,
        "tiny-vl",
        "build a tiny random-weight Qwen2.5-VL offline (runs the visual path on a CPU)",
        None,
        _tiny_vl,
        {"--seed": {"type": int, "default": 0, "required": False}, "--output": {}},
    )
    _stage(
        sub,
        "demo-model",
        "train a tiny demo model offline",
        None,
        _demo_model,
        {
            "--steps": {"type": int},
            "--seed": {"type": int, "default": 0, "required": False},
            "--init-from": {"default": None, "required": False},
            "--exclude": {"nargs": "*", "default": [], "required": False},
            "--solutions": {"default": "clean", "required": False},
            "--threads": {"type": int, "default": 1, "required": False},
            "--output": {},
        },
    )
    return parser


DELEGATED = {"plan": "rlvr_boundary.plan", "download-model": "rlvr_boundary.hub"}
"""Subcommands whose module parses its own arguments (``python -m rlvr_boundary plan -h``)."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DELEGATED:
        return importlib.import_module(DELEGATED[argv[0]]).main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        args.func(args)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"rlvr_boundary {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0
