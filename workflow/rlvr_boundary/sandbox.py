"""Run an untrusted program in a throwaway Linux sandbox (namespaces + rlimits + cgroups).

Why this exists: the code benchmarks execute model-written programs by the hundred thousand.
A candidate program may loop forever, fork-bomb, fill memory or disk, delete files, open
sockets, kill its parent, or try to make a failing answer count as passing. Everything it
does must stay inside a box that is thrown away after the run.

How one run is isolated (Linux only; stdlib only, so the module also works from a bare
interpreter):

* The caller forks a small *keeper* process. The keeper joins a fresh cgroup (aggregate
  memory and process caps, where a writable cgroup hierarchy exists), unshares new mount,
  network, PID, IPC and UTS namespaces (plus a user namespace when not running as root),
  and forks the program's process, which is PID 1 of the new PID namespace. When PID 1
  exits or is killed, the kernel kills every other process in that namespace, so daemons,
  double forks and fork bombs cannot outlive the run. The keeper reaps PID 1 and reports
  its exit status and CPU time.
* PID 1 builds a new root file system on a private tmpfs and ``pivot_root``s into it: only
  /usr, /etc, the /bin-style symlinks and the Python installation are bind-mounted, all
  read-only, nosuid and nodev; /dev holds only null, zero, full, random and urandom; /proc is
  a fresh procfs that shows only the sandbox's own processes; ``WORK_DIR`` is an empty,
  size-capped tmpfs (the only writable place, also reachable as /tmp); ``JOB_DIR`` holds the
  caller's files, read-only. The host's other files (benchmark data, the harness's expected
  outputs, the project) are not visible at all.
* The network namespace has only a loopback interface that is down: every connect fails.
* PID 1 then drops to an unprivileged identity: as root, a uid/gid of its own
  (``UID_BASE`` + keeper pid, unique among live runs, so the per-uid RLIMIT_NPROC cap
  counts only this run's processes); without root, uid 1000 inside a user namespace mapped
  to the caller. It sets no_new_privs, a parent-death signal, and rlimits (CPU time,
  address space, file size, processes, open files, no core files), and execs the program
  with stdin from /dev/null (or the given bytes), stdout/stderr captured through pipes with
  a cap, and fd 3 as a write-only *record channel* to the caller.
* The caller enforces the wall-clock limit, the output caps and early stops: it tells the
  keeper (SIGTERM), which SIGKILLs PID 1 and with it the whole namespace.
* :func:`run_python` skips the exec: PID 1 is already a Python interpreter (a fork of the
  launcher, which holds nothing of any run), so after the same set-up it runs the script
  there, as ``python -s -B script`` would, without paying for a new interpreter and its
  imports on every run. Isolation is the same; only the start is warm.

Limits (stated honestly in the README): there is no seccomp filter, so the kernel's
syscall surface is the boundary; CPU is shared with the host; /usr and /etc are readable;
without a writable cgroup hierarchy the aggregate memory cap is only per process
(RLIMIT_AS x RLIMIT_NPROC); where neither root nor unprivileged user namespaces are
available, ``SandboxUnavailable`` is raised instead of running code unprotected.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import itertools
import json
import marshal
import math
import os
import platform
import resource
import select
import selectors
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = [
    "JOB_DIR",
    "WORK_DIR",
    "Isolation",
    "Limits",
    "RunResult",
    "SandboxError",
    "SandboxUnavailable",
    "isolation",
    "read_frames",
    "run",
    "run_python",
]

WORK_DIR = "/sbx/work"
"""The program's working directory inside the sandbox: an empty tmpfs, the only writable place."""
JOB_DIR = "/sbx/job"
"""Read-only directory inside the sandbox holding the caller's ``files``."""
RECORD_FD = 3
"""File descriptor of the record channel inside the sandbox (write-only pipe to the caller)."""
UID_BASE = 1 << 30
"""Root mode runs each program as uid/gid ``UID_BASE + keeper pid``: far above any login or
container sub-uid range, and unique among concurrently live runs."""
INNER_ID = 1000
"""Uid/gid the program has inside its user namespace when the caller is not root."""

_SYSTEM_BINDS = ("/usr", "/etc")
_ROOT_SYMLINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_DEVICES = ("null", "zero", "full", "random", "urandom")
_FRAME_HEADER = struct.Struct(">I")

# Linux constants (stable kernel ABI).
_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REMOUNT = 32
_MS_NOATIME = 1024
_MS_NODIRATIME = 2048
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MS_RELATIME = 1 << 21
_MNT_DETACH = 2
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}
_STATVFS_TO_MS = (
    (os.ST_RDONLY, _MS_RDONLY),
    (os.ST_NOSUID, _MS_NOSUID),
    (os.ST_NODEV, _MS_NODEV),
    (os.ST_NOEXEC, _MS_NOEXEC),
    (os.ST_NOATIME, _MS_NOATIME),
    (os.ST_NODIRATIME, _MS_NODIRATIME),
    (os.ST_RELATIME, _MS_RELATIME),
)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class SandboxError(RuntimeError):
    """The sandbox itself failed for one run (setup error, exec failure): not the program's fault."""


