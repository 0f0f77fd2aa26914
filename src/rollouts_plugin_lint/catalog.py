"""The catalog of known public plugins (data/plugins.json): what each plugin's own repository
says about its configuration key, its list, its tags and its release assets, and how a
download location names one of them."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

from rollouts_plugin_lint.model import PluginKind

# GitHub answers owner and repository names in any letter case.
_GITHUB_HOSTS = {"github.com", "www.github.com"}
_VERSION = re.compile(r"v?([0-9]+)\.([0-9]+)\.([0-9]+)(?:-[0-9A-Za-z.]+)?")


@dataclass(frozen=True)
class Fact:
    """One statement of the catalog and where it was read (a file and a commit)."""

    value: str
    source: str


@dataclass(frozen=True)
class ReleaseAssets:
    """The assets every release from `first` to `last` (inclusive) publishes."""

    first: tuple[int, int, int]
    last: tuple[int, int, int]
    assets: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class KnownPlugin:
    repository: str  # owner/name as the plugin's repository spells it
    config_key: Fact | None  # the name its code reads its configuration under
    kind: Fact
    tag_format: str | None  # as people write it: `vX.Y.Z`
    tag_pattern: re.Pattern[str] | None
    known_tags: tuple[str, ...]
    tags_complete: bool  # every tag of the repository when it was read
    tags_source: str
    releases: tuple[ReleaseAssets, ...]
    image: Fact | None  # container image for file:// use
    image_binary: str | None  # the binary's path inside that image
    image_tag_format: str | None = None
    image_tag_pattern: re.Pattern[str] | None = None
    image_tags_source: str | None = None

    @property
    def plugin_kind(self) -> PluginKind:
        return PluginKind(self.kind.value)

    @property
    def newest_release(self) -> tuple[int, int, int] | None:
        return max((release.last for release in self.releases), default=None)

    def missing_tag(self, tag: str) -> str | None:
        """For a tag the repository did not have when it was read, although it had newer
        ones (or no tags at all), the nearest tag it had ("" when it had none); else None.
        A tag newer than all of them may have come since."""
        if not self.tags_complete or tag in self.known_tags:
            return None
        if not self.known_tags:
            return ""
        order = tag_order(tag)
        orders = {t: o for t in self.known_tags if (o := tag_order(t)) is not None}
        if order is None or not orders or order > max(orders.values()):
            return None
        return min((t for t, o in orders.items() if o >= order), key=orders.__getitem__)

    def assets_for(self, version: tuple[int, int, int]) -> ReleaseAssets | None:
        """The asset names the release of `version` publishes, when the catalog knows them.
        A version newer than every catalogued release gets None: its names may have changed."""
        for release in self.releases:
            if release.first <= version <= release.last:
                return release
        return None


@dataclass(frozen=True)
class ReleaseDownload:
    """A GitHub release download URL of a catalogued plugin."""

    plugin: KnownPlugin
    repository: str  # owner/name as the URL writes it
    tag: str
    asset: str


def version_of(tag: str) -> tuple[int, int, int] | None:
    match = _VERSION.fullmatch(tag)
    if match is None:
        return None
    return (int(match[1]), int(match[2]), int(match[3]))


def tag_order(tag: str) -> tuple[object, ...] | None:
    """Semantic-version order: a pre-release (`-rc1`, `-beta2`) before its release, and
    pre-releases by their dot-separated parts, numbers as numbers."""
    version = version_of(tag)
    if version is None:
        return None
    _, _, pre = tag.partition("-")
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for chunk in pre.split(".")
        for part in re.findall(r"[0-9]+|[^0-9]+", chunk)
    )
    return (*version, 0 if pre else 1, parts)


@functools.lru_cache(maxsize=1)
def known_plugins() -> dict[str, KnownPlugin]:
    """Every catalogued plugin, by its repository in lower case."""
    text = resources.files("rollouts_plugin_lint").joinpath("data/plugins.json").read_text("utf-8")
    catalog: dict[str, KnownPlugin] = {}
    for item in json.loads(text)["plugins"]:
        plugin = _plugin(item)
        catalog[plugin.repository.lower()] = plugin
    return catalog


def _plugin(item: dict[str, object]) -> KnownPlugin:
    tags = _mapping(item["tags"])
    image = item.get("image")
    image_tags = _mapping(_mapping(image).get("tags") or {}) if image else {}
    image_pattern = image_tags.get("pattern")
    pattern = tags.get("pattern")
    releases = []
    for release in item.get("releases") or ():  # type: ignore[attr-defined]
        first, last = version_of(release["from"]), version_of(release["to"])
        assert first is not None and last is not None, release
        releases.append(ReleaseAssets(first, last, tuple(release["assets"]), release["source"]))
    return KnownPlugin(
        repository=str(item["repository"]),
        config_key=_fact(item.get("config_key")),
        kind=_fact(item["kind"]) or Fact("", ""),
        tag_format=tags.get("format"),
        tag_pattern=re.compile(pattern) if isinstance(pattern, str) else None,
        known_tags=tuple(tags.get("known") or ()),
        tags_complete=tags.get("complete") is True,
        tags_source=str(tags.get("source")),
        releases=tuple(releases),
        image=_fact(image),
        image_binary=_mapping(image).get("binary") if image else None,
        image_tag_format=image_tags.get("format"),
        image_tag_pattern=re.compile(image_pattern) if isinstance(image_pattern, str) else None,
        image_tags_source=image_tags.get("source"),
    )


def _mapping(value: object) -> dict[str, object]:
    assert isinstance(value, dict), value
    return value


def _fact(value: object) -> Fact | None:
    if value is None:
        return None
    item = _mapping(value)
    return Fact(str(item["value"]), str(item["source"]))


def plugin_of_repository(owner: str, name: str) -> KnownPlugin | None:
    return known_plugins().get(f"{owner}/{name}".lower())


def release_download(host: str, path: str) -> ReleaseDownload | None:
    """The catalogued plugin, tag and asset of `https://github.com/OWNER/REPO/releases/
    download/TAG/ASSET` (`path` percent-decoded, as the request sends it)."""
    if host.lower() not in _GITHUB_HOSTS:
        return None
    parts = path.split("/")
    # ['', owner, repo, 'releases', 'download', tag, asset]
    if len(parts) != 7 or parts[0] or parts[3:5] != ["releases", "download"]:
        return None
    if not (parts[5] and parts[6]):
        return None
    plugin = plugin_of_repository(parts[1], parts[2])
    if plugin is None:
        return None
    return ReleaseDownload(plugin, f"{parts[1]}/{parts[2]}", parts[5], parts[6])


@dataclass(frozen=True)
class ImageReference:
    """A container image reference naming a catalogued plugin's image."""

    plugin: KnownPlugin
    repository: str  # as written, without its tag and digest
    tag: str | None
    pinned: bool  # a digest: the runtime pulls by it and ignores the tag


