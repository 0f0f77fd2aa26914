"""Ask the GitHub REST API about a release download URL that failed, once per repository,
so the report can say what is true: the tag is `vX`, the asset has another name, or the
repository has no such release. Any API trouble (rate limit, no network, GitHub
Enterprise quirks) only drops the hint, never the finding."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from rollouts_plugin_lint.model import ReleaseLookup

_RELEASE_DOWNLOAD = re.compile(
    r"/(?P<owner>[^/]+)/(?P<repo>[^/]+)/releases/download/(?P<tag>.+)/(?P<asset>[^/]+)"
)
GITHUB_WEB_HOSTS = {"github.com", "www.github.com"}
_PAGE = 100


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
# release URL could cost up to three (listing, tag, repository), and a hint is not worth
# spending the token's rate limit on a hundred repositories.
MAX_API_REQUESTS = 30


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

    async def _get(self, path: str, repo: str) -> httpx.Response:
        if self.requests >= self.budget:
            raise _OutOfBudget
        self.requests += 1
        headers = dict(self.headers)
        if self._authorization and repo.partition("/")[0].lower() == self._token_owner:
            headers["Authorization"] = self._authorization
        return await self.client.get(f"{self.api_url}{path}", headers=headers, timeout=self.timeout)

    async def _list_releases(self, repo: str) -> tuple[list[dict[str, Any]], bool] | None:
        """The newest releases, and whether they are all of them (one page, no `next`)."""
        response = await self._get(f"/repos/{_quoted(repo)}/releases?per_page={_PAGE}", repo)
        if response.status_code != 200:
            return None
        data = response.json()
        if not isinstance(data, list):
            return None
        complete = len(data) < _PAGE and "next" not in response.links
        return data, complete

    async def _release_by_tag(self, repo: str, tag: str) -> dict[str, Any] | None:
        path = f"/repos/{_quoted(repo)}/releases/tags/{quote(tag, safe='')}"
        response = await self._get(path, repo)
        if response.status_code != 200:
            return None
        data = response.json()
        return data if isinstance(data, dict) else None

    async def _repo_exists(self, repo: str) -> bool | None:
        response = await self._get(f"/repos/{_quoted(repo)}", repo)
        if response.status_code in (200, 301):
            return True
        if response.status_code == 404:
            return False
        return None  # rate limited, forbidden, ...: we do not know


def _quoted(repo: str) -> str:
    owner, _, name = repo.partition("/")
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"


def _tag_variants(tag: str) -> list[str]:
    """The tag as written first, then with the leading `v` added or removed."""
    other = tag[1:] if tag.startswith("v") and tag[1:2].isdigit() else f"v{tag}"
    return [tag, other]
