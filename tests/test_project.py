"""The project's own promises: ruff clean, README true to the code and to CI."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from rollouts_plugin_lint.rules import RULES

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

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


# --- packaging ------------------------------------------------------------------------

PACKAGE = ROOT / "src" / "rollouts_plugin_lint"
# What the package reads at run time besides its modules.
DATA_FILES = ("schema/plugin-entry.schema.json", "data/plugins.json", "data/chart_versions.json")


def _build(kind: str, source: Path, out: Path) -> Path:
    """`python -m build` with the test environment's setuptools: no build environment is
    downloaded, so this needs no network."""
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", f"--{kind}", "--outdir", str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,  # bounds a hang only
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (built,) = out.glob("*.tar.gz" if kind == "sdist" else "*.whl")
    return built


def _package_files() -> set[str]:
    return {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_sdist_holds_the_package_and_leaves_the_tests_out(tmp_path: Path) -> None:
    """The sdist builds and installs the package; the test suite needs the whole repository
    (README snippets, action.yml, examples/, ../shared/corpus), so it stays in git."""
    checkout = tmp_path / "checkout"  # a copy, so the build writes nothing into ROOT
    left_out = (".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".*_cache")
    shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(*left_out, ".hypothesis"))
    sdist = _build("sdist", checkout, tmp_path / "sdist")
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
        archive.extractall(tmp_path / "unpacked", filter="data")
    top = members[0].split("/")[0]
    inside = {name.split("/", 1)[1] for name in members if "/" in name}
    assert {"LICENSE", "README.md", "pyproject.toml", "PKG-INFO"} <= inside
    assert {f"src/rollouts_plugin_lint/{name}" for name in _package_files()} <= inside
    assert {f"src/rollouts_plugin_lint/{name}" for name in (*DATA_FILES, "py.typed")} <= inside
    assert not [name for name in inside if name.startswith(("tests/", "benchmarks/"))]
    metadata = (tmp_path / "unpacked" / top / "PKG-INFO").read_text("utf-8")
    assert "License-Expression: Apache-2.0" in metadata
    assert "Apache License" in (tmp_path / "unpacked" / top / "LICENSE").read_text("utf-8")

    # The unpacked sdist alone builds the wheel, and the wheel carries the data files.
    wheel = _build("wheel", tmp_path / "unpacked" / top, tmp_path / "wheel")
    with zipfile.ZipFile(wheel) as archive:
        wheel_files = set(archive.namelist())
    assert {f"rollouts_plugin_lint/{name}" for name in _package_files()} <= wheel_files
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in wheel_files)
    assert not [name for name in wheel_files if name.startswith(("tests/", "benchmarks/"))]

    # Installed into a fresh venv (its dependencies seen from this one), it lints the
    # examples from its own files exactly as the checkout does.
    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    python = fresh / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
    subprocess.run([*install, "--no-index", "-q", str(wheel)], check=True, timeout=300)
    (site,) = fresh.glob("lib/python*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", "utf-8")
    shutil.copytree(ROOT / "examples", tmp_path / "run" / "examples")
    lint = ["-m", "rollouts_plugin_lint", "--offline", "--no-cache", "--no-color", "examples/"]
    where = "import rollouts_plugin_lint as p; print(p.__file__)"
    installed = subprocess.run(
        [python, "-c", where], cwd=tmp_path / "run", capture_output=True, text=True, check=True
    )
    assert Path(installed.stdout.strip()).is_relative_to(site)
    runs = [
        subprocess.run([interpreter, *lint], cwd=cwd, capture_output=True, text=True, timeout=120)
        for interpreter, cwd in ((python, tmp_path / "run"), (sys.executable, ROOT))
    ]
    assert runs[0].returncode == runs[1].returncode == 1, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout


def test_the_pinned_setuptools_reads_the_license_expression() -> None:
    """`license = "Apache-2.0"` is an SPDX expression (PEP 639): setuptools before 77
    refuses the build with it, so the build system may not accept those."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert isinstance(project["project"]["license"], str)
    (setuptools,) = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    specifier = SpecifierSet(setuptools.removeprefix("setuptools"))
    assert not specifier.contains("76.1.0") and specifier.contains("77.0.3")
