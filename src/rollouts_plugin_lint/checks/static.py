"""Controller-equivalent rules that need no network: what the controller will do with each
entry's location, sha256 and flags, and what the entries of one ConfigMap share."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Iterator, Sequence, Set
from dataclasses import replace
from typing import NamedTuple

from rollouts_plugin_lint.checks.catalog import check_catalog
from rollouts_plugin_lint.checks.common import entry_finding, new_location
from rollouts_plugin_lint.checks.locations import (
    CONTROLLER_HOME,
    Location,
    LocationError,
    archive_suffix,
    asset_platform,
    copy_source_problem,
    dial_problem,
    download_target,
    downloader_ignores_headers,
    go_quote,
    parse_request_uri,
    resolve_file_location,
    sha256_length_problem,
    unpinned_reason,
    web_page_problem,
)
from rollouts_plugin_lint.checks.placeholder import fill_placeholders, placeholder
from rollouts_plugin_lint.checks.schema import check_schema
from rollouts_plugin_lint.gostrings import go_string
from rollouts_plugin_lint.model import (
    DEFAULT_PLATFORMS,
    Finding,
    Platform,
    PluginEntry,
    PluginKind,
    Severity,
    Span,
)
from rollouts_plugin_lint.versions import (
    CONTROLLER_ARGS,
    CONTROLLER_SHA256_FIX,
    CONTROLLER_V18,
    chart_table,
    show,
)

# Findings about a field's format that a placeholder filling the whole field makes pointless.
_CASCADE = {"location-format", "sha256-format", "schema"}


def check_entries(
    entries: Sequence[PluginEntry], platforms: Sequence[Platform] = DEFAULT_PLATFORMS
) -> Iterator[Finding]:
    namespaces = _namespaces_made(entries)
    for entry in entries:
        yield from _check_one(entry, platforms, namespaces[id(entry)])
        yield from check_catalog(entry, platforms)
    yield from check_duplicate_names(entries)
    yield from _unknown_chart_versions(entries)


# The order the controller downloads in: config.go (v1.9.1) concatenates the three lists.
_DOWNLOAD_ORDER = (PluginKind.TRAFFIC_ROUTER, PluginKind.METRIC_PROVIDER, PluginKind.STEP)


def _namespaces_made(entries: Sequence[PluginEntry]) -> dict[int, frozenset[str]]:
    """For each entry, the namespaces whose plugin-bin/<namespace> folder exists when the
    controller copies it: DownloadPlugins makes the folder of each entry, this one
    included, before its download or copy (downloader.go, v1.9.1)."""
    ordered = sorted(entries, key=lambda e: (e.group, _DOWNLOAD_ORDER.index(e.kind), e.index))
    made: dict[int, frozenset[str]] = {}
    group, namespaces = None, frozenset[str]()
    for entry in ordered:
        if entry.group != group:
            group, namespaces = entry.group, frozenset()
        namespace, slash, _ = (entry.name or "").partition("/")
        if slash and namespace:
            namespaces = namespaces | {namespace}
        made[id(entry)] = namespaces
    return made


def _decodes_as_headers(value: object) -> bool:
    """Whether encoding/json fills `[]HeadersFrom{SecretRef{Name string}}` from it (null
    is the zero value; a scalar becomes the string `name`)."""

    def is_mapping(node: object) -> bool:
        return node is None or isinstance(node, dict)

    if value is None:
        return True
    if not isinstance(value, list) or not all(is_mapping(item) for item in value):
        return False
    refs = [item.get("secretRef") for item in value if isinstance(item, dict)]
    return all(is_mapping(ref) for ref in refs) and not any(
        isinstance(ref.get("name"), (list, dict)) for ref in refs if isinstance(ref, dict)
    )


class _HttpOnlyField(NamedTuple):
    """A field only the downloader's http(s) branch reads (downloader.go, v1.9.1): on a
    file:// entry it is decoded and then never used."""

    field: str
    rule: str
    unused_for: Callable[[Location], bool]
    # A value that cannot be decoded still fails start-up, whatever the scheme.
    decodes: Callable[[object], bool]
    message: str
    hint: str


