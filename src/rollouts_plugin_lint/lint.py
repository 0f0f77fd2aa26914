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
from typing import TYPE_CHECKING

from rollouts_plugin_lint.checks import check_entries
from rollouts_plugin_lint.checks.locations import LocationError, parse_request_uri
from rollouts_plugin_lint.checks.references import check_references
from rollouts_plugin_lint.discover import (
    Candidate,
    Discovery,
    might_give_versions,
    might_hold_plugins,
    read_regular_file,
)
from rollouts_plugin_lint.model import (
    Artifact,
    BinaryFacts,
    DataFileReference,
    DownloadProgress,
    Finding,
    Platform,
    PluginEntry,
    PluginReference,
    Severity,
    SourceFile,
    Span,
)
from rollouts_plugin_lint.settings import Settings
from rollouts_plugin_lint.versions import Versions

if TYPE_CHECKING:
    from rollouts_plugin_lint.inspect.handshake import HandshakeResult

# A location with one of these findings is not worth a request: it cannot work, or
# fetching it would send someone's credentials.
_NOT_FETCHED = {"location-format", "not-a-download-url", "credentials-in-url", "placeholder"}
# Guesses from the URL that a download verdict replaces; the catalog's release facts are
# among them: what GitHub serves, or its release listing says, is the truth.
_SUPERSEDED_BY_DOWNLOAD = {"platform-mismatch", "archive", "release-tag", "release-asset"}
_SETTLED_BY_LISTING = {"release-tag", "release-asset"}
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass
class LintResult:
    files: int = 0
    entries: list[PluginEntry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # The text of every file a finding points into, for source snippets, and its bytes
    # and origin, for --fix.
    sources: dict[str, str] = field(default_factory=dict)
    source_files: dict[str, SourceFile] = field(default_factory=dict)
    artifacts: dict[str, Artifact] = field(default_factory=dict)  # by location
    facts: dict[str, BinaryFacts] = field(default_factory=dict)  # by location
    # What --handshake saw, by the span of the entry it started the binary for.
    handshakes: dict[Span, HandshakeResult] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # about the run, not the files
    fixed: int = 0  # findings --fix fixed (they are no longer in `findings`)

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity is severity)


def run(
    settings: Settings,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    progress: DownloadProgress | None = None,
) -> LintResult:
    result = LintResult()
    discovery = Discovery(
        settings.paths,
        settings.exclude,
        str(cwd or Path.cwd()),
        force_exclude=settings.force_exclude,
        stdin_name=settings.stdin_filename or "-",
    )
    texts: dict[str, SourceFile] = {}
    findings: list[Finding] = []
    references: list[PluginReference] = []
    charts = _ChartVersions()
    forced = settings.versions
    candidates = list(discovery)
    with_plugins = [candidate for candidate in candidates if might_hold_plugins(candidate.data)]
    context = _version_context(discovery, candidates, with_plugins) if with_plugins else {}
    for candidate in with_plugins:
        # Imported on the first file that passes the prefilter: the extract stage with
        # ruamel.yaml takes about 0.04 s to import, a fifth of a pre-commit call on a file
        # that mentions no plugin key, and that call never parses anything.
        from rollouts_plugin_lint.extract import extract_file

        beside = charts.beside(candidate.path) if not forced.chart else Versions()
        known = beside.merged(context.get(candidate.path, Versions()))
        extraction = extract_file(candidate.display_path, candidate.data, known, forced)
        result.entries.extend(extraction.entries)
        findings.extend(extraction.findings)
        references.extend(extraction.references)
        if extraction.entries or extraction.findings or extraction.references:
            texts[candidate.display_path] = _source_file(candidate)
        for data_file in extraction.data_files:
            _extract_data_file(discovery, candidate, data_file, result, findings, texts)
    findings.extend(discovery.skipped)
    not_checked = discovery.not_checked_warning()
    if not_checked:
        result.warnings.append(not_checked)
    for platforms, entries in _by_platforms(result.entries, settings):
        findings.extend(check_entries(entries, platforms))
    findings.extend(check_references(result.entries, references))
    result.files = discovery.scanned
    # No entries, nothing to download or look up in the cache: skip importing the stage.
    # Offline without a cache it still runs: every location it cannot prove gets its note.
    if result.entries:
        with tempfile.TemporaryDirectory(prefix="rollouts-plugin-lint-") as scratch:
            findings = _verify_downloads(result, findings, settings, Path(scratch), environ,
                                         progress)  # fmt: skip
    result.findings = _finalize(findings, result.entries, settings, texts)
    pointed_at = {finding.span.path for finding in result.findings}
    result.source_files = {path: file for path, file in texts.items() if path in pointed_at}
    result.sources = {
        path: file.data.decode("utf-8", "replace") for path, file in result.source_files.items()
    }
    return result


