"""Download one location the way the controller would, and keep what it served.

Redirects are followed by hand (at most 10, like Go's client) so that every hop passes
the address guard and credentials never follow a change of host. Bodies stream to disk
while hashing, so memory stays flat whatever the size. Connection failures, 429 and 5xx
are retried with backoff (honouring Retry-After); other statuses are answers, not
accidents, and are never retried.
"""

from __future__ import annotations

import contextlib
import email.utils
import errno
import hashlib
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import anyio
import httpx

from rollouts_plugin_lint import __version__
from rollouts_plugin_lint.fetch.cache import (
    Cache,
    Lookup,
    Request,
    UrlRecord,
    look_up,
    offline_artifact,
)
from rollouts_plugin_lint.fetch.guard import (
    BlockedAddress,
    GuardedBackend,
    Resolver,
    describe,
    is_public,
    system_resolver,
)
from rollouts_plugin_lint.model import Artifact, FetchProblem, ProgressCallback, Severity
from rollouts_plugin_lint.printable import one_line

USER_AGENT = f"rollouts-plugin-lint/{__version__} (+https://github.com/rollouts-plugin-lint)"
MAX_REDIRECTS = 10
# What an error body's verdict needs: its title, the API's message or its first words,
# which error pages (GitHub's bare `Not Found`, S3 and GCS XML, JSON APIs, sign-in pages)
# put in their first few hundred bytes. One disk block each: 2,000 failing locations kept
# 126 MB of scratch at 64 KiB each.
ERROR_BODY_BYTES = 4 * 1024
_REDIRECTS = {301, 302, 303, 307, 308}
_RETRYABLE = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class FetchOptions:
    timeout: float = 30.0
    max_size: int = 512 * 1024 * 1024
    allow_private: bool = False
    offline: bool = False
    attempts: int = 3
    backoff: float = 0.5  # seconds before the 2nd attempt; doubles after
    max_retry_after: float = 30.0
    resolver: Resolver = system_resolver
    deadline_seconds: float | None = None  # None: ten times the timeout, at least 60 s

    @property
    def deadline(self) -> float:
        """Wall-clock bound for one download, retries included: a trickling server cannot
        hold us forever, nor three times as long by resetting just before the end."""
        if self.deadline_seconds is not None:
            return self.deadline_seconds
        return max(self.timeout * 10, 60.0)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with our network backend in its connection pool (a direct pool,
    or a proxy's). httpx has no public hook for a backend; the pool's is swapped."""

    def __init__(
        self, backend: GuardedBackend, proxy: httpx.URL | None = None, **kwargs: object
    ) -> None:
        super().__init__(http1=True, http2=False, proxy=proxy, **kwargs)  # type: ignore[arg-type]
        self._pool._network_backend = backend
        self.proxy = proxy


def _proxy_mounts(
    options: FetchOptions, limits: httpx.Limits
) -> dict[str, httpx.AsyncBaseTransport | None]:
    """HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY, as httpx reads them (it ignores them
    once a client has its own transport). A proxy is trusted infrastructure, often on a
    private address, so its own host is allowed; every hop's target is still checked by
    `Downloader._check_host` before the request is sent through it, and must resolve here:
    the proxy could reach internal names this runner cannot even look up."""
    from httpx._utils import get_environment_proxies

    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for pattern, proxy in get_environment_proxies().items():
        if proxy is None:
            mounts[pattern] = None  # NO_PROXY: the direct transport
            continue
        url = httpx.URL(proxy)
        if url.scheme not in ("http", "https"):
            continue  # socks needs an extra package; such a proxy is not used
        backend = GuardedBackend(options.allow_private, options.resolver, [url.host])
        mounts[pattern] = _GuardedTransport(backend, limits=limits, trust_env=True, proxy=url)
    return mounts


def make_client(options: FetchOptions, jobs: int) -> httpx.AsyncClient:
    backend = GuardedBackend(options.allow_private, options.resolver)
    limits = httpx.Limits(max_connections=max(jobs, 1) * 2, max_keepalive_connections=jobs)
    return httpx.AsyncClient(
        transport=_GuardedTransport(backend, limits=limits, trust_env=True),
        mounts=_proxy_mounts(options, limits),
        timeout=httpx.Timeout(options.timeout),
        # Go's client asks for gzip only and decodes only that (see `_GzipBody`); httpx's
        # own decoding is never used: the body is read raw.
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"},
        follow_redirects=False,
        trust_env=True,
    )


# How much one call to the gzip decoder may produce: memory stays flat whatever a few
# bytes of input inflate to.
_INFLATE_STEP = 1024 * 1024


class _GzipBody:
    """The controller's decoding, done by hand and bounded. Go's transport decodes a body
    only when it asked for gzip itself and the answer's Content-Encoding is exactly `gzip`,
    case-insensitively (net/http/transport.go, go1.27.3: `rc.addedGzip &&
    ascii.EqualFold(resp.Header.Get("Content-Encoding"), "gzip")`, unchanged since Go 1);
    any other value, stacked codings included, is saved as it came. compress/gzip reads
    concatenated members one after another, so this does too."""

    def __init__(self) -> None:
        self._member = zlib.decompressobj(wbits=31)
        self._fed = False  # the current member has had input

    def decode(self, data: bytes, room: int) -> Iterator[bytes]:
        """The decoded bytes of `data`, in pieces; stops once more than `room` came out, so
        no piece ever holds more than what --max-size still allows (plus one byte)."""
        while data or self._fed:
            self._fed = self._fed or bool(data)
            step = max(min(room + 1, _INFLATE_STEP), 1)
            piece = self._member.decompress(data, step)
            if piece:
                room -= len(piece)
                yield piece
                if room < 0:
                    return
            if self._member.eof:
                data = self._member.unused_data
                self._member = zlib.decompressobj(wbits=31)
                self._fed = False
                continue
            data = self._member.unconsumed_tail
            if not data and len(piece) < step:
                return

    def finish(self) -> None:
        if self._fed:
            raise zlib.error("the gzip stream ends before its last member does")


def controller_decodes(headers: httpx.Headers) -> tuple[bool, str | None]:
    """(decode as gzip, the coding left undecoded): what Go's client does with this answer."""
    codings = headers.get_list("content-encoding")
    first = codings[0].strip() if codings else ""
    if first.lower() == "gzip":
        return True, None
    # The server chose these bytes: shown in a message, so made printable and short.
    return False, one_line(", ".join(codings), 80) or None


async def decoded_body(
    stream: httpx.Response, gzip: bool, room: Callable[[], int]
) -> AsyncIterator[bytes]:
    """The body as the controller writes it to disk: raw, or gunzipped, in bounded pieces."""
    body = _GzipBody() if gzip else None
    async for chunk in stream.aiter_raw():
        if body is None:
            yield chunk
            continue
        for piece in body.decode(chunk, room()):
            yield piece
    if body is not None:
        body.finish()


class _Failed(Exception):
    def __init__(self, problem: FetchProblem, retryable: bool = False, wait: float = 0.0):
        super().__init__(problem.message)
        self.problem = problem
        self.retryable = retryable
        self.wait = wait


@dataclass
class _Response:
    url: str
    status: int
    headers: httpx.Headers
    requests: int


class Downloader:
    def __init__(
        self,
        client: httpx.AsyncClient,
        options: FetchOptions,
        cache: Cache | None,
        scratch: Path,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.cache = cache
        self.scratch = scratch
        self.progress = progress

    async def fetch(self, url: str, pinned: str | None = None) -> Artifact:
        if self.options.offline:
            return offline_artifact(self.cache, url)
        lookup = look_up(self.cache, url, pinned)
        if lookup.request is Request.NONE and lookup.known is not None:
            return lookup.known
        requests = 0
        wait = 0.0
        try:
            with anyio.fail_after(self.options.deadline):  # one deadline for every attempt
                for attempt in range(1, self.options.attempts + 1):
                    if wait:
                        await anyio.sleep(wait)
                    try:
                        final = attempt == self.options.attempts
                        artifact = await self._attempt(url, lookup, final)
                        return _with_requests(artifact, requests + artifact.requests)
                    except _Failed as failure:
                        requests += 1
                        if not failure.retryable or attempt == self.options.attempts:
                            return Artifact(url, problem=failure.problem, requests=requests)
                        wait = failure.wait or self.options.backoff * 2 ** (attempt - 1)
        except TimeoutError:
            return Artifact(
                url,
                problem=FetchProblem(
                    "unreachable",
                    f"the download did not finish within {self.options.deadline:.0f} s "
                    "(the server sends too slowly or stalls)",
                ),
                requests=requests + 1,
            )
        raise AssertionError("unreachable: the loop returns")  # pragma: no cover

    async def _attempt(self, url: str, lookup: Lookup, final: bool) -> Artifact:
        headers = lookup.conditional_headers()
        response, stream = await self._open(url, headers, final)
        async with _closing(stream):
            if response.status == 304 and headers and lookup.known is not None:
                return _with_requests(lookup.known, response.requests)
            if response.status < 200 or response.status >= 400:
                return await self._error_response(url, response, stream)
            return await self._save(url, response, stream)

    async def _open(
        self, url: str, extra: Mapping[str, str], final: bool
    ) -> tuple[_Response, httpx.Response]:
        """Send the request and follow redirects; returns the first non-redirect response.
        429 and 5xx are retried by the caller, except on the final attempt, where they are
        the answer."""
        current = url
        for hop in range(MAX_REDIRECTS + 1):
            parts = urlsplit(current)
            port = parts.port or _default_port(parts.scheme)
            await self._check_host(parts.hostname or "", port, self._proxy_for(current))
            try:
                request = self.client.build_request("GET", current, headers=extra)
                response = await self.client.send(request, stream=True)
            except BlockedAddress as blocked:
                raise _Failed(_blocked(current, blocked.host, blocked.address)) from None
            except httpx.TransportError as error:
                raise _Failed(_transport_problem(current, error), retryable=True) from None
            except httpx.InvalidURL as error:
                raise _Failed(FetchProblem("unreachable", f"invalid URL: {error}")) from None
            location = response.headers.get("location")
            if response.status_code in _REDIRECTS and location:
                await response.aclose()
                following = urljoin(current, location)
                if urlsplit(following).scheme not in ("http", "https"):
                    raise _Failed(
                        FetchProblem(
                            "unreachable",
                            f"{current} redirects to a non-http URL: {_short(following)}",
                        )
                    )
                current = following
                continue
            if response.status_code in _RETRYABLE and not final:
                await response.aclose()
                raise _Failed(
                    FetchProblem("download-failed", f"{response.status_code} at {current}"),
                    retryable=True,
                    wait=self._retry_after(response.headers.get("retry-after")),
                )
            return _Response(current, response.status_code, response.headers, hop + 1), response
        raise _Failed(
            FetchProblem(
                "unreachable",
                f"more than {MAX_REDIRECTS} redirects (a loop?), last at {_short(current)}; the "
                "controller gives up after 10 too",
            )
        )

    def _proxy_for(self, url: str) -> httpx.URL | None:
        """The proxy this URL would be sent through (HTTP(S)_PROXY, NO_PROXY), if any."""
        try:
            transport = self.client._transport_for_url(httpx.URL(url))
        except httpx.InvalidURL:
            return None  # sending it fails and says so
        return getattr(transport, "proxy", None)

    async def _check_host(self, host: str, port: int, proxy: httpx.URL | None) -> None:
        """Refuse a hop before sending anything. The network backend checks again on the
        address it connects to; this check also covers hops that go through a proxy, where
        a name must resolve here, to public addresses only: the proxy resolves it itself,
        and could reach what this runner cannot check (metadata.google.internal)."""
        if self.options.allow_private or not host:
            return
        try:
            addresses = await self.options.resolver(host, port)
        except OSError as error:
            if proxy is None:
                return  # the connect resolves it again, fails and says so
            raise _Failed(_unresolved_through_proxy(host, proxy, str(error))) from None
        if not addresses and proxy is not None:
            raise _Failed(_unresolved_through_proxy(host, proxy, "no addresses"))
        for address in addresses:
            if not is_public(address):
                raise _Failed(_blocked(f"{host}", host, address))

    def _retry_after(self, value: str | None) -> float:
        if not value:
            return 0.0
        try:
            seconds = float(value)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if value else None
            seconds = parsed.timestamp() - time.time() if parsed else 0.0
        return min(max(seconds, 0.0), self.options.max_retry_after)

    async def _error_response(
        self, url: str, response: _Response, stream: httpx.Response
    ) -> Artifact:
        """Keep the start of an error body: it often says what is wrong. The status is the
        verdict; a body that cannot be saved (a full disk) only loses what it would add."""
        target: Path | None = self.scratch / hashlib.sha256(url.encode()).hexdigest()
        written = 0
        gzip, _ = controller_decodes(response.headers)
        body = decoded_body(stream, gzip, lambda: ERROR_BODY_BYTES - written)
        async with contextlib.aclosing(body):
            try:
                with target.open("wb") as out, contextlib.suppress(httpx.HTTPError, zlib.error):
                    async for chunk in body:
                        out.write(chunk[: ERROR_BODY_BYTES - written])
                        written += len(chunk)
                        if written >= ERROR_BODY_BYTES:
                            break
            except OSError:
                target, written = None, 0
        return Artifact(
            url,
            final_url=response.url,
            status=response.status,
            size=min(written, ERROR_BODY_BYTES),
            path=target,
            content_type=response.headers.get("content-type"),
            requests=response.requests,
        )

    async def _save(self, url: str, response: _Response, stream: httpx.Response) -> Artifact:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.options.max_size:
            raise _Failed(_too_large(url, int(declared), declared=True))
        spool = _Spool(self.cache, self.scratch / _temp_name(url))
        digest = hashlib.sha256()
        size = 0
        gzip, undecoded = controller_decodes(response.headers)
        # Go drops Content-Length when it decodes: the decoded size is not known.
        total = int(declared) if declared and declared.isdigit() and not gzip else None
        body = decoded_body(stream, gzip, lambda: self.options.max_size - size)
        try:
            spool.open()
            try:
                async with contextlib.aclosing(body):
                    async for chunk in body:
                        size += len(chunk)
                        if size > self.options.max_size:
                            raise _Failed(_too_large(url, size, declared=False))
                        digest.update(chunk)
                        spool.write(chunk)
                        if self.progress is not None:
                            self.progress(url, size, total)
            except httpx.TransportError as error:
                problem = _transport_problem(response.url, error, received=size)
                raise _Failed(problem, retryable=True) from None
            except zlib.error as error:
                raise _Failed(
                    FetchProblem(
                        "unreachable",
                        "the body does not decode as its Content-Encoding (gzip) says "
                        f"({error}); the controller's download fails the same way",
                    )
                ) from None
            sha256 = digest.hexdigest()
            path = spool.keep(
                UrlRecord(
                    url=url,
                    sha256=sha256,
                    size=size,
                    final_url=response.url,
                    content_type=response.headers.get("content-type"),
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                )
            )
        except BaseException:
            spool.discard()
            raise
        return Artifact(
            url,
            final_url=response.url,
            status=response.status,
            sha256=sha256,
            size=size,
            path=path,
            content_type=response.headers.get("content-type"),
            requests=response.requests,
            undecoded_encoding=undecoded,
        )


class _Spool:
    """Where a download's bytes go while they arrive: the cache's temporary folder, and
    when the cache cannot take them (a full disk, a quota, a broken folder) the run's
    scratch folder, the bytes written so far moved along. When nothing can take them, the
    download fails with a finding that names the local error: the run goes on. Writes are
    unbuffered so that what reached the disk is known to the byte."""

    def __init__(self, cache: Cache | None, scratch: Path) -> None:
        self.cache = cache
        self.scratch = scratch
        self.path: Path | None = None
        self._file: BinaryIO | None = None
        self._stored = False  # the path is the cache's object now, not ours to delete

    def open(self) -> None:
        if self.cache is not None:
            try:
                self.path = self.cache.temporary_file()
                self._file = open(self.path, "wb", buffering=0)  # noqa: SIM115
                return
            except OSError as error:
                self._cache_failed(error)
                if self.path is not None:
                    with contextlib.suppress(OSError):
                        self.path.unlink()
        self._open_scratch()

    def write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            assert self._file is not None
            try:
                view = view[_write_some(self._file, view) :]
            except OSError as error:
                if self.cache is None:
                    raise _unsaved(error) from None
                self._cache_failed(error)
                self._move_to_scratch()

    def keep(self, record: UrlRecord) -> Path:
        """Close the file; store it in the cache under its digest when the cache still
        takes it, else keep it in the scratch folder."""
        self._close()
        assert self.path is not None
        if self.cache is not None:
            try:
                stored = self.cache.store(self.path, record.sha256)
            except OSError as error:
                self._cache_failed(error)
                self._move_to_scratch()
                self._close()
                return self.path
            self.path, self._stored = stored, True
            try:
                self.cache.remember(record)
            except OSError as error:
                self.cache.note_problem(error)  # the file is stored; only the record is lost
        return self.path

    def discard(self) -> None:
        file, self._file = self._file, None
        with contextlib.suppress(OSError):
            if file is not None:
                file.close()
            if self.path is not None and not self._stored:
                self.path.unlink()

    def _cache_failed(self, error: OSError) -> None:
        assert self.cache is not None
        self.cache.note_problem(error)
        self.cache = None

    def _open_scratch(self) -> None:
        try:
            self._file = open(self.scratch, "wb", buffering=0)  # noqa: SIM115
        except OSError as error:
            raise _unsaved(error) from None
        self.path = self.scratch

    def _move_to_scratch(self) -> None:
        """Carry the bytes written so far from the cache's temporary file to the scratch
        folder, and go on writing there."""
        partial = self.path
        self._close()
        self._open_scratch()
        assert partial is not None and self._file is not None
        try:
            with open(partial, "rb") as source:
                while block := source.read(1024 * 1024):
                    view = memoryview(block)
                    while view:
                        view = view[_write_some(self._file, view) :]
        except OSError as error:
            raise _unsaved(error) from None
        finally:
            with contextlib.suppress(OSError):
                partial.unlink()

    def _close(self) -> None:
        """A write error reported only at close leaves bytes of unknown worth: nothing is
        kept."""
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError as error:
                raise _unsaved(error) from None


def _write_some(file: BinaryIO, view: memoryview) -> int:
    count = file.write(view)
    if not count:  # a regular file takes at least a byte, or raises
        raise OSError(errno.EIO, "the file system took no bytes")
    return count


def _unsaved(error: OSError) -> _Failed:
    reason = error.strerror or str(error) or type(error).__name__
    return _Failed(
        FetchProblem(
            "not-verified",
            f"the download could not be saved on this machine: {reason}; nothing is known "
            "about the file",
            "free some disk space (or point --cache-dir elsewhere) and run again",
            severity=Severity.WARNING,
        )
    )


@contextlib.asynccontextmanager
async def _closing(stream: httpx.Response):  # type: ignore[no-untyped-def]
    try:
        yield stream
    finally:
        await stream.aclose()


def _with_requests(artifact: Artifact, requests: int) -> Artifact:
    return replace(artifact, requests=requests)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _temp_name(url: str) -> str:
    return "download-" + hashlib.sha256(url.encode()).hexdigest()


def _short(url: str, limit: int = 160) -> str:
    return url if len(url) <= limit else url[: limit - 3] + "..."


def _blocked(url: str, host: str, address: str) -> FetchProblem:
    return FetchProblem(
        "blocked-address",
        f"not fetched: {host} resolves to {address}, {describe(address)}; pull-request "
        "authors choose these URLs and CI runners can reach internal services",
        "for an internal mirror, run with --allow-private-addresses",
    )


def _unresolved_through_proxy(host: str, proxy: httpx.URL, why: str) -> FetchProblem:
    return FetchProblem(
        "blocked-address",
        f"not fetched: {host} does not resolve here ({one_line(why, 100)}), and the request "
        f"would go through the proxy {proxy.host}:{proxy.port or _default_port(proxy.scheme)}, "
        "which could reach internal names that cannot be checked from here",
        "if this runner resolves public names only through its proxy, run with "
        "--allow-private-addresses",
    )


def _too_large(url: str, size: int, declared: bool) -> FetchProblem:
    what = f"declares {size:,} bytes" if declared else f"sent more than {size - 1:,} bytes"
    return FetchProblem(
        "too-large",
        f"the download {what}, over the --max-size limit; plugins are tens of MB",
        "check the URL, or raise --max-size",
    )


# Every transport failure is this run's own network: it proves nothing about the location.
_OWN_NETWORK = (
    "this is the linter's own network failing, and says nothing about whether the "
    "controller can download the plugin: check this machine's DNS, firewall and proxy "
    "(HTTPS_PROXY, HTTP_PROXY, NO_PROXY), or run with --offline (check from the cache) or "
    "--lenient (network trouble is a warning)"
)


def _transport_problem(url: str, error: httpx.TransportError, received: int = 0) -> FetchProblem:
    text = str(error) or type(error).__name__
    parts = urlsplit(url)
    host = parts.hostname or url
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    address = f"{host} port {port}" if port else host
    hint = _OWN_NETWORK
    if isinstance(error, httpx.TimeoutException):
        message = f"timed out talking to {address} ({type(error).__name__})"
    elif received:
        message = (
            f"the connection to {address} broke after {received:,} bytes of the body ({text}); "
            "a partial file is never used"
        )
    elif isinstance(error, httpx.ConnectError):
        lowered = text.lower()
        if "ssl" in lowered or "certificate" in lowered:
            message = f"TLS with {address} failed: {text}"
            hint = (
                "if the server's own certificate is at fault, the controller fails the same "
                "way; if a proxy on this machine intercepts TLS, " + _OWN_NETWORK
            )
        elif "resolve" in lowered or "name or service" in lowered:
            # The guard's own message already names the host.
            said = lowered.startswith("cannot resolve")
            message = text if said else f"cannot resolve {host}: {text}"
        else:
            message = f"cannot connect to {address}: {text}"
    elif isinstance(error, httpx.RemoteProtocolError):
        message = f"{address} broke the HTTP exchange: {text}"
    else:
        message = f"network error with {address}: {text}"
    return FetchProblem("unreachable", message[:300], hint)


__all__ = ["Downloader", "FetchOptions", "make_client"]
