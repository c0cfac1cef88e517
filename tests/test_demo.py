"""The demo's offline benchmark and tiny models (no vLLM here: the engine tests start it).

A real, very short training run stands in for the demo's: it exercises the same tokenizer
build, training loop and atomic save, only with a few steps.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from rlvr_boundary import demo, tables
from rlvr_boundary.prompts import render


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _value(question: str) -> int:
    """Left-to-right value of ``What is a + b - c?`` (the task only has + and -)."""
    tokens = question.removeprefix("What is ").removesuffix("?").split(" ")
    total = int(tokens[0])
    for op, term in zip(tokens[1::2], tokens[2::2], strict=True):
        total = total + int(term) if op == "+" else total - int(term)
    return total


@pytest.mark.parametrize("kind", demo.KINDS)
def test_benchmark_is_deterministic_and_well_formed(tmp_path: Path, kind: str) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    demo.write_benchmark(a, n_problems=40, seed=3, kind=kind)
    demo.write_benchmark(b, n_problems=40, seed=3, kind=kind)
    demo.write_benchmark(c, n_problems=40, seed=4, kind=kind)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    rows = _rows(a)
    assert [row["id"] for row in rows] == list(range(40))
    assert all(set(row) == {"id", "problem", "answer", "steps"} for row in rows)
    assert all(row["steps"] == len(row["problem"].split(" ")) // 2 - 1 for row in rows)
    assert all(isinstance(row["problem"], str) and isinstance(row["answer"], str) for row in rows)
    assert len({row["problem"] for row in rows}) == 40
    assert all(row["answer"] == str(_value(row["problem"])) for row in rows)
    assert all(int(row["answer"]) >= 0 for row in rows)


def test_benchmark_kinds_differ_and_spread_difficulty(tmp_path: Path) -> None:
    """Two figure rows need two different benchmarks, each with easy and hard problems."""
    demo.write_benchmark(tmp_path / "add.jsonl", n_problems=40, seed=0, kind="add")
    demo.write_benchmark(tmp_path / "mixed.jsonl", n_problems=40, seed=0, kind="mixed")
    add = [row["problem"] for row in _rows(tmp_path / "add.jsonl")]
    mixed = [row["problem"] for row in _rows(tmp_path / "mixed.jsonl")]
    assert not any(" - " in q for q in add)
    assert sum(" - " in q for q in mixed) >= 10
    for questions in (add, mixed):
        terms = [q.removeprefix("What is ").removesuffix("?").split(" ")[::2] for q in questions]
        assert {len(t) for t in terms} == {2, 3, 4}
        assert any(all(len(x) == 1 for x in t) for t in terms)  # one-digit only: easy
        assert any(any(len(x) == 2 for x in t) for t in terms)  # a two-digit term: harder


def test_benchmark_write_is_atomic_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "bench.jsonl"
    demo.write_benchmark(path, n_problems=50, seed=0, kind="add")
    demo.write_benchmark(path, n_problems=5, seed=0, kind="mixed")
    assert [row["id"] for row in _rows(path)] == list(range(5))
    assert sorted(p.name for p in path.parent.iterdir()) == ["bench.jsonl"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_benchmark_rejects_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown benchmark kind"):
        demo.write_benchmark(tmp_path / "x.jsonl", n_problems=3, seed=0, kind="mul")
    assert not list(tmp_path.iterdir())


def test_training_stream_never_yields_benchmark_problems(tmp_path: Path) -> None:
    bench = tmp_path / "bench.jsonl"
    demo.write_benchmark(bench, n_problems=40, seed=0, kind="add")
    held_out = demo.read_questions([bench])
    unfiltered = demo.training_problems("s", set())
    assert held_out & {next(unfiltered)[0] for _ in range(20_000)}, "exclusion is never exercised"
    filtered = demo.training_problems("s", held_out)
    assert not held_out & {next(filtered)[0] for _ in range(20_000)}


def test_train_split_is_disjoint_from_the_test_splits_and_spans_every_difficulty(tmp_path: Path) -> None:
    tests = [tmp_path / "add.jsonl", tmp_path / "mixed.jsonl"]
    demo.write_benchmark(tests[0], n_problems=40, seed=11, kind="add")
    demo.write_benchmark(tests[1], n_problems=40, seed=12, kind="mixed")
    train, again = tmp_path / "train.jsonl", tmp_path / "again.jsonl"
    demo.write_benchmark(train, n_problems=400, seed=13, kind="train", exclude=tests)
    demo.write_benchmark(again, n_problems=400, seed=13, kind="train", exclude=tests)
    assert train.read_bytes() == again.read_bytes()
    rows = _rows(train)
    assert not {row["problem"] for row in rows} & demo.read_questions(tests)
    assert len({row["problem"] for row in rows}) == 400
    assert all(row["answer"] == str(_value(row["problem"])) for row in rows)
    by_steps = {s: sum(row["steps"] == s for row in rows) for s in (1, 2, 3)}
    assert min(by_steps.values()) >= 60, by_steps  # graded difficulty: 1 to 3 operations
    assert any(" - " in row["problem"] for row in rows) and any(" - " not in row["problem"] for row in rows)


def test_diverse_solutions_mix_right_and_wrong_habits() -> None:
    """The lab's base learns from worked, unstated, short, slipped and guessed solutions: on
    multi-step problems the worked and guessed ones state the gold answer, an unstated one
    states none, a short one (first step only) and a slip a wrong one; the mix is the configured one."""
    import random

    from rlvr_boundary.verify.math import verify

    rng = random.Random(0)
    problems = demo.training_problems("styles", set())
    seen: dict[str, list[bool]] = {style: [] for style, _ in demo._DIVERSE_MIX}
    while sum(map(len, seen.values())) < 4000:
        question, answer, _ = next(problems)
        if question.count(" + ") + question.count(" - ") < 2:
            continue  # one-step problems: a short solution is the worked one
        response = demo.diverse_solution(question, answer, rng)
        correct = verify(response, answer).correct
        if response.startswith("The answer is"):
            style = "guess"
        elif response == demo.worked_solution(question):
            style = "worked"
        elif "answer" not in response:
            style = "unstated"
        else:
            style = "short" if response.count(" = ") == 1 else "slip"
        seen[style].append(correct)
    share = {style: len(v) / 4000 for style, v in seen.items()}
    for style, weight in demo._DIVERSE_MIX:
        assert abs(share[style] - weight) < 0.03, (style, share)
    assert all(seen["worked"]) and all(seen["guess"])  # each states the gold answer
    assert not any(seen["unstated"])  # the work is right, but no answer is stated
    assert sum(seen["slip"]) / len(seen["slip"]) < 0.02  # a slip carries its error to the end
    assert sum(seen["short"]) / len(seen["short"]) < 0.1  # stopping early is (almost) never right


def test_diverse_training_stream_rejects_an_unknown_style() -> None:
    with pytest.raises(ValueError, match="solutions: unknown style 'noisy'"):
        next(demo.training_problems("s", set(), "noisy"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A base model after 3 steps and a continuation of it after 2 more."""
    root = tmp_path_factory.mktemp("demo")
    bench = root / "bench.jsonl"
    demo.write_benchmark(bench, n_problems=40, seed=0, kind="mixed")
    base = root / "models" / "base"
    demo.train_model(base, steps=3, seed=0, exclude=[bench])
    more = root / "models" / "more"
    stats = demo.train_model(more, steps=2, seed=0, init_from=base, exclude=[bench])
    return base, more, stats


