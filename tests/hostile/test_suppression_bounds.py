"""Inline suppressions are the pull request's text: a file of them must not cost a finding
and a did-you-mean search each without bound."""

from __future__ import annotations

import itertools
import string
import subprocess
from pathlib import Path

from tests.hostile.helpers import run_cli

# Bounds a hang, not speed: before the fix this file took about four minutes.
TIME_LIMIT = 120.0
ENTRY = (
    "controller:\n  trafficRouterPlugins:\n    - name: acme/good\n"
    "      location: https://plugins.acme.io/good-linux-amd64\n"
)


def test_a_file_of_suppressions_is_read_to_a_bound(tmp_path: Path) -> None:
    """4 MiB of directives naming 800,000 unknown rule ids beside one plugin entry: each was
    a note with a close-match search. Now the first 1,000 are read and one note says where
    the rest begin."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    ids = ("".join(letters) for letters in itertools.product(string.ascii_lowercase, repeat=5))
    lines = [
        "#rollouts-plugin-lint:disable=" + ",".join(next(ids) for _ in range(200))
        for _ in range(4_000)
    ]
    (tmp_path / "values.yaml").write_text(ENTRY + "\n".join(lines) + "\n")
    outcome = run_cli(["--offline", "values.yaml"], tmp_path, limit=TIME_LIMIT)
    outcome.assert_report()
    assert "more than 1,000 suppressed rule ids in this file" in outcome.out
    assert "values.yaml:10:1: note:" in outcome.out, outcome.out[-2000:]
    assert "1002 notes" in outcome.out.splitlines()[-1]