_HTTP_ONLY_FIELDS = (
    _HttpOnlyField(
        "sha256",
        "sha256-ignored",
        lambda location: location.scheme == "file",
        lambda value: not isinstance(value, (list, dict)),
        "`sha256` is ignored for file:// locations: the controller checks it only for "
        "http(s) downloads, so this file is copied unverified",
        "remove `sha256`, or verify the file where it is put into the image or volume",
    ),
    _HttpOnlyField(
        "headersFrom",
        "headers-ignored",
        downloader_ignores_headers,
        _decodes_as_headers,
        "`headersFrom` is ignored for file:// locations: the controller reads its Secrets "
        "only for http(s) downloads, and copies this file without any request",
        "remove `headersFrom`",
    ),
)


def _check_one(
    entry: PluginEntry, platforms: Sequence[Platform], namespaces: Set[str] = frozenset()
) -> Iterator[Finding]:
    # Fields the controller in force never reads: whatever they hold cannot break it.
    ignored = {field for field, needed in _FIELD_VERSIONS if field in entry.value
               and entry.versions.controller_below(needed)}  # fmt: skip
    location = _parsed_location(entry)
    unused_here = [
        known
        for known in _HTTP_ONLY_FIELDS
        if location is not None
        and known.unused_for(location)
        and known.field not in ignored
        and entry.value.get(known.field) not in (None, "", [])
    ]
    ignored |= {known.field for known in unused_here if known.decodes(entry.value[known.field])}
    unfilled = {
        field: found
        for field in ("location", "sha256")
        if field not in ignored and (found := placeholder(entry.value.get(field))) is not None
    }
    for field, found in unfilled.items():
        yield entry_finding(
            entry,
            "placeholder",
            found.message(field, str(entry.value[field])),
            found.hint,
            at=(field,),
            severity=found.severity,
        )
    unread = {span for field in ignored for span in _field_spans(entry, field)}
    sha256_unfilled = entry.span_of("sha256") if "sha256" in unfilled else None
    for finding in check_schema(entry):
        if finding.span in unread:
            continue
        if finding.rule in _CASCADE and finding.span == sha256_unfilled:
            continue
        yield finding
    if "location" in unfilled:
        yield from _independent_of_placeholder(entry, platforms, ignored, namespaces)
    else:
        yield from check_entry(entry, platforms, ignored, namespaces)
    for known in unused_here:
        yield entry_finding(
            entry, known.rule, known.message, known.hint, at=(known.field,), on_key=True
        )
    yield from check_versions(entry)


def _parsed_location(entry: PluginEntry) -> Location | None:
    try:
        return parse_request_uri(entry.location or "")
    except LocationError:
        return None


def _field_spans(entry: PluginEntry, field: str) -> set[Span]:
    return {
        span
        for spans in (entry.spans, entry.key_spans)
        for path, span in spans.items()
        if path[:1] == (field,)
    }


def _independent_of_placeholder(
    entry: PluginEntry, platforms: Sequence[Platform], ignored: set[str], namespaces: Set[str]
) -> Iterator[Finding]:
    """The location findings a placeholder does not cause: those that remain when the
    placeholder text is replaced by a plain word (`ftp://example.com/x` keeps its scheme
    error, `http://u:p@example.com/x` its credentials). A placeholder standing for the
    whole location (`CHANGEME`, `${URL}`) causes all of them, and a note describing a
    placeholder value (the path a `file:///path/to/x` copies) says nothing."""
    raw = entry.location or ""
    filled = fill_placeholders(raw)
    if filled is None:
        return
    stand_in = replace(entry, value={**entry.value, "location": filled})
    remaining = {finding.rule for finding in check_entry(stand_in, platforms, ignored, namespaces)}
    for finding in check_entry(entry, platforms, ignored, namespaces):
        if finding.rule in remaining and finding.severity is not Severity.NOTE:
            yield finding


