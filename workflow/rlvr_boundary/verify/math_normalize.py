"""String-level clean-up of one math answer before any equivalence check.

math-verify's own normalisation is kept (it runs inside the engine); this layer only fixes
the surface forms it misreads, each of which cost right answers on our labelled set:
unicode maths (``√``, ``π``, ``½``, ``°``, ``−``), thin-space / ``\\,`` / ``\\ `` thousands
separators (``12\\ 345`` was parsed as 357), ``2e8``, ``0.\\overline{3}``, a period left
inside the box, grouping braces around the whole answer, units after a plain number
(``12 apples``, ``5\\text{ cm}^2``), an ``Answer:`` prefix. Every rewrite here is
meaning-preserving on its own, so it is applied to gold and prediction alike and cannot
create a false accept by itself.

The module also reads plain numbers exactly (``number``), which is the cheap path that lets
most answers skip sympy entirely.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

# --- unicode ---------------------------------------------------------------------------

_UNICODE_MAP = {
    "\u2212": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\ufe63": "-",
    "\uff0d": "-",
    "\u00d7": r"\times ",
    "\u00f7": r"\div ",
    "\u00b7": r"\cdot ",
    "\u22c5": r"\cdot ",
    "\u03c0": r"\pi ",
    "\u221e": r"\infty ",
    "\u00b1": r"\pm ",
    "\u2213": r"\mp ",
    "\u2264": r"\le ",
    "\u2265": r"\ge ",
    "\u2260": r"\ne ",
    "\u2248": r"\approx ",
    "\u222a": r"\cup ",
    "\u2229": r"\cap ",
    "\u2208": r"\in ",
    "\u2026": r"\ldots ",
    "\u00b0": r"^\circ ",
    "\u2103": r"^\circ C",
    "\u03b1": r"\alpha ",
    "\u03b2": r"\beta ",
    "\u03b3": r"\gamma ",
    "\u03b4": r"\delta ",
    "\u03b8": r"\theta ",
    "\u03bb": r"\lambda ",
    "\u03bc": r"\mu ",
    "\u03c3": r"\sigma ",
    "\u03c6": r"\phi ",
    "\u03c9": r"\omega ",
    "\u0394": r"\Delta ",
    "\u03a9": r"\Omega ",
    "\u2044": "/",
    # zero-width characters carry no meaning
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
}
# Unicode spaces become LaTeX thin spaces, so that the thousands rule below sees one form.
_UNICODE_MAP.update(dict.fromkeys("\xa0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f", r"\,"))
_UNICODE_TABLE = str.maketrans(_UNICODE_MAP)

_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+", strict=True))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉", "0123456789", strict=True))
_SUPER_RUN = re.compile("[" + "".join(_SUPERSCRIPTS) + "]+")
_SUB_RUN = re.compile("[" + "".join(_SUBSCRIPTS) + "]+")
_VULGAR = re.compile("[\u00bc-\u00be\u2150-\u215e]")
_ROOTS = {"\u221a": "", "\u221b": "[3]", "\u221c": "[4]"}


def _vulgar_fraction(match: re.Match[str]) -> str:
    value = Fraction(unicodedata.numeric(match.group())).limit_denominator(12)
    return rf"\frac{{{value.numerator}}}{{{value.denominator}}}"


def _root_symbols(text: str) -> str:
    """``√2`` -> ``\\sqrt{2}``, ``√(x+1)`` -> ``\\sqrt{x+1}``, ``∛x`` -> ``\\sqrt[3]{x}``."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch not in _ROOTS:
            out.append(ch)
            i += 1
            continue
        j = i + 1
        while j < len(text) and text[j] == " ":
            j += 1
        end = _closing(text, j) if j < len(text) and text[j] in "({" else None
        if end is not None:
            radicand, i = text[j + 1 : end], end + 1
        else:
            m = _RADICAND.match(text, j)
            radicand, i = (m.group(), m.end()) if m else ("", j)
        out.append(rf"\sqrt{_ROOTS[ch]}{{{radicand}}}")
    return "".join(out)


_RADICAND = re.compile(r"\d+(?:\.\d+)?|\\[a-zA-Z]+|[a-zA-Z]")


def _closing(text: str, start: int) -> int | None:
    """Index of the bracket closing the one at ``start`` (same kind), or None."""
    opener = text[start]
    closer = {"(": ")", "{": "}", "[": "]"}[opener]
    depth = 0
    for k in range(start, len(text)):
        if text[k] == opener:
            depth += 1
        elif text[k] == closer:
            depth -= 1
            if depth == 0:
                return k
    return None


