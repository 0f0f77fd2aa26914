"""What a download says about an entry: HTTP failures with their root cause, files that
are not Linux executables for the target CPU, checksums, and whether the binary is an
Argo Rollouts plugin of the entry's kind. Every finding points at the `location` value."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rollouts_plugin_lint.checks.catalog import listing_disagreement
from rollouts_plugin_lint.checks.common import entry_finding, new_location, new_value
from rollouts_plugin_lint.checks.locations import asset_platform
from rollouts_plugin_lint.model import (
    Artifact,
    BinaryFacts,
    Finding,
    Platform,
    PluginEntry,
    PluginKind,
    ReleaseLookup,
    Severity,
)
from rollouts_plugin_lint.versions import CONTROLLER_V18

if TYPE_CHECKING:
    from rollouts_plugin_lint.inspect.handshake import HandshakeResult

_HEX64 = re.compile(r"[0-9a-f]{64}")
_ARCHIVES = {"gzip", "tar", "zip", "xz", "bzip2", "zstd"}
_NOT_EXECUTABLE = {
    "html": "an HTML page",
    "json": "a JSON document",
    "xml": "an XML document",
    "text": "a text file",
    "empty": "an empty file",
    "lfs-pointer": "a Git LFS pointer (the repository stores the binary in LFS)",
    "unknown": "not an executable format",
}
_WRONG_OS = {
    "macho": "a macOS (Mach-O) executable",
    "macho-universal": "a macOS universal (Mach-O) executable",
    "pe": "a Windows (PE) executable",
    "script": "a script",
}
_EXEC_FORMAT = "the controller saves it and fails with `exec format error`"
# What to do about a download that is no executable, by what it is.
_NOT_EXECUTABLE_HINTS = {
    "html": "the URL serves a web page: point at the file itself (a GitHub release asset is "
    "`https://github.com/<owner>/<repo>/releases/download/<tag>/<asset>`)",
    "json": "the server answered an error document: open the URL to read it, and check the "
    "path and any `headersFrom` credentials",
    "xml": "the server answered an error document (S3 and GCS answer XML): check the bucket, "
    "the object path and its permissions",
    "lfs-pointer": "link the release asset, or the LFS file itself (`https://media."
    "githubusercontent.com/media/<owner>/<repo>/<ref>/<path>`), not the raw git blob",
}
_NOT_EXECUTABLE_HINT = (
    "see what the URL serves (`curl -fsSL <location> | file -`) and point at the plugin's "
    "linux binary asset"
)


def check_artifact(
    entry: PluginEntry,
    artifact: Artifact,
    facts: BinaryFacts | None,
    platforms: Sequence[Platform],
) -> Iterator[Finding]:
    if artifact.problem is not None:
        problem = artifact.problem
        yield entry_finding(
            entry, problem.rule, problem.message, problem.hint, severity=problem.severity
        )
        return
    if not artifact.downloaded:
        yield _download_failed(entry, artifact, facts, platforms)
        return
    if facts is None:
        return
    for verdict in _format_verdicts(entry, facts, platforms):
        if artifact.undecoded_encoding:
            verdict = replace(
                verdict,
                message=f"{verdict.message} (the server sent `Content-Encoding: "
                f"{artifact.undecoded_encoding}`, "
                "which the controller's Go client does not decode: it saves the bytes as sent)",
            )
        yield verdict
    yield from _checksum(entry, artifact)
    yield from _plugin_identity(entry, facts)


def _download_failed(
    entry: PluginEntry,
    artifact: Artifact,
    facts: BinaryFacts | None,
    platforms: Sequence[Platform],
) -> Finding:
    status = artifact.status or 0
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "unknown status"
    where = ""
    if artifact.final_url and artifact.final_url != artifact.url:
        where = f" (after redirects, at {artifact.final_url})"
    body = _describe_body(facts)
    message = f"the location answers {status} {reason}{where}{body}; "
    message += _controller_verdict(entry, artifact.url, reason)
    hint, fix = None, None
    if artifact.release is not None:
        explanation, url, certain = _release_hint(artifact.release, artifact.url)
        message += f". {explanation}"
        if url is not None:
            hint = f"location: {url}"
            fix = new_location(entry, url, safe=certain)
        disagreement = listing_disagreement(entry, artifact.release, platforms)
        if disagreement:
            hint = f"{hint} ({disagreement})" if hint else disagreement
    return entry_finding(entry, "download-failed", message, hint, fix=fix)


def _controller_verdict(entry: PluginEntry, url: str, reason: str) -> str:
    """What the controller in force does with an HTTP error: v1.8.0 added the status check
    (`isFailure` in utils/plugin/downloader.go); older ones save the body as the plugin."""
    versions = entry.versions
    refused = (
        f"refuses it at start-up (`failed to download file from {url}: response code "
        f"{reason}`) and crash-loops"
    )
    if entry.sha256:
        saved = "saves the body as the plugin, then its sha256 check fails and it crash-loops"
    else:
        saved = (
            'saves the body as the plugin, logs "Download complete", and fails when it starts '
            "the plugin with `exec format error`, then `Stdout already set`"
        )
    if versions.controller_at_least(CONTROLLER_V18):
        return f"{versions.describe_controller()} {refused}"
    if versions.controller_below(CONTROLLER_V18):
        return (
            f"{versions.describe_controller()} ({versions.source}) does not check the status: "
            f"it {saved}"
        )
    return f"a controller >= v1.8 {refused}; an older one {saved}"


def _describe_body(facts: BinaryFacts | None) -> str:
    if facts is None or facts.format == "empty":
        return ""
    if facts.detail == "Not Found" and facts.size == 9:
        return ": GitHub's 9-byte `Not Found` (no such release, tag or asset, or a private repo)"
    if facts.detail:
        return f": {_NOT_EXECUTABLE.get(facts.format, 'a body')} saying `{facts.detail}`"
    return ""


def _release_hint(release: ReleaseLookup, url: str) -> tuple[str, str | None, bool]:
    """What the release listing says, the location it suggests, and whether that location
    is certain (the tag as listed, and the asset as written or the one asset listed for its
    platform)."""
    base = f"https://github.com/{release.repo}/releases/download"
    parts = urlsplit(url)
    if parts.hostname and parts.hostname.lower() not in ("github.com", "www.github.com"):
        base = f"{parts.scheme}://{parts.netloc}/{release.repo}/releases/download"
    if not release.repo_exists:
        return (f"The repository `{release.repo}` does not exist, or it is private", None, False)
    if release.tag_found is None:
        recent = ", ".join(f"`{t}`" for t in release.recent_tags) or "none"
        return (
            f"`{release.repo}` has no release `{release.tag}`; its newest: {recent}",
            None,
            False,
        )
    tag = release.tag_found
    prefix = "" if tag == release.tag else f"The tag is `{tag}`, not `{release.tag}`"
    if release.asset in release.assets:
        return prefix or f"Release `{tag}` has the asset", f"{base}/{tag}/{release.asset}", True
    close, same_platform = _closest_assets(release.asset, release.assets)
    missing = f"release `{tag}` has no asset `{release.asset}`"
    explanation = f"{prefix}, and {missing}" if prefix else missing[0].upper() + missing[1:]
    if not close:
        listed = ", ".join(f"`{a}`" for a in release.assets[:8]) or "none"
        return f"{explanation}; its assets: {listed}", None, False
    certain = same_platform == [close[0]]
    return f"{explanation}; did you mean `{close[0]}`?", f"{base}/{tag}/{close[0]}", certain


def _closest_assets(asset: str, assets: Sequence[str]) -> tuple[list[str], list[str]]:
    """The assets closest to `asset` by name, and the binaries listed for its platform."""
    wanted = asset_platform(asset)
    same_platform = [
        a for a in assets
        if (asset_platform(a).os, asset_platform(a).arch) == (wanted.os, wanted.arch)
        and not a.endswith((".sha256", ".sig", ".pem", ".txt", ".sbom", ".json"))
    ]  # fmt: skip
    pool = same_platform or list(assets)
    close = difflib.get_close_matches(asset, pool, n=3, cutoff=0.3) or same_platform[:1]
    return close, same_platform


def _format_verdicts(
    entry: PluginEntry, facts: BinaryFacts, platforms: Sequence[Platform]
) -> Iterator[Finding]:
    size = f"{facts.size:,} bytes"
    if facts.format in _NOT_EXECUTABLE:
        what = _NOT_EXECUTABLE[facts.format]
        detail = f" saying `{facts.detail}`" if facts.detail else ""
        head = f" (first bytes {facts.head.hex(' ')})" if facts.format == "unknown" else ""
        yield entry_finding(
            entry,
            "not-executable",
            f"the download is {what}{detail}{head}, {size}, not a Linux executable; {_EXEC_FORMAT}",
            _NOT_EXECUTABLE_HINTS.get(facts.format, _NOT_EXECUTABLE_HINT),
        )
    elif facts.format in _ARCHIVES:
        inside = ""
        if facts.members:
            shown = ", ".join(f"`{m}`" for m in facts.members[:5])
            more = f" and {len(facts.members) - 5} more" if len(facts.members) > 5 else ""
            inside = f" holding {shown}{more}"
        hint = "point at the bare binary asset of the release"
        if facts.executable_member:
            hint += (
                f" (the plugin is probably `{facts.executable_member}` inside this archive), "
                "or unpack it in an init container and use file://"
            )
        yield entry_finding(
            entry,
            "archive",
            f"the download is a {facts.format} archive{inside}: the controller never "
            f"unpacks, it executes the file as downloaded and fails with `exec format error`",
            hint,
        )
    elif facts.format in _WRONG_OS:
        what = _WRONG_OS[facts.format]
        if facts.format == "script" and facts.detail:
            what += f" (`{facts.detail}`)"
        arch = f" for {facts.arch}" if facts.arch else ""
        yield entry_finding(
            entry,
            "wrong-os",
            f"the download is {what}{arch}, not a Linux executable; the controller fails with "
            + (
                "`no such file or directory` (its image has no shell)"
                if facts.format == "script"
                else "`exec format error`"
            ),
            "point at the compiled linux binary the script starts or downloads (a plugin must "
            "be a static executable), or build one in an init container and use file://"
            if facts.format == "script"
            else "use the linux asset of the release",
        )
    elif facts.format == "elf":
        yield from _elf_verdicts(entry, facts, platforms)


def _elf_verdicts(
    entry: PluginEntry, facts: BinaryFacts, platforms: Sequence[Platform]
) -> Iterator[Finding]:
    targets = ", ".join(str(p) for p in platforms)
    if facts.detail:  # an object file, a shared library, a core dump, a broken header
        yield entry_finding(
            entry,
            "not-executable",
            f"the download is an ELF file but not a runnable program ({facts.detail}); "
            f"{_EXEC_FORMAT}",
            "point at the plugin's executable (`go build` of its main package, "
            "CGO_ENABLED=0), not a library, object file or core dump",
        )
        return
    if facts.os and facts.os not in {p.os for p in platforms}:
        yield entry_finding(
            entry,
            "wrong-os",
            f"the download is an ELF executable for {facts.os}, but the controller runs on "
            f"{targets}; it fails with `exec format error`",
        )
        return
    arches = {p.arch for p in platforms}
    if facts.arch and facts.arch not in arches:
        yield entry_finding(
            entry,
            "wrong-arch",
            f"the download is a Linux executable for {facts.arch}, but the controller runs "
            f"on {targets}; {_EXEC_FORMAT}",
            f"use the {platforms[0].arch} asset, or pass --platform linux/{facts.arch} if the "
            "controller's nodes are that",
        )
    if facts.interpreter:
        yield entry_finding(
            entry,
            "dynamic-binary",
            f"the download is dynamically linked (it needs `{facts.interpreter}`); the "
            "controller image is distroless with no libc, so it fails with `no such file or "
            "directory`",
            "build the plugin with CGO_ENABLED=0, or use the release's static build",
        )


def _checksum(entry: PluginEntry, artifact: Artifact) -> Iterator[Finding]:
    """The download's sha256 against the configured one and the one GitHub publishes for
    the release asset. One finding per root cause: bytes GitHub never published when the
    pin is GitHub's digest are the served file's fault alone, not the pin's."""
    served = artifact.sha256
    if served is None:
        return
    expected = entry.sha256 if entry.sha256 and _HEX64.fullmatch(entry.sha256) else None
    published = artifact.published_sha256
    if published is not None and published != served:
        yield _not_what_github_publishes(entry, served, published, expected)
        if expected == published:
            return
    if expected is not None and expected != served:
        message = (
            f"the configured sha256 {expected} differs from the download's {served}; "
            "the controller refuses the plugin and crash-loops"
        )
        hint = f'sha256: "{served}"   (after checking that this file is the one you want)'
        fix = None
        if published == served:
            message += (
                "; GitHub publishes this very digest for the asset: the pinned value is "
                "likely stale or wrong"
            )
            hint = f'sha256: "{served}"'
            # A new pin is a decision (the old one may be what stops a re-published
            # release): never applied unasked.
            fix = new_value(entry, "sha256", expected, served, safe=False)
        elif published is not None:
            hint = f'sha256: "{published}"   (the digest GitHub publishes for the asset)'
        yield entry_finding(entry, "checksum-mismatch", message, hint, fix=fix)


