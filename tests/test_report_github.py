"""`--format github`, read back the way the Actions runner reads a step's output.

The parser below is a port of actions/runner `ActionCommand.TryParseV2` (`::name k=v::data`
at the start of a trimmed line) and `TryParse` (the legacy `##[name k=v]data`, anywhere in a
line), with their unescaping. Every annotation is checked against the JSON report of the
same run, and hostile names, URLs and file names must not add, split or end any command.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rollouts_plugin_lint.model import Finding, Severity, Span
from rollouts_plugin_lint.printable import GuardedStream, printable
from rollouts_plugin_lint.report.github import (
    SUMMARY_LIMIT,
    annotation,
    escape_data,
    escape_property,
    markdown_text,
)
from rollouts_plugin_lint.rules import RULES
from tests.conftest import Runner
from tests.hostile.helpers import run_cli

# --- the runner's side ------------------------------------------------------------------

# Commands the runner registers (ActionCommandManager and its extensions).
REGISTERED = {
    "error",
    "warning",
    "notice",
    "debug",
    "group",
    "endgroup",
    "echo",
    "add-mask",
    "add-matcher",
    "remove-matcher",
    "set-output",
    "save-state",
    "set-env",
    "add-path",
    "stop-commands",
}
# (token, replacement) in the runner's order: `%25` is unescaped last.
DATA_ESCAPES = [("\r", "%0D"), ("\n", "%0A"), ("%", "%25")]
PROPERTY_ESCAPES = [("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C"), ("%", "%25")]
LEGACY_ESCAPES = [(";", "%3B"), ("\r", "%0D"), ("\n", "%0A"), ("]", "%5D"), ("%", "%25")]


@dataclass
class Command:
    name: str
    properties: dict[str, str]
    data: str


def unescape(text: str, mappings: list[tuple[str, str]]) -> str:
    for token, replacement in mappings:
        text = text.replace(replacement, token)
    return text


def dotnet_trim_start(text: str) -> str:
    """`string.TrimStart()`: drops what .NET `char.IsWhiteSpace` calls white space."""
    index = 0
    while index < len(text) and (
        text[index] in "\t\n\x0b\x0c\r\x85\xa0"
        or unicodedata.category(text[index]) in ("Zs", "Zl", "Zp")
    ):
        index += 1
    return text[index:]


def _split_pair(text: str) -> list[str]:
    # Split('=', count: 2, RemoveEmptyEntries)
    return [part for part in text.split("=", 1) if part]


def parse_v2(line: str) -> Command | None:
    message = dotnet_trim_start(line)
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    info = message[2:end]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    if name.lower() not in REGISTERED:
        return None
    properties: dict[str, str] = {}
    if space > 0:
        for item in info[space + 1 :].strip().split(","):
            pair = _split_pair(item) if item else []
            if len(pair) == 2:
                properties[pair[0].lower()] = unescape(pair[1], PROPERTY_ESCAPES)
    return Command(name.lower(), properties, unescape(message[end + 2 :], DATA_ESCAPES))


def parse_v1(line: str) -> Command | None:
    start = line.find("##[")
    if start < 0:
        return None
    bracket = line.find("]", start)
    if bracket < 0:
        return None
    info = line[start + 3 : bracket]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    if name.lower() not in REGISTERED:
        return None
    properties: dict[str, str] = {}
    if space > 0:
        for item in info[space + 1 :].split(";"):
            pair = _split_pair(item) if item else []
            if len(pair) == 2:
                properties[pair[0].lower()] = unescape(pair[1], LEGACY_ESCAPES)
    return Command(name.lower(), properties, unescape(line[bracket + 1 :], LEGACY_ESCAPES))


def runner_lines(output: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", output)  # .NET ReadLine


def runner_commands(output: str) -> list[Command]:
    commands = []
    for line in runner_lines(output):
        command = parse_v2(line) or parse_v1(line)
        if command:
            commands.append(command)
    return commands


# --- helpers ----------------------------------------------------------------------------

# Static checks only (no network, no cache), so two runs over the same files always agree.
STATIC = ("--offline", "--no-cache")


def json_report(runner: Runner, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = runner.run("--format", "json", *STATIC, *args)
    assert code in (0, 1), err
    return code, json.loads(out)


LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def expected_annotation(finding: dict[str, Any], file: str) -> Command:
    """What the runner must read for a finding of the JSON report."""
    properties = {
        "file": file,
        "line": str(finding["line"]),
        "endline": str(finding["end_line"]),
        "title": f"{finding['rule']}: {RULES[finding['rule']].summary}",
    }
    if finding["end_line"] == finding["line"]:
        properties["col"] = str(finding["column"])
        # GitHub's endColumn is the last character; the JSON end_column is exclusive.
        properties["endcolumn"] = str(max(finding["end_column"] - 1, finding["column"]))
    data = finding["message"] + (f"\nFix: {finding['hint']}" if finding["hint"] else "")
    # Control characters other than line breaks are shown escaped, as in the text report,
    # and the legacy command prefix as everywhere in the log.
    shown = printable(data, None, keep_newlines=True).replace("##[", "##\\u005b")
    return Command(LEVEL[finding["severity"]], properties, shown)


def run_both(runner: Runner, *args: str) -> tuple[int, str, dict[str, Any]]:
    code, report = json_report(runner, *args)
    github_code, out, err = runner.run("--format", "github", *STATIC, *args)
    assert github_code == code, err
    return code, out, report


def annotations(commands: list[Command]) -> list[Command]:
    return [c for c in commands if c.name in ("error", "warning", "notice")]


@pytest.fixture
def workspace(runner: Runner, monkeypatch: pytest.MonkeyPatch) -> Path:
    """GITHUB_WORKSPACE one level above the working directory, as in a monorepo job."""
    monkeypatch.setenv("GITHUB_WORKSPACE", str(runner.root.parent))
    return runner.root.parent


LOC = "https://github.com/o/r/releases/download/v1.0.0/p-linux-amd64"
VALUES = (
    "controller:\n"
    "  trafficRouterPlugins:\n"
    "    - name: gatewayAPI\n"  # name-format
    f"      location: {LOC}\n"  # missing-sha256
    "  stepPlugins:\n"
    "    - name: a/step\n"
    "      location: file:///plugins/step\n"  # file-location (note)
    "      args: --x\n"  # schema, with a hint
)


# --- tests ------------------------------------------------------------------------------


def test_every_annotation_matches_the_json_report(runner: Runner, workspace: Path) -> None:
    runner.write("values.yaml", VALUES)
    code, out, report = run_both(runner, "values.yaml")
    assert code == 1
    got = annotations(runner_commands(out))
    findings = sorted(report["findings"], key=lambda f: ["error", "warning", "note"].index(
        f["severity"]))  # fmt: skip
    assert got == [expected_annotation(f, f"project/{f['path']}") for f in findings]
    assert {f["severity"] for f in findings} == {"error", "warning", "note"}


def test_the_text_report_sits_in_one_collapsed_group(runner: Runner) -> None:
    runner.write("values.yaml", VALUES)
    _, text, _ = runner.run(*STATIC, "values.yaml")
    _, out, _ = runner.run(*STATIC, "--format", "github", "values.yaml")
    lines = out.splitlines()
    assert lines[0] == "::group::rollouts-plugin-lint: full report"
    end = lines.index("::endgroup::")
    assert lines[1:end] == text.splitlines()
    commands = runner_commands(out)
    assert [c.name for c in commands[:2]] == ["group", "endgroup"]


def test_github_is_the_default_format_in_actions(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.write("values.yaml", VALUES)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    _, out, _ = runner.run(*STATIC, "values.yaml")
    assert any(c.name == "error" for c in runner_commands(out))


HOSTILE_DIR = "::error file=forged.yaml,line=1::forged, %0A"
HOSTILE = (
    "controller:\n"
    "  trafficRouterPlugins:\n"
    '    - name: "evil/a%0A::error file=forged.yaml,line=1::forged%2C"\n'
    '      location: "https://evil.test/x,line=1,title=t::y%0A::endgroup::"\n'
    '    - name: "##[error]forged"\n'
    '      location: "https://evil.test/##[warning file=forged.yaml]forged"\n'
    '      disabled: "true\\n::endgroup::\\n  ::error title=forged::forged\\n##[error]forged"\n'
    '    - name: "evil/b\\n::warning::forged\\n\\u3000::notice::forged"\n'
    "      location: ''\n"
    '    - name: "::stop-commands::pwned"\n'
    '      location: "http://evil.test/::endgroup::\\n##[endgroup]"\n'
)


def test_hostile_names_urls_and_paths_cannot_forge_or_split_commands(
    runner: Runner, workspace: Path
) -> None:
    runner.write(f"{HOSTILE_DIR}/values.yaml", HOSTILE)
    code, out, report = run_both(runner, ".")
    assert code == 1
    commands = runner_commands(out)
    findings = report["findings"]
    assert findings and all(f["path"] == f"{HOSTILE_DIR}/values.yaml" for f in findings)
    assert any("\n" in (f["hint"] or "") for f in findings)  # a hint spanning lines
    # Exactly our commands: the group, then one annotation per finding, nothing forged.
    assert [c.name for c in commands[:2]] == ["group", "endgroup"]
    assert len(commands) == 2 + len(findings)
    by_severity = sorted(findings, key=lambda f: ["error", "warning", "note"].index(
        f["severity"]))  # fmt: skip
    assert commands[2:] == [expected_annotation(f, f"project/{f['path']}") for f in by_severity]
    # Nothing in the log group looks like a command to the runner.
    lines = runner_lines(out)
    group = lines[1 : lines.index("::endgroup::")]
    assert not [line for line in group if parse_v2(line) or parse_v1(line)]
    assert any(":\\u003aendgroup::" in line for line in group)
    assert any("##\\u005berror]" in line for line in group)


def test_control_characters_never_reach_the_log(runner: Runner) -> None:
    runner.write(
        "values.yaml",
        'controller:\n  trafficRouterPlugins:\n    - name: "a\\rb\\e[2J"\n      location: x\n',
    )
    _, out, _ = runner.run(*STATIC, "--format", "github", ".")
    assert "\r" not in out and "\x1b" not in out
    (name_format,) = [
        c for c in runner_commands(out) if "name-format" in c.properties.get("title", "")
    ]
    assert "a\\rb\\x1b[2J" in name_format.data


def test_ten_annotations_per_level_then_one_notice_saying_where_the_rest_are(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # 12 errors (names without namespace) and 12 notes (file:// locations), in two files.
    entries = "".join(
        f"    - name: bad{i}\n      location: file:///plugins/p{i}\n" for i in range(6)
    )
    runner.write("b.yaml", "controller:\n  stepPlugins:\n" + entries)
    runner.write("a.yaml", "controller:\n  stepPlugins:\n" + entries.replace("bad", "odd"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    _, out, report = run_both(runner, "--sarif-file", "out.sarif", ".")
    shown = annotations(runner_commands(out))
    errors = [c for c in shown if c.name == "error"]
    notices = [c for c in shown if c.name == "notice"]
    assert len(errors) == 10 and len(notices) == 10  # the runner's cap, never passed
    # The most important first: errors by file and line.
    first_errors = [f for f in report["findings"] if f["severity"] == "error"][:10]
    assert errors == [expected_annotation(f, f["path"]) for f in first_errors]
    assert [c.properties["file"] for c in errors] == ["a.yaml"] * 6 + ["b.yaml"] * 4
    # Nine notes and, last, the notice about the 3 + 2 findings left out.
    overflow = notices[-1]
    assert "file" not in overflow.properties
    assert overflow.properties["title"] == "rollouts-plugin-lint: 5 more findings"
    assert overflow.data.startswith("5 of 24 findings (2 errors, 3 notes) have no annotation")
    assert "job summary" in overflow.data and "out.sarif" in overflow.data
    assert [c.properties["title"].split(":")[0] for c in notices[:-1]] == ["file-location"] * 9


def test_no_overflow_notice_when_everything_fits(runner: Runner) -> None:
    runner.write("values.yaml", VALUES)
    _, out, _ = runner.run(*STATIC, "--format", "github", ".")
    assert not [c for c in runner_commands(out) if "more finding" in c.properties.get("title", "")]


def test_counts_go_to_the_step_outputs(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    outputs = tmp_path / "outputs"
    outputs.write_text("before=1\n")
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    runner.write("values.yaml", VALUES)
    _, _, report = run_both(runner, ".")
    counts = report["summary"]
    assert counts["errors"] and counts["warnings"] and counts["notes"]
    assert outputs.read_text() == (
        f"before=1\nerrors={counts['errors']}\nwarnings={counts['warnings']}\n"
        f"notes={counts['notes']}\n"
    )


def summary_rows(markdown: str) -> list[list[str]]:
    """The cells of every table row, split where GitHub's table parser splits them."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| severity "):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            rows.append([cell.strip() for cell in cells])
    return rows