class SandboxUnavailable(SandboxError):
    """This machine cannot isolate programs (no root and no user namespaces, or no Linux)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run. Defaults suit one benchmark program plus its tests."""

    wall_s: float = 10.0
    """Wall-clock limit of the whole run, enforced by the caller (kills the whole namespace)."""
    cpu_s: int | None = None
    """RLIMIT_CPU per process; ``None`` = ceil(wall_s) + 1, a backstop behind the wall limit."""
    memory_bytes: int = 4 << 30
    """RLIMIT_AS per process, and the cgroup's aggregate memory cap (includes the tmpfs)."""
    file_size_bytes: int = 64 << 20
    """RLIMIT_FSIZE: largest file (or memfd) a process may write; exceeding it raises SIGXFSZ."""
    nproc: int = 64
    """RLIMIT_NPROC (per the run's own uid) and the cgroup's pids.max."""
    nofile: int = 1024
    workdir_bytes: int = 256 << 20
    """Size of the tmpfs mounted at ``WORK_DIR``."""
    output_bytes: int = 1 << 20
    """Cap on captured stdout and on captured stderr; more output stops the run."""
    record_bytes: int = 256 << 20
    """Cap on the total bytes sent through the record channel; more stops the run."""


@dataclass
class RunResult:
    """What happened in one run. ``reason`` says why it ended:

    ``exited`` (the program ended by itself; see ``exit_code``/``signal``), ``timeout`` (wall
    clock), ``stopped`` (the caller's ``on_record`` asked to stop), ``output_limit`` or
    ``record_limit`` (a cap was exceeded).
    """

    reason: str
    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    records: list[bytes] = field(default_factory=list)
    host_uid: int = -1
    """The uid the program's processes had on the host (root mode: unique to this run)."""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    max_rss_kib: int = 0


@dataclass(frozen=True)
class Isolation:
    """How this process isolates programs (probed once, see :func:`isolation`)."""

    mode: str
    """``root`` (real root: private uid per run, cgroups) or ``userns`` (user namespace)."""
    cgroup: str | None
    """``v1``/``v2`` when aggregate memory and pid caps are enforced by a cgroup, else None."""
    proc: bool
    """Whether the sandbox gets its own /proc (False where the kernel refuses the mount)."""


# --------------------------------------------------------------------------------------
# record channel framing (4-byte big-endian length, then the payload)


def read_frames(buffer: bytearray) -> list[bytes]:
    """Pop all complete frames from ``buffer`` (leaving an incomplete tail in place)."""
    frames = []
    offset = 0
    while len(buffer) - offset >= _FRAME_HEADER.size:
        (size,) = _FRAME_HEADER.unpack_from(buffer, offset)
        end = offset + _FRAME_HEADER.size + size
        if len(buffer) < end:
            break
        frames.append(bytes(buffer[offset + _FRAME_HEADER.size : end]))
        offset = end
    del buffer[:offset]
    return frames


# --------------------------------------------------------------------------------------
# low-level helpers


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    _check(_libc.mount(enc(source), target.encode(), enc(fstype), flags, enc(data)), f"mount {target}")