def _source_file(candidate: Candidate) -> SourceFile:
    real = None if candidate.from_stdin else candidate.path
    return SourceFile(candidate.display_path, real, candidate.data)


def _extract_data_file(
    discovery: Discovery,
    candidate: Candidate,
    data_file: DataFileReference,
    result: LintResult,
    findings: list[Finding],
    texts: dict[str, SourceFile],
) -> None:
    """A file whose whole text is a data value (a kustomize configMapGenerator `files:`
    source), read the way discovery reads files, next to the kustomization naming it."""
    from rollouts_plugin_lint.extract import extract_data_file

    read = discovery.read_referenced(candidate, data_file.path, data_file.span)
    if isinstance(read, Finding):
        findings.append(read)
        texts[candidate.display_path] = _source_file(candidate)
        return
    inner = extract_data_file(read.display_path, read.data, data_file)
    result.entries.extend(inner.entries)
    findings.extend(inner.findings)
    texts[read.display_path] = replace(read, data_file=data_file)


def _verify_downloads(
    result: LintResult,
    findings: list[Finding],
    settings: Settings,
    scratch: Path,
    environ: Mapping[str, str] | None,
    progress: DownloadProgress | None,
) -> list[Finding]:
    from rollouts_plugin_lint.checks.artifact import check_artifact, pin_hint
    from rollouts_plugin_lint.checks.common import pinned
    from rollouts_plugin_lint.fetch import FetchRequest, fetch_all
    from rollouts_plugin_lint.inspect.memo import inspect_artifact

    not_fetched = {finding.span for finding in findings if finding.rule in _NOT_FETCHED}
    entries = [entry for entry in result.entries if _worth_fetching(entry, not_fetched)]
    requests = [FetchRequest(entry.location or "", _pinned(entry.sha256)) for entry in entries]
    if progress is not None:
        for entry in entries:
            progress.label(entry.location or "", entry.name)
    report = fetch_all(requests, settings, scratch, os.environ if environ is None else environ,
                       progress)  # fmt: skip
    result.artifacts = report.artifacts
    result.warnings.extend(report.warnings)
    for url, artifact in report.artifacts.items():
        if artifact.path is not None:
            result.facts[url] = inspect_artifact(artifact, report.cache)
    verdicts: list[Finding] = []
    for entry in entries:
        artifact = report.artifacts[entry.location or ""]
        facts = result.facts.get(entry.location or "")
        platforms = settings.platforms_for(entry.span.path)
        verdicts.extend(check_artifact(entry, artifact, facts, platforms))
        if settings.handshake and artifact.path and _runs_here(artifact, facts):
            verdicts.extend(_handshake(entry, artifact.path, settings.timeout, result))
    if not settings.offline:  # only a run with network adds to the cache
        report.trim_cache(settings.cache_max_size)
    # A file we downloaded and looked at settles what the URL only suggested.
    judged = {
        entry.span_of("location")
        for entry in entries
        if (entry.location or "") in result.facts
        and report.artifacts[entry.location or ""].downloaded
    }
    failed = {finding.span for finding in verdicts if finding.severity is Severity.ERROR}
    doubted = {finding.span for finding in verdicts if finding.severity is not Severity.NOTE}
    location_at = {entry.span_of("location"): entry.location or "" for entry in entries}
    entry_at = {entry.span_of("location"): entry for entry in entries}
    listed = {span for span, url in location_at.items() if report.artifacts[url].release}
    kept = []
    for finding in findings:
        if finding.rule in _SUPERSEDED_BY_DOWNLOAD and finding.span in judged:
            continue
        if finding.rule in _SETTLED_BY_LISTING and finding.span in listed:
            continue  # download-failed gives the listing's answer
        if finding.rule == "missing-sha256" and finding.span in location_at:
            artifact = report.artifacts[location_at[finding.span]]
            hint = None if finding.span in failed else pin_hint(artifact)
            if hint:
                finding = replace(finding, hint=f"pin the file checked just now: {hint}")
            # --fix pins only a file this run fetched (or revalidated) and that passed
            # every check: never a guess, never bytes the server was not asked about.
            if hint and artifact.sha256 and artifact.requests and finding.span not in doubted:
                finding = replace(finding, fix=pinned(entry_at[finding.span], artifact.sha256))
        kept.append(finding)
    return kept + verdicts


