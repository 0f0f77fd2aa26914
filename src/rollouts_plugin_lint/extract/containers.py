"""Documents that hold plugin lists in a form of their own, which the generic walk cannot
see: an argo-rollouts-manager `RolloutManager` (`spec.plugins`) and a kustomize
`configMapGenerator` for `argo-rollouts-config` (`literals:`, `files:` and `envs:`).

An extension of the walker: it reads the walker's nodes and reports through it."""

from __future__ import annotations

import posixpath
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from ruamel.yaml.error import StreamMark

from rollouts_plugin_lint.extract.positions import FILE, Locator, PositionMap, embedded_map
from rollouts_plugin_lint.extract.yamlnodes import (
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    key_text,
    scalar_value,
)
from rollouts_plugin_lint.model import (
    PLUGIN_KEYS,
    DataFileReference,
    Origin,
    PluginKind,
    Severity,
)

if TYPE_CHECKING:
    from rollouts_plugin_lint.extract.walker import Walker, _Document, _Place

CONFIGMAP_NAME = "argo-rollouts-config"

# argo-rollouts-manager (api/v1alpha1/argorollouts_types.go at v0.0.9, 3e07add): `Plugins`
# has `trafficManagement` and `metric`, each a list of `Plugin` with exactly these fields.
# The CRD is structural, so the API server prunes any other field before the operator
# reads the object; `spec.plugins` itself came with v0.0.5.
_MANAGER_LISTS = {"trafficManagement": PluginKind.TRAFFIC_ROUTER,
                  "metric": PluginKind.METRIC_PROVIDER}  # fmt: skip
_MANAGER_FIELDS = ("name", "location", "sha256")
# The operator adds this traffic router itself and fails the reconcile when the
# RolloutManager names it (controllers/configmap.go `reconcileConfigMap`, v0.0.9).
_OPERATOR_PLUGIN = "argoproj-labs/openshift"
_KUSTOMIZATION_KINDS = (None, "Kustomization", "Component")
# kustomize refuses a key repeated in one ConfigMap, so a real file names at most three
# plugin files per generator; the bound keeps a hostile one from reading a file a
# thousand times.
MAX_REFERENCES_PER_FILE = 16


def walk_containers(walker: Walker, root: MappingNode, document: _Document) -> set[str | None]:
    """Read the plugin lists of a document's own form; the top-level keys read here."""
    fields = {key_text(key): (key, value) for key, value in root.value}
    kind = _text(fields.get("kind", (None, None))[1])
    if kind == "RolloutManager" and "spec" in fields:
        _rollout_manager(walker, fields["spec"][1], document)
        return set()
    generators = fields.get("configMapGenerator", (None, None))[1]
    if kind in _KUSTOMIZATION_KINDS and isinstance(generators, SequenceNode):
        read = False
        for index, generator in enumerate(generators.value):
            if isinstance(generator, MappingNode) and _name(generator) == CONFIGMAP_NAME:
                _config_map_generator(walker, generator, index, document)
                read = True
        return {"configMapGenerator"} if read else set()
    return set()


# -- RolloutManager -------------------------------------------------------------------------


def _rollout_manager(walker: Walker, spec: Node, document: _Document) -> None:
    plugins = _get(spec, "plugins")
    if not isinstance(plugins, MappingNode):
        return
    locator = document.locator
    group = f"{document.id}:spec/plugins"
    for key, value in plugins.value:
        name = key_text(key)
        kind = _MANAGER_LISTS.get(name or "")
        if kind is None:
            walker._finding(
                "unknown-field",
                locator.span(key),
                f"the RolloutManager CRD has no `spec.plugins.{name}` (only "
                "`trafficManagement` and `metric`): the API server drops it and the operator "
                "never writes it into the ConfigMap",
            )
            continue
        if isinstance(value, ScalarNode) and scalar_value(value) is None:
            continue
        if not isinstance(value, SequenceNode):
            walker._finding(
                "plugin-list-shape",
                locator.span(value),
                f"`spec.plugins.{name}` must be a list of plugins (name, location, sha256); "
                "the RolloutManager CRD rejects anything else",
                kind=kind,
            )
            continue
        place = walker.place(kind, Origin.ROLLOUT_MANAGER, group, locator, document.versions)
        if kind is PluginKind.METRIC_PROVIDER and value.value:
            walker._finding(
                "version-gate",
                locator.span(key),
                "argo-rollouts-manager v0.0.5 to v0.0.7 write `spec.plugins.metric` under the "
                "data key `metricPlugins`, which the controller never reads (fixed in v0.0.8, "
                "controllers/configmap.go), and operators before v0.0.5 have no "
                "`spec.plugins`: with those, these metric plugins are not loaded",
                severity=Severity.NOTE,
                kind=kind,
            )
        items: list[Node] = []
        for item in value.value:
            if not isinstance(item, MappingNode):
                items.append(item)  # the walker reports it
                continue
            kept = []
            for field_key, field_value in item.value:
                field_name = key_text(field_key)
                if field_name in _MANAGER_FIELDS:
                    kept.append((field_key, field_value))
                else:
                    walker._finding(
                        "unknown-field",
                        locator.span(field_key),
                        f"the RolloutManager CRD has only `name`, `location` and `sha256` for "
                        f"a plugin: the API server drops `{field_name}` and the operator never "
                        "writes it",
                        kind=kind,
                    )
            items.append(MappingNode(item.tag, kept, item.start_mark, item.end_mark))
        first = len(walker.result.entries)
        walker._entries(SequenceNode(value.tag, items, value.start_mark, value.end_mark), place)
        for entry in walker.result.entries[first:]:
            if kind is PluginKind.TRAFFIC_ROUTER and entry.name == _OPERATOR_PLUGIN:
                walker._finding(
                    "duplicate-name",
                    entry.span_of("name"),
                    f"the operator adds `{_OPERATOR_PLUGIN}` itself and refuses a "
                    "RolloutManager that names it: the reconcile fails and the ConfigMap is "
                    "not written",
                    plugin=entry.name,
                    kind=kind,
                )