def check_entry(
    entry: PluginEntry,
    platforms: Sequence[Platform],
    ignored: Set[str] = frozenset(),
    namespaces: Set[str] = frozenset(),
) -> Iterator[Finding]:
    """`namespaces`: those whose plugin-bin folder exists when the controller reaches this
    entry (see `_namespaces_made`)."""
    if (
        "disabled" in entry.value
        and "disabled" not in ignored
        and entry.kind is not PluginKind.STEP
    ):
        yield entry_finding(
            entry,
            "disabled-ignored",
            f"`disabled` has no effect on {entry.kind.label} plugins: only step plugins honour "
            "it, and every plugin is downloaded at start-up regardless",
            "remove `disabled`, or remove the entry to turn the plugin off",
            at=("disabled",),
            on_key=True,
        )
    raw = entry.location
    if raw is None or raw == "":
        return  # missing, empty or mistyped: said already
    try:
        location = parse_request_uri(raw)
    except LocationError as error:
        yield entry_finding(
            entry,
            "location-format",
            f"the controller cannot parse this location: `parse {go_quote(raw)}: {error}`",
            _strip_hint(raw),
        )
        return
    if location.scheme in ("http", "https"):
        yield from _check_http(entry, raw, location, platforms)
    elif location.scheme == "file":
        yield from _check_file(entry, location, platforms, namespaces)
    else:
        shown = f"`{location.scheme}:`" if location.scheme else "no scheme"
        hint = f"location: file://{raw}" if raw.startswith("/") else None
        yield entry_finding(
            entry,
            "location-format",
            f"location has {shown}: the controller fails with `plugin location must be of "
            "http(s) or file scheme`",
            hint,
        )


def _check_http(
    entry: PluginEntry, raw: str, location: Location, platforms: Sequence[Platform]
) -> Iterator[Finding]:
    if location.opaque or not location.host:
        yield entry_finding(
            entry,
            "location-format",
            f"location `{raw}` has no host: the controller fails with `http: no Host in "
            "request URL`",
            f"location: {location.scheme}://<host>/<path>",
        )
        return
    problem = _whitespace_or_fragment(raw)
    if problem:
        yield entry_finding(entry, "location-format", problem, _strip_hint(raw))
    refused = dial_problem(location)
    if refused:
        yield entry_finding(
            entry,
            "location-format",
            f"the port is above 65535: Go accepts the URL, but the controller's download "
            f"fails with `{refused}`",
            "use the server's real port (1-65535)",
        )
    if location.userinfo is not None:
        yield entry_finding(
            entry,
            "credentials-in-url",
            "location carries credentials (`user:password@`); the controller writes the full "
            "location to its log at every start",
            "remove them (and rotate them: they are in git history); on controller >= v1.8 "
            "send them from a Secret with `headersFrom: [{secretRef: {name: <secret>}}]`",
        )
    if location.scheme == "http":
        yield entry_finding(
            entry,
            "insecure-location",
            "plugin is downloaded over plain http: anyone on the network path can replace the "
            "binary the controller executes",
            "use https, and pin `sha256`",
        )
    page = web_page_problem(location)
    if page:
        yield entry_finding(entry, "not-a-download-url", page.message, page.hint)
    unpinned = unpinned_reason(location)
    if unpinned:
        yield entry_finding(entry, "unpinned-location", *unpinned)
    if entry.value.get("sha256") in (None, ""):
        # The controller checks sha256 only when it is non-empty (downloader.go at v1.9.1).
        empty = entry.value.get("sha256") == ""
        what = (
            "`sha256` is empty: the controller skips the check and"
            if empty
            else "no `sha256`: the controller"
        )
        yield entry_finding(
            entry,
            "missing-sha256",
            f"{what} runs whatever this URL serves today",
            "add `sha256: <64 lowercase hex>` (sha256sum of the file; the online check prints it)",
        )
    yield from _check_unquoted_sha256(entry)
    if not page:
        yield from _check_asset_name(entry, location, platforms)


def _check_unquoted_sha256(entry: PluginEntry) -> Iterator[Finding]:
    """A digest YAML reads as a number or boolean: sigs.k8s.io/yaml turns it into a string
    for the controller, whose length the schema's pattern never sees (it reports the
    type). A string digest is judged by the schema's pattern."""
    digest = entry.value.get("sha256")
    if not isinstance(digest, (bool, int, float)):
        return
    problem = sha256_length_problem(go_string(digest))
    if problem:
        yield entry_finding(entry, "sha256-format", problem, at=("sha256",))


