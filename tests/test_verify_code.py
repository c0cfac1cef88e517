"""Code verification: extraction, comparison rules, verdicts through the real sandbox.

The hostile-program suite at the bottom runs each attack as a model response through
``verify``: every one must fail (or time out), the call must return, and no sandboxed
process may survive it. Real HumanEval+/MBPP+ files are read from ../shared/data; tests
that need them are skipped, with the reason, when they are absent.
"""

from __future__ import annotations

import ast
import gzip
import json
import logging
import math
import os
import re
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import process_uids
from rlvr_boundary import sandbox
from rlvr_boundary.code_benchmarks import read_evalplus, read_livecodebench
from rlvr_boundary.verify import code as cv
from rlvr_boundary.verify import code_runner
from rlvr_boundary.verify.code_runner import Opaque, decode, encode, has_tags

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "code"
HUMANEVAL = DATA / "humanevalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
MBPP = DATA / "mbppplus" / "MbppPlus-v0.2.0.jsonl.gz"
LCB_FIXTURE = Path(__file__).parent / "data" / "lcb_fixture.jsonl"
needs_linux = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox needs Linux namespaces")


def fenced(code: str) -> str:
    """A response continuing the "```python" prefill, as a model writes it."""
    return "\n" + textwrap.dedent(code).strip("\n") + "\n```\n\nThis solution runs in O(n)."


# --------------------------------------------------------------------------------------
# extraction


def test_extract_continuation_of_prefill():
    program, how = cv.extract_program("\ndef f():\n    return 1\n```\nExplanation.")
    assert program == "def f():\n    return 1\n" and how == "fenced"


def test_extract_unterminated_fence_from_a_cut_off_generation():
    program, how = cv.extract_program("\ndef f():\n    return [1,")
    assert program == "def f():\n    return [1,\n" and how == "unterminated"


def test_extract_prefers_last_block_defining_the_entry_point():
    response = "\ndef solve(x):\n    return x + 1\n```\nExample usage:\n```python\nprint(solve(1))\n```\n"
    program, _ = cv.extract_program(response, entry_point="solve")
    assert program.startswith("def solve")
    program, _ = cv.extract_program(response)  # without an entry point: the last block (LCB's rule)
    assert program == "print(solve(1))\n"
    redo = "\ndef solve(x):\n    return 0\n```\nOops, fixed:\n```python\ndef solve(x):\n    return x\n```"
    assert cv.extract_program(redo, entry_point="solve")[0] == "def solve(x):\n    return x\n"


def test_extract_repeated_prefill_and_no_fence():
    program, how = cv.extract_program("\n```python\nx = 1\n```")
    assert program == "x = 1\n" and how == "fenced"
    program, how = cv.extract_program("x = input()\nprint(x)\n", prefill="")
    assert program == "x = input()\nprint(x)\n" and how == "unfenced"


def test_extract_nothing():
    assert cv.extract_program("\n```\nSorry, I cannot help.") == (None, "none")
    assert cv.extract_program("   ", prefill="") == (None, "none")


def test_extract_ignores_reasoning_drafts():
    response = (
        "<think>\nDraft:\n```python\ndef f(): return 0\n```\n</think>\nFinal:\n```python\ndef f():\n    return 1\n```"
    )
    assert cv.extract_program(response, entry_point="f")[0] == "def f():\n    return 1\n"


# --------------------------------------------------------------------------------------
# value codec and comparison rules


def test_codec_round_trip_keeps_types():
    value = [
        1,
        2.5,
        float("inf"),
        -0.0,
        10**5000,
        True,
        None,
        "s",
        b"\x00b",
        1 + 2j,
        (1, [2]),
        {3, 4},
        frozenset({5}),
        {(1, 2): {"k": (3,)}},
    ]
    wire = json.dumps(encode(value))
    back = decode(wire)
    assert back == value
    assert type(back[10]) is tuple and type(back[11]) is set and type(back[13]) is dict
    assert math.isnan(decode(json.dumps(encode(float("nan")))))


