"""Find every plugin list in a YAML text, whatever contains it.

One walker serves every container: Helm values at any depth (umbrella charts included),
ConfigMap `data` strings, kustomize JSON6902 and strategic-merge patches, Argo CD
`helm.values` strings and `valuesObject`, Flux `spec.values`, multi-document files and
JSON. A string that mentions a plugin key is parsed as YAML of its own and walked the same
way, with positions mapped back through each level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rollouts_plugin_lint.extract.positions import Locator, PositionMap, embedded_map
from rollouts_plugin_lint.extract.yamlnodes import (
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    TooLarge,
    YamlProblem,
    compose_documents,
    key_text,
    scalar_value,
    to_value,
)
from rollouts_plugin_lint.model import (
    LINE_BREAK,
    PLUGIN_KEYS,
    Finding,
    Origin,
    PluginEntry,
    PluginKind,
    Severity,
    Span,
)
from rollouts_plugin_lint.rules import RULES

# The fields of the controller's PluginItem; Go's JSON decoder matches them without case.
FIELDS = ("name", "location", "sha256", "disabled", "args", "headersFrom")
_CANONICAL = {name.lower(): name for name in FIELDS}

# Strings under these keys are YAML documents in their own right: a syntax error in them
# is reported, where an arbitrary string that merely mentions a plugin key is left alone.
EMBEDDED_YAML_KEYS = {"values", "valuesContent", "patch"}

_MENTIONS_PLUGIN_KEY = re.compile("|".join(PLUGIN_KEYS))
_JSON6902_DATA_KEY = re.compile(r"/data/(" + "|".join(PLUGIN_KEYS) + r")")

MAX_EMBEDDING_DEPTH = 4
MAX_NODES_PER_ENTRY = 10_000
MAX_NODES_PER_TEXT = 2_000_000


@dataclass
class Extraction:
    entries: list[PluginEntry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class _Place:
    """Where a plugin list sits: everything an entry needs besides its own nodes."""

    kind: PluginKind
    origin: Origin
    group: str
    locator: Locator


class Walker:
    def __init__(self, path: str) -> None:
        self.path = path
        self.result = Extraction()

    # -- texts and documents -------------------------------------------------------------

    def walk_text(
        self,
        text: str,
        positions: PositionMap,
        group: str,
        depth: int = 0,
        syntax_errors: bool = True,
    ) -> bool:
        """Walk every document of `text`. Returns False when it is not YAML."""
        locator = Locator(self.path, tuple(LINE_BREAK.split(text)), positions)
        try:
            for index, document in enumerate(compose_documents(text)):
                self._walk_tree(document, locator, f"{group}#{index}", depth)
        except YamlProblem as problem:
            if syntax_errors:
                self._finding(
                    "yaml-syntax",
                    locator.point(problem.line, problem.column),
                    f"invalid YAML: {problem.message}",
                )
            return False
        return True

    def _walk_tree(self, root: Node, locator: Locator, document: str, depth: int) -> None:
        seen: set[int] = set()
        # (node, path, parent key, whether this mapping is a ConfigMap `data`)
        stack: list[tuple[Node, tuple[str, ...], str | None, bool]] = [(root, (), None, False)]
        visited = 0
        while stack:
            node, path, parent_key, is_data = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            visited += 1
            if visited > MAX_NODES_PER_TEXT:
                self._finding(
                    "yaml-syntax",
                    locator.head_span(root),
                    f"document has more than {MAX_NODES_PER_TEXT:,} nodes; the rest is not checked",
                )
                return
            group = f"{document}:{'/'.join(path)}"
            if isinstance(node, MappingNode):
                children = self._walk_mapping(node, path, is_data, locator, document)
                stack.extend(reversed(children))
            elif isinstance(node, SequenceNode):
                stack.extend(
                    (item, (*path, str(i)), None, False)
                    for i, item in reversed(list(enumerate(node.value)))
                )
            elif (
                isinstance(node, ScalarNode)
                and depth < MAX_EMBEDDING_DEPTH
                and _MENTIONS_PLUGIN_KEY.search(node.value)
                and isinstance(text := scalar_value(node), str)
            ):
                self.walk_text(
                    text,
                    embedded_map(locator.positions, locator.lines, node),
                    group,
                    depth + 1,
                    syntax_errors=parent_key in EMBEDDED_YAML_KEYS,
                )

    def _walk_mapping(
        self,
        node: MappingNode,
        path: tuple[str, ...],
        is_data: bool,
        locator: Locator,
        document: str,
    ) -> list[tuple[Node, tuple[str, ...], str | None, bool]]:
        group = f"{document}:{'/'.join(path)}"
        children = []
        pairs = [(key_text(key), key, value) for key, value in node.value]
        json6902 = _json6902_target(pairs)
        for name, key, value in pairs:
            child_path = (*path, name or "?")
            if name in PLUGIN_KEYS:
                origin = Origin.CONFIGMAP if is_data else Origin.HELM_VALUES
                self._plugin_value(key, value, _Place(PLUGIN_KEYS[name], origin, group, locator))
            elif name == "value" and json6902 == "/data":
                # Share the group of `/data/<key>` operations: it is the same ConfigMap.
                children.append((value, ("/data",), name, True))
            elif name == "value" and json6902 is not None:
                kind = PLUGIN_KEYS[json6902.rsplit("/", 1)[1]]
                place = _Place(kind, Origin.CONFIGMAP, f"{document}:/data", locator)
                self._plugin_value(key, value, place)
            else:
                children.append((value, child_path, name, name == "data"))
        return children

    # -- plugin lists ----------------------------------------------------------------------

    def _plugin_value(self, key: Node, value: Node, place: _Place) -> None:
        """`key: value` where key names a plugin list: check the shape the container needs,
        then extract the entries from whatever shape was written."""
        kind, locator = place.kind, place.locator
        if isinstance(value, ScalarNode) and scalar_value(value) is None:
            return  # `key:` or `key: null` means no plugins
        if place.origin is Origin.CONFIGMAP:
            if isinstance(value, ScalarNode) and isinstance(scalar_value(value), str):
                self._string_list(value, place)
                return
            self._finding(
                "plugin-list-shape",
                locator.span(value) if isinstance(value, ScalarNode) else locator.span(key),
                f"ConfigMap data value `{kind.value}` must be a string holding a YAML list; "
                f"this is {_describe(value)}, which Kubernetes rejects (data values are "
                "strings)",
                hint=_configmap_hint(kind),
                kind=kind,
            )
            if isinstance(value, SequenceNode):
                self._entries(value, place)
            return
        # Helm values: the chart (>= 2.38.0) wants a real YAML list.
        if isinstance(value, SequenceNode):
            self._entries(value, place)
        elif isinstance(value, MappingNode):
            self._mapping_value(key, value, place)
        elif isinstance(value, ScalarNode) and isinstance(scalar_value(value), str):
            if scalar_value(value).strip():
                self._finding(
                    "plugin-list-shape",
                    locator.span(key),
                    f"`{kind.value}` is a string; the chart (>= 2.38.0) expects a YAML list "
                    "and the controller fails with `cannot unmarshal string into Go value "
                    "of type []types.PluginItem`",
                    hint=_values_hint(kind),
                    kind=kind,
                )
                self._string_list(value, place)
        else:
            self._finding(
                "plugin-list-shape",
                locator.span(value),
                f"`{kind.value}` must be a list of plugin entries; this is {_describe(value)}",
                hint=_values_hint(kind),
                kind=kind,
            )

    def _mapping_value(self, key: Node, value: MappingNode, place: _Place) -> None:
        kind, locator = place.kind, place.locator
        if not value.value:
            return  # `{}`: the pre-2.38 chart default, renders nothing
        nested = [(k, v) for k, v in value.value if key_text(k) in PLUGIN_KEYS]
        if nested:
            self._finding(
                "plugin-list-shape",
                locator.span(key),
                f"`{kind.value}` holds a nested `{key_text(nested[0][0])}` key: the form of "
                "charts before 2.37.8; newer charts render it as a map and the controller "
                "fails with `cannot unmarshal object into Go value of type "
                "[]types.PluginItem`",
                hint=_values_hint(kind)
                + "\n(the nested string form is right only for chart versions up to 2.37.7)",
                kind=kind,
            )
            for inner_key, inner_value in nested:
                inner_kind = PLUGIN_KEYS[key_text(inner_key) or ""]
                inner_place = _Place(inner_kind, place.origin, place.group, locator)
                if isinstance(inner_value, SequenceNode):
                    self._entries(inner_value, inner_place)
                elif isinstance(inner_value, ScalarNode) and isinstance(
                    scalar_value(inner_value), str
                ):
                    self._string_list(inner_value, inner_place)
            return
        self._finding(
            "plugin-list-shape",
            locator.span(key),
            f"`{kind.value}` must be a list of plugin entries; this is a mapping",
            hint=_values_hint(kind),
            kind=kind,
        )

    def _string_list(self, node: ScalarNode, place: _Place) -> None:
        """A plugin list written as a YAML (or JSON) string, as ConfigMap data values are."""
        kind = place.kind
        text = scalar_value(node)
        positions = embedded_map(place.locator.positions, place.locator.lines, node)
        locator = Locator(self.path, tuple(LINE_BREAK.split(text)), positions)
        try:
            documents = compose_documents(text)
            root = next(documents, None)
        except YamlProblem as problem:
            self._finding(
                "yaml-syntax",
                locator.point(problem.line, problem.column),
                f"the `{kind.value}` list is not valid YAML: {problem.message}; the controller "
                f"fails with `failed to unmarshal {kind.label} plugins`",
                kind=kind,
            )
            return
        inner = _Place(kind, place.origin, place.group, locator)
        if root is None or (isinstance(root, ScalarNode) and scalar_value(root) is None):
            return
        if isinstance(root, SequenceNode):
            self._entries(root, inner)
            return
        self._finding(
            "plugin-list-shape",
            locator.head_span(root),
            f"the `{kind.value}` string must hold a YAML list of entries; it holds "
            f"{_describe(root)}",
            hint=_configmap_hint(kind) if place.origin is Origin.CONFIGMAP else _values_hint(kind),
            kind=kind,
        )

    def _entries(self, sequence: SequenceNode, place: _Place) -> None:
        for index, item in enumerate(sequence.value):
            if isinstance(item, MappingNode):
                self.result.entries.append(self._entry(item, index, place))
            else:
                self._finding(
                    "plugin-list-shape",
                    place.locator.head_span(item),
                    f"each `{place.kind.value}` item must be a mapping with `name` and "
                    f"`location`; this one is {_describe(item)}",
                    hint="- name: <namespace>/<name>\n  location: https://...",
                    kind=place.kind,
                )

    def _entry(self, item: MappingNode, index: int, place: _Place) -> PluginEntry:
        locator = place.locator
        value: dict[str, object] = {}
        spans: dict[tuple[str | int, ...], Span] = {(): locator.head_span(item)}
        key_spans: dict[tuple[str | int, ...], Span] = {}
        keys_seen: dict[str, Node] = {}
        budget = [MAX_NODES_PER_ENTRY]
        name_node = next((v for k, v in _pairs(item) if key_text(k) == "name"), None)
        plugin = scalar_value(name_node) if isinstance(name_node, ScalarNode) else None
        plugin = plugin if isinstance(plugin, str) else None
        for key, node in _pairs(item):
            written = key_text(key) or "<complex key>"
            field_name = _CANONICAL.get(written.lower(), written)
            if field_name != written:
                self._finding(
                    "unknown-field",
                    locator.span(key),
                    f"`{written}` works only because the controller matches field names "
                    f"without regard to case; write `{field_name}`",
                    severity=Severity.WARNING,
                    plugin=plugin,
                    kind=place.kind,
                )
            if field_name in keys_seen:
                first = locator.span(keys_seen[field_name])
                self._finding(
                    "schema",
                    locator.span(key),
                    f"`{field_name}` is set twice (first on line {first.line}); the "
                    "controller keeps one of them, in no defined order",
                    plugin=plugin,
                    kind=place.kind,
                )
            keys_seen[field_name] = key
            try:
                value[field_name] = to_value(node, budget)
            except TooLarge:
                value[field_name] = None
                self._finding(
                    "schema",
                    locator.span(key),
                    f"`{field_name}` expands to more than {MAX_NODES_PER_ENTRY:,} nodes "
                    "(aliases?); not read",
                    plugin=plugin,
                    kind=place.kind,
                )
                continue
            key_spans[(field_name,)] = locator.span(key)
            _collect_spans(node, (field_name,), locator, spans, key_spans)
        return PluginEntry(
            kind=place.kind,
            value=value,
            span=spans[()],
            spans=spans,
            key_spans=key_spans,
            origin=place.origin,
            group=place.group,
            index=index,
        )

    def _finding(
        self,
        rule: str,
        span: Span,
        message: str,
        *,
        hint: str | None = None,
        severity: Severity | None = None,
        plugin: str | None = None,
        kind: PluginKind | None = None,
    ) -> None:
        self.result.findings.append(
            Finding(
                rule,
                severity or RULES[rule].severity,
                span,
                message,
                hint=hint,
                plugin=plugin,
                kind=kind,
            )
        )


def _json6902_target(pairs: list[tuple[str | None, Node, Node]]) -> str | None:
    """For a JSON6902 operation that writes ConfigMap data, the path it writes."""
    fields = {name: value for name, _, value in pairs if name}
    op, path = fields.get("op"), fields.get("path")
    if not (isinstance(op, ScalarNode) and isinstance(path, ScalarNode)):
        return None
    if op.value not in ("add", "replace") or "value" not in fields:
        return None
    if path.value == "/data" or _JSON6902_DATA_KEY.fullmatch(path.value):
        return str(path.value)
    return None


def _pairs(mapping: MappingNode) -> list[tuple[Node, Node]]:
    """The key/value pairs of a mapping with YAML merge keys (`<<: *base`) applied."""
    explicit = [(k, v) for k, v in mapping.value if not _is_merge(k)]
    names = {key_text(k) for k, _ in explicit}
    merged: list[tuple[Node, Node]] = []
    for key, value in mapping.value:
        if not _is_merge(key):
            continue
        sources = value.value if isinstance(value, SequenceNode) else [value]
        for source in sources:
            if not isinstance(source, MappingNode):
                continue
            for k, v in source.value:
                if key_text(k) not in names:
                    names.add(key_text(k))
                    merged.append((k, v))
    return explicit + merged


def _is_merge(key: Node) -> bool:
    return isinstance(key, ScalarNode) and key.value == "<<" and key.style is None


def _collect_spans(
    node: Node,
    path: tuple[str | int, ...],
    locator: Locator,
    spans: dict[tuple[str | int, ...], Span],
    key_spans: dict[tuple[str | int, ...], Span],
) -> None:
    stack = [(node, path)]
    budget = MAX_NODES_PER_ENTRY
    while stack and budget > 0:
        budget -= 1
        current, current_path = stack.pop()
        if not (isinstance(current, ScalarNode) and current.style is None and not current.value):
            # An empty value has no text to point at; findings fall back to its key.
            spans[current_path] = locator.span(current)
        if isinstance(current, SequenceNode):
            stack.extend(((item, (*current_path, i)) for i, item in enumerate(current.value)))
        elif isinstance(current, MappingNode):
            for key, value in current.value:
                child = (*current_path, key_text(key) or "<complex key>")
                key_spans[child] = locator.span(key)
                stack.append((value, child))


def _describe(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, MappingNode):
        return "a mapping"
    value = scalar_value(node) if isinstance(node, ScalarNode) else None
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    return "empty"


def _values_hint(kind: PluginKind) -> str:
    return (
        f"write a YAML list under `controller`:\n"
        f"controller:\n"
        f"  {kind.value}:\n"
        f"    - name: <namespace>/<name>\n"
        f"      location: https://..."
    )


def _configmap_hint(kind: PluginKind) -> str:
    return (
        f"write the list as a block string:\n"
        f"data:\n"
        f"  {kind.value}: |-\n"
        f"    - name: <namespace>/<name>\n"
        f"      location: https://..."
    )
