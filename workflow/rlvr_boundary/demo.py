"""Tiny models and a synthetic benchmark for the CPU demo, all built offline.

The real pipeline needs checkpoints and benchmark files that cannot be downloaded on a CI
machine without a GPU, so the demo makes its own: a synthetic arithmetic task whose answers
sit in ``\\boxed{}``, a tokenizer and a tiny ``Qwen2ForCausalLM`` trained on it for about a
minute, and a second model continued from the first. Both are ordinary Hugging Face
directories, so vLLM samples them through exactly the code path the real models take.

Training prompts are rendered with :func:`rlvr_boundary.prompts.render` (``qwen-boxed``),
the very string the sampling rule sends, so the model sees at test time what it was
trained on. Problems are drawn from a spread of difficulty (1- to 3-digit operands) so
per-problem pass rates differ: some problems are solved at k=1, some only at large k, some
never, which is what gives a pass@k curve its shape.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rlvr_boundary.prompts import render

TEMPLATE = "qwen-boxed"
"""The prompt template the demo models are trained and sampled with."""

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
KINDS: dict[str, tuple[str, ...]] = {"add": ("+",), "mixed": ("+", "-", "*")}
"""Benchmark variants: the operators each draws from. Training covers all of them."""

METHODS = ("sft", "rft")

_VOCAB_SIZE = 512
_ARCH = dict(
    hidden_size=128,
    intermediate_size=512,
    num_hidden_layers=4,
    num_attention_heads=4,  # head_dim 32: a size vLLM's CPU attention supports
    num_key_value_heads=2,
    max_position_embeddings=512,
)
_BATCH = 64
_LR_FRESH = 3e-3
_LR_CONTINUED = 5e-4
_RFT_ROUNDS = 2
_RFT_PROBLEMS = 256
_RFT_SAMPLES = 8
_RFT_MAX_NEW_TOKENS = 48
# Qwen2's pre-tokenizer regex: digits are split one by one, so numbers are spelled digit by
# digit (a vocabulary that merged "48" into one token would make arithmetic far harder).
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


# --------------------------------------------------------------------------- the task


def _operand(rng: random.Random, digits: int) -> int:
    return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10**digits - 1)


def _problem(rng: random.Random, op: str) -> tuple[str, str, str]:
    """One (question, answer, worked response) triple; operand sizes set the difficulty."""
    if op == "*":
        a, b = _operand(rng, rng.randint(1, 2)), _operand(rng, 1)
    else:
        a, b = _operand(rng, rng.randint(1, 3)), _operand(rng, rng.randint(1, 3))
    if op == "-" and a < b:
        a, b = b, a  # keep answers non-negative: one answer format for the whole task
    value = {"+": a + b, "-": a - b, "*": a * b}[op]
    question = f"What is {a} {op} {b}?"
    response = f"{a} {op} {b} = {value}. The answer is \\boxed{{{value}}}."
    return question, str(value), response


def write_benchmark(path: Path, *, n_problems: int, seed: int, kind: str) -> None:
    """Write ``n_problems`` distinct problems of ``kind`` as jsonl (``id``, ``problem``, ``answer``).

    The file has the shape of the project's math benchmark copies, so the demo benchmark
    passes through the same loading, verifying and pass@k code. It is written to a temporary
    file beside ``path`` and renamed, so a killed job never leaves a half-written benchmark.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown benchmark kind {kind!r}; known: {sorted(KINDS)}")
    rng = random.Random(f"benchmark:{kind}:{seed}")
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    while len(rows) < n_problems:
        question, answer, _ = _problem(rng, rng.choice(KINDS[kind]))
        if question not in seen:
            seen.add(question)
            rows.append({"id": len(rows), "problem": question, "answer": answer})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _read_questions(paths: Iterable[Path]) -> set[str]:
    questions: set[str] = set()
    for path in paths:
        with open(path) as handle:
            questions.update(json.loads(line)["problem"] for line in handle if line.strip())
    return questions


