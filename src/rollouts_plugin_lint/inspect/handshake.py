"""The opt-in handshake probe: run one plugin binary the way go-plugin's host starts it,
contained and time-bound, and say what happened in fixed facts.

This executes untrusted code, so the caller runs it only under `--handshake` and only for
a static ELF built for this machine. Containment, in layers:

* files: the binary may write only its private work directory and read only its own
  private copy and four devices. Two layers, each enough alone, both where available:
  Landlock (every right of the kernel's ABI handled, TCP and signal scoping where the ABI
  has them), and user, mount, PID, network and IPC namespaces with a read-only tmpfs root
  holding only those paths and a /proc of the PID namespace. With neither, the binary is
  not run ("uncontained"): nothing else keeps it from the workspace's .git/config or the
  runner's GITHUB_ENV file;
* sockets and signals, which Landlock does not cover: a seccomp filter with either layer
  (Landlock alone counts only with it) allows unix sockets only, no connect or send to an
  address (a runner's /var/run/docker.sock is root), signals to the binary itself only,
  no truncate by path, io_uring, keyrings, new namespaces, bpf, perf events or
  userfaultfd, and no new process (threads only: one
  address-space limit bounds its memory, and nothing it starts outlives the probe);
* secrets: an environment of the go-plugin variables only, a launcher started with an
  empty one, and no way to read the linter's /proc/<pid>/environ (a PID namespace's own
  /proc, or Landlock, which denies /proc and ptrace access outside its domain). Nothing the
  binary prints is quoted back: it could encode what it found past the runner's masking;
* stdin from /dev/null, a session and process group of its own, `umask 077`, rlimits (no
  core dumps, bounded file size, address space, CPU time and processes), `no_new_privs`,
  no capabilities, a parent-death signal;
* one deadline for the whole probe, after which the process group (and the PID namespace)
  is killed with SIGKILL and reaped, whatever the binary does with SIGTERM or its pipes.

The child is started through a small launcher run by this Python interpreter (`-I -S`): it
applies the limits after the fork and then `execve`s the plugin. `subprocess`'s
`preexec_fn` could do the same in-process, but it is unsafe when the linter has threads
(`--jobs`), and only a separate process can stay behind as the PID namespace's parent.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from rollouts_plugin_lint.model import PluginKind
from rollouts_plugin_lint.printable import printable

Outcome = Literal[
    "handshake", "wrong-cookie", "exited", "timeout", "garbage", "not-runnable", "uncontained"
]

COOKIE_KEY = "ARGO_ROLLOUTS_RPC_PLUGIN"
# The controller's HandshakeConfig per plugin list (FACTS.md §4).
COOKIES: dict[PluginKind, str] = {
    PluginKind.TRAFFIC_ROUTER: "trafficrouter",
    PluginKind.METRIC_PROVIDER: "metricprovider",
    PluginKind.STEP: "step",
}
PROTOCOL_VERSION = "1"
# What go-plugin's Serve() prints on stderr, before exiting 1, when the cookie is wrong.
COOKIE_REFUSED = b"This binary is a plugin. These are not meant to be executed directly."

DETAIL_LIMIT = 200
# go-plugin's handshake line is under 200 bytes without AutoMTLS (which we never ask for):
# a longer first line is garbage, and reading stops there, whatever the binary prints.
STDOUT_LINE_LIMIT = 4096
# Enough for go-plugin's message or a Go panic's first lines; the rest is read and dropped
# so a chatty child never blocks on a full pipe.
STDERR_KEEP = 8192
READ_CHUNK = 65536
# How often to look whether the child exited while its pipes stay open (a grandchild may
# hold them).
POLL_INTERVAL = 0.01
# Reads (of READ_CHUNK per pipe) taken after the child exited, for output still in flight.
DRAIN_ROUNDS = 16
# After SIGKILL, how long to wait for the kernel to finish the kill before giving up on
# reaping (a process in uninterruptible sleep cannot be reaped sooner).
REAP_GRACE = 1.0

# Limits for the child (bytes unless said otherwise). A Go plugin reserves about 0.7 GiB
# of address space at start (and dies under 512 MiB): 4 GiB leaves room and still
# stops a memory bomb.
ADDRESS_SPACE_LIMIT = 4 << 30
FILE_SIZE_LIMIT = 16 << 20
# All the binary may write in its work directory where a private view is built (a tmpfs):
# go-plugin puts one socket there.
WORK_SPACE_LIMIT = 16 << 20
PROCESS_LIMIT = 256  # processes and threads in the sandbox: Go needs a dozen or two
# The two containment layers, each used where the kernel allows it; tests turn one off to
# prove the other holds alone, and both off to see the probe refuse to run anything.
USE_NAMESPACES = True
USE_LANDLOCK = True
# Tests only: one more directory the child may write (inside both layers), for programs
# that report what they saw. The linter itself never sets it.
SHARED_DIRECTORY: Path | None = None
# Tests only: use at most this Landlock ABI, to prove every older kernel's rule set holds.
LANDLOCK_ABI_LIMIT: int | None = None


@dataclass(frozen=True)
class HandshakeResult:
    ok: bool
    outcome: Outcome
    # One printable line of at most DETAIL_LIMIT characters, made of fixed facts only: the
    # binary's own bytes are never quoted, since it can read nothing secret but could still
    # encode whatever it finds past the runner's masking.
    detail: str
    kind_found: PluginKind | None = None  # on wrong-cookie: the kind whose cookie worked
    containment: str = ""  # the layers in force while it ran; "" when it never ran


def probe(path: Path, kind: PluginKind, timeout: float) -> HandshakeResult:
    """Run `path` as go-plugin's host would for a plugin listed under `kind`.

    The binary gets `timeout` seconds in all, retries with the other cookies included; the
    probe returns a few milliseconds later (kill and reap), plus the time to copy the file.
    Never raises for anything the binary does.
    """
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if not sys.platform.startswith("linux"):
        return _not_runnable("the handshake probe runs only on Linux")
    # TemporaryDirectory restores permissions a child may have removed before deleting.
    with tempfile.TemporaryDirectory(
        prefix="rpl-handshake-", ignore_cleanup_errors=True
    ) as scratch:
        sandbox = Path(scratch)
        try:
            binary = _private_copy(path, sandbox)
        except OSError as error:
            return _not_runnable(f"cannot read the binary: {error}")
        if binary is None:
            return _not_runnable("not an ELF executable; the probe runs nothing else")
        # The clock starts after our copy: the binary's own time is what is bounded.
        deadline = time.monotonic() + timeout
        return _probe(binary, kind, timeout, deadline, sandbox)


def _probe(
    binary: Path, kind: PluginKind, timeout: float, deadline: float, sandbox: Path
) -> HandshakeResult:
    first = _run(binary, COOKIES[kind], deadline, sandbox / "run-0")
    if not first.refused_cookie:
        return _classify(first, timeout)
    containment = first.containment
    # go-plugin's own refusal: the binary is a plugin, maybe of another kind.
    tried = [f"{COOKIES[kind]}: refused"]
    for index, other in enumerate((k for k in PluginKind if k is not kind), start=1):
        if time.monotonic() >= deadline:
            tried.append(f"{COOKIES[other]}: no time left")
            continue
        run = _run(binary, COOKIES[other], deadline, sandbox / f"run-{index}")
        if run.launch_error is None and run.handshake_error is None:
            return HandshakeResult(
                ok=False,
                outcome="wrong-cookie",
                detail=_clip(
                    f"refuses {COOKIE_KEY}={COOKIES[kind]} ({kind.value}) but hand-shakes "
                    f"with {COOKIES[other]}: it is a {other.label} plugin, for {other.value}"
                ),
                kind_found=other,
                containment=containment,
            )
        tried.append(f"{COOKIES[other]}: {'refused' if run.refused_cookie else _brief(run)}")
    return HandshakeResult(
        ok=False,
        outcome="wrong-cookie",
        detail=_clip(
            f"go-plugin binary that refuses the {COOKIE_KEY} cookie of every plugin list "
            f"({'; '.join(tried)}): it is a plugin for another program"
        ),
        containment=containment,
    )


# --- one run -----------------------------------------------------------------------------


@dataclass
class _Run:
    """What one run of the binary showed, before it is judged."""

    launch_error: str | None = None  # the binary could not be started at all
    line: bytes | None = None  # the first stdout line, without its line break
    overlong: bytes | None = None  # the start of a first line longer than the limit
    partial: bytes = b""  # stdout text without a line break when time ran out
    stderr: bytes = b""
    exited: bool = False  # it ended by itself (not by our kill)
    returncode: int | None = None  # set when `exited`
    timed_out: bool = False
    stdout_closed: bool = False
    namespace_init: int | None = None  # outer pid of the PID namespace's init, if any
    containment: str = ""  # the launcher's account of the layers in force
    uncontained: str | None = None  # why the launcher refused to run the binary

    @property
    def refused_cookie(self) -> bool:
        """go-plugin's own refusal: exited, nothing on stdout, its message on stderr."""
        return (
            self.exited
            and self.launch_error is None
            and self.line is None
            and self.overlong is None
            and COOKIE_REFUSED in self.stderr
        )

    @property
    def handshake_error(self) -> str | None:
        """Why `line` is not a handshake Argo Rollouts accepts; None if it is one."""
        if self.line is None:
            return "no line"
        return _handshake_error(self.line)


