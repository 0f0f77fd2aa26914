"""The vocabulary every stage speaks: plain frozen dataclasses, no I/O."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rollouts_plugin_lint.versions import Versions


class PluginKind(str, enum.Enum):
    """A plugin list, named exactly as the `argo-rollouts-config` data key."""

    TRAFFIC_ROUTER = "trafficRouterPlugins"
    METRIC_PROVIDER = "metricProviderPlugins"
    STEP = "stepPlugins"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    PluginKind.TRAFFIC_ROUTER: "traffic router",
    PluginKind.METRIC_PROVIDER: "metric provider",
    PluginKind.STEP: "step",
}

PLUGIN_KEYS: dict[str, PluginKind] = {kind.value: kind for kind in PluginKind}


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"

    @property
    def rank(self) -> int:
        """Sort key: errors first."""
        return {"error": 0, "warning": 1, "note": 2}[self.value]


class Origin(str, enum.Enum):
    """Where a plugin list was written, which decides the shape it must have."""

    CONFIGMAP = "configmap"  # a data value of argo-rollouts-config: a YAML string
    HELM_VALUES = "helm-values"  # a values tree for the chart: a list of mappings
    # spec.plugins of an argo-rollouts-manager RolloutManager: a list of mappings the
    # operator writes into the ConfigMap.
    ROLLOUT_MANAGER = "rollout-manager"


@dataclass(frozen=True)
class Platform:
    """A target the controller runs on, as in `--platform linux/amd64`."""

    os: str
    arch: str

    def __str__(self) -> str:
        return f"{self.os}/{self.arch}"


DEFAULT_PLATFORMS = (Platform("linux", "amd64"),)


@dataclass(frozen=True, order=True)
class Span:
    """A region of a file. Lines and columns are 1-based; `end_column` is exclusive."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    approximate: bool = False

    @classmethod
    def point(cls, path: str, line: int, column: int = 1) -> Span:
        return cls(path, line, column, line, column + 1)


@dataclass(frozen=True)
class MountedImage:
    """A container image whose files reach the controller: an init container that copies
    from it (`path`: where the copy lands, as the controller sees it), or a Kubernetes
    image volume (`volume`; `path`: where the controller mounts it)."""

    reference: str  # as written: `registry/repository:tag` or `...@sha256:...`
    path: str
    span: Span  # the reference's node
    volume: bool = False


@dataclass(frozen=True)
class ControllerMounts:
    """What a values document or the controller's Deployment mounts into the controller,
    for `file://` locations: the controller's mount paths, the files init containers copy
    there (as the controller sees them), and the images those files come from."""

    mount_paths: tuple[str, ...] = ()
    copied: tuple[str, ...] = ()
    images: tuple[MountedImage, ...] = ()


@dataclass(frozen=True)
class PluginEntry:
    """One item of a plugin list, with the position of every node in it.

    `value` is the entry as the controller decodes it (YAML 1.1 scalars, field names
    folded to their canonical case). `spans` maps a JSON-pointer-like tuple to the span of
    the value at that path (`()` is the whole item); `key_spans` does the same for keys.
    """

    kind: PluginKind
    value: Mapping[str, Any]
    span: Span
    spans: Mapping[tuple[str | int, ...], Span]
    key_spans: Mapping[tuple[str | int, ...], Span]
    origin: Origin
    # Entries that share the controller's `plugin-bin/` directory (one ConfigMap, one
    # values document) carry the same group.
    group: str
    index: int
    versions: Versions = field(default_factory=Versions)
    mounts: ControllerMounts | None = None

    @property
    def name(self) -> str | None:
        name = self.value.get("name")
        return name if isinstance(name, str) else None

    @property
    def location(self) -> str | None:
        location = self.value.get("location")
        return location if isinstance(location, str) else None

    @property
    def sha256(self) -> str | None:
        digest = self.value.get("sha256")
        return digest if isinstance(digest, str) else None

    def span_of(self, *path: str | int) -> Span:
        """The most specific span known for `path`: the value, else its key, else the item."""
        while path:
            if path in self.spans:
                return self.spans[path]
            if path in self.key_spans:
                return self.key_spans[path]
            path = path[:-1]
        return self.span

    def key_span_of(self, *path: str | int) -> Span:
        """The span of the key at `path` (for findings about the key itself)."""
        return self.key_spans.get(path) or self.span_of(*path)


@dataclass(frozen=True)
class PluginReference:
    """A place that uses a plugin by name: a Rollout's `trafficRouting.plugins.<name>` or
    canary step `plugin.name`, an analysis metric's `provider.plugin.<name>`."""

    kind: PluginKind
    name: str
    span: Span  # the key (or the step's `name` value)
    resource: str  # "Rollout demo", "AnalysisTemplate success-rate"


@dataclass(frozen=True)
class DataFileReference:
    """A file whose whole text becomes one data value of `argo-rollouts-config` (a kustomize
    `configMapGenerator` `files:` source), or whose `KEY=VALUE` lines each become one
    (an `envs:` source), read beside the file that names it."""

    path: str  # as written: relative to the folder of the naming file
    key: str  # the data key, a plugin key; "" for an env file, whose lines name their keys
    span: Span  # the source as written, for findings about the file as a whole
    group: str  # the ConfigMap the value goes into
    versions: Versions = field(default_factory=Versions)
    env_file: bool = False


