"""The opt-in handshake probe, against real programs compiled by gcc for this machine.

Each C program plays one kind of binary a user may list: a plugin of each kind, one that
hangs, one that fights being killed, one that prints garbage or floods its pipes, one that
reports what it was given (environment, limits, namespaces). Programs that record their
process ids or their environment write to a report file whose path is compiled in: the
probe passes no arguments and deletes the working directory. The sandbox lets a child write
nowhere else, so the reports' directory is opened to it through the test-only
`handshake.SHARED_DIRECTORY`. The programs are linked statically, as Go plugins are: the
sandbox has no dynamic loader (tests/hostile/test_probe_containment.py proves the rest).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from rollouts_plugin_lint.inspect import handshake
from rollouts_plugin_lint.inspect.handshake import (
    COOKIE_KEY,
    COOKIES,
    STDOUT_LINE_LIMIT,
    HandshakeResult,
    probe,
)
from rollouts_plugin_lint.model import PluginKind
from tests.conftest import Runner
from tests.servers import respond, serving

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the handshake probe runs only on Linux"
)

HANG_TIMEOUT = 1.0  # for programs that never answer
QUICK_TIMEOUT = 5.0  # for programs that answer at once (the probe returns as soon as they do)
SLACK = 0.5  # kill, reap and scheduling on a loaded CI machine; measured: a few ms
HANDSHAKE_FACTS = (
    "go-plugin handshake: core protocol 1, plugin protocol 1, netrpc on a unix socket, "
    "cookie accepted"
)
NOT_SHOWN = "on stderr (not shown: the binary's output is never quoted)"

REFUSAL = (
    "This binary is a plugin. These are not meant to be executed directly.\\n"
    "Please execute the program that consumes these plugins, which will\\n"
    "load any plugins automatically\\n"
)

COMMON = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Append one line to the compiled-in report file (O_APPEND: atomic across processes). */
static void note(const char *format, ...) {
    char line[4096];
    va_list args;
    va_start(args, format);
    int length = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    int fd = open(REPORT, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) { (void)!write(fd, line, length); close(fd); }
}

/* This process's id as the test sees it, even inside a PID namespace: /proc is the
   host's, and /proc/self resolves in the namespace /proc was mounted for. */
static long outer_pid(void) {
    char link[64];
    ssize_t length = readlink("/proc/self", link, sizeof link - 1);
    if (length <= 0) return getpid();
    link[length] = 0;
    return atol(link);
}

static void refuse(void) {
    fputs(REFUSAL, stderr);
    exit(1);
}

static void handshake(void) {
    const char *dir = getenv("PLUGIN_UNIX_SOCKET_DIR");
    printf("1|1|unix|%s/plugin42|netrpc|\n", dir ? dir : "/tmp");
    fflush(stdout);
}

static void hang(void) { for (;;) pause(); }
"""

