"""Mach-O headers, thin (32/64-bit, either byte order) and universal (fat).

Constants from Apple's <mach-o/loader.h> and <mach-o/fat.h>, as in Go's debug/macho.
"""

from __future__ import annotations

import struct

from rollouts_plugin_lint.inspect.image import ExecutableImage, Region, Segment
from rollouts_plugin_lint.inspect.view import FileView
from rollouts_plugin_lint.printable import printable

_MH_MAGIC, _MH_MAGIC_64 = 0xFEEDFACE, 0xFEEDFACF
_FAT_MAGIC, _FAT_MAGIC_64 = 0xCAFEBABE, 0xCAFEBABF
# Java class files also start with CAFEBABE; there the next word is the class file version
# (45 and up), while a universal binary has a handful of slices.
_MAX_FAT_SLICES = 19

_ARCH_BY_CPU = {
    7: "386",
    0x01000007: "amd64",
    12: "arm",
    0x0100000C: "arm64",
    0x0200000C: "arm64_32",
    18: "ppc",
    0x01000012: "ppc64",
}
_MH_EXECUTE = 2
_FILE_TYPES = {
    1: "object file",
    3: "fixed VM library",
    4: "core dump",
    5: "preloaded executable",
    6: "dynamic library",
    7: "dynamic linker",
    8: "bundle",
    9: "dylib stub",
    10: "debug symbols (dSYM)",
    11: "kext bundle",
}
_LC_SEGMENT, _LC_SEGMENT_64 = 0x1, 0x19
_VM_PROT_READ_WRITE = 3
_MAX_LOAD_COMMANDS = 1024
_MAX_LOAD_COMMAND_BYTES = 4 * 1024 * 1024
_MAX_SECTIONS_PER_SEGMENT = 256


def thin_byte_order(head: bytes) -> str | None:
    """'<' or '>' when `head` starts a thin Mach-O header, else None."""
    if len(head) < 4:
        return None
    for order in ("<", ">"):
        if struct.unpack_from(order + "I", head)[0] in (_MH_MAGIC, _MH_MAGIC_64):
            return order
    return None


def is_universal(head: bytes) -> bool:
    """A fat header with a plausible slice count (which rules out Java class files)."""
    if len(head) < 8:
        return False
    magic, count = struct.unpack_from(">II", head)
    return magic in (_FAT_MAGIC, _FAT_MAGIC_64) and 1 <= count <= _MAX_FAT_SLICES


def cpu_arch(cpu_type: int) -> str:
    return _ARCH_BY_CPU.get(cpu_type, f"cputype {cpu_type:#x}")


def parse_thin(view: FileView) -> ExecutableImage:
    head = view.read(0, 32)
    order = thin_byte_order(head)
    if order is None or len(head) < 28:
        return ExecutableImage(view, "darwin", None, detail="truncated Mach-O header")
    magic, cpu_type, _subtype, file_type, command_count, command_bytes, _flags = struct.unpack_from(
        order + "IiiIIII", head
    )
    is_64 = magic == _MH_MAGIC_64
    arch = _ARCH_BY_CPU.get(cpu_type & 0xFFFFFFFF)
    notes: list[str] = []
    if arch is None:
        notes.append(f"unknown Mach-O CPU type {cpu_type & 0xFFFFFFFF:#x}")
    if file_type != _MH_EXECUTE:
        notes.append(f"Mach-O {_FILE_TYPES.get(file_type, f'file type {file_type}')}")
    segments, region = _load_commands(view, order, is_64, command_count, command_bytes)
    return ExecutableImage(
        view,
        "darwin",
        arch,
        detail=printable("; ".join(notes)) if notes else None,
        segments=segments,
        buildinfo_region=region,
    )


def _load_commands(
    view: FileView, order: str, is_64: bool, count: int, total: int
) -> tuple[tuple[Segment, ...], Region | None]:
    """Segments (for address mapping) and the Go build info section or RW segment."""
    start = 32 if is_64 else 28
    commands = view.read(start, min(total, _MAX_LOAD_COMMAND_BYTES))
    segments: list[Segment] = []
    buildinfo_section: Region | None = None
    writable_segment: Region | None = None
    if is_64:
        segment_layout, section_layout, section_size = order + "16sQQQQiiII", "16s16sQQI", 80
    else:
        segment_layout, section_layout, section_size = order + "16sIIIIiiII", "16s16sIII", 68
    section_layout = order + section_layout
    segment_header = 8 + struct.calcsize(segment_layout)
    position = 0
    for _ in range(min(count, _MAX_LOAD_COMMANDS)):
        if position + 8 > len(commands):
            break
        command, size = struct.unpack_from(order + "II", commands, position)
        if size < 8 or position + size > len(commands):
            break
        wanted = _LC_SEGMENT_64 if is_64 else _LC_SEGMENT
        if command == wanted and size >= segment_header:
            name, address, _vmsize, file_offset, file_size, max_prot, init_prot, sections, _ = (
                struct.unpack_from(segment_layout, commands, position + 8)
            )
            if name.rstrip(b"\0") != b"__PAGEZERO":
                segments.append(Segment(address, file_offset, file_size))
            if (
                writable_segment is None
                and address != 0
                and file_size != 0
                and max_prot == init_prot == _VM_PROT_READ_WRITE
            ):
                writable_segment = Region(file_offset, file_size)
            for index in range(min(sections, _MAX_SECTIONS_PER_SEGMENT)):
                at = position + segment_header + index * section_size
                if at + section_size > position + size:
                    break
                section_name, _segment, _addr, section_bytes, section_offset = struct.unpack_from(
                    section_layout, commands, at
                )
                if buildinfo_section is None and section_name.rstrip(b"\0") == b"__go_buildinfo":
                    buildinfo_section = Region(section_offset, section_bytes)
        position += size
    return tuple(segments), buildinfo_section or writable_segment


def parse_universal(view: FileView) -> tuple[tuple[str, ...], list[ExecutableImage]]:
    """Every slice's arch, and the parsed slices whose headers are in the file."""
    magic, count = struct.unpack_from(">II", view.read(0, 8))
    entry_layout = ">iiQQII" if magic == _FAT_MAGIC_64 else ">iiIII"
    entry_size = struct.calcsize(entry_layout)
    table = view.read(8, count * entry_size)
    arches: list[str] = []
    slices: list[ExecutableImage] = []
    for index in range(len(table) // entry_size):
        cpu_type, _subtype, offset, size, *_ = struct.unpack_from(
            entry_layout, table, index * entry_size
        )
        arches.append(cpu_arch(cpu_type & 0xFFFFFFFF))
        part = view.slice(offset, size)
        if thin_byte_order(part.read(0, 4)) is not None:
            slices.append(parse_thin(part))
    return tuple(arches), slices
