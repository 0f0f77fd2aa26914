"""Conventions users of ruff, yamllint and actionlint reach for first: the rule table,
--explain, --select/--ignore, --exit-zero, --statistics, inline suppressions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rollouts_plugin_lint.rules import RULES
from tests.conftest import Runner

LOC = "https://github.com/o/r/releases/download/v1.0.0/p-linux-amd64"
# Two missing-sha256 warnings and a name-format error (offline: two not-verified notes).
MIXED = (
    "controller:\n  trafficRouterPlugins:\n"
    f"    - name: a/b\n      location: {LOC}\n"
    f"    - name: gatewayAPI\n      location: {LOC.replace('/p-', '/q-')}\n"
)


def cli(*args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rollouts_plugin_lint", *args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        timeout=120,
    )


def rules_of(report: dict) -> list[str]:
    return sorted(finding["rule"] for finding in report["findings"])


def test_help_lists_the_exit_codes_and_what_strict_does() -> None:
    done = cli("--help")
    assert done.returncode == 0
    out = " ".join(done.stdout.split())
    for code in ("0", "1", "2", "3", "141"):
        assert f"\n  {code} " in done.stdout
    assert "--strict warnings fail the run (exit 1)" in out
    assert "the reader of stdout went away" in out


def test_list_rules_prints_every_rule_with_its_severity() -> None:
    done = cli("--list-rules")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(RULES)
    assert lines[list(RULES).index("missing-sha256")].split()[1] == "warning"


@pytest.mark.parametrize("rule", list(RULES))
def test_every_rule_has_an_example_and_a_fix(rule: str) -> None:
    assert RULES[rule].example.strip() and RULES[rule].fix.strip()


def test_explain_shows_documentation_example_and_fix() -> None:
    done = cli("--explain", "missing-sha256")
    assert done.returncode == 0, done.stderr
    rule = RULES["missing-sha256"]
    out = " ".join(done.stdout.split())
    assert done.stdout.startswith("missing-sha256 (warning by default): ")
    assert " ".join(rule.help.split()) in out
    assert "Example: " + " ".join(rule.example.split()) in out
    assert "Fix: " + " ".join(rule.fix.split()) in out


def test_explain_an_unknown_rule_suggests_the_closest_and_exits_2() -> None:
    done = cli("--explain", "missing-sha")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "rollouts-plugin-lint: error: unknown rule `missing-sha`; did you mean `missing-sha256`?\n"
    )


def test_select_and_ignore_take_repeatable_comma_lists(runner: Runner) -> None:
    runner.write("values.yaml", MIXED)
    everything = rules_of(runner.json(".")[1])
    assert everything == ["missing-sha256"] * 2 + ["name-format"] + ["not-verified"] * 2
    code, report = runner.json("--select", "name-format,missing-sha256", ".")
    assert code == 1 and rules_of(report) == ["missing-sha256"] * 2 + ["name-format"]
    code, report = runner.json("--select", "missing-sha256", "--select", "not-verified", ".")
    assert code == 0 and rules_of(report) == ["missing-sha256"] * 2 + ["not-verified"] * 2
    code, report = runner.json("--ignore", "name-format", "--ignore", "not-verified,", ".")
    assert code == 0 and rules_of(report) == ["missing-sha256"] * 2
    code, report = runner.json("--select", "name-format,missing-sha256", "--ignore", "name-format")
    assert code == 0 and rules_of(report) == ["missing-sha256"] * 2


@pytest.mark.parametrize("option", ["--select", "--ignore"])
def test_an_unknown_rule_id_is_a_usage_error(runner: Runner, option: str) -> None:
    runner.write("values.yaml", MIXED)
    code, out, err = runner.run("--offline", option, "name-format,missing-sha", ".")
    assert code == 2 and out == ""
    assert err == (
        f"rollouts-plugin-lint: error: {option}: unknown rule `missing-sha`; "
        "did you mean `missing-sha256`?\n"
    )
    # An empty list would silently report nothing at all.
    code, out, err = runner.run("--offline", option, " , ", ".")
    assert code == 2 and out == ""
    assert err == (
        f"rollouts-plugin-lint: error: {option}: give one or more rule ids, "
        f"e.g. {option} missing-sha256\n"
    )


def test_exit_zero_reports_but_does_not_fail(runner: Runner) -> None:
    runner.write("values.yaml", MIXED)
    assert runner.run("--offline", "--no-cache", ".")[0] == 1
    code, out, _ = runner.run("--offline", "--no-cache", "--exit-zero", ".")
    assert code == 0 and "[name-format]" in out
    assert runner.run("--offline", "--exit-zero", "missing.yaml")[0] == 2


def test_statistics_counts_findings_per_rule(runner: Runner) -> None:
    runner.write("values.yaml", MIXED)
    code, out, _ = runner.run("--offline", "--no-cache", "--statistics", ".")
    assert code == 1
    assert [line.split()[:3] for line in out.splitlines()] == [
        ["2", "missing-sha256", "warning"],
        ["2", "not-verified", "note"],
        ["1", "name-format", "error"],
    ]
    assert out.splitlines()[2].endswith(RULES["name-format"].summary)
    code, out, _ = runner.run("--offline", "--no-cache", "--statistics", "--format", "json", ".")
    assert json.loads(out)[0] == {
        "rule": "missing-sha256",
        "severity": "warning",
        "count": 2,
        "summary": RULES["missing-sha256"].summary,
    }


def test_a_path_that_does_not_exist_is_a_usage_error(runner: Runner) -> None:
    runner.write("values.yaml", MIXED)
    code, out, err = runner.run("--offline", "values.yaml", "nowhere.yaml")
    assert code == 2 and out == ""
    assert err == "rollouts-plugin-lint: error: nowhere.yaml: no such file or directory\n"


UNPINNED = f"controller:\n  trafficRouterPlugins:\n    - name: a/b\n      location: {LOC}\n"


def test_pyproject_is_read_as_toml_so_a_subtable_alone_counts(runner: Runner) -> None:
    runner.write("values.yaml", UNPINNED)
    runner.write(
        "pyproject.toml", '[tool.rollouts-plugin-lint.severity]\nmissing-sha256 = "error"\n'
    )
    code, report = runner.json(".")
    assert code == 1
    assert {f["rule"]: f["severity"] for f in report["findings"]}["missing-sha256"] == "error"


def test_a_pyproject_without_the_table_is_not_a_config(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search goes on upwards past a pyproject.toml that only mentions the table."""
    (runner.root / ".git").mkdir()
    runner.write(".rollouts-plugin-lint.yaml", "strict: true\n")
    runner.write("app/values.yaml", UNPINNED)
    runner.write("app/pyproject.toml", "[tool.black]\n# see [tool.rollouts-plugin-lint]\n")
    monkeypatch.chdir(runner.root / "app")
    assert runner.json(".")[0] == 1


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        (
            "[tool.rollouts_plugin_lint]\nstrict = true\n",
            "pyproject.toml: `[tool.rollouts_plugin_lint]` is not read; the table is "
            "`[tool.rollouts-plugin-lint]`",
        ),
        (
            "[tool.rollouts-plugin-lint\nstrict = true\n",
            "pyproject.toml: invalid TOML: Expected ']' at the end of a table declaration "
            "(at line 1, column 27)",
        ),
        (
            "[tool.rollouts-plugin-lint]\nstrict = true\n",
            "pyproject.toml: `strict` and --lenient contradict each other; pick one",
        ),
        (
            '[tool.rollouts-plugin-lint]\nplatform = "mips/amd64"\n',
            "pyproject.toml: `platform`: invalid platform 'mips/amd64'",
        ),
        (
            '[tool.rollouts-plugin-lint]\ncontroller-version = "latest"\n',
            "pyproject.toml: `controller-version`: 'latest' is not a version",
        ),
    ],
)
def test_config_errors_name_the_file_and_key(runner: Runner, pyproject: str, message: str) -> None:
    runner.write("values.yaml", UNPINNED)
    runner.write("pyproject.toml", pyproject)
    code, out, err = runner.run("--offline", "--lenient", ".")
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1, err


