"""Verify generated programs against HumanEval+/MBPP+ (evalplus) and LiveCodeBench tests.

A *task* is one row of a prepared benchmark table (:mod:`rlvr_boundary.code_benchmarks`),
as a mapping. Its ``test_mode`` says how it is judged:

* ``evalplus`` -- call ``entry_point`` on every base and plus input; the output must equal
  the canonical solution's output (computed beforehand in the sandbox), with evalplus's
  rules: float tolerance ``atol`` (1e-6 when 0 and the expected value is float), its special
  oracles (HumanEval/32, Mbpp 164/295/558/581, set-equality and not-None tasks), per-input
  time limit max(1 s, 4 x the canonical time), stop at the first failure.
* ``lcb_functional`` -- LiveCodeBench LeetCode problems: LCB's import prelude, one
  ``Solution()`` instance, inputs one JSON value per line, tuples compared as lists, exact
  ``==`` (LCB's ``grade_call_based``), 6 s per test.
* ``lcb_stdin`` -- the program runs as ``__main__`` with each test's input on stdin; stdout
  is compared line by line after stripping, falling back to exact decimal comparison of the
  tokens (LCB's ``grade_stdio``), 6 s per test. ``SystemExit`` ends a run normally, as LCB
  swallows it.

Every program runs in :mod:`rlvr_boundary.sandbox`; the comparison happens here, outside,
so expected outputs never reach the program. A sample passes only if every test passes.

Time limits are CPU seconds of the call (evalplus and LCB use the same numbers as wall
seconds): on a loaded or shared node a correct program must not turn into a time-out, and
verdicts should not depend on what else runs. A wall-clock backstop of 3x the limit (and a
cap on the whole sample) still ends programs that sleep or block.

Differences from the reference harnesses, all deliberate:
* values cross the sandbox boundary through a type-preserving codec, so an object with a
  custom ``__eq__`` cannot pass (evalplus would call its ``__eq__``); numpy scalars compare
  as Python numbers;
* special oracles use the original inputs, not inputs the program may have mutated;
* evalplus marks HumanEval/32 (``find_zero``) as failed for every program (its oracle
  branch ``continue``s before counting the input, so the per-input count never matches);
  we apply the intended oracle, so a correct ``find_zero`` passes;
* LCB stdin programs run as real scripts (not wrapped in a function), so ``global`` at top
  level works as it does for a judge; ``sys.stdin.readline`` keeps its newline;
* a single result larger than 64 MiB (marshalled) is compared by an exact, type-strict
  digest instead of ``==`` (only MBPP+ 255 has such an expected output).
"""

from __future__ import annotations

import functools
import json
import math
import multiprocessing
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from rlvr_boundary import sandbox
from rlvr_boundary.progress import Progress
from rlvr_boundary.tables import CODE_STATUSES
from rlvr_boundary.verify import Verdict, code_runner

__all__ = [
    "CODE_PREFILL",
    "LCB_IMPORT_PRELUDE",
    "STATUSES",
    "Verdict",
    "canonical_outputs",
    "extract_program",
    "verify",
    "verify_batch",
]

CODE_PREFILL = "```python"
"""The assistant prefill both code prompts end with (paper Figs. 24, 25): responses continue it."""

STATUSES = tuple(CODE_STATUSES)

LCB_IMPORT_PRELUDE = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\n"
    "from random import *\nfrom statistics import *\nfrom itertools import *\nfrom functools import *\n"
    "from operator import *\nfrom io import *\nfrom sys import *\nfrom json import *\n"
    "from builtins import *\nfrom typing import *\nimport string\nimport re\nimport datetime\n"
    "import collections\nimport heapq\nimport bisect\nimport copy\nimport math\nimport random\n"
    "import statistics\nimport itertools\nimport functools\nimport operator\nimport io\nimport sys\n"
    "import json\nsys.setrecursionlimit(50000)\n"
)
"""LiveCodeBench's ``import_string`` (lcb_runner/evaluation/testing_util.py), prepended to
every program: LeetCode starter code uses ``List`` etc. without importing them."""

