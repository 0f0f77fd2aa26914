"""Discovery against what a pull request can commit: a folder that looks like a git
repository (git must never take it for one, so its config runs nothing), symbolic links out
of the checkout (never followed, never read, their target's bytes in no output), a file of
gigabytes (never read past the bound), and link loops (no hang). Real git, real files, the
CLI as a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from rollouts_plugin_lint.discover import Discovery
from rollouts_plugin_lint.extract.context import checked_roots, version_context
from rollouts_plugin_lint.model import Finding, Span
from rollouts_plugin_lint.settings import UsageError, load_settings
from tests.hostile.helpers import Outcome, run_cli

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

ENTRY = "controller:\n  trafficRouterPlugins:\n    - name: x\n      location: ''\n"
FORMATS = ("text", "json", "github", "sarif")
GIB = 1024**3
# Far above what a scan of a few files needs (about 30 MB), far below a read of 3 GiB.
SMALL_RSS = 200 * 1024 * 1024


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def real_repository(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    return root


def json_findings(outcome: Outcome) -> list[tuple[str, str, str]]:
    outcome.assert_report()
    report = json.loads(outcome.out)
    return sorted((f["path"], f["rule"], f["message"]) for f in report["findings"])


def skipped(outcome: Outcome) -> dict[str, str]:
    return {path: message for path, rule, message in json_findings(outcome)
            if rule == "skipped-file"}  # fmt: skip


# --- a folder of the pull request that looks like a git repository ------------------------


def plant_fake_repository(folder: Path, markers: Path, config: str) -> None:
    """What `git` takes for a repository when it looks for one from inside `folder`: HEAD,
    objects/, refs/ and a config. Every way found to run a command while `git ls-files`
    lists files writes a file into `markers`."""
    (folder / "objects").mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "objects" / ".keep").write_text("")
    (folder / "refs" / ".keep").write_text("")
    (folder / "HEAD").write_text("ref: refs/heads/main\n")
    hooks = folder / "hooks"
    hooks.mkdir()
    for hook in ("post-index-change", "reference-transaction", "post-checkout", "pre-commit"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch '{markers}/hook-{hook}'\n")
        (hooks / hook).chmod(0o755)
    (folder / "config").write_text(
        "[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = .\n"
        f"\thooksPath = hooks\n{config}"
    )
    (folder / "values.yaml").write_text(ENTRY)


def fsmonitor(markers: Path, name: str) -> str:
    return f"\tfsmonitor = \"touch '{markers}/{name}'; false\"\n"


@pytest.mark.parametrize("inside_a_repository", [True, False])
def test_a_committed_folder_that_looks_like_a_repository_runs_nothing(
    tmp_path: Path, inside_a_repository: bool
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    checkout = tmp_path / "checkout"
    if inside_a_repository:
        real_repository(checkout)
        (checkout / ".gitignore").write_text("rendered/\n")
        (checkout / "charts" / "rendered").mkdir(parents=True)
        (checkout / "charts" / "rendered" / "values.yaml").write_text(ENTRY)
    plant_fake_repository(checkout / "deploy" / "charts", markers, fsmonitor(markers, "direct"))
    # The same command through an include, which a check of the config file alone misses.
    plant_fake_repository(checkout / "charts", markers, "[include]\n\tpath = more.cfg\n")
    (checkout / "charts" / "more.cfg").write_text("[core]\n" + fsmonitor(markers, "included"))

    outcome = run_cli(
        ["--offline", "--no-cache", "--format", "json", "deploy/charts", "charts"], checkout
    )

    assert sorted(os.listdir(markers)) == []
    paths = {path for path, _, _ in json_findings(outcome)}
    assert paths == {"deploy/charts/values.yaml", "charts/values.yaml"}  # rendered/: ignored


def test_git_variables_in_the_environment_do_not_redirect_git(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    checkout = real_repository(tmp_path / "checkout")
    fake = checkout / "deploy" / "charts"
    plant_fake_repository(fake, markers, fsmonitor(markers, "environment"))
    (checkout / "deploy" / "values.yaml").write_text(ENTRY)
    environment = dict(os.environ, GIT_DIR=str(fake), GIT_WORK_TREE=str(checkout / "deploy"))

    outcome = run_cli(["--offline", "--no-cache", "--format", "json", "deploy"], checkout,
                      environment)  # fmt: skip

    assert sorted(os.listdir(markers)) == []
    assert {path for path, _, _ in json_findings(outcome)} == {
        "deploy/values.yaml",
        "deploy/charts/values.yaml",
    }


def test_a_linked_worktree_is_listed_through_its_gitdir_file(tmp_path: Path) -> None:
    main = real_repository(tmp_path / "main")
    (main / ".gitignore").write_text("ignored.yaml\n")
    git(main, "add", ".gitignore")
    git(main, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    git(main, "worktree", "add", "-q", str(tmp_path / "linked"))
    linked = tmp_path / "linked"
    assert (linked / ".git").is_file()
    (linked / "values.yaml").write_text(ENTRY)
    (linked / "ignored.yaml").write_text(ENTRY)

    outcome = run_cli(["--offline", "--no-cache", "--format", "json", "."], linked)

    assert {path for path, _, _ in json_findings(outcome)} == {"values.yaml"}


# --- symbolic links and sizes -----------------------------------------------------------


def sparse_file(path: Path, size: int, head: str = ENTRY) -> Path:
    """`size` bytes on disk in name only: a plugin entry, then a hole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as stream:
        stream.write(head.encode())
        stream.truncate(size)
    return path


