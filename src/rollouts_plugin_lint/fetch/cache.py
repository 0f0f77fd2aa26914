"""A content-addressed download cache that parallel runs can share.

    <root>/objects/ab/abcdef...   the file, named by its sha256
    <root>/urls/<sha256(url)>.json what a URL served last time: digest, ETag, Last-Modified
    <root>/tmp/                    downloads in flight (same filesystem, so renames are atomic)

Every write goes to a temporary file first and is renamed into place, so a concurrent
reader (pre-commit runs hooks in parallel) never sees half a file, and a process killed
mid-download leaves only a temporary file behind. Every read re-hashes the object before
it is trusted; a file that does not match its name is deleted.
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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import BinaryIO

from rollouts_plugin_lint.model import Artifact, FetchProblem

_DIGEST = re.compile(r"[0-9a-f]{64}")
_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")  # what can be sent back in a request header
_STALE_TEMP_SECONDS = 24 * 3600


@dataclass(frozen=True)
class UrlRecord:
    url: str
    sha256: str
    size: int
    final_url: str
    content_type: str | None
    etag: str | None
    last_modified: str | None


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root
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

    def verified_object(self, digest: str) -> Path | None:
        """The cached file with this sha256, re-hashed (once per run: while its inode,
        size, mtime and ctime stay what they were when it was hashed); None when absent
        or corrupt. Safe to call from several threads."""
        if not _DIGEST.fullmatch(digest):
            return None
        path = self.object_path(digest)
        try:
            # Taken before hashing: a file changed after this point no longer matches it.
            stamp = _stamp(path)
            if self._verified.get(digest) == stamp:
                return path
            actual = sha256_file(path)
        except OSError:
            return None
        if actual != digest:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        self._verified[digest] = stamp
        return path

    def store(self, temporary: Path, digest: str) -> Path:
        """Move a finished download into place under its digest."""
        target = self.object_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        _fsync(temporary)
        os.replace(temporary, target)
        return target

    def record(self, url: str) -> UrlRecord | None:
        """What `url` served last time; None when absent or not a record we wrote (the
        cache folder may be shared, restored from a CI cache, or damaged)."""
        try:
            with _open_regular(self._url_path(url)) as stream:
                data = json.loads(stream.read().decode("utf-8"))
            record = UrlRecord(**data)
        except (OSError, ValueError, TypeError):
            return None
        return record if record.url == url and _well_formed(record) else None

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
                json.dump(asdict(record), stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise

    def note_problem(self, error: OSError) -> None:
        self.problems.append(f"{error.strerror or error}: {error.filename or self.root}")

    def _url_path(self, url: str) -> Path:
        name = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
        return self.urls / f"{name}.json"

    def _sweep_stale_temporaries(self) -> None:
        """Leftovers of killed runs. Young files may belong to a run in progress."""
        cutoff = time.time() - _STALE_TEMP_SECONDS
        with contextlib.suppress(OSError):
            for leftover in self.tmp.iterdir():
                with contextlib.suppress(OSError):
                    if leftover.stat().st_mtime < cutoff:
                        leftover.unlink()


def cached_artifact(cache: Cache | None, url: str, pinned: str | None) -> Artifact | None:
    """The verified cached download for `url`: by the pinned digest when there is one,
    else by what the URL served last time. Costs no request."""
    if cache is None:
        return None
    record = cache.record(url)
    digest = pinned or (record.sha256 if record else None)
    if digest is None:
        return None
    path = cache.verified_object(digest)
    if path is None:
        return None
    same = record is not None and record.sha256 == digest
    return Artifact(
        url,
        final_url=record.final_url if record and same else None,
        status=200,
        sha256=digest,
        size=path.stat().st_size,
        path=path,
        content_type=record.content_type if record and same else None,
        from_cache=True,
    )


def offline_artifact(cache: Cache | None, url: str, pinned: str | None) -> Artifact:
    return cached_artifact(cache, url, pinned) or Artifact(
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
    read forever, a device (a link to /dev/zero) would never end."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file", str(path))
        return open(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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
    )


def _header_value(value: str | None) -> str | None:
    return value if isinstance(value, str) and _HEADER_SAFE.fullmatch(value) else None


def _stamp(path: Path) -> tuple[int, int, int, int]:
    """What changes when a file is replaced or written to (ctime even when the writer
    puts the mtime back)."""
    status = path.stat()
    return (status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def _fsync(path: Path) -> None:
    with path.open("rb") as stream:
        os.fsync(stream.fileno())
