"""The address guard: pull-request authors choose the URLs we fetch, and CI runners sit on
networks with metadata services and internal hosts, so we connect only to global
addresses unless the user allows private ones.

The check runs where the socket is opened (an httpcore network backend), on the very
address we connect to: a DNS answer that changes between a check and the connect
(rebinding) cannot slip through, and every redirect hop passes the same gate.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
import httpcore

Resolver = Callable[[str, int], Awaitable[list[str]]]


class BlockedAddress(Exception):
    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}")
        self.host = host
        self.address = address


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


def describe(address: str) -> str:
    """Which kind of non-public address this is, for the message."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if str(ip) == "169.254.169.254" or str(ip) == "fd00:ec2::254":
        return "the cloud metadata service"
    for name, test in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
    ):
        if test:
            return f"a {name} address"
    return "a non-public address"


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves each host itself, refuses non-public answers, then connects to the vetted
    address. `allowed_hosts` (configured proxies) are trusted infrastructure."""

    def __init__(
        self,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private
        self._resolver = resolver
        self._allowed_hosts = {host.lower() for host in allowed_hosts}

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self._resolver(host, port)
        except (OSError, socket.gaierror) as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        except TimeoutError as error:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from error
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
        if not (self._allow_private or host.lower() in self._allowed_hosts):
            for address in addresses:
                if not is_public(address):
                    raise BlockedAddress(host, address)
        return await self._inner.connect_tcp(
            addresses[0],
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - we never dial unix sockets
        raise httpcore.ConnectError("unix sockets are not used")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
