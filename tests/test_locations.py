"""Location semantics: Go's url.ParseRequestURI, file:// resolution, asset platforms.
Expected Go messages come from running the controller's own calls (FACTS.md section 2)."""

from __future__ import annotations

import pytest

from rollouts_plugin_lint.checks.locations import (
    LocationError,
    asset_platform,
    parse_request_uri,
    resolve_file_location,
    unpinned_reason,
    web_page_problem,
)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty url"),
        ("plugin-bin/x", "invalid URI for request"),
        (" https://h/x", "invalid URI for request"),
        ("https://h/x\n", "net/url: invalid control character in URL"),
        ("https://h/\tx", "net/url: invalid control character in URL"),
        (":foo", "missing protocol scheme"),
        ("https://h:port/x", 'invalid port ":port" after host'),
        ("https://a b/x", 'invalid character " " in host name'),
        ("https://h/%zz", 'invalid URL escape "%zz"'),
    ],
)
def test_go_parse_errors(raw: str, message: str) -> None:
    with pytest.raises(LocationError) as error:
        parse_request_uri(raw)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("raw", "scheme", "host", "path", "opaque"),
    [
        ("HTTPS://GitHub.com/o/r", "https", "GitHub.com", "/o/r", ""),
        ("https://u:p@h:8443/a%20b?x=1", "https", "h:8443", "/a b", ""),
        ("file:///abs/x", "file", "", "/abs/x", ""),
        ("file://./x", "file", ".", "/x", ""),
        ("file:x", "file", "", "", "x"),
        ("/abs/path", "", "", "/abs/path", ""),
        ("https://[::1]:80/x", "https", "[::1]:80", "/x", ""),
    ],
)
def test_go_parse_accepts(raw: str, scheme: str, host: str, path: str, opaque: str) -> None:
    location = parse_request_uri(raw)
    assert (location.scheme, location.host, location.path, location.opaque) == (
        scheme,
        host,
        path,
        opaque,
    )


@pytest.mark.parametrize(
    ("raw", "resolved"),
    [
        ("file:///abs/x", "/abs/x"),
        ("file:/abs/x", "/abs/x"),
        ("file://./x", "/home/argo-rollouts/x"),
        ("file://plugin-bin/x", "/home/argo-rollouts/plugin-bin/x"),
        ("file://localhost/x", "/home/argo-rollouts/localhost/x"),
        ("file:///a%20b", "/a b"),
        ("file:x", None),
    ],
)
def test_file_resolution_matches_the_controller(raw: str, resolved: str | None) -> None:
    assert resolve_file_location(parse_request_uri(raw)) == resolved


@pytest.mark.parametrize(
    ("name", "os_name", "arch"),
    [
        ("gatewayapi-plugin-linux-amd64", "linux", "amd64"),
        ("gateway-api-plugin-darwin-arm64", "darwin", "arm64"),
        ("gatewayapi-plugin-windows-amd64.exe", "windows", "amd64"),
        ("metric-plugin_linux_amd64", "linux", "amd64"),
        ("plugin_Linux_x86_64", "linux", "amd64"),
        ("plugin-linux-aarch64", "linux", "arm64"),
        ("plugin-linux-armv7", "linux", "arm"),
        ("plugin.exe", "windows", None),
        ("rollouts-plugin-trafficrouter-openshift", None, None),
        ("hmac-tool", None, None),
        ("gatewayapi-plugin-amd64", None, "amd64"),
    ],
)
def test_asset_platform(name: str, os_name: str | None, arch: str | None) -> None:
    platform = asset_platform(name)
    assert (platform.os, platform.arch) == (os_name, arch)


