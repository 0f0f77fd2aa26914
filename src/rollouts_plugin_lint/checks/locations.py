"""What a `location` string means to the controller: Go's `url.ParseRequestURI`, the
downloader's scheme switch and `file://` resolution, and what an asset name says about
its platform. Pure functions over strings."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote

# The controller's working directory (Dockerfile WORKDIR) and download folder.
CONTROLLER_HOME = "/home/argo-rollouts"
PLUGIN_BIN = f"{CONTROLLER_HOME}/plugin-bin"


class LocationError(ValueError):
    """The error text Go would give, without the `parse "..."` prefix."""


@dataclass(frozen=True)
class Location:
    scheme: str  # lowercased, as Go does
    userinfo: str | None
    host: str  # including the port
    path: str  # percent-decoded
    raw_path: str
    query: str
    opaque: str

    @property
    def hostname(self) -> str:
        host = self.host
        if host.startswith("["):
            return host[1 : host.find("]")]
        return host.rsplit(":", 1)[0] if ":" in host else host


_SCHEME_CHARS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_PORT = re.compile(r":[0-9]*")
_HOST_OK = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:\[\]<>\"%]*")
_USERINFO_OK = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:%@]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def parse_request_uri(raw: str) -> Location:
    """Go's `url.ParseRequestURI`, raising `LocationError` with Go's message."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise LocationError("net/url: invalid control character in URL")
    if raw == "":
        raise LocationError("empty url")
    scheme, rest = "", raw
    head = _SCHEME_CHARS.match(raw)
    if raw.startswith(":"):
        raise LocationError("missing protocol scheme")
    if head and raw[head.end() : head.end() + 1] == ":":
        scheme, rest = raw[: head.end()].lower(), raw[head.end() + 1 :]
    if rest.endswith("?") and rest.count("?") == 1:
        rest, query = rest[:-1], ""
    else:
        rest, _, query = rest.partition("?")
    if not rest.startswith("/"):
        if scheme:
            return Location(scheme, None, "", "", "", query, rest)
        raise LocationError("invalid URI for request")
    userinfo, host = None, ""
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        if "@" in authority:
            userinfo, _, host = authority.rpartition("@")
            if not _USERINFO_OK.fullmatch(userinfo):
                raise LocationError("net/url: invalid userinfo")
        else:
            host = authority
        _check_host(host)
    if _BAD_ESCAPE.search(rest):
        bad = rest[_BAD_ESCAPE.search(rest).start() :][:3]  # type: ignore[union-attr]
        raise LocationError(f"invalid URL escape {go_quote(bad)}")
    return Location(scheme, userinfo, host, unquote(rest), rest, query, "")


def _check_host(host: str) -> None:
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            raise LocationError("missing ']' in host")
        port = host[end + 1 :]
        if port and not _PORT.fullmatch(port):
            raise LocationError(f"invalid port {go_quote(port)} after host")
        return
    name, colon, port = host.rpartition(":") if ":" in host else (host, "", "")
    if colon and not port.isdigit() and port != "":
        raise LocationError(f"invalid port {go_quote(':' + port)} after host")
    for c in name:
        if c.isascii() and not _HOST_OK.fullmatch(c):
            raise LocationError(f"invalid character {go_quote(c)} in host name")