# -- kustomize configMapGenerator -----------------------------------------------------------


def _config_map_generator(
    walker: Walker, generator: MappingNode, index: int, document: _Document
) -> None:
    """kustomize (api/kv/kv.go): a literal is `key=value`, split at the first `=`, with one
    pair of matching surrounding quotes removed from the value; a file source is
    `key=path`, or a path whose base name is the key (generators.ParseFileSource)."""
    group = f"{document.id}:/configMapGenerator/{index}"
    literals = _get(generator, "literals")
    if isinstance(literals, SequenceNode):
        for literal in literals.value:
            if isinstance(literal, ScalarNode) and isinstance(scalar_value(literal), str):
                _literal(walker, literal, group, document)
    files = _get(generator, "files")
    if isinstance(files, SequenceNode):
        for source in files.value:
            if isinstance(source, ScalarNode) and isinstance(scalar_value(source), str):
                _file_source(walker, source, group, document)
    # `envs:` (a list) and the older `env:` (one path): files of KEY=VALUE lines.
    envs = _get(generator, "envs")
    env_sources = [*(envs.value if isinstance(envs, SequenceNode) else [])]
    if isinstance(env := _get(generator, "env"), ScalarNode):
        env_sources.append(env)
    for source in env_sources:
        if isinstance(source, ScalarNode) and isinstance(scalar_value(source), str):
            _env_source(walker, source, group, document)


def _literal(walker: Walker, node: ScalarNode, group: str, document: _Document) -> None:
    source = str(scalar_value(node))
    key_name, separator, value = source.partition("=")
    if not separator or not key_name:
        return  # kustomize itself refuses it: `invalid literal source`
    prefix = len(key_name) + 1
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value, prefix = value[1:-1], prefix + 1
    if not _plugin_key(walker, key_name, node, document):
        return
    kind = PLUGIN_KEYS[key_name]
    place = walker.place(kind, Origin.CONFIGMAP, group, document.locator, document.versions)
    if _step_unread(walker, node, place):
        return
    locator = document.locator
    positions = embedded_map(locator.positions, locator.lines, node)
    if positions.exact_lines == 1:
        positions = replace(positions, column_offset=positions.column_offset + prefix)
    else:  # a literal over several lines: its first line starts after `key=`
        positions = PositionMap(locator.positions, 0, 0, 0, positions.anchor)
    walker.list_text(value, positions, place)


def _file_source(walker: Walker, node: ScalarNode, group: str, document: _Document) -> None:
    source = str(scalar_value(node))
    locator = document.locator
    key_name, separator, path = source.partition("=")
    if not separator:
        key_name, path = posixpath.basename(source.rstrip("/")) or ".", source
    if not key_name or not path or "=" in path:
        walker._finding(
            "skipped-file",
            locator.span(node),
            "kustomize refuses this `files:` source (it takes `key=path` or a path); not read",
            severity=Severity.WARNING,
        )
        return
    if not separator and key_name not in PLUGIN_KEYS:
        stem = key_name.split(".", 1)[0]
        if stem in PLUGIN_KEYS:
            walker._finding(
                "unknown-config-key",
                locator.span(node),
                f"kustomize names the data key after the file, `{key_name}`; the controller "
                f"reads exactly `{stem}`, so these plugins are never loaded",
                hint=f"write `{stem}={path}`",
            )
            return
    if not _plugin_key(walker, key_name, node, document):
        return
    kind = PLUGIN_KEYS[key_name]
    place = walker.place(kind, Origin.CONFIGMAP, group, locator, document.versions)
    if _step_unread(walker, node, place):
        return
    if path.startswith(("http://", "https://")):
        walker._finding(
            "skipped-file",
            locator.span(node),
            f"`{key_name}` comes from a remote file; not read",
            severity=Severity.NOTE,
        )
        return
    if len(walker.result.data_files) >= MAX_REFERENCES_PER_FILE:
        walker._finding(
            "skipped-file",
            locator.span(node),
            f"more than {MAX_REFERENCES_PER_FILE} plugin files named in one file; not read",
            severity=Severity.WARNING,
        )
        return
    walker.result.data_files.append(
        DataFileReference(path, key_name, locator.span(node), group, document.versions)
    )


