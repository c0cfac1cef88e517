"""Sampling backend: the vLLM offline engine, wrapped to generate exactly what we ask.

Reproducibility rests on per-request seeds: vLLM reproduces a request's tokens from its own
``SamplingParams(seed=...)`` regardless of batch contents, order or process, whereas the
engine-level seed does not survive multiprocess mode (``../shared/recipes/vllm-cpu.md``).
So every sample is its own request with its own seed, and the engine seed is irrelevant.
Compiled and eager execution sample differently, so ``enforce_eager`` is part of the
recorded sampling parameters.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rlvr_boundary.prompts import StopRule


@dataclass(frozen=True)
class Request:
    """One sample to draw: a tokenized prompt, its seed and its token budget."""

    prompt_token_ids: list[int]
    seed: int
    max_tokens: int


@dataclass(frozen=True)
class Completion:
    text: str
    n_tokens: int
    finish_reason: str
    cumulative_logprob: float | None


def configure_cpu_runtime(threads: int) -> None:
    """Environment vLLM needs on a CPU-only host; must run before vLLM is imported.

    Without a KV-cache size vLLM asks for 92% of a NUMA node and fails on small hosts; the
    in-process engine starts in seconds instead of tens of seconds. Explicit settings win.
    """
    allowed = sorted(os.sched_getaffinity(0))[: max(1, threads)]
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads starve a shared CPU
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(map(str, allowed)))


def sampling_params(request: Request, *, temperature: float, top_p: float, stop: StopRule) -> Any:
    """vLLM's parameters for one request: its own seed and budget, the sampled token's logprob."""
    from vllm import SamplingParams

    return SamplingParams(
        n=1,
        temperature=temperature,
        top_p=top_p,
        seed=request.seed,
        max_tokens=request.max_tokens,
        stop=list(stop.strings),
        stop_token_ids=list(stop.token_ids),
        logprobs=0,
        flat_logprobs=True,
    )


def _completion(output: Any) -> Completion:
    sample = output.outputs[0]
    return Completion(
        text=sample.text,
        n_tokens=len(sample.token_ids),
        finish_reason=str(sample.finish_reason),
        cumulative_logprob=sample.cumulative_logprob,
    )


def model_source(model: dict[str, Any]) -> tuple[str, str | None]:
    """Where the engine loads weights from: a local folder, or a hub id at a revision."""
    if "path" in model:
        return model["path"], None
    return model["hf_id"], model["revision"]


class VllmEngine:
    """A loaded vLLM model; ``generate`` keeps request order and per-request seeds.

    On CPU, pass ``enable_chunked_prefill=False``: vLLM 0.32's CPU runner crashes
    ("CPU Generator does not use offset") when seeded requests meet chunked prefill.
    """

    def __init__(
        self,
        model: str,
        *,
        revision: str | None,
        tensor_parallel_size: int,
        dtype: str,
        max_model_len: int | None,
        enforce_eager: bool,
        gpu_memory_utilization: float,
        enable_chunked_prefill: bool | None = None,
    ) -> None:
        from vllm import LLM

        self._llm = LLM(
            model=model,
            revision=revision,
            tokenizer_revision=revision,
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
            max_model_len=max_model_len,
            enforce_eager=enforce_eager,
            gpu_memory_utilization=gpu_memory_utilization,
            enable_chunked_prefill=enable_chunked_prefill,
        )
        self.tokenizer = self._llm.get_tokenizer()
        self.max_model_len: int = self._llm.llm_engine.model_config.max_model_len

    def tokenize(self, prompt: str) -> list[int]:
        """Token ids exactly as vLLM would make them from the raw string (special tokens on)."""
        return list(self.tokenizer(prompt)["input_ids"])

    def tokenize_continuation(self, text: str) -> list[int]:
        """Token ids of text that follows a prompt: no beginning-of-sequence token added."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_logprobs(self, sequences: Sequence[list[int]]) -> list[list[float]]:
        """Per sequence, the log-probability of each token after the first given the tokens
        before it, under the model's raw distribution (no temperature): one prefill pass."""
        from vllm import SamplingParams

        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        outputs = self._llm.generate([{"prompt_token_ids": list(s)} for s in sequences], params, use_tqdm=False)
        return [
            [entry[token].logprob for token, entry in zip(seq[1:], out.prompt_logprobs[1:], strict=True)]
            for seq, out in zip(sequences, outputs, strict=True)
        ]

    @property
    def llm(self) -> Any:
        """The underlying ``vllm.LLM`` (the sampler benchmark times its bare ``generate``)."""
        return self._llm

    def stream(
        self, requests: Sequence[Request], *, temperature: float, top_p: float, stop: StopRule
    ) -> Iterator[list[tuple[int, Completion]]]:
        """Queue every request, then step the engine until all have finished, yielding after
        each step the (request position, completion) pairs it finished (often none).

        This is ``LLM.generate``'s own loop, opened up: the batch is refilled as sequences
        finish, and the caller sees each sample the moment it is done. Requests still
        running when the caller stops early are aborted.
        """
        params = [sampling_params(req, temperature=temperature, top_p=top_p, stop=stop) for req in requests]
        prompts: list[Any] = [{"prompt_token_ids": req.prompt_token_ids} for req in requests]
        queued = self._llm.enqueue(prompts, params, use_tqdm=False)
        # enqueue returns the engine's internal ids ("<n>-<random suffix>"); outputs carry "<n>".
        position = {request_id.partition("-")[0]: i for i, request_id in enumerate(queued)}
        engine, unfinished = self._llm.llm_engine, set(position)
        try:
            while engine.has_unfinished_requests():
                finished = [output for output in engine.step() if output.finished]
                unfinished.difference_update(output.request_id for output in finished)
                yield [(position[output.request_id], _completion(output)) for output in finished]
        finally:
            if unfinished:
                engine.abort_request([q for q in queued if q.partition("-")[0] in unfinished], internal=True)

    def close(self) -> None:
        """Shut the engine core down explicitly (avoids an intermittent abort at exit)."""
        engine_core = getattr(self._llm.llm_engine, "engine_core", None)
        if engine_core is not None:
            engine_core.shutdown()


def load(model: dict[str, Any], settings: dict[str, Any], threads: int) -> VllmEngine:
    """The engine of a sampling or scoring job: ``model`` says where the weights are and their
    GPU layout, ``settings`` (the job's sampling parameters) the dtype, context and mode; on
    a host without a GPU the CPU runtime is configured first."""
    import torch

    on_cpu = not torch.cuda.is_available()
    if on_cpu:
        configure_cpu_runtime(threads)
    source, revision = model_source(model)
    return VllmEngine(
        source,
        revision=revision,
        tensor_parallel_size=model.get("tensor_parallel_size", 1),
        dtype=settings.get("dtype", "auto"),
        max_model_len=model.get("max_model_len") or settings.get("max_model_len"),
        enforce_eager=settings.get("enforce_eager", False),
        gpu_memory_utilization=settings.get("gpu_memory_utilization", 0.9),
        enable_chunked_prefill=False if on_cpu else None,
    )