def _pivot_root_here() -> None:
    """``pivot_root(".", ".")`` then detach the old root: the runc trick, no put_old directory."""
    number = _SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, f"pivot_root syscall number unknown for {platform.machine()}")
    _check(_libc.syscall(ctypes.c_long(number), b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", _MNT_DETACH), "umount old root")


def _locked_flags(path: str) -> int:
    """Mount flags a bind remount must keep (a user namespace may not clear them)."""
    flags = os.statvfs(path).f_flag
    return sum(ms for st, ms in _STATVFS_TO_MS if flags & st)


def _bind_readonly(source: str, target: str, extra: int) -> None:
    _mount(source, target, None, _MS_BIND)
    flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | extra | _locked_flags(source)
    _mount(None, target, None, flags)


def _python_roots() -> list[str]:
    """Directories the interpreter needs (prefixes of the venv and of the base install)."""
    paths = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    exe = Path(sys.executable)
    paths.add(str(exe.resolve().parent.parent))
    return sorted({os.path.realpath(p) for p in paths} | paths)


def _bind_plan(extra_binds: Sequence[str]) -> list[str]:
    """Existing directories to bind read-only, minus those already inside another bind."""
    candidates = [*_SYSTEM_BINDS, *_python_roots(), *extra_binds]
    chosen: list[str] = []
    for path in sorted({os.path.normpath(p) for p in candidates}, key=len):
        if os.path.islink(path) or not os.path.isdir(path):
            continue
        if any(path == c or path.startswith(c.rstrip("/") + "/") for c in chosen):
            continue
        if path == "/sbx" or path.startswith("/sbx/") or "/sbx".startswith(path + "/") or path == "/":
            raise SandboxError(f"cannot bind {path!r}: it overlaps the sandbox's own /sbx tree")
        chosen.append(path)
    return chosen


_MOUNTPOINT: str | None = None


def _mountpoint() -> str:
    """An empty host directory the sandbox root is mounted on (in the run's own mount namespace).

    One per uid, created once and never written: mounts there are private to each run, so
    concurrent runs share it without seeing each other and the host directory stays empty.
    """
    global _MOUNTPOINT
    if _MOUNTPOINT is None:
        path = os.path.join(tempfile.gettempdir(), f"rlvr-sandbox-root-{os.geteuid()}")
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise SandboxError(f"{path} exists but is not a directory owned by us")
        _MOUNTPOINT = path
    return _MOUNTPOINT


# --------------------------------------------------------------------------------------
# cgroups (best effort: aggregate memory and process caps for the whole run)


class _Cgroup:
    """A per-run cgroup (v1 memory+pids controllers, or a delegated v2 subtree)."""

    _counter = itertools.count()

    def __init__(self, dirs: list[str]):
        self.dirs = dirs

    @staticmethod
    def _v1_roots() -> list[str] | None:
        roots = ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"]
        if all(os.path.isfile(os.path.join(r, "cgroup.procs")) and os.access(r, os.W_OK) for r in roots):
            return roots
        return None

    @staticmethod
    def _v2_root() -> str | None:
        try:
            line = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            return None
        unified = [entry.split(":", 2)[2] for entry in line if entry.startswith("0::")]
        if not unified:
            return None
        base = "/sys/fs/cgroup" + unified[0].rstrip("/")
        try:
            controllers = Path(base, "cgroup.subtree_control").read_text().split()
        except OSError:
            return None
        if {"memory", "pids"} <= set(controllers) and os.access(base, os.W_OK):
            return base
        return None

    @classmethod
    def kind(cls) -> str | None:
        if os.geteuid() != 0:
            return None
        if cls._v1_roots():
            return "v1"
        if cls._v2_root():
            return "v2"
        return None

    @classmethod
    def create(cls, kind: str, limits: Limits) -> _Cgroup:
        name = f"rlvr-sandbox-{os.getpid()}-{next(cls._counter)}"
        if kind == "v1":
            memory_root, pids_root = cls._v1_roots() or ["", ""]
            mem, pids = os.path.join(memory_root, name), os.path.join(pids_root, name)
            os.mkdir(mem)
            os.mkdir(pids)
            group = cls([mem, pids])
            Path(mem, "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
            Path(pids, "pids.max").write_text(str(limits.nproc + 1))
            return group
        path = os.path.join(cls._v2_root() or "", name)
        os.mkdir(path)
        group = cls([path])
        Path(path, "memory.max").write_text(str(limits.memory_bytes))
        if Path(path, "memory.swap.max").exists():
            Path(path, "memory.swap.max").write_text("0")
        Path(path, "pids.max").write_text(str(limits.nproc + 1))
        return group

    def join(self) -> None:
        for d in self.dirs:
            Path(d, "cgroup.procs").write_text("0")

    def remove(self) -> None:
        """Remove the (by now empty) cgroup; retried briefly while the kernel finishes exits."""
        for d in self.dirs:
            for _ in range(200):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.005)


# --------------------------------------------------------------------------------------
# the processes of one run


@dataclass(frozen=True)
class _Spec:
    argv: tuple[str, ...]
    env: dict[str, str]
    files: dict[str, bytes]
    stdin: bytes | None
    limits: Limits
    mode: str
    mount_proc: bool
    binds: tuple[str, ...]
    mountpoint: str
    code: bytes | None = None
    """A marshalled code object to run in PID 1's own interpreter instead of exec'ing
    ``argv`` (then ``argv`` is the script's ``sys.argv``), see :func:`run_python`."""


def _default_env() -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": WORK_DIR,
        "TMPDIR": WORK_DIR,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _write_id_maps(inner: int) -> None:
    """Map ``inner`` to the caller's uid/gid in a fresh user namespace (one-line maps)."""
    uid, gid = os.geteuid(), os.getegid()
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{inner} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{inner} {gid} 1")


def _build_root(spec: _Spec, run_id: int) -> None:
    """Inside the new mount namespace: assemble the sandbox root and pivot into it."""
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    root = spec.mountpoint
    job_bytes = sum(len(v) for v in spec.files.values())
    _mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={job_bytes + (4 << 20)},mode=0755")
    for path in spec.binds:
        target = root + path
        os.makedirs(target, exist_ok=True)
        _bind_readonly(path, target, _MS_NOSUID | _MS_NODEV)
    for link in _ROOT_SYMLINKS:
        if os.path.islink(link):
            os.symlink(os.readlink(link), root + link)
    os.mkdir(root + "/dev")
    for name in _DEVICES:
        host = "/dev/" + name
        if os.path.exists(host):
            Path(root + host).touch()
            _mount(host, root + host, None, _MS_BIND)
            _mount(None, root + host, None, _MS_REMOUNT | _MS_BIND | _MS_NOSUID | _MS_NOEXEC | _locked_flags(host))
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("shm", WORK_DIR),
    ):
        os.symlink(target, f"{root}/dev/{name}")
    if spec.mount_proc:
        os.mkdir(root + "/proc")
        _mount("proc", root + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    owner = UID_BASE + run_id if spec.mode == "root" else INNER_ID
    os.makedirs(root + WORK_DIR)
    _mount(
        "tmpfs",
        root + WORK_DIR,
        "tmpfs",
        _MS_NOSUID | _MS_NODEV,
        f"size={spec.limits.workdir_bytes},mode=0755,uid={owner},gid={owner}",
    )
    if not os.path.lexists(root + "/tmp"):  # an extra bind under /tmp keeps /tmp a read-only dir
        os.symlink(WORK_DIR, root + "/tmp")
    os.makedirs(root + JOB_DIR)
    for name, content in spec.files.items():
        if "/" in name or name in ("", ".", ".."):
            raise SandboxError(f"job file names must be plain names, got {name!r}")
        Path(root + JOB_DIR, name).write_bytes(content)
    os.chdir(root)
    _pivot_root_here()
    os.chdir("/")
    _mount(None, "/", None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)


def _set_limits(limits: Limits) -> None:
    cpu = limits.cpu_s if limits.cpu_s is not None else math.ceil(limits.wall_s) + 1
    for which, value in (
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_AS, limits.memory_bytes),
        (resource.RLIMIT_FSIZE, limits.file_size_bytes),
        (resource.RLIMIT_NPROC, limits.nproc),
        (resource.RLIMIT_NOFILE, limits.nofile),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_MEMLOCK, 0),
        (resource.RLIMIT_MSGQUEUE, 0),
    ):
        _soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))


