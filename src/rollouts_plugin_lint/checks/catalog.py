"""Rules from the catalog of known plugins, offline: the release tag and asset a download
URL names, the name the plugin reads its configuration under, and the list it belongs in.
A `file://` location is recognised by the image its file comes from (an init container
that copies it, an image volume), and that image's tag is judged too. Unknown
repositories get only the naming convention's guess at the list."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence

from rollouts_plugin_lint.catalog import (
    ImageReference,
    KnownPlugin,
    ReleaseDownload,
    convention_kind,
    plugin_of_image,
    release_download,
    version_of,
)
from rollouts_plugin_lint.checks.common import entry_finding, new_location
from rollouts_plugin_lint.checks.locations import (
    Location,
    LocationError,
    asset_platform,
    parse_request_uri,
    resolve_file_location,
)
from rollouts_plugin_lint.checks.placeholder import placeholder
from rollouts_plugin_lint.model import (
    Edit,
    Finding,
    Fix,
    MountedImage,
    Platform,
    PluginEntry,
    PluginKind,
    ReleaseLookup,
    Severity,
)
from rollouts_plugin_lint.rules import RULES

# The controller finds a plugin by the key a Rollout or AnalysisTemplate uses
# (rollout/trafficrouting.go L118, metricproviders/plugin/client/client.go L58 at v1.9.1),
# and that key must be a configured name (utils/plugin/plugin.go L23).
_NOT_CONFIGURED = "plugin <name> not configured in configmap"


def check_catalog(entry: PluginEntry, platforms: Sequence[Platform]) -> Iterator[Finding]:
    raw = entry.location
    if not raw or placeholder(raw) is not None:
        return
    try:
        location = parse_request_uri(raw)
    except LocationError:
        return  # location-format says it
    if location.scheme == "file":
        yield from _from_image(entry, location)
        return
    if location.scheme not in ("http", "https"):
        return
    download = release_download(location.hostname, location.path)
    if download is None:
        yield from _convention(entry, location.hostname, location.path)
        return
    plugin = download.plugin
    yield from _name(entry, plugin)
    yield from _kind(entry, plugin)
    base = f"{location.scheme}://{location.host}/{download.repository}"
    yield from _release(entry, download, base, platforms)


def _from_image(entry: PluginEntry, location: Location) -> Iterator[Finding]:
    """A `file://` plugin known by the image its file comes from, in what the same values
    document or the controller's Deployment in the same file mounts."""
    source = resolve_file_location(location)
    if entry.mounts is None or source is None:
        return
    mounted = next((image for image in entry.mounts.images if _brings(image, source)), None)
    found = plugin_of_image(mounted.reference) if mounted is not None else None
    if mounted is None or found is None:
        return
    plugin = found.plugin
    where = mounted.span
    recognised = f"; `{source}` comes from its image `{mounted.reference}` (line {where.line})"
    yield from _name(entry, plugin, recognised)
    yield from _kind(entry, plugin, recognised)
    yield from _image_tag(entry, mounted, found)


def _brings(image: MountedImage, source: str) -> bool:
    """Whether `source` (as the controller sees it) is the file `image` brings there."""
    if image.volume:
        return source.startswith(image.path.rstrip("/") + "/")
    return source == image.path


def _image_tag(
    entry: PluginEntry, mounted: MountedImage, found: ImageReference
) -> Iterator[Finding]:
    """A version tag in another format than the plugin's image tags: the kubelet's pull
    fails (`manifest unknown`), and the controller's pod never starts. Other tags
    (`latest`, branch names, templates) and digests are left alone."""
    plugin, tag = found.plugin, found.tag
    pattern = plugin.image_tag_pattern
    if tag is None or found.pinned or pattern is None or pattern.fullmatch(tag):
        return
    bare = tag.lstrip("vV")
    if version_of(bare) is None:
        return
    meant = next((c for c in (f"v{bare}", bare) if pattern.fullmatch(c)), None)
    suggestion = f"; did you mean `{meant}`?" if meant else ""
    key = "reference" if mounted.volume else "image"
    yield Finding(
        "release-tag",
        RULES["release-tag"].severity,
        mounted.span,
        f"`{tag}` is not a tag of the image {found.repository}: its tags are "
        f"`{plugin.image_tag_format}` ({plugin.image_tags_source}), so pulling "
        f"`{mounted.reference}` fails (`manifest unknown`) and the controller's pod never "
        f"starts{suggestion}",
        hint=f"{key}: {found.repository}:{meant}" if meant else None,
        plugin=entry.name,
        kind=entry.kind,
        fix=_retagged(mounted, tag, meant, key),
    )