def test_a_link_to_a_3_gib_file_outside_is_not_read(tmp_path: Path) -> None:
    huge = sparse_file(tmp_path / "outside" / "huge.yaml", 3 * GIB)
    checkout = real_repository(tmp_path / "checkout")
    (checkout / "values.yaml").symlink_to(huge)

    outcome = run_cli(["--offline", "--no-cache", "--format", "json", "."], checkout)

    print(f"peak RSS with a link to a 3 GiB file: {outcome.peak_rss / 2**20:.0f} MiB")
    assert outcome.peak_rss < SMALL_RSS
    assert "outside the repository" in skipped(outcome)["values.yaml"]


def test_a_3_gib_file_inside_is_not_read(tmp_path: Path) -> None:
    checkout = real_repository(tmp_path / "checkout")
    sparse_file(checkout / "values.yaml", 3 * GIB)
    (checkout / "small.yaml").write_text(ENTRY)

    outcome = run_cli(["--offline", "--no-cache", "--format", "json", "."], checkout)

    print(f"peak RSS with a 3 GiB file: {outcome.peak_rss / 2**20:.0f} MiB")
    assert outcome.peak_rss < SMALL_RSS
    assert "larger than 8 MiB" in skipped(outcome)["values.yaml"]
    assert any(path == "small.yaml" for path, _, _ in json_findings(outcome))


SECRET = "hunter2-outside-the-checkout"


def plant_links(checkout: Path, outside: Path) -> None:
    """Links out (direct, through a chain, through a linked folder), a link inside, a loop."""
    secret = outside / "secret.yaml"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(
        "controller:\n  trafficRouterPlugins:\n"
        f"    - name: {SECRET}\n      location: 'https://{SECRET}.example/p'\n"
    )
    (outside / "dir").mkdir()
    (outside / "dir" / "values.yaml").write_text(secret.read_text())
    (checkout / "direct.yaml").symlink_to(secret)
    (checkout / "hop.yaml").symlink_to("hop2.yaml")
    (checkout / "hop2.yaml").symlink_to(os.path.relpath(secret, checkout))
    (checkout / "linked-dir").symlink_to(outside / "dir")
    (checkout / "real").mkdir()
    (checkout / "real" / "values.yaml").write_text(ENTRY)
    (checkout / "alias.yaml").symlink_to("real/values.yaml")
    (checkout / "loop").mkdir()
    (checkout / "loop" / "again").symlink_to("..")
    (checkout / "loop" / "a.yaml").symlink_to("b.yaml")
    (checkout / "loop" / "b.yaml").symlink_to("a.yaml")