def _program(spec: _Spec, run_id: int, fds: dict[str, int], alive_r: int, cgroup: _Cgroup | None) -> None:
    """PID 1 of the new namespaces: join the cgroup, build the root, drop privileges, exec. Never returns.

    Only the program joins the cgroup, never the keeper: an OOM kill inside the cgroup must
    not be able to pick the keeper (whose RSS counts the forked parent's pages) and lose the report.
    """
    err_fd = fds["err"]
    try:
        if cgroup is not None:
            cgroup.join()
        max_fd = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        _build_root(spec, run_id)
        if spec.stdin is None:
            stdin_fd = os.open("/dev/null", os.O_RDONLY)
        else:
            stdin_fd = os.memfd_create("stdin", 0)
            os.write(stdin_fd, spec.stdin)
            os.lseek(stdin_fd, 0, os.SEEK_SET)
        os.chdir(WORK_DIR)
        os.umask(0o022)
        _set_limits(spec.limits)
        ident = UID_BASE + run_id if spec.mode == "root" else INNER_ID
        if spec.mode == "root":
            os.setgroups([])
        os.setresgid(ident, ident, ident)
        os.setresuid(ident, ident, ident)
        _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        _check(_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
        with selectors.DefaultSelector() as poller:
            poller.register(alive_r, selectors.EVENT_READ)
            if poller.select(0):
                os._exit(126)  # the keeper died before the death signal was armed
        # Lift the four sources above the target range, then place them at fds 0..3.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in (stdin_fd, fds["out"], fds["err_out"], fds["rec"])]
        err_fd = fcntl.fcntl(err_fd, fcntl.F_DUPFD_CLOEXEC, 64)
        for target, fd in enumerate(high):
            os.dup2(fd, target, inheritable=True)
        os.closerange(RECORD_FD + 1, err_fd)
        os.closerange(err_fd + 1, max_fd)
        if spec.code is not None:
            os.close(err_fd)  # the program must not be able to report a "sandbox failure"
            _run_warm(spec)
        os.execve(spec.argv[0], list(spec.argv), spec.env)
    except BaseException:
        try:
            os.write(err_fd, traceback.format_exc().encode()[-4000:])
        finally:
            os._exit(127)


def _exit_status(exc: SystemExit) -> int:
    """The exit status ``python`` gives a script that raised ``exc``."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    with contextlib.suppress(Exception):
        print(exc.code, file=sys.stderr)
    return 1


def _run_warm(spec: _Spec) -> None:
    """PID 1 without exec: run the spec's compiled script in this interpreter. Never returns.

    Puts back what a fresh ``python -s -B script`` would have: its signal dispositions, the
    spec's environment, ``sys.argv``, the script's directory on ``sys.path`` (the site
    directories are there already: the launcher ran ``site`` as any ``python -s`` does), fresh standard streams on fds 0-2 and a new ``__main__`` module.
    """
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_IGN)
        os.environ.clear()
        os.environ.update(spec.env)
        sys.argv = list(spec.argv)
        sys.path.insert(0, os.path.dirname(spec.argv[0]))
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 (the streams live as long as the process)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")  # noqa: SIM115
        sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
        main = types.ModuleType("__main__")
        main.__dict__.update(__file__=spec.argv[0], __builtins__=__builtins__)
        sys.modules["__main__"] = main
        script = marshal.loads(spec.code or b"")
        try:
            exec(script, main.__dict__)
            status = 0
        except SystemExit as exc:
            status = _exit_status(exc)
    except BaseException as exc:
        with contextlib.suppress(BaseException):  # the script's frames only, as python prints them
            tb = exc.__traceback__
            traceback.print_exception(type(exc), exc, tb.tb_next if tb is not None else None)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(status)


def _keeper(spec: _Spec, fds: dict[str, int], parent: int, cgroup: _Cgroup | None) -> None:
    """The keeper: namespaces, fork PID 1, reap it, report. Never returns."""
    try:
        child = 0
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])

        def stop(_signum: int, _frame: object) -> None:
            if child > 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _check(_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
        if os.getppid() != parent:
            os._exit(126)
        run_id = os.getpid()
        flags = _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWPID | _CLONE_NEWIPC | _CLONE_NEWUTS
        if spec.mode == "userns":
            _check(_libc.unshare(_CLONE_NEWUSER), "unshare(user)")
            _write_id_maps(INNER_ID)
        _check(_libc.unshare(flags), "unshare")
        alive_r, alive_w = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(alive_w)
            _program(spec, run_id, fds, alive_r, cgroup)
        os.close(alive_r)
        for key in ("out", "err_out", "rec", "err"):
            os.close(fds[key])
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
        _, status, usage = os.wait4(child, 0)
        report = {
            "status": status,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "max_rss_kib": usage.ru_maxrss,
        }
        os.write(fds["status"], json.dumps(report).encode())
        os._exit(0)
    except BaseException:
        try:
            os.write(fds["err"], traceback.format_exc().encode()[-4000:])
        finally:
            os._exit(127)


# --------------------------------------------------------------------------------------
# the launcher: a small process that forks the keepers


_LAUNCHER_FDS = ("spec", "out", "err_out", "rec", "status", "err")
_REPLY = struct.Struct(">iI")
_REQUEST_BYTES = 4096
_LAUNCHER_HASH_SEED = "0"
"""The launcher's (hence every warm run's) hash seed: the default environment's."""


