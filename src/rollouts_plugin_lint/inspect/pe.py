"""PE (Windows) headers: the MZ stub's e_lfanew, the COFF machine, ImageBase and sections.

Constants from the PE/COFF specification, as in Go's debug/pe.
"""

from __future__ import annotations

import struct

from rollouts_plugin_lint.inspect.image import ExecutableImage, Region, Segment
from rollouts_plugin_lint.inspect.view import FileView

_ARCH_BY_MACHINE = {
    0x8664: "amd64",
    0xAA64: "arm64",
    0x14C: "386",
    0x1C0: "arm",
    0x1C4: "arm",
    0x5064: "riscv64",
}
_PE32, _PE32_PLUS = 0x10B, 0x20B
_IMAGE_FILE_DLL = 0x2000
# Go's debug/buildinfo takes the first section that is exactly initialized data,
# readable and writable (alignment bits aside).
_INITIALIZED_DATA_RW = 0x00000040 | 0x40000000 | 0x80000000
_ALIGNMENT_BITS = 0x00F00000
# The loader refuses more than 96 sections; a few more tolerate odd linkers.
_MAX_SECTIONS = 128
_SECTION_SIZE = 40


def parse_pe(view: FileView) -> ExecutableImage | None:
    """Facts from an MZ file with a PE signature; None for an MZ file without one."""
    stub = view.read_exact(0, 0x40)
    if stub is None or not stub.startswith(b"MZ"):
        return None
    (pe_offset,) = struct.unpack_from("<I", stub, 0x3C)
    coff = view.read_exact(pe_offset, 24)
    if coff is None or not coff.startswith(b"PE\0\0"):
        return None
    machine, section_count, _time, _symbols, _symbol_count, optional_size, flags = (
        struct.unpack_from("<HHIIIHH", coff, 4)
    )
    arch = _ARCH_BY_MACHINE.get(machine)
    notes = []
    if arch is None:
        notes.append(f"unknown PE machine {machine:#x}")
    if flags & _IMAGE_FILE_DLL:
        notes.append("Windows DLL")
    optional_at = pe_offset + 24
    optional = view.read(optional_at, min(optional_size, 32))
    image_base = 0
    if len(optional) >= 32:
        (magic,) = struct.unpack_from("<H", optional)
        if magic == _PE32_PLUS:
            (image_base,) = struct.unpack_from("<Q", optional, 24)
        elif magic == _PE32:
            (image_base,) = struct.unpack_from("<I", optional, 28)
    table = view.read(
        optional_at + optional_size, min(section_count, _MAX_SECTIONS) * _SECTION_SIZE
    )
    segments: list[Segment] = []
    region: Region | None = None
    for index in range(len(table) // _SECTION_SIZE):
        virtual_size, virtual_address, raw_size, raw_offset = struct.unpack_from(
            "<IIII", table, index * _SECTION_SIZE + 8
        )
        (characteristics,) = struct.unpack_from("<I", table, index * _SECTION_SIZE + 36)
        segments.append(Segment(image_base + virtual_address, raw_offset, raw_size))
        if (
            region is None
            and virtual_address != 0
            and raw_size != 0
            and characteristics & ~_ALIGNMENT_BITS == _INITIALIZED_DATA_RW
        ):
            region = Region(raw_offset, min(virtual_size or raw_size, raw_size))
    return ExecutableImage(
        view,
        "windows",
        arch,
        detail="; ".join(notes) or None,
        segments=tuple(segments),
        buildinfo_region=region,
    )
