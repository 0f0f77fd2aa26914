"""A plugin list rewritten between the chart's two forms, as unsafe fixes: the nested string
of charts up to 2.37.7 (`trafficRouterPlugins: {trafficRouterPlugins: |- ...}`) and the list
of later charts. The entries' text is moved as it was written, comments included, only its
indentation changes; what cannot be moved that way (flow collections, folded or quoted
strings, text on the lines around) gets no fix."""

from __future__ import annotations

from rollouts_plugin_lint.extract.positions import Locator, text_end
from rollouts_plugin_lint.extract.yamlnodes import Node, ScalarNode, SequenceNode
from rollouts_plugin_lint.model import Edit, Fix, PluginKind

_BLOCK_INDICATORS = ("|", "|-", "|+")


def string_as_list(
    kind: PluginKind, indent: int, block: ScalarNode, locator: Locator, nested: bool
) -> Fix | None:
    """The YAML list a literal block holds, written as the list itself at column `indent`
    (0-based) in place of the block: from its key on when `nested` (the key goes too), else
    from its `|` indicator on."""
    lines = locator.lines
    if block.style != "|":
        return None
    head = block.start_mark.line
    if lines[head].rstrip().rpartition(" ")[2] not in _BLOCK_INDICATORS:
        return None  # a comment or an indentation indicator after `|`
    end_line, end_column = _end(block, locator)
    content = list(lines[head + 1 : end_line + 1])
    if not content:
        return None
    content[-1] = content[-1][:end_column]
    inner = min(len(line) - len(line.lstrip(" ")) for line in content if line.strip())
    moved = [" " * indent + line[inner:] if line.strip() else "" for line in content]
    if nested:
        start = (head, indent)
        written = moved[0][indent:] + "".join("\n" + line for line in moved[1:])
    else:  # from the end of the key on: `key: |-` becomes `key:`
        start = (head, len(lines[head][: block.start_mark.column].rstrip()))
        written = "".join("\n" + line for line in moved)
    old = _text(lines, start, (end_line, end_column))
    span = locator.range_span(*start, end_line, end_column)
    edit = Edit(span, old, written, whole=True)
    return Fix(f"write `{kind.value}` as a list (charts from 2.37.8)", (edit,), safe=False)


def list_as_nested_string(
    kind: PluginKind, key_column: int, items: SequenceNode, locator: Locator
) -> Fix | None:
    """A block list of entries under the key at `key_column` (0-based), written as the
    nested string charts up to 2.37.7 take: `<kind>: |-` and the list's text inside."""
    lines = locator.lines
    if items.flow_style:
        return None
    line, column = items.start_mark.line, items.start_mark.column
    if lines[line][:column].strip():
        return None  # the list starts on its key's line
    end_line, end_column = _end(items, locator)
    nested = max(column, key_column + 2)
    shift = nested + 2 - column
    body = list(lines[line + 1 : end_line + 1])
    if body:
        body[-1] = body[-1][:end_column]
    rest = [" " * shift + text if text.strip() else "" for text in body]
    written = (
        " " * (nested - column)
        + f"{kind.value}: |-\n"
        + " " * (nested + 2)
        + (lines[line][column:] if end_line > line else lines[line][column:end_column])
        + "".join("\n" + text for text in rest)
    )
    old = _text(lines, (line, column), (end_line, end_column))
    span = locator.range_span(line, column, end_line, end_column)
    edit = Edit(span, old, written, whole=True)
    return Fix(
        f"write `{kind.value}` as the nested string of charts up to 2.37.7", (edit,), safe=False
    )


def _end(node: Node, locator: Locator) -> tuple[int, int]:
    """Where the node's text ends: a list written at its key's indentation ends where the
    next key starts, after that line's indentation."""
    lines = locator.lines
    end_line, end_column = text_end(node, lines)
    while end_line > node.start_mark.line and not lines[end_line][:end_column].strip():
        end_line -= 1
        end_column = len(lines[end_line].rstrip())
    return end_line, end_column


def _text(lines: tuple[str, ...], start: tuple[int, int], end: tuple[int, int]) -> str:
    """The text from `start` to `end` (0-based, end exclusive), lines joined by `\\n`."""
    (line, column), (end_line, end_column) = start, end
    if line == end_line:
        return lines[line][column:end_column]
    middle = lines[line + 1 : end_line]
    return "\n".join((lines[line][column:], *middle, lines[end_line][:end_column]))
