"""Paths -> candidate files: a git-aware walk, excludes, and a cheap byte prefilter so
that only files that can hold plugin configuration are ever parsed.

Paths stay plain strings here: a large repository has tens of thousands of files and
pathlib objects cost more than reading most of them."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

YAML_SUFFIXES = (".yaml", ".yml", ".json")
SKIPPED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "node_modules", "vendor", "third_party", ".venv", "venv",
        ".tox", ".nox", "__pycache__", ".terraform", ".mypy_cache", ".pytest_cache",
        ".ruff_cache",
    }
)  # fmt: skip

# Cheap first: every key we care about contains "lugin" (Plugin, plugin) except the
# ConfigMap's own name. Then the precise pattern: the three keys, their near misses
# (canaryStepPlugins, metricPlugins, trafficRouterPlugin) and the ConfigMap name.
_QUICK = (b"lugin", b"argo-rollouts-config")
_PRECISE = re.compile(
    rb"(?i)(?:trafficrouter|metricprovider|metric|step|traffic)[a-z]*plugin|argo-rollouts-config"
)


def might_hold_plugins(data: bytes) -> bool:
    return any(quick in data for quick in _QUICK) and _PRECISE.search(data) is not None


KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_KUSTOMIZATION_ENDINGS = tuple(os.sep + name for name in KUSTOMIZATION_FILES)


def might_give_versions(path: str, data: bytes) -> bool:
    """A kustomization or an Argo CD app with `valueFiles`: it may say which version
    applies to plugin lists in other files, so it is read without a plugin key."""
    return path.endswith(_KUSTOMIZATION_ENDINGS) or b"valueFiles" in data


@dataclass(frozen=True)
class Candidate:
    path: str
    display_path: str
    data: bytes


@dataclass
class Discovery:
    """Iterating yields the files worth parsing, reading each file once and holding no file
    open between steps. `scanned` counts every file looked at; `unreadable` lists
    (display path, reason) for files that could not be read."""

    paths: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    cwd: str = field(default_factory=os.getcwd)
    scanned: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    def __iter__(self) -> Iterator[Candidate]:
        cwd = os.path.abspath(self.cwd)
        seen: set[str] = set()
        for path, absolute in self._files(cwd):
            if absolute in seen:
                continue
            seen.add(absolute)
            self.scanned += 1
            try:
                data = read_regular_file(absolute)
            except OSError as error:
                reason = error.strerror or str(error)
                self.unreadable.append((display_path(absolute, cwd, path), reason))
                continue
            if might_hold_plugins(data) or might_give_versions(absolute, data):
                yield Candidate(absolute, display_path(absolute, cwd, path), data)

    def _files(self, cwd: str) -> Iterator[tuple[str, str]]:
        """(path as given or found, absolute normalized path) of every file to look at."""
        for raw in self.paths:
            if os.path.isdir(os.path.join(cwd, raw)):
                for relative in walk_directory(os.path.join(cwd, raw)):
                    found = os.path.normpath(os.path.join(raw, relative))
                    absolute = os.path.normpath(os.path.join(cwd, found))
                    # Per-file work adds up over tens of thousands of files: no display
                    # path when there is no pattern to match it against.
                    if not (self.exclude and self._excluded(display_path(absolute, cwd, found))):
                        yield found, absolute
            else:
                # Named explicitly (pre-commit does this): always checked.
                yield raw, os.path.normpath(os.path.join(cwd, raw))

    def _excluded(self, display: str) -> bool:
        name = os.path.basename(display)
        return any(
            fnmatch.fnmatch(display, pattern) or fnmatch.fnmatch(name, pattern)
            for pattern in self.exclude
        )


def read_regular_file(path: str) -> bytes:
    """The bytes of a regular file. Opening without blocking and checking the open file
    means a FIFO, a device or a file swapped in between cannot hang or fool us."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(0, "not a regular file")
        # Plain reads, no buffered stream: for the thousands of small files of a big
        # repository, building a stream per file costs more than reading it. The first
        # read asks for one byte more than fstat said, the loop catches a file that grew.
        data = os.read(fd, status.st_size + 1)
        rest: list[bytes] = []
        while data and (chunk := os.read(fd, 1024 * 1024)):
            rest.append(chunk)
        return data + b"".join(rest) if rest else data
    finally:
        os.close(fd)


def walk_directory(root: str) -> Iterator[str]:
    """YAML and JSON files under `root` (relative to it), honouring .gitignore inside a
    git work tree."""
    listed = _git_files(root)
    for relative in listed if listed is not None else _walk(root):
        if relative.lower().endswith(YAML_SUFFIXES) and SKIPPED_DIRS.isdisjoint(
            relative.split("/")[:-1]
        ):
            yield relative


def _git_files(root: str) -> list[str] | None:
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
            cwd=root,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None  # no git, or not a work tree
    names = listing.decode("utf-8", "surrogateescape").split("\0")
    return sorted({name for name in names if name})


def _walk(root: str) -> Iterator[str]:
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        relative_dir = os.path.relpath(directory, root)
        for name in sorted(files):
            yield name if relative_dir == "." else f"{relative_dir}/{name}"


def display_path(absolute: str, cwd: str, given: str) -> str:
    """Relative to the working directory when below it, as given otherwise."""
    below = cwd.rstrip("/") + "/"
    if absolute.startswith(below) and not absolute.startswith("/", len(below)):
        # Both paths are normalized, so the rest is what os.path.relpath would say, at a
        # fraction of its cost per file.
        return absolute[len(below) :].replace(os.sep, "/")
    if absolute == cwd or absolute.startswith(below):
        return os.path.relpath(absolute, cwd).replace(os.sep, "/")
    return given.replace(os.sep, "/")