LCB_TIME_LIMIT_S = 6.0
"""LiveCodeBench's default per-test timeout (``--timeout 6``)."""
EVALPLUS_MIN_TIME_LIMIT_S = 1.0
EVALPLUS_TIME_FACTOR = 4.0
EVALPLUS_SEGMENT_CAP_S = 60.0
"""evalplus caps each of the base and plus runs at min(60 s, sum of limits) + 2 s."""
STARTUP_S = 10.0
"""Time for the interpreter to start and the program's top level to run."""
MAX_SAMPLE_S = 300.0
"""Hard cap on one sample's whole run (all tests)."""
TRANSFER_BYTES_PER_S = 5e6
"""Wall-clock allowance for moving results out of the sandbox and decoding them, per byte of
the task's tests (evalplus compares in-process; MBPP+ 255 ships ~250 MB of results)."""
RECORD_BYTES = 2 << 30
"""Cap on result bytes per run: HumanEval+ 15 and 130 legitimately return ~150 MB in total."""

_RUNNER_SOURCE = Path(code_runner.__file__).read_bytes()
_MBPP_SET_EQ = {
    "similar_elements",
    "find_char_long",
    "common_in_nested_lists",
    "extract_singly",
    "larg_nnum",
    "intersection_array",
    "find_dissimilar",
    "Diff",
}
_MBPP_NOT_NONE = {"check_str", "text_match_three", "text_starta_endb"}


# --------------------------------------------------------------------------------------
# extraction

_FENCE = re.compile(r"^[ \t]*```+[ \t]*([\w+#.-]*)[ \t]*$")


def _blocks(text: str) -> list[tuple[str, bool]]:
    """Fenced blocks of ``text`` as ``(code, terminated)``, in order.

    An opening fence is a line of backticks with an optional language tag; the block ends
    at the next fence line. A second opening fence right after an opening one (a model that
    repeats the prefilled "```python") does not end the still-empty block.
    """
    blocks: list[tuple[str, bool]] = []
    current: list[str] | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if current is None:
            if match:
                current = []
            continue
        if match:
            if match.group(1) and not "".join(current).strip():
                current = []
                continue
            blocks.append(("\n".join(current), True))
            current = None
        else:
            current.append(line)
    if current is not None:
        blocks.append(("\n".join(current), False))
    return blocks


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def extract_program(
    response: str, *, prefill: str = CODE_PREFILL, entry_point: str | None = None
) -> tuple[str | None, str]:
    """The program in a response, and how it was found.

    The response is read as the continuation of ``prefill`` (the prompt's trailing
    "```python"), so a plain continuation is an open fenced block. Reasoning before the last
    ``</think>`` is ignored (its drafts are not the answer). Among the fenced blocks, the
    last one that defines ``entry_point`` wins (so a trailing "example usage" block does not
    replace the solution), else the last non-empty block; an unterminated final block
    (generation cut off) counts. Without any fence the whole text is the program
    (``unfenced``). Returns ``(None, "none")`` when nothing non-blank remains.
    """
    text = response.rsplit("</think>", 1)[1] if "</think>" in response else prefill + response
    blocks = [(code, done) for code, done in _blocks(text) if code.strip()]
    if blocks:
        chosen = blocks[-1]
        if entry_point:
            defining = [b for b in blocks if _defines(b[0], entry_point)]
            chosen = defining[-1] if defining else chosen
        code, terminated = chosen
        return code.strip("\n") + "\n", "fenced" if terminated else "unterminated"
    if "```" in text or not text.strip():
        return None, "none"
    return text.strip("\n") + "\n", "unfenced"


# --------------------------------------------------------------------------------------
# comparison rules


def _is_floats(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, (list, tuple)) and value:
        return all(isinstance(v, float) for v in value)
    return False


def _poly(xs: list, x: float) -> float:
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _surface_area(base_edge: float, height: float) -> float:
    slant_height = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)


def _digit_distance_nums(num1: int, num2: int) -> int:
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width), strict=True))


