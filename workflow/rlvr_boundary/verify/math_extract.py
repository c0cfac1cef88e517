"""Find the final answer inside a model response.

Two extraction orders live here:

* ``extract_ours`` — the one our grader uses. Priority: the Minerva sentence
  "final answer is $X$. I hope", then the last ``\\boxed{}``/``\\fbox{}`` (boxes right
  before it that are only separated by "and", ",", ``\\quad``, a short ``\\text{}`` or
  "y_2 =" are joined, as in "$\\boxed{2}$ and $\\boxed{-3}$"), then a GSM8K "#### X"
  line end, then the ``"answer": "X"`` field of a JSON reply, then the last "answer is ..." / "Answer: ..." / "Answer $X$" / "答案是" sentence
  (when that sentence is prose, its last formula or number), then a response that is
  nothing but a formula. A ``<answer>...</answer>`` block, when present, is searched first.
  With ``unmarked=True`` (grader "ours") a *finished* response that marks no answer
  is read as math-verify reads it, but only in its concluding sentence: the last formula or
  number of the last sentence (sign-offs such as "I hope it is correct." skipped), when
  that sentence is complete. A cut-off response (``finished=False``) or one whose last
  sentence states no formula is *no answer*; with ``unmarked=False`` (grader "strict")
  every unmarked response is. Anything after a chat-template turn marker
  (``<|im_start|>``, ``<|im_end|>``, ``<|endoftext|>``...) is another turn, not the answer.
* ``extract_paper`` — the order of the paper's repo (PAPER.md section 5), written from that
  description: Minerva sentence, last ``boxed`` (brace-balanced, or up to the next ``$``),
  text after the last "he answer is", after the last "final answer is", after "答案是",
  else the last number in the text; then newlines, a leading ":" and a trailing "." or "/"
  are dropped. Its equivalence check is ours (see ``math_equiv``).

Both are linear in the response length and cap how far they scan, so a 1 MB response or
10,000 unbalanced braces cost milliseconds.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator

from rlvr_boundary.verify.math_normalize import NUMBER_WORDS

_BOX_COMMANDS = ("\\boxed", "\\fbox")
_MAX_BOXES_TRIED = 16  # unbalanced boxes scanned before giving up
_MAX_BOXES_JOINED = 64  # more boxes than this in one answer are a loop, not a list
_MAX_BOX_CHARS = 50_000
_BRACE = re.compile(r"[{}]")
# What may stand between two boxes that together form one answer ("$\boxed{2}$ and $\boxed{3}$",
# "\boxed{(2, 2)} \quad \text{and} \quad \boxed{(6, 2)}", "\( y_1 = \boxed{..} \) and \( y_2 = \boxed{..}").
_BOX_JOINER = re.compile(
    r"(?:[\s$]|\\[()\[\],;]|,|;|\band\b|\bor\b|\\quad|\\qquad|\\text\{[^{}$]{0,40}\}"
    r"|[a-zA-Z](?:_\{?\w+\}?)?\s*=)*"
)
_MINERVA = re.compile(r"final answer is\s*\$((?:\\\$|[^$])+?)\$\.?\s*I hope")
_LISTING = re.compile(r"[,;]|\band\b|\bor\b|=")
_PHRASE = re.compile(r"\banswer\s*(?:\*\*\s*)?(?::|\bis\b\s*:?|(?=\$|\\\[|\\\())|答案是", re.IGNORECASE)
_GSM8K = re.compile(r"####\s*(\S[^\n]*?)\s*$", re.MULTILINE)
# The answer field of a JSON reply ({"reasoning": ..., "answer": "..."}), as some harnesses ask.
_JSON_ANSWER = re.compile(r'"answer"\s*:\s*("(?:\\.|[^"\\])*"|-?\d[\d.,]*)')
# Where another chat turn starts: what follows is not this response's answer.
_TURN_MARKERS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>")
# Display math may span lines; inline math ("$..$", "\\(..\\)") never does (math-verify's reading).
_MATH_PIECE = re.compile(r"\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\((.+?)\\\)|(?<!\\)\$((?:\\\$|[^$\n])+?)\$")
_MAX_PHRASE_CHARS = 300
_SENTENCE_END = re.compile(r"\n|\.(?=\s|$)|\*\*")
_TRAILING_PERCENT = re.compile(r"\s*(?:\\%|%)")
_BARE_MAX_CHARS = 100
_PERCENT_WORD = re.compile(r"\s*(?:percent|per cent|pct)\.?$", re.IGNORECASE)
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
    while join and len(parts) < _MAX_BOXES_JOINED:
        previous = _box_before(text, start)
        if previous is None or not _BOX_JOINER.fullmatch(text, previous[1], start):
            break
        separator = text[previous[1] : start]
        start = previous[0]
        if previous[2] != parts[0] or _LISTING.search(separator):
            parts.insert(0, previous[2])  # "\boxed{-2} and \boxed{-2}" is a pair; a box repeated is one
    return ", ".join(parts)


def _formula(match: re.Match[str]) -> str:
    """The content of a ``_MATH_PIECE`` match, whichever delimiters it had."""
    return next(g for g in match.groups() if g is not None).strip()


def _math_span(text: str) -> str | None:
    """Content of a math span (``$..$``, ``\\(..\\)``...) that ``text`` starts with."""
    m = _MATH_PIECE.match(text)
    if m is None:
        return None
    content = _formula(m)
    if not content:
        return None
    return content + ("\\%" if _TRAILING_PERCENT.match(text, m.end()) else "")


def _last(matches: Iterator[re.Match[str]]) -> re.Match[str] | None:
    tail = deque(matches, maxlen=1)
    return tail[0] if tail else None


def phrase_answer(text: str) -> str | None:
    """What follows the last "answer is"/"Answer:": one math span, else one sentence; a
    sentence of prose ("Final Answer: The largest $n$ is 34.") gives its last formula."""
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
    if not span:
        return None
    if not in_math and not span.endswith("=") and ("$" in span or _unfinished(span, in_math=False)):
        last = _last_formula(span)
        return last[0] if last else None
    return None if _unfinished(span, in_math) else span


# --- unmarked answers: the concluding sentence ------------------------------------------

_TAIL_CHARS = 2_000  # the concluding sentence is looked for in the response's last characters
_TEXT_NUMBER = re.compile(
    r"(?<![\w.^_{\\/#])[+-]?(?:\d+(?:[.,]\d+)*|\.\d+)(?:/\d+)?"
    r"(?:\s*(?:\\?%|percent\b|pct\b))?"
)
_SENTENCE_BREAK = re.compile(r"[.!?](?=\s|$)|\n")
# After the answer, a finished sentence may only carry its unit: "1,000.99€", "5m²", "12%".
_ATTACHED_UNIT = re.compile(r"(?:[^\w\s]{1,3}|[a-zA-Z]{1,3}[²³]?)?[\s.!]*")
_SIGN_OFF = re.compile(
    r"\s*(?:I hope (?:it|this|that) (?:is|was) (?:correct|right|helpful)|I hope (?:this|it|that) helps"
    r"|Hope (?:this|it) helps|Thanks?\b|Thank you|Let me know|Please let me know|Feel free)",
    re.IGNORECASE,
)


def _pieces(text: str) -> list[tuple[int, int, str | None]]:
    """``text`` cut into (start, end, formula): math spans carry their content, prose None."""
    pieces, at = [], 0
    for m in _MATH_PIECE.finditer(text):
        if m.start() > at:
            pieces.append((at, m.start(), None))
        pieces.append((m.start(), m.end(), _formula(m)))
        at = m.end()
    if at < len(text):
        pieces.append((at, len(text), None))
    return pieces


# "one" is left out: "One can check that..." is a pronoun far more often than an answer.
_LEADING_NUMBER_WORD = re.compile(r"\s*(" + "|".join(w for w in NUMBER_WORDS if w != "one") + r")\b", re.IGNORECASE)


def _last_formula(sentence: str) -> tuple[str, int] | None:
    """The last formula or number of a sentence and where it ends, None if it has none; a
    sentence without digits that starts with a number word ("Four containers were
    imported.") states that number."""
    best: tuple[str, int] | None = None
    if not any(c.isdigit() for c in sentence) and (word := _LEADING_NUMBER_WORD.match(sentence)):
        return NUMBER_WORDS[word.group(1).lower()], word.end()
    for start, end, formula in _pieces(sentence):
        if formula is not None:
            if formula and not _unfinished(formula, in_math=True):
                best = (formula, end)
            continue
        numbers = list(_TEXT_NUMBER.finditer(sentence, start, end))
        if numbers:
            found = numbers[-1]
            best = (found.group().replace("percent", "\\%").replace("pct", "\\%"), found.end())
    return best


def _sentences(text: str) -> list[tuple[str, bool]]:
    """(sentence, ended by a full stop or newline) in order; breaks inside formulas ignored."""
    sentences, start = [], 0
    for piece_start, piece_end, formula in _pieces(text):
        if formula is not None:
            continue
        for m in _SENTENCE_BREAK.finditer(text, piece_start, piece_end):
            sentences.append((text[start : m.end()], True))
            start = m.end()
    sentences.append((text[start:], False))
    return [(s, ended) for s, ended in sentences if s.strip(" \t\n.!?*")]


# Left in a sentence's prose, these mean its formulas are unbalanced or it is code or markup.
_MARKUP = ("$", "\\[", "\\]", "\\(", "\\)", "\\begin", "\\end", "&=", "[asy]", "[/asy]")
_CURRENCY = re.compile(r"\\\$|(?<=\d) ?\$(?=\s|$|[.,])")  # "\$5", "2,74 $": money, not maths


def _broken(sentence: str) -> bool:
    """A sentence whose formulas are empty, prose or unbalanced ("so $ $ We verify...",
    "$b = We plug in") states no answer, whatever number it contains."""
    for start, end, formula in _pieces(sentence):
        if formula is None:
            prose = _CURRENCY.sub("", sentence[start:end])
            if any(mark in prose for mark in _MARKUP):
                return True
        elif not formula or _unfinished(formula, in_math=True):
            return True
    return False


def concluding_answer(text: str) -> str | None:
    """The last formula or number of the last sentence that is no sign-off, when that
    sentence is complete (it ends with a full stop, or with the formula and its unit) and
    whole (no empty, prose or unbalanced formula in it)."""
    sentences = _sentences(text[-_TAIL_CHARS:])
    while sentences and _SIGN_OFF.match(sentences[-1][0]) and "$" not in sentences[-1][0]:
        sentences.pop()
    if not sentences:
        return None
    sentence, ended = sentences[-1]
    if _broken(sentence):
        return None
    found = _last_formula(sentence)
    if found is None:
        return None
    formula, end = found
    if not ended and not _ATTACHED_UNIT.fullmatch(sentence, end):
        return None  # "... then we check whether $9$ is": the sentence never ends
    return formula


def _own_turn(response: str) -> str:
    """The response up to the first chat-template turn marker (a hallucinated next turn)."""
    cut = min((at for marker in _TURN_MARKERS if (at := response.find(marker)) >= 0), default=len(response))
    return response[:cut]


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
    """A whole response that is only a formula ("42", "$x=3$", "$28$ percent") is its own answer."""
    stripped = text.strip()
    if not stripped or len(stripped) > _BARE_MAX_CHARS:
        return None
    if percent := _PERCENT_WORD.search(stripped):
        value = _bare(stripped[: percent.start()])
        return value + "\\%" if value else None
    span = _math_span(stripped)
    if span is not None and len(span) + 4 >= len(stripped):
        return span
    return None if _WORD.search(_LATEX_COMMAND.sub("", stripped)) else stripped


def _last_answer_tag(text: str) -> str | None:
    """Content of the last complete ``<answer>...</answer>`` block."""
    close = text.rfind("</answer>")
    open_at = text.rfind("<answer>", 0, close) if close >= 0 else -1
    return text[open_at + len("<answer>") : close] if open_at >= 0 else None


def _gsm8k(text: str) -> str | None:
    """The value after the last GSM8K-style "#### 17" marker (it ends its line)."""
    found = _last(_GSM8K.finditer(text))
    return found.group(1) if found else None


def _json_answer(text: str) -> str | None:
    """The last ``"answer": ...`` field of a JSON reply, unescaped; None if empty."""
    found = _last(_JSON_ANSWER.finditer(text))
    if found is None:
        return None
    try:
        value = json.loads(found.group(1))
    except ValueError:
        value = found.group(1).strip('"')
    value = str(value).strip()
    return (last_boxed(value) or value) if value else None


def extract_ours(response: str, *, finished: bool = True, unmarked: bool = True) -> str | None:
    """Our extraction order (module docstring); None when the response states no answer.

    ``finished``: the response ended by itself (finish reason "stop"), not at the token
    limit; ``unmarked``: read a finished response's concluding sentence when nothing marks
    an answer (grader "ours"; "strict" never does).
    """
    response = _own_turn(response)
    scopes = [tag, response] if (tag := _last_answer_tag(response)) is not None else [response]
    for scope in scopes:
        minerva = _last(_MINERVA.finditer(scope))
        if minerva is not None:
            return minerva.group(1).strip()
        found = last_boxed(scope) or _gsm8k(scope) or _json_answer(scope) or phrase_answer(scope) or _bare(scope)
        if found:
            return found
    if unmarked and finished:
        return concluding_answer(response)
    return None


def extract_strict(response: str, *, finished: bool = True) -> str | None:
    """Grader "strict": only marked answers (box, answer phrase, bare formula) count."""
    return extract_ours(response, finished=finished, unmarked=False)


def gold_answer(gold: str) -> str:
    """A gold given as a worked solution ("... so $n = \\boxed{1,-2}$.") is its Minerva
    sentence or its last box (with the boxes joined to it, as in a response); a plain gold
    is itself."""
    if "boxed" not in gold and "fbox" not in gold and "I hope" not in gold:
        return gold
    minerva = _last(_MINERVA.finditer(gold))
    if minerva is not None:
        return minerva.group(1).strip()
    return last_boxed(gold) or gold


_LAST_NUMBER = re.compile(r"-?\d*\.?\d+")


def extract_paper(response: str, *, finished: bool = True) -> str | None:
    """The paper repo's extraction order (module docstring); None when nothing is found.

    ``finished`` is ignored: the repo reads cut-off responses like finished ones."""
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