def test_codec_packs_long_number_lists_exactly():
    n = code_runner.PACK_MIN
    cases = {
        "$f64": [*(float(i) / 3 for i in range(n)), float("nan"), float("inf"), -0.0],
        "$i64": [*range(-n, n), 2**63 - 1],
        "$numbers": [1, 3, *(i / 2 for i in range(n)), 2**53],
    }
    for tag, value in cases.items():
        wire = encode(value)
        assert list(wire) == [tag]
        back = decode(json.dumps(wire))
        assert [type(v) for v in back] == [type(v) for v in value]
        assert [repr(v) for v in back] == [repr(v) for v in value]  # nan, inf and -0.0 included
    assert type(decode(json.dumps(encode(tuple(range(n)))))) is tuple
    for unpacked in ([2**63] * n, [True] * n, [1] * (n - 1) + [True], [2**53 + 1, 0.5] * n, list(range(n - 1))):
        assert decode(json.dumps(encode(unpacked))) == unpacked  # beyond 64 bits or doubles, bools: plain JSON
        assert not isinstance(encode(unpacked), dict)


@pytest.mark.parametrize(
    "frame",
    [
        '{"$f64": "abc"}',
        '{"$f64": 5}',
        '{"$i64": "AAAA"}',
        '{"$numbers": ["AAAAAAAA8D8=", "CgAAAAAAAAA="]}',
        '{"$numbers": ["AAAAAAAA8H8=", "AAAAAAAAAAA="]}',
        '{"$numbers": ["AAAAAAAA8D8=", "//////////8="]}',
        '{"$numbers": "x"}',
    ],
)
def test_malformed_packed_values_are_value_errors(frame: str):
    """A hostile program's frames: bad base64, ragged arrays, positions out of range, an int from inf."""
    with pytest.raises((ValueError, TypeError)):
        decode(frame)


def test_runner_imports_are_the_ones_preloaded():
    tree = ast.parse(Path(code_runner.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module != "__future__"
    }
    assert imported - {"os", "sys"} == set(code_runner.IMPORTS)  # os and sys are in every interpreter


def test_tag_shaped_objects_are_found_in_parsed_json():
    assert has_tags([1, {"a": [{"$tuple": [1]}]}])
    assert has_tags({"$set": []})
    assert not has_tags([{"$tuple": [1], "other": 2}, {"tuple": 1}, "$tuple", [[{}]]])


def test_prepare_refuses_inputs_that_look_like_codec_tags(tmp_path):
    path = tmp_path / "Tagged.jsonl"
    row = {
        "task_id": "HumanEval/0",
        "prompt": "def f(x):\n",
        "canonical_solution": "    return x\n",
        "entry_point": "f",
    }
    row |= {"base_input": [[{"$set": [1]}]], "plus_input": [], "atol": 0}
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match=r"Tagged.jsonl: HumanEval/0: an input holds"):
        read_evalplus(path, cache_dir=tmp_path)


def test_codec_makes_unknown_objects_opaque():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    wire = json.dumps(encode([AlwaysEqual(), (x for x in ())]))
    back, again = decode(wire), decode(wire)
    assert all(isinstance(v, Opaque) for v in back)
    assert back != again and back[0] != again[0]
    assert not (back[0] == 1) and not (back[0] == 1)  # noqa: SIM201 -- __eq__ itself, not __ne__


