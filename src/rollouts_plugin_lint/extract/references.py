"""The places a document uses plugins by name: a Rollout's traffic router plugins and
canary step plugins, and the metric plugins of AnalysisTemplates, ClusterAnalysisTemplates
and AnalysisRuns, each by the configured name (argo-rollouts v1.9.1
pkg/apis/rollouts/v1alpha1: types.go L411 `trafficRouting.plugins` and L679-684 `plugin.name`,
analysis_types.go L200 `provider.plugin`)."""

from __future__ import annotations

from collections.abc import Iterator

from rollouts_plugin_lint.extract.positions import Locator
from rollouts_plugin_lint.extract.yamlnodes import (
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    key_text,
    scalar_value,
)
from rollouts_plugin_lint.model import PluginKind, PluginReference

_ANALYSIS_KINDS = {"AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun"}
# A resource name goes into every message about its references: a hostile one stays short.
_MAX_SHOWN_NAME = 80


def references_in(root: Node, locator: Locator) -> list[PluginReference]:
    """The plugin references of one document (none unless it is an argoproj.io Rollout or
    analysis resource)."""
    if not isinstance(root, MappingNode):
        return []
    kind = _string(_get(root, "kind"))
    api_version = _string(_get(root, "apiVersion")) or ""
    if not api_version.startswith("argoproj.io/"):
        return []
    name = _string(_get(_get(root, "metadata"), "name")) or "?"
    if len(name) > _MAX_SHOWN_NAME:
        name = name[:_MAX_SHOWN_NAME] + "..."
    spec = _get(root, "spec")
    if kind == "Rollout":
        resource = f"Rollout {name}"
        canary = _get(_get(spec, "strategy"), "canary")
        found = list(_keys(_get(_get(canary, "trafficRouting"), "plugins"),
                           PluginKind.TRAFFIC_ROUTER, resource, locator))  # fmt: skip
        for step in _items(_get(canary, "steps")):
            value = _get(_get(step, "plugin"), "name")
            text = _string(value)
            if text is not None and value is not None:
                found.append(PluginReference(PluginKind.STEP, text, locator.span(value), resource))
        return found
    if kind in _ANALYSIS_KINDS:
        resource = f"{kind} {name}"
        return [
            reference
            for metric in _items(_get(spec, "metrics"))
            for reference in _keys(
                _get(_get(metric, "provider"), "plugin"), PluginKind.METRIC_PROVIDER, resource,
                locator,
            )
        ]  # fmt: skip
    return []


def _keys(
    node: Node | None, kind: PluginKind, resource: str, locator: Locator
) -> Iterator[PluginReference]:
    if not isinstance(node, MappingNode):
        return
    for key, _value in node.value:
        name = key_text(key)
        if name is not None:
            yield PluginReference(kind, name, locator.span(key), resource)


def _get(node: Node | None, name: str) -> Node | None:
    """The value of `name` in a mapping; the last one wins, as sigs.k8s.io/yaml keeps it."""
    if not isinstance(node, MappingNode):
        return None
    found = None
    for key, value in node.value:
        if key_text(key) == name:
            found = value
    return found


def _items(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []


def _string(node: Node | None) -> str | None:
    if not isinstance(node, ScalarNode):
        return None
    value = scalar_value(node)
    return value if isinstance(value, str) else None
