"""The configuration: the paper's experiments validate; mistakes stop with the key named."""

from __future__ import annotations

import re

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
    assert {m for m, b in layout.figure_pairs(paper, "fig4") if b in code} == {
        "qwen2.5-7b-instruct-1m",
        "coder1-zero-qwen2.5-7b",
    }
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
        "kind": "solvable",
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
            {"figures": {"fig11": {"rows": ["aime24"]}}},
            "figures.fig11: qwen2.5-7b-instruct-1m on aime24: models.qwen2.5-7b-instruct-1m.template: no prompt",
        ),
        (
            {"figures": {"fig4": {"rows": ["humanevalplus", "mathvista"]}}},
            "figures.fig4.columns.0.benchmarks.1: 'mbppplus' is not in rows",
        ),
        (
            {"models": {"qwen2.5-vl-7b-instruct": {"templates": {"mathvision": "qwen-boxed"}}}},
            "template 'qwen-boxed' is a math prompt but 'mathvision' is a visual benchmark",
        ),
        ({"benchmarks": {"mathvision": {"keep": {"equals": "A"}}}}, "benchmarks.mathvision.keep"),  # equals and empty
        (
            {"models": {"qwen2.5-7b": {"backend": "transformers"}}},
            "figures.fig6.columns.0.models.0: 'qwen2.5-7b' samples with backend transformers; scoring",
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
            {"training_runs": {"grpo": {"label": "GRPO", "base": "qwen2.5-7b", "checkpoints": {"150": {}}}}},
            "training_runs.grpo.checkpoints.150",
        ),
        (
            {"training_runs": {"grpo": {"label": "GRPO", "base": "nope", "checkpoints": {"150": {"path": "c"}}}}},
            "training_runs.grpo.base: 'nope' is not a configured sampled model",
        ),
        (
            {"training_runs": {"grpo": {"label": "GRPO", "base": "qwen2.5-7b"}}},
            "training_runs.grpo.checkpoints: required (not a run of demo.rl)",
        ),
        (
            {
                "training_runs": {"grpo": {"label": "GRPO", "base": "qwen2.5-7b", "checkpoints": {"1": {"path": "c"}}}},
                "figures": {"f18": {"kind": "training", "title": "t", "runs": ["ppo"]}},
            },
            "figures.f18.runs.0: unknown training run 'ppo'",
        ),
        (
            {"figures": {"f18": {"kind": "training", "title": "t", "rows": ["math500"], "runs": []}}},
            "figures.f18",
        ),
        (
            {
                "tables": {
                    "t2": {
                        "kind": "boundary",
                        "title": "t",
                        "benchmarks": ["math500"],
                        "models": ["qwen2.5-7b"],
                        "base": "x",
                    }
                }
            },
            "tables.t2.base: 'x' is not one of the table's models",
        ),
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


def test_lab_runs_become_checkpoint_models_with_the_paths_rl_train_writes() -> None:
    text = (PROJECT / "profiles/demo/overlay.yaml").read_text()
    overlay = yaml.safe_load(text)
    merged = config.load(PROJECT / "config.yaml", overlay)
    grpo = merged["training_runs"]["grpo"]
    steps = merged["demo"]["rl"]["grpo"]["checkpoints"]
    assert grpo["checkpoints"] == {str(s): {"path": f"data/demo/rl/grpo/step{s}"} for s in steps}
    assert grpo["log"] == "data/demo/rl/grpo/training_log.parquet"
    model = merged["models"][f"grpo-step{steps[-1]}"]
    assert (model["role"], model["checkpoint_of"], model["template"]) == ("rl", "grpo", "qwen-boxed")
    assert model["path"] == f"data/demo/rl/grpo/step{steps[-1]}"
    assert config.validate(merged) == merged  # idempotent
    with pytest.raises(
        config.ConfigError, match=re.escape("training_runs.grpo: a run of demo.rl lists what rl_train writes")
    ):
        config.load(
            PROJECT / "config.yaml",
            config.deep_merge(yaml.safe_load(text), {"training_runs": {"grpo": {"checkpoints": {"5": {"path": "x"}}}}}),
        )
    with pytest.raises(config.ConfigError, match=re.escape("demo.rl.grpo.checkpoints: steps must lie in 1..60")):
        config.load(
            PROJECT / "config.yaml",
            config.deep_merge(yaml.safe_load(text), {"demo": {"rl": {"grpo": {"checkpoints": [61]}}}}),
        )
    with pytest.raises(config.ConfigError, match=re.escape("demo.distill.tiny-distilled.teacher: 'nobody'")):
        config.load(
            PROJECT / "config.yaml",
            config.deep_merge(yaml.safe_load(text), {"demo": {"distill": {"tiny-distilled": {"teacher": "nobody"}}}}),
        )