@pytest.mark.parametrize("with_git", [True, False])
@pytest.mark.parametrize("output", FORMATS)
def test_links_out_of_the_checkout_are_never_followed(
    tmp_path: Path, output: str, with_git: bool
) -> None:
    checkout = tmp_path / "checkout"
    if with_git:
        real_repository(checkout)
    else:
        checkout.mkdir()
    plant_links(checkout, tmp_path / "outside")
    sarif = tmp_path / "report.sarif"
    named = ["direct.yaml", "hop.yaml", "linked-dir/values.yaml", "alias.yaml", "linked-dir"]
    args = ["--offline", "--no-cache", "--format", output, "--sarif-file", str(sarif)]

    outcome = run_cli([*args, ".", *named], checkout, limit=120)

    outcome.assert_report()
    for text in (outcome.out, outcome.err, sarif.read_text()):
        assert SECRET not in text
    if output == "json":
        found = json_findings(outcome)
        leaving = {path for path, rule, message in found
                   if rule == "skipped-file" and "outside" in message}  # fmt: skip
        assert leaving == {"direct.yaml", "hop.yaml", "hop2.yaml", "linked-dir",
                           "linked-dir/values.yaml"}  # fmt: skip
        checked = {path for path, rule, _ in found if rule == "name-format"}
        assert checked == {"alias.yaml", "real/values.yaml"}


# --- a link into the repository's own git directory --------------------------------------

CHECKOUT_TOKEN = "ghs_PersistedByCheckout9090"


@pytest.mark.parametrize("output", FORMATS)
def test_a_link_into_the_git_directory_is_not_read(tmp_path: Path, output: str) -> None:
    # Inside the work tree, but not the pull request's: actions/checkout persists the token
    # in .git/config. A repository named for the ConfigMap gets past the byte prefilter,
    # and a YAML error quotes the line it stops at.
    checkout = real_repository(tmp_path / "checkout")
    config = checkout / ".git" / "config"
    config.write_text(
        f'[http "https://github.com/"]\n\textraheader = AUTHORIZATION: bearer {CHECKOUT_TOKEN}\n'
        '[remote "origin"]\n\turl = https://github.com/acme/argo-rollouts-config\n'
        + config.read_text()
    )
    (checkout / "values.yaml").symlink_to(".git/config")
    (checkout / "deploy").mkdir()
    (checkout / "deploy" / "config.yaml").symlink_to("../.git/config")
    git(checkout, "add", "values.yaml", "deploy/config.yaml")
    sarif = tmp_path / "report.sarif"
    args = ["--offline", "--no-cache", "--format", output, "--sarif-file", str(sarif)]

    walked = run_cli([*args, "."], checkout, limit=120)
    named = run_cli([*args, "values.yaml", "deploy/config.yaml"], checkout, limit=120)

    for outcome in (walked, named):
        outcome.assert_report()
        for text in (outcome.out, outcome.err, sarif.read_text()):
            assert CHECKOUT_TOKEN not in text
        if output == "json":
            assert skipped(outcome) == dict.fromkeys(
                ("values.yaml", "deploy/config.yaml"),
                "symbolic link leading into a git directory: not followed, not read",
            )
            assert [rule for _, rule, _ in json_findings(outcome)] == ["skipped-file"] * 2


# --- the repository's config file, found by the search ---------------------------------


@pytest.mark.parametrize("target", ["outside", "git-dir", "inside"])
def test_a_config_file_link_out_of_the_repository_is_not_read(tmp_path: Path, target: str) -> None:
    # The config file is the pull request's too: linked to a file outside that holds a
    # known key, its value was quoted in the error.
    checkout = real_repository(tmp_path / "checkout")
    secret = f"strict: {CHECKOUT_TOKEN}\n"
    (tmp_path / "outside.yaml").write_text(secret)
    (checkout / ".git" / "rpl.yaml").write_text(secret)
    (checkout / "real.yaml").write_text("strict: true\n")
    link = {"outside": "../outside.yaml", "git-dir": ".git/rpl.yaml", "inside": "real.yaml"}
    (checkout / ".rollouts-plugin-lint.yaml").symlink_to(link[target])
    (checkout / "values.yaml").write_text(ENTRY)

    outcome = run_cli(["--offline", "--no-cache", "values.yaml"], checkout, limit=120)

    assert CHECKOUT_TOKEN not in outcome.out + outcome.err
    assert "Traceback" not in outcome.err
    if target == "inside":
        outcome.assert_report()
    else:
        assert outcome.code == 2
        where = "into a git directory" if target == "git-dir" else "outside the repository"
        assert outcome.err.strip().endswith(
            f".rollouts-plugin-lint.yaml: symbolic link leading {where}: not read"
        )


