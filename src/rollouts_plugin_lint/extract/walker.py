"""Find every plugin list in a YAML text, whatever contains it.

One walker serves every container: Helm values at any depth (umbrella charts included),
ConfigMap `data` strings, kustomize JSON6902 and strategic-merge patches, Argo CD
`helm.values` strings and `valuesObject`, Flux `spec.values`, multi-document files and
JSON. A string that mentions a plugin key is parsed as YAML of its own and walked the same
way, with positions mapped back through each level.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace

from rollouts_plugin_lint.extract.hints import document_versions
from rollouts_plugin_lint.extract.mounts import MOUNT_KEYS, deployment_mounts, values_mounts
from rollouts_plugin_lint.extract.positions import FILE, Locator, PositionMap, embedded_map
from rollouts_plugin_lint.extract.references import references_in
from rollouts_plugin_lint.extract.reshape import list_as_nested_string, string_as_list
from rollouts_plugin_lint.extract.yamlnodes import (
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    TooLarge,
    TooManyNodes,
    YamlProblem,
    compose_documents,
    is_merge_key,
    key_text,
    scalar_value,
    split_stream,
    to_value,
)
from rollouts_plugin_lint.model import (
    LINE_BREAK,
    PLUGIN_KEYS,
    ControllerMounts,
    DataFileReference,
    Edit,
    Finding,
    Fix,
    Origin,
    PluginEntry,
    PluginKind,
    PluginReference,
    Severity,
    Span,
)
from rollouts_plugin_lint.rules import RULES
from rollouts_plugin_lint.versions import (
    CHART_LIST_FORM,
    CHART_STEP_PLUGINS,
    CONTROLLER_V18,
    Versions,
    show,
)

# The fields of the controller's PluginItem (utils/plugin/types/types.go at v1.9.1) by
# JSON name, and those of its nested structs. `Type` has no tag and is overwritten from the
# list the entry is in, so it is left to the schema's unknown-field explanation.
FIELDS = ("name", "location", "sha256", "disabled", "args", "headersFrom")
_NESTED_FIELDS: dict[str, tuple[str, ...]] = {"headersFrom": ("secretRef",), "secretRef": ("name",)}
# Fields a JSON null sets to nil; into any other field a null leaves the value as it was.
_SLICE_FIELDS = {"args", "headersFrom"}


def _go_fold(name: str) -> str:
    """encoding/json's folded form of a key (foldName: simple Unicode case folding). The
    only non-ASCII letters that fold onto the ASCII of field names are U+017F (s) and the
    Kelvin sign U+212A (k)."""
    return "".join(
        "S" if c == "\u017f" else "K" if c == "\u212a" else c.upper() if c.isascii() else c
        for c in name
    )


_CANONICAL = {_go_fold(name): name for name in FIELDS}

# Strings under these keys are YAML documents in their own right: a syntax error in them
# is reported, where an arbitrary string that merely mentions a plugin key is left alone.
EMBEDDED_YAML_KEYS = {"values", "valuesContent", "patch"}

# A plugin key or a near miss (`canaryStepPlugins`, `trafficRouterPlugin`, wrong case), in
# lowercased text: case-sensitive and with a bounded gap, so that a hostile 8 MiB scalar
# (`stepstep...plugin`) costs well under a second.
_KEY_MENTION = re.compile(r"(?:trafficrouter|metricprovider|metric|step|traffic)[a-z]{0,24}plugin")


def _mentions_plugin_key(text: str) -> bool:
    """Whether a string is worth walking as YAML: it mentions a plugin key or a near miss,
    so that a string adding a misspelled data key is walked and the key reported."""
    lowered = text.lower()
    return "plugin" in lowered and _KEY_MENTION.search(lowered) is not None


# What a document must mention for anything in it to matter: a plugin key or near miss
# (all contain "plugin"), the chart or the ConfigMap (`argo-rollouts`, which is also what
# extract/hints.py reads: an Application's or HelmRelease's chart, a kustomization's
# install.yaml), or what can spell them without writing them: a `!!binary` scalar, a
# `%TAG` shorthand, a double-quoted escape (`\x70lugin`, a `\` line continuation).
_MAY_MATTER_WORDS = ("plugin", "argo-rollouts", "binary", "%tag")
_SPELLING_ESCAPE = re.compile(r"\\[xuU\r\n\x85\u2028\u2029]")


def _may_matter(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _MAY_MATTER_WORDS) or (
        "\\" in text and _SPELLING_ESCAPE.search(text) is not None
    )


_JSON6902_DATA_KEY = re.compile(r"/data/([^/]+)")

MAX_EMBEDDING_DEPTH = 4
MAX_NODES_PER_ENTRY = 10_000


@dataclass
class Extraction:
    entries: list[PluginEntry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    references: list[PluginReference] = field(default_factory=list)
    # Files whose text is a plugin list, for the caller to read (it owns the file system).
    data_files: list[DataFileReference] = field(default_factory=list)


@dataclass(frozen=True)
class _Document:
    """One YAML document being walked and what it says about itself."""

    locator: Locator
    id: str
    depth: int
    versions: Versions
    is_rollouts_configmap: bool


@dataclass(frozen=True)
class _Place:
    """Where a plugin list sits: everything an entry needs besides its own nodes."""

    kind: PluginKind
    origin: Origin
    group: str
    locator: Locator
    versions: Versions = field(default_factory=Versions)
    mounts: ControllerMounts | None = None


class Walker:
    """`versions`: what is known before reading (a Chart.yaml beside the file); documents
    refine it; `forced` (command-line flags) wins over both."""

    def __init__(
        self, path: str, versions: Versions | None = None, forced: Versions | None = None
    ) -> None:
        self.path = path
        self.versions = versions or Versions()
        self.forced = forced or Versions()
        self.result = Extraction()
        # Documentation shows fragments: a top-level plugin key holding a string is the
        # ConfigMap's `data`, not misplaced Helm values.
        self.fragments = False
        # What the controller's Deployments in this file mount, for its ConfigMap's entries.
        self.controller_pods: list[ControllerMounts] = []

    # -- texts and documents -------------------------------------------------------------

    def walk_text(
        self,
        text: str,
        positions: PositionMap,
        group: str,
        depth: int = 0,
        syntax_errors: bool = True,
        versions: Versions | None = None,
        relevant_only: bool = False,
    ) -> bool:
        """Walk every document of `text`. Returns False when it is not YAML. With
        `relevant_only`, the stream is cut at its document markers and only the documents
        that can matter are composed (`_may_matter`); a syntax error then stops only its
        own piece, and the pieces after it are still walked."""
        if not relevant_only:
            parsed = self._walk_documents(text, positions, group, depth, syntax_errors, versions)
        else:
            parsed = True
            for piece in split_stream(text):
                if _may_matter(piece.text):
                    shifted = PositionMap(positions, piece.line) if piece.line else positions
                    where = f"{group}@{piece.line}"
                    parsed &= self._walk_documents(
                        piece.text, shifted, where, depth, syntax_errors, versions
                    )
        if depth == 0:
            self._mount_controller_pods()
        return parsed

    def _mount_controller_pods(self) -> None:
        """The ConfigMap's entries get what the controller's Deployment in the same file
        mounts (the first one, when a file holds several), wherever in the file it is."""
        if not self.controller_pods:
            return
        pod = self.controller_pods[0]
        self.result.entries = [
            replace(entry, mounts=pod)
            if entry.origin is Origin.CONFIGMAP and entry.mounts is None
            else entry
            for entry in self.result.entries
        ]

    def _walk_documents(
        self,
        text: str,
        positions: PositionMap,
        group: str,
        depth: int,
        syntax_errors: bool,
        versions: Versions | None,
    ) -> bool:
        locator = Locator(self.path, tuple(LINE_BREAK.split(text)), positions)
        inherited = versions or self.versions
        try:
            for index, root in enumerate(compose_documents(text)):
                document = _Document(
                    locator,
                    f"{group}#{index}",
                    depth,
                    inherited.merged(document_versions(root)).merged(self.forced),
                    _is_rollouts_configmap(root),
                )
                pod = deployment_mounts(root, locator)
                if pod is not None:
                    self.controller_pods.append(pod)
                self._walk_tree(root, document)
        except TooManyNodes as problem:
            self._finding(
                "skipped-file",
                locator.point(problem.line, problem.column),
                problem.message,
                severity=Severity.WARNING,
            )
        except YamlProblem as problem:
            if syntax_errors:
                self._finding(
                    "yaml-syntax",
                    locator.point(problem.line, problem.column),
                    f"invalid YAML: {problem.message}",
                )
            return False
        return True

    def _walk_tree(self, root: Node, document: _Document) -> None:
        locator = document.locator
        self.result.references.extend(references_in(root, locator))
        seen: set[int] = set()
        # (node, path, parent key, whether this mapping is a ConfigMap `data`)
        stack: list[tuple[Node, tuple[str, ...], str | None, bool]] = [(root, (), None, False)]
        while stack:
            node, path, parent_key, is_data = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, MappingNode):
                children = self._walk_mapping(node, path, is_data, document)
                stack.extend(reversed(children))
            elif isinstance(node, SequenceNode):
                stack.extend(
                    (item, (*path, str(i)), None, False)
                    for i, item in reversed(list(enumerate(node.value)))
                )
            elif (
                isinstance(node, ScalarNode)
                and document.depth < MAX_EMBEDDING_DEPTH
                and _mentions_plugin_key(node.value)
                and isinstance(text := scalar_value(node), str)
            ):
                self.walk_text(
                    text,
                    embedded_map(locator.positions, locator.lines, node),
                    f"{document.id}:{'/'.join(path)}",
                    document.depth + 1,
                    syntax_errors=parent_key in EMBEDDED_YAML_KEYS,
                    versions=document.versions,
                )

    def _walk_mapping(
        self,
        node: MappingNode,
        path: tuple[str, ...],
        is_data: bool,
        document: _Document,
    ) -> list[tuple[Node, tuple[str, ...], str | None, bool]]:
        group = f"{document.id}:{'/'.join(path)}"
        locator = document.locator
        children = []
        pairs = [(key_text(key), key, value) for key, value in node.value]
        json6902 = _json6902_target(pairs)
        names = {name for name, _, _ in pairs}
        handled = self._containers(node, document) if not path else set()
        if not path and self.fragments and _data_fragment(pairs):
            is_data = True
        if is_data and (
            document.is_rollouts_configmap or path == ("/data",) or names & PLUGIN_KEYS.keys()
        ):
            self._unknown_config_keys(pairs, document.locator)
        mounts = values_mounts({n: v for n, _, v in pairs}, locator) if names & MOUNT_KEYS else None
        for name, key, value in pairs:
            child_path = (*path, name or "?")
            if name in handled:
                continue
            if name in PLUGIN_KEYS:
                origin = Origin.CONFIGMAP if is_data else Origin.HELM_VALUES
                place = _Place(PLUGIN_KEYS[name], origin, group, locator, document.versions,
                               mounts)  # fmt: skip
                if origin is Origin.HELM_VALUES and path[-1:] != ("controller",):
                    self._misplaced(key, path, place)
                self._plugin_value(key, value, place)
            elif name == "value" and json6902 == "/data":
                # Share the group of `/data/<key>` operations: it is the same ConfigMap.
                children.append((value, ("/data",), name, True))
            elif name == "value" and json6902 is not None:
                data_key = json6902.rsplit("/", 1)[1]
                if data_key not in PLUGIN_KEYS:
                    path_pair = [p for p in pairs if p[0] == "path"]
                    self._unknown_config_keys([(data_key, path_pair[0][2], value)], locator)
                    continue
                kind = PLUGIN_KEYS[data_key]
                place = _Place(kind, Origin.CONFIGMAP, f"{document.id}:/data", locator,
                               document.versions)  # fmt: skip
                self._plugin_value(key, value, place)
            else:
                children.append((value, child_path, name, name == "data"))
        return children

    def _containers(self, root: MappingNode, document: _Document) -> set[str | None]:
        """Plugin lists a document holds in a form of its own (a RolloutManager, a kustomize
        configMapGenerator); returns the top-level keys read here, which the generic walk
        then leaves alone."""
        from rollouts_plugin_lint.extract.containers import walk_containers

        return walk_containers(self, root, document)

    def place(
        self,
        kind: PluginKind,
        origin: Origin,
        group: str,
        locator: Locator,
        versions: Versions,
    ) -> _Place:
        return _Place(kind, origin, group, locator, versions)

    def walk_data_value(self, key_name: str, text: str, group: str, versions: Versions) -> None:
        """A whole text that is the data value `key_name` of `argo-rollouts-config`, as a
        file a kustomize configMapGenerator names; positions are the file's own."""
        locator = Locator(self.path, tuple(LINE_BREAK.split(text)), FILE)
        place = _Place(PLUGIN_KEYS[key_name], Origin.CONFIGMAP, group, locator,
                       versions.merged(self.forced))  # fmt: skip
        self.list_text(text, FILE, place)

    def _unknown_config_keys(
        self, pairs: list[tuple[str | None, Node, Node]], locator: Locator
    ) -> bool:
        """Report the data keys that look meant as plugin keys; True if there was one.
        `pairs` are (key name, node to point at, value)."""
        reported = False
        for name, key, _ in pairs:
            if name is None or name in PLUGIN_KEYS:
                continue
            meant = _meant_plugin_key(name)
            if meant is None:
                continue
            if name in _OLD_LAYOUT_KEYS:
                message = (
                    f"`{name}` is the layout of early plugin docs; the controller reads only "
                    "`trafficRouterPlugins`, `metricProviderPlugins` and `stepPlugins`, so "
                    "these plugins are never loaded"
                )
            else:
                message = (
                    f"the controller never reads the data key `{name}` (it reads exactly "
                    f"`trafficRouterPlugins`, `metricProviderPlugins` and `stepPlugins`), so "
                    f"these plugins are never loaded; did you mean `{meant}`?"
                )
            self._finding(
                "unknown-config-key",
                locator.span(key),
                message,
                hint=f"rename `{name}` to `{meant}`",
            )
            reported = True
        return reported

    def _misplaced(self, key: Node, path: tuple[str, ...], place: _Place) -> None:
        where = "at the top level" if not path else f"under `{'.'.join(path)}`"
        expected = ".".join((*path, "controller", place.kind.value))
        self._finding(
            "misplaced-plugin-list",
            place.locator.span(key),
            f"`{place.kind.value}` {where} is ignored: the chart reads "
            f"`controller.{place.kind.value}` only, so the controller starts with no "
            f"{place.kind.label} plugins",
            hint=f"move it under `controller:` ({expected})",
            kind=place.kind,
        )

    # -- plugin lists ----------------------------------------------------------------------

    def _plugin_value(self, key: Node, value: Node, place: _Place) -> None:
        """`key: value` where key names a plugin list: check the shape the container needs,
        then extract the entries from whatever shape was written."""
        kind, locator = place.kind, place.locator
        if isinstance(value, ScalarNode) and scalar_value(value) is None:
            return  # `key:` or `key: null` means no plugins
        if kind is PluginKind.STEP and (unread := _step_plugins_unread(place, chart_key=True)):
            # Nothing in a list that is never read can break anything: one finding.
            self._finding("version-gate", locator.span(key), unread, kind=kind)
            return
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
        versions = place.versions
        old_chart = versions.chart_below(CHART_LIST_FORM)
        if isinstance(value, SequenceNode):
            if old_chart:
                self._finding(
                    "plugin-list-shape",
                    locator.span(key),
                    f"chart {show(versions.chart or (0, 0, 0))} ({versions.source}) writes "
                    f"`controller.{kind.value}` straight under the ConfigMap's `data:`, so a "
                    "list makes the ConfigMap invalid; that chart takes a nested string",
                    hint=_nested_hint(kind),
                    kind=kind,
                    fix=list_as_nested_string(kind, key.start_mark.column, value, locator),
                )
            self._entries(value, place)
        elif isinstance(value, MappingNode):
            self._mapping_value(key, value, place)
        elif isinstance(value, ScalarNode) and isinstance(scalar_value(value), str):
            if scalar_value(value).strip():
                self._finding(
                    "plugin-list-shape",
                    locator.span(key),
                    f"`{kind.value}` is a string; "
                    + (
                        f"chart {show(versions.chart or (0, 0, 0))} takes a nested string "
                        f"under `{kind.value}.{kind.value}`"
                        if old_chart
                        else "the chart (>= 2.37.8) expects a YAML list and the controller "
                        "fails with `cannot unmarshal string into Go value of type "
                        "[]types.PluginItem`"
                    ),
                    hint=_nested_hint(kind) if old_chart else _values_hint(kind),
                    kind=kind,
                    fix=None
                    if old_chart
                    else string_as_list(kind, key.start_mark.column + 2, value, locator, False),
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
        kind, locator, versions = place.kind, place.locator, place.versions
        if not value.value:
            return  # `{}`: the pre-2.38 chart default, renders nothing
        pairs = [(key_text(k), k, v) for k, v in value.value]
        nested = [(k, v) for name, k, v in pairs if name in PLUGIN_KEYS]
        misnamed = [
            k for name, k, _ in pairs
            if name and name not in PLUGIN_KEYS and _meant_plugin_key(name)
        ]  # fmt: skip
        if not (nested or misnamed):
            self._finding(
                "plugin-list-shape",
                locator.span(key),
                f"`{kind.value}` must be a list of plugin entries; this is a mapping",
                hint=_values_hint(kind),
                kind=kind,
            )
            return
        first = nested[0][0] if nested else misnamed[0]
        if versions.chart_below(CHART_LIST_FORM):
            # That chart writes the nested keys straight under the ConfigMap's `data:`.
            self._unknown_config_keys(pairs, locator)
        else:
            chart = (
                f"chart {show(versions.chart)} ({versions.source})"
                if versions.chart
                else "the current chart (no chart version found; pass --chart-version)"
            )
            self._finding(
                "plugin-list-shape",
                locator.span(key),
                f"`{kind.value}` holds a nested `{key_text(first)}` key, the form of "
                f"charts up to 2.37.7; {chart} renders it as a map and the controller fails "
                "with `cannot unmarshal object into Go value of type []types.PluginItem`",
                hint=_values_hint(kind)
                + "\n(the nested string form is right only for chart versions up to 2.37.7)",
                kind=kind,
                fix=_nested_as_list(kind, pairs, locator),
            )
        for inner_key, inner_value in nested:
            inner_kind = PLUGIN_KEYS[key_text(inner_key) or ""]
            inner_place = replace(place, kind=inner_kind)
            unread = _step_plugins_unread(inner_place, chart_key=False)
            if inner_kind is PluginKind.STEP and unread:
                self._finding("version-gate", locator.span(inner_key), unread, kind=inner_kind)
            elif isinstance(inner_value, SequenceNode):
                self._entries(inner_value, inner_place)
            elif isinstance(inner_value, ScalarNode) and isinstance(scalar_value(inner_value), str):
                self._string_list(inner_value, inner_place)

    def _string_list(self, node: ScalarNode, place: _Place) -> None:
        """A plugin list written as a YAML (or JSON) string, as ConfigMap data values are."""
        text = scalar_value(node)
        self.list_text(text, embedded_map(place.locator.positions, place.locator.lines, node),
                       place)  # fmt: skip

    def list_text(self, text: str, positions: PositionMap, place: _Place) -> None:
        """The text of a plugin list, wherever it was written (`positions` maps it back)."""
        kind = place.kind
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
        inner = replace(place, locator=locator)
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
        budget = [MAX_NODES_PER_ENTRY]
        try:
            pairs = _pairs(item)
        except TooLarge:
            # Read the keys written here and leave the merges out, said at the first one.
            merge = next(key for key, _ in item.value if is_merge_key(key))
            self._finding(
                "schema",
                locator.span(merge),
                f"`<<` expands to more than {MAX_NODES_PER_ENTRY:,} nodes (aliases?); the "
                "merges are not read, and the controller refuses such a document",
                kind=place.kind,
            )
            pairs = _in_json_order(
                {
                    key_text(key) or "<complex key>": (key, value)
                    for key, value in item.value
                    if not is_merge_key(key)
                }
            )
        chosen, shadowed = _go_fields(pairs, FIELDS)
        shadowed += _repeated_keys(item)
        name_node = chosen["name"][2] if "name" in chosen else None
        plugin = scalar_value(name_node) if isinstance(name_node, ScalarNode) else None
        plugin = plugin if isinstance(plugin, str) else None
        for written, key, _ in pairs:
            field_name = _CANONICAL.get(_go_fold(written), written)
            if field_name != written and field_name in FIELDS:
                rename = Edit(locator.span(key), written, field_name)
                self._finding(
                    "unknown-field",
                    locator.span(key),
                    f"`{written}` works only because the controller matches field names "
                    f"without regard to case; write `{field_name}`",
                    severity=Severity.WARNING,
                    plugin=plugin,
                    kind=place.kind,
                    fix=Fix(f"rename `{written}` to `{field_name}`", (rename,)),
                )
        for field_name, (used_key, lost_key) in shadowed:
            first, second = sorted((used_key, lost_key), key=lambda k: k.start_mark.index)
            self._finding(
                "schema",
                locator.span(second),
                f"`{field_name}` is set twice (first on line {locator.span(first).line}); "
                f"the controller uses the one on line {locator.span(used_key).line}",
                severity=Severity.WARNING,
                plugin=plugin,
                kind=place.kind,
            )
        # In document order, so that a field that expands without bound is the one reported.
        in_order = sorted(chosen.items(), key=lambda pair: pair[1][1].start_mark.index)
        for field_name, (_, key, node) in in_order:
            try:
                value[field_name] = _go_value(node, field_name, budget)
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
            versions=place.versions,
            mounts=place.mounts,
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
        fix: Fix | None = None,
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
                fix=fix,
            )
        )


