"""No input makes the inspector raise, loop long or read a large file into memory."""

from __future__ import annotations

import io
import struct
import tarfile
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts_plugin_lint.inspect import FORMATS, inspect_file
from rollouts_plugin_lint.model import BinaryFacts, PluginKind

from .inspect_fixtures import (
    CPU_ARM64,
    CPU_X86_64,
    Elf,
    elf_with_inline_buildinfo,
    elf_with_pointer_buildinfo,
    macho,
    macho_with_inline_buildinfo,
    pe_with_inline_buildinfo,
    universal,
    write,
)

MIB = 1 << 20


def test_300_mb_file_is_inspected_in_flat_memory(tmp_path: Path) -> None:
    """A sparse 300 MB ELF with a marker in its last bytes: all of it is scanned, little of
    it is held."""
    path = tmp_path / "big-plugin"
    with path.open("wb") as file:
        file.write(elf_with_inline_buildinfo())
        file.seek(300 * 1000 * 1000 - 64)
        file.write(
            b"\0github.com/argoproj/argo-rollouts/rollout/steps/plugin/rpc\0".ljust(64, b"\0")
        )
    tracemalloc.start()
    started = time.perf_counter()
    try:
        facts = inspect_file(path)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (facts.format, facts.arch, facts.size) == ("elf", "amd64", 300_000_000)
    assert facts.go is not None and facts.go.version == "go1.22.5"
    assert facts.plugin_kinds == {PluginKind.STEP}
    assert peak < 20 * MIB, f"peak {peak / MIB:.1f} MiB"
    assert elapsed < 30, f"{elapsed:.1f} s"


SAMPLES = {
    "elf": elf_with_inline_buildinfo(),
    "elf-old": elf_with_pointer_buildinfo(bits=32, big_endian=True, machine=8),
    "macho": macho_with_inline_buildinfo(),
    "universal": universal([(CPU_X86_64, macho(CPU_X86_64)), (CPU_ARM64, macho())]),
    "pe": pe_with_inline_buildinfo(),
}


def _tar_gz() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("plugin-linux-amd64")
        info.size = 600
        archive.addfile(info, io.BytesIO(bytes(600)))
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.md", "hi")
        archive.writestr("plugin", bytes(300))
    return buffer.getvalue()


SAMPLES["tar.gz"] = _tar_gz()
SAMPLES["zip"] = _zip()


def check(data: bytes) -> BinaryFacts:
    with tempfile.TemporaryDirectory() as directory:
        facts = inspect_file(write(Path(directory) / "download", data))
    assert facts.format in FORMATS
    # The last-resort guard in inspect_file turns a parser bug into this detail; no input
    # may reach it.
    assert not (facts.detail or "").startswith("inspection failed"), facts.detail
    assert facts.size == len(data)
    assert facts.head == data[:16]
    for text in (facts.detail, facts.executable_member, facts.interpreter, *facts.members):
        if text is not None:
            assert len(text) <= 120 and text.isprintable(), text
    return facts


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    check(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(SAMPLES)),
    edits=st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), max_size=12),
    cut=st.integers(0, 8192),
)
def test_mutated_headers(name: str, edits: list[tuple[int, int]], cut: int) -> None:
    """Valid files with bytes overwritten and cut short: headers that point anywhere."""
    data = bytearray(SAMPLES[name])
    for position, value in edits:
        if position < len(data):
            data[position] = value
    check(bytes(data[: max(cut, 1)]))


@pytest.mark.parametrize(
    ("name", "offset", "value"),
    [
        ("macho", 16, struct.pack("<II", 0xFFFFFFFF, 0xFFFFFFFF)),  # ncmds, sizeofcmds
        (
            "universal",
            4,
            struct.pack(">I", 19) + struct.pack(">iiIII", 7, 3, 0xFFFFFFFF, 0xFFFFFFFF, 0) * 2,
        ),
        ("pe", 0x3C, struct.pack("<I", 0x7FFFFFF0)),
        ("zip", -6, struct.pack("<I", 0xFFFFFFFF)),  # end record: directory offset
    ],
)
def test_absurd_header_values(name: str, offset: int, value: bytes) -> None:
    data = bytearray(SAMPLES[name])
    start = offset % len(data)
    data[start : start + len(value)] = value
    started = time.perf_counter()
    check(bytes(data))
    assert time.perf_counter() - started < 2


def test_tar_size_field_claiming_exabytes() -> None:
    header = tarfile.TarInfo("plugin")
    header.size = 1
    block = bytearray(header.tobuf(format=tarfile.GNU_FORMAT))
    block[124:136] = b"\x80" + b"\xff" * 11  # GNU base-256: about 2**88 bytes
    block[148:156] = b"        "
    block[148:155] = f"{sum(block):06o}\0".encode()
    facts = check(bytes(block) + bytes(1024))
    assert (facts.format, facts.members) == ("tar", ("plugin",))


def test_elf_with_interpreter_segment_beyond_the_end() -> None:
    data = bytearray(Elf(interpreter=b"/lib/ld.so").build())
    struct.pack_into("<QQ", data, 64 + 8, 2**62, 0)  # p_offset of PT_INTERP, p_vaddr
    facts = check(bytes(data))
    assert facts.interpreter == "(unreadable PT_INTERP)"
