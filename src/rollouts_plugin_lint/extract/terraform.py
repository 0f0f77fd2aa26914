"""Plugin lists in Terraform: the `helm_release` resources of the argo-rollouts chart
(hashicorp/helm provider). What the provider hands Helm is read into the same values tree
a values file gives, with the position of every key and value in the `.tf` file, and
walked by the one walker:

- `values = [yamlencode({...})]` (and `jsonencode`): the HCL object is the tree;
- `values = [<<EOF ... EOF]` and `<<-EOF`: YAML text, positions mapped through the
  heredoc's lines and the indentation `<<-` removes;
- `set` blocks (provider v2) and `set = [{...}]` lists (v3), with `set_sensitive` and
  `set_list`: each `name` path is set into the tree as Helm's strvals does, each value at
  its `value`;
- `version`: the chart version.

The provider (resource_helm_release.go `getValues`) merges the `values` items in order,
maps key by key and anything else replaced, then parses each `set` into the result. A
`local.name` of the same file is read where it is defined. What Terraform computes
(`var.x`, `"${...}"`) is not known here: an entry holding it is not judged, and a note
says so. A `file()` or `templatefile()` values file is checked on its own, given the
release's chart version through the version context (`release_value_files`); it and
anything else this reader cannot read get one note each."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ruamel.yaml.error import StreamMark

from rollouts_plugin_lint.extract import hcl
from rollouts_plugin_lint.extract.hints import CHART_NAME
from rollouts_plugin_lint.extract.positions import FILE, Locator, PositionMap
from rollouts_plugin_lint.extract.walker import (
    _KEY_MENTION,
    Extraction,
    Walker,
    _Document,
    _mentions_plugin_key,
)
from rollouts_plugin_lint.extract.yamlnodes import (
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    key_text,
)
from rollouts_plugin_lint.model import LINE_BREAK, PLUGIN_KEYS, Finding, Severity, Span
from rollouts_plugin_lint.versions import Versions, parse_version, show

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_PLAIN_TAGS = {bool: "tag:yaml.org,2002:bool", int: "tag:yaml.org,2002:int",
               float: "tag:yaml.org,2002:float", type(None): "tag:yaml.org,2002:null"}  # fmt: skip
_ENCODERS = ("yamlencode", "jsonencode")
_FILE_READERS = ("file", "templatefile")
# Provider v2 writes `set` as blocks, v3 as a list of objects; both take the same fields.
# hashicorp/terraform-provider-helm, helm/resource_helm_release.go `getValues`: each kind
# is parsed into the merged values with Helm's strvals.ParseInto (`set_string`, of
# provider v1, with ParseIntoString), in this order.
_SET_KINDS = ("set", "set_list", "set_sensitive", "set_string")
# `argo-rollouts-2.38.0.tgz`, a chart archive's own name.
_CHART_ARCHIVE = re.compile(r"argo-rollouts-(\d+\.\d+\.\d+)\.tgz")
# strvals (helm pkg/strvals/parser.go, typedVal): what `--set` makes of a value.
_SET_INT = re.compile(r"[-+]?[0-9]+")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")
_MAX_SHOWN = 60
_LOCAL = re.compile(r"local\.([^\W\d][\w-]*)((?:\.[^\W\d][\w-]*)*)")
# A chart's whole values are some 1,500 nodes; locals used many times over can expand a
# small file without bound.
MAX_NODES_PER_RELEASE = 100_000
_MAX_LOCAL_DEPTH = 16  # `local.a.x` through `local.b.y` and back: a cycle of references


_INTERPOLATION = re.compile(r"\$\{[^{}]*\}")


class _TooLarge(Exception):
    """A release's values expand past MAX_NODES_PER_RELEASE."""


