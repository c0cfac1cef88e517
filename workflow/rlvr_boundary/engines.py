"""Sampling backend: the vLLM offline engine, wrapped to generate exactly what we ask.

Reproducibility rests on per-request seeds: vLLM reproduces a request's tokens from its own
``SamplingParams(seed=...)`` regardless of batch contents, order or process, whereas the
engine-level seed does not survive multiprocess mode (``../shared/recipes/vllm-cpu.md``).
So every sample is its own request with its own seed, and the engine seed is irrelevant.
Compiled and eager execution sample differently, so ``enforce_eager`` is part of the
recorded sampling parameters.

A model whose architecture vLLM cannot run on a host (this CPU build cannot import
Qwen2.5-VL: its vLLM module needs torchvision, and PyPI's torchvision is built against the CUDA
torch) samples with ``backend: transformers``: the same requests, seeds and outputs through
``transformers.generate``, one request at a time under its own seed (slow, for tiny models
and for hosts without vLLM). Its samples are not the tokens vLLM would draw for the same seed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rlvr_boundary.images import ImageProcessor, decode, pixel_kwargs
from rlvr_boundary.prompts import StopRule


@dataclass(frozen=True)
class Request:
    """One sample to draw: a tokenized prompt, its seed and its token budget; a visual
    problem's image (file bytes) fills the prompt's one image placeholder."""

    prompt_token_ids: list[int]
    seed: int
    max_tokens: int
    image: bytes | None = None


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


def _is_visual(source: str, revision: str | None) -> bool:
    """Whether a checkpoint is an image-text model (its config has a vision tower)."""
    from transformers import AutoConfig

    return hasattr(AutoConfig.from_pretrained(source, revision=revision), "vision_config")


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
        image_pixels: dict[str, int] | None = None,
    ) -> None:
        from vllm import LLM

        self.images = ImageProcessor(model, revision, image_pixels) if _is_visual(model, revision) else None
        visual: dict[str, Any] = {}
        if self.images is not None:
            visual = {
                "limit_mm_per_prompt": {"image": 1, "video": 0},
                "mm_processor_kwargs": pixel_kwargs(image_pixels),
            }
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
            **visual,
        )
        self.tokenizer = self._llm.get_tokenizer()
        self.max_model_len: int = self._llm.llm_engine.model_config.max_model_len

    def tokenize(self, prompt: str) -> list[int]:
        """Token ids exactly as vLLM would make them from the raw string (special tokens on)."""
        return list(self.tokenizer(prompt)["input_ids"])

    def tokenize_continuation(self, text: str) -> list[int]:
        """Token ids of text that follows a prompt: no beginning-of-sequence token added."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def image_tokens(self, image: bytes) -> int:
        """Prompt tokens the image's one placeholder becomes (vLLM expands it itself)."""
        return _image_tokens(self.images, image)

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
        prompts = vllm_prompts(requests)
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


def _image_tokens(processor: ImageProcessor | None, image: bytes) -> int:
    if processor is None:
        raise ValueError("a problem with an image was sent to a text-only model")
    return processor.tokens(decode(image))


def vllm_prompts(requests: Sequence[Request]) -> list[dict[str, Any]]:
    """vLLM's inputs: token ids, and the decoded image for the placeholder. Each distinct image
    is decoded once and shared by its problem's n requests (all are queued at once: n decoded
    copies per problem would hold n times the shard's pictures in memory)."""
    decoded: dict[bytes, Any] = {}
    prompts = []
    for request in requests:
        prompt: dict[str, Any] = {"prompt_token_ids": request.prompt_token_ids}
        if request.image is not None:
            if request.image not in decoded:
                decoded[request.image] = decode(request.image)
            prompt["multi_modal_data"] = {"image": decoded[request.image]}
        prompts.append(prompt)
    return prompts


_DTYPES = ("bfloat16", "float16", "float32")


