"""Visual math (Fig. 4 right): MathVista and MathVision, the EasyR1 prompt, image requests
through a tiny random-weight Qwen2.5-VL, and the visual path of the DAG end to end."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from fractions import Fraction
from math import comb
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from conftest import PROJECT, SHARED_DATA
from rlvr_boundary import benchmarks, dag, engines, images, layout, prompts, tables, tiny_vl
from rlvr_boundary import config as rb_config
from rlvr_boundary.sampling import Cadence, parts_dir, request_seed, sample_shard
from rlvr_boundary.specs import PrepareSpec, SampleSpec, Shard
from test_workflow import job_counts, snakemake

MATHVISION = SHARED_DATA / "visual/mathvision/testmini.jsonl"
MATHVISTA = SHARED_DATA / "visual/mathvista/testmini.json"
PAPER = SHARED_DATA.parent / "paper/PAPER.md"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (real benchmark files live in ../shared/data beside the project)")
    return path


@pytest.fixture(scope="module")
def paper() -> dict:
    return rb_config.load_many([PROJECT / "config.yaml"])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-vl") / "model"
    tiny_vl.build(folder, seed=0)
    return folder


def test_easyr1_prompt_is_byte_equal_to_the_paper() -> None:
    text = need(PAPER).read_text()
    match = re.search(r'\*\*Fig 26 EasyR1\*\* system: "(.*?)"; user `(.*?)`', text)
    assert match is not None, "PAPER.md no longer prints Fig. 26 as expected"
    system, user = match.group(1), match.group(2).replace("\\n", "\n")
    assert system == prompts.EASYR1_SYSTEM
    rendered = prompts.render("easyr1", "Find x {in} <image1>")
    expected_user = user.replace("{image_token}", prompts.IMAGE_PLACEHOLDER).replace(
        "{question}", "Find x {in} <image1>"
    )
    assert (
        rendered
        == f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{expected_user}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert rendered.count(prompts.IMAGE_PLACEHOLDER) == 1


def test_multiple_choice_filter_counts_match_the_local_files(paper: dict) -> None:
    """The paper drops multiple-choice questions: 1000 -> 460 (MathVista), 304 -> 114 (MathVision)."""
    vista = tables.read_json_rows(need(MATHVISTA))
    kept = benchmarks.kept_rows(vista, paper["benchmarks"]["mathvista"]["keep"], str(MATHVISTA))
    assert (len(vista), len(kept)) == (1000, 460)
    assert {row["question_type"] for row in kept} == {"free_form"}
    frame, record = benchmarks.prepare("mathvision", paper["benchmarks"]["mathvision"], "local")
    assert record["keep"] == {"field": "options", "empty": True, "source_rows": 304, "kept_rows": 114}
    assert frame.height == 114 and frame["problem_id"].n_unique() == 114
    source = {str(row["id"]): row for row in tables.read_jsonl(need(MATHVISION))}
    assert all(source[pid]["options"] == [] for pid in frame["problem_id"])
    for pid, blob, digest in frame.select("problem_id", "image", "image_sha256").iter_rows():
        on_disk = (MATHVISION.parent / source[pid]["image"]).read_bytes()
        assert blob == on_disk and digest == hashlib.sha256(on_disk).hexdigest()
    assert frame.filter(pl.col("problem_id") == "5")["gold"].item() == "61"
    assert rb_config.template_for(paper, "qwen2.5-vl-7b-instruct", "mathvision") == "easyr1"


def test_mathvista_local_needs_its_images(paper: dict, tmp_path: Path) -> None:
    """The local MathVista file ships no images: one clear error; with images beside it
    (generated here), the table carries their bytes."""
    need(MATHVISTA)
    spec = {**paper["benchmarks"]["mathvista"], "local": {"path": str(MATHVISTA)}}
    with pytest.raises(benchmarks.BenchmarkError, match=r"testmini\.json: row 0: field 'image': image .* not found"):
        benchmarks.prepare("mathvista", spec, "local")
    from PIL import Image

    rows = tables.read_json_rows(MATHVISTA)
    (tmp_path / "images").mkdir()
    for index, row in enumerate(rows):
        Image.new("RGB", (32 + index % 7, 24), (index % 255, 0, 0)).save(tmp_path / row["image"])
    frame, record = benchmarks.prepare(
        "mathvista", {**spec, "local": {"path": str(MATHVISTA), "images": str(tmp_path)}}, "local"
    )
    assert frame.height == 460 and record["keep"]["source_rows"] == 1000
    first = frame.row(0, named=True)
    assert first["image"] == (tmp_path / json.loads(first["metadata"])["image"]).read_bytes()
    assert tables.benchmark_schema(frame.columns) is tables.VISUAL_BENCHMARK


def test_hub_loader_takes_image_bytes_from_a_dataset_folder(tmp_path: Path) -> None:
    """The hub path (``datasets`` with an Image feature), on a dataset folder built here."""
    import io

    import datasets
    from PIL import Image

    pictures = []
    for index in range(3):
        buffer = io.BytesIO()
        Image.new("RGB", (20 + index, 20), (0, index * 60, 0)).save(buffer, format="PNG")
        pictures.append({"bytes": buffer.getvalue(), "path": None})  # as hub parquet files embed them
    data = datasets.Dataset.from_dict(
        {
            "pid": ["a", "b", "c"],
            "question": ["q1", "q2", "q3"],
            "answer": ["1", "2", "3"],
            "question_type": ["free_form", "multi_choice", "free_form"],
            "decoded_image": pictures,
        }
    ).cast_column("decoded_image", datasets.Image())
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    data.to_parquet(str(repo / "data/testmini-00000-of-00001.parquet"))
    spec = {
        "kind": "visual",
        "hf": {"id": str(repo), "revision": "main", "split": "testmini", "image": "decoded_image"},
        "fields": {"id": "pid", "question": "question", "image": "image"},
        "gold": {"field": "answer", "extract": "none"},
        "keep": {"field": "question_type", "equals": "free_form"},
    }
    frame, record = benchmarks.prepare("vista", spec, "hf")
    assert frame["problem_id"].to_list() == ["a", "c"] and record["keep"]["kept_rows"] == 2
    assert frame["image"].to_list() == [pictures[0]["bytes"], pictures[2]["bytes"]]
    assert [images.decode(blob).size for blob in frame["image"]] == [(20, 20), (22, 20)]
    assert "decoded_image" not in json.loads(frame["metadata"][0])


def test_keep_rule_errors_name_the_file_row_and_field() -> None:
    with pytest.raises(benchmarks.BenchmarkError, match=r"f\.jsonl: row 1: field 'options'"):
        benchmarks.kept_rows([{"options": []}, {"id": 2}], {"field": "options", "empty": True}, "f.jsonl")
    assert benchmarks.kept_rows([{"o": []}, {"o": ["A"]}, {"o": None}], {"field": "o", "empty": False}, "f") == [
        {"o": ["A"]}
    ]


def _image(path: Path) -> bytes:
    return path.read_bytes()


def test_transformers_engine_draws_image_requests_by_their_own_seeds(tiny: Path) -> None:
    """Seeded, order-independent samples; the image reaches the model (another image, another sample)."""
    files = sorted(need(MATHVISION.parent / "images").glob("*.jpg"))[:2]
    engine = engines.load({"path": str(tiny), "backend": "transformers"}, {"dtype": "float32"}, threads=2)
    ids = engine.tokenize(prompts.render("easyr1", "How many digits? <image1>"))
    stop = prompts.stop_rule("easyr1", "markup")
    first, second = (_image(p) for p in files)
    requests = [engines.Request(ids, request_seed(0, "p", i), 12, first) for i in range(3)]
    requests.append(engines.Request(ids, requests[0].seed, 12, second))

    def draw(batch: list[engines.Request]) -> list[engines.Completion]:
        done = dict(pair for step in engine.stream(batch, temperature=0.6, top_p=0.95, stop=stop) for pair in step)
        return [done[i] for i in range(len(batch))]

    drawn = draw(requests)
    assert draw(requests[::-1])[::-1] == drawn
    assert drawn[0] != drawn[1] and drawn[0] != drawn[3]  # other seed; same seed, other image
    assert all(0 < c.n_tokens <= 12 and c.finish_reason in {"stop", "length"} for c in drawn)
    assert all(c.cumulative_logprob is not None and c.cumulative_logprob < 0 for c in drawn)
    assert engine.image_tokens(first) == engine.images.tokens(images.decode(first))
    assert 4 <= engine.image_tokens(first) <= 16  # tiny_vl's pixel budget
    engine.close()


def test_vllm_requests_carry_each_decoded_image_once() -> None:
    first, second = (_image(p) for p in sorted(need(MATHVISION.parent / "images").glob("*.jpg"))[:2])
    requests = [engines.Request([1, 2, 3], seed, 5, image) for seed, image in enumerate([first, first, second])]
    prompts = engines.vllm_prompts([*requests, engines.Request([1], 7, 5)])
    assert prompts[0]["prompt_token_ids"] == [1, 2, 3] and prompts[0]["multi_modal_data"]["image"].mode == "RGB"
    pictures = [p["multi_modal_data"]["image"] for p in prompts[:3]]
    assert pictures[0] is pictures[1] and pictures[0] is not pictures[2]  # a problem's n requests share one
    assert pictures[2].size == images.decode(second).size
    assert "multi_modal_data" not in prompts[3]


def test_paper_config_fig4_has_its_visual_panels(paper: dict) -> None:
    grid = layout.panels(paper, "fig4")
    assert [(p.row, p.col, p.benchmark, p.models) for p in grid] == [
        (0, 0, "humanevalplus", ("qwen2.5-7b-instruct-1m", "coder1-zero-qwen2.5-7b")),
        (0, 1, "mbppplus", ("qwen2.5-7b-instruct-1m", "coder1-zero-qwen2.5-7b")),
        (0, 2, "mathvista", ("qwen2.5-vl-7b-instruct",)),
        (0, 3, "mathvision", ("qwen2.5-vl-7b-instruct",)),
    ]
    note = dag.figure_spec(paper, "fig4").note
    assert note is not None and "Qwen2.5-VL-7B-EasyR1 not drawn" in note and "pending" not in note
    brought = rb_config.validate(
        rb_config.deep_merge(paper, {"models": {"qwen2.5-vl-7b-easyr1": {"path": "/ckpt/easyr1"}}}), "overlay"
    )
    assert layout.panels(brought, "fig4")[2].models == ("qwen2.5-vl-7b-instruct", "qwen2.5-vl-7b-easyr1")
    assert dag.figure_spec(brought, "fig4").note is None


def test_cpu_example_plans_the_tiny_models_and_mathvision() -> None:
    result = snakemake("--configfile", "config.yaml", "examples/visual-cpu.yaml", "-n", "figures/fig4-cpu.pdf")
    counts = job_counts(result.stdout)
    assert counts == {
        "tiny_vl": 2,
        "prepare": 1,
        "sample": 4,
        "verify": 4,
        "count": 2,
        "passk": 2,
        "figure_stats": 1,
        "figure": 1,
    }


def test_paper_plan_for_figure_4_samples_the_visual_benchmarks() -> None:
    """``snakemake -n figures/fig4.pdf`` with the paper config: the code pair's 4 shards, and the
    VL model on MathVista (hub) and MathVision (local) -- the unreleased RL model plans nothing."""
    result = snakemake("figures/fig4.pdf", "-n")
    counts = job_counts(result.stdout)
    assert counts == {"prepare": 4, "sample": 6, "verify": 6, "count": 6, "passk": 6, "figure_stats": 1, "figure": 1}
    for bench in ("mathvista", "mathvision"):
        assert f"results/samples/qwen2.5-vl-7b-instruct/{bench}/seed0.parquet" in result.stdout
    assert "qwen2.5-vl-7b-easyr1" not in result.stdout


VISUAL_OVERLAY = {
    "sampling": {"max_tokens": 16, "dtype": "float32"},
    "models": {
        "tiny-vl": {
            "path": "data/demo/vl/tiny-vl-seed0",
            "backend": "transformers",
            "label": "tiny VL",
            "role": "base",
        },
        "tiny-vl-rl": {
            "path": "data/demo/vl/tiny-vl-seed1",
            "backend": "transformers",
            "label": "tiny VL, seed 1",
            "role": "rl",
        },
        "tiny-vl-unreleased": {"unreleased": "not public", "label": "tiny VL RL", "role": "rl"},
    },
    "benchmarks": {
        "mathvision-mini": {
            "kind": "visual",
            "template": "easyr1",
            "label": "MathVision (first rows)",
            "local": {"path": "mathvision.jsonl", "images": str(MATHVISION.parent)},
            "fields": {"id": "id", "question": "question", "image": "image"},
            "gold": {"field": "answer", "extract": "none"},
            "keep": {"field": "options", "empty": True},
            "n": 4,
            "shard_size": 2,
        },
        "mathvista-mini": {
            "kind": "visual",
            "template": "easyr1",
            "label": "MathVista (generated images)",
            "local": {"path": "vista/testmini.json"},
            "fields": {"id": "pid", "question": "question", "image": "image"},
            "gold": {"field": "answer", "extract": "none"},
            "keep": {"field": "question_type", "equals": "free_form"},
            "n": 4,
            "shard_size": 4,
        },
    },
    "figures": {
        "fig4v": {
            "title": "Visual math on a tiny random Qwen2.5-VL",
            "transpose": True,
            "rows": ["mathvision-mini", "mathvista-mini"],
            "columns": [{"title": "tiny", "models": ["tiny-vl", "tiny-vl-rl", "tiny-vl-unreleased"]}],
        }
    },
}


@pytest.fixture(scope="module")
def visual_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real DAG on the visual path: the tiny models (rule tiny_vl), prepare (real MathVision
    images; MathVista text with generated images), sample (transformers backend), verify,
    counts, pass@k, statistics and the figure."""
    from PIL import Image

    rows = tables.read_jsonl(need(MATHVISION))[:10]
    work = tmp_path_factory.mktemp("visual")
    shutil.copy(PROJECT / "config.yaml", work / "config.yaml")
    (work / "mathvision.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    vista = dict(list(json.loads(need(MATHVISTA).read_text()).items())[:6])
    (work / "vista/images").mkdir(parents=True)
    for pid, row in vista.items():
        Image.new("RGB", (40 + 9 * int(pid), 30), (25 * int(pid), 90, 140)).save(work / "vista" / row["image"])
    (work / "vista/testmini.json").write_text(json.dumps(vista))
    (work / "visual.yaml").write_text(yaml.safe_dump(VISUAL_OVERLAY))
    args = ["-s", str(PROJECT / "Snakefile"), "-d", str(work), "--configfile", "config.yaml", "visual.yaml"]
    snakemake("figures/fig4v.pdf", *args, "--cores", "2", "--resources", "gpu=1", cwd=work)
    return work


@pytest.mark.workflow
def test_visual_dag_end_to_end(visual_run: Path) -> None:
    kept = sum(1 for row in tables.read_jsonl(visual_run / "mathvision.jsonl") if not row["options"])
    assert 0 < kept < 10  # the filter dropped some of the first ten rows
    bench = tables.read_benchmark(visual_run / "data/benchmarks/mathvision-mini.parquet")
    assert (
        bench.height == kept
        and tables.read_provenance(visual_run / "data/benchmarks/mathvision-mini.parquet")["keep"]["kept_rows"] == kept
    )
    for model in ("tiny-vl", "tiny-vl-rl"):
        for name, shards in (("mathvision-mini", 2), ("mathvista-mini", 1)):
            problems = tables.read_benchmark(visual_run / f"data/benchmarks/{name}.parquet")
            verdicts = []
            for seed in range(shards):
                path = visual_run / f"results/samples/{model}/{name}/seed{seed}.parquet"
                samples = tables.read(path, tables.SAMPLES)
                assert samples.height == problems.height * 4 // shards
                record = tables.read_provenance(path)
                assert record["prompt_template"] == "easyr1" and record["model_spec"]["backend"] == "transformers"
                assert record["image_preprocessing"]["size"]["longest_edge"] == tiny_vl.MAX_PIXELS  # max_pixels
                assert record["image_preprocessing"]["processor"].startswith("Qwen2VLImageProcessor")
                verdicts.append(
                    tables.read(
                        visual_run / f"results/verdicts/ours/{model}/{name}/seed{seed}.parquet", tables.VERDICTS
                    )
                )
            judged = pl.concat(verdicts)
            assert set(judged["status"]) <= set(tables.MATH_STATUSES) and judged.height == problems.height * 4
            correct = judged.group_by("problem_id").agg(pl.col("correct").sum())["correct"].to_list()
            passk = pl.read_parquet(visual_run / f"results/passk/ours/{model}/{name}.parquet")
            for k, value in passk.select("k", "pass_at_k").iter_rows():
                exact = sum((1 - Fraction(comb(4 - c, k), comb(4, k)) for c in correct), Fraction(0)) / len(correct)
                assert abs(value - float(exact)) < 1e-12
    a = tables.read(visual_run / "results/samples/tiny-vl/mathvision-mini/seed0.parquet", tables.SAMPLES)
    b = tables.read(visual_run / "results/samples/tiny-vl-rl/mathvision-mini/seed0.parquet", tables.SAMPLES)
    assert a["response"].to_list() != b["response"].to_list()  # two models, two sets of samples
    plotted = pl.read_csv(visual_run / "figures/fig4v.csv")
    assert sorted(set(plotted.select("row", "col", "benchmark").iter_rows())) == [
        (0, 0, "mathvision-mini"),
        (0, 1, "mathvista-mini"),
    ]
    assert set(plotted["model"]) == {"tiny-vl", "tiny-vl-rl"}
    assert (visual_run / "figures/fig4v.pdf").stat().st_size > 1000


@pytest.mark.workflow
def test_visual_shard_redraws_identically(visual_run: Path) -> None:
    """A deleted shard is redrawn to the same samples (per-request seeds, transformers backend)."""
    path = visual_run / "results/samples/tiny-vl/mathvision-mini/seed1.parquet"
    before = tables.read(path, tables.SAMPLES)
    path.unlink()
    args = ["-s", str(PROJECT / "Snakefile"), "-d", str(visual_run), "--configfile", "config.yaml", "visual.yaml"]
    snakemake(str(path.relative_to(visual_run)), *args, "--cores", "2", "--resources", "gpu=1", cwd=visual_run)
    assert tables.read(path, tables.SAMPLES).equals(before)


class _Interrupted(Exception):
    pass


class _Stopping:
    """An engine that dies after ``after`` samples, as a killed job would."""

    def __init__(self, engine: engines.TransformersEngine, after: int) -> None:
        self.engine, self.after = engine, after
        self.max_model_len = engine.max_model_len

    def tokenize(self, prompt: str) -> list[int]:
        return self.engine.tokenize(prompt)

    def image_tokens(self, image: bytes) -> int:
        return self.engine.image_tokens(image)

    def stream(self, requests: list[engines.Request], **kwargs: Any) -> Iterator[list[tuple[int, engines.Completion]]]:
        for step in self.engine.stream(requests, **kwargs):
            yield step
            self.after -= len(step)
            if self.after <= 0:
                raise _Interrupted

    def close(self) -> None:
        pass


def _visual_job(tiny: Path, max_model_len: int | None = None) -> SampleSpec:
    model = {
        "path": str(tiny),
        "backend": "transformers",
        **({"max_model_len": max_model_len} if max_model_len else {}),
    }
    sampling = {
        "temperature": 0.6,
        "top_p": 0.95,
        "max_tokens": 8,
        "stop_policy": "markup",
        "seed": 0,
        "dtype": "float32",
    }
    return SampleSpec("tiny-vl", model, "mathvision", "easyr1", Shard(0, 0, 3), sampling)


@pytest.fixture(scope="module")
def mathvision_table(tmp_path_factory: pytest.TempPathFactory, paper: dict) -> Path:
    rows = tables.read_jsonl(need(MATHVISION))[:5]
    folder = tmp_path_factory.mktemp("mathvision")
    (folder / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = {
        **paper["benchmarks"]["mathvision"],
        "local": {"path": str(folder / "rows.jsonl"), "images": str(MATHVISION.parent)},
    }
    benchmarks.write_prepared(PrepareSpec("mathvision", spec, "local"), folder / "mathvision.parquet")
    return folder / "mathvision.parquet"


def test_interrupted_visual_shard_resumes_to_the_same_file(tiny: Path, mathvision_table: Path, tmp_path: Path) -> None:
    job = _visual_job(tiny)
    load = lambda spec: engines.load(spec.model, spec.sampling, threads=2)  # noqa: E731
    reference = tmp_path / "reference.parquet"
    sample_shard(job, mathvision_table, reference, load)
    out = tmp_path / "resumed.parquet"
    with pytest.raises(_Interrupted):
        sample_shard(
            job, mathvision_table, out, lambda spec: _Stopping(load(spec), 5), cadence=Cadence(flush_samples=2)
        )
    assert not out.exists() and len(list(parts_dir(out).glob("part-*.parquet"))) == 2
    sample_shard(job, mathvision_table, out, load)
    assert tables.read(out, tables.SAMPLES).equals(tables.read(reference, tables.SAMPLES))
    record = tables.read_provenance(out)
    assert record["timing"]["resumed_samples"] == 4 and record["image_preprocessing"]["merge_size"] == 2
    assert record["benchmark_provenance"]["images"] == tables.read_provenance(mathvision_table)["images"]


def test_image_that_fills_the_context_is_prompt_too_long(tiny: Path, mathvision_table: Path, tmp_path: Path) -> None:
    """The budget counts the expanded image: a context that holds the text prompt but not its
    image tokens too settles every sample as prompt_too_long, without the engine."""
    engine = engines.load({"path": str(tiny), "backend": "transformers"}, {"dtype": "float32"}, threads=2)
    problems = tables.read_benchmark(mathvision_table)
    lengths = [
        len(engine.tokenize(prompts.render("easyr1", q))) + engine.image_tokens(img) - 1
        for q, img in problems.select("question", "image").iter_rows()
    ]
    text_only = min(len(engine.tokenize(prompts.render("easyr1", q))) for q in problems["question"])
    context = min(lengths)  # no room left for any problem, though every text prompt fits
    assert text_only < context
    out = tmp_path / "short.parquet"
    sample_shard(
        _visual_job(tiny, max_model_len=context),
        mathvision_table,
        out,
        lambda spec: engines.load(spec.model, spec.sampling, 2),
    )
    assert set(tables.read(out, tables.SAMPLES)["finish_reason"]) == {"prompt_too_long"}


def test_vllm_samples_the_tiny_vl_where_it_can_run_qwen2_5_vl(tiny: Path) -> None:
    """The vLLM path with a real image. vLLM 0.32's CPU build here cannot import its
    Qwen2.5-VL module (it needs torchvision, whose PyPI wheel is built for the CUDA torch), so
    this runs on hosts that have torchvision and skips, saying so, elsewhere."""
    try:
        import vllm.model_executor.models.qwen2_5_vl  # noqa: F401
    except Exception as exc:  # ModuleNotFoundError: torchvision, or its operators failing to load
        pytest.skip(f"vLLM cannot import Qwen2.5-VL here ({type(exc).__name__}: {exc}); use backend: transformers")
    image = _image(sorted(need(MATHVISION.parent / "images").glob("*.jpg"))[0])
    settings = {"dtype": "float32", "enforce_eager": True, "max_model_len": 1024}
    engine = engines.load({"path": str(tiny)}, settings, threads=2)
    ids = engine.tokenize(prompts.render("easyr1", "How many digits? <image1>"))
    requests = [engines.Request(ids, seed, 8, image) for seed in (1, 2, 1)]
    stop = prompts.stop_rule("easyr1", "markup")
    done = dict(pair for step in engine.stream(requests, temperature=0.6, top_p=0.95, stop=stop) for pair in step)
    assert done[0] == done[2] and all(0 < done[i].n_tokens <= 8 for i in range(3))
    engine.close()