class _Huge:
    """A result too large to ship (see ``code_runner.BIG_VALUE_BYTES``), known by its digest.

    It equals another huge result with the same digest, or a shipped value whose marshal
    digest matches; it is not None, not a bool and supports no arithmetic, so evalplus's
    oracles and tolerance checks simply fail on it.
    """

    __slots__ = ("digest",)

    def __init__(self, digest: str | None):
        self.digest = digest

    def __eq__(self, other: object) -> bool:
        if self.digest is None:
            return False
        if isinstance(other, _Huge):
            return other.digest == self.digest
        return code_runner.digest(other) == self.digest

    __hash__ = None  # type: ignore[assignment]


def _decode_result(value: Any) -> Any:
    """A decoded expected output, ready for comparison (a stored digest stands for a huge one)."""
    if isinstance(value, dict) and set(value) == {"$digest"}:
        return _Huge(value["$digest"])
    return value


def _event_value(event: dict) -> Any:
    """A result frame's value (frames are parsed with ``code_runner.decode``)."""
    return _Huge(event.get("digest")) if "digest" in event else event.get("value")


class _Atol:
    """evalplus's ``atol`` variable: once bumped to 1e-6 it stays for the rest of a segment."""

    def __init__(self, value: float):
        self.value = value


def _evalplus_match(dataset: str, entry_point: str, args: list, out: Any, exp: Any, atol: _Atol) -> bool:
    """One input's check, as in evalplus 0.3.1 ``unsafe_execute`` (any exception = fail)."""
    import numpy as np

    try:
        exact = out == exp
        if dataset == "mbpp":
            if entry_point == "are_equivalent":
                exact = True
            elif entry_point == "sum_div":
                exact = exact or out == 0
            elif entry_point == "surface_Area":
                exact = exact or abs(out - _surface_area(*args)) <= atol.value
            elif entry_point == "digit_distance_nums":
                exact = exact or out == _digit_distance_nums(*args)
            elif entry_point in _MBPP_SET_EQ:
                exact = set(out) == set(exp)
            elif entry_point in _MBPP_NOT_NONE:
                exact = out == exp if isinstance(out, bool) else exp == (out is not None)
        if dataset == "humaneval" and entry_point == "find_zero":
            return bool(abs(_poly(*args, out)) <= atol.value)
        if atol.value == 0 and _is_floats(exp):
            atol.value = 1e-6
        if not exact and atol.value != 0:
            if type(out) is not type(exp):
                return False
            if isinstance(exp, (list, tuple)) and len(out) != len(exp):
                return False
            return bool(np.allclose(out, exp, rtol=1e-07, atol=atol.value))
        return bool(exact)
    except Exception:
        return False


def _lcb_stdout_match(output: str, expected: str) -> bool:
    """LCB ``grade_stdio``: stripped lines equal, or equal as sequences of Decimals."""
    got = [line.strip() for line in output.strip().split("\n")]
    want = [line.strip() for line in expected.strip().split("\n")]
    if len(got) != len(want):
        return False
    for a, b in zip(got, want, strict=True):
        if a == b:
            continue
        try:
            if [Decimal(t) for t in a.split()] != [Decimal(t) for t in b.split()]:
                return False
        except (InvalidOperation, ValueError):
            return False
    return True


# --------------------------------------------------------------------------------------
# judging a run


