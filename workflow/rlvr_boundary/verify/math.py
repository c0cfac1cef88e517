"""Math answer verification: the public face (``verify``, ``verify_batch``, ``grade``).

A verdict goes through three stages:

1. extraction (``math_extract``): ``grader="ours"`` (marked answers, else the concluding
   sentence of a finished response), ``"strict"`` (marked answers only) or ``"paper"``
   (the paper repo's order, PAPER.md section 5). No answer found -> status ``no_answer``.
   A gold written as a worked solution is read for its boxed answer first (``gold_answer``).
2. clean-up (``math_normalize.clean``) of gold and extracted answer alike.
3. equivalence (``math_equiv.judge``): multiple-choice letters, exact strings, exact
   numbers, numeric rejection and shapes first; math-verify only for what is left.

A verdict's status is ``correct``, ``wrong``, ``no_answer``, ``timeout`` or ``error``
(``tables.MATH_STATUSES``). Batches are deduplicated twice: on (problem id or gold, extracted answer), then on the
cleaned pair, so one figure's 10^6 samples cost one check per distinct answer. Engine
checks run in ``math_pool`` workers whose every check is killed at ``timeout_s``.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from rlvr_boundary.verify import Verdict
from rlvr_boundary.verify.math_equiv import Deadline, judge, prime, soft_deadline
from rlvr_boundary.verify.math_extract import extract_ours, extract_paper, extract_strict, gold_answer
from rlvr_boundary.verify.math_normalize import clean
from rlvr_boundary.verify.math_pool import EnginePool, Outcome

Extractor = Callable[..., str | None]
"""``extractor(response, finished=...)``: the answer a response states, None if it states none."""
GRADERS: dict[str, Extractor] = {"ours": extract_ours, "strict": extract_strict, "paper": extract_paper}


def _verdict(correct: bool, extracted: str | None, status: str) -> Verdict:
    """A Verdict from a check's outcome: a completed check ("ok") is ``correct`` or ``wrong``."""
    if status == "ok":
        status = "correct" if correct else "wrong"
    return Verdict(correct, extracted, status)


@dataclass(frozen=True)
class BatchStats:
    """What a batch cost: rows, distinct (problem, answer) keys, distinct cleaned pairs,
    engine checks (the other pairs were settled by the fast paths), engine checks that
    timed out, distinct answers whose status is "error", and the slowest single check in
    seconds (fast path or engine: the per-answer p100)."""

    rows: int
    unique_answers: int
    unique_pairs: int
    engine_checks: int
    timeouts: int
    errors: int
    max_check_s: float


def _text(value: object) -> str:
    """Any cell as valid UTF-8 text: None -> "", bytes decoded, lone surrogates replaced."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text


def _check_grader(grader: str) -> Extractor:
    if grader not in GRADERS:
        raise ValueError(f"grader must be one of {sorted(GRADERS)}, got {grader!r}")
    return GRADERS[grader]


def _extract(extractor: Extractor, response: object, finished: bool) -> tuple[str | None, str]:
    """(extracted answer, status so far): "ok" to be judged, or no_answer / error."""
    try:
        found = extractor(_text(response), finished=finished)
    except Exception:  # a pathological response costs its own verdict only
        return None, "error"
    return (_text(found), "ok") if found is not None else (None, "no_answer")


def _gold(gold: object) -> str:
    return gold_answer(_text(gold))


def verify(response: str, gold: str, *, grader: str = "ours", timeout_s: float = 5.0, finished: bool = True) -> Verdict:
    """Grade one response in this process; ``finished=False`` marks a response cut off at the
    token limit (grader "ours" then reads no unmarked answer from it).

    The engine runs under a float interval timer (``timeout_s``) when called from the main
    thread; inputs that could block inside C code are screened out beforehand. For a hard
    guarantee on untrusted batches use ``verify_batch`` (killable worker processes).
    """
    extracted, status = _extract(_check_grader(grader), response, finished)
    if status != "ok":
        return _verdict(False, extracted, status)
    try:
        pair = clean(_gold(gold)), clean(extracted)
    except Exception:
        return _verdict(False, extracted, "error")
    outcome = _quick_outcome(*pair) or _judge_here(*pair, timeout_s)
    return _verdict(outcome.correct, extracted, outcome.status)


def _judge_here(gold_clean: str, pred_clean: str, timeout_s: float) -> Outcome:
    """The engine on one cleaned pair in this process, under the soft deadline."""
    start = time.perf_counter()
    try:
        with soft_deadline(timeout_s):
            correct, status = bool(judge(gold_clean, pred_clean, engine=True)), "ok"
    except Deadline:
        correct, status = False, "timeout"
    except Exception:
        correct, status = False, "error"
    return Outcome(correct, status, time.perf_counter() - start)


def _quick_outcome(gold_clean: str, pred_clean: str) -> Outcome | None:
    """The fast paths' verdict on one cleaned pair, None when the engine must decide."""
    start = time.perf_counter()
    try:
        correct = judge(gold_clean, pred_clean, engine=False) if gold_clean else False
    except Exception:
        return Outcome(False, "error", time.perf_counter() - start)
    if correct is None:
        return None
    return Outcome(correct, "ok" if gold_clean else "error", time.perf_counter() - start)