def test_trained_directory_loads_in_transformers(trained: tuple[Path, Path, dict]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base, more, _ = trained
    for path in (base, more):
        model = AutoModelForCausalLM.from_pretrained(path)
        tokenizer = AutoTokenizer.from_pretrained(path)
        assert type(model).__name__ == "Qwen2ForCausalLM"
        config = model.config
        assert config.hidden_size // config.num_attention_heads == 32  # vLLM CPU head size
        assert config.max_position_embeddings == 512
        assert config.vocab_size == len(tokenizer) <= 512
        assert (path / "model.safetensors").is_file()
    assert sorted(p.name for p in base.parent.iterdir()) == ["base", "more"]  # no temp dirs
    assert stat.S_IMODE(base.stat().st_mode) == 0o755


def test_generation_config_ends_on_chat_markup(trained: tuple[Path, Path, dict]) -> None:
    from transformers import AutoTokenizer

    base, _, _ = trained
    tokenizer = AutoTokenizer.from_pretrained(base)
    eos = json.loads((base / "generation_config.json").read_text())["eos_token_id"]
    assert eos == tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])


def test_tokenizer_round_trips_rendered_prompts(trained: tuple[Path, Path, dict]) -> None:
    from transformers import AutoTokenizer

    base, _, _ = trained
    tokenizer = AutoTokenizer.from_pretrained(base)
    for question in ("What is 37 + 48 - 9?", "Ünïcode, spaces  and\ttabs ?"):
        prompt = render(demo.TEMPLATE, question)
        ids = tokenizer(prompt)["input_ids"]
        assert tokenizer.decode(ids) == prompt
        assert ids.count(tokenizer.convert_tokens_to_ids("<|im_start|>")) == 3
    digits = tokenizer("12345")["input_ids"]
    assert len(digits) == 5, "numbers must be spelled digit by digit"


