"""Wall time of our sampler against one bare vLLM ``generate()`` over the same requests.

    python perf/sampler_speed.py [--problems 32] [--samples 16] [--repeats 3] [--model DIR]

The sampler is the whole sample stage (``rlvr_boundary.sampling.sample_shard``: prompts
rendered and tokenized, every request streamed through the engine, finished samples flushed
to parquet parts, the shard assembled in benchmark order and written with provenance). The
baseline is ``LLM.generate`` called once with the identical requests (token ids, seeds,
sampling parameters), which is as fast as the engine goes. Both run on one engine in one
process, in rotated order, after a warm-up; printed: the ratio of medians (the target), of
best times, and the median of the per-repeat ratios. So that stragglers
exist, each request's ``max_tokens`` is drawn from a long-tailed (lognormal) distribution;
the default model has had one training step (near-random weights), so nearly every sample runs
to its budget. Also timed: the
former layout, one ``generate`` per chunk of ``--chunk-problems`` problems, each waiting for
its slowest sample. Both ways must give the same tokens (checked). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from rlvr_boundary import benchmarks, demo, engines
from rlvr_boundary.engines import Completion, Request
from rlvr_boundary.prompts import StopRule, render, stop_rule
from rlvr_boundary.sampling import Cadence, request_seed, sample_shard
from rlvr_boundary.specs import PrepareSpec, SampleSpec, Shard


class _LongTailedBudgets:
    """The real engine, with each request's ``max_tokens`` replaced by its drawn budget."""

    def __init__(self, engine: engines.VllmEngine, budgets: dict[int, int]) -> None:
        self.engine, self.budgets = engine, budgets
        self.max_model_len = engine.max_model_len

    def tokenize(self, prompt: str) -> list[int]:
        return self.engine.tokenize(prompt)

    def with_budget(self, request: Request) -> Request:
        return replace(request, max_tokens=min(request.max_tokens, self.budgets[request.seed]))

    def stream(
        self, requests: Sequence[Request], *, temperature: float, top_p: float, stop: StopRule
    ) -> Iterator[list[tuple[int, Completion]]]:
        return self.engine.stream(
            [self.with_budget(r) for r in requests], temperature=temperature, top_p=top_p, stop=stop
        )

    def close(self) -> None:
        return None


def _bare(engine: engines.VllmEngine, requests: Sequence[Request], job: SampleSpec, stop: StopRule) -> list[str]:
    params = [
        engines.sampling_params(r, temperature=job.sampling["temperature"], top_p=job.sampling["top_p"], stop=stop)
        for r in requests
    ]
    outputs = engine.llm.generate([{"prompt_token_ids": r.prompt_token_ids} for r in requests], params, use_tqdm=False)
    return [o.outputs[0].text for o in outputs]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--samples", type=int, default=16, help="samples per problem")
    parser.add_argument("--chunk-problems", type=int, default=8, help="problems per generate call, former layout")
    parser.add_argument("--median-tokens", type=float, default=40.0, help="median of the lognormal budgets")
    parser.add_argument("--sigma", type=float, default=1.0, help="log-sd of the budgets")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", type=Path, help="a model folder (default: a tiny Qwen2 after one training step)")
    args = parser.parse_args(argv)

    engines.configure_cpu_runtime(args.threads)
    work = Path(tempfile.mkdtemp(prefix="sampler-speed-"))
    model = args.model
    if model is None:
        model = work / "random-tiny"
        demo.train_model(model, steps=1, seed=0, threads=args.threads)  # one step: near-random weights
    source = work / "bench.jsonl"
    demo.write_benchmark(source, n_problems=args.problems, seed=1, kind="mixed")
    bench_spec = {
        "local": {"path": str(source)},
        "fields": {"id": "id", "question": "problem"},
        "gold": {"field": "answer", "extract": "none"},
        "n": args.samples,
        "shard_size": args.samples,
    }
    table_path = work / "bench.parquet"
    benchmarks.write_prepared(PrepareSpec("bench", bench_spec, "local"), table_path)
    table = pl.read_parquet(table_path)
    max_model_len = 512
    job = SampleSpec(
        model_name="tiny",
        model={"path": str(model)},
        benchmark="bench",
        template=demo.TEMPLATE,
        shard=Shard(0, 0, args.samples),
        sampling={
            "temperature": 0.6,
            "top_p": 0.95,
            "max_tokens": max_model_len,
            "max_model_len": max_model_len,
            "stop_policy": "markup",
            "seed": 0,
            "enforce_eager": True,
            "dtype": "float32",
        },
    )
    engine = engines.VllmEngine(
        str(model),
        revision=None,
        tensor_parallel_size=1,
        dtype="float32",
        max_model_len=max_model_len,
        enforce_eager=True,
        gpu_memory_utilization=0.9,
        enable_chunked_prefill=False,
    )
    stop = stop_rule(job.template, "markup", str(model))
    rng = np.random.default_rng(0)
    requests: list[Request] = []
    budgets: dict[int, int] = {}
    for problem_id, question in table.select("problem_id", "question").iter_rows():
        ids = engine.tokenize(render(demo.TEMPLATE, question, ""))
        room = max_model_len - len(ids)
        for i in range(args.samples):
            seed = request_seed(0, problem_id, i)
            budgets[seed] = int(np.clip(rng.lognormal(np.log(args.median_tokens), args.sigma), 1, room))
            requests.append(Request(ids, seed, budgets[seed]))
    proxy = _LongTailedBudgets(engine, budgets)
    per_chunk = args.chunk_problems * args.samples

    def ours(tag: str) -> list[str]:
        out = work / f"ours-{tag}.parquet"
        sample_shard(job, table_path, out, lambda _job: proxy, cadence=Cadence(flush_samples=64, log_seconds=3600))
        return pl.read_parquet(out)["response"].to_list()

    def chunked() -> list[str]:
        texts: list[str] = []
        for start in range(0, len(requests), per_chunk):
            texts += _bare(engine, requests[start : start + per_chunk], job, stop)
        return texts

    runs = {"bare": lambda tag: _bare(engine, requests, job, stop), "ours": ours, "chunked": lambda tag: chunked()}
    texts = {name: run("warmup") for name, run in runs.items()}
    if not texts["bare"] == texts["ours"] == texts["chunked"]:
        print("sampler and bare generate gave different samples", file=sys.stderr)
        return 1
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for repeat in range(args.repeats):
        for name in names[repeat % 3 :] + names[: repeat % 3]:  # rotated: no order effect favours anyone
            started = time.perf_counter()
            runs[name](str(repeat))
            times[name].append(time.perf_counter() - started)
    engine.close()
    median = {name: statistics.median(t) for name, t in times.items()}
    paired = [ours / bare for ours, bare in zip(times["ours"], times["bare"], strict=True)]
    lengths = np.array(list(budgets.values()))
    print(
        json.dumps(
            {
                "requests": len(requests),
                "budget_tokens": {
                    "mean": round(float(lengths.mean()), 1),
                    "p99": int(np.percentile(lengths, 99)),
                    "max": int(lengths.max()),
                },
                "seconds": {name: [round(t, 3) for t in ts] for name, ts in times.items()},
                "sampler_over_bare_generate": round(median["ours"] / median["bare"], 3),
                "sampler_over_bare_generate_best_of": round(min(times["ours"]) / min(times["bare"]), 3),
                "sampler_over_bare_generate_paired_median": round(statistics.median(paired), 3),
                "chunked_over_bare_generate": round(median["chunked"] / median["bare"], 3),
                "same_samples": True,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
