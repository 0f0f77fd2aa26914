"""All of ruamel.yaml lives here: composing node trees with positions, and reading
scalars the way the controller does (YAML 1.1 through sigs.k8s.io/yaml and yaml.v2).

We compose (not construct): nodes keep start and end marks and scalar styles, duplicate
keys and unknown tags do not raise, and aliases stay shared nodes instead of expanding.
Node marks carry positions whatever the loader type, so we use the "safe" scanner: the
round-trip one also collects comments, which we never read, at twice the cost.
"""

from __future__ import annotations

import base64
import binascii
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import ScalarEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import Reader, ReaderError
from ruamel.yaml.scanner import Scanner, ScannerError

from rollouts_plugin_lint.gostrings import format_float32, go_string

__all__ = [
    "MappingNode",
    "Node",
    "ScalarNode",
    "SequenceNode",
    "TooLarge",
    "TooManyNodes",
    "YamlProblem",
    "compose_documents",
    "is_merge_key",
    "is_string",
    "scalar_value",
    "to_value",
]


@dataclass(frozen=True)
class YamlProblem(Exception):
    """A parse error at a 0-based position of the parsed text."""

    message: str
    line: int
    column: int


class TooLarge(Exception):
    """A node tree (usually aliases expanding) is larger than we are willing to read."""


class TooManyNodes(YamlProblem):
    """A document with more nodes than any real configuration has; not read further."""


# The chart's whole values.yaml is about 1,500 nodes; composing runs at some 10,000 nodes a
# second in pure Python, so this bounds one document to seconds.
MAX_NODES_PER_DOCUMENT = 100_000


class _Scalar(ScalarNode):
    """A scalar that remembers the tag written in the source (None when untagged): yaml.v2
    resolves `!!bool "true"` and `! 5` differently from ruamel's resolver."""

    __slots__ = ("written_tag",)
    written_tag: str | None


class _V2Scanner(Scanner):
    """ruamel's scanner made to reject what yaml.v2's scanner rejects (scannerc.go at
    gopkg.in/yaml.v2 v2.4.0, the code sigs.k8s.io/yaml >= 1.4 vendors as goyaml.v2)."""

    # yaml.v2 knows `\'` and not YAML 1.2's `\/`.
    ESCAPE_REPLACEMENTS: ClassVar[dict[str, str]] = {
        **{k: v for k, v in Scanner.ESCAPE_REPLACEMENTS.items() if k != "/"},
        "'": "'",
    }

    def scan_to_next_token(self) -> Any:
        """Skip blanks and comments; yaml.v2 (yaml_parser_scan_to_next_token) also skips
        tabs wherever no simple key may start, as after `key:` (`name:<TAB>"x"`)."""
        peek, forward = self.reader.peek, self.reader.forward
        if self.reader.index == 0 and peek() == "\ufeff":
            forward()
        while True:
            blanks = " \t" if self.flow_level > 0 or not self.allow_simple_key else " "
            while peek() in blanks:
                forward()
            if peek() == "#":
                while peek() not in "\0\r\n\x85\u2028\u2029":
                    forward()
            if not self.scan_line_break():
                return None
            if not self.flow_level:
                self.allow_simple_key = True

    def scan_directive(self) -> Any:
        token = super().scan_directive()
        if token.name == "YAML" and tuple(token.value or ()) != (1, 1):
            raise ScannerError(
                None, None, "found incompatible YAML document (yaml.v2 reads YAML 1.1 only)",
                token.start_mark,
            )  # fmt: skip
        if token.name not in ("YAML", "TAG"):
            raise ScannerError(None, None, "found unknown directive name", token.start_mark)
        return token

    def scan_flow_scalar_non_spaces(self, double: Any, start_mark: Any) -> Any:
        try:
            chunks = super().scan_flow_scalar_non_spaces(double, start_mark)
        except ValueError:  # chr() of an escape above U+10FFFF
            chunks = None
        if chunks is None or (double and any(_SURROGATE.search(chunk) for chunk in chunks)):
            raise ScannerError(
                "while parsing a quoted scalar",
                start_mark,
                "found invalid Unicode character escape code",
                self.reader.get_mark(),
            )
        return chunks


