"""All of ruamel.yaml lives here: composing node trees with positions, and reading
scalars the way the controller does (YAML 1.1 through sigs.k8s.io/yaml and yaml.v2).

We compose (not construct): nodes keep start and end marks and scalar styles, duplicate
keys and unknown tags do not raise, and aliases stay shared nodes instead of expanding.
Node marks carry positions whatever the loader type, so we use the "safe" scanner: the
round-trip one also collects comments, which we never read, at twice the cost.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

__all__ = [
    "MappingNode",
    "Node",
    "ScalarNode",
    "SequenceNode",
    "TooLarge",
    "TooManyNodes",
    "YamlProblem",
    "compose_documents",
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


def compose_documents(text: str) -> Iterator[Node]:
    """Yield the node tree of each document; raise `YamlProblem` on the first error."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _BoundedComposer
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for document in yaml.compose_all(text):
                if document is not None:
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


# yaml.v2's implicit resolution, which the controller inherits through sigs.k8s.io/yaml.
_NULLS = {"", "~", "null", "Null", "NULL"}
_TRUE = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"}
_FALSE = {"n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"}
_INT = re.compile(r"[-+]?(?:0b[01]+|0x[0-9a-fA-F]+|0o?[0-7]+|[1-9][0-9]*|0)")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {
    ".inf": float("inf"),
    ".Inf": float("inf"),
    ".INF": float("inf"),
    "+.inf": float("inf"),
    "+.Inf": float("inf"),
    "+.INF": float("inf"),
    "-.inf": float("-inf"),
    "-.Inf": float("-inf"),
    "-.INF": float("-inf"),
    ".nan": float("nan"),
    ".NaN": float("nan"),
    ".NAN": float("nan"),
}


def _tag(node: Node) -> str:
    tag = node.tag
    return str(getattr(tag, "value", tag) or "")


def scalar_value(node: ScalarNode) -> Any:
    """The value of a scalar as yaml.v2 (YAML 1.1) reads it."""
    text: str = node.value
    if node.style is not None:  # quoted or block: always a string
        return text
    tag = _tag(node)
    explicit = tag.startswith("tag:yaml.org,2002:") and not _is_implicit(node)
    if explicit and tag.endswith(":str"):
        return text
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    plain = text.replace("_", "")
    if _INT.fullmatch(plain):
        return _parse_int(plain)
    if _FLOAT.fullmatch(plain):
        return float(plain)
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    return text


def _is_implicit(node: ScalarNode) -> bool:
    """A tag the resolver chose, as opposed to one written (`!!str 5`) in the source."""
    buffer = node.start_mark.buffer
    index = node.start_mark.index
    return not (buffer is not None and index < len(buffer) and buffer[index] == "!")


def _parse_int(plain: str) -> int:
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    if digits.startswith("0b"):
        return sign * int(digits[2:], 2)
    if digits.startswith("0x"):
        return sign * int(digits[2:], 16)
    if digits.startswith("0o"):
        return sign * int(digits[2:], 8)
    if len(digits) > 1 and digits.startswith("0"):
        return sign * int(digits, 8)
    return sign * int(digits)


def is_string(node: Node) -> bool:
    return isinstance(node, ScalarNode) and isinstance(scalar_value(node), str)


def key_text(node: Node) -> str | None:
    """A mapping key as the controller's JSON decoder sees it, or None for complex keys."""
    if isinstance(node, ScalarNode):
        value = scalar_value(node)
        if isinstance(value, bool):
            return "true" if value else "false"
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
