"""A content-addressed download cache that parallel runs can share.

    <root>/objects/ab/abcdef...   the file, named by its sha256
    <root>/objects/ab/abcdef....facts.json  what inspecting it found (inspect/memo.py)
    <root>/urls/<sha256(url)>.json what a URL served last time: digest, ETag, Last-Modified
    <root>/tmp/                    downloads in flight (same filesystem, so renames are atomic)

Every write goes to a temporary file first and is renamed into place, so a concurrent
reader (pre-commit runs hooks in parallel) never sees half a file, and a process killed
mid-download leaves only a temporary file behind. Every read re-hashes the object before
it is trusted, once per run; a file that does not match its name is deleted. (A stat record
of inode, size, mtime and ctime would spare a warm run the hashing, but whoever can write
the cache as the same user, a pull request's job on a shared self-hosted runner, can
forge one for other bytes under a pinned digest.)

The folder may be shared, restored from a CI cache or planted: everything in it is
untrusted input. A URL record counts only when the object it names exists and re-hashes to
the record's digest at the record's size; records are read with a bound; no symlink is
followed, neither a file's nor a folder's below the root.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from enum import Enum
from pathlib import Path
from typing import BinaryIO

from rollouts_plugin_lint.model import Artifact, FetchProblem

_DIGEST = re.compile(r"[0-9a-f]{64}")
_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")  # what can be sent back in a request header
_STALE_TEMP_SECONDS = 24 * 3600
_RECORD_LIMIT = 64 * 1024  # a record we write is a few hundred bytes
_TEMP_PREFIXES = ("download-", "url-", "tmp")


@dataclass(frozen=True)
class UrlRecord:
    url: str
    sha256: str
    size: int
    final_url: str
    content_type: str | None
    etag: str | None
    last_modified: str | None
    # The sha256 GitHub publishes for the release asset this URL names, as its API said
    # after this record's bytes were served: a run the cache answers alone knows it too.
    published_sha256: str | None = None


class Cache:
    def __init__(self, root: Path, object_limit: int | None = None) -> None:
        self.root = root
        # No larger object is hashed or vouched for: a download of that size would have
        # been refused, and hashing a planted one could take minutes.
        self.object_limit = object_limit
        self.objects = root / "objects"
        self.urls = root / "urls"
        self.tmp = root / "tmp"
        # Writes that failed during this run (a file where a folder should be, a full
        # disk): the run goes on without caching, and says so once.
        self.problems: list[str] = []
        # Objects this run has re-hashed, with the file's stat at that moment: a second
        # look in the same run (fetch_all verifies every cached file in parallel first,
        # then each download looks again) trusts the first hash only while the file is
        # provably the same one.
        self._verified: dict[str, tuple[int, int, int, int]] = {}

    def prepare(self) -> None:
        """Create the folders; raises OSError when the cache cannot be written."""
        for folder in (self.objects, self.urls, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                # Sweeping or storing through it would touch files outside the cache.
                raise OSError(0, "not a folder of its own (a symbolic link?)", str(folder))
        probe = tempfile.NamedTemporaryFile(dir=self.tmp, delete=False)  # noqa: SIM115
        probe.close()
        Path(probe.name).unlink()
        self._sweep_stale_temporaries()

    def temporary_file(self) -> Path:
        handle, name = tempfile.mkstemp(dir=self.tmp, prefix="download-")
        os.close(handle)
        return Path(name)

    def object_path(self, digest: str) -> Path:
        return self.objects / digest[:2] / digest

    def facts_path(self, digest: str) -> Path:
        """Where what inspecting the object found is kept (inspect/memo.py writes it)."""
        return self.objects / digest[:2] / f"{digest}.facts.json"

    def verified_object(self, digest: str) -> Path | None:
        """The cached file with this sha256, re-hashed (once per run: while its inode,
        size, mtime and ctime stay what they were when it was hashed); None when absent
        or corrupt. Its access time is set to now: the size budget evicts the least
        recently used. Safe to call from several threads."""
        if not _DIGEST.fullmatch(digest) or not self._contained(digest):
            return None
        path = self.object_path(digest)
        try:
            if self._verified.get(digest) == _stamp(path):
                return path
            if self.object_limit is not None and os.lstat(path).st_size > self.object_limit:
                return None
            _touch(path)  # before the stamp: setting the atime changes the ctime
            # Taken before hashing: a file changed after this point no longer matches it.
            stamp = _stamp(path)
            actual = sha256_file(path)
        except OSError:
            return None
        if actual != digest:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        self._verified[digest] = stamp
        return path

    def verified_size(self, digest: str) -> int | None:
        """The size of the object as it was when re-hashed, if it was."""
        stamp = self._verified.get(digest)
        return stamp[1] if stamp is not None else None

    def store(self, temporary: Path, digest: str) -> Path:
        """Move a finished download into place under its digest."""
        target = self.object_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not self._contained(digest):
            raise OSError(0, "not a folder of its own (a symbolic link?)", str(target.parent))
        # No fsync: an object torn by a crash is re-hashed before any use and dropped, so
        # making it durable would only cost time (0.13 s for 4 x 50 MiB, a twentieth of
        # a cold run).
        os.replace(temporary, target)
        return target

    def record(self, url: str) -> UrlRecord | None:
        """What `url` served last time; None when absent, not a record we wrote, or not
        bound to its object: the object must exist and re-hash to the record's digest at
        the record's size, else the record's ETag could get a planted verdict confirmed
        by a 304."""
        record = _read_record(self._url_path(url))
        if record is None or record.url != url or not self._sized(record):
            return None
        if self.verified_object(record.sha256) is None:
            return None
        return record if self.verified_size(record.sha256) == record.size else None

    def remember(self, record: UrlRecord) -> None:
        # The server chose these; only values that can be sent back as headers are kept.
        record = replace(
            record,
            etag=_header_value(record.etag),
            last_modified=_header_value(record.last_modified),
        )
        path = self._url_path(record.url)
        handle, name = tempfile.mkstemp(dir=self.tmp, prefix="url-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(asdict(record), stream)  # a torn record does not parse: absent
            os.replace(name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise

    def remember_published(self, url: str, sha256: str, published: str) -> None:
        """Add the digest GitHub publishes for the asset to `url`'s record, if the record
        is still the one of the bytes `sha256` (another run may have replaced it). The
        object is not hashed again here: `record` binds the record to it on every read."""
        record = _read_record(self._url_path(url))
        if record is None or record.url != url or record.sha256 != sha256:
            return
        if not _DIGEST.fullmatch(published):
            return
        try:
            self.remember(replace(record, published_sha256=published))
        except OSError as error:
            self.note_problem(error)

    def note_problem(self, error: OSError) -> None:
        self.problems.append(f"{error.strerror or error}: {error.filename or self.root}")

    def trim(self, budget: int) -> None:
        """Remove the least recently used objects, and the records that name them, until
        the objects fit in `budget` bytes. Best effort: a file another run removed first,
        or one that cannot be removed, is passed over."""
        objects = sorted(self._objects(), key=lambda item: item[1].st_atime_ns)
        total = sum(status.st_size for _, status in objects)
        removed: set[str] = set()
        for path, status in objects:
            if total <= budget:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                removed.add(path.name)
                total -= status.st_size
            with contextlib.suppress(OSError):
                self.facts_path(path.name).unlink()
        if not removed:
            return
        with contextlib.suppress(OSError):
            for entry in self.urls.iterdir():
                record = _read_record(entry)
                if record is not None and record.sha256 in removed:
                    with contextlib.suppress(OSError):
                        entry.unlink()

    def _objects(self) -> Iterator[tuple[Path, os.stat_result]]:
        """Every regular file named like an object in its own folder; nothing behind a
        symlink."""
        with contextlib.suppress(OSError):
            for folder in self.objects.iterdir():
                if not re.fullmatch(r"[0-9a-f]{2}", folder.name) or folder.is_symlink():
                    continue
                with contextlib.suppress(OSError):
                    for path in folder.iterdir():
                        status = path.lstat()
                        if (
                            _DIGEST.fullmatch(path.name)
                            and path.name[:2] == folder.name
                            and stat.S_ISREG(status.st_mode)
                        ):
                            yield path, status

    def _sized(self, record: UrlRecord) -> bool:
        """The record's object has the record's size: an object of another size is not
        hashed just to be refused."""
        if not self._contained(record.sha256):
            return False
        try:
            return os.lstat(self.object_path(record.sha256)).st_size == record.size
        except OSError:
            return False

    def _contained(self, digest: str) -> bool:
        """The object's folder is objects/<first two> itself, not a link to elsewhere."""
        try:
            return stat.S_ISDIR(os.lstat(self.objects / digest[:2]).st_mode) and stat.S_ISDIR(
                os.lstat(self.objects).st_mode
            )
        except FileNotFoundError:
            return True  # nothing there yet: store() creates a real folder
        except OSError:
            return False

    def _url_path(self, url: str) -> Path:
        name = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
        return self.urls / f"{name}.json"

    def _sweep_stale_temporaries(self) -> None:
        """Leftovers of killed runs. Young files may belong to a run in progress."""
        cutoff = time.time() - _STALE_TEMP_SECONDS
        with contextlib.suppress(OSError):
            for leftover in self.tmp.iterdir():
                with contextlib.suppress(OSError):
                    status = leftover.lstat()
                    if (
                        leftover.name.startswith(_TEMP_PREFIXES)
                        and stat.S_ISREG(status.st_mode)
                        and status.st_mtime < cutoff
                    ):
                        leftover.unlink()