def _run(binary: Path, cookie: str, deadline: float, workdir: Path) -> _Run:
    workdir.mkdir(mode=0o700)
    environment = {
        COOKIE_KEY: cookie,
        "PLUGIN_PROTOCOL_VERSIONS": PROTOCOL_VERSION,
        # The host's defaults; go-plugin uses them only for TCP, which Linux plugins skip.
        "PLUGIN_MIN_PORT": "10000",
        "PLUGIN_MAX_PORT": "25000",
        "PLUGIN_UNIX_SOCKET_DIR": str(workdir),
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
    }
    root = workdir.with_name(workdir.name + "-root")  # where the private view is built
    root.mkdir(mode=0o700)
    remaining = max(deadline - time.monotonic(), 0.0)
    status_read, status_write = os.pipe()
    config = {
        "status_fd": status_write,
        "binary": str(binary),
        "workdir": str(workdir),
        "root": str(root),
        "environment": environment,
        "cpu_seconds": math.ceil(remaining) + 1,
        "namespaces": USE_NAMESPACES,
        "landlock": USE_LANDLOCK,
        "shared": None if SHARED_DIRECTORY is None else str(SHARED_DIRECTORY),
        "landlock_abi_limit": LANDLOCK_ABI_LIMIT,
        "limits": {
            "file_size": FILE_SIZE_LIMIT,
            "work_space": WORK_SPACE_LIMIT,
            "address_space": ADDRESS_SPACE_LIMIT,
            "processes": PROCESS_LIMIT,
        },
    }
    command = [*_interpreter(), _LAUNCHER, json.dumps(config)]
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env={},  # the launcher itself needs nothing; the plugin's environment is above
            pass_fds=(status_write,),
            start_new_session=True,
            umask=0o077,
        )
    except OSError as error:
        os.close(status_read)
        os.close(status_write)
        return _Run(launch_error=f"cannot start the probe launcher: {error}")
    os.close(status_write)
    run = _Run()
    try:
        _watch(process, status_read, deadline, run)
    finally:
        _terminate(process, run.namespace_init)
        os.close(status_read)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()
    if run.exited:
        run.returncode = process.returncode
    return run


