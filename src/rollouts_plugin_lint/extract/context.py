"""Which chart or controller version applies to a file that does not state it: the
kustomizations and Argo CD applications in the checked paths that use the file.

A kustomization hands the controller release of its install.yaml (its own, or a base's
through `resources: [../base]`, at any depth) to every file it reads: resources and patch
files. An Argo CD app of the argo-rollouts chart hands its chart version to the
`$values/...` value files it names, a helmfile release of the chart its `version` to the
`values:` files it names, a Terraform helm_release of the chart its `version` to the files
its `file()` and `templatefile()` values read. Everything here is read from files a pull
request controls: every path is resolved and stays inside the roots discovery keeps the
checked paths in (the repository), the files read and the depth followed are bounded, and
nothing remote is fetched. Paths are real paths, as discovery names its candidates."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rollouts_plugin_lint.discover import (
    KUSTOMIZATION_FILES,
    TERRAFORM_SUFFIXES,
    Repository,
    checked_root,
    display_path,
    find_repository,
    read_regular_file,
    resolve_within,
)
from rollouts_plugin_lint.extract.hints import (
    CHART_NAME,
    helmfile_value_files,
    kustomization_references,
    kustomization_versions,
    value_file_references,
)
from rollouts_plugin_lint.extract.yamlnodes import Node, YamlProblem, compose_documents
from rollouts_plugin_lint.versions import Versions

# A real overlay chain is two or three deep and a repository holds tens of kustomizations
# of a few kilobytes; these bound what a hostile tree of them can cost. Composing YAML
# costs about ten seconds a megabyte on a loaded runner, so the bytes parsed are bounded
# for the whole run, not per file: a thousand bases of a megabyte each took hours.
MAX_DEPTH = 16
MAX_FOLDERS = 1_000  # looked into for a kustomization
MAX_REFERENCES = 1_000  # per kustomization; each costs a stat
MAX_ALL_REFERENCES = 20_000  # over every kustomization read
MAX_CONTEXT_FILE_BYTES = 256 * 1024
MAX_CONTEXT_BYTES = 2 * 1024 * 1024  # parsed in all, then the rest is not followed


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
    plugin_files = list(plugin_files)
    context = _Context(tuple(roots), os.path.realpath(cwd))
    if not plugin_files:
        return {}
    # Parsing costs: a repository has hundreds of kustomizations and Argo CD apps, and only
    # the few that name a file with plugin lists can hand a version to one (found by its
    # file name in their bytes; a base they name is read whatever it holds).
    names = sorted({os.fsencode(os.path.basename(path)) for path in plugin_files})
    names_a_plugin_file = re.compile(b"|".join(re.escape(name) for name in names)).search
    folders = [os.path.dirname(path) for path in plugin_files]
    for path, data in context_files:
        if not names_a_plugin_file(data):
            continue
        if os.path.basename(path) in KUSTOMIZATION_FILES:
            folders.append(os.path.dirname(path))
        elif path.endswith(TERRAFORM_SUFFIXES) and CHART_NAME.encode() in data:
            context.terraform_value_files(path, data)
        elif CHART_NAME.encode() in data:
            context.value_files(path, data)
    context.kustomizations(folders)
    return context.by_file


def checked_roots(paths: Sequence[str], cwd: str) -> list[str]:
    """The folders discovery keeps each checked path in (`checked_root`)."""
    repositories: dict[str, Repository | None] = {}
    return list(dict.fromkeys(checked_root(raw, cwd, repositories) for raw in paths))


@dataclass(frozen=True)
class _Kustomization:
    path: str
    versions: Versions  # its own install.yaml release
    references: tuple[str, ...]  # absolute normalized paths
    bases: tuple[str, ...]  # the references that are folders


def _below(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@dataclass
class _Context:
    roots: tuple[str, ...]
    cwd: str
    by_file: dict[str, Versions] = field(default_factory=dict)
    bytes_left: int = MAX_CONTEXT_BYTES
    references_left: int = MAX_ALL_REFERENCES

    def kustomizations(self, start: Iterable[str]) -> None:
        """Read the kustomizations of `start` and of their bases, breadth first (each
        folder once, so a cycle ends), then hand each install.yaml release down the chains:
        a kustomization without one takes the nearest base's."""
        found: dict[str, _Kustomization | None] = {}
        level = list(dict.fromkeys(start))
        for _ in range(MAX_DEPTH + 1):
            upcoming = []
            for folder in level:
                if folder in found or len(found) >= MAX_FOLDERS:
                    continue
                found[folder] = kustomization = self._read_kustomization(folder)
                if kustomization is not None:
                    upcoming += kustomization.bases
            level = upcoming
        read = {folder: k for folder, k in found.items() if k is not None}
        versions = {folder: k.versions for folder, k in read.items() if k.versions.controller}
        # Each round reaches one base further; a round that adds nothing ends it.
        for _ in range(MAX_DEPTH):
            reached = {
                folder: versions[base]
                for folder, k in read.items()
                if folder not in versions
                for base in k.bases
                if base in versions
            }
            if not reached:
                break
            versions = {**reached, **versions}
        for folder, k in read.items():
            if folder in versions:
                for file in (k.path, *k.references):
                    self.by_file.setdefault(file, versions[folder])

    def value_files(self, path: str, data: bytes) -> None:
        documents = self._parse(data)
        if not documents:
            return
        repository = self._repository_of(path)
        for document in documents:
            for versions, relative in value_file_references(document):
                try:
                    target = resolve_within(os.path.join(repository, relative), repository)
                except OSError:
                    continue  # nothing we may read: a link out, `..` out, a NUL byte
                source = f"{versions.source} of {self._display(path)}"
                self.by_file.setdefault(target, Versions(versions.chart, None, source))
            # helmfile reads a release's values files relative to the helmfile's folder.
            for versions, relative in helmfile_value_files(document):
                found = self._inside(os.path.join(os.path.dirname(path), relative))
                if found is not None:
                    source = f"{versions.source} of {self._display(path)}"
                    self.by_file.setdefault(found, Versions(versions.chart, None, source))

    def terraform_value_files(self, path: str, data: bytes) -> None:
        """A helm_release's `file()` values: the file beside the `.tf` file (the root
        module's folder, where Terraform resolves a relative path, or `${path.module}`)."""
        if len(data) > min(MAX_CONTEXT_FILE_BYTES, self.bytes_left):
            return
        self.bytes_left -= len(data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return
        from rollouts_plugin_lint.extract.terraform import release_value_files  # HCL: .tf only

        for versions, relative in release_value_files(text):
            target = self._inside(os.path.join(os.path.dirname(path), relative))
            if target is not None:
                source = f"{versions.source} of {self._display(path)}"
                self.by_file.setdefault(target, Versions(versions.chart, None, source))

    def _read_kustomization(self, folder: str) -> _Kustomization | None:
        for name in KUSTOMIZATION_FILES:
            path = os.path.join(folder, name)
            real = self._inside(path) if os.path.isfile(path) else None
            if real is None:
                continue
            try:
                # Read where a link leads, as discovery reads it; a big file is never read.
                documents = self._parse(read_regular_file(real, MAX_CONTEXT_FILE_BYTES))
            except OSError:
                return None
            if not documents:
                return None
            own = kustomization_versions(documents[0])
            if own.controller:
                own = Versions(None, own.controller, f"{own.source} of {self._display(path)}")
            named = kustomization_references(documents[0])[
                : min(MAX_REFERENCES, self.references_left)
            ]
            self.references_left -= len(named)
            # Resolved, as discovery names candidates; a link out of the roots leads nowhere.
            resolved = (self._inside(os.path.join(folder, reference)) for reference in named)
            references = tuple(ref for ref in resolved if ref is not None)
            bases = tuple(ref for ref in references if os.path.isdir(ref))
            return _Kustomization(path, own, references, bases)
        return None

    def _parse(self, data: bytes) -> list[Node]:
        if len(data) > min(MAX_CONTEXT_FILE_BYTES, self.bytes_left):
            return []
        self.bytes_left -= len(data)
        try:
            return list(compose_documents(data.decode("utf-8-sig")))
        except (UnicodeDecodeError, YamlProblem):
            return []  # the file's own check reports it when it holds plugin lists

    def _inside(self, path: str) -> str | None:
        """`path` resolved, when discovery's reading rule lets a root read it: never a
        `.git` folder (`resources: [../.git]` named one as a base), never through a link
        out of the root."""
        for root in self.roots:
            if _below(path, root):
                try:
                    return resolve_within(path, root)
                except OSError:
                    continue
        return None

    def _repository_of(self, path: str) -> str:
        """Where `$values/...` starts: the real repository `path` lies in, else the root
        that holds it."""
        root = next((root for root in self.roots if _below(path, root)), self.roots[0])
        repository = find_repository(os.path.dirname(path))
        return repository.top if repository and _below(repository.top, root) else root

    def _display(self, path: str) -> str:
        return display_path(path, self.cwd, path)
