"""`--fix` and `--diff`: the fixes of this run's findings as text edits at their exact
spans in the bytes that were checked, so comments, quoting, indentation, key order and line
endings stay as they were; and the writing of the fixed files.

An edit is applied only where the file reads what the finding says is there; a span that
is approximate (a folded or escaped string), an encoding other than UTF-8, a file with a
YAML alias (one node's text read in several places), a fix that would overlap another, or
a result that no longer parses to the same entries with only the fixed fields changed as
the fixes say leaves the file as it is, and the finding keeps its fix as a hint."""

from __future__ import annotations

import bisect
import codecs
import contextlib
import difflib
import errno
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from rollouts_plugin_lint.model import LINE_BREAK, Edit, Finding, Fix, PluginEntry, SourceFile, Span
from rollouts_plugin_lint.printable import printable

# What a replacement may write inside a scalar of any quoting style without changing how
# the scalar reads: no quote, escape, comment, flow indicator or line break.
_SAFE_TEXT = re.compile(r"[A-Za-z0-9._~:/?&=%+@!$*()-]+")
# The start of a block sequence item or mapping line: only indentation and `- ` markers.
_BLOCK_PREFIX = re.compile(r"(?: *- +)* *")
# A YAML alias (`*name`, `<<: *name`) where a node can start: after an indicator or at the
# head of a line, any of YAML's line breaks ending the line before (a CR alone too). The
# node it names is read in two places (or merged into other mappings), so an edit of it
# would change them all. In the file's whole text, so a YAML text inside a string
# (ConfigMap data, helm.values) counts too; a Markdown `*emphasis*` after a `- ` or `: `
# is taken for one, and its file then keeps its fixes as hints.
_ALIAS = re.compile(r"(?:\A|[-:?,\[{\r\n\x85\u2028\u2029])[ \t]*(?:![^\s]*[ \t]+)?\*[^\s,\[\]{}]")


@dataclass
class FixPlan:
    """What `--fix` changes: the new bytes of each changed file, the findings fixed, and the
    findings left (those with a fix that cannot be written carry it as their hint)."""

    texts: dict[str, bytes] = field(default_factory=dict)
    fixed: list[Finding] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)


def plan_fixes(
    findings: Iterable[Finding], files: Mapping[str, SourceFile], *, unsafe: bool = False
) -> FixPlan:
    plan = FixPlan()
    by_path: dict[str, list[Finding]] = {}
    for finding in findings:
        usable = finding.fix is not None and (finding.fix.safe or unsafe)
        if usable and finding.span.path in files:
            by_path.setdefault(finding.span.path, []).append(finding)
        else:
            plan.remaining.append(finding)
    for path, fixable in by_path.items():
        text, fixed, left = _fix_file(files[path], fixable)
        if text is not None:
            plan.texts[path] = text
        plan.fixed.extend(fixed)
        plan.remaining.extend(_with_hint(finding) for finding in left)
    plan.remaining.sort(key=lambda finding: finding.sort_key)
    return plan


def _with_hint(finding: Finding) -> Finding:
    if finding.hint or finding.fix is None:
        return finding
    return replace(finding, hint=finding.fix.description)


def _fix_file(
    source: SourceFile, findings: list[Finding]
) -> tuple[bytes | None, list[Finding], list[Finding]]:
    encoding = "utf-8-sig" if source.data.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        text = source.data.decode(encoding)
    except UnicodeDecodeError:
        return None, [], findings
    if _ALIAS.search(text):
        return None, [], findings
    starts = _line_starts(text)
    accepted = _Changes()
    fixed: list[Finding] = []
    left: list[Finding] = []
    for finding in sorted(findings, key=lambda f: f.sort_key):
        assert finding.fix is not None
        changes = _changes(text, starts, finding.fix, source.display_path)
        if not changes or not accepted.add_all(changes):
            left.append(finding)
            continue
        fixed.append(finding)
    if not accepted.sorted:
        return None, [], left
    fixed_text = accepted.applied_to(text)
    if not _reads_the_same(source, fixed_text, fixed):
        return None, [], fixed + left
    return fixed_text.encode(encoding), fixed, left


