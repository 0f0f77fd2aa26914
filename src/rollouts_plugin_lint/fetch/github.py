"""Ask the GitHub REST API about release download URLs: for one that failed, once per
repository, so the report can say what is true (the tag is `vX`, the asset has another
name, or the repository has no such release); for one that served a file, the sha256
GitHub publishes for that asset (its `digest` field, on assets uploaded since June 2025),
so the checks can tell bytes GitHub never published. Any API trouble (rate limit, no
network, GitHub Enterprise quirks) only drops the hint or the fact, never a finding."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Coroutine, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from rollouts_plugin_lint.fetch.client import controller_decodes, decoded_body
from rollouts_plugin_lint.model import ReleaseLookup

_RELEASE_DOWNLOAD = re.compile(
    r"/(?P<owner>[^/]+)/(?P<repo>[^/]+)/releases/download/(?P<tag>.+)/(?P<asset>[^/]+)"
)
GITHUB_WEB_HOSTS = {"github.com", "www.github.com"}
_PAGE = 100
_PUBLISHED_DIGEST = re.compile(r"sha256:([0-9a-fA-F]{64})")


def release_url_parts(url: str, server_hosts: set[str]) -> tuple[str, str, str] | None:
    """(owner/repo, tag, asset) of a release download URL on a GitHub server."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in server_hosts:
        return None
    match = _RELEASE_DOWNLOAD.fullmatch(parts.path)
    if not match:
        return None
    if {match["owner"], match["repo"], match["tag"]} & {".", ".."}:
        # No GitHub owner, repository or tag has these names, and in an API path they
        # would move the request (which carries the token) out of /repos/OWNER/REPO.
        return None
    return f"{match['owner']}/{match['repo']}", match["tag"], match["asset"]


# GitHub API requests one run may make, whatever the pull request names: each failing
# release URL could cost up to three (listing, tag, repository), each served one a release
# by tag, and a hint is not worth spending the token's rate limit on a hundred repositories.
MAX_API_REQUESTS = 30
# The most of one API answer that is read (decoded): a listing of 100 releases with dozens
# of assets each and their notes is a few MB. A larger answer drops its lookup, so a server
# cannot make the run hold hundreds of MB per request.
MAX_API_BODY = 8 * 1024 * 1024


class _OutOfBudget(Exception):
    pass