def _check_file(
    entry: PluginEntry, location: Location, platforms: Sequence[Platform], namespaces: Set[str]
) -> Iterator[Finding]:
    source = resolve_file_location(location)
    if source is None:
        yield entry_finding(
            entry,
            "location-format",
            f"`file:{location.opaque}` has no `//`, so Go reads it as an opaque URL: the "
            "controller copies its working directory and fails with `is not a regular file`",
            f"location: file:///{location.opaque.lstrip('/')}",
            fix=new_location(entry, f"file:///{location.opaque.lstrip('/')}"),
        )
        return
    if location.host == "localhost":
        yield entry_finding(
            entry,
            "location-format",
            f"`file://localhost{location.path}` resolves to the relative path "
            f"`localhost{location.path}` (`{source}`), not `{location.path}`",
            f"location: file://{location.raw_path}",
            # As written: decoded, `%3F` would become a query, and the file another.
            fix=new_location(entry, f"file://{location.raw_path}"),
        )
        return
    name = entry.name
    if name and posixpath.normpath(download_target(name)) == source:
        yield entry_finding(
            entry,
            "location-format",
            f"location is the plugin's own download target `{source}`: the controller copies "
            "the file onto itself and truncates it to 0 bytes",
            "copy the plugin to another path (an init container and a volume) and point there",
        )
        return
    problem = copy_source_problem(source, set(namespaces))
    if problem:
        yield entry_finding(
            entry,
            "location-format",
            f"`{source}` is a directory in the controller's container: it fails with "
            f"`failed to copy plugin from {source} to {download_target(name or '<name>')}: "
            f"{problem}`",
            "point at the plugin file itself, e.g. file:///<volume>/<plugin-binary>",
        )
        return
    relative = (
        ""
        if location.path.startswith("/") and not location.host
        else (f" (relative to the controller's working directory {CONTROLLER_HOME})")
    )
    message = (
        f"the controller copies `{source}`{relative} from its own filesystem at start-up; "
        "it must be in the image or a mounted volume"
    )
    yield entry_finding(entry, "file-location", message)
    if entry.mounts is not None:
        yield from _check_mounted(entry, source)
    yield from _check_asset_name(entry, location, platforms)


# Volumes the chart itself mounts into the controller (emptyDirs).
CHART_MOUNTS = (f"{CONTROLLER_HOME}/plugin-bin", "/tmp")


def _check_mounted(entry: PluginEntry, source: str) -> Iterator[Finding]:
    """A file:// path the controller cannot see, judged against the volumes the same values
    document mounts and the files its init containers copy."""
    mounts = entry.mounts
    assert mounts is not None
    copied = [path for path in mounts.copied if path != source]
    if source in mounts.copied:
        return
    under = [m for m in (*mounts.mount_paths, *CHART_MOUNTS) if _is_under(source, m)]
    suggestion = _closest_copy(source, copied)
    hint = f"location: file://{suggestion}" if suggestion else None
    if not under:
        shown = ", ".join(f"`{m}`" for m in mounts.mount_paths) or "none"
        message = (
            f"`{source}` is under no volume mounted into the controller (its mounts: {shown}), "
            "so the file cannot be there and start-up fails"
        )
    elif copied and any(_is_under(path, under[0]) for path in copied):
        message = f"the init container copies the plugin to `{copied[0]}`, not to `{source}`"
    else:
        return
    if suggestion:
        message += f"; the init container copies it to `{suggestion}`"
    yield entry_finding(entry, "file-location-unmounted", message, hint)


def _is_under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _closest_copy(source: str, copied: Sequence[str]) -> str | None:
    if not copied:
        return None
    name = posixpath.basename(source)
    same_name = [path for path in copied if posixpath.basename(path) == name]
    return (same_name or list(copied))[0]


def _check_asset_name(
    entry: PluginEntry, location: Location, platforms: Sequence[Platform]
) -> Iterator[Finding]:
    file_name = posixpath.basename(location.path)
    if not file_name:
        return
    suffix = archive_suffix(file_name)
    if suffix:
        yield entry_finding(
            entry,
            "archive",
            f"`{file_name}` is an archive (`{suffix}`): the controller never unpacks, it "
            "executes the file as downloaded and fails with `exec format error`",
            "point at the bare binary asset, or unpack it in an init container and use file://",
        )
    platform = asset_platform(file_name)
    oses = {p.os for p in platforms}
    arches = {p.arch for p in platforms}
    targets = ", ".join(str(p) for p in platforms)
    wrong_os = platform.os is not None and platform.os not in oses
    wrong_arch = platform.arch is not None and platform.arch not in arches
    if not (wrong_os or wrong_arch):
        return
    stated = "/".join(p for p in (platform.os, platform.arch) if p)
    fixed = file_name
    if wrong_os and platform.os_word:
        fixed = fixed.replace(platform.os_word, platforms[0].os, 1)
        fixed = fixed.removesuffix(".exe")
    if wrong_arch and platform.arch_word:
        fixed = fixed.replace(platform.arch_word, platforms[0].arch, 1)
    yield entry_finding(
        entry,
        "platform-mismatch",
        f"asset `{file_name}` is a {stated} build, but the controller runs on {targets}: it "
        "fails with `exec format error`",
        f"use the {platforms[0]} asset, probably `{fixed}` (or pass --platform if the "
        "controller runs elsewhere)",
    )