def _env_source(walker: Walker, node: ScalarNode, group: str, document: _Document) -> None:
    path = str(scalar_value(node)).strip()
    if not path:
        return
    if len(walker.result.data_files) >= MAX_REFERENCES_PER_FILE:
        walker._finding(
            "skipped-file",
            document.locator.span(node),
            f"more than {MAX_REFERENCES_PER_FILE} plugin files named in one file; not read",
            severity=Severity.WARNING,
        )
        return
    span = document.locator.span(node)
    reference = DataFileReference(path, "", span, group, document.versions, env_file=True)
    walker.result.data_files.append(reference)


# k8s.io/apimachinery validation.IsEnvVarName, which kustomize applies to each key.
_ENV_KEY = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


def walk_env_file(walker: Walker, text: str, reference: DataFileReference) -> None:
    """An env file of a configMapGenerator (kustomize api/kv/kv.go `KeyValuesFromLine`):
    each line, its leading white space removed, is a comment (`#`), blank, or `KEY=VALUE`
    split at the first `=`, the value taken as written (no quotes removed, unlike a
    literal); a key without `=` takes its value from the environment of `kustomize build`.
    A plugin key's value is the controller's whole list, on one line."""
    lines = text.split("\n")
    locator = Locator(walker.path, tuple(lines), FILE)
    versions = reference.versions.merged(walker.forced)
    for number, raw in enumerate(lines):
        line = raw.removesuffix("\r")
        if number == 0:
            line = line.removeprefix("\ufeff")
        indent = len(line) - len(line.lstrip())
        line = line[indent:]
        if not line or line.startswith("#"):
            continue
        key_name, separator, value = line.partition("=")
        key = ScalarNode("tag:yaml.org,2002:str", key_name, StreamMark("", 0, number, indent),
                         StreamMark("", 0, number, indent + len(key_name)))  # fmt: skip
        if not _ENV_KEY.fullmatch(key_name):
            walker._finding(
                "skipped-file",
                locator.span(key),
                f"kustomize refuses this env file: `{key_name[:60]}` is not a valid key name",
                hint="each line is one `KEY=VALUE`: write a plugin list on one line, in flow "
                "form: `trafficRouterPlugins=[{name: <namespace>/<name>, location: https://...}]`",
                severity=Severity.WARNING,
            )
            return
        if key_name not in PLUGIN_KEYS:
            walker._unknown_config_keys([(key_name, key, key)], locator)
            continue
        kind = PLUGIN_KEYS[key_name]
        place = walker.place(kind, Origin.CONFIGMAP, reference.group, locator, versions)
        if not separator:
            walker._finding(
                "skipped-file",
                locator.span(key),
                f"`{key_name}` has no `=`: kustomize takes its value from the environment of "
                "`kustomize build`; not read",
                severity=Severity.NOTE,
                kind=kind,
            )
            continue
        if _step_unread(walker, key, place):
            continue
        column = indent + len(key_name) + 1
        walker.list_text(value, PositionMap(FILE, number, column, 1, (number, column)), place)


def _plugin_key(walker: Walker, key_name: str, node: ScalarNode, document: _Document) -> bool:
    """Whether a generated data key is a plugin key; reports the ones meant as one."""
    if key_name in PLUGIN_KEYS:
        return True
    walker._unknown_config_keys([(key_name, node, node)], document.locator)
    return False


def _step_unread(walker: Walker, node: Node, place: _Place) -> bool:
    """A `stepPlugins` key the controller in force never reads: one finding, nothing read."""
    from rollouts_plugin_lint.extract.walker import _step_plugins_unread

    if place.kind is not PluginKind.STEP:
        return False
    unread = _step_plugins_unread(place, chart_key=False)
    if unread:
        walker._finding("version-gate", place.locator.span(node), unread, kind=place.kind)
    return unread is not None


def _get(node: Node | None, key: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    return next((value for k, value in node.value if key_text(k) == key), None)


def _text(node: Node | None) -> str | None:
    value = scalar_value(node) if isinstance(node, ScalarNode) else None
    return value if isinstance(value, str) else None


def _name(generator: MappingNode) -> str | None:
    return _text(_get(generator, "name"))
