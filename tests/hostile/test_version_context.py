"""Version context a pull request steers: kustomize bases and Argo CD value files are
followed across the repository, so where they lead and what reading them costs must be
bounded for the whole run, not only per file. Each test is a real tree in a real run of
the CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.hostile.helpers import run_cli

# Bounds a hang, not speed: before the fix this tree took about ten times as long.
TIME_LIMIT = 180.0
PLUGIN_VALUES = (
    "controller:\n  trafficRouterPlugins:\n    - name: acme/good\n"
    "      location: https://plugins.acme.io/good-linux-amd64\n"
)


def _big_kustomization(size: int) -> str:
    """A kustomization just under `size` bytes that is slow to compose: many small nodes."""
    lines = ["labels:"]
    total = len(lines[0]) + 1
    index = 0
    while total < size - 64:
        line = f"  k{index}: v"
        lines.append(line)
        total += len(line) + 1
        index += 1
    return "\n".join(lines) + "\n"


def test_many_big_kustomize_bases_cost_a_bounded_time(tmp_path: Path) -> None:
    """Two hundred bases of 250 KiB each, all named by the kustomization beside a values
    file: every one was composed (about 50 MB of YAML); now the bytes parsed for version
    context are bounded in all, and the values file is still checked."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    app = tmp_path / "app"
    app.mkdir()
    (app / "values.yaml").write_text(PLUGIN_VALUES)
    bases = [f"base{i}" for i in range(200)]
    listed = "".join(f"  - ../{base}\n" for base in bases)
    (app / "kustomization.yaml").write_text(f"resources:\n  - values.yaml\n{listed}")
    big = _big_kustomization(250 * 1024)
    for base in bases:
        (tmp_path / base).mkdir()
        (tmp_path / base / "kustomization.yaml").write_text(big)
    outcome = run_cli(
        ["--offline", "--format", "json", "app/values.yaml"], tmp_path, limit=TIME_LIMIT
    )
    outcome.assert_report()
    assert "acme/good" in outcome.out


def test_a_base_in_the_git_folder_is_not_read(tmp_path: Path) -> None:
    """`resources: [../.git]` named the repository's own `.git` folder as a base, and its
    kustomization.yaml handed a controller release to the values file."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".git" / "kustomization.yaml").write_text(
        "resources:\n"
        "  - https://github.com/argoproj/argo-rollouts/releases/download/v1.6.0/install.yaml\n"
    )
    app = tmp_path / "app"
    app.mkdir()
    (app / "values.yaml").write_text(PLUGIN_VALUES)
    (app / "kustomization.yaml").write_text("resources:\n  - values.yaml\n  - ../.git\n")
    outcome = run_cli(["--offline", "-vv", "app/values.yaml"], tmp_path, limit=TIME_LIMIT)
    outcome.assert_report()
    assert "acme/good" in outcome.out + outcome.err
    assert ".git/kustomization.yaml" not in outcome.out + outcome.err