class _Judge:
    """Consumes the runner's frames in order and decides the verdict as early as possible.

    The frames come from inside the sandbox and are treated as untrusted data: anything
    malformed or out of order is a failure, and a pass needs one matching result for
    every test, in order, each within its CPU-time limit.
    """

    def __init__(self, check: Any, limits: list[float]):
        self.check = check
        self.limits = limits
        self.n_tests = len(limits)
        self.ready = False
        self.passed = 0
        self.status: str | None = None
        self.detail = ""

    def _end(self, status: str, detail: str) -> bool:
        self.status, self.detail = status, detail[:500]
        return False

    def __call__(self, frame: bytes) -> bool:
        try:
            event = code_runner.decode(frame)
        except (ValueError, TypeError, RecursionError):
            return self._end("failed", "malformed result record")
        if isinstance(event, list):
            return self._rows(event)
        if not isinstance(event, dict):
            return self._end("failed", "malformed result record")
        kind = event.get("ev")
        if kind == "ready" and not self.ready:
            self.ready = True
            return self.n_tests > 0 or self._end("passed", "no tests")
        if kind == "load_error":
            return self._end("runtime_error", f"loading the program: {event.get('error')}")
        if kind == "done":
            return self._end("runtime_error", f"ended after {self.passed}/{self.n_tests} tests")
        where = f"test {self.passed + 1}/{self.n_tests}" if self.ready else "loading the program"
        if kind == "timeout":
            return self._end("timeout", f"{where}: {event.get('detail') or 'exceeded its time limit'}")
        if kind == "died":
            return self._end("runtime_error", f"{where}: program ended early ({event.get('detail')})")
        if event.get("i") != self.passed or not self.ready:
            return self._end("failed", "result records out of order")
        if kind == "raise":
            return self._end("runtime_error", f"{where}: {event.get('error')}")
        if kind not in ("out", "run"):
            return self._end("failed", f"unexpected record {kind!r}")
        return self._result(event)

    def _rows(self, frame: list) -> bool:
        """A batch of ``out`` results (``["outs", first_i, n, [[value, t, cpu], ...]]``)."""
        if len(frame) != 4 or frame[0] != "outs" or not isinstance(frame[3], list) or frame[2] != len(frame[3]):
            return self._end("failed", "malformed result record")
        if frame[1] != self.passed or not self.ready:
            return self._end("failed", "result records out of order")
        for row in frame[3]:
            if not isinstance(row, list) or len(row) != 3:
                return self._end("failed", "malformed result record")
            if not self._result({"ev": "out", "value": row[0], "t": row[1], "cpu": row[2]}):
                return False
        return True

    def _result(self, event: dict) -> bool:
        """One result for the next test: within its CPU limit and matching, or the end."""
        cpu = event.get("cpu")
        if not isinstance(cpu, (int, float)) or cpu > self.limits[self.passed]:
            where = f"test {self.passed + 1}/{self.n_tests}"
            return self._end("timeout", f"{where} used {cpu} s of CPU (limit {self.limits[self.passed]:.2f} s)")
        ok, why = self.check(self.passed, event)
        if not ok:
            return self._end(*why)
        self.passed += 1
        if self.passed == self.n_tests:
            return self._end("passed", "")
        return True


@dataclass(frozen=True)
class _Plan:
    """Everything needed to run and judge one task, derived once from its row."""

    job: dict
    check: Any
    limits: list[float]
    wall_s: float


@functools.lru_cache(maxsize=4)
def _evalplus_tests(tests_json: str, problem_id: str) -> tuple[dict, list, list]:
    """Parsed tests, deserialised inputs and decoded expected outputs of one task.

    Cached: the samples of a task share its row, and a few tasks carry ~150 MB of expected
    output (HumanEval+ 15, 130) that should be parsed once per process, not per sample.
    """
    tests = code_runner.decode(tests_json)  # one pass: prepare guarantees the inputs hold no tags
    fmt = "mbpp" if tests["dataset"] == "mbpp" else "json_args"
    args = code_runner.deserialize_inputs(fmt, problem_id, tests["inputs"])
    return tests, args, [_decode_result(v) for v in tests["expected"]]


