"""Paths -> candidate files: a git-aware walk, excludes, and a cheap byte prefilter so
that only files that can hold plugin configuration are ever parsed.

Everything below a named path comes with the pull request and is hostile: a folder that
looks like a git repository, symbolic links out of the checkout or into a git directory,
`..` and absolute paths in the references a file makes, files of any size or kind. So git
only ever runs on the real repository (found by its `.git` entry, which no commit can
contain), and one rule says which paths may be read, here, for the config file (settings)
and for kustomize bases (extract/context):

- A path is read only inside its root (the real repository's top; without one, the working
  directory or the folder named), with every link resolved, and never through a link that
  leaves the root, even one that comes back: nothing outside the root steers the way.
- Never inside a `.git` directory or file, at any depth and in any case (a submodule's or a
  nested checkout's too: actions/checkout keeps its token in `.git/config`; a
  case-insensitive file system takes `.GIT` for `.git`), nor inside the root's own git
  directory wherever its `gitdir:` file points. A git submodule's other files are content.
- Only regular files (no FIFO, device or folder: opened without blocking), of bounded size.

`resolve_within` decides the path and `read_regular_file` reads what it resolved; every
caller goes through them. A walk lists only names below the root's real folder and never
descends a link or a `.git` folder, so only the links it lists need resolving.

Paths stay plain strings here: a large repository has tens of thousands of files and
pathlib objects cost more than reading most of them."""

from __future__ import annotations

import errno
import fnmatch
import os
import posixpath
import re
import stat
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from rollouts_plugin_lint.model import Finding, Severity, SourceFile, Span

STDIN = "-"  # a path that means: read one file from stdin
# Discovery owns the read bound: a bigger file is never read, only reported.
MAX_FILE_BYTES = 8 * 1024 * 1024
# Files of other kinds are only counted, never checked: a smaller bound keeps that cheap.
_MAX_COUNTED_BYTES = 1024 * 1024

YAML_SUFFIXES = (".yaml", ".yml", ".json")
# Files read: YAML and JSON, Markdown for the YAML code blocks of plugin docs, Terraform
# for the helm_release resources of the chart.
TERRAFORM_SUFFIXES = (".tf",)
READ_SUFFIXES = (*YAML_SUFFIXES, ".md", ".markdown", *TERRAFORM_SUFFIXES)
# Text files that can hold a plugin list we do not read (Terraform variables, a shell
# heredoc, a template rendered elsewhere). A walk counts those that mention a plugin key,
# so the run can say what it did not check.
OTHER_TEXT_KINDS = {
    ".tfvars": "Terraform", ".hcl": "HCL",
    ".sh": "shell", ".bash": "shell",
    ".txt": "text",
    ".tpl": "template", ".gotmpl": "template", ".j2": "template",
    ".jsonnet": "Jsonnet", ".libsonnet": "Jsonnet",
    ".cue": "CUE", ".nix": "Nix",
}  # fmt: skip
_WALKED_SUFFIXES = READ_SUFFIXES + tuple(OTHER_TEXT_KINDS)
_NOT_READ = "plugin lists in Terraform variables, shell and template files are not read"
SKIPPED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "node_modules", "vendor", "third_party", ".venv", "venv",
        ".tox", ".nox", "__pycache__", ".terraform", ".mypy_cache", ".pytest_cache",
        ".ruff_cache",
    }
)  # fmt: skip

# Cheap first: every key we care about contains "lugin" (Plugin, plugin; a RolloutManager's
# `plugins:`) except the ConfigMap's own name. Then the precise test: the three keys, their
# near misses (canaryStepPlugins, metricPlugins, trafficRouterPlugin) and the ConfigMap name,
# in any case, the resources that use plugins by name (a Rollout's `plugins:`, a metric's
# `plugin:`) and the RolloutManager that configures them. It accepts what
# `(?i)(?:trafficrouter|metricprovider|metric|step|traffic)[a-z]*plugin` accepts, a run of
# letters with a key head and then "plugin", but linearly: that regex retried its unbounded
# gap from every head, quadratic in `lugin` + `stepstep...`. Here a match starts only where
# a run of letters starts, goes to the run's first head (the one that ends first: no head
# holds another) and then to the first "plugin" after it; the longer heads begin with
# `traffic` and `metric`, so those two stand for them.
_QUICK = (b"lugin", b"argo-rollouts-config")
_CONFIGMAP_NAME = b"argo-rollouts-config"
_KEY_IN_A_RUN = re.compile(
    rb"(?<![a-z])(?:(?!step|metric|traffic)[a-z])*(?:step|metric|traffic)(?:(?!plugin)[a-z])*plugin"
)
_USES_PLUGINS = re.compile(
    rb"kind[\"']?[ \t]*:[ \t]*[\"']?"
    rb"(?:Rollout|RolloutManager|(?:Cluster)?AnalysisTemplate|AnalysisRun)\b"
)


def might_hold_plugins(data: bytes) -> bool:
    if not any(quick in data for quick in _QUICK):
        return False
    lowered = data.lower()  # ASCII letters only, as (?i) does for bytes
    return (
        _CONFIGMAP_NAME in lowered
        or _key_in_a_run(lowered)
        or _USES_PLUGINS.search(data) is not None
    )


# A key ends at a "plugin": search only the bytes just before each one. The pattern over
# a whole 40 KB file that merely says "plugins" (Grafana) costs milliseconds.
_KEY_WINDOW = 64


def _key_in_a_run(lowered: bytes) -> bool:
    position = lowered.find(b"plugin")
    while position >= 0:
        start = max(0, position - _KEY_WINDOW)
        if _KEY_IN_A_RUN.search(lowered, start, position + 6) is not None:
            return True
        if start > 0 and lowered[start - 1 : start + 1].isalpha():
            # The run of letters before this "plugin" begins before the window.
            return _KEY_IN_A_RUN.search(lowered) is not None
        position = lowered.find(b"plugin", position + 1)
    return False


class FileTooLarge(OSError):
    """A file above the read bound: reported, never read."""


KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_KUSTOMIZATION_ENDINGS = tuple(os.sep + name for name in KUSTOMIZATION_FILES)


def might_give_versions(path: str, data: bytes) -> bool:
    """A kustomization, an Argo CD app with `valueFiles`, a helmfile with `releases:` or a
    Terraform `helm_release`: it may say which version applies to plugin lists in other
    files, so it is read without a plugin key."""
    return (
        path.endswith(_KUSTOMIZATION_ENDINGS)
        or b"valueFiles" in data
        or b"releases:" in data
        or (path.endswith(".tf") and b"helm_release" in data)
    )


@dataclass(frozen=True)
class Candidate:
    path: str
    display_path: str
    data: bytes
    boundary: str = "/"  # the folder no file it names may leave (see `_Root`)
    from_stdin: bool = False  # `path` is then only the name findings carry


@dataclass(frozen=True)
class Repository:
    """A real git repository: its work tree's top and its git directory, both resolved."""

    top: str
    git_dir: str


@dataclass(frozen=True)
class _Root:
    """Where a named path may lead (`boundary`, described by `within`) and the path to
    resolve there (`named`: lexically below the boundary)."""

    named: str
    boundary: str
    within: str
    repository: Repository | None = None

    def resolve(self, path: str | None = None) -> str:
        return resolve_within(self.named if path is None else path, self.boundary)

    def refusal(self, error: OSError) -> str:
        if not isinstance(error, PathRefused):
            return f"cannot read file: {error.strerror or error}"
        if error.by_link:
            where = "into a git directory" if error.into_git else f"outside {self.within}"
            return f"symbolic link leading {where}: not followed, not read"
        where = "inside a git directory" if error.into_git else f"outside {self.within}"
        return f"{where}: not read"


