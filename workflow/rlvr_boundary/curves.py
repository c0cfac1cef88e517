"""The pass@k stage: a counts table in, the unbiased pass@k curve for k = 1..n out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from rlvr_boundary import tables
from rlvr_boundary.passk import pass_at_k_curve


def passk(counts_path: str | Path, output: str | Path) -> None:
    """pass@k for every k from 1 to n, averaged over problems."""
    counts = tables.read(counts_path, tables.COUNTS)
    n, c = counts["n"].to_numpy(), counts["c"].to_numpy()
    ks = np.arange(1, int(n.min()) + 1)
    frame = pl.DataFrame(
        {"k": ks, "pass_at_k": pass_at_k_curve(n, c, ks), "n_problems": np.full(ks.size, counts.height)},
        schema=tables.PASSK.columns,
    )
    record = tables.provenance(stage="passk", counts_provenance=tables.read_provenance(counts_path))
    tables.write(frame, output, tables.PASSK, record)
