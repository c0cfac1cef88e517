"""Prepare: real benchmark files, the hub loader on a local dataset folder, bad input."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from conftest import PROJECT, shared_data
from rlvr_boundary import benchmarks, config, tables, verdicts
from rlvr_boundary.benchmarks import BenchmarkError
from rlvr_boundary.specs import PrepareSpec, VerifySpec

PAPER = config.load(PROJECT / "config.yaml")
EXPECTED_ROWS = {"gsm8k": 1319, "math500": 500, "minerva_math": 272, "olympiadbench": 675, "aime24": 30, "amc23": 40}


def _local_spec(name: str) -> dict:
    spec = json.loads(json.dumps(PAPER["benchmarks"][name]))
    spec["local"]["path"] = str(shared_data("math", Path(spec["local"]["path"]).parent.name, "test.jsonl"))
    return spec


@pytest.mark.parametrize("name", sorted(EXPECTED_ROWS))
def test_prepare_real_benchmark(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.parquet"
    benchmarks.write_prepared(PrepareSpec(name, _local_spec(name), "local"), out)
    table = tables.read_benchmark(out)
    assert table.height == EXPECTED_ROWS[name]
    assert table["index"].to_list() == list(range(table.height))
    assert table["problem_id"].n_unique() == table.height
    assert table["gold"].str.len_chars().min() > 0
    record = tables.read_provenance(out)
    assert record["source"]["sha256"] == PAPER["benchmarks"][name]["local"]["sha256"]
    assert record["stage"] == "prepare" and len(record["content_hash"]) == 16


def test_gold_extraction_follows_the_papers_loader(tmp_path: Path) -> None:
    golds = {}
    for name in ("gsm8k", "math500", "aime24", "amc23", "olympiadbench", "minerva_math"):
        table, _ = benchmarks.prepare(name, _local_spec(name), "local")
        golds[name] = table
    assert golds["gsm8k"]["gold"][0] == "18"  # text after ####
    assert golds["aime24"]["gold"].to_list()[:3] == ["204", "113", "371"]
    assert golds["amc23"]["gold"][0] == "27"  # 27.0 as the grader should see it
    math500 = golds["math500"]
    meta = [json.loads(m) for m in math500["metadata"]]
    # MATH500's gold is the last \boxed{} of the solution; it matches the `answer` field here.
    same = sum(g == m["answer"] for g, m in zip(math500["gold"], meta, strict=True))
    assert same >= 490
    assert golds["olympiadbench"]["gold"][1] == "\\frac{1}{2 n+2}"  # $ stripped from final_answer[0]


def test_hub_loader_reads_a_local_dataset_repository(tmp_path: Path) -> None:
    repo = tmp_path / "amc23-repo"
    repo.mkdir()
    shutil.copy(shared_data("math", "amc23", "test.jsonl"), repo / "test.jsonl")
    spec = {**_local_spec("amc23"), "hf": {"id": str(repo), "revision": "main", "split": "test"}}
    from_hub, record = benchmarks.prepare("amc23", spec, "hf")
    from_file, _ = benchmarks.prepare("amc23", spec, "local")
    assert from_hub.drop("metadata").equals(from_file.drop("metadata"))
    assert record["source"]["kind"] == "hf" and record["source"]["fingerprint"]


def test_hub_revision_that_cannot_be_resolved_is_one_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = {**PAPER["benchmarks"]["aime24"]}
    with pytest.raises(BenchmarkError, match=r"HuggingFaceH4/aime_2024.*cannot resolve revision 'main'"):
        benchmarks.prepare("aime24", spec, "hf")


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


SPEC = {"fields": {"id": "id", "question": "problem"}, "gold": {"field": "answer", "extract": "none"}}


@pytest.mark.parametrize(
    ("rows", "spec", "message"),
    [
        ([{"id": 1, "problem": "q", "answer": "1"}, "{not json"], SPEC, r"line 2: invalid JSON"),
        ([{"id": 1, "problem": "q"}], SPEC, r"row 0: field 'answer' is missing"),
        (
            [{"id": 1, "problem": "q", "answer": "1"}, {"id": 1, "problem": "r", "answer": "2"}],
            SPEC,
            r"duplicate problem ids \['1'\]",
        ),
        ([{"id": 1, "problem": "q", "answer": [1]}], SPEC, r"row 0: field 'answer': list"),
        ([{"id": 1, "problem": "q", "answer": "  "}], SPEC, r"row 0: field 'answer': empty gold"),
        (
            [{"id": 1, "problem": "q", "solution": "no box here"}],
            {**SPEC, "gold": {"field": "solution", "extract": "last_boxed"}},
            r"row 0: field 'solution': no \\boxed",
        ),
        ([], SPEC, "no rows"),
    ],
)
def test_bad_source_rows_name_file_row_and_field(tmp_path: Path, rows: list, spec: dict, message: str) -> None:
    path = _write(tmp_path / "bench.jsonl", rows)
    with pytest.raises(BenchmarkError, match=message) as error:
        benchmarks.prepare("b", {**spec, "local": {"path": str(path)}}, "local")
    assert str(path) in str(error.value)


def test_checksum_mismatch_and_missing_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "bench.jsonl", [{"id": 1, "problem": "q", "answer": "1"}])
    with pytest.raises(BenchmarkError, match="sha256"):
        benchmarks.prepare("b", {**SPEC, "local": {"path": str(path), "sha256": "0" * 64}}, "local")
    with pytest.raises(BenchmarkError, match="not found"):
        benchmarks.prepare("b", {**SPEC, "local": {"path": str(tmp_path / "nope.jsonl")}}, "local")


def test_load_rejects_a_table_without_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pl.DataFrame({"problem_id": ["1"], "question": ["q"]}).write_parquet(path)
    with pytest.raises(ValueError, match=r"t.parquet: math benchmark table: missing column 'index'"):
        tables.read_benchmark(path)


# --------------------------------------------------------------------------------------
# Code benchmarks through the same prepare stage and loader

LCB_FIXTURE = Path(__file__).parent / "data" / "lcb_fixture.jsonl"


def _code_spec(name: str, **changes: object) -> dict:
    return {**json.loads(json.dumps(PAPER["benchmarks"][name])), **changes}


def test_prepare_evalplus_local_and_from_its_pinned_release_url(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # downloads land here, not in ~/.cache
    real = shared_data("code", "humanevalplus", "HumanEvalPlus-v0.1.10.jsonl.gz")
    spec = _code_spec("humanevalplus")
    spec["local"]["path"] = str(real)
    # Three real tasks keep the canonical-output runs short; the url source is the same file.
    lines = gzip.decompress(real.read_bytes()).splitlines(keepends=True)[:3]
    small = tmp_path / "he3.jsonl.gz"
    small.write_bytes(gzip.compress(b"".join(lines)))
    digest = tables.sha256_file(small)
    url_spec = {**spec, "url": {"href": small.as_uri(), "sha256": digest}}
    out = tmp_path / "he.parquet"
    benchmarks.write_prepared(PrepareSpec("humanevalplus", url_spec, "url"), out)
    table = tables.read_benchmark(out)
    assert tables.is_code(table) and table.height == 3
    assert table["problem_id"].to_list() == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    record = tables.read_provenance(out)
    assert record["kind"] == "code" and record["source"]["kind"] == "url" and record["source"]["sha256"] == digest
    cached = Path(record["source"]["path"])
    assert cached.is_file() and cached.is_relative_to(tmp_path / "cache")
    small.unlink()  # a second prepare reads the cache, not the url
    again, _ = benchmarks.prepare("humanevalplus", url_spec, "url")
    assert again.equals(table)
    wrong = tmp_path / "x.jsonl.gz"
    with pytest.raises(BenchmarkError, match=r"x\.jsonl\.gz: cannot download"):
        benchmarks.prepare("humanevalplus", {**spec, "url": {"href": wrong.as_uri(), "sha256": "1" * 64}}, "url")
    wrong.write_bytes(b"not the release")
    with pytest.raises(BenchmarkError, match=r"x\.jsonl\.gz: sha256 .* differs from the configured 1111"):
        benchmarks.prepare("humanevalplus", {**spec, "url": {"href": wrong.as_uri(), "sha256": "1" * 64}}, "url")


def test_prepare_real_evalplus_release_files(tmp_path: Path) -> None:
    for name, rows in (("humanevalplus", 164), ("mbppplus", 378)):
        spec = _code_spec(name)
        spec["local"]["path"] = str(shared_data("code", name, Path(spec["local"]["path"]).name))
        out = tmp_path / f"{name}.parquet"
        benchmarks.write_prepared(PrepareSpec(name, spec, "local"), out)
        table = tables.read_benchmark(out)
        assert table.height == rows and table["test_mode"].unique().to_list() == ["evalplus"]
        assert tables.read_provenance(out)["source"]["sha256"] == PAPER["benchmarks"][name]["local"]["sha256"]


def test_prepare_livecodebench_window_from_a_local_release_file(tmp_path: Path) -> None:
    spec = _code_spec("livecodebench", local={"path": str(LCB_FIXTURE)})
    out = tmp_path / "lcb.parquet"
    benchmarks.write_prepared(PrepareSpec("livecodebench", spec, "local"), out)
    windowed = tables.read_benchmark(out)
    everything, _ = benchmarks.prepare(
        "lcb_full", _code_spec("livecodebench_full", local={"path": str(LCB_FIXTURE)}), "local"
    )
    dates = everything["contest_date"].to_list()
    inside = [d for d in dates if "2024-08-01" <= d <= "2025-02-01"]
    assert 0 < windowed.height == len(inside) < everything.height
    assert everything["index"].to_list() == everything["source_index"].to_list()  # Table 5's ordering
    assert tables.read_provenance(out)["window"] == {"start": "2024-08-01", "end": "2025-02-01"}


def test_livecodebench_from_the_hub_fails_clearly_offline(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BenchmarkError, match=r"livecodebench/code_generation_lite.*0fe84c39.*release_v5"):
        benchmarks.prepare("livecodebench", _code_spec("livecodebench"), "hf")


def test_a_math_file_is_not_a_code_benchmark(tmp_path: Path) -> None:
    source = tmp_path / "math.jsonl"
    source.write_text('{"problem": "1+1", "answer": "2"}\n')
    with pytest.raises(BenchmarkError, match=r"math.jsonl: not a evalplus file"):
        benchmarks.prepare("humanevalplus", _code_spec("humanevalplus", local={"path": str(source)}), "local")


def test_livecodebench_hub_loader_reads_the_pinned_release_from_the_hub_cache(tmp_path: Path, monkeypatch) -> None:
    """The real hub code path (hf_hub_download at the pinned commit, offline) on a local cache
    laid out as the hub writes it: release_v5's five files, the fixture spread over them."""
    from huggingface_hub import constants

    spec = _code_spec("livecodebench")
    commit = spec["hf"]["revision"]
    snapshot = tmp_path / "hub" / "datasets--livecodebench--code_generation_lite" / "snapshots" / commit
    snapshot.mkdir(parents=True)
    lines = LCB_FIXTURE.read_text().splitlines(keepends=True)
    names = ["test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl"]
    for i, name in enumerate(names):
        (snapshot / name).write_text("".join(lines[i :: len(names)]) if i < len(lines) else "")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    table, record = benchmarks.prepare("livecodebench", spec, "hf")
    local, _ = benchmarks.prepare(
        "livecodebench", _code_spec("livecodebench", local={"path": str(LCB_FIXTURE)}), "local"
    )
    assert sorted(table["problem_id"]) == sorted(local["problem_id"])  # same window, files read in release order
    assert record["source"]["commit"] == commit and record["source"]["version_tag"] == "release_v5"
    assert list(record["source"]["files"]) == names


