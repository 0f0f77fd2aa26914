"""Every download finding says what to do next: real files from a real loopback server,
checked at their rule, line and column, with the fix or next step their hint gives."""

from __future__ import annotations

import json
import socket
from typing import Any

from tests.conftest import Runner, at
from tests.inspect_fixtures import (
    PF_R,
    PF_W,
    PF_X,
    PT_LOAD,
    Elf,
    ElfSection,
    ElfSegment,
    inline_buildinfo,
)
from tests.servers import respond, serving


def lint_location(runner: Runner, location: str) -> tuple[str, dict[str, Any]]:
    text = f"controller:\n  trafficRouterPlugins:\n    - name: a/b\n      location: {location}\n"
    runner.write("values.yaml", text)
    code, out, err = runner.run(
        "--format", "json", "--allow-private-addresses", "--no-cache", "--timeout", "5",
        "values.yaml",
    )  # fmt: skip
    assert code == 1, err
    return text, json.loads(out)


def the(report: dict[str, Any], rule: str) -> dict[str, Any]:
    (finding,) = (f for f in report["findings"] if f["rule"] == rule)
    return finding


def lint_body(runner: Runner, body: bytes, rule: str) -> dict[str, Any]:
    with serving(lambda conn, _request: respond(conn, 200, body)) as server:
        location = server.url("/plugin-linux-amd64")
        text, report = lint_location(runner, location)
    finding = the(report, rule)
    assert (finding["line"], finding["column"]) == at(text, location)
    return finding


def test_a_refused_connection_names_the_port_and_the_linters_own_network(
    runner: Runner,
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    location = f"http://127.0.0.1:{port}/plugin-linux-amd64"
    text, report = lint_location(runner, location)

    finding = the(report, "unreachable")

    assert (finding["line"], finding["column"]) == at(text, location)
    assert f"cannot connect to 127.0.0.1 port {port}" in finding["message"]
    hint = finding["hint"]
    assert "the linter's own network" in hint
    assert "says nothing about whether the controller can download" in hint
    for named in ("--offline", "--lenient", "HTTPS_PROXY", "NO_PROXY"):
        assert named in hint


def test_a_script_says_what_to_point_at_instead(runner: Runner) -> None:
    finding = lint_body(runner, b'#!/bin/sh\nexec /usr/local/bin/plugin "$@"\n', "wrong-os")

    assert "no shell" in finding["message"]
    assert finding["hint"].startswith("point at the compiled linux binary the script starts")


def test_a_web_page_says_where_the_file_is(runner: Runner) -> None:
    page = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body></body></html>"
    finding = lint_body(runner, page, "not-executable")

    assert finding["hint"].startswith("the URL serves a web page: point at the file itself")


def test_unknown_bytes_say_how_to_see_what_the_url_serves(runner: Runner) -> None:
    finding = lint_body(runner, b"\x00\x01\x02\x03 not a format anyone knows" * 4, "not-executable")

    assert "curl -fsSL <location> | file -" in finding["hint"]


def test_another_go_program_says_to_use_the_plugins_own_asset(runner: Runner) -> None:
    tool = "path\tgithub.com/example/tool\nmod\tgithub.com/example/tool\tv1.0.0\th1:AAAA=\n"
    blob = inline_buildinfo(modinfo=tool + "build\tGOARCH=amd64\nbuild\tGOOS=linux\n")
    binary = Elf(
        segments=[
            ElfSegment(PT_LOAD, PF_R | PF_X, 0x401000, b"\x90" * 64),
            ElfSegment(PT_LOAD, PF_R | PF_W, 0x500000, bytes(48) + blob),
        ],
        sections=[ElfSection(".go.buildinfo", blob, 0x600000)],
    ).build()

    finding = lint_body(runner, binary, "not-a-plugin")

    assert "github.com/example/tool" in finding["message"]
    assert finding["hint"].startswith("point at the plugin's own release asset")