def _not_what_github_publishes(
    entry: PluginEntry, served: str, published: str, expected: str | None
) -> Finding:
    message = (
        f"the download's sha256 {served} differs from the {published} GitHub publishes for "
        "this release asset: a mirror, proxy or cache served other bytes than GitHub publishes"
    )
    if expected == published:
        message += (
            "; the configured sha256 is GitHub's, so a controller served these bytes "
            "refuses the plugin and crash-loops"
        )
        hint = (
            "find what sits between this run and GitHub (HTTPS_PROXY, a mirror, a restored "
            "cache) and why it serves other bytes; the pin is right"
        )
    else:
        hint = (
            "find what sits between this run and GitHub (HTTPS_PROXY, a mirror, a restored "
            "cache); pin GitHub's digest so the controller refuses other bytes: "
            f'sha256: "{published}"'
        )
    return entry_finding(entry, "release-digest-mismatch", message, hint)


def pin_hint(artifact: Artifact) -> str | None:
    """The line to write for an unpinned entry whose download passed the checks."""
    if artifact.sha256 is None or artifact.problem is not None:
        return None
    if artifact.published_sha256 not in (None, artifact.sha256):
        return None  # not the bytes GitHub publishes: release-digest-mismatch says so
    return f'sha256: "{artifact.sha256}"'


