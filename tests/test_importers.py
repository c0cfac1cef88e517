"""Importing other tools' sample files (``rlvr_boundary.importers``, ``samples_from``).

Every file here is written by hand in its tool's own format (the fields its code writes:
README, "Samples made elsewhere"), for a three-problem benchmark. The readers are checked
field by field, malformed files give one error naming the file, line and field, and a real
Snakemake run rebuilds a figure from the imported files alone (no model is sampled).
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from rlvr_boundary import tables
from rlvr_boundary.importers import SampleFileError, imported, read_samples
from rlvr_boundary.specs import ImportSpec, Shard

PROJECT = Path(__file__).resolve().parents[1]
HUMANEVAL = PROJECT / ".." / "shared" / "data" / "code" / "humanevalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"

PROBLEMS = [
    {"id": "p0", "problem": "What is 2+3?", "answer": "5"},
    {"id": "p1", "problem": "What is 7*6?", "answer": "42"},
    {"id": "p2", "problem": "What is 10-4?", "answer": "6"},
]

# Qwen2.5-Math harness, two seed runs of n_sampling = 1 (the paper's fork adds finish_reason).
QWEN_SEED0 = [
    {"idx": 0, "question": "What is 2+3?", "gt_cot": "None", "gt": "5", "code": ["2+3 = 5, so $\\boxed{5}$."],
     "pred": ["5"], "report": [None], "finish_reason": ["stop"], "score": [True]},
    {"idx": 1, "question": "What is 7*6?", "gt_cot": "None", "gt": "42", "code": ["7*6 is $\\boxed{42}$."],
     "pred": ["42"], "report": [None], "finish_reason": ["stop"], "score": [True]},
    {"idx": 2, "question": "What is 10-4?", "gt_cot": "None", "gt": "6", "code": ["10-4 = $\\boxed{5}$"],
     "pred": ["5"], "report": [None], "finish_reason": ["length"], "score": [False]},
]  # fmt: skip
QWEN_SEED1 = [
    {"idx": 0, "question": "What is 2+3?", "gt_cot": "None", "gt": "5", "code": ["The sum is $\\boxed{6}$."],
     "pred": ["6"], "report": [None], "score": [False]},
    # the harness's own grader missed this unmarked answer: its score and ours differ
    {"idx": 1, "question": "What is 7*6?", "gt_cot": "None", "gt": "42", "code": ["So the product is 42."],
     "pred": [""], "report": [None], "score": [False]},
    {"idx": 2, "question": "What is 10-4?", "gt_cot": "None", "gt": "6", "code": ["$\\boxed{6}$"],
     "pred": ["6"], "report": [None], "score": [True]},
]  # fmt: skip


def _lm_eval_line(doc_id: int, generations: list[str], filter_name: str, score: int) -> dict:
    doc = PROBLEMS[doc_id]
    return {
        "doc_id": doc_id,
        "doc": {"problem": doc["problem"], "answer": doc["answer"]},
        "target": doc["answer"],
        "arguments": {
            "gen_args_0": {"arg_0": f"Problem:\n{doc['problem']}\n\nSolution:", "arg_1": {"until": ["Problem:"]}}
        },
        "resps": [generations],
        "filtered_resps": [generations[0]],
        "filter": filter_name,
        "metrics": ["exact_match"],
        "doc_hash": "0" * 64,
        "prompt_hash": "1" * 64,
        "target_hash": "2" * 64,
        "exact_match": score,
    }


# lm-eval with repeats = 2 and two filters: each doc twice, the generations the same.
LM_EVAL = [
    _lm_eval_line(i, gens, f, s)
    for i, gens, s in [
        (0, ["Final Answer: The final answer is $5$. I hope it is correct.", "It is $\\boxed{4}$."], 1),
        (1, ["$\\boxed{42}$", "$\\boxed{42}$"], 1),
        (2, ["I am not sure.", "So $\\boxed{6}$."], 0),
    ]
    for f in ("strict-match", "flexible-extract")
]

LIGHTEVAL_NEW = pl.DataFrame(
    {
        "doc": [
            {"query": f"Solve: {p['problem']}", "original_query": p["problem"], "choices": [p["answer"]],
             "gold_index": 0, "id": str(i), "task_name": "math_500|0", "num_samples": 2}
            for i, p in enumerate(PROBLEMS)
        ],
        "metric": [{"extractive_match": 0.5}, {"extractive_match": 1.0}, {"extractive_match": 0.0}],
        "model_response": [
            {"input": "...", "text": ["ANSWER: $\\boxed{5}$", "ANSWER: $\\boxed{7}$"], "output_tokens": [[1, 2], [3]]},
            {"input": "...", "text": ["$\\boxed{42}$", "$\\boxed{42.0}$"], "output_tokens": [[1], [2]]},
            {"input": "...", "text": ["$\\boxed{5}$", "$\\boxed{4}$"], "output_tokens": [[1], [2]]},
        ],
    }
)  # fmt: skip

PLAIN = [
    {"problem_id": "p0", "sample_index": 1, "response": "\\boxed{5}", "correct": True, "finish_reason": "stop"},
    {"problem_id": "p0", "sample_index": 0, "response": "\\boxed{3}", "correct": False},
    {"problem_id": "p1", "response": "\\boxed{42}"},
    {"problem_id": "p1", "response": "\\boxed{41}"},
    {"problem_id": "p2", "response": "\\boxed{6}"},
    {"problem_id": "p2", "response": "\\boxed{6}"},
]

EVALPLUS_SAMPLES = [
    {"task_id": "HumanEval/0", "solution": "def has_close_elements(numbers, threshold):\n    return True\n"},
    {"task_id": "HumanEval/0", "completion": "    return False\n"},
]
EVALPLUS_RESULTS = {
    "date": "2025-01-01 12:00",
    "hash": "0" * 32,
    "eval": {
        "HumanEval/0": [
            {"task_id": "HumanEval/0", "solution": "...", "base_status": "pass", "plus_status": "fail",
             "base_fail_tests": [], "plus_fail_tests": [[[1.0, 2.0], 0.5]]},
            {"task_id": "HumanEval/0", "solution": "...", "base_status": "pass", "plus_status": "pass",
             "base_fail_tests": [], "plus_fail_tests": []},
        ]
    },
}  # fmt: skip


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    written = {
        "seed0": _jsonl(tmp_path / "test_qwen-boxed_-1_seed0_t0.6_s0_e-1.jsonl", QWEN_SEED0),
        "seed1": _jsonl(tmp_path / "test_qwen-boxed_-1_seed1_t0.6_s0_e-1.jsonl", QWEN_SEED1),
        "lm-eval": _jsonl(tmp_path / "samples_minerva_math_2025-03-01T12-34-56.789012.jsonl", LM_EVAL),
        "plain": _jsonl(tmp_path / "plain.jsonl", PLAIN),
        "evalplus": _jsonl(tmp_path / "samples.jsonl", EVALPLUS_SAMPLES),
        "lighteval": tmp_path / "details_lighteval|math_500|0_2025-01-01T00-00-00.parquet",
    }
    LIGHTEVAL_NEW.write_parquet(written["lighteval"])
    (tmp_path / "samples_eval_results.json").write_text(json.dumps(EVALPLUS_RESULTS))
    return written


def test_qwen_math_reads_per_sample_lists_and_the_paper_forks_finish_reason(files: dict[str, Path]) -> None:
    frame = read_samples(files["seed0"], format="qwen-math")
    assert frame.columns == [*tables.SAMPLES.columns, "question", "correct"]
    assert frame["problem_id"].to_list() == ["0", "1", "2"] and frame["sample_index"].to_list() == [0, 0, 0]
    assert frame["finish_reason"].to_list() == ["stop", "stop", "length"]
    assert frame["correct"].to_list() == [True, True, False]
    assert read_samples(files["seed1"], format="qwen-math")["finish_reason"].to_list() == ["unknown"] * 3


def test_lm_eval_reads_the_repeats_of_the_first_filter_only(files: dict[str, Path]) -> None:
    frame = read_samples(files["lm-eval"], format="lm-eval", score_field="exact_match")
    assert frame.height == 6 and frame["sample_index"].to_list() == [0, 1] * 3
    assert frame["response"][1] == "It is $\\boxed{4}$."
    assert "correct" not in frame.columns  # a per-doc metric over 2 generations scores no single sample
    assert frame["question"][0] == "What is 2+3?"
    # lm-eval <= 0.4.2 wrote one indented JSON array under the .jsonl name
    old = files["lm-eval"].with_name("old_minerva_math.jsonl")
    old.write_text(json.dumps(LM_EVAL[::2], indent=2))
    assert read_samples(old, format="lm-eval").drop("question").equals(frame.drop("question"))


def test_lighteval_new_and_old_layouts(files: dict[str, Path], tmp_path: Path) -> None:
    frame = read_samples(files["lighteval"], format="lighteval")
    assert frame["response"].to_list()[:2] == ["ANSWER: $\\boxed{5}$", "ANSWER: $\\boxed{7}$"]
    assert frame["question"][0] == "What is 2+3?" and frame["problem_id"].unique(maintain_order=True).to_list() == [
        "0",
        "1",
        "2",
    ]
    old = pl.DataFrame(
        {
            "example": ["What is 2+3?"],
            "full_prompt": ["Solve: What is 2+3?"],
            "predictions": [["$\\boxed{5}$"]],
            "gold": [["5"]],
            "metrics": [{"extractive_match": 1.0}],
        }
    )
    old.write_parquet(tmp_path / "old.parquet")
    frame = read_samples(tmp_path / "old.parquet", format="lighteval", score_field="extractive_match")
    assert frame.select("problem_id", "response", "correct").rows() == [("0", "$\\boxed{5}$", True)]


def test_evalplus_samples_with_their_eval_results(files: dict[str, Path]) -> None:
    frame = read_samples(files["evalplus"], format="evalplus")
    assert frame["problem_id"].to_list() == ["HumanEval/0"] * 2 and frame["sample_index"].to_list() == [0, 1]
    assert frame["correct"].to_list() == [False, True]  # base and plus must both pass
    assert frame["completion"].to_list() == [False, True]
    files["evalplus"].with_name("samples_eval_results.json").unlink()
    assert "correct" not in read_samples(files["evalplus"], format="evalplus").columns


def test_plain_jsonl_keeps_given_indices_and_numbers_the_rest(files: dict[str, Path]) -> None:
    frame = read_samples(files["plain"], format="jsonl")
    assert frame.select("problem_id", "sample_index").rows()[:4] == [("p0", 1), ("p0", 0), ("p1", 0), ("p1", 1)]
    assert frame["correct"].to_list()[:3] == [True, False, None]
    assert frame["finish_reason"].to_list()[:2] == ["stop", "unknown"]


@pytest.mark.parametrize(
    ("format", "content", "message"),
    [
        ("qwen-math", '{"idx": 0, "code": ["a", "b"], "score": [true]}\n', ":1: field 'score': 1 entries, but 'code' has 2"),
        ("qwen-math", '{"idx": 0, "code": ["a"]}\n{"code": ["b"]}\n', ":2: field 'idx': missing"),
        ("qwen-math", '{"idx": 0, "code": "a"}\n', ":1: field 'code': expected list, got str"),
        ("qwen-math", '{"idx": 0, "code": ["a"], "finish_reason": ["eos"]}\n', "field 'finish_reason': unknown value 'eos'"),
        ("qwen-math", "{not json\n", ":1: not JSON"),
        ("lm-eval", '{"doc_id": 0, "resps": [["x"], ["y"]], "filter": "none"}\n', ":1: field 'resps': expected [[generations]]"),
        ("lm-eval", '{"doc_id": "0", "resps": [["x"]]}\n', ":1: field 'doc_id': expected int, got str"),
        ("evalplus", '{"task_id": "HumanEval/0"}\n', ":1: field 'completion': missing"),
        ("jsonl", '{"problem_id": "p0", "response": "x", "correct": "yes"}\n', ":1: field 'correct': expected bool, got str"),
        ("jsonl", '{"problem_id": "p0", "sample_index": 0, "response": "x"}\n{"problem_id": "p0", "sample_index": 0, "response": "y"}\n', "field 'sample_index': 0 appears twice for problem 'p0'"),
        ("jsonl", "", "no samples in the file"),
    ],
)  # fmt: skip
def test_malformed_files_name_the_file_line_and_field(tmp_path: Path, format: str, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(SampleFileError) as error:
        read_samples(path, format=format)
    assert str(path) in str(error.value) and message in str(error.value)


def _benchmark() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "problem_id": [p["id"] for p in PROBLEMS],
            "index": [0, 1, 2],
            "question": [p["problem"] for p in PROBLEMS],
            "gold": [p["answer"] for p in PROBLEMS],
        }
    )


WHOLE = Shard(0, 0, 2)


def _spec(paths: list[Path], format: str, match: str, n: int = 2, shard: Shard = WHOLE) -> ImportSpec:
    return ImportSpec("m", "imp", format, tuple(str(p) for p in paths), match, n, shard)


def test_seed_files_pool_in_order_and_match_by_index_or_question(files: dict[str, Path]) -> None:
    by_index = imported(_spec([files["seed0"], files["seed1"]], "qwen-math", "index"), _benchmark())
    assert by_index.select("problem_id", "sample_index", "response").rows()[:2] == [
        ("p0", 0, "2+3 = 5, so $\\boxed{5}$."),
        ("p0", 1, "The sum is $\\boxed{6}$."),
    ]
    by_question = imported(_spec([files["seed0"], files["seed1"]], "qwen-math", "question"), _benchmark())
    assert by_question.equals(by_index)
    second_shard = imported(
        _spec([files["seed0"], files["seed1"]], "qwen-math", "index", shard=Shard(1, 1, 1)), _benchmark()
    )
    assert second_shard["sample_index"].to_list() == [1, 1, 1]


def test_unmatched_and_short_problems_are_errors_never_padded(files: dict[str, Path]) -> None:
    with pytest.raises(
        SampleFileError,
        match=r"seed0_t0.6_s0_e-1.jsonl:1: field 'idx': 1 problem\(s\) not in benchmark imp \(matched by id\): \['0'\]",
    ):
        imported(
            _spec([files["seed0"]], "qwen-math", "id"),
            _benchmark().filter(pl.col("index") > 0).with_columns(problem_id=pl.col("index").cast(pl.String)),
        )
    with pytest.raises(
        SampleFileError, match=r"3 problem\(s\) of imp have fewer than n = 2 samples \(never padded\): 'p0': 1"
    ):
        imported(_spec([files["seed0"]], "qwen-math", "index"), _benchmark())
    with pytest.raises(SampleFileError, match="field 'question': the file names no question text"):
        imported(_spec([files["evalplus"]], "evalplus", "question"), _benchmark())


def _work(tmp_path: Path, files: dict[str, Path]) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(PROJECT / "config.yaml", work / "config.yaml")
    (work / "profiles" / "demo").mkdir(parents=True)
    shutil.copy(PROJECT / "profiles/demo/overlay.yaml", work / "profiles" / "demo" / "overlay.yaml")
    _jsonl(work / "imp.jsonl", PROBLEMS)
    qwen = {
        "format": "qwen-math",
        "paths": {"imp": [str(files["seed0"].parent / "test_qwen-boxed_-1_seed*_t0.6_s0_e-1.jsonl")]},
    }
    overlay = {
        "benchmarks": {
            "imp": {
                "local": {"path": "imp.jsonl"},
                "fields": {"id": "id", "question": "problem"},
                "gold": {"field": "answer", "extract": "none"},
                "n": 2,
                "shard_size": 1,
            }
        },
        "models": {
            "qwen": {"samples_from": qwen, "hf_id": "Qwen/Qwen2.5-7B", "revision": "main", "label": "Qwen (ours)", "role": "base"},
            "qwen-trusted": {"samples_from": {**qwen, "trust_scores": True}, "label": "Qwen (its score)", "role": "rl"},
            "lme": {"samples_from": {"format": "lm-eval", "paths": {"imp": [str(files["lm-eval"])]}}, "label": "lm-eval", "role": "rl"},
            "lte": {"samples_from": {"format": "lighteval", "paths": {"imp": [str(files["lighteval"])]}, "match": "question"}, "label": "lighteval", "role": "rl"},
            "plain": {"samples_from": {"format": "jsonl", "paths": {"imp": [str(files["plain"])]}}, "label": "jsonl", "role": "rl"},
        },
        "figures": {
            "imported": {
                "title": "imported samples",
                "rows": ["imp"],
                "columns": [{"title": "five formats", "models": ["qwen", "qwen-trusted", "lme", "lte", "plain"]}],
            }
        },
        "stats": {"resamples": 100},
    }  # fmt: skip
    (work / "import.yaml").write_text(yaml.safe_dump(overlay))
    return work


def _snakemake(work: Path, *targets: str, check: bool = True) -> subprocess.CompletedProcess:
    """Snakemake on the demo profile (its config files, copied into ``work``), plus the import overlay."""
    command = [sys.executable, "-m", "snakemake", *targets, "-s", str(PROJECT / "Snakefile"), "-d", str(work)]
    command += [
        "--profile",
        str(PROJECT / "profiles" / "demo"),
        "--configfile",
        "config.yaml",
        "profiles/demo/overlay.yaml",
        "import.yaml",
    ]
    result = subprocess.run(command, cwd=work, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(result.stdout[-3000:] + result.stderr[-3000:])
    return result


@pytest.mark.workflow
def test_a_figure_rebuilds_from_imported_files_through_snakemake(tmp_path: Path, files: dict[str, Path]) -> None:
    work = _work(tmp_path, files)
    plan = _snakemake(work, "figures/imported.pdf", "-n")
    assert "rule sample:" not in plan.stdout and "rule import_samples:" in plan.stdout
    _snakemake(work, "figures/imported.pdf")
    points = pl.read_csv(work / "figures/imported.csv")
    pass1 = dict(points.filter(pl.col("k") == 1).select("model", "pass_at_k").iter_rows())
    # ours: p0 {5, 6}, p1 {42, "So the product is 42." (finish unknown: read)}, p2 {5 cut off, 6}
    assert pass1["qwen"] == pytest.approx(2 / 3)
    assert pass1["qwen-trusted"] == pytest.approx(1 / 2)  # the harness's own scores
    assert pass1["lme"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert pass1["lte"] == pytest.approx((0.5 + 1 + 0) / 3)  # 42.0 is 42
    assert pass1["plain"] == pytest.approx((0.5 + 0.5 + 1) / 3)
    shard = work / "results/samples/qwen/imp/seed1.parquet"
    record = tables.read_provenance(shard)
    assert record["stage"] == "import" and record["format"] == "qwen-math"
    assert [Path(s["path"]).name for s in record["sources"]] == [files["seed0"].name, files["seed1"].name]
    assert record["sources"][1]["sha256"] == tables.sha256_file(files["seed1"])
    trusted = pl.read_parquet(work / "results/verdicts/ours/qwen-trusted/imp/seed1.parquet")
    assert set(trusted["detail"]) == {"score from the imported file (trust_scores)"}
    verdict_record = tables.read_provenance(work / "results/verdicts/ours/qwen-trusted/imp/seed1.parquet")
    assert verdict_record["trusted"]["paths"] == record["paths"]


@pytest.mark.workflow
def test_a_missing_problem_stops_the_import_with_one_error(tmp_path: Path, files: dict[str, Path]) -> None:
    _jsonl(files["plain"], [r for r in PLAIN if r["problem_id"] != "p2"])
    work = _work(tmp_path, files)
    result = _snakemake(work, "results/samples/plain/imp/seed0.parquet", check=False)
    assert result.returncode != 0
    log = (work / "logs/import/plain/imp/seed0.log").read_text()
    assert "1 problem(s) of imp have fewer than n = 2 samples (never padded): 'p2': 0" in log
    assert not (work / "results/samples/plain/imp/seed0.parquet").exists()


@pytest.mark.workflow
@pytest.mark.skipif(not HUMANEVAL.is_file(), reason=f"HumanEval+ not found at {HUMANEVAL}")
def test_an_evalplus_figure_rebuilds_from_its_own_results(tmp_path: Path, files: dict[str, Path]) -> None:
    """HumanEval+ (the real 164 tasks): an evalplus samples.jsonl with its eval results, one
    sample per task, its statuses trusted; the figure's pass@1 is the file's pass share."""
    with gzip.open(HUMANEVAL, "rt", encoding="utf-8") as handle:
        tasks = [json.loads(line)["task_id"] for line in handle]
    samples = tmp_path / "evalplus" / "samples.jsonl"
    samples.parent.mkdir()
    _jsonl(samples, [{"task_id": t, "solution": "def f():\n    pass\n"} for t in tasks])
    runs = {
        t: [{"task_id": t, "solution": "...", "base_status": "pass", "plus_status": "pass" if i % 4 else "fail"}]
        for i, t in enumerate(tasks)
    }
    (samples.parent / "samples_eval_results.json").write_text(
        json.dumps({"date": "2025-01-01 12:00", "hash": "x", "eval": runs})
    )
    work = _work(tmp_path, files)
    overlay = yaml.safe_load((work / "import.yaml").read_text())
    overlay["benchmarks"]["humanevalplus"] = {"local": {"path": str(HUMANEVAL.resolve())}}
    overlay["models"]["evp"] = {
        "samples_from": {"format": "evalplus", "paths": {"humanevalplus": [str(samples)]}, "trust_scores": True},
        "label": "evalplus run",
        "role": "instruct",
        "n": {"humanevalplus": 1},
    }
    overlay["figures"]["imported-code"] = {
        "title": "evalplus",
        "rows": ["humanevalplus"],
        "columns": [{"title": "c", "models": ["evp"]}],
    }
    (work / "import.yaml").write_text(yaml.safe_dump(overlay))
    _snakemake(work, "figures/imported-code.pdf")
    points = pl.read_csv(work / "figures/imported-code.csv")
    assert points.height == 1 and points["pass_at_k"][0] == pytest.approx(
        sum(i % 4 != 0 for i in range(len(tasks))) / len(tasks)
    )


@pytest.mark.skipif(not HUMANEVAL.is_file(), reason=f"HumanEval+ not found at {HUMANEVAL}")
def test_evalplus_completions_get_the_prompt_and_are_judged_by_our_sandbox(tmp_path: Path) -> None:
    """Three real HumanEval+ problems: each canonical body imported as an evalplus
    ``completion`` (run, as evalplus runs it, after the prompt) passes every test; a
    ``solution`` that returns None fails."""
    from rlvr_boundary import benchmarks, config
    from rlvr_boundary.specs import VerifySpec
    from rlvr_boundary.verdicts import judge

    spec = config.load(PROJECT / "config.yaml")["benchmarks"]["humanevalplus"]
    spec["local"]["path"] = str(HUMANEVAL)
    table = benchmarks.prepare("humanevalplus", spec, "local")[0].head(3)
    rows = []
    for task in table.iter_rows(named=True):
        body_at = task["canonical_solution"].index(task["question"]) + len(task["question"])
        rows.append({"task_id": task["problem_id"], "completion": task["canonical_solution"][body_at:]})
        rows.append(
            {"task_id": task["problem_id"], "solution": f"def {task['entry_point']}(*args):\n    return None\n"}
        )
    path = _jsonl(tmp_path / "samples.jsonl", rows)
    samples = imported(ImportSpec("m", "humanevalplus", "evalplus", (str(path),), "id", 2, Shard(0, 0, 2)), table)
    verdicts, _ = judge(samples, table, VerifySpec("humanevalplus", "ours", code_timeout_s=None), workers=2)
    assert verdicts["status"].to_list() == ["passed", "failed"] * 3