def test_a_found_config_is_bounded_and_never_a_symbolic_link(
    runner: Runner, tmp_path: Path
) -> None:
    runner.write("values.yaml", UNPINNED)
    outside = tmp_path / "runner-secret.yaml"
    outside.write_text("jobs: hunter2\n")
    (runner.root / ".rollouts-plugin-lint.yaml").symlink_to(outside)
    code, _, err = runner.run("--offline", ".")
    assert code == 2 and "hunter2" not in err
    assert err.endswith(
        ".rollouts-plugin-lint.yaml: symbolic link leading outside its folder: not read; name "
        "its target with --config\n"
    )
    # Named on the command line, it is the user's choice.
    code, _, err = runner.run("--offline", "--config", ".rollouts-plugin-lint.yaml", ".")
    assert code == 2 and "`jobs`: 'hunter2' is not of type 'integer'" in err
    (runner.root / ".rollouts-plugin-lint.yaml").unlink()
    runner.write("pyproject.toml", "[tool.rollouts-plugin-lint]\n" + "#" * (1024 * 1024) + "\n")
    code, _, err = runner.run("--offline", ".")
    assert code == 2
    assert err.endswith("pyproject.toml: cannot read config file: larger than 1048576 bytes\n")


def test_flag_errors_still_name_the_flag(runner: Runner) -> None:
    runner.write("values.yaml", UNPINNED)
    code, _, err = runner.run("--offline", "--controller-version", "latest", ".")
    assert code == 2 and "--controller-version: 'latest' is not a version" in err
    code, _, err = runner.run("--offline", "--platform", "mips/amd64", ".")
    assert code == 2 and "--platform: invalid platform 'mips/amd64'" in err