def _watch(process: subprocess.Popen[bytes], status_fd: int, deadline: float, run: _Run) -> None:
    """Read stdout, stderr and the launcher's status until the first stdout line, the
    child's exit, or the deadline, never holding more than the limits above."""
    assert process.stdout is not None and process.stderr is not None
    stdout_fd, stderr_fd = process.stdout.fileno(), process.stderr.fileno()
    stdout, stderr, status = bytearray(), bytearray(), bytearray()
    poller = select.poll()
    open_fds = {stdout_fd, stderr_fd, status_fd}
    for fd in open_fds:
        os.set_blocking(fd, False)
        poller.register(fd, select.POLLIN)
    drain_rounds = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            run.timed_out = not run.exited
            break
        # Once the child is gone, only take what is already in the pipes.
        wait = 0.0 if run.exited else min(remaining, POLL_INTERVAL)
        if open_fds:
            ready = [fd for fd, _ in poller.poll(wait * 1000)]
        else:
            time.sleep(wait)
            ready = []
        for fd in ready:
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                continue
            if not data:
                poller.unregister(fd)
                open_fds.discard(fd)
            elif fd == stdout_fd:
                stdout += data
            elif fd == stderr_fd:
                stderr += data[: max(STDERR_KEEP - len(stderr), 0)]
            else:
                status += data[: max(STDOUT_LINE_LIMIT - len(status), 0)]
        newline = stdout.find(b"\n")
        if 0 <= newline < STDOUT_LINE_LIMIT:
            run.line = bytes(stdout[:newline]).rstrip(b"\r")
            break
        if len(stdout) >= STDOUT_LINE_LIMIT:
            run.overlong = bytes(stdout[:STDOUT_LINE_LIMIT])
            break
        if run.exited:
            # A grandchild may still hold the pipes and write on: a bounded drain.
            drain_rounds += 1
            if not ready or drain_rounds >= DRAIN_ROUNDS:
                break
        else:
            run.exited = _has_exited(process.pid)
    with contextlib.suppress(BlockingIOError, OSError):
        # Records written before the exec are in the pipe before any line of the plugin.
        status += os.read(status_fd, STDOUT_LINE_LIMIT)
    _read_status(bytes(status[:STDOUT_LINE_LIMIT]), run)
    run.stderr = bytes(stderr)
    run.stdout_closed = stdout_fd not in open_fds
    if run.line is None and run.overlong is None and stdout:
        if run.exited and run.stdout_closed:
            # The last line of a finished stream needs no line break (as bufio.Scanner).
            run.line = bytes(stdout).rstrip(b"\r")
        else:
            run.partial = bytes(stdout)


