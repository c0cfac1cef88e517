"""Each local sampling job gets GPUs of its own.

Snakemake's ``--resources gpu=N`` only counts: it runs sampling jobs whose ``gpu`` (the
model's tensor-parallel size) sums to at most N, but it does not say *which* devices a job
may use, so every job would see all GPUs and every vLLM engine would start on GPU 0. A job
therefore claims its devices itself, before torch or vLLM is imported::

    from rlvr_boundary import devices

    assigned = devices.assign_for_job(tensor_parallel_size)  # sets CUDA_VISIBLE_DEVICES
    log.info("%s", assigned)

How, and why:

- One lock file per device in a node-local lock directory (``RLVR_GPU_LOCK_DIR``, default
  ``/tmp/rlvr-boundary-gpus-<uid>``), locked with ``fcntl.flock``. The kernel drops a flock
  when the last descriptor of its open file goes away, so a job's devices come back when
  it exits, crashes or is SIGKILLed, and there is no stale lock to clean up. Lock files are
  never deleted (deleting one that another job has just opened would let two jobs lock
  different files for the same device). File names carry the host name, so a lock
  directory on a shared file system does not mix up two nodes' GPU 0.
- The pool a job draws from: ``RLVR_GPUS`` (comma-separated ids) if set; else
  ``CUDA_VISIBLE_DEVICES`` if set (the user restricted the run to those); else the GPUs the
  driver reports (``nvidia-smi -L``, else ``/proc/driver/nvidia/gpus/``), found without
  initialising CUDA. An empty pool is a CPU run: nothing is claimed or changed. Ids are the
  lock names, so every job on a node must name devices the same way (all indices, or all
  UUIDs), which they do when they run under one Snakemake.
- A claim takes the first ``count`` free devices in pool order, all or nothing: partial
  locks are dropped before waiting again, so two tensor-parallel jobs each holding one GPU
  can never wait on each other. When too few are free it polls up to ``wait_s`` and then
  fails, naming the pool, the lock directory and who holds what (each holder writes its pid
  into its lock file). With ``--resources gpu=`` at most the number of GPUs, a claim never
  waits; waiting only happens when the resource is set higher than the box holds.
- Under SLURM (``SLURM_JOB_ID`` set and SLURM set ``CUDA_VISIBLE_DEVICES``) the job's
  devices are its own already and are left as they are. Only when the allocation holds
  more devices than the job needs (several local jobs inside one ``salloc``/``srun``
  allocation) does the job claim among them, with locks scoped to that SLURM job: device
  indices of two SLURM jobs on one node may name different physical GPUs.

Child processes forked by the job (vLLM workers) inherit its lock descriptors, so devices
stay locked while any of them still runs. Processes that do not use these locks (another
user's, a notebook) are not seen.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

POOL_ENV = "RLVR_GPUS"
LOCK_DIR_ENV = "RLVR_GPU_LOCK_DIR"
VISIBLE_ENV = "CUDA_VISIBLE_DEVICES"
DEFAULT_WAIT_S = 300.0  # a job waits this long for devices another job still releases
DEFAULT_POLL_S = 1.0
PROC_GPUS = Path("/proc/driver/nvidia/gpus")


class DeviceClaimError(RuntimeError):
    """Not enough devices for a claim: more than the pool holds, or none free in time."""


@dataclass(eq=False)
class Claim:
    """Devices held by this process until :meth:`release` (or until the process dies).

    ``devices`` are the ids to use (what ``CUDA_VISIBLE_DEVICES`` is set to); ``lock_dir``
    is None when nothing was locked (CPU run, SLURM). ``note`` says how they were chosen,
    one line for the job's log (``str(claim)``).
    """

    devices: tuple[str, ...]
    lock_dir: Path | None = None
    note: str = ""
    _fds: list[int] = field(default_factory=list, repr=False)

    @property
    def held(self) -> bool:
        """Whether this claim still holds locks."""
        return bool(self._fds)

    def release(self) -> None:
        """Unlock the devices; safe to call twice."""
        fds, self._fds = self._fds, []
        _unlock(fds)

    def __enter__(self) -> Claim:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()

    def __str__(self) -> str:
        return self.note or f"devices {','.join(self.devices) or '(none)'}"


def default_lock_dir() -> Path:
    """``RLVR_GPU_LOCK_DIR``, else a per-user folder in the node-local ``/tmp``."""
    return Path(os.environ.get(LOCK_DIR_ENV) or f"/tmp/rlvr-boundary-gpus-{os.getuid()}")


def parse_ids(text: str) -> tuple[str, ...]:
    """Comma-separated device ids, blanks and repeats dropped, order kept."""
    return tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def _visible(text: str) -> tuple[str, ...]:
    """``CUDA_VISIBLE_DEVICES`` as CUDA reads it: the ids before the first negative one
    (``-1`` hides every device)."""
    ids = parse_ids(text)
    cut = next((i for i, device in enumerate(ids) if device.startswith("-")), len(ids))
    return ids[:cut]


def detect_gpus(*, proc_dir: Path = PROC_GPUS, timeout_s: float = 10.0) -> tuple[str, ...]:
    """The GPUs the NVIDIA driver reports, without initialising CUDA (no torch import).

    ``nvidia-smi -L`` first: indices ``0..n-1``, except that a GPU split into MIG instances
    is replaced by the instances' UUIDs (the only way CUDA can be pointed at one). Without
    ``nvidia-smi`` (or when it fails), one index per entry of ``proc_dir``. No driver: ().
    """
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        try:
            listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=timeout_s, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            listing = ""
        found = _parse_smi(listing)
        if found:
            return found
    try:
        return tuple(str(i) for i in range(sum(1 for entry in proc_dir.iterdir() if entry.is_dir())))
    except OSError:
        return ()


def _parse_smi(listing: str) -> tuple[str, ...]:
    gpus: list[list[str]] = []  # per GPU: its index, then its MIG instances' UUIDs
    for line in listing.splitlines():
        if gpu := re.match(r"\s*GPU (\d+):", line):
            gpus.append([gpu.group(1)])
        elif (mig := re.search(r"UUID: (MIG-[^)\s]+)", line)) and gpus:
            gpus[-1].append(mig.group(1))
    return tuple(device for gpu in gpus for device in (gpu[1:] or gpu[:1]))


def _pool_and_source(environ: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    if POOL_ENV in environ:
        return parse_ids(environ[POOL_ENV]), POOL_ENV
    if VISIBLE_ENV in environ:
        return _visible(environ[VISIBLE_ENV]), VISIBLE_ENV
    return detect_gpus(), "the driver"


def device_pool(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The devices local jobs share: ``RLVR_GPUS``, else ``CUDA_VISIBLE_DEVICES``, else detected."""
    return _pool_and_source(os.environ if environ is None else environ)[0]