PROGRAMS: dict[str, str] = {
    # go-plugin's Serve(): the handshake for its own cookie, the refusal for any other.
    "plugin": r"""
int main(void) {
    const char *cookie = getenv("ARGO_ROLLOUTS_RPC_PLUGIN");
    note("started with %s\n", cookie ? cookie : "no cookie");
    if (!cookie || strcmp(cookie, COOKIE) != 0) refuse();
    handshake();
    hang();  /* a real plugin keeps serving: the probe must kill it */
}
""",
    # Refuses one cookie at once, then hangs for any other: eats the probe's budget.
    "refuse_then_hang": r"""
int main(void) {
    const char *cookie = getenv("ARGO_ROLLOUTS_RPC_PLUGIN");
    if (cookie && strcmp(cookie, COOKIE) == 0) refuse();
    hang();
}
""",
    "hang": "int main(void) { hang(); }",
    # Ignores SIGTERM, closes its pipes, and tries to leave a child in its process group
    # and a grandchild that escapes into a session of its own (the probe lets it start
    # threads only).
    "stubborn": r"""
int main(void) {
    signal(SIGTERM, SIG_IGN);
    close(1);
    close(2);
    note("parent %ld\n", outer_pid());
    if (fork() == 0) { note("child %ld\n", outer_pid()); hang(); }
    if (fork() == 0) { setsid(); note("escaped %ld\n", outer_pid()); hang(); }
    hang();
}
""",
    "garbage": r"""
int main(void) {
    printf("\x1b[31mhello\x07 world|2|tcp\xff\n");
    fflush(stdout);
    hang();
}
""",
    "grpc": r"""
int main(void) {
    printf("1|1|unix|/tmp/plugin1|grpc|\n");
    fflush(stdout);
    hang();
}
""",
    "no_newline_then_exit": r"""
int main(void) { printf("1|1|unix|/tmp/plugin1|netrpc|"); return 0; }
""",
    "exit3": r"""
int main(void) { fputs("fatal: no configuration found\n", stderr); return 3; }
""",
    "segfault": r"""
int main(void) { fputs("about to crash\n", stderr); *(volatile int *)0 = 1; return 0; }
""",
    "endless_stdout": r"""
int main(void) {
    static char chunk[65536];
    memset(chunk, 'A', sizeof chunk);
    for (;;) if (write(1, chunk, sizeof chunk) < 0) return 1;
}
""",
    "endless_stderr": r"""
int main(void) {
    static char chunk[65536];
    memset(chunk, 'B', sizeof chunk);
    for (;;) if (write(2, chunk, sizeof chunk) < 0) return 1;
}
""",
    # Reports what it was given, and hand-shakes only in the environment the probe promises.
    "envcheck": r"""
extern char **environ;
static const char *expected[] = {
    "ARGO_ROLLOUTS_RPC_PLUGIN", "PLUGIN_PROTOCOL_VERSIONS", "PLUGIN_MIN_PORT",
    "PLUGIN_MAX_PORT", "PLUGIN_UNIX_SOCKET_DIR", "HOME", "TMPDIR", NULL,
};

static void note_link(const char *name, const char *path) {
    char target[4096];
    ssize_t length = readlink(path, target, sizeof target - 1);
    target[length > 0 ? length : 0] = 0;
    note("%s %s\n", name, target);
}

static void note_limit(const char *name, int resource) {
    struct rlimit limit;
    getrlimit(resource, &limit);
    note("%s %lld\n", name, (long long)limit.rlim_cur);
}

int main(void) {
    char fds[256] = "";  /* before this program opens anything */
    for (int fd = 0; fd < 64; fd++)
        if (fcntl(fd, F_GETFD) != -1) sprintf(fds + strlen(fds), " %d", fd);
    note("fds%s\n", fds);
    struct sigaction action;
    sigaction(SIGPIPE, NULL, &action);
    note("sigpipe %s\n", action.sa_handler == SIG_IGN ? "ignored" : "default");
    const char *unexpected = NULL;
    for (char **entry = environ; *entry; entry++) {
        note("env %s\n", *entry);
        size_t length = strcspn(*entry, "=");
        int known = 0;
        for (const char **name = expected; *name; name++)
            if (strlen(*name) == length && strncmp(*name, *entry, length) == 0) known = 1;
        if (!known) unexpected = *entry;
    }
    char cwd[4096];
    note("cwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
    note_link("stdin", "/proc/self/fd/0");
    note_link("netns", "/proc/self/ns/net");
    note_link("pidns", "/proc/self/ns/pid");
    note_limit("core", RLIMIT_CORE);
    note_limit("as", RLIMIT_AS);
    note_limit("fsize", RLIMIT_FSIZE);
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    while (status && fgets(line, sizeof line, status))
        if (strncmp(line, "NoNewPrivs:", 11) == 0) note("nonewprivs %d\n", atoi(line + 11));
    unsigned header[2] = {0x20080522, 0}, data[6] = {0};  /* capget, version 3 */
    if (syscall(SYS_capget, header, data) == 0)
        note("capabilities %x %x %x %x\n", data[0], data[3], data[1], data[4]);
    note("uid %d\n", (int)getuid());
    note("done\n");
    if (unexpected) printf("unexpected variable %.20s\n", unexpected);
    else handshake();
    fflush(stdout);
    hang();
}
""",
}