def _line_starts(text: str) -> list[int]:
    """The offset of each line's first character (lines counted as the YAML reader does),
    and one past the end."""
    return [0, *(match.end() for match in LINE_BREAK.finditer(text)), len(text) + 1]


def _offset(text: str, starts: list[int], line: int, column: int) -> int | None:
    if not 1 <= line < len(starts):
        return None
    offset = starts[line - 1] + column - 1
    line_end = min(starts[line], len(text))
    return offset if starts[line - 1] <= offset <= line_end else None


def _changes(
    text: str, starts: list[int], fix: Fix, path: str
) -> list[tuple[int, int, str]] | None:
    """The (start, end, new text) replacements of a fix, or None when the file does not read
    what the fix expects at each span."""
    changes = []
    for edit in fix.edits:
        # Positions are those of the file the edit names: in another file they mean nothing.
        change = _change(text, starts, edit) if edit.span.path == path else None
        if change is None:
            return None
        changes.append(change)
    return changes


def _change(text: str, starts: list[int], edit: Edit) -> tuple[int, int, str] | None:
    span = edit.span
    if span.approximate:
        return None
    start = _offset(text, starts, span.line, span.column)
    end = _offset(text, starts, span.end_line, span.end_column)
    if start is None or end is None or end < start:
        return None
    region = text[start:end]
    if edit.whole:
        # Fixes speak `\n`; the file keeps its own line breaks.
        written = (edit.old, f'"{edit.old}"', f"'{edit.old}'")
        if LINE_BREAK.sub("\n", region) not in written:
            return None
        found = LINE_BREAK.search(region)
        line_break = found.group() if found else _first_break(text)
        return start, end, edit.new.replace("\n", line_break)
    if not edit.old:
        return _insertion(text, starts, edit, start, end)
    if region.count(edit.old) != 1 or not _SAFE_TEXT.fullmatch(edit.new):
        return None
    at = start + region.index(edit.old)
    return at, at + len(edit.old), edit.new


def _insertion(
    text: str, starts: list[int], edit: Edit, start: int, end: int
) -> tuple[int, int, str] | None:
    """`edit.new` (`key: value`) as a field of the mapping that holds the field at
    `edit.span`: on a line of its own after it, indented like it, in a block mapping; after
    it with a comma in a flow mapping or JSON object."""
    span = edit.span
    before = text[starts[span.line - 1] : start]
    line_end = _content_end(text, starts, span.end_line)
    after = text[end:line_end].strip()
    key, _, value = edit.new.partition(": ")
    if _BLOCK_PREFIX.fullmatch(before) and (not after or after.startswith("#")):
        next_line = min(starts[span.end_line], len(text))
        line_break = text[line_end:next_line]
        lead = "" if line_break else _first_break(text)
        indent = " " * (span.column - 1)
        return next_line, next_line, f"{lead}{indent}{edit.new}{line_break}"
    if text[start : start + 1] == '"':
        key = f'"{key}"'
    return end, end, f", {key}: {value}"


def _content_end(text: str, starts: list[int], line: int) -> int:
    """Where the content of `line` ends, before its line break."""
    line_text = text[starts[line - 1] : min(starts[line], len(text))]
    match = LINE_BREAK.search(line_text)
    return starts[line - 1] + (match.start() if match else len(line_text))


def _first_break(text: str) -> str:
    match = LINE_BREAK.search(text)
    return match.group() if match else "\n"


