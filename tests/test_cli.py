"""The command line contract: exit codes, formats, configuration, policy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rollouts_plugin_lint import __version__
from tests.conftest import SHA, Runner

LOC = "https://github.com/o/r/releases/download/v1.0.0/p-linux-amd64"
CLEAN = (
    f"controller:\n  trafficRouterPlugins:\n    - name: a/b\n      location: {LOC}\n"
    f"      sha256: {SHA}\n"
)
UNPINNED = f"controller:\n  trafficRouterPlugins:\n    - name: a/b\n      location: {LOC}\n"
BROKEN = "controller:\n  trafficRouterPlugins:\n    - name: gatewayAPI\n      location: ''\n"


def test_exit_codes(runner: Runner) -> None:
    runner.write("clean.yaml", CLEAN)
    runner.write("warn.yaml", UNPINNED)
    runner.write("broken.yaml", BROKEN)
    assert runner.run("--offline", "clean.yaml")[0] == 0
    assert runner.run("--offline", "warn.yaml")[0] == 0
    assert runner.run("--offline", "--strict", "warn.yaml")[0] == 1
    assert runner.run("--offline", "broken.yaml")[0] == 1
    assert runner.run("--offline", "missing.yaml")[0] == 2
    assert runner.run("--strict", "--lenient", "clean.yaml")[0] == 2
    assert runner.run("--platform", "plan9/amd64", "clean.yaml")[0] == 2
    with pytest.raises(SystemExit) as usage:
        runner.run("--no-such-flag")
    assert usage.value.code == 2


def test_internal_errors_exit_3_with_a_trace(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rollouts_plugin_lint.lint as lint

    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(lint, "run", explode)
    code, _, err = runner.run("--offline", ".")
    assert code == 3 and "internal error" in err and "RuntimeError: boom" in err


def test_text_format_points_at_the_token(runner: Runner) -> None:
    runner.write("values.yaml", BROKEN)
    code, out, _ = runner.run("--offline", "values.yaml")
    assert code == 1
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if "[name-format]" in line)
    assert lines[header].startswith("values.yaml:3:13: error: plugin name `gatewayAPI`")
    assert lines[header + 2] == "3 |     - name: gatewayAPI"
    assert lines[header + 3] == "  |             ^~~~~~~~~~"
    assert lines[-1] == "2 errors, 0 warnings, 0 notes (1 plugin entry in 1 file checked)"


def test_text_output_escapes_terminal_control_characters(runner: Runner) -> None:
    runner.write(
        "values.yaml",
        "controller:\n  trafficRouterPlugins:\n"
        "    - name: \"a/\\e[2J\\e]0;pwned\\a\"\n      location: ''\n",
    )
    _, out, _ = runner.run("--offline", "values.yaml")
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J" in out


def test_json_report_contract(runner: Runner) -> None:
    runner.write("values.yaml", UNPINNED)
    code, report = runner.json("values.yaml")
    assert code == 0
    assert report["tool"] == {"name": "rollouts-plugin-lint", "version": __version__}
    assert report["files"] == 1
    assert report["plugins"] == [
        {
            "name": "a/b",
            "kind": "trafficRouterPlugins",
            "location": LOC,
            "path": "values.yaml",
            "line": 3,
            # offline without a cache: the location is not verified, and says so
            "artifact": {
                "status": None,
                "final_url": None,
                "sha256": None,
                "size": None,
                "from_cache": False,
                "problem": "not-verified",
            },
        }
    ]
    finding, note = report["findings"]
    assert note["rule"] == "not-verified"
    assert set(finding) >= {
        "rule",
        "severity",
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "plugin",
        "kind",
        "message",
        "hint",
    }
    assert (finding["rule"], finding["line"], finding["column"], finding["end_column"]) == (
        "missing-sha256",
        4,
        17,
        17 + len(LOC),
    )
    assert report["summary"] == {"errors": 0, "warnings": 1, "notes": 1, "fixed": 0}


def test_output_file(runner: Runner) -> None:
    runner.write("values.yaml", BROKEN)
    code, out, _ = runner.run("--offline", "--format", "json", "--output", "report.json", ".")
    assert code == 1 and out == ""
    assert json.loads((runner.root / "report.json").read_text())["summary"]["errors"] == 2


def test_github_actions_environment_picks_the_format(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rollouts_plugin_lint.settings import load_settings

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert load_settings({}).format == "github"
    assert load_settings({"format": "json"}).format == "json"


def test_config_file_severity_and_optional_plugins(runner: Runner) -> None:
    runner.write(
        "values.yaml",
        BROKEN + UNPINNED.replace("controller:\n", "").replace("  trafficRouterPlugins:\n", ""),
    )
    runner.write(
        ".rollouts-plugin-lint.yaml",
        "severity:\n  location-format: warning\n  missing-sha256: off\n"
        "optional-plugins: [gatewayAPI]\n",
    )
    code, report = runner.json(".")
    severities = {f["rule"]: f["severity"] for f in report["findings"]}
    assert severities == {
        "name-format": "warning",
        "location-format": "warning",
        "not-verified": "note",  # offline without a cache
    }
    assert code == 0


def test_pyproject_config(runner: Runner) -> None:
    runner.write("values.yaml", UNPINNED)
    runner.write("pyproject.toml", "[tool.rollouts-plugin-lint]\nstrict = true\n")
    assert runner.json(".")[0] == 1
    # Flags win over the file.
    runner.write("pyproject.toml", "[tool.rollouts-plugin-lint]\nstrict = true\n")
    assert runner.run("--offline", "--lenient", ".")[0] == 2  # strict (file) + lenient (flag)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "severity:\n  missing-sha: off\n",
            "unknown rule `missing-sha` in severity; did you mean `missing-sha256`?",
        ),
        ("stric: true\n", "unknown config key `stric`; did you mean `strict`?"),
        ("handshake: true\n", "it can only be given as a command-line flag"),
        ("jobs: many\n", "`jobs`: 'many' is not of type 'integer'"),
        ("severity: [\n", "invalid YAML"),
        ("platform: mips/amd64\n", "invalid platform 'mips/amd64'"),
    ],
)
def test_bad_config_is_a_usage_error(runner: Runner, config: str, message: str) -> None:
    runner.write("values.yaml", CLEAN)
    runner.write(".rollouts-plugin-lint.yaml", config)
    code, _, err = runner.run("--offline", ".")
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_every_file_is_still_checked_after_a_bad_one(runner: Runner) -> None:
    runner.write("a.yaml", b"controller:\n  trafficRouterPlugins: [\x00\n")
    runner.write("b.yaml", b"controller:\n  trafficRouterPlugins:\n    - name: \xff\n")
    runner.write("c.yaml", BROKEN)
    code, report = runner.json(".")
    assert code == 1
    assert {f["path"] for f in report["findings"]} == {"a.yaml", "b.yaml", "c.yaml"}


def test_version_is_fast_and_light() -> None:
    code = (
        "import sys; from rollouts_plugin_lint.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('ruamel', 'jsonschema', 'httpx', 'rich') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == [f"rollouts-plugin-lint {__version__}", "[]"]