# --- one reading rule, three callers ------------------------------------------------------
# Discovery (walked links, named paths, kustomize `files:`), the found config file and the
# kustomize bases of version context each decided alone whether a path may be read, and
# they differed. Each case plants the same files somewhere a pull request can point and
# asks every caller to read them; none may.

PLUGINS = "- name: acme/planted\n  location: https://plugins.acme.io/p\n"
PLANTED_BASE = (
    "resources:\n"
    "  - https://github.com/argoproj/argo-rollouts/releases/download/v1.6.0/install.yaml\n"
)


def plant(folder: Path) -> None:
    """What each caller reads: a values file, a config, a generator source, a base."""
    (folder / "base").mkdir(parents=True, exist_ok=True)
    (folder / "values.yaml").write_text(ENTRY)
    (folder / "config.yaml").write_text("strict: true\n")
    (folder / "plugins.yaml").write_text(PLUGINS)
    (folder / "base" / "kustomization.yaml").write_text(PLANTED_BASE)


def leave_and_reenter(checkout: Path) -> str:
    # out -> ../outside, outside/back -> ../checkout/real: the way leaves, the end is inside.
    outside = checkout.parent / "outside"
    outside.mkdir()
    plant(checkout / "real")
    (checkout / "out").symlink_to("../outside")
    (outside / "back").symlink_to(f"../{checkout.name}/real")
    return "out/back"


def nested_checkout(checkout: Path) -> str:
    # A second repository checked out inside the first (actions/checkout with `path:`).
    git(checkout, "init", "-q", "nested")
    plant(checkout / "nested" / ".git")
    return "nested/.git"


def separate_git_dir(checkout: Path) -> str:
    # The root's `.git` is a `gitdir:` file pointing into the work tree, not named `.git`.
    shutil.rmtree(checkout / ".git")
    subprocess.run(["git", "init", "-q", f"--separate-git-dir={checkout / 'meta'}",
                    str(checkout)], check=True, capture_output=True)  # fmt: skip
    plant(checkout / "meta")
    return "meta"


def git_named_in_another_case(checkout: Path) -> str:
    # `.GIT` is `.git` on a case-insensitive file system (macOS, Windows), and git refuses
    # to commit or check out either, so no real layout has one.
    plant(checkout / "sub" / ".GIT")
    return "sub/.GIT"


def repository_git_dir(checkout: Path) -> str:
    plant(checkout / ".git")
    return ".git"


CASES = {
    "repository-git-dir": repository_git_dir,
    "leave-and-reenter": leave_and_reenter,
    "nested-checkout": nested_checkout,
    "separate-git-dir": separate_git_dir,
    "git-in-another-case": git_named_in_another_case,
}


def hostile_checkout(tmp_path: Path, case: str) -> tuple[Path, str]:
    checkout = real_repository(tmp_path / "checkout")
    (checkout / "app").mkdir()
    (checkout / "app" / "values.yaml").write_text(PLUGIN_LIST)
    return checkout, CASES[case](checkout)


PLUGIN_LIST = (
    "controller:\n  trafficRouterPlugins:\n    - name: acme/good\n"
    "      location: https://plugins.acme.io/good-linux-amd64\n"
)


def walked_link_is_read(checkout: Path, prefix: str) -> bool:
    (checkout / "probe").mkdir()
    (checkout / "probe" / "values.yaml").symlink_to(os.path.join("..", prefix, "values.yaml"))
    discovery = Discovery(("probe",), cwd=str(checkout))
    read = [candidate.display_path for candidate in discovery]
    assert read or discovery.skipped, "the link was neither read nor reported"
    return bool(read)


def named_path_is_read(checkout: Path, prefix: str) -> bool:
    discovery = Discovery((os.path.join(prefix, "values.yaml"),), cwd=str(checkout))
    return bool(list(discovery))


def generator_source_is_read(checkout: Path, prefix: str, name: str = "plugins.yaml") -> bool:
    source = os.path.join(prefix, name)
    (checkout / "kustomization.yaml").write_text(
        "configMapGenerator:\n  - name: argo-rollouts-config\n    files:\n"
        f"      - trafficRouterPlugins={source}\n"
    )
    discovery = Discovery(("kustomization.yaml",), cwd=str(checkout))
    (candidate,) = list(discovery)
    read = discovery.read_referenced(candidate, source, Span.point("kustomization.yaml", 4))
    return not isinstance(read, Finding)