def _retagged(mounted: MountedImage, tag: str, meant: str | None, key: str) -> Fix | None:
    """The image reference as written with the tag in the image's format."""
    reference = mounted.reference
    if meant is None or not reference.endswith(f":{tag}"):
        return None
    fixed = reference[: -len(tag)] + meant
    return Fix(f"{key}: {fixed}", (Edit(mounted.span, reference, fixed),))


def _name(entry: PluginEntry, plugin: KnownPlugin, recognised: str = "") -> Iterator[Finding]:
    key = plugin.config_key
    name = entry.name
    if key is None or name is None or name == key.value:
        return
    # The plugin reads its configuration under its own fixed key, whatever the entry is
    # called: neither name a Rollout could use then works (an error, not a warning).
    yield entry_finding(
        entry,
        "plugin-config-name",
        f"`{name}` is not the name {plugin.repository} reads its configuration under: its "
        f"code reads `{key.value}` ({key.source}). A Rollout or AnalysisTemplate must use the "
        f"configured name to reach the plugin (else `{_NOT_CONFIGURED}`), and the plugin "
        f"then finds no configuration under its own key: it fails at the first rollout"
        f"{recognised}",
        f"name: {key.value} (and use `{key.value}` in the Rollouts and AnalysisTemplates)",
        at=("name",),
    )


def _kind(entry: PluginEntry, plugin: KnownPlugin, recognised: str = "") -> Iterator[Finding]:
    kind = plugin.plugin_kind
    if kind is entry.kind:
        return
    yield entry_finding(
        entry,
        "wrong-plugin-list",
        f"{plugin.repository} is a {kind.label} plugin ({plugin.kind.source}), but it is "
        f"listed under `{entry.kind.value}`: {_wrong_list(entry, kind)}{recognised}",
        f"move the entry to `{kind.value}`",
    )


def _wrong_list(entry: PluginEntry, kind: PluginKind) -> str:
    # Controllers from v1.8 look a plugin up by name and list (utils/config/config.go L116
    # at v1.9.1); v1.7 and older by name alone (utils/plugin/plugin.go L14-34 at v1.7.2).
    return (
        f"used as a {entry.kind.label}, it is started with that handshake cookie and refuses "
        f"it; used as a {kind.label}, controllers from v1.8 do not find it (`plugin <name> "
        "not configured in configmap`)"
    )


def _convention(entry: PluginEntry, host: str, path: str) -> Iterator[Finding]:
    parts = path.split("/")
    if host.lower() not in ("github.com", "www.github.com") or len(parts) < 3:
        return
    kind = convention_kind(parts[2])
    if kind is None or kind is entry.kind:
        return
    yield entry_finding(
        entry,
        "wrong-plugin-list",
        f"the repository name `{parts[2]}` says a {kind.label} plugin (the convention "
        "`rollouts-plugin-<trafficrouter|metric|step>-<tool>` of argo-rollouts "
        f"docs/plugins.md), but it is listed under `{entry.kind.value}`: "
        f"{_wrong_list(entry, kind)}",
        f"move the entry to `{kind.value}` if it is a {kind.label} plugin",
        severity=Severity.WARNING,
    )


def _release(
    entry: PluginEntry, download: ReleaseDownload, base: str, platforms: Sequence[Platform]
) -> Iterator[Finding]:
    """`base`: the URL up to the repository, as written, for the fixed location."""
    plugin, tag, asset = download.plugin, download.tag, download.asset
    tag_fix = _tag_fix(plugin, tag)
    if tag_fix is not None:
        fixed_asset = _asset_fix(plugin, tag_fix, asset, platforms) or asset
        suggestion = f"; did you mean `{tag_fix}`?" if tag_fix != tag else ""
        url = f"{base}/releases/download/{tag_fix}/{fixed_asset}"
        certain = fixed_asset == asset or _certain_asset(plugin, tag_fix, asset, platforms)
        yield entry_finding(
            entry,
            "release-tag",
            f"`{tag}` is not a tag of {plugin.repository}: its tags are "
            f"`{plugin.tag_format}` ({plugin.tags_source}), so GitHub answers 404 Not Found"
            f"{suggestion}",
            f"location: {url}" if tag_fix != tag else None,
            fix=new_location(entry, url, safe=certain) if tag_fix != tag else None,
        )
        tag = tag_fix
    else:
        nearest = plugin.missing_tag(tag)
        if nearest == "":
            yield entry_finding(
                entry,
                "release-tag",
                f"{plugin.repository} has no tags ({plugin.tags_source}), so it has no "
                f"release `{tag}` and GitHub answers 404 Not Found",
            )
            return
        if nearest is not None:
            fixed_asset = _asset_fix(plugin, nearest, asset, platforms) or asset
            url = f"{base}/releases/download/{nearest}/{fixed_asset}"
            yield entry_finding(
                entry,
                "release-tag",
                f"{plugin.repository} has no tag `{tag}` ({plugin.tags_source}), so GitHub "
                f"answers 404 Not Found; did you mean `{nearest}`?",
                f"location: {url}",
                # Another version than the one written: a guess, never applied unasked.
                fix=new_location(entry, url, safe=False),
            )
            return
    right = _asset_fix(plugin, tag, asset, platforms)
    if right is None:
        return
    version = version_of(tag)
    assert version is not None
    release = plugin.assets_for(version)
    assert release is not None
    url = f"{base}/releases/download/{tag}/{right}"
    yield entry_finding(
        entry,
        "release-asset",
        f"release `{tag}` of {plugin.repository} publishes no asset `{asset}` "
        f"({release.source}), so GitHub answers 404 Not Found; did you mean `{right}`?",
        f"location: {url}",
        fix=new_location(entry, url, safe=_certain_asset(plugin, tag, asset, platforms)),
    )


