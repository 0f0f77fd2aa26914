"""The opt-in handshake probe: run one plugin binary the way go-plugin's host starts it,
contained and time-bound, and say what happened.

This executes untrusted code, so the caller runs it only under `--handshake` and only for
an ELF built for this machine. Containment, in layers (each degrades on its own):

* a private copy of the binary (mode 0700) in a fresh temp directory, an empty working
  directory beside it, and an environment holding only the go-plugin variables plus HOME
  and TMPDIR inside that directory: no token or secret of ours reaches the child;
* stdin from /dev/null, a session and process group of its own, `umask 077`;
* rlimits: no core dumps, bounded file size, address space and CPU time, and (inside a
  user namespace) a bounded number of processes;
* `no_new_privs`, so no setuid program (sudo) can raise its privileges;
* where the kernel allows it without privileges: new user, network and PID namespaces, so
  the child has no network and everything it starts dies with it, even past `setsid()`;
* a parent-death signal, so nothing outlives a linter that is killed itself;
* one deadline for the whole probe, after which the process group (and the PID namespace)
  is killed with SIGKILL and reaped, whatever the binary does with SIGTERM or its pipes.

The child is started through a tiny launcher run by this Python interpreter (`-I -S`): it
applies the limits after the fork and then `execve`s the plugin. `subprocess`'s
`preexec_fn` could do the same in-process, but it is unsafe when the linter has threads
(`--jobs`), and only a separate process can stay behind as the PID namespace's parent.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rollouts_plugin_lint.model import PluginKind
from rollouts_plugin_lint.printable import printable

Outcome = Literal["handshake", "wrong-cookie", "exited", "timeout", "garbage", "not-runnable"]

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
PROCESS_LIMIT = 256  # processes and threads in the sandbox: Go needs a dozen or two
# Try user, network and PID namespaces (best effort). Tests turn this off to exercise the
# fallback that machines without unprivileged namespaces get.
USE_NAMESPACES = True


@dataclass(frozen=True)
class HandshakeResult:
    ok: bool
    outcome: Outcome
    detail: str  # one printable line, at most DETAIL_LIMIT characters
    kind_found: PluginKind | None = None  # on wrong-cookie: the kind whose cookie worked
    handshake_line: str | None = None  # escaped, as the binary printed it


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
                handshake_line=printable(run.text_line or "", STDOUT_LINE_LIMIT),
            )
        tried.append(f"{COOKIES[other]}: {'refused' if run.refused_cookie else _brief(run)}")
    return HandshakeResult(
        ok=False,
        outcome="wrong-cookie",
        detail=_clip(
            f"go-plugin binary that refuses the {COOKIE_KEY} cookie of every plugin list "
            f"({'; '.join(tried)}): it is a plugin for another program"
        ),
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
    def text_line(self) -> str | None:
        return None if self.line is None else self.line.decode("utf-8", "backslashreplace")

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
    remaining = max(deadline - time.monotonic(), 0.0)
    cpu_seconds = math.ceil(remaining) + 1
    status_read, status_write = os.pipe()
    command = [
        *_interpreter(),
        _LAUNCHER,
        str(status_write),
        str(binary),
        str(cpu_seconds),
        "namespaces" if USE_NAMESPACES else "no-namespaces",
        *(f"{name}={value}" for name, value in environment.items()),
    ]
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
    _read_status(bytes(status), run)
    run.stderr = bytes(stderr)
    run.stdout_closed = stdout_fd not in open_fds
    if run.line is None and run.overlong is None and stdout:
        if run.exited and run.stdout_closed:
            # The last line of a finished stream needs no line break (as bufio.Scanner).
            run.line = bytes(stdout).rstrip(b"\r")
        else:
            run.partial = bytes(stdout)


def _read_status(status: bytes, run: _Run) -> None:
    """The launcher's records: `pid N` (the PID namespace's init) and `error TEXT`."""
    for record in status.decode("utf-8", "backslashreplace").splitlines():
        tag, _, value = record.partition(" ")
        if tag == "pid" and value.isdigit():
            run.namespace_init = int(value)
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
    parts = line.decode("utf-8", "backslashreplace").strip().split("|")
    if len(parts) < 5:
        return f"has {len(parts)} '|'-separated fields, a handshake has at least 5"
    core, app, network, _address, protocol = parts[:5]
    if core != "1":
        return f"core protocol version is {core!r}, go-plugin's is '1'"
    if app != PROTOCOL_VERSION:
        return f"plugin protocol version is {app!r}, Argo Rollouts speaks {PROTOCOL_VERSION!r}"
    if network not in ("unix", "tcp"):
        return f"network is {network!r}, expected 'unix' or 'tcp'"
    if protocol != "netrpc":
        return f"protocol is {protocol!r}, Argo Rollouts speaks 'netrpc'"
    return None


def _classify(run: _Run, timeout: float) -> HandshakeResult:
    if run.launch_error is not None:
        return _not_runnable(run.launch_error)
    if run.line is not None:
        error = run.handshake_error
        if error is None:
            prefix = "go-plugin handshake: "
            return HandshakeResult(
                ok=True,
                outcome="handshake",
                detail=prefix + printable(run.text_line or "", DETAIL_LIMIT - len(prefix)),
                handshake_line=printable(run.text_line or "", STDOUT_LINE_LIMIT),
            )
        return _garbage(f"first stdout line {error}: ", run.line)
    if run.overlong is not None:
        return _garbage(
            f"first stdout line is longer than {STDOUT_LINE_LIMIT} bytes: ", run.overlong
        )
    if run.timed_out:
        return HandshakeResult(ok=False, outcome="timeout", detail=_timeout_detail(run, timeout))
    return HandshakeResult(ok=False, outcome="exited", detail=_exit_detail(run))


def _brief(run: _Run) -> str:
    """A run's outcome in a few words, for the list of cookies tried."""
    if run.launch_error is not None:
        return "not runnable"
    if run.line is not None or run.overlong is not None:
        return "garbage"
    return "timeout" if run.timed_out else _exit_status(run.returncode)


