"""The configuration: the paper's experiments validate; mistakes stop with the key named."""

from __future__ import annotations

import pytest
import yaml

from conftest import PROJECT
from rlvr_boundary import config, jobs, layout


@pytest.fixture(scope="module")
def paper() -> dict:
    return config.load(PROJECT / "config.yaml")


def test_paper_config_has_every_model_and_benchmark_of_the_math_figures(paper: dict) -> None:
    math = {b for b, spec in paper["benchmarks"].items() if spec["kind"] == "math" and "filter_of" not in spec}
    assert math == {"gsm8k", "math500", "minerva_math", "olympiadbench", "aime24", "amc23"}
    fig2 = {m for col in paper["figures"]["fig2"]["columns"] for m in col["models"]}
    assert len(fig2) == 8
    assert paper["models"]["dapo-qwen-32b"]["revision"] == "38b8075427d3f7d12075377d1e40495875066189"
    assert (paper["sampling"]["temperature"], paper["sampling"]["top_p"], paper["sampling"]["max_tokens"]) == (
        0.6,
        0.95,
        16384,
    )
    assert set(paper["figures"]) >= {"fig2", "fig7", "fig9", "fig10"}


def test_paper_config_has_the_code_experiments(paper: dict) -> None:
    code = {b for b, spec in paper["benchmarks"].items() if spec["kind"] == "code"}
    assert code == {"humanevalplus", "mbppplus", "livecodebench", "livecodebench_full"}
    assert layout.figure_pairs(paper, "fig3") == [
        ("r1-distill-qwen-14b", "livecodebench"),
        ("deepcoder-14b", "livecodebench"),
    ]
    assert {m for m, _ in layout.figure_pairs(paper, "fig4")} == {"qwen2.5-7b-instruct-1m", "coder1-zero-qwen2.5-7b"}
    assert {b for _, b in layout.figure_pairs(paper, "fig11")} == {"livecodebench", "livecodebench_full"}
    assert paper["benchmarks"]["livecodebench"]["window"] == {"start": "2024-08-01", "end": "2025-02-01"}
    # Fig. 3: n = 64 and a 32k response length; Figs. 4 and 11: n = 128 and 16k.
    assert config.n_samples(paper, "deepcoder-14b", "livecodebench") == 64
    assert config.sampling_for(paper, "deepcoder-14b")["max_tokens"] == 32768
    assert config.n_samples(paper, "coder1-zero-qwen2.5-7b", "livecodebench") == 128
    assert config.sampling_for(paper, "coder1-zero-qwen2.5-7b")["max_tokens"] == 16384
    # Code benchmarks bring their prompt; R1-style models override it on LiveCodeBench.
    assert config.template_for(paper, "coder1-zero-qwen2.5-7b", "humanevalplus") == "evalplus"
    assert config.template_for(paper, "qwen2.5-7b-instruct-1m", "livecodebench") == "livecodebench"
    assert config.template_for(paper, "deepcoder-14b", "livecodebench") == "livecodebench-r1"
    assert config.source_kind(paper, "livecodebench") == "hf"  # no local copy anywhere
    assert config.source_kind(paper, "humanevalplus") == "local"
    assert paper["tables"]["table5"] == {
        "title": paper["tables"]["table5"]["title"],
        "benchmark": "livecodebench_full",
        "models": ["qwen2.5-7b-instruct-1m", "coder1-zero-qwen2.5-7b"],
        "indices": [400, 450],
    }


def test_sample_counts_follow_the_paper(paper: dict) -> None:
    assert config.n_samples(paper, "qwen2.5-7b", "aime24") == 1024
    assert config.n_samples(paper, "qwen2.5-7b", "math500") == 128
    assert config.n_samples(paper, "qwen2.5-7b", "olympiadbench") == 128
    assert config.n_samples(paper, "llama-3.1-8b", "olympiadbench") == 1024  # Fig. 2's LLaMA panel


