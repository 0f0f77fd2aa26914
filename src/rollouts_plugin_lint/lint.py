"""Wire the stages in their one order: discover, extract, check, fetch, inspect, check the
artifacts, apply the severity policy. The only module that knows the order; it prints
nothing."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from rollouts_plugin_lint.checks import check_entries
from rollouts_plugin_lint.checks.locations import LocationError, parse_request_uri
from rollouts_plugin_lint.discover import Discovery, read_regular_file
from rollouts_plugin_lint.model import (
    Artifact,
    BinaryFacts,
    Finding,
    PluginEntry,
    ProgressCallback,
    Severity,
    Span,
)
from rollouts_plugin_lint.settings import Settings
from rollouts_plugin_lint.versions import Versions

# A location with one of these findings is not worth a request: it cannot work, or
# fetching it would send someone's credentials.
_NOT_FETCHED = {"location-format", "not-a-download-url", "credentials-in-url", "placeholder"}
# Download verdicts a placeholder in `sha256` makes meaningless.
_CAUSED_BY_PLACEHOLDER = {"checksum-mismatch"}
# Guesses from the URL that a download verdict replaces.
_SUPERSEDED_BY_DOWNLOAD = {"platform-mismatch", "archive"}
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass
class LintResult:
    files: int = 0
    entries: list[PluginEntry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # The text of every file a finding points into, for source snippets.
    sources: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, Artifact] = field(default_factory=dict)  # by location
    facts: dict[str, BinaryFacts] = field(default_factory=dict)  # by location
    warnings: list[str] = field(default_factory=list)  # about the run, not the files

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity is severity)


def run(
    settings: Settings,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
) -> LintResult:
    result = LintResult()
    discovery = Discovery(settings.paths, settings.exclude, str(cwd or Path.cwd()))
    texts: dict[str, bytes] = {}
    findings: list[Finding] = []
    charts = _ChartVersions()
    forced = settings.versions
    for candidate in discovery:
        # Imported on the first file that passes the prefilter: the extract stage with
        # ruamel.yaml takes about 0.04 s to import, a fifth of a pre-commit call on a file
        # that mentions no plugin key, and that call never parses anything.
        from rollouts_plugin_lint.extract import extract_data_file, extract_file

        beside = charts.beside(candidate.path) if not forced.chart else None
        extraction = extract_file(candidate.display_path, candidate.data, beside, forced)
        result.entries.extend(extraction.entries)
        findings.extend(extraction.findings)
        if extraction.entries or extraction.findings:
            texts[candidate.display_path] = candidate.data
        for reference in extraction.references:
            read = discovery.read_referenced(candidate, reference.path, reference.span)
            if isinstance(read, Finding):
                findings.append(read)
                texts[candidate.display_path] = candidate.data
                continue
            display, data = read
            inner = extract_data_file(display, data, reference)
            result.entries.extend(inner.entries)
            findings.extend(inner.findings)
            texts[display] = data
    findings.extend(discovery.skipped)
    not_checked = discovery.not_checked_warning()
    if not_checked:
        result.warnings.append(not_checked)
    findings.extend(check_entries(result.entries, settings.platforms))
    result.files = discovery.scanned
    # No entries, nothing to download or look up in the cache: skip importing the stage.
    # Offline without a cache it still runs: every location it cannot prove gets its note.
    if result.entries:
        with tempfile.TemporaryDirectory(prefix="rollouts-plugin-lint-") as scratch:
            findings = _verify_downloads(result, findings, settings, Path(scratch), environ,
                                         progress)  # fmt: skip
    result.findings = _finalize(findings, settings)
    pointed_at = {finding.span.path for finding in result.findings}
    result.sources = {
        path: data.decode("utf-8", "replace") for path, data in texts.items() if path in pointed_at
    }
    return result


def _verify_downloads(
    result: LintResult,
    findings: list[Finding],
    settings: Settings,
    scratch: Path,
    environ: Mapping[str, str] | None,
    progress: ProgressCallback | None,
) -> list[Finding]:
    from rollouts_plugin_lint.checks.artifact import check_artifact, pin_hint
    from rollouts_plugin_lint.fetch import FetchRequest, fetch_all

    not_fetched = {finding.span for finding in findings if finding.rule in _NOT_FETCHED}
    entries = [entry for entry in result.entries if _worth_fetching(entry, not_fetched)]
    requests = [FetchRequest(entry.location or "", _pinned(entry.sha256)) for entry in entries]
    report = fetch_all(requests, settings, scratch, os.environ if environ is None else environ,
                       progress)  # fmt: skip
    result.artifacts = report.artifacts
    result.warnings.extend(report.warnings)
    for url, artifact in report.artifacts.items():
        if artifact.path is not None:
            from rollouts_plugin_lint.inspect import inspect_file

            result.facts[url] = inspect_file(artifact.path, artifact.content_type)
    verdicts: list[Finding] = []
    for entry in entries:
        artifact = report.artifacts[entry.location or ""]
        facts = result.facts.get(entry.location or "")
        verdicts.extend(check_artifact(entry, artifact, facts, settings.platforms))
        if settings.handshake and artifact.path and _runs_here(artifact, facts):
            verdicts.extend(_handshake(entry, artifact.path, settings.timeout))
    if not settings.offline:  # only a run with network adds to the cache
        report.trim_cache(settings.cache_max_size)
    # A file we downloaded and looked at settles what the URL only suggested.
    judged = {
        entry.span_of("location")
        for entry in entries
        if (entry.location or "") in result.facts
        and report.artifacts[entry.location or ""].downloaded
    }
    # A placeholder digest says nothing to compare; the placeholder finding says it all.
    unfilled = {f.span for f in findings if f.rule == "placeholder"}
    verdicts = [
        v for v in verdicts
        if not (v.rule in _CAUSED_BY_PLACEHOLDER and _sha256_span(v, entries) in unfilled)
    ]  # fmt: skip
    refused = {finding.span for finding in verdicts if finding.rule == "download-failed"}
    failed = {finding.span for finding in verdicts if finding.severity is Severity.ERROR}
    location_at = {entry.span_of("location"): entry.location or "" for entry in entries}
    kept = []
    for finding in findings:
        if finding.rule in _SUPERSEDED_BY_DOWNLOAD and finding.span in judged:
            continue
        if finding.rule == "version-gate" and finding.span in refused:
            continue  # "no status check" on a location whose download-failed says so
        if finding.rule == "missing-sha256" and finding.span in location_at:
            artifact = report.artifacts[location_at[finding.span]]
            hint = None if finding.span in failed else pin_hint(artifact)
            if hint:
                finding = replace(finding, hint=f"pin the file checked just now: {hint}")
        kept.append(finding)
    return kept + verdicts


class _ChartVersions:
    """The argo-rollouts version a Chart.yaml states for the values files beside it (an
    umbrella chart's dependency, or a vendored copy of the chart), read once per folder."""

    def __init__(self) -> None:
        self._by_folder: dict[str, Versions] = {}

    def beside(self, path: str) -> Versions:
        from rollouts_plugin_lint.extract.hints import chart_yaml_versions

        folder = os.path.dirname(path)
        if folder not in self._by_folder:
            chart = os.path.join(folder, "Chart.yaml")
            try:
                text = read_regular_file(chart).decode("utf-8")
            except (OSError, UnicodeDecodeError):
                self._by_folder[folder] = Versions()
            else:
                self._by_folder[folder] = chart_yaml_versions(os.path.relpath(chart), text)
        return self._by_folder[folder]


_HOST_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def _runs_here(artifact: Artifact, facts: BinaryFacts | None) -> bool:
    """Only a clean download of a static ELF for this very machine is ever started: the
    controller's image (distroless/static, argo-rollouts v1.9.1 Dockerfile) has no dynamic
    loader, the probe's sandbox neither, and `check_artifact` already reports the linkage."""
    import platform

    return (
        facts is not None
        and artifact.downloaded
        and facts.format == "elf"
        and not facts.detail
        and facts.interpreter is None
        and facts.os == "linux" == platform.system().lower()
        and facts.arch == _HOST_ARCH.get(platform.machine().lower())
    )


def _handshake(entry: PluginEntry, binary: Path, timeout: float) -> list[Finding]:
    from rollouts_plugin_lint.checks.artifact import check_handshake
    from rollouts_plugin_lint.inspect.handshake import probe

    return list(check_handshake(entry, probe(binary, entry.kind, timeout)))


def _worth_fetching(entry: PluginEntry, not_fetched: set[Span]) -> bool:
    location = entry.location
    if not location:
        return False
    try:
        if parse_request_uri(location).scheme not in ("http", "https"):
            return False
    except LocationError:
        return False
    return entry.span_of("location") not in not_fetched


def _sha256_span(verdict: Finding, entries: list[PluginEntry]) -> Span | None:
    for entry in entries:
        if entry.span_of("location") == verdict.span:
            return entry.span_of("sha256")
    return None


def _pinned(sha256: str | None) -> str | None:
    return sha256 if sha256 is not None and _HEX64.fullmatch(sha256) else None


def _finalize(findings: list[Finding], settings: Settings) -> list[Finding]:
    """Apply the policy, drop exact repeats, sort by file and position."""
    kept: dict[tuple[str, Span, str], Finding] = {}
    for finding in findings:
        decided = settings.apply_policy(finding)
        if decided is not None:
            kept[(decided.rule, decided.span, decided.message)] = decided
    return sorted(kept.values(), key=lambda f: f.sort_key)
