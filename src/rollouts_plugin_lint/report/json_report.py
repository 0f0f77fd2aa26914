"""The JSON report of DESIGN.md; its field names are a contract with scripts."""

from __future__ import annotations

import json
from typing import Any, TextIO

from rollouts_plugin_lint import __version__
from rollouts_plugin_lint.lint import LintResult
from rollouts_plugin_lint.model import Finding, PluginEntry, Severity
from rollouts_plugin_lint.settings import Settings


def write_json(result: LintResult, settings: Settings, stream: TextIO) -> None:
    json.dump(report_dict(result), stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def report_dict(result: LintResult) -> dict[str, Any]:
    return {
        "tool": {"name": "rollouts-plugin-lint", "version": __version__},
        "files": result.files,
        "plugins": [_plugin(entry) for entry in result.entries],
        "findings": [_finding(finding) for finding in result.findings],
        "summary": {
            "errors": result.count(Severity.ERROR),
            "warnings": result.count(Severity.WARNING),
            "notes": result.count(Severity.NOTE),
        },
    }


def _plugin(entry: PluginEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "kind": entry.kind.value,
        "location": entry.location,
        "path": entry.span.path,
        "line": entry.span.line,
        "artifact": None,
    }


def _finding(finding: Finding) -> dict[str, Any]:
    span = finding.span
    return {
        "rule": finding.rule,
        "severity": finding.severity.value,
        "path": span.path,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
        "approximate": span.approximate,
        "plugin": finding.plugin,
        "kind": finding.kind.value if finding.kind else None,
        "message": finding.message,
        "hint": finding.hint,
    }
