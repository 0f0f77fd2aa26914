"""Builders for the files the inspect tests read: minimal but well-formed ELF, Mach-O and
PE images (with Go build info in either layout), written with struct the way the
formats' specifications lay them out. Only headers the inspector reads are filled in."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

BUILDINFO_MAGIC = b"\xff Go buildinf:"
INFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
INFO_END = bytes.fromhex("f932433186182072008242104116d8f2")

PLUGIN_MODINFO = (
    "path\tgithub.com/example/rollouts-plugin/cmd\n"
    "mod\tgithub.com/example/rollouts-plugin\tv0.3.0\th1:AAAA=\n"
    "dep\tgithub.com/argoproj/argo-rollouts\tv1.8.3\th1:BBBB=\n"
    "=>\tgithub.com/fork/argo-rollouts\tv1.8.3-x\th1:CCCC=\n"
    "dep\tgithub.com/hashicorp/go-plugin\tv1.6.3\th1:DDDD=\n"
    "build\t-compiler=gc\n"
    'build\t-ldflags="-s -w -X main.version=v0.3.0"\n'
    "build\tCGO_ENABLED=0\n"
    "build\tGOARCH=amd64\n"
    "build\tGOOS=linux\n"
)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def framed(modinfo: str) -> bytes:
    """Module info as the linker stores it, between the two sentinels."""
    return INFO_START + modinfo.encode() + INFO_END


def inline_buildinfo(version: str = "go1.22.5", modinfo: str = PLUGIN_MODINFO) -> bytes:
    """Go >= 1.18: header with flag 2, then two varint-prefixed strings, padded to 16."""
    header = BUILDINFO_MAGIC + bytes([8, 2]) + bytes(16)
    body = uvarint(len(version)) + version.encode()
    mod = framed(modinfo)
    body += uvarint(len(mod)) + mod
    blob = header + body
    return blob + bytes(-len(blob) % 16)


@dataclass
class PointerBuildinfo:
    """Go 1.13-1.17: the header points at two Go string headers {data, len}; they and the
    bytes they point to live in a data segment at `address`."""

    address: int
    pointer_size: int
    big_endian: bool
    version: str = "go1.16.15"
    modinfo: str = PLUGIN_MODINFO

    def segment(self) -> bytes:
        order = ">" if self.big_endian else "<"
        word = "I" if self.pointer_size == 4 else "Q"
        version = self.version.encode()
        mod = framed(self.modinfo)
        string_headers_at = self.address + 32
        strings_at = string_headers_at + 4 * self.pointer_size
        header = BUILDINFO_MAGIC + bytes([self.pointer_size, 1 if self.big_endian else 0])
        header += struct.pack(
            order + word * 2, string_headers_at, string_headers_at + 2 * self.pointer_size
        )
        header += bytes(32 - len(header))
        headers = struct.pack(
            order + word * 4, strings_at, len(version), strings_at + len(version), len(mod)
        )
        return header + headers + version + mod


# --- ELF ---

PT_LOAD, PT_INTERP = 1, 3
PF_X, PF_W, PF_R = 1, 2, 4


@dataclass
class ElfSegment:
    type: int
    flags: int
    address: int
    data: bytes


@dataclass
class ElfSection:
    name: str
    data: bytes
    address: int = 0
    type: int = 1  # SHT_PROGBITS


@dataclass
class Elf:
    bits: int = 64
    big_endian: bool = False
    machine: int = 62
    osabi: int = 0
    type: int = 2  # ET_EXEC
    entry: int = 0x401000
    interpreter: bytes | None = None
    segments: list[ElfSegment] = field(default_factory=list)
    sections: list[ElfSection] = field(default_factory=list)

    def build(self) -> bytes:
        order = ">" if self.big_endian else "<"
        is_64 = self.bits == 64
        header_size, ph_size, sh_size = (64, 56, 64) if is_64 else (52, 32, 40)
        segments = list(self.segments)
        if self.interpreter is not None:
            segments.insert(0, ElfSegment(PT_INTERP, PF_R, 0x400200, self.interpreter + b"\0"))
        # Section names: a string table appended as the last section.
        names = b"\0"
        name_offsets = []
        for section in [*self.sections, ElfSection(".shstrtab", b"", type=3)]:
            name_offsets.append(len(names))
            names += section.name.encode() + b"\0"
        sections = [*self.sections, ElfSection(".shstrtab", names, type=3)]

        body = bytearray()
        position = header_size + ph_size * len(segments)

        def place(data: bytes) -> int:
            nonlocal position
            padding = -(position + len(body)) % 16
            body.extend(bytes(padding))
            offset = position + len(body)
            body.extend(data)
            return offset

        segment_offsets = [place(segment.data) for segment in segments]
        section_offsets = [place(section.data) for section in sections]
        sh_offset = place(b"")
        file = bytearray()
        ident = (
            b"\x7fELF"
            + bytes([2 if is_64 else 1, 2 if self.big_endian else 1, 1, self.osabi])
            + bytes(8)
        )
        rest = "HHIQQQIHHHHHH" if is_64 else "HHIIIIIHHHHHH"
        file += ident + struct.pack(
            order + rest,
            self.type,
            self.machine,
            1,
            self.entry,
            header_size if segments else 0,
            sh_offset,
            0,
            header_size,
            ph_size,
            len(segments),
            sh_size,
            len(sections) + 1,
            len(sections),
        )
        for segment, offset in zip(segments, segment_offsets, strict=True):
            size = len(segment.data)
            if is_64:
                file += struct.pack(
                    order + "IIQQQQQQ",
                    segment.type,
                    segment.flags,
                    offset,
                    segment.address,
                    segment.address,
                    size,
                    size,
                    16,
                )
            else:
                file += struct.pack(
                    order + "IIIIIIII",
                    segment.type,
                    offset,
                    segment.address,
                    segment.address,
                    size,
                    size,
                    segment.flags,
                    16,
                )
        file += body
        section_layout = order + ("IIQQQQIIQQ" if is_64 else "IIIIIIIIII")
        file += bytes(sh_size)  # section 0 is the null section
        for section, name_offset, offset in zip(
            sections, name_offsets, section_offsets, strict=True
        ):
            file += struct.pack(
                section_layout,
                name_offset,
                section.type,
                0,
                section.address,
                offset,
                len(section.data),
                0,
                0,
                1,
                0,
            )
        return bytes(file)


def elf_with_inline_buildinfo(
    *, bits: int = 64, big_endian: bool = False, machine: int = 62, use_section: bool = True
) -> bytes:
    blob = inline_buildinfo()
    text = ElfSegment(PT_LOAD, PF_R | PF_X, 0x401000, b"\x90" * 64)
    data = ElfSegment(PT_LOAD, PF_R | PF_W, 0x500000, bytes(48) + blob)
    sections = [ElfSection(".go.buildinfo", blob, 0x600000)] if use_section else []
    return Elf(
        bits=bits, big_endian=big_endian, machine=machine, segments=[text, data], sections=sections
    ).build()


def elf_with_pointer_buildinfo(*, bits: int, big_endian: bool, machine: int) -> bytes:
    """Old layout. The build info segment loads at an address unrelated to its file offset,
    so reading the strings only works by mapping addresses through PT_LOAD."""
    pointers = PointerBuildinfo(0x7A0000, bits // 8, big_endian)
    text = ElfSegment(PT_LOAD, PF_R | PF_X, 0x10000, b"\x90" * 64)
    data = ElfSegment(PT_LOAD, PF_R | PF_W, pointers.address, pointers.segment())
    return Elf(bits=bits, big_endian=big_endian, machine=machine, segments=[text, data]).build()


# --- Mach-O ---

CPU_X86_64, CPU_ARM64, CPU_386 = 0x01000007, 0x0100000C, 7
VM_PROT_RX, VM_PROT_RW = 5, 3


@dataclass
class MachSegment:
    name: str
    address: int
    protection: int
    data: bytes
    sections: list[tuple[str, int, int]] = field(default_factory=list)  # name, start, size


def macho(
    cpu: int = CPU_ARM64,
    *,
    bits: int = 64,
    big_endian: bool = False,
    file_type: int = 2,
    segments: list[MachSegment] | None = None,
) -> bytes:
    order = ">" if big_endian else "<"
    is_64 = bits == 64
    header_size = 32 if is_64 else 28
    segment_size, section_size = (72, 80) if is_64 else (56, 68)
    segments = segments or []
    commands_size = sum(segment_size + section_size * len(s.sections) for s in segments)
    position = header_size + commands_size
    position += -position % 16
    commands = b""
    body = b""
    for segment in segments:
        offset = position + len(body)
        body += segment.data + bytes(-len(segment.data) % 16)
        command = 0x19 if is_64 else 0x1
        size = segment_size + section_size * len(segment.sections)
        name = segment.name.encode().ljust(16, b"\0")
        word = "Q" if is_64 else "I"
        commands += struct.pack(
            order + "II16s" + word * 4 + "iiII",
            command,
            size,
            name,
            segment.address,
            len(segment.data),
            offset,
            len(segment.data),
            segment.protection,
            segment.protection,
            len(segment.sections),
            0,
        )
        for section_name, start, length in segment.sections:
            layout = order + "16s16s" + word * 2 + "IIIIIII" + ("I" if is_64 else "")
            values = [
                section_name.encode().ljust(16, b"\0"),
                name,
                segment.address + start,
                length,
                offset + start,
                4,
                0,
                0,
                0,
                0,
                0,
            ]
            if is_64:
                values.append(0)
            commands += struct.pack(layout, *values)
    magic = 0xFEEDFACF if is_64 else 0xFEEDFACE
    header = struct.pack(
        order + "IiiIIII", magic, cpu, 3, file_type, len(segments), commands_size, 0
    )
    if is_64:
        header += bytes(4)
    padding = bytes(
        header_size
        + commands_size
        + (-(header_size + commands_size) % 16)
        - len(header)
        - len(commands)
    )
    return header + commands + padding + body


def macho_with_inline_buildinfo(cpu: int = CPU_ARM64, *, use_section: bool = True) -> bytes:
    blob = inline_buildinfo()
    text = MachSegment("__TEXT", 0x100000000, VM_PROT_RX, b"\x00" * 64)
    sections = [("__go_buildinfo", 0, len(blob))] if use_section else []
    data = MachSegment("__DATA", 0x100004000, VM_PROT_RW, blob, sections)
    return macho(cpu, segments=[text, data])


def macho_with_pointer_buildinfo(*, bits: int, big_endian: bool) -> bytes:
    pointers = PointerBuildinfo(0x2000, bits // 8, big_endian)
    zero = MachSegment("__PAGEZERO", 0, 0, b"")
    data = MachSegment("__DATA", pointers.address, VM_PROT_RW, pointers.segment())
    cpu = CPU_X86_64 if bits == 64 else CPU_386
    return macho(cpu, bits=bits, big_endian=big_endian, segments=[zero, data])


def universal(slices: list[tuple[int, bytes]], *, fat64: bool = False) -> bytes:
    magic = 0xCAFEBABF if fat64 else 0xCAFEBABE
    entry_size = 32 if fat64 else 20
    out = struct.pack(">II", magic, len(slices))
    position = 8 + entry_size * len(slices)
    position += -position % 4096
    table = b""
    body = b""
    for cpu, data in slices:
        offset = position + len(body)
        if fat64:
            table += struct.pack(">iiQQII", cpu, 0, offset, len(data), 12, 0)
        else:
            table += struct.pack(">iiIII", cpu, 0, offset, len(data), 12)
        body += data + bytes(-len(data) % 4096)
    out += table
    return out + bytes(position - len(out)) + body


# --- PE ---

PE_AMD64, PE_ARM64, PE_386 = 0x8664, 0xAA64, 0x14C
SCN_CODE_RX = 0x60000020
SCN_DATA_RW = 0xC0000040


def pe(
    machine: int = PE_AMD64,
    *,
    sections: list[tuple[str, int, int, bytes]] | None = None,  # name, rva, flags, data
    image_base: int = 0x400000,
    pe32_plus: bool = True,
    dll: bool = False,
) -> bytes:
    sections = sections or [(".text", 0x1000, SCN_CODE_RX, b"\xcc" * 64)]
    e_lfanew = 0x80
    stub = bytearray(e_lfanew)
    stub[0:2] = b"MZ"
    struct.pack_into("<I", stub, 0x3C, e_lfanew)
    optional_size = 240 if pe32_plus else 224
    optional = bytearray(optional_size)
    if pe32_plus:
        struct.pack_into("<HQ", optional, 0, 0x20B, 0)
        struct.pack_into("<Q", optional, 24, image_base)
    else:
        struct.pack_into("<H", optional, 0, 0x10B)
        struct.pack_into("<I", optional, 28, image_base)
    characteristics = 0x0022 | (0x2000 if dll else 0)
    coff = b"PE\0\0" + struct.pack(
        "<HHIIIHH", machine, len(sections), 0, 0, 0, optional_size, characteristics
    )
    headers_size = e_lfanew + len(coff) + optional_size + 40 * len(sections)
    position = headers_size + (-headers_size % 512)
    table = b""
    body = b""
    for name, rva, flags, data in sections:
        raw = data + bytes(-len(data) % 512)
        table += struct.pack(
            "<8sIIIIIIHHI",
            name.encode().ljust(8, b"\0"),
            len(data),
            rva,
            len(raw),
            position + len(body),
            0,
            0,
            0,
            0,
            flags,
        )
        body += raw
    out = bytes(stub) + coff + bytes(optional) + table
    return out + bytes(position - len(out)) + body


def pe_with_inline_buildinfo(machine: int = PE_AMD64) -> bytes:
    blob = inline_buildinfo()
    return pe(
        machine,
        sections=[
            (".text", 0x1000, SCN_CODE_RX, b"\xcc" * 64),
            (".rdata", 0x2000, 0x40000040, b"read-only"),
            (".data", 0x3000, SCN_DATA_RW, blob),
        ],
    )


def pe_with_pointer_buildinfo() -> bytes:
    image_base = 0x400000
    pointers = PointerBuildinfo(image_base + 0x3000, 8, False)
    return pe(
        PE_AMD64,
        image_base=image_base,
        sections=[
            (".text", 0x1000, SCN_CODE_RX, b"\xcc" * 64),
            (".data", 0x3000, SCN_DATA_RW, pointers.segment()),
        ],
    )
