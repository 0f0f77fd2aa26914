"""What a `location` string means to the controller: Go's `url.ParseRequestURI`, the
downloader's scheme switch and `file://` resolution, and what an asset name says about
its platform. Pure functions over strings."""

from __future__ import annotations

import ipaddress
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
    if raw == "*":  # url.parse's special case for the request target `*`
        return Location("", None, "", "*", "*", "", "")
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
    """Go's parseHost as the controller's Go 1.24 has it: go.mod of argo-rollouts v1.9.1
    says go 1.24.9, which carries the fix for CVE-2025-47912 (Go 1.24.8): only an IPv6
    address may be bracketed. Read from net/url/url.go of Go 1.27.3, whose bracket code is
    that fix; its later strict-colon rule for http(s) hosts (go.dev/issue/75223) is left out."""
    bracket = host.rfind("[")
    if bracket > 0:
        raise LocationError("invalid IP-literal")
    if bracket == 0:
        end = host.rfind("]")
        if end < 0:
            raise LocationError("missing ']' in host")
        port = host[end + 1 :]
        if port and not _PORT.fullmatch(port):
            raise LocationError(f"invalid port {go_quote(port)} after host")
        _unescape_host(port)
        inside = host[1:end]
        zone = inside.find("%25")
        if zone >= 0:
            address = _unescape_host(inside[:zone]) + _unescape_host(inside[zone:], zone=True)
        else:
            address = _unescape_host(inside)
        _check_ipv6(address)
        return
    colon = host.rfind(":")
    if colon >= 0 and not _PORT.fullmatch(host[colon:]):
        raise LocationError(f"invalid port {go_quote(host[colon:])} after host")
    _unescape_host(host)


def _unescape_host(text: str, zone: bool = False) -> str:
    """net/url's unescape in host (or zone) mode: a host may %-encode only bytes >= 0x80
    (and `%25`); a zone anything but characters a host cannot hold."""
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            code = text[index + 1 : index + 3]
            if len(code) < 2 or not all(c in _HEX for c in code):
                raise LocationError(f"invalid URL escape {go_quote(text[index : index + 3])}")
            escape = text[index : index + 3]
            byte = int(code, 16)
            ascii_char = chr(byte)
            if escape != "%25" and (
                (not zone and byte < 0x80)
                or (zone and byte < 0x80 and ascii_char != " " and not _host_allows(ascii_char))
            ):
                raise LocationError(f"invalid URL escape {go_quote(escape)}")
            index += 3
            continue
        if char.isascii() and not _host_allows(char):
            raise LocationError(f"invalid character {go_quote(char)} in host name")
        index += 1
    return unquote(text)


def _host_allows(char: str) -> bool:
    return char != "%" and _HOST_OK.fullmatch(char) is not None


def _check_ipv6(address: str) -> None:
    """netip.ParseAddr, then the rule that a bracketed IPv4 address is refused."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        reason = "unable to parse IP" if ":" not in address else "not a valid IPv6 address"
        raise LocationError(f"invalid host: ParseAddr({go_quote(address)}): {reason}") from None
    if parsed.version == 4:
        raise LocationError("invalid IP-literal")


_HEX = frozenset("0123456789abcdefABCDEF")
_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v", "\\": "\\\\", '"': '\\"'}  # fmt: skip


def go_quote(text: str) -> str:
    """Go's strconv.Quote, which the controller's error messages use: named escapes for
    \\t, \\n and the like, \\x for other ASCII controls, \\u or \\U for other characters that
    are not printable."""
    quoted = []
    for char in text:
        code = ord(char)
        if char in _GO_ESCAPES:
            quoted.append(_GO_ESCAPES[char])
        elif 0xD800 <= code <= 0xDFFF:
            quoted.append("\\ufffd")  # not valid UTF-8: Go prints the replacement
        elif char.isprintable():
            quoted.append(char)
        elif code < 0x80:
            quoted.append(f"\\x{code:02x}")
        elif code < 0x10000:
            quoted.append(f"\\u{code:04x}")
        else:
            quoted.append(f"\\U{code:08x}")
    return '"' + "".join(quoted) + '"'


def dial_problem(location: Location) -> str | None:
    """What Go's dialer says of a port url.ParseRequestURI accepts but no socket can have
    (net.Dial: `address 70000: invalid port`), for http(s) locations."""
    if location.scheme not in ("http", "https"):
        return None
    host = location.host
    after_address = host[host.rfind("]") + 1 :] if host.startswith("[") else host
    colon = after_address.rfind(":")
    digits = after_address[colon + 1 :] if colon >= 0 else ""
    significant = digits.lstrip("0")
    if digits and (len(significant) > 5 or int(significant or "0") > 65535):
        return f"dial tcp: address {digits}: invalid port"
    return None


# Directories of the controller's image and those the downloader creates before copying a
# `file://` plugin (os.MkdirAll of plugin-bin/<namespace> for this and earlier entries).
_IMAGE_DIRECTORIES = frozenset({"/", "/home", CONTROLLER_HOME, "/tmp", PLUGIN_BIN})


def copy_source_problem(source: str, namespaces: set[str]) -> str | None:
    """Why copyFile fails for a `file://` source that is a directory here: `/`, the working
    directory (`file://`), `/tmp`, plugin-bin, or a plugin-bin/<namespace> folder the
    downloader made for this or an earlier entry (utils/plugin/downloader.go, v1.9.1)."""
    made = {f"{PLUGIN_BIN}/{namespace}" for namespace in namespaces}
    if source in _IMAGE_DIRECTORIES or source in made:
        return f"{source} is not a regular file"
    return None


def downloader_ignores_headers(location: Location) -> bool:
    """headersFrom is read only in the downloader's http(s) branch."""
    return location.scheme == "file"


def sha256_length_problem(sha256: str) -> str | None:
    """checkShaOfPlugin compares only a 64-character digest correctly: `sha256: |` keeps
    the line break and makes 65 characters, which can never match."""
    if sha256 and len(sha256) != 64:
        return f"the sha256 has {len(sha256)} characters (a digest has 64), so it never matches"
    return None


def resolve_file_location(location: Location) -> str | None:
    """The absolute path the controller copies a `file:` location from:
    `filepath.Abs(url.Host + url.Path)` in its working directory. None for opaque URLs
    (`file:x`), which resolve to the working directory itself and always fail."""
    if location.opaque:
        return None
    joined = location.host + location.path
    # Go's filepath.Clean makes `//tmp` `/tmp`; POSIX normpath keeps two leading slashes.
    return "/" + posixpath.normpath(posixpath.join(CONTROLLER_HOME, joined)).lstrip("/")


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
