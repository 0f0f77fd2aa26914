"""The project's own promises: ruff clean, README true to the code and to CI."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rollouts_plugin_lint.rules import RULES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_ruff_clean() -> None:
    for command in (
        ["check", "src", "tests", "benchmarks"],
        ["format", "--check", "src", "tests", "benchmarks"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_readme_rule_table_lists_every_rule_with_its_default_severity() -> None:
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| (error|warning|note) \|", README, re.M))
    assert rows == {rule.id: rule.severity.value for rule in RULES.values()}


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"^```sh\n(.+?)\n```", README, re.M | re.S)
    test_command = commands[1].strip()
    assert "pytest" in test_command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci


def test_readme_shows_what_the_examples_really_give() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rollouts_plugin_lint", "--offline", "--no-color", "examples/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    summary = result.stdout.splitlines()[-1]
    assert f"\n{summary}\n```" in README
    for line in README.split("The first command exits")[1].split("```")[1].splitlines():
        if line.startswith("examples/"):
            assert line in result.stdout.splitlines()