def config_is_read(checkout: Path, prefix: str) -> bool:
    (checkout / ".rollouts-plugin-lint.yaml").symlink_to(os.path.join(prefix, "config.yaml"))
    try:
        return load_settings({"paths": ["."]}, cwd=checkout).strict
    except UsageError as error:
        assert "symbolic link leading" in str(error), error
        return False


def base_is_followed(checkout: Path, prefix: str) -> bool:
    app = checkout / "app"
    kustomization = app / "kustomization.yaml"
    base = os.path.join("..", prefix, "base")
    kustomization.write_text(f"resources:\n  - values.yaml\n  - {base}\n")
    context = version_context(
        [(str(kustomization), kustomization.read_bytes())],
        [str(app / "values.yaml")],
        checked_roots(["."], str(checkout)),
        str(checkout),
    )
    return str(app / "values.yaml") in context


def walk_reads(checkout: Path, prefix: str) -> bool:
    discovery = Discovery((".",), cwd=str(checkout))
    return any(candidate.display_path.startswith(f"{prefix}/") for candidate in discovery)


CALLERS = {
    "walked-link": walked_link_is_read,
    "named-path": named_path_is_read,
    "generator-files": generator_source_is_read,
    "found-config": config_is_read,
    "kustomize-base": base_is_followed,
}


@pytest.mark.parametrize("caller", [*CALLERS, "walk"])
@pytest.mark.parametrize("case", CASES)
def test_no_caller_reads_where_the_rule_forbids(tmp_path: Path, case: str, caller: str) -> None:
    checkout, prefix = hostile_checkout(tmp_path, case)
    assert not {**CALLERS, "walk": walk_reads}[caller](checkout, prefix)


@pytest.mark.parametrize("caller", CALLERS)
def test_every_caller_reads_through_a_link_that_stays_inside(tmp_path: Path, caller: str) -> None:
    # The control for the cases above: a git submodule's files are content, and a link
    # that stays inside (relative or absolute) is followed by all.
    checkout = real_repository(tmp_path / "checkout")
    (checkout / "app").mkdir()
    (checkout / "app" / "values.yaml").write_text(PLUGIN_LIST)
    plant(checkout / "module" / "deploy")
    (checkout / "module" / ".git").write_text("gitdir: ../.git/modules/module\n")
    (checkout / "alias").symlink_to(checkout / "module")
    assert CALLERS[caller](checkout, "alias/deploy")


def test_no_caller_reads_a_gitdir_file(tmp_path: Path) -> None:
    # A submodule's (or a linked worktree's) `.git` is a file that names its git directory.
    checkout = real_repository(tmp_path / "checkout")
    (checkout / "module").mkdir()
    (checkout / "module" / ".git").write_text("gitdir: ../.git/modules/module\n")
    (checkout / "pointer.yaml").symlink_to("module/.git")
    discovery = Discovery((".",), cwd=str(checkout))
    assert list(discovery) == []
    assert [finding.message for finding in discovery.skipped] == [
        "symbolic link leading into a git directory: not followed, not read"
    ]
    assert not generator_source_is_read(checkout, "module", ".git")
    (checkout / ".rollouts-plugin-lint.yaml").symlink_to("module/.git")
    with pytest.raises(UsageError, match="symbolic link leading into a git directory"):
        load_settings({"paths": ["."]}, cwd=checkout)


def outside_tree(tmp_path: Path) -> tuple[Path, Path]:
    checkout = real_repository(tmp_path / "checkout")
    (checkout / "app").mkdir()
    (checkout / "app" / "values.yaml").write_text(PLUGIN_LIST)
    plant(tmp_path / "outside")
    return checkout, tmp_path / "outside"


@pytest.mark.parametrize("caller", ["walked-link", "generator-files", "kustomize-base"])
@pytest.mark.parametrize("absolute", [False, True])
def test_dot_dot_and_absolute_paths_out_are_not_read(
    tmp_path: Path, caller: str, absolute: bool
) -> None:
    checkout, outside = outside_tree(tmp_path)
    assert not CALLERS[caller](checkout, str(outside) if absolute else "../outside")