DIRECTIVE = "# rollouts-plugin-lint: disable="


def test_a_suppression_at_the_end_of_the_line_or_alone_above_it(runner: Runner) -> None:
    runner.write(
        "values.yaml",
        "controller:\n  trafficRouterPlugins:\n"
        f"    - name: a/b\n      location: {LOC}  {DIRECTIVE}missing-sha256\n"
        f"    - name: c/d\n      {DIRECTIVE}insecure-location, missing-sha256\n"
        "      location: http://mirror.internal/p-linux-amd64\n"
        f"    - name: e/f\n      location: {LOC.replace('/p-', '/q-')}\n",
    )
    code, report = runner.json("--ignore", "not-verified", ".")
    assert code == 0
    assert [(f["rule"], f["line"]) for f in report["findings"]] == [("missing-sha256", 9)]


def test_a_suppression_in_an_embedded_configmap_list(runner: Runner) -> None:
    runner.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\n"
        f"data:\n  trafficRouterPlugins: |-\n    - name: gatewayAPI  {DIRECTIVE}name-format\n"
        f"      location: {LOC}\n",
    )
    code, report = runner.json("--ignore", "not-verified", ".")
    assert code == 0 and [f["rule"] for f in report["findings"]] == ["missing-sha256"]


def test_an_unused_or_unknown_suppression_is_reported(runner: Runner) -> None:
    text = (
        "controller:\n  trafficRouterPlugins:\n"
        f"    {DIRECTIVE}name-format\n"  # the line below has no name-format finding
        f"    - name: a/b\n      location: {LOC}  {DIRECTIVE}missing-sha256,missing-sha265\n"
    )
    runner.write("values.yaml", text)
    code, report = runner.json("--ignore", "not-verified", ".")
    assert code == 0
    unused = [f for f in report["findings"] if f["rule"] == "unused-suppression"]
    assert [(f["line"], f["column"], f["severity"]) for f in unused] == [
        (3, 5, "note"),
        (5, text.splitlines()[4].index("#") + 1, "note"),
    ]
    assert unused[0]["message"] == (
        "`disable=name-format` suppresses nothing: no `name-format` finding on the next line"
    )
    assert unused[1]["message"] == "`disable=missing-sha265`: no rule `missing-sha265`"
    assert unused[1]["hint"] == "did you mean `missing-sha256`?"
    assert [f["rule"] for f in report["findings"]] == ["unused-suppression"] * 2


def test_a_directive_inside_a_quoted_value_is_not_a_comment(runner: Runner) -> None:
    runner.write(
        "values.yaml",
        "controller:\n  trafficRouterPlugins:\n"
        f"    - name: gatewayAPI  {DIRECTIVE}name-format\n"
        f'      location: "{LOC} {DIRECTIVE}location-format"\n',
    )
    code, report = runner.json(".")
    rules = [f["rule"] for f in report["findings"]]
    assert code == 1 and "location-format" in rules
    assert "name-format" not in rules and "unused-suppression" not in rules