@pytest.mark.parametrize("kind", ["math", "code"])
def test_verify_stage_names_samples_of_unknown_problems(kind: str, arithmetic_table: Path, tmp_path: Path) -> None:
    if kind == "code":
        table = tmp_path / "lcb.parquet"
        benchmarks.write_prepared(
            PrepareSpec("livecodebench", _code_spec("livecodebench", local={"path": str(LCB_FIXTURE)}), "local"), table
        )
        spec = VerifySpec("livecodebench", "ours", template="livecodebench")
    else:
        table, spec = arithmetic_table, VerifySpec("arith", "ours", timeout_s=5)
    samples = pl.DataFrame(
        {
            "problem_id": ["no-such-problem"],
            "sample_index": [0],
            "response": ["x"],
            "n_tokens": [1],
            "finish_reason": ["stop"],
            "cumulative_logprob": [-1.0],
        },
        schema=tables.SAMPLES.columns,
    )
    tables.write_parquet(samples, tmp_path / "s.parquet", {"stage": "sample"})
    with pytest.raises(ValueError, match=r"s.parquet: field 'problem_id': not in .*\['no-such-problem'\]"):
        verdicts.verify(spec, tmp_path / "s.parquet", table, tmp_path / "v.parquet", workers=1)
    assert not (tmp_path / "v.parquet").exists()