def _data_fragment(pairs: list[tuple[str | None, Node, Node]]) -> bool:
    """A mapping with a plugin key that holds a non-empty string: ConfigMap data."""
    for name, _, value in pairs:
        text = scalar_value(value) if isinstance(value, ScalarNode) else None
        if name in PLUGIN_KEYS and isinstance(text, str) and text.strip():
            return True
    return False


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


def _pairs(mapping: MappingNode) -> list[tuple[str, Node, Node]]:
    """The keys of a mapping as yaml.v2 leaves them, with merge keys (`<<: *base`) applied,
    each as (JSON key, key node, value node), in the order encoding/json reads them.

    yaml.v2 (decode.go `mapping`/`merge`) sets keys in document order: a later key
    replaces an earlier one, a merge writes its source's keys over what is already set, and
    of a sequence of merges the earlier sources win. sigs.k8s.io/yaml then writes the map as
    a JSON object, whose keys json.Marshal sorts bytewise."""
    result: dict[str, tuple[Node, Node]] = {}
    _apply(mapping, result, {id(mapping)}, [MAX_NODES_PER_ENTRY])
    return _in_json_order(result)


def _in_json_order(keys: dict[str, tuple[Node, Node]]) -> list[tuple[str, Node, Node]]:
    ordered = sorted(keys.items(), key=lambda pair: pair[0].encode("utf-8", "surrogatepass"))
    return [(written, key, value) for written, (key, value) in ordered]