def _evalplus_plan(task: Mapping[str, Any], program: str, timeout_s: float | None) -> _Plan:
    tests, args, expected = _evalplus_tests(task["tests"], task["problem_id"])
    dataset = tests["dataset"]
    entry_point = task["entry_point"]
    fmt = "mbpp" if dataset == "mbpp" else "json_args"
    inputs = tests["inputs"]
    n_base = tests["n_base"]
    if timeout_s is None:
        limits = [max(EVALPLUS_MIN_TIME_LIMIT_S, EVALPLUS_TIME_FACTOR * t) for t in tests["ref_time"]]
    else:
        limits = [timeout_s] * len(inputs)
    segments = (limits[:n_base], limits[n_base:])
    wall = STARTUP_S + sum(
        min(EVALPLUS_SEGMENT_CAP_S, code_runner.WALL_FACTOR * sum(seg)) + 2.0 for seg in segments if seg
    )
    wall += len(task["tests"]) / TRANSFER_BYTES_PER_S
    atols = (_Atol(float(tests["atol"])), _Atol(float(tests["atol"])))

    def check(i: int, event: dict) -> tuple[bool, tuple[str, str]]:
        out = _event_value(event)
        atol = atols[0] if i < n_base else atols[1]
        if _evalplus_match(dataset, entry_point, args[i], out, expected[i], atol):
            return True, ("", "")
        part = "base" if i < n_base else "plus"
        return False, ("failed", f"wrong output on {part} input {i + 1}/{len(inputs)}")

    job = {
        "kind": "call",
        "source": program,
        "entry_point": entry_point,
        "input_format": fmt,
        "task_id": task["problem_id"],
        "inputs": inputs,
        "time_limits": limits,
        "startup_s": STARTUP_S,
    }
    return _Plan(job=job, check=check, limits=limits, wall_s=min(wall, MAX_SAMPLE_S))


@functools.lru_cache(maxsize=4)
def _lcb_tests(tests_json: str) -> dict:
    """Parsed tests of one LiveCodeBench task (cached per process, like ``_evalplus_tests``)."""
    return json.loads(tests_json)


@functools.lru_cache(maxsize=4)
def _lcb_expected(tests_json: str) -> list:
    """Expected return values of a functional task (LCB compares ``json.loads(output)``)."""
    return [json.loads(o) for o in _lcb_tests(tests_json)["outputs"]]


def _lcb_plan(task: Mapping[str, Any], program: str, timeout_s: float | None) -> _Plan:
    tests = _lcb_tests(task["tests"])
    inputs, outputs = tests["inputs"], tests["outputs"]
    limit = LCB_TIME_LIMIT_S if timeout_s is None else timeout_s
    limits = [limit] * len(inputs)
    wall = min(STARTUP_S + (code_runner.WALL_FACTOR * limit + 1.0) * len(inputs), MAX_SAMPLE_S)
    if task["test_mode"] == "lcb_functional":
        source = LCB_IMPORT_PRELUDE + "\n\n" + program
        expected = _lcb_expected(task["tests"])

        def check(i: int, event: dict) -> tuple[bool, tuple[str, str]]:
            got = _event_value(event)
            if isinstance(got, tuple):
                got = list(got)
            try:
                same = bool(got == expected[i])
            except Exception:
                same = False
            return same, ("failed", f"wrong answer on test {i + 1}/{len(inputs)}")

        job = {
            "kind": "call",
            "source": source,
            "entry_point": task["entry_point"],
            "input_format": "lcb_lines",
            "inputs": inputs,
            "time_limits": limits,
            "startup_s": STARTUP_S,
            "module_name": "tmp_sol",
            "solution_class": "class Solution" in source,
        }
        return _Plan(job=job, check=check, limits=limits, wall_s=wall)

    def check_stdout(i: int, event: dict) -> tuple[bool, tuple[str, str]]:
        where = f"test {i + 1}/{len(inputs)}"
        if event.get("signal"):
            return False, ("runtime_error", f"{where}: killed by signal {event['signal']}")
        if event.get("code") != 0:
            stderr = str(event.get("stderr", "")).strip().splitlines()
            return False, ("runtime_error", f"{where}: exit code {event.get('code')}: {stderr[-1] if stderr else ''}")
        if not _lcb_stdout_match(str(event.get("stdout", "")), outputs[i]):
            return False, ("failed", f"wrong answer on {where}")
        return True, ("", "")

    job = {
        "kind": "stdin",
        "source": LCB_IMPORT_PRELUDE + "\n" + program,
        "inputs": inputs,
        "time_limits": limits,
        "startup_s": STARTUP_S,
    }
    return _Plan(job=job, check=check_stdout, limits=limits, wall_s=wall)


_PLANNERS = {"evalplus": _evalplus_plan, "lcb_functional": _lcb_plan, "lcb_stdin": _lcb_plan}