class _V2Reader(Reader):
    """Counts NEL, LS and PS as line breaks, as YAML 1.1 and yaml.v2 (is_break) do; ruamel's
    default reader counts only CR and LF, so the indentation after them came out wrong."""

    forward = Reader.forward_1_1


_SURROGATE = re.compile("[\ud800-\udfff]")


class _BoundedComposer(Composer):
    nodes_left = MAX_NODES_PER_DOCUMENT

    def compose_document(self) -> Any:
        self.nodes_left = MAX_NODES_PER_DOCUMENT
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.nodes_left -= 1
        if self.nodes_left < 0:
            mark = self.parser.peek_event().start_mark
            raise TooManyNodes(
                f"the document has more than {MAX_NODES_PER_DOCUMENT:,} YAML nodes; it is not "
                "checked",
                mark.line,
                mark.column,
            )
        return super().compose_node(parent, index)

    def compose_scalar_node(self, anchor: Any) -> Any:
        event: ScalarEvent = self.parser.peek_event()
        written = None if event.ctag is None else str(getattr(event.ctag, "value", event.ctag))
        plain = super().compose_scalar_node(anchor)
        node = _Scalar(plain.tag, plain.value, plain.start_mark, plain.end_mark,
                       style=plain.style, anchor=anchor)  # fmt: skip
        node.written_tag = written
        if anchor is not None:
            self.anchors[anchor] = node
        return node


def compose_documents(text: str) -> Iterator[Node]:
    """Yield the node tree of each document; raise `YamlProblem` on the first error."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _BoundedComposer
    yaml.Scanner = _V2Scanner
    yaml.Reader = _V2Reader
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for document in yaml.compose_all(text):
                if document is not None:
                    _check_as_yaml_v2(document)
                    yield document
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line, mark.column) if mark else (0, 0)
        problem = " ".join(p for p in (error.problem, error.context) if p)
        raise YamlProblem(problem or str(error).splitlines()[0], line, column) from None
    except ReaderError as error:
        line = text.count("\n", 0, error.position)
        column = error.position - (text.rfind("\n", 0, error.position) + 1)
        character = error.character
        shown = repr(chr(character)) if isinstance(character, int) else repr(character)
        raise YamlProblem(f"character {shown} is not allowed in YAML", line, column) from None
    except YAMLError as error:
        raise YamlProblem(str(error).splitlines()[0], 0, 0) from None
    except RecursionError:
        raise YamlProblem("nesting is too deep to parse", 0, 0) from None


# yaml.v2's resolution (resolve.go at v2.4.0), which the controller inherits through
# sigs.k8s.io/yaml: an exact table, then a first-character hint decides what is tried.
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"}
_FALSE = {"n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"}
_SPECIAL_FLOATS = {
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
}
# strconv.ParseInt(s, 0, 64): a sign, then a base prefix or a leading 0 for octal.
_GO_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
# strconv.ParseFloat takes Go's literal syntax: `_` between digits is allowed.
_DOT_FLOAT = re.compile(r"\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?")
# The date forms of parseTimestamp in resolve.go (time.Parse layouts with short fields).
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})"
    r"| [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?)?"
)
_INT64 = (-(2**63), 2**63 - 1)
_BASES = {"0x": 16, "0o": 8, "0b": 2}

_YAML_TAG = "tag:yaml.org,2002:"
_RESOLVABLE = {"", *(_YAML_TAG + name for name in ("str", "bool", "int", "float", "null",
                                                   "timestamp"))}  # fmt: skip


class _Unresolvable(Exception):
    """An explicitly tagged scalar that yaml.v2 cannot decode as its tag says."""


def written_tag(node: Node) -> str | None:
    return getattr(node, "written_tag", None)


def _implicit(text: str) -> tuple[str, Any]:
    """resolve.go's implicit resolution of a plain scalar: (tag name, value)."""
    if text in _NULLS:
        return "null", None
    if text in _TRUE:
        return "bool", True
    if text in _FALSE:
        return "bool", False
    if text in _SPECIAL_FLOATS:
        return "float", _SPECIAL_FLOATS[text]
    hint = text[:1]
    if hint == "." and _DOT_FLOAT.fullmatch(text) and abs(float(text)) != float("inf"):
        return "float", float(text)
    if hint and hint in "+-0123456789":
        if _TIMESTAMP.fullmatch(text):
            return "timestamp", text
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return "int", number
        if _YAML_FLOAT.fullmatch(plain) and abs(float(plain)) != float("inf"):
            return "float", float(plain)  # ParseFloat's range error leaves a string
    return "str", text