class Request(Enum):
    """What a URL still needs from its server, given what the cache proves."""

    NONE = "none"  # the cache proves it: this URL served the pinned file
    CONDITIONAL = "conditional"  # revalidate what it served last (a 304 reuses it)
    FULL = "full"  # nothing known: a GET must show what it serves


@dataclass(frozen=True)
class Lookup:
    request: Request
    # What this URL is recorded as having served, its object re-hashed just now.
    known: Artifact | None = None
    record: UrlRecord | None = None

    def conditional_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.request is Request.CONDITIONAL and self.record is not None:
            if self.record.etag:
                headers["If-None-Match"] = self.record.etag
            if self.record.last_modified:
                headers["If-Modified-Since"] = self.record.last_modified
        return headers


def look_up(cache: Cache | None, url: str, pinned: str | None) -> Lookup:
    """The one place that decides whether `url` needs a request, and which. A cached
    verdict stands in for a request only when this URL is recorded as having served the
    pinned digest. With no record, a full GET, even when a file with the pinned digest is
    cached: another URL served it, and this one may 404 or serve other bytes (a HEAD would
    not do: the controller compares the digest itself). With a record of other bytes, or
    no pin, a conditional request revalidates what the URL served last."""
    record = cache.record(url) if cache is not None else None
    if cache is None or record is None:
        return Lookup(Request.FULL)
    known = Artifact(
        url,
        final_url=record.final_url,
        status=200,
        sha256=record.sha256,
        size=record.size,
        path=cache.object_path(record.sha256),
        content_type=record.content_type,
        from_cache=True,
        published_sha256=record.published_sha256,
    )
    proven = pinned is not None and pinned == record.sha256
    return Lookup(Request.NONE if proven else Request.CONDITIONAL, known, record)


