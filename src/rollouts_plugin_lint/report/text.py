"""`path:line:col: severity: message [rule]`, the source line with a caret under the
offending token (actionlint style), the hint, and a one-line summary."""

from __future__ import annotations

import unicodedata
from typing import TextIO

from rollouts_plugin_lint.lint import LintResult
from rollouts_plugin_lint.model import LINE_BREAK, Finding, Severity
from rollouts_plugin_lint.printable import printable
from rollouts_plugin_lint.settings import Settings

_COLORS = {
    Severity.ERROR: "\x1b[1;31m",
    Severity.WARNING: "\x1b[1;33m",
    Severity.NOTE: "\x1b[1;36m",
}
_BOLD, _DIM, _RESET = "\x1b[1m", "\x1b[2m", "\x1b[0m"


def write_text(result: LintResult, settings: Settings, stream: TextIO) -> None:
    paint = _Painter(settings.color)
    lines_by_path = {path: LINE_BREAK.split(text) for path, text in result.sources.items()}
    for finding in result.findings:
        if settings.verbosity < 0 and finding.severity is Severity.NOTE:
            continue
        stream.write(_render(finding, lines_by_path.get(finding.span.path), paint))
    fixable = fixable_line(result.findings)
    if fixable:
        stream.write(fixable + "\n")
    stream.write(summary_line(result) + "\n")


def fixable_line(findings: list[Finding]) -> str | None:
    """How many findings `--fix` would fix, as ruff says it; None when none."""
    fixes = [
        finding.fix
        for finding in findings
        if finding.fix and not any(edit.span.approximate for edit in finding.fix.edits)
    ]
    safe = sum(1 for fix in fixes if fix.safe)
    unsafe = len(fixes) - safe
    if not fixes:
        return None
    if not safe:
        return f"{unsafe} fixable with --fix --unsafe-fixes"
    more = f" ({unsafe} more with --unsafe-fixes)" if unsafe else ""
    return f"{safe} fixable with --fix{more}"


def summary_line(result: LintResult) -> str:
    """The counts; for a run without errors also what was verified, and plainly when there
    was nothing to check."""
    from rollouts_plugin_lint.report.proof import verified

    counts = [
        _plural(result.count(Severity.ERROR), "error"),
        _plural(result.count(Severity.WARNING), "warning"),
        _plural(result.count(Severity.NOTE), "note"),
    ]
    files = _plural(result.files, "file")
    if not result.entries:
        scope = f"no plugin entries found in {files} checked"
        return (
            f"{scope} (no problems found)"
            if not result.findings
            else f"{', '.join(counts)} ({scope})"
        )
    scope = f"{_plural(len(result.entries), 'plugin entry', 'plugin entries')} in {files} checked"
    status = ", ".join(counts) if result.findings else "no problems found"
    if result.fixed:
        fixed = _plural(result.fixed, "finding")
        status = f"fixed {fixed}, " + (
            ", ".join(counts) + " left" if result.findings else "no problems left"
        )
    if not result.count(Severity.ERROR):
        status += f"; {verified(result)}"
    return f"{status} ({scope})"


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


class _Painter:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.enabled else text


def _render(finding: Finding, lines: list[str] | None, paint: _Painter) -> str:
    span = finding.span
    severity = paint(_COLORS[finding.severity], finding.severity.value)
    header = (
        f"{paint(_BOLD, printable(span.path, None))}:{span.line}:{span.column}: {severity}: "
        f"{printable(finding.message, None)} {paint(_DIM, f'[{finding.rule}]')}\n"
    )
    out = [header]
    if lines is not None and 0 < span.line <= len(lines):
        out.append(
            _snippet(
                span.line,
                span.column,
                span.end_line,
                span.end_column,
                lines,
                paint,
                finding.severity,
            )
        )
    gutter = " " * (len(str(span.line)) + 1)
    if span.approximate:
        out.append(
            f"{gutter}= note: the position is approximate (inside a folded or quoted string)\n"
        )
    if finding.hint:
        hint_lines = printable(finding.hint, None, keep_newlines=True).split("\n")
        out.append(f"{gutter}= hint: {hint_lines[0]}\n")
        out.extend(f"{gutter}        {line}\n" for line in hint_lines[1:])
    return "".join(out)


def _snippet(
    line: int,
    column: int,
    end_line: int,
    end_column: int,
    lines: list[str],
    paint: _Painter,
    severity: Severity,
) -> str:
    source = printable(lines[line - 1].replace("\t", " ").rstrip(), None)
    start = max(column - 1, 0)
    stop = end_column - 1 if end_line == line else len(source)
    stop = max(stop, start + 1)
    pad = " " * _width(source[:start])
    marker = "^" + "~" * max(_width(source[start:stop]) - 1, 0)
    number = str(line)
    gutter = " " * len(number)
    return f"{gutter} |\n{number} | {source}\n{gutter} | {pad}{paint(_COLORS[severity], marker)}\n"


def _width(text: str) -> int:
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width
