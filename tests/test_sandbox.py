"""The sandbox against hostile programs, run for real (no mocks).

Every test runs an actual program through ``rlvr_boundary.sandbox.run`` (or its warm twin
``run_python``, which the code verifier uses: most hostile programs run that way) and then checks the
host: the run ended within its limits, no process of the sandbox survives, no cgroup is
left behind, and nothing outside the sandbox changed. Hostile programs only ever aim at
temporary directories of this test session and at 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from conftest import process_uids
from rlvr_boundary import sandbox

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox needs Linux namespaces")


_USED_UIDS: set[int] = set()


def srun(argv: list[str], **kwargs: object) -> sandbox.RunResult:
    """``sandbox.run`` that remembers the host uid of the run, for the leftover check."""
    result = sandbox.run(argv, **kwargs)
    _USED_UIDS.add(result.host_uid)
    return result


def run_py(code: str, **limits: object) -> sandbox.RunResult:
    """Run a Python script warm (``sandbox.run_python``), remembering its host uid."""
    result = sandbox.run_python(textwrap.dedent(code).encode(), limits=sandbox.Limits(**limits))
    _USED_UIDS.add(result.host_uid)
    return result


def run_py_exec(code: str, **limits: object) -> sandbox.RunResult:
    """Run a Python script through a freshly exec'd interpreter (``sandbox.run``)."""
    return srun([sys.executable, "-s", "-B", "-c", textwrap.dedent(code)], limits=sandbox.Limits(**limits))


def _processes_of(uids: set[int]) -> list[int]:
    """Host processes whose real, effective or saved uid is one of ``uids``."""
    return [pid for pid, ids in process_uids() if set(ids) & uids]


def _leftover_cgroups() -> list[str]:
    found = []
    for root in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        if os.path.isdir(root):
            found += [name for name in os.listdir(root) if name.startswith(f"rlvr-sandbox-{os.getpid()}-")]
    return found