def go_quote(text: str) -> str:
    """Go's strconv.Quote, which the controller's error messages use."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in escaped) + '"'


def resolve_file_location(location: Location) -> str | None:
    """The absolute path the controller copies a `file:` location from:
    `filepath.Abs(url.Host + url.Path)` in its working directory. None for opaque URLs
    (`file:x`), which resolve to the working directory itself and always fail."""
    if location.opaque:
        return None
    joined = location.host + location.path
    return posixpath.normpath(posixpath.join(CONTROLLER_HOME, joined))


def download_target(name: str) -> str:
    return f"{PLUGIN_BIN}/{name}"


# -- platforms named in asset file names ----------------------------------------------------

_EDGE_BEFORE = r"(?<![a-z0-9])"
_EDGE_AFTER = r"(?![a-z0-9])"
_OS_WORDS = {
    "darwin": r"darwin|macos|osx|mac|apple",
    "windows": r"windows|win64|win32|win",
    "freebsd": r"freebsd",
    "linux": r"linux",
}
_ARCH_WORDS = {
    "amd64": r"amd64|x86[-_]64|x64",
    "arm64": r"arm64|aarch64|armv8",
    "arm": r"armv[567]l?|armhf|armel|arm",
    "386": r"i[3-6]86|386|x86",
    "ppc64le": r"ppc64le",
    "s390x": r"s390x",
    "riscv64": r"riscv64",
}


def _alternatives(words: dict[str, str]) -> re.Pattern[str]:
    return re.compile(
        "|".join(
            f"(?P<{re.sub(r'[^a-z0-9]', '_', 'p' + k)}>{_EDGE_BEFORE}(?:{v}){_EDGE_AFTER})"
            for k, v in words.items()
        )
    )


_OS_PATTERN = _alternatives(_OS_WORDS)
_ARCH_PATTERN = _alternatives(_ARCH_WORDS)
_GROUP_TO_NAME = {re.sub(r"[^a-z0-9]", "_", "p" + k): k for k in [*_OS_WORDS, *_ARCH_WORDS]}


@dataclass(frozen=True)
class AssetPlatform:
    """The OS and CPU an asset name states, with the words that state them."""

    os: str | None
    os_word: str | None
    arch: str | None
    arch_word: str | None


def asset_platform(file_name: str) -> AssetPlatform:
    lowered = file_name.lower()
    os_match = _OS_PATTERN.search(lowered)
    arch_match = _ARCH_PATTERN.search(lowered)
    os_name = _GROUP_TO_NAME[os_match.lastgroup] if os_match and os_match.lastgroup else None
    if os_name is None and lowered.endswith(".exe"):
        os_name = "windows"
    arch_name = (
        _GROUP_TO_NAME[arch_match.lastgroup] if arch_match and arch_match.lastgroup else None
    )
    return AssetPlatform(
        os_name,
        file_name[os_match.start() : os_match.end()] if os_match else None,
        arch_name,
        file_name[arch_match.start() : arch_match.end()] if arch_match else None,
    )


# -- hosting services ---------------------------------------------------------------------

_GITHUB_HOSTS = {"github.com", "www.github.com"}
_BRANCHES = {"main", "master", "develop", "dev", "trunk", "head"}


@dataclass(frozen=True)
class PageProblem:
    message: str
    hint: str | None


def web_page_problem(location: Location) -> PageProblem | None:
    """A GitHub or GitLab URL that serves an HTML page, not the file."""
    host = location.hostname.lower()
    parts = [p for p in location.path.split("/") if p]
    if host in _GITHUB_HOSTS and len(parts) >= 2:
        owner, repo, rest = parts[0], parts[1], parts[2:]
        base = f"https://github.com/{owner}/{repo}"
        if rest[:1] == ["blob"] and len(rest) >= 3:
            raw = f"https://raw.githubusercontent.com/{owner}/{repo}/{'/'.join(rest[1:])}"
            return PageProblem(
                "this is the GitHub page that shows a file (`/blob/`), not the file: the "
                "controller saves the HTML and fails with `exec format error`",
                f"location: {raw}",
            )
        if rest[:1] == ["tree"]:
            return PageProblem(
                "this is a GitHub folder page (`/tree/`), not a file: the controller saves the "
                "HTML and fails with `exec format error`",
                None,
            )
        if rest[:2] == ["releases", "tag"] and len(rest) >= 3:
            tag = "/".join(rest[2:])
            return PageProblem(
                f"this is the GitHub release page of `{tag}`, not a download: the controller "
                "saves the HTML and fails with `exec format error`",
                f"location: {base}/releases/download/{tag}/<asset-name-for-linux-amd64>",
            )
        if rest in ([], ["releases"], ["releases", "latest"]):
            return PageProblem(
                "this is a GitHub web page, not a download: the controller saves the HTML and "
                "fails with `exec format error`",
                f"location: {base}/releases/download/<tag>/<asset>",
            )
    if "-" in parts and parts[parts.index("-") + 1 : parts.index("-") + 2] in (["blob"], ["tree"]):
        return PageProblem(
            "this is a GitLab web page (`/-/blob/` or `/-/tree/`), not the file: the "
            "controller saves the HTML and fails with `exec format error`",
            "use the `/-/raw/` URL of the file",
        )
    return None


def unpinned_reason(location: Location) -> tuple[str, str | None] | None:
    """Why a URL may serve a different file tomorrow, and how to pin it."""
    host = location.hostname.lower()
    parts = [p for p in location.path.split("/") if p]
    if (
        host in _GITHUB_HOSTS
        and parts[2:5:2] == ["releases", "download"]
        and parts[3:4] == ["latest"]
    ):
        pinned = "/".join([*parts[:2], "releases", "download", "<tag>", *parts[5:]])
        return (
            "`/releases/latest/download/` follows the newest release: the plugin changes "
            "under you, and a pinned sha256 breaks at the next release",
            f"location: https://github.com/{pinned}",
        )
    if host == "raw.githubusercontent.com" and len(parts) >= 3:
        ref = parts[2] if parts[2] != "refs" else parts[-1]
        if parts[2] == "refs" and len(parts) >= 5 and parts[3] == "heads":
            ref = parts[4]
        if ref.lower() in _BRANCHES or parts[2:4] == ["refs", "heads"]:
            return (
                f"the URL reads branch `{ref}`, which moves: pin a tag or a commit",
                None,
            )
    if host in _GITHUB_HOSTS and parts[2:3] == ["raw"] and len(parts) >= 4:
        ref = parts[3]
        if ref.lower() in _BRANCHES:
            return (f"the URL reads branch `{ref}`, which moves: pin a tag or a commit", None)
    if "latest" in (p.lower() for p in parts[:-1]):
        return ("the URL has a `latest` segment, which moves: pin a version", None)
    return None


ARCHIVE_SUFFIXES = (
    ".tar.gz",
    ".tgz",
    ".tar.xz",
    ".txz",
    ".tar.bz2",
    ".tbz2",
    ".tar.zst",
    ".tar",
    ".zip",
    ".gz",
    ".xz",
    ".bz2",
    ".zst",
    ".7z",
    ".deb",
    ".rpm",
    ".apk",
)


def archive_suffix(file_name: str) -> str | None:
    lowered = file_name.lower()
    return next((s for s in ARCHIVE_SUFFIXES if lowered.endswith(s)), None)
