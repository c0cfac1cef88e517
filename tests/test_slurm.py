"""The demo DAG on a real single-node SLURM cluster, through profiles/slurm.

tests/slurm/slurm-up.sh starts munged, slurmctld and slurmd on 127.0.0.1 (two partitions,
``cpu`` and ``gpu``, one fake GPU); the CPU demo then runs with
``--profile profiles/slurm --profile tests/slurm/profile``. While it runs, the test kills
one running sampling job (scancel: a failure, as a node crash or an OOM kill would be) and
requeues one running verification job (scontrol requeue: what preemption does). Afterwards
it checks, from slurmctld's own records, that every job went through SLURM on the right
partition with the right GPUs, that the killed shard was retried with a longer time limit
and completed, that shards finished before the kill were left alone, and that the
requeued job ran twice without Snakemake counting a failure. slurm-down.sh stops every
daemon, also when the test fails. Skipped only where SLURM cannot be installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import PROJECT

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

SLURM_DIR = PROJECT / "tests" / "slurm"
# Config, state, logs and pid files of the test cluster; not under pytest's tmp folders,
# which are 0700 (munged runs as user munge and must reach its key).
SLURM_BASE = Path(tempfile.gettempdir()) / "rlvr-slurm-test"
# Site settings of profiles/slurm for this cluster (its RLVR_SLURM_* overrides): the
# partitions keep their defaults (cpu, gpu); the fake GPU's job may have both cores.
SITE = {
    "RLVR_SLURM_ACCOUNT": "none",
    "RLVR_SLURM_CPUS_PER_GPU": "2",
    "RLVR_SLURM_MEM_GB_PER_GPU": "4",
    "RLVR_SLURM_CPU_MEM_MB": "2000",
}
RUN_TIMEOUT_S = 45 * 60


def _slurm(*args: str) -> str:
    """A SLURM client call; `timeout` because clients hang while slurmctld is down."""
    return subprocess.run(["timeout", "20", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def cluster() -> Iterator[Path]:
    """A running cluster for this module; its daemons are stopped and its folder removed after."""
    env = {**os.environ, "SLURM_BASE": str(SLURM_BASE)}
    # A run killed outright leaves daemons and state behind: stop them (by their pid files)
    # and start clean. The folder is fixed so that CI can do the same from outside.
    subprocess.run(["bash", str(SLURM_DIR / "slurm-down.sh")], env=env, timeout=180, check=False)
    shutil.rmtree(SLURM_BASE, ignore_errors=True)
    SLURM_BASE.mkdir()
    SLURM_BASE.chmod(0o755)  # o+x: munged runs as user munge
    try:
        up = subprocess.run(
            ["bash", str(SLURM_DIR / "slurm-up.sh")], env=env, capture_output=True, text=True, timeout=600, check=False
        )
        if up.returncode == 77:
            pytest.skip(f"SLURM cannot be installed or started here: {up.stderr.strip()}")
        assert up.returncode == 0, f"slurm-up.sh failed:\n{up.stdout}\n{up.stderr}"
        yield SLURM_BASE
    finally:
        subprocess.run(["bash", str(SLURM_DIR / "slurm-down.sh")], env=env, timeout=180, check=False)
        shutil.rmtree(SLURM_BASE, ignore_errors=True)


@dataclass
class Job:
    """One job as slurmctld remembers it (scontrol show job)."""

    id: int
    fields: dict[str, str]

    @property
    def comment(self) -> str:
        return self.fields.get("Comment", "")

    @property
    def minutes(self) -> int:
        days, _, clock = self.fields["TimeLimit"].rpartition("-")
        hours, mins, _ = (int(x) for x in clock.split(":"))
        return (int(days or 0) * 24 + hours) * 60 + mins


def slurm_job(job_id: int) -> Job:
    text = _slurm("scontrol", "show", "job", "-o", str(job_id))
    return Job(job_id, dict(re.findall(r"(\w+)=(\S*)", text)))


def running(rule: str) -> list[int]:
    """Ids of this cluster's running jobs of a Snakemake rule (the plugin's --comment)."""
    out = _slurm("squeue", "-h", "-t", "R", "-o", "%i|%k")
    return [
        int(i)
        for i, comment in (line.split("|", 1) for line in out.splitlines())
        if comment.startswith(f"rule_{rule}_")
    ]


@dataclass
class Faults:
    """Injects the two faults while the workflow runs, once each, and records what it did."""

    work: Path
    killed: int | None = None
    requeued: int | None = None
    finished_before_kill: dict[Path, tuple[float, bytes]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set() and (self.killed is None or self.requeued is None):
            if self.killed is None:
                self._kill_a_sampling_job()
            if self.requeued is None:
                for job_id in running("verify")[:1]:
                    _slurm("scontrol", "requeue", str(job_id))
                    self.requeued = job_id
            time.sleep(0.5)

    def _kill_a_sampling_job(self) -> None:
        for job_id in running("sample"):
            done = {p: (p.stat().st_mtime, p.read_bytes()) for p in self.work.glob("results/samples/*/*/*.parquet")}
            _slurm("scancel", str(job_id))
            for _ in range(40):  # a job killed while it was completing may still end COMPLETED
                state = slurm_job(job_id).fields["JobState"]
                if state not in ("RUNNING", "COMPLETING"):
                    break
                time.sleep(0.25)
            if state == "CANCELLED":
                self.killed, self.finished_before_kill = job_id, done
                return


@pytest.fixture(scope="module")
def slurm_run(cluster: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Faults]:
    work = tmp_path_factory.mktemp("slurm-work")
    (work / "config.yaml").write_text((PROJECT / "config.yaml").read_text())
    env = {**os.environ, **SITE, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "figures/fig2.pdf",
        "-s",
        str(PROJECT / "Snakefile"),
        "-d",
        str(work),
        "--profile",
        str(PROJECT / "profiles/slurm"),
        "--profile",
        str(SLURM_DIR / "profile"),
        "--configfile",
        "config.yaml",
        str(PROJECT / "profiles/demo/overlay.yaml"),
        str(SLURM_DIR / "overlay.yaml"),
    ]
    faults = Faults(work)
    injector = threading.Thread(target=faults.run, daemon=True)
    injector.start()
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, cwd=work, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
        )
    finally:
        faults.stop.set()
        injector.join(timeout=30)
    log = result.stdout + result.stderr
    print(f"demo DAG through SLURM: {time.monotonic() - started:.0f} s")
    assert result.returncode == 0, f"snakemake through SLURM failed:\n{log[-6000:]}"
    return work, log, faults


def submitted(log: str) -> dict[int, Job]:
    """Every job Snakemake submitted, by SLURM job id, as slurmctld recorded it."""
    ids = [int(i) for i in re.findall(r"has been submitted with SLURM jobid (\d+)", log)]
    assert ids, "no SLURM job ids in the Snakemake log"
    return {i: slurm_job(i) for i in ids}


def test_demo_figure_is_made_through_slurm(slurm_run: tuple[Path, str, Faults]) -> None:
    work, log, _ = slurm_run
    assert (work / "figures/fig2.pdf").stat().st_size > 1000
    jobs = submitted(log)
    rules = {
        re.match(r"rule_(.+?)_wildcards", j.comment).group(1)
        if "_wildcards" in j.comment
        else j.comment.removeprefix("rule_")
        for j in jobs.values()
    }
    assert {"sample", "verify", "count", "passk", "rl_train"} <= rules  # the lab's RL run is a cluster job too
    assert "figure" not in rules  # a localrule: drawn by the submitting Snakemake itself
    for job in jobs.values():
        if job.comment.startswith("rule_sample_"):
            assert job.fields["Partition"] == "gpu" and job.fields["TresPerJob"] == "gres:gpu:1", job.fields
        else:
            assert job.fields["Partition"] == "cpu" and "gpu" not in job.fields.get("TresPerJob", ""), job.fields
        assert job.fields["JobState"] in ("COMPLETED", "CANCELLED"), job.fields


def test_killed_shard_is_retried_with_a_longer_time_limit(slurm_run: tuple[Path, str, Faults]) -> None:
    _, log, faults = slurm_run
    assert faults.killed is not None, "no sampling job was caught running to be killed"
    jobs = submitted(log)
    killed = jobs[faults.killed]
    assert killed.fields["JobState"] == "CANCELLED"
    retries = [j for j in jobs.values() if j.comment == killed.comment and j.id > killed.id]
    assert len(retries) == 1 and retries[0].fields["JobState"] == "COMPLETED"
    assert retries[0].minutes == 2 * killed.minutes  # attempt 2: twice the first limit
    assert f"SLURM-job '{killed.id}' failed" in log and "Trying to restart job" in log
    for path, (mtime, data) in faults.finished_before_kill.items():
        assert path.stat().st_mtime == mtime and path.read_bytes() == data, f"{path} was rewritten"


def test_requeued_job_runs_again_without_a_failure(slurm_run: tuple[Path, str, Faults]) -> None:
    _, log, faults = slurm_run
    assert faults.requeued is not None, "no verification job was caught running to be requeued"
    job = submitted(log)[faults.requeued]
    assert job.fields["JobState"] == "COMPLETED" and int(job.fields["Restarts"]) >= 1
    assert f"SLURM-job '{faults.requeued}' failed" not in log