def _repeated_keys(mapping: MappingNode) -> list[tuple[str, tuple[Node, Node]]]:
    """Keys written twice in one mapping: yaml.v2 keeps the last, as (key, (used, lost))."""
    last: dict[str, Node] = {}
    repeated = []
    for key, _ in reversed(mapping.value):
        written = key_text(key)
        if written is None or is_merge_key(key):
            continue
        if written in last:
            repeated.append((_CANONICAL.get(_go_fold(written), written), (last[written], key)))
        else:
            last[written] = key
    return repeated


def _apply(
    mapping: MappingNode,
    into: dict[str, tuple[Node, Node]],
    active: set[int],
    budget: list[int],
) -> None:
    """Merges nest, and aliases let nine copies of a mapping merge nine of the one before,
    thirty deep: `budget` counts the keys merges bring and raises TooLarge, as yaml.v2
    refuses such a document ("excessive aliasing"). The keys written in the mapping itself
    are not counted: however many, they are the file's own size, and no merge."""
    for key, value in mapping.value:
        if is_merge_key(key):
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in reversed(sources):
                if isinstance(source, MappingNode) and id(source) not in active:
                    budget[0] -= len(source.value)
                    if budget[0] < 0:
                        raise TooLarge
                    _apply(source, into, active | {id(source)}, budget)
        else:
            into[key_text(key) or "<complex key>"] = (key, value)


