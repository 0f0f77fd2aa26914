"""SARIF 2.1.0 for GitHub code scanning: every rule with its help, every finding with a
repository-relative location and a fingerprint that survives edits elsewhere in the file."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from typing import Any, TextIO
from urllib.parse import quote

from rollouts_plugin_lint import __version__
from rollouts_plugin_lint.lint import LintResult
from rollouts_plugin_lint.model import LINE_BREAK, Finding, Severity
from rollouts_plugin_lint.rules import RULES, Rule
from rollouts_plugin_lint.settings import Settings

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
PROJECT_URL = "https://github.com/rollouts-plugin-lint/rollouts-plugin-lint"
RULES_URL = f"{PROJECT_URL}#rules"
# Our own fingerprint, versioned so a change of recipe never matches old alerts by chance.
# upload-sarif adds GitHub's `primaryLocationLineHash` beside it.
FINGERPRINT_KEY = "rolloutsPluginLint/v1"

_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def write_sarif(result: LintResult, settings: Settings, stream: TextIO) -> None:
    json.dump(sarif_log(result, os.environ.get("GITHUB_WORKSPACE")), stream, indent=2)
    stream.write("\n")


def sarif_log(result: LintResult, workspace: str | None = None) -> dict[str, Any]:
    rule_index = {rule_id: index for index, rule_id in enumerate(RULES)}
    lines_by_path = {path: LINE_BREAK.split(text) for path, text in result.sources.items()}
    locations = [_artifact_location(f.span.path, workspace) for f in result.findings]
    fingerprints = _fingerprints(result.findings, locations, lines_by_path)
    results = [
        _result(finding, location, fingerprint, rule_index.get(finding.rule))
        for finding, location, fingerprint in zip(
            result.findings, locations, fingerprints, strict=True
        )
    ]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "rollouts-plugin-lint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": PROJECT_URL,
                        "rules": [_rule(rule) for rule in RULES.values()],
                    }
                },
                "columnKind": "unicodeCodePoints",  # ruamel counts characters
                "results": results,
            }
        ],
    }


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule_name(rule.id),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.summary}. {rule.help}"},
        "help": {
            "text": f"{rule.help}\nEach finding's message ends with the fix for that entry "
            f"when one is known. Rule reference: {RULES_URL}",
            "markdown": f"{rule.help}\n\nEach finding's message ends with the fix for that "
            f"entry when one is known. [Rule reference]({RULES_URL})",
        },
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "helpUri": RULES_URL,
    }


def rule_name(rule_id: str) -> str:
    """The reportingDescriptor `name` code scanning shows beside the id: the id's words in
    PascalCase (`checksum-mismatch` -> `ChecksumMismatch`). A name must differ from its id
    ignoring case (SARIF 2.1.0 section 3.49.7; the SARIF multitool's SARIF1001 compares them
    so), which an id of one word would not: `schema` is named `SchemaProblem`. Lowercase
    kebab-case ids map to distinct names."""
    words = rule_id.split("-")
    name = "".join(word.capitalize() for word in words)
    return name if len(words) > 1 else f"{name}Problem"


def _result(
    finding: Finding, location: dict[str, str], fingerprint: str, rule_index: int | None
) -> dict[str, Any]:
    span = finding.span
    message = finding.message
    if span.approximate:
        message += " (position approximate: inside a folded or quoted string)"
    if finding.hint:
        message += f"\nFix: {finding.hint}"
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": _LEVELS[finding.severity],
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": location,
                    "region": {
                        "startLine": span.line,
                        "startColumn": span.column,
                        "endLine": span.end_line,
                        "endColumn": span.end_column,  # exclusive, as ours
                    },
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
    }
    if rule_index is not None:
        result["ruleIndex"] = rule_index
    if finding.plugin:
        result["properties"] = {"plugin": finding.plugin}
    return result


def _artifact_location(path: str, workspace: str | None) -> dict[str, str]:
    """A URI relative to the repository root (GITHUB_WORKSPACE in Actions, else the working
    directory), percent-encoded; an absolute file URI for a file outside it. The bytes
    encoded are the file name's own, so a name that is not UTF-8 keeps its bytes (`%FF`)."""
    absolute = os.path.abspath(path)
    root = os.path.abspath(workspace) if workspace else os.getcwd()
    relative = os.path.relpath(absolute, root)
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return {"uri": "file://" + _uri_path("/" + absolute.replace(os.sep, "/").lstrip("/"))}
    return {"uri": _uri_path(relative.replace(os.sep, "/")), "uriBaseId": "%SRCROOT%"}


def _uri_path(path: str) -> str:
    try:
        raw = os.fsencode(path)
    except UnicodeEncodeError:  # a lone surrogate that no file name decodes to
        raw = path.encode("utf-8", "backslashreplace")
    return quote(raw)


def _fingerprints(
    findings: list[Finding], locations: list[dict[str, str]], lines: dict[str, list[str]]
) -> list[str]:
    """Stable identities: the rule, file, plugin and the offending line's text, not its
    number, so an edit above a finding keeps its alert. Identical ones are numbered in file
    order (`:1`, `:2`), as GitHub numbers its own line hashes."""
    seen: Counter[str] = Counter()
    prints = []
    for finding, location in zip(findings, locations, strict=True):
        source = lines.get(finding.span.path, [])
        line = finding.span.line
        text = source[line - 1].strip() if 0 < line <= len(source) else ""
        key = "\0".join((finding.rule, location["uri"], finding.plugin or "", text))
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        seen[digest] += 1
        prints.append(f"{digest}:{seen[digest]}")
    return prints
