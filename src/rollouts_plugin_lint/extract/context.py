"""Which chart or controller version applies to a file that does not state it: the
kustomizations and Argo CD applications in the checked paths that use the file.

A kustomization hands the controller release of its install.yaml (its own, or a base's
through `resources: [../base]`, at any depth) to every file it reads: resources, patch
files, generator files. An Argo CD app of the argo-rollouts chart hands its chart version
to the `$values/...` value files it names. Everything here is read from files a pull
request controls: every path stays inside the checked roots (symlinks resolved), the files
read and the depth followed are bounded, and nothing remote is fetched."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rollouts_plugin_lint.discover import KUSTOMIZATION_FILES, display_path, read_regular_file
from rollouts_plugin_lint.extract.hints import (
    kustomization_references,
    kustomization_versions,
    value_file_references,
)
from rollouts_plugin_lint.extract.yamlnodes import Node, YamlProblem, compose_documents
from rollouts_plugin_lint.versions import Versions

# A real overlay chain is two or three deep and a repository holds tens of kustomizations;
# these bound what a hostile tree of them can cost (each read is one small parse).
MAX_DEPTH = 16
MAX_FILES_READ = 1_000
MAX_CONTEXT_FILE_BYTES = 1024 * 1024


def version_context(
    context_files: Iterable[tuple[str, bytes]],
    plugin_files: Iterable[str],
    roots: Sequence[str],
    cwd: str,
) -> dict[str, Versions]:
    """Versions by absolute normalized path. `context_files`: (path, bytes) of the
    kustomizations and `valueFiles` mentions found in the checked paths; `plugin_files`:
    files with plugin lists, whose own folder's kustomization counts too (pre-commit names
    only the changed file); `roots`: the folders nothing is read outside of."""
    context = _Context(tuple(roots), cwd)
    for path, data in context_files:
        if os.path.basename(path) in KUSTOMIZATION_FILES:
            context.kustomization_in(os.path.dirname(path), 0)
        else:
            context.value_files(path, data)
    for path in plugin_files:
        context.kustomization_in(os.path.dirname(path), 0)
    return context.by_file


def checked_roots(paths: Sequence[str], cwd: str) -> list[str]:
    """The working directory, and each checked path outside it (a file's folder)."""
    cwd = os.path.abspath(cwd)
    roots = [cwd]
    for raw in paths:
        absolute = os.path.normpath(os.path.join(cwd, raw))
        if not _below(absolute, cwd):
            roots.append(absolute if os.path.isdir(absolute) else os.path.dirname(absolute))
    return list(dict.fromkeys(roots))


def _below(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@dataclass
class _Context:
    roots: tuple[str, ...]
    cwd: str
    by_file: dict[str, Versions] = field(default_factory=dict)
    # By folder: the versions its kustomization hands on (empty while being resolved, so
    # a cycle ends there).
    _folders: dict[str, Versions] = field(default_factory=dict)
    _reads: int = 0

    def __post_init__(self) -> None:
        self._real_roots = tuple(os.path.realpath(root) for root in self.roots)

    def kustomization_in(self, folder: str, depth: int) -> Versions:
        if folder in self._folders:
            return self._folders[folder]
        self._folders[folder] = Versions()
        if depth > MAX_DEPTH or not self._inside(folder):
            return Versions()
        found = self._read_kustomization(folder)
        if found is None:
            return Versions()
        path, root = found
        references = [
            os.path.normpath(os.path.join(folder, ref)) for ref in kustomization_references(root)
        ]
        own = kustomization_versions(root)
        versions = (
            Versions(own.chart, own.controller, f"{own.source} of {self._display(path)}")
            if own.controller
            else Versions()
        )
        for reference in references:
            if versions.controller:
                break
            if os.path.isdir(reference):
                versions = self.kustomization_in(reference, depth + 1)
        self._folders[folder] = versions
        if versions.controller:
            for file in (path, *references):
                self.by_file.setdefault(file, versions)
        return versions

    def value_files(self, path: str, data: bytes) -> None:
        documents = self._parse(data)
        if not documents:
            return
        repository = self._repository_of(path)
        for document in documents:
            for versions, relative in value_file_references(document):
                target = os.path.normpath(os.path.join(repository, relative))
                if _below(target, repository) and self._inside(target):
                    source = f"{versions.source} of {self._display(path)}"
                    self.by_file.setdefault(target, Versions(versions.chart, None, source))

    def _read_kustomization(self, folder: str) -> tuple[str, Node] | None:
        for name in KUSTOMIZATION_FILES:
            path = os.path.join(folder, name)
            if not os.path.isfile(path) or not self._inside(path):
                continue
            if self._reads >= MAX_FILES_READ:
                return None
            self._reads += 1
            try:
                data = read_regular_file(path)
            except OSError:
                return None
            documents = self._parse(data)
            return (path, documents[0]) if documents else None
        return None

    def _parse(self, data: bytes) -> list[Node]:
        if len(data) > MAX_CONTEXT_FILE_BYTES:
            return []
        try:
            return list(compose_documents(data.decode("utf-8-sig")))
        except (UnicodeDecodeError, YamlProblem):
            return []  # the file's own check reports it when it holds plugin lists

    def _inside(self, path: str) -> bool:
        real = os.path.realpath(path)
        return any(_below(real, root) for root in self._real_roots)

    def _repository_of(self, path: str) -> str:
        """Where `$values/...` starts: the nearest folder with a `.git` up to the root that
        holds `path` (only looked at, never run), else that root."""
        root = next((root for root in self.roots if _below(path, root)), self.roots[0])
        folder = os.path.dirname(path)
        while _below(folder, root):
            if os.path.lexists(os.path.join(folder, ".git")):
                return folder
            if folder == root:
                break
            folder = os.path.dirname(folder)
        return root

    def _display(self, path: str) -> str:
        return display_path(path, self.cwd, path)
