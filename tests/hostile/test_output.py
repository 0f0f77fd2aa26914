"""Every byte we print is safe and every output survives, on real processes and files:

- in GitHub Actions no line of any format, on stdout, in `--output` or on stderr, is a
  workflow command (`##[set-output ...]` anywhere, `::` at the head of a line), and JSON
  and SARIF still carry the exact text;
- file names that are not UTF-8 or hold ESC and BEL, characters a cp1252 pipe cannot hold,
  lone surrogates from a JSON input: every format is written, none crashes;
- a reader that goes away (`| head -1`) ends the run quietly.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from rich.console import Console

from rollouts_plugin_lint.report.progress import terminal_progress
from tests.hostile.helpers import Outcome, cli_command, run_cli
from tests.test_report_github import runner_commands

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FORMATS = ("text", "json", "github", "sarif")
OUR_COMMANDS = {"group", "endgroup", "error", "warning", "notice"}
LEGACY_OUTPUT = "##[set-output name=errors;]0"
LEGACY_STOP = "##[stop-commands]x"
# Printed at the head of a line by the text report, which starts each finding with its path.
COMMAND_PATH = "::warning::forged.yaml"
ENTRIES = (
    "controller:\n  trafficRouterPlugins:\n"
    f'    - name: "{LEGACY_OUTPUT}"\n'
    "      location: https://github.com/o/r/releases/download/v1/p-linux-amd64\n"
)


def environment(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def in_actions(args: list[str], cwd: Path) -> Outcome:
    outcome = run_cli(args, cwd, environment(GITHUB_ACTIONS="true"))
    outcome.assert_report()
    return outcome


@pytest.fixture
def hostile_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "values.yaml").write_text(ENTRIES, encoding="utf-8")
    (project / COMMAND_PATH).write_text(ENTRIES.replace('name: "', 'name: "a'), encoding="utf-8")
    # A cache directory that is a file: the run warns on stderr, naming it.
    (project / LEGACY_STOP).write_text("", encoding="utf-8")
    return project


def hostile_run(project: Path, output_format: str, *extra: str) -> tuple[Outcome, str]:
    outcome = in_actions(
        ["--format", output_format, "--offline", "--cache-dir", LEGACY_STOP, *extra, "."],
        project,
    )
    assert LEGACY_STOP.replace("[", "\\u005b") in outcome.err  # the warning, shown
    report = (project / "report").read_text(encoding="utf-8") if extra else outcome.out
    return outcome, report


def assert_no_forged_command(output_format: str, report: str, err: str) -> None:
    commands = runner_commands(report + "\n" + err)
    if output_format == "github":
        assert {c.name for c in commands} <= OUR_COMMANDS
        assert [c for c in commands if c.name != "group" and "forged" in c.data] == []
    else:
        assert commands == []


@pytest.mark.parametrize("destination", ["stdout", "output"])
@pytest.mark.parametrize("output_format", FORMATS)
def test_no_line_of_any_format_is_a_workflow_command_in_actions(
    hostile_project: Path, output_format: str, destination: str
) -> None:
    extra = ("--output", "report") if destination == "output" else ()
    outcome, report = hostile_run(hostile_project, output_format, *extra)
    assert_no_forged_command(output_format, report, outcome.err)
    if output_format in ("json", "sarif"):  # still valid, with the exact text
        data = json.loads(report)
        text = json.dumps(data, ensure_ascii=False)
        path = COMMAND_PATH if output_format == "json" else quote(COMMAND_PATH)  # a SARIF URI
        assert LEGACY_OUTPUT in text and path in text
    else:
        assert LEGACY_OUTPUT.replace("[", "\\u005b") in report


def test_a_usage_error_naming_a_config_key_is_no_command_in_actions(tmp_path: Path) -> None:
    (tmp_path / ".rollouts-plugin-lint.yaml").write_text(
        json.dumps({LEGACY_OUTPUT: 1, "severity": {LEGACY_STOP: "error"}}), encoding="utf-8"
    )
    (tmp_path / "values.yaml").write_text("controller: {}\n", encoding="utf-8")
    outcome = run_cli(["--format", "text", "values.yaml"], tmp_path, environment(
        GITHUB_ACTIONS="true"))  # fmt: skip
    assert outcome.code == 2 and "Traceback" not in outcome.err
    assert "##\\u005b" in outcome.err
    assert runner_commands(outcome.err) == []


# --- names no encoding can hold, and names with control characters ---------------------------

BROKEN = "controller:\n  trafficRouterPlugins:\n    - name: gatewayAPI\n      location: ''\n"
UNDECODABLE = b"bad\xff.yaml"


@pytest.fixture
def undecodable_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (Path(os.fsdecode(os.fsencode(project) + b"/" + UNDECODABLE))).write_text(BROKEN)
    return project


@pytest.mark.parametrize("output_format", FORMATS)
def test_a_file_name_that_is_not_utf8_survives_every_format(
    undecodable_project: Path, output_format: str
) -> None:
    outcome = run_cli(
        ["--format", output_format, "--offline", "--no-cache", "--sarif-file", "s.sarif", "."],
        undecodable_project,
    )
    outcome.assert_report()
    assert outcome.code == 1
    sarif = json.loads((undecodable_project / "s.sarif").read_text(encoding="ascii"))
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in
            sarif["runs"][0]["results"]}  # fmt: skip
    assert uris == {"bad%FF.yaml"}  # the name's own bytes, percent-encoded
    if output_format == "json":
        paths = {finding["path"] for finding in json.loads(outcome.out)["findings"]}
        assert {os.fsencode(path) for path in paths} == {UNDECODABLE}
    elif output_format in ("text", "github"):
        assert "bad\\udcff.yaml" in outcome.out


def test_control_characters_of_a_file_name_never_reach_an_annotation(tmp_path: Path) -> None:
    name = "a\x1b]8;;https:evil.example\x07b\x1b[2J.yaml"
    (tmp_path / name).write_text(BROKEN, encoding="utf-8")
    outcome = run_cli(["--format", "github", "--offline", "--no-cache", "."], tmp_path)
    outcome.assert_report()
    files = {c.properties["file"] for c in runner_commands(outcome.out) if c.name == "error"}
    assert files == {"a\\x1b]8;;https:evil.example\\x07b\\x1b[2J.yaml"}
    assert "\x1b" not in outcome.out and "\x07" not in outcome.out


def test_markup_and_escapes_in_a_url_never_reach_the_progress_bar() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, color_system="truecolor", width=200)
    url = "https://example.com/d/[link=https:%2F%2Fevil.example][blink]p\x1b[2J"
    with terminal_progress(True, console) as progress:
        assert progress is not None
        progress(url, 10, 100)
    shown = screen.getvalue()
    assert "\x1b]8;" not in shown  # no OSC 8 hyperlink
    assert "\x1b[5m" not in shown  # no blink
    assert "\x1b[2J" not in shown  # no screen clear
    assert "[link=https:%2F%2Fevil.example][blink]p\\x1b[2J" in shown


# --- streams that cannot hold every character ----------------------------------------------------


def test_a_cp1252_pipe_gets_escapes_for_what_it_cannot_hold(tmp_path: Path) -> None:
    snowman = "controller:\n  trafficRouterPlugins:\n    - name: \u2603\n      location: ''\n"
    (tmp_path / "values.yaml").write_text(snowman, encoding="utf-8")
    env = environment(PYTHONIOENCODING="cp1252")
    for output_format in FORMATS:
        outcome = run_cli(["--format", output_format, "--offline", "--no-cache", "."], tmp_path,
                          env)  # fmt: skip
        outcome.assert_report()
        assert "\\u2603" in outcome.out, output_format
    (tmp_path / ".rollouts-plugin-lint.yaml").write_text("\u2603: 1\n", encoding="utf-8")
    outcome = run_cli(["--offline", "."], tmp_path, env)
    assert outcome.code == 2 and "\\u2603" in outcome.err and "Traceback" not in outcome.err


@pytest.mark.parametrize(
    "escaped", ["\\ud83d\\ude80", "a/b\\ud800"], ids=["surrogate-pair", "lone-surrogate"]
)
def test_surrogate_escapes_of_a_json_input_survive_every_format(
    tmp_path: Path, escaped: str
) -> None:
    document = (
        '{"controller": {"trafficRouterPlugins": '
        f'[{{"name": "{escaped}", "location": "https://example.com/{escaped}"}}]}}}}'
    )
    (tmp_path / "values.json").write_text(document, encoding="ascii")
    for output_format in FORMATS:
        outcome = run_cli(["--format", output_format, "--offline", "--no-cache", "."], tmp_path)
        outcome.assert_report()
        assert "values.json" in outcome.out, output_format
        if output_format in ("json", "sarif"):
            json.loads(outcome.out)


# --- a reader that goes away ---------------------------------------------------------------------


def test_a_closed_pipe_ends_the_run_quietly_with_status_141(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte
    try:
        child = subprocess.run(
            cli_command("--offline", "--no-cache", str(EXAMPLES)),
            cwd=tmp_path,
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert child.returncode == 141
    assert child.stderr == b""


def test_head_reads_one_line_and_the_linter_says_nothing(tmp_path: Path) -> None:
    command = " ".join(f"'{part}'" for part in cli_command("--offline", "--no-cache"))
    shell = subprocess.run(
        ["sh", "-c", f"{command} '{EXAMPLES}' | head -1"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shell.stdout.count(b"\n") == 1
    assert shell.stderr == b""


if sys.platform != "linux":  # pragma: no cover - the file names above need a POSIX file system
    pytestmark = pytest.mark.skip("POSIX file names")


# A report whose first line is this file's name is a `.pth` line: `import` runs, `#` ends it.
PTH_LINE_NAME = 'import os;os.system("id>owned")#.yaml'


@pytest.mark.parametrize(
    ("option", "name"),
    [
        ("--output", "report.txt"),
        ("--sarif-file", "rollouts-plugin-lint.sarif"),
        ("--output", "reports/report.txt"),
        ("--output", "reports/../report.txt"),
    ],
)
def test_a_report_is_never_written_through_a_link_of_the_checkout(
    tmp_path: Path, option: str, name: str
) -> None:
    # The report's name is the workflow's, but the pull request can commit a link under
    # it (or a linked folder on its way) aimed at a Python site-packages folder.
    site_packages, project = tmp_path / "site-packages", tmp_path / "project"
    site_packages.mkdir()
    project.mkdir()
    (project / PTH_LINE_NAME).write_text(ENTRIES.replace('name: "', 'name: "a'))
    (project / "report.txt").symlink_to(site_packages / "zz.pth")
    (project / "rollouts-plugin-lint.sarif").symlink_to(site_packages / "zz.json")
    (project / "reports").symlink_to(site_packages)

    outcome = run_cli(["--offline", "--no-cache", option, name, "."], project)

    assert list(site_packages.iterdir()) == []
    assert outcome.code == 2, outcome.err
    assert outcome.err.strip().endswith(
        f"{name}: is a symbolic link, or lies behind one in the checkout: not written"
    )
    assert "Traceback" not in outcome.err


def test_a_report_is_written_to_a_plain_path_and_a_folder_outside(tmp_path: Path) -> None:
    project, outside = tmp_path / "project", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    (project / "reports").mkdir()
    (project / "values.yaml").write_text(ENTRIES)
    (project / "reports" / "old.txt").write_text("a longer report of a run before this one\n")

    inside = run_cli(["--offline", "--no-cache", "--output", "reports/old.txt", "."], project)
    away = run_cli(
        ["--offline", "--no-cache", "--sarif-file", str(outside / "r.sarif"), "."], project
    )

    inside.assert_report()
    away.assert_report()
    assert (project / "reports" / "old.txt").read_text().startswith("values.yaml:")
    assert json.loads((outside / "r.sarif").read_text())["version"] == "2.1.0"