@pytest.fixture(autouse=True)
def host_unchanged():
    """After every test: no process of its runs alive, no cgroup left, the mount point empty.

    Root mode gives every run a host uid of its own; other jobs may run sandboxes at the
    same time, so only this test's uids are checked.
    """
    sandbox.isolation()
    _USED_UIDS.clear()
    yield
    uids = {u for u in _USED_UIDS if u >= sandbox.UID_BASE}
    deadline = time.monotonic() + 3.0
    while _processes_of(uids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_of(uids) == [], "a sandboxed process outlived its run"
    assert _leftover_cgroups() == []
    assert os.listdir(sandbox._mountpoint()) == []


def test_isolation_mode_is_strong_here():
    iso = sandbox.isolation()
    assert iso.mode in ("root", "userns")
    if os.geteuid() == 0:
        assert iso.mode == "root"


@pytest.mark.parametrize("start", [run_py, run_py_exec], ids=["warm", "exec"])
def test_program_view_of_the_world(start):
    result = start(
        """
        import json, os
        info = {"pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
                "cwd": os.getcwd(), "root": sorted(os.listdir("/")), "procs": sorted(p for p in os.listdir("/proc") if p.isdigit()),
                "stdin": os.read(0, 10).decode(), "mounts": open("/proc/self/mountinfo").read()}
        print(json.dumps(info))
        """
    )
    assert result.reason == "exited" and result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["pid"] == 1
    assert info["uid"] != 0 and info["gid"] != 0 and info["groups"] == []
    assert info["cwd"] == sandbox.WORK_DIR
    assert info["procs"] == ["1"]  # only itself: host processes are invisible
    assert info["stdin"] == ""  # stdin is /dev/null
    assert set(info["root"]) <= {
        "usr",
        "etc",
        "bin",
        "sbin",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "dev",
        "proc",
        "tmp",
        "sbx",
        *[p.strip("/").split("/")[0] for p in sandbox._python_roots()],
    }
    for line in info["mounts"].splitlines():
        mount_point, options = line.split()[4], line.split()[5].split(",")
        if mount_point in ("/usr", "/etc", "/"):
            assert "ro" in options and "nosuid" in options, line
        if mount_point == sandbox.WORK_DIR:
            assert "rw" in options, line


def test_warm_start_looks_like_a_fresh_interpreter():
    script = """
    import json, os, signal, sys
    import numpy  # site-packages are on the path, as for python -s
    print(json.dumps({"argv": sys.argv, "path0": sys.path[0], "env": dict(os.environ), "hash": hash("abc"),
                      "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
                      "sigpipe": signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN,
                      "sigint": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
                      "main": __name__, "file": __file__}))
    sys.exit(3)
    """
    warm = sandbox.run_python(textwrap.dedent(script).encode(), ["--flag"], name="probe.py")
    assert (warm.reason, warm.exit_code) == ("exited", 3), warm.stderr
    info = json.loads(warm.stdout)
    assert info["argv"] == [f"{sandbox.JOB_DIR}/probe.py", "--flag"] and info["path0"] == sandbox.JOB_DIR
    assert info["env"] == sandbox._default_env()
    assert info["main"] == "__main__" and info["file"] == f"{sandbox.JOB_DIR}/probe.py"
    assert info["sigpipe"] and info["sigint"]
    assert set(info["fds"]) <= {0, 1, 2, 3, 4}  # the listing's own fd aside: no launcher or keeper fd leaks in
    cold = srun([sys.executable, "-s", "-B", "-c", "print(hash('abc'))"])
    assert int(cold.stdout) == info["hash"]  # the same hash seed (0) as the default environment gives
    crash = sandbox.run_python(b"def f():\n    1 / 0\nf()\n")
    assert crash.exit_code == 1 and b"ZeroDivisionError" in crash.stderr
    assert b"sandbox.py" not in crash.stderr  # the traceback shows the script's frames, as python prints them
    with pytest.raises(ValueError, match="hash seed"):
        sandbox.run_python(b"pass", env={**sandbox._default_env(), "PYTHONHASHSEED": "1"})


def test_warm_program_cannot_pose_as_a_sandbox_failure():
    """The setup-error channel is closed before the script runs: nothing it writes can turn
    its own failure into a ``SandboxError``."""
    result = run_py(
        """
        import os
        for fd in range(4, 256):
            try:
                os.write(fd, b"Traceback: fake sandbox failure")
            except OSError:
                pass
        os._exit(1)
        """
    )
    assert result.exit_code == 1


def test_stdin_bytes_and_record_channel():
    result = srun(
        [
            sys.executable,
            "-s",
            "-B",
            "-c",
            "import sys, struct, os\ndata = sys.stdin.read().encode()\nos.write(3, struct.pack('>I', len(data)) + data)",
        ],
        stdin=b"hello sandbox",
    )
    assert result.records == [b"hello sandbox"]


def test_infinite_loop_times_out():
    start = time.monotonic()
    result = run_py("while True:\n    pass\n", wall_s=1.5)
    assert result.reason == "timeout"
    assert time.monotonic() - start < 8


def test_busy_loop_ignoring_sigterm_and_sigint_is_killed():
    start = time.monotonic()
    result = run_py(
        """
        import signal
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        while True:
            pass
        """,
        wall_s=1.5,
    )
    assert result.reason == "timeout"
    assert time.monotonic() - start < 8


def test_fork_bomb_is_contained():
    start = time.monotonic()
    result = run_py(
        """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """,
        wall_s=3.0,
        nproc=32,
    )
    assert result.reason == "timeout"
    assert time.monotonic() - start < 12


def test_memory_bomb_hits_the_address_space_limit():
    result = run_py(
        """
        chunks = []
        while True:
            chunks.append(b"x" * (64 << 20))
        """,
        memory_bytes=512 << 20,
    )
    assert result.reason == "exited" and result.exit_code == 1
    assert b"MemoryError" in result.stderr


_SIX_FORKED_HOGS = """
import os, time
children = []
for _ in range(6):
    pid = os.fork()
    if pid == 0:
        data = b"x" * (150 << 20)  # each child stays well under its own RLIMIT_AS
        time.sleep(2)
        os._exit(0)
    children.append(pid)
killed = sum(os.waitpid(pid, 0)[1] == 9 for pid in children)
print(killed)
"""


def test_memory_spread_over_processes_hits_the_cgroup_cap():
    if sandbox.isolation().cgroup is None:
        pytest.skip("no writable cgroup hierarchy: only the per-process cap applies here")
    result = run_py(_SIX_FORKED_HOGS, memory_bytes=400 << 20, wall_s=20.0)
    # 6 x 150 MiB does not fit in the run's 400 MiB cgroup: the kernel OOM-kills some of them.
    assert result.reason == "exited", result
    assert int(result.stdout) >= 3


def test_cgroup_oom_spares_the_keeper_of_a_large_caller():
    """A caller holding 1 GiB (pytest after loading vLLM) forks a keeper with that RSS; the
    OOM killer must still pick the program's processes, or the run loses its report."""
    if sandbox.isolation().cgroup is None:
        pytest.skip("no writable cgroup hierarchy: only the per-process cap applies here")
    caller = textwrap.dedent(
        f"""
        import json, sys
        from rlvr_boundary import sandbox
        ballast = bytearray(1 << 30)
        for i in range(0, len(ballast), 4096):
            ballast[i] = 1
        limits = sandbox.Limits(memory_bytes=400 << 20, wall_s=20.0)
        result = sandbox.run([sys.executable, "-s", "-B", "-c", {_SIX_FORKED_HOGS!r}], limits=limits)
        print(json.dumps([result.reason, result.stdout.decode()]))
        """
    )
    done = subprocess.run([sys.executable, "-c", caller], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    reason, stdout = json.loads(done.stdout.splitlines()[-1])
    assert reason == "exited"
    assert int(stdout) >= 3


def test_deep_recursion_crashes_only_itself():
    # Recursion in C (repr of a deeply nested list) with the recursion limit lifted overflows
    # the C stack: the interpreter dies with SIGSEGV, inside the sandbox only.
    result = run_py(
        """
        import sys
        sys.setrecursionlimit(10 ** 8)
        nested = []
        for _ in range(10 ** 6):
            nested = [nested]
        print(len(repr(nested)))
        """,
        wall_s=20.0,
    )
    assert result.reason == "exited"
    assert result.signal == 11


def test_files_outside_the_work_dir_are_untouchable(tmp_path: Path):
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    readonly = tmp_path / "ro"
    readonly.mkdir()
    (readonly / "keep.txt").write_text("keep")
    token = f"rlvr-hostile-{os.getpid()}-{time.monotonic_ns()}"
    program = f"""
        import json, os, shutil
        report = {{}}
        def attempt(name, action):
            try:
                action()
                report[name] = "done"
            except OSError as exc:
                report[name] = exc.strerror
        report["victim visible"] = os.path.exists({str(victim)!r})
        attempt("write victim", lambda: open({str(victim)!r}, "w").write("pwned"))
        attempt("delete victim", lambda: os.remove({str(victim)!r}))
        attempt("write in ro bind", lambda: open({str(readonly / "new.txt")!r}, "w").write("x"))
        attempt("delete in ro bind", lambda: os.remove({str(readonly / "keep.txt")!r}))
        attempt("rmtree ro bind", lambda: shutil.rmtree({str(readonly)!r}))
        attempt("write root", lambda: open("/{token}", "w").write("x"))
        attempt("write work", lambda: open("inside.txt", "w").write("x"))
        attempt("chmod ro bind", lambda: os.chmod({str(readonly)!r}, 0o777))
        print(json.dumps(report))
        """
    result = srun([sys.executable, "-s", "-B", "-c", textwrap.dedent(program)], extra_binds=[str(readonly)])
    report = json.loads(result.stdout)
    assert report["victim visible"] is False  # host files are not even visible
    assert report["write victim"] in ("No such file or directory", "Read-only file system")
    assert report["delete victim"] in ("No such file or directory", "Read-only file system")
    assert report["write in ro bind"] == "Read-only file system"
    assert report["delete in ro bind"] == "Read-only file system"
    assert report["rmtree ro bind"] == "Read-only file system"
    assert report["write root"] == "Read-only file system"
    assert report["chmod ro bind"] in ("Read-only file system", "Operation not permitted")
    assert report["write work"] == "done"
    assert victim.read_text() == "original"
    assert sorted(p.name for p in readonly.iterdir()) == ["keep.txt"]
    assert not Path("/", token).exists()


def test_work_dir_is_fresh_private_and_size_capped():
    token = f"rlvr-hostile-{os.getpid()}-{time.monotonic_ns()}"
    first = run_py(f"""
        import os
        open('marker', 'w').write('x')
        try:
            open('/tmp/{token}', 'w').write('x')
        except OSError as exc:
            print(exc.strerror)
        print(len(os.listdir('.')))
        """)
    second = run_py("import os\nprint(os.listdir('.'))")
    assert not Path("/tmp", token).exists()
    if any(path == "/tmp" or path.startswith("/tmp/") for path in sandbox._bind_plan(())):
        # Python itself lives under /tmp, so /tmp is a read-only directory holding its bind.
        assert first.stdout.split() == [b"Read-only", b"file", b"system", b"1"], first
    else:  # /tmp inside the sandbox is its private work dir
        assert first.stdout.strip() == b"2", first
    assert second.stdout.strip() == b"[]"
    full = run_py(
        """
        import errno
        try:
            with open("big", "wb") as f:
                for _ in range(64):
                    f.write(b"x" * (1 << 20))
        except OSError as exc:
            print(errno.errorcode[exc.errno])
        """,
        workdir_bytes=8 << 20,
    )
    assert full.stdout.strip() == b"ENOSPC"


def test_file_size_limit():
    # CPython ignores SIGXFSZ, so the oversized write fails with EFBIG instead of killing.
    result = run_py("open('f', 'wb').write(b'x' * (4 << 20))", file_size_bytes=1 << 20)
    assert result.exit_code == 1 and b"File too large" in result.stderr


def test_no_network_even_to_localhost():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.1)
    port = server.getsockname()[1]
    accepted: list[object] = []
    finished = threading.Event()

    def accept() -> None:
        while not finished.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        result = run_py(
            f"""
            import socket
            s = socket.socket()
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", {port}))
                print("connected")
            except OSError as exc:
                print("blocked", exc.errno)
            """
        )
        time.sleep(0.3)
    finally:
        finished.set()
        thread.join()
        server.close()
    assert result.stdout.strip() == b"blocked 101"  # ENETUNREACH: not even loopback is up
    assert accepted == []


def test_cannot_kill_the_harness():
    me = os.getpid()
    result = run_py(
        f"""
        import os, signal
        for target in ({me}, os.getppid(), -1):
            try:
                os.kill(target, signal.SIGKILL)
            except OSError as exc:
                print(target, exc.strerror)
        print("still here")
        """
    )
    # pid numbers of the host mean nothing in the sandbox's PID namespace; getppid() is 0
    # (the parent is outside), and kill(0) / kill(-1) can only reach the sandbox itself.
    assert result.reason == "exited"
    assert os.getpid() == me


def test_printing_gigabytes_is_cut_off():
    start = time.monotonic()
    result = run_py(
        """
        import os
        block = b"x" * (1 << 20)
        for _ in range(4096):
            os.write(1, block)
        """,
        wall_s=30.0,
    )
    assert result.reason == "output_limit"
    assert len(result.stdout) == sandbox.Limits().output_bytes
    assert time.monotonic() - start < 10


def test_daemon_does_not_outlive_the_run():
    start = time.monotonic()
    result = run_py(
        """
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                for fd in range(0, 4):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                time.sleep(60)
            os._exit(0)
        print("parent done")
        """,
        wall_s=20.0,
    )
    # The daemon detached from the session and closed every pipe, but it shares the PID
    # namespace: when PID 1 exits the kernel kills it, so the run ends at once.
    assert result.reason == "exited" and result.stdout.strip() == b"parent done"
    assert time.monotonic() - start < 5


def test_os_exit_and_setsid_escape_attempts():
    result = run_py("import os\nos.setsid()\nos._exit(7)")
    assert result.exit_code == 7


def test_cannot_regain_privileges():
    result = run_py(
        """
        import os, ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        out = []
        for name, call in (("setuid0", lambda: os.setuid(0)), ("unshare_net", lambda: libc.unshare(0x40000000) or None),
                           ("mount", lambda: libc.mount(b"none", b"/sbx/work", b"tmpfs", 0, None) or None)):
            try:
                rc = call()
                out.append(f"{name}:{'ok' if rc in (None, 0) else ctypes.get_errno()}")
            except OSError as exc:
                out.append(f"{name}:{exc.errno}")
        print(" ".join(out))
        """
    )
    assert b"setuid0:1" in result.stdout  # EPERM
    assert b"mount:ok" not in result.stdout and b"unshare_net:ok" not in result.stdout


def test_harness_survives_many_short_runs():
    """Namespaces and cgroups are created and torn down per run without leaking."""
    for _ in range(25):
        assert run_py("pass").exit_code == 0


_USERNS_SCRIPT = r'''
import json
import sys
import time

from rlvr_boundary import sandbox

PROBE = """
import json, os, socket
out = {"pid": os.getpid(), "uid": os.getuid(), "procs": [p for p in os.listdir("/proc") if p.isdigit()]}
try:
    open("/usr/x", "w")
except OSError as exc:
    out["usr"] = exc.strerror
try:
    socket.create_connection(("127.0.0.1", 9), timeout=1)
except OSError as exc:
    out["net"] = exc.errno
print(json.dumps(out))
"""
BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"

try:
    iso = sandbox.isolation()
except sandbox.SandboxUnavailable as exc:
    print(json.dumps({"unavailable": str(exc)}))
    sys.exit(0)
probe = sandbox.run([sys.executable, "-s", "-c", PROBE])
start = time.monotonic()
bomb = sandbox.run([sys.executable, "-s", "-c", BOMB], limits=sandbox.Limits(wall_s=2.0, nproc=16))
print(json.dumps({"mode": iso.mode, "probe": json.loads(probe.stdout), "bomb": bomb.reason,
                  "bomb_s": time.monotonic() - start}))
'''
"""Run as an unprivileged user by the test below: exercises the user-namespace mode."""


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"),
    reason="needs root to switch to an unprivileged user and a system python it can run",
)
def test_user_namespace_mode_for_unprivileged_callers(tmp_path: Path):
    """Without root the sandbox uses a user namespace; same guarantees except the cgroup."""
    workflow = Path(sandbox.__file__).resolve().parents[1]
    work = tmp_path / "nobody"
    work.mkdir()
    shutil.chown(work, "nobody")
    done = subprocess.run(
        ["/usr/bin/python3", "-c", _USERNS_SCRIPT],
        user="nobody",
        group="nogroup",
        cwd=work,
        capture_output=True,
        env={"PYTHONPATH": str(workflow), "PATH": "/usr/bin:/bin", "TMPDIR": str(work)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    if "unavailable" in report:
        pytest.skip(f"unprivileged user namespaces are not available here: {report['unavailable']}")
    assert report["mode"] == "userns"
    assert report["probe"]["pid"] == 1 and report["probe"]["uid"] == sandbox.INNER_ID
    assert report["probe"]["procs"] == ["1"]
    assert report["probe"]["usr"] == "Read-only file system"
    assert report["probe"]["net"] == 101  # ENETUNREACH
    assert report["bomb"] == "timeout" and report["bomb_s"] < 15
