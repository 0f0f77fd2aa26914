"""Inline suppressions, yamllint style: `# rollouts-plugin-lint: disable=RULE[,RULE]` at the
end of a finding's line, or alone on the line above it. A suppression that matches no
finding is reported (`unused-suppression`), so none outlives the problem it hid."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rollouts_plugin_lint.model import LINE_BREAK, Finding, Span
from rollouts_plugin_lint.rules import RULES

MARKER = b"rollouts-plugin-lint:"
# Each directive that suppresses nothing becomes a finding: a file of a megabyte of them
# made 200,000 and took a minute. A real file holds a few.
MAX_DIRECTIVES_PER_FILE = 1_000
# A YAML comment starts a line or follows whitespace (YAML 1.2, 6.6). Ids are lowercase
# words with dashes, so nothing of the file's own text reaches a message but them.
_DIRECTIVE = re.compile(
    r"(?:^|(?<=\s))#[ \t]*rollouts-plugin-lint:[ \t]*disable="
    r"(?P<ids>[A-Za-z0-9_-]{1,64}(?:[ \t]*,[ \t]*[A-Za-z0-9_-]{1,64})*)"
)


@dataclass(frozen=True)
class _Directive:
    span: Span  # the comment, for the unused-suppression note
    target_line: int  # the line whose findings it suppresses
    rule: str


def apply_suppressions(findings: Iterable[Finding], texts: Mapping[str, bytes]) -> list[Finding]:
    """The findings no directive suppresses, plus a note for each directive rule id that
    suppressed nothing (or is not a rule)."""
    findings = list(findings)
    directives: list[_Directive] = []
    overflows: list[Span] = []
    for path, data in texts.items():
        if MARKER in data:
            read, overflow = _scan(path, data)
            directives += read
            overflows += [overflow] if overflow else []
    if not directives:
        return findings
    # A `#` inside a token a finding points at (`location: "https://x/ # ..."`) is part of
    # a quoted value, not a comment.
    tokens: dict[tuple[str, int], list[Span]] = {}
    for finding in findings:
        span = finding.span
        if span.line == span.end_line and not span.approximate:
            tokens.setdefault((span.path, span.line), []).append(span)
    directives = [
        d
        for d in directives
        if not any(_inside(d.span, token) for token in tokens.get((d.span.path, d.span.line), ()))
    ]
    wanted = {(d.span.path, d.target_line, d.rule): d for d in directives}
    used: set[_Directive] = set()
    kept = []
    for finding in findings:
        directive = wanted.get((finding.span.path, finding.span.line, finding.rule))
        if directive is None:
            kept.append(finding)
        else:
            used.add(directive)
    kept.extend(_unused(directive) for directive in directives if directive not in used)
    kept.extend(_too_many(span) for span in overflows)
    return kept


def _inside(comment: Span, token: Span) -> bool:
    return token.column <= comment.column < token.end_column


def _scan(path: str, data: bytes) -> tuple[list[_Directive], Span | None]:
    """The file's directives up to the bound, and where the first one past it is."""
    # Decoded as the report's source snippets are, so lines count the same.
    lines = LINE_BREAK.split(data.decode("utf-8", "replace"))
    directives: list[_Directive] = []
    for number, line in enumerate(lines, start=1):
        if "rollouts-plugin-lint:" not in line:
            continue
        match = _DIRECTIVE.search(line)
        if match is None:
            continue
        alone = not line[: match.start()].strip()
        span = Span(path, number, match.start() + 1, number, match.end() + 1)
        rules = list(dict.fromkeys(r.strip() for r in match["ids"].split(",")))
        if len(directives) + len(rules) > MAX_DIRECTIVES_PER_FILE:
            return directives, span
        directives += [_Directive(span, number + 1 if alone else number, r) for r in rules]
    return directives, None


def _too_many(span: Span) -> Finding:
    rule = RULES["unused-suppression"]
    message = (
        f"more than {MAX_DIRECTIVES_PER_FILE:,} suppressed rule ids in this file: this "
        "directive and those after it are not read"
    )
    return Finding(rule.id, rule.severity, span, message, hint="remove the ones you do not need")


def _unused(directive: _Directive) -> Finding:
    rule = RULES["unused-suppression"]
    where = "the next line" if directive.target_line > directive.span.line else "this line"
    if directive.rule in RULES:
        message = (
            f"`disable={directive.rule}` suppresses nothing: no `{directive.rule}` finding "
            f"on {where}"
        )
        hint = "remove it, or the rule id in it"
    else:
        close = difflib.get_close_matches(directive.rule, list(RULES), n=1)
        message = f"`disable={directive.rule}`: no rule `{directive.rule}`"
        hint = (
            f"did you mean `{close[0]}`?"
            if close
            else "rule ids: rollouts-plugin-lint --list-rules"
        )
    return Finding(rule.id, rule.severity, directive.span, message, hint=hint)