def _lock_path(lock_dir: Path, device: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", device)
    host = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())
    return lock_dir / f"{host}.gpu-{safe}.lock"


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding ``path``'s exclusive flock, or None when another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # never O_TRUNC: the holder's pid stays readable
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(fd)
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
    return fd


def _unlock(fds: Iterable[int]) -> None:
    for fd in fds:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "holder unknown"
    except OSError:
        return "holder unknown"


def claim(
    count: int,
    *,
    pool: Sequence[str] | None = None,
    lock_dir: str | Path | None = None,
    wait_s: float = DEFAULT_WAIT_S,
    poll_s: float = DEFAULT_POLL_S,
) -> Claim:
    """Lock the first ``count`` free devices of ``pool``, all or nothing.

    ``pool`` defaults to :func:`device_pool`, ``lock_dir`` to :func:`default_lock_dir`.
    Polls every ``poll_s`` for up to ``wait_s`` seconds while fewer than ``count`` are free,
    then raises :class:`DeviceClaimError` naming the pool, the lock directory and each
    busy device's holder. ``count`` larger than the pool fails at once. Use the result as
    a context manager or call its ``release()``; the locks also go when the process dies.
    """
    if count < 1:
        raise ValueError(f"a claim needs at least one device, not {count}")
    devices = tuple(dict.fromkeys(device_pool() if pool is None else pool))
    folder = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    if count > len(devices):
        raise DeviceClaimError(
            f"cannot claim {count} GPU(s): the device pool holds {len(devices)} "
            f"({','.join(devices) or 'none'}); lock dir {folder}"
        )
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    deadline = time.monotonic() + wait_s
    while True:
        taken: list[tuple[str, int]] = []
        busy: list[str] = []
        for device in devices:
            fd = _try_lock(_lock_path(folder, device))
            if fd is None:
                busy.append(device)
                continue
            taken.append((device, fd))
            if len(taken) == count:
                chosen = tuple(device for device, _ in taken)
                note = f"GPUs {','.join(chosen)} claimed from pool {','.join(devices)} (lock dir {folder})"
                return Claim(chosen, folder, note, [fd for _, fd in taken])
        _unlock(fd for _, fd in taken)  # all or nothing: never sit on part of a claim
        if time.monotonic() >= deadline:
            held = "; ".join(f"{device}: {_holder(_lock_path(folder, device))}" for device in busy)
            raise DeviceClaimError(
                f"no {count} free GPU(s) after waiting {wait_s:g} s: pool {','.join(devices)}, "
                f"lock dir {folder}, held {held or 'none (they were released meanwhile)'}. Other jobs hold them; "
                f"if Snakemake's --resources gpu= is larger than the number of GPUs ({len(devices)}), lower it."
            )
        time.sleep(min(poll_s, max(deadline - time.monotonic(), 0.0)))


