"""Saying what was proven: the summary line of a run without errors counts what backs each
plugin, `-v` prints a line per plugin to stderr, `-vv` adds each request's outcome, and a
run with no plugin entry says so. Real files, a real loopback server, the real CLI."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Runner
from tests.inspect_fixtures import elf_with_inline_buildinfo
from tests.servers import RawServer, respond, serving

PLUGIN = elf_with_inline_buildinfo()  # a static linux/amd64 Go plugin
DIGEST = hashlib.sha256(PLUGIN).hexdigest()
PREFIX = "rollouts-plugin-lint: "


@pytest.fixture
def server() -> Iterator[RawServer]:
    with serving(lambda conn, _request: respond(conn, 200, PLUGIN)) as running:
        yield running


def write_values(runner: Runner, server: RawServer) -> None:
    runner.write(
        "values.yaml",
        "controller:\n  trafficRouterPlugins:\n"
        f"    - name: a/pinned\n      location: {server.url('/pinned-linux-amd64')}\n"
        f'      sha256: "{DIGEST}"\n'
        f"    - name: a/loose\n      location: {server.url('/loose-linux-amd64')}\n"
        "  stepPlugins:\n"
        "    - name: a/local\n      location: file:///plugins/local\n",
    )


def lint(runner: Runner, *args: str) -> tuple[int, str, str]:
    cache = str(runner.root.parent / "cache")
    return runner.run("--allow-private-addresses", "--cache-dir", cache, *args, "values.yaml")


def test_a_run_without_errors_says_what_it_verified(runner: Runner, server: RawServer) -> None:
    write_values(runner, server)

    code, out, _ = lint(runner)
    again, cached, _ = lint(runner)

    assert code == again == 0
    scope = "(3 plugin entries in 1 file checked)"
    findings = "0 errors, 3 warnings, 1 note"  # plain http twice, one unpinned, one file://
    assert out.splitlines()[-1] == (
        f"{findings}; 2 downloaded, 1 pinned and matching, 0 from cache, 1 not verified {scope}"
    )
    # The cache vouches for a pinned file only: the unpinned URL is asked again.
    assert cached.splitlines()[-1] == (
        f"{findings}; 1 downloaded, 1 pinned and matching, 1 from cache, 1 not verified {scope}"
    )


def test_verbose_prints_what_was_proven_per_plugin_to_stderr(
    runner: Runner, server: RawServer
) -> None:
    write_values(runner, server)

    _, quiet_out, quiet_err = lint(runner, "--no-cache")
    _, out, err = lint(runner, "--no-cache", "-v")

    assert out == quiet_out  # the report itself is the same
    assert PREFIX + "values.yaml" not in quiet_err
    lines = [line for line in err.splitlines() if line.startswith(PREFIX + "values.yaml")]
    facts = (
        "elf linux/amd64; static; plugin kind not found; go-plugin v1.6.3; "
        "argo-rollouts v1.8.3 => github.com/fork/argo-rollouts v1.8.3-x"
    )
    size = f"{len(PLUGIN):,} bytes"
    assert lines == [
        f"{PREFIX}values.yaml:3: a/pinned (trafficRouterPlugins): downloaded, {size}; {facts}; "
        "sha256 pinned and matching",
        f"{PREFIX}values.yaml:6: a/loose (trafficRouterPlugins): downloaded, {size}; {facts}; "
        "sha256 not pinned",
        f"{PREFIX}values.yaml:9: a/local (stepPlugins): not verified: a file:// location, read "
        "by the controller from its own filesystem",
    ]


def test_very_verbose_adds_each_requests_outcome(runner: Runner, server: RawServer) -> None:
    write_values(runner, server)

    lint(runner)
    _, _, err = lint(runner, "-vv")

    requests = [line for line in err.splitlines() if line.startswith(PREFIX + "  request:")]
    assert requests == [
        f"{PREFIX}  request: from cache, 0 requests, status 200, final host 127.0.0.1",
        f"{PREFIX}  request: not from cache, 1 request, status 200, final host 127.0.0.1",
        f"{PREFIX}  request: none (the location is not fetched)",
    ]


def test_a_hostile_name_is_shown_escaped(runner: Runner, tmp_path: Path) -> None:
    runner.write(
        "values.yaml",
        'controller:\n  trafficRouterPlugins:\n    - name: "a/\\e[2Jx"\n'
        "      location: file:///plugins/x\n",
    )
    _, _, err = runner.run("--offline", "-v", "values.yaml")
    assert "\x1b" not in err
    assert f"{PREFIX}values.yaml:3: a/\\x1b[2Jx (trafficRouterPlugins): not verified" in err


def test_a_run_without_plugin_entries_says_so(runner: Runner) -> None:
    runner.write("values.yaml", "controller:\n  trafficRouterPlugins: []\n")
    runner.write("other.yaml", "kind: ConfigMap\n")

    code, out, _ = runner.run("--offline", ".")

    assert code == 0
    assert out.splitlines()[-1].startswith("no plugin entries found in ")
