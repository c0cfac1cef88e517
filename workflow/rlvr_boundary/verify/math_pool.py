"""Worker processes for engine checks, each check bounded by a hard deadline.

Why not ``concurrent.futures``: a future cannot be cancelled once running, and sympy can
sit inside one C call (a huge integer power) where no signal handler runs. Here every
worker handles one check at a time; the parent waits on the pipes and, when a check
outlives ``timeout_s``, kills that worker (SIGKILL) and starts a fresh one. Inside the
worker a float interval timer (``soft_deadline``, 80% of the budget) ends ordinary slow
checks without the cost of a restart; the kill comes at 90%, so no check outlives its
budget. math-verify's own SIGALRM timeouts work in whole seconds only, so they are off.

Workers are forked: the parent has already imported sympy (and parsed the golds, see
``math_equiv.prime``), so a start costs milliseconds. They only run pure-Python sympy
code, never the parent's threads (polars, pyarrow), which is what makes forking safe.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

from rlvr_boundary.verify.math_equiv import Deadline, soft_deadline

Check = Callable[[str, str], bool]
SOFT_SHARE = 0.8  # of timeout_s, spent before the worker gives up by itself
HARD_SHARE = 0.9  # of timeout_s, after which the parent kills the worker


@dataclass(frozen=True)
class Outcome:
    """Result of one check: ``status`` is "ok", "timeout" or "error"; ``seconds`` wall time."""

    correct: bool
    status: str
    seconds: float


def _worker(conn: Connection, check: Check, soft_s: float) -> None:
    while (task := conn.recv()) is not None:
        gold, pred = task
        start = time.perf_counter()
        try:
            with soft_deadline(soft_s):
                correct, status = check(gold, pred), "ok"
        except Deadline:
            correct, status = False, "timeout"
        except Exception:  # a parser bug must cost one answer, not the batch
            correct, status = False, "error"
        conn.send((correct, status, time.perf_counter() - start))


@dataclass
class _Slot:
    process: mp.process.BaseProcess
    conn: Connection
    task: int | None = None
    started: float = 0.0


class EnginePool:
    """``workers`` forked processes running ``check``; use as a context manager."""

    def __init__(self, check: Check, *, workers: int, timeout_s: float) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._check = check
        self._timeout_s = timeout_s
        self._workers = workers
        self._ctx = mp.get_context("fork")
        self._slots: list[_Slot] = []

    def __enter__(self) -> EnginePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self) -> _Slot:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker, args=(child, self._check, self._timeout_s * SOFT_SHARE), daemon=True
        )
        process.start()
        child.close()
        return _Slot(process, parent)

    def _kill(self, slot: _Slot) -> None:
        slot.process.kill()
        slot.process.join()
        slot.conn.close()

    def close(self) -> None:
        for slot in self._slots:
            if slot.task is None and slot.process.is_alive():
                slot.conn.send(None)
                slot.process.join(timeout=1)
            if slot.process.is_alive():
                self._kill(slot)
            slot.conn.close()
        self._slots = []

    def run(self, tasks: Sequence[tuple[str, str]]) -> list[Outcome]:
        """Run every (gold, prediction) check; outcomes in task order."""
        results: list[Outcome | None] = [None] * len(tasks)
        queue = deque(range(len(tasks)))
        while len(self._slots) < min(self._workers, len(tasks)):
            self._slots.append(self._spawn())

        def feed(slot: _Slot) -> None:
            slot.task = queue.popleft() if queue else None
            if slot.task is not None:
                slot.started = time.perf_counter()
                slot.conn.send(tasks[slot.task])

        for slot in self._slots:
            feed(slot)
        hard_s = self._timeout_s * HARD_SHARE
        while busy := [s for s in self._slots if s.task is not None]:
            first_deadline = min(s.started for s in busy) + hard_s
            ready = wait([s.conn for s in busy], timeout=max(0.0, first_deadline - time.perf_counter()))
            for slot in busy:
                if slot.conn in ready:
                    try:
                        correct, status, _ = slot.conn.recv()
                        results[slot.task] = Outcome(correct, status, time.perf_counter() - slot.started)
                    except (EOFError, OSError):  # the worker died (e.g. out of memory)
                        results[slot.task] = Outcome(False, "error", time.perf_counter() - slot.started)
                        self._replace(slot)
                elif time.perf_counter() - slot.started >= hard_s:
                    results[slot.task] = Outcome(False, "timeout", time.perf_counter() - slot.started)
                    self._replace(slot)
                else:
                    continue
                feed(slot)
        done = [r for r in results if r is not None]
        if len(done) != len(tasks):
            raise RuntimeError("engine pool lost a task")
        return done

    def _replace(self, slot: _Slot) -> None:
        self._kill(slot)
        fresh = self._spawn()
        slot.process, slot.conn, slot.task = fresh.process, fresh.conn, None