_FIELD_VERSIONS = (
    ("args", CONTROLLER_ARGS),
    ("disabled", CONTROLLER_V18),
    ("headersFrom", CONTROLLER_V18),
)


def check_versions(entry: PluginEntry) -> Iterator[Finding]:
    """Fields the controller is too old for, and what older controllers get wrong."""
    versions = entry.versions
    for field, needed in _FIELD_VERSIONS:
        if field in entry.value and versions.controller_below(needed):
            yield entry_finding(
                entry,
                "version-gate",
                f"`{field}` needs controller v{show(needed)}; {versions.describe_controller()} "
                f"({versions.source}) ignores it",
                at=(field,),
                on_key=True,
            )
    if not (entry.location or "").lower().startswith(("http://", "https://")):
        return  # the status and sha256 checks are for downloads only
    older = f"{versions.describe_controller()} ({versions.source})"
    if entry.sha256 and versions.controller_below(CONTROLLER_SHA256_FIX):
        yield entry_finding(
            entry,
            "version-gate",
            f"{older} hashes the download wrongly when it checks `sha256` (argo-rollouts#3519, "
            "fixed by #3520 in v1.7.0): it refuses the correct digest of any plugin with "
            "`sha256 hash of downloaded plugin (...) does not match expected hash` and "
            "crash-loops",
            "upgrade the controller to v1.7.0 or later, or leave `sha256` out until then",
            at=("sha256",),
            severity=Severity.ERROR,
        )
    if versions.controller_below(CONTROLLER_V18):
        yield entry_finding(
            entry,
            "version-gate",
            f"{older} does not check the HTTP status: a wrong URL is saved as the plugin, logged "
            'as "Download complete" and fails later with `exec format error`',
            severity=Severity.NOTE,
        )


def _unknown_chart_versions(entries: Iterable[PluginEntry]) -> Iterator[Finding]:
    """One note per chart version that is no release in the table: its controller is
    unknown, so no controller-version check can run."""
    table = chart_table()
    said: set[tuple[object, str]] = set()
    for entry in entries:
        versions = entry.versions
        if not versions.chart_unknown or (versions.chart, versions.source) in said:
            continue
        said.add((versions.chart, versions.source))
        yield entry_finding(
            entry,
            "version-gate",
            f"chart {show(versions.chart or (0, 0, 0))} ({versions.source}) is not a release "
            f"in our table of argo-rollouts charts (up to {show(table.newest)}, argo-helm "
            f"{table.commit[:8]}): the controller it ships is unknown, so checks that depend "
            "on the controller version are skipped",
            "pass --controller-version, or update rollouts-plugin-lint",
            at=(),
            severity=Severity.NOTE,
        )


def check_duplicate_names(entries: Iterable[PluginEntry]) -> Iterator[Finding]:
    first_by_name: dict[tuple[str, str], PluginEntry] = {}
    for entry in entries:
        name = entry.name
        if not name:
            continue
        first = first_by_name.setdefault((entry.group, name), entry)
        if first is entry:
            continue
        where = f"line {first.span.line}"
        if first.kind is not entry.kind:
            where += f", in {first.kind.value}"
        yield entry_finding(
            entry,
            "duplicate-name",
            f"plugin `{name}` is already defined ({where}); both download to "
            f"`plugin-bin/{name}`, so the last one overwrites the binary while the controller "
            "uses the first one's settings",
            "give each plugin its own name, or remove one entry",
            at=(),
        )


def _whitespace_or_fragment(raw: str) -> str | None:
    if any(c.isspace() for c in raw):
        return (
            "location contains whitespace, which the controller sends as `%20`: the server "
            "will not find the file"
        )
    if "#" in raw:
        return (
            "location contains `#`: the controller does not treat it as a fragment, it "
            "requests `%23...` and the server will not find the file"
        )
    return None


def _strip_hint(raw: str) -> str | None:
    cleaned = "".join(raw.split())
    return f"location: {cleaned}" if cleaned != raw else None
