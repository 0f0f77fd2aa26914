"""Injection through what servers say and what a repository's config file says: workflow
commands (`::error`, `%0A`, the legacy `##[error]`), terminal escape sequences (CSI, OSC 8
hyperlinks, the 8-bit CSI, a right-to-left override), Markdown and HTML for the step
summary, quotes and backslashes for SARIF. Every format is read back the way its reader
reads it (the Actions runner's parser of tests/test_report_github.py, a JSON parser, the
SARIF schema).

Already elsewhere: hostile plugin names, URLs and file names in annotations and the log
group (tests/test_report_github.py), control characters in names in text output
(tests/test_cli.py), Markdown in names in the step summary, quotes in names in SARIF
(tests/test_report_sarif.py). Here the text comes from the other side: server bodies,
titles, redirects and reason phrases, and the config file.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import Runner
from tests.servers import RawServer, Request, respond, serving
from tests.test_report_github import annotations, parse_v1, parse_v2, runner_commands, runner_lines
from tests.test_report_sarif import SCHEMA_FILE, SCHEMA_SHA256

# Markdown and HTML first: bodies are quoted in part, and this part must survive the cut.
PAYLOAD = (
    '<img src=x onerror=alert(1)> [a](https://evil.example) @admin #1 "q" \\b '
    "x\n::error file=values.yaml,line=1::forged%0A::warning::w\r##[error]legacy"
    "\x1b[2J\x1b]8;;https://evil.example\x07link\x1b]8;;\x07\x9b31m\u202egnp.exe\n  ::notice::x"
)
CONTROLS = ("\x1b", "\x07", "\r", "\x9b", "\u202e", "\x00")
FORMATS = ("text", "json", "github", "sarif")


def hostile(conn: socket.socket, request: Request) -> None:
    if request.target == "/json":  # an API-style error, quoted as its `message`
        body = json.dumps({"message": PAYLOAD}).encode()
        respond(conn, 404, body, {"Content-Type": "application/json"})
    elif request.target == "/html":  # a page, quoted by its title
        title = PAYLOAD.replace("<", "&lt;")
        page = f"<html><title>{title}</title></html>".encode()
        respond(conn, 200, page, {"Content-Type": "text/html"})
    elif request.target == "/text":  # a text file where the binary should be
        respond(conn, 200, PAYLOAD.encode())
    elif request.target == "/redirect":  # a redirect to a non-http URL, named in the message
        respond(conn, 302, b"", {"Location": "javascript:alert(1)//%0A::error::forged"})
    else:  # a reason phrase of its own
        respond(conn, 404, PAYLOAD.encode(), reason="Not Found ::error::forged")


@pytest.fixture
def server(runner: Runner) -> Iterator[RawServer]:
    with serving(hostile) as running:
        entries = "".join(
            f"    - name: acme/p{index}\n      location: {running.url(path)}\n"
            for index, path in enumerate(["/json", "/html", "/text", "/redirect", "/reason"])
        )
        runner.write("values.yaml", f"controller:\n  trafficRouterPlugins:\n{entries}")
        yield running


def run(runner: Runner, output_format: str) -> tuple[str, str]:
    code, out, err = runner.run(
        "--format", output_format, "--allow-private-addresses", "--no-cache", "--timeout", "5",
        "values.yaml",
    )  # fmt: skip
    assert code == 1, err
    return out, err


def json_findings(runner: Runner) -> list[dict[str, Any]]:
    out, _ = run(runner, "json")
    findings: list[dict[str, Any]] = json.loads(out)["findings"]
    return findings


def test_server_words_reach_the_report_as_words(runner: Runner, server: RawServer) -> None:
    """What the server said is reported (the reader must see it to judge it)."""
    quoting = ("download-failed", "not-executable")
    verdicts = [f for f in json_findings(runner) if f["rule"] in quoting]
    assert len(verdicts) == 4
    for finding in verdicts:
        assert "@admin" in finding["message"], finding["message"]


@pytest.mark.parametrize("output_format", FORMATS)
def test_no_terminal_control_character_reaches_any_output(
    runner: Runner, server: RawServer, output_format: str
) -> None:
    out, err = run(runner, output_format)
    for text in (out, err):
        found = [char for char in CONTROLS if char in text]
        assert not found, (found, output_format)


def test_server_text_cannot_forge_or_split_workflow_commands(
    runner: Runner, server: RawServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    findings = json_findings(runner)
    out, err = run(runner, "github")
    commands = runner_commands(out + "\n" + err)
    assert [c.name for c in commands[:2]] == ["group", "endgroup"]
    assert len(annotations(commands)) == len(commands) - 2 == len(findings)
    assert all("forged" not in c.properties.get("title", "") for c in commands)
    lines = runner_lines(out)
    group = lines[1 : lines.index("::endgroup::")]
    assert not [line for line in group if parse_v2(line) or parse_v1(line)]
    # The step summary shows the server's Markdown and HTML as text.
    markdown = summary.read_text(encoding="utf-8")
    table = markdown.split("rule reference](", 1)[1]
    for raw in ("<img", "](", "@admin", "\n::"):
        assert raw not in table, raw
    # An issue reference, not the entities our escaping writes (`&#124;` is a `|`).
    assert not re.search(r"(?<!&)#1", table), table


def test_sarif_keeps_quotes_and_backslashes_and_stays_valid(
    runner: Runner, server: RawServer
) -> None:
    findings = json_findings(runner)
    out, _ = run(runner, "sarif")
    data = Path(SCHEMA_FILE).read_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256
    validator = jsonschema.Draft4Validator(json.loads(data))
    log = json.loads(out)
    assert [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)] == []
    results = log["runs"][0]["results"]
    assert len(results) == len(findings)
    messages = [r["message"]["text"] for r in results]
    assert any('"q" \\b' in message for message in messages), messages


# --- the repository's own config file --------------------------------------------------------

HOSTILE_KEY = "x\n::error file=values.yaml,line=1::forged \x1b[2J\x1b]0;title\x07"


@pytest.mark.parametrize(
    "config",
    [
        {HOSTILE_KEY: 1},
        {"severity": {HOSTILE_KEY: "error"}},
        {"severity": {HOSTILE_KEY: 5}},
    ],
    ids=["unknown-key", "unknown-rule", "schema-error-path"],
)
def test_config_file_text_cannot_forge_commands_on_stderr(
    runner: Runner, config: dict[str, Any]
) -> None:
    """`.rollouts-plugin-lint.yaml` comes with the pull request, like the files it checks."""
    runner.write(".rollouts-plugin-lint.yaml", json.dumps(config))
    runner.write("values.yaml", "controller: {}\n")
    code, out, err = runner.run("--format", "github", "values.yaml")
    assert code == 2
    assert runner_commands(out + "\n" + err) == []
    assert not [char for char in CONTROLS if char in err]