def test_training_batches_use_the_pipelines_prompt(trained: tuple[Path, Path, dict]) -> None:
    """The unlabelled prefix is exactly the rendered prompt; labels cover response + end."""
    from transformers import AutoTokenizer

    base, _, _ = trained
    tokenizer = AutoTokenizer.from_pretrained(base)
    problems = [next(demo.training_problems("t", set())) for _ in range(3)]
    batch = demo._batch(tokenizer, problems)
    for row, (question, answer, response) in enumerate(problems):
        labels = batch["labels"][row]
        ids = batch["input_ids"][row][batch["attention_mask"][row].bool()]
        first = int((labels != -100).nonzero()[0])
        assert tokenizer.decode(ids[:first]) == render(demo.TEMPLATE, question)
        assert tokenizer.decode(labels[labels != -100]) == response + "<|im_end|>"
        assert response.endswith(f"\\boxed{{{answer}}}.")


def test_responses_fit_the_token_budget(trained: tuple[Path, Path, dict]) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(trained[0])
    stream = demo.training_problems("budget", set())
    longest = max(len(tokenizer(next(stream)[2] + "<|im_end|>")["input_ids"]) for _ in range(3000))
    assert longest <= demo.MAX_RESPONSE_TOKENS


def test_continued_training_keeps_tokenizer_and_counts_steps(
    trained: tuple[Path, Path, dict],
) -> None:
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    base, more, stats = trained
    as_trained = Tokenizer.from_file(str(base / "tokenizer.json"))  # the base's own pipeline
    loaded, continued = AutoTokenizer.from_pretrained(base), AutoTokenizer.from_pretrained(more)
    assert loaded.get_vocab() == continued.get_vocab() == as_trained.get_vocab()
    text = render(demo.TEMPLATE, "What is 37 + 48?") + "Cafe\u0301 37 + 48 = 85.<|im_end|>"
    ids = as_trained.encode(text).ids
    assert loaded(text)["input_ids"] == continued(text)["input_ids"] == ids
    assert stats["steps"] == 2 and stats["total_steps"] == 5
    assert stats["init_from"] == str(base)
    assert json.loads((more / "demo_training.json").read_text()) == stats
    assert {"final_loss", "seconds", "parameters", "cpu_capability", "torch"} <= set(stats)
    assert stats["weights_sha256"] == tables.sha256_file(more / "model.safetensors")


def test_training_again_replaces_the_directory(trained: tuple[Path, Path, dict]) -> None:
    base, _, _ = trained
    target = base.parent / "again"
    demo.train_model(target, steps=1, seed=1, init_from=base)
    first = (target / "model.safetensors").read_bytes()
    demo.train_model(target, steps=1, seed=2, init_from=base)
    assert (target / "model.safetensors").read_bytes() != first
    assert not [p for p in base.parent.iterdir() if p.name.startswith(".")]
