"""What inspecting a cached download found, remembered next to the object, so a warm run
re-checks its downloads without reading 40 MB binaries again.

    <cache>/objects/ab/abcdef...              the file, named by its sha256
    <cache>/objects/ab/abcdef....facts.json   {"version", "sha256", "size", "content_type", "facts"}

The cache is untrusted input, and so is a facts record. One is used only when the object
it is named after was re-hashed in this run (the cache re-hashes every object it serves,
once per run) at the record's size and with the Content-Type the record was made for
(what a file is can depend on it); it is read with a bound, without following a symlink,
and every field is checked to be what `inspect_file` can produce (a known format, bounded
printable strings), else the file is inspected again and the record rewritten. A record
made by another `INSPECTOR_VERSION` is never used: bump it whenever an inspector changes
what it finds.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from rollouts_plugin_lint.fetch.cache import Cache
from rollouts_plugin_lint.inspect import FORMATS, inspect_file
from rollouts_plugin_lint.model import Artifact, BinaryFacts, GoBuildInfo, PluginKind
from rollouts_plugin_lint.printable import printable

INSPECTOR_VERSION = 1
_RECORD_LIMIT = 256 * 1024  # a record we write is well under 16 KiB
_STRING_LIMIT = 4096
_LIST_LIMIT = 256


def inspect_artifact(artifact: Artifact, cache: Cache | None) -> BinaryFacts:
    """The facts of a downloaded file: remembered when the cache vouches for the object,
    else inspected (and remembered when the file is a cache object)."""
    assert artifact.path is not None
    record_path = _record_path(artifact, cache)
    if record_path is None or cache is None:
        return inspect_file(artifact.path, artifact.content_type)
    if cache.verified_size(artifact.sha256 or "") == artifact.size:
        remembered = _read(record_path, artifact)
        if remembered is not None:
            return remembered
    facts = inspect_file(artifact.path, artifact.content_type)
    _write(record_path, artifact, facts, cache)
    return facts


def _record_path(artifact: Artifact, cache: Cache | None) -> Path | None:
    """Where the record of this download lives, if the download is a cache object."""
    digest = artifact.sha256
    if cache is None or digest is None or artifact.path != cache.object_path(digest):
        return None
    return cache.facts_path(digest)


def _read(path: Path, artifact: Artifact) -> BinaryFacts | None:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with open(fd, "rb", closefd=False) as stream:
            data = stream.read(_RECORD_LIMIT + 1)
        if len(data) > _RECORD_LIMIT:
            return None
        record = json.loads(data.decode("utf-8"))
        if not (
            isinstance(record, dict)
            and record.get("version") == INSPECTOR_VERSION
            and record.get("sha256") == artifact.sha256
            and record.get("size") == artifact.size
            and record.get("content_type") == artifact.content_type
        ):
            return None
        facts = _facts(record.get("facts"))
    except (OSError, ValueError, TypeError, KeyError, RecursionError):  # `[[[...`: json's stack
        return None
    finally:
        os.close(fd)
    return facts if facts is not None and facts.size == artifact.size else None


def _write(path: Path, artifact: Artifact, facts: BinaryFacts, cache: Cache) -> None:
    """Atomically, through the cache's own temporary folder; a record that cannot be
    written is only a slower next run."""
    record = {
        "version": INSPECTOR_VERSION,
        "sha256": artifact.sha256,
        "size": artifact.size,
        "content_type": artifact.content_type,
        "facts": _plain(facts),
    }
    try:
        handle, name = tempfile.mkstemp(dir=cache.tmp, prefix="facts-")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(record, stream)
        os.replace(name, path)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            os.unlink(name)


def _plain(facts: BinaryFacts) -> dict[str, Any]:
    go = facts.go
    return {
        "format": facts.format,
        "size": facts.size,
        "os": facts.os,
        "arch": facts.arch,
        "arches": list(facts.arches),
        "interpreter": facts.interpreter,
        "detail": facts.detail,
        "members": list(facts.members),
        "executable_member": facts.executable_member,
        "go": None
        if go is None
        else {
            "version": go.version,
            "path": go.path,
            "module": go.module,
            "module_version": go.module_version,
            "rollouts": go.rollouts,
            "go_plugin": go.go_plugin,
            "settings": dict(go.settings),
        },
        "plugin_kinds": sorted(kind.value for kind in facts.plugin_kinds),
        "head": facts.head.hex(),
    }


def _facts(plain: Any) -> BinaryFacts | None:
    """`plain` back into facts, or None unless every field is one `inspect_file` makes."""
    if not isinstance(plain, dict) or plain.get("format") not in FORMATS:
        return None
    size, head = plain["size"], plain["head"]
    if not (isinstance(size, int) and size >= 0 and _text(head) and len(head) <= 32):
        return None
    kinds = _strings(plain["plugin_kinds"])
    known = {kind.value for kind in PluginKind}
    if kinds is None or not set(kinds) <= known:
        return None
    go = _go(plain["go"])
    arches, members = _strings(plain["arches"]), _strings(plain["members"])
    optional = [plain[name] for name in ("os", "arch", "interpreter", "detail",
                                         "executable_member")]  # fmt: skip
    if arches is None or members is None or not all(map(_optional_text, optional)):
        return None
    return BinaryFacts(
        plain["format"],
        size,
        os=plain["os"],
        arch=plain["arch"],
        arches=tuple(arches),
        interpreter=plain["interpreter"],
        detail=plain["detail"],
        members=tuple(members),
        executable_member=plain["executable_member"],
        go=go,
        plugin_kinds=frozenset(PluginKind(kind) for kind in kinds),
        head=bytes.fromhex(head),
    )


def _go(plain: Any) -> GoBuildInfo | None:
    """The build info, None when the record has none; ValueError when it is malformed."""
    if plain is None:
        return None
    if not isinstance(plain, dict) or not _text(plain.get("version")):
        raise ValueError("malformed build info")
    names = ("path", "module", "module_version", "rollouts", "go_plugin")
    settings = plain.get("settings")
    if not all(_optional_text(plain.get(name)) for name in names) or not (
        isinstance(settings, dict)
        and len(settings) <= _LIST_LIMIT
        and all(_text(key) and _text(value) for key, value in settings.items())
    ):
        raise ValueError("malformed build info")
    return GoBuildInfo(plain["version"], *(plain.get(name) for name in names), settings=settings)


def _text(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) <= _STRING_LIMIT
        and printable(value, limit=None) == value
    )


def _optional_text(value: Any) -> bool:
    return value is None or _text(value)


def _strings(value: Any) -> list[str] | None:
    if not isinstance(value, list) or len(value) > _LIST_LIMIT or not all(map(_text, value)):
        return None
    return value