def _go_int(plain: str) -> int | None:
    """strconv.ParseInt(plain, 0, 64), then ParseUint for what overflows it."""
    match = _GO_INT.fullmatch(plain)
    if match is None:
        return None
    sign, digits = match.groups()
    prefix = digits[:2].lower()
    if prefix in _BASES:
        number = int(digits[2:], _BASES[prefix])
    else:
        number = int(digits, 8 if digits.startswith("0") else 10)
    number = -number if sign == "-" else number
    if _INT64[0] <= number <= _INT64[1] or (not sign and number < 2**64):
        return number
    return None


def _resolve(node: ScalarNode) -> Any:
    """yaml.v2's decoder.scalar into an interface{}: quoted and block scalars are strings
    unless tagged; a written tag is obeyed or the document fails."""
    text: str = node.value
    tag = written_tag(node)
    if tag is None:
        return _implicit(text)[1] if node.style is None else text
    if tag not in _RESOLVABLE:
        return _binary(text) if tag == _YAML_TAG + "binary" else text
    wanted = tag.removeprefix(_YAML_TAG)
    if wanted == "str":
        return text
    resolved, value = _implicit(text)
    if resolved == wanted or (wanted == "float" and resolved == "int"):
        return float(value) if wanted == "float" else value
    raise _Unresolvable(f"cannot decode !!{resolved} `{text}` as a !!{wanted}")


def _binary(text: str) -> str:
    """A `!!binary` scalar as the string yaml.v2 decodes it to; invalid UTF-8 bytes come out
    of the JSON step as U+FFFD, one per byte."""
    data = base64.b64decode(text.replace("\n", "").replace("\r", ""), validate=True)
    return _SURROGATE.sub("\ufffd", data.decode("utf-8", "surrogateescape"))


def scalar_value(node: ScalarNode) -> Any:
    """The value of a scalar as yaml.v2 (YAML 1.1) reads it. The document it is in has been
    checked by compose_documents, so an explicit tag always resolves here."""
    try:
        return _resolve(node)
    except (_Unresolvable, binascii.Error):
        return node.value


def is_merge_key(node: Node) -> bool:
    """yaml.v2's isMerge: a `<<` that is plain and untagged (or `!`), or tagged `!!merge`."""
    if not isinstance(node, ScalarNode) or node.value != "<<":
        return False
    tag = written_tag(node)
    return (tag is None and node.style is None) or tag in ("!", _YAML_TAG + "merge")