def test_github_pages_and_moving_targets() -> None:
    blob = web_page_problem(parse_request_uri("https://github.com/o/r/blob/v1/bin/x"))
    assert blob and blob.hint == "location: https://raw.githubusercontent.com/o/r/v1/bin/x"
    tag = web_page_problem(parse_request_uri("https://github.com/o/r/releases/tag/v1"))
    assert tag and "releases/download/v1/" in (tag.hint or "")
    assert (
        web_page_problem(parse_request_uri("https://github.com/o/r/releases/download/v1/x")) is None
    )
    latest = unpinned_reason(parse_request_uri("https://github.com/o/r/releases/latest/download/x"))
    assert latest and latest[1] == "location: https://github.com/o/r/releases/download/<tag>/x"
    assert (
        unpinned_reason(parse_request_uri("https://github.com/o/r/releases/download/v1/x")) is None
    )


# Go 1.24.9 (argo-rollouts v1.9.1's go.mod) on hosts: %-escapes only for bytes >= 0x80,
# brackets only around an IPv6 address (the CVE-2025-47912 fix of Go 1.24.8). Checked
# against Go by tests/differential.
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("https://ex%41mple.com/x", 'invalid URL escape "%41"'),
        ("https://ex%7F.com/x", 'invalid URL escape "%7F"'),
        ("https://ex%zz.com/x", 'invalid URL escape "%zz"'),
        ("https://[1.2.3.4]/x", "invalid IP-literal"),
        ("https://a[b]/x", "invalid IP-literal"),
        ("https://[foo]/x", 'invalid host: ParseAddr("foo"): unable to parse IP'),
    ],
)
def test_go_1_24_refuses_these_hosts(raw: str, message: str) -> None:
    with pytest.raises(LocationError) as error:
        parse_request_uri(raw)
    assert str(error.value) == message


def test_the_request_target_star_parses_as_in_go() -> None:
    location = parse_request_uri("*")
    assert (location.scheme, location.host, location.path) == ("", "", "*")


def test_messages_quote_as_go_does() -> None:
    from rollouts_plugin_lint.checks.locations import go_quote

    assert go_quote("\thttps://h/x\n") == '"\\thttps://h/x\\n"'
    assert go_quote("a\x00\x7f\u200bé") == '"a\\x00\\x7f\\u200bé"'


def test_a_port_above_65535_fails_when_the_controller_dials() -> None:
    from rollouts_plugin_lint.checks.locations import dial_problem

    assert dial_problem(parse_request_uri("https://h:70000/x")) == (
        "dial tcp: address 70000: invalid port"
    )
    assert dial_problem(parse_request_uri("https://h:000443/x")) is None
    assert dial_problem(parse_request_uri("https://[::1]:65536/x")) is not None
    assert dial_problem(parse_request_uri("https://h:99999999999999999999/x")) is not None


@pytest.mark.parametrize(
    ("raw", "namespaces", "directory"),
    [("file://", set(), True), ("file:///", set(), True), ("file:///tmp", set(), True),
     ("file:///home/argo-rollouts/plugin-bin/acme", {"acme"}, True),
     ("file:///home/argo-rollouts/plugin-bin", set(), True),
     ("file:///home/argo-rollouts/plugin-bin/acme", set(), False),
     ("file:///plugins/p", set(), False)],
)  # fmt: skip
def test_a_file_location_that_is_a_directory_fails_to_copy(
    raw: str, namespaces: set[str], directory: bool
) -> None:
    from rollouts_plugin_lint.checks.locations import copy_source_problem

    source = resolve_file_location(parse_request_uri(raw))
    assert source is not None
    problem = copy_source_problem(source, namespaces)
    assert (problem == f"{source} is not a regular file") if directory else problem is None


def test_the_downloader_rules_for_file_locations_and_digests() -> None:
    from rollouts_plugin_lint.checks.locations import (
        downloader_ignores_headers,
        sha256_length_problem,
    )

    assert downloader_ignores_headers(parse_request_uri("file:///plugins/p"))
    assert not downloader_ignores_headers(parse_request_uri("https://h/p"))
    assert sha256_length_problem("a" * 64 + "\n") is not None
    assert sha256_length_problem("a" * 64) is None
