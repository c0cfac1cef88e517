"""Is a cleaned prediction equivalent to a cleaned gold answer?

``judge`` tries, per candidate reading of the pair (see ``_readings``):

1. multiple choice: a gold that is just a letter is compared letter to letter;
2. exact match of the canonical strings;
3. both sides exact numbers (``math_normalize.number``): compared as rationals;
4. math-verify (the engine): parse both, ``math_verify.verify``. Only this step imports
   sympy's cost, and it is the only one that can run long; callers run it in a worker
   process with a deadline (``math_pool``) or under ``soft_deadline``.

Steps 1-3 are definitive for the readings they cover, so most answers never reach sympy.
Inputs that could make sympy compute for minutes or exhaust memory (power towers, huge
factorials, 10,000 nested braces) never reach the engine either: they are judged by
string equality alone (``explosive``).
"""

from __future__ import annotations

import logging
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import math_verify

from rlvr_boundary.verify.math_normalize import (
    assignment_rhs,
    base_numeral,
    canonical,
    column_vector,
    drop_mc_label,
    mc_letter,
    number,
    numbers_equal,
    split_degrees,
    split_percent,
)


class _SilenceDisabledTimeout(logging.Filter):
    """math-verify warns once when its own SIGALRM timeout is off; ours replaces it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timeout is disabled")


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_SilenceDisabledTimeout())


class Deadline(BaseException):
    """Raised by ``soft_deadline``; a BaseException so that math-verify's and sympy's
    ``except Exception`` handlers cannot swallow it and report a plain False."""


@contextmanager
def soft_deadline(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` with ``Deadline`` (main thread only).

    Uses a float ITIMER_REAL rather than math-verify's whole-second ``signal.alarm``; any
    timer and handler already set by the host program are restored afterwards. Off the main
    thread it is a no-op, and only the worker pool's hard kill bounds the time.
    """
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise Deadline

    previous = signal.signal(signal.SIGALRM, _raise)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, old_delay, old_interval)
        signal.signal(signal.SIGALRM, previous)


# --- guards -------------------------------------------------------------------------------

_MAX_ENGINE_CHARS = 1000
_MAX_BRACE_DEPTH = 40
_BIG_EXPONENT_DIGITS = 6  # 10^{100000} is fine; 10^{1000000} and towers are not
_BIG_FACTORIAL = re.compile(r"(\d{5,})\s*!|[})]\s*!")
_EXPONENT = re.compile(r"\^\s*(\{|\d+)")


def _exponent_body(text: str, match: re.Match[str]) -> str:
    if match.group(1) != "{":
        return match.group(1)
    depth = 0
    for k in range(match.start(1), len(text)):
        depth += {"{": 1, "}": -1}.get(text[k], 0)
        if depth == 0:
            return text[match.start(1) + 1 : k]
    return text[match.start(1) + 1 :]


def explosive(text: str) -> bool:
    """Would sympy possibly evaluate something astronomically large or deep?"""
    if len(text) > _MAX_ENGINE_CHARS:
        return True
    depth = deepest = 0
    for ch in text:
        if ch == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == "}":
            depth -= 1
    if deepest > _MAX_BRACE_DEPTH or _BIG_FACTORIAL.search(text):
        return True
    for m in _EXPONENT.finditer(text):
        body = _exponent_body(text, m)
        if "^" in body or any(len(d) >= _BIG_EXPONENT_DIGITS for d in re.findall(r"\d+", body)):
            return True
    return False


# --- readings -----------------------------------------------------------------------------

_MC_GOLD = re.compile(r"\(?([A-E])\)?")


def _hundredth(text: str) -> str:
    return rf"\frac{{{text}}}{{100}}"


def _radians(degrees: str) -> str:
    return rf"\frac{{({degrees})\pi}}{{180}}"


def _readings(gold: str, pred: str) -> list[tuple[str, str]]:
    """The (gold, prediction) forms that count as the same answer.

    Percent: "25\\%" matches "25" and "0.25", never a value 100x off. Degrees: "30^\\circ"
    matches "30", and "\\frac{\\pi}{6}" when the other side is in radians. An assignment
    "x = 5" matches "5" when the other side has no "=" ("y=5" against "x=5" stays a
    comparison of two equations, which math-verify keeps apart). A one-column matrix
    matches the same entries written as a tuple.
    """
    g, g_pct = split_percent(gold)
    p, p_pct = split_percent(pred)
    if g_pct == p_pct:
        pairs = [(g, p)]
    elif g_pct:
        pairs = [(g, p), (_hundredth(g), p)]
    else:
        pairs = [(g, p), (g, _hundredth(p))]
    readings: list[tuple[str, str]] = []
    for g, p in pairs:
        g_bare, g_deg = split_degrees(g)
        p_bare, p_deg = split_degrees(p)
        readings.append((g_bare, p_bare))
        if g_deg and not p_deg and "\\pi" in p:
            readings.append((_radians(g_bare), p))
        elif p_deg and not g_deg and "\\pi" in g:
            readings.append((g, _radians(p_bare)))
    for g, p in list(readings):
        if (g_vec := column_vector(g)) is not None and p.startswith("("):
            readings.append((g_vec, p))
        elif (p_vec := column_vector(p)) is not None and g.startswith("("):
            readings.append((g, p_vec))
        if "=" not in g and (rhs := assignment_rhs(p)) is not None:
            readings.append((g, rhs))
        elif "=" not in p and (rhs := assignment_rhs(g)) is not None:
            readings.append((rhs, p))
    return readings


def _quick(gold: str, pred: str) -> bool | None:
    """Steps 2-3 of the module docstring; None when only the engine can tell."""
    g, p = canonical(gold), canonical(pred)
    if g == p:
        return True
    g_base, p_base = base_numeral(g), base_numeral(p)
    if g_base and p_base and (g_base[1] or p_base[1]):
        # 52_8 is 52 written in base 8: the digits must agree, and the bases when both are given
        bases_agree = g_base[1] is None or p_base[1] is None or g_base[1] == p_base[1]
        return g_base[0] == p_base[0] and bases_agree
    g_num, p_num = number(g), number(p)
    if g_num is not None and p_num is not None:
        return numbers_equal(g_num, p_num)
    if explosive(gold) or explosive(pred):
        return False
    return None


@lru_cache(maxsize=8192)
def _parsed(latex: str) -> list[object]:
    return math_verify.parse("\\boxed{" + latex + "}", parsing_timeout=None)


def _engine(gold: str, pred: str) -> bool:
    g, p = _parsed(gold), _parsed(pred)
    # allow_set_relation_comp: "x \\le 3" is the interval "(-\\infty, 3]" whichever side writes it
    return bool(g and p and math_verify.verify(g, p, allow_set_relation_comp=True, timeout_seconds=None))


def judge(gold: str, pred: str, *, engine: bool) -> bool | None:
    """Equivalence of two cleaned answers; None if undecided without the engine.

    With ``engine=True`` the result is always a bool (call it under a deadline).
    """
    if _MC_GOLD.fullmatch(canonical(gold)):
        return mc_letter(pred) == mc_letter(gold)
    pred = drop_mc_label(pred)
    undecided = []
    for g, p in _readings(gold, pred):
        verdict = _quick(g, p)
        if verdict:
            return True
        if verdict is None:
            undecided.append((g, p))
    if not undecided:
        return False
    if not engine:
        return None
    return any(_engine(g, p) for g, p in undecided)