def _go_fields(
    pairs: list[tuple[str, Node, Node]], fields: tuple[str, ...]
) -> tuple[dict[str, tuple[str, Node, Node]], list[tuple[str, tuple[Node, Node]]]]:
    """Which key sets each struct field, as encoding/json decides: a key matches a field by
    exact name, else by folded name; of the keys that match one field the last (in the
    bytewise order of `_pairs`) wins, except that a null leaves a string, bool or struct
    as it was. Unknown keys are kept under their own name for the schema to explain.
    Returns the chosen (JSON key, key, value) per field and the (used, ignored) key pairs
    of fields set more than once."""
    exact = set(fields)
    folded = {_go_fold(name): name for name in fields}
    chosen: dict[str, tuple[str, Node, Node]] = {}
    shadowed: list[tuple[str, tuple[Node, Node]]] = []
    for written, key, node in pairs:
        field_name = written if written in exact else folded.get(_go_fold(written))
        if field_name is None:
            chosen[written] = (written, key, node)
            continue
        is_null = isinstance(node, ScalarNode) and scalar_value(node) is None
        earlier = chosen.get(field_name)
        if earlier is None or not is_null or field_name in _SLICE_FIELDS:
            if earlier is not None:
                shadowed.append((field_name, (key, earlier[1])))
            chosen[field_name] = (written, key, node)
        else:
            shadowed.append((field_name, (earlier[1], key)))
    return chosen, shadowed


