"""Every real file of ../shared/corpus/real parses without a crash, and the mistakes its
SOURCES.tsv names are found at the right line. Skipped where ../shared is absent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rollouts_plugin_lint.extract import extract_file
from tests.conftest import CORPUS, corpus_files, requires_corpus


@requires_corpus
@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name[:60])
def test_corpus_file_parses_without_a_crash(path: Path) -> None:
    result = extract_file(path.name, path.read_bytes())
    for finding in result.findings:
        assert finding.rule in (
            "plugin-list-shape",
            "yaml-syntax",
            "unknown-field",
            "schema",
            "skipped-file",
        )


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


def findings(name: str) -> list[tuple[str, int, int]]:
    child = subprocess.run(
        [sys.executable, "-m", "rollouts_plugin_lint", "--offline", "--format", "json", name],
        cwd=CORPUS,
        capture_output=True,
        text=True,
    )
    return [(f["rule"], f["line"], f["column"]) for f in json.loads(child.stdout)["findings"]]


@requires_corpus
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Old nested chart form and an empty location.
        (
            "kvist-no__linkerd-gateway-api-repro__argo-rollouts-values.yaml",
            [("plugin-list-shape", 2, 3), ("location-format", 5, 19)],
        ),
        # valuesObject holding a block string while chart 2.40.0 expects a list.
        (
            "tooming__k8s-anywhere__gitops__platform__argo-rollouts.yaml",
            [("plugin-list-shape", 31, 11), ("missing-sha256", 33, 25)],
        ),
        # sha256 placeholders that are not hex.
        (
            "jmichalek132__argo-rollouts-k6-plugin__examples__canary-full__configmap-snippet.yaml",
            [("sha256-format", 13, 15), ("sha256-format", 17, 15)],
        ),
        # Plain http to a private mirror, no sha256.
        (
            "jjamroga__rollouts-plugin-trafficrouter-glooplatform__deploy-local__kustomization.yaml",
            [("insecure-location", 31, 25), ("missing-sha256", 31, 25)],
        ),
        # A real 64-hex pin: nothing to say.
        ("saadabdullaah__steadystate__gitops__platform__rollouts__values.yaml", []),
        # Relative file:// as the upstream e2e test writes it.
        (
            "argoproj__argo-rollouts__test__e2e__step-plugin__argo-rollouts-config.yaml",
            [("file-location", 13, 17), ("file-location", 16, 17)],
        ),
        # A one-line JSON string inside a values file: exact column.
        (
            "hanazzang__BABAMBA-gitops__platform__argo-rollouts__values@f56ada1.yaml",
            [("plugin-list-shape", 26, 5), ("file-location", 26, 75)],
        ),
    ],
    ids=lambda value: value[:40] if isinstance(value, str) else "",
)
def test_known_mistakes_are_found(name: str, expected: list[tuple[str, int, int]]) -> None:
    assert findings(name) == expected
