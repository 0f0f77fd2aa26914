"""References across files: every name a Rollout or analysis resource uses must be a plugin
the checked files configure in the list of that kind. The controller finds the plugin by
that name (utils/plugin/plugin.go L23 at v1.9.1: `plugin <name> not configured in
configmap`), so a miss fails the first rollout, far from the commit that caused it."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence

from rollouts_plugin_lint.model import Finding, PluginEntry, PluginKind, PluginReference, Severity
from rollouts_plugin_lint.rules import RULES

# Bounds the did-you-mean work (about 75 us a comparison): a repository may configure
# many plugins, and a pull request can hold many references. Each distinct name is matched
# once; past the budget, only a letter-case difference is still found.
_MAX_CANDIDATES = 200
_COMPARISON_BUDGET = 10_000


def check_references(
    entries: Sequence[PluginEntry], references: Sequence[PluginReference]
) -> Iterator[Finding]:
    configured: dict[PluginKind, dict[str, PluginEntry]] = {kind: {} for kind in PluginKind}
    for entry in entries:
        if entry.name:
            configured[entry.kind].setdefault(entry.name, entry)
    # A configured name a misspelled reference was matched against is meant, not unused.
    used = {(reference.kind, reference.name) for reference in references}
    closest = _Closest()
    for reference in references:
        yield from _resolve(reference, configured, used, closest)
    if references:
        # Without a single reference in the checked files, the uses live elsewhere.
        for kind, names in configured.items():
            for name, entry in names.items():
                if (kind, name) not in used:
                    yield _unreferenced(entry)


def _resolve(
    reference: PluginReference,
    configured: dict[PluginKind, dict[str, PluginEntry]],
    used: set[tuple[PluginKind, str]],
    closest: _Closest,
) -> Iterator[Finding]:
    kind, name = reference.kind, reference.name
    if name in configured[kind]:
        return
    use = f"{reference.resource} uses the {kind.label} plugin `{name}`"
    for other, names in configured.items():
        if name in names:
            yield _finding(
                "plugin-reference-kind",
                reference,
                f"{use}, but `{name}` is configured as a {other.label} plugin "
                f"({_where(names[name])}): controllers from v1.8 look for it in "
                f"`{kind.value}` and fail with `plugin {name} not configured in configmap`; "
                "older ones find it by name and start it with the wrong handshake cookie, "
                "which it refuses",
                f"configure a {kind.label} plugin under `{kind.value}`, or reference the "
                "plugin where its kind belongs",
            )
            return
    names = configured[kind]
    if not names:
        yield _finding(
            "unknown-plugin-reference",
            reference,
            f"{use}, and the checked files configure no {kind.label} plugins: it must be in "
            f"`{kind.value}` of the controller's argo-rollouts-config, which may live "
            "elsewhere",
            severity=Severity.NOTE,
        )
        return
    close = closest.find(kind, name, names)
    if close:
        used.add((kind, close))
        detail = f"; did you mean `{close}` ({_where(names[close])})?"
        hint = f"use `{close}`, the configured name"
    else:
        shown = ", ".join(f"`{n}` ({_where(e)})" for n, e in list(names.items())[:3])
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        detail = f"; the checked files configure {shown}{more}"
        hint = f"configure `{name}` under `{kind.value}`, or use a configured name"
    yield _finding(
        "unknown-plugin-reference",
        reference,
        f"{use}, which no `{kind.value}` entry configures: the controller fails with "
        f"`plugin {name} not configured in configmap` at the first rollout{detail}",
        hint,
    )


class _Closest:
    """The configured name a reference meant: the same in another letter case, else a
    close one, within the run's comparison budget."""

    def __init__(self) -> None:
        self._found: dict[tuple[PluginKind, str], str | None] = {}
        self._budget = _COMPARISON_BUDGET

    def find(self, kind: PluginKind, name: str, names: dict[str, PluginEntry]) -> str | None:
        if (kind, name) not in self._found:
            self._found[kind, name] = self._match(name, list(names)[:_MAX_CANDIDATES])
        return self._found[kind, name]

    def _match(self, name: str, candidates: list[str]) -> str | None:
        folded = {candidate.lower(): candidate for candidate in candidates}
        if name.lower() in folded:
            return folded[name.lower()]
        if self._budget < len(candidates):
            return None
        self._budget -= len(candidates)
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        return close[0] if close else None


def _unreferenced(entry: PluginEntry) -> Finding:
    return Finding(
        "unreferenced-plugin",
        RULES["unreferenced-plugin"].severity,
        entry.span_of("name"),
        f"no Rollout or analysis resource in the checked files uses the {entry.kind.label} "
        f"plugin `{entry.name}`: it is downloaded at every start for nothing, or its users "
        "live elsewhere",
        plugin=entry.name,
        kind=entry.kind,
    )


def _where(entry: PluginEntry) -> str:
    span = entry.span_of("name")
    return f"{span.path}:{span.line}"


def _finding(
    rule: str,
    reference: PluginReference,
    message: str,
    hint: str | None = None,
    severity: Severity | None = None,
) -> Finding:
    return Finding(
        rule,
        severity or RULES[rule].severity,
        reference.span,
        message,
        hint=hint,
        plugin=reference.name,
        kind=reference.kind,
    )
