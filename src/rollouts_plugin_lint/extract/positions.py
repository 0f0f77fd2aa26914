"""Map positions inside a parsed text back to the file, through any number of embedded
YAML strings (a ConfigMap data value, an Argo CD `helm.values`, a kustomize patch)."""

from __future__ import annotations

from dataclasses import dataclass

from rollouts_plugin_lint.extract.yamlnodes import MappingNode, Node, ScalarNode
from rollouts_plugin_lint.model import Span


@dataclass(frozen=True)
class PositionMap:
    """0-based (line, column) of a parsed text -> 1-based (line, column, approximate) in the
    file. Lines `0 .. exact_lines - 1` map exactly (line + line_offset, column +
    column_offset, in the parent's coordinates); anything else maps to `anchor`, flagged
    approximate."""

    parent: PositionMap | None = None
    line_offset: int = 0
    column_offset: int = 0
    exact_lines: int = -1  # -1: every line
    anchor: tuple[int, int] = (0, 0)

    def to_file(self, line: int, column: int) -> tuple[int, int, bool]:
        approximate = False
        if 0 <= self.exact_lines <= line:
            (line, column), approximate = self.anchor, True
        else:
            line, column = line + self.line_offset, column + self.column_offset
        if self.parent is None:
            return line + 1, column + 1, approximate
        file_line, file_column, parent_approximate = self.parent.to_file(line, column)
        return file_line, file_column, approximate or parent_approximate


FILE = PositionMap()


def embedded_map(
    parent: PositionMap, parent_lines: tuple[str, ...], node: ScalarNode
) -> PositionMap:
    """How the text of string `node` (written in a text with `parent_lines`) maps back.

    A literal block (`|`, `|-`, `|+`) keeps every line, so the mapping is exact once we know
    the block's indentation; a one-line string written verbatim maps exactly too. We check
    the claim line by line against the source and fall back to the value's start, flagged
    approximate (folded blocks, escapes, explicit indentation indicators).
    """
    start = node.start_mark
    anchor = (start.line, start.column)
    inner = node.value.split("\n")
    if node.style == "|":
        first = start.line + 1
        indent = _block_indent(parent_lines, first, node.end_mark.line)
        if indent is not None and _verbatim(parent_lines, inner, first, indent):
            return PositionMap(parent, first, indent, -1, anchor)
    elif node.style in (None, "'", '"') and len(inner) == 1:
        column = start.column + (0 if node.style is None else 1)
        if _verbatim(parent_lines, inner, start.line, column):
            return PositionMap(parent, start.line, column, 1, anchor)
    return PositionMap(parent, 0, 0, 0, anchor)


def _block_indent(lines: tuple[str, ...], first: int, last: int) -> int | None:
    for line in lines[first : last + 1]:
        if line.strip():
            return len(line) - len(line.lstrip(" "))
    return None


def _verbatim(lines: tuple[str, ...], inner: list[str], first: int, column: int) -> bool:
    for offset, text in enumerate(inner):
        if not text.strip():
            continue
        if first + offset >= len(lines):
            return False
        if lines[first + offset][column : column + len(text)] != text:
            return False
    return True


@dataclass(frozen=True)
class Locator:
    """Turns nodes of one parsed text into file spans."""

    path: str
    lines: tuple[str, ...]
    positions: PositionMap

    def span(self, node: Node) -> Span:
        return self._span(node.start_mark.line, node.start_mark.column, *text_end(node, self.lines))

    def head_span(self, node: Node) -> Span:
        """The first line of a node: for a mapping, its first key (and that key's value when
        it sits on the same line); for anything else, the node clipped to its first line."""
        start = node.start_mark
        if isinstance(node, MappingNode) and node.value:
            key, value = node.value[0]
            last = value if value.end_mark.line == key.start_mark.line else key
            end_line, end_column = text_end(last, self.lines)
            if end_line == start.line:
                return self._span(start.line, start.column, end_line, end_column)
        end_line, end_column = text_end(node, self.lines)
        if end_line != start.line:
            end_line = start.line
            end_column = (
                len(self.lines[start.line].rstrip())
                if start.line < len(self.lines)
                else start.column + 1
            )
        return self._span(start.line, start.column, end_line, end_column)

    def point(self, line: int, column: int) -> Span:
        return self._span(line, column, line, column + 1)

    def range_span(self, line: int, column: int, end_line: int, end_column: int) -> Span:
        """The file span of a 0-based range of the parsed text (end exclusive)."""
        return self._span(line, column, end_line, end_column)

    def _span(self, line: int, column: int, end_line: int, end_column: int) -> Span:
        file_line, file_column, approximate = self.positions.to_file(line, column)
        file_end_line, file_end_column, end_approximate = self.positions.to_file(
            end_line, end_column
        )
        if (
            approximate
            or end_approximate
            or (file_end_line, file_end_column)
            <= (
                file_line,
                file_column,
            )
        ):
            file_end_line, file_end_column = file_line, file_column + 1
        return Span(
            self.path,
            file_line,
            file_column,
            file_end_line,
            file_end_column,
            approximate or end_approximate,
        )


def text_end(node: Node, lines: tuple[str, ...]) -> tuple[int, int]:
    """The exclusive end of a node, moved back from the start of the next line (where block
    nodes end) to the end of the last line that has content."""
    end = node.end_mark
    line, column = end.line, end.column
    if column == 0 and line > node.start_mark.line:
        line -= 1
        while line > node.start_mark.line and line < len(lines) and not lines[line].strip():
            line -= 1
        column = len(lines[line].rstrip()) if line < len(lines) else 0
    return line, column