def extract_terraform(
    path: str, text: str, versions: Versions | None = None, forced: Versions | None = None
) -> Extraction:
    """Every plugin entry in the argo-rollouts `helm_release` resources of a `.tf` text."""
    walker = Walker(path, versions, forced)
    try:
        parsed = hcl.parse(text)
    except hcl.HclProblem as problem:
        walker._finding(
            "skipped-file",
            Span.point(path, problem.line + 1, problem.column + 1),
            f"Terraform file not read: {problem.message}",
            severity=Severity.WARNING,
        )
        return walker.result
    locator = Locator(path, tuple(LINE_BREAK.split(text)), FILE)
    releases = [
        block
        for block in parsed.body
        if isinstance(block, hcl.Block)
        and block.type == "resource"
        and block.labels[:1] == ["helm_release"]
    ]
    local_values = {
        attribute.name: attribute.value
        for block in parsed.body
        if isinstance(block, hcl.Block) and block.type == "locals"
        for attribute in block.body
        if isinstance(attribute, hcl.Attribute)
    }
    used: set[str] = set()
    for block in releases:
        _Release(walker, parsed, locator, block, local_values, used).read()
    read = [(block.start, block.end) for block in releases]
    read += [(local_values[name].start, local_values[name].end) for name in used]
    _unread_mentions(walker, parsed, sorted(read + parsed.comments))
    return walker.result


