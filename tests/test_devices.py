"""GPU claims of local jobs: real processes, real flocks, fake device ids (no GPU needed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

import pytest

from rlvr_boundary import devices

POOL = "0,1,2,3"

# One sampling job: claim, record (ids, start, end) while holding them, exit.
JOB = """
import json, os, sys, time
from rlvr_boundary import devices
count, hold, record = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
claimed = devices.assign_for_job(count, wait_s=30, poll_s=0.01)
print("claimed", flush=True)
start = time.time()
time.sleep(hold)
end = time.time()
with open(record, "w") as out:
    json.dump({"ids": list(claimed.devices), "visible": os.environ["CUDA_VISIBLE_DEVICES"],
               "start": start, "end": end, "note": str(claimed)}, out)
"""

# Claims and then sleeps until killed; says which devices it got.
HOLDER = """
import sys, time
from rlvr_boundary import devices
claimed = devices.assign_for_job(int(sys.argv[1]), wait_s=0)
print(",".join(claimed.devices), flush=True)
time.sleep(60)
"""


def job_env(lock_dir: Path, **extra: str) -> dict[str, str]:
    """The test's environment without anything that would pick devices for the job."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_") and k != "CUDA_VISIBLE_DEVICES"}
    env.pop(devices.POOL_ENV, None)
    env[devices.LOCK_DIR_ENV] = str(lock_dir)
    return {**env, **extra}


def run_job(code: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=30)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """In-process calls see no SLURM, pool or visible-devices settings; locks go to tmp_path."""
    for name in [*(k for k in os.environ if k.startswith("SLURM_")), "CUDA_VISIBLE_DEVICES", devices.POOL_ENV]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(devices.LOCK_DIR_ENV, str(tmp_path / "locks"))
    monkeypatch.setattr(devices, "_ASSIGNED", None)
    return tmp_path / "locks"


def test_concurrent_jobs_never_share_a_device(tmp_path: Path) -> None:
    env = job_env(tmp_path / "locks", RLVR_GPUS=POOL)
    counts = [2, 1, 2, 1, 1, 2, 1]  # 10 devices asked of a pool of 4: some jobs must wait
    procs = [
        subprocess.Popen([sys.executable, "-c", JOB, str(n), "0.3", str(tmp_path / f"job{i}.json")], env=env)
        for i, n in enumerate(counts)
    ]
    assert [p.wait(timeout=30) for p in procs] == [0] * len(counts)
    jobs = [json.loads((tmp_path / f"job{i}.json").read_text()) for i in range(len(counts))]
    for job, n in zip(jobs, counts, strict=True):
        assert len(set(job["ids"])) == n and set(job["ids"]) <= set(POOL.split(","))
        assert job["visible"] == ",".join(job["ids"])
    for a, b in combinations(jobs, 2):
        if a["start"] < b["end"] and b["start"] < a["end"]:
            assert not set(a["ids"]) & set(b["ids"]), (a, b)
    # the waiting jobs ran after others released: not all of them held devices at once
    assert max(j["start"] for j in jobs) > min(j["end"] for j in jobs)


def test_a_sigkilled_jobs_devices_come_back(tmp_path: Path) -> None:
    lock_dir = tmp_path / "locks"
    env = job_env(lock_dir, RLVR_GPUS="0,1")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, "2"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "0,1"
        with pytest.raises(devices.DeviceClaimError, match=rf"0: pid {holder.pid} on"):
            devices.claim(1, pool=["0", "1"], lock_dir=lock_dir, wait_s=0)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    start = time.monotonic()
    with devices.claim(2, pool=["0", "1"], lock_dir=lock_dir, wait_s=0) as claimed:
        assert claimed.devices == ("0", "1")
    assert time.monotonic() - start < 1


def test_a_tensor_parallel_job_gets_two_distinct_devices(tmp_path: Path) -> None:
    result = run_job(JOB, "2", "0", str(tmp_path / "tp2.json"), env=job_env(tmp_path / "locks", RLVR_GPUS=POOL))
    assert result.returncode == 0, result.stderr
    job = json.loads((tmp_path / "tp2.json").read_text())
    assert job["ids"] == ["0", "1"] and job["visible"] == "0,1"
    assert "claimed from pool 0,1,2,3" in job["note"] and str(tmp_path / "locks") in job["note"]


