"""Prompt templates byte-equal to PAPER.md section 4b, and the stop-string decision."""

from __future__ import annotations

import re

import pytest

from conftest import PROJECT
from rlvr_boundary.prompts import MARKUP_STOPS, TEMPLATES, render, stop_rule

PAPER_MD = PROJECT.parent / "shared" / "paper" / "PAPER.md"


def paper_template(name: str) -> str:
    """The quoted template string PAPER.md gives for ``name``, with its escapes decoded."""
    if not PAPER_MD.exists():
        pytest.skip(f"{PAPER_MD} is absent (the paper facts sheet lives in ../shared/paper)")
    text = PAPER_MD.read_text()
    section = text[text.index("### 4b.") : text.index("**Paper vs repo:**")]
    entry = re.search(r"^- `" + re.escape(name) + r"`(.*?)(?=^- `|\Z)", section, re.M | re.S)
    assert entry, f"template {name} not found in PAPER.md"
    quoted = re.findall(r'`"(.*?)"`', entry.group(1), re.S)[-1]  # the string as sent comes last
    return quoted.replace("\\n", "\n").replace('\\"', '"')


@pytest.mark.parametrize("name", ["qwen-boxed", "qwen25-math-cot", "abel"])
def test_templates_are_byte_equal_to_the_paper(name: str) -> None:
    assert render(name, "{input}") == paper_template(name)


def test_question_is_inserted_raw_and_stripped_of_spaces_only() -> None:
    question = "Compute $\\frac{1}{2} + {x}$.  "
    prompt = render("qwen-boxed", question)
    assert "user\nCompute $\\frac{1}{2} + {x}$.  \nPlease reason" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")  # a trailing newline is not a space
    assert render("abel", " q ").startswith("A conversation")


def test_unknown_template_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown prompt template"):
        render("qwen", "x")


CORRECT_RESPONSES = [
    # Mentions the chat-role words and the DAPO answer line: all must survive intact.
    "The user wants the sum; as your assistant I compute 2+3=5.\nAnswer: 5",
    "Question: what is asked? We need x. _start with x=1 ... so \\boxed{1}.",
]


@pytest.mark.parametrize("response", CORRECT_RESPONSES)
@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_default_stops_never_occur_inside_a_correct_response(template: str, response: str) -> None:
    rule = stop_rule(template, "markup")
    assert rule.strings == MARKUP_STOPS and rule.token_ids == ()
    assert not any(stop in response for stop in rule.strings)


def test_paper_policy_reproduces_the_repo_stops() -> None:
    qwen = stop_rule("qwen-boxed", "paper", "Qwen/Qwen2.5-7B")
    assert qwen.strings == ("</s>", "<|im_end|>", "<|endoftext|>", "assistant", "user", "_end", "_start")
    assert qwen.token_ids == (151645, 151643)
    assert stop_rule("qwen-boxed", "paper", "hkust-nlp/Qwen-2.5-7B-SimpleRL-Zoo").token_ids == ()
    dapo = stop_rule("abel", "paper", "BytedTsinghua-SIA/DAPO-Qwen-32B")
    assert "Answer:" in dapo.strings  # hazard 2: halts exactly where the answer line starts
    assert any(stop in CORRECT_RESPONSES[0] for stop in dapo.strings)
    with pytest.raises(ValueError, match="stop policy"):
        stop_rule("abel", "everything")