@dataclass
class _Release:
    walker: Walker
    parsed: hcl.Text
    locator: Locator
    block: hcl.Block
    # The file's `locals`: a `local.name` is read where it is defined.
    local_values: dict[str, hcl.Value]
    used_locals: set[str]
    # 1-based (line, column) where a value Terraform computes starts.
    computed: dict[int, list[int]] = field(default_factory=dict)
    noted: set[str] = field(default_factory=set)
    nodes_left: int = MAX_NODES_PER_RELEASE
    # Where each key of a mapping `set` writes into sits, by the mapping's id (the mapping
    # kept with it, so that the id stays its own): thousands of `set`s into one mapping
    # were a scan of its keys each.
    set_keys: dict[int, tuple[MappingNode, dict[str | None, int]]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.block.labels[1] if len(self.block.labels) > 1 else "?"

    def read(self) -> None:
        """Read the release if it is one of the chart and mentions a plugin key."""
        source = self.parsed.source[self.block.start : self.block.end]
        named = {match.group(1) for match in _LOCAL.finditer(source)}
        sources = [source, *(self._source(self.local_values[name]) for name in
                             sorted(named & self.local_values.keys()))]  # fmt: skip
        if not any(_mentions_plugin_key(text) for text in sources):
            return
        chart = self.block.attribute("chart")
        chart_name = chart.value.value if chart and isinstance(chart.value, hcl.Literal) else None
        if not _is_rollouts_chart(chart_name):
            what = f"`{_shown(chart_name)}`" if isinstance(chart_name, str) else "a computed chart"
            self._note(self.block.start, f"helm_release `{_shown(self.name)}` installs {what}, "
                       "not the argo-rollouts chart: its values are not read")  # fmt: skip
            return
        versions = self._versions(chart)
        group = f"{self.walker.path}#helm_release.{self.name}"
        for block in self.block.blocks("dynamic"):
            if block.labels[:1] and block.labels[0] in _SET_KINDS:
                self._note(block.start, f"a `dynamic \"{block.labels[0]}\"` block is expanded "
                           "by Terraform: not read")  # fmt: skip
        try:
            tree = self._values(versions, group)
            tree = self._sets(tree)
        except _TooLarge:
            self._note(self.block.start, f"helm_release `{_shown(self.name)}` expands to "
                       f"more than {MAX_NODES_PER_RELEASE:,} values (`local`s used over and "
                       "over, or large `set` list indices?): not read")  # fmt: skip
            return
        if tree is not None:
            self._walk(tree, group, versions)

    def _versions(self, chart: hcl.Attribute | None) -> Versions:
        """The chart version: `version`, else the version in a chart archive's name."""
        stated = self.walker.versions
        version = self.block.attribute("version")
        named = chart.value if chart is not None else None
        archive = (
            _CHART_ARCHIVE.search(named.value)
            if isinstance(named, hcl.Literal) and isinstance(named.value, str)
            else None
        )
        if version is not None and isinstance(version.value, hcl.Literal):
            found, at, what = parse_version(version.value.value), version.value, "version"
        elif archive is not None and named is not None:
            found, at, what = parse_version(archive.group(1)), named, "chart archive"
        else:
            return stated.merged(self.walker.forced)
        line = self.parsed.position(at.start)[0] + 1
        if found is not None:
            stated = stated.merged(Versions(found, None, f"the helm_release {what} on line {line}"))
        return stated.merged(self.walker.forced)

    # -- values ----------------------------------------------------------------------------

    def _values(self, versions: Versions, group: str) -> MappingNode | None:
        attribute = self.block.attribute("values")
        if attribute is None:
            return None
        values = self._resolved(attribute.value)
        if not isinstance(values, hcl.Tuple):
            self._note(values.start, "`values` is a Terraform expression "
                       f"(`{_shown(self._source(values))}`): not read")  # fmt: skip
            return None
        tree: MappingNode | None = None
        for number, written in enumerate(values.items):
            item = self._resolved(written)
            if isinstance(item, hcl.Call) and item.name in _ENCODERS and len(item.args) == 1:
                node = self._node(item.args[0])
                if isinstance(node, MappingNode):
                    tree = node if tree is None else _merge(tree, node)
                else:
                    self._note(item.start, "a `values` item Terraform computes "
                               f"(`{_shown(self._source(item))}`): not read")  # fmt: skip
            elif isinstance(item, hcl.Heredoc):
                self._heredoc(item, f"{group}:values/{number}", versions)
            elif isinstance(item, hcl.Literal) and isinstance(item.value, str):
                line, column = self.parsed.position(item.start)
                self.walker.walk_text(item.value, PositionMap(FILE, 0, 0, 0, (line, column)),
                                      f"{group}:values/{number}", versions=versions)  # fmt: skip
            elif isinstance(item, hcl.Call) and item.name in _FILE_READERS:
                self._file_note(item)
            else:
                self._note(item.start, "a `values` item Terraform computes "
                           f"(`{_shown(self._source(item))}`): not read")  # fmt: skip
        return tree

    def _file_note(self, call: hcl.Call) -> None:
        version = self.block.attribute("version")
        stated = parse_version(getattr(version.value, "value", None)) if version else None
        path = _module_path(call.args[0]) if call.args else None
        if stated is not None and path is not None:
            judged = f"for this release's chart {show(stated)}"
        elif path is None:
            judged = "without this release's chart version (its path is computed)"
        else:
            judged = "without this release's chart version (`version` is not written out)"
        rendered = " (Terraform fills in its `${...}` first)" if call.name == "templatefile" else ""
        self._note(call.start, f"`{call.name}(...)` values come from that file{rendered}: it "
                   f"is checked on its own when the walk reaches it, {judged}")  # fmt: skip

    def _heredoc(self, heredoc: hcl.Heredoc, group: str, versions: Versions) -> None:
        if heredoc.directives:
            self._note(heredoc.start, "this heredoc holds `%{...}` template directives that "
                       "Terraform renders: not read")  # fmt: skip
            return
        for line, column in heredoc.interpolations:
            self._computed(heredoc.first_line + line, heredoc.indent + column)
        first_entry = len(self.walker.result.entries)
        first_finding = len(self.walker.result.findings)
        parsed = self.walker.walk_text(
            heredoc.text,
            PositionMap(FILE, heredoc.first_line, heredoc.indent),
            group,
            syntax_errors=not heredoc.interpolations,
            versions=versions,
        )
        if not parsed and heredoc.interpolations:
            self._note(heredoc.start, "this heredoc is not YAML until Terraform fills in its "
                       "`${...}`: not read")  # fmt: skip
        self._leave_computed(first_entry, first_finding)

    def _walk(self, tree: MappingNode, group: str, versions: Versions) -> None:
        first_entry = len(self.walker.result.entries)
        first_finding = len(self.walker.result.findings)
        document = _Document(self.locator, group, 0, versions, False)
        self.walker._walk_tree(tree, document)
        self._leave_computed(first_entry, first_finding)

    def _leave_computed(self, first_entry: int, first_finding: int) -> None:
        """Entries with a value Terraform computes are not judged (their value is not known
        here): one note each, and no finding of the walker's on such a value."""
        result = self.walker.result
        kept = []
        for entry in result.entries[first_entry:]:
            computed = next(
                ((path, span) for path, span in entry.spans.items()
                 if path and self._holds_computed(span)), None
            )  # fmt: skip
            if computed is None:
                kept.append(entry)
                continue
            (field_name, *_), span = computed
            value = entry.value.get(str(field_name))
            written = value if isinstance(value, str) else self._span_text(span)
            interpolation = _INTERPOLATION.search(written)
            shown = _shown(interpolation.group() if interpolation else written)
            result.findings.append(
                Finding(
                    "placeholder",
                    Severity.NOTE,
                    span,
                    f"`{field_name}` holds `{shown}`, which Terraform computes: this entry is "
                    "checked only with the value filled in",
                    hint="lint the values Terraform renders (e.g. from `terraform plan`), or "
                    "write the value out",
                    plugin=entry.name,
                    kind=entry.kind,
                )
            )
        result.entries[first_entry:] = kept
        result.findings[first_finding:] = [
            finding
            for finding in result.findings[first_finding:]
            if finding.rule == "placeholder" or not self._holds_computed(finding.span)
        ]

    # -- set ---------------------------------------------------------------------------------

    def _sets(self, tree: MappingNode | None) -> MappingNode | None:
        for kind in _SET_KINDS:
            for block in self.block.blocks(kind):
                tree = self._set(tree, kind, block.attribute("name"), block.attribute("value"),
                                 block.attribute("type"))  # fmt: skip
            attribute = self.block.attribute(kind)
            if attribute is None:
                continue
            items = attribute.value.items if isinstance(attribute.value, hcl.Tuple) else None
            if items is None or not all(isinstance(item, hcl.Object) for item in items):
                self._note(attribute.value.start, f"`{kind}` is a Terraform expression: not read")
                continue
            for item in items:
                assert isinstance(item, hcl.Object)
                fields = {key.name: hcl.Attribute(key.name, key.start, value)
                          for key, value in item.items if key.name}  # fmt: skip
                tree = self._set(tree, kind, fields.get("name"), fields.get("value"),
                                 fields.get("type"))  # fmt: skip
        return tree

    def _set(
        self,
        tree: MappingNode | None,
        kind: str,
        name: hcl.Attribute | None,
        value: hcl.Attribute | None,
        value_type: hcl.Attribute | None,
    ) -> MappingNode | None:
        if name is None or value is None:
            return tree
        if not (isinstance(name.value, hcl.Literal) and isinstance(name.value.value, str)):
            if _mentions_plugin_key(self._source(name.value)):
                self._note(name.value.start, f"a `{kind}` name Terraform computes: not read")
            return tree
        if not _mentions_plugin_key(name.value.value):
            return tree  # the chart's other settings cannot break a plugin entry
        path = _set_path(name.value.value)
        if path is None:
            self._note(name.value.start, f"this `{kind}` name is not a path Helm reads: not read")
            return tree
        as_string = kind == "set_string" or (
            value_type is not None
            and isinstance(value_type.value, hcl.Literal)
            and value_type.value.value == "string"
        )
        leaf = self._set_value(value.value, as_string)
        if leaf is None:
            return tree
        root = tree or MappingNode(_MAP, [], *self._marks(name.value))
        self._set_into(root, path, leaf, self._key_nodes(name.value, path))
        return root

    def _set_into(
        self, root: MappingNode, path: list[str | int], leaf: Node, keys: list[Node]
    ) -> None:
        """Set `leaf` at `path`, making the mappings and lists on the way (strvals: a list
        is extended with nulls up to the index; each null counts as a value)."""
        node: Node = root
        for number, (step, key) in enumerate(zip(path, keys, strict=True)):
            last = number == len(path) - 1
            following = None if last else path[number + 1]
            child = leaf if last else _empty(following, key)
            if isinstance(step, int) and isinstance(node, SequenceNode):
                self._spend(step + 1 - len(node.value))
                while len(node.value) <= step:
                    node.value.append(ScalarNode(_PLAIN_TAGS[type(None)], "null",
                                                 key.start_mark, key.end_mark))  # fmt: skip
                current = node.value[step]
                if last or not _fits(current, following):
                    node.value[step] = child
                node = node.value[step]
            elif isinstance(step, str) and isinstance(node, MappingNode):
                indexes = self._key_indexes(node)
                index = indexes.get(step)
                if index is None:
                    self._spend(1)
                    indexes[step] = len(node.value)
                    node.value.append((key, child))
                    node = child
                    continue
                current = node.value[index][1]
                if last or not _fits(current, following):
                    node.value[index] = (key, child)
                node = node.value[index][1]
            else:
                return  # a key into a list or an index into a mapping: strvals refuses it

    def _key_indexes(self, mapping: MappingNode) -> dict[str | None, int]:
        known = self.set_keys.get(id(mapping))
        if known is None:
            known = self.set_keys[id(mapping)] = (mapping, _first_indexes(mapping))
        return known[1]

    def _spend(self, nodes: int) -> None:
        self.nodes_left -= max(nodes, 0)
        if self.nodes_left < 0:
            raise _TooLarge

    def _set_value(self, value: hcl.Value, as_string: bool) -> Node | None:
        """The node Helm makes of a set value; None (and a note) where strvals refuses it."""
        if isinstance(value, hcl.Tuple):  # set_list: `name={a,b}`, each item typed
            items = [self._set_value(item, as_string) for item in value.items]
            if None in items:
                return None
            return SequenceNode(_SEQ, items, *self._marks(value))
        if not isinstance(value, hcl.Literal):
            return self._node(value)
        # The provider hands Helm `name=value` as a string; strvals (helm pkg/strvals
        # parser.go `val`, `runesUntil`, `typedVal`) cuts it at a comma, drops each
        # backslash before the character it escapes, then types it.
        text = value.value if isinstance(value.value, str) else _go_text(value.value)
        if _UNESCAPED_COMMA.search(text):
            self._note(value.start, "Helm's `--set` parsing cuts this value at its `,` (write "
                       "`\\\\,` for a comma): not read")  # fmt: skip
            return None
        text = re.sub(r"\\(.)", r"\1", text)
        lowered = text.lower()
        typed: object
        if as_string:
            typed = text
        elif lowered in ("true", "false"):
            typed = lowered == "true"
        elif lowered == "null":
            typed = None
        elif text == "0" or (
            text[:1] != "0" and _SET_INT.fullmatch(text) and -(2**63) <= int(text) < 2**63
        ):
            typed = int(text)
        else:
            typed = text
        return self._scalar(typed, value)

    def _key_nodes(self, name: hcl.Literal, path: list[str | int]) -> list[Node]:
        """A key node per step of a `set` name, at that step's own place in the name when
        the name is written without escapes, else at the whole name."""
        written = self.parsed.source[name.start + 1 : name.end - 1]
        exact = written == name.value
        nodes: list[Node] = []
        offset = 0
        for step in path:
            if isinstance(step, int):
                offset = written.find("]", offset) + 1 if exact else offset
                nodes.append(ScalarNode(_STR, str(step), *self._marks(name)))
                continue
            if exact:
                start = name.start + 1 + written.find(step, offset)
                offset = start - name.start - 1 + len(step)
                nodes.append(ScalarNode(_STR, step, self._mark(start),
                                        self._mark(start + len(step)), style='"'))  # fmt: skip
            else:
                nodes.append(ScalarNode(_STR, step, *self._marks(name), style='"'))
        return nodes

    # -- nodes -------------------------------------------------------------------------------

    def _resolved(self, value: hcl.Value, depth: int = 0) -> hcl.Value:
        """A `local.name` (or `local.name.key.key`) as its definition, through other
        locals; a cycle, or a key the object does not have, stays as written."""
        seen: set[str] = set()
        while isinstance(value, hcl.Expression) and depth < _MAX_LOCAL_DEPTH:
            reference = _LOCAL.fullmatch(value.text.strip())
            if reference is None or reference.group(0) in seen:
                break
            seen.add(reference.group(0))
            name, keys = reference.group(1), reference.group(2).split(".")[1:]
            found = self.local_values.get(name)
            for key in keys:
                inner = self._resolved(found, depth + 1) if found is not None else None
                found = _member(inner, key) if inner is not None else None
            if found is None:
                break
            self.used_locals.add(name)
            value = found
        return value

    def _node(self, value: hcl.Value) -> Node:
        """The values tree of an HCL value, as yamlencode writes it and Helm reads it."""
        self._spend(1)
        value = self._resolved(value)
        if isinstance(value, hcl.Object):
            pairs = []
            for key, written in value.items:
                item = self._resolved(written)
                name = key.name
                if name is None:
                    self._computed(*self.parsed.position(key.start))
                    name = self.parsed.source[key.start : key.end]
                if name in PLUGIN_KEYS and isinstance(item, (hcl.Expression, hcl.Call)):
                    self._note(item.start, f"`{name}` is computed by Terraform "
                               f"(`{_shown(self._source(item))}`): not read")  # fmt: skip
                    continue
                key_node = ScalarNode(_STR, name, self._mark(key.start), self._mark(key.end),
                                      style='"')  # fmt: skip
                pairs.append((key_node, self._node(item)))
            return MappingNode(_MAP, pairs, *self._marks(value))
        if isinstance(value, hcl.Tuple):
            return SequenceNode(_SEQ, [self._node(item) for item in value.items],
                                *self._marks(value))  # fmt: skip
        if isinstance(value, hcl.Literal):
            return self._scalar(value.value, value)
        if isinstance(value, hcl.Heredoc):
            # As a literal block scalar: its lines start on the line after `<<EOF`, which
            # lets the walker map a YAML string in it exactly (embedded_map checks it).
            return ScalarNode(_STR, value.text, *self._marks(value), style="|")
        # A reference, a template, a function call: what Terraform computes.
        self._computed(*self.parsed.position(value.start))
        text = self._source(value)
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]  # a template string, shown as written inside its quotes
        return ScalarNode(_STR, text, *self._marks(value), style='"')

    def _scalar(self, typed: object, at: hcl.Value) -> ScalarNode:
        if isinstance(typed, str):
            return ScalarNode(_STR, typed, *self._marks(at), style='"')
        text = "null" if typed is None else _go_text(typed)
        return ScalarNode(_PLAIN_TAGS[type(typed)], text, *self._marks(at))

    def _mark(self, offset: int) -> StreamMark:
        line, column = self.parsed.position(offset)
        return StreamMark(self.walker.path, offset, line, column)

    def _marks(self, value: hcl.Value) -> tuple[StreamMark, StreamMark]:
        return self._mark(value.start), self._mark(value.end)

    # -- helpers -----------------------------------------------------------------------------

    def _computed(self, line: int, column: int) -> None:
        self.computed.setdefault(line + 1, []).append(column + 1)

    def _holds_computed(self, span: Span) -> bool:
        for line in range(span.line, span.end_line + 1):
            for column in self.computed.get(line, ()):
                if (span.line, span.column) <= (line, column) < (span.end_line, span.end_column):
                    return True
        return False

    def _source(self, value: hcl.Value) -> str:
        return self.parsed.source[value.start : value.end]

    def _span_text(self, span: Span) -> str:
        lines = self.locator.lines
        if span.line != span.end_line or span.line > len(lines):
            return "..."
        return lines[span.line - 1][span.column - 1 : span.end_column - 1]

    def _note(self, offset: int, message: str) -> None:
        if message in self.noted:
            return
        self.noted.add(message)
        line, column = self.parsed.position(offset)
        self.walker._finding("skipped-file", self.locator.point(line, column), message,
                             severity=Severity.NOTE)  # fmt: skip


