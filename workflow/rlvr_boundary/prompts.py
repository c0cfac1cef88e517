"""Zero-shot prompt templates of the paper's model families, and their stop rules.

Templates are the strings the authors' code sends (repo ``utils.py`` at fd2cf37, PAPER.md
section 4b): raw strings, no chat template applied, formatted with the question and then
stripped of spaces at both ends, exactly as ``math_eval.py`` does. The paper's Appendix E
figures (21, 22) print the same prompts with different whitespace (a typesetting artefact);
the strings the models actually saw are the ones below.

Stop rules (PAPER.md hazard 2): the original code stops on plain words such as
``assistant``, ``user``, ``Question:`` and ``Answer:``, which cuts correct responses that
merely mention them -- and with the DAPO prompt it halts exactly where the requested
``Answer:`` line begins. Our default policy, ``markup``, stops only on chat-markup strings
that never occur in a legitimate answer; ``paper`` reproduces the original list.
"""

from __future__ import annotations

from dataclasses import dataclass

QWEN_BOXED = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\n{input}\nPlease reason step by step, and put your final answer "
    "within \\boxed{{}}.<|im_end|>\n<|im_start|>assistant\n"
)
"""SimpleRL-Zoo training/eval prompt, also used for their bases and (per the README) Oat-Zero."""

QWEN25_MATH_COT = (
    "<|im_start|>system\nPlease reason step by step, and put your final answer within "
    "\\boxed{{}}.<|im_end|>\n<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n"
)
"""Oat-Zero's prompt (paper Fig. 22) and Qwen2.5-Math-Instruct's native CoT prompt."""

ABEL_DAPO = (
    "A conversation between user and assistant. The user asks a question, and the "
    "assistant solves it. The time limit is set to 20,480 tokens. If the assistant's "
    "response exceeds this limit, a progressively increasing penalty with the number of "
    "tokens exceeded will be applied.\nuser\nSolve the following math problem step by "
    "step. The last line of your response should be of the form Answer: $Answer (without "
    "quotes) where $Answer is the answer to the problem.\n{input}\nRemember to put your "
    'answer on its own line after "Answer:".\nassistant'
)
"""The old DAPO prompt, registered as ``abel`` in the repo (used for DAPO-32B and its base)."""

DEEPSEEK_R1_DISTILL = (
    "<\uff5cUser\uff5c>{input}\nPlease reason step "
    "by step, and put your final answer within \\boxed{{}}.<\uff5cAssistant\uff5c><think>\n"
)
"""R1-Distill's own chat format with DeepSeek's recommended math instruction.

The paper does not state the prompt of Fig. 7's distilled model (PAPER.md: unconfirmed);
this is the model card's recommended usage, marked as our choice. The tokenizer adds the
beginning-of-sentence token itself (prompts are tokenized with special tokens, as vLLM does).
"""

QWEN_BOXED_DIRECT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\n{input}\nDo not reason or show any work: reply with only the final answer "
    "within \\boxed{{}}.<|im_end|>\n<|im_start|>assistant\n"
)
"""The guessing filter's answer-only prompt (paper Appendix D.2: the base is prompted "to answer
questions directly, without using chain-of-thought reasoning"). The paper does not print its
prompt: this is ``qwen-boxed`` with the instruction turned around, our choice. A variant using
it should also cap ``max_tokens`` (a few dozen), so a model that reasons anyway is cut short."""

TEMPLATES: dict[str, str] = {
    "qwen-boxed": QWEN_BOXED,
    "qwen-boxed-direct": QWEN_BOXED_DIRECT,
    "qwen25-math-cot": QWEN25_MATH_COT,
    "abel": ABEL_DAPO,
    "deepseek-r1-distill": DEEPSEEK_R1_DISTILL,
}

MARKUP_STOPS: tuple[str, ...] = ("</s>", "<|im_end|>", "<|endoftext|>", "<|im_start|>")
"""Chat-markup strings: a correct answer never contains them, so stopping there is safe."""

_PAPER_ALWAYS = ("</s>", "<|im_end|>", "<|endoftext|>")
_PAPER_EXTRA = {"qwen": ("assistant", "user", "_end", "_start"), "abel": ("Question:", "Answer:")}
_QWEN2_STOP_TOKEN_IDS = (151645, 151643)


@dataclass(frozen=True)
class StopRule:
    """What ends a generation besides the model's own end-of-sequence token."""

    strings: tuple[str, ...]
    token_ids: tuple[int, ...] = ()


def stop_rule(template: str, policy: str, model_path: str = "") -> StopRule:
    """Stop strings/ids for a template under a stop policy (``markup`` or ``paper``).

    ``paper`` mirrors ``math_eval.py``: the three markup strings always, the chat-role words
    for any template whose name contains ``qwen``, ``Question:``/``Answer:`` for ``abel``, and
    Qwen2 end token ids only when the model path contains ``qwen2`` (hazard 3).
    """
    template_kind(template)  # unknown names fail here
    if policy == "markup":
        return StopRule(strings=MARKUP_STOPS)
    if policy == "paper":
        strings = list(_PAPER_ALWAYS)
        for key, extra in _PAPER_EXTRA.items():
            if key in template:
                strings.extend(extra)
        ids = _QWEN2_STOP_TOKEN_IDS if "qwen2" in model_path.lower() else ()
        return StopRule(strings=tuple(strings), token_ids=ids)
    raise ValueError(f"unknown stop policy {policy!r}; known: ['markup', 'paper']")