def _not_runnable(reason: str) -> HandshakeResult:
    return HandshakeResult(ok=False, outcome="not-runnable", detail=printable(reason, DETAIL_LIMIT))


def _garbage(prefix: str, line: bytes) -> HandshakeResult:
    return HandshakeResult(
        ok=False, outcome="garbage", detail=_clip(prefix + _quote(line, DETAIL_LIMIT - len(prefix)))
    )


def _exit_detail(run: _Run) -> str:
    detail = f"exited before the handshake ({_exit_status(run.returncode)})"
    return _with_stderr(detail, run.stderr)


def _timeout_detail(run: _Run, timeout: float) -> str:
    detail = f"no handshake line on stdout within {timeout:g} s"
    if run.partial:
        prefix = detail + "; unfinished line "
        return _clip(prefix + _quote(run.partial, DETAIL_LIMIT - len(prefix)))
    if run.stdout_closed:
        detail += " (it closed stdout and kept running)"
    return _with_stderr(detail, run.stderr)


def _with_stderr(detail: str, stderr: bytes) -> str:
    text = stderr.strip()
    if not text:
        return _clip(detail + "; stderr empty")
    prefix = detail + "; stderr: "
    return _clip(prefix + _quote(text, DETAIL_LIMIT - len(prefix)))


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


def _quote(data: bytes, budget: int) -> str:
    """`data` escaped and quoted, in at most `budget` characters (and at least a few)."""
    return "'" + printable(data.decode("utf-8", "backslashreplace"), max(budget - 2, 8)) + "'"


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


# The launcher, run as
# `python -I -S -c _LAUNCHER STATUS_FD BINARY CPU_SECONDS [no-]namespaces NAME=VALUE...`.
# It reports on STATUS_FD (closed on exec): `pid N` for the PID namespace's init and
# `error TEXT` if the binary cannot be executed. It must stay small and import nothing
# from this package, so it starts in a few milliseconds.
_LAUNCHER = rf"""
import os, resource, signal, sys

status_fd, path, cpu_seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
use_namespaces = sys.argv[4] == "namespaces"
environment = dict(item.split("=", 1) for item in sys.argv[5:])
os.set_inheritable(status_fd, False)
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWPID = 0x10000000, 0x40000000, 0x20000000

def report(tag, text):
    os.write(status_fd, f"{{tag}} {{text}}\n".encode("utf-8", "backslashreplace"))

def lower(name, value):
    limit = getattr(resource, name)
    try:
        soft, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(limit, (value, value))
    except (ValueError, OSError):
        pass

def execute():
    try:
        os.execve(path, [path], environment)
    except OSError as error:
        hint = " (is the temp directory mounted noexec?)" if error.errno == 13 else ""
        report("error", f"cannot execute: {{error}}{{hint}}")
    os._exit(127)

def main():
    # Python ignores these at start, and an ignored signal stays ignored across execve:
    # give the plugin the defaults that go-plugin's host gives it.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        prctl, unshare = libc.prctl, libc.unshare
    except (ImportError, OSError, AttributeError):
        prctl = unshare = None
    if prctl:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the probe
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # setuid bits are ignored from here on
    lower("RLIMIT_CORE", 0)
    lower("RLIMIT_FSIZE", {FILE_SIZE_LIMIT})
    lower("RLIMIT_AS", {ADDRESS_SPACE_LIMIT})
    lower("RLIMIT_CPU", cpu_seconds)
    namespaces = 0
    if unshare and use_namespaces:
        # A user namespace lets an unprivileged user create the others; root needs none.
        for flags in (CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID, CLONE_NEWNET | CLONE_NEWPID):
            if unshare(flags) == 0:
                namespaces = flags
                break
    if namespaces & CLONE_NEWUSER:
        # Since Linux 5.14 RLIMIT_NPROC counts the processes of this user namespace only;
        # before, it counted all of the user's processes on the host and could starve Go.
        release = os.uname().release.split(".")[:2]
        if all(part.isdigit() for part in release) and tuple(map(int, release)) >= (5, 14):
            lower("RLIMIT_NPROC", {PROCESS_LIMIT})
    if not namespaces & CLONE_NEWPID:
        execute()
    # The first child in a new PID namespace is its init: when it dies, the kernel kills
    # every other process in the namespace. Stay behind as its parent to pass on its status.
    child = os.fork()
    if child == 0:
        if prctl:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the launcher
        execute()
    report("pid", child)
    os.close(status_fd)
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
    report("error", f"the probe launcher failed: {{error!r}}")
    os._exit(127)
"""
