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


# IPv6 ranges that carry an IPv4 address, and where (RFC 6052, 6145, 3056, 4380, 4291).
# A packet to one of them ends at that IPv4 address (through a NAT64 or SIIT translator,
# a 6to4 relay, a Teredo relay, or Linux's sit0 tunnel), so the IPv4 address is judged.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")

# Ranges that Python's `is_global` (3.10-3.12) still counts as global, but that are
# deprecated, local-use or never routed on the internet.
_REFUSED_V6 = (
    (ipaddress.IPv6Network("::/96"), "an IPv4-compatible address (deprecated, RFC 4291)"),
    (ipaddress.IPv6Network("64:ff9b:1::/48"), "a local-use NAT64 address (RFC 8215)"),
    (ipaddress.IPv6Network("fec0::/10"), "a site-local address (deprecated, RFC 3879)"),
    (ipaddress.IPv6Network("3ffe::/16"), "a 6bone address (returned, RFC 3701)"),
    (ipaddress.IPv6Network("3fff::/20"), "a documentation address (RFC 9637)"),
    (ipaddress.IPv6Network("5f00::/16"), "an SRv6 segment identifier (RFC 9602)"),
    (ipaddress.IPv6Network("2001:10::/28"), "an ORCHID address (deprecated, RFC 5156)"),
)
_REFUSED_V4 = (
    (ipaddress.IPv4Network("192.88.99.0/24"), "a 6to4 relay address (deprecated, RFC 7526)"),
)


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(address.split("%", 1)[0])


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """(the form, the IPv4 address) an IPv6 address carries, if any."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        return "an IPv4-mapped address", ip.ipv4_mapped
    if ip in _SIIT:
        return "an IPv4-translated (SIIT) address", low32
    if ip in _NAT64:
        return "a NAT64 address", low32
    if ip in _COMPATIBLE and int(ip) > 1:  # :: and ::1 are themselves
        return "an IPv4-compatible address", low32
    if ip.sixtofour is not None:
        return "a 6to4 address", ip.sixtofour
    if ip.teredo is not None:
        return "a Teredo address", ip.teredo[1]
    return None


def _refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return next((name for network, name in _REFUSED_V4 if ip in network), None)
    return next((name for network, name in _REFUSED_V6 if ip in network and int(ip) > 1), None)


def is_public(address: str) -> bool:
    ip = _parse(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if _refused(ip) is not None:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded[1]
    return ip.is_global and not ip.is_multicast and _refused(ip) is None


def describe(address: str) -> str:
    """Which kind of non-public address this is, for the message."""
    ip = _parse(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        refused = _refused(ip)
        if embedded is not None:
            form, inner = embedded
            return f"{refused or form} of {inner}, {_kind(inner)}"
        if refused is not None:
            return refused
    return _kind(ip)


def _kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    refused = _refused(ip)
    if refused is not None:
        return refused
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
    return "a non-public address" if not ip.is_global else "a public address"


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
