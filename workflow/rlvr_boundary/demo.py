"""Tiny models and a synthetic benchmark for the CPU demo, all built offline.

The real pipeline needs checkpoints and benchmark files that a CI machine without a GPU or
a model hub cannot have, so the demo makes its own: a synthetic arithmetic task whose
answers sit in ``\\boxed{}``, a byte-level BPE tokenizer, and a tiny ``Qwen2ForCausalLM``
trained on it with a plain torch loop for a minute or two; a second model is the first one
trained further. Both are ordinary Hugging Face directories, so vLLM samples them through
exactly the code path the paper's models take.

Training prompts are rendered with :func:`rlvr_boundary.prompts.render` (``qwen-boxed``),
the very string the sampling rule sends, so the model sees at test time what it was
trained on.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rlvr_boundary.progress import Progress
from rlvr_boundary.prompts import render
from rlvr_boundary.tables import sha256_file

TEMPLATE = "qwen-boxed"
"""The prompt template the demo models are trained and sampled with."""

KINDS = ("add", "mixed")
"""Benchmark variants: additions only, or additions and subtractions. Training covers both."""

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
MAX_RESPONSE_TOKENS = 64
"""Token budget of a worked response (the longest is about 52 with its end token)."""

_ARCH: dict[str, int] = {
    "hidden_size": 128,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,  # head_dim 32: a size vLLM's CPU attention supports
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
}
_VOCAB_SIZE = 512  # an upper bound: the task's small corpus runs out of merges before it
_BATCH = 32
_LR_FRESH = 2e-3
_LR_CONTINUED = 5e-4  # lower: a continued run re-warms a model whose rate had decayed to 0
_TOKENIZER_CORPUS = 2000
# Qwen2's pre-tokenizer split: digits stand alone, so numbers are spelled digit by digit (a
# vocabulary that merged "48" into one token would make the arithmetic far harder to learn).
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


# --------------------------------------------------------------------------- the task


def _term(rng: random.Random) -> int:
    return rng.randint(1, 9) if rng.random() < 0.8 else rng.randint(10, 99)


def _problem(rng: random.Random, kind: str) -> tuple[str, str, str]:
    """One (question, answer, worked response) triple: a chain of 2-4 one- or two-digit terms.

    The worked response evaluates left to right, one step per operator, so difficulty grows
    with the number of steps and with two-digit terms (carries): per-problem pass rates
    spread from near 1 to 0. Steps recur across problems, so a problem held out of training
    is still solvable by composing steps learnt elsewhere -- what makes a held-out benchmark
    meaningful. ``mixed`` draws + and - (never below zero, so every answer is a plain
    natural number).
    """
    total = _term(rng)
    question = str(total)
    for _ in range(rng.randint(1, 3)):
        term = _term(rng)
        op = "-" if kind == "mixed" and term <= total and rng.random() < 0.5 else "+"
        question += f" {op} {term}"
        total = total + term if op == "+" else total - term
    question = f"What is {question}?"
    return question, str(total), worked_solution(question)


def worked_solution(question: str) -> str:
    """The worked response to ``What is a + b - c?``: one step per operator, left to right,
    then the boxed answer (the training data's format, and the demo's Y_GT for Fig. 6)."""
    words = question.removeprefix("What is ").removesuffix("?").split(" ")
    total, steps = int(words[0]), []
    for op, term in zip(words[1::2], words[2::2], strict=True):
        new = total + int(term) if op == "+" else total - int(term)
        steps.append(f"{total} {op} {term} = {new}")
        total = new
    return ", ".join(steps) + f". The answer is \\boxed{{{total}}}."


SOLUTIONS = ("clean", "diverse")
"""Training-solution styles: ``clean`` is always the worked solution; ``diverse`` mixes
phrasings with the imperfect habits RL can prune (see :func:`diverse_solution`)."""

_DIVERSE_MIX = (("worked", 0.4), ("unstated", 0.3), ("short", 0.15), ("slip", 0.05), ("guess", 0.1))


def diverse_solution(question: str, answer: str, rng: random.Random) -> str:
    """One response in a deliberately diverse and imperfect style, for the lab's base model.

    ``worked`` is :func:`worked_solution`; ``unstated`` works every step but never states the
    answer (the verifier finds none: a format failure, as base models' unboxed answers are);
    ``short`` works the first step and stops there, boxing its partial result (right only on
    one-step problems); ``slip`` works the steps but gets one of them wrong by 1 or 10 and
    carries the error through; ``guess`` states the answer with no working (a model can copy
    that habit but not the arithmetic behind it). All but ``guess`` carry arithmetic to learn
    from. A model pre-trained on the mix has a modest pass@1 whose pass@k keeps growing with
    k: the correct habits are in it, just not always chosen -- what RL is claimed to sharpen.
    """
    style = rng.choices([s for s, _ in _DIVERSE_MIX], [w for _, w in _DIVERSE_MIX])[0]
    if style == "guess":
        return f"The answer is \\boxed{{{answer}}}."
    words = question.removeprefix("What is ").removesuffix("?").split(" ")
    ops = list(zip(words[1::2], words[2::2], strict=True))
    wrong = rng.randrange(len(ops)) if style == "slip" else -1
    total, steps = int(words[0]), []
    for i, (op, term) in enumerate(ops[:1] if style == "short" else ops):
        new = total + int(term) if op == "+" else total - int(term)
        if i == wrong:
            new = max(0, new + rng.choice((-10, -1, 1, 10)))
        steps.append((total, op, term, new))
        total = new
    chain = ", ".join(f"{a} {op} {t} = {n}" for a, op, t, n in steps)
    return f"{chain}." if style == "unstated" else f"{chain}. The answer is \\boxed{{{total}}}."


def write_worked_solutions(benchmark: Path, output: Path) -> None:
    """Each problem's worked solution as a jsonl response file (``problem_id``, ``response``): the
    responses the demo's perplexity figure scores as Y_GT. Written atomically."""
    rows = [json.loads(line) for line in Path(benchmark).read_text().splitlines() if line.strip()]
    _write_jsonl(output, [{"problem_id": str(row["id"]), "response": worked_solution(row["problem"])} for row in rows])


def write_benchmark(path: Path, *, n_problems: int, seed: int, kind: str, exclude: Sequence[Path] = ()) -> None:
    """Write ``n_problems`` distinct problems of ``kind`` as jsonl (``id``, ``problem``,
    ``answer``, ``steps``).

    The file has the shape of the project's math benchmark copies, so the demo benchmark
    goes through the same loading, verifying and pass@k code. ``steps`` (1-3 operators) grades
    each problem's difficulty. Kind ``train`` is the lab's train split: problems of every kind
    from the training distribution, minus every question of the ``exclude`` (test) benchmarks,
    so RL never sees a problem it is evaluated on. It is written to a temporary file beside
    ``path`` and renamed, so a killed job never leaves a half-written benchmark.
    """
    if kind not in (*KINDS, "train"):
        raise ValueError(f"unknown benchmark kind {kind!r}; known: {[*KINDS, 'train']}")
    if n_problems < 1:
        raise ValueError(f"n_problems must be positive, got {n_problems}")
    rng = random.Random(f"benchmark:{kind}:{seed}")
    stream = training_problems(f"split:{seed}", read_questions(exclude)) if kind == "train" else None
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    while len(rows) < n_problems:
        question, answer, _ = next(stream) if stream is not None else _problem(rng, kind)
        if question not in seen:
            seen.add(question)
            steps = question.count(" + ") + question.count(" - ")
            rows.append({"id": len(rows), "problem": question, "answer": answer, "steps": steps})
    _write_jsonl(path, rows)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from other accounts
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_questions(paths: Iterable[Path]) -> set[str]:
    """The ``problem`` strings of benchmark jsonl files (what training must never see)."""
    questions: set[str] = set()
    for path in paths:
        with open(path) as handle:
            questions.update(json.loads(line)["problem"] for line in handle if line.strip())
    return questions


def training_problems(stream: str, exclude: set[str], solutions: str = "clean") -> Iterator[tuple[str, str, str]]:
    """Endless fresh problems of every kind from a named random stream, minus ``exclude``,
    with responses in the ``solutions`` style."""
    if solutions not in SOLUTIONS:
        raise ValueError(f"solutions: unknown style {solutions!r}; known: {list(SOLUTIONS)}")
    rng = random.Random(f"train:{stream}")
    while True:
        question, answer, worked = _problem(rng, rng.choice(KINDS))
        if question not in exclude:
            yield question, answer, worked if solutions == "clean" else diverse_solution(question, answer, rng)


def _passes(examples: Sequence[tuple[str, str, str]], rng: random.Random) -> Iterator[tuple[str, str, str]]:
    """Endless passes over ``examples``, each in a fresh random order."""
    order = list(examples)
    while True:
        rng.shuffle(order)
        yield from order


# --------------------------------------------------------------------------- the model


def build_tokenizer(corpus: Iterable[str], special_tokens: Sequence[str] = ()) -> Any:
    """A byte-level BPE tokenizer with Qwen's chat-markup special tokens (and any others
    named, such as Qwen2.5-VL's image markers).

    Byte level means any string round-trips exactly, including prompts the model never saw;
    ``clean_up_tokenization_spaces`` is off so decoding never edits spaces before punctuation.
    The NFC normalizer is Qwen2's: ``AutoTokenizer`` loads the saved directory as a
    ``Qwen2Tokenizer``, which imposes it, and training must tokenize as vLLM will.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN2_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_VOCAB_SIZE,
        special_tokens=[*SPECIAL_TOKENS, *special_tokens],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", *special_tokens],
        clean_up_tokenization_spaces=False,
        model_max_length=_ARCH["max_position_embeddings"],
    )


def _eos_ids(tokenizer: Any) -> list[int]:
    return [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]


def _new_model(tokenizer: Any, seed: int) -> Any:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=_eos_ids(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        **_ARCH,
    )
    return Qwen2ForCausalLM(config)


def _batch(tokenizer: Any, problems: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """Right-padded ids with labels on the response and its ``<|im_end|>`` only.

    Prompt and response are tokenized separately, so the prompt's ids are exactly those the
    engine makes of the prompt string alone.
    """
    import torch

    prompts = tokenizer([render(TEMPLATE, q) for q, _, _ in problems])["input_ids"]
    responses = tokenizer([r for _, _, r in problems])["input_ids"]
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    rows = [(p, [*r, end]) for p, r in zip(prompts, responses, strict=True)]
    width = max(len(p) + len(r) for p, r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (p, r) in enumerate(rows):
        ids[i, : len(p) + len(r)] = torch.tensor(p + r)
        labels[i, len(p) : len(p) + len(r)] = torch.tensor(r)
        mask[i, : len(p) + len(r)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _fit(model: Any, tokenizer: Any, problems: Iterator[tuple[str, str, str]], steps: int, lr: float) -> float:
    """AdamW, warm-up / stable / decay schedule; returns the mean loss of the last 10 steps.

    The rate stays at its peak until 80% of the steps: the task is learnt in a sudden drop
    of the loss (once the model copies the right terms) that an early-decaying schedule
    would push past the end of a short run; the final linear decay then settles the model.
    """
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    warmup, decay = max(1, steps // 10), max(1, steps // 5)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min((s + 1) / warmup, 1.0, (steps - s) / decay))
    model.train()
    losses: list[float] = []
    progress = Progress(steps, every_s=15.0, unit="steps", name="train")
    for _ in range(steps):
        loss = model(**_batch(tokenizer, [next(problems) for _ in range(_BATCH)])).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        progress.advance()
    progress.finish()
    model.eval()
    tail = losses[-10:]
    return sum(tail) / len(tail)


def save_model_atomically(
    output_dir: Path, model: Any, tokenizer: Any, stats: dict[str, Any], processors: Sequence[Any] = ()
) -> dict[str, Any]:
    """Build the directory beside ``output_dir`` (model, tokenizer and any other processor
    with a ``save_pretrained``) and rename it into place.

    A killed job then leaves either no model or a whole one, never a directory that loads
    with missing weights. Returns ``stats`` with the saved weights' sha256, as written.
    """
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", dir=output_dir.parent))
    try:
        model.save_pretrained(tmp)
        for part in (tokenizer, *processors):
            part.save_pretrained(tmp)
        stats = {**stats, "weights_sha256": sha256_file(tmp / "model.safetensors")}  # compare across machines
        (tmp / "demo_training.json").write_text(json.dumps(stats, indent=2) + "\n")
        for item in (tmp, *tmp.iterdir()):  # mkdtemp makes 0700; a model dir is shared
            item.chmod(0o755 if item.is_dir() else 0o644)
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


def train_model(
    output_dir: Path,
    *,
    steps: int,
    seed: int,
    init_from: Path | None = None,
    exclude: Sequence[Path] = (),
    solutions: str = "clean",
    examples: Sequence[tuple[str, str, str]] = (),
    threads: int = 2,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train a tiny Qwen2 model on the arithmetic task and save it as a Hugging Face directory.

    From scratch (``init_from=None``) it first builds the tokenizer from rendered prompts and
    responses; otherwise it loads model and tokenizer from ``init_from`` and trains further
    at a lower rate. Each step is a batch of freshly generated worked solutions (loss on the
    response tokens only); the problem stream is named by ``seed`` and by the steps the
    model has already had, so a continued run draws different problems than its start.
    Problems whose question appears in an ``exclude`` benchmark file are never trained on.
    Given ``examples`` (question, answer, response), a continued run fine-tunes on those
    instead, reshuffled each pass (distillation); ``record`` adds to the statistics.
    The directory holds safetensors weights, the tokenizer, a ``generation_config.json``
    whose eos ids are ``<|im_end|>`` and ``<|endoftext|>``, and ``demo_training.json`` with
    the returned statistics (steps, total_steps, final_loss, seconds, parameters, the CPU
    capability torch trained with and the weights' sha256).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    torch.set_num_threads(threads)
    started = time.perf_counter()
    exclude_questions = read_questions(exclude)
    if init_from is None:
        steps_before = 0
        corpus_problems = training_problems(f"{seed}:tokenizer", exclude_questions, solutions)
        tokenizer = build_tokenizer(
            render(TEMPLATE, q) + r + "<|im_end|>"
            for q, _, r in (next(corpus_problems) for _ in range(_TOKENIZER_CORPUS))
        )
        model = _new_model(tokenizer, seed)
    else:
        steps_before = json.loads((Path(init_from) / "demo_training.json").read_text())["total_steps"]
        tokenizer = AutoTokenizer.from_pretrained(init_from)
        model = AutoModelForCausalLM.from_pretrained(init_from, dtype=torch.float32)
        torch.manual_seed(seed)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=_eos_ids(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
    )
    tokenizer.padding_side = "right"
    if examples:
        if init_from is None:
            raise ValueError("examples: fine-tuning on given examples needs init_from (a trained model)")
        problems = _passes(examples, random.Random(f"examples:{seed}"))
    else:
        problems = training_problems(f"{seed}:{steps_before}", exclude_questions, solutions)
    final_loss = _fit(model, tokenizer, problems, steps, _LR_FRESH if init_from is None else _LR_CONTINUED)
    stats: dict[str, Any] = {
        "seed": seed,
        "steps": steps,
        "total_steps": steps_before + steps,
        "init_from": str(init_from) if init_from is not None else None,
        "solutions": "examples" if examples else solutions,
        **(record or {}),
        "final_loss": round(final_loss, 4),
        "parameters": sum(p.numel() for p in model.parameters()),
        "threads": threads,
        # training floats depend on the kernels torch picks for this CPU (README: CPU demo)
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return save_model_atomically(Path(output_dir), model, tokenizer, stats)
