"""Go build info read from the bytes, like `go version -m` (a port of Go's
debug/buildinfo and runtime/debug.ParseBuildInfo, written from their documented format).

The linker writes a 32-byte header, 16-byte aligned, at the start of the `.go.buildinfo`
section (or the first writable data segment): the magic, the pointer size, a flags byte,
then either (Go >= 1.18, flags & 2) two varint-length strings inline, or (Go 1.13-1.17)
the addresses of two Go string headers. The second string is the module info text,
framed by 16-byte sentinels. Anything missing or garbled gives None, never an exception.
"""

from __future__ import annotations

import re
import struct

from rollouts_plugin_lint.inspect.image import ExecutableImage
from rollouts_plugin_lint.model import GoBuildInfo
from rollouts_plugin_lint.printable import printable

BUILDINFO_MAGIC = b"\xff Go buildinf:"
HEADER_SIZE = 32
ALIGNMENT = 16
SEARCH_WINDOW = 64 * 1024
# Real module info is tens of KiB; anything past this is not build info.
MAX_STRING = 4 * 1024 * 1024
_FLAG_BIG_ENDIAN = 1
_FLAG_INLINE_STRINGS = 2
_SENTINEL = 16

ROLLOUTS_MODULE = "github.com/argoproj/argo-rollouts"
GO_PLUGIN_MODULE = "github.com/hashicorp/go-plugin"

_VERSION = re.compile(r"(?:go|devel)[\x20-\x7e]{0,126}")
_MAX_LINES = 20_000
_MAX_SETTINGS = 200
_FIELD_LIMIT = 200
_SETTING_LIMIT = 1000


def read_go_buildinfo(image: ExecutableImage) -> GoBuildInfo | None:
    raw = read_raw_buildinfo(image)
    if raw is None:
        return None
    version, modinfo = raw
    return parse_modinfo(version, modinfo)


def read_raw_buildinfo(image: ExecutableImage) -> tuple[str, str] | None:
    """(Go version, module info text without sentinels), or None when there is none."""
    region = image.buildinfo_region
    if region is None:
        return None
    window = image.view.read(region.offset, min(region.size, SEARCH_WINDOW))
    header_at = find_header(window)
    if header_at is None:
        return None
    header = window[header_at : header_at + HEADER_SIZE]
    pointer_size, flags = header[14], header[15]
    if flags & _FLAG_INLINE_STRINGS:
        at = region.offset + header_at + HEADER_SIZE
        version_bytes, at = _inline_string(image, at)
        modinfo_bytes, _ = _inline_string(image, at)
    else:
        if pointer_size not in (4, 8):
            return None
        order = ">" if flags & _FLAG_BIG_ENDIAN else "<"
        two_pointers = order + ("II" if pointer_size == 4 else "QQ")
        version_at, modinfo_at = struct.unpack_from(two_pointers, header, 16)
        version_bytes = _pointed_string(image, version_at, two_pointers)
        modinfo_bytes = _pointed_string(image, modinfo_at, two_pointers)
    if version_bytes is None:
        return None
    version = version_bytes.decode("ascii", "replace")
    if not _VERSION.fullmatch(version):
        return None
    modinfo = b""
    if (
        modinfo_bytes is not None
        and len(modinfo_bytes) >= 2 * _SENTINEL + 1
        and modinfo_bytes[-_SENTINEL - 1] == ord("\n")
    ):
        modinfo = modinfo_bytes[_SENTINEL:-_SENTINEL]
    return version, modinfo.decode("utf-8", "replace")