def test_one_file_from_stdin_with_its_name(tmp_path: Path) -> None:
    text = f"{DIRECTIVE}name-format\n" + MIXED.replace("    - name: gatewayAPI", "    - name: c/d")
    done = cli("--offline", "--no-cache", "--format", "json", "-", stdin=MIXED, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert {f["path"] for f in report["findings"]} == {"-"} and report["files"] == 1
    named = ("--offline", "--no-cache", "--format", "json", "--stdin-filename", "deploy/v.yaml")
    for paths in ((), ("-",)):
        done = cli(*named, *paths, stdin=text, cwd=tmp_path)
        report = json.loads(done.stdout)
        assert {f["path"] for f in report["findings"]} == {"deploy/v.yaml"}
        # The suppression in the piped text applies to it, and is unused: no error left.
        assert done.returncode == 0 and "unused-suppression" in rules_of(report)


def test_stdin_filename_without_stdin_is_a_usage_error(runner: Runner) -> None:
    runner.write("values.yaml", MIXED)
    code, _, err = runner.run("--offline", "--stdin-filename", "x.yaml", "values.yaml")
    assert code == 2
    assert err == (
        "rollouts-plugin-lint: error: --stdin-filename names the file read from stdin: "
        "add `-` as a path\n"
    )


def test_force_exclude_applies_exclude_to_named_files_and_stdin(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".rollouts-plugin-lint.yaml").write_text('exclude: ["vendored/*"]\n')
    (tmp_path / "vendored").mkdir()
    (tmp_path / "vendored" / "values.yaml").write_text(MIXED)
    (tmp_path / "values.yaml").write_text(MIXED)
    args = ("--offline", "--no-cache", "--format", "json")
    named = cli(*args, "vendored/values.yaml", "values.yaml", cwd=tmp_path)
    assert {f["path"] for f in json.loads(named.stdout)["findings"]} == {
        "vendored/values.yaml",
        "values.yaml",
    }
    forced = cli(*args, "--force-exclude", "vendored/values.yaml", "values.yaml", cwd=tmp_path)
    assert {f["path"] for f in json.loads(forced.stdout)["findings"]} == {"values.yaml"}
    piped = ("--force-exclude", "--stdin-filename", "vendored/values.yaml")
    done = cli(*args, *piped, stdin=MIXED, cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["findings"] == []


KIND_AND_PROD = (
    "platform: linux/amd64\n"
    "overrides:\n"
    "  - paths: ['clusters/kind/*']\n"
    "    platform: [linux/arm64]\n"
    "    severity:\n"
    "      not-verified: off\n"
)


def per_cluster(runner: Runner, location: str) -> None:
    runner.write(".rollouts-plugin-lint.yaml", KIND_AND_PROD)
    for cluster in ("kind", "prod"):
        runner.write(
            f"clusters/{cluster}/values.yaml",
            f"controller:\n  trafficRouterPlugins:\n    - name: a/b\n      location: {location}\n",
        )


def by_file(report: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["path"], []).append(finding["rule"])
    return {path: sorted(rules) for path, rules in found.items()}


def test_overrides_give_paths_their_own_platform_and_severities(runner: Runner) -> None:
    per_cluster(runner, LOC.replace("amd64", "arm64"))
    code, report = runner.json(".")
    assert code == 1
    found = by_file(report)
    assert found["clusters/kind/values.yaml"] == ["missing-sha256"]
    assert "platform-mismatch" in found["clusters/prod/values.yaml"]
    assert "not-verified" in found["clusters/prod/values.yaml"]


def test_the_download_checks_use_the_platform_of_the_entry(runner: Runner) -> None:
    from tests.inspect_fixtures import Elf
    from tests.servers import respond, serving

    arm64 = Elf(machine=183).build()
    with serving(lambda connection, _request: respond(connection, 200, arm64)) as server:
        per_cluster(runner, server.url("/plugin"))
        code, out, err = runner.run(
            "--format", "json", "--allow-private-addresses", "--timeout", "5",
            "--cache-dir", str(runner.root.parent / "cache"), ".",
        )  # fmt: skip
    assert code == 1, err
    found = by_file(json.loads(out))
    assert "wrong-arch" in found["clusters/prod/values.yaml"]
    assert "wrong-arch" not in found["clusters/kind/values.yaml"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "overrides:\n  - paths: [x]\n    platform: mips/amd64\n",
            "`overrides.0.platform`: invalid platform 'mips/amd64'",
        ),
        (
            "overrides:\n  - paths: [x]\n    severity: {missing-sha: off}\n",
            "`overrides.0`: unknown rule `missing-sha` in severity; did you mean `missing-sha256`?",
        ),
        (
            "overrides:\n  - paths: [x]\n    strict: true\n",
            "unknown config key `overrides.0.strict`; known keys: paths, platform, severity",
        ),
        ("overrides:\n  - platform: linux/arm64\n", "`overrides.0`: 'paths' is a required"),
    ],
)
def test_bad_overrides_are_usage_errors(runner: Runner, config: str, message: str) -> None:
    runner.write("values.yaml", UNPINNED)
    runner.write(".rollouts-plugin-lint.yaml", config)
    code, _, err = runner.run("--offline", ".")
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_the_license_file_is_the_license_pyproject_names() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["project"]
    assert project["license"] == "Apache-2.0"
    text = " ".join((root / "LICENSE").read_text("utf-8").split())
    assert text.startswith("Apache License Version 2.0, January 2004")
    assert "END OF TERMS AND CONDITIONS" in text