def _unicode(text: str) -> str:
    if text.isascii():
        return text
    text = text.translate(_UNICODE_TABLE)
    text = _SUPER_RUN.sub(lambda m: "^{" + "".join(_SUPERSCRIPTS[c] for c in m.group()) + "}", text)
    text = _SUB_RUN.sub(lambda m: "_{" + "".join(_SUBSCRIPTS[c] for c in m.group()) + "}", text)
    text = _VULGAR.sub(_vulgar_fraction, text)
    if any(c in text for c in _ROOTS):
        text = _root_symbols(text)
    return text


# --- LaTeX surface forms -----------------------------------------------------------------

_MATH_WRAPPERS = ((r"$$", r"$$"), (r"\[", r"\]"), (r"\(", r"\)"), ("$", "$"))
# Separators that only ever mean "thousands" when they sit between digit groups.
_THIN_SEP = r"(?:\s*(?:\\,|\\ |\\;|\\:|\\!|\{,\}|,\s*\\!|\\thinspace|~)\s*)"
_THIN_GROUPED = re.compile(rf"(?<![\d.])\d{{1,3}}(?:{_THIN_SEP}\d{{3}})+(?![\d])")
_THIN_ONE = re.compile(_THIN_SEP)
# A bare comma or space is only a separator when the whole answer is one grouped number.
# (", " is accepted too: "58, 500" against a one-number gold is a number, not a pair.)
_PLAIN_GROUPED = re.compile(r"-?[1-9]\d{0,2}(?:, ?\d{3})+(?:\.\d+)?|-?[1-9]\d{0,2}(?: \d{3})+(?:\.\d+)?")
_SCI_E = re.compile(r"(?<![\w.\\])(\d+(?:\.\d+)?|\.\d+)[eE]([+-]?\d{1,4})(?![\w.])")
_REPEATING = re.compile(r"(?<![\d.])(-?)(\d*)\.(\d*)\\(?:overline|bar)\s*\{?(\d+)\}?")
_TRAILING_PUNCT = re.compile(r"(?:\s|\\[,;:!]|\\quad|\\qquad|\\text\{\s*[.,;]?\s*\}|[.,;])$")
_QUAD = re.compile(r"\\q?quad")  # a wide space; "\\quadx_2" (no space after it) too
_DISPLAY_NOISE = re.compile(r"\\displaystyle|\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\!")
_FRAC_VARIANTS = re.compile(r"\\[dtc]frac(?![a-zA-Z])")
_FRAC_SHORT = re.compile(r"\\frac\s*(\d)\s*(\d)")
_DEGREE = re.compile(
    r"\s*(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|\^\s*\{\s*o\s*\}"
    r"|\\text\{\s*degrees?\s*\}|\s+degrees?)\s*$"
)
_PERCENT = re.compile(r"\s*(?:\\%|%|\\text\{\s*(?:\\?%|percent|pct)\s*\}|\s+(?:percent|pct))\s*$")
_ANSWER_PREFIX = re.compile(r"^\s*(?:\\text(?:bf)?\{\s*)?(?:final\s+)?answer\s*:\s*\}?\s*", re.IGNORECASE)
_MEMBERSHIP = re.compile(r"^[a-zA-Z]\s*\\in\s*")
_TEXT_NUMBER = re.compile(r"\\text\s*\{\s*(\d[^{}]*)\}")  # \text{10 ways}
_EMPTY_SET = re.compile(r"\\varnothing(?![a-zA-Z])|\\\{\s*\\\}")
# "12 i": math-verify treats a side as complex only when "i" stands alone, so a spaced and
# an unspaced imaginary part would be read differently; one spelling for both sides.
_SPACED_I = re.compile(r"(?<=\d)\s+i\b")
_NUMBER_PREFIX = (
    r"[+-]?(?:\d[\d.]*|\.\d+)(?:\s*(?:\\times|\\cdot)\s*10\^\{?[+-]?\d+\}?)?"
    r"|[+-]?\\frac\{\d+\}\{\d+\}"
)
# "12 apples", "5\text{ cm}^2", "4.5\times10^{3}\mathrm{~m}": a number followed by units only.
_NUMBER_WITH_UNITS = re.compile(
    rf"({_NUMBER_PREFIX})\s*(?:(?:\\(?:text|mbox|mathrm)\s*\{{[^{{}}]*\}}(?:\^\{{?\d\}}?)?\s*)+"
    r"|(?:\s+[A-Za-z]{3,}\.?)+)"
)