def release_value_files(text: str) -> list[tuple[Versions, str]]:
    """(the chart version, a path relative to the file's folder) for each `file()` and
    `templatefile()` values item of a helm_release of the chart at an exact `version`:
    the context other files get their version from. Unreadable text gives nothing."""
    try:
        parsed = hcl.parse(text)
    except hcl.HclProblem:
        return []
    found = []
    for block in parsed.body:
        if not (
            isinstance(block, hcl.Block)
            and block.type == "resource"
            and block.labels[:1] == ["helm_release"]
        ):
            continue
        chart, version = block.attribute("chart"), block.attribute("version")
        if chart is None or version is None or not isinstance(chart.value, hcl.Literal):
            continue
        stated = parse_version(getattr(version.value, "value", None))
        if not _is_rollouts_chart(chart.value.value) or stated is None:
            continue
        line = parsed.position(version.value.start)[0] + 1
        versions = Versions(stated, None, f"the helm_release version on line {line}")
        values = block.attribute("values")
        items = values.value.items if values and isinstance(values.value, hcl.Tuple) else []
        for item in items:
            if isinstance(item, hcl.Call) and item.name in _FILE_READERS and item.args:
                path = _module_path(item.args[0])
                if path is not None:
                    found.append((versions, path))
    return found


def _module_path(value: hcl.Value) -> str | None:
    """A path as written, or with `${path.module}` (the file's own folder); None for what
    Terraform computes otherwise."""
    if isinstance(value, hcl.Literal) and isinstance(value.value, str):
        return value.value or None
    if not isinstance(value, hcl.Expression) or not value.text.startswith('"'):
        return None
    path = value.text[1:-1].replace("${path.module}", ".")
    return None if "${" in path or "%{" in path or "\\" in path else path