class _Changes:
    """The accepted (start, end, new text) replacements of a file, sorted and never
    overlapping, so each new one is checked against its neighbours only: a file with
    100,000 fixes is planned in linear time, not in 10^10 comparisons."""

    def __init__(self) -> None:
        self.sorted: list[tuple[int, int, str]] = []

    def add_all(self, changes: list[tuple[int, int, str]]) -> bool:
        """Accept all of `changes`, or none when one overlaps an accepted one (the same
        edit from another finding is applied once)."""
        if any(self._conflicts(change) for change in changes):
            return False
        for change in changes:
            at = bisect.bisect_left(self.sorted, change)
            if self.sorted[at : at + 1] != [change]:
                self.sorted.insert(at, change)
        return True

    def _conflicts(self, change: tuple[int, int, str]) -> bool:
        start = change[0]
        # Accepted changes are disjoint, so only those next to `start` can overlap.
        at = bisect.bisect_left(self.sorted, (start, -1, ""))
        for other in self.sorted[max(0, at - 1) : at + 2]:
            if other != change and _overlap(change, other):
                return True
        return False

    def applied_to(self, text: str) -> str:
        pieces: list[str] = []
        done = 0
        for start, end, new_text in self.sorted:
            pieces += (text[done:start], new_text)
            done = end
        pieces.append(text[done:])
        return "".join(pieces)


def _overlap(change: tuple[int, int, str], other: tuple[int, int, str]) -> bool:
    start, end, _ = change
    other_start, other_end, _ = other
    if start == end == other_start == other_end:
        return True  # two insertions at one point: their order would be a guess
    if start < other_end and other_start < end:
        return True
    return start == end and other_start < start < other_end


def _reads_the_same(source: SourceFile, fixed_text: str, fixed: list[Finding]) -> bool:
    """The fixed text still parses, to the same plugin entries but for what each edit says
    it writes: an edit that broke the file's structure, or changed what it does not name
    (a `? location` whose value became a mapping, a field of another entry), is never
    written."""
    from rollouts_plugin_lint.extract import extract_data_file, extract_text

    if source.data_file is not None:
        before = extract_data_file(source.display_path, source.data, source.data_file)
        after = extract_data_file(source.display_path, fixed_text.encode(), source.data_file)
    else:
        before = extract_text(source.display_path, source.data.decode("utf-8-sig", "replace"))
        after = extract_text(source.display_path, fixed_text)
    if not fixed or any(f.rule == "yaml-syntax" for f in after.findings):
        return False
    if len(after.entries) != len(before.entries):
        return False
    expected = _Expected(before.entries)
    edits = {edit for finding in fixed if finding.fix for edit in finding.fix.edits}
    if not all(expected.apply(edit) for edit in edits):
        return False
    return [entry.value for entry in after.entries] == expected.values


class _Expected:
    """The values of a file's entries as its edits should leave them. An edit is found by
    its span: a field's key (a rename), its value, or both (a field added after it); an
    edit of no entry's field (an image reference) must leave every entry as it was."""

    def __init__(self, entries: list[PluginEntry]) -> None:
        self.values = [dict(entry.value) for entry in entries]
        self._at: dict[Span, list[tuple[int, str, str]]] = {}
        for index, entry in enumerate(entries):
            for path, key in entry.key_spans.items():
                if len(path) != 1 or not isinstance(path[0], str):
                    continue
                self._at.setdefault(key, []).append((index, path[0], "key"))
                value = entry.spans.get(path)
                if value is not None:
                    self._at.setdefault(value, []).append((index, path[0], "value"))
                    both = replace(key, end_line=value.end_line, end_column=value.end_column)
                    self._at.setdefault(both, []).append((index, path[0], "field"))

    def apply(self, edit: Edit) -> bool:
        """Write what `edit` means into the expected values; False when it cannot be told."""
        for index, name, part in self._at.get(edit.span, []):
            value = self.values[index]
            try:
                if part == "field" and not edit.old:
                    key, _, written = edit.new.partition(": ")
                    value[key] = json.loads(written)
                elif part == "value" and edit.whole:
                    value[name] = json.loads(edit.new)
                elif part == "value" and isinstance(value.get(name), str):
                    old = str(value[name])
                    if old.count(edit.old) != 1:
                        return False
                    value[name] = old.replace(edit.old, edit.new)
                elif part == "key" and name == edit.old and edit.new not in value:
                    value[edit.new] = value.pop(name)
                elif part == "key" and name == edit.new:
                    pass  # a key the controller already read as this field (`Location`)
                else:
                    return False
            except json.JSONDecodeError:
                return False
        return True