def _tag_fix(plugin: KnownPlugin, tag: str) -> str | None:
    """None when `tag` is fine (in the format, or a tag the repository has); else the tag
    in the format that was probably meant, or `tag` itself when none is."""
    pattern = plugin.tag_pattern
    if pattern is None or tag in plugin.known_tags or pattern.fullmatch(tag):
        return None
    bare = tag.lstrip("vV")
    for candidate in (f"v{bare}", bare, tag.lower()):
        if pattern.fullmatch(candidate):
            return candidate
    return tag


def _certain_asset(
    plugin: KnownPlugin, tag: str, asset: str, platforms: Sequence[Platform]
) -> bool:
    """Whether `_asset_fix` chose the one asset of the release for the platform `asset`
    was meant for, rather than the closest name among several."""
    candidates = _assets_for_target(plugin, tag, asset, platforms)
    return candidates is not None and len(candidates) == 1


def _asset_fix(
    plugin: KnownPlugin, tag: str, asset: str, platforms: Sequence[Platform]
) -> str | None:
    """The asset the release of `tag` publishes in place of `asset`, for the target
    platform; None when `asset` is published or the catalog does not know that release."""
    candidates = _assets_for_target(plugin, tag, asset, platforms)
    if candidates is None:
        return None
    version = version_of(tag)
    release = plugin.assets_for(version) if version is not None else None
    assert release is not None
    pool = candidates or list(release.assets)
    return (difflib.get_close_matches(asset, pool, n=1, cutoff=0) or pool)[0]


def _assets_for_target(
    plugin: KnownPlugin, tag: str, asset: str, platforms: Sequence[Platform]
) -> list[str] | None:
    """The assets of the release of `tag` for the platform `asset` was meant for; None
    when `asset` is published or the catalog does not know that release."""
    version = version_of(tag)
    release = plugin.assets_for(version) if version is not None else None
    if release is None or asset in release.assets:
        return None
    stated = asset_platform(asset)
    # The platform the asset was meant for when the controller runs there, else the first
    # target: platform-mismatch says the rest.
    target = next(
        (p for p in platforms if stated.os in (None, p.os) and stated.arch in (None, p.arch)),
        platforms[0],
    )
    return [
        a for a in release.assets
        if (asset_platform(a).os, asset_platform(a).arch) == (target.os, target.arch)
    ]  # fmt: skip


def listing_disagreement(
    entry: PluginEntry, release: ReleaseLookup, platforms: Sequence[Platform]
) -> str | None:
    """What the catalog expected of a release download when GitHub's release listing says
    otherwise. The listing is the truth: a release can be re-published after the catalog
    was read, or the catalog can be wrong."""
    expected = _expected_release(entry, platforms)
    if expected is None:
        return None
    plugin, tag, asset = expected
    agrees = (
        release.repo_exists
        and release.tag_found == tag
        and (asset is None or asset in release.assets)
    )
    if agrees:
        return None
    shown = f"{tag}/{asset}" if asset else tag
    return (
        f"the catalog of known plugins expected `{shown}` for {plugin.repository}, but "
        "GitHub's release listing says otherwise, and the listing wins"
    )


def _expected_release(
    entry: PluginEntry, platforms: Sequence[Platform]
) -> tuple[KnownPlugin, str, str | None] | None:
    try:
        location = parse_request_uri(entry.location or "")
    except LocationError:
        return None
    download = release_download(location.hostname, location.path)
    if download is None:
        return None
    plugin = download.plugin
    tag = _tag_fix(plugin, download.tag) or download.tag
    if plugin.tag_pattern is None or not (
        plugin.tag_pattern.fullmatch(tag) or tag in plugin.known_tags
    ):
        return None
    version = version_of(tag)
    known = version is not None and plugin.assets_for(version) is not None
    asset = _asset_fix(plugin, tag, download.asset, platforms) or download.asset
    return plugin, tag, asset if known else None
