"""Verifiers: judge sampled responses against a benchmark's ground truth.

Both kinds return the one ``Verdict``; their status words are ``tables.MATH_STATUSES`` and
``tables.CODE_STATUSES`` (the verdicts table's vocabulary).
"""

from __future__ import annotations

from dataclasses import dataclass

from rlvr_boundary.tables import PASSING_STATUSES, VERDICT_STATUSES

_ALL_STATUSES = frozenset(word for words in VERDICT_STATUSES.values() for word in words)


@dataclass(frozen=True)
class Verdict:
    """One judged sample: ``correct`` iff ``status`` is ``correct`` (math) or ``passed`` (code).

    ``extracted`` is the answer as written (math) or the program that ran (code), None when
    nothing was found; ``detail`` says, for code, how the program was found and why it failed.
    """

    correct: bool
    extracted: str | None
    status: str
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.status not in _ALL_STATUSES:
            raise ValueError(f"unknown verdict status {self.status!r}")
        if self.correct != (self.status in PASSING_STATUSES):
            raise ValueError(f"verdict status {self.status!r} contradicts correct={self.correct}")