def _below(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class PathRefused(OSError):
    """A path the reading rule refuses (see the module docstring): `into_git` when it
    reaches a `.git` entry or the root's git directory, else it leaves the root; `by_link`
    when a symbolic link on the way took it there."""

    def __init__(self, into_git: bool, by_link: bool) -> None:
        super().__init__(errno.EACCES, "in a git directory" if into_git else "outside the root")
        self.into_git = into_git
        self.by_link = by_link


# Linux's own bounds on one path lookup (MAXSYMLINKS, PATH_MAX). Longer names fail anyway,
# and resolving them is what costs: os.path.realpath is quadratic in the number of
# components (a 320 KB `a/a/...` reference took ten seconds).
_MAX_LINKS = 40
_MAX_PATH_BYTES = 4096
# Within those, 40 links of 800 `a/..` each cost 32,000 lookups for one walked name (600
# such links took two minutes). A real path, links followed, has tens of components.
_MAX_COMPONENTS = 256


def resolve_within(path: str, root: str) -> str:
    """`path` with every link resolved, when the reading rule (module docstring) lets it be
    read from `root`, a real folder. `path` is absolute and lexically at or below `root`;
    a `..` and each link are followed one component at a time, so a step out of the root
    is refused where it happens. Raises PathRefused, or OSError for a path no file can have
    (too long, a NUL byte, too many links or components). A missing component ends
    nothing: the read of the result fails instead."""
    root = root.rstrip("/") or "/"
    if "\0" in path:
        raise OSError(errno.EINVAL, "a file name with a NUL byte")
    try:
        too_long = len(os.fsencode(path)) > _MAX_PATH_BYTES
    except UnicodeError:
        raise OSError(errno.EINVAL, "a file name that is not text") from None
    if too_long:
        raise OSError(errno.ENAMETOOLONG, f"a path longer than {_MAX_PATH_BYTES} bytes")
    if not _below(path, root):
        raise PathRefused(into_git=False, by_link=False)
    git_dir = _git_dir(root)
    current = root
    pending = path[len(root) :].split("/")[::-1]  # a stack: the next component last
    links = steps = 0
    while pending:
        name = pending.pop()
        if name in ("", "."):
            continue
        steps += 1
        if steps > _MAX_COMPONENTS:
            raise OSError(
                errno.ELOOP, f"more than {_MAX_COMPONENTS} path components, links followed"
            )
        if name == "..":
            if current == root:
                raise PathRefused(into_git=False, by_link=links > 0)
            current = os.path.dirname(current)
            continue
        current = os.path.join(current, name)
        if _is_git_name(name) or (git_dir is not None and _below(current, git_dir)):
            raise PathRefused(into_git=True, by_link=links > 0)
        try:
            is_link = stat.S_ISLNK(os.lstat(current).st_mode)
        except OSError:
            continue
        if not is_link:
            continue
        links += 1
        if links > _MAX_LINKS:
            raise OSError(errno.ELOOP, "too many levels of symbolic links")
        target = os.readlink(current)
        current = os.path.dirname(current)
        if target.startswith("/"):
            if not _below(target, root):
                raise PathRefused(into_git=False, by_link=True)
            current, target = root, target[len(root) :]
        pending.extend(target.split("/")[::-1])
    return current


def _is_git_name(name: str) -> bool:
    return name.lower() == ".git"


@dataclass
class Discovery:
    """Iterating yields the files worth parsing, reading each file once and holding no file
    open between steps. `scanned` counts every YAML, JSON or Markdown file looked at;
    `skipped` holds one `skipped-file` finding per file that was not read (unreadable,
    oversized, a link out of the repository, a named file of a kind not read);
    `not_checked` counts, by kind, the walked files of other kinds that mention a plugin
    key, except those a checked file reads (`read_referenced`)."""

    paths: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    cwd: str = field(default_factory=os.getcwd)
    # Named files and stdin honour `exclude` too (pre-commit names every file).
    force_exclude: bool = False
    stdin_name: str = "-"  # the path findings in the file read from stdin (`-`) carry
    scanned: int = 0
    skipped: list[Finding] = field(default_factory=list)
    not_checked: Counter[str] = field(default_factory=Counter)
    # Files a checked file reads (kustomize generator sources): never counted as not checked.
    _referenced: set[str] = field(default_factory=set)
    _counted: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Candidate]:
        cwd = os.path.abspath(self.cwd)
        real_cwd = os.path.realpath(cwd)
        seen: set[str] = set()
        repositories: dict[str, Repository | None] = {}
        for raw in self.paths:
            if raw == STDIN:
                if STDIN not in seen:
                    seen.add(STDIN)
                    yield from self._read_stdin()
                continue
            given = os.path.normpath(os.path.join(cwd, raw))
            lexical = _on_real_cwd(given, cwd, real_cwd)
            if os.path.isdir(lexical):
                root = _resolve(lexical, lexical, real_cwd, repositories)
                try:
                    real = root.resolve()
                except OSError as error:
                    self._skip(display_path(given, cwd, raw), root.refusal(error))
                    continue
                for relative in walk_directory(real, root.repository):
                    found = os.path.normpath(os.path.join(raw, relative))
                    absolute = os.path.normpath(os.path.join(cwd, found))
                    # Per-file work adds up over tens of thousands of files: no display
                    # path when there is no pattern to match it against.
                    if self.exclude and self._excluded(display_path(absolute, cwd, found)):
                        continue
                    source = os.path.join(real, relative)
                    if source not in seen:
                        seen.add(source)
                        yield from self._look_at(source, absolute, found, cwd, root)
            else:
                # Named explicitly (pre-commit does this): checked whatever the folder, but
                # only if it is a kind we read and stays inside the repository.
                display = display_path(given, cwd, raw)
                if self.force_exclude and self.exclude and self._excluded(display):
                    continue
                if not raw.lower().endswith(READ_SUFFIXES):
                    self._skip(display, _not_yaml_message(raw), Severity.NOTE)
                    continue
                root = _resolve(os.path.dirname(lexical), lexical, real_cwd, repositories)
                try:
                    real = root.resolve()
                except OSError as error:
                    self._skip(display, root.refusal(error))
                    continue
                if real not in seen:
                    seen.add(real)
                    self.scanned += 1
                    candidate = self._read(real, display, root, followed=True)
                    if candidate is not None:
                        yield candidate

    def not_checked_warning(self) -> str | None:
        """One sentence for the run's warnings about the walked files we did not check."""
        total = sum(self.not_checked.values())
        if not total:
            return None
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.not_checked.items()))
        files = "file is" if total == 1 else "files are"
        return (
            f"{total} {files} not YAML, JSON, Markdown or Terraform but mention a plugin key "
            f"({kinds}): not checked; {_NOT_READ}"
        )

    def _read_stdin(self) -> Iterator[Candidate]:
        """The one file read from stdin, under the same bound as any other; `stdin_name`
        names it in findings and for `exclude`, and finds the Chart.yaml beside it."""
        if self.force_exclude and self.exclude and self._excluded(self.stdin_name):
            return
        self.scanned += 1
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            self._skip(self.stdin_name, f"stdin is larger than {MAX_FILE_BYTES // (1024 * 1024)} "
                                        "MiB; not read")  # fmt: skip
        elif might_hold_plugins(data):
            yield Candidate(self.stdin_name, self.stdin_name, data, from_stdin=True)

    def _look_at(
        self, source: str, absolute: str, found: str, cwd: str, root: _Root
    ) -> Iterator[Candidate]:
        kind = OTHER_TEXT_KINDS.get(os.path.splitext(source)[1].lower())
        if kind is not None:
            if source not in self._referenced and _mentions_plugins(source):
                self.not_checked[kind] += 1
                self._counted[source] = kind
            return
        self.scanned += 1
        candidate = self._read(source, display_path(absolute, cwd, found), root, followed=False)
        if candidate is not None:
            yield candidate

    def read_referenced(
        self, candidate: Candidate, relative: str, span: Span
    ) -> SourceFile | Finding:
        """A file that `candidate` names (a kustomize `files:` source), or the finding that
        says why it was not read. kustomize's default load restrictor (LoadRestrictionsRootOnly)
        takes files inside the kustomization's folder only, and no link is followed out of
        the repository."""
        shown = relative if len(relative) <= 200 else relative[:197] + "..."
        folder = os.path.realpath(os.path.dirname(candidate.path))
        try:
            real = resolve_within(os.path.join(folder, relative), folder)
            # The repository's git directory, also where its `gitdir:` file points.
            resolve_within(real, candidate.boundary)
            if real == folder:
                raise PathRefused(into_git=False, by_link=False)
            data = read_regular_file(real)
        except PathRefused as refused:
            if refused.into_git:
                reason = "leads into a git directory"
            elif refused.by_link:
                reason = "leads through a symbolic link out of the kustomization's folder"
            else:
                reason = "is outside the kustomization's folder, which kustomize refuses by default"
            return _reference_finding(span, f"`{shown}` {reason}; not read")
        except FileTooLarge:
            return _reference_finding(
                span, f"`{shown}` is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not read"
            )
        except OSError as error:
            return _reference_finding(
                span, f"cannot read `{shown}`: {error.strerror or error}; kustomize fails too"
            )
        self._referenced.add(real)
        kind = self._counted.pop(real, None)
        if kind is not None:
            self.not_checked[kind] -= 1
            if not self.not_checked[kind]:
                del self.not_checked[kind]
        display = posixpath.normpath(posixpath.join(posixpath.dirname(candidate.display_path),
                                                    relative.replace(os.sep, "/")))  # fmt: skip
        return SourceFile(display, real, data)

    def _read(self, source: str, display: str, root: _Root, followed: bool) -> Candidate | None:
        """`followed`: `source` is already resolved; else it is a walked name, real but for
        its last component."""
        try:
            try:
                data = read_regular_file(source)
            except OSError as error:
                if followed or error.errno != errno.ELOOP:
                    raise
                # A walked name that is a symbolic link: read its target only inside.
                data = read_regular_file(root.resolve(source))
        except PathRefused as refused:
            self._skip(display, root.refusal(refused))
            return None
        except FileTooLarge:
            self._skip(display, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; "
                                "not read")  # fmt: skip
            return None
        except OSError as error:
            self._skip(display, f"cannot read file: {error.strerror or error}")
            return None
        if might_hold_plugins(data) or might_give_versions(source, data):
            return Candidate(source, display, data, root.boundary)
        return None

    def _skip(self, display: str, message: str, severity: Severity = Severity.WARNING) -> None:
        self.skipped.append(Finding("skipped-file", severity, Span.point(display, 1), message))

    def _excluded(self, display: str) -> bool:
        name = os.path.basename(display)
        return any(
            fnmatch.fnmatch(display, pattern) or fnmatch.fnmatch(name, pattern)
            for pattern in self.exclude
        )