_ASSIGNED: Claim | None = None  # kept for the process lifetime: closing its files would free the devices


def assign_for_job(count: int, *, wait_s: float = DEFAULT_WAIT_S, poll_s: float = DEFAULT_POLL_S) -> Claim:
    """Give this process ``count`` devices of its own and export them as ``CUDA_VISIBLE_DEVICES``.

    Call it before torch or vLLM is imported (CUDA reads the variable once). The locks are
    kept until the process ends. Nothing is claimed or changed on a CPU run (empty pool) or
    when SLURM already gave this job its devices (see the module docstring). Calling it
    again with the same ``count`` returns the same claim. Returns the claim; ``str()`` of
    it is one line for the log.
    """
    global _ASSIGNED
    if _ASSIGNED is not None:
        if len(_ASSIGNED.devices) != count and _ASSIGNED.held:
            raise RuntimeError(f"this process already holds {_ASSIGNED.devices}, not {count} device(s)")
        return _ASSIGNED
    if count < 1:
        raise ValueError(f"a job needs at least one device, not {count}")
    slurm_job = os.environ.get("SLURM_JOB_ID")
    if slurm_job and VISIBLE_ENV in os.environ:
        given = _visible(os.environ[VISIBLE_ENV])
        if len(given) <= count:
            note = f"SLURM job {slurm_job} gave this job {VISIBLE_ENV}={os.environ[VISIBLE_ENV]}: left as is"
            _ASSIGNED = Claim(given, None, note)
            return _ASSIGNED
        pool, source = given, f"SLURM job {slurm_job}'s {VISIBLE_ENV}"
        lock_dir = default_lock_dir() / f"slurm-{re.sub(r'[^A-Za-z0-9._-]', '_', slurm_job)}"
    else:
        pool, source = _pool_and_source(os.environ)
        lock_dir = default_lock_dir()
    if not pool:
        _ASSIGNED = Claim((), None, f"no GPUs (device pool from {source} is empty): nothing claimed, CPU run")
        return _ASSIGNED
    held = claim(count, pool=pool, lock_dir=lock_dir, wait_s=wait_s, poll_s=poll_s)
    os.environ[VISIBLE_ENV] = ",".join(held.devices)
    held.note = f"{held.note}, pool from {source}; {VISIBLE_ENV}={os.environ[VISIBLE_ENV]}"
    _ASSIGNED = held
    return held