@dataclass(frozen=True)
class Edit:
    """One text edit of a fix. Within `span`, the text `old` (written there exactly once)
    becomes `new`. With `whole`, the whole span must read `old` (as a plain, single- or
    double-quoted scalar) and becomes `new`. With `old` empty, `new` is a `key: value`
    field added to the mapping after the field `span` covers (from its key to its value)."""

    span: Span
    old: str
    new: str
    whole: bool = False


@dataclass(frozen=True)
class Fix:
    """What `--fix` writes for a finding. `safe`: it keeps what the configuration means
    (or makes it say what it evidently meant); unsafe fixes need `--unsafe-fixes`."""

    description: str
    edits: tuple[Edit, ...]
    safe: bool = True


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    span: Span
    message: str
    hint: str | None = None
    plugin: str | None = None
    kind: PluginKind | None = None
    # The entry field the finding is about: the field at its node, the field a missing-field
    # finding misses, the field a misspelled key stands for. Read by checks/causes.py.
    field: str | None = None
    fix: Fix | None = None

    @property
    def sort_key(self) -> tuple[Any, ...]:
        return (self.span.path, self.span.line, self.span.column, self.severity.rank, self.rule)


@dataclass(frozen=True)
class SourceFile:
    """A file a finding points into: its bytes as checked, and where they were read from
    (None for standard input). `--fix` writes only to `real`, and only these bytes.
    `data_file`: the reference that made the whole file one data value, which is how it
    was read (and how `--fix` reads it again)."""

    display_path: str
    real: str | None
    data: bytes
    data_file: DataFileReference | None = None


@dataclass(frozen=True)
class FetchProblem:
    """Why a location gave no file to inspect: a rule id and what happened, in words."""

    rule: str  # download-failed, unreachable, blocked-address, too-large, not-verified
    message: str
    hint: str | None = None
    severity: Severity | None = None  # None: the rule's own


@dataclass(frozen=True)
class ReleaseLookup:
    """What the GitHub API says about the repository and tag of a release download URL
    that failed. Plain data: the checks turn it into a hint."""

    repo: str  # owner/name
    tag: str
    asset: str
    repo_exists: bool
    tag_found: str | None = None  # the tag as written, or with/without a leading v
    assets: tuple[str, ...] = ()  # asset names of the release `tag_found`
    recent_tags: tuple[str, ...] = ()  # newest releases, when the tag is unknown


@dataclass(frozen=True)
class Artifact:
    """The outcome of fetching one location: a verified file in the cache, or a problem."""

    url: str
    final_url: str | None = None
    status: int | None = None
    sha256: str | None = None
    size: int = 0
    path: Path | None = None  # the stored file, hashed just now
    content_type: str | None = None
    from_cache: bool = False
    requests: int = 0  # HTTP requests this fetch made (0: served from the cache)
    problem: FetchProblem | None = None
    release: ReleaseLookup | None = None
    # A Content-Encoding the controller's Go client does not decode (anything but exactly
    # `gzip`): the file holds the body as sent, as the controller's would.
    undecoded_encoding: str | None = None
    # The sha256 GitHub publishes for this release asset (its API's `digest`, lowercase
    # hex), when the URL is a GitHub release download and the API said; None: not known.
    published_sha256: str | None = None

    @property
    def downloaded(self) -> bool:
        """The server gave the file (or the cache had it): no problem, and a status the
        controller accepts (>= 200 and < 400)."""
        return self.problem is None and 200 <= (self.status or 0) < 400


@dataclass(frozen=True)
class GoBuildInfo:
    """What `go version -m` would print, read without running the binary."""

    version: str  # runtime version, e.g. "go1.22.5"
    path: str | None = None  # main package path
    module: str | None = None  # main module path
    module_version: str | None = None
    # Versions of the two modules every plugin links, with a `=>` replacement folded in
    # as "v1.8.3 => github.com/fork/argo-rollouts v1.8.3-x".
    rollouts: str | None = None
    go_plugin: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)  # build GOOS=linux, ...


@dataclass(frozen=True)
class BinaryFacts:
    """What a downloaded file is, from its bytes alone.

    `format` is one of: elf, macho, macho-universal, pe, script, html, json, xml, text,
    empty, lfs-pointer, gzip, tar, zip, xz, bzip2, zstd, unknown.
    """

    format: str
    size: int
    os: str | None = None  # linux, darwin, windows
    arch: str | None = None  # GOARCH spelling: amd64, arm64, arm, 386, ...
    arches: tuple[str, ...] = ()  # every slice of a universal Mach-O
    interpreter: str | None = None  # ELF PT_INTERP: dynamically linked
    detail: str | None = None  # a short printable excerpt: HTML <title>, JSON message, ...
    members: tuple[str, ...] = ()  # archive members (the first few)
    executable_member: str | None = None  # the member that looks like the plugin binary
    go: GoBuildInfo | None = None
    # Plugin kinds whose rpc packages or handshake strings the binary contains.
    plugin_kinds: frozenset[PluginKind] = frozenset()
    head: bytes = b""  # the first 16 bytes, for messages


# Download progress for one location: (url, bytes received, total bytes if known).
ProgressCallback = Callable[[str, int, "int | None"], None]


class DownloadProgress(Protocol):
    """A display of the downloads: told which plugin each location is for before they
    start (the fetch stage knows only URLs), then called as a ProgressCallback."""

    def label(self, url: str, plugin: str | None) -> None: ...

    def __call__(self, url: str, received: int, total: int | None) -> None: ...


# The line breaks the YAML reader counts; str.splitlines() knows more (\f, \v, ...).
LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
