"""Every real file of ../shared/corpus/real parses without a crash, and the mistakes its
SOURCES.tsv names are found at the right line. Skipped where ../shared is absent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rollouts_plugin_lint.extract import extract_file
from rollouts_plugin_lint.rules import RULES
from tests.conftest import CORPUS, corpus_files, requires_corpus


@requires_corpus
@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name[:60])
def test_corpus_file_parses_without_a_crash(path: Path) -> None:
    result = extract_file(path.name, path.read_bytes())
    for finding in result.findings:
        assert finding.rule in RULES
        assert finding.span.path == path.name and finding.span.line >= 1


@requires_corpus
def test_whole_corpus_through_the_cli() -> None:
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "rollouts_plugin_lint",
            "--offline",
            "--no-cache",
            "--format",
            "json",
            "real",
        ],
        cwd=CORPUS.parent,
        capture_output=True,
        text=True,
    )
    assert child.returncode in (0, 1), child.stderr
    assert "Traceback" not in child.stderr
    report = json.loads(child.stdout)
    with_entries = {p["path"] for p in report["plugins"]}
    assert len(with_entries) >= 45, "most corpus files hold plugin entries"


def findings(name: str, *args: str) -> list[tuple[str, int, int]]:
    child = subprocess.run(
        [sys.executable, "-m", "rollouts_plugin_lint", "--offline", "--no-cache", "--format",
         "json", *args, name],
        cwd=CORPUS, capture_output=True, text=True,
    )  # fmt: skip
    return [(f["rule"], f["line"], f["column"]) for f in json.loads(child.stdout)["findings"]
            if f["severity"] == "error"]  # fmt: skip


# The static mistakes SOURCES.tsv names, as (rule, line, column) errors.
MISTAKES = {
    # trafficRouterPlugins at the top level, and a location that was never filled in.
    "derhornspieler__harvester-rke2-platform__services__argo__argo-rollouts__argo-rollouts-values"
    ".yaml": [("misplaced-plugin-list", 45, 1), ("placeholder", 47, 15)],
    # valuesObject holding a block string while chart 2.40.0 expects a list.
    "tooming__k8s-anywhere__gitops__platform__argo-rollouts.yaml": [("plugin-list-shape", 31, 11)],
    # The old nested form, and an empty location.
    "kvist-no__linkerd-gateway-api-repro__argo-rollouts-values.yaml": [
        ("plugin-list-shape", 2, 3), ("location-format", 5, 19)],
    # A data key the controller never reads.
    "aburan28__statefulset-step-plugin__manifests__configmap-argo-rollouts-config.yaml": [
        ("unknown-config-key", 6, 3)],
    # The nested form on chart 2.39.1 (targetRevision).
    # ... and the gatewayapi asset name of before v0.4.0 on v0.6.0 (from the catalog).
    "angelenriquep__infra-k3s__argocd__applications__argo-rollouts@a55e94a.yaml": [
        ("plugin-list-shape", 26, 11), ("release-asset", 29, 27)],
    # Attempts 2 and 3: a JSON string where a list (or the nested form) belongs.
    "hanazzang__BABAMBA-gitops__platform__argo-rollouts__values@f2061f4.yaml": [
        ("plugin-list-shape", 6, 5)],
    "hanazzang__BABAMBA-gitops__platform__argo-rollouts__values@f56ada1.yaml": [
        ("plugin-list-shape", 26, 5)],
    # The nested form (the dependency is chart 2.38.1; unknown here, so the current chart).
    # ... and the asset name of before v0.4.0 on v0.4.0 (from the catalog).
    "Itamar-Ratson__devsecops__helm__argo-rollouts__values@67c948f.yaml": [
        ("plugin-list-shape", 21, 5), ("release-asset", 24, 21)],
    # The gatewayapi asset renamed at v0.4.0, and an underscore where the asset has a
    # dash: found offline from the catalog (test_corpus_replay proves each is a 404).
    "Itamar-Ratson__devsecops__helm__argo-rollouts__values@ea1f8c2.yaml": [
        ("release-asset", 23, 19)],
    "rohitpotato__k8s-apps__argo-rollouts__config.yaml": [("release-asset", 9, 17)],
    "sumicare__opentofu-kubernetes-modules__packages__gitops-argo-rollouts__scripts__values"
    ".yaml": [("release-asset", 254, 17)],
    # sha256 placeholders and a file:///path/to placeholder.
    "jmichalek132__argo-rollouts-k6-plugin__examples__canary-full__configmap-snippet.yaml": [
        ("placeholder", 13, 15), ("placeholder", 17, 15)],
    "jmichalek132__argo-rollouts-k6-plugin__examples__error-rate-latency__configmap-snippet.yaml": [
        ("placeholder", 13, 15)],
    "irfadkp__rollouts-plugin-metric-instana__examples__analysis-template.yaml": [
        ("placeholder", 28, 15)],
    "zachaller__argo-rollouts__regional-traffic-demo__examples__argo-rollouts-config.yaml": [
        ("placeholder", 9, 17)],
    # arm64 assets, errors for the default linux/amd64 controller.
    # (This one also keeps the asset name of before v0.4.0 on v0.4.0.)
    "MYanello__gateway-api-argo__argo__gw-clusterrole.yaml": [
        ("platform-mismatch", 9, 17), ("release-asset", 9, 17)],
    "argoproj-labs__rollouts-plugin-trafficrouter-gatewayapi__examples__linkerd__argo-rollouts"
    "-plugin.yaml": [("platform-mismatch", 10, 17)],
    "PlatformRelay__Kaddy__deploy__rollouts__config.yaml": [("platform-mismatch", 36, 17)],
    # Right only for a chart version the file does not state (tested with their Chart.yaml
    # in test_real_world.py).
    "argoproj-labs__rollouts-plugin-trafficrouter-gatewayapi__test__cluster-setup__argo-rollouts"
    "-values@182280f.yml": [("plugin-list-shape", 20, 3)],
    "hanazzang__BABAMBA-gitops__platform__argo-rollouts__values.yaml": [
        ("plugin-list-shape", 34, 5)],
    "hanazzang__BABAMBA-gitops__platform__argo-rollouts__values@c155f70.yaml": [
        ("plugin-list-shape", 25, 5)],
}  # fmt: skip


@requires_corpus
@pytest.mark.parametrize("name", sorted(MISTAKES), ids=lambda name: name[:50])
def test_known_mistakes_are_found_at_their_line(name: str) -> None:
    assert findings(name) == MISTAKES[name]


@requires_corpus
def test_correct_files_get_no_error() -> None:
    correct = [p.name for p in corpus_files() if p.name not in MISTAKES]
    child = subprocess.run(
        [sys.executable, "-m", "rollouts_plugin_lint", "--offline", "--no-cache", "--format",
         "json", *correct],
        cwd=CORPUS, capture_output=True, text=True,
    )  # fmt: skip
    errors = [f for f in json.loads(child.stdout)["findings"] if f["severity"] == "error"]
    assert errors == []
    assert len(correct) >= 40


@requires_corpus
def test_arm64_assets_are_right_for_an_arm64_controller() -> None:
    assert findings("PlatformRelay__Kaddy__deploy__rollouts__config.yaml",
                    "--platform", "linux/arm64") == []  # fmt: skip