def _read_fd(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _keeper_main(received: list[int], parent: int) -> None:
    """A keeper just forked by the launcher: read the run's spec from its memfd, then keep. Never returns."""
    fds = dict(zip(_LAUNCHER_FDS, received, strict=True))
    try:
        wire = marshal.loads(_read_fd(fds["spec"]))
        os.close(fds.pop("spec"))
        spec = _Spec(
            argv=tuple(wire["argv"]),
            env=dict(wire["env"]),
            files=dict(wire["files"]),
            stdin=wire["stdin"],
            limits=Limits(**wire["limits"]),
            mode=wire["mode"],
            mount_proc=wire["mount_proc"],
            binds=tuple(wire["binds"]),
            mountpoint=wire["mountpoint"],
            code=wire["code"],
        )
        cgroup = _Cgroup(list(wire["cgroup"])) if wire["cgroup"] else None
    except BaseException:
        try:
            os.write(fds["err"], traceback.format_exc().encode()[-4000:])
        finally:
            os._exit(127)
    _keeper(spec, fds, parent, cgroup)


def _reap_children() -> None:
    """Reap every keeper that has exited (the launcher's only children)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _preload(names: bytes) -> None:
    """Import the named standard-library modules into the launcher (once; other names are
    ignored, so no installed package ever loads there): every warm PID 1 starts with them."""
    for name in names.decode("ascii", errors="replace").split(","):
        if name not in sys.modules and name.partition(".")[0] in sys.stdlib_module_names:
            with contextlib.suppress(Exception):  # the run's own import reports a real problem
                __import__(name)


def _launcher_main(control_fd: int) -> None:
    """The launcher's loop: one keeper per request, until the caller closes its end.

    A request carries no run data, only file descriptors (the run's spec memfd and the write
    ends of its pipes) and the names of modules to preload: the launcher never reads a spec,
    so no run's files, programs or inputs ever enter its memory, and each keeper it forks
    holds only its own run's.
    The reply is the keeper's pid and a pidfd for it (kept valid: the launcher reaps a
    keeper only after the pidfd is sent).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller's Ctrl-C is the caller's business
    control = socket.socket(fileno=control_fd)
    me = os.getpid()
    while True:
        _reap_children()
        ready, _, _ = select.select([control], [], [], 0.5)
        if not ready:
            continue
        try:
            data, received, _flags, _addr = socket.recv_fds(control, _REQUEST_BYTES, len(_LAUNCHER_FDS))
        except OSError:
            os._exit(0)
        if not data:  # the caller is gone; our keepers die with us (their death signal)
            os._exit(0)
        command, _, preload = data.partition(b" ")
        if command != b"run" or len(received) != len(_LAUNCHER_FDS):
            for fd in received:
                os.close(fd)
            control.send(_REPLY.pack(0, errno.EINVAL))
            continue
        _preload(preload)
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in received:
                os.close(fd)
            control.send(_REPLY.pack(0, exc.errno or errno.EAGAIN))
            continue
        if pid == 0:
            try:
                control.close()
            finally:
                _keeper_main(received, me)
        for fd in received:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(control, [_REPLY.pack(pid, 0)], [pidfd])
        finally:
            os.close(pidfd)


