"""ELF headers: class, byte order, machine, OS ABI, PT_INTERP, and where Go build info is.

Constants from the ELF specification (as in Go's debug/elf). Counts and sizes from the file
are capped: a garbled header gives fewer facts, never a long loop or a huge read.
"""

from __future__ import annotations

import struct

from rollouts_plugin_lint.inspect.image import ExecutableImage, Region, Segment
from rollouts_plugin_lint.inspect.view import FileView
from rollouts_plugin_lint.printable import latin1, printable

ELF_MAGIC = b"\x7fELF"

_CLASS_32, _CLASS_64 = 1, 2
_LITTLE_ENDIAN, _BIG_ENDIAN = 1, 2

_ET_REL, _ET_EXEC, _ET_DYN, _ET_CORE = 1, 2, 3, 4
_PT_LOAD, _PT_INTERP = 1, 3
_PF_X, _PF_W = 1, 2
_SHT_NOBITS = 8
_SHN_XINDEX = 0xFFFF

_MAX_PROGRAM_HEADERS = 1024
_MAX_SECTIONS = 4096
_MAX_ENTRY_SIZE = 1024
_MAX_INTERPRETER = 4096
_MAX_SECTION_NAMES = 1024 * 1024

_OS_BY_ABI = {0: "linux", 3: "linux", 2: "netbsd", 6: "solaris", 9: "freebsd", 12: "openbsd"}

# e_machine -> GOARCH. The ones that depend on class or byte order are in `_arch`.
_ARCH_BY_MACHINE = {
    3: "386",
    22: "s390x",
    40: "arm",
    62: "amd64",
    183: "arm64",
    243: "riscv64",
    258: "loong64",
}
_EM_MIPS, _EM_PPC64, _EM_SPARCV9 = 8, 21, 43

_TYPE_NOTES = {
    _ET_REL: "relocatable object file (ET_REL), not an executable",
    _ET_CORE: "core dump (ET_CORE), not an executable",
}


def _arch(machine: int, elf_class: int, big_endian: bool) -> str | None:
    if machine in _ARCH_BY_MACHINE:
        return _ARCH_BY_MACHINE[machine]
    if machine == _EM_PPC64:
        return "ppc64" if big_endian else "ppc64le"
    if machine == _EM_MIPS:
        base = "mips64" if elf_class == _CLASS_64 else "mips"
        return base if big_endian else base + "le"
    if machine == _EM_SPARCV9:
        return "sparc64"
    return None


def parse_elf(view: FileView) -> ExecutableImage:
    """Facts from an ELF file (the caller has checked the magic)."""
    ident = view.read(0, 64)
    if len(ident) < 20:
        return ExecutableImage(view, None, None, detail="truncated ELF header")
    elf_class, data_encoding, osabi = ident[4], ident[5], ident[7]
    if elf_class not in (_CLASS_32, _CLASS_64) or data_encoding not in (
        _LITTLE_ENDIAN,
        _BIG_ENDIAN,
    ):
        return ExecutableImage(
            view, None, None, detail=f"ELF header with invalid class {elf_class} or byte order"
        )
    big_endian = data_encoding == _BIG_ENDIAN
    order = ">" if big_endian else "<"
    e_type, machine = struct.unpack_from(order + "HH", ident, 16)
    arch = _arch(machine, elf_class, big_endian)
    os_name = _OS_BY_ABI.get(osabi)
    notes: list[str] = []
    if arch is None:
        notes.append(f"unknown ELF machine {machine}")
    if os_name is None:
        notes.append(f"unknown ELF OS ABI {osabi}")
    if e_type in _TYPE_NOTES:
        notes.append(_TYPE_NOTES[e_type])
    elif e_type not in (_ET_EXEC, _ET_DYN):
        notes.append(f"unknown ELF type {e_type}")

    header = _Header.read(ident, elf_class, order)
    if header is None:
        notes.append("truncated ELF header")
        return ExecutableImage(view, os_name, arch, detail=_join(notes))

    # `detail` on an ELF means something is wrong. ET_DYN without PT_INTERP is a static-pie,
    # which runs like any static binary, unless it has no entry point: a shared library.
    segments, interpreter, writable_data = _program_headers(view, header)
    if e_type == _ET_DYN and interpreter is None and header.entry == 0:
        notes.append("shared library (ET_DYN with no entry point), not an executable")
    region = _buildinfo_section(view, header) or writable_data
    return ExecutableImage(
        view,
        os_name,
        arch,
        detail=_join(notes),
        interpreter=interpreter,
        segments=segments,
        buildinfo_region=region,
    )