class TransformersEngine:
    """``transformers.generate`` behind the engine interface (``backend: transformers``).

    Requests run one at a time, each after ``torch.manual_seed(request seed)``, so a sample
    depends on its own seed only, as with vLLM. What vLLM does by default is done here too:
    sampling with top-k off, special tokens skipped in the text, stop strings cut from it, and
    ``cumulative_logprob`` summed from the raw (untempered) distribution.
    """

    def __init__(
        self,
        model: str,
        *,
        revision: str | None,
        dtype: str,
        max_model_len: int | None,
        image_pixels: dict[str, int] | None,
    ) -> None:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText, AutoTokenizer

        config = AutoConfig.from_pretrained(model, revision=revision)
        visual = hasattr(config, "vision_config")
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        loader = AutoModelForImageTextToText if visual else AutoModelForCausalLM
        self._model = loader.from_pretrained(
            model, revision=revision, dtype=getattr(torch, dtype) if dtype in _DTYPES else "auto"
        )
        self._model.to(self.device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(model, revision=revision)
        self.images = ImageProcessor(model, revision, image_pixels) if visual else None
        self.image_token_id: int | None = getattr(config, "image_token_id", None)
        self._last_image: tuple[bytes, dict[str, Any]] | None = None
        self.max_model_len: int = max_model_len or config.get_text_config().max_position_embeddings
        eos = self._model.generation_config.eos_token_id
        self._eos = [eos] if isinstance(eos, int) else list(eos or [])

    def tokenize(self, prompt: str) -> list[int]:
        return list(self.tokenizer(prompt)["input_ids"])

    def image_tokens(self, image: bytes) -> int:
        return _image_tokens(self.images, image)

    def _pixels(self, image: bytes) -> dict[str, Any]:
        """The processed image, kept while the same problem's requests follow one another."""
        if self._last_image is None or self._last_image[0] != image:
            self._last_image = (image, self.images.inputs(decode(image)))
        return self._last_image[1]

    def _inputs(self, request: Request) -> dict[str, Any]:
        """Model inputs of one request; the image placeholder expanded as the processor does."""
        import torch

        ids, extra = list(request.prompt_token_ids), {}
        if request.image is not None:
            if self.images is None or ids.count(self.image_token_id) != 1:
                raise ValueError("an image request needs a visual model and exactly one image placeholder")
            pixels = self._pixels(request.image)
            at = ids.index(self.image_token_id)
            ids[at : at + 1] = [self.image_token_id] * self.images.placeholders(pixels)
            extra = {key: value.to(self.device) for key, value in pixels.items()}
        tensor = torch.tensor([ids], device=self.device)
        return {"input_ids": tensor, "attention_mask": torch.ones_like(tensor), **extra}

    def _generate(self, request: Request, *, temperature: float, top_p: float, stop: StopRule) -> Completion:
        import torch

        inputs = self._inputs(request)
        eos = list(dict.fromkeys([*self._eos, *stop.token_ids]))
        torch.manual_seed(request.seed)
        with torch.no_grad():
            out = self._model.generate(
                **inputs,
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                top_p=top_p if temperature > 0 else None,
                top_k=0,
                max_new_tokens=request.max_tokens,
                eos_token_id=eos,
                pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos[0],
                stop_strings=list(stop.strings) or None,
                tokenizer=self.tokenizer,
                return_dict_in_generate=True,
                output_logits=True,
            )
        new = out.sequences[0, inputs["input_ids"].shape[1] :].tolist()
        logprob = sum(
            float(torch.log_softmax(step[0].float(), dim=-1)[token])
            for step, token in zip(out.logits, new, strict=True)
        )
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        cut = [text.index(s) for s in stop.strings if s in text]
        ended = bool(new) and new[-1] in eos
        if cut:
            text, ended = text[: min(cut)], True
        return Completion(text, len(new), "stop" if ended or len(new) < request.max_tokens else "length", logprob)

    def stream(
        self, requests: Sequence[Request], *, temperature: float, top_p: float, stop: StopRule
    ) -> Iterator[list[tuple[int, Completion]]]:
        """One request at a time, in order, each yielded as it finishes."""
        for position, request in enumerate(requests):
            yield [(position, self._generate(request, temperature=temperature, top_p=top_p, stop=stop))]

    def close(self) -> None:
        self._model = None


def load(model: dict[str, Any], settings: dict[str, Any], threads: int) -> VllmEngine | TransformersEngine:
    """The engine of a sampling or scoring job: ``model`` says where the weights are, their
    GPU layout and backend, ``settings`` (the job's sampling parameters) the dtype, context
    and mode; on a host without a GPU the CPU runtime is configured first."""
    import torch

    on_cpu = not torch.cuda.is_available()
    source, revision = model_source(model)
    max_model_len = model.get("max_model_len") or settings.get("max_model_len")
    if model.get("backend") == "transformers":
        if on_cpu:
            torch.set_num_threads(max(1, threads))
        return TransformersEngine(
            source,
            revision=revision,
            dtype=settings.get("dtype", "auto"),
            max_model_len=max_model_len,
            image_pixels=model.get("image_pixels"),
        )
    if on_cpu:
        configure_cpu_runtime(threads)
    return VllmEngine(
        source,
        revision=revision,
        tensor_parallel_size=model.get("tensor_parallel_size", 1),
        dtype=settings.get("dtype", "auto"),
        max_model_len=max_model_len,
        enforce_eager=settings.get("enforce_eager", False),
        gpu_memory_utilization=settings.get("gpu_memory_utilization", 0.9),
        enable_chunked_prefill=False if on_cpu else None,
        image_pixels=model.get("image_pixels"),
    )
