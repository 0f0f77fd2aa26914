"""Go build info from crafted binaries: both layouts, every container and byte order,
and garbled blobs that must give None instead of an exception."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts_plugin_lint.inspect import inspect_file
from rollouts_plugin_lint.inspect.buildinfo import (
    find_header,
    go_unquote,
    parse_modinfo,
)
from rollouts_plugin_lint.model import GoBuildInfo

from .inspect_fixtures import (
    BUILDINFO_MAGIC,
    CPU_ARM64,
    CPU_X86_64,
    PF_R,
    PF_W,
    PF_X,
    PLUGIN_MODINFO,
    PT_LOAD,
    Elf,
    ElfSection,
    ElfSegment,
    elf_with_inline_buildinfo,
    elf_with_pointer_buildinfo,
    framed,
    inline_buildinfo,
    macho,
    macho_with_inline_buildinfo,
    macho_with_pointer_buildinfo,
    pe_with_inline_buildinfo,
    pe_with_pointer_buildinfo,
    universal,
    uvarint,
    write,
)

PLUGIN_SETTINGS = {
    "-compiler": "gc",
    "-ldflags": "-s -w -X main.version=v0.3.0",
    "CGO_ENABLED": "0",
    "GOARCH": "amd64",
    "GOOS": "linux",
}


def expected(version: str) -> GoBuildInfo:
    return GoBuildInfo(
        version=version,
        path="github.com/example/rollouts-plugin/cmd",
        module="github.com/example/rollouts-plugin",
        module_version="v0.3.0",
        rollouts="v1.8.3 => github.com/fork/argo-rollouts v1.8.3-x",
        go_plugin="v1.6.3",
        settings=PLUGIN_SETTINGS,
    )


@pytest.mark.parametrize(
    ("name", "image", "format_name", "arch"),
    [
        ("elf64-le-section", elf_with_inline_buildinfo(), "elf", "amd64"),
        ("elf64-le-segment", elf_with_inline_buildinfo(use_section=False), "elf", "amd64"),
        ("elf32-le", elf_with_inline_buildinfo(bits=32, machine=3), "elf", "386"),
        ("elf64-be", elf_with_inline_buildinfo(big_endian=True, machine=22), "elf", "s390x"),
        ("elf32-be", elf_with_inline_buildinfo(bits=32, big_endian=True, machine=8), "elf", "mips"),
        ("macho-section", macho_with_inline_buildinfo(), "macho", "arm64"),
        ("macho-segment", macho_with_inline_buildinfo(use_section=False), "macho", "arm64"),
        ("pe", pe_with_inline_buildinfo(), "pe", "amd64"),
    ],
)
def test_inline_layout(
    tmp_path: Path, name: str, image: bytes, format_name: str, arch: str
) -> None:
    facts = inspect_file(write(tmp_path / name, image))
    assert (facts.format, facts.arch) == (format_name, arch)
    assert facts.go == expected("go1.22.5")


@pytest.mark.parametrize(
    ("bits", "big_endian", "machine"),
    [(32, False, 40), (64, False, 62), (32, True, 8), (64, True, 22)],
)
def test_pointer_layout_elf(tmp_path: Path, bits: int, big_endian: bool, machine: int) -> None:
    image = elf_with_pointer_buildinfo(bits=bits, big_endian=big_endian, machine=machine)
    assert inspect_file(write(tmp_path / "plugin", image)).go == expected("go1.16.15")


@pytest.mark.parametrize(("bits", "big_endian"), [(32, True), (64, False)])
def test_pointer_layout_macho(tmp_path: Path, bits: int, big_endian: bool) -> None:
    image = macho_with_pointer_buildinfo(bits=bits, big_endian=big_endian)
    assert inspect_file(write(tmp_path / "plugin", image)).go == expected("go1.16.15")


def test_pointer_layout_pe(tmp_path: Path) -> None:
    facts = inspect_file(write(tmp_path / "plugin.exe", pe_with_pointer_buildinfo()))
    assert facts.go == expected("go1.16.15")


def test_universal_takes_build_info_from_a_slice(tmp_path: Path) -> None:
    image = universal([(CPU_X86_64, macho(CPU_X86_64)), (CPU_ARM64, macho_with_inline_buildinfo())])
    facts = inspect_file(write(tmp_path / "plugin", image))
    assert facts.arches == ("amd64", "arm64")
    assert facts.go == expected("go1.22.5")


def test_misaligned_magic_is_skipped_for_the_aligned_one(tmp_path: Path) -> None:
    blob = inline_buildinfo()
    # A magic at offset 3 whose "header" would read as an empty version if it were taken.
    decoy = b"\x00" * 3 + BUILDINFO_MAGIC + b"\x08\x02" + bytes(31)
    decoy += bytes(-len(decoy) % 16)  # the real header starts 16-aligned after it
    data = ElfSegment(PT_LOAD, PF_R | PF_W, 0x500000, decoy + blob)
    image = Elf(segments=[data]).build()
    assert find_header(decoy + blob) == len(decoy)
    assert inspect_file(write(tmp_path / "plugin", image)).go == expected("go1.22.5")


def test_goos_names_the_system_when_the_elf_abi_byte_cannot(tmp_path: Path) -> None:
    modinfo = PLUGIN_MODINFO.replace("GOOS=linux", "GOOS=netbsd")
    blob = inline_buildinfo(modinfo=modinfo)
    image = Elf(sections=[ElfSection(".go.buildinfo", blob)]).build()
    assert inspect_file(write(tmp_path / "plugin", image)).os == "netbsd"


def elf_with_blob(blob: bytes) -> bytes:
    text = ElfSegment(PT_LOAD, PF_R | PF_X, 0x401000, b"\x90" * 16)
    return Elf(segments=[text], sections=[ElfSection(".go.buildinfo", blob)]).build()


HEADER = BUILDINFO_MAGIC + bytes([8, 2]) + bytes(16)


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"", id="empty section"),
        pytest.param(HEADER[:31], id="header cut short"),
        pytest.param(HEADER, id="no strings after the header"),
        pytest.param(HEADER + b"\x80\x80", id="unfinished varint"),
        pytest.param(HEADER + uvarint(1 << 40) + b"go", id="absurd length"),
        pytest.param(HEADER + uvarint(100) + b"go1.22", id="string past the end"),
        pytest.param(HEADER + uvarint(0) + uvarint(0), id="empty version"),
        pytest.param(HEADER + uvarint(8) + b"\x00\x01\x02garb", id="version not text"),
        pytest.param(HEADER + uvarint(5) + b"hello", id="version not go"),
        pytest.param(
            BUILDINFO_MAGIC + bytes([3, 0]) + bytes(16), id="pointer layout with pointer size 3"
        ),
        pytest.param(
            BUILDINFO_MAGIC + bytes([8, 0]) + struct.pack("<QQ", 2**63, 7),
            id="pointers outside every segment",
        ),
        pytest.param(b"\x00" + inline_buildinfo()[:-1], id="magic not 16-aligned"),
    ],
)
def test_garbled_blobs_give_none(tmp_path: Path, blob: bytes) -> None:
    facts = inspect_file(write(tmp_path / "plugin", elf_with_blob(blob)))
    assert facts.format == "elf"
    assert facts.go is None


def test_version_without_module_info(tmp_path: Path) -> None:
    """Not built in module mode (or pre-1.13 style): the version alone."""
    blob = HEADER + uvarint(8) + b"go1.12.1" + uvarint(0)
    facts = inspect_file(write(tmp_path / "plugin", elf_with_blob(blob)))
    assert facts.go == GoBuildInfo(version="go1.12.1")


def test_module_info_without_sentinels_is_ignored(tmp_path: Path) -> None:
    text = PLUGIN_MODINFO.encode()
    blob = HEADER + uvarint(8) + b"go1.22.5" + uvarint(len(text)) + text
    facts = inspect_file(write(tmp_path / "plugin", elf_with_blob(blob)))
    assert facts.go == GoBuildInfo(version="go1.22.5")


def test_long_module_info_past_the_search_window(tmp_path: Path) -> None:
    deps = "".join(f"dep\texample.com/m{i}\tv1.0.{i}\th1:x=\n" for i in range(3000))
    modinfo = (
        "mod\texample.com/plugin\tv1.0.0\n" + deps + "dep\tgithub.com/hashicorp/go-plugin\tv1.6.0\n"
    )
    assert len(framed(modinfo)) > 64 * 1024
    facts = inspect_file(
        write(tmp_path / "plugin", elf_with_blob(inline_buildinfo(modinfo=modinfo)))
    )
    assert facts.go is not None
    assert facts.go.go_plugin == "v1.6.0"


def test_main_module_is_argo_rollouts() -> None:
    """Sample plugins built inside the argo-rollouts repository."""
    info = parse_modinfo(
        "go1.23.4",
        "path\tgithub.com/argoproj/argo-rollouts/test/cmd/step-plugin-sample\n"
        "mod\tgithub.com/argoproj/argo-rollouts\t(devel)\t\n"
        "dep\tgithub.com/hashicorp/go-plugin\tv1.6.2\th1:x=\n",
    )
    assert (info.module, info.rollouts, info.go_plugin) == (
        "github.com/argoproj/argo-rollouts",
        "(devel)",
        "v1.6.2",
    )


def test_replacements_apply_to_the_line_before() -> None:
    info = parse_modinfo(
        "go1.22.5",
        "mod\texample.com/plugin\tv0.1.0\t\n"
        "dep\tgithub.com/hashicorp/go-plugin\tv1.6.0\th1:a=\n"
        "dep\tgithub.com/argoproj/argo-rollouts\tv1.6.6\n"
        "=>\t../argo-rollouts\t\t\n"
        "\n"  # Go 1.19 leaves an empty line after a replacement
        "=>\tgithub.com/stray/replacement\tv9\th1:b=\n",  # no dep before it: ignored
    )
    assert info.rollouts == "v1.6.6 => ../argo-rollouts"
    assert info.go_plugin == "v1.6.0"


def test_quoted_build_settings() -> None:
    info = parse_modinfo(
        "go1.22.5",
        'build\t-ldflags="-X \\"main.name=a b\\" -s"\n'
        "build\t`key with space`=`raw \\n value`\n"
        'build\t"tab\\tkey"=plain value\n'
        "build\t-tags=\n"
        "build\t=no key\n"
        "build\tno equals sign\n"
        'build\t"unterminated=x\n'
        'build\tvcs.revision="\\xzz"\n',
    )
    assert info.settings == {
        "-ldflags": '-X "main.name=a b" -s',
        "key with space": "raw \\n value",
        "tab\\tkey": "plain value",  # printable: the tab is escaped for display
        "-tags": "",
        "vcs.revision": '"\\xzz"',  # not a valid Go literal: kept as written
    }


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ('"plain"', "plain"),
        ('"a\\tb\\n\\\\\\""', 'a\tb\n\\"'),
        ('"\\x41\\101\\u00e9\\U0001F600"', "AAé😀"),
        ('"\\xc3\\xa9"', "é"),  # bytes that form UTF-8
        ("`raw\\n`", "raw\\n"),
        ("`a\rb`", "ab"),
        ('"bad\\q"', None),
        ('"\\u12"', None),
        ('"\\ud800"', None),
        ('"\\400"', None),
        ('"inner"quote"', None),
        ('"\\\'"', None),
        ("plain", None),
        ('"', None),
    ],
)
def test_go_unquote(literal: str, value: str | None) -> None:
    assert go_unquote(literal) == value


def test_module_fields_are_printable() -> None:
    info = parse_modinfo("go1.22.5", "path\tevil\x1b[2J\nmod\tm\tv1\x07\n")
    assert (info.path, info.module_version) == ("evil\\x1b[2J", "v1\\x07")


@settings(max_examples=200, deadline=None)
@given(tail=st.binary(max_size=600), flags=st.integers(0, 255), pointer_size=st.integers(0, 255))
def test_random_blobs_never_raise(tail: bytes, flags: int, pointer_size: int) -> None:
    blob = BUILDINFO_MAGIC + bytes([pointer_size, flags]) + tail
    with tempfile.TemporaryDirectory() as directory:
        facts = inspect_file(write(Path(directory) / "plugin", elf_with_blob(blob)))
    assert facts.format == "elf"
    if facts.go is not None:
        assert facts.go.version.startswith(("go", "devel"))
