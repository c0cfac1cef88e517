"""How much the unmarked-answer policy changes on real model outputs: ours, strict, paper, math-verify.

    python perf/grader_policy.py ROLLOUTS.jsonl [...] [--out disagreements.jsonl]

Each input line is one real response: ``{"gold": ..., "response": ..., "finished": true|false|null}``
(other fields are kept; ``finished`` null counts as finished). The files we measured came from
public repositories (README, "Math verification"); none is shipped, so this script is not part
of CI. For each file it prints the responses each grader accepts and the rows on which two of
them differ, and writes those rows to ``--out`` so that they can be read by hand: a difference
between ``ours`` and ``strict`` is an unmarked answer, one between ``ours`` and math-verify is
an extraction or equivalence decision.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from math_verify import parse
from math_verify import verify as mv_verify

from rlvr_boundary.verify.math import verify_batch

GRADERS = ("ours", "strict", "paper")
PAIRS = (("ours", "strict"), ("ours", "math-verify"))


def _math_verify(gold: str, response: str) -> bool:
    try:
        return bool(mv_verify(parse(f"${gold}$"), parse(response)))
    except Exception:  # math-verify's own failures count as a rejection, as in its harness
        return False


def judge(rows: list[dict]) -> dict[str, list[bool]]:
    responses = [str(r["response"]) for r in rows]
    golds = [str(r["gold"]) for r in rows]
    finished = [r.get("finished") is not False for r in rows]
    verdicts = {g: verify_batch(responses, golds, grader=g, finished=finished) for g in GRADERS}
    accepted = {g: [v.correct for v in vs] for g, vs in verdicts.items()}
    accepted["math-verify"] = [_math_verify(g, r) for g, r in zip(golds, responses, strict=True)]
    for i, row in enumerate(rows):
        row["extracted_ours"] = verdicts["ours"][i].extracted
    return accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rollouts", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("grader_disagreements.jsonl"))
    args = parser.parse_args()
    differing = []
    header = f"{'file':28s} {'rows':>6s} " + " ".join(f"{g:>11s}" for g in (*GRADERS, "math-verify"))
    header += "  " + "  ".join(f"{a}-only/{b}-only" for a, b in PAIRS)
    print(header)
    for path in args.rollouts:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        accepted = judge(rows)
        counts = " ".join(f"{sum(accepted[g]):11d}" for g in (*GRADERS, "math-verify"))
        splits = []
        for a, b in PAIRS:
            only = Counter((x, y) for x, y in zip(accepted[a], accepted[b], strict=True) if x != y)
            splits.append(f"{only[(True, False)]:>{len(a) + 5}d}/{only[(False, True)]:<{len(b) + 5}d}")
            for i, (x, y) in enumerate(zip(accepted[a], accepted[b], strict=True)):
                if x != y:
                    differing.append(rows[i] | {"file": path.name, "pair": f"{a}/{b}", "accepted_by": a if x else b})
        print(f"{path.name:28s} {len(rows):6d} {counts}  " + "  ".join(splits))
    with args.out.open("w", encoding="utf-8") as out:
        for row in differing:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(differing)} differing rows -> {args.out}")


if __name__ == "__main__":
    main()
