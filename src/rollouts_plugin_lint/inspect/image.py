"""What the ELF, Mach-O and PE readers hand to the Go build info reader: where the build
info lives and how virtual addresses map to file offsets."""

from __future__ import annotations

from dataclasses import dataclass

from rollouts_plugin_lint.inspect.view import FileView


@dataclass(frozen=True)
class Segment:
    """A range of the file mapped into memory: `size` bytes at `offset` load at `address`."""

    address: int
    offset: int
    size: int


@dataclass(frozen=True)
class Region:
    """Bytes of the file where the linker puts Go build info (a section or a segment)."""

    offset: int
    size: int


@dataclass(frozen=True)
class ExecutableImage:
    """One executable (a universal Mach-O holds several) as its header describes it."""

    view: FileView
    os: str | None
    arch: str | None
    detail: str | None = None
    interpreter: str | None = None
    segments: tuple[Segment, ...] = ()
    buildinfo_region: Region | None = None

    def read_address(self, address: int, length: int) -> bytes | None:
        """`length` bytes at a virtual address, when one segment holds all of them."""
        for segment in self.segments:
            delta = address - segment.address
            if 0 <= delta < segment.size:
                if length > segment.size - delta:
                    return None
                return self.view.read_exact(segment.offset + delta, length)
        return None
