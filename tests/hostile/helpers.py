"""What the hostile tests share: the CLI as a real process under a wall-clock limit with its
peak memory measured, the cache's own integrity check, and a self-signed TLS server.

Nothing here mocks the linter: processes, sockets and files are real."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.servers import Handler, RawServer

# Exit codes of the contract: 0 nothing fails, 1 a finding fails the run.
REPORT_CODES = (0, 1)


@dataclass(frozen=True)
class Outcome:
    code: int | None  # None: still running at the time limit, and killed
    out: str
    err: str
    seconds: float
    peak_rss: int  # bytes, the child's own maximum resident set (wait4)

    def assert_report(self) -> None:
        """A report, exit 0 or 1: never a hang, a traceback or exit 3."""
        assert self.code is not None, f"still running after {self.seconds:.1f} s"
        assert self.code in REPORT_CODES, (self.code, self.err[-3000:])
        assert "Traceback" not in self.err, self.err[-3000:]


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rollouts_plugin_lint", *args]


def start_cli(
    args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, **kwargs: object
) -> subprocess.Popen[bytes]:
    """The CLI as a child process in its own session (so a time limit can end all of it)."""
    return subprocess.Popen(  # type: ignore[call-overload,no-any-return]
        cli_command(*args),
        cwd=cwd,
        env=dict(os.environ if env is None else env),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        **kwargs,
    )


def run_cli(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    limit: float = 60.0,
) -> Outcome:
    """Run the CLI to the end or to `limit` seconds, and measure its peak memory. Output goes
    to files, not pipes, so a report of any size cannot stall the child."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        measured = Path(tempfile.mkdtemp()) / "peak"
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _MEASURE, str(measured), *cli_command(*args)],
            cwd=cwd,
            env=dict(os.environ if env is None else env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        status, peak = _wait_with_limit(child, started + limit)
        seconds = time.monotonic() - started
        with contextlib.suppress(OSError, ValueError):
            peak = int(measured.read_text()) * 1024  # Linux reports KiB
        shutil.rmtree(measured.parent, ignore_errors=True)
        out.seek(0)
        err.seek(0)
        return Outcome(
            code=None if status is None else os.waitstatus_to_exitcode(status),
            out=out.read().decode("utf-8", "replace"),
            err=err.read().decode("utf-8", "replace"),
            seconds=seconds,
            peak_rss=peak,
        )


# A process's peak RSS (ru_maxrss) includes that of the process it was forked from, taken
# at the fork: forked from a pytest that has grown to 200 MB, the CLI would seem to need
# 200 MB. So a small interpreter forks it, and reports the CLI's own peak in a file.
_MEASURE = """
import os, signal, sys
peak_file, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execv(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
with open(peak_file, "w") as stream:
    stream.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def _wait_with_limit(child: subprocess.Popen[bytes], deadline: float) -> tuple[int | None, int]:
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid == child.pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return status, usage.ru_maxrss * 1024  # Linux reports KiB
        if time.monotonic() > deadline:
            kill_group(child)
            _, _, usage = os.wait4(child.pid, 0)
            child.returncode = -signal.SIGKILL
            return None, usage.ru_maxrss * 1024
        time.sleep(0.02)


def kill_group(child: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's session (it was started with one of its own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)


# --- the cache --------------------------------------------------------------------------


def cache_objects(root: Path) -> list[Path]:
    """The downloaded files, not the facts records that sit beside them (inspect/memo.py)."""
    objects = root / "objects"
    if not objects.is_dir():
        return []
    return sorted(
        p for p in objects.rglob("*") if p.is_file() and not p.name.endswith(".facts.json")
    )


def assert_cache_is_sound(root: Path) -> None:
    """Every object is named by its own sha256 and sits where the cache looks for it."""
    for path in cache_objects(root):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert path.name == digest, f"{path} holds bytes whose sha256 is {digest}"
        assert path.parent.name == digest[:2], path


# --- TLS --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def self_signed_certificate(folder: Path) -> Certificate:
    """A certificate for 127.0.0.1 and localhost, made by the openssl command line."""
    openssl = shutil.which("openssl")
    if openssl is None:  # pragma: no cover - the project's machines have it
        raise RuntimeError("the openssl command is needed to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert),
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext", "basicConstraints=critical,CA:TRUE",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return Certificate(cert, key)


class TlsServer(RawServer):
    """RawServer behind TLS: each accepted connection is wrapped before the handler runs."""

    def __init__(self, handler: Handler, certificate: Certificate) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate.cert, certificate.key)
        self._context = context
        super().__init__(handler)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"

    def _handle(self, connection: socket.socket) -> None:
        connection.settimeout(10)
        try:
            wrapped = self._context.wrap_socket(connection, server_side=True)
        except (OSError, ssl.SSLError):
            connection.close()
            return
        super()._handle(wrapped)


@contextlib.contextmanager
def serving_tls(handler: Handler, certificate: Certificate) -> Iterator[TlsServer]:
    server = TlsServer(handler, certificate)
    try:
        yield server
    finally:
        server.close()


class Gate:
    """A server-side pause the test releases (so no handler thread outlives its test)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def wait(self, seconds: float = 30.0) -> None:
        self._event.wait(seconds)

    def open(self) -> None:
        self._event.set()
