"""Bytes on disk to `BinaryFacts`: what a download is, from its bytes alone.

Pure and bounded: nothing is executed, nothing is fetched, no file is read whole (headers
by offset, the plugin-kind scan in 1 MiB chunks), and no input makes `inspect_file` raise:
what cannot be classified is format "unknown" with its first bytes in `head`.

One module per format: `elf`, `macho`, `pe` (executables), `buildinfo` (Go build info),
`kinds` (which plugin kind a binary serves), `archive` (tar, zip and compressed files),
`content` (HTML, JSON, text, scripts, LFS pointers).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rollouts_plugin_lint.inspect import archive, content, elf, macho, pe
from rollouts_plugin_lint.inspect.buildinfo import read_go_buildinfo
from rollouts_plugin_lint.inspect.image import ExecutableImage
from rollouts_plugin_lint.inspect.kinds import scan_plugin_kinds
from rollouts_plugin_lint.inspect.view import FileView
from rollouts_plugin_lint.model import BinaryFacts, GoBuildInfo
from rollouts_plugin_lint.printable import printable

__all__ = ["FORMATS", "inspect_file"]

FORMATS = frozenset(
    {
        "elf",
        "macho",
        "macho-universal",
        "pe",
        "script",
        "html",
        "json",
        "xml",
        "text",
        "empty",
        "lfs-pointer",
        "gzip",
        "tar",
        "zip",
        "xz",
        "bzip2",
        "zstd",
        "unknown",
    }
)
HEAD_SIZE = 16
# ELF OS ABI 0 (SYSV) is what Go writes for most systems; its build settings say which.
_ELF_SYSTEMS_BESIDES_LINUX = frozenset(
    {"freebsd", "netbsd", "openbsd", "dragonfly", "solaris", "illumos"}
)


def inspect_file(path: Path, content_type: str | None = None) -> BinaryFacts:
    """What the file at `path` is. `content_type` is the HTTP Content-Type it came with."""
    try:
        status = os.stat(path)
    except OSError as error:
        return BinaryFacts("unknown", 0, detail=printable(f"cannot read: {error.strerror}"))
    if not stat.S_ISREG(status.st_mode):
        return BinaryFacts("unknown", 0, detail="not a regular file")
    head = b""
    try:
        with open(path, "rb") as file:
            view = FileView(file, 0, os.fstat(file.fileno()).st_size)
            head = view.read(0, HEAD_SIZE)
            return _inspect(view, content_type)
    except OSError as error:
        return BinaryFacts(
            "unknown", status.st_size, head=head, detail=printable(f"cannot read: {error}")
        )
    except Exception as error:  # a parser bug must not stop the run; the facts say so
        return BinaryFacts(
            "unknown",
            status.st_size,
            head=head,
            detail=printable(f"inspection failed ({type(error).__name__})"),
        )


def _inspect(view: FileView, content_type: str | None) -> BinaryFacts:
    size = view.size
    sample = view.read(0, content.SAMPLE)
    head = sample[:HEAD_SIZE]
    if size == 0:
        return BinaryFacts("empty", 0, head=head)
    if sample.startswith(elf.ELF_MAGIC):
        return _executable("elf", view, elf.parse_elf(view), head)
    if macho.thin_byte_order(sample) is not None:
        return _executable("macho", view, macho.parse_thin(view), head)
    if macho.is_universal(sample):
        return _universal(view, head)
    if sample.startswith(b"MZ"):
        image = pe.parse_pe(view)
        if image is not None:
            return _executable("pe", view, image, head)
    archive_format = archive.archive_format(sample)
    if archive_format is not None:
        found = archive.inspect_archive(view, archive_format)
        return BinaryFacts(
            archive_format,
            size,
            head=head,
            detail=found.detail,
            members=found.members,
            executable_member=found.executable_member,
        )
    classified = content.classify_content(sample, size, content_type)
    if classified is not None:
        return BinaryFacts(classified.format, size, head=head, detail=classified.detail)
    return BinaryFacts("unknown", size, head=head)


def _executable(
    format_name: str, view: FileView, image: ExecutableImage, head: bytes
) -> BinaryFacts:
    go = read_go_buildinfo(image)
    return BinaryFacts(
        format_name,
        view.size,
        os=_operating_system(format_name, image.os, go),
        arch=image.arch,
        interpreter=image.interpreter,
        detail=image.detail,
        go=go,
        plugin_kinds=scan_plugin_kinds(view),
        head=head,
    )


def _operating_system(
    format_name: str, header_os: str | None, go: GoBuildInfo | None
) -> str | None:
    """The ELF OS ABI byte, corrected by Go's GOOS where the byte cannot tell (0 = SYSV)."""
    goos = go.settings.get("GOOS") if go else None
    if format_name == "elf" and header_os == "linux" and goos in _ELF_SYSTEMS_BESIDES_LINUX:
        return goos
    return header_os


def _universal(view: FileView, head: bytes) -> BinaryFacts:
    arches, slices = macho.parse_universal(view)
    go = next((info for info in map(read_go_buildinfo, slices) if info is not None), None)
    notes = [image.detail for image in slices if image.detail]
    return BinaryFacts(
        "macho-universal",
        view.size,
        os="darwin",
        arches=arches,
        detail=printable("; ".join(dict.fromkeys(notes))) if notes else None,
        go=go,
        plugin_kinds=scan_plugin_kinds(view),
        head=head,
    )