def _read_status(status: bytes, run: _Run) -> None:
    """The launcher's records (the plugin cannot write them: the pipe closes at its exec)."""
    for record in status.decode("utf-8", "backslashreplace").splitlines():
        tag, _, value = record.partition(" ")
        if tag == "pid" and value.isdigit():
            run.namespace_init = int(value)
        elif tag == "contained":
            run.containment = value
        elif tag == "uncontained":
            run.uncontained = value
        elif tag == "error":
            run.launch_error = value


def _has_exited(pid: int) -> bool:
    """Whether `pid` has exited, without reaping it: an unreaped child keeps its process
    group id reserved, so the group kill below can never hit a stranger's group."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _wait_for_exit(pid: int, grace: float) -> None:
    give_up = time.monotonic() + grace
    while not _has_exited(pid) and time.monotonic() < give_up:
        time.sleep(0.002)


def _terminate(process: subprocess.Popen[bytes], namespace_init: int | None) -> None:
    """SIGKILL everything the run started, then reap the launcher."""
    if namespace_init is not None:
        # Killing a PID namespace's init kills every process in it, even those that left
        # our process group. The launcher reaps it, and the kernel lets that happen only
        # once the whole namespace is gone: waiting for the launcher waits for all.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(namespace_init, signal.SIGKILL)
        _wait_for_exit(process.pid, REAP_GRACE)
    # The launcher is not reaped yet, so its process group id cannot belong to anyone else.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    # SIGKILL cannot be ignored; only a process stuck in the kernel outlasts this wait.
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=REAP_GRACE)


# --- judging a run -----------------------------------------------------------------------


def _handshake_error(line: bytes) -> str | None:
    """What is wrong with `line`, in words of ours: only the field count and comparisons
    with the values go-plugin and Argo Rollouts use."""
    parts = line.strip().split(b"|")
    if len(parts) < 5:
        return f"has {len(parts)} '|'-separated fields, a handshake has at least 5"
    core, app, network, _address, protocol = parts[:5]
    if core != b"1":
        return "core protocol version is not go-plugin's '1'"
    if app != PROTOCOL_VERSION.encode():
        return f"plugin protocol version is not {PROTOCOL_VERSION!r}, the one Argo Rollouts speaks"
    if network not in (b"unix", b"tcp"):
        return "network is neither 'unix' nor 'tcp'"
    if protocol == b"grpc":
        return "protocol is 'grpc', Argo Rollouts speaks 'netrpc'"
    if protocol != b"netrpc":
        return "protocol is not 'netrpc', the one Argo Rollouts speaks"
    return None


def _handshake_facts(line: bytes) -> str:
    network = line.strip().split(b"|")[2].decode()  # checked: "unix" or "tcp"
    address = "a unix socket" if network == "unix" else "a tcp address"
    return (
        f"go-plugin handshake: core protocol 1, plugin protocol {PROTOCOL_VERSION}, "
        f"netrpc on {address}, cookie accepted"
    )


def _classify(run: _Run, timeout: float) -> HandshakeResult:
    result = _judge(run, timeout)
    return replace(result, containment=run.containment) if run.containment else result


def _judge(run: _Run, timeout: float) -> HandshakeResult:
    if run.uncontained is not None:
        return HandshakeResult(
            ok=False,
            outcome="uncontained",
            detail=_clip(
                "not run: the probe found no way to keep the binary from your files on "
                f"this machine ({printable(run.uncontained, DETAIL_LIMIT)})"
            ),
        )
    if run.launch_error is not None:
        return _not_runnable(run.launch_error)
    if run.line is not None:
        error = run.handshake_error
        if error is None:
            return HandshakeResult(ok=True, outcome="handshake", detail=_handshake_facts(run.line))
        return _garbage(f"first stdout line {error}")
    if run.overlong is not None:
        return _garbage(f"first stdout line is longer than {STDOUT_LINE_LIMIT} bytes")
    if run.timed_out:
        return HandshakeResult(ok=False, outcome="timeout", detail=_timeout_detail(run, timeout))
    return HandshakeResult(ok=False, outcome="exited", detail=_exit_detail(run))


def _brief(run: _Run) -> str:
    """A run's outcome in a few words, for the list of cookies tried."""
    if run.uncontained is not None:
        return "not run"
    if run.launch_error is not None:
        return "not runnable"
    if run.line is not None or run.overlong is not None:
        return "garbage"
    return "timeout" if run.timed_out else _exit_status(run.returncode)


def _not_runnable(reason: str) -> HandshakeResult:
    return HandshakeResult(ok=False, outcome="not-runnable", detail=printable(reason, DETAIL_LIMIT))


