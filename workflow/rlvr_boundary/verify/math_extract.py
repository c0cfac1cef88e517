"""Find the final answer inside a model response.

Two extraction orders live here:

* ``extract_ours`` — the one our grader uses. Priority: the Minerva sentence
  "final answer is $X$. I hope", then the last ``\\boxed{}``/``\\fbox{}`` (boxes right
  before it that are only separated by "and"/","/"or" are joined, as in "$\\boxed{2}$ and
  $\\boxed{-3}$"), then the last "answer is ..." / "Answer: ..." / "答案是" sentence, then a
  response that is nothing but a formula. A ``<answer>...</answer>`` block, when present,
  is searched first. Anything else is *no answer*: we never guess a number out of prose.
* ``extract_paper`` — the order of the paper's repo (PAPER.md section 5), written from that
  description: Minerva sentence, last ``boxed`` (brace-balanced, or up to the next ``$``),
  text after the last "he answer is", after the last "final answer is", after "答案是",
  else the last number in the text; then newlines, a leading ":" and a trailing "." or "/"
  are dropped. Its equivalence check is ours (see ``math_equiv``).

Both are linear in the response length and cap how far they scan, so a 1 MB response or
10,000 unbalanced braces cost milliseconds.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_MAX_BOXES_TRIED = 16  # unbalanced boxes scanned before giving up
_MAX_BOX_CHARS = 50_000
_BRACE = re.compile(r"[{}]")
# What may stand between two boxes that together form one answer ("$\boxed{2}$ and $\boxed{3}$").
_BOX_JOINER = re.compile(
    r"[\s$]*(?:,|;|\band\b|\bor\b|\\quad|\\qquad|\\text\{\s*(?:and|or|,)\s*\})?[\s$]*"
    r"(?:[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*)?[\s$]*"
)
_MINERVA = re.compile(r"final answer is\s*\$((?:\\\$|[^$])+?)\$\.?\s*I hope")
_PHRASE = re.compile(r"\banswer\s*(?:\*\*\s*)?(?::|\bis\b\s*:?)|答案是", re.IGNORECASE)
_MATH_SPANS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_MAX_PHRASE_CHARS = 300
_SENTENCE_END = re.compile(r"\n|\.(?=\s|$)|\*\*")
_TRAILING_PERCENT = re.compile(r"\s*(?:\\%|%)")
_BARE_MAX_CHARS = 100
_LATEX_COMMAND = re.compile(r"\\(?:text\w*|mbox|mathrm|operatorname|begin|end)\s*\{[^{}]*\}|\\[a-zA-Z]+")
_WORD = re.compile(r"[A-Za-z]{3,}")
# Words that start or join sentences: inside "$...$" they mean the span is broken prose.
_PROSE_WORDS = frozenset(
    [
        "since",
        "from",
        "then",
        "that",
        "this",
        "thus",
        "hence",
        "which",
        "where",
        "because",
        "let",
        "note",
        "first",
        "there",
        "here",
        "with",
        "we",
        "the",
        "is",
        "are",
        "so",
    ]
)


def _match_brace(text: str, open_at: int) -> int | None:
    """Index of the ``}`` closing the ``{`` at ``open_at`` (bounded scan), or None."""
    depth = 0
    stop = min(len(text), open_at + _MAX_BOX_CHARS)
    for m in _BRACE.finditer(text, open_at, stop):
        depth += 1 if m.group() == "{" else -1
        if depth == 0:
            return m.start()
    return None


def _box_before(text: str, end: int) -> tuple[int, int, str] | None:
    """The last complete box starting before ``end``: (start, stop, content)."""
    for _ in range(_MAX_BOXES_TRIED):
        start = max(text.rfind(cmd, 0, end) for cmd in _BOX_COMMANDS)
        if start < 0:
            return None
        after = start + (len("\\boxed") if text.startswith("\\boxed", start) else len("\\fbox"))
        while after < len(text) and text[after] == " ":
            after += 1
        if after < len(text) and text[after] == "{":
            close = _match_brace(text, after)
            if close is not None:
                return start, close + 1, text[after + 1 : close].strip()
        elif after < len(text) and text[after] not in "\\$":
            m = re.match(r"[^\s$]+", text[after:])
            if m:  # "\boxed 5"
                return start, after + m.end(), m.group()
        end = start
    return None


def last_boxed(text: str, *, join: bool = True) -> str | None:
    """Content of the last complete ``\\boxed{}``/``\\fbox{}``; adjacent boxes are joined."""
    found = _box_before(text, len(text))
    if found is None:
        return None
    start, _, content = found
    parts = [content]
    while join:
        previous = _box_before(text, start)
        if previous is None or not _BOX_JOINER.fullmatch(text, previous[1], start):
            break
        start = previous[0]
        if previous[2] != parts[0]:
            parts.insert(0, previous[2])
    return ", ".join(parts)


def _close_of(text: str, right: str, start: int) -> int:
    """Position of ``right`` from ``start`` that is not an escaped ``\\$``; -1 if none."""
    close = text.find(right, start)
    while right == "$" and close > 0 and text[close - 1] == "\\":
        close = text.find(right, close + 1)
    return close


def _math_span(text: str) -> str | None:
    """Content of a math span (``$..$``, ``\\(..\\)``...) that ``text`` starts with."""
    for left, right in _MATH_SPANS:
        if text.startswith(left):
            close = _close_of(text, right, len(left))
            if close > len(left):
                percent = _TRAILING_PERCENT.match(text, close + len(right))
                return text[len(left) : close].strip() + ("\\%" if percent else "")
            return None
    return None


def _last(matches: Iterator[re.Match[str]]) -> re.Match[str] | None:
    tail = deque(matches, maxlen=1)
    return tail[0] if tail else None


def phrase_answer(text: str) -> str | None:
    """What follows the last "answer is"/"Answer:": one math span, else one sentence."""
    anchor = _last(_PHRASE.finditer(text))
    if anchor is None:
        return None
    rest = text[anchor.end() : anchor.end() + _MAX_PHRASE_CHARS + 8].lstrip(" \t\n*:")
    span = _math_span(rest)
    in_math = span is not None
    if span is None:
        end = _SENTENCE_END.search(rest)
        span = rest[: end.start()] if end else rest
        if len(span) > _MAX_PHRASE_CHARS:
            return None
    span = span.strip().strip("*").strip()
    return span if span and not _unfinished(span, in_math) else None


def _unfinished(span: str, in_math: bool) -> bool:
    """A cut-off formula ("13-16=") or prose is not a stated answer.

    Prose: a sentence word ("since", "the", ...) inside a math span ("$ Since $" between
    two broken formulas), or more than two words in a plain sentence ("12 apples" is fine).
    """
    if span.endswith("="):
        return True
    if in_math:
        words = re.findall(r"[A-Za-z]+", _LATEX_COMMAND.sub(" ", span))
        return any(w.lower() in _PROSE_WORDS for w in words)
    return len(_WORD.findall(_LATEX_COMMAND.sub(" ", span))) > 2


def _bare(text: str) -> str | None:
    """A whole response that is only a formula ("42", "$x=3$") is its own answer."""
    stripped = text.strip()
    if not stripped or len(stripped) > _BARE_MAX_CHARS:
        return None
    span = _math_span(stripped)
    if span is not None and len(span) + 4 >= len(stripped):
        return span
    return None if _WORD.search(_LATEX_COMMAND.sub("", stripped)) else stripped


def _last_answer_tag(text: str) -> str | None:
    """Content of the last complete ``<answer>...</answer>`` block."""
    close = text.rfind("</answer>")
    open_at = text.rfind("<answer>", 0, close) if close >= 0 else -1
    return text[open_at + len("<answer>") : close] if open_at >= 0 else None


def extract_ours(response: str) -> str | None:
    """Our extraction order (module docstring); None when the response states no answer."""
    scopes = [tag, response] if (tag := _last_answer_tag(response)) is not None else [response]
    for scope in scopes:
        minerva = _last(_MINERVA.finditer(scope))
        if minerva is not None:
            return minerva.group(1).strip()
        found = last_boxed(scope) or phrase_answer(scope) or _bare(scope)
        if found:
            return found
    return None


_LAST_NUMBER = re.compile(r"-?\d*\.?\d+")


def extract_paper(response: str) -> str | None:
    """The paper repo's extraction order (module docstring); None when nothing is found."""
    if "final answer is $" in response and "$. I hope" in response:
        pred = response.split("final answer is $", 1)[1].split("$. I hope", 1)[0].strip()
    elif "boxed" in response:
        tail = response[response.rfind("boxed") + len("boxed") :]
        if tail.startswith("{"):
            close = _match_brace(tail, 0)
            pred = tail[1:close] if close is not None else tail[1:]
        else:
            pred = tail.split("$")[0].strip()
    elif "he answer is" in response:
        pred = response[response.rfind("he answer is") + len("he answer is") :].strip()
    elif "final answer is" in response:
        pred = response[response.rfind("final answer is") + len("final answer is") :].strip()
    elif "答案是" in response:
        pred = response.split("答案是")[1].strip().split("\n\n")[0].strip()
    else:
        numbers = _LAST_NUMBER.findall(response.replace(",", ""))
        pred = numbers[-1] if numbers else ""
    pred = re.sub(r"\n\s*", "", pred)
    pred = pred.removeprefix(":")
    pred = pred.removesuffix(".").removesuffix("/").strip()  # strip: the repo's strip_string does
    return pred or None