class _Batch:
    """Rows reduced to distinct (problem, extracted answer) keys, then graded per key."""

    def __init__(self, grader: str) -> None:
        self._extractor = _check_grader(grader)
        self._index: dict[tuple[str, str | None], int] = {}
        self._golds: list[str] = []
        self._extracted: list[str | None] = []
        self._status: list[str] = []
        self.rows = 0

    def add(self, response: object, gold: object, problem: object | None, finished: bool) -> int:
        """Extract one row's answer; return its key number."""
        self.rows += 1
        extracted, status = _extract(self._extractor, response, finished)
        gold_text = _gold(gold)
        key = (gold_text if problem is None else f"\x00{problem}", extracted if status == "ok" else status)
        number = self._index.get(key)
        if number is None:
            number = self._index[key] = len(self._golds)
            self._golds.append(gold_text)
            self._extracted.append(extracted)
            self._status.append(status)
        return number

    def grade(self, *, timeout_s: float, workers: int) -> tuple[list[Verdict], BatchStats]:
        """One verdict per key: fast paths here, the rest in ``workers`` processes (0: here)."""
        pair_of_key: list[int | None] = []
        pairs: dict[tuple[str, str], int] = {}
        for key, (gold, extracted) in enumerate(zip(self._golds, self._extracted, strict=True)):
            pair = None
            if self._status[key] == "ok":
                try:
                    pair = (clean(gold), clean(extracted))
                except Exception:
                    self._status[key] = "error"
            pair_of_key.append(None if pair is None else pairs.setdefault(pair, len(pairs)))
        outcomes: list[Outcome | None] = [None] * len(pairs)
        pending: list[tuple[int, tuple[str, str]]] = []
        for pair, number in pairs.items():
            outcomes[number] = _quick_outcome(*pair)
            if outcomes[number] is None:
                pending.append((number, pair))
        engine_outcomes = self._engine([pair for _, pair in pending], timeout_s, workers)
        for (number, _), outcome in zip(pending, engine_outcomes, strict=True):
            outcomes[number] = outcome
        verdicts = [
            _verdict(False, extracted, status)
            if pair is None
            else _verdict(outcomes[pair].correct, extracted, outcomes[pair].status)
            for pair, extracted, status in zip(pair_of_key, self._extracted, self._status, strict=True)
        ]
        engine = [outcomes[number] for number, _ in pending]
        checked = [o for o in outcomes if o is not None]
        stats = BatchStats(
            rows=self.rows,
            unique_answers=len(verdicts),
            unique_pairs=len(pairs),
            engine_checks=len(pending),
            timeouts=sum(o.status == "timeout" for o in engine),
            errors=sum(v.status == "error" for v in verdicts),
            max_check_s=max((o.seconds for o in checked), default=0.0),
        )
        return verdicts, stats

    @staticmethod
    def _engine(pairs: list[tuple[str, str]], timeout_s: float, workers: int) -> list[Outcome]:
        if not pairs:
            return []
        if workers <= 0:
            return [_judge_here(g, p, timeout_s) for g, p in pairs]
        prime((gold for gold, _ in pairs), timeout_s)
        with EnginePool(partial(judge, engine=True), workers=workers, timeout_s=timeout_s) as pool:
            return pool.run(pairs)


def grade(
    responses: Sequence[str],
    golds: Sequence[str],
    *,
    grader: str = "ours",
    timeout_s: float = 5.0,
    workers: int = 2,
    problem_ids: Sequence[str] | None = None,
    finished: Sequence[bool] | None = None,
) -> tuple[list[Verdict], BatchStats]:
    """Grade many responses and say what it cost; each distinct (problem id or gold,
    answer) is checked once, and rows sharing a key share one Verdict.

    ``workers`` processes run the sympy checks, each killed at ``timeout_s`` (0 = run them
    in this process under the soft timer only). ``finished`` (default: all) says which
    responses ended by themselves rather than at the token limit.
    """
    for name, column in (("problem_ids", problem_ids), ("finished", finished)):
        if column is not None and len(column) != len(golds):
            raise ValueError(f"responses, golds and {name} must have the same length")
    if len(responses) != len(golds):
        raise ValueError("responses and golds must have the same length")
    problems: Iterable[object | None] = problem_ids if problem_ids is not None else [None] * len(golds)
    ended: Iterable[bool] = finished if finished is not None else [True] * len(golds)
    batch = _Batch(grader)
    keys = array("I", (batch.add(*row) for row in zip(responses, golds, problems, ended, strict=True)))
    verdicts, stats = batch.grade(timeout_s=timeout_s, workers=workers)
    return [verdicts[k] for k in keys], stats


def verify_batch(
    responses: Sequence[str],
    golds: Sequence[str],
    *,
    grader: str = "ours",
    timeout_s: float = 5.0,
    workers: int = 2,
    problem_ids: Sequence[str] | None = None,
    finished: Sequence[bool] | None = None,
) -> list[Verdict]:
    """``grade`` without the cost report: one Verdict per response."""
    return grade(
        responses,
        golds,
        grader=grader,
        timeout_s=timeout_s,
        workers=workers,
        problem_ids=problem_ids,
        finished=finished,
    )[0]
