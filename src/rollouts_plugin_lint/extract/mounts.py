"""What reaches the controller's filesystem for `file://` locations: its volume mounts, the
files init containers copy into them, and the images those files come from (the copying
init container's image, or a Kubernetes image volume). Read from the chart's `controller`
values, or from the pod template of the controller's own Deployment."""

from __future__ import annotations

import re
from collections.abc import Mapping

from rollouts_plugin_lint.extract.positions import Locator
from rollouts_plugin_lint.extract.yamlnodes import (
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    TooLarge,
    key_text,
    scalar_value,
    to_value,
)
from rollouts_plugin_lint.model import ControllerMounts, MountedImage

MOUNT_KEYS = {"volumeMounts", "initContainers"}
MAX_NODES = 10_000
_COPY = re.compile(r"\b(?:cp|install)\s+(?:-\S+\s+)*(\S+)\s+(\S+)")
# The controller's container as argo-rollouts manifests/install.yaml and the argo-helm chart
# name it, or its image.
_CONTROLLER_NAME = "argo-rollouts"
_CONTROLLER_IMAGE = re.compile(r"(?:^|/)argoproj/argo-rollouts(?:[:@]|$)")


def values_mounts(fields: Mapping[str | None, Node], locator: Locator) -> ControllerMounts:
    """From the chart's `controller.volumeMounts`, `controller.initContainers` and
    `controller.volumes` (argo-helm charts/argo-rollouts/templates/controller/deployment.yaml
    @ af0a9310 puts them in the controller's pod)."""
    return _mounts(
        fields.get("volumeMounts"), fields.get("initContainers"), fields.get("volumes"), locator
    )


def deployment_mounts(root: Node, locator: Locator) -> ControllerMounts | None:
    """From a Deployment whose pod runs the controller's container; None for any other
    document, and for a controller built into another image (metric-ai's and
    glooplatform's Dockerfiles copy their plugin into one): its own files are unknown."""
    if _scalar(_field(root, "kind")) != "Deployment":
        return None
    pod = _field(_field(_field(root, "spec"), "template"), "spec")
    controller = next((c for c in _mappings(_field(pod, "containers")) if _is_controller(c)), None)
    if controller is None:
        return None
    image = _scalar(_field(controller, "image"))
    if image is not None and _CONTROLLER_IMAGE.search(image) is None:
        return None
    return _mounts(
        _field(controller, "volumeMounts"),
        _field(pod, "initContainers"),
        _field(pod, "volumes"),
        locator,
    )


def _is_controller(container: MappingNode) -> bool:
    image = _scalar(_field(container, "image"))
    return _scalar(_field(container, "name")) == _CONTROLLER_NAME or (
        image is not None and _CONTROLLER_IMAGE.search(image) is not None
    )


def _mounts(
    volume_mounts: Node | None, inits: Node | None, volumes: Node | None, locator: Locator
) -> ControllerMounts:
    budget = [MAX_NODES]
    try:
        mounts = to_value(volume_mounts, budget) if volume_mounts is not None else []
        init_values = [(node, to_value(node, budget)) for node in _mappings(inits)]
    except TooLarge:
        return ControllerMounts()
    by_volume = {
        m.get("name"): str(m.get("mountPath")).rstrip("/")
        for m in mounts if isinstance(m, dict) and m.get("mountPath")
    } if isinstance(mounts, list) else {}  # fmt: skip
    copied: list[str] = []
    images: list[MountedImage] = []
    for node, init in init_values:
        words = [*_list(init.get("command")), *_list(init.get("args"))]
        script = " ".join(str(word) for word in words if isinstance(word, (str, int)))
        init_mounts = [m for m in _list(init.get("volumeMounts")) if isinstance(m, dict)]
        landed = [
            path
            for source, target in _COPY.findall(script)
            for path in _as_controller_sees(source, target, init_mounts, by_volume)
        ]
        copied.extend(landed)
        image_node = _field(node, "image")
        image = _scalar(image_node)
        if image and image_node is not None:
            images.extend(MountedImage(image, path, locator.span(image_node)) for path in landed)
    for volume in _mappings(volumes):
        reference_node = _field(_field(volume, "image"), "reference")
        reference = _scalar(reference_node)
        mount_path = by_volume.get(_scalar(_field(volume, "name")))
        if reference and reference_node is not None and mount_path:
            span = locator.span(reference_node)
            images.append(MountedImage(reference, mount_path, span, volume=True))
    return ControllerMounts(tuple(by_volume.values()), tuple(copied), tuple(images))


def _as_controller_sees(
    source: str, target: str, init_mounts: list[dict[str, object]], by_volume: dict[object, str]
) -> list[str]:
    """Where a file an init container copies appears in the controller container."""
    destination = target.rstrip("/")
    for mount in init_mounts:
        init_path = str(mount.get("mountPath", "")).rstrip("/")
        controller_path = by_volume.get(mount.get("name"))
        if not init_path or controller_path is None:
            continue
        if destination == init_path or destination.startswith(init_path + "/"):
            relative = destination[len(init_path) :]
            if destination == init_path or target.endswith("/"):
                relative += "/" + source.rstrip("/").rsplit("/", 1)[-1]
            return [controller_path + relative]
    return []


def _field(node: Node | None, name: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    return next((value for key, value in node.value if key_text(key) == name), None)


def _mappings(node: Node | None) -> list[MappingNode]:
    if not isinstance(node, SequenceNode):
        return []
    return [item for item in node.value if isinstance(item, MappingNode)]


def _scalar(node: Node | None) -> str | None:
    if not isinstance(node, ScalarNode):
        return None
    value = scalar_value(node)
    return value if isinstance(value, str) else None


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []
