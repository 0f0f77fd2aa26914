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
    (re.compile(r"(?i)(?:^|/)path/to/|/your[-_]|\byour[-_](?:org|repo|plugin)"), "an example path"),
    (re.compile(r"(?i)//(?:[^/@]*@)?(?:[\w-]+\.)*example(?:\.(?:com|org|net))?(?::\d+)?(?:/|$)"),
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