class Binaries:
    """The compiled programs, and the report file each one writes."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __getitem__(self, name: str) -> Path:
        return self.root / name

    def report(self, name: str) -> Path:
        return self.root / "reports" / f"{name}.report"

    def fresh_report(self, name: str) -> Path:
        path = self.report(name)
        path.unlink(missing_ok=True)
        return path


@pytest.fixture(scope="session")
def binaries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Binaries]:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: the handshake tests compile small C programs")
    root = tmp_path_factory.mktemp("handshake-binaries")
    static = subprocess.run(
        [gcc, "-static", "-x", "c", "-o", str(root / "static-check"), "-"],
        input=b"int main(void) { return 0; }\n",
        capture_output=True,
        check=False,
    )
    if static.returncode != 0:
        pytest.skip("gcc cannot link statically here (no static libc)")
    (root / "reports").mkdir()
    # name -> (source, the cookie it is built for)
    builds = {name: (source, "") for name, source in PROGRAMS.items() if name != "plugin"}
    for kind in PluginKind:
        builds[f"plugin_{kind.name.lower()}"] = (PROGRAMS["plugin"], COOKIES[kind])
    builds["plugin_foreign"] = (PROGRAMS["plugin"], "nomad")  # another host program's plugin
    builds["refuse_then_hang"] = (PROGRAMS["refuse_then_hang"], COOKIES[PluginKind.TRAFFIC_ROUTER])
    compilers = []
    for name, (source, cookie) in builds.items():
        (root / f"{name}.c").write_text(COMMON + source, encoding="utf-8")
        defines = [
            f'-DREPORT="{root / "reports" / name}.report"',
            f'-DCOOKIE="{cookie}"',
            f'-DREFUSAL="{REFUSAL}"',
        ]
        source_file, binary = root / f"{name}.c", root / name
        command = [gcc, "-O1", "-w", "-static", *defines, "-o", str(binary), str(source_file)]
        compilers.append((name, subprocess.Popen(command, stderr=subprocess.PIPE)))
    for name, compiler in compilers:
        _, errors = compiler.communicate(timeout=120)
        assert compiler.returncode == 0, f"gcc failed for {name}: {errors.decode()}"
    handshake.SHARED_DIRECTORY = root / "reports"
    try:
        yield Binaries(root)
    finally:
        handshake.SHARED_DIRECTORY = None


@pytest.fixture(autouse=True)
def _no_process_left_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Probes build their sandboxes under this test's tmp_path; afterwards no process may
    still run a binary from there (zombies are dead and do not count)."""
    sandboxes = tmp_path / "sandboxes"
    sandboxes.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(sandboxes))
    yield
    survivors = _wait_until_gone(lambda: _processes_running_under(sandboxes))
    for pid in survivors:
        _kill_quietly(pid)
    assert not survivors, f"processes left behind: {survivors}"
    assert list(sandboxes.iterdir()) == [], "the probe left its temp directory behind"


