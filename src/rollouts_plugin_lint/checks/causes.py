"""One finding per root cause: a declared table of findings that make others on the same
entry, field or configuration say nothing new, applied once to a run's findings (lint.py).
The checks report everything they see; this table alone decides what a user needs to read."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from rollouts_plugin_lint.model import Finding, PluginEntry, Severity, Span

# A location that must change: pinning, or proving, the current one is beside the point.
_LOCATION_MUST_CHANGE = frozenset(
    {
        "location-format",
        "credentials-in-url",
        "not-a-download-url",
        "placeholder",
        "platform-mismatch",
        "archive",
        "download-failed",
        "not-executable",
        "wrong-os",
        "wrong-arch",
        "dynamic-binary",
        "not-a-plugin",
        "release-tag",
        "release-asset",
    }
)


@dataclass(frozen=True)
class Makes:
    """A finding of a `cause` rule on an entry makes the `redundant` findings on the same
    entry redundant. `cause_field` and `redundant_field` name the field each is about
    (None: the redundant finding must be about the cause's own field)."""

    cause: frozenset[str]
    redundant: frozenset[str]
    why: str
    cause_field: str | None = None
    redundant_field: str | None = None
    # Only an error is a root cause, unless told otherwise: a warning leaves the rest open.
    cause_severities: frozenset[Severity] = frozenset({Severity.ERROR})
    redundant_severity: Severity | None = None
    # The redundant finding points at the whole item: the field it is about is missing.
    redundant_on_item: bool = False


@dataclass(frozen=True)
class Once:
    """Findings of `rule` that say the same about one `scope` (a field of an entry, or a
    whole configuration: one ConfigMap or values document) are said once, first one kept."""

    rule: str
    scope: str  # "field" or "configuration"
    why: str
    severity: Severity | None = None


REDUNDANT: tuple[Makes, ...] = (
    Makes(
        _LOCATION_MUST_CHANGE,
        frozenset({"missing-sha256"}),
        "the location is wrong: the digest to pin is the one of the file that replaces it",
        cause_field="location",
        redundant_field="location",
    ),
    Makes(
        frozenset({"unknown-field"}),
        frozenset({"schema"}),
        "a misspelled key's finding already says that its field is missing, and what follows",
        redundant_on_item=True,
    ),
    Makes(
        frozenset({"placeholder"}),
        frozenset({"checksum-mismatch"}),
        "a placeholder digest has nothing to compare; the placeholder finding says it all",
        cause_field="sha256",
        redundant_field="location",
        cause_severities=frozenset(Severity),
    ),
    Makes(
        frozenset({"download-failed"}),
        frozenset({"version-gate"}),
        "the download-failed message says what this controller does with a failed status",
        cause_field="location",
        redundant_field="location",
        redundant_severity=Severity.NOTE,
    ),
)

ONCE: tuple[Once, ...] = (
    Once(
        "plugin-kind-mismatch",
        "field",
        "the handshake probe confirms what the binary scan already reported",
    ),
    Once(
        "version-gate",
        "configuration",
        "what a controller version does is one fact about the configuration, not about "
        "each location",
        severity=Severity.NOTE,
    ),
)


def root_causes(
    findings: Sequence[Finding],
    entries: Sequence[PluginEntry],
    redundant: Iterable[Makes] = REDUNDANT,
    once: Iterable[Once] = ONCE,
) -> list[Finding]:
    """`findings` without those the table makes redundant, in their order. Severities are
    the ones the checks gave: the severity policy decides what fails, not what is a cause."""
    owners = _owners(entries)
    owned = [(finding, owners.get(finding.span)) for finding in findings]
    dropped: set[int] = set()
    for rule in redundant:
        causes = {
            (owner, finding.field)
            for finding, owner in owned
            if owner is not None
            and finding.rule in rule.cause
            and finding.severity in rule.cause_severities
            and (rule.cause_field is None or finding.field == rule.cause_field)
        }
        for number, (finding, owner) in enumerate(owned):
            if owner is None or not _is_redundant(rule, finding, entries[owner]):
                continue
            cause_field = rule.cause_field if rule.cause_field is not None else finding.field
            if (owner, cause_field) in causes:
                dropped.add(number)
    for once_rule in once:
        said: set[Hashable] = set()
        for number, (finding, owner) in enumerate(owned):
            if number in dropped or owner is None or finding.rule != once_rule.rule:
                continue
            if once_rule.severity is not None and finding.severity is not once_rule.severity:
                continue
            key: Hashable = (
                (owner, finding.field)
                if once_rule.scope == "field"
                else (entries[owner].group, finding.message)
            )
            if key in said:
                dropped.add(number)
            said.add(key)
    return [finding for number, finding in enumerate(findings) if number not in dropped]


def _is_redundant(rule: Makes, finding: Finding, entry: PluginEntry) -> bool:
    return (
        finding.rule in rule.redundant
        and (rule.redundant_field is None or finding.field == rule.redundant_field)
        and (rule.redundant_severity is None or finding.severity is rule.redundant_severity)
        and (not rule.redundant_on_item or finding.span == entry.span)
    )


def _owners(entries: Sequence[PluginEntry]) -> dict[Span, int]:
    """The entry each span belongs to; a span two entries share (an approximate position
    in a folded string) belongs to neither, so nothing is dropped on a guess."""
    owner: dict[Span, int | None] = {}
    for number, entry in enumerate(entries):
        for span in {entry.span, *entry.spans.values(), *entry.key_spans.values()}:
            owner[span] = number if owner.get(span, number) == number else None
    return {span: number for span, number in owner.items() if number is not None}
