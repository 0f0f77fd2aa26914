"""Version context across files: a kustomize overlay's patch files get the controller
release of the base's install.yaml, an Argo CD multi-source app's `$values/...` file gets
the chart version it is deployed with; flags still win; hostile trees stay bounded and
inside the checked folders."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from rollouts_plugin_lint.discover import might_give_versions
from rollouts_plugin_lint.extract.context import MAX_DEPTH
from tests.conftest import SHA, Runner, at
from tests.hostile.helpers import run_cli
from tests.servers import respond, serving

INSTALL = "https://github.com/argoproj/argo-rollouts/releases/download/v1.7.2/install.yaml"
BASE = f"namespace: argo-rollouts\nresources:\n  - {INSTALL}\n"
LOC = "https://github.com/o/r/releases/download/v1/p-linux-amd64"
ENTRY = f"- name: argoproj-labs/sample\n  location: {LOC}\n  sha256: {SHA}\n  headersFrom: []\n"
PATCH = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
    "  metricProviderPlugins: |-\n" + "".join(f"    {line}\n" for line in ENTRY.splitlines())
)
JSON6902 = "- op: add\n  path: /data/metricProviderPlugins\n  value: |-\n" + "".join(
    f"    {line}\n" for line in ENTRY.splitlines()
)
TARGET = "target: {version: v1, kind: ConfigMap, name: argo-rollouts-config}"
SOURCE = "the install.yaml release on line 3 of base/kustomization.yaml"


def gates(report: dict[str, Any], path: str) -> list[dict[str, Any]]:
    return [
        f
        for f in report["findings"]
        if f["rule"] == "version-gate" and f["path"] == path and f["severity"] == "warning"
    ]


def headers_gate(runner: Runner, path: str, *args: str) -> list[str]:
    """The messages of the `headersFrom` version gate in `path` (checked from the root)."""
    _, report = runner.json(*args, ".")
    text = (runner.root / path).read_text()
    line, column = at(text, "headersFrom")
    return [g["message"] for g in gates(report, path) if (g["line"], g["column"]) == (line, column)]


@pytest.mark.parametrize(
    ("kustomization", "patch"),
    [
        ("patches:\n  - path: plugins.yaml\n", PATCH),
        ("patchesStrategicMerge:\n  - plugins.yaml\n", PATCH),
        (f"patchesJson6902:\n  - {TARGET}\n    path: plugins.yaml\n", JSON6902),
        (f"patches:\n  - path: plugins.yaml\n    {TARGET}\n", JSON6902),
    ],
    ids=["patches", "patchesStrategicMerge", "patchesJson6902", "patches-json6902"],
)
def test_an_overlay_patch_file_gets_the_controller_release_of_the_base(
    runner: Runner, kustomization: str, patch: str
) -> None:
    runner.write("base/kustomization.yaml", BASE)
    runner.write("overlay/kustomization.yaml", "resources:\n  - ../base\n" + kustomization)
    runner.write("overlay/plugins.yaml", patch)
    (message,) = headers_gate(runner, "overlay/plugins.yaml")
    assert "controller v1.7.2" in message and f"({SOURCE})" in message
    # Flags win over what the repository says.
    assert headers_gate(runner, "overlay/plugins.yaml", "--controller-version", "1.8.0") == []


def test_a_chain_of_bases_any_depth_and_a_resource_file(runner: Runner) -> None:
    runner.write("base/kustomization.yaml", BASE)
    runner.write("staging/kustomization.yaml", "resources:\n  - ../base\n")
    runner.write("envs/prod/kustomization.yml", "resources:\n- ../../staging\n- config.yaml\n")
    runner.write("envs/prod/config.yaml", PATCH)
    (message,) = headers_gate(runner, "envs/prod/config.yaml")
    assert f"({SOURCE})" in message


def test_an_inline_patch_of_an_overlay_gets_the_base_release(runner: Runner) -> None:
    runner.write("base/kustomization.yaml", BASE)
    inline = "".join(f"      {line}\n" for line in PATCH.splitlines())
    runner.write(
        "overlay/kustomization.yaml", f"resources: [../base]\npatches:\n  - patch: |-\n{inline}"
    )
    (message,) = headers_gate(runner, "overlay/kustomization.yaml")
    assert f"({SOURCE})" in message


def test_the_overlays_own_install_yaml_wins_over_the_base(runner: Runner) -> None:
    runner.write("base/kustomization.yaml", BASE)
    newer = INSTALL.replace("v1.7.2", "v1.8.3")
    for overlay, extra in (("old", ""), ("new", f"  - {newer}\n")):
        runner.write(
            f"{overlay}/kustomization.yaml",
            f"resources:\n  - ../base\n{extra}patches:\n  - path: plugins.yaml\n",
        )
        runner.write(f"{overlay}/plugins.yaml", PATCH)
    assert len(headers_gate(runner, "old/plugins.yaml")) == 1
    assert headers_gate(runner, "new/plugins.yaml") == []


def test_a_patch_file_named_alone_gets_the_release_through_the_kustomization_beside_it(
    runner: Runner,
) -> None:
    # pre-commit passes only the changed file.
    runner.write("base/kustomization.yaml", BASE)
    runner.write("overlay/Kustomization", "resources:\n  - ../base\npatches:\n  - path: p.yaml\n")
    runner.write("overlay/p.yaml", PATCH)
    _, report = runner.json("overlay/p.yaml")
    (gate,) = gates(report, "overlay/p.yaml")
    assert f"({SOURCE})" in gate["message"]


def test_cycles_end_and_depth_is_bounded(runner: Runner) -> None:
    runner.write("a/kustomization.yaml", "resources: [../b, ../a]\npatches: [{path: p.yaml}]\n")
    runner.write("b/kustomization.yaml", "resources: [../a]\n")
    runner.write("a/p.yaml", PATCH)
    assert headers_gate(runner, "a/p.yaml") == []  # no version anywhere: no gate, no hang
    # A chain longer than the bound: the base at its end is not reached.
    runner.write(f"chain/{MAX_DEPTH + 2}/kustomization.yaml", BASE)
    for level in range(MAX_DEPTH + 2):
        runner.write(f"chain/{level}/kustomization.yaml", f"resources: [../{level + 1}]\n")
    runner.write("chain/0/kustomization.yaml", "resources: [../1, p.yaml]\n")
    runner.write("chain/0/p.yaml", PATCH)
    assert headers_gate(runner, "chain/0/p.yaml") == []
    # The same chain within the bound is followed to its end.
    runner.write("chain/4/kustomization.yaml", BASE)
    assert len(headers_gate(runner, "chain/0/p.yaml")) == 1


def test_nothing_outside_the_checked_folder_is_read(tmp_path: Path, runner: Runner) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kustomization.yaml").write_text(BASE)
    runner.write("base/kustomization.yaml", BASE)
    (runner.root / "linked").symlink_to(outside, target_is_directory=True)
    bases = {"inside": "../base", "o1": "../linked", "o2": "../../outside", "o3": str(outside)}
    for folder, base in bases.items():
        runner.write(f"{folder}/kustomization.yaml", f"resources:\n  - {base}\n  - p.yaml\n")
        runner.write(f"{folder}/p.yaml", PATCH)
    assert len(headers_gate(runner, "inside/p.yaml")) == 1
    for folder in ("o1", "o2", "o3"):
        assert headers_gate(runner, f"{folder}/p.yaml") == [], folder


def test_remote_bases_are_never_fetched(runner: Runner) -> None:
    with serving(lambda connection, _: respond(connection, 200, BASE.encode())) as server:
        runner.write(
            "overlay/kustomization.yaml",
            f"resources:\n  - {server.url('/base')}\n  - {server.url('/k')}?ref=v1\n"
            "  - github.com/argoproj/argo-rollouts/manifests?ref=v1.7.2\n"
            "  - git@github.com:argoproj/argo-rollouts.git//manifests\n"
            "  - ../base\npatches: [{path: p.yaml}]\n",
        )
        runner.write("base/kustomization.yaml", BASE)
        # A file:// location: the only requests the run could make are for the bases.
        runner.write("overlay/p.yaml", PATCH.replace(LOC, "file:///plugins/p"))
        code, _, err = runner.run("--no-cache", "--allow-private-addresses", ".")
        assert code in (0, 1) and "Traceback" not in err
        assert server.requests == []
        assert len(headers_gate(runner, "overlay/p.yaml")) == 1  # the local base counts


# --- Argo CD ------------------------------------------------------------------------------

PROD_VALUES = "$values/envs/prod/values.yaml"
LIST_VALUES = (
    "controller:\n  trafficRouterPlugins:\n    - name: argoproj-labs/gatewayAPI\n"
    f"      location: {LOC}\n      sha256: {SHA}\n"
)


def application(
    kind: str = "Application", value_file: str = "$values/envs/prod/values.yaml"
) -> str:
    sources = (
        "  sources:\n"
        "    - repoURL: https://argoproj.github.io/argo-helm\n"
        "      chart: argo-rollouts\n"
        "      targetRevision: 2.37.7\n"
        "      helm:\n"
        "        valueFiles:\n"
        f"          - {value_file}\n"
        "    - repoURL: https://github.com/example-org/deploy.git\n"
        "      targetRevision: main\n"
        "      ref: values\n"
    )
    if kind == "ApplicationSet":
        spec = "spec:\n  generators: [{list: {elements: []}}]\n  template:\n    spec:\n"
        return f"apiVersion: argoproj.io/v1alpha1\nkind: {kind}\n{spec}" + "".join(
            f"    {line}\n" for line in sources.splitlines()
        )
    return f"apiVersion: argoproj.io/v1alpha1\nkind: {kind}\nspec:\n{sources}"


def shape_errors(report: dict[str, Any], path: str) -> list[str]:
    return [
        f["message"]
        for f in report["findings"]
        if f["rule"] == "plugin-list-shape" and f["path"] == path
    ]


@pytest.mark.parametrize("kind", ["Application", "ApplicationSet"])
def test_a_values_file_is_judged_for_the_chart_of_the_app_that_uses_it(
    runner: Runner, kind: str
) -> None:
    app = application(kind)
    runner.write("apps/argo-rollouts.yaml", app)
    runner.write("envs/prod/values.yaml", LIST_VALUES)
    _, report = runner.json(".")
    (message,) = shape_errors(report, "envs/prod/values.yaml")
    line = at(app, "targetRevision: 2.37.7")[0]
    assert message.startswith(
        f"chart 2.37.7 (targetRevision on line {line} of apps/argo-rollouts.yaml) writes"
    )
    _, report = runner.json("--chart-version", "2.40.0", ".")
    assert shape_errors(report, "envs/prod/values.yaml") == []


def test_value_files_that_are_not_in_the_repository_get_nothing(
    tmp_path: Path, runner: Runner
) -> None:
    (tmp_path / "values.yaml").write_text(LIST_VALUES)
    runner.write("apps/escape.yaml", application(value_file="$values/../values.yaml"))
    # A single source's valueFiles are relative to the chart, not to the repository.
    single = application().replace("$values/envs/prod/values.yaml", "envs/prod/values.yaml")
    runner.write("apps/single.yaml", single.split("    - repoURL: https://github.com")[0])
    # `$other` names no `ref:` source.
    runner.write("apps/unknown-ref.yaml", application(value_file="$other/envs/prod/values.yaml"))
    runner.write("envs/prod/values.yaml", LIST_VALUES)
    runner.write("apps/good.yaml", application(value_file="$values/envs/good/values.yaml"))
    runner.write("envs/good/values.yaml", LIST_VALUES)
    _, report = runner.json(".")
    assert shape_errors(report, "envs/prod/values.yaml") == []
    assert len(shape_errors(report, "envs/good/values.yaml")) == 1
    # Checked too, the file outside the repository still gets nothing from `$values/..`.
    _, report = runner.json(".", "../values.yaml")
    assert shape_errors(report, "../values.yaml") == []
    assert [p["path"] for p in report["plugins"]].count("../values.yaml") == 1


def test_values_paths_start_at_the_nearest_git_folder(runner: Runner) -> None:
    (runner.root / "deploy" / ".git").mkdir(parents=True)  # only looked at, never run
    runner.write("deploy/apps/argo-rollouts.yaml", application())
    runner.write("deploy/envs/prod/values.yaml", LIST_VALUES)
    _, report = runner.json("deploy")
    assert len(shape_errors(report, "deploy/envs/prod/values.yaml")) == 1


# --- the prefilter and hostile input --------------------------------------------------------


def test_context_files_pass_the_prefilter_without_a_plugin_key() -> None:
    sep = os.sep
    assert might_give_versions(f"{sep}r{sep}kustomization.yaml", b"resources: []\n")
    assert might_give_versions(f"{sep}r{sep}Kustomization", b"resources: []\n")
    assert might_give_versions(f"{sep}r{sep}app.yaml", b"helm:\n  valueFiles: [a]\n")
    assert not might_give_versions(f"{sep}r{sep}my-kustomization.yaml", b"resources: []\n")
    assert not might_give_versions(f"{sep}r{sep}deployment.yaml", b"kind: Deployment\n")


def test_a_hostile_kustomization_tree_is_bounded(tmp_path: Path) -> None:
    # Every folder names every other one: the reads are bounded by the folders, not the paths.
    root = tmp_path / "repo"
    names = [f"k{index}" for index in range(150)]
    listing = "resources:\n" + "".join(f"  - ../{name}\n" for name in names)
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "kustomization.yaml").write_text(listing + "  - p.yaml\n")
        (root / name / "p.yaml").write_text(PATCH)
    (root / "k149" / "kustomization.yaml").write_text(f"resources: [../k0, p.yaml, {INSTALL}]\n")
    (root / "broken").mkdir()
    (root / "broken" / "kustomization.yaml").write_bytes(b"resources: [\xff\n  - {{\n")
    outcome = run_cli(["--offline", "--no-cache", "--format", "json", "."], root, limit=120)
    outcome.assert_report()
    assert outcome.out.count("the install.yaml release") >= 150
