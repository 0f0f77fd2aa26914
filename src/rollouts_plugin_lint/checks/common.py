"""What every entry check needs: a finding about one entry, at the node a path names."""

from __future__ import annotations

from rollouts_plugin_lint.model import Finding, PluginEntry, Severity
from rollouts_plugin_lint.rules import RULES


def entry_finding(
    entry: PluginEntry,
    rule: str,
    message: str,
    hint: str | None = None,
    *,
    at: tuple[str | int, ...] = ("location",),
    on_key: bool = False,
    severity: Severity | None = None,
    field: str | None = None,
) -> Finding:
    """`at` names the node (the `location` value unless told otherwise); `on_key` points at
    its key instead, for findings about the key itself. `field` is the entry field the
    finding is about, when it is not the first step of `at`."""
    if field is None and at and isinstance(at[0], str):
        field = at[0]
    return Finding(
        rule,
        severity or RULES[rule].severity,
        entry.key_span_of(*at) if on_key else entry.span_of(*at),
        message,
        hint=hint,
        plugin=entry.name,
        kind=entry.kind,
        field=field,
    )