# =======================================================================================
# Code prompts (appended for the code experiments: paper Figs. 24 and 25)
# =======================================================================================
# Unlike the math templates above, these are the paper's Appendix E strings with Qwen chat
# markup, byte-equal to PAPER.md section 4a -- including the "```python" assistant prefill the
# authors append so that base and RL models both answer with code. A response continues
# that prefill (:func:`code_prefill` tells the verifier). The LiveCodeBench repo's own Qwen
# template has no "### Format:" headers; the paper's figure has them, and we follow the paper.

LCB_FORMATTING_WITH_STARTER_CODE = (
    "You will use the following starter code to write the solution to the problem and enclose your "
    "code within delimiters."
)
LCB_FORMATTING_WITHOUT_STARTER_CODE = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test "
    "on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python "
    "program runs, it reads the inputs, runs the algorithm and writes output to STDOUT."
)

_LCB_USER_MESSAGE = (
    "You will be given a question (problem specification) and will generate a correct Python program "
    "that matches the specification and passes all tests. You will NOT return anything except for the "
    "program.\n\nQuestion: {question}\n\n### Format:\n{format_block}"
)
LIVECODEBENCH_CODE = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    + _LCB_USER_MESSAGE
    + "<|im_end|>\n<|im_start|>assistant\n```python"
)
"""Fig. 24, LiveCodeBench; ``format_block`` is one of the two blocks below."""
LCB_WITH_STARTER_BLOCK = LCB_FORMATTING_WITH_STARTER_CODE + "\n```python\n{starter_code}\n```\n\n"
LCB_WITHOUT_STARTER_BLOCK = LCB_FORMATTING_WITHOUT_STARTER_CODE + "\n```python\n# YOUR CODE HERE\n```\n\n"

EVALPLUS_CODE = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    "Please provide a self-contained Python script that solves the following problem in a markdown "
    "code block:\n```\n{question}\n```\n<|im_end|>\n<|im_start|>assistant\n"
    "Below is a Python script with a self-contained function that solves the problem and passes "
    "corresponding tests:\n```python"
)
"""Fig. 25, HumanEval+ and MBPP+ (evalplus's instruction and response prefix)."""

LCB_R1_DISTILL_CODE = "<\uff5cUser\uff5c>" + _LCB_USER_MESSAGE + "<\uff5cAssistant\uff5c><think>\n"
"""Fig. 3's pair (R1-Distill-Qwen-14B, DeepCoder-14B) on LiveCodeBench: the paper does not print
their prompt. Our choice: Fig. 24's user message in R1's own chat format (no system prompt, as
DeepSeek recommends); no code prefill, because these models reason before they answer."""

CODE_TEMPLATES: dict[str, str] = {
    "livecodebench": LIVECODEBENCH_CODE,
    "livecodebench-r1": LCB_R1_DISTILL_CODE,
    "evalplus": EVALPLUS_CODE,
}


# =======================================================================================
# Visual-math prompt (paper Fig. 26: EasyR1's prompt for Qwen2.5-VL)
# =======================================================================================
EASYR1_SYSTEM = (
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant. You FIRST think about the "
    "reasoning process as an internal monologue and then provide the final answer. The reasoning "
    "process MUST BE enclosed within <think> </think> tags. The final answer MUST BE put in \\boxed{}."
)
"""Fig. 26's system message, byte-equal to PAPER.md section 4a."""
IMAGE_PLACEHOLDER = "<|image_pad|>"
"""Qwen2.5-VL's image token: the prompt holds one, which the engine's processor expands to
one token per merged image patch (the ``{image_token}`` of Fig. 26)."""
EASYR1_VISUAL = (
    "<|im_start|>system\n" + EASYR1_SYSTEM.replace("{}", "{{}}") + "<|im_end|>\n<|im_start|>user\n"
    "<|vision_start|>" + IMAGE_PLACEHOLDER + "<|vision_end|>\n{question}<|im_end|>\n<|im_start|>assistant\n"
)
"""Fig. 26 in Qwen chat markup: the image first, then the question (MathVision's text keeps
its ``<image1>`` reference, as the dataset ships it)."""

VISUAL_TEMPLATES: dict[str, str] = {"easyr1": EASYR1_VISUAL}


def _render_code(text: str, question: str, starter_code: str) -> str:
    """Values are substituted once and never re-parsed, so braces in a problem are safe."""
    if "{format_block}" not in text:
        return text.format(question=question)
    block = LCB_WITH_STARTER_BLOCK.format(starter_code=starter_code) if starter_code else LCB_WITHOUT_STARTER_BLOCK
    return text.format(question=question, format_block=block)


def template_kind(template: str) -> str:
    """``math``, ``code`` or ``visual``: which benchmarks a template's prompt is written for."""
    for kind, known in (("math", TEMPLATES), ("code", CODE_TEMPLATES), ("visual", VISUAL_TEMPLATES)):
        if template in known:
            return kind
    names = sorted(TEMPLATES) + sorted(CODE_TEMPLATES) + sorted(VISUAL_TEMPLATES)
    raise ValueError(f"unknown prompt template {template!r}; known: {names}")


def render(template: str, question: str, starter_code: str = "") -> str:
    """The prompt string sent to the engine for one problem (zero-shot, no chat template).

    Math templates are formatted and stripped as ``math_eval.py`` does; code templates take
    the problem's starter code too (LiveCodeBench; empty for stdin problems and evalplus).
    """
    kind = template_kind(template)
    if kind == "math":
        return TEMPLATES[template].format(input=question).strip(" ")
    if kind == "visual":
        return VISUAL_TEMPLATES[template].format(question=question)
    return _render_code(CODE_TEMPLATES[template], question, starter_code)


def code_prefill(template: str) -> str:
    """The code fence a prompt leaves open ("```python"), which the response continues; or ""."""
    return "```python" if CODE_TEMPLATES.get(template, "").endswith("```python") else ""
