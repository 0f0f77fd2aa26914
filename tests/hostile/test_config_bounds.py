"""A config file found in the repository is the pull request's: its lists must not make
the run cost what the linter does with them (each glob is matched against every file)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.hostile.helpers import run_cli

# Bounds a hang, not speed: before the fix this tree took about five minutes.
TIME_LIMIT = 120.0


def test_a_found_config_with_80000_excludes_is_refused(tmp_path: Path) -> None:
    """80,000 exclude globs in a pyproject.toml (under the 1 MiB config bound) over 40
    files: each file was matched against every glob, recompiled each time once fnmatch's
    cache overflowed. Now the list is refused in one short line, before any file is read."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    globs = ",".join(f"'q{index}*'" for index in range(80_000))
    (tmp_path / "pyproject.toml").write_text(f"[tool.rollouts-plugin-lint]\nexclude = [{globs}]\n")
    for index in range(40):
        (tmp_path / f"values{index}.yaml").write_text("replicas: 1\n")
    outcome = run_cli(["--offline", "."], tmp_path, limit=TIME_LIMIT)
    assert outcome.code == 2, (outcome.code, outcome.err[-2000:])
    assert "`exclude`: more than 1000 items" in outcome.err
    assert len(outcome.err) < 500, outcome.err[:500]
    assert "Traceback" not in outcome.err


def test_a_config_of_too_many_values_says_so(tmp_path: Path) -> None:
    """A YAML config of 30,000 excludes passed the node bound's error off as "not readable
    UTF-8 YAML", which sent its author looking for an encoding problem."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    globs = "".join(f"  - 'q{index}*'\n" for index in range(30_000))
    (tmp_path / ".rollouts-plugin-lint.yaml").write_text(f"exclude:\n{globs}")
    outcome = run_cli(["--offline", "."], tmp_path, limit=TIME_LIMIT)
    assert outcome.code == 2, (outcome.code, outcome.err[-2000:])
    assert "holds more than 10,000 values" in outcome.err, outcome.err
    assert "UTF-8" not in outcome.err


def test_a_found_pyproject_nested_too_deep_says_so(tmp_path: Path) -> None:
    """Looking for the config table parses every pyproject.toml on the way up: 5,000
    nested arrays (10 KB) made tomllib raise RecursionError, an internal error."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "pyproject.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    (tmp_path / "values.yaml").write_text("replicas: 1\n")
    outcome = run_cli(["--offline", "."], tmp_path, limit=TIME_LIMIT)
    assert outcome.code == 2, (outcome.code, outcome.err[-2000:])
    assert outcome.err.strip().endswith(
        "pyproject.toml: invalid TOML: nesting is too deep to parse"
    )
    assert "Traceback" not in outcome.err
