"""Versions a repository states next to its plugin lists: an Argo CD Application's
`targetRevision`, a Flux HelmRelease's chart version, a helmfile release's and a k3s/RKE2
HelmChart's `version`, a RolloutManager's `spec.version`, a kustomization's install.yaml
release tag, an umbrella chart's Chart.yaml dependency."""

from __future__ import annotations

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
from rollouts_plugin_lint.versions import Versions, controller_from_install_url, parse_version

CHART_NAME = "argo-rollouts"


def _get(node: Node | None, *keys: str) -> Node | None:
    for key in keys:
        if not isinstance(node, MappingNode):
            return None
        node = next((v for k, v in node.value if key_text(k) == key), None)
    return node


def _text(node: Node | None) -> str | None:
    value = scalar_value(node) if isinstance(node, ScalarNode) else None
    return str(value) if isinstance(value, (str, int, float)) else None


def document_versions(root: Node) -> Versions:
    """What one document says about the chart or controller its plugin lists go to."""
    kind = _text(_get(root, "kind"))
    if kind in ("Application", "ApplicationSet"):
        spec = _get(root, "spec")
        if kind == "ApplicationSet":
            spec = _get(spec, "template", "spec")
        sources = _get(spec, "sources")
        candidates = [_get(spec, "source")]
        if isinstance(sources, SequenceNode):
            candidates += sources.value
        for source in candidates:
            if _text(_get(source, "chart")) == CHART_NAME:
                return _chart(_get(source, "targetRevision"), "targetRevision")
    if kind == "HelmRelease":
        chart = _get(root, "spec", "chart", "spec")
        if _text(_get(chart, "chart")) == CHART_NAME:
            return _chart(_get(chart, "version"), "the HelmRelease chart version")
    if kind == "HelmChart":  # helm.cattle.io/v1, read by the k3s and RKE2 Helm controller
        spec = _get(root, "spec")
        if _is_rollouts_chart(_text(_get(spec, "chart"))):
            return _chart(_get(spec, "version"), "the HelmChart spec.version")
    if kind == "RolloutManager":
        # The controller's image tag (argo-rollouts-manager controllers/deployment.go).
        version_node = _get(root, "spec", "version")
        version = parse_version(_text(version_node))
        if version is not None and version_node is not None:
            line = version_node.start_mark.line + 1
            return Versions(None, version, f"the RolloutManager spec.version on line {line}")
    if kind is None and isinstance(releases := _get(root, "releases"), SequenceNode):
        return _helmfile(releases)
    if kind in ("Kustomization", None):  # a kustomization.yaml may leave out its kind
        resources = _get(root, "resources")
        if isinstance(resources, SequenceNode):
            for item in resources.value:
                text = _text(item) or ""
                version = controller_from_install_url(text)
                if version is not None:
                    line = item.start_mark.line + 1
                    return Versions(None, version, f"the install.yaml release on line {line}")
    return Versions()


def _is_rollouts_chart(chart: str | None) -> bool:
    """`argo-rollouts`, `argo/argo-rollouts`, `oci://ghcr.io/argoproj/argo-helm/argo-rollouts`."""
    return chart is not None and chart.rstrip("/").rsplit("/", 1)[-1] == CHART_NAME


def _helmfile(releases: SequenceNode) -> Versions:
    """The chart version of a helmfile's argo-rollouts release; none when its releases of
    the chart disagree, since the version then belongs to one release, not the document."""
    found = {
        _text(_get(release, "version")): _get(release, "version")
        for release in releases.value
        if _is_rollouts_chart(_text(_get(release, "chart")))
    }
    if len(found) != 1:
        return Versions()
    ((_, node),) = found.items()
    return _chart(node, "the helmfile release version")


def _chart(node: Node | None, what: str) -> Versions:
    version = parse_version(_text(node))
    if version is None or node is None:
        return Versions()
    return Versions(version, None, f"{what} on line {node.start_mark.line + 1}")


def chart_yaml_versions(path: str, text: str) -> Versions:
    """An umbrella chart's dependency on argo-rollouts, or a vendored copy of the chart."""
    try:
        documents = list(compose_documents(text))
        chart = to_value(documents[0], [10_000]) if documents else None
    except (YamlProblem, TooLarge):
        return Versions()
    if not isinstance(chart, dict):
        return Versions()
    if chart.get("name") == CHART_NAME:
        version = parse_version(chart.get("version"))
        app = parse_version(chart.get("appVersion"))
        return Versions(version, app, path) if version else Versions()
    for dependency in chart.get("dependencies") or []:
        if isinstance(dependency, dict) and dependency.get("name") == CHART_NAME:
            version = parse_version(dependency.get("version"))
            if version is not None:
                return Versions(version, None, f"the dependency in {path}")
    return Versions()
