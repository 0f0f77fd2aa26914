"""What the fetch and warm benchmarks share: plugin-sized binaries, a local HTTP server
that sends each connection at a fixed rate (a CDN's per-connection limit), the plugin
configuration that points at it, and the sequential httpx baseline.

The server runs in the benchmark's own process, on 127.0.0.1 (hence
`--allow-private-addresses`). It sends bodies with sendfile(2) in paced slices, so
serving four connections at once costs it almost no CPU that the measured process could
have used.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.server
import os
import random
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _harness import MIB

# The workload of fetch.py, which warm.py runs again: four binaries, throttled per connection.
FILES = 4
RATE_MIB = 25
SIZES_MIB = {"full": 50, "tiny": 2}


def add_workload_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file-mb", type=int, help="size of each binary in MiB")
    parser.add_argument("--rate-mb", type=float, default=RATE_MIB, help="MiB/s per connection")


def file_size(args: argparse.Namespace) -> int:
    return int((args.file_mb or SIZES_MIB[args.size]) * MIB)


LAST_MODIFIED = "Tue, 01 Apr 2025 12:00:00 GMT"
SLICE = 256 * 1024  # bytes per sendfile call: fine-grained pacing, few system calls

# Baseline: the same URLs, one after another, httpx streaming each body to disk.
SEQUENTIAL_HTTPX = """
import sys, httpx
target = sys.argv[1]
with httpx.Client(timeout=300) as client:
    for number, url in enumerate(sys.argv[2:]):
        with client.stream("GET", url) as response, open(f"{target}/{number}", "wb") as out:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                out.write(chunk)
"""


@dataclass(frozen=True)
class Binary:
    name: str
    path: Path
    size: int
    sha256: str


def elf_header(size: int) -> bytes:
    """A valid ELF64 header for a static linux/amd64 executable with one PT_LOAD segment
    covering the file, so the inspect stage parses a real header (the body is noise)."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH", 2, 62, 1, 0x401000, 64, 0, 0, 64, 56, 1, 64, 0, 0
    )
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, size, size, 0x1000)
    return header + program


def make_binaries(folder: Path, count: int, size: int) -> list[Binary]:
    """`count` files of `size` bytes: an ELF header, then pseudo-random bytes (a repeated
    1 MiB block, different for each file). The content does not change what hashing or
    copying costs, and generating it costs next to nothing."""
    binaries = []
    for number in range(count):
        path = folder / f"plugin-{number}-linux-amd64"
        block = random.Random(number).randbytes(MIB)
        digest = hashlib.sha256()
        with path.open("wb") as out:
            head = elf_header(size)
            out.write(head)
            digest.update(head)
            written = len(head)
            while written < size:
                piece = block[: size - written]
                out.write(piece)
                digest.update(piece)
                written += len(piece)
        binaries.append(Binary(path.name, path, size, digest.hexdigest()))
    return binaries


@dataclass(frozen=True)
class Request:
    path: str
    conditional: bool  # sent If-None-Match or If-Modified-Since
    status: int


@dataclass
class ThrottledServer:
    """Serves `binaries` at `rate` bytes per second per connection, with ETag and
    Last-Modified (answering conditional requests with 304), and logs every request."""

    binaries: Sequence[Binary]
    rate: float
    log: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        by_path = {f"/{binary.name}": binary for binary in self.binaries}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a CDN does

            def do_GET(self) -> None:
                binary = by_path.get(self.path)
                conditional = "If-None-Match" in self.headers or (
                    "If-Modified-Since" in self.headers
                )
                if binary is None:
                    server.record(Request(self.path, conditional, 404))
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = f'"{binary.sha256[:32]}"'
                fresh = self.headers.get("If-None-Match") == etag or (
                    self.headers.get("If-Modified-Since") == LAST_MODIFIED
                )
                status = 304 if fresh else 200
                server.record(Request(self.path, conditional, status))
                self.send_response(status)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED)
                if fresh:
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(binary.size))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client may hang up
                    server.send_paced(self.connection.fileno(), binary.path, binary.size)

            def log_message(self, format: str, *args: object) -> None:
                return None  # quiet: the table is the output

        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._lock = threading.Lock()
        self.port = int(self._http.server_address[1])
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def url(self, binary: Binary) -> str:
        return f"http://127.0.0.1:{self.port}/{binary.name}"

    def record(self, request: Request) -> None:
        with self._lock:
            self.log.append(request)

    def take_log(self) -> list[Request]:
        with self._lock:
            taken, self.log = self.log, []
        return taken

    def send_paced(self, socket_fd: int, path: Path, size: int) -> None:
        started = time.perf_counter()
        sent = 0
        with path.open("rb") as source:
            while sent < size:
                sent += os.sendfile(socket_fd, source.fileno(), sent, min(SLICE, size - sent))
                ahead = started + sent / self.rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@contextlib.contextmanager
def serving(binaries: Sequence[Binary], rate: float) -> Iterator[ThrottledServer]:
    server = ThrottledServer(binaries, rate)
    try:
        yield server
    finally:
        server.close()


@dataclass(frozen=True)
class PluginConfig:
    folder: Path
    pinned: frozenset[str]  # URLs whose entry carries the sha256
    digest_by_url: dict[str, str]


def write_config(
    folder: Path, server: ThrottledServer, binaries: Sequence[Binary], pin_all: bool = False
) -> PluginConfig:
    """Half the entries in chart values, half in the ConfigMap; every entry, or every
    other one, pinned by sha256 (pinned entries cost no request once cached, unpinned ones
    a conditional one)."""
    folder.mkdir(parents=True, exist_ok=True)
    pinned: set[str] = set()
    values = ["controller:", "  trafficRouterPlugins:"]
    configmap_entries = []
    for number, binary in enumerate(binaries):
        url = server.url(binary)
        lines = [f"- name: bench/plugin-{number}", f"  location: {url}"]
        if pin_all or number % 2 == 0:
            pinned.add(url)
            lines.append(f'  sha256: "{binary.sha256}"')
        if number < (len(binaries) + 1) // 2:
            values.extend(f"    {line}" for line in lines)
        else:
            configmap_entries.extend(f"    {line}" for line in lines)
    (folder / "values.yaml").write_text("\n".join(values) + "\n", encoding="utf-8")
    if configmap_entries:
        configmap = [
            "apiVersion: v1",
            "kind: ConfigMap",
            "metadata:",
            "  name: argo-rollouts-config",
            "data:",
            "  metricProviderPlugins: |",
            *configmap_entries,
        ]
        (folder / "argo-rollouts-config.yaml").write_text(
            "\n".join(configmap) + "\n", encoding="utf-8"
        )
    return PluginConfig(
        folder, frozenset(pinned), {server.url(binary): binary.sha256 for binary in binaries}
    )


def check_artifacts(report: dict[str, object], config: PluginConfig) -> list[str]:
    """What is wrong with the downloads a JSON report describes (empty: all correct)."""
    problems = []
    plugins = report.get("plugins")
    assert isinstance(plugins, list)
    seen = set()
    for plugin in plugins:
        url = plugin["location"]
        seen.add(url)
        artifact = plugin.get("artifact") or {}
        if artifact.get("sha256") != config.digest_by_url.get(url):
            problems.append(
                f"{url}: sha256 {artifact.get('sha256')}, status {artifact.get('status')}, "
                f"problem {artifact.get('problem')}"
            )
    missing = set(config.digest_by_url) - seen
    problems.extend(f"{url}: no entry in the report" for url in sorted(missing))
    return problems