def _member(value: hcl.Value, key: str) -> hcl.Value | None:
    if not isinstance(value, hcl.Object):
        return None
    return next((item for k, item in value.items if k.name == key), None)


def _is_rollouts_chart(chart: object) -> bool:
    """`argo-rollouts`, `argo/argo-rollouts`, an OCI reference or URL ending in it, or a
    chart archive `.../argo-rollouts-2.38.0.tgz`."""
    if not isinstance(chart, str):
        return False
    last = chart.rstrip("/").rsplit("/", 1)[-1]
    return last == CHART_NAME or _CHART_ARCHIVE.fullmatch(last) is not None


def _merge(into: MappingNode, other: MappingNode) -> MappingNode:
    """Helm's mergeMaps: mappings merge key by key, anything else is replaced."""
    pairs = list(into.value)
    indexes = _first_indexes(into)  # two yamlencode objects of 20,000 keys: not 20,000²
    for key, value in other.value:
        name = key_text(key)
        index = indexes.get(name)
        if index is None:
            indexes[name] = len(pairs)
            pairs.append((key, value))
        elif isinstance(pairs[index][1], MappingNode) and isinstance(value, MappingNode):
            pairs[index] = (pairs[index][0], _merge(pairs[index][1], value))
        else:
            pairs[index] = (key, value)
    return MappingNode(_MAP, pairs, into.start_mark, into.end_mark)


