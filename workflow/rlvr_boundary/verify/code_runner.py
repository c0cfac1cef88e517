"""Test runner that executes inside the sandbox, plus the value codec the harness shares with it.

Stdlib only: this file is copied verbatim into the sandbox and run as PID 1 of its namespace
(``python -s -B runner.py job.json``). The harness imports it too, for :func:`encode`,
:func:`decode` and the input deserialisers, so both sides agree byte for byte.

Why the runner never judges: expected outputs never enter the sandbox. The runner only
reports what the program *did* (return values, stdout, exceptions, time-outs) as frames on
the record channel (fd 3); the harness outside compares them with the expected outputs. The
runner itself keeps the channel: the candidate program always runs in a forked child that
does not hold fd 3, and the runner (PID 1, made non-dumpable) cannot be killed or traced by
that child. Whatever the child sends is treated as its answer and nothing more.

Job kinds:

* ``call`` -- load the program once in a child process, then call ``entry_point`` on each
  input in order (evalplus and LiveCodeBench functional problems). Python-level I/O is
  swallowed as in evalplus. First ``{"ev": "ready"}`` or ``{"ev": "load_error"}``; then per
  input ``{"ev": "out", "i", "value", "t", "cpu"}`` or ``{"ev": "raise", "i", "error"}``.
  A result slow to encode is preceded by an empty *tick* frame sent the moment the call
  returns (so only the call itself is timed, as in evalplus, not the encoding of a large
  result); quick results travel several to a frame as ``["outs", first_i, n, [[value, t,
  cpu], ...]]`` (see ``_Batch``). A result whose serialisation exceeds ``BIG_VALUE_BYTES``
  is sent as ``{"ev": "out", "i", "digest"}`` instead (see :func:`digest`).
* ``stdin`` -- compile the program once, then for each test fork a child that runs it as
  ``__main__`` with the test input on stdin and stdout in a memory file (LiveCodeBench stdin
  problems). The runner sends ``{"ev": "run", "i", "code", "signal", "stdout", "stderr", "t",
  "cpu"}``.

The runner adds ``{"ev": "timeout", "i"}`` when a test exceeds its limit (the child is then
killed), ``{"ev": "died", "i", "detail"}`` when a call-mode child ends early, and
``{"ev": "done"}`` at the end.
"""

from __future__ import annotations

import array
import base64
import contextlib
import copy
import fcntl
import hashlib
import itertools
import json
import marshal
import math
import numbers
import operator
import os
import re
import select
import signal
import struct
import sys
import time
import traceback
import types
from typing import Any

IMPORTS = (
    "array",
    "base64",
    "contextlib",
    "copy",
    "ctypes",
    "fcntl",
    "hashlib",
    "itertools",
    "json",
    "marshal",
    "math",
    "numbers",
    "operator",
    "re",
    "select",
    "signal",
    "struct",
    "time",
    "traceback",
    "types",
    "typing",
)
"""The standard-library modules this runner imports: the sandbox preloads them for warm runs."""
_FRAME = struct.Struct(">I")
_MAX_FRAME = 256 << 20
_BIG_INT_BITS = 12000
BIG_VALUE_BYTES = 64 << 20
"""Results whose marshal form is larger are compared by digest (e.g. MBPP+ 255 returns a
list of 1.6 million 77-tuples for one input: 1 GB as JSON)."""
ENCODE_S = 120.0
"""Time allowed to serialise and send one result once the call has returned."""
WALL_FACTOR = 3.0
"""Time limits are CPU seconds, so a busy host does not turn correct programs into
time-outs: the runner kills a call once its CPU time passes the limit, and the harness checks
the reported ``cpu`` of every result. The wall-clock deadline, this factor times the limit,
is only a backstop for programs that sleep or block."""
_POLL_S = 0.05
BATCH_ROWS = 256
BATCH_S = 0.01
"""A batch of quick results is written after at most this long: the runner's view of which
call is running lags by no more, well inside the ``_POLL_S`` slack of its CPU limit."""


