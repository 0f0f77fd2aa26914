"""The JSON report of DESIGN.md; its field names are a contract with scripts.

The report is ASCII: every other character is a `\\uXXXX` escape, so it survives any stream
encoding and carries any string exactly, also one no UTF-8 can hold: a file name that is not
UTF-8 has each undecodable byte as the lone surrogate U+DC80 + byte (Python's
surrogateescape: `os.fsencode(path)` gives the bytes back), and a lone surrogate escape read
from a JSON input is written back as the same escape."""

from __future__ import annotations

import json
from typing import Any, TextIO

from rollouts_plugin_lint import __version__
from rollouts_plugin_lint.lint import LintResult
from rollouts_plugin_lint.model import Artifact, BinaryFacts, Finding, PluginEntry, Severity
from rollouts_plugin_lint.settings import Settings


def write_json(result: LintResult, settings: Settings, stream: TextIO) -> None:
    json.dump(report_dict(result), stream, indent=2, ensure_ascii=True)
    stream.write("\n")


def report_dict(result: LintResult) -> dict[str, Any]:
    return {
        "tool": {"name": "rollouts-plugin-lint", "version": __version__},
        "files": result.files,
        "plugins": [_plugin(entry, result) for entry in result.entries],
        "findings": [_finding(finding) for finding in result.findings],
        "summary": {
            "errors": result.count(Severity.ERROR),
            "warnings": result.count(Severity.WARNING),
            "notes": result.count(Severity.NOTE),
            "fixed": result.fixed,
        },
    }


def _plugin(entry: PluginEntry, result: LintResult) -> dict[str, Any]:
    location = entry.location or ""
    return {
        "name": entry.name,
        "kind": entry.kind.value,
        "location": entry.location,
        "path": entry.span.path,
        "line": entry.span.line,
        "artifact": _artifact(result.artifacts.get(location), result.facts.get(location)),
    }


def _artifact(artifact: Artifact | None, facts: BinaryFacts | None) -> dict[str, Any] | None:
    """What the download was; None when the location was not fetched."""
    if artifact is None:
        return None
    data: dict[str, Any] = {
        "status": artifact.status,
        "final_url": artifact.final_url,
        "sha256": artifact.sha256,
        "size": artifact.size if artifact.path else None,
        "from_cache": artifact.from_cache,
        "problem": artifact.problem.rule if artifact.problem else None,
    }
    if facts is not None and artifact.sha256 is not None:
        go = facts.go
        data.update(
            format=facts.format,
            os=facts.os,
            arch=facts.arch,
            go=None
            if go is None
            else {
                "version": go.version,
                "path": go.path,
                "module": go.module,
                "rollouts": go.rollouts,
                "go_plugin": go.go_plugin,
            },
            plugin_kinds=sorted(kind.value for kind in facts.plugin_kinds),
        )
    return data


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
        "fix": {"description": finding.fix.description, "safe": finding.fix.safe}
        if finding.fix
        else None,
    }