def test_more_devices_than_the_pool_fail_at_once(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(devices.DeviceClaimError, match=r"cannot claim 3 GPU\(s\): the device pool holds 2 \(0,1\)"):
        devices.claim(3, pool=["0", "1"], lock_dir=tmp_path, wait_s=30)
    assert time.monotonic() - start < 1


def test_no_free_device_waits_then_says_who_holds_what(tmp_path: Path) -> None:
    with devices.claim(2, pool=["0", "1"], lock_dir=tmp_path, wait_s=0):
        start = time.monotonic()
        with pytest.raises(devices.DeviceClaimError) as caught:
            devices.claim(1, pool=["0", "1"], lock_dir=tmp_path, wait_s=0.2, poll_s=0.05)
        assert 0.2 <= time.monotonic() - start < 2
    message = str(caught.value)
    assert "no 1 free GPU(s) after waiting 0.2 s: pool 0,1" in message
    assert f"lock dir {tmp_path}" in message and f"0: pid {os.getpid()} on" in message
    assert f"1: pid {os.getpid()} on" in message and "--resources gpu=" in message


def test_a_claim_is_all_or_nothing(tmp_path: Path) -> None:
    pool = ["0", "1", "2"]
    with devices.claim(1, pool=["1"], lock_dir=tmp_path, wait_s=0):
        with pytest.raises(devices.DeviceClaimError):
            devices.claim(3, pool=pool, lock_dir=tmp_path, wait_s=0)
        with devices.claim(2, pool=pool, lock_dir=tmp_path, wait_s=0) as claimed:  # 0 was let go
            assert claimed.devices == ("0", "2")
    with devices.claim(3, pool=pool, lock_dir=tmp_path, wait_s=0) as claimed:
        assert claimed.devices == ("0", "1", "2")
    assert not claimed.held


def test_a_waiting_claim_gets_devices_once_released(tmp_path: Path) -> None:
    lock_dir, record = tmp_path / "locks", tmp_path / "h.json"
    env = job_env(lock_dir, RLVR_GPUS="0")
    holder = subprocess.Popen([sys.executable, "-c", JOB, "1", "0.3", str(record)], env=env, stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == b"claimed\n"
    with devices.claim(1, pool=["0"], lock_dir=lock_dir, wait_s=10, poll_s=0.01) as claimed:
        assert claimed.devices == ("0",) and record.exists()  # only once the holder was done
    assert holder.wait(timeout=10) == 0


def test_slurm_devices_are_left_as_they_are(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,6")
    monkeypatch.setenv(devices.POOL_ENV, POOL)  # SLURM wins over a pool left in the environment
    assigned = devices.assign_for_job(2)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "5,6" and assigned.devices == ("5", "6")
    assert not assigned.held and "SLURM job 4242" in str(assigned)
    assert not clean_env.exists()


def test_several_jobs_in_one_slurm_allocation_split_it(tmp_path: Path) -> None:
    """``srun --gres=gpu:4 --pty bash`` then the local profile: jobs share the allocation."""
    lock_dir = tmp_path / "locks"
    env = job_env(lock_dir, SLURM_JOB_ID="77", CUDA_VISIBLE_DEVICES="4,5,6,7")
    holders: list[subprocess.Popen] = []
    ids: list[list[str]] = []
    try:
        for _ in range(2):  # the second starts once the first holds its two
            holders.append(subprocess.Popen([sys.executable, "-c", HOLDER, "2"], env=env, stdout=subprocess.PIPE))
            assert holders[-1].stdout is not None
            ids.append(holders[-1].stdout.readline().decode().strip().split(","))
    finally:
        for holder in holders:
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
    assert sorted(ids[0] + ids[1]) == ["4", "5", "6", "7"]
    assert [p.parent.name for p in lock_dir.glob("*/*.lock")] == ["slurm-77"] * 4


def test_an_empty_pool_is_a_cpu_run(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assigned = devices.assign_for_job(1)
    assert assigned.devices == () and not assigned.held and "CPU run" in str(assigned)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
    monkeypatch.setattr(devices, "_ASSIGNED", None)
    monkeypatch.setenv(devices.POOL_ENV, "")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert devices.assign_for_job(2).devices == ()
    assert "CUDA_VISIBLE_DEVICES" not in os.environ and not clean_env.exists()


def test_assigning_twice_returns_the_same_claim(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(devices.POOL_ENV, POOL)
    first = devices.assign_for_job(1)
    try:
        assert devices.assign_for_job(1) is first and os.environ["CUDA_VISIBLE_DEVICES"] == "0"
        with pytest.raises(RuntimeError, match="already holds"):
            devices.assign_for_job(2)
    finally:
        first.release()


def test_the_pool_comes_from_rlvr_gpus_then_visible_devices() -> None:
    assert devices.device_pool({"RLVR_GPUS": " 3, 1,,3 ", "CUDA_VISIBLE_DEVICES": "0"}) == ("3", "1")
    assert devices.device_pool({"CUDA_VISIBLE_DEVICES": "2,3"}) == ("2", "3")
    assert devices.device_pool({"CUDA_VISIBLE_DEVICES": "2,-1,3"}) == ("2",)  # CUDA stops at -1
    assert devices.device_pool({"CUDA_VISIBLE_DEVICES": "GPU-ab12,GPU-cd34"}) == ("GPU-ab12", "GPU-cd34")


def fake_nvidia_smi(folder: Path, listing: str, status: int = 0) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "listing.txt").write_text(listing + "\n")
    script = folder / "nvidia-smi"  # PATH holds only this folder: no shell tools, so Python
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.stdout.write(open({str(folder / 'listing.txt')!r}).read())\nsys.exit({status})\n"
    )
    script.chmod(0o755)


def test_gpus_are_detected_without_cuda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir, proc = tmp_path / "bin", tmp_path / "proc"
    monkeypatch.setenv("PATH", str(bin_dir))
    proc.mkdir()
    assert devices.detect_gpus(proc_dir=tmp_path / "absent") == ()
    for bus in ("0000:17:00.0", "0000:65:00.0"):
        (proc / bus).mkdir()
    assert devices.detect_gpus(proc_dir=proc) == ("0", "1")  # no nvidia-smi: the driver's /proc
    fake_nvidia_smi(
        bin_dir,
        "GPU 0: NVIDIA H200 (UUID: GPU-1111)\nGPU 1: NVIDIA H200 (UUID: GPU-2222)\nGPU 2: NVIDIA H200 (UUID: GPU-3333)",
    )
    assert devices.detect_gpus(proc_dir=proc) == ("0", "1", "2")
    fake_nvidia_smi(
        bin_dir,
        "GPU 0: NVIDIA A100 (UUID: GPU-1111)\n"
        "  MIG 3g.40gb     Device  0: (UUID: MIG-aaaa)\n"
        "  MIG 3g.40gb     Device  1: (UUID: MIG-bbbb)\n"
        "GPU 1: NVIDIA A100 (UUID: GPU-2222)",
    )
    assert devices.detect_gpus(proc_dir=proc) == ("MIG-aaaa", "MIG-bbbb", "1")
    fake_nvidia_smi(bin_dir, "NVIDIA-SMI has failed", status=9)
    assert devices.detect_gpus(proc_dir=proc) == ("0", "1")


def test_the_module_loads_nothing_else() -> None:
    """Called before torch and vLLM are imported, and importable anywhere: stdlib only."""
    code = "import json, sys; import rlvr_boundary.devices; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True).stdout)
    ours = {m for m in loaded if m.startswith("rlvr_boundary")}
    assert ours == {"rlvr_boundary", "rlvr_boundary.devices"}
    assert not {"torch", "vllm", "numpy", "polars"} & {m.split(".")[0] for m in loaded}
