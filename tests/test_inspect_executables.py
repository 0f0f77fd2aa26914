"""Executables: real gcc builds, and crafted ELF, Mach-O and PE headers for the platforms
this machine cannot build for."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from rollouts_plugin_lint.inspect import inspect_file
from rollouts_plugin_lint.model import PluginKind

from .inspect_fixtures import (
    CPU_ARM64,
    CPU_X86_64,
    PE_386,
    PE_AMD64,
    PE_ARM64,
    PT_LOAD,
    Elf,
    ElfSegment,
    macho,
    pe,
    universal,
    write,
)

C_PROGRAM = r"""
#include <stdio.h>
/* A step plugin's rpc package path, as Go's function table would hold it. */
__attribute__((used)) static const char marker[] =
    "github.com/argoproj/argo-rollouts/rollout/steps/plugin/rpc.(*RpcStepPlugin).Server";
int main(void) { puts("hello"); return 0; }
"""


@pytest.fixture(scope="session")
def gcc_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Executables (static, static-pie, dynamic), a shared library and an object file."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: no real ELF binaries to inspect")
    root = tmp_path_factory.mktemp("gcc")
    source = write(root / "hello.c", C_PROGRAM.encode())
    commands = {
        "static": [gcc, "-static", "-O1", "-o", str(root / "static"), str(source)],
        "dynamic": [gcc, "-O1", "-o", str(root / "dynamic"), str(source)],
        "static-pie": [gcc, "-static-pie", "-O1", "-o", str(root / "static-pie"), str(source)],
        "shared": [gcc, "-shared", "-fPIC", "-o", str(root / "libhello.so"), str(source)],
        "object": [gcc, "-c", "-o", str(root / "hello.o"), str(source)],
    }
    built = {}
    for name, command in commands.items():
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.skip(f"gcc could not build the {name} test binary: {result.stderr.strip()}")
        built[name] = Path(command[command.index("-o") + 1])
    return built


def test_static_gcc_binary(gcc_builds: dict[str, Path]) -> None:
    facts = inspect_file(gcc_builds["static"])
    assert (facts.format, facts.os, facts.arch) == ("elf", "linux", "amd64")
    assert facts.interpreter is None
    assert facts.head == gcc_builds["static"].read_bytes()[:16]
    assert facts.size == gcc_builds["static"].stat().st_size
    assert facts.go is None  # C has no Go build info
    # The marker string is found in a real binary, whatever compiler put it there.
    assert facts.plugin_kinds == {PluginKind.STEP}


def test_dynamic_gcc_binary_names_its_interpreter(gcc_builds: dict[str, Path]) -> None:
    facts = inspect_file(gcc_builds["dynamic"])
    assert (facts.format, facts.arch) == ("elf", "amd64")
    assert facts.interpreter == "/lib64/ld-linux-x86-64.so.2"


def test_static_pie_gcc_binary(gcc_builds: dict[str, Path]) -> None:
    facts = inspect_file(gcc_builds["static-pie"])
    assert (facts.format, facts.arch, facts.interpreter, facts.detail) == (
        "elf",
        "amd64",
        None,
        None,
    )


def test_shared_library_is_noted(gcc_builds: dict[str, Path]) -> None:
    facts = inspect_file(gcc_builds["shared"])
    assert (facts.format, facts.arch, facts.interpreter) == ("elf", "amd64", None)
    assert facts.detail is not None and facts.detail.startswith("shared library")


def test_object_file_is_noted(gcc_builds: dict[str, Path]) -> None:
    facts = inspect_file(gcc_builds["object"])
    assert (facts.format, facts.arch, facts.interpreter) == ("elf", "amd64", None)
    assert facts.detail is not None and "ET_REL" in facts.detail


@pytest.mark.parametrize(
    ("bits", "big_endian", "machine", "arch"),
    [
        (64, False, 183, "arm64"),
        (32, False, 40, "arm"),
        (32, False, 3, "386"),
        (64, True, 22, "s390x"),
        (64, False, 243, "riscv64"),
        (64, True, 21, "ppc64"),
        (64, False, 21, "ppc64le"),
        (32, True, 8, "mips"),
        (64, False, 8, "mips64le"),
        (64, False, 258, "loong64"),
    ],
)
def test_elf_machines(tmp_path: Path, bits: int, big_endian: bool, machine: int, arch: str) -> None:
    image = Elf(bits=bits, big_endian=big_endian, machine=machine).build()
    facts = inspect_file(write(tmp_path / "plugin", image))
    assert (facts.format, facts.os, facts.arch, facts.interpreter, facts.detail) == (
        "elf",
        "linux",
        arch,
        None,
        None,
    )


def test_elf_unknown_machine_is_in_detail(tmp_path: Path) -> None:
    facts = inspect_file(write(tmp_path / "plugin", Elf(machine=0x1234).build()))
    assert (facts.format, facts.arch) == ("elf", None)
    assert facts.detail == "unknown ELF machine 4660"


@pytest.mark.parametrize(("osabi", "os_name"), [(0, "linux"), (3, "linux"), (9, "freebsd")])
def test_elf_os_abi(tmp_path: Path, osabi: int, os_name: str) -> None:
    facts = inspect_file(write(tmp_path / "plugin", Elf(osabi=osabi).build()))
    assert facts.os == os_name


def test_crafted_interpreter_musl(tmp_path: Path) -> None:
    image = Elf(machine=183, interpreter=b"/lib/ld-musl-aarch64.so.1").build()
    facts = inspect_file(write(tmp_path / "plugin", image))
    assert (facts.arch, facts.interpreter) == ("arm64", "/lib/ld-musl-aarch64.so.1")


def test_elf_types(tmp_path: Path) -> None:
    pie = inspect_file(write(tmp_path / "pie", Elf(type=3).build()))
    assert (pie.format, pie.interpreter, pie.detail) == ("elf", None, None)
    library = inspect_file(write(tmp_path / "lib.so", Elf(type=3, entry=0).build()))
    assert library.detail == "shared library (ET_DYN with no entry point), not an executable"
    core = inspect_file(write(tmp_path / "core", Elf(type=4).build()))
    assert core.detail is not None and "ET_CORE" in core.detail


def test_truncated_elf_keeps_what_it_can(tmp_path: Path) -> None:
    image = Elf(machine=183).build()
    assert inspect_file(write(tmp_path / "a", image[:20])).arch == "arm64"
    short = inspect_file(write(tmp_path / "b", image[:10]))
    assert (short.format, short.arch, short.detail) == ("elf", None, "truncated ELF header")


def test_hostile_elf_program_headers_are_bounded(tmp_path: Path) -> None:
    """Counts and offsets at their maximum make no long loop and no huge read."""
    image = bytearray(Elf(segments=[ElfSegment(PT_LOAD, 6, 0x1000, b"x")]).build())
    struct.pack_into("<QQ", image, 0x20, 2**64 - 1, 2**63)  # e_phoff, e_shoff
    struct.pack_into("<HHHHH", image, 0x36, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF)
    facts = inspect_file(write(tmp_path / "plugin", bytes(image)))
    assert (facts.format, facts.arch, facts.go) == ("elf", "amd64", None)


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize(
    ("cpu", "bits", "arch"), [(CPU_X86_64, 64, "amd64"), (CPU_ARM64, 64, "arm64"), (7, 32, "386")]
)
def test_thin_macho(tmp_path: Path, cpu: int, bits: int, arch: str, big_endian: bool) -> None:
    image = macho(cpu, bits=bits, big_endian=big_endian)
    facts = inspect_file(write(tmp_path / "plugin", image))
    assert (facts.format, facts.os, facts.arch, facts.detail) == ("macho", "darwin", arch, None)


def test_macho_dylib_is_noted(tmp_path: Path) -> None:
    facts = inspect_file(write(tmp_path / "plugin", macho(CPU_ARM64, file_type=6)))
    assert (facts.format, facts.detail) == ("macho", "Mach-O dynamic library")


@pytest.mark.parametrize("fat64", [False, True])
def test_universal_macho_lists_every_slice(tmp_path: Path, fat64: bool) -> None:
    image = universal([(CPU_X86_64, macho(CPU_X86_64)), (CPU_ARM64, macho(CPU_ARM64))], fat64=fat64)
    facts = inspect_file(write(tmp_path / "plugin", image))
    assert (facts.format, facts.os, facts.arches) == (
        "macho-universal",
        "darwin",
        ("amd64", "arm64"),
    )


def test_java_class_file_is_not_a_universal_binary(tmp_path: Path) -> None:
    # CAFEBABE, minor version 0, major version 52 (Java 8), a constant pool count.
    class_file = bytes.fromhex("cafebabe00000034001d0a0006000f09") + bytes(200)
    facts = inspect_file(write(tmp_path / "Plugin.class", class_file))
    assert facts.format == "unknown"
    assert facts.arches == ()


@pytest.mark.parametrize(
    ("machine", "arch"), [(PE_AMD64, "amd64"), (PE_ARM64, "arm64"), (PE_386, "386")]
)
def test_pe(tmp_path: Path, machine: int, arch: str) -> None:
    facts = inspect_file(write(tmp_path / "plugin.exe", pe(machine, pe32_plus=machine != PE_386)))
    assert (facts.format, facts.os, facts.arch, facts.detail) == ("pe", "windows", arch, None)


def test_pe_dll_is_noted(tmp_path: Path) -> None:
    facts = inspect_file(write(tmp_path / "plugin.dll", pe(dll=True)))
    assert (facts.format, facts.detail) == ("pe", "Windows DLL")


def test_mz_without_pe_signature_is_not_pe(tmp_path: Path) -> None:
    dos = bytearray(pe())
    dos[0x80:0x84] = b"NE\0\0"
    assert inspect_file(write(tmp_path / "a.exe", bytes(dos))).format == "unknown"
    far = bytearray(pe())
    struct.pack_into("<I", far, 0x3C, 0xFFFFFFFF)  # e_lfanew far past the end
    assert inspect_file(write(tmp_path / "b.exe", bytes(far))).format == "unknown"
    assert inspect_file(write(tmp_path / "c.txt", b"MZ is a text file too\n")).format == "text"