def offline_artifact(cache: Cache | None, url: str) -> Artifact:
    """Offline, the cache answers with what this URL is recorded as having served (a
    pinned entry whose record holds other bytes gets its checksum verdict); a file with
    the pinned digest that another URL served proves nothing about this one."""
    known = look_up(cache, url, None).known
    return known or Artifact(
        url,
        problem=FetchProblem(
            "not-verified",
            "not verified: --offline and no cached download of this location",
            "run once with network (or with the cache of a run that had it) to check the file",
        ),
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with _open_regular(path) as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading; OSError for anything else: a FIFO would block the
    read forever, a device would never end. A symlink is not followed (ELOOP): it could
    lead anywhere."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file", str(path))
        return open(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_record(path: Path) -> UrlRecord | None:
    try:
        with _open_regular(path) as stream:
            data = stream.read(_RECORD_LIMIT + 1)
        if len(data) > _RECORD_LIMIT:
            return None
        record = UrlRecord(**json.loads(data.decode("utf-8")))
    except (OSError, ValueError, TypeError, RecursionError):  # `[[[...`: see _hashed_stamp
        return None
    return record if _well_formed(record) else None


def _touch(path: Path) -> None:
    """Mark an object used now (atime only: many mounts do not update it on read)."""
    with contextlib.suppress(OSError):
        os.utime(path, ns=(time.time_ns(), os.lstat(path).st_mtime_ns), follow_symlinks=False)


def _well_formed(record: UrlRecord) -> bool:
    return (
        isinstance(record.sha256, str)
        and _DIGEST.fullmatch(record.sha256) is not None
        and isinstance(record.size, int)
        and isinstance(record.final_url, str)
        and all(
            value is None or isinstance(value, str)
            for value in (record.content_type, record.etag, record.last_modified)
        )
        and _header_value(record.etag) == record.etag
        and _header_value(record.last_modified) == record.last_modified
        and (
            record.published_sha256 is None
            or _DIGEST.fullmatch(record.published_sha256) is not None
        )
    )


def _header_value(value: str | None) -> str | None:
    return value if isinstance(value, str) and _HEADER_SAFE.fullmatch(value) else None


def _stamp(path: Path) -> tuple[int, int, int, int]:
    """What changes when a file is replaced or written to (ctime even when the writer
    puts the mtime back)."""
    status = path.stat()
    return (status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