def _run_job(job: dict, wall_s: float, on_record: Any) -> sandbox.RunResult:
    """One sandbox run of the test runner on ``job`` (warm: no interpreter start per sample)."""
    return sandbox.run_python(
        _RUNNER_SOURCE,
        [f"{sandbox.JOB_DIR}/job.json"],
        name="runner.py",
        files={"job.json": json.dumps(job).encode()},
        limits=sandbox.Limits(wall_s=wall_s, record_bytes=RECORD_BYTES),
        on_record=on_record,
        preload=code_runner.IMPORTS,
    )


def _judge_run(plan: _Plan) -> tuple[str, str]:
    judge = _Judge(plan.check, plan.limits)
    try:
        result = _run_job(plan.job, plan.wall_s, judge)
    except sandbox.SandboxUnavailable:
        raise
    except sandbox.SandboxError as exc:
        return "sandbox_error", str(exc).strip().splitlines()[-1][:500] if str(exc).strip() else "sandbox error"
    if judge.status is not None:
        return judge.status, judge.detail
    if result.reason == "timeout":
        return "timeout", f"whole run exceeded {plan.wall_s:.0f} s after {judge.passed}/{judge.n_tests} tests"
    if result.reason in ("output_limit", "record_limit"):
        return "failed", f"{result.reason.replace('_', ' ')} exceeded"
    if result.signal is not None:
        return "runtime_error", f"killed by signal {result.signal} after {judge.passed}/{judge.n_tests} tests"
    stderr = result.stderr.decode(errors="replace").strip().splitlines()
    if result.exit_code not in (0, None) and stderr and stderr[0].startswith("Traceback"):
        return "sandbox_error", f"test runner failed: {stderr[-1][:400]}"
    return "runtime_error", f"ended after {judge.passed}/{judge.n_tests} tests"


def verify(
    response: str, task: Mapping[str, Any], *, prefill: str = CODE_PREFILL, timeout_s: float | None = None
) -> Verdict:
    """Judge one response against one task (a row of the prepared benchmark table).

    ``timeout_s`` overrides the benchmark's per-test CPU-time limit (evalplus: max(1 s, 4 x
    the canonical solution's CPU time); LiveCodeBench: 6 s). Raises ``SandboxUnavailable`` only when this
    machine cannot isolate programs at all; per-sample sandbox failures become
    ``sandbox_error`` verdicts.
    """
    mode = task["test_mode"]
    if mode not in _PLANNERS:
        raise ValueError(f"unknown test_mode {mode!r}")
    entry = task.get("entry_point") if mode != "lcb_stdin" else None
    program, how = extract_program(response, prefill=prefill, entry_point=entry)
    if program is None:
        return Verdict(False, None, "no_code", f"{how}: no program found in the response")
    status, detail = _judge_run(_PLANNERS[mode](task, program, timeout_s))
    return Verdict(status == "passed", program, status, ": ".join(part for part in (how, detail) if part))


def _verify_chunk(
    payload: tuple[Mapping[str, Any], list[tuple[int, str]], str, float | None],
) -> list[tuple[int, Verdict]]:
    task, items, prefill, timeout_s = payload
    return [(i, verify(response, task, prefill=prefill, timeout_s=timeout_s)) for i, response in items]


def _worker_init() -> None:
    sandbox.isolation()


def _bound_s(n: int) -> float:
    """Generous upper bound on the time ``n`` samples can take (hang guard): each sample's run
    is capped at ``MAX_SAMPLE_S``. Needs no task's tests, so the caller parses none of them."""
    return n * (MAX_SAMPLE_S + 15.0) + 30.0


