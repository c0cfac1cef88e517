"""Prepared code-benchmark tables (evalplus, LiveCodeBench) and the code prompts."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import pickle
import re
import stat
import sys
import zlib
from pathlib import Path

import polars as pl
import pytest

from rlvr_boundary import prompts, tables
from rlvr_boundary.code_benchmarks import (
    LCB_RELEASE_FILES,
    read_evalplus,
    read_livecodebench,
)
from rlvr_boundary.verify.code_runner import decode

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT.parent / "shared" / "paper" / "PAPER.md"
HUMANEVAL = ROOT.parent / "shared" / "data" / "code" / "humanevalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
MBPP = ROOT.parent / "shared" / "data" / "code" / "mbppplus" / "MbppPlus-v0.2.0.jsonl.gz"
LCB_FIXTURE = Path(__file__).parent / "data" / "lcb_fixture.jsonl"
needs_linux = pytest.mark.skipif(sys.platform != "linux", reason="expected outputs are computed in the sandbox")


# --------------------------------------------------------------------------------------
# LiveCodeBench


def test_livecodebench_window_and_columns():
    table = read_livecodebench(LCB_FIXTURE, start_date="2024-08-01", end_date="2025-02-01")
    assert table.schema == pl.Schema(tables.CODE_BENCHMARK.columns)
    assert table["problem_id"].to_list() == ["fx-sum", "fx-two-sum", "fx-average", "fx-pairs"]  # window inclusive
    assert table["index"].to_list() == [0, 1, 2, 3]
    assert table["source_index"].to_list() == [0, 1, 2, 3]
    assert table["test_mode"].to_list() == ["lcb_stdin", "lcb_functional", "lcb_stdin", "lcb_stdin"]
    assert table["entry_point"].to_list() == [None, "twoSum", None, None]
    assert table["contest_date"].to_list() == ["2024-08-10", "2024-09-01", "2025-01-15", "2025-02-01"]
    assert table["n_tests"].to_list() == [4, 3, 3, 2]
    first = table.row(0, named=True)
    tests = json.loads(first["tests"])
    assert tests["n_public"] == 1
    assert tests["inputs"][0] == "3\n1 2 3\n"
    assert tests["outputs"][1:] == ["-5\n", "100\n", "5000000000\n"]  # compressed private tests decoded
    assert first["question"].startswith("You are given N integers")
    two_sum = table.row(1, named=True)
    assert two_sum["starter_code"].startswith("class Solution:")
    assert json.loads(two_sum["tests"])["inputs"][1] == "[3, 2, 4]\n6"
    assert table["platform"].to_list() == ["atcoder", "leetcode", "codeforces", "atcoder"]


def test_livecodebench_sources_agree():
    """A path, a list of paths and an iterable of rows (e.g. a datasets split) read the same."""
    rows = [json.loads(line) for line in LCB_FIXTURE.read_text().splitlines()]
    by_path = read_livecodebench(LCB_FIXTURE, start_date=None, end_date=None)
    by_rows = read_livecodebench(iter(rows), start_date=None, end_date=None)
    assert by_path.equals(by_rows) and by_path.height == 6
    later = read_livecodebench(rows, start_date=dt.date(2025, 1, 1), end_date=None)
    assert later["problem_id"].to_list() == ["fx-average", "fx-pairs", "fx-late"]
    assert later["source_index"].to_list() == [2, 3, 5] and later["index"].to_list() == [0, 1, 2]


def test_livecodebench_split_files(tmp_path: Path):
    lines = LCB_FIXTURE.read_text().splitlines(keepends=True)
    first, second = tmp_path / "test.jsonl", tmp_path / "test2.jsonl.gz"
    first.write_text("".join(lines[:2]))
    with gzip.open(second, "wt") as handle:
        handle.write("".join(lines[2:]))
    table = read_livecodebench([first, second], start_date=None, end_date=None)
    assert table.equals(read_livecodebench(LCB_FIXTURE, start_date=None, end_date=None))


def test_livecodebench_refuses_pickled_objects():
    """Private tests are a pickled *string*; anything else in the pickle is refused, not run."""
    row = json.loads(LCB_FIXTURE.read_text().splitlines()[0])
    row["private_test_cases"] = base64.b64encode(zlib.compress(pickle.dumps(dt.date(2024, 1, 1)))).decode()
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        read_livecodebench([row], start_date=None, end_date=None)


def test_livecodebench_release_files():
    assert LCB_RELEASE_FILES["release_v5"] == ["test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl"]
    assert LCB_RELEASE_FILES["release_v1"] == ["test.jsonl"]


# --------------------------------------------------------------------------------------
# evalplus


@needs_linux
@pytest.mark.skipif(
    not (HUMANEVAL.exists() and MBPP.exists()), reason="real HumanEval+/MBPP+ files not in ../shared/data"
)
def test_evalplus_tables_from_real_files(tmp_path: Path):
    for source, wanted, benchmark in (
        (HUMANEVAL, ["HumanEval/0", "HumanEval/12"], "humanevalplus"),
        (MBPP, ["Mbpp/2", "Mbpp/737"], "mbppplus"),
    ):
        with gzip.open(source, "rt") as handle:
            raw = [json.loads(line) for line in handle]
        picked = [r for r in raw if r["task_id"] in wanted]
        subset = tmp_path / f"{benchmark}.jsonl.gz"
        with gzip.open(subset, "wt") as handle:
            handle.write("".join(json.dumps(r) + "\n" for r in picked))
        table = read_evalplus(subset, cache_dir=tmp_path / "cache", workers=1)
        assert table.schema == pl.Schema(tables.CODE_BENCHMARK.columns)
        assert table["problem_id"].to_list() == wanted and table["index"].to_list() == [0, 1]
        assert set(table["benchmark"]) == {benchmark} and set(table["test_mode"]) == {"evalplus"}
        for row, original in zip(table.iter_rows(named=True), picked, strict=True):
            tests = json.loads(row["tests"])
            assert row["question"] == original["prompt"].strip()
            assert row["entry_point"] == original["entry_point"]
            assert row["canonical_solution"] == original["prompt"] + original["canonical_solution"]
            assert tests["n_base"] == len(original["base_input"])
            assert row["n_tests"] == len(tests["inputs"]) == len(tests["expected"]) == len(tests["ref_time"])
            assert tests["inputs"] == original["base_input"] + original["plus_input"]
            assert row["atol"] == tests["atol"] == float(original["atol"])
    he_row = read_evalplus(tmp_path / "humanevalplus.jsonl.gz", cache_dir=tmp_path / "cache").row(0, named=True)
    assert decode(he_row["tests"])["expected"][0] is True  # has_close_elements([1.0, 2.0, 3.9, ...], 0.3)
    mbpp_row = read_evalplus(tmp_path / "mbppplus.jsonl.gz", cache_dir=tmp_path / "cache").row(1, named=True)
    assert set(decode(mbpp_row["tests"])["expected"]) <= {True, False}  # not-None task
    caches = sorted((tmp_path / "cache").iterdir())
    assert len(caches) == 2 and all(stat.S_IMODE(c.stat().st_mode) == 0o600 for c in caches)


@needs_linux
def test_evalplus_cache_is_reused_and_keyed_by_content(tmp_path: Path):
    row = {
        "task_id": "HumanEval/901",
        "prompt": "def inc(x):\n",
        "entry_point": "inc",
        "canonical_solution": "    return x + 1\n",
        "contract": "",
        "base_input": [[1]],
        "plus_input": [[2]],
        "atol": 0,
    }
    plain = tmp_path / "a.jsonl"
    plain.write_text(json.dumps(row) + "\n")
    packed = tmp_path / "a.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    first = read_evalplus(plain, cache_dir=tmp_path / "c", workers=1)
    cache = next((tmp_path / "c").iterdir())
    stamp = cache.stat().st_mtime_ns
    second = read_evalplus(packed, cache_dir=tmp_path / "c", workers=1)  # same content, same cache entry
    assert first.equals(second) and cache.stat().st_mtime_ns == stamp
    assert decode(first["tests"][0])["expected"] == [2, 3]


# --------------------------------------------------------------------------------------
# prompts: byte-equal to PAPER.md (Figs. 24 and 25)


def _paper_line(marker: str) -> str:
    return next(line for line in PAPER.read_text().splitlines() if line.startswith(marker))


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n")


@pytest.mark.skipif(not PAPER.exists(), reason="PAPER.md not in ../shared/paper")
def test_evalplus_prompt_is_byte_equal_to_the_paper():
    line = _paper_line("- **Fig 25 HumanEval+/MBPP+**")
    system, user, prefill = (_unescape(s) for s in re.findall(r'"([^"]*)"', line))
    question = 'def f(x):\n    """Return {x}."""'
    expected = (
        f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n"
        + user.replace("{python_task_prompt}", question)
        + f"<|im_end|>\n<|im_start|>assistant\n{prefill}"
    )
    assert prompts.render("evalplus", question) == expected
    assert expected.endswith("passes corresponding tests:\n```python")


@pytest.mark.skipif(not PAPER.exists(), reason="PAPER.md not in ../shared/paper")
def test_livecodebench_prompt_is_byte_equal_to_the_paper():
    line = _paper_line("- **Fig 24 LiveCodeBench eval**")
    system = re.search(r'system "([^"]*)"', line).group(1)
    intro = _unescape(re.search(r'user = "(.*?)" then', line).group(1))
    with_block = _unescape(
        re.search(r"`(### Format:\\n\{FORMATTING_MESSAGE_WITH_STARTER_CODE\}.*?\\n\\n)`", line).group(1)
    )
    without_block = _unescape(
        re.search(r"`(### Format:\\n\{FORMATTING_MESSAGE_WITHOUT_STARTER_CODE\}.*?\\n\\n)`", line).group(1)
    )
    ending = _unescape(re.search(r"then `(<\|im_end\|>.*?```python)`", line).group(1))
    with_text = re.search(r'WITH = "([^"]*)"', line).group(1)
    without_text = re.search(r'WITHOUT \(named `FORMATTING_WITHOUT_STARTER_CODE` in LCB\) = "([^"]*)"', line).group(1)
    head = f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n"
    question = "Find {the} answer.\n\nInput\n\nN"
    starter = "class Solution:\n    def f(self, n: int) -> int:\n        "
    expected_with = (
        head
        + intro.replace("{question.question_content}", question)
        + with_block.replace("{FORMATTING_MESSAGE_WITH_STARTER_CODE}", with_text).replace("{starter_code}", starter)
        + ending
    )
    expected_without = (
        head
        + intro.replace("{question.question_content}", question)
        + without_block.replace("{FORMATTING_MESSAGE_WITHOUT_STARTER_CODE}", without_text)
        + ending
    )
    assert prompts.render("livecodebench", question, starter) == expected_with
    assert prompts.render("livecodebench", question) == expected_without
    assert expected_without.endswith("<|im_end|>\n<|im_start|>assistant\n```python")
    # Fig. 3's R1-style models: the same user message in R1's chat format, no prefill.
    user_message = expected_with[len(head) : -len(ending)]
    assert prompts.render("livecodebench-r1", question, starter) == (
        "<\uff5cUser\uff5c>" + user_message + "<\uff5cAssistant\uff5c><think>\n"
    )
    assert [prompts.code_prefill(t) for t in ("evalplus", "livecodebench", "livecodebench-r1", "qwen-boxed")] == [
        "```python",
        "```python",
        "",
        "",
    ]


def test_render_code_from_prepared_rows():
    table = read_livecodebench(LCB_FIXTURE, start_date=None, end_date=None)
    rows = {row["problem_id"]: row for row in table.iter_rows(named=True)}
    two_sum, plain = rows["fx-two-sum"], rows["fx-sum"]
    assert "def twoSum(self, nums: List[int]" in prompts.render(
        "livecodebench", two_sum["question"], two_sum["starter_code"]
    )
    assert "# YOUR CODE HERE" in prompts.render("livecodebench", plain["question"], plain["starter_code"])
    with pytest.raises(ValueError, match="unknown prompt template 'humaneval'"):
        prompts.render("humaneval", plain["question"])
    assert prompts.template_kind("livecodebench") == "code" and prompts.template_kind("qwen-boxed") == "math"
