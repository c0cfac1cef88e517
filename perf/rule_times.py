"""Wall time per rule of one Snakemake run, read from its log (.snakemake/log/*.snakemake.log).

    .venv/bin/python perf/rule_times.py [LOG]    # default: the newest log

Snakemake stamps every job start ("[date]" then "rule X:" / "localrule X:" and "jobid: N")
and end ("[date]" then "Finished jobid: N (Rule: X)"); this sums each rule's job durations
(jobs that ran side by side both count, so the column can exceed the run's wall time) and
prints a markdown table, slowest rule first, with the whole run's wall time below it. The
README's lab timings come from it.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
END = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def rule_times(lines: list[str]) -> tuple[dict[str, list[float]], float]:
    """Per rule, the durations (s) of its finished jobs; and the run's wall time (s)."""
    stamp: datetime | None = None
    first = last = None
    started: dict[str, datetime] = {}
    pending: tuple[str, datetime] | None = None
    durations: dict[str, list[float]] = defaultdict(list)
    for line in lines:
        if match := STAMP.match(line):
            stamp = datetime.strptime(" ".join(match.group(1).split()), "%a %b %d %H:%M:%S %Y")
            first, last = first or stamp, stamp
        elif (match := START.match(line)) and stamp is not None:
            pending = (match.group(1), stamp)
        elif (match := JOBID.match(line)) and pending is not None:
            started[match.group(1)] = pending[1]
            pending = None
        elif (match := END.match(line)) and stamp is not None and match.group(1) in started:
            durations[match.group(2)].append((stamp - started.pop(match.group(1))).total_seconds())
    wall = (last - first).total_seconds() if first and last else 0.0
    return durations, wall


def main() -> None:
    logs = sorted(Path(".snakemake/log").glob("*.snakemake.log"))
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else logs[-1]
    durations, wall = rule_times(path.read_text().splitlines())
    print(f"{path}\n\n| rule | jobs | seconds |\n|---|---|---|")
    for rule, times in sorted(durations.items(), key=lambda item: -sum(item[1])):
        print(f"| {rule} | {len(times)} | {sum(times):.0f} |")
    print(f"\nwall time of the run: {wall / 60:.1f} min")


if __name__ == "__main__":
    main()