def _check_as_yaml_v2(root: Node) -> None:
    """Raise YamlProblem where yaml.v2 fails a document ruamel composes: a tag that does not
    resolve, invalid `!!binary`, a merge of something other than mappings, a null key
    (sigs.k8s.io/yaml cannot make a JSON key of it). Complex keys (a Helm template's
    `{{ ... }}` reads as one) are left to the walker, which skips them."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            try:
                _resolve(node)
            except _Unresolvable as problem:
                _fail(node, str(problem))
            except binascii.Error:
                _fail(node, "!!binary value contains invalid base64 data")
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                if is_merge_key(key):
                    sources = value.value if isinstance(value, SequenceNode) else [value]
                    if not all(isinstance(source, MappingNode) for source in sources):
                        _fail(value, "map merge requires map or sequence of maps as the value")
                elif isinstance(key, ScalarNode) and not _json_key(scalar_value(key)):
                    _fail(key, "sigs.k8s.io/yaml cannot make a JSON key of this key")
                stack.extend((key, value))


def _json_key(value: Any) -> bool:
    """Whether convertToJSONableObject takes a key of this value: not null, and no integer
    that yaml.v2 holds as a uint64 (above the int64 range)."""
    return value is not None and not (isinstance(value, int) and value > _INT64[1])


def _fail(node: Node, message: str) -> None:
    raise YamlProblem(message, node.start_mark.line, node.start_mark.column)


def is_string(node: Node) -> bool:
    return isinstance(node, ScalarNode) and isinstance(scalar_value(node), str)


def key_text(node: Node) -> str | None:
    """A mapping key as the controller's JSON decoder sees it (sigs.k8s.io/yaml makes JSON
    keys of numbers and booleans), or None for complex keys."""
    if isinstance(node, ScalarNode):
        value = scalar_value(node)
        if isinstance(value, float):
            shown = format_float32(value)
            return {"+Inf": ".inf", "-Inf": "-.inf", "NaN": ".nan"}.get(shown, shown)
        if isinstance(value, (bool, int)):
            return go_string(value)
        return "null" if value is None else str(value)
    return None


def to_value(node: Node, budget: list[int]) -> Any:
    """The plain Python value of a node tree. `budget` is a one-element countdown of nodes
    shared across calls, so aliases that expand exponentially stop early."""
    budget[0] -= 1
    if budget[0] < 0:
        raise TooLarge
    if isinstance(node, ScalarNode):
        return scalar_value(node)
    if isinstance(node, SequenceNode):
        return [to_value(item, budget) for item in node.value]
    if isinstance(node, MappingNode):
        return {
            key_text(key) or "<complex key>": to_value(value, budget) for key, value in node.value
        }
    return None


# A document marker (`---`, or `%` opening a directive) at the start of a line as ruamel's
# reader counts lines (scanner.check_document_start, check_directive at ruamel.yaml
# 0.19.1). A `---` there ends whatever came before in every YAML version: a block scalar
# needs its content indented (a root block scalar ends at it too), a plain scalar stops
# at it, and a quoted scalar or flow collection that reaches it is an error. So the
# documents between two markers can be composed alone, at the same positions.
_RARE_BREAKS = ("\r", "\x85", "\u2028", "\u2029")
_AFTER_RARE_BREAK = re.compile("[\r\x85\u2028\u2029](?=---|%)")
_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_MARKER_END = " \t\r\n\x85\u2028\u2029"
# Directives and the comments or blank lines between them, up to the `---` they precede.
_DIRECTIVES = re.compile(
    "(?:(?:%[^\r\n\x85\u2028\u2029]*|[ \t]*(?:#[^\r\n\x85\u2028\u2029]*)?)"
    "(?:\r\n|[\r\n\x85\u2028\u2029]))*"
)


@dataclass(frozen=True)
class DocumentText:
    """One piece of a YAML stream that holds its own documents: `text` starts at the
    beginning of line `line` (0-based) of the stream."""

    line: int
    text: str


def split_stream(text: str) -> list[DocumentText]:
    """Cut a stream before each `---` at column 0, and before the directives that belong
    to it. str.find does the searching: a regex over a 1 MB text costs 20 times more."""
    rare = any(character in text for character in _RARE_BREAKS)
    starts = [0]
    directive_start: int | None = None
    for position in _line_starts_with_marker(text, rare):
        if text[position] == "%":
            if directive_start is None:
                directive_start = position
            continue
        if text[position + 3 : position + 4] not in ("", *_MARKER_END):
            continue
        cut = position
        if directive_start is not None:
            run = _DIRECTIVES.match(text, directive_start)
            if run is not None and run.end() == position:
                cut = directive_start
            directive_start = None
        if cut > starts[-1]:
            starts.append(cut)
    pieces = []
    line = 0
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        pieces.append(DocumentText(line, text[start:end]))
        line += len(_BREAK.findall(text, start, end)) if rare else text.count("\n", start, end)
    return pieces


def _line_starts_with_marker(text: str, rare: bool) -> list[int]:
    """Where a line starts with `---` or `%`, in order."""
    found = [0] if text.startswith(("---", "%")) else []
    for needle in ("\n---", "\n%"):
        position = text.find(needle)
        while position >= 0:
            found.append(position + 1)
            position = text.find(needle, position + 1)
    if rare:
        found.extend(match.start() + 1 for match in _AFTER_RARE_BREAK.finditer(text))
    return sorted(set(found))
