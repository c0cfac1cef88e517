"""Figures read pass@k tables only and write the plotted numbers beside the PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import polars as pl
import pytest

from rlvr_boundary import figures, tables
from rlvr_boundary.layout import Curve, Panel


def _passk(path: Path, n: int, accuracy: float) -> Path:
    ks = np.arange(1, n + 1)
    curve = 1 - (1 - accuracy) ** ks
    frame = pl.DataFrame(
        {
            "k": ks,
            "pass_at_k": curve,
            "low": curve * 0.9,
            "high": np.minimum(curve * 1.1, 1.0),
            "posterior_sd": np.full(n, 0.01),
            "n_problems": np.full(n, 30),
        },
        schema=tables.PASSK.columns,
    )
    tables.write_parquet(frame, path, {"stage": "passk"})
    return path


@pytest.fixture
def grid(tmp_path: Path) -> tuple[list[Panel], dict, dict]:
    models = {
        "base": {"label": "Base", "role": "base"},
        "rl": {"label": "RL", "role": "rl"},
        "distill": {"label": "Distill", "role": "distill"},
    }
    paths = {
        Curve("ours", "base", "aime24"): _passk(tmp_path / "a.parquet", 1024, 0.05),
        Curve("ours", "rl", "aime24"): _passk(tmp_path / "b.parquet", 256, 0.2),
        Curve("ours", "base", "math500"): _passk(tmp_path / "c.parquet", 128, 0.3),
        Curve("ours", "rl", "math500"): _passk(tmp_path / "d.parquet", 128, 0.6),
        Curve("ours", "distill", "math500"): _passk(tmp_path / "e.parquet", 128, 0.7),
    }
    panels = [Panel(0, 0, "aime24", "Qwen", ("base", "rl")), Panel(1, 0, "math500", "Qwen", ("base", "rl", "distill"))]
    return panels, paths, models


def test_points_cover_each_panel_up_to_its_smallest_n(grid) -> None:
    panels, paths, models = grid
    points = figures.figure_table(panels, paths, models)
    aime = points.filter(pl.col("benchmark") == "aime24")
    assert aime.group_by("model").agg(pl.col("k").max())["k"].to_list() == [256, 256]
    assert points.filter(pl.col("benchmark") == "math500")["model"].n_unique() == 3
    assert set(points["role"]) == {"base", "rl", "distill"}


def test_draw_writes_pdf_and_the_plotted_numbers(grid, tmp_path: Path) -> None:
    panels, paths, models = grid
    points = figures.figure_table(panels, paths, models)
    pdf = tmp_path / "figures" / "fig.pdf"
    figures.draw(points, "title", pdf, note="visual panels: pending")
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 5000
    written = pl.read_csv(pdf.with_suffix(".csv"))
    assert written.height == points.height
    assert np.allclose(written["pass_at_k"].to_numpy(), points["pass_at_k"].to_numpy())
    assert not list(pdf.parent.glob(".*.tmp"))  # no temporary leftovers
    assert mpl.get_backend().lower() == "agg"


def test_missing_table_is_an_error(grid) -> None:
    panels, paths, models = grid
    del paths[Curve("ours", "rl", "aime24")]
    with pytest.raises(ValueError, match=r"'Qwen' \(aime24\): no pass@k table for Curve\(grader='ours', model='rl'"):
        figures.figure_table(panels, paths, models)


def test_graders_share_a_panel_and_are_all_plotted(grid, tmp_path: Path) -> None:
    panels, paths, models = grid
    paths |= {Curve("paper", c.model, c.benchmark): p for c, p in paths.items()}
    points = figures.figure_table(panels, paths, models)
    assert points.group_by("grader").len().sort("grader")["len"].to_list() == [points.height // 2] * 2
    figures.draw(points, "graders", tmp_path / "g.pdf")
    assert set(pl.read_csv(tmp_path / "g.csv")["grader"]) == {"ours", "paper"}


def test_a_long_title_wraps_inside_a_one_column_page(grid, tmp_path: Path) -> None:
    """The demo's title once ran off both sides of a one-column figure."""
    panels, paths, models = grid
    points = figures.figure_table(panels, paths, models).filter(pl.col("row") == 0)
    title = "CPU demo in the layout of Fig. 2: tiny model vs the same trained longer, pass@k, and more words"
    fig = figures.grid_figure(points, title)
    renderer = fig.canvas.get_renderer()
    box = fig._suptitle.get_window_extent(renderer)
    width, height = fig.get_size_inches() * fig.dpi
    assert box.x0 >= 0 and box.x1 <= width and box.y1 <= height, (box, width, height)
    assert fig._suptitle.get_text().replace("\n", " ") == title and "\n" in fig._suptitle.get_text()


def _counts(solved: set[int], n_problems: int = 880, n: int = 128) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "problem_id": [f"p{i}" for i in range(n_problems)],
            "index": list(range(n_problems)),
            "n": [n] * n_problems,
            "c": [(i * 7) % n + 1 if i in solved else 0 for i in range(n_problems)],
        }
    )


def test_solvable_table_lists_indices_in_range_and_the_differences() -> None:
    # Table 5's sets, plus solved problems outside 400-449 that the listing must leave out.
    base = {
        400,
        402,
        403,
        407,
        409,
        412,
        413,
        417,
        418,
        419,
        422,
        423,
        427,
        432,
        433,
        436,
        438,
        439,
        440,
        444,
        445,
        448,
        449,
    }
    rl = (base - {409, 432, 436, 448}) | {430}
    counts = {"inst": _counts(base | {3, 399, 450}), "coder": _counts(rl | {451})}
    table = figures.solvable_table(counts, {"inst": "Instruct-1M", "coder": "Coder-R1"}, [400, 450])
    rows = {row["row"]: row for row in table.iter_rows(named=True)}
    assert rows["Instruct-1M"]["n_solvable"] == 23 and rows["Coder-R1"]["n_solvable"] == 20
    assert rows["Instruct-1M"]["indices"].startswith("400, 402, 403, 407, 409,")
    assert rows["only Coder-R1"]["indices"] == "430"
    assert rows["only Instruct-1M"]["indices"] == "409, 432, 436, 448"
    everything = figures.solvable_table(counts, {"inst": "I", "coder": "C"})
    assert everything.filter(pl.col("row") == "I")["n_solvable"].item() == 26