def _repeating(match: re.Match[str]) -> str:
    """``0.1\\overline{6}`` -> ``\\frac{1}{6}``: the exact value of a repeating decimal."""
    sign, whole, fixed, period = match.groups()
    value = int(whole or "0") + Fraction(
        int(fixed + period) - int(fixed or "0"), 10 ** len(fixed) * (10 ** len(period) - 1)
    )
    return rf"{sign}\frac{{{value.numerator}}}{{{value.denominator}}}"


_MAX_UNWRAP = 8  # deeper nesting is pathological: left as is (and judged as a raw string)


def _unwrap_math(text: str) -> str:
    """Drop math delimiters and redundant grouping braces around the whole answer."""
    text = text.strip()
    changed, rounds = True, 0
    while changed and rounds < _MAX_UNWRAP:
        changed, rounds = False, rounds + 1
        for left, right in _MATH_WRAPPERS:
            if len(text) > len(left) + len(right) and text.startswith(left) and text.endswith(right):
                text = text[len(left) : -len(right)].strip()
                changed = True
        if text.startswith("{") and _closing(text, 0) == len(text) - 1:
            text = text[1:-1].strip()
            changed = True
    return text


NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
"""Number words a whole answer may be written as ("\\text{five}")."""
_NUMBER_WORD = re.compile(r"(?:\\text\s*\{\s*)?(" + "|".join(NUMBER_WORDS) + r")\s*\}?", re.IGNORECASE)

_MAX_CLEAN_CHARS = 10_000  # longer "answers" are only ever compared as raw strings


# "\\frac" written with its backslash doubled (a string escaped twice) is still \frac; only
# outside environments, where "\\" is a row break.
_DOUBLED_BACKSLASH = re.compile(r"\\\\(?=[a-zA-Z])")
_ASCII_RELATIONS = ((re.compile(r">="), r"\\ge "), (re.compile(r"<="), r"\\le "), (re.compile(r"!="), r"\\ne "))
_RELATION_WORDS = re.compile(r"\\(lt|gt|leqslant|geqslant|neq|leq|geq)(?![a-zA-Z])")
_RELATION_OF_WORD = {
    "lt": "<",
    "gt": ">",
    "leqslant": r"\le ",
    "geqslant": r"\ge ",
    "neq": r"\ne ",
    "leq": r"\le ",
    "geq": r"\ge ",
}
# Every bracketed matrix is written one way: "[\begin{array}{cc}..\end{array}]", bmatrix and
# "(\begin{matrix}..\end{matrix})" are the pmatrix they display.
_BRACKETED_MATRIX = re.compile(r"^[\[(]\s*\\begin\{(array|matrix)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}\s*[\])]$", re.DOTALL)
_OTHER_MATRIX = re.compile(r"\\(begin|end)\{(?:bmatrix|Bmatrix)\}")
_REALS = re.compile(r"\\mathbb\s*\{?\s*R\s*\}?|\\R|\\text\{\s*all real numbers\s*\}|all real numbers", re.IGNORECASE)


def _relations(text: str) -> str:
    """``>=``, ``\\geq``, ``\\geqslant`` -> ``\\ge``; ``\\lt`` -> ``<``: one spelling per relation."""
    for pattern, repl in _ASCII_RELATIONS:
        text = pattern.sub(repl, text)
    return _RELATION_WORDS.sub(lambda m: _RELATION_OF_WORD[m.group(1)], text)


def _matrix(text: str) -> str:
    text = _OTHER_MATRIX.sub(lambda m: rf"\{m.group(1)}{{pmatrix}}", text)
    bracketed = _BRACKETED_MATRIX.fullmatch(text)
    return rf"\begin{{pmatrix}}{bracketed.group(2)}\end{{pmatrix}}" if bracketed else text