def _garbage(detail: str) -> HandshakeResult:
    return HandshakeResult(ok=False, outcome="garbage", detail=_clip(detail))


def _exit_detail(run: _Run) -> str:
    return _clip(
        f"exited before the handshake ({_exit_status(run.returncode)}); "
        + _stderr_facts(run.stderr)
    )


def _timeout_detail(run: _Run, timeout: float) -> str:
    detail = f"no handshake line on stdout within {timeout:g} s"
    if run.partial:
        detail += f" ({len(run.partial)} bytes without a line break)"
    elif run.stdout_closed:
        detail += " (it closed stdout and kept running)"
    return _clip(f"{detail}; {_stderr_facts(run.stderr)}")


def _stderr_facts(stderr: bytes) -> str:
    if not stderr.strip():
        return "stderr empty"
    if COOKIE_REFUSED in stderr:
        return "go-plugin's refusal on stderr"
    size = f"{len(stderr)} bytes" if len(stderr) < STDERR_KEEP else f"over {STDERR_KEEP} bytes"
    what = "a Go panic" if stderr.lstrip().startswith((b"panic: ", b"fatal error: ")) else size
    return f"{what} on stderr (not shown: the binary's output is never quoted)"


def _exit_status(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit code {returncode}"


def _clip(text: str) -> str:
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


# --- the sandbox -------------------------------------------------------------------------


def _private_copy(path: Path, sandbox: Path) -> Path | None:
    """Copy the binary to `sandbox/plugin` with mode 0700; None if it is not an ELF file.

    The cache keeps downloads at mode 0600 and the controller sets the mode itself, so the
    file's own mode says nothing. Running a copy also keeps the binary away from the cache
    (it could reach its own file through /proc/self/exe), and only ELF is ever executed: a
    `#!` script would run under a shell that the controller image does not even have.
    """
    with open(path, "rb") as source:
        if source.read(4) != b"\x7fELF":
            return None
        source.seek(0)
        copy = sandbox / "plugin"
        with open(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700), "wb") as target:
            shutil.copyfileobj(source, target)
    return copy


def _interpreter() -> list[str]:
    # -I: ignore PYTHON* variables and the user's site; -S: skip site-packages (faster).
    return [sys.executable or "python3", "-I", "-S", "-c"]


