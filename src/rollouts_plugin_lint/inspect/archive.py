"""Archives and compressed files: what is inside, and which member is the plugin binary.

The controller writes the download to disk as it is and never unpacks it, so an archive
is always wrong; the useful facts are its members, to tell the user which asset to point
at instead. Work is bounded: at most `MAX_DECOMPRESSED` bytes are inflated and
`MAX_MEMBERS` members listed, whatever the headers claim (no decompression bombs).
"""

from __future__ import annotations

import bz2
import lzma
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from rollouts_plugin_lint.inspect.macho import thin_byte_order
from rollouts_plugin_lint.inspect.view import MIB, FileView
from rollouts_plugin_lint.printable import latin1, printable

MAX_DECOMPRESSED = 64 * MIB
MAX_MEMBERS = 200
# Headers walked, members or not (pax headers, GNU long names): bounds the loop.
_MAX_TAR_HEADERS = 4 * MAX_MEMBERS
_MAX_META_BYTES = 64 * 1024
_COMPRESSED_CHUNK = 256 * 1024
_OUTPUT_CHUNK = MIB
_BLOCK = 512
_NAME_LIMIT = 120

GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_BZIP2_STREAM_MAGICS = (b"\x31\x41\x59\x26\x53\x59", b"\x17\x72\x45\x38\x50\x90")


