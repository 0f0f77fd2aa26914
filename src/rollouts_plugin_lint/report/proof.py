"""What a run proved about each plugin: the counts a passing summary line states, the line
per plugin `-v` prints and the request outcomes `-vv` adds (to stderr, whatever the format).
Every value from a file or a server goes through `printable`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import urlsplit

from rollouts_plugin_lint.lint import LintResult
from rollouts_plugin_lint.model import Artifact, BinaryFacts, PluginEntry
from rollouts_plugin_lint.printable import printable
from rollouts_plugin_lint.settings import Settings

_HEX64 = re.compile(r"[0-9a-f]{64}")
PREFIX = "rollouts-plugin-lint: "


@dataclass(frozen=True)
class Verified:
    """Plugin entries by what backs them: a file downloaded in this run, one the cache
    vouched for, or nothing; `pinned` counts those whose sha256 matches that file."""

    downloaded: int = 0
    from_cache: int = 0
    pinned: int = 0
    not_verified: int = 0

    def __str__(self) -> str:
        return (
            f"{self.downloaded} downloaded, {self.pinned} pinned and matching, "
            f"{self.from_cache} from cache, {self.not_verified} not verified"
        )


def verified(result: LintResult) -> Verified:
    downloaded = from_cache = pinned = not_verified = 0
    for entry in result.entries:
        artifact = _artifact(entry, result)
        if artifact is None:
            not_verified += 1
            continue
        if artifact.from_cache:
            from_cache += 1
        else:
            downloaded += 1
        pinned += _pin_matches(entry, artifact)
    return Verified(downloaded, from_cache, pinned, not_verified)


def write_proof(result: LintResult, settings: Settings, stream: TextIO) -> None:
    """One line per plugin entry at -v; with -vv, the outcome of its location's fetch."""
    if settings.verbosity < 1:
        return
    for entry in result.entries:
        stream.write(PREFIX + plugin_line(entry, result) + "\n")
        if settings.verbosity >= 2:
            fetched = result.artifacts.get(entry.location or "")
            stream.write(f"{PREFIX}  {request_line(fetched)}\n")


def plugin_line(entry: PluginEntry, result: LintResult) -> str:
    where = f"{entry.span.path}:{entry.span.line}"
    name = f"{entry.name or '(no name)'} ({entry.kind.value})"
    return printable(f"{where}: {name}: {'; '.join(_proven(entry, result))}", None)


def request_line(artifact: Artifact | None) -> str:
    if artifact is None:
        return "request: none (the location is not fetched)"
    host = urlsplit(artifact.final_url).hostname if artifact.final_url else None
    parts = [
        "from cache" if artifact.from_cache else "not from cache",
        f"{artifact.requests} request{'' if artifact.requests == 1 else 's'}",
        f"status {artifact.status if artifact.status is not None else 'none'}",
        f"final host {host or 'none'}",
    ]
    if artifact.problem is not None:
        parts.append(artifact.problem.rule)
    return printable("request: " + ", ".join(parts), None)


def _proven(entry: PluginEntry, result: LintResult) -> Iterator[str]:
    artifact = _artifact(entry, result)
    if artifact is None:
        yield "not verified: " + _why_not(entry, result)
        return
    facts = result.facts.get(entry.location or "")
    source = "from cache" if artifact.from_cache else "downloaded"
    yield f"{source}, {artifact.size:,} bytes"
    if facts is not None:
        yield from _facts(facts)
    if _pin_matches(entry, artifact):
        yield "sha256 pinned and matching"
    elif entry.sha256 and _HEX64.fullmatch(entry.sha256):
        yield "sha256 pinned, does not match"
    else:
        yield "sha256 not pinned"
    probed = result.handshakes.get(entry.span)
    if probed is not None:
        contained = f", contained by {probed.containment}" if probed.containment else ""
        yield f"handshake {'ok' if probed.ok else probed.outcome}{contained}"


def _facts(facts: BinaryFacts) -> Iterator[str]:
    platform = "/".join(part for part in (facts.os, facts.arch) if part)
    yield f"{facts.format} {platform}".strip()
    if facts.format == "elf":
        yield "static" if facts.interpreter is None else f"dynamic ({facts.interpreter})"
    if facts.plugin_kinds:
        yield "plugin kind " + ", ".join(sorted(kind.label for kind in facts.plugin_kinds))
    elif facts.format == "elf":
        yield "plugin kind not found"
    go = facts.go
    if go is not None:
        yield f"go-plugin {go.go_plugin or 'not linked'}"
        yield f"argo-rollouts {go.rollouts or 'not linked'}"


def _why_not(entry: PluginEntry, result: LintResult) -> str:
    artifact = result.artifacts.get(entry.location or "")
    if artifact is not None and artifact.problem is not None:
        problem = artifact.problem
        said = problem.message.removeprefix("not verified: ")
        return said if problem.rule == "not-verified" else f"{problem.rule}: {said}"
    if artifact is not None:
        return f"status {artifact.status}"
    location = (entry.location or "").lower()
    if location.startswith("file:"):
        return "a file:// location, read by the controller from its own filesystem"
    if location.startswith(("http://", "https://")):
        return "not fetched (an earlier finding on the location)"
    return "no usable location"


def _artifact(entry: PluginEntry, result: LintResult) -> Artifact | None:
    """The file that backs the entry, if one was downloaded or vouched for by the cache."""
    artifact = result.artifacts.get(entry.location or "")
    return artifact if artifact is not None and artifact.downloaded else None


def _pin_matches(entry: PluginEntry, artifact: Artifact) -> bool:
    return bool(entry.sha256 and artifact.sha256 and entry.sha256 == artifact.sha256)