def find_header(window: bytes) -> int | None:
    """Offset of the first 16-aligned magic with a whole header after it."""
    start = 0
    while True:
        found = window.find(BUILDINFO_MAGIC, start)
        if found < 0 or len(window) - found < HEADER_SIZE:
            return None
        if found % ALIGNMENT == 0:
            return found
        start = (found + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _inline_string(image: ExecutableImage, at: int) -> tuple[bytes | None, int]:
    """A uvarint length and that many bytes at file offset `at` (Go >= 1.18)."""
    prefix = image.view.read(at, 10)
    length, used = _uvarint(prefix)
    if used == 0 or length > MAX_STRING:
        return None, at
    data = image.view.read_exact(at + used, length)
    return data, at + used + length


def _uvarint(data: bytes) -> tuple[int, int]:
    """(value, bytes used); used is 0 when `data` holds no complete varint."""
    value = 0
    for index, byte in enumerate(data[:10]):
        value |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            return value, index + 1
    return 0, 0


def _pointed_string(image: ExecutableImage, address: int, two_pointers: str) -> bytes | None:
    """A Go string whose {data, len} header is at virtual `address` (Go < 1.18)."""
    string_header = image.read_address(address, struct.calcsize(two_pointers))
    if string_header is None:
        return None
    data_address, length = struct.unpack(two_pointers, string_header)
    if length > MAX_STRING:
        return None
    if length == 0:
        return b""
    return image.read_address(data_address, length)


def parse_modinfo(version: str, modinfo: str) -> GoBuildInfo:
    """GoBuildInfo from the module info lines. Unlike Go, a malformed line is skipped
    instead of discarding everything: the rest still says what the binary links."""
    path: str | None = None
    main: tuple[str, str] | None = None
    deps: dict[str, str] = {}
    last_dep: str | None = None
    settings: dict[str, str] = {}
    for line in modinfo.split("\n")[:_MAX_LINES]:
        keyword, _, rest = line.partition("\t")
        columns = rest.split("\t")
        if keyword == "path":
            path = rest
            last_dep = None
        elif keyword == "mod" and len(columns) in (2, 3):
            main = (columns[0], columns[1])
            last_dep = None
        elif keyword == "dep" and len(columns) in (2, 3):
            last_dep = columns[0]
            deps[last_dep] = columns[1]
        elif keyword == "=>" and len(columns) == 3 and last_dep is not None:
            # Local directory replacements have no version.
            target = " ".join(part for part in columns[:2] if part)
            deps[last_dep] = f"{deps[last_dep]} => {target}"
            last_dep = None
        elif keyword == "build" and len(settings) < _MAX_SETTINGS:
            setting = _build_setting(rest)
            if setting is not None:
                settings[printable(setting[0], _FIELD_LIMIT)] = printable(
                    setting[1], _SETTING_LIMIT
                )
    main_path = main[0] if main else None
    main_version = main[1] if main else None
    rollouts = main_version if main_path == ROLLOUTS_MODULE else deps.get(ROLLOUTS_MODULE)
    return GoBuildInfo(
        version=printable(version, _FIELD_LIMIT),
        path=_field(path),
        module=_field(main_path),
        module_version=_field(main_version),
        rollouts=_field(rollouts),
        go_plugin=_field(deps.get(GO_PLUGIN_MODULE)),
        settings=settings,
    )


def _field(value: str | None) -> str | None:
    return printable(value, _FIELD_LIMIT) if value else None


def _build_setting(text: str) -> tuple[str, str] | None:
    """`key=value` of a `build` line; either side may be Go-quoted."""
    if not text or text[0] == "=":
        return None
    if text[0] in '`"':
        raw_key = go_quoted_prefix(text)
        if raw_key is None or text[len(raw_key) : len(raw_key) + 1] != "=":
            return None
        key = go_unquote(raw_key)
        raw_value = text[len(raw_key) + 1 :]
    else:
        key, equals, raw_value = text.partition("=")
        if not equals:
            return None
    if key is None:
        return None
    value = raw_value
    if raw_value[:1] in ("`", '"'):
        unquoted = go_unquote(raw_value)
        value = raw_value if unquoted is None else unquoted
    return key, value


def go_quoted_prefix(text: str) -> str | None:
    """The Go string literal at the start of `text` (strconv.QuotedPrefix)."""
    if text[:1] == "`":
        end = text.find("`", 1)
        return text[: end + 1] if end > 0 else None
    if text[:1] != '"':
        return None
    index = 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "\n":
            return None
        if char == '"':
            return text[: index + 1]
        index += 1
    return None


_SIMPLE_ESCAPES = {
    "a": 7,
    "b": 8,
    "f": 12,
    "n": 10,
    "r": 13,
    "t": 9,
    "v": 11,
    "\\": 92,
    '"': 34,
}
_HEX_DIGITS = {"x": 2, "u": 4, "U": 8}


def go_unquote(literal: str) -> str | None:
    """The value of a Go string literal (strconv.Unquote), or None if it is not one."""
    if len(literal) >= 2 and literal[0] == literal[-1] == "`":
        body = literal[1:-1]
        return None if "`" in body else body.replace("\r", "")
    if len(literal) < 2 or literal[0] != '"' or literal[-1] != '"':
        return None
    body = literal[1:-1]
    out = bytearray()
    index = 0
    while index < len(body):
        char = body[index]
        if char == '"' or char == "\n":
            return None
        if char != "\\":
            out += char.encode("utf-8", "surrogatepass")
            index += 1
            continue
        escape = body[index + 1 : index + 2]
        if escape in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[escape])
            index += 2
        elif escape in _HEX_DIGITS:
            digits = body[index + 2 : index + 2 + _HEX_DIGITS[escape]]
            if len(digits) != _HEX_DIGITS[escape] or not _is_hex(digits):
                return None
            number = int(digits, 16)
            if escape == "x":
                out.append(number)
            elif number > 0x10FFFF or 0xD800 <= number <= 0xDFFF:
                return None
            else:
                out += chr(number).encode("utf-8")
            index += 2 + len(digits)
        elif escape and escape in "01234567":
            digits = body[index + 1 : index + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits):
                return None
            number = int(digits, 8)
            if number > 0xFF:
                return None
            out.append(number)
            index += 4
        else:
            return None
    return out.decode("utf-8", "replace")


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)