def archive_format(head: bytes) -> str | None:
    """The archive or compression format `head` (the first 512+ bytes) starts."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(XZ_MAGIC):
        return "xz"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(b"BZh") and head[3:4] in b"123456789" and head[4:10] in _BZIP2_STREAM_MAGICS:
        return "bzip2"
    if head.startswith(ZIP_MAGICS):
        return "zip"
    if is_tar(head):
        return "tar"
    return None


def is_tar(block: bytes) -> bool:
    """POSIX (`ustar\\0`) or GNU (`ustar  \\0`) magic at offset 257."""
    return block[257:262] == b"ustar"


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    is_file: bool
    executable: bool  # the mode has an execute bit


@dataclass(frozen=True)
class ArchiveFacts:
    members: tuple[str, ...]
    executable_member: str | None
    detail: str


def inspect_archive(view: FileView, kind: str) -> ArchiveFacts:
    if kind == "zip":
        members, note = _zip_members(view)
        return _facts("zip archive", members, note)
    if kind == "tar":
        members, note = _tar_members(_FileStream(view))
        return _facts("tar archive", members, note)
    if kind == "zstd":
        return ArchiveFacts((), None, "zstd-compressed (contents not listed: no zstd decoder)")
    original_name = _gzip_original_name(view) if kind == "gzip" else None
    stream = _InflatedStream(view, kind)
    start = stream.peek(_BLOCK)
    label = f"{kind}-compressed"
    if is_tar(start):
        members, note = _tar_members(stream)
        return _facts(f"{label} tar archive", members, stream.note or note)
    inner = _describe_content(start)
    detail = f"{label} {inner}" if inner else f"{label} file"
    if stream.note:
        detail += f" ({stream.note})"
    if original_name:
        member = Member(original_name, 0, True, False)
        chosen = original_name if _may_be_binary(member) else None
        return ArchiveFacts((original_name,), chosen, printable(detail))
    return ArchiveFacts((), None, printable(detail))


def _facts(label: str, members: list[Member], note: str | None) -> ArchiveFacts:
    detail = label if members else f"empty {label}"
    if note:
        detail += f" ({note})"
    return ArchiveFacts(
        tuple(member.name for member in members),
        pick_executable_member(members),
        printable(detail),
    )


def _describe_content(start: bytes) -> str | None:
    if start.startswith(b"\x7fELF"):
        return "ELF file"
    if thin_byte_order(start) is not None:
        return "Mach-O file"
    if start.startswith(b"MZ"):
        return "Windows executable"
    return None


_NOT_BINARY_NAME = re.compile(
    r"(?:^|[._-])(?:readme|license|licence|notice|changelog|changes|copying|authors"
    r"|checksums?|sha256sums?)(?:$|[._-])",
    re.IGNORECASE,
)
_NOT_BINARY_SUFFIXES = (
    ".md",
    ".txt",
    ".rst",
    ".html",
    ".json",
    ".yaml",
    ".yml",
    ".toml",
    ".sh",
    ".sha256",
    ".sha512",
    ".md5",
    ".sig",
    ".asc",
    ".pem",
    ".crt",
    ".pub",
    ".sbom",
    ".spdx",
)
_OTHER_OS = re.compile(r"darwin|macos|windows|\.exe$", re.IGNORECASE)


def _may_be_binary(member: Member) -> bool:
    base = member.name.rstrip("/").rsplit("/", 1)[-1]
    return (
        member.is_file
        and bool(base)
        and not base.lower().endswith(_NOT_BINARY_SUFFIXES)
        and not _NOT_BINARY_NAME.search(base)
    )


def pick_executable_member(members: list[Member]) -> str | None:
    """The member that looks like the plugin binary: not documentation, preferably named
    for linux, not for another OS, with an execute bit, and the largest."""
    candidates = [member for member in members if _may_be_binary(member)]
    if not candidates:
        return None

    def rank(member: Member) -> tuple[bool, bool, bool, int]:
        base = member.name.rsplit("/", 1)[-1]
        return (
            "linux" in base.lower(),
            not _OTHER_OS.search(base),
            member.executable,
            member.size,
        )

    return max(candidates, key=rank).name


# --- streams: the tar walker reads from a file or from a decompressor alike ---


class _Stream(Protocol):
    def read(self, length: int) -> bytes: ...

    def skip(self, length: int) -> bool: ...


class _FileStream:
    def __init__(self, view: FileView) -> None:
        self._view = view
        self._position = 0

    def read(self, length: int) -> bytes:
        data = self._view.read(self._position, length)
        self._position += len(data)
        return data

    def skip(self, length: int) -> bool:
        self._position += length
        return self._position <= self._view.size


class _Decompressor:
    """zlib, bz2 and lzma behind one `decompress(data, max_length)` and `eof`."""

    def __init__(self, kind: str) -> None:
        self._zlib: zlib._Decompress | None = None
        self._other: bz2.BZ2Decompressor | lzma.LZMADecompressor | None = None
        if kind == "gzip":
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif kind == "bzip2":
            self._other = bz2.BZ2Decompressor()
        else:
            self._other = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)

    @property
    def eof(self) -> bool:
        return bool(self._zlib.eof if self._zlib is not None else self._other and self._other.eof)

    def decompress(self, data: bytes, limit: int) -> bytes:
        if self._zlib is not None:
            # zlib hands back the input it did not use yet; bz2 and lzma keep it inside.
            return self._zlib.decompress(self._zlib.unconsumed_tail + data, limit)
        assert self._other is not None
        return self._other.decompress(data, limit)


class _InflatedStream:
    """The decompressed bytes of a file, produced on demand and capped in total."""

    def __init__(self, view: FileView, kind: str) -> None:
        self.note: str | None = None
        self._chunks = self._generate(view, kind)
        self._buffer = b""
        self._offset = 0

    def _generate(self, view: FileView, kind: str) -> Iterator[bytes]:
        decompressor = _Decompressor(kind)
        produced = 0
        try:
            for compressed in view.chunks(_COMPRESSED_CHUNK):
                data = compressed
                # Each call is told how much it may produce, so no single call can inflate
                # a bomb; calling again with no new input drains what the decompressor holds.
                while not decompressor.eof:
                    budget = min(_OUTPUT_CHUNK, MAX_DECOMPRESSED - produced)
                    if budget <= 0:
                        self.note = f"listing stopped after {MAX_DECOMPRESSED // MIB} MiB"
                        return
                    output = decompressor.decompress(data, budget)
                    data = b""
                    if not output:
                        break
                    produced += len(output)
                    yield output
                if decompressor.eof:
                    return
            self.note = "truncated"
        except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError):
            self.note = "corrupt"

    # Unread bytes are `_buffer[_offset:]`; moving the offset instead of slicing keeps a
    # 512-byte read from copying the rest of a 1 MiB chunk.
    def _available(self) -> int:
        return len(self._buffer) - self._offset

    def _fill(self, length: int) -> None:
        while self._available() < length:
            chunk = next(self._chunks, None)
            if chunk is None:
                return
            self._buffer = self._buffer[self._offset :] + chunk
            self._offset = 0

    def peek(self, length: int) -> bytes:
        self._fill(length)
        return self._buffer[self._offset : self._offset + length]

    def read(self, length: int) -> bytes:
        data = self.peek(length)
        self._offset += len(data)
        return data

    def skip(self, length: int) -> bool:
        while length > self._available():
            length -= self._available()
            self._buffer, self._offset = b"", 0
            chunk = next(self._chunks, None)
            if chunk is None:
                return False
            self._buffer = chunk
        self._offset += length
        return True


# --- tar ---


_FILE_TYPES = (b"0", b"\0", b"7", b"S")
# Links, devices, directories and FIFOs: POSIX says no data follows whatever `size` says.
_TYPES_WITHOUT_DATA = (b"1", b"2", b"3", b"4", b"5", b"6")


def _tar_members(stream: _Stream) -> tuple[list[Member], str | None]:
    members: list[Member] = []
    long_name: str | None = None
    pax: dict[str, str] = {}
    for _ in range(_MAX_TAR_HEADERS):
        if len(members) >= MAX_MEMBERS:
            return members, f"first {MAX_MEMBERS} members listed"
        block = stream.read(_BLOCK)
        if len(block) < _BLOCK:
            return members, "truncated" if block else None
        if block == bytes(_BLOCK):
            return members, None
        header = _tar_header(block)
        if header is None:
            return members, "corrupt tar header"
        name, size, type_flag, mode = header
        padded = -(-size // _BLOCK) * _BLOCK
        if type_flag in (b"L", b"x"):
            data = stream.read(min(size, _MAX_META_BYTES))
            if type_flag == b"L":
                long_name = latin1(data.split(b"\0", 1)[0])
            else:
                pax = _pax_records(data)
            if not stream.skip(padded - len(data)):
                return members, "truncated"
            continue
        if type_flag in (b"g", b"K"):
            if not stream.skip(padded):
                return members, "truncated"
            continue
        name = pax.get("path") or long_name or name
        if "size" in pax and pax["size"].isdigit():
            size = int(pax["size"])
            padded = -(-size // _BLOCK) * _BLOCK
        long_name, pax = None, {}
        is_file = type_flag in _FILE_TYPES
        members.append(Member(printable(name, _NAME_LIMIT), size, is_file, bool(mode & 0o111)))
        if type_flag not in _TYPES_WITHOUT_DATA and not stream.skip(padded):
            return members, "truncated"
    return members, f"stopped after {_MAX_TAR_HEADERS} headers"


def _tar_header(block: bytes) -> tuple[str, int, bytes, int] | None:
    """(name, size, type flag, mode) of a header block whose checksum is right."""
    stored = _octal(block[148:156])
    if stored is None:
        return None
    computed = sum(block[:148]) + 8 * 32 + sum(block[156:])
    if stored != computed:
        return None
    size = _tar_number(block[124:136])
    if size is None:
        return None
    name = latin1(block[:100].split(b"\0", 1)[0])
    if block[257:263] == b"ustar\x00":  # POSIX: a prefix holds long directory names
        prefix = latin1(block[345:500].split(b"\0", 1)[0])
        if prefix:
            name = f"{prefix}/{name}"
    return name, size, block[156:157], _octal(block[100:108]) or 0


def _tar_number(field: bytes) -> int | None:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for sizes of 8 GiB and up
        return int.from_bytes(field[1:], "big")
    return _octal(field)


def _octal(field: bytes) -> int | None:
    digits = field.split(b"\0", 1)[0].strip()
    if not digits:
        return 0
    try:
        return int(digits, 8)
    except ValueError:
        return None


def _pax_records(data: bytes) -> dict[str, str]:
    """`%d key=value\\n` records of a pax extended header."""
    records: dict[str, str] = {}
    position = 0
    while position < len(data):
        space = data.find(b" ", position)
        if space < 0 or not data[position:space].isdigit():
            break
        length = int(data[position:space])
        if length <= space - position:
            break
        record = data[space + 1 : position + length].rstrip(b"\n")
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        position += length
    return records


# --- zip ---

_EOCD = struct.Struct("<4sHHHHIIH")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_MAX_CENTRAL_DIRECTORY = 4 * MIB
_UNIX = 3
_UTF8_NAMES = 0x800


def _zip_members(view: FileView) -> tuple[list[Member], str | None]:
    directory = _central_directory(view)
    if directory is None:
        return _zip_local_members(view), "no central directory: truncated?"
    offset, size = directory
    table = view.read(offset, min(size, _MAX_CENTRAL_DIRECTORY))
    members: list[Member] = []
    position = 0
    while position + _CENTRAL.size <= len(table):
        if len(members) >= MAX_MEMBERS:
            return members, f"first {MAX_MEMBERS} members listed"
        fields = _CENTRAL.unpack_from(table, position)
        if fields[0] != b"PK\x01\x02":
            break
        made_by, flags, size_uncompressed = fields[1], fields[3], fields[9]
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        external = fields[15]
        raw_name = table[position + _CENTRAL.size : position + _CENTRAL.size + name_length]
        name = raw_name.decode("utf-8" if flags & _UTF8_NAMES else "cp437", "replace")
        mode = external >> 16 if made_by >> 8 == _UNIX else 0
        members.append(
            Member(
                printable(name, _NAME_LIMIT),
                size_uncompressed,
                not name.endswith("/"),
                bool(mode & 0o111),
            )
        )
        position += _CENTRAL.size + name_length + extra_length + comment_length
    return members, None


def _central_directory(view: FileView) -> tuple[int, int] | None:
    """(offset, size) of the central directory, from the end record (zip64 aware)."""
    tail_size = min(view.size, _EOCD.size + 0xFFFF)  # the end record plus its comment
    tail_start = view.size - tail_size
    tail = view.read(tail_start, tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        return None
    _, _, _, _, _, size, offset, _ = _EOCD.unpack_from(tail, at)
    if offset == 0xFFFFFFFF or size == 0xFFFFFFFF:
        locator = view.read_exact(tail_start + at - _ZIP64_LOCATOR.size, _ZIP64_LOCATOR.size)
        if locator is None or not locator.startswith(b"PK\x06\x07"):
            return None
        record_at = _ZIP64_LOCATOR.unpack(locator)[2]
        record = view.read_exact(record_at, _ZIP64_EOCD.size)
        if record is None or not record.startswith(b"PK\x06\x06"):
            return None
        fields = _ZIP64_EOCD.unpack(record)
        size, offset = fields[8], fields[9]
    return offset, size


def _zip_local_members(view: FileView) -> list[Member]:
    """Names from the local headers, walked from the start (a download cut short)."""
    members: list[Member] = []
    position = 0
    while len(members) < MAX_MEMBERS:
        header = view.read_exact(position, _LOCAL.size)
        if header is None or not header.startswith(b"PK\x03\x04"):
            break
        fields = _LOCAL.unpack(header)
        flags, compressed, uncompressed = fields[2], fields[7], fields[8]
        name_length, extra_length = fields[9], fields[10]
        raw_name = view.read(position + _LOCAL.size, name_length)
        name = raw_name.decode("utf-8" if flags & _UTF8_NAMES else "cp437", "replace")
        members.append(
            Member(printable(name, _NAME_LIMIT), uncompressed, not name.endswith("/"), False)
        )
        if flags & 0x8:  # sizes follow the data: the next header cannot be found
            break
        position += _LOCAL.size + name_length + extra_length + compressed
    return members


# --- gzip header ---

_FEXTRA, _FNAME = 0x04, 0x08


def _gzip_original_name(view: FileView) -> str | None:
    """The FNAME field of the gzip header (the compressed file's name), if stored."""
    header = view.read(0, 10 + 2 + 0xFFFF + 1024)
    if len(header) < 10 or not header[3] & _FNAME:
        return None
    position = 10
    if header[3] & _FEXTRA:
        if len(header) < 12:
            return None
        position += 2 + int.from_bytes(header[10:12], "little")
    end = header.find(b"\0", position, position + 1024)
    if end < 0:
        return None
    name = latin1(header[position:end])
    return printable(name, _NAME_LIMIT) if name else None
