"""Versions a repository states next to its plugin lists: an Argo CD Application's
`targetRevision`, a Flux HelmRelease's chart version, a helmfile release's and a k3s/RKE2
HelmChart's `version`, a RolloutManager's `spec.version`, a kustomization's install.yaml
release tag, an umbrella chart's Chart.yaml dependency; and the other files such a
document hands its version to (a kustomization's patches, an Application's valueFiles, a
helmfile release's values files)."""

from __future__ import annotations

import re

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
        return kustomization_versions(root)
    return Versions()


def kustomization_versions(root: Node) -> Versions:
    """The controller release of an argo-rollouts install.yaml in `resources`. A file
    named kustomization.yaml needs no `kind:`, so the caller decides what is one."""
    for item in _items(_get(root, "resources")):
        version = controller_from_install_url(_text(item) or "")
        if version is not None:
            line = item.start_mark.line + 1
            return Versions(None, version, f"the install.yaml release on line {line}")
    return Versions()


def kustomization_references(root: Node) -> list[str]:
    """The local paths a kustomization reads, as written: `resources` and `bases` (files or
    directories) and patch files (`patches`, `patchesStrategicMerge`, `patchesJson6902`).
    Remote bases are left out: they are never fetched."""
    named = [*_items(_get(root, "resources")), *_items(_get(root, "bases"))]
    named += [_get(item, "path") for item in _items(_get(root, "patches"))]
    named += [_get(item, "path") for item in _items(_get(root, "patchesJson6902"))]
    # An item of patchesStrategicMerge is a file name or an inline patch (a YAML string).
    named += _items(_get(root, "patchesStrategicMerge"))
    paths = (_text(node) or "" for node in named)
    return [path.strip() for path in paths if _is_local(path.strip())]


def _is_local(path: str) -> bool:
    return bool(path) and "\n" not in path and not _REMOTE.match(path)


# kustomize's remote targets: URLs, scp-like git addresses, `github.com/org/repo//dir`.
_REMOTE = re.compile(r"(?i)[a-z][a-z0-9+.-]*://|git@|(?:github|gitlab|bitbucket)\.(?:com|org)/")


def value_file_references(root: Node) -> list[tuple[Versions, str]]:
    """(the chart version, a repository path) for each `$ref/path` value file of an Argo CD
    Application or ApplicationSet whose source is the argo-rollouts chart at an exact
    version. Only multi-source apps name files in a repository (the `ref:` source); a
    single source's valueFiles are relative to the chart, which is not in the repository."""
    kind = _text(_get(root, "kind"))
    if kind not in ("Application", "ApplicationSet"):
        return []
    spec = _get(root, "spec")
    if kind == "ApplicationSet":
        spec = _get(spec, "template", "spec")
    sources = _items(_get(spec, "sources"))
    refs = {ref for source in sources if (ref := _text(_get(source, "ref")))}
    found = []
    for source in sources:
        if _text(_get(source, "chart")) != CHART_NAME:
            continue
        versions = _chart(_get(source, "targetRevision"), "targetRevision")
        if versions.chart is None:
            continue
        for item in _items(_get(source, "helm", "valueFiles")):
            ref, _, path = (_text(item) or "").partition("/")
            if ref.startswith("$") and ref[1:] in refs and path and "{{" not in path:
                found.append((versions, path))
    return found


def helmfile_value_files(root: Node) -> list[tuple[Versions, str]]:
    """(the chart version, a path relative to the helmfile) for each values file of a
    helmfile release of the argo-rollouts chart at an exact `version`. A templated path
    (`{{ .Environment.Name }}`) or a `.gotmpl` file is rendered by helmfile: left out."""
    if _get(root, "kind") is not None:
        return []
    found = []
    for release in _items(_get(root, "releases")):
        if not _is_rollouts_chart(_text(_get(release, "chart"))):
            continue
        versions = _chart(_get(release, "version"), "the helmfile release version")
        if versions.chart is None:
            continue
        for item in _items(_get(release, "values")):
            path = (_text(item) or "").strip() if isinstance(item, ScalarNode) else ""
            if _is_local(path) and "{{" not in path and not path.endswith(".gotmpl"):
                found.append((versions, path))
    return found


def _items(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []


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