def clean(text: str) -> str:
    """Meaning-preserving clean-up of one answer (gold or prediction)."""
    if len(text) > _MAX_CLEAN_CHARS:
        return text
    if "\\begin" not in text:
        text = _DOUBLED_BACKSLASH.sub(r"\\", text)
    text = _unicode(text)
    text = _unwrap_math(text)
    text = text.replace(r"\$", "").replace("$", "")
    text = _ANSWER_PREFIX.sub("", text)
    text = _THIN_GROUPED.sub(lambda m: _THIN_ONE.sub("", m.group()), text)
    text = _DISPLAY_NOISE.sub("", text)
    text = _QUAD.sub(" ", text)
    text = _relations(_matrix(text.strip()))
    if _REALS.fullmatch(text.strip()):
        text = r"(-\infty, \infty)"
    text = _FRAC_VARIANTS.sub(r"\\frac", text)
    text = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", text)
    while trailing := _TRAILING_PUNCT.search(text, max(0, len(text) - 16)):
        text = text[: trailing.start()]
    if _PLAIN_GROUPED.fullmatch(text):
        text = text.replace(",", "").replace(" ", "")
    text = _SCI_E.sub(r"\1\\times 10^{\2}", text)
    text = _REPEATING.sub(_repeating, text)
    text = _MEMBERSHIP.sub("", text)
    if text_number := _TEXT_NUMBER.fullmatch(text):
        text = text_number.group(1).strip()
    if word := _NUMBER_WORD.fullmatch(text):
        text = NUMBER_WORDS[word.group(1).lower()]
    text = _EMPTY_SET.sub(r"\\emptyset", text)
    text = _SPACED_I.sub("i", text)
    units = _NUMBER_WITH_UNITS.fullmatch(text)
    return units.group(1) if units else text


# --- comparison helpers ------------------------------------------------------------------

_MC_WRAPPED = r"\\(?:text|textbf|mathrm|mathbf)\s*\{\s*\(?\s*([A-E])\s*\)?\s*\}"
_MC_LETTER = re.compile(rf"\s*(?:{_MC_WRAPPED}|\(\s*([A-E])\s*\)|([A-E])(?![A-Za-z0-9]))")
# After the letter: nothing, or a separator before the value ("(E) 12", "\textbf{(E)}\ 12").
_MC_REST = re.compile(r"$|[\s.:~]|\\[ ,;]|\\quad|\\text")
_MC_LABEL = re.compile(rf"\s*(?:{_MC_WRAPPED}|\(\s*([A-E])\s*\))(?:\s|\\[ ,;]|~|:)+")
_WRAPPER = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_SPACE_KEEP = re.compile(r"(?<=[A-Za-z0-9])\s+(?=[A-Za-z0-9])")
_ASSIGNMENT = re.compile(r"^\s*([a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?)\s*=\s*([^=<>]+)$")
_BASE_NUMERAL = re.compile(r"((?=[0-9A-Z]*\d)[0-9A-Z]+)(?:_\{?(\d{1,2})\}?)?")


def base_numeral(text: str) -> tuple[str, int | None] | None:
    """``52_8`` / ``4210_{5}`` -> (digits, base); plain digits -> (digits, None)."""
    m = _BASE_NUMERAL.fullmatch(text.replace(" ", ""))
    return (m.group(1).lstrip("0") or "0", int(m.group(2)) if m.group(2) else None) if m else None


def mc_letter(text: str) -> str | None:
    """The multiple-choice letter an answer names (``(A)``, ``\\textbf{(E)}\\ 12``, ``B``);
    None for anything else, including ``(C)+1`` or ``B2``."""
    m = _MC_LETTER.match(text)
    if not m or not _MC_REST.match(text, m.end()):
        return None
    return next(g for g in m.groups() if g)


def drop_mc_label(text: str) -> str:
    """``(E) 12`` -> ``12`` for a numeric gold: the label of a choice is not the answer."""
    m = _MC_LABEL.match(text)
    return text[m.end() :] if m and text[m.end() :].strip() else text


def _split_suffix(text: str, pattern: re.Pattern[str]) -> tuple[str, bool]:
    """Remove a trailing percent or degree mark; say whether there was one."""
    stripped = pattern.sub("", text)
    return (stripped, True) if stripped != text and stripped.strip() else (text, False)


def split_percent(text: str) -> tuple[str, bool]:
    return _split_suffix(text, _PERCENT)


def split_degrees(text: str) -> tuple[str, bool]:
    return _split_suffix(text, _DEGREE)


_COLUMN = re.compile(r"(-?)\s*\\begin\{([pbv]?matrix)\}(.*)\\end\{\2\}", re.DOTALL)


def column_vector(text: str) -> str | None:
    """``\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}`` -> ``(1, 2)`` (a leading minus negates
    every entry); None if not one column."""
    m = _COLUMN.fullmatch(text.strip())
    if not m or "&" in m.group(3):
        return None
    entries = [e.strip() for e in m.group(3).split("\\\\") if e.strip()]
    if m.group(1):
        entries = [f"-({e})" for e in entries]
    return "(" + ", ".join(entries) + ")" if len(entries) > 1 else None