def test_evalplus_rules():
    assert cv._evalplus_match("humaneval", "f", [], 0.1 + 0.2, 0.3, cv._Atol(0))  # float: atol 1e-6
    assert not cv._evalplus_match("humaneval", "f", [], [1, 2], (1, 2), cv._Atol(0))  # tuple is not list
    assert not cv._evalplus_match("humaneval", "f", [], 1.0001, 1.0, cv._Atol(0))
    sticky = cv._Atol(0)
    assert cv._evalplus_match("humaneval", "f", [], 1.0, 1.0, sticky) and sticky.value == 1e-6
    assert cv._evalplus_match("mbpp", "similar_elements", [], (5, 4), (4, 5), cv._Atol(0))  # set equality
    assert cv._evalplus_match("mbpp", "check_str", [], "match", True, cv._Atol(0))  # not-None oracle
    assert not cv._evalplus_match("mbpp", "check_str", [], None, True, cv._Atol(0))
    assert cv._evalplus_match("humaneval", "find_zero", [[-6, 11, -6, 1]], 1.0, 99.0, cv._Atol(1e-4))
    assert not cv._evalplus_match("humaneval", "find_zero", [[-6, 11, -6, 1]], 1.5, 1.0, cv._Atol(1e-4))
    assert cv._evalplus_match("mbpp", "surface_Area", [3, 4], 33, 33, cv._Atol(0))


def test_lcb_stdout_rules():
    assert cv._lcb_stdout_match("6 \n", "6\n")
    assert cv._lcb_stdout_match("2.5\n", "2.500000\n")  # Decimal comparison of tokens
    assert not cv._lcb_stdout_match("50000000000000001\n", "50000000000000000\n")  # exact, no float rounding
    assert not cv._lcb_stdout_match("1\n2\n", "1 2\n")
    assert not cv._lcb_stdout_match("yes\n", "Yes\n")


# --------------------------------------------------------------------------------------
# synthetic tasks (no data files needed)


ADD_TASK_ROW = {
    "task_id": "HumanEval/900",
    "prompt": 'def add(a, b):\n    """Return a + b."""\n',
    "entry_point": "add",
    "canonical_solution": "    return a + b\n",
    "contract": "",
    "base_input": [[1, 2], [3, 4]],
    "plus_input": [[10**30, 1], [-1.5, 2.25], [[1], [2]]],
    "atol": 0,
}