class _Launcher:
    """The caller's handle on its launcher process (one per caller process, started on first use).

    The launcher is a fresh interpreter (``python -s -P -B sandbox.py`` in an environment
    holding only a fixed hash seed: no inherited state) that imports only this module (and
    the standard-library modules warm runs ask for) and then forks keepers on request.
    Forking from it instead of from the caller costs the same whatever the caller holds: a verification worker with a gigabyte of expected outputs would otherwise
    copy its page tables twice per run.
    """

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-s", "-P", "-B", os.path.abspath(__file__), "--launcher", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                cwd="/",
                env={"PYTHONHASHSEED": _LAUNCHER_HASH_SEED},
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.settimeout(60.0)
        self.control = ours
        self.owner = os.getpid()

    def usable(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def start_keeper(self, fds: Sequence[int], preload: Sequence[str]) -> tuple[int, int]:
        """Fork a keeper holding ``fds`` (after importing ``preload``); its pid and a pidfd.
        OSError: the launcher is gone; SandboxError: it could not fork."""
        request = b"run " + ",".join(preload).encode()
        if len(request) > _REQUEST_BYTES:
            raise SandboxError(f"too many modules to preload ({len(preload)})")
        socket.send_fds(self.control, [request], list(fds))
        data, received, _flags, _addr = socket.recv_fds(self.control, 64, 1)
        if len(data) != _REPLY.size:
            for fd in received:
                os.close(fd)
            raise OSError(errno.EPIPE, "the sandbox launcher ended")
        pid, err = _REPLY.unpack(data)
        if pid <= 0 or len(received) != 1:
            for fd in received:
                os.close(fd)
            raise SandboxError(f"the sandbox launcher cannot fork a keeper: {os.strerror(err)}")
        return pid, received[0]

    def close(self) -> None:
        self.control.close()
        if self.owner == os.getpid():
            try:
                self.process.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_LAUNCHER: _Launcher | None = None
_LAUNCHER_LOCK = threading.Lock()


def _forget_launcher() -> None:
    """In a forked child of a caller: the parent's launcher is not ours (and its lock may be held)."""
    global _LAUNCHER, _LAUNCHER_LOCK
    if _LAUNCHER is not None:
        with contextlib.suppress(OSError):
            _LAUNCHER.control.close()
    _LAUNCHER = None
    _LAUNCHER_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_launcher)


def _start_keeper(fds: Sequence[int], preload: Sequence[str]) -> tuple[int, int]:
    """Have this process's launcher fork a keeper (starting or restarting the launcher as needed)."""
    global _LAUNCHER
    with _LAUNCHER_LOCK:
        problem: BaseException | None = None
        for _attempt in range(2):
            try:
                if _LAUNCHER is None or not _LAUNCHER.usable():
                    if _LAUNCHER is not None:
                        _LAUNCHER.close()
                        _LAUNCHER = None
                    _LAUNCHER = _Launcher()
                return _LAUNCHER.start_keeper(fds, preload)
            except OSError as exc:  # the launcher died (or never started): once more with a new one
                problem = exc
                if _LAUNCHER is not None:
                    _LAUNCHER.close()
                    _LAUNCHER = None
        raise SandboxError(f"cannot start the sandbox launcher: {problem}")


