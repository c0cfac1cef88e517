"""Is a cleaned prediction equivalent to a cleaned gold answer?

``judge`` works on each reading of the pair (``_readings``: percent, degrees, assignments,
column vectors) and stops at the first step that can decide:

1. multiple choice: a gold that is just a letter is compared letter to letter;
2. exact match of the canonical strings (whitespace, ``\\text{}``, ``\\leq``/``\\le``);
3. base numerals (``52_8``) digit by digit;
4. both sides plain numbers (``math_normalize.number``): compared as rationals;
5. both sides evaluable (``math_constant``: constants, ``a \\pm b``, one-letter
   variables at fixed values) and clearly apart: different — this step only rejects;
6. shapes: a single value never equals a tuple, a matrix or a word; tuples and intervals
   entry by entry (``_structure``);
7. math-verify (the engine): parse both whole answers, ``math_verify.verify``. Only this
   step costs sympy's time and can run long; callers run it in a worker process with a
   deadline (``math_pool``) or under ``soft_deadline``.

Inputs that could make sympy compute for minutes or exhaust memory (power towers, huge
factorials, 10,000 nested braces) never reach the engine: they are judged by string
equality alone (``explosive``).
"""

from __future__ import annotations

import cmath
import logging
import re
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from functools import lru_cache

import math_verify
import sympy

from rlvr_boundary.verify.math_constant import value
from rlvr_boundary.verify.math_normalize import (
    assignment,
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
_BIG_EXPONENT_DIGITS = 6  # 10^{100000} is fine; 10^{1000000} and numeric towers are not
_BIG_NUMBER = re.compile(r"\d{5,}")
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
    if deepest > _MAX_BRACE_DEPTH:
        return True
    if "!" in text and (_BIG_NUMBER.search(text) or "^" in text):
        return True  # 100000!, (10^{6})!; n! and (n+1)! stay symbolic
    for m in _EXPONENT.finditer(text):
        body = _exponent_body(text, m)
        numeric_tower = "^" in body and not re.search(r"[a-zA-Z]", body)  # 9^{9^{9}}, not e^{-x^2}
        if numeric_tower or any(len(d) >= _BIG_EXPONENT_DIGITS for d in re.findall(r"\d+", body)):
            return True
    return False


# --- shapes -------------------------------------------------------------------------------

_OPENERS, _CLOSERS = "([{", ")]}"
_UNSURE = re.compile(
    r"[=<>]|\\(?:le|ge|leq|geq|ne|neq|lt|gt|in|subset|subseteq|to)(?![a-zA-Z])"
    r"|\\(?:text|mbox|mathrm)|\\\{|\b(?:and|or)\b"
)
_MATRIX = re.compile(r"\\begin\{[pbvB]?matrix\}")
_WORDS_ONLY = re.compile(r"\\text\{[A-Za-z\s]+\}")  # "\text{Evelyn}" is never a number


def split_top(text: str) -> list[str]:
    """``text`` cut at commas outside any bracket; one part when there is none."""
    parts, depth, start = [], 0, 0
    for k, ch in enumerate(text):
        if ch in _OPENERS:
            depth += 1
        elif ch in _CLOSERS:
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:k])
            start = k + 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


def _bracketed(text: str) -> tuple[str, str, list[str]] | None:
    """``(a, b]`` -> ("(", "]", ["a", "b"]) when one bracket pair spans the whole text."""
    if len(text) < 2 or text[0] not in "([" or text[-1] not in ")]":
        return None
    depth = 0
    for ch in text[:-1]:
        depth += (ch in _OPENERS) - (ch in _CLOSERS)
        if depth == 0:
            return None  # "(1,2)\\cup(3,4)" or "(a)(b)": not one group
    return text[0], text[-1], split_top(text[1:-1])


def _shape(text: str) -> str | None:
    """ "scalar", "several" (tuple, interval, list, union, a±b) or "matrix"; None if unsure
    (relations, text, sets, "a and b" are left to math-verify)."""
    if _UNSURE.search(text):
        return None
    if _MATRIX.search(text):
        return "matrix"
    group = _bracketed(text)
    several = len(split_top(text)) > 1 or (group is not None and len(group[2]) > 1)
    return "several" if several or "\\cup" in text or "\\pm" in text or "\\mp" in text else "scalar"


