"""Numeric value of a constant LaTeX expression, without sympy.

``value("\\frac{3\\sqrt{3}}{4}")`` -> 1.299..., ``value("18+2\\pi")``, ``value("1-2i")``.
A strict recursive-descent reader of a small grammar: numbers, ``+ - \\cdot \\times * /
\\div``, implicit products, ``\\frac{}{}``, ``\\sqrt{}``/``\\sqrt[n]{}``, ``\\pi``, the
imaginary unit ``i``, parentheses/braces, integer powers and (on request) one-letter
variables. Anything else (a function, ``e``, a digit directly before ``\\frac`` — which may
be a mixed number) makes it return None, so a misreading cannot happen silently; the
caller then asks sympy.

Why: comparing two such values is microseconds, where parsing them with latex2sympy and
running math-verify costs tens of milliseconds, and most wrong answers are constants.
"""

from __future__ import annotations

import cmath
import re

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?|\.\d+)|(?P<cmd>\\[a-zA-Z]+)|(?P<sym>[-+*/^(){}\[\]])"
    r"|(?P<imag>i)|(?P<var>[a-df-hj-zA-DF-Z]))"
)
# A fixed, unremarkable positive value per letter (never e or i: those are constants).
_LETTERS = "abcdfghjklmnopqrstuvwxyzABCDFGHIJKLMNOPQRSTUVWXYZ"
_LETTER_VALUES = {c: 1.1 + 0.0731 * k + 0.00017 * k * k for k, c in enumerate(_LETTERS)}
_MAX_EXPONENT = 400  # larger powers overflow a float anyway (and then read as unsupported)
_PRODUCT = {"\\cdot", "\\times"}
_PRIMARY_START = {"num", "var", "(", "{", "\\frac", "\\sqrt", "\\pi", "i"}


class _Unsupported(Exception):
    """The text is outside the grammar: the caller must not trust any value."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _Unsupported
        kind = m.lastgroup
        out.append((kind, m.group(kind)) if kind in ("num", "var") else (m.group(kind), m.group(kind)))
        pos = m.end()
    return out


class _Reader:
    def __init__(self, tokens: list[tuple[str, str]], letters: bool) -> None:
        self.tokens = tokens
        self.letters = letters
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens) or (expected and self.tokens[self.pos][0] != expected):
            raise _Unsupported
        self.pos += 1
        return self.tokens[self.pos - 1]

    def expr(self) -> complex:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take()[0] == "+" else value - self.term()
        return value

    def term(self) -> complex:
        value = self.unary()
        while True:
            kind = self.peek()
            if kind in _PRODUCT or kind == "*":
                self.take()
                value *= self.unary()
            elif kind in ("/", "\\div"):
                self.take()
                divisor = self.unary()
                if divisor == 0 or self.peek() in _PRIMARY_START:
                    raise _Unsupported  # "1/2\pi": (1/2)pi or 1/(2pi)? not ours to guess
                value /= divisor
            elif kind in _PRIMARY_START:
                if kind in ("num", "\\frac") and self.tokens[self.pos - 1][0] == "num":
                    raise _Unsupported  # "2 3" or "2\frac{1}{2}" (mixed number?)
                value *= self.power()
            else:
                return value

    def unary(self) -> complex:
        if self.peek() in ("-", "+"):
            return -self.unary() if self.take()[0] == "-" else self.unary()
        return self.power()

    def power(self) -> complex:
        base = self.primary()
        if self.peek() != "^":
            return base
        self.take()
        exponent = self.group() if self.peek() == "{" else self.digit()
        if exponent.imag or abs(exponent) > _MAX_EXPONENT or exponent != int(exponent.real):
            raise _Unsupported
        if base == 0 and exponent.real < 0:
            raise _Unsupported
        return base ** int(exponent.real)

    def digit(self) -> complex:
        """``\\sqrt2``: without braces a command takes one character, so ``\\sqrt12`` is
        ``\\sqrt{1}2``; only the unambiguous single digit is read."""
        text = self.take("num")[1]
        if len(text) != 1:
            raise _Unsupported
        return complex(float(text))

    def group(self) -> complex:
        self.take("{")
        value = self.expr()
        self.take("}")
        return value

    def primary(self) -> complex:
        kind, text = self.take()
        if kind == "num":
            return complex(float(text))
        if kind == "\\pi":
            return complex(cmath.pi)
        if kind == "i":
            return 1j
        if kind == "var" and self.letters:
            return complex(_LETTER_VALUES[text])
        if kind in ("(", "{"):
            value = self.expr()
            self.take(")" if kind == "(" else "}")
            return value
        if kind == "\\frac":
            top, bottom = self.group(), self.group()
            if bottom == 0:
                raise _Unsupported
            return top / bottom
        if kind == "\\sqrt":
            degree = 2.0
            if self.peek() == "[":
                self.take("[")
                degree = self.expr().real
                self.take("]")
            radicand = self.group() if self.peek() == "{" else self.digit()
            if radicand.imag or radicand.real < 0 or degree not in (2.0, 3.0, 4.0, 5.0):
                raise _Unsupported
            return complex(radicand.real ** (1 / degree))
        raise _Unsupported


def value(text: str, *, letters: bool = False) -> complex | None:
    """The value of a constant expression, or None when ``text`` is not one (see module).

    ``letters=True`` also reads single-letter variables, each at one fixed value: two
    expressions whose values then differ are different expressions (the converse does not
    hold, so such a value may only be used to tell answers apart, never to match them).
    """
    if len(text) > 200:
        return None
    try:
        reader = _Reader(_tokens(text), letters)
        result = reader.expr()
        if reader.pos != len(reader.tokens):
            return None
    except (_Unsupported, OverflowError, ValueError, ZeroDivisionError):
        return None
    return result if cmath.isfinite(result) else None