def _plugin_identity(entry: PluginEntry, facts: BinaryFacts) -> Iterator[Finding]:
    if facts.format != "elf":
        return
    go = facts.go
    if go is not None and not (go.rollouts or go.go_plugin):
        what = go.module or go.path or "a Go program"
        yield entry_finding(
            entry,
            "not-a-plugin",
            f"the download is `{what}` ({go.version}), which links neither argo-rollouts nor "
            "go-plugin: it is not an Argo Rollouts plugin",
            "point at the plugin's own release asset (its README gives the URL), not the "
            "kubectl-argo-rollouts CLI or another program",
        )
        return
    if go is None and not facts.plugin_kinds:
        yield entry_finding(
            entry,
            "not-a-plugin",
            "the download has no Go build info and no plugin markers: we cannot confirm it is "
            "an Argo Rollouts plugin",
            "run with --handshake to start it as the controller would, or check that the "
            "URL is the plugin's release asset",
            severity=Severity.WARNING,
        )
        return
    if len(facts.plugin_kinds) == 1 and entry.kind not in facts.plugin_kinds:
        (found,) = facts.plugin_kinds
        yield entry_finding(
            entry,
            "plugin-kind-mismatch",
            f"the binary is a {found.label} plugin, but it is listed under `{entry.kind.value}`: "
            "its handshake cookie will not match and it fails at the first rollout",
            f"move the entry to `{found.value}`",
        )
    if entry.kind is PluginKind.STEP and go is not None and go.rollouts:
        version = _version_tuple(go.rollouts)
        if version is not None and version < (1, 8, 0):
            yield entry_finding(
                entry,
                "version-gate",
                f"step plugins need argo-rollouts >= v1.8.0; this binary was built against "
                f"{go.rollouts}",
            )


