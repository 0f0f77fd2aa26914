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
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rollouts_plugin_lint.model import Artifact, FetchProblem

_DIGEST = re.compile(r"[0-9a-f]{64}")
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
        """The cached file with this sha256, re-hashed now; None when absent or corrupt."""
        if not _DIGEST.fullmatch(digest):
            return None
        path = self.object_path(digest)
        try:
            actual = sha256_file(path)
        except OSError:
            return None
        if actual != digest:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        return path

    def store(self, temporary: Path, digest: str) -> Path:
        """Move a finished download into place under its digest."""
        target = self.object_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        _fsync(temporary)
        os.replace(temporary, target)
        return target

    def record(self, url: str) -> UrlRecord | None:
        try:
            data = json.loads(self._url_path(url).read_text(encoding="utf-8"))
            record = UrlRecord(**data)
        except (OSError, ValueError, TypeError):
            return None
        return record if record.url == url else None

    def remember(self, record: UrlRecord) -> None:
        path = self._url_path(record.url)
        handle, name = tempfile.mkstemp(dir=self.tmp, prefix="url-")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(asdict(record), stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(name, path)

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
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    with path.open("rb") as stream:
        os.fsync(stream.fileno())
