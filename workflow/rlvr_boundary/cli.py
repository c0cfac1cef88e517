"""Command line: one subcommand per pipeline stage (the Snakemake rules' thin shell calls).

Rules pass the exact config fragment a job depends on as JSON (``--spec``), so Snakemake's
params-based rerun trigger re-runs a job precisely when its fragment changes, and a job can
be rerun by hand outside Snakemake with the same command line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from rlvr_boundary.config import ConfigError, Shard


def _spec(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"--spec is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("--spec must be a JSON object")
    return value


def _cmd_prepare(args: argparse.Namespace) -> None:
    from rlvr_boundary import stages

    spec = args.spec
    stages.prepare(spec["name"], spec["benchmark"], spec["source"], args.output)


def _cmd_sample(args: argparse.Namespace) -> None:
    from rlvr_boundary import stages
    from rlvr_boundary.sampling import ShardJob

    spec = args.spec
    job = ShardJob(model_name=spec["model_name"], model=spec["model"], benchmark=spec["benchmark"],
                   template=spec["template"], shard=Shard(**spec["shard"]), sampling=spec["sampling"])
    stages.sample(job, args.benchmark_table, args.output, args.threads)


def _cmd_verify(args: argparse.Namespace) -> None:
    from rlvr_boundary import stages

    stages.verify(args.samples, args.benchmark_table, args.output, spec=args.spec, workers=args.workers)


def _cmd_count(args: argparse.Namespace) -> None:
    from rlvr_boundary import stages

    stages.count(args.verdicts, args.benchmark_table, args.output,
                 benchmark=args.spec["benchmark"], n_expected=args.spec["n"])


def _cmd_compare_graders(args: argparse.Namespace) -> None:
    from rlvr_boundary import stages

    spec = args.spec
    stages.compare_graders(args.samples, args.benchmark_table, args.disagreements, args.curves,
                           benchmark=spec["benchmark"], n_expected=spec["n"], timeout_s=spec["timeout_s"],
                           workers=args.workers)


def _cmd_passk(args: argparse.Namespace) -> None:
    from rlvr_boundary import stages

    stages.passk(args.counts, args.output)


def _cmd_figure(args: argparse.Namespace) -> None:
    from rlvr_boundary import figures
    from rlvr_boundary.config import Panel

    spec = args.spec
    pairs = [tuple(pair) for pair in spec["pairs"]]
    if len(pairs) != len(args.passk):
        raise ValueError(f"figure: {len(pairs)} (model, benchmark) pairs but {len(args.passk)} --passk files")
    panels = [Panel(**{**p, "models": tuple(p["models"])}) for p in spec["panels"]]
    table = figures.grader_table if args.graders else figures.figure_table
    points = table(panels, dict(zip(pairs, args.passk)), spec["models"])
    figures.draw(points, spec["title"], args.output, note=spec.get("note"))


def _cmd_solvable(args: argparse.Namespace) -> None:
    from rlvr_boundary import figures, stages, tables

    spec = args.spec
    if len(args.counts) != len(spec["models"]):
        raise ValueError(f"solvable: {len(spec['models'])} models but {len(args.counts)} --counts files")
    counts = {m: tables.read_parquet(p, stages.COUNT_SCHEMA) for m, p in zip(spec["models"], args.counts)}
    figures.write_csv(figures.solvable_table(counts, spec["labels"], spec.get("indices")), args.output)


def _cmd_demo_benchmark(args: argparse.Namespace) -> None:
    from rlvr_boundary import demo

    demo.write_benchmark(Path(args.output), n_problems=args.problems, seed=args.seed, kind=args.kind)


def _cmd_demo_model(args: argparse.Namespace) -> None:
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: no spinning on shared cores
    from rlvr_boundary import demo

    stats = demo.train_model(
        Path(args.output), steps=args.steps, seed=args.seed,
        init_from=Path(args.init_from) if args.init_from else None,
        exclude=[Path(p) for p in args.exclude], threads=args.threads,
    )
    print(json.dumps(stats, indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlvr_boundary", description=__doc__,
        epilog="Also: plan (jobs, tokens and GPU-hours per figure), download-model (weights cache).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="write data/benchmarks/{benchmark}.parquet")
    p.add_argument("--spec", type=_spec, required=True, help="{name, benchmark, source}")
    p.add_argument("--output", required=True)
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("sample", help="sample one seed shard with vLLM")
    p.add_argument("--spec", type=_spec, required=True, help="{model_name, model, benchmark, template, shard, sampling}")
    p.add_argument("--benchmark-table", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("verify", help="judge one shard of samples")
    p.add_argument("--spec", type=_spec, required=True, help="{benchmark, grader, timeout_s} or, for code, {benchmark, template, code_timeout_s}")
    p.add_argument("--samples", required=True)
    p.add_argument("--benchmark-table", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("count", help="per-problem (n, c) from all verdict shards")
    p.add_argument("--spec", type=_spec, required=True, help="{benchmark, n}")
    p.add_argument("--verdicts", nargs="+", required=True)
    p.add_argument("--benchmark-table", required=True)
    p.add_argument("--output", required=True)
    p.set_defaults(func=_cmd_count)

    p = sub.add_parser("compare-graders", help="grade samples with ours and the paper's grader")
    p.add_argument("--spec", type=_spec, required=True, help="{benchmark, n, timeout_s}")
    p.add_argument("--samples", nargs="+", required=True)
    p.add_argument("--benchmark-table", required=True)
    p.add_argument("--disagreements", required=True)
    p.add_argument("--curves", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=_cmd_compare_graders)

    p = sub.add_parser("passk", help="pass@k for k = 1..n")
    p.add_argument("--counts", required=True)
    p.add_argument("--output", required=True)
    p.set_defaults(func=_cmd_passk)

    p = sub.add_parser("figure", help="draw one figure grid (PDF + CSV beside it)")
    p.add_argument("--spec", type=_spec, required=True, help="{title, panels, pairs, models, note}")
    p.add_argument("--passk", nargs="+", required=True, help="pass@k tables, in the order of spec.pairs")
    p.add_argument("--graders", action="store_true", help="the tables are grader comparisons (ours vs paper)")
    p.add_argument("--output", required=True)
    p.set_defaults(func=_cmd_figure)

    p = sub.add_parser("solvable", help="Tables 4/5: indices of problems each model solves (CSV)")
    p.add_argument("--spec", type=_spec, required=True, help="{benchmark, models, labels, indices}")
    p.add_argument("--counts", nargs="+", required=True, help="count tables, in the order of spec.models")
    p.add_argument("--output", required=True)
    p.set_defaults(func=_cmd_solvable)

    p = sub.add_parser("demo-benchmark", help="write the synthetic arithmetic benchmark (jsonl)")
    p.add_argument("--kind", required=True)
    p.add_argument("--problems", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", required=True)
    p.set_defaults(func=_cmd_demo_benchmark)

    p = sub.add_parser("demo-model", help="train a tiny demo model offline")
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-from", default=None)
    p.add_argument("--exclude", nargs="*", default=[])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--output", required=True)
    p.set_defaults(func=_cmd_demo_model)
    return parser


DELEGATED = {"plan": "rlvr_boundary.plan", "download-model": "rlvr_boundary.hub"}
"""Subcommands whose module parses its own arguments (``python -m rlvr_boundary plan -h``)."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DELEGATED:
        import importlib

        return importlib.import_module(DELEGATED[argv[0]]).main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        args.func(args)
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"rlvr_boundary {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0
