"""Bounded random access to a file on disk.

Every parser reads through a `FileView`, so no read can be larger than `MAX_READ` and no
offset from a header (which may be garbage) can reach outside the file or the slice being
parsed (a universal Mach-O slice is a view of its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

MIB = 1024 * 1024
MAX_READ = 16 * MIB
SCAN_CHUNK = MIB


class FileView:
    """`size` bytes of `file` starting at `start`, read with explicit offsets."""

    def __init__(self, file: BinaryIO, start: int, size: int) -> None:
        self._file = file
        self.start = start
        self.size = max(size, 0)

    def read(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes at `offset`; short or empty when the view ends first."""
        if offset < 0 or length <= 0 or offset >= self.size:
            return b""
        length = min(length, self.size - offset, MAX_READ)
        self._file.seek(self.start + offset)
        return self._file.read(length)

    def read_exact(self, offset: int, length: int) -> bytes | None:
        data = self.read(offset, length)
        return data if len(data) == length else None

    def slice(self, offset: int, size: int) -> FileView:
        """A view of part of this one, clamped to it."""
        offset = min(max(offset, 0), self.size)
        return FileView(self._file, self.start + offset, min(max(size, 0), self.size - offset))

    def chunks(
        self, chunk_size: int = SCAN_CHUNK, overlap: int = 0, start: int = 0
    ) -> Iterator[bytes]:
        """The view from `start` in pieces; each piece repeats the last `overlap` bytes of
        the one before, so a needle of up to `overlap + 1` bytes is never split."""
        tail = b""
        offset = start
        while offset < self.size:
            piece = self.read(offset, chunk_size)
            if not piece:
                return
            offset += len(piece)
            yield tail + piece if tail else piece
            if overlap:
                tail = piece[-overlap:]