def _cpu_seconds(pid: int) -> float | None:
    """CPU time so far of process ``pid`` (its process CPU clock), or None once it is gone."""
    try:
        return time.clock_gettime(((~pid) << 3) | 2)  # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
    except OSError:
        return None


# --------------------------------------------------------------------------------------
# value codec: type-preserving JSON, safe to decode (no code execution, no pickle)


class Opaque:
    """A value the codec cannot represent (custom object, generator, cycle, ...).

    It equals nothing, not even another Opaque: a program cannot pass a test by returning an
    object whose ``__eq__`` always says True, because that object never leaves the sandbox.
    """

    __slots__ = ("type_name",)

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<opaque {self.type_name}>"


_INT_BOUND = 1 << _BIG_INT_BITS
PACK_MIN = 256
"""Lists of at least this many numbers travel as packed 64-bit arrays, not JSON numbers."""
_LITTLE = sys.byteorder == "little"


def _array_text(kind: str, values: Any) -> str:
    data = array.array(kind, values)
    if not _LITTLE:
        data.byteswap()
    return base64.b64encode(data.tobytes()).decode("ascii")


def _array_values(kind: str, text: Any) -> list:
    if not isinstance(text, str):
        raise ValueError("a packed array must be a string")
    data = array.array(kind)
    data.frombytes(base64.b64decode(text, validate=True))
    if not _LITTLE:
        data.byteswap()
    return data.tolist()


def _positions(items: list, item: Any) -> list[int]:
    """Indices of ``item`` in ``items``, by C-speed scans when it is rare (ints in a list of floats)."""
    if items.count(item) > len(items) // 16:
        return list(itertools.compress(itertools.count(), map(operator.is_, items, itertools.repeat(item))))
    found, start = [], 0
    with contextlib.suppress(ValueError):
        while True:
            start = items.index(item, start)
            found.append(start)
            start += 1
    return found


def _packed(values: list | tuple) -> dict | None:
    """A long list (or tuple) of ints and floats encoded as base64 of little-endian 64-bit
    arrays, or None.

    Printing and parsing millions of floats as JSON text takes seconds (HumanEval+ 130);
    packed they cross the sandbox boundary at memory speed, exactly: doubles keep nan, inf
    and -0.0, and the ints of a mixed list are listed by position (only when exactly
    representable as doubles).
    """
    if len(values) < PACK_MIN:
        return None
    if type(values) is tuple:
        packed = _packed(list(values))
        return None if packed is None else {"$tuple": packed}
    types_ = list(map(type, values))
    kinds = set(types_)
    try:
        if kinds == {float}:
            return {"$f64": _array_text("d", values)}
        if kinds == {int}:
            return {"$i64": _array_text("q", values)}
        if kinds == {int, float}:
            doubles = array.array("d", values)
            ints = _positions(types_, int)
            if any(doubles[i] != values[i] for i in ints):
                return None
            return {"$numbers": [_array_text("d", doubles), _array_text("q", ints)]}
    except OverflowError:  # an int beyond 64 bits (or beyond doubles)
        return None
    return None


_PLAIN_TYPES = frozenset({str, bool, type(None), int, float})
_NUMBER_TYPES = frozenset({bool, int, float})


def _plain_elements(values: list | tuple) -> bool:
    for v in values:
        kind = type(v)
        if kind is str or kind is bool or v is None:
            continue
        if kind is int and -_INT_BOUND < v < _INT_BOUND:
            continue
        if kind is float and v - v == 0.0:  # finite: inf - inf and nan - nan are nan
            continue
        return False
    return True


def _plain(values: list | tuple) -> bool:
    """Whether every element is a scalar JSON keeps exactly (str, bool, None, moderate int,
    finite float): then the container needs no per-element encoding (HumanEval+ 15 and 130
    return lists of millions of such values). Decided at C speed (element types as a set;
    for numbers only, the extremes and the sum) where it can be."""
    kinds = set(map(type, values))
    if not kinds <= _PLAIN_TYPES:
        return False
    if not kinds & {int, float}:
        return True
    if not kinds <= _NUMBER_TYPES:
        return _plain_elements(values)
    if float in kinds:
        return finite(values)  # ints beyond doubles among floats: not plain, encoded one by one
    return -_INT_BOUND < min(values) <= max(values) < _INT_BOUND