def _by_platforms(
    entries: list[PluginEntry], settings: Settings
) -> list[tuple[tuple[Platform, ...], list[PluginEntry]]]:
    """The entries grouped by the platforms their file's controller runs on (`overrides:`).
    A file's entries share them, so each ConfigMap or values document is checked whole."""
    if not any(override.platforms for override in settings.overrides):
        return [(settings.platforms, entries)]
    groups: dict[tuple[Platform, ...], list[PluginEntry]] = {}
    for entry in entries:
        groups.setdefault(settings.platforms_for(entry.span.path), []).append(entry)
    return list(groups.items())


def _version_context(
    discovery: Discovery, candidates: list[Candidate], with_plugins: list[Candidate]
) -> dict[str, Versions]:
    """The versions other files (kustomizations, Argo CD apps) hand to files with plugin
    lists, by candidate path."""
    from rollouts_plugin_lint.extract.context import checked_roots, version_context

    return version_context(
        ((c.path, c.data) for c in candidates if might_give_versions(c.path, c.data)),
        (candidate.path for candidate in with_plugins),
        checked_roots(discovery.paths, discovery.cwd),
        discovery.cwd,
    )


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


def _handshake(
    entry: PluginEntry, binary: Path, timeout: float, result: LintResult
) -> list[Finding]:
    from rollouts_plugin_lint.checks.artifact import check_handshake
    from rollouts_plugin_lint.inspect.handshake import probe

    probed = result.handshakes[entry.span] = probe(binary, entry.kind, timeout)
    return list(check_handshake(entry, probed))


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


def _pinned(sha256: str | None) -> str | None:
    return sha256 if sha256 is not None and _HEX64.fullmatch(sha256) else None


def _finalize(
    findings: list[Finding],
    entries: list[PluginEntry],
    settings: Settings,
    texts: Mapping[str, SourceFile],
) -> list[Finding]:
    """Apply the inline suppressions, keep one finding per root cause, apply the policy,
    drop exact repeats, sort by file and position. A finding suppressed or turned off by
    the policy causes nothing: what it would make redundant stays."""
    from rollouts_plugin_lint.checks.causes import root_causes
    from rollouts_plugin_lint.suppressions import apply_suppressions

    unsuppressed = apply_suppressions(findings, {path: file.data for path, file in texts.items()})
    shown = [finding for finding in unsuppressed if settings.apply_policy(finding) is not None]
    kept: dict[tuple[str, Span, str], Finding] = {}
    for finding in root_causes(shown, entries):
        decided = settings.apply_policy(finding)
        if decided is not None:
            kept[(decided.rule, decided.span, decided.message)] = decided
    return sorted(kept.values(), key=lambda f: f.sort_key)