def assignment(text: str) -> tuple[str, str] | None:
    """``x = 5`` -> ("x", "5"); None for anything that is not one simple assignment."""
    m = _ASSIGNMENT.match(text)
    return (m.group(1), m.group(2).strip()) if m and "," not in text else None


def canonical(text: str) -> str:
    """Whitespace- and wrapper-insensitive form used for the exact-match fast path."""
    for _ in range(3):
        unwrapped = _WRAPPER.sub(r"\1", text)
        if unwrapped == text:
            break
        text = unwrapped
    text = _relations(re.sub(r"\\[,;:]|\\quad|\\qquad|~", " ", text))
    text = _SPACE_KEEP.sub("\x00", text)
    return re.sub(r"\s+", "", text).replace("\x00", " ")


# --- exact numbers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A number read exactly; ``ulp`` (one unit in the last written place) marks decimals."""

    value: Fraction
    ulp: Fraction | None = None  # None for integers, fractions and mixed numbers
    significant: int = 0  # significant digits written (decimals only)


_DEC = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PLAIN = re.compile(rf"([+-]?)({_DEC})")
_FRAC = re.compile(rf"([+-]?)\\frac\{{([+-]?{_DEC})\}}\{{([+-]?{_DEC})\}}")
_SLASH = re.compile(r"([+-]?)(\d+)/(\d+)")
_MIXED = re.compile(r"([+-]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}")
_SCI = re.compile(rf"([+-]?)(?:({_DEC})(?:\\times|\\cdot|\*))?10\^\{{?([+-]?\d{{1,4}})\}}?")
_MAX_NUMBER_CHARS = 80


def _decimal(text: str, sign: str, exponent: int = 0) -> Number:
    scale = Fraction(10) ** exponent
    value = Fraction(text) * scale * (-1 if sign == "-" else 1)
    if "." not in text:
        return Number(value, scale if exponent else None, len(text.lstrip("0")) if exponent else 0)
    places = len(text.split(".")[1])
    return Number(value, scale / 10**places, len(text.replace(".", "").lstrip("0")))


def _ratio(sign: str, top: Fraction, bottom: Fraction) -> Number | None:
    return Number((-1 if sign == "-" else 1) * top / bottom) if bottom else None


def number(text: str) -> Number | None:
    """Read ``text`` as one exact number, or None when it is anything else.

    Accepts integers, decimals, ``\\frac{a}{b}``, ``a/b``, mixed numbers ``2\\frac{1}{2}``
    and scientific notation ``1.5\\times10^{-3}``; bounded in length so it stays cheap.
    """
    text = text.replace(" ", "")
    if not text or len(text) > _MAX_NUMBER_CHARS or not any(c.isdigit() for c in text):
        return None
    if m := _PLAIN.fullmatch(text):
        return _decimal(m.group(2), m.group(1))
    if m := _FRAC.fullmatch(text):
        return _ratio(m.group(1), Fraction(m.group(2)), Fraction(m.group(3)))
    if m := _SLASH.fullmatch(text):
        return _ratio(m.group(1), Fraction(m.group(2)), Fraction(m.group(3)))
    if m := _MIXED.fullmatch(text):
        whole, top, bottom = (int(g) for g in m.groups()[1:])
        if not 0 < top < bottom:
            return None  # 2\\frac{3}{2} is not a mixed number; let sympy read it
        return Number((-1 if m.group(1) == "-" else 1) * (whole + Fraction(top, bottom)))
    if m := _SCI.fullmatch(text):
        return _decimal(m.group(2) or "1", m.group(1), int(m.group(3)))
    return None


_MIN_SIGNIFICANT = 6
_MAX_ROUNDING_ULP = Fraction(1, 10**6)


def numbers_equal(gold: Number, pred: Number) -> bool:
    """Exact equality, plus one rounding rule.

    A decimal stands for a value it does not write exactly only when it shows at least six
    significant digits *and* six decimal places, and is within one unit of its last place
    (0.666667 for 2/3 passes; 0.6667 and 21.3333 for 64/3 do not: math-verify's six-place
    rounding rejects them too, and the paper's grader accepting them is a false accept). Two
    decimals must be equal: 1.24e-8 is not 1.2e-8, although both round to 0 at six places.
    """
    if gold.value == pred.value:
        return True
    decimal, exact = (pred, gold) if pred.ulp is not None else (gold, pred)
    if decimal.ulp is None or exact.ulp is not None:
        return False
    if decimal.significant < _MIN_SIGNIFICANT or decimal.ulp > _MAX_ROUNDING_ULP:
        return False
    return abs(decimal.value - exact.value) < decimal.ulp
