"""Plugin lists in Markdown: the fenced code blocks of plugin READMEs and docs, where wrong
forms spread from. A block tagged `yaml`, `yml` or `json` is walked as YAML and its syntax errors
reported; an untagged block is walked only if it parses. Positions map to the Markdown file.

Fences follow CommonMark: three or more backticks or tildes open a block, the same
character at least as many times closes it, an unclosed block runs to the end of the
file (or of the blockquote it is in), and the opening fence's indentation is removed from
the lines inside (as far as they have it). In a blockquote (`> ```yaml`) each line's `>`
markers are removed first. A `json` block is walked as YAML, which JSON is."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from rollouts_plugin_lint.extract.positions import FILE, PositionMap
from rollouts_plugin_lint.extract.walker import Extraction, Walker
from rollouts_plugin_lint.model import LINE_BREAK, Finding, Severity, Span
from rollouts_plugin_lint.versions import Versions, parse_version

MARKDOWN_SUFFIXES = (".md", ".markdown")

# Parsing a block costs about a millisecond; real docs have a handful that mention plugins.
MAX_BLOCKS_WALKED = 100

_FENCE = re.compile(r"( *)(`{3,}|~{3,})(.*)")
# JSON is YAML: a `json` block is read the same way.
_YAML_TAGS = {"yaml", "yml", "json"}
# A blockquote marker (CommonMark 5.1): up to three spaces, `>`, and one optional space.
_QUOTE_MARKER = re.compile(r" {0,3}> ?")
# Text a shell expands: a block with these is a command or a template, not a plugin list.
_SHELL = re.compile(r"\$\(|\$\{")
_MENTION = re.compile(
    r"(?i)(?:trafficrouter|metricprovider|metric|step|traffic)[a-z]{0,24}plugin|argo-rollouts-config"
)
# `helm install argo-rollouts argo/argo-rollouts --version 2.37.7` and its `upgrade` form,
# matched line by line with patterns that cannot backtrack over a hostile line.
_HELM_COMMAND = re.compile(r"\bhelm\s+(?:upgrade|install)\b")
_VERSION_FLAG = re.compile(r"--version[= ]+[\"']?v?(\d+\.\d+\.\d+)\b")


@dataclass(frozen=True)
class _Block:
    tag: str  # the info string's first word, lowercased; "" when untagged
    first_line: int  # 0-based line of the block's first content line in the file
    column: int  # 0-based column in the file of each content line's first character
    text: str
    # False when the lines of a blockquoted block start at different columns (`>x`, `> x`):
    # positions then fall back to the fence, flagged approximate.
    exact: bool = True

    @property
    def positions(self) -> PositionMap:
        if self.exact:
            return PositionMap(FILE, self.first_line, self.column)
        return PositionMap(FILE, 0, 0, 0, (self.first_line - 1, self.column))


def extract_markdown(
    path: str, text: str, versions: Versions | None = None, forced: Versions | None = None
) -> Extraction:
    """Every plugin entry in the YAML code blocks of a Markdown text."""
    walker = Walker(path, (versions or Versions()).merged(_helm_version(text)), forced)
    walker.fragments = True
    walked = 0
    for number, block in enumerate(_blocks(text)):
        if block.tag not in _YAML_TAGS and block.tag:
            continue
        if not _MENTION.search(block.text):
            continue
        if walked == MAX_BLOCKS_WALKED:
            walker.result.findings.append(
                Finding(
                    "skipped-file",
                    Severity.WARNING,
                    Span.point(path, block.first_line, block.column + 1),
                    f"more than {MAX_BLOCKS_WALKED} code blocks mention a plugin key; "
                    "this one and the rest are not checked",
                )
            )
            break
        walked += 1
        if _SHELL.search(block.text):
            walker.result.findings.append(
                Finding(
                    "skipped-file",
                    Severity.NOTE,
                    Span.point(path, block.first_line, block.column + 1),
                    "this code block uses shell expansions (`$(...)`, `${...}`): a command "
                    "or template, not checked",
                )
            )
            continue
        before = len(walker.result.findings)
        walker.walk_text(
            block.text,
            block.positions,
            f"{path}#block{number}",
            syntax_errors=bool(block.tag),
        )
        # A broken example in documentation misleads readers; it breaks no cluster.
        walker.result.findings[before:] = [
            replace(f, severity=Severity.WARNING) if f.rule == "yaml-syntax" else f
            for f in walker.result.findings[before:]
        ]
    return walker.result


def _blocks(text: str) -> Iterator[_Block]:
    lines = LINE_BREAK.split(text)
    index = 0
    while index < len(lines):
        depth, prefix, line = _unquoted(lines[index])
        opening = _FENCE.fullmatch(line)
        index += 1
        if opening is None:
            continue
        indent, fence, info = opening.groups()
        if fence[0] == "`" and "`" in info:
            continue  # an inline code span, not a fence
        start = index
        content: list[tuple[int, str]] = []  # (quote prefix length, text)
        while index < len(lines):
            inner_depth, inner_prefix, inner = _unquoted(lines[index], depth)
            if inner_depth < depth:
                break  # the blockquote ends, and the block with it
            closing = _FENCE.fullmatch(inner)
            if (
                closing is not None
                and closing.group(2)[0] == fence[0]
                and len(closing.group(2)) >= len(fence)
                and not closing.group(3).strip()
            ):
                index += 1
                break
            content.append((inner_prefix, inner))
            index += 1
        filled = [line for _, line in content if line.strip()]
        strip = min([len(indent), *(len(line) - len(line.lstrip(" ")) for line in filled)])
        prefixes = {quote for quote, line in content if line.strip()} or {prefix}
        words = info.strip().lstrip("{.").split()
        tag = words[0].rstrip("}").lower() if words else ""
        body = "\n".join(line[strip:] for _, line in content) + "\n"
        yield _Block(tag, start, min(prefixes) + strip, body, exact=len(prefixes) == 1)


def _unquoted(line: str, most: int | None = None) -> tuple[int, int, str]:
    """(blockquote depth, length of the markers, the rest) of a line; at most `most`
    markers are taken (a block's own lines: deeper `>` are its content)."""
    depth, position = 0, 0
    while most is None or depth < most:
        marker = _QUOTE_MARKER.match(line, position)
        if marker is None:
            break
        depth, position = depth + 1, marker.end()
    return depth, position, line[position:]


def _helm_version(text: str) -> Versions:
    """The chart version a `helm install ... --version` in the file states, when it states
    exactly one: a nested chart form beside it is judged for that version."""
    found: dict[str, int] = {}
    for number, line in enumerate(LINE_BREAK.split(text), start=1):
        if "--version" not in line or "argo-rollouts" not in line:
            continue
        flag = _VERSION_FLAG.search(line)
        if flag is not None and _HELM_COMMAND.search(line):
            found.setdefault(flag.group(1), number)
    if len(found) != 1:
        return Versions()
    ((version_text, line_number),) = found.items()
    version = parse_version(version_text)
    if version is None:
        return Versions()
    return Versions(version, None, f"the `helm --version` on line {line_number}")