def _processes_running_under(directory: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                executable = os.readlink(entry / "exe")
            except OSError:
                continue  # gone, a zombie, or not ours
            if executable.startswith(f"{directory}/"):
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running or stopped; a zombie has finished and only waits to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _wait_until_gone(find: Callable[[], Iterable[int]], grace: float = 2.0) -> list[int]:
    """SIGKILL is delivered at once but exiting takes the kernel a moment."""
    give_up = time.monotonic() + grace
    while True:
        survivors = [pid for pid in find() if _alive(pid)]
        if not survivors or time.monotonic() > give_up:
            return survivors
        time.sleep(0.01)


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


def _timed_probe(path: Path, kind: PluginKind, timeout: float) -> tuple[HandshakeResult, float]:
    start = time.monotonic()
    result = probe(path, kind, timeout)
    return result, time.monotonic() - start


def _recorded_pids(report: Path) -> dict[str, int]:
    return {
        role: int(pid) for role, pid in (line.split() for line in report.read_text().splitlines())
    }


def _report(path: Path) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        values.setdefault(key, []).append(value)
    return values


def _assert_one_printable_line(result: HandshakeResult) -> None:
    assert len(result.detail) <= 200
    assert result.detail.isprintable(), repr(result.detail)


# --- plugins of each kind ----------------------------------------------------------------


@pytest.mark.parametrize("probed", list(PluginKind), ids=lambda kind: kind.name.lower())
@pytest.mark.parametrize("built", list(PluginKind), ids=lambda kind: kind.name.lower())
def test_plugin_hand_shakes_for_its_own_kind_only(
    binaries: Binaries, built: PluginKind, probed: PluginKind
) -> None:
    result, elapsed = _timed_probe(binaries[f"plugin_{built.name.lower()}"], probed, QUICK_TIMEOUT)

    _assert_one_printable_line(result)
    assert result.containment.startswith("landlock ABI") or "namespaces" in result.containment
    if built is probed:
        assert (result.ok, result.outcome, result.kind_found) == (True, "handshake", None)
        assert result.detail == HANDSHAKE_FACTS
    else:
        assert (result.ok, result.outcome, result.kind_found) == (False, "wrong-cookie", built)
        assert f"{COOKIE_KEY}={COOKIES[probed]}" in result.detail
        assert built.value in result.detail
    assert elapsed < 1.0  # answered at once, not at the deadline


def test_plugin_for_another_host_refuses_every_cookie(binaries: Binaries) -> None:
    result = probe(binaries["plugin_foreign"], PluginKind.STEP, QUICK_TIMEOUT)

    assert (result.ok, result.outcome, result.kind_found) == (False, "wrong-cookie", None)
    assert "trafficrouter: refused" in result.detail
    assert "metricprovider: refused" in result.detail
    _assert_one_printable_line(result)


def test_the_retries_share_one_deadline(binaries: Binaries) -> None:
    # Refuses trafficrouter at once, then hangs for metricprovider: step gets no time.
    result, elapsed = _timed_probe(
        binaries["refuse_then_hang"], PluginKind.TRAFFIC_ROUTER, HANG_TIMEOUT
    )

    assert (result.outcome, result.kind_found) == ("wrong-cookie", None)
    assert "metricprovider: timeout" in result.detail
    assert "step: no time left" in result.detail
    assert HANG_TIMEOUT <= elapsed < HANG_TIMEOUT + SLACK


def test_file_mode_does_not_matter(binaries: Binaries, tmp_path: Path) -> None:
    # The cache keeps downloads at 0600 and the controller sets the mode itself.
    unexecutable = tmp_path / "plugin-0600"
    shutil.copyfile(binaries["plugin_step"], unexecutable)
    unexecutable.chmod(0o600)

    assert probe(unexecutable, PluginKind.STEP, QUICK_TIMEOUT).ok


# --- time bounds and killing -------------------------------------------------------------


def test_hanging_binary_times_out_on_time(binaries: Binaries) -> None:
    result, elapsed = _timed_probe(binaries["hang"], PluginKind.TRAFFIC_ROUTER, HANG_TIMEOUT)

    assert (result.ok, result.outcome) == (False, "timeout")
    assert result.detail == "no handshake line on stdout within 1 s; stderr empty"
    assert HANG_TIMEOUT <= elapsed < HANG_TIMEOUT + SLACK


@pytest.fixture(params=["namespaces", "landlock-only"])
def sandbox_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of containing the child: with namespaces where the kernel allows them,
    and the Landlock-only fallback that machines without them get."""
    if request.param == "landlock-only":
        monkeypatch.setattr(handshake, "USE_NAMESPACES", False)
    return str(request.param)


def test_stubborn_process_group_is_killed(
    binaries: Binaries, sandbox_mode: str, isolation: dict[str, list[str]], tmp_path: Path
) -> None:
    report = binaries.fresh_report("stubborn")

    result, elapsed = _timed_probe(binaries["stubborn"], PluginKind.METRIC_PROVIDER, HANG_TIMEOUT)

    assert (result.ok, result.outcome) == (False, "timeout")
    assert result.detail == (
        "no handshake line on stdout within 1 s (it closed stdout and kept running); stderr empty"
    )
    assert HANG_TIMEOUT <= elapsed < HANG_TIMEOUT + SLACK
    pids = _recorded_pids(report)
    assert set(pids) == {"parent"}  # fork() failed: no child, no escapee
    in_pid_namespace = sandbox_mode == "namespaces" and isolation["pidns"] != [
        _own_namespace("pid")
    ]
    if in_pid_namespace:
        # The ids are the namespace's own (its fresh /proc shows no other): look from here.
        # The launcher is reaped only after the whole namespace has died, so nothing that
        # ran the binary may be alive the moment the probe returns, not even the escapee.
        running = _processes_running_under(tmp_path / "sandboxes")
        assert [pid for pid in running if _alive(pid)] == []
        return
    assert _wait_until_gone(pids.values) == []


@pytest.fixture(scope="session")
def isolation(binaries: Binaries) -> dict[str, list[str]]:
    """What the sandbox gave a child on this machine (namespaces are best effort)."""
    report = binaries.fresh_report("envcheck")
    result = probe(binaries["envcheck"], PluginKind.TRAFFIC_ROUTER, QUICK_TIMEOUT)
    assert result.ok, result.detail
    return _report(report)


def _own_namespace(name: str) -> str:
    return os.readlink(f"/proc/self/ns/{name}")


# --- what the child gets -----------------------------------------------------------------


def test_environment_is_scrubbed(
    binaries: Binaries, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret_from_the_test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    report = binaries.fresh_report("envcheck")

    result = probe(binaries["envcheck"], PluginKind.METRIC_PROVIDER, QUICK_TIMEOUT)

    assert result.ok, result.detail  # it hand-shakes only when nothing unexpected was set
    seen = _report(report)
    assert "done" in seen
    environment = dict(entry.split("=", 1) for entry in seen["env"])
    workdir = seen["cwd"][0]
    assert environment == {
        "ARGO_ROLLOUTS_RPC_PLUGIN": "metricprovider",
        "PLUGIN_PROTOCOL_VERSIONS": "1",
        "PLUGIN_MIN_PORT": "10000",
        "PLUGIN_MAX_PORT": "25000",
        "PLUGIN_UNIX_SOCKET_DIR": workdir,
        "HOME": workdir,
        "TMPDIR": workdir,
    }
    assert "secret" not in report.read_text()
    assert workdir.startswith(str(tmp_path / "sandboxes"))
    assert not Path(workdir).exists()  # deleted afterwards
    assert seen["stdin"] == ["/dev/null"]
    assert seen["fds"] == ["0 1 2"]  # no descriptor of ours leaks into the child
    assert seen["sigpipe"] == ["default"]  # as under go-plugin's host, not Python's


def test_limits_and_privileges(binaries: Binaries) -> None:
    # Start from generous limits, so the child's values can only come from the probe.
    saved = {
        limit: resource.getrlimit(limit) for limit in (resource.RLIMIT_CORE, resource.RLIMIT_AS)
    }
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
    report = binaries.fresh_report("envcheck")
    try:
        assert probe(binaries["envcheck"], PluginKind.STEP, QUICK_TIMEOUT).ok
    finally:
        for limit, value in saved.items():
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(limit, value)
    seen = _report(report)
    assert seen["core"] == ["0"]
    assert seen["as"] == [str(4 << 30)]
    assert seen["fsize"] == [str(16 << 20)]
    assert seen["nonewprivs"] == ["1"]
    assert seen["capabilities"] == ["0 0 0 0"]  # none at all, even when the linter is root


def test_no_capabilities_with_landlock_alone(
    binaries: Binaries, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without a user namespace a root launcher would pass all of root's on.
    monkeypatch.setattr(handshake, "USE_NAMESPACES", False)
    report = binaries.fresh_report("envcheck")

    assert probe(binaries["envcheck"], PluginKind.STEP, QUICK_TIMEOUT).ok
    assert _report(report)["capabilities"] == ["0 0 0 0"]


def test_without_namespaces_the_child_still_runs(
    binaries: Binaries, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handshake, "USE_NAMESPACES", False)
    report = binaries.fresh_report("envcheck")

    result = probe(binaries["envcheck"], PluginKind.STEP, QUICK_TIMEOUT)

    assert result.ok, result.detail
    assert result.containment.startswith("landlock ABI ")
    assert "namespaces" not in result.containment
    seen = _report(report)
    assert seen["netns"] == [_own_namespace("net")]
    assert "nonewprivs" not in seen  # Landlock alone lets it open no /proc file, not even its own
    assert seen["core"] == ["0"]
    assert seen["cwd"][0].startswith(str(Path(tempfile.gettempdir())))


def test_no_network_where_namespaces_work(isolation: dict[str, list[str]]) -> None:
    if isolation["netns"] == [_own_namespace("net")]:
        available = subprocess.run(["unshare", "--user", "--net", "true"], check=False)
        assert available.returncode != 0, "unshare works here, so the probe should use it"
        pytest.skip("no network namespace on this machine: the probe falls back to none")
    assert isolation["netns"] != [_own_namespace("net")]


# --- every other outcome -----------------------------------------------------------------


def test_garbage_is_described_never_quoted(binaries: Binaries) -> None:
    result = probe(binaries["garbage"], PluginKind.STEP, QUICK_TIMEOUT)

    assert (result.ok, result.outcome) == (False, "garbage")
    assert result.detail == (
        "first stdout line has 3 '|'-separated fields, a handshake has at least 5"
    )
    _assert_one_printable_line(result)


def test_grpc_plugin_is_not_an_argo_plugin(binaries: Binaries) -> None:
    result = probe(binaries["grpc"], PluginKind.STEP, QUICK_TIMEOUT)

    assert result.outcome == "garbage"
    assert "protocol is 'grpc', Argo Rollouts speaks 'netrpc'" in result.detail


def test_last_line_without_line_break_counts(binaries: Binaries) -> None:
    result = probe(binaries["no_newline_then_exit"], PluginKind.STEP, QUICK_TIMEOUT)

    assert (result.ok, result.detail) == (True, HANDSHAKE_FACTS)


def test_exit_code_and_stderr_are_reported(binaries: Binaries) -> None:
    result = probe(binaries["exit3"], PluginKind.TRAFFIC_ROUTER, QUICK_TIMEOUT)

    assert (result.ok, result.outcome) == (False, "exited")
    assert result.detail == f"exited before the handshake (exit code 3); 30 bytes {NOT_SHOWN}"


def test_crash_names_the_signal(binaries: Binaries) -> None:
    result = probe(binaries["segfault"], PluginKind.TRAFFIC_ROUTER, QUICK_TIMEOUT)

    assert result.outcome == "exited"
    assert result.detail == f"exited before the handshake (killed by SIGSEGV); 15 bytes {NOT_SHOWN}"


def test_endless_line_keeps_memory_bounded(binaries: Binaries) -> None:
    tracemalloc.start()
    try:
        result, elapsed = _timed_probe(binaries["endless_stdout"], PluginKind.STEP, HANG_TIMEOUT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.outcome == "garbage"
    assert result.detail == f"first stdout line is longer than {STDOUT_LINE_LIMIT} bytes"
    _assert_one_printable_line(result)
    assert elapsed < HANG_TIMEOUT  # stops at the limit, not at the deadline
    assert peak < 1 << 20


def test_endless_stderr_keeps_memory_bounded(binaries: Binaries) -> None:
    tracemalloc.start()
    try:
        result, elapsed = _timed_probe(binaries["endless_stderr"], PluginKind.STEP, HANG_TIMEOUT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.outcome == "timeout"
    assert result.detail == f"no handshake line on stdout within 1 s; over 8192 bytes {NOT_SHOWN}"
    _assert_one_printable_line(result)
    assert elapsed < HANG_TIMEOUT + SLACK
    assert peak < 1 << 20


# --- files that cannot run ---------------------------------------------------------------


def test_text_file_is_never_executed(tmp_path: Path) -> None:
    script = tmp_path / "plugin.sh"
    script.write_text("#!/bin/sh\ntouch /tmp/should-never-exist\n")
    script.chmod(0o755)

    result = probe(script, PluginKind.STEP, QUICK_TIMEOUT)

    assert (result.ok, result.outcome) == (False, "not-runnable")
    assert result.detail == "not an ELF executable; the probe runs nothing else"


def test_elf_for_another_machine_is_not_runnable(binaries: Binaries, tmp_path: Path) -> None:
    foreign = tmp_path / "plugin-arm64"
    data = bytearray(binaries["hang"].read_bytes())
    data[18:20] = (183).to_bytes(2, "little")  # e_machine: EM_AARCH64
    foreign.write_bytes(bytes(data))

    result = probe(foreign, PluginKind.STEP, QUICK_TIMEOUT)

    assert (result.ok, result.outcome) == (False, "not-runnable")
    assert result.detail.startswith("cannot execute: [Errno 8] Exec format error: ")


@pytest.mark.parametrize("name", ["missing", "directory"])
def test_unreadable_path_is_not_runnable(tmp_path: Path, name: str) -> None:
    (tmp_path / "directory").mkdir()

    result = probe(tmp_path / name, PluginKind.STEP, QUICK_TIMEOUT)

    assert result.outcome == "not-runnable"
    assert result.detail.startswith("cannot read the binary: [Errno")


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf")])
def test_timeout_must_be_a_positive_number(tmp_path: Path, timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        probe(tmp_path / "unused", PluginKind.STEP, timeout)


def test_the_cli_starts_a_download_only_under_handshake(binaries: Binaries, runner: Runner) -> None:
    plugin = binaries["plugin_traffic_router"].read_bytes()
    started = binaries.fresh_report("plugin_traffic_router")
    with serving(lambda conn, _request: respond(conn, 200, plugin)) as server:
        runner.write(
            "values.yaml",
            "controller:\n"
            f"  trafficRouterPlugins:\n    - name: a/right\n      location: {server.url('/r')}\n"
            f"  metricProviderPlugins:\n    - name: a/wrong\n      location: {server.url('/w')}\n",
        )
        online = ("--format", "json", "--allow-private-addresses", "--no-cache", "values.yaml")
        runner.run(*online)
        assert not started.exists()  # downloaded and inspected, never executed
        _, out, _ = runner.run("--handshake", *online)
    verdicts = [
        (f["plugin"], f["rule"])
        for f in json.loads(out)["findings"]
        if f["rule"] in ("plugin-kind-mismatch", "handshake-failed")
    ]
    assert verdicts == [("a/wrong", "plugin-kind-mismatch")]
    assert "trafficrouter" in started.read_text()