def finite(numbers: list | tuple) -> bool:
    """Whether a list of ints and floats holds no nan and no inf, at C speed (``x * 0.0`` is
    0.0 for every finite x, nan for inf and nan); False also for an int beyond doubles."""
    try:
        return math.isfinite(sum(map(operator.mul, numbers, itertools.repeat(0.0))))
    except OverflowError:
        return False


def _enc(value: Any) -> Any:
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if value.bit_length() <= _BIG_INT_BITS else {"$int": hex(value)}
    if kind is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if kind is list or kind is tuple:
        packed = _packed(value)
        if packed is not None:
            return packed
        if _plain(value):
            return value if kind is list else {"$tuple": value}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    if isinstance(value, numbers.Integral):
        return _enc(int(value))
    if isinstance(value, numbers.Real):
        return _enc(float(value))
    if isinstance(value, numbers.Complex):
        return {"$complex": [_enc(float(value.real)), _enc(float(value.imag))]}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, list):
        return [_enc(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [_enc(v) for v in value]}
    if isinstance(value, frozenset):
        return {"$frozenset": [_enc(v) for v in value]}
    if isinstance(value, set):
        return {"$set": [_enc(v) for v in value]}
    if isinstance(value, dict):
        return {"$dict": [[_enc(k), _enc(v)] for k, v in value.items()]}
    return {"$opaque": type(value).__name__}


def encode(value: Any) -> Any:
    """A JSON-ready form of ``value`` that :func:`decode` turns back into equal builtins.

    Builtin containers keep their type (tuple vs list, set, dict with any keys), floats keep
    nan/inf, ints any size; numpy-style scalars become Python numbers; anything else (and
    anything too deep to walk) becomes an :class:`Opaque` marker.
    """
    try:
        return _enc(value)
    except RecursionError:
        return {"$opaque": "too deep"}
    except Exception as exc:  # a hostile __iter__/__len__ etc.: an answer, not a crash
        return {"$opaque": f"unencodable {type(exc).__name__}"}


def digest(value: Any) -> str | None:
    """SHA-256 of ``marshal.dumps(value, 2)``, or None when marshal cannot represent it.

    Used only for results too large to ship. It is exact and type-strict (1 and 1.0, or
    two equal sets built in different orders, can digest differently), unlike ``==``; the
    harness compares digests only when a value exceeds ``BIG_VALUE_BYTES``.
    """
    try:
        return hashlib.sha256(marshal.dumps(value, 2)).hexdigest()
    except (ValueError, TypeError, RecursionError):
        return None


def _result_frame(i: int, value: Any, elapsed: float, cpu: float) -> dict:
    """The ``out`` frame for one result: the encoded value, or its digest when huge."""
    kind = type(value)
    if (kind is list or kind is tuple) and 9 * len(value) <= BIG_VALUE_BYTES:  # packed, its size is known
        packed = _packed(value)
        if packed is not None:
            return {"ev": "out", "i": i, "value": packed, "t": elapsed, "cpu": cpu}
    try:
        size = len(marshal.dumps(value, 2))
    except (ValueError, TypeError, RecursionError):
        size = 0
    if size > BIG_VALUE_BYTES:
        return {"ev": "out", "i": i, "digest": digest(value), "t": elapsed, "cpu": cpu}
    return {"ev": "out", "i": i, "value": encode(value), "t": elapsed, "cpu": cpu}


_TAGS = frozenset(
    {
        "$tuple",
        "$set",
        "$frozenset",
        "$dict",
        "$int",
        "$float",
        "$complex",
        "$bytes",
        "$opaque",
        "$f64",
        "$i64",
        "$numbers",
    }
)


def has_tags(data: Any) -> bool:
    """Whether parsed JSON holds an object :func:`decode` would read as a tagged value (a
    one-key object whose key is a tag): such data cannot share a document with encoded values."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if len(item) == 1 and next(iter(item)) in _TAGS:
                return True
            stack.extend(item.values())
    return False


def decode_object(obj: dict) -> Any:
    """``json.loads`` object hook turning one tagged object back into its value (children first)."""
    if len(obj) != 1:
        return obj
    ((key, val),) = obj.items()
    if key == "$tuple":
        return tuple(val)
    if key == "$set":
        return set(val)
    if key == "$frozenset":
        return frozenset(val)
    if key == "$dict":
        return dict(val)
    if key == "$int":
        return int(val, 16)
    if key == "$float":
        return float(val)
    if key == "$complex":
        return complex(val[0], val[1])
    if key == "$bytes":
        return base64.b64decode(val)
    if key == "$opaque":
        return Opaque(str(val))
    if key == "$f64":
        return _array_values("d", val)
    if key == "$i64":
        return _array_values("q", val)
    if key == "$numbers":
        return _numbers(val)
    return obj


def _numbers(val: Any) -> list:
    """A packed mixed list: the doubles, with the listed positions turned back into ints."""
    if not isinstance(val, list) or len(val) != 2:
        raise ValueError("a packed mixed list must be [doubles, int positions]")
    values = _array_values("d", val[0])
    try:
        for i in _array_values("q", val[1]):
            if i < 0:
                raise IndexError(i)
            values[i] = int(values[i])
    except (IndexError, OverflowError) as exc:  # a position out of range, an int from inf
        raise ValueError(f"bad packed mixed list: {exc!r}") from exc
    return values


_DECODER = json.JSONDecoder(object_hook=decode_object)


def decode(text: str | bytes) -> Any:
    """Inverse of :func:`encode`, from its JSON text (tags become tuples, sets, dicts...).

    One JSON decoder with :func:`decode_object` as object hook: only tagged objects cost
    Python time, so millions of plain list elements decode at C speed.
    """
    return _DECODER.decode(text if isinstance(text, str) else text.decode("utf-8"))


# --------------------------------------------------------------------------------------
# evalplus input deserialisation (evalplus 0.3.1, evalplus/data/mbpp.py, Apache-2.0)


def _all_tuples(inp: Any) -> Any:
    if isinstance(inp, list):
        return tuple(_all_tuples(item) for item in inp)
    return inp


_MBPP_TUPLE_ARGS = {
    2,
    116,
    132,
    143,
    222,
    261,
    273,
    394,
    399,
    421,
    424,
    429,
    470,
    560,
    579,
    596,
    616,
    630,
    726,
    740,
    744,
    809,
}
_MBPP_NESTED_TUPLES = {63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780}
_MBPP_FIRST_NESTED = {75, 413, 444, 753}
_MBPP_FIRST_TUPLE = {250, 405, 446, 617, 720, 763, 808}
_MBPP_DOUBLE_NESTED = {259, 401, 445}


def mbpp_deserialize_inputs(task_id: str, inputs: list) -> list:
    """MBPP+ stores tuples, sets and complex numbers as JSON lists/strings; evalplus restores
    them per task before calling the function. Same rules as ``evalplus.data.mbpp``."""
    number = int(task_id.split("/")[-1])
    if number in _MBPP_TUPLE_ARGS:
        return [[tuple(lst) for lst in inp] for inp in inputs]
    if number in _MBPP_NESTED_TUPLES:
        return [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
    if number in _MBPP_FIRST_NESTED:
        return [[[tuple(lst) for lst in inp[0]], inp[1]] for inp in inputs]
    if number in (106, 750):
        return [[inp[0], tuple(inp[1])] for inp in inputs]
    if number == 115:
        return [[[set(item) if isinstance(item, list) and len(item) else {} for item in inp[0]]] for inp in inputs]
    if number == 124:
        return [(float(inp[0]), complex(inp[1])) for inp in inputs]
    if number in _MBPP_FIRST_TUPLE:
        return [[tuple(inp[0]), inp[1]] for inp in inputs]
    if number in _MBPP_DOUBLE_NESTED:
        nested = [[[tuple(lst) for lst in lst_lst] for lst_lst in inp] for inp in inputs]
        return [[tuple(lst) for lst in inp] for inp in nested]
    if number == 278:
        firsts = [[[tuple(item) if isinstance(item, list) else item for item in inp[0]]] for inp in inputs]
        return [[tuple(lst) for lst in inp] for inp in firsts]
    if number == 307:
        return [[tuple(inp[0]), inp[1], inp[2]] for inp in inputs]
    if number == 722:
        return [[{key: tuple(value) for key, value in inp[0].items()}, *inp[1:]] for inp in inputs]
    if number == 252:
        return [[complex(inp[0])] for inp in inputs]
    if number in (580, 615, 791):
        return [_all_tuples(inp) for inp in inputs]
    return inputs


def deserialize_inputs(input_format: str, task_id: str, inputs: list) -> list:
    """Argument lists for each test: ``json_args`` (as stored), ``mbpp`` (evalplus MBPP+
    rules) or ``lcb_lines`` (LiveCodeBench functional: one JSON value per line)."""
    if input_format == "json_args":
        return inputs
    if input_format == "mbpp":
        return mbpp_deserialize_inputs(task_id, inputs)
    if input_format == "lcb_lines":
        return [[json.loads(line) for line in inp.split("\n")] for inp in inputs]
    raise ValueError(f"unknown input format {input_format!r}")


# --------------------------------------------------------------------------------------
# frames


def frame(event: dict | list) -> bytes:
    """One frame: 4-byte length + JSON."""
    payload = json.dumps(event).encode()
    return _FRAME.pack(len(payload)) + payload


_ROWS_HEAD = re.compile(rb'\["outs", (\d{1,9}), (\d{1,9}), ')


def rows_in(payload: bytes | bytearray) -> int:
    """How many results a frame carries (a rows frame several, any other frame one)."""
    match = _ROWS_HEAD.match(payload)
    return int(match.group(2)) if match else 1


def events(data: Any) -> list:
    """A decoded frame as its events: a rows frame expanded into ``out`` events."""
    if isinstance(data, list) and len(data) == 4 and data[0] == "outs":
        return [{"ev": "out", "i": data[1] + k, "value": v, "t": t, "cpu": c} for k, (v, t, c) in enumerate(data[3])]
    return [data]


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def send(fd: int, event: dict) -> None:
    """Write one frame to ``fd``."""
    _write_all(fd, frame(event))


_QUICK_ITEMS = 64
_QUICK_CHARS = 1024


def _quick(value: Any) -> bool:
    """Whether encoding ``value`` surely takes microseconds and a few KiB (a scalar, or a short
    flat list or tuple of scalars): it may then wait in a batch without a tick before it."""
    kind = type(value)
    if kind is list or kind is tuple:
        return len(value) <= _QUICK_ITEMS and all(
            type(v) is not list and type(v) is not tuple and _quick(v) for v in value
        )
    if kind is int:
        return value.bit_length() <= 4096
    if kind is str:
        return len(value) <= _QUICK_CHARS
    return kind is float or kind is bool or value is None


class _Batch:
    """Quick results, written together: one frame of rows and one write per batch, not two
    JSON objects and two writes per input.

    The runner times the call in progress from the last frame it saw, under that call's
    limit, so a batch is written before a call whose limit is larger than the limit of the
    batch's first call, before any slow-to-encode result (whose tick must stop the clock
    first), once it holds ``BATCH_ROWS`` results, and ``BATCH_S`` after its first one. A call
    that never returns, or kills its process, loses the batch not yet written (at most
    ``BATCH_S`` of results): the sample still fails, as a time-out or a death, and the
    harness's message then names the first test whose result it did not get.
    """

    def __init__(self, fd: int, limits: list[float]):
        self.fd = fd
        self.limits = limits
        self.data = bytearray()
        self.rows: list[list] = []
        self.first_call = 0
        self.rows_from = 0
        self.started = 0.0

    def _limit(self, i: int) -> float:
        return self.limits[min(i, len(self.limits) - 1)]

    def before_call(self, i: int) -> None:
        if (self.data or self.rows) and self._limit(i) > self._limit(self.first_call):
            self.flush()
        if not self.data and not self.rows:
            self.first_call, self.started = i, time.monotonic()

    def _close_rows(self) -> None:
        if self.rows:
            self.data += frame(["outs", self.rows_from, len(self.rows), self.rows])
            self.rows = []

    def _full(self) -> None:
        if len(self.rows) >= BATCH_ROWS or time.monotonic() - self.started >= BATCH_S:
            self.flush()

    def add_result(self, i: int, value: Any, elapsed: float, cpu: float) -> None:
        if not self.rows:
            self.rows_from = i
        self.rows.append([_enc(value), elapsed, cpu])
        self._full()

    def add_frame(self, data: bytes) -> None:
        self._close_rows()
        self.data += data
        self._full()

    def flush(self, tail: bytes = b"") -> None:
        self._close_rows()
        self.data += tail
        if self.data:
            _write_all(self.fd, self.data)
            self.data = bytearray()


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


# --------------------------------------------------------------------------------------
# call mode


class _Discard:
    """Stand-in for sys.stdout/stderr (evalplus swallows the program's output)."""

    def write(self, text: str) -> int:
        return len(text)

    def writelines(self, lines: Any) -> None:
        for _ in lines:
            pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class _NoInput(_Discard):
    """Stand-in for sys.stdin: reading raises, as evalplus's ``WriteOnlyStringIO`` does."""

    def read(self, *args: Any) -> str:
        raise OSError("stdin is not available")

    readline = read
    readlines = read

    def readable(self) -> bool:
        return False


def _call_child(job: dict, fd: int) -> None:
    """Child process of call mode: load the program, call it on every input, report."""
    sys.stdout, sys.stderr, sys.stdin = _Discard(), _Discard(), _NoInput()
    try:
        namespace: dict = {}
        if job.get("module_name"):
            module = types.ModuleType(job["module_name"], "")
            namespace = module.__dict__
        exec(compile(job["source"], "solution.py", "exec"), namespace)
        if job.get("solution_class"):  # LCB: one Solution() instance serves every test
            fn = getattr(namespace["Solution"](), job["entry_point"])
        else:
            fn = namespace[job["entry_point"]]
    except BaseException as exc:  # SystemExit included: exiting is not passing
        send(fd, {"ev": "load_error", "error": _error_text(exc)})
        return
    inputs = deserialize_inputs(job["input_format"], job.get("task_id", ""), job["inputs"])
    send(fd, {"ev": "ready"})
    batch = _Batch(fd, [float(t) for t in job["time_limits"]] or [1.0])
    for i, args in enumerate(inputs):
        if job.get("deepcopy"):
            args = copy.deepcopy(args)
        batch.before_call(i)
        try:
            start, cpu_start = time.perf_counter(), time.process_time()
            value = fn(*args)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        except BaseException as exc:
            batch.add_frame(frame({"ev": "raise", "i": i, "error": _error_text(exc)}))
            continue
        if _quick(value):
            batch.add_result(i, value, elapsed, cpu)
        else:
            batch.flush(_FRAME.pack(0))  # tick: the call is over, the clock for input i stops
            send(fd, _result_frame(i, value, elapsed, cpu))
    batch.flush()


def _relay(src: int, dst: int, child: int, limits: list[float], startup_s: float) -> tuple[int, str | None]:
    """Forward frames from the child to the channel, enforcing the time limits.

    The first frame (ready/load_error) must come within ``startup_s`` wall seconds. The call
    on input k may then use ``limits[k]`` CPU seconds (polled on the child's CPU clock) and
    ``WALL_FACTOR`` times that in wall time; it ends at the child's tick (an empty frame,
    not forwarded) or at its result frame, and the result must follow a tick within
    ``ENCODE_S``. Quick results arrive in batches (see ``_Batch``): the call in progress is
    then the one after the batch's last result. Returns ``(frames_forwarded, None)`` when the child closed its end, or
    ``(frames_forwarded, reason)`` when a limit passed ("timeout: ...") or framing broke.
    """
    buffer = bytearray()
    count = 0
    wall, cpu_limit, cpu_base, phase = startup_s, None, 0.0, "loading"
    since = time.monotonic()
    while True:
        remaining = wall - (time.monotonic() - since)
        if remaining <= 0:
            return count, f"timeout: {phase} took over {wall:.2f} s of wall time"
        ready, _, _ = select.select([src], [], [], min(remaining, _POLL_S))
        if cpu_limit is not None:
            used = _cpu_seconds(child)
            if used is not None and used - cpu_base > cpu_limit:
                return count, f"timeout: {phase} used over {cpu_limit:.2f} s of CPU"
        if not ready:
            continue
        chunk = os.read(src, 1 << 20)
        if not chunk:
            return count, None
        buffer += chunk
        outgoing = bytearray()  # every complete frame of this read, forwarded in one write
        start = 0
        while len(buffer) - start >= _FRAME.size:
            (size,) = _FRAME.unpack_from(buffer, start)
            if size > _MAX_FRAME:
                return count, "oversized result record"
            end = start + _FRAME.size + size
            if len(buffer) < end:
                break
            if size == 0:
                since, wall, cpu_limit, phase = time.monotonic(), ENCODE_S, None, "sending the result"
            else:
                outgoing += buffer[start:end]
                count += rows_in(buffer[start + _FRAME.size : start + _FRAME.size + 32])
                limit = limits[min(count - 1, len(limits) - 1)]
                since, wall, cpu_limit, phase = time.monotonic(), WALL_FACTOR * limit + _POLL_S, limit + _POLL_S, ""
            start = end
        if phase == "":  # a call started with this read's last result: its CPU counts from now
            cpu_base, phase = _cpu_seconds(child) or 0.0, "the call"
        del buffer[:start]
        data = memoryview(outgoing)
        while data:  # may block while the harness digests a large result: not the program's time
            data = data[os.write(dst, data) :]


def _widen(fd: int) -> None:
    """Grow a pipe to 1 MiB (the unprivileged maximum): large results move in fewer steps."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)


def _run_call(job: dict, channel: int) -> None:
    read_end, write_end = os.pipe()
    _widen(write_end)
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        os.close(channel)
        code = 0
        try:
            _call_child(job, write_end)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(write_end)
    limits = [float(t) for t in job["time_limits"]] or [1.0]
    count, problem = _relay(read_end, channel, child, limits, float(job["startup_s"]))
    index = count - 1  # frame 0 is ready/load_error, frame k answers input k-1
    if problem is not None and problem.startswith("timeout"):
        os.kill(child, signal.SIGKILL)
        send(channel, {"ev": "timeout", "i": index, "detail": problem})
    elif problem is not None:
        os.kill(child, signal.SIGKILL)
        send(channel, {"ev": "died", "i": index, "detail": problem})
    _, status = os.waitpid(child, 0)
    if problem is None and index < len(job["inputs"]):
        send(channel, {"ev": "died", "i": index, "detail": _status_text(status)})


def _status_text(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"exit code {code}" if code >= 0 else f"killed by signal {-code}"


# --------------------------------------------------------------------------------------
# stdin mode


def _stdin_child(code: Any, stdin_fd: int, out_fd: int, err_fd: int, channel: int) -> None:
    """Child of stdin mode: run the compiled program as ``__main__``. Never returns."""
    status = 0
    try:
        os.close(channel)
        os.dup2(stdin_fd, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        for fd in (stdin_fd, out_fd, err_fd):
            os.close(fd)
        # the program's standard streams for the rest of this process's life: no context manager
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        sys.argv = ["solution.py"]
        module = types.ModuleType("__main__")
        module.__dict__["__file__"] = "solution.py"
        module.__dict__["__builtins__"] = __builtins__
        sys.modules["__main__"] = module
        try:
            exec(code, module.__dict__)
        except SystemExit as exc:  # LCB swallows SystemExit: the output so far is the answer
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
            status = 1
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        status = 1
    os._exit(status & 0xFF)


def _wait_child(pid: int, cpu_limit: float) -> tuple[int | None, Any]:
    """Wait for ``pid`` while its CPU time stays within ``cpu_limit`` (and its wall time within
    ``WALL_FACTOR`` times that); returns ``(status, rusage)``, or ``(None, reason)`` on a time-out."""
    deadline = time.monotonic() + WALL_FACTOR * cpu_limit + _POLL_S
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        while True:
            got, status, usage = os.wait4(pid, os.WNOHANG)
            if got == pid:
                return status, usage
            remaining = deadline - time.monotonic()
            used = _cpu_seconds(pid)
            if used is not None and used > cpu_limit + _POLL_S:
                return None, f"timeout: used over {cpu_limit:.2f} s of CPU"
            if remaining <= 0:
                return None, f"timeout: took over {WALL_FACTOR * cpu_limit:.2f} s of wall time"
            if pidfd is not None:
                select.select([pidfd], [], [], min(remaining, _POLL_S))
            else:
                time.sleep(min(remaining, 0.002))
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _clear_namespace() -> None:
    """Kill every other process in this PID namespace and reap them (only ever as PID 1)."""
    if os.getpid() != 1:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _run_stdin(job: dict, channel: int) -> None:
    try:
        code = compile(job["source"], "solution.py", "exec")
    except BaseException as exc:
        send(channel, {"ev": "load_error", "error": _error_text(exc)})
        return
    send(channel, {"ev": "ready"})
    for i, text in enumerate(job["inputs"]):
        stdin_fd = os.memfd_create("stdin", 0)
        os.write(stdin_fd, text.encode())
        os.lseek(stdin_fd, 0, os.SEEK_SET)
        out_fd, err_fd = os.memfd_create("stdout", 0), os.memfd_create("stderr", 0)
        sys.stdout.flush()
        sys.stderr.flush()
        start = time.monotonic()
        child = os.fork()
        if child == 0:
            _stdin_child(code, stdin_fd, out_fd, err_fd, channel)
        status, usage = _wait_child(child, float(job["time_limits"][i]))
        elapsed = time.monotonic() - start
        if status is None:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
        _clear_namespace()
        if status is None:
            send(channel, {"ev": "timeout", "i": i, "detail": usage})
        else:
            exit_code = os.waitstatus_to_exitcode(status)
            send(
                channel,
                {
                    "ev": "run",
                    "i": i,
                    "code": exit_code if exit_code >= 0 else None,
                    "signal": -exit_code if exit_code < 0 else None,
                    "stdout": _read_all(out_fd).decode("utf-8", errors="replace"),
                    "stderr": _read_all(err_fd)[-2000:].decode("utf-8", errors="replace"),
                    "t": elapsed,
                    "cpu": usage.ru_utime + usage.ru_stime,
                },
            )
        for fd in (stdin_fd, out_fd, err_fd):
            os.close(fd)
        if status is None:
            return


def _make_undumpable() -> None:
    """PR_SET_DUMPABLE=0: the program's processes cannot ptrace the runner or open its fds."""
    import ctypes

    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)


def main(path: str, channel: int = 3) -> None:
    """Entry point inside the sandbox: run the job in ``path``, report on fd ``channel``."""
    with open(path, encoding="utf-8") as handle:
        job = json.load(handle)
    _make_undumpable()
    if job["kind"] == "call":
        _run_call(job, channel)
    elif job["kind"] == "stdin":
        _run_stdin(job, channel)
    else:
        raise ValueError(f"unknown job kind {job['kind']!r}")
    send(channel, {"ev": "done"})


if __name__ == "__main__":
    main(sys.argv[1])