def _reference_finding(span: Span, message: str) -> Finding:
    return Finding("skipped-file", Severity.WARNING, span, message)


def _on_real_cwd(given: str, cwd: str, real_cwd: str) -> str:
    """`given` rebuilt on the resolved working directory, so that every symbolic link left
    in it lies below that directory: in the checkout, where links are hostile."""
    below = cwd.rstrip("/") + "/"
    if given == cwd:
        return real_cwd
    if given.startswith(below):
        return os.path.join(real_cwd, given[len(below) :])
    return given


def _not_yaml_message(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    kind = OTHER_TEXT_KINDS.get(suffix) or (f"`{suffix}`" if suffix else "no extension")
    return f"not a YAML, JSON, Markdown or Terraform file ({kind}): not checked; {_NOT_READ}"


def _resolve(
    start: str, named: str, real_cwd: str, repositories: dict[str, Repository | None]
) -> _Root:
    """The root of a named path (`start`: the folder to look for a repository from): the
    repository's top; without one, the working directory; for a path outside both, the
    named folder or the folder of a named file."""
    repository = find_repository(start, repositories)
    if repository is not None:
        return _Root(named, repository.top, "the repository", repository)
    if _below(named, real_cwd):
        return _Root(named, real_cwd, "the working directory")
    # Outside both, the links on the way to the named path are the user's.
    if named == start:
        real = os.path.realpath(named)
        return _Root(real, real, "the folder named on the command line")
    boundary = os.path.realpath(start)
    return _Root(os.path.join(boundary, os.path.basename(named)), boundary,
                 "the folder named on the command line")  # fmt: skip


def checked_root(raw: str, cwd: str, repositories: dict[str, Repository | None]) -> str:
    """The folder discovery keeps the named path `raw` in, found as `Discovery` finds it:
    from the path as named, never from where a link in it leads."""
    cwd = os.path.abspath(cwd)
    real_cwd = os.path.realpath(cwd)
    lexical = _on_real_cwd(os.path.normpath(os.path.join(cwd, raw)), cwd, real_cwd)
    start = lexical if os.path.isdir(lexical) else os.path.dirname(lexical)
    return _resolve(start, lexical, real_cwd, repositories).boundary


def find_repository(
    start: str, cache: dict[str, Repository | None] | None = None
) -> Repository | None:
    """The real repository `start` lies in: the nearest folder above it with a `.git`
    directory or `gitdir:` file. Git never lets a commit hold a `.git` path component, so
    a pull request cannot plant one; a folder reached through a symbolic link is passed
    over, since the link may come with the pull request."""
    visited: list[str] = []
    folder = start
    found: Repository | None = None
    while True:
        if cache is not None and folder in cache:
            found = cache[folder]
            break
        visited.append(folder)
        git_dir = _git_dir(folder)
        if git_dir is not None and os.path.realpath(folder) == folder:
            found = Repository(folder, git_dir)
            break
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    if cache is not None:
        cache.update(dict.fromkeys(visited, found))
    return found


def _git_dir(folder: str) -> str | None:
    entry = os.path.join(folder, ".git")
    try:
        if os.path.isdir(entry):
            return os.path.realpath(entry)
        # Without blocking: outside a git checkout (an unpacked archive) `.git` can be a FIFO.
        line = read_regular_file(entry, _MAX_GITDIR_FILE_BYTES).split(b"\n", 1)[0].strip()
    except OSError:
        return None
    if not line.startswith(b"gitdir:"):
        return None
    target = os.fsdecode(line[len(b"gitdir:") :].strip())
    return os.path.realpath(os.path.join(folder, target)) if target else None


_MAX_GITDIR_FILE_BYTES = 4096


def read_regular_file(path: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. Opening without blocking and
    checking the open file means a FIFO, a device or a file swapped in between cannot hang
    or fool us; a symbolic link is refused (ELOOP), so the caller decides whether its target
    may be read; no more than `limit` + 1 bytes are ever read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(0, "not a regular file")
        if status.st_size > limit:
            raise FileTooLarge(errno.EFBIG, f"larger than {limit} bytes")
        # Plain reads, no buffered stream: for the thousands of small files of a big
        # repository, building a stream per file costs more than reading it. The first
        # read asks for one byte more than fstat said, the loop catches a file that grew.
        data = os.read(fd, status.st_size + 1)
        rest: list[bytes] = []
        size = len(data)
        while data and size <= limit and (chunk := os.read(fd, min(1024 * 1024, limit + 1 - size))):
            rest.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileTooLarge(errno.EFBIG, f"larger than {limit} bytes")
        return data + b"".join(rest) if rest else data
    finally:
        os.close(fd)


def _mentions_plugins(path: str) -> bool:
    try:
        return might_hold_plugins(read_regular_file(path, _MAX_COUNTED_BYTES))
    except OSError:
        return False  # a link, a folder, too big: not worth a word in a count


def walk_directory(root: str, repository: Repository | None = None) -> Iterator[str]:
    """The YAML and JSON files under `root` (relative to it), and the text files of other
    kinds discovery counts, honouring .gitignore inside a git work tree. Links are listed,
    never descended."""
    listed = _git_files(root, repository) if repository is not None else None
    # git lists as untracked files a git directory in the work tree not named `.git` (`git
    # init --separate-git-dir`), and a `.GIT` folder like any other.
    inner_git_dir = _inner_git_dir(root, repository)
    for relative in listed if listed is not None else _walk(root):
        lowered = relative.lower()
        if not lowered.endswith(_WALKED_SUFFIXES):
            continue
        folders = relative.split("/")[:-1]
        if not SKIPPED_DIRS.isdisjoint(folders):
            continue
        if ".git" in lowered and any(_is_git_name(folder) for folder in folders):
            continue
        if inner_git_dir is not None and relative.startswith(inner_git_dir):
            continue
        yield relative


def _inner_git_dir(root: str, repository: Repository | None) -> str | None:
    """The repository's git directory relative to `root` (with a final slash) when the
    walk could list it: below `root` and under no `.git` folder."""
    if repository is None or not _below(repository.git_dir, root):
        return None
    inner = os.path.relpath(repository.git_dir, root)
    if inner == ".":
        return ""  # the root is the git directory: nothing in it is content
    if any(_is_git_name(folder) for folder in inner.split("/")):
        return None  # under a `.git` folder, which the walk never lists
    return inner + "/"


# Nothing git reads from the environment may redirect it; these keep it quiet and literal.
_GIT_ENVIRONMENT = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
# Nothing the repository configures may run, even if someone's config asks.
_GIT_SAFETY = (
    "-c", "safe.bareRepository=explicit",
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.untrackedCache=false",
)  # fmt: skip


def _git_files(root: str, repository: Repository) -> list[str] | None:
    """Tracked and untracked, not ignored, files under `root`, from the repository named
    explicitly: git never looks for one itself, so a folder of the pull request that looks
    like a repository is never taken for one."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    environment.update(_GIT_ENVIRONMENT)
    try:
        listing = subprocess.run(
            [
                "git", *_GIT_SAFETY, "--literal-pathspecs",
                f"--git-dir={repository.git_dir}", f"--work-tree={repository.top}",
                "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ".",
            ],
            cwd=root,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None  # no git, or a repository git cannot read
    names = listing.decode("utf-8", "surrogateescape").split("\0")
    return sorted({name for name in names if name})


def _walk(root: str) -> Iterator[str]:
    """Every file below `root`, each folder's files sorted and then its folders, as
    os.walk lists them; but with a stack of its own: os.walk recurses (up to Python 3.11),
    and a tree a thousand folders deep raised RecursionError."""
    pending = [""]  # folders relative to `root`, the next one last
    while pending:
        relative_dir = pending.pop()
        try:
            with os.scandir(os.path.join(root, relative_dir)) as listing:
                entries = [(entry.name, _is_folder(entry)) for entry in listing]
        except OSError:
            continue
        prefix = f"{relative_dir}/" if relative_dir else ""
        folders = []
        for name, is_folder in sorted(entries):
            if is_folder is None:
                yield prefix + name
            elif is_folder and name not in SKIPPED_DIRS and not _is_git_name(name):
                folders.append(prefix + name)
        pending.extend(reversed(folders))


def _is_folder(entry: os.DirEntry[str]) -> bool | None:
    """True for a folder to descend, False for a link to one (never descended, never
    listed, as in os.walk), None for anything else."""
    try:
        if not entry.is_dir():
            return None
        return not entry.is_symlink()
    except OSError:
        return None


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
