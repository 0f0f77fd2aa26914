"""Fetch every location once, in parallel, into the cache: async httpx with bounded
concurrency. The only package that imports httpx, so offline runs never load it."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rollouts_plugin_lint.model import Artifact, FetchProblem, ProgressCallback
from rollouts_plugin_lint.settings import Settings

if TYPE_CHECKING:
    from rollouts_plugin_lint.fetch.cache import Cache, Lookup

DEFAULT_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class FetchRequest:
    url: str
    pinned: str | None  # a 64-hex sha256 from the configuration, if any


@dataclass
class FetchReport:
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # run-level: the cache, the API
    cache: Cache | None = None

    def trim_cache(self, budget: int) -> None:
        """Once the run is done with its files: evict least recently used objects until
        the cache fits in `budget` bytes."""
        if self.cache is not None:
            self.cache.trim(budget)


def fetch_all(
    requests: Sequence[FetchRequest],
    settings: Settings,
    scratch: Path,
    environ: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
) -> FetchReport:
    environ = os.environ if environ is None else environ
    report = FetchReport()
    unique = list({request.url: request for request in requests}.values())
    if not unique:
        return report
    cache = _open_cache(settings, report)
    report.cache = cache
    if settings.offline:
        # Offline runs must not pay for importing httpx: answer from the cache alone.
        from rollouts_plugin_lint.fetch.cache import offline_artifact

        report.artifacts = {r.url: offline_artifact(cache, r.url) for r in unique}
        return report
    lookups: dict[str, Lookup] = {}
    if cache is not None:
        unpinned = any(r.pinned is None for r in unique)
        lookups = _look_up_all(cache, unique, settings.jobs, import_client=unpinned)
    answers = {url: lookup.known for url, lookup in lookups.items() if _proven(lookup)}
    if len(answers) == len(unique):
        # The cache proves every entry: the downloader would send no request, so neither
        # an event loop nor httpx is needed.
        report.artifacts = {url: artifact for url, artifact in answers.items() if artifact}
        return report
    import asyncio  # here, not above: offline runs never start an event loop

    report.artifacts = asyncio.run(_fetch(unique, settings, cache, scratch, environ, progress))
    if cache is not None and cache.problems:
        report.warnings.append(
            f"the cache directory {settings.cache_dir} could not be written "
            f"({cache.problems[0]}); downloads it could not take were checked from the "
            "run's scratch folder (one that could not be saved at all has its own finding)"
        )
    return report


def _proven(lookup: Lookup) -> bool:
    from rollouts_plugin_lint.fetch.cache import Request

    return lookup.request is Request.NONE and lookup.known is not None


def _look_up_all(
    cache: Cache, requests: Sequence[FetchRequest], jobs: int, import_client: bool
) -> dict[str, Lookup]:
    """What the cache proves about each request, by URL (`look_up`, the one place that
    decides). Objects are re-hashed in worker threads, in parallel (hashlib lets go of the
    GIL), while this thread imports httpx if a request will be sent: that import costs
    about as much as hashing 200 MB. The cache remembers what it verified, so the
    downloader's own look-ups do not hash a file twice; a failure here is left for them
    to meet and report."""
    from rollouts_plugin_lint.fetch.cache import Lookup, Request, look_up

    found: dict[str, Lookup] = {}
    pending = iter(requests)
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                request = next(pending, None)
            if request is None:
                return
            try:
                found[request.url] = look_up(cache, request.url, request.pinned)
            except Exception:
                found[request.url] = Lookup(Request.FULL)

    # Plain threads: concurrent.futures would add its import (and logging's) to every run.
    workers = [threading.Thread(target=work) for _ in range(max(min(jobs, len(requests)), 1))]
    for worker in workers:
        worker.start()
    if import_client:
        importlib.import_module("rollouts_plugin_lint.fetch.client")
    for worker in workers:
        worker.join()
    return found


def _open_cache(settings: Settings, report: FetchReport):  # type: ignore[no-untyped-def]
    from rollouts_plugin_lint.fetch.cache import Cache

    if settings.cache_dir is None:
        return None
    cache = Cache(settings.cache_dir, settings.max_size)
    try:
        cache.prepare()
    except OSError as error:
        report.warnings.append(
            f"the cache directory {settings.cache_dir} is not usable "
            f"({error.strerror or error}); running without a cache"
        )
        return None
    return cache


async def _fetch(
    requests: Sequence[FetchRequest],
    settings: Settings,
    cache: Cache | None,
    scratch: Path,
    environ: Mapping[str, str],
    progress: ProgressCallback | None,
) -> dict[str, Artifact]:
    import asyncio

    from rollouts_plugin_lint.fetch.client import Downloader, FetchOptions, make_client
    from rollouts_plugin_lint.fetch.github import (
        GITHUB_WEB_HOSTS,
        ReleaseOracle,
        release_url_parts,
    )

    options = FetchOptions(
        timeout=settings.timeout,
        max_size=settings.max_size,
        allow_private=settings.allow_private_addresses,
    )
    token = environ.get(settings.github_token_env) or None
    api_url = environ.get("GITHUB_API_URL") or DEFAULT_API_URL
    server_hosts = set(GITHUB_WEB_HOSTS)
    server = urlsplit(environ.get("GITHUB_SERVER_URL", "")).hostname
    if server:
        server_hosts.add(server.lower())
    semaphore = asyncio.Semaphore(settings.jobs)
    finished: dict[str, Artifact] = {}  # downloads done, before any API lookup
    async with make_client(options, settings.jobs) as client:
        downloader = Downloader(client, options, cache, scratch, progress)
        owner = environ.get("GITHUB_REPOSITORY", "").partition("/")[0] or None
        oracle = ReleaseOracle(client, api_url, token, settings.timeout, token_owner=owner)

        async def one(request: FetchRequest) -> Artifact:
            async with semaphore:
                artifact = await downloader.fetch(request.url, request.pinned)
            finished[request.url] = artifact
            parts = release_url_parts(artifact.url, server_hosts)
            if parts is None:
                return artifact
            if artifact.status is not None and artifact.status >= 400:
                lookup = await oracle.lookup(*parts)
                if lookup is not None:
                    artifact = replace(artifact, release=lookup)
            elif artifact.downloaded and artifact.path and artifact.published_sha256 is None:
                # Not already known from the URL's record (a 304, a proven pin): ask.
                published = await oracle.published_sha256(*parts)
                if published is not None:
                    artifact = replace(artifact, published_sha256=published)
                    if cache is not None and artifact.sha256 is not None:
                        cache.remember_published(artifact.url, artifact.sha256, published)
            return artifact

        tasks = {request.url: asyncio.ensure_future(one(request)) for request in requests}
        # One deadline for the whole phase: however the servers trickle, stall or retry, and
        # whatever the config sets, the run ends.
        _, late = await asyncio.wait(tasks.values(), timeout=settings.deadline)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=5)  # let each remove its partial file
    results: dict[str, Artifact] = {}
    for url, task in tasks.items():
        if task.done() and not task.cancelled():
            results[url] = task.result()
        else:
            results[url] = finished.get(url) or Artifact(url, problem=_out_of_time(settings))
    return results


def _out_of_time(settings: Settings) -> FetchProblem:
    return FetchProblem(
        "unreachable",
        f"not finished when the run's deadline of {settings.deadline:g} s for all downloads "
        "was reached (other downloads were slow too, or this server sends too slowly)",
        "raise --deadline (at most 3600 s) if these servers are only slow",
    )