_SET_STEP = re.compile(r"((?:[^.\[\\]|\\.)+)((?:\[[0-9]{1,4}\])*)")


def _set_path(name: str) -> list[str | int] | None:
    """`controller.trafficRouterPlugins[0].location` as strvals reads it: keys split at
    unescaped dots, `[n]` list indices after a key; None for what it refuses."""
    path: list[str | int] = []
    position = 0
    while True:
        step = _SET_STEP.match(name, position)
        if step is None:
            return None
        path.append(re.sub(r"\\(.)", r"\1", step.group(1)))
        path.extend(int(index) for index in re.findall(r"\[([0-9]+)\]", step.group(2)))
        position = step.end()
        if position == len(name):
            return path
        if name[position] != ".":
            return None
        position += 1


def _first_indexes(mapping: MappingNode) -> dict[str | None, int]:
    """The index of the first pair with each key, as a scan from the start finds it."""
    indexes: dict[str | None, int] = {}
    for index, (key, _) in enumerate(mapping.value):
        indexes.setdefault(key_text(key), index)
    return indexes


def _empty(following: str | int | None, key: Node) -> Node:
    if isinstance(following, int):
        return SequenceNode(_SEQ, [], key.start_mark, key.end_mark)
    return MappingNode(_MAP, [], key.start_mark, key.end_mark)


def _fits(node: Node, following: str | int | None) -> bool:
    wanted = SequenceNode if isinstance(following, int) else MappingNode
    return isinstance(node, wanted)


def _go_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _shown(value: object) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _unread_mentions(walker: Walker, parsed: hcl.Text, read: list[tuple[int, int]]) -> None:
    """A plugin key outside every release read (and outside comments): one note, at the
    first."""
    lowered = parsed.source.lower()
    pieces, copied = [], 0
    for start, end in read:  # blanked out, so that offsets stay those of the file
        start = max(start, copied)
        pieces += [lowered[copied:start], " " * max(0, end - start)]
        copied = max(copied, end)
    rest = "".join([*pieces, lowered[copied:]])
    if "plugin" not in rest:
        return
    mention = _KEY_MENTION.search(rest)
    if mention is None:
        return
    line, column = parsed.position(mention.start())
    walker._finding(
        "skipped-file",
        Span.point(walker.path, line + 1, column + 1),
        "a plugin key outside a `helm_release` of the argo-rollouts chart: not read (only a "
        "release's `values` and `set` are)",
        severity=Severity.NOTE,
    )