def test_step_summary_lists_every_finding_by_plugin_with_its_fix(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workspace: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step output\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    runner.write("values.yaml", VALUES)
    _, report = json_report(runner, ".")
    runner.run(*STATIC, "--format", "github", ".")
    markdown = summary.read_text()
    assert markdown.startswith("earlier step output\n### rollouts-plugin-lint: 2 errors, ")
    assert "#### Plugin a/step (stepPlugins)" in markdown
    assert "#### Plugin gatewayAPI (trafficRouterPlugins)" in markdown
    rows = summary_rows(markdown)
    assert len(rows) == len(report["findings"])
    for finding in report["findings"]:
        place = f"project/{finding['path']}:{finding['line']}:{finding['column']}"
        row = next(r for r in rows if r[1] == f"`{finding['rule']}`" and r[2] == place)
        assert html.unescape(row[3]) == finding["message"]
        assert html.unescape(row[4]) == (finding["hint"] or "")


def plain(cell: str) -> str:
    """A cell without the character references and line breaks we write."""
    return re.sub(r"&#\d+;|&amp;|&lt;|&gt;|<br>", "", cell)


def test_step_summary_shows_hostile_markdown_as_text(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    name = "x|y`z <img src=x onerror=alert(1)> [a](https://evil.example) ![i](//e/t.png) @o #1 $x$"
    quoted = json.dumps(name + "\n| 9 |")
    runner.write(
        "values.yaml",
        f"controller:\n  trafficRouterPlugins:\n    - name: {quoted}\n      location: ''\n",
    )
    runner.run(*STATIC, "--format", "github", ".")
    markdown = summary.read_text()
    rows = summary_rows(markdown)
    assert rows and all(len(row) == 5 for row in rows)  # no cell split or added
    for row in rows:
        for cell in row[2:]:
            assert not set(plain(cell)) & set("<>`[]|@#$*_\n")
    assert "<img" not in markdown and "](" not in markdown.split("rule reference]")[1]


def test_step_summary_stays_under_the_runner_limit(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("x" * (SUMMARY_LIMIT - 3000))  # an earlier command used most of it
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    entries = "".join(
        f"    - name: bad{i}\n      location: file:///plugins/p{i}\n" for i in range(40)
    )
    runner.write("values.yaml", "controller:\n  stepPlugins:\n" + entries)
    runner.run(*STATIC, "--format", "github", ".")
    markdown = summary.read_text()
    assert SUMMARY_LIMIT - 3000 < len(markdown.encode()) <= SUMMARY_LIMIT
    rows = summary_rows(markdown)
    assert 0 < len(rows) < 80
    assert f"_{80 - len(rows)} more findings are not listed" in markdown


def test_a_full_summary_file_gets_nothing_more(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("x" * SUMMARY_LIMIT)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    runner.write("values.yaml", VALUES)
    runner.run(*STATIC, "--format", "github", ".")
    assert summary.stat().st_size == SUMMARY_LIMIT


def test_an_unwritable_summary_is_a_warning_not_a_crash(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "no" / "summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "outputs"))
    runner.write("values.yaml", VALUES)
    code, out, err = runner.run(*STATIC, "--format", "github", ".")
    assert code == 1 and annotations(runner_commands(out))
    assert err == (
        f"rollouts-plugin-lint: warning: {tmp_path}/no/summary.md: No such file or directory\n"
    )
    assert (tmp_path / "outputs").read_text().startswith("errors=")


def test_paths_are_relative_to_the_workspace(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.write("deploy/values.yaml", VALUES)
    monkeypatch.chdir(runner.root / "deploy")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(runner.root))
    _, out, _ = runner.run(*STATIC, "--format", "github", "values.yaml")
    files = {c.properties["file"] for c in annotations(runner_commands(out))}
    assert files == {"deploy/values.yaml"}


def test_a_clean_run_still_writes_summary_and_outputs(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "outputs"))
    runner.write("values.yaml", "controller:\n  trafficRouterPlugins: []\n")
    code, out, _ = runner.run(*STATIC, "--format", "github", ".")
    assert code == 0 and not annotations(runner_commands(out))
    assert "no problems found" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "outputs").read_text() == "errors=0\nwarnings=0\nnotes=0\n"


# --- properties over any text -----------------------------------------------------------

# Any text, and text made of the pieces of workflow commands, which random text rarely has.
text = st.text(st.characters(exclude_categories=("Cs",))) | st.lists(
    st.sampled_from(["::", "##[", "]", "error", "endgroup", "=", ",", "%", "%0A", "%25", " "])
    | st.sampled_from(["\u3000", "\t", "\r", "\n", "\r\n", "file=x", "stop-commands"])
    | st.text(max_size=2),
    max_size=12,
).map("".join)


@given(text)
def test_escaped_values_come_back_unchanged(value: str) -> None:
    assert unescape(escape_data(value), DATA_ESCAPES) == value
    assert unescape(escape_property(value), PROPERTY_ESCAPES) == printable(value, None)
    assert not [char for char in escape_property(value) if char in ":," or not char.isprintable()]


def guard_writes(pieces: list[str]) -> str:
    written = io.StringIO()
    stream = GuardedStream(written, neutralise=True)
    for piece in pieces:
        stream.write(piece)
    return written.getvalue()


@given(st.lists(text, max_size=6))
@example(["::endgroup::"])
@example([" \t\u3000::error file=x.yaml::forged"])
@example(["3 | x ##[warning]forged"])
@example(["::stop-commands::token"])
@example(["x\r", ":", ":error::forged\n#", "#", "[set-output name=a;]1"])
def test_no_line_through_the_guard_is_a_command(pieces: list[str]) -> None:
    whole = guard_writes(["".join(pieces)])
    assert guard_writes(pieces) == whole  # however the text is cut into writes
    for line, made_safe in zip(runner_lines("".join(pieces)), runner_lines(whole), strict=True):
        assert parse_v2(made_safe) is None and parse_v1(made_safe) is None
        if not line.lstrip().startswith("::") and "##[" not in line:
            assert made_safe == line  # ordinary lines are left alone


@given(path=text.filter(str.strip), message=text, hint=text)
def test_any_finding_is_exactly_one_annotation(path: str, message: str, hint: str) -> None:
    finding = Finding("schema", Severity.WARNING, Span(path, 3, 5, 3, 9), message, hint or None)
    line = annotation(finding, path)
    assert runner_lines(line) == [line]
    (command,) = runner_commands(line)
    assert command.name == "warning"
    assert command.properties == {
        "file": printable(path, None),
        "line": "3",
        "endline": "3",
        "col": "5",
        "endcolumn": "8",
        "title": f"schema: {RULES['schema'].summary}",
    }
    fix = f"\nFix: {printable(hint, None, keep_newlines=True)}" if hint else ""
    assert command.data == printable(message, None, keep_newlines=True) + fix


@given(text)
def test_markdown_cells_show_any_text_literally(value: str) -> None:
    cell = markdown_text(value)
    assert not set(plain(cell)) & set("|`*_[]\\~$@#<>\n")
    assert html.unescape(cell.replace("<br>", "\n")) == printable(value, None, keep_newlines=True)


def test_output_file_under_actions_holds_the_text_report_and_stdout_the_annotations(
    tmp_path: Path,
) -> None:
    """Workflow commands act only where the runner reads them (stdout); in a file they are
    dead text that `cat` would replay. A real process, with the environment a job has."""
    (tmp_path / "values.yaml").write_text(VALUES, encoding="utf-8")
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    env = {
        **os.environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
    }
    text = run_cli([*STATIC, "--format", "text", "values.yaml"], tmp_path, env)
    for format_flags in ((), ("--format", "github")):  # the default under Actions, and said
        outcome = run_cli(
            [*STATIC, *format_flags, "--output", "report.txt", "values.yaml"], tmp_path, env
        )
        assert outcome.code == 1, outcome.err
        written = (tmp_path / "report.txt").read_text("utf-8")
        assert written == text.out and "::" not in written
        assert not runner_commands(written)
        got = annotations(runner_commands(outcome.out))
        assert {c.name for c in got} == {"error", "warning", "notice"}
        assert {c.properties["file"] for c in got} == {"values.yaml"}
        assert "errors=" in outputs.read_text("utf-8") and summary.read_text("utf-8")
        outputs.unlink()
        summary.unlink()
