"""Version context a pull request steers: kustomize bases and Argo CD value files are
followed across the repository, so where they lead and what reading them costs must be
bounded for the whole run, not only per file. Each test is a real tree in a real run of
the CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

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


def _checkout_with_plugins(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "values.yaml").write_text(PLUGIN_VALUES)
    return tmp_path


def test_a_nul_byte_in_a_reference_is_a_finding_not_a_traceback(tmp_path: Path) -> None:
    """A base, an Argo CD or helmfile value file and a configMapGenerator source named
    with a NUL byte (a YAML `\\0` escape): os.path.realpath raised ValueError, an internal
    error."""
    checkout = _checkout_with_plugins(tmp_path)
    (checkout / "app" / "kustomization.yaml").write_text(
        'resources:\n  - values.yaml\n  - "../base\\0x"\n'
    )
    (checkout / "argo.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  sources:\n"
        "    - repoURL: https://argoproj.github.io/argo-helm\n      chart: argo-rollouts\n"
        "      targetRevision: 2.37.7\n      helm:\n        valueFiles:\n"
        '          - "$values/app/values.yaml\\0"\n'
        "    - repoURL: https://github.com/example-org/deploy.git\n      ref: values\n"
    )
    (checkout / "kustomization.yaml").write_text(
        "configMapGenerator:\n  - name: argo-rollouts-config\n    files:\n"
        '      - "trafficRouterPlugins=plugins\\0.yaml"\n'
    )
    (checkout / "helmfile.yaml").write_text(
        "releases:\n  - name: rollouts\n    chart: argo/argo-rollouts\n    version: 2.37.7\n"
        '    values:\n      - app/values.yaml\n      - "app/values.yaml\\0"\n'
    )
    outcome = run_cli(["--offline", "--format", "json", "."], checkout, limit=TIME_LIMIT)
    outcome.assert_report()
    assert "acme/good" in outcome.out
    assert "cannot read `plugins\\u0000.yaml`: a file name with a NUL byte" in outcome.out


def test_references_of_a_megabyte_cost_no_time(tmp_path: Path) -> None:
    """os.path.realpath is quadratic in a path's components: a configMapGenerator source
    of a megabyte of `a/` took minutes, and eight bases of a quarter megabyte (what the
    version-context budget lets through) half a minute. A path longer than the system's
    limit (4096 bytes) is refused before any lookup."""
    checkout = _checkout_with_plugins(tmp_path)
    bases = "".join(f"  - ../b{index}\n" for index in range(8))
    (checkout / "app" / "kustomization.yaml").write_text(f"resources:\n  - values.yaml\n{bases}")
    for index in range(8):
        (checkout / f"b{index}").mkdir()
        (checkout / f"b{index}" / "kustomization.yaml").write_text(
            f"resources:\n  - {'a/' * 127_000}x\n"
        )
    (checkout / "kustomization.yaml").write_text(
        "configMapGenerator:\n  - name: argo-rollouts-config\n    files:\n"
        f"      - trafficRouterPlugins={'a/' * 500_000}x\n"
    )
    outcome = run_cli(["--offline", "--format", "json", "."], checkout, limit=60)
    outcome.assert_report()
    assert "acme/good" in outcome.out
    assert "a path longer than 4096 bytes; kustomize fails too" in outcome.out


@pytest.mark.parametrize("absolute", [False, True])
def test_a_named_link_out_opens_no_folder_to_bases(tmp_path: Path, absolute: bool) -> None:
    """Version context kept the folder a named file's link led to as a root (discovery
    refused the link itself), and took bases from there: a folder outside the checkout."""
    checkout = tmp_path / "checkout"
    (checkout / "app").mkdir(parents=True)
    (checkout / "app" / "values.yaml").write_text(PLUGIN_VALUES)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "decoy.yaml").write_text(PLUGIN_VALUES)
    (outside / "kustomization.yaml").write_text(
        "resources:\n"
        "  - https://github.com/argoproj/argo-rollouts/releases/download/v1.6.0/install.yaml\n"
    )
    (checkout / "decoy.yaml").symlink_to(outside / "decoy.yaml")
    base = str(outside) if absolute else "../../outside"
    (checkout / "app" / "kustomization.yaml").write_text(
        f"resources:\n  - values.yaml\n  - {base}\n"
    )
    outcome = run_cli(["--offline", "-vv", "app/values.yaml", "decoy.yaml"], checkout,
                      limit=TIME_LIMIT)  # fmt: skip
    outcome.assert_report()
    assert "acme/good" in outcome.out + outcome.err
    assert "v1.6.0" not in outcome.out + outcome.err
    assert "outside/kustomization.yaml" not in outcome.out + outcome.err


@pytest.mark.parametrize("leads", ["inside", "out-and-back"])
def test_a_linked_kustomization_is_read_as_discovery_reads_it(tmp_path: Path, leads: str) -> None:
    """Discovery reads a kustomization.yaml that is a link inside the repository; version
    context refused every link (O_NOFOLLOW), so the release it names reached no file. A
    link whose way leaves the repository is read by neither."""
    checkout = _checkout_with_plugins(tmp_path)
    (checkout / "shared").mkdir()
    (checkout / "shared" / "kustomization.yaml").write_text(
        "resources:\n  - values.yaml\n"
        "  - https://github.com/argoproj/argo-rollouts/releases/download/v1.6.0/install.yaml\n"
    )
    (tmp_path.parent / f"{tmp_path.name}-outside").mkdir()
    (tmp_path.parent / f"{tmp_path.name}-outside" / "back").symlink_to(checkout)
    target = {
        "inside": "../shared/kustomization.yaml",
        "out-and-back": f"../../{tmp_path.name}-outside/back/shared/kustomization.yaml",
    }
    (checkout / "app" / "kustomization.yaml").symlink_to(target[leads])  # fmt: skip
    outcome = run_cli(["--offline", "-vv", "app/values.yaml"], checkout, limit=TIME_LIMIT)
    outcome.assert_report()
    assert ("controller v1.6.0" in outcome.out) is (leads == "inside")