class ReleaseOracle:
    """Looks up releases through the API with one shared client: one listing per repository,
    one answer per tag and per repository, at most MAX_API_REQUESTS requests in all. The
    token goes only with lookups about the workflow's own owner (`token_owner`, from
    GITHUB_REPOSITORY): a pull request names any `owner/repo` it likes, and the token's
    access to private repositories must not answer for it."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_url: str,
        token: str | None,
        timeout: float,
        token_owner: str | None = None,
    ) -> None:
        self.client = client
        self.api_url = api_url.rstrip("/")
        self.headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        self._authorization: str | None = None
        if token and token_owner and urlsplit(self.api_url).scheme == "https":
            self._authorization = f"Bearer {token}"
        self._token_owner = (token_owner or "").lower()
        self.timeout = timeout
        self._answers: dict[str, asyncio.Task[Any]] = {}
        self.requests = 0
        self.budget = MAX_API_REQUESTS

    async def lookup(self, repo: str, tag: str, asset: str) -> ReleaseLookup | None:
        try:
            return await self._lookup(repo, tag, asset)
        except (httpx.HTTPError, ValueError, KeyError, TypeError, OSError, _OutOfBudget):
            return None
        except Exception:  # the address guard, for one: a hint is never worth a failure
            return None

    async def published_sha256(self, repo: str, tag: str, asset: str) -> str | None:
        """The sha256 GitHub publishes for the asset of a release download URL that served
        a file (lowercase hex), or None: no digest published (assets uploaded before June
        2025 have none), or the API did not say."""
        try:
            release = await self._release_for_digest(repo, unquote(tag))
        except Exception:  # as for a hint: a fact the API cannot give is left unknown
            return None
        if release is None:
            return None
        name = unquote(asset)
        for candidate in release.get("assets", ()):
            if isinstance(candidate, Mapping) and candidate.get("name") == name:
                digest = candidate.get("digest")
                match = _PUBLISHED_DIGEST.fullmatch(digest) if isinstance(digest, str) else None
                return match[1].lower() if match else None
        return None

    async def _release_for_digest(self, repo: str, tag: str) -> Mapping[str, Any] | None:
        """The release `tag` exactly as the download URL names it (it served a file): from
        the repository's listing when a failure lookup already asked for it, else by tag.
        One request per repository and tag at most, within the run's budget."""
        if tag in (".", ".."):  # see release_url_parts: the path would leave the release
            return None
        listing_key = f"list {repo}"
        if listing_key in self._answers:
            listing = None
            with contextlib.suppress(Exception):
                listing = await self._answers[listing_key]
            if listing is not None:
                releases, complete = listing
                # A draft may carry a published release's tag (the listing shows drafts to
                # a token with push access); a download URL serves only the published one.
                for release in releases:
                    if (
                        isinstance(release, Mapping)
                        and release.get("tag_name") == tag
                        and not release.get("draft")
                    ):
                        return release
                if complete:
                    return None
        release: Mapping[str, Any] | None = await self._once(
            f"tag {repo} {tag}", self._release_by_tag(repo, tag)
        )
        return release

    async def _lookup(self, repo: str, tag: str, asset: str) -> ReleaseLookup | None:
        listing = await self._once(f"list {repo}", self._list_releases(repo))
        if listing is None:
            exists = await self._once(f"repo {repo}", self._repo_exists(repo))
            if exists is None:
                return None
            return ReleaseLookup(repo, tag, asset, repo_exists=exists)
        releases, complete = listing
        by_tag = {str(r.get("tag_name")): r for r in releases if isinstance(r, Mapping)}
        for candidate in _tag_variants(tag):
            release = by_tag.get(candidate)
            if release is None and not complete:  # an older release than the first page
                release = await self._once(
                    f"tag {repo} {candidate}", self._release_by_tag(repo, candidate)
                )
            if release is not None:
                names = tuple(
                    str(a.get("name")) for a in release.get("assets", []) if isinstance(a, Mapping)
                )
                return ReleaseLookup(repo, tag, asset, True, candidate, names)
        recent = tuple(
            str(r.get("tag_name"))
            for r in releases
            if isinstance(r, Mapping) and not r.get("draft") and r.get("tag_name")
        )[:5]
        return ReleaseLookup(repo, tag, asset, True, None, (), recent)

    async def _once(self, key: str, question: Coroutine[Any, Any, Any]) -> Any:
        """Every question is asked once per run; later askers share the answer."""
        if key in self._answers:
            question.close()
        else:
            self._answers[key] = asyncio.ensure_future(question)
        return await self._answers[key]

    async def _get(self, path: str, repo: str, read: bool = True) -> tuple[httpx.Response, Any]:
        """The response, and its body as JSON when the status is 200 and `read` (else None).
        The body is read decoded up to MAX_API_BODY bytes; a larger one raises ValueError."""
        if self.requests >= self.budget:
            raise _OutOfBudget
        self.requests += 1
        headers = dict(self.headers)
        if self._authorization and repo.partition("/")[0].lower() == self._token_owner:
            headers["Authorization"] = self._authorization
        url = f"{self.api_url}{path}"
        async with self.client.stream("GET", url, headers=headers, timeout=self.timeout) as answer:
            if answer.status_code != 200 or not read:
                return answer, None
            gzip, undecoded = controller_decodes(answer.headers)
            if undecoded:
                raise ValueError("an API answer in a coding we do not read")
            body = bytearray()
            async for piece in decoded_body(answer, gzip, lambda: MAX_API_BODY - len(body)):
                body.extend(piece)
                if len(body) > MAX_API_BODY:
                    raise ValueError("an API answer larger than MAX_API_BODY")
        return answer, json.loads(bytes(body))

    async def _list_releases(self, repo: str) -> tuple[list[Mapping[str, Any]], bool] | None:
        """The newest releases, and whether they are all of them (one page, no `next`)."""
        path = f"/repos/{_quoted(repo)}/releases?per_page={_PAGE}"
        response, data = await self._get(path, repo)
        if not isinstance(data, list):
            return None
        complete = len(data) < _PAGE and "next" not in response.links
        return [_kept(release) for release in data if isinstance(release, Mapping)], complete

    async def _release_by_tag(self, repo: str, tag: str) -> Mapping[str, Any] | None:
        path = f"/repos/{_quoted(repo)}/releases/tags/{quote(tag, safe='')}"
        _, data = await self._get(path, repo)
        return _kept(data) if isinstance(data, Mapping) else None

    async def _repo_exists(self, repo: str) -> bool | None:
        response, _ = await self._get(f"/repos/{_quoted(repo)}", repo, read=False)
        if response.status_code in (200, 301):
            return True
        if response.status_code == 404:
            return False
        return None  # rate limited, forbidden, ...: we do not know


def _kept(release: Mapping[str, Any]) -> dict[str, Any]:
    """What the lookups read of a release: the run keeps every answer until it ends, and a
    listing's notes, uploaders and URLs are most of its bytes."""
    assets = release.get("assets")
    return {
        "tag_name": release.get("tag_name"),
        "draft": release.get("draft"),
        "assets": [
            {"name": asset.get("name"), "digest": asset.get("digest")}
            for asset in (assets if isinstance(assets, list) else ())
            if isinstance(asset, Mapping)
        ],
    }


def _quoted(repo: str) -> str:
    owner, _, name = repo.partition("/")
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"


def _tag_variants(tag: str) -> list[str]:
    """The tag as written first, then with the leading `v` added or removed."""
    other = tag[1:] if tag.startswith("v") and tag[1:2].isdigit() else f"v{tag}"
    return [tag, other]