def test_fifos_never_block_a_caller(tmp_path: Path) -> None:
    # An unpacked archive can hold FIFOs (git cannot): each caller opens without blocking
    # and says what it found, where it matters.
    checkout = tmp_path / "checkout"
    (checkout / "app").mkdir(parents=True)
    (checkout / "base").mkdir()
    (checkout / "app" / "values.yaml").write_text(PLUGIN_LIST)
    (checkout / "app" / "kustomization.yaml").write_text(
        "resources:\n  - values.yaml\n  - ../base\nconfigMapGenerator:\n"
        "  - name: argo-rollouts-config\n    files:\n      - trafficRouterPlugins=plugins.yaml\n"
    )
    for fifo in ("walked.yaml", "named.yaml", "app/plugins.yaml", "base/kustomization.yaml",
                 ".rollouts-plugin-lint.yaml", "pyproject.toml"):  # fmt: skip
        os.mkfifo(checkout / fifo)

    outcome = run_cli(["--offline", "--no-cache", "--format", "json", ".", "named.yaml"],
                      checkout, limit=120)  # fmt: skip

    walked = ("walked.yaml", "named.yaml", "app/plugins.yaml", "base/kustomization.yaml",
              ".rollouts-plugin-lint.yaml")  # fmt: skip
    assert skipped(outcome) == {
        **dict.fromkeys(walked, "cannot read file: not a regular file"),
        "app/kustomization.yaml": "cannot read `plugins.yaml`: not a regular file; kustomize "
        "fails too",
    }
    assert "acme/good" in outcome.out


def test_a_git_fifo_outside_a_checkout_does_not_block(tmp_path: Path) -> None:
    # Looking for the repository a named file lies in read `.git` with a blocking open: in
    # an unpacked archive a FIFO there hung the run for good.
    checkout = tmp_path / "checkout"
    (checkout / "deploy").mkdir(parents=True)
    (checkout / "deploy" / "values.yaml").write_text(ENTRY)
    os.mkfifo(checkout / "deploy" / ".git")

    outcome = run_cli(["--offline", "--no-cache", "--format", "json", "deploy/values.yaml"],
                      checkout, limit=120)  # fmt: skip

    assert {path for path, _, _ in json_findings(outcome)} == {"deploy/values.yaml"}


def test_links_of_long_detours_cost_a_bounded_time(tmp_path: Path) -> None:
    # Each walked link leads through a chain of 40 links (the system's limit), each of them
    # 800 `a/..` detours long (within the system's 4096 bytes): 32,000 lookups per name,
    # and 600 such names took two minutes. A path, links followed, of more than 256
    # components is no real layout: refused, at a few hundred lookups.
    checkout = real_repository(tmp_path / "checkout")
    (checkout / "a").mkdir()
    detour = "a/../" * 800
    for index in range(40):
        (checkout / f"l{index}").symlink_to(detour + (f"l{index + 1}" if index < 39 else "v"))
    (checkout / "v").write_text(ENTRY)
    (checkout / "walked").mkdir()
    for index in range(600):
        (checkout / "walked" / f"v{index}.yaml").symlink_to(f"../{detour}l0")

    outcome = run_cli(["--offline", "--no-cache", "--format", "json", "walked"], checkout,
                      limit=60)  # fmt: skip

    assert set(skipped(outcome).values()) == {
        "cannot read file: more than 256 path components, links followed"
    }


@pytest.mark.parametrize("target", ["inside", "outside"])
def test_outside_a_repository_a_config_link_follows_the_same_rule(
    tmp_path: Path, target: str
) -> None:
    # Without a repository the root is the folder the config file was found in: a link
    # inside it is followed like any other (it was refused), a link out of it is not.
    checkout = tmp_path / "checkout"
    (checkout / "lint").mkdir(parents=True)
    (checkout / "lint" / "config.yaml").write_text("strict: true\n")
    (tmp_path / "config.yaml").write_text("strict: true\n")
    link = {"inside": "lint/config.yaml", "outside": "../config.yaml"}[target]
    (checkout / ".rollouts-plugin-lint.yaml").symlink_to(link)
    if target == "inside":
        assert load_settings({"paths": ["."]}, cwd=checkout).strict
    else:
        with pytest.raises(UsageError, match="symbolic link leading outside its folder"):
            load_settings({"paths": ["."]}, cwd=checkout)