@pytest.fixture(scope="module")
def add_task(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An evalplus-format task, prepared by the real reader (expected outputs via the sandbox)."""
    folder = tmp_path_factory.mktemp("add")
    path = folder / "AddPlus.jsonl"
    path.write_text(json.dumps(ADD_TASK_ROW) + "\n")
    return read_evalplus(path, cache_dir=folder, workers=1).row(0, named=True)


@pytest.fixture(scope="module")
def lcb_tasks() -> dict[str, dict]:
    table = read_livecodebench(LCB_FIXTURE, start_date=None, end_date=None)
    return {row["problem_id"]: row for row in table.iter_rows(named=True)}


@needs_linux
def test_evalplus_synthetic_pass_and_fail(add_task: dict):
    good = cv.verify(fenced("def add(a, b):\n    return a + b"), add_task)
    assert good == cv.Verdict(True, "def add(a, b):\n    return a + b\n", "passed", "fenced")
    wrong = cv.verify(fenced("def add(a, b):\n    return a + b if b != 1 else 0"), add_task)
    assert (wrong.correct, wrong.status) == (False, "failed") and "plus input 3/5" in wrong.detail
    crash = cv.verify(fenced("def add(a, b):\n    raise ValueError('nope')"), add_task)
    assert crash.status == "runtime_error" and "ValueError: nope" in crash.detail
    missing = cv.verify(fenced("def plus(a, b):\n    return a + b"), add_task)
    assert missing.status == "runtime_error" and "add" in missing.detail
    assert cv.verify("\n```\nI don't know.", add_task).status == "no_code"
    slow = cv.verify(
        fenced("import time\ndef add(a, b):\n    time.sleep(5)\n    return a + b"), add_task, timeout_s=0.5
    )
    assert slow.status == "timeout"  # the wall-clock backstop (3 x the limit) ends a sleeper


@needs_linux
def test_time_limits_count_cpu_not_waiting(add_task: dict):
    """Limits are CPU seconds: waiting (as on a loaded host) is not held against a program."""
    waits = cv.verify(
        fenced("import time\ndef add(a, b):\n    time.sleep(0.6)\n    return a + b"), add_task, timeout_s=0.4
    )
    assert waits.status == "passed", waits
    spins = cv.verify(
        fenced(
            "import time\ndef add(a, b):\n    end = time.process_time() + 0.6\n"
            "    while time.process_time() < end:\n        pass\n    return a + b"
        ),
        add_task,
        timeout_s=0.4,
    )
    assert spins.status == "timeout", spins


@needs_linux
def test_batched_results_never_shorten_a_later_call_limit():
    """Quick results travel in batches; a call with a larger limit after a batch of calls
    with small ones still gets its own limit (the batch is written before it starts)."""
    spin = textwrap.dedent(
        """
        def f(x):
            if x:
                import time
                end = time.process_time() + 0.8
                while time.process_time() < end:
                    pass
            return x
        """
    )
    job = {
        "kind": "call",
        "source": spin,
        "entry_point": "f",
        "input_format": "json_args",
        "inputs": [[0]] * 40 + [[1]],
        "time_limits": [0.2] * 40 + [3.0],
        "startup_s": 10.0,
    }
    events: list[dict] = []
    cv._run_job(job, 30.0, lambda frame: events.extend(code_runner.events(json.loads(frame))) or True)
    outs = [e for e in events if e["ev"] == "out"]
    assert [e["i"] for e in outs] == list(range(41)), events[-3:]
    assert outs[-1]["cpu"] >= 0.8 and not [e for e in events if e["ev"] == "timeout"]
    job["time_limits"] = [0.2] * 41  # and the same call under a small limit is stopped
    events.clear()
    cv._run_job(job, 30.0, lambda frame: events.extend(code_runner.events(json.loads(frame))) or True)
    assert [e["ev"] for e in events if e["ev"] not in ("ready", "out")] == ["timeout", "done"]
    assert 40 not in [e["i"] for e in events if e["ev"] == "out"]


@needs_linux
def test_only_the_call_is_timed_and_huge_results_compare_by_digest(add_task: dict):
    # The call returns at once; serialising 3 million ints takes longer than the 0.3 s limit,
    # which must not count (evalplus times the call only). The answer is simply wrong.
    big = cv.verify(fenced("def add(a, b):\n    return list(range(3 * 10**6))"), add_task, timeout_s=0.3)
    assert big.status == "failed", big
    # A result above the shipping limit travels as a digest and still compares exactly.
    huge = list(range(9 * 10**6))
    assert cv._Huge(cv.code_runner.digest(huge)) == list(range(9 * 10**6))
    assert cv._Huge(cv.code_runner.digest(huge)) != list(range(9 * 10**6 - 1))
    assert cv._evalplus_match("mbpp", "check_str", [], cv._Huge("any"), True, cv._Atol(0))  # huge is not None


@needs_linux
def test_livecodebench_stdin_and_functional(lcb_tasks: dict[str, dict]):
    total = lcb_tasks["fx-sum"]
    assert cv.verify(fenced("n = int(input())\nprint(sum(map(int, input().split())))"), total).status == "passed"
    main_guard = """
        import sys
        def main():
            data = sys.stdin.read().split()
            print(sum(map(int, data[1:])))
            sys.exit(0)
        if __name__ == "__main__":
            main()
        """
    assert cv.verify(fenced(main_guard), total).status == "passed"
    globals_at_top = "n = int(input())\nacc = 0\ndef add(x):\n    global acc\n    acc += x\nfor v in input().split():\n    add(int(v))\nprint(acc)"
    assert cv.verify(fenced(globals_at_top), total).status == "passed"
    wrong = cv.verify(fenced("input()\nprint(max(map(int, input().split())))"), total)
    assert wrong.status == "failed" and "test 1/4" in wrong.detail
    assert cv.verify(fenced("print(undefined_name)"), total).status == "runtime_error"
    assert cv.verify(fenced("while True:\n    pass"), total, timeout_s=0.5).status == "timeout"

    average = lcb_tasks["fx-average"]
    assert (
        cv.verify(
            fenced("n = int(input())\na = list(map(int, input().split()))\nprint(f'{sum(a)/n:.6f}')"), average
        ).status
        == "passed"
    )
    assert (
        cv.verify(fenced("n = int(input())\na = list(map(int, input().split()))\nprint(sum(a)/n)"), average).status
        == "failed"
    )  # 1.3333333333333333 != 1.333333 as Decimals

    two_sum = lcb_tasks["fx-two-sum"]
    solution = """
        class Solution:
            def twoSum(self, nums: List[int], target: int) -> List[int]:
                seen = {}
                for i, x in enumerate(nums):
                    if target - x in seen:
                        return (seen[target - x], i)
                    seen[x] = i
        """
    verdict = cv.verify(fenced(solution), two_sum)  # List comes from LCB's prelude; tuples count as lists
    assert verdict.status == "passed", verdict
    assert (
        cv.verify(fenced("class Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]"), two_sum).status
        == "failed"
    )


@needs_linux
def test_verify_batch_matches_verify_and_keeps_order(add_task: dict, lcb_tasks: dict[str, dict], caplog):
    samples = [
        (fenced("def add(a, b):\n    return a + b"), add_task),
        (fenced("n = int(input())\nprint(sum(map(int, input().split())))"), lcb_tasks["fx-sum"]),
        (fenced("def add(a, b):\n    return a - b"), add_task),
        (fenced("while True:\n    pass"), lcb_tasks["fx-pairs"]),
        ("\n```", lcb_tasks["fx-pairs"]),
        (fenced("n = int(input())\nfor i in range(1, n + 1):\n    print(i, i * i)"), lcb_tasks["fx-pairs"]),
    ] * 2
    start = time.monotonic()
    with caplog.at_level(logging.INFO, logger="rlvr_boundary.progress"):
        batch = cv.verify_batch(
            [r for r, _ in samples], [t for _, t in samples], workers=2, timeout_s=1.0, chunk_size=2, log_seconds=0
        )
    assert time.monotonic() - start < 60
    lines = [r.getMessage() for r in caplog.records if r.name == "rlvr_boundary.progress"]
    assert re.fullmatch(r"code verification: \d+/12 samples \(.*\), [\d.]+ samples/s, ETA \d+:\d\d", lines[0])
    assert lines[-1].startswith("code verification: 12/12 samples (100.0%)") and "finished in" in lines[-1]
    assert [v.status for v in batch] == ["passed", "passed", "failed", "timeout", "no_code", "passed"] * 2
    assert [v.correct for v in batch] == [v.status == "passed" for v in batch]
    single = [cv.verify(r, t, timeout_s=1.0) for r, t in samples[:6]]
    assert [v.status for v in single] == [v.status for v in batch[:6]]


# --------------------------------------------------------------------------------------
# the hostile-program suite, through verify (and so through the real sandbox)


def _escaped_processes() -> list[int]:
    """Sandboxed processes (root-mode uid) whose keeper is gone: escapees, must not exist."""
    return [
        pid
        for pid, ids in process_uids()
        if ids[0] >= sandbox.UID_BASE and not Path(f"/proc/{ids[0] - sandbox.UID_BASE}").exists()
    ]


HOSTILE = {
    "fork bomb": "import os\ndef add(a, b):\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass",
    "memory bomb": "def add(a, b):\n    hog = []\n    while True:\n        hog.append(b'x' * (256 << 20))",
    "infinite loop": "def add(a, b):\n    while True:\n        pass",
    "busy loop ignoring SIGTERM": (
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "def add(a, b):\n    while True:\n        pass"
    ),
    "deep recursion": "import sys\nsys.setrecursionlimit(10**8)\ndef add(a, b):\n    return add(a, b) + 1",
    "write and delete outside the work dir": (
        "import os, shutil\ndef add(a, b):\n"
        "    for p in ('{victim}',):\n"
        "        for act in (lambda: open(p, 'a').write('x'), lambda: os.remove(p), lambda: shutil.rmtree(os.path.dirname(p))):\n"
        "            try:\n                act()\n            except OSError:\n                pass\n"
        "    return None"
    ),
    "read the expected outputs": (
        "import json, os\ncalls = []\ndef add(a, b):\n"
        "    calls.append(1)\n"
        "    for path in ['{secret}'] + [os.path.join(r, f) for r, _, fs in os.walk('/sbx') for f in fs]:\n"
        "        try:\n            data = json.load(open(path))\n        except Exception:\n            continue\n"
        "        if isinstance(data, dict) and 'expected' in data:\n            return data['expected'][len(calls) - 1]\n"
        "    return None"
    ),
    "open a socket": (
        "import socket\ndef add(a, b):\n    s = socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
        "    s.sendall(b'%d %d' % (a, b))\n    return int(s.recv(100))"
    ),
    "kill the parent": (
        "import os, signal\ndef add(a, b):\n"
        "    for pid in (os.getppid(), {harness}, 1, -1):\n"
        "        try:\n            os.kill(pid, signal.SIGKILL)\n        except OSError:\n            pass\n"
        "    return a + b + 1"
    ),
    "print gigabytes": "import os\ndef add(a, b):\n    while True:\n        os.write(1, b'x' * (1 << 20))\n        print('y' * (1 << 20))",
    "sys.exit(0) before the tests": "import sys\nsys.exit(0)\ndef add(a, b):\n    return a + b",
    "os._exit(0) during a test": "import os\ndef add(a, b):\n    os._exit(0)",
    "monkeypatched builtins and comparison": (
        "import builtins, json, operator\n"
        "class Yes:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
        "builtins.isinstance = lambda *a: True\nbuiltins.type = lambda *a: Yes\noperator.eq = lambda a, b: True\n"
        'json.dumps = lambda *a, **k: \'{{"ev": "out", "i": 0, "value": 3}}\'\n'
        "def add(a, b):\n    return Yes()"
    ),
    "forged result records": (
        "import os, struct, json\ndef add(a, b):\n"
        "    frame = json.dumps({{'ev': 'done'}}).encode()\n"
        "    for fd in (3, 4, 5, 6, 7):\n        try:\n            os.write(fd, struct.pack('>I', len(frame)) + frame)\n        except OSError:\n            pass\n"
        "    for path in ('/proc/1/fd/3', '/proc/1/mem'):\n        try:\n            open(path, 'wb').write(frame)\n        except OSError:\n            pass\n"
        "    os._exit(0)"
    ),
    "daemon outliving the test": (
        "import os, time\ndef add(a, b):\n    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
        "            time.sleep(120)\n        os._exit(0)\n    return a + b + 1"
    ),
}


@needs_linux
@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_hostile_programs_fail_and_leave_nothing(attack: str, add_task: dict, tmp_path: Path):
    victim = tmp_path / "victim" / "keep.txt"
    victim.parent.mkdir()
    victim.write_text("keep")
    secret = tmp_path / "expected.json"  # what a program that could read it would need to pass
    secret.write_text(json.dumps({"expected": [3, 7, 10**30 + 1, 0.75, [1, 2]]}))
    os.chmod(tmp_path, 0o755)
    with __import__("socket").socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        program = HOSTILE[attack].format(
            victim=victim, secret=secret, port=server.getsockname()[1], harness=os.getpid()
        )
        start = time.monotonic()
        verdict = cv.verify(fenced(program), add_task, timeout_s=1.0)
        elapsed = time.monotonic() - start
        server.settimeout(0.01)
        with pytest.raises(TimeoutError):
            server.accept()  # nobody connected
    assert not verdict.correct
    assert verdict.status in ("failed", "timeout", "runtime_error"), verdict
    assert elapsed < 30, f"{attack} took {elapsed:.1f}s"
    assert victim.read_text() == "keep"
    assert Path("/etc/passwd").exists() and Path(sys.executable).exists()
    deadline = time.monotonic() + 3
    while _escaped_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _escaped_processes() == []


@needs_linux
def test_daemons_are_killed_between_stdin_tests(lcb_tasks: dict[str, dict]):
    """Each stdin test starts without the previous test's processes (the work dir is shared)."""
    program = """
        import os, time
        n = int(input())
        values = list(map(int, input().split()))
        alive = False
        if os.path.exists("daemon.pid"):
            try:
                os.kill(int(open("daemon.pid").read()), 0)
                alive = True
            except ProcessLookupError:
                pass
        pid = os.fork()
        if pid == 0:
            os.setsid()
            time.sleep(60)
            os._exit(0)
        open("daemon.pid", "w").write(str(pid))
        print(-1 if alive else sum(values))
        """
    verdict = cv.verify(fenced(program), lcb_tasks["fx-sum"], timeout_s=2.0)
    assert verdict.status == "passed", verdict
    assert _escaped_processes() == []


# --------------------------------------------------------------------------------------
# real benchmarks: canonical solutions pass, broken ones fail


def _broken(row: dict) -> str:
    """The canonical signature returning None (raising, where every expected output is None)."""
    expected = json.loads(row["tests"])["expected"]
    body = "raise ValueError('broken')" if all(v is None for v in expected) else "return None"
    return f"def {row['entry_point']}(*args, **kwargs):\n    {body}\n"


def _subset_table(source: Path, task_ids: list[str], folder: Path):
    with gzip.open(source, "rt") as handle:
        rows = [json.loads(line) for line in handle]
    wanted = [r for r in rows if r["task_id"] in task_ids]
    path = folder / f"subset-{source.stem}"
    path.write_text("".join(json.dumps(r) + "\n" for r in wanted))
    return read_evalplus(path, cache_dir=folder, workers=2)


QUICK_HUMANEVAL = ["HumanEval/0", "HumanEval/2", "HumanEval/32", "HumanEval/53", "HumanEval/160"]
QUICK_MBPP = ["Mbpp/2", "Mbpp/124", "Mbpp/252", "Mbpp/278", "Mbpp/558", "Mbpp/580", "Mbpp/581", "Mbpp/722", "Mbpp/737"]


@needs_linux
@pytest.mark.skipif(
    not (HUMANEVAL.exists() and MBPP.exists()), reason="real HumanEval+/MBPP+ files not in ../shared/data"
)
def test_canonical_solutions_pass_on_a_real_subset(tmp_path: Path):
    """Tasks with special oracles, tuple/set/complex inputs and float tolerances."""
    tables = [_subset_table(HUMANEVAL, QUICK_HUMANEVAL, tmp_path), _subset_table(MBPP, QUICK_MBPP, tmp_path)]
    rows = [row for table in tables for row in table.iter_rows(named=True)]
    assert len(rows) == len(QUICK_HUMANEVAL) + len(QUICK_MBPP)
    responses = [fenced(row["canonical_solution"]) for row in rows] + [fenced(_broken(row)) for row in rows]
    verdicts = cv.verify_batch(responses, rows + rows, workers=2)
    canonical, broken = verdicts[: len(rows)], verdicts[len(rows) :]
    assert [(r["problem_id"], v.status) for r, v in zip(rows, canonical, strict=True)] == [
        (r["problem_id"], "passed") for r in rows
    ]
    for row, verdict in zip(rows, broken, strict=True):
        assert verdict.status == "failed", (row["problem_id"], verdict)


@needs_linux
@pytest.mark.slow
@pytest.mark.skipif(
    not (HUMANEVAL.exists() and MBPP.exists()), reason="real HumanEval+/MBPP+ files not in ../shared/data"
)
@pytest.mark.parametrize("source", [HUMANEVAL, MBPP], ids=["humanevalplus", "mbppplus"])
def test_every_canonical_solution_passes_and_a_broken_variant_fails(source: Path):
    """The full suite (164 + 378 tasks). Expected outputs are cached in the user cache dir."""
    table = read_evalplus(source, workers=2)
    rows = list(table.iter_rows(named=True))
    responses = [fenced(row["canonical_solution"]) for row in rows] + [fenced(_broken(row)) for row in rows]
    verdicts = cv.verify_batch(responses, rows + rows, workers=2)
    failures = [
        (r["problem_id"], v.status, v.detail)
        for r, v in zip(rows, verdicts[: len(rows)], strict=True)
        if v.status != "passed"
    ]
    assert not failures, failures
    not_failed = [
        (r["problem_id"], v.status)
        for r, v in zip(rows, verdicts[len(rows) :], strict=True)
        if v.status not in ("failed", "runtime_error")
    ]
    assert not not_failed, not_failed


@needs_linux
@pytest.mark.skipif(
    not (HUMANEVAL.exists() and MBPP.exists()), reason="real HumanEval+/MBPP+ files not in ../shared/data"
)
def test_verdicts_agree_with_evalplus_on_a_real_subset(tmp_path: Path):
    """Same samples through evalplus's own evaluator core (base then plus ``untrusted_check``).

    The one expected difference: evalplus fails every HumanEval/32 (``find_zero``) sample,
    because its oracle branch ``continue``s before counting the input as passed.
    """
    evalplus_eval = pytest.importorskip("evalplus.eval")
    from evalplus.data.mbpp import mbpp_deserialize_inputs
    from evalplus.gen.util import trusted_exec

    ours_rows, theirs = [], []
    for source, ids, dataset in ((HUMANEVAL, QUICK_HUMANEVAL, "humaneval"), (MBPP, QUICK_MBPP, "mbpp")):
        table = _subset_table(source, ids, tmp_path)
        with gzip.open(source, "rt") as handle:
            problems = {p["task_id"]: p for p in map(json.loads, handle) if p["task_id"] in ids}
        for row in table.iter_rows(named=True):
            problem = problems[row["problem_id"]]
            parts = {}
            for part in ("base", "plus"):
                inputs = problem[f"{part}_input"] or []
                if dataset == "mbpp":
                    inputs = mbpp_deserialize_inputs(row["problem_id"], inputs)
                out, times = trusted_exec(
                    problem["prompt"] + problem["canonical_solution"],
                    inputs,
                    problem["entry_point"],
                    record_time=True,
                    output_not_none=problem["entry_point"] in cv._MBPP_NOT_NONE,
                )
                parts[part] = (inputs, out, times)
            for code in (row["canonical_solution"], _broken(row)):
                statuses = [
                    evalplus_eval.untrusted_check(
                        dataset,
                        code,
                        inputs,
                        problem["entry_point"],
                        expected=out,
                        atol=problem["atol"],
                        ref_time=times,
                        fast_check=True,
                    )[0]
                    for inputs, out, times in parts.values()
                ]
                theirs.append(all(s == "pass" for s in statuses))
                ours_rows.append((row, code))
    ours = cv.verify_batch([fenced(code) for _, code in ours_rows], [row for row, _ in ours_rows], workers=2)
    differences = {
        (row["problem_id"], code == row["canonical_solution"]): (v.correct, t)
        for (row, code), v, t in zip(ours_rows, ours, theirs, strict=True)
        if v.correct != t
    }
    assert differences == {("HumanEval/32", True): (True, False)}