def training_problems(seed: int, exclude: set[str]) -> Iterable[tuple[str, str, str]]:
    """Endless fresh training problems of every kind, never one whose question is excluded."""
    rng = random.Random(f"train:{seed}")
    ops = KINDS["mixed"]
    while True:
        problem = _problem(rng, rng.choice(ops))
        if problem[0] not in exclude:
            yield problem


def boxed_answer(text: str) -> str | None:
    """Content of the last ``\\boxed{}`` in ``text`` (rejection sampling's own exact check)."""
    found = _BOXED.findall(text)
    return found[-1].strip() if found else None


# --------------------------------------------------------------------------- the model


def _build_tokenizer(corpus: Iterable[str]) -> Any:
    """A byte-level BPE tokenizer (vocab 512) with Qwen's chat-markup special tokens.

    Byte level means any string round-trips exactly, including prompts the model never saw.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN2_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        clean_up_tokenization_spaces=False,
        model_max_length=_ARCH["max_position_embeddings"],
    )


def _new_model(tokenizer: Any, seed: int) -> Any:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=_eos_ids(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        **_ARCH,
    )
    return Qwen2ForCausalLM(config)


def _eos_ids(tokenizer: Any) -> list[int]:
    return [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]


def _batch(tokenizer: Any, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Right-padded ids with labels on the response and its ``<|im_end|>`` only.

    Prompt and response are tokenized separately, so the prompt's ids are exactly those the
    engine produces from the prompt string alone.
    """
    import torch

    prompts = tokenizer([render(TEMPLATE, q) for q, _ in pairs])["input_ids"]
    responses = tokenizer([r for _, r in pairs])["input_ids"]
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    rows = [(p, r + [end]) for p, r in zip(prompts, responses, strict=True)]
    width = max(len(p) + len(r) for p, r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (p, r) in enumerate(rows):
        ids[i, : len(p) + len(r)] = torch.tensor(p + r)
        labels[i, len(p) : len(p) + len(r)] = torch.tensor(r)
        mask[i, : len(p) + len(r)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _fit(model: Any, tokenizer: Any, batches: Iterable[Sequence[tuple[str, str]]], steps: int,
         lr: float) -> float:
    """AdamW with linear warm-up and cosine decay; returns the mean loss of the last 10 steps."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min((s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))),
    )
    model.train()
    losses: list[float] = []
    for _, pairs in zip(range(steps), batches):
        loss = model(**_batch(tokenizer, pairs)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    tail = losses[-10:]
    return sum(tail) / len(tail) if tail else float("nan")


def _chunks(items: Iterable[tuple[str, str, str]], size: int) -> Iterable[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    for question, _, response in items:
        batch.append((question, response))
        if len(batch) == size:
            yield batch
            batch = []


def _sample_correct(model: Any, tokenizer: Any, problems: Sequence[tuple[str, str, str]],
                    seed: int) -> list[tuple[str, str]]:
    """Rejection sampling: T=1 samples whose boxed answer equals the gold string exactly."""
    import torch
    from transformers import GenerationConfig

    torch.manual_seed(seed)
    config = GenerationConfig(
        do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=_RFT_MAX_NEW_TOKENS,
        num_return_sequences=_RFT_SAMPLES, eos_token_id=_eos_ids(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
    )
    tokenizer.padding_side = "left"
    kept: list[tuple[str, str]] = []
    for start in range(0, len(problems), 64):
        chunk = problems[start : start + 64]
        inputs = tokenizer([render(TEMPLATE, q) for q, _, _ in chunk], return_tensors="pt",
                           padding=True)
        with torch.no_grad():
            out = model.generate(**inputs, generation_config=config)
        texts = tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1] :],
                                       skip_special_tokens=True)
        for i, text in enumerate(texts):
            question, answer, _ = chunk[i // _RFT_SAMPLES]
            if boxed_answer(text) == answer:
                kept.append((question, text.strip()))
    tokenizer.padding_side = "right"
    return kept


def _replay(pairs: Sequence[tuple[str, str]], seed: int) -> Iterable[list[tuple[str, str]]]:
    rng = random.Random(seed)
    while True:
        yield rng.sample(pairs, min(_BATCH, len(pairs)))


def train_model(
    output_dir: Path,
    *,
    steps: int,
    seed: int,
    method: str = "sft",
    init_from: Path | None = None,
    exclude: Sequence[Path] = (),
    threads: int = 2,
) -> dict[str, Any]:
    """Train a tiny Qwen2 model on the arithmetic task and save it as a HF directory.

    ``method="sft"`` trains on freshly generated worked solutions (from scratch, or on top of
    ``init_from``). ``method="rft"`` needs ``init_from``: it is rejection-sampling fine-tuning,
    the smallest RLVR-like procedure -- in each of a few rounds the current model samples
    several T=1 answers per fresh problem, only answers whose boxed content is exactly right
    are kept (a verifiable reward of 0/1), and the model is fine-tuned on those; ``steps`` is
    the total number of fine-tuning steps. Problems whose question appears in an ``exclude``
    benchmark file are never trained on. The directory is built beside ``output_dir`` and
    renamed into place. Returns training statistics (also saved as ``demo_training.json``).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    if method not in METHODS:
        raise ValueError(f"unknown training method {method!r}; known: {list(METHODS)}")
    if method == "rft" and init_from is None:
        raise ValueError("method 'rft' fine-tunes an existing model: give init_from")
    torch.set_num_threads(threads)
    started = time.perf_counter()
    problems = training_problems(seed, _read_questions(exclude))

    if init_from is None:
        corpus = [render(TEMPLATE, q) + r + "<|im_end|>" for q, _, r in
                  (next(problems) for _ in range(2000))]
        tokenizer = _build_tokenizer(corpus)
        model = _new_model(tokenizer, seed)
    else:
        tokenizer = AutoTokenizer.from_pretrained(init_from)
        model = AutoModelForCausalLM.from_pretrained(init_from, dtype=torch.float32)
        torch.manual_seed(seed)
    model.generation_config = GenerationConfig(
        bos_token_id=model.config.bos_token_id, eos_token_id=_eos_ids(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
    )
    tokenizer.padding_side = "right"
    lr = _LR_FRESH if init_from is None else _LR_CONTINUED

    stats: dict[str, Any] = {"method": method, "seed": seed, "steps": steps,
                             "init_from": str(init_from) if init_from else None}
    if method == "sft":
        stats["final_loss"] = _fit(model, tokenizer, _chunks(problems, _BATCH), steps, lr)
    else:
        rounds: list[dict[str, Any]] = []
        per_round = [steps // _RFT_ROUNDS + (r < steps % _RFT_ROUNDS) for r in range(_RFT_ROUNDS)]
        for r, round_steps in enumerate(per_round):
            batch = [next(problems) for _ in range(_RFT_PROBLEMS)]
            kept = _sample_correct(model, tokenizer, batch, seed * 1000 + r)
            if not kept:
                raise RuntimeError(f"rft round {r}: no correct sample to fine-tune on")
            loss = _fit(model, tokenizer, _replay(kept, seed * 1000 + r), round_steps, lr)
            rounds.append({"kept": len(kept), "sampled": len(batch) * _RFT_SAMPLES,
                           "solved_problems": len({q for q, _ in kept}), "final_loss": loss})
        stats["rounds"] = rounds
        stats["final_loss"] = rounds[-1]["final_loss"]
    stats["parameters"] = sum(p.numel() for p in model.parameters())
    stats["seconds"] = round(time.perf_counter() - started, 1)

    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", dir=output_dir.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "demo_training.json").write_text(json.dumps(stats, indent=2) + "\n")
        if output_dir.exists():
            old = tmp.with_name(tmp.name + ".old")
            os.rename(output_dir, old)
            os.rename(tmp, output_dir)
            shutil.rmtree(old)
        else:
            os.rename(tmp, output_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return stats