def check_handshake(entry: PluginEntry, result: HandshakeResult) -> Iterator[Finding]:
    """What the opt-in probe saw when it started the binary with the entry's cookie, and
    the containment it ran under (or that it was not run for want of any)."""
    if result.ok:
        return
    contained = f" [contained by: {result.containment}]" if result.containment else ""
    if result.outcome == "wrong-cookie" and result.kind_found is not None:
        found = result.kind_found
        yield entry_finding(
            entry,
            "plugin-kind-mismatch",
            f"started with the {entry.kind.label} cookie the plugin refused; it hand-shakes as "
            f"a {found.label} plugin, so it belongs in `{found.value}`{contained}",
            f"move the entry to `{found.value}`",
        )
        return
    if result.outcome == "uncontained":
        yield entry_finding(
            entry,
            "handshake-failed",
            f"the handshake probe did not start the plugin: {result.detail}",
            "run --handshake where Landlock (Linux 5.13+) or user namespaces are available",
        )
        return
    yield entry_finding(
        entry,
        "handshake-failed",
        f"started as the controller would, the plugin did not hand-shake ({result.outcome}): "
        f"{result.detail}{contained}",
    )


def _version_tuple(text: str) -> tuple[int, ...] | None:
    match = re.match(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    return tuple(int(part) for part in match.groups()) if match else None