class _Capture:
    """A capped byte sink for one pipe."""

    def __init__(self, cap: int):
        self.cap = cap
        self.data = bytearray()
        self.overflow = False

    def add(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if len(chunk) > room:
            self.overflow = True
        self.data += chunk[: max(room, 0)]


def run(
    argv: Sequence[str],
    *,
    files: Mapping[str, bytes] | None = None,
    stdin: bytes | None = None,
    limits: Limits = Limits(),
    env: Mapping[str, str] | None = None,
    on_record: Callable[[bytes], bool] | None = None,
    extra_binds: Sequence[str] = (),
) -> RunResult:
    """Run ``argv`` (absolute path first, e.g. ``sys.executable``) in a fresh sandbox.

    ``files`` are placed read-only in ``JOB_DIR``; the working directory is ``WORK_DIR``.
    Records the program writes to fd 3 (4-byte big-endian length + payload) go to ``on_record``
    as they arrive (return False to stop the run at once) or, without a callback, collected
    in ``RunResult.records``. Raises :class:`SandboxError` when the sandbox could not start
    the program, :class:`SandboxUnavailable` when this machine cannot isolate at all.
    """
    environment = dict(_default_env() if env is None else env)
    return _start(tuple(argv), environment, dict(files or {}), stdin, limits, on_record, extra_binds)


def _start(
    argv: tuple[str, ...],
    env: dict[str, str],
    files: dict[str, bytes],
    stdin: bytes | None,
    limits: Limits,
    on_record: Callable[[bytes], bool] | None,
    extra_binds: Sequence[str],
    code: bytes | None = None,
    preload: Sequence[str] = (),
) -> RunResult:
    """One run of :func:`run` or :func:`run_python`, in the isolation this machine offers."""
    iso = isolation()
    spec = _Spec(
        argv=argv,
        env=env,
        files=files,
        stdin=stdin,
        limits=limits,
        mode=iso.mode,
        mount_proc=iso.proc,
        binds=tuple(_bind_plan(extra_binds)),
        mountpoint=_mountpoint(),
        code=code,
    )
    return _run_spec(spec, iso.cgroup, on_record, preload)


@functools.lru_cache(maxsize=8)
def _compiled(source: bytes, path: str) -> bytes:
    """The marshalled code object of a script (compiled once per caller process)."""
    return marshal.dumps(compile(source, path, "exec", dont_inherit=True))


def run_python(
    source: bytes,
    args: Sequence[str] = (),
    *,
    name: str = "main.py",
    files: Mapping[str, bytes] | None = None,
    stdin: bytes | None = None,
    limits: Limits = Limits(),
    env: Mapping[str, str] | None = None,
    on_record: Callable[[bytes], bool] | None = None,
    extra_binds: Sequence[str] = (),
    preload: Sequence[str] = (),
) -> RunResult:
    """Run the Python script ``source`` in a fresh sandbox, as ``run([sys.executable, "-s",
    "-B", JOB_DIR/name, *args])`` would, but warm: PID 1 does not exec a new interpreter.

    The sandbox, its limits and its reports are those of :func:`run`; the script is placed in
    ``JOB_DIR`` beside ``files`` (for tracebacks) and runs compiled once per caller process.
    ``preload`` names standard-library modules the launcher imports once, so the script's
    imports of them cost nothing. Differences from a fresh interpreter a script could see:
    ``sys.flags.safe_path``, modules already in ``sys.modules`` and the hash seed,
    which is always 0 (an ``env`` asking for another one is refused).
    """
    environment = dict(_default_env() if env is None else env)
    if environment.get("PYTHONHASHSEED", _LAUNCHER_HASH_SEED) != _LAUNCHER_HASH_SEED:
        raise ValueError(
            f"warm runs use hash seed {_LAUNCHER_HASH_SEED}, not PYTHONHASHSEED={environment['PYTHONHASHSEED']}"
        )
    script = f"{JOB_DIR}/{name}"
    job_files = dict(files or {})
    if name in job_files:
        raise ValueError(f"a job file is named like the script ({name!r})")
    job_files[name] = source
    code = _compiled(source, script)
    return _start((script, *args), environment, job_files, stdin, limits, on_record, extra_binds, code, preload)


def _run_spec(
    spec: _Spec, cgroup_kind: str | None, on_record: Callable[[bytes], bool] | None, preload: Sequence[str] = ()
) -> RunResult:
    """Have the launcher fork a keeper, then pump its pipes until every writer is gone, enforcing the limits."""
    limits = spec.limits
    try:
        cgroup = _Cgroup.create(cgroup_kind, limits) if cgroup_kind else None
    except OSError as exc:
        raise SandboxError(f"cannot create the run's cgroup: {exc}") from exc
    wire = {
        "argv": list(spec.argv),
        "env": spec.env,
        "files": spec.files,
        "stdin": spec.stdin,
        "limits": asdict(spec.limits),
        "mode": spec.mode,
        "mount_proc": spec.mount_proc,
        "binds": list(spec.binds),
        "mountpoint": spec.mountpoint,
        "code": spec.code,
        "cgroup": cgroup.dirs if cgroup is not None else None,
    }
    pipes = {name: os.pipe2(os.O_CLOEXEC) for name in ("out", "err_out", "rec", "status", "err")}
    with contextlib.suppress(OSError):  # a 1 MiB record pipe (the unprivileged maximum): fewer steps
        fcntl.fcntl(pipes["rec"][1], fcntl.F_SETPIPE_SZ, 1 << 20)
    child_ends = {name: w for name, (_r, w) in pipes.items()}
    started = time.monotonic()
    spec_fd = os.memfd_create("rlvr-sandbox-spec")
    try:
        data = memoryview(marshal.dumps(wire))
        while data:
            data = data[os.write(spec_fd, data) :]
        keeper, pidfd = _start_keeper([spec_fd, *(child_ends[name] for name in _LAUNCHER_FDS[1:])], preload)
    except BaseException:
        for r, w in pipes.values():
            os.close(r)
            os.close(w)
        if cgroup is not None:
            cgroup.remove()
        raise
    finally:
        os.close(spec_fd)
    for w in child_ends.values():
        os.close(w)
    readers = {r: name for name, (r, _w) in pipes.items()}
    captured = {
        "out": _Capture(limits.output_bytes),
        "err_out": _Capture(limits.output_bytes),
        "status": _Capture(1 << 16),
        "err": _Capture(1 << 16),
    }
    record_buffer = bytearray()
    records: list[bytes] = []
    record_total = 0
    reason: str | None = None
    stop_sent_at: float | None = None
    killed = False
    selector = selectors.DefaultSelector()
    for fd in readers:
        selector.register(fd, selectors.EVENT_READ)
    try:
        while readers:
            now = time.monotonic()
            if reason is None and now - started > limits.wall_s:
                reason = "timeout"
            if reason is not None and stop_sent_at is None:
                stop_sent_at = now
                _signal(pidfd, signal.SIGTERM)
            if stop_sent_at is not None and not killed and now - stop_sent_at > 5.0:
                _signal(pidfd, signal.SIGKILL)  # last resort: PID 1 has a death signal
                killed = True
            if now - started > limits.wall_s + 30.0:
                break  # cannot happen while the kernel kills namespaces; never hang regardless
            wait = 0.25 if reason is not None else limits.wall_s - (now - started) + 0.01
            for key, _ in selector.select(timeout=max(wait, 0.0)):
                chunk = os.read(key.fd, 1 << 20)
                name = readers[key.fd]
                if not chunk:
                    selector.unregister(key.fd)
                    os.close(key.fd)
                    del readers[key.fd]
                elif name != "rec":
                    captured[name].add(chunk)
                    if captured["out"].overflow or captured["err_out"].overflow:
                        reason = reason or "output_limit"
                else:
                    record_total += len(chunk)
                    if record_total > limits.record_bytes:
                        reason = reason or "record_limit"
                    if reason is not None:
                        continue
                    record_buffer += chunk
                    for frame in read_frames(record_buffer):
                        if on_record is None:
                            records.append(frame)
                        elif not on_record(frame):
                            reason = "stopped"
                            break
    finally:
        for fd in readers:
            selector.unregister(fd)
            os.close(fd)
        selector.close()
        if not _exited(pidfd, timeout=5.0):
            _signal(pidfd, signal.SIGKILL)
            _exited(pidfd, timeout=None)
        os.close(pidfd)
        if cgroup is not None:
            cgroup.remove()
    status, error = captured["status"].data, captured["err"].data
    if error or not status:
        raise SandboxError(error.decode(errors="replace").strip() or "sandbox keeper ended without a report")
    report = json.loads(status)
    code = os.waitstatus_to_exitcode(report["status"])
    return RunResult(
        reason=reason or "exited",
        exit_code=code if code >= 0 else None,
        signal=-code if code < 0 else None,
        stdout=bytes(captured["out"].data),
        stderr=bytes(captured["err_out"].data),
        records=records,
        host_uid=UID_BASE + keeper if spec.mode == "root" else os.geteuid(),
        wall_s=time.monotonic() - started,
        cpu_s=float(report["cpu_s"]),
        max_rss_kib=int(report["max_rss_kib"]),
    )


def _signal(pidfd: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        signal.pidfd_send_signal(pidfd, sig)


def _exited(pidfd: int, timeout: float | None) -> bool:
    """Wait until the keeper has exited (``timeout=None``: indefinitely); True once it has."""
    ready, _, _ = select.select([pidfd], [], [], timeout)
    return bool(ready)


# --------------------------------------------------------------------------------------
# probing


_ISOLATION: Isolation | None = None
_PROBE_PROGRAM = "import os; assert os.getuid() != 0; print(os.getpid())"


def isolation() -> Isolation:
    """Probe (once per process) how this machine can isolate programs.

    Tries root mode when running as root, then user-namespace mode; each candidate must
    actually run a probe program as PID 1 under a non-root uid. Raises
    :class:`SandboxUnavailable` with the reasons when nothing works.
    """
    global _ISOLATION
    if _ISOLATION is not None:
        return _ISOLATION
    if sys.platform != "linux":
        raise SandboxUnavailable(f"the sandbox needs Linux namespaces; this is {sys.platform}")
    failures = []
    modes = ["root", "userns"] if os.geteuid() == 0 else ["userns"]
    for mode in modes:
        cgroup = _Cgroup.kind() if mode == "root" else None
        for mount_proc in (True, False):
            spec = _Spec(
                argv=(sys.executable, "-S", "-c", _PROBE_PROGRAM),
                env=_default_env(),
                files={},
                stdin=None,
                limits=Limits(wall_s=30.0),
                mode=mode,
                mount_proc=mount_proc,
                binds=tuple(_bind_plan(())),
                mountpoint=_mountpoint(),
            )
            try:
                result = _run_spec(spec, cgroup, None)
            except SandboxError as exc:
                failures.append(f"{mode} (proc={mount_proc}): {str(exc).strip().splitlines()[-1]}")
                continue
            if result.exit_code == 0 and (result.stdout.strip() == b"1" or not mount_proc):
                _ISOLATION = Isolation(mode=mode, cgroup=cgroup, proc=mount_proc)
                return _ISOLATION
            failures.append(
                f"{mode} (proc={mount_proc}): probe exited {result.exit_code} "
                f"{result.stderr.decode(errors='replace')[-300:]}"
            )
    raise SandboxUnavailable(
        "cannot isolate untrusted programs on this machine (need root with CAP_SYS_ADMIN, or "
        "unprivileged user namespaces): " + "; ".join(failures)
    )


if __name__ == "__main__" and sys.argv[1:2] == ["--launcher"]:
    _launcher_main(int(sys.argv[2]))