def verify_batch(
    responses: Sequence[str],
    tasks: Sequence[Mapping[str, Any]],
    *,
    workers: int = 2,
    timeout_s: float | None = None,
    prefill: str = CODE_PREFILL,
    chunk_size: int = 8,
    log_seconds: float = 30.0,
) -> list[Verdict]:
    """Judge ``responses[i]`` against ``tasks[i]`` for all i, in ``workers`` processes.

    Samples of the same task travel together (the task row, with its tests, is sent once
    per chunk of ``chunk_size`` samples). Never hangs: each sample's run is wall-clock
    limited inside the sandbox, and if a worker process dies or stalls beyond a generous
    bound, the pool is terminated and the unfinished samples get ``sandbox_error``.
    Logs a progress line (samples judged, rate, ETA) every ``log_seconds``.
    """
    if len(responses) != len(tasks):
        raise ValueError(f"{len(responses)} responses but {len(tasks)} tasks")
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, task in enumerate(tasks):
        key = (task["test_mode"], task["problem_id"], hash(task["tests"]))
        groups.setdefault(key, []).append(i)
    payloads = []
    for indices in groups.values():
        for start in range(0, len(indices), chunk_size):
            part = indices[start : start + chunk_size]
            payloads.append((tasks[part[0]], [(i, responses[i]) for i in part], prefill, timeout_s))
    payloads.sort(key=lambda p: len(p[0]["tests"]) * len(p[1]), reverse=True)  # big tasks first: no long tail
    verdicts: list[Verdict | None] = [None] * len(responses)
    progress = Progress(len(responses), every_s=log_seconds, name="code verification")
    if workers <= 1 or len(payloads) <= 1:
        for payload in payloads:
            for i, verdict in _verify_chunk(payload):
                verdicts[i] = verdict
            progress.advance(len(payload[1]))
        progress.finish()
        return [v for v in verdicts if v is not None]
    sandbox.isolation()  # fail fast, in the caller, when this machine cannot isolate
    bound = _bound_s(max(len(p[1]) for p in payloads))
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes=workers, initializer=_worker_init) as pool:
        results = pool.imap_unordered(_verify_chunk, payloads)
        try:
            for _ in payloads:
                chunk = results.next(timeout=bound)
                for i, verdict in chunk:
                    verdicts[i] = verdict
                progress.advance(len(chunk))
        except multiprocessing.TimeoutError:
            pool.terminate()
    progress.finish()
    return [
        v if v is not None else Verdict(False, None, "sandbox_error", "verification worker died or stalled")
        for v in verdicts
    ]


# --------------------------------------------------------------------------------------
# expected outputs (evalplus computes them by running the canonical solution)


def canonical_outputs(
    code: str, entry_point: str, inputs: list, *, task_id: str, dataset: str, wall_s: float = 600.0
) -> tuple[list[Any], list[float]]:
    """Run a trusted canonical solution on every input, in the sandbox, like evalplus's
    ``trusted_exec``: inputs deep-copied, each call timed. Returns the encoded outputs
    (the not-None tasks of MBPP+ store ``output is not None``) and the calls' CPU seconds.

    Raises ``RuntimeError`` when the canonical solution does not produce every output.
    """
    fmt = "mbpp" if dataset == "mbpp" else "json_args"
    job = {
        "kind": "call",
        "source": code,
        "entry_point": entry_point,
        "input_format": fmt,
        "task_id": task_id,
        "inputs": inputs,
        "time_limits": [wall_s] * len(inputs),
        "startup_s": 60.0,
        "deepcopy": True,
    }
    events: list[dict] = []

    def collect(frame: bytes) -> bool:
        events.extend(code_runner.events(json.loads(frame)))
        return True

    result = _run_job(job, wall_s, collect)
    outputs = [e for e in events if e.get("ev") == "out"]
    if len(outputs) != len(inputs) or [e["i"] for e in outputs] != list(range(len(inputs))):
        problems = [e for e in events if e.get("ev") not in ("out", "ready", "done")]
        raise RuntimeError(
            f"{task_id}: canonical solution produced {len(outputs)}/{len(inputs)} outputs "
            f"({problems[:1]}, run ended: {result.reason}, {result.stderr[-300:]!r})"
        )
    values = [{"$digest": e["digest"]} if "digest" in e else e["value"] for e in outputs]
    if dataset == "mbpp" and entry_point in _MBPP_NOT_NONE:
        values = [code_runner.encode(v is not None) for v in values]  # encode(None) is None, nothing else is
    return values, [float(e["cpu"]) for e in outputs]
