"""What every entry check needs: a finding about one entry, at the node a path names."""

from __future__ import annotations

from rollouts_plugin_lint.model import Edit, Finding, Fix, PluginEntry, Severity, Span
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
    fix: Fix | None = None,
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
        fix=fix,
    )


def new_location(entry: PluginEntry, url: str, *, safe: bool = True) -> Fix | None:
    """The fix that points the entry at `url`, when it has a location to change."""
    location = entry.location
    if not location or url == location:
        return None
    edit = Edit(entry.span_of("location"), location, url)
    return Fix(f"location: {url}", (edit,), safe)


def renamed_key(entry: PluginEntry, key: str, new_key: str) -> Fix:
    return Fix(f"rename `{key}` to `{new_key}`", (Edit(entry.key_span_of(key), key, new_key),))


def new_value(
    entry: PluginEntry,
    field: str,
    old: str,
    written: str,
    *,
    whole: bool = False,
    safe: bool = True,
) -> Fix:
    """The fix that writes `written` for the text `old` of the value of `field` (the whole
    scalar with `whole`, its quotes included)."""
    edit = Edit(entry.span_of(field), old, written, whole)
    return Fix(f"{field}: {written}", (edit,), safe)


def pinned(entry: PluginEntry, digest: str) -> Fix | None:
    """`sha256: "<digest>"`: the value replaced when the entry has the field (empty or
    `null`), else the field added after `location`."""
    field = f'sha256: "{digest}"'
    if "sha256" in entry.value:
        value_span = entry.spans.get(("sha256",))
        old = entry.value["sha256"]
        if value_span is None or old not in ("", None):
            return None
        written = "" if old == "" else "null"
        return Fix(field, (Edit(value_span, written, f'"{digest}"', whole=True),))
    key, value = entry.key_span_of("location"), entry.span_of("location")
    whole = Span(key.path, key.line, key.column, value.end_line, value.end_column,
                 key.approximate or value.approximate)  # fmt: skip
    return Fix(field, (Edit(whole, "", field),))
