"""Samples/s verifying HumanEval+ (or MBPP+) canonical solutions, ours vs evalplus's evaluator.

    python perf/code_speed.py [--dataset humaneval|mbpp] [--workers 2] [--limit N] [--broken] [--copies K] [--repeats R]

Ours: ``rlvr_boundary.verify.code.verify_batch`` (every program in a fresh namespaced
sandbox; expected outputs from the prepared table's cache). evalplus (if importable, 0.3.1):
run in a fresh interpreter shaped like ``evalplus.evaluate`` -- ground truth by
``trusted_exec`` in the main process (timed separately), then a forked
``ProcessPoolExecutor`` running its evaluator core, ``untrusted_check`` on the base then the
plus inputs (what ``check_correctness`` does, defaults: fast check, 1 s minimum, 4x time
factor). A fresh interpreter matters: evalplus caps each test process at RLIMIT_AS = 4 GB,
and a fork of a process holding polars and the prepared tables would start near that cap.
``--copies K`` verifies each canonical solution K times (a real verify job judges many
samples per task, so per-task costs such as parsing its tests are shared). With
``--broken`` every task also gets a "return None" sample. ``--repeats R`` alternates R runs
of each side (evalplus's rate moves by tens of percent between runs on a shared machine) and
reports the ratio of the median rates. Verdicts are compared sample by sample. Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "code"
FILES = {
    "humaneval": DATA / "humanevalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz",
    "mbpp": DATA / "mbppplus" / "MbppPlus-v0.2.0.jsonl.gz",
}


def _samples(problems: list[dict], broken: bool, copies: int = 1) -> list[tuple[int, str]]:
    """(problem position, full program) pairs: each canonical solution ``copies`` times, then broken variants."""
    samples = [(i, p["prompt"] + p["canonical_solution"]) for i, p in enumerate(problems) for _ in range(copies)]
    if broken:
        samples += [(i, f"def {p['entry_point']}(*args, **kwargs):\n    return None\n") for i, p in enumerate(problems)]
    return samples


def _load(dataset: str, limit: int | None) -> list[dict]:
    with gzip.open(FILES[dataset], "rt") as handle:
        return [json.loads(line) for line in handle][:limit]


def _evalplus_check(args: tuple[str, dict, str, dict]) -> bool:
    """evalplus.evaluate.check_correctness (base then plus), reduced to the pass flag."""
    from evalplus.eval import PASS, untrusted_check

    dataset, problem, solution, expected = args
    for part in ("base", "plus"):
        status, _ = untrusted_check(
            dataset,
            solution,
            problem[f"{part}_input"],
            problem["entry_point"],
            expected=expected[part],
            atol=problem["atol"],
            ref_time=expected[f"{part}_time"],
            fast_check=True,
        )
        if status != PASS:
            return False
    return True


def run_evalplus(dataset: str, workers: int, limit: int | None, broken: bool, copies: int) -> dict:
    """The evalplus side, meant to run in its own interpreter (see the module docstring)."""
    from evalplus.data.mbpp import mbpp_deserialize_inputs
    from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
    from evalplus.gen.util import trusted_exec

    problems = _load(dataset, limit)
    for problem in problems:
        for part in ("base_input", "plus_input"):
            problem[part] = problem[part] or []
            if dataset == "mbpp":
                problem[part] = mbpp_deserialize_inputs(problem["task_id"], problem[part])
    start = time.perf_counter()
    truth = []
    for problem in problems:  # evalplus.evaluate.get_groundtruth, without its pickle cache
        oracle = {}
        for part in ("base", "plus"):
            oracle[part], oracle[f"{part}_time"] = trusted_exec(
                problem["prompt"] + problem["canonical_solution"],
                problem[f"{part}_input"],
                problem["entry_point"],
                record_time=True,
                output_not_none=dataset == "mbpp" and problem["entry_point"] in MBPP_OUTPUT_NOT_NONE_TASKS,
            )
        truth.append(oracle)
    truth_s = time.perf_counter() - start
    jobs = [(dataset, problems[i], code, truth[i]) for i, code in _samples(problems, broken, copies)]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:  # forked, as evalplus.evaluate does
        passed = list(pool.map(_evalplus_check, jobs))
    elapsed = time.perf_counter() - start
    return {
        "seconds": round(elapsed, 2),
        "samples_per_s": round(len(jobs) / elapsed, 2),
        "passed": sum(passed),
        "ground_truth_seconds": round(truth_s, 2),
        "verdicts": passed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(FILES), default="humaneval")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="first N tasks only")
    parser.add_argument("--broken", action="store_true", help="add a 'return None' sample per task")
    parser.add_argument("--copies", type=int, default=1, help="samples per task (each its canonical solution)")
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs of each side (ratio of medians)")
    parser.add_argument("--evalplus-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.evalplus_only:
        print(json.dumps(run_evalplus(args.dataset, args.workers, args.limit, args.broken, args.copies)))
        return

    from rlvr_boundary.code_benchmarks import read_evalplus
    from rlvr_boundary.verify import code as cv

    problems = _load(args.dataset, args.limit)
    rows = list(read_evalplus(FILES[args.dataset], workers=args.workers).iter_rows(named=True))[: args.limit]
    samples = _samples(problems, args.broken, args.copies)
    report: dict = {
        "dataset": args.dataset,
        "tasks": len(rows),
        "samples": len(samples),
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_avg_1min": os.getloadavg()[0],
    }
    try:
        import evalplus.eval  # noqa: F401
    except ImportError as exc:
        report["evalplus"] = f"not installed ({exc})"
        has_evalplus = False
    else:
        has_evalplus = True
    command = [sys.executable, __file__, "--evalplus-only", "--dataset", args.dataset, "--workers", str(args.workers)]
    command += ["--copies", str(args.copies)] + (["--limit", str(args.limit)] if args.limit else [])
    command += ["--broken"] if args.broken else []
    ours_rates, ours_verdicts, theirs_runs = [], set(), []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = cv.verify_batch(
            ["\n" + code + "\n```\n" for _, code in samples], [rows[i] for i, _ in samples], workers=args.workers
        )
        ours_rates.append(round(len(samples) / (time.perf_counter() - start), 2))
        ours_verdicts.add(tuple(v.status for v in ours))
        if has_evalplus:
            theirs_runs.append(json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout))
    report["ours"] = {
        "samples_per_s": ours_rates,
        "passed": sum(v.correct for v in ours),
        "same_verdicts_every_run": len(ours_verdicts) == 1,
    }
    if has_evalplus:
        verdicts = theirs_runs[-1]["verdicts"]
        theirs_rates = [run["samples_per_s"] for run in theirs_runs]
        report["evalplus"] = {
            "samples_per_s": theirs_rates,
            "passed": theirs_runs[-1]["passed"],
            "ground_truth_seconds": [run["ground_truth_seconds"] for run in theirs_runs],
        }
        report["speed_ours_over_evalplus"] = round(statistics.median(ours_rates) / statistics.median(theirs_rates), 3)
        report["disagreements"] = [
            {
                "task": rows[i]["problem_id"],
                "sample": "canonical" if n < len(rows) * args.copies else "broken",
                "ours": v.status,
                "evalplus": "pass" if t else "fail",
            }
            for n, ((i, _), v, t) in enumerate(zip(samples, ours, verdicts, strict=True))
            if v.correct != t
        ]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