# The launcher, run as `python -I -S -c _LAUNCHER CONFIG_JSON` (see `_run`). It reports on
# the status descriptor (closed on exec): `pid N` for the PID namespace's init, `contained
# TEXT` naming the layers in force, `uncontained TEXT` when it refuses to run the binary, and
# `error TEXT` if the binary cannot be executed. It imports nothing from this package, so
# it starts in a few milliseconds.
_LAUNCHER = r"""
import ctypes, json, os, resource, signal, struct, sys

config = json.loads(sys.argv[1])
status_fd = config["status_fd"]
os.set_inheritable(status_fd, False)
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x20000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 4096, 16384, 1 << 18, 2
# statvfs flags of a mount that a bind remount in a user namespace must keep (they are
# locked); their values equal the MS_ flags of the same name.
KEPT_MOUNT_FLAGS = 1 | 2 | 4 | 8 | 1024 | 2048 | 4096
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)
# Landlock's syscalls have the same numbers on every architecture.
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION, LANDLOCK_RULE_PATH_BENEATH = 1, 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1, 2, 4, 8
FS_TRUNCATE, FS_IOCTL_DEV = 1 << 14, 1 << 15
FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
DEVICES = ("null", "zero", "random", "urandom")
# The seccomp filter's syscall numbers per machine, with its audit arch; `denied` are refused
# whatever their arguments (linux arch/x86/entry/syscalls/syscall_64.tbl,
# include/uapi/asm-generic/unistd.h). Refused: io_uring (setup, enter, register), which
# does everything else without a syscall; keyrings (add_key, request_key, keyctl);
# connect, sendmsg, sendmmsg, truncate, tkill, pidfd_send_signal, setsid, setpgid; unshare
# and setns (a user namespace of its own gives the kernel's namespaced capabilities, the
# usual way to a kernel exploit), bpf, perf_event_open, userfaultfd; on x86_64 fork, vfork.
SECCOMP_SYSCALLS = {
    "x86_64": {
        "arch": 0xC000003E, "socket": 41, "sendto": 44, "kill": 62, "tgkill": 234,
        "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "clone": 56, "clone3": 435,
        "denied": (425, 426, 427, 248, 249, 250, 42, 46, 307, 76, 200, 424, 112, 109, 272,
                   308, 321, 298, 323, 57, 58),
    },
    "aarch64": {
        "arch": 0xC00000B7, "socket": 198, "sendto": 206, "kill": 129, "tgkill": 131,
        "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240, "clone": 220, "clone3": 435,
        "denied": (425, 426, 427, 217, 218, 219, 203, 211, 269, 45, 130, 424, 157, 154, 97,
                   268, 280, 241, 282),
    },
}.get(os.uname().machine)

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def report(tag, text):
    os.write(status_fd, f"{tag} {text}\n".encode("utf-8", "backslashreplace"))


def check(result):
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return result


def mount(source, target, kind, flags, data=None):
    encode = lambda text: None if text is None else os.fsencode(text)
    check(libc.mount(encode(source), encode(target), encode(kind), ctypes.c_ulong(flags),
                     encode(data)))


def lower(name, value):
    limit = getattr(resource, name)
    try:
        soft, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(limit, (value, value))
    except (ValueError, OSError):
        pass


def threads_of(uid):
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue  # gone meanwhile
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            count += int(fields.get("Threads", "1"))
    return count


def write_file(path, text):
    with open(path, "w") as file:
        file.write(text)


def enter_namespaces():
    # A user namespace lets an unprivileged user create the others, and takes a root
    # launcher's capabilities away on the host; without one (root only) the rest still works.
    uid, gid = os.geteuid(), os.getegid()
    for flags, names in (
        (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC,
         "user+mount+pid+net+ipc"),
        (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC, "mount+pid+net+ipc"),
    ):
        if libc.unshare(flags) != 0:
            continue
        if flags & CLONE_NEWUSER:
            # A non-zero id inside, so that execve leaves the plugin no capability even in
            # its own namespace.
            # Where a policy (Ubuntu's AppArmor) lets the namespace be made but denies it
            # capabilities, this fails, and so does the view: Landlock still holds.
            for path, text in (("setgroups", "deny"), ("uid_map", f"{uid or 1} {uid} 1"),
                               ("gid_map", f"{gid or 1} {gid} 1")):
                try:
                    write_file(f"/proc/self/{path}", text)
                except OSError:
                    pass
        return flags, names
    return 0, ""


def bind(source, target, flags):
    mount(source, target, None, MS_BIND)
    kept = os.statvfs(target).f_flag & KEPT_MOUNT_FLAGS
    mount(None, target, None, MS_REMOUNT | MS_BIND | kept | flags)


def touch(path):
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def build_view(root, workdir, binary, fresh_proc):
    # A tmpfs root holding only the binary (read-only), the work directory (the one
    # writable place: a small tmpfs of its own, so that writing there cannot fill the
    # runner's disk), four devices and, in a PID namespace, a /proc of its own processes.
    if SYS_PIVOT_ROOT is None:
        raise OSError(0, f"no pivot_root number known for {os.uname().machine}")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k,nr_inodes=64")
    inside = lambda path: root + path
    os.makedirs(inside(workdir), mode=0o755)
    mount("tmpfs", inside(workdir), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
          f"mode=0700,size={config['limits']['work_space']},nr_inodes=1024")
    if config["shared"]:
        os.makedirs(inside(config["shared"]), mode=0o755, exist_ok=True)
        bind(config["shared"], inside(config["shared"]), MS_NOSUID | MS_NODEV | MS_NOEXEC)
    touch(inside(binary))
    bind(binary, inside(binary), MS_RDONLY | MS_NOSUID | MS_NODEV)
    for device in DEVICES:
        touch(inside(f"/dev/{device}"))
        bind(f"/dev/{device}", inside(f"/dev/{device}"), MS_NOSUID | MS_NOEXEC)
    proc = False
    if fresh_proc:
        os.mkdir(inside("/proc"), 0o555)
        try:
            mount("proc", inside("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            proc = True
        except OSError:
            pass  # a runtime that masks parts of /proc refuses a new one: do without
    os.chdir(root)
    check(libc.syscall(ctypes.c_long(SYS_PIVOT_ROOT), b".", b"."))
    check(libc.umount2(b".", MNT_DETACH))
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(workdir)
    return proc


def landlock(rules):
    # Every access right this kernel's Landlock ABI knows is handled, so anything no rule
    # grants is denied: files, TCP bind and connect (ABI 4), signals and abstract unix
    # sockets outside the sandbox (ABI 6). A sandboxed process can never ptrace, or read
    # the /proc files of, a process outside its domain (ABI 1).
    syscall = libc.syscall
    abi = syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                  ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    if abi < 1:
        error = ctypes.get_errno()
        raise OSError(error, "Landlock is " + ("disabled" if error == 95 else "not available"))
    abi = min(abi, config["landlock_abi_limit"] or abi)
    handled = (1 << 13) - 1
    handled |= (1 << 13 if abi >= 2 else 0) | (FS_TRUNCATE if abi >= 3 else 0)
    handled |= FS_IOCTL_DEV if abi >= 5 else 0
    # The attribute grew with the ABI: pass exactly the fields this kernel knows.
    fields = [handled, 3 if abi >= 4 else 0, 3 if abi >= 6 else 0]
    packed = struct.pack("=3Q", *fields)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    ruleset = check(syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET),
                            ctypes.create_string_buffer(packed, len(packed)),
                            ctypes.c_size_t(len(packed)), ctypes.c_uint32(0)))
    for path, access in rules:
        try:
            target = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        if not os.path.isdir(path):
            access &= FS_FILE_RIGHTS
        rule = ctypes.create_string_buffer(struct.pack("=Qi", access & handled, target))
        try:
            check(syscall(ctypes.c_long(SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset),
                          ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), rule, ctypes.c_uint32(0)))
        finally:
            os.close(target)
    check(syscall(ctypes.c_long(SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset),
                  ctypes.c_uint32(0)))
    os.close(ruleset)
    return f"landlock ABI {abi}"


def restrict_syscalls():
    # What Landlock leaves open, closed for every layer: a connection to any socket the
    # binary can name (a unix socket by path such as /var/run/docker.sock, which is root on
    # the runner; UDP anywhere; abstract sockets before ABI 6), truncating files before
    # ABI 3, signals to processes other than its own before ABI 6, the user's keyrings,
    # io_uring, which does all of it without these syscalls, new namespaces and the
    # kernel's riskiest interfaces, and new processes: threads only, so memory stays within
    # one address-space limit, no fork bomb, and nothing can leave the process group the
    # probe kills. go-plugin's host only listens on a unix
    # socket and starts nothing, which stays possible. Another machine's syscalls (int
    # 0x80 on x86_64, x32) kill the process: they would pass a filter for these numbers.
    if SECCOMP_SYSCALLS is None:
        raise OSError(0, f"no seccomp syscall numbers known for {os.uname().machine}")
    numbers = SECCOMP_SYSCALLS
    LOAD, JUMP_EQ, JUMP_GE, JUMP_SET, RETURN = 0x20, 0x15, 0x35, 0x45, 0x06
    KILL, ALLOW = 0x80000000, 0x7FFF0000
    DENY, NO_SUCH_CALL = 0x00050000 | 1, 0x00050000 | 38  # EPERM, ENOSYS
    AF_UNIX, CLONE_THREAD = 1, 0x10000
    pid = os.getpid()  # execve keeps it: the binary's own, in its PID namespace if any
    arg = lambda index, high=False: 16 + 8 * index + (4 if high else 0)  # little-endian
    program = [(LOAD, 0, 0, 4), (JUMP_EQ, 1, 0, numbers["arch"]), (RETURN, 0, 0, KILL),
               (LOAD, 0, 0, 0)]
    if numbers["arch"] == 0xC000003E:
        program += [(JUMP_GE, 0, 1, 0x40000000), (RETURN, 0, 0, KILL)]

    def only_if(number, index, allowed):
        # The syscall `number` passes when the low 32 bits of argument `index` (an int or
        # a pid_t: the kernel reads no more) are one of `allowed`; the others get EPERM.
        checks = [(JUMP_EQ, len(allowed) - position, 0, value & 0xFFFFFFFF)
                  for position, value in enumerate(allowed)]
        return [(JUMP_EQ, 0, len(checks) + 3, number), (LOAD, 0, 0, arg(index)), *checks,
                (RETURN, 0, 0, DENY), (RETURN, 0, 0, ALLOW), (LOAD, 0, 0, 0)]

    program += only_if(numbers["socket"], 0, [AF_UNIX])
    # sendto with an address names a peer; without one it writes to a connected socket.
    program += [(JUMP_EQ, 0, 6, numbers["sendto"]), (LOAD, 0, 0, arg(4)), (JUMP_EQ, 0, 3, 0),
                (LOAD, 0, 0, arg(4, high=True)), (JUMP_EQ, 0, 1, 0), (RETURN, 0, 0, ALLOW),
                (RETURN, 0, 0, DENY), (LOAD, 0, 0, 0)]
    # Itself, and its own process group (0, or -pid; but -1 is every process).
    program += only_if(numbers["kill"], 0, [pid, 0] + ([-pid] if pid > 1 else []))
    for name in ("tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        program += only_if(numbers[name], 0, [pid])
    program += [(JUMP_EQ, 0, 4, numbers["clone"]), (LOAD, 0, 0, arg(0)),
                (JUMP_SET, 0, 1, CLONE_THREAD), (RETURN, 0, 0, ALLOW), (RETURN, 0, 0, DENY),
                (LOAD, 0, 0, 0)]
    # clone3's flags sit in memory a filter cannot read: "no such call" makes the C
    # library and Go fall back to clone.
    program += [(JUMP_EQ, 0, 1, numbers["clone3"]), (RETURN, 0, 0, NO_SUCH_CALL)]
    for number in numbers["denied"]:
        program += [(JUMP_EQ, 0, 1, number), (RETURN, 0, 0, DENY)]
    program.append((RETURN, 0, 0, ALLOW))
    code = b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
    filters = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("@HP", len(program), ctypes.addressof(filters))
    PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
    check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.create_string_buffer(fprog),
                     0, 0))
    return "seccomp (no outgoing sockets, signals to itself only, threads only)"


def drop_capabilities():
    # Only a launcher that is root without a user namespace has any to lose.
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    for capability in range(64):
        libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)
    header = ctypes.create_string_buffer(struct.pack("=Ii", 0x20080522, 0))
    data = (ctypes.c_uint32 * 6)()
    if libc.capget(header, data) == 0:
        data[2] = data[5] = 0  # inheritable: with the bounding set empty, exec gives none
        libc.capset(header, data)


def contain(namespaces, names):
    # Either layer alone keeps the binary from every file but its own; without both, it
    # does not run at all.
    layers, missing = [], []
    view = proc = False
    if namespaces & CLONE_NEWNS:
        try:
            proc = build_view(config["root"], config["workdir"], config["binary"],
                              bool(namespaces & CLONE_NEWPID))
            view = True
        except OSError as error:
            missing.append(f"no private file view ({error.strerror or error})")
    elif config["namespaces"]:
        missing.append("no namespaces (unshare refused)")
    if namespaces:
        layers.append(f"{names} namespaces" + (", read-only minimal view" if view else ""))
    drop_capabilities()
    if config["landlock"]:
        everything = (1 << 16) - 1 - FS_EXECUTE
        rules = [(config["workdir"], everything), (config["binary"], FS_EXECUTE | FS_READ_FILE),
                 ("/dev/null", FS_READ_FILE | FS_WRITE_FILE)]
        rules += [(f"/dev/{device}", FS_READ_FILE) for device in DEVICES[1:]]
        if proc:
            rules.append(("/proc", FS_READ_FILE | FS_READ_DIR))
        if config["shared"]:
            rules.append((config["shared"], everything))
        try:
            layers.insert(0, landlock(rules))
        except OSError as error:
            missing.append(f"no Landlock ({error.strerror or error})")
    # Landlock leaves sockets and signals open: alone, it holds only with the filter.
    filtered = False
    try:
        layers.append(restrict_syscalls())
        filtered = True
    except OSError as error:
        missing.append(f"no seccomp filter ({error.strerror or error})")
    contained = view or (filtered and layers and layers[0].startswith("landlock"))
    if not contained:
        report("uncontained", "; ".join(missing) or "no containment layer enabled")
        os._exit(127)
    report("contained", ", ".join(layers))


def execute():
    try:
        os.execve(config["binary"], [config["binary"]], config["environment"])
    except OSError as error:
        hint = " (is the temp directory mounted noexec?)" if error.errno == 13 else ""
        report("error", f"cannot execute: {error}{hint}")
    os._exit(127)


def main():
    # Python ignores these at start, and an ignored signal stays ignored across execve:
    # give the plugin the defaults that go-plugin's host gives it.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the probe
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # setuid bits are ignored from here on
    limits = config["limits"]
    lower("RLIMIT_CORE", 0)
    lower("RLIMIT_FSIZE", limits["file_size"])
    lower("RLIMIT_AS", limits["address_space"])
    lower("RLIMIT_CPU", config["cpu_seconds"])
    namespaces, names = enter_namespaces() if config["namespaces"] else (0, "")
    if namespaces & CLONE_NEWUSER:
        # Since Linux 5.14 RLIMIT_NPROC counts the processes of this user namespace only;
        # before, it counted all of the user's processes on the host and could starve Go.
        release = os.uname().release.split(".")[:2]
        if all(part.isdigit() for part in release) and tuple(map(int, release)) >= (5, 14):
            lower("RLIMIT_NPROC", limits["processes"])
    elif os.getuid() != 0:
        # Here it counts every thread of the user's on the host: allow that many more
        # (root is never held to it).
        lower("RLIMIT_NPROC", threads_of(os.getuid()) + limits["processes"])
    if not namespaces & CLONE_NEWPID:
        contain(namespaces, names)
        execute()
    # The first child in a new PID namespace is its init: when it dies, the kernel kills
    # every other process in the namespace. Stay behind as its parent to pass on its status.
    child = os.fork()
    if child == 0:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the launcher
        contain(namespaces, names)
        execute()
    report("pid", child)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    os.dup2(null, 2)
    code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)

try:
    main()
except BaseException as error:
    report("error", f"the probe launcher failed: {error!r}")
    os._exit(127)
"""