class _Header:
    """The fields after e_machine that locate the program and section headers."""

    def __init__(self, elf_class: int, order: str, fields: tuple[int, ...]) -> None:
        self.is_64 = elf_class == _CLASS_64
        self.order = order
        (
            _version,
            self.entry,
            self.phoff,
            self.shoff,
            _flags,
            _ehsize,
            self.phentsize,
            self.phnum,
            self.shentsize,
            self.shnum,
            self.shstrndx,
        ) = fields

    @classmethod
    def read(cls, ident: bytes, elf_class: int, order: str) -> _Header | None:
        layout = order + ("IQQQIHHHHHH" if elf_class == _CLASS_64 else "IIIIIHHHHHH")
        if len(ident) < 20 + struct.calcsize(layout):
            return None
        return cls(elf_class, order, struct.unpack_from(layout, ident, 20))


def _program_headers(
    view: FileView, header: _Header
) -> tuple[tuple[Segment, ...], str | None, Region | None]:
    """PT_LOAD segments, the PT_INTERP path, and the first writable non-exec PT_LOAD."""
    if header.is_64:
        layout, needed = header.order + "IIQQQQQQ", 56
    else:
        layout, needed = header.order + "IIIIIIII", 32
    count = min(header.phnum, _MAX_PROGRAM_HEADERS)
    if header.phoff == 0 or count == 0 or not needed <= header.phentsize <= _MAX_ENTRY_SIZE:
        return (), None, None
    table = view.read(header.phoff, count * header.phentsize)
    segments: list[Segment] = []
    interpreter: str | None = None
    writable_data: Region | None = None
    for index in range(len(table) // header.phentsize):
        fields = struct.unpack_from(layout, table, index * header.phentsize)
        if header.is_64:
            p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, _memsz, _align = fields
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz, _memsz, p_flags, _align = fields
        if p_type == _PT_INTERP and interpreter is None:
            raw = view.read(p_offset, min(p_filesz, _MAX_INTERPRETER)).split(b"\0", 1)[0]
            # A PT_INTERP that cannot be read still makes the binary dynamic.
            interpreter = printable(latin1(raw)) if raw else "(unreadable PT_INTERP)"
        elif p_type == _PT_LOAD:
            segments.append(Segment(p_vaddr, p_offset, p_filesz))
            if writable_data is None and p_flags & (_PF_X | _PF_W) == _PF_W and p_filesz:
                writable_data = Region(p_offset, p_filesz)
    return tuple(segments), interpreter, writable_data


def _buildinfo_section(view: FileView, header: _Header) -> Region | None:
    """The `.go.buildinfo` section, found by name through the section header string table."""
    if header.is_64:
        layout, needed = header.order + "IIQQQQIIQQ", 64
    else:
        layout, needed = header.order + "IIIIIIIIII", 40
    if header.shoff == 0 or not needed <= header.shentsize <= _MAX_ENTRY_SIZE:
        return None
    first = view.read_exact(header.shoff, needed)
    if first is None:
        return None
    count = header.shnum
    names_index = header.shstrndx
    if count == 0 or names_index == _SHN_XINDEX:
        # Real values too large for the header live in section 0.
        _, _, _, _, _, size0, link0, *_ = struct.unpack_from(layout, first)
        count = count or size0
        if names_index == _SHN_XINDEX:
            names_index = link0
    count = min(count, _MAX_SECTIONS)
    table = view.read(header.shoff, count * header.shentsize)
    sections = [
        struct.unpack_from(layout, table, index * header.shentsize)
        for index in range(len(table) // header.shentsize)
    ]
    if not 0 <= names_index < len(sections):
        return None
    names_offset, names_size = sections[names_index][4], sections[names_index][5]
    names = view.read(names_offset, min(names_size, _MAX_SECTION_NAMES))
    wanted = b".go.buildinfo\0"
    for name_offset, section_type, _flags, _addr, offset, size, *_ in sections:
        if names[name_offset : name_offset + len(wanted)] == wanted:
            if section_type == _SHT_NOBITS or size == 0:
                return None
            return Region(offset, size)
    return None


def _join(notes: list[str]) -> str | None:
    return printable("; ".join(notes)) if notes else None
