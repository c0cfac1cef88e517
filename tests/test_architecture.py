"""The package's shape: imports point one way, and a stage loads only what it needs."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT

PACKAGE = PROJECT / "workflow" / "rlvr_boundary"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Package modules ``path`` imports anywhere (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("rlvr_boundary")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rlvr_boundary"):
            for alias in node.names:  # `from rlvr_boundary import tables` imports a module
                candidate = f"{node.module}.{alias.name}"
                found.add(
                    candidate
                    if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists()
                    else node.module
                )
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in _imports(path) if m in modules and m != name} - {"rlvr_boundary"}
        for name, path in modules.items()
    }


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for child in sorted(graph[node]):
            if state.get(child) == "open":
                pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(child) :], child]))
            if child not in state:
                visit(child, [*trail, child])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_graph_is_read_from_real_imports() -> None:
    """The checker itself: it sees top-level and function-level imports."""
    graph = import_graph()
    assert "rlvr_boundary.jobs" in graph["rlvr_boundary.plan"]
    assert "rlvr_boundary.verdicts" in graph["rlvr_boundary.cli"]  # imported inside a function
    assert "rlvr_boundary.verify.math" in graph["rlvr_boundary.verdicts"]


def test_the_package_never_imports_the_workflow() -> None:
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(name.split(".")[0] == "snakemake" for name in names), path


HEAVY = {"vllm", "torch", "matplotlib"}
JUDGING = {"rlvr_boundary.verify", "rlvr_boundary.sandbox", "math_verify", "sympy"}
PREPARING = {"rlvr_boundary.benchmarks", "rlvr_boundary.code_benchmarks"}
CLUSTER = {"rlvr_boundary.jobs", "rlvr_boundary.plan"}
FORBIDDEN = {
    # the maths knows no table, model or verifier
    "rlvr_boundary.passk": HEAVY | JUDGING | PREPARING | CLUSTER | {"polars", "rlvr_boundary.tables"},
    "rlvr_boundary.config": HEAVY | JUDGING | PREPARING | CLUSTER | {"polars", "rlvr_boundary.layout"},
    # the statistics take counts and return numbers (polars frames): no table I/O, no stage
    "rlvr_boundary.stats": HEAVY | JUDGING | PREPARING | CLUSTER | {"rlvr_boundary.tables", "rlvr_boundary.specs"},
    "rlvr_boundary.layout": HEAVY | JUDGING | PREPARING | CLUSTER | {"polars", "rlvr_boundary.config"},
    "rlvr_boundary.specs": HEAVY | JUDGING | PREPARING | CLUSTER | {"rlvr_boundary.config"},
    # sampling never judges, and reading a prepared table does not import preparing
    "rlvr_boundary.sampling": HEAVY | JUDGING | PREPARING | CLUSTER | {"rlvr_boundary.figures"},
    "rlvr_boundary.benchmarks": HEAVY | CLUSTER | {"rlvr_boundary.sampling", "rlvr_boundary.figures"},
    "rlvr_boundary.verdicts": HEAVY | PREPARING | CLUSTER | {"rlvr_boundary.sampling", "rlvr_boundary.engines"},
    "rlvr_boundary.counts": HEAVY | JUDGING | PREPARING | CLUSTER | {"rlvr_boundary.sampling"},
    "rlvr_boundary.curves": HEAVY | JUDGING | PREPARING | CLUSTER | {"rlvr_boundary.sampling"},
    "rlvr_boundary.comparisons": HEAVY
    | JUDGING
    | PREPARING
    | CLUSTER
    | {"rlvr_boundary.sampling", "rlvr_boundary.figures"},
    # importing another tool's samples reads files; it never judges or samples
    "rlvr_boundary.importers": HEAVY
    | JUDGING
    | PREPARING
    | CLUSTER
    | {"rlvr_boundary.sampling", "rlvr_boundary.figures"},
    # reading judged samples back never re-judges them
    "rlvr_boundary.lucky": HEAVY | JUDGING | PREPARING | CLUSTER | {"rlvr_boundary.sampling"},
    # figures read tables only
    "rlvr_boundary.figures": {"vllm", "torch"}
    | JUDGING
    | PREPARING
    | CLUSTER
    | {"rlvr_boundary.sampling", "rlvr_boundary.config"},
    # cutting a subset's shard from its superset's samples draws nothing and judges nothing
    "rlvr_boundary.subsets": HEAVY | JUDGING | PREPARING | CLUSTER,
    # fitting the plan reads finished shards: no engine, no verifier
    "rlvr_boundary.calibration": HEAVY | JUDGING | PREPARING | {"rlvr_boundary.sampling"},
    # claimed before torch is imported, progress lines from any stage: stdlib only
    "rlvr_boundary.devices": HEAVY | JUDGING | PREPARING | CLUSTER | {"polars", "rlvr_boundary.tables"},
    "rlvr_boundary.progress": HEAVY | JUDGING | PREPARING | CLUSTER | {"polars", "rlvr_boundary.tables"},
    # the entropy of samples and the guessing filter read tables: no engine, verifier or plotting
    "rlvr_boundary.entropy": HEAVY | JUDGING | PREPARING | CLUSTER | {"rlvr_boundary.sampling"},
    "rlvr_boundary.guessing": HEAVY | JUDGING | PREPARING | CLUSTER | {"rlvr_boundary.sampling"},
    # scoring runs the engine (imported when a job starts) but never judges or samples
    "rlvr_boundary.scoring": HEAVY | JUDGING | PREPARING | CLUSTER | {"rlvr_boundary.sampling"},
    # the Snakefile loads this on every start: no engine, verifier or plotting
    "rlvr_boundary.dag": HEAVY | JUDGING | PREPARING | {"rlvr_boundary.sampling", "rlvr_boundary.figures"},
}


def loaded_by(module: str) -> set[str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(json.loads(out))


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_a_stage_module_loads_only_what_it_needs(module: str) -> None:
    loaded = loaded_by(module)
    assert module in loaded
    bad = sorted(m for m in loaded if any(m == f or m.startswith(f"{f}.") for f in FORBIDDEN[module]))
    assert not bad, f"importing {module} loads {bad}"


def test_the_check_sees_a_forbidden_module() -> None:
    assert "rlvr_boundary.sandbox" in loaded_by("rlvr_boundary.verdicts")


def _outputs_rows() -> list[list[str]]:
    text = (PROJECT / "README.md").read_text()
    section = text[text.index("## Outputs") :]
    section = section[: section.index("\n## ", 3)]
    return [
        [cell.strip() for cell in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| `")
    ]


def _ticked(cell: str) -> list[str]:
    import re

    return re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", cell))  # words in (...) are explanations


def test_the_readme_outputs_table_matches_the_schemas() -> None:
    from rlvr_boundary import tables

    rows = _outputs_rows()
    documented = {}
    for _, _, contract, columns, words in rows:
        schema = getattr(tables, _ticked(contract)[0].removeprefix("tables."))
        documented[schema.name] = schema
        assert _ticked(columns) == list(schema.columns), schema.name
        vocabulary = {w for values in schema.vocabulary.values() for w in values}
        named = set(_ticked(words)) - set(schema.vocabulary)
        if "the math words" in words:
            named |= set(tables.MATH_STATUSES)
        assert named == vocabulary, schema.name
    assert set(documented) == {s.name for s in tables.SCHEMAS.values()}


def test_the_readme_check_sees_a_wrong_column() -> None:
    from rlvr_boundary import tables

    *_, columns, _ = next(r for r in _outputs_rows() if "tables.COUNTS" in r[2])
    assert _ticked(columns) == list(tables.COUNTS.columns)
    assert _ticked(columns.replace("`c`", "`correct`")) != list(tables.COUNTS.columns)


def test_a_verdict_shard_holds_only_its_kinds_words() -> None:
    import polars as pl

    from rlvr_boundary import tables

    frame = pl.DataFrame(
        {
            "problem_id": ["a"],
            "sample_index": [0],
            "extracted": ["1"],
            "correct": [True],
            "status": ["passed"],
            "detail": [None],
        },
        schema=tables.VERDICTS.columns,
    )
    assert tables.check(frame, tables.VERDICTS_OF_KIND["code"], "v.parquet").height == 1
    with pytest.raises(ValueError, match=r"v\.parquet: math verdicts table: column 'status' holds \['passed'\]"):
        tables.check(frame, tables.VERDICTS_OF_KIND["math"], "v.parquet")