def unified_diff(plan: FixPlan, files: Mapping[str, SourceFile]) -> str:
    """The plan as one unified diff, file by file, in path order."""
    chunks = []
    for path in sorted(plan.texts):
        old = files[path].data.decode("utf-8-sig", "replace").splitlines(keepends=True)
        new = plan.texts[path].decode("utf-8-sig", "replace").splitlines(keepends=True)
        # Escaped, line breaks too: a file named `x\n+++ b/y` would add a header line.
        name = printable(path, None)
        lines = difflib.unified_diff(old, new, f"a/{name}", f"b/{name}")
        chunks.append("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    return "".join(chunks)


class NotWritten(Exception):
    """A fixed file that was left as it is, with the reason in words."""


def write_fixed(source: SourceFile, data: bytes) -> None:
    """Replace the file `source` was read from with `data`, only while it still holds the
    bytes that were checked, never through a symbolic link, keeping its permission bits. A
    new file written beside it and renamed over it, so a concurrent reader (pre-commit runs
    hooks in parallel) sees the old bytes or the new, never half a file.

    Every step works in the folder opened once, one path component at a time without
    following a link (its path was resolved when the file was read): a folder swapped for
    a link since then is refused, never followed out of the checkout."""
    if source.real is None:
        raise NotWritten("read from stdin")
    folder, name = os.path.split(source.real)
    try:
        folder_fd = _open_folder(folder)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise NotWritten("a folder on its path is now a symbolic link") from error
        raise NotWritten(error.strerror or str(error)) from error
    try:
        _replace(folder, folder_fd, name, source.data, data)
    finally:
        if folder_fd is not None:
            os.close(folder_fd)


# Where the platform has no `openat` (Windows), the folder is named by its path. Python
# lists `os.rename`, not `os.replace` (the same call where both take dir_fd).
_BY_FOLDER = {os.open, os.rename, os.unlink} <= os.supports_dir_fd and hasattr(os, "O_DIRECTORY")


def _open_folder(folder: str) -> int | None:
    if not _BY_FOLDER:
        return None
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    fd = os.open(os.sep if os.path.isabs(folder) else os.curdir, flags)
    try:
        for part in folder.split(os.sep):
            if part:
                inner = os.open(part, flags, dir_fd=fd)
                os.close(fd)
                fd = inner
    except OSError:
        os.close(fd)
        raise
    return fd


def _replace(folder: str, folder_fd: int | None, name: str, checked: bytes, data: bytes) -> None:
    def at(file_name: str) -> str:  # relative to `folder_fd`, or the path without one
        return file_name if folder_fd is not None else os.path.join(folder, file_name)

    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(at(name), flags, dir_fd=folder_fd)
    except OSError as error:
        raise NotWritten(error.strerror or str(error)) from error
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise NotWritten("no longer a regular file")
        if os.read(fd, len(checked) + 1) != checked:
            raise NotWritten("changed since it was checked")
    finally:
        os.close(fd)
    temporary = at(f".{name}.{secrets.token_hex(6)}.rollouts-plugin-lint")
    create = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(temporary, create, 0o600, dir_fd=folder_fd)
        try:
            os.fchmod(fd, stat.S_IMODE(status.st_mode))  # as it was, whatever the umask
            with open(fd, "wb", closefd=False) as stream:
                stream.write(data)
        finally:
            os.close(fd)
        os.replace(temporary, at(name), src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=folder_fd)
        raise NotWritten(error.strerror or str(error)) from error
