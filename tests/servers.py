"""Real HTTP servers on 127.0.0.1 for the download tests: every behaviour happens on a
socket (resets, stalls, lying Content-Length), nothing is mocked."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]


Handler = Callable[[socket.socket, Request], None]


@dataclass
class RawServer:
    """Accepts connections and hands each parsed request to `handler`, which writes
    whatever bytes it likes and may close, stall or reset the connection."""

    handler: Handler
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.port = int(self._socket.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:
            connection.settimeout(30)
            while True:
                request = _read_request(connection)
                if request is None:
                    return
                self.requests.append(request)
                self.handler(connection, request)
                if request.headers.get("connection", "").lower() == "close":
                    return


def _read_request(connection: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    method, target, _ = head[0].split(" ", 2)
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(method, target, headers)


def respond(
    connection: socket.socket,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    reason: str = "",
) -> None:
    lines = [f"HTTP/1.1 {status} {reason or 'Status'}"]
    merged = {"Content-Length": str(len(body)), **(headers or {})}
    lines += [f"{name}: {value}" for name, value in merged.items()]
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def reset(connection: socket.socket) -> None:
    """Close with RST instead of FIN."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    connection.close()


@contextlib.contextmanager
def serving(handler: Handler) -> Iterator[RawServer]:
    server = RawServer(handler)
    try:
        yield server
    finally:
        server.close()