def _go_value(node: Node, field_name: str, budget: list[int]) -> object:
    """The value of a field as the controller decodes it: nested struct keys folded like
    the entry's own, and a null in a list of strings read as "" (encoding/json leaves the
    zero value)."""
    nested = _NESTED_FIELDS.get(field_name)
    if isinstance(node, SequenceNode):
        budget[0] -= len(node.value)
        if budget[0] < 0:
            raise TooLarge
        items = [_go_value(item, field_name, budget) for item in node.value]
        if field_name == "args":
            return ["" if item is None else item for item in items]
        if field_name == "headersFrom":
            return [{} if item is None else item for item in items]
        return items
    if isinstance(node, MappingNode) and nested is not None:
        chosen, _ = _go_fields(_pairs(node), nested)
        value: dict[str, object] = {}
        for name, (_, _, child) in chosen.items():
            child_value = _go_value(child, name, budget)
            if child_value is not None:  # a null member leaves the zero value: absent
                value[name] = child_value
        return value
    return to_value(node, budget)


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


def _step_plugins_unread(place: _Place, chart_key: bool) -> str | None:
    """Why a `stepPlugins` list is never read, for the chart or controller in force, or
    None. `chart_key`: the list is the chart's own `controller.stepPlugins` value."""
    versions = place.versions
    if (
        chart_key
        and place.origin is Origin.HELM_VALUES
        and versions.chart_below(CHART_STEP_PLUGINS)
    ):
        return (
            f"chart {show(versions.chart or (0, 0, 0))} ({versions.source}) ignores "
            f"`controller.stepPlugins`: step plugins came with chart {show(CHART_STEP_PLUGINS)} "
            "and controller v1.8, so these plugins are never loaded"
        )
    if versions.controller_below(CONTROLLER_V18):
        return (
            f"{versions.describe_controller()} ({versions.source}) never reads `stepPlugins`: "
            "the key came with controller v1.8.0, so these step plugins are silently not loaded"
        )
    return None


