"""Values that were never filled in: one clear finding instead of a cascade of URL,
download and checksum errors."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rollouts_plugin_lint.model import Severity

_PATTERNS = [
    (re.compile(r"(?i)change[_-]?me|replace[_-]?me|\bto[_-]?do\b|\bfixme\b|\btbd\b"), "a marker"),
    (re.compile(r"<[^<>\s][^<>]*>"), "an `<...>` placeholder"),
    (re.compile(r"\$\{[^}]*\}|\$\(\w+\)|^\$[A-Z_][A-Z0-9_]*$"), "an unexpanded variable"),
    (re.compile(r"(?i)(?:^|/)(?P<part>path/to)/|/(?P<word>your)[-_]|\byour[-_](?:org|repo|plugin)"),
     "an example path"),
    # Only the host is the placeholder: the scheme and user info around it are the user's.
    (re.compile(
        r"(?i)//(?:[^/@]*@)?(?P<host>(?:[\w-]+\.)*example(?:\.(?:com|org|net))?)(?::\d+)?(?:/|$)"),
     "an example.com host"),
    (re.compile(r"^(.)\1{63}$"), "a digest of one repeated character"),
    (re.compile(r"(?i)^x{3,}$|^\.\.\.$"), "a filler value"),
]  # fmt: skip
_TEMPLATE = re.compile(r"\{\{.*?\}\}")


@dataclass(frozen=True)
class Placeholder:
    what: str
    severity: Severity

    @property
    def is_template(self) -> bool:
        return self.severity is Severity.NOTE

    def message(self, field: str, value: str) -> str:
        shown = value if len(value) <= 60 else value[:57] + "..."
        if self.is_template:
            return f"`{field}` is {self.what} (`{shown}`): it can be checked only once rendered"
        return f"`{field}` holds {self.what} (`{shown}`), not a real value: fill it in"

    @property
    def hint(self) -> str | None:
        return (
            "render the chart (`helm template`) and lint the output" if self.is_template else None
        )


def fill_placeholders(value: str) -> str | None:
    """`value` with each placeholder replaced by a plain word, to tell the findings the
    placeholder causes from the rest; None when a placeholder stands for the whole value
    (it starts the value), so every finding about the value is the placeholder's."""
    spans = []
    for pattern in (_TEMPLATE, *(pattern for pattern, _ in _PATTERNS)):
        for match in pattern.finditer(value):
            named = [name for name, part in match.groupdict().items() if part is not None]
            spans.append(match.span(named[0]) if named else match.span())
    if not spans or min(start for start, _ in spans) == 0:
        return None if spans else value
    filled, copied = [], 0
    for start, end in sorted(spans):
        if end <= copied:
            continue  # inside a placeholder already replaced
        filled.append(value[copied:start] if start > copied else "")
        filled.append("x" if start >= copied else "")
        copied = end
    return "".join(filled) + value[copied:]


def placeholder(value: object) -> Placeholder | None:
    """Why `value` looks like a placeholder, or None. A Helm template expression is not a
    mistake in a chart template, only something we cannot check: a note."""
    if not isinstance(value, str):
        return None
    if _TEMPLATE.search(value):
        return Placeholder("a Helm template expression", Severity.NOTE)
    for pattern, what in _PATTERNS:
        if pattern.search(value):
            return Placeholder(what, Severity.ERROR)
    return None
