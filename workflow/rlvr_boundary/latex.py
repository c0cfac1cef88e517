"""Small LaTeX text helpers shared by the benchmark loaders and the verifiers."""

from __future__ import annotations

import re

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


def boxed_contents(text: str) -> list[str]:
    r"""Contents of every brace-balanced ``\boxed{...}`` / ``\fbox{...}``, in order.

    An unterminated box is ignored: a response cut off inside its answer has no answer.
    """
    found: list[str] = []
    for match in _BOXED.finditer(text):
        depth, start = 1, match.end()
        for pos in range(start, len(text)):
            char = text[pos]
            if char == "{" and text[pos - 1] != "\\":
                depth += 1
            elif char == "}" and text[pos - 1] != "\\":
                depth -= 1
                if depth == 0:
                    found.append(text[start:pos])
                    break
    return found


def last_boxed(text: str) -> str | None:
    r"""The last complete ``\boxed{...}`` content, or None (the paper's rule: the last box counts)."""
    boxes = boxed_contents(text)
    return boxes[-1] if boxes else None
