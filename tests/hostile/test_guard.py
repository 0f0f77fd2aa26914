"""The address guard on every form an internal IPv4 address can wear inside IPv6 (mapped,
compatible, SIIT, NAT64 well-known and local-use, 6to4, Teredo), and on ranges that are
deprecated or never routed; then one refusal end to end, on real sockets, through an
injected DNS answer (this machine's resolver cannot be made to give one)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rollouts_plugin_lint.fetch.client import Downloader, FetchOptions, make_client
from rollouts_plugin_lint.fetch.guard import describe, is_public
from rollouts_plugin_lint.model import Artifact
from tests.servers import respond, serving

# (address, public?, words the message must use)
ADDRESSES = [
    ("8.8.8.8", True, "public"),
    ("2606:4700::1111", True, "public"),
    ("64:ff9b::808:808", True, "NAT64 address of 8.8.8.8"),
    ("::ffff:8.8.8.8", True, "IPv4-mapped"),
    ("::ffff:0:808:808", True, "SIIT"),
    ("2002:808:808::1", True, "6to4 address of 8.8.8.8"),
    ("127.0.0.1", False, "loopback"),
    ("169.254.169.254", False, "the cloud metadata service"),
    ("fd00:ec2::254", False, "the cloud metadata service"),
    ("::ffff:127.0.0.1", False, "IPv4-mapped address of 127.0.0.1, a loopback"),
    ("::ffff:169.254.169.254", False, "the cloud metadata service"),
    ("64:ff9b::7f00:1", False, "NAT64 address of 127.0.0.1, a loopback"),
    ("64:ff9b::a9fe:a9fe", False, "NAT64 address of 169.254.169.254, the cloud metadata"),
    ("64:ff9b::a00:1", False, "NAT64 address of 10.0.0.1, a private"),
    ("64:ff9b:1::a00:1", False, "local-use NAT64"),
    ("64:ff9b:1:ffff::808:808", False, "local-use NAT64"),
    ("::127.0.0.1", False, "IPv4-compatible address (deprecated, RFC 4291) of 127.0.0.1"),
    ("::10.0.0.1", False, "IPv4-compatible"),
    ("::8.8.8.8", False, "IPv4-compatible"),
    ("::ffff:0:7f00:1", False, "SIIT) address of 127.0.0.1, a loopback"),
    ("::ffff:0:a9fe:a9fe", False, "the cloud metadata service"),
    ("2002:7f00:1::", False, "6to4 address of 127.0.0.1"),
    ("2002:a9fe:a9fe::1", False, "the cloud metadata service"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", False, "Teredo address of 127.0.0.1"),
    ("fec0::1", False, "site-local"),
    ("feff:ffff::1", False, "site-local"),
    ("3ffe:831f::1", False, "6bone"),
    ("3fff::1", False, "documentation"),
    ("5f00::1", False, "SRv6"),
    ("2001:10::1", False, "ORCHID"),
    ("192.88.99.1", False, "6to4 relay"),
    ("fe80::1%eth0", False, "link-local"),
    ("::1", False, "loopback"),
    ("::", False, "unspecified"),
    ("10.1.2.3", False, "private"),
    ("100.64.0.1", False, "non-public"),
    ("ff02::1", False, "multicast"),
]


@pytest.mark.parametrize(("address", "public", "words"), ADDRESSES)
def test_is_public(address: str, public: bool, words: str) -> None:
    assert is_public(address) is public
    assert words in describe(address), describe(address)


def test_a_nat64_answer_for_loopback_is_refused_before_connecting(tmp_path: Path) -> None:
    """A name whose only answer is 64:ff9b::7f00:1 (what a DNS64 resolver gives for a
    name that points at 127.0.0.1): refused at the hop check, before any socket."""
    resolved: list[str] = []

    async def dns64(host: str, _port: int) -> list[str]:
        resolved.append(host)
        return ["64:ff9b::7f00:1"]

    options = FetchOptions(timeout=2, resolver=dns64)
    with serving(lambda conn, _r: respond(conn, 200, b"internal")) as victim:

        async def go() -> Artifact:
            async with make_client(options, 1) as client:
                url = f"http://plugins.acme-mirror.net:{victim.port}/p"
                return await Downloader(client, options, None, tmp_path).fetch(url)

        artifact = asyncio.run(go())
    assert artifact.problem is not None, artifact
    assert artifact.problem.rule == "blocked-address", artifact.problem
    assert "NAT64 address of 127.0.0.1, a loopback address" in artifact.problem.message
    assert resolved and victim.requests == []
