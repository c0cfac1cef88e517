"""Speed, time limit, memory and accuracy of the math verify stage against plain math-verify.

    python perf/verify_speed.py [--timeout-s 5] [--workers 2] [--memory-rows 1000000]

Inputs (read from ../shared/bench, converted first to what the pipeline's verify stage reads:
a samples table and a prepared benchmark table, in a temporary folder):
``verify_throughput.jsonl`` (10,000 MATH500 predictions) and ``verify_rollouts_128.jsonl``
(100 problems x 128 rollouts). Every measurement runs in a fresh child process, so none
profits from caches another one warmed (math-verify's parser gets 3x faster once warm),
and the ratios printed come from this one run on this machine:

* ours: the verify stage exactly as the ``verify`` rule runs it
  (``rlvr_boundary.verdicts.verify``: samples parquet in, verdicts parquet out, ``--workers``
  processes); its cost report (distinct answers, sympy checks, time-outs, slowest check)
  is read back from the verdict file's provenance;
* baseline: plain math-verify, one process, one answer at a time:
  ``verify(parse("$" + gold + "$"), parse(prediction))``, parquet in, verdicts parquet out;
* p100: the slowest single check (ours: fast path or engine; baseline: parse+verify);
* agreement with the inputs' ``kind`` column (gold_* right, wrong_* and no_answer not);
* peak memory of the verify stage on ``--memory-rows`` rows (the rollouts repeated),
  summed RSS of the process and its workers, sampled every 20 ms;
* accuracy on ``tests/data/math_labelled.jsonl``: ours, strict, paper mode, math-verify alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"
INPUTS = {"throughput 10k": "verify_throughput.jsonl", "rollouts 100x128": "verify_rollouts_128.jsonl"}
LABELLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "math_labelled.jsonl"


def _to_stage_inputs(src: Path, folder: Path, rows: int | None = None) -> Path:
    """The jsonl as the verify stage's inputs (``folder/samples.parquet``, ``folder/table.parquet``)
    and, for the baseline, ``folder/flat.parquet``; with ``rows``, repeated up to that many rows."""
    from rlvr_boundary import tables

    flat = pl.read_ndjson(src).with_columns(pl.col("pid").cast(pl.Utf8))
    if rows is not None:
        flat = pl.concat([flat] * -(-rows // flat.height)).head(rows)
    flat = flat.with_columns(pl.int_range(pl.len()).over("pid").cast(pl.Int64).alias("sample_index"))
    folder.mkdir(parents=True, exist_ok=True)
    flat.write_parquet(folder / "flat.parquet")
    samples = flat.select(
        pl.col("pid").alias("problem_id"),
        "sample_index",
        pl.col("prediction").alias("response"),
        pl.lit(0, pl.Int64).alias("n_tokens"),
        pl.lit("stop").alias("finish_reason"),
        pl.lit(None, pl.Float64).alias("cumulative_logprob"),
    )
    tables.write(samples, folder / "samples.parquet", tables.SAMPLES, {"stage": "sample", "source": str(src)})
    problems = flat.group_by("pid", maintain_order=True).agg(pl.col("gold").first()).with_row_index("index")
    table = problems.select(
        pl.col("pid").alias("problem_id"),
        pl.col("index").cast(pl.Int64),
        pl.lit("").alias("question"),
        "gold",
        pl.lit("{}").alias("metadata"),
    )
    tables.write(table, folder / "table.parquet", tables.MATH_BENCHMARK, {"stage": "prepare", "source": str(src)})
    return folder


# --- measurements (each runs in its own child process) -----------------------------------


def _run_ours(folder: str, dst: str, timeout_s: float, workers: int) -> dict:
    from rlvr_boundary import tables, verdicts
    from rlvr_boundary.specs import VerifySpec

    start = time.perf_counter()
    spec = VerifySpec("bench", "ours", timeout_s=timeout_s)
    verdicts.verify(spec, Path(folder) / "samples.parquet", Path(folder) / "table.parquet", dst, workers=workers)
    seconds = time.perf_counter() - start
    cost = tables.read_provenance(dst)["cost"]
    return {
        "seconds": seconds,
        "p100_s": cost["max_check_s"],
        "rows": cost["rows"],
        "unique_answers": cost["unique_answers"],
        "engine_checks": cost["engine_checks"],
        "timeouts": cost["timeouts"],
    }


def _run_baseline(src: str, dst: str, timeout_s: float) -> dict:
    import pyarrow.parquet as pq
    from math_verify import parse, verify

    seconds_each = []
    start = time.perf_counter()
    table = pq.read_table(Path(src) / "flat.parquet", columns=["pid", "sample_index", "gold", "prediction"])
    correct = []
    for gold, prediction in zip(table.column("gold").to_pylist(), table.column("prediction").to_pylist(), strict=True):
        t = time.perf_counter()
        correct.append(
            bool(
                verify(
                    parse(f"${gold}$", parsing_timeout=int(timeout_s)),
                    parse(prediction, parsing_timeout=int(timeout_s)),
                    timeout_seconds=int(timeout_s),
                )
            )
        )
        seconds_each.append(time.perf_counter() - t)
    pq.write_table(table.drop(["prediction"]).append_column("correct", [correct]), dst)
    return {"seconds": time.perf_counter() - start, "p100_s": max(seconds_each), "rows": len(correct)}


def _child(kind: str, src: str, dst: str, timeout_s: float, workers: int) -> None:
    result = _run_ours(src, dst, timeout_s, workers) if kind == "ours" else _run_baseline(src, dst, timeout_s)
    print(json.dumps(result))


def _measure(kind: str, src: Path, dst: Path, args: argparse.Namespace, sample_memory: bool = False) -> dict:
    """Run one measurement in a fresh interpreter; optionally sample its tree's memory."""
    import psutil

    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        str(src),
        str(dst),
        "--timeout-s",
        str(args.timeout_s),
        "--workers",
        str(args.workers),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = 0
    if sample_memory:
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.NoSuchProcess:
                pass
            time.sleep(0.02)
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"{kind} measurement failed ({proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = peak / 2**20
    return result