def test_shards_cover_n_and_raising_n_only_appends(paper: dict) -> None:
    before = jobs.shards(paper, "qwen2.5-7b", "aime24")
    assert sum(s.size for s in before) == 1024 and [s.start for s in before] == list(range(0, 1024, 128))
    raised = config.deep_merge(paper, {"benchmarks": {"aime24": {"n": 1100}}})
    after = jobs.shards(raised, "qwen2.5-7b", "aime24")
    assert after[: len(before)] == before and after[-1].size == 1100 - 1024


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"sampling": {"top_p": 1.5}}, "sampling.top_p"),
        ({"sampling": {"temprature": 1}}, "'temprature' was unexpected"),
        ({"models": {"qwen2.5-7b": {"template": "chatml"}}}, "models.qwen2.5-7b.template"),
        ({"benchmarks": {"aime24": {"n": 0}}}, "benchmarks.aime24.n"),
        ({"benchmarks": {"aime24": {"gold": {"extract": "regex"}}}}, "benchmarks.aime24.gold.extract"),
        ({"figures": {"fig2": {"rows": ["aime25"]}}}, "figures.fig2.rows.0: unknown benchmark 'aime25'"),
        ({"models": {"qwen2.5-7b": {"n": {"aime25": 4}}}}, "models.qwen2.5-7b.n.aime25"),
        (
            {"models": {"qwen2.5-7b": {"templates": {"aime24": "evalplus"}}}},
            "figures.fig2: qwen2.5-7b on aime24: template 'evalplus' is a code prompt but 'aime24' is a math benchmark",
        ),
        (
            {"figures": {"fig4": {"rows": ["aime24"]}}},
            "figures.fig4: qwen2.5-7b-instruct-1m on aime24: models.qwen2.5-7b-instruct-1m.template: no prompt",
        ),
        ({"benchmarks": {"humanevalplus": {"format": "csv"}}}, "benchmarks.humanevalplus.format"),
        (
            {"benchmarks": {"livecodebench": {"window": {"start": "Aug 2024", "end": None}}}},
            "benchmarks.livecodebench.window.start",
        ),
        ({"benchmarks": {"livecodebench": {"hf": {"version_tag": None}}}}, "benchmarks.livecodebench.hf.version_tag"),
        (
            {"benchmarks": {"mbppplus": {"hf": {"id": "evalplus/mbppplus", "revision": "main"}}}},
            "benchmarks.mbppplus.hf: evalplus files come from a url source",
        ),
        ({"tables": {"table5": {"benchmark": "lcb"}}}, "tables.table5.benchmark: unknown benchmark 'lcb'"),
        ({"verify": {"grader": "lenient"}}, "verify.grader"),
        (
            {
                "models": {
                    "imp": {"samples_from": {"format": "csv", "paths": {"math500": ["x"]}}, "label": "x", "role": "rl"}
                }
            },
            "models.imp.samples_from.format: 'csv' is not one of",
        ),
        (
            {
                "models": {
                    "imp": {"samples_from": {"format": "jsonl", "paths": {"aime24": ["x"]}}, "label": "x", "role": "rl"}
                },
                "figures": {"f": {"title": "t", "rows": ["math500"], "columns": [{"title": "c", "models": ["imp"]}]}},
            },
            "figures.f: imp on math500: models.imp.samples_from.paths: no files for 'math500'",
        ),
        (
            {"demo": {"figures": ["fig2"], "grader_figures": ["fig4"]}},
            "demo.grader_figures: 'fig4' is not one of demo.figures",
        ),
        (
            {
                "data_source": "hf",
                "benchmarks": {
                    "x": {
                        "local": {"path": "a"},
                        "fields": {"question": "q"},
                        "gold": {"field": "a", "extract": "none"},
                        "n": 1,
                        "shard_size": 1,
                    }
                },
            },
            "benchmarks.x",
        ),
    ],
)
def test_bad_config_names_the_key(override: dict, message: str) -> None:
    with pytest.raises(config.ConfigError) as error:
        config.load(PROJECT / "config.yaml", override)
    assert message in str(error.value)
    assert str(error.value).count("\n") == 0  # one message, one line


def test_unreadable_config_names_the_file(tmp_path) -> None:
    broken = tmp_path / "c.yaml"
    broken.write_text("models: [unclosed\n")
    with pytest.raises(config.ConfigError, match=str(broken)):
        config.load(broken)


def test_demo_overlay_validates_on_top_of_the_paper_config() -> None:
    overlay = yaml.safe_load((PROJECT / "profiles/demo/overlay.yaml").read_text())
    merged = config.load(PROJECT / "config.yaml", overlay)
    assert merged["figures"]["fig2"]["rows"] == ["arith-add", "arith-mixed"]
    assert layout.figure_pairs(merged, "fig2")[0] == ("tiny-base", "arith-add")
