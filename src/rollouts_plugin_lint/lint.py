"""Wire the stages in their one order: discover, extract, check, (fetch, inspect, check),
apply the severity policy. The only module that knows the order; it prints nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rollouts_plugin_lint.checks import check_entries
from rollouts_plugin_lint.discover import Discovery
from rollouts_plugin_lint.extract import extract_file
from rollouts_plugin_lint.model import Finding, PluginEntry, Severity, Span
from rollouts_plugin_lint.settings import Settings


@dataclass
class LintResult:
    files: int = 0
    entries: list[PluginEntry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # The text of every file a finding points into, for source snippets.
    sources: dict[str, str] = field(default_factory=dict)

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity is severity)


def run(settings: Settings, cwd: Path | None = None) -> LintResult:
    result = LintResult()
    discovery = Discovery(settings.paths, settings.exclude, str(cwd or Path.cwd()))
    texts: dict[str, bytes] = {}
    raw_findings: list[Finding] = []
    for candidate in discovery:
        extraction = extract_file(candidate.display_path, candidate.data)
        result.entries.extend(extraction.entries)
        raw_findings.extend(extraction.findings)
        if extraction.entries or extraction.findings:
            texts[candidate.display_path] = candidate.data
    for display, reason in discovery.unreadable:
        raw_findings.append(
            Finding(
                "skipped-file",
                Severity.WARNING,
                Span.point(display, 1),
                f"cannot read file: {reason}",
            )
        )
    raw_findings.extend(check_entries(result.entries, settings.platforms))
    result.files = discovery.scanned
    result.findings = _finalize(raw_findings, settings)
    pointed_at = {finding.span.path for finding in result.findings}
    result.sources = {
        path: data.decode("utf-8", "replace") for path, data in texts.items() if path in pointed_at
    }
    return result


def _finalize(findings: list[Finding], settings: Settings) -> list[Finding]:
    """Apply the policy, drop exact repeats, sort by file and position."""
    kept: dict[tuple[str, Span, str], Finding] = {}
    for finding in findings:
        decided = settings.apply_policy(finding)
        if decided is not None:
            kept[(decided.rule, decided.span, decided.message)] = decided
    return sorted(kept.values(), key=lambda f: f.sort_key)