def _nested_as_list(
    kind: PluginKind, pairs: list[tuple[str | None, Node, Node]], locator: Locator
) -> Fix | None:
    """The fix for a lone nested string of the same list: the list it holds."""
    if len(pairs) != 1 or pairs[0][0] != kind.value or not isinstance(pairs[0][2], ScalarNode):
        return None
    _, inner_key, block = pairs[0]
    return string_as_list(kind, inner_key.start_mark.column, block, locator, True)


def _nested_hint(kind: PluginKind) -> str:
    return (
        f"charts up to 2.37.7 take a YAML string under a nested key:\n"
        f"controller:\n"
        f"  {kind.value}:\n"
        f"    {kind.value}: |-\n"
        f"      - name: <namespace>/<name>\n"
        f"        location: https://..."
    )


def _is_rollouts_configmap(root: Node) -> bool:
    if not isinstance(root, MappingNode):
        return False
    fields = {key_text(k): v for k, v in root.value}
    metadata = fields.get("metadata")
    name = None
    if isinstance(metadata, MappingNode):
        name = next((v for k, v in metadata.value if key_text(k) == "name"), None)
    kind = fields.get("kind")
    return (
        isinstance(kind, ScalarNode)
        and kind.value == "ConfigMap"
        and isinstance(name, ScalarNode)
        and name.value == "argo-rollouts-config"
    )


# Data keys of the plugin layout in early docs: `plugins: | metrics: - name: ...`.
_OLD_LAYOUT_KEYS = {"plugins": "metricProviderPlugins", "metrics": "metricProviderPlugins"}
_CASEFOLDED_KEYS = {key.lower(): key for key in PLUGIN_KEYS}


def _meant_plugin_key(name: str) -> str | None:
    """The plugin key a data key was probably meant to be, or None if it looks unrelated."""
    if name in _OLD_LAYOUT_KEYS:
        return _OLD_LAYOUT_KEYS[name]
    folded = name.lower()
    if folded in _CASEFOLDED_KEYS:
        return _CASEFOLDED_KEYS[folded]
    if "plugin" not in folded:
        return None
    for stem, key in (("traffic", "trafficRouterPlugins"), ("router", "trafficRouterPlugins"),
                      ("metric", "metricProviderPlugins"), ("provider", "metricProviderPlugins"),
                      ("analysis", "metricProviderPlugins"), ("step", "stepPlugins")):  # fmt: skip
        if stem in folded:
            return key
    close = difflib.get_close_matches(name, list(PLUGIN_KEYS), n=1, cutoff=0.6)
    return close[0] if close else None


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
