"""Archives the controller would write to disk unopened: what they hold and which member
is the binary, with decompression bounded whatever the archive claims."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from rollouts_plugin_lint.inspect import inspect_file
from rollouts_plugin_lint.inspect.archive import MAX_MEMBERS, Member, pick_executable_member

from .inspect_fixtures import Elf, write

ELF_BINARY = Elf().build() + bytes(3000)
# (name, data, mode); a larger darwin build must not win over the linux one.
RELEASE_FILES = [
    ("README.md", b"# plugin\n", 0o644),
    ("LICENSE", b"Apache License\n" * 100, 0o644),
    ("rollouts-plugin-darwin-arm64", b"\xcf\xfa\xed\xfe" + bytes(9000), 0o755),
    ("rollouts-plugin-linux-amd64", ELF_BINARY, 0o755),
]
MEMBER_NAMES = ("docs/", *(name for name, _, _ in RELEASE_FILES))


def tar_bytes(files: list[tuple[str, bytes, int]], mode: str = "w", **options: object) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode, **options) as archive:  # type: ignore[call-overload]
        directory = tarfile.TarInfo("docs")
        directory.type = tarfile.DIRTYPE
        archive.addfile(directory)
        for name, data, file_mode in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), file_mode
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(files: list[tuple[str, bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("docs/", b"")
        for name, data, file_mode in files:
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # unix, so the mode is stored
            info.external_attr = (0o100000 | file_mode) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("mode", "expected_format", "label"),
    [
        ("w", "tar", "tar archive"),
        ("w:gz", "gzip", "gzip-compressed tar archive"),
        ("w:xz", "xz", "xz-compressed tar archive"),
        ("w:bz2", "bzip2", "bzip2-compressed tar archive"),
    ],
)
def test_tar_members_and_the_binary_inside(
    tmp_path: Path, mode: str, expected_format: str, label: str
) -> None:
    facts = inspect_file(write(tmp_path / "plugin.tar", tar_bytes(RELEASE_FILES, mode)))
    assert (facts.format, facts.detail) == (expected_format, label)
    assert facts.members == MEMBER_NAMES
    assert facts.executable_member == "rollouts-plugin-linux-amd64"
    assert (facts.os, facts.arch, facts.go) == (None, None, None)


def test_zip_members_and_the_binary_inside(tmp_path: Path) -> None:
    facts = inspect_file(write(tmp_path / "plugin.zip", zip_bytes(RELEASE_FILES)))
    assert (facts.format, facts.detail) == ("zip", "zip archive")
    assert facts.members == MEMBER_NAMES
    assert facts.executable_member == "rollouts-plugin-linux-amd64"


def test_truncated_zip_is_listed_from_local_headers(tmp_path: Path) -> None:
    whole = zip_bytes(RELEASE_FILES)
    cut = whole[: whole.index(b"PK\x01\x02")]  # no central directory
    facts = inspect_file(write(tmp_path / "plugin.zip", cut))
    assert facts.format == "zip"
    assert facts.members == MEMBER_NAMES
    assert facts.detail == "zip archive (no central directory: truncated?)"


def test_empty_zip(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    facts = inspect_file(write(tmp_path / "empty.zip", buffer.getvalue()))
    assert (facts.format, facts.members, facts.detail) == ("zip", (), "empty zip archive")


def test_plain_gzip_names_the_original_file(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with gzip.GzipFile("rollouts-plugin-linux-amd64", "wb", fileobj=buffer) as compressed:
        compressed.write(ELF_BINARY)
    facts = inspect_file(write(tmp_path / "plugin.gz", buffer.getvalue()))
    assert (facts.format, facts.detail) == ("gzip", "gzip-compressed ELF file")
    assert facts.members == ("rollouts-plugin-linux-amd64",)
    assert facts.executable_member == "rollouts-plugin-linux-amd64"


def test_gzip_without_a_name(tmp_path: Path) -> None:
    facts = inspect_file(write(tmp_path / "x.gz", gzip.compress(b"just text\n")))
    assert (facts.format, facts.members, facts.detail) == ("gzip", (), "gzip-compressed file")


@pytest.mark.parametrize(
    ("compress", "expected_format"),
    [(lzma.compress, "xz"), (bz2.compress, "bzip2")],
)
def test_compressed_binary(tmp_path: Path, compress: object, expected_format: str) -> None:
    data = compress(ELF_BINARY)  # type: ignore[operator]
    facts = inspect_file(write(tmp_path / "plugin.compressed", data))
    assert (facts.format, facts.detail) == (
        expected_format,
        f"{expected_format}-compressed ELF file",
    )


def test_zstd_is_recognised_by_magic(tmp_path: Path) -> None:
    facts = inspect_file(write(tmp_path / "plugin.zst", b"\x28\xb5\x2f\xfd" + bytes(100)))
    assert facts.format == "zstd"
    assert facts.detail is not None and "not listed" in facts.detail


def test_corrupt_gzip_does_not_raise(tmp_path: Path) -> None:
    data = bytearray(tar_bytes(RELEASE_FILES, "w:gz"))
    data[40:80] = bytes(40)
    facts = inspect_file(write(tmp_path / "plugin.tar.gz", bytes(data)))
    assert facts.format == "gzip"
    assert facts.detail is not None and "corrupt" in facts.detail


def test_truncated_tar_gz_keeps_the_members_seen(tmp_path: Path) -> None:
    data = tar_bytes(RELEASE_FILES, "w:gz")
    facts = inspect_file(write(tmp_path / "plugin.tar.gz", data[: len(data) * 2 // 3]))
    assert facts.format == "gzip"
    assert facts.members[:2] == ("docs/", "README.md")
    assert facts.detail is not None and "truncated" in facts.detail


@pytest.mark.parametrize("tar_format", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_long_member_names(tmp_path: Path, tar_format: int) -> None:
    long_name = "release/" + "nested-directory/" * 8 + "rollouts-plugin-linux-amd64"
    data = tar_bytes([(long_name, ELF_BINARY, 0o755)], "w", format=tar_format)
    facts = inspect_file(write(tmp_path / "plugin.tar", data))
    assert facts.members[-1] == long_name[:119] + "…"
    assert facts.executable_member == facts.members[-1]


def test_member_count_is_capped(tmp_path: Path) -> None:
    files = [(f"file-{index:04}.txt", b"x", 0o644) for index in range(MAX_MEMBERS + 50)]
    facts = inspect_file(write(tmp_path / "many.tar", tar_bytes(files)))
    assert len(facts.members) == MAX_MEMBERS
    assert facts.detail == f"tar archive (first {MAX_MEMBERS} members listed)"
    assert facts.executable_member is None  # only .txt files


def test_member_names_are_escaped(tmp_path: Path) -> None:
    data = tar_bytes([("evil\x1b[2Jname", b"x", 0o755)])
    assert inspect_file(write(tmp_path / "evil.tar", data)).members[-1] == "evil\\x1b[2Jname"


def tar_bomb(kind: str, size: int) -> bytes:
    """A compressed tar whose one member is `size` zero bytes (under 1 MiB compressed)."""
    header = tarfile.TarInfo("zeros")
    header.size = size
    compressor = (
        zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        if kind == "gzip"
        else lzma.LZMACompressor(preset=0)
    )
    parts = [compressor.compress(header.tobuf(format=tarfile.USTAR_FORMAT))]
    zeros = bytes(1 << 20)
    parts.extend(compressor.compress(zeros) for _ in range(size >> 20))
    parts.append(compressor.flush())
    return b"".join(parts)


@pytest.mark.parametrize("kind", ["gzip", "xz"])
def test_decompression_bomb_is_bounded(tmp_path: Path, kind: str) -> None:
    # Twice the cap of 64 MiB, from a file a hundred times smaller.
    bomb = write(tmp_path / "bomb", tar_bomb(kind, 128 << 20))
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    started = time.perf_counter()
    try:
        facts = inspect_file(bomb)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20, f"peak {peak >> 20} MiB"
    assert elapsed < 10, f"{elapsed:.1f} s"
    assert (facts.format, facts.members) == (kind, ("zeros",))
    assert facts.detail == f"{kind}-compressed tar archive (listing stopped after 64 MiB)"


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ([Member("README", 10, True, False), Member("LICENSE.txt", 9, True, False)], None),
        ([Member("bin/", 0, False, True), Member("plugin", 5, True, False)], "plugin"),
        (
            [Member("plugin-linux-arm64", 5, True, True), Member("plugin-darwin", 9, True, True)],
            "plugin-linux-arm64",
        ),
        ([Member("small", 5, True, True), Member("large", 9, True, False)], "small"),
        ([Member("small", 5, True, False), Member("large", 9, True, False)], "large"),
        ([Member("plugin.exe", 9, True, False), Member("plugin", 5, True, False)], "plugin"),
        ([Member("checksums.txt", 9, True, False), Member("sha256sums", 9, True, False)], None),
    ],
)
def test_pick_executable_member(members: list[Member], expected: str | None) -> None:
    assert pick_executable_member(members) == expected