def _kind_disagreements(verdicts: Path, inputs: Path) -> int:
    """Rows whose verdict contradicts the input's ``kind`` (gold_* right, others not)."""
    kinds = pl.read_parquet(inputs / "flat.parquet", columns=["kind"])["kind"]
    correct = pl.read_parquet(verdicts, columns=["correct"])["correct"]
    return int(((kinds.str.starts_with("gold")) != correct).sum())


# --- labelled-set accuracy ---------------------------------------------------------------


def _accuracy() -> list[tuple[str, int, int, int, int]]:
    from math_verify import parse
    from math_verify import verify as mv_verify

    from rlvr_boundary.verify.math import verify_batch

    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    responses, golds, labels = ([r[k] for r in rows] for k in ("response", "gold", "label"))
    finished = [r.get("finished", True) for r in rows]

    def ours(grader: str) -> list[bool]:
        return [v.correct for v in verify_batch(responses, golds, grader=grader, finished=finished)]

    graders = {
        "ours": ours("ours"),
        "strict (marked answers only)": ours("strict"),
        "paper mode (repo extraction + our check)": ours("paper"),
        "math-verify 0.9.0 alone": [
            bool(mv_verify(parse(f"${g}$"), parse(r))) for r, g in zip(responses, golds, strict=True)
        ],
    }
    table = []
    for name, got in graders.items():
        right = sum(g == label for g, label in zip(got, labels, strict=True))
        false_accepts = sum(g and not label for g, label in zip(got, labels, strict=True))
        table.append((name, right, len(rows), false_accepts, len(rows) - right - false_accepts))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout-s", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SRC", "DST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child, args.timeout_s, args.workers)
        return

    print(f"timeout {args.timeout_s:g} s, {args.workers} workers; each measurement in a fresh process\n")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(
            f"{'input':18} {'grader':9} {'rows':>6} {'seconds':>8} {'answers/s':>10} {'p100 s':>7} "
            f"{'vs kind':>8}  notes"
        )
        for label, name in INPUTS.items():
            src = _to_stage_inputs(BENCH / name, work / name)
            ours = _measure("ours", src, work / "ours.parquet", args)
            ours_off = _kind_disagreements(work / "ours.parquet", src)
            base = _measure("baseline", src, work / "base.parquet", args)
            base_off = _kind_disagreements(work / "base.parquet", src)
            for grader, r, off in (("ours", ours, ours_off), ("baseline", base, base_off)):
                notes = (
                    f"{r['unique_answers']} distinct answers, {r['engine_checks']} sympy checks, "
                    f"{r['timeouts']} timeouts"
                    if grader == "ours"
                    else ""
                )
                speed = r["rows"] / r["seconds"]
                print(
                    f"{label:18} {grader:9} {r['rows']:>6} {r['seconds']:>8.2f} {speed:>10.0f} "
                    f"{r['p100_s']:>7.3f} {off:>8}  {notes}"
                )
            print(f"{'':18} ratio ours/baseline: {base['seconds'] / ours['seconds']:.1f}x\n")

        big = _to_stage_inputs(BENCH / INPUTS["rollouts 100x128"], work / "big", rows=args.memory_rows)
        mem = _measure("ours", big, work / "big_out.parquet", args, sample_memory=True)
        print(
            f"memory: {mem['rows']:,} rows in {mem['seconds']:.1f} s "
            f"({mem['rows'] / mem['seconds']:,.0f} answers/s), "
            f"peak RSS of process + workers {mem['peak_rss_mb']:,.0f} MiB\n"
        )

    print(f"labelled set ({LABELLED.name}):")
    for name, right, total, false_accepts, false_rejects in _accuracy():
        print(
            f"  {name:42} {right}/{total} = {right / total:.1%}  false accepts {false_accepts}, "
            f"false rejects {false_rejects}"
        )


if __name__ == "__main__":
    main()
