"""GitHub Actions: one workflow-command annotation per finding (the 10 per level the runner
shows), a Markdown job summary, the counts as step outputs, and the full text report in a
collapsed log group.

Everything a finding says may come from a pull request (YAML, URLs, server answers), so every
value is escaped the way the runner unescapes it (actions/runner `ActionCommand.cs`), and every
line goes through a neutralising GuardedStream, so only our own commands are commands.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TextIO

from rollouts_plugin_lint.lint import LintResult
from rollouts_plugin_lint.model import Finding, Severity
from rollouts_plugin_lint.printable import guarded, printable
from rollouts_plugin_lint.report.text import summary_line, write_text
from rollouts_plugin_lint.rules import RULES
from rollouts_plugin_lint.settings import Settings

# The runner shows this many annotations per level and step, and drops the rest silently
# (`_maxCountPerIssueType`).
ANNOTATIONS_PER_LEVEL = 10
# The runner skips a step summary larger than this (`AttachmentSizeLimit`, per step).
SUMMARY_LIMIT = 1024 * 1024
RULES_URL = "https://github.com/rollouts-plugin-lint/rollouts-plugin-lint#rules"
GROUP_TITLE = "rollouts-plugin-lint: full report"

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}
_LEVEL_NAMES = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def write_github(result: LintResult, settings: Settings, stream: TextIO) -> None:
    environ = os.environ
    findings = [
        f for f in result.findings if settings.verbosity >= 0 or f.severity is not Severity.NOTE
    ]
    where = _Locator(environ.get("GITHUB_WORKSPACE"))

    log = guarded(stream)
    log.command(f"::group::{escape_data(GROUP_TITLE)}")
    write_text(result, settings, log)
    log.command("::endgroup::")

    shown, hidden = pick_annotations(findings)
    for finding in shown:
        log.command(annotation(finding, where(finding.span.path)))

    summary_file = environ.get("GITHUB_STEP_SUMMARY")
    if hidden:
        log.command(_overflow_notice(hidden, len(findings), summary_file, settings))
    if summary_file:
        room = SUMMARY_LIMIT - _size_of(summary_file)
        _append(summary_file, step_summary(result, findings, where, room))
    output_file = environ.get("GITHUB_OUTPUT")
    if output_file:
        _append(
            output_file,
            f"errors={result.count(Severity.ERROR)}\n"
            f"warnings={result.count(Severity.WARNING)}\n"
            f"notes={result.count(Severity.NOTE)}\n",
        )


def _append(path: str, text: str) -> None:
    """Append to a runner file command; the report itself matters more than this, so a
    failure is a warning, not a crash."""
    try:
        if text:
            with open(path, "a", encoding="utf-8") as file:
                file.write(text)
    except OSError as error:
        print(f"rollouts-plugin-lint: warning: {path}: {error.strerror}", file=sys.stderr)


def _size_of(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # not there yet


# --- workflow commands -------------------------------------------------------------------


def escape_data(text: str) -> str:
    """A command's message, as actions/toolkit `escapeData` (`%` first)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A command's property value (a file name, a title): every control character shown
    escaped, and also `:` and `,`, which end the command or the property."""
    return escape_data(printable(text, None)).replace(":", "%3A").replace(",", "%2C")


# Errors after which the controller does not run at all: it refuses to start or crash-loops
# while it reads its configuration and downloads the plugins (the rule texts in rules.py say
# which). Other errors break one plugin when it is first started, or leak a secret.
_STOPS_THE_CONTROLLER = frozenset(
    {
        "yaml-syntax",
        "plugin-list-shape",
        "schema",
        "name-format",
        "location-format",
        "sha256-format",
        "download-failed",
        "checksum-mismatch",
        "placeholder",
        "version-gate",
    }
)


def stops_the_controller(finding: Finding) -> bool:
    if finding.severity is not Severity.ERROR:
        return False
    if finding.rule == "unknown-field":  # a misspelled `name` or `location`: no such field
        return finding.field in ("name", "location")
    return finding.rule in _STOPS_THE_CONTROLLER


def pick_annotations(findings: Sequence[Finding]) -> tuple[list[Finding], list[Finding]]:
    """The findings that get an annotation (at most 10 per level, one notice kept free to say
    how many are missing) and the others. Within a level each plugin gets one before any
    plugin gets two, and at each round what stops the controller goes first, then file and
    line. The chosen ones are written errors first, then by file and line."""
    ranked = sorted(findings, key=lambda f: (f.severity.rank, f.sort_key))
    by_level = {
        level: _round_robin([f for f in ranked if f.severity is level]) for level in Severity
    }
    overflow = any(len(group) > ANNOTATIONS_PER_LEVEL for group in by_level.values())
    kept: set[int] = set()
    for level, group in by_level.items():
        room = ANNOTATIONS_PER_LEVEL - (1 if overflow and level is Severity.NOTE else 0)
        kept.update(map(id, group[:room]))
    return [f for f in ranked if id(f) in kept], [f for f in ranked if id(f) not in kept]


def _round_robin(findings: list[Finding]) -> list[Finding]:
    """Each plugin's most important finding, then each one's second, and so on; a finding
    that belongs to no plugin (a file that is not valid YAML) is a plugin of its own."""
    urgency = sorted(findings, key=lambda f: (not stops_the_controller(f), f.sort_key))
    rounds: dict[object, int] = {}
    ordered = []
    for position, finding in enumerate(urgency):
        owner = (finding.span.path, finding.kind, finding.plugin) if finding.plugin else position
        turn = rounds.get(owner, 0)
        rounds[owner] = turn + 1
        ordered.append((turn, not stops_the_controller(finding), finding.sort_key, finding))
    return [finding for *_, finding in sorted(ordered, key=lambda item: item[:3])]


def annotation(finding: Finding, path: str) -> str:
    span = finding.span
    end_line, end_column = span.end_line, span.end_column
    if end_line > span.line and end_column == 1:  # ends at the start of the next line
        end_line -= 1
    properties = [("file", path), ("line", str(span.line)), ("endLine", str(end_line))]
    if end_line == span.line:
        # Columns only on one line (the runner drops them otherwise). Like `line`/`endLine`,
        # `col`/`endColumn` name the first and the last character; our end is exclusive.
        last = max(end_column - 1, span.column)
        properties += [("col", str(span.column)), ("endColumn", str(last))]
    properties.append(("title", f"{finding.rule}: {_rule_summary(finding.rule)}"))
    props = ",".join(f"{name}={escape_property(value)}" for name, value in properties)
    return f"::{_COMMANDS[finding.severity]} {props}::{escape_data(_message(finding))}"


def _message(finding: Finding) -> str:
    text = printable(finding.message, None, keep_newlines=True)
    if finding.span.approximate:
        text += " (position approximate: inside a folded or quoted string)"
    if finding.hint:
        text += "\nFix: " + printable(finding.hint, None, keep_newlines=True)
    return text


def _rule_summary(rule: str) -> str:
    known = RULES.get(rule)
    return known.summary if known else rule


def _overflow_notice(
    hidden: Sequence[Finding], total: int, summary_file: str | None, settings: Settings
) -> str:
    levels = Counter(finding.severity for finding in hidden)
    detail = ", ".join(
        _plural(levels[level], name) for level, name in _LEVEL_NAMES.items() if levels[level]
    )
    places = [f'the log group "{GROUP_TITLE}"']
    if summary_file:
        places.insert(0, "the job summary")
    if settings.sarif_file:
        places.append(f"the SARIF file {settings.sarif_file}")
    message = (
        f"{len(hidden)} of {total} findings ({detail}) have no annotation here: GitHub shows "
        f"at most {ANNOTATIONS_PER_LEVEL} errors, {ANNOTATIONS_PER_LEVEL} warnings and "
        f"{ANNOTATIONS_PER_LEVEL} notices per step. Read them all in {_join(places)}."
    )
    title = f"rollouts-plugin-lint: {_plural(len(hidden), 'more finding')}"
    return f"::notice title={escape_property(title)}::{escape_data(printable(message, None))}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word if count == 1 else word + 's'}"


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class _Locator:
    """Report paths (relative to the working directory) as the runner wants them: relative
    to GITHUB_WORKSPACE, with `/`; absolute when outside it."""

    def __init__(self, workspace: str | None) -> None:
        self.workspace = os.path.abspath(workspace) if workspace else None

    def __call__(self, path: str) -> str:
        if not self.workspace:
            return path
        absolute = os.path.abspath(path)
        if absolute == self.workspace or absolute.startswith(
            self.workspace.rstrip(os.sep) + os.sep
        ):
            return os.path.relpath(absolute, self.workspace).replace(os.sep, "/")
        return absolute.replace(os.sep, "/")


# --- job summary -------------------------------------------------------------------------

# Characters that Markdown, HTML or GitHub's renderer give a meaning inside a table cell
# (tables, links, images, emphasis, code, math, mentions, issue links), written as
# character references, which CommonMark always shows literally.
_MARKDOWN_ESCAPES = {char: f"&#{ord(char)};" for char in "\\`*_[]|~$@#"}
_MARKDOWN_ESCAPES.update({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\n": "<br>"})
_TABLE_HEAD = "| severity | rule | where | problem | fix |\n|---|---|---|---|---|\n"


def markdown_text(text: str) -> str:
    """Untrusted text for a Markdown table cell or heading: shows as written, does nothing."""
    return "".join(
        _MARKDOWN_ESCAPES.get(char, char) for char in printable(text, None, keep_newlines=True)
    )


def step_summary(
    result: LintResult, findings: Sequence[Finding], where: _Locator, room: int
) -> str:
    """The Markdown report: a table per plugin with every finding and its fix, cut with a
    note where it would pass `room` bytes."""
    header = f"### rollouts-plugin-lint: {summary_line(result)}\n\n"
    if findings:
        header += f"Every rule and its fix: [rule reference]({RULES_URL}).\n"
    room -= 512  # for the note below
    if _utf8(header) > room:
        return ""
    parts, size, heading = [header], _utf8(header), None
    for written, (group, finding) in enumerate(_by_plugin(findings)):
        piece = _row(finding, where)
        if group != heading:
            piece = f"\n#### {group}\n\n{_TABLE_HEAD}{piece}"
        size += _utf8(piece)
        if size > room:
            parts.append(
                f"\n_{len(findings) - written} more findings are not listed: a step summary "
                f'is limited to 1 MiB. All of them are in the log group "{GROUP_TITLE}"._\n'
            )
            break
        parts.append(piece)
        heading = group
    return "".join(parts)


def _by_plugin(findings: Iterable[Finding]) -> list[tuple[str, Finding]]:
    """(heading, finding) pairs: plugins in order of their worst finding, errors first
    within each, findings that belong to no plugin last."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in sorted(findings, key=lambda f: (f.severity.rank, f.sort_key)):
        kind = finding.kind.value if finding.kind and finding.plugin else ""
        groups.setdefault((finding.plugin or "", kind), []).append(finding)
    pairs = []
    for (plugin, kind), group in sorted(groups.items(), key=lambda item: not item[0][0]):
        if plugin:
            heading = f"Plugin {markdown_text(plugin)}" + (f" ({kind})" if kind else "")
        else:
            heading = "Other findings"
        pairs.extend((heading, finding) for finding in group)
    return pairs


def _row(finding: Finding, where: _Locator) -> str:
    span = finding.span
    message = finding.message + (" (position approximate)" if span.approximate else "")
    cells = [
        finding.severity.value,
        f"`{finding.rule}`",
        markdown_text(f"{where(span.path)}:{span.line}:{span.column}"),
        markdown_text(message),
        markdown_text(finding.hint or ""),
    ]
    return "| " + " | ".join(cells) + " |\n"


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))
