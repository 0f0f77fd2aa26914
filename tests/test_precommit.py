""".pre-commit-hooks.yaml: a valid manifest, the right files, and the hook run by pre-commit
itself (`try-repo`) on a snapshot of this working tree, against a bad values file."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
HOOKS: dict[str, dict[str, Any]] = {
    hook["id"]: hook for hook in YAML(typ="safe").load(MANIFEST.read_text("utf-8"))
}

needs_pre_commit = pytest.mark.skipif(
    importlib.util.find_spec("pre_commit") is None or shutil.which("git") is None,
    reason="pre-commit (pip install -e '.[test]') and git are needed to run the hook",
)


@needs_pre_commit
def test_the_manifest_is_valid() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", str(MANIFEST)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_two_hooks_online_and_offline() -> None:
    assert set(HOOKS) == {"rollouts-plugin-lint", "rollouts-plugin-lint-offline"}
    for hook in HOOKS.values():
        assert hook["language"] == "python"
        assert hook["entry"].split()[:4] == [
            "rollouts-plugin-lint",
            "--pre-commit-hook",
            "--format",
            "text",
        ]
        # pre-commit names every file: the config's `exclude` must still apply.
        assert "--force-exclude" in hook["entry"].split()
        # File names follow `--`, so `-root.yaml` is a file and `--output=x.yaml` no option.
        assert hook["args"] == ["--"]
        # One process, one report; each plugin downloaded once, no chunks racing for URLs.
        assert hook["require_serial"] is True
    assert "--offline" not in HOOKS["rollouts-plugin-lint"]["entry"].split()
    assert "--offline" in HOOKS["rollouts-plugin-lint-offline"]["entry"].split()


def test_hook_args_without_the_separator_are_a_usage_error(tmp_path: Path) -> None:
    """A user's `args:` replaces the hooks' `[--]`: the entry's flag catches a lost `--`."""
    (tmp_path / "values.yaml").write_text("replicaCount: 1\n")
    entry = HOOKS["rollouts-plugin-lint-offline"]["entry"].split()[1:]
    base = [sys.executable, "-m", "rollouts_plugin_lint", *entry, "--no-cache"]
    for args, code in (([], 2), (["--platform", "linux/arm64"], 2), (["--"], 0)):
        done = subprocess.run(
            [*base, *args, "values.yaml"], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == code, done.stderr
        if code == 2:
            assert done.stderr == (
                "rollouts-plugin-lint: error: the hook's `args` must end with `--`, so that "
                "no file name is read as an option (e.g. args: [--platform, linux/arm64, --])\n"
            )


CHECKED = [
    "values.yaml",
    "values-prod.yaml",
    "charts/argo-rollouts/values.yml",
    "deploy/argo-rollouts-config.yaml",
    "clusters/prod/apps/argo-rollouts.application.yaml",
    "clusters/prod/flux/helmrelease.yaml",
    "overlays/prod/patch-rollouts-config.json",
    "VALUES.YAML",
    "README.md",
    "docs/install.markdown",
    "infra/argo-rollouts.tf",
]
SKIPPED = [
    "values.yaml.bak", "Chart.lock", "scripts/render.sh", "values.toml", "infra/prod.tfvars",
    "infra/.terraform.lock.hcl",
]  # fmt: skip


@pytest.mark.parametrize("hook_id", sorted(HOOKS))
def test_files_patterns_take_every_yaml_json_markdown_and_terraform_file(hook_id: str) -> None:
    identify = pytest.importorskip("identify.identify", reason="identify comes with pre-commit")
    hook = HOOKS[hook_id]

    def selected(name: str) -> bool:
        tags = identify.tags_from_filename(name)
        return (
            bool(re.search(hook.get("files", ""), name))
            and not re.search(hook.get("exclude", "^$"), name)
            and bool(tags & set(hook.get("types_or", [])) or not hook.get("types_or"))
            and set(hook.get("types", [])) <= tags
        )

    assert [name for name in CHECKED if not selected(name)] == []
    assert [name for name in SKIPPED if selected(name)] == []


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A git that ignores the machine's configuration and knows who commits."""
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    for name, value in {
        "GIT_CONFIG_GLOBAL": str(empty),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
    }.items():
        monkeypatch.setenv(name, value)


def snapshot_of_this_tree(target: Path) -> Path:
    """A one-commit repository holding this working tree as it is now (uncommitted files
    included), since try-repo would only see committed or staged changes."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    _git("init", "-q", cwd=target)
    _git("add", "-A", cwd=target)
    _git("commit", "-q", "-m", "snapshot", cwd=target)
    return target


@needs_pre_commit
@pytest.mark.usefixtures("git_env")
def test_try_repo_fails_on_a_bad_values_file(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to snapshot")
    repo = snapshot_of_this_tree(tmp_path / "hook-repo")
    project = tmp_path / "project"
    (project / "deploy").mkdir(parents=True)
    (project / "deploy" / "values.yaml").write_text(
        "controller:\n  trafficRouterPlugins:\n    - name: gatewayAPI\n"
        "      location: file:///plugins/gatewayAPI\n"
    )
    (project / "README.md").write_text("trafficRouterPlugins: not YAML, not checked\n")
    # A name that looks like an option, and a file the config excludes.
    (project / "-root.yaml").write_text(
        "controller:\n  trafficRouterPlugins:\n    - name: a/b\n      location: ftp://x/p\n"
    )
    (project / "vendored").mkdir()
    (project / "vendored" / "values.yaml").write_text(
        (project / "deploy" / "values.yaml").read_text()
    )
    (project / ".rollouts-plugin-lint.yaml").write_text('exclude: ["vendored/*"]\n')
    _git("init", "-q", cwd=project)
    _git("add", "-A", cwd=project)
    hook_run = ["rollouts-plugin-lint-offline", "--all-files", "--color", "never"]
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(repo), *hook_run],
        cwd=project,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(r"rollouts-plugin-lint \(offline\)\.+Failed", output), output
    assert "deploy/values.yaml:3:13: error: plugin name `gatewayAPI`" in output
    assert "[name-format]" in output and "README.md" not in output
    assert "-root.yaml:4:17: error: " in output and "[location-format]" in output
    assert "vendored/" not in output


@needs_pre_commit
@pytest.mark.usefixtures("git_env")
def test_the_hook_with_fix_args_fixes_and_fails_as_pre_commit_expects(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to snapshot")
    repo = snapshot_of_this_tree(tmp_path / "hook-repo")
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    project = tmp_path / "project"
    project.mkdir()
    values = project / "values.yaml"
    values.write_text(
        "controller:\n  stepPlugins:\n    - name: a/b\n      pluginLocation: file:///p/b\n"
    )
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {repo}\n    rev: {revision}\n    hooks:\n"
        "      - id: rollouts-plugin-lint-offline\n        args: [--fix, --]\n"
    )
    _git("init", "-q", cwd=project)
    _git("add", "-A", cwd=project)

    def hook() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
            cwd=project,
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
            timeout=600,
        )

    first = hook()
    fixed = values.read_text()
    _git("add", "-A", cwd=project)
    second = hook()

    assert first.returncode == 1, first.stdout + first.stderr
    assert "files were modified by this hook" in first.stdout
    assert fixed == "controller:\n  stepPlugins:\n    - name: a/b\n      location: file:///p/b\n"
    assert second.returncode == 0, second.stdout + second.stderr