# Registries that name Docker Hub, whose one-word repositories are `library/<name>`.
_DOCKER_HUB = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")


def split_image(reference: str) -> tuple[str, str | None, bool]:
    """Repository, tag and whether a digest pins it, of `[registry/]repository[:tag]
    [@digest]` (the tag's colon is the one after the last slash: a registry has a port)."""
    name, at, _ = reference.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], bool(at)
    return name, None, bool(at)


def _image_key(repository: str) -> str:
    key = repository.lower()
    for registry in _DOCKER_HUB:
        key = key.removeprefix(registry)
    return key if "/" in key else f"library/{key}"


@functools.lru_cache(maxsize=1)
def _plugins_by_image() -> dict[str, KnownPlugin]:
    return {
        _image_key(plugin.image.value): plugin
        for plugin in known_plugins().values()
        if plugin.image is not None
    }


def plugin_of_image(reference: str) -> ImageReference | None:
    """The catalogued plugin whose image `reference` names (Docker Hub's spellings of a
    repository are one repository), or None."""
    repository, tag, pinned = split_image(reference.strip())
    plugin = _plugins_by_image().get(_image_key(repository))
    if plugin is None:
        return None
    return ImageReference(plugin, repository, tag, pinned)


_CONVENTION = re.compile(r"rollouts-plugin-(trafficrouter|metric|step)-[A-Za-z0-9_.-]+")
_CONVENTION_KINDS = {
    "trafficrouter": PluginKind.TRAFFIC_ROUTER,
    "metric": PluginKind.METRIC_PROVIDER,
    "step": PluginKind.STEP,
}


def convention_kind(repository_name: str) -> PluginKind | None:
    """The list a repository's name says its plugin belongs to, by the convention of
    argo-rollouts docs/plugins.md: `rollouts-plugin-<trafficrouter|metric|step>-<tool>`."""
    match = _CONVENTION.fullmatch(repository_name.lower())
    return _CONVENTION_KINDS[match[1]] if match else None