def _exact(parts: list[str]) -> list[Fraction] | None:
    numbers = [number(part) for part in parts]
    if any(n is None or n.ulp is not None for n in numbers):
        return None
    return [n.value for n in numbers]


def _structure(gold: str, pred: str) -> bool | None:
    """Definitive verdicts that need no parsing: a single value never equals a tuple, a
    matrix or a word; two tuples or intervals with the same brackets are equal entry by
    entry (exactly, for plain numbers) and different as soon as one entry's value differs;
    two bare lists of plain numbers are equal as sets (math-verify's reading).
    """
    shapes = {_shape(gold), _shape(pred)}
    if None not in shapes and len(shapes) == 2:
        return False
    if (number(gold) and _WORDS_ONLY.fullmatch(pred)) or (number(pred) and _WORDS_ONLY.fullmatch(gold)):
        return False
    g_group, p_group = _bracketed(gold), _bracketed(pred)
    if g_group and p_group and g_group[:2] == p_group[:2]:
        g_values, p_values = _exact(g_group[2]), _exact(p_group[2])
        if g_values is not None and p_values is not None:
            return g_values == p_values
        if len(g_group[2]) != len(p_group[2]) or any(
            _values_apart(_values(a), _values(b)) for a, b in zip(g_group[2], p_group[2], strict=True)
        ):
            return False
    if g_group is None and p_group is None:
        g_values, p_values = _exact(split_top(gold)), _exact(split_top(pred))
        if g_values is not None and p_values is not None and (len(g_values) > 1 or len(p_values) > 1):
            return set(g_values) == set(p_values)
    return None


# --- readings -----------------------------------------------------------------------------

_MC_GOLD = re.compile(r"\(?([A-E])\)?")
# Relative difference beyond which two numeric values are different answers whatever the
# rounding (math-verify's own tolerance is 6 decimal places).
_CLEARLY_APART = 1e-6


def _hundredth(text: str) -> str:
    return rf"\frac{{{text}}}{{100}}"


def _radians(degrees: str) -> str:
    return rf"\frac{{({degrees})\pi}}{{180}}"


def _readings(gold: str, pred: str) -> list[tuple[str, str]]:
    """The (gold, prediction) forms that count as the same answer.

    Percent: "25\\%" matches "25" and "0.25", never a value 100x off. Degrees: "30^\\circ"
    matches "30", and "\\frac{\\pi}{6}" when the other side is in radians. Then each
    form loses its wrappers (``_unwrapped``).
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
    return [_unwrapped(g, p) for g, p in readings]


def _unwrapped(gold: str, pred: str) -> tuple[str, str]:
    """Compare values, not their wrappers: "x = 5" against "5" (math-verify unwraps an
    assignment when the other side is no equation), "x = 5" against "x = 4" as 5 and 4
    (same variable only), and two column vectors as tuples."""
    g_vec, p_vec = column_vector(gold), column_vector(pred)
    if g_vec is not None and (p_vec is not None or pred.startswith("(")):
        return g_vec, p_vec or pred
    if p_vec is not None and gold.startswith("("):
        return gold, p_vec
    g_eq, p_eq = assignment(gold), assignment(pred)
    if g_eq and p_eq:
        return (g_eq[1], p_eq[1]) if g_eq[0] == p_eq[0] else (gold, pred)
    if "=" not in pred:
        return _assigned_value(gold), pred
    if "=" not in gold:
        return gold, _stated_value(pred)
    return gold, pred


_ALTERNATIVES = re.compile(r"\\text\{\s*(?:or|and)\s*\}|\s(?:or|and)\s")


def _assigned_value(text: str) -> str:
    """The values of ``x = 5``, ``x_1 = a, x_2 = b`` or ``x=2 \\text{ or } x=-3``; any
    other text as it is."""
    parts = split_top(_ALTERNATIVES.sub(",", text))
    sides = [assignment(part) for part in parts]
    return ", ".join(side[1] for side in sides) if all(sides) else text


def _stated_value(text: str) -> str:
    """What a predicted equation states (math-verify's reading): assigned values, else the
    last side of a chain (``\\frac{1}{2} = \\frac{10}{9}``, ``5 \\times 4 = 20``)."""
    assigned = _assigned_value(text)
    if assigned != text or _RELATION.search(text) or len(split_top(text)) > 1:
        return assigned
    return text.rsplit("=", 1)[1].strip() or text


_RELATION = re.compile(r"[<>]|\\(?:le|ge|ne|lt|gt|approx|equiv|sim)(?![a-zA-Z])")


def _values(text: str) -> list[complex] | None:
    """Sorted values of an expression at fixed letter values; ``a \\pm b`` has two."""
    if text.count("\\pm") > 1:
        return None
    forms = [text.replace("\\pm", "+"), text.replace("\\pm", "-")] if "\\pm" in text else [text]
    values = [value(form, letters=True) for form in forms]
    if any(v is None for v in values):
        return None
    return sorted(values, key=lambda v: (v.real, v.imag))


def _values_apart(gold: list[complex] | None, pred: list[complex] | None) -> bool:
    if gold is None or pred is None:
        return False
    if len(gold) != len(pred):
        return True
    return any(_apart(g, p) for g, p in zip(gold, pred, strict=True))


def _apart(gold: complex, pred: complex) -> bool:
    return abs(gold - pred) > _CLEARLY_APART * max(abs(gold), abs(pred))


_TEXT_ANSWER = re.compile(r"[A-Za-z][A-Za-z' -]{2,}")  # "Evelyn", "odd": words compare without case
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")  # left by clean: not a thousands grouping


def _decimal_comma(text: str, other: str) -> str:
    """``1,22`` is the decimal 1.22 when the other side is one plain number (a comma that
    groups thousands, ``1,000``, was already removed by ``clean``)."""
    if _DECIMAL_COMMA.fullmatch(text) and number(other) is not None:
        return text.replace(",", ".")
    return text


def _top_level_signs(text: str) -> list[int]:
    """Positions of ``+``/``-`` between terms outside every bracket (not a leading sign)."""
    signs, depth = [], 0
    for k, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in "+-" and depth == 0 and k > 0 and text[k - 1] not in "^_(=,":
            signs.append(k)
    return signs


def _factored(text: str) -> bool:
    """A product with a bracketed sum of letters as a factor: ``(x+2)(x+3)``, ``3x(x-4)``."""
    if _top_level_signs(text) or "=" in text or "," in text or "\\frac" in text:
        return False
    groups = re.findall(r"\(([^()]*)\)", text)
    return any(re.search(r"[a-zA-Z]", g) and _top_level_signs(g) for g in groups)


def _expanded(text: str) -> bool:
    """A sum of terms with a letter in it: ``x^2+5x+6``."""
    return bool(_top_level_signs(text)) and bool(re.search(r"[a-zA-Z]", text)) and "=" not in text


def _quick(gold: str, pred: str) -> bool | None:
    """Steps 2-6 of the module docstring; None when only the engine can tell."""
    g, p = canonical(gold), canonical(pred)
    if g == p or (_TEXT_ANSWER.fullmatch(g) and _TEXT_ANSWER.fullmatch(p) and g.casefold() == p.casefold()):
        return True
    if _factored(g) and _expanded(p):
        return False  # "x^2+5x+6" does not answer "factor ...": the gold's form is the answer
    g_base, p_base = base_numeral(g), base_numeral(p)
    if (g_base and g_base[1]) or (p_base and p_base[1]):
        # 52_8 is 52 written in base 8: the digits must agree, and the bases when both are
        # given; a base numeral against anything else (-52_8, a fraction) is a different answer
        if not (g_base and p_base):
            return False
        bases_agree = g_base[1] is None or p_base[1] is None or g_base[1] == p_base[1]
        return g_base[0] == p_base[0] and bases_agree
    g_num, p_num = number(g), number(p)
    if g_num is not None and p_num is not None:
        return numbers_equal(g_num, p_num)
    if _values_apart(_values(g), _values(p)):
        return False  # only ever used to reject: equal values still go to sympy
    if explosive(gold) or explosive(pred):
        return False
    return _structure(gold, pred)


# The whole answer or nothing: math-verify's default extraction falls back to any number or
# fraction it can find inside a formula it cannot parse (it reads a Minerva answer
# "\\hbar\\omega(v+1/2)-\\frac{E_0^2 e^2}{2m\\omega^2}" as 2), which would accept near misses.
_WHOLE_ANSWER = [math_verify.LatexExtractionConfig(boxed_match_priority=0, try_extract_without_anchor=False)]


@lru_cache(maxsize=8192)
def _parsed(latex: str) -> list[object]:
    return math_verify.parse("\\boxed{" + latex + "}", _WHOLE_ANSWER, parsing_timeout=None)


_NUMERIC_DIGITS = 30


def _clearly_different(gold: object, pred: object) -> bool:
    """Step 5 again on what sympy parsed (``\\log_2 3``, ``\\cot x``, long polynomials):
    both sides evaluated with every free symbol at one fixed value; clearly different values
    skip math-verify's ``simplify`` (up to a second on a degree-8 polynomial). Only a
    rejection test, like step 5; sets, relations, matrices, functions and percentages are
    left to math-verify."""
    if not (isinstance(gold, sympy.Expr) and isinstance(pred, sympy.Expr)):
        return False
    if gold.has(sympy.UnevaluatedExpr) or pred.has(sympy.UnevaluatedExpr):
        return False
    symbols = sorted(gold.free_symbols | pred.free_symbols, key=str)
    at = {s: sympy.Rational(110 + 7 * k, 100) + sympy.sqrt(2) / 1000 for k, s in enumerate(symbols)}
    try:
        g = complex(gold.subs(at).evalf(_NUMERIC_DIGITS))
        p = complex(pred.subs(at).evalf(_NUMERIC_DIGITS))
    except (TypeError, ValueError, OverflowError, ZeroDivisionError, AttributeError):
        return False
    return all(map(cmath.isfinite, (g, p))) and _apart(g, p)


def prime(golds: Iterable[str], timeout_s: float) -> None:
    """Parse each gold once in this process, before engine workers are forked from it.

    Forked workers inherit the parsed golds (so no worker parses a gold again) and the warm
    ANTLR prediction cache of latex2sympy's parser, which makes every later parse about
    2.5x faster than in a fresh process. Golds are benchmark data, not model output; a
    gold that does not parse within ``timeout_s`` is simply left to the workers.
    """
    for gold in dict.fromkeys(golds):
        try:
            with soft_deadline(timeout_s):
                _parsed(gold)
        except (Deadline, Exception):
            continue


def _engine(gold: str, pred: str) -> bool:
    g, p = _parsed(gold), _parsed(pred)
    if g and p and _clearly_different(g[0], p[0]):
        return False
    # allow_set_relation_comp: "x \\le 3" is the interval "(-\\infty, 3]" whichever side writes it
    return bool(g and p and math_verify.verify(g, p, allow_set_relation_comp=True, timeout_seconds=None))


def judge(gold: str, pred: str, *, engine: bool) -> bool | None:
    """Equivalence of two cleaned answers; None if undecided without the engine.

    With ``engine=True`` the result is always a bool (call it under a deadline). Answers
    too long for any sympy check are compared as canonical strings only.
    """
    if len(gold) > _MAX_ENGINE_CHARS or len(pred) > _MAX_ENGINE_CHARS:
        return canonical(gold) == canonical(pred)
    if letter := _MC_GOLD.fullmatch(canonical(gold)):
        return (mc_letter(pred) or mc_letter(canonical(pred))) == letter.group(1)
    pred = drop_mc_label(pred)
    gold, pred = _decimal_comma(gold, pred), _decimal_comma(pred, gold)
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
