"""Discovery: git-aware walk, skipped folders, the byte prefilter, and no file handles held."""

from __future__ import annotations

import itertools
import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from rollouts_plugin_lint.discover import Discovery, might_hold_plugins, walk_directory
from tests.conftest import CORPUS, Runner

ENTRY = "controller:\n  trafficRouterPlugins:\n    - name: x\n      location: ''\n"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def paths(root: Path, *args: str) -> list[str]:
    return sorted(c.display_path for c in Discovery(args or (".",), cwd=str(root)))


def test_walk_skips_vendored_and_hidden_tool_folders(tmp_path: Path) -> None:
    for name in (
        "values.yaml",
        "node_modules/x/values.yaml",
        "vendor/values.yaml",
        ".git/values.yaml",
        "deep/er/cm.yml",
        "app.json",
        "notes.txt",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(ENTRY)
    assert paths(tmp_path, str(tmp_path)) == ["app.json", "deep/er/cm.yml", "values.yaml"]


@pytest.mark.skipif(
    subprocess.run(["git", "--version"], capture_output=True).returncode != 0,
    reason="git is not installed",
)
def test_walk_respects_gitignore(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("rendered/\n*.generated.yaml\n")
    for name in ("values.yaml", "rendered/values.yaml", "a.generated.yaml", "new/untracked.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(ENTRY)
    assert paths(tmp_path, str(tmp_path)) == ["new/untracked.yaml", "values.yaml"]


def test_named_yaml_files_are_checked_whatever_their_folder(tmp_path: Path) -> None:
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "values.YML").write_text(ENTRY)
    assert paths(tmp_path, str(tmp_path / "vendor" / "values.YML")) == ["vendor/values.YML"]


def test_excludes_apply_to_walked_files(tmp_path: Path) -> None:
    for name in ("values.yaml", "charts/sub/values.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(ENTRY)
    found = sorted(
        c.display_path for c in Discovery((str(tmp_path),), ("charts/*",), str(tmp_path))
    )
    assert found == ["values.yaml"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"controller:\n  trafficRouterPlugins: []\n", True),
        (b"data:\n  canaryStepPlugins: |\n", True),
        (b"metadata:\n  name: argo-rollouts-config\n", True),
        (b"kind: Deployment\nspec:\n  replicas: 3\n", False),
        (b"grafana:\n  plugins: [a]\n", False),
    ],
)
def test_prefilter(data: bytes, expected: bool) -> None:
    assert might_hold_plugins(data) is expected


# The prefilter's pattern on main before it became linear (quadratic in `stepstep...`): the
# meaning the linear test must keep exactly.
_QUADRATIC = re.compile(
    rb"(?i)(?:trafficrouter|metricprovider|metric|step|traffic)[a-z]*plugin|argo-rollouts-config"
)


def _before(data: bytes) -> bool:
    quick = b"lugin" in data or b"argo-rollouts-config" in data
    return quick and _QUADRATIC.search(data) is not None


@pytest.mark.parametrize(
    "data",
    [
        b"canaryStepPlugins", b"metricPlugins", b"trafficRouterPlugin", b"METRICPROVIDERPLUGINS",
        b"stepXsteplugin", b"steplugin", b"step plugin", b"step-plugin", b"Argo-Rollouts-Config",
        b"trafficrouterplugin", b"stepmetricplugin", b"pluginstep", b"stePlugin", b"stepPLUGIN",
        b"x: stepstepstep\ny: metricProviderPlugins", b"\xc4\xb0stepplugin", b"step\xc4\xb0plugin",
    ],
)  # fmt: skip
def test_prefilter_means_what_the_quadratic_pattern_meant(data: bytes) -> None:
    assert might_hold_plugins(data) is _before(data)


def test_prefilter_agrees_with_the_quadratic_pattern_on_every_short_string() -> None:
    pieces = (b"step", b"metric", b"traffic", b"router", b"plugin", b"Plu", b"gin", b"p", b" ")
    for count in range(5):
        for parts in itertools.product(pieces, repeat=count):
            data = b"lugin:" + b"".join(parts)
            assert might_hold_plugins(data) is _before(data), data


def test_prefilter_accepts_every_corpus_file_it_accepted_before() -> None:
    files = sorted(path for path in CORPUS.iterdir() if path.is_file())
    assert files, f"no corpus at {CORPUS}"
    verdicts = {}
    for path in files:
        data = path.read_bytes()
        verdicts[path.name] = (might_hold_plugins(data), _before(data))
    assert {name: now for name, (now, before) in verdicts.items() if now != before} == {}
    assert sum(before for _, before in verdicts.values()) >= 60


def test_two_thousand_files_never_need_many_open_files(tmp_path: Path) -> None:
    """Run discovery and extraction in a child limited to 40 open files."""
    for i in range(2000):
        (tmp_path / f"f{i:04}.yaml").write_text(ENTRY if i % 100 == 0 else "kind: Service\n")
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))\n"
        "from rollouts_plugin_lint.cli import main\n"
        f"sys.exit(main(['--offline', '--format', 'json', {str(tmp_path)!r}]))\n"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert child.returncode == 1, child.stderr
    assert '"files": 2000' in child.stdout
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 40  # the limit was the child's


def test_unreadable_files_are_warnings_and_the_rest_is_checked(runner: Runner) -> None:
    runner.write("ok.yaml", ENTRY)
    os.mkfifo(runner.root / "pipe.yaml")  # reading it would block forever
    (runner.root / "dangling.yaml").symlink_to(runner.root / "nowhere.yaml")
    code, report = runner.json("ok.yaml", "pipe.yaml", "dangling.yaml", ".")
    assert code == 1
    assert sorted((f["path"], f["rule"]) for f in report["findings"]) == [
        ("dangling.yaml", "skipped-file"),
        ("ok.yaml", "location-format"),
        ("ok.yaml", "name-format"),
        ("pipe.yaml", "skipped-file"),
    ]


NOT_READ = "plugin lists in Terraform variables, shell and template files are not read"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("prod.tfvars", "Terraform"),
        ("deploy.sh", "shell"),
        ("values.tpl", "template"),
        ("values.yaml.gotmpl", "template"),
        ("values.toml", "`.toml`"),
        ("Makefile", "no extension"),
    ],
)
def test_a_named_file_that_is_not_yaml_gets_one_note_and_no_verdict(
    runner: Runner, name: str, kind: str
) -> None:
    runner.write(name, "# Configure\n```yaml\n" + ENTRY + "```\n{{ .Values }}: [\n")
    code, report = runner.json(name)
    assert code == 0
    assert [(f["rule"], f["severity"], f["message"]) for f in report["findings"]] == [
        (
            "skipped-file",
            "note",
            f"not a YAML, JSON, Markdown or Terraform file ({kind}): not checked; {NOT_READ}",
        )
    ]
    assert report["files"] == 0


def test_a_walk_says_how_many_other_files_mention_plugins(runner: Runner) -> None:
    runner.write("values.yaml", ENTRY)
    runner.write("README.md", "Set `trafficRouterPlugins` in values.yaml.\n")
    runner.write("docs/setup.markdown", "stepPlugins:\n  - name: a/b\n")
    runner.write("infra/prod.tfvars", 'plugins = "controller.trafficRouterPlugins[0].name"\n')
    runner.write("scripts/install.sh", "kubectl create configmap argo-rollouts-config\n")
    runner.write("notes.txt", "nothing about plugins at all\n")
    runner.write("excluded/README.md", "trafficRouterPlugins\n")
    runner.write("vendor/README.md", "trafficRouterPlugins\n")
    # Counting stays cheap: no link is followed, nothing over 1 MiB is read.
    runner.write("big.md", "trafficRouterPlugins\n" + "x" * (1024 * 1024))
    (runner.root / "linked.md").symlink_to("README.md")
    runner.write(".rollouts-plugin-lint.yaml", "exclude: ['excluded/*']\n")

    code, out, err = runner.run("--format", "json", "--offline", "--no-cache", ".")

    assert code == 1
    # values.yaml, the config file and the Markdown files, which are read now
    assert json.loads(out)["files"] == 6
    assert err.splitlines() == [
        "rollouts-plugin-lint: warning: 2 files are not YAML, JSON, Markdown or Terraform but "
        "mention a "
        f"plugin key (1 Terraform, 1 shell): not checked; {NOT_READ}"
    ]


def test_a_walk_with_nothing_unchecked_says_nothing(runner: Runner) -> None:
    runner.write("values.yaml", ENTRY)
    runner.write("README.md", "# A chart\n")
    code, _, err = runner.run("--format", "json", "--offline", "--no-cache", ".")
    assert code == 1
    assert err == ""


def test_a_tree_a_thousand_folders_deep_is_walked(tmp_path: Path) -> None:
    # Without a repository the walk is our own; os.walk recursed, one frame a folder, and
    # raised RecursionError (an internal error) at about a thousand. git stores such a tree.
    folder = os.open(tmp_path, os.O_RDONLY)
    for _ in range(1500):
        os.mkdir("d", dir_fd=folder)
        inner = os.open("d", os.O_RDONLY, dir_fd=folder)
        os.close(folder)
        folder = inner
    with open(os.open("values.yaml", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=folder), "w") as f:
        f.write(ENTRY)
    os.close(folder)
    try:
        assert paths(tmp_path, ".") == ["d/" * 1500 + "values.yaml"]
    finally:
        _remove_deep(tmp_path)


def _remove_deep(top: Path) -> None:
    """shutil.rmtree recurses too: pytest's clean-up of old temporary folders failed."""
    while (top / "d").exists():
        if (top / "d" / "d").exists():
            os.rename(top / "d" / "d", top / "next")
        for child in (top / "d").iterdir():
            child.unlink()
        os.rmdir(top / "d")
        if (top / "next").exists():
            os.rename(top / "next", top / "d")


def test_the_walk_lists_as_os_walk_did(tmp_path: Path) -> None:
    for name in ("b.yaml", "a/z.yaml", "a/b/c.yml", "A.yaml", "a.json", "vendor/x.yaml",
                 "real/v.yaml"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(ENTRY)
    (tmp_path / "linked").symlink_to("real")
    (tmp_path / "alias.yaml").symlink_to("b.yaml")
    (tmp_path / "broken.yaml").symlink_to("missing.yaml")
    found = list(walk_directory(str(tmp_path)))
    assert found == ["A.yaml", "a.json", "alias.yaml", "b.yaml", "broken.yaml", "a/z.yaml",
                     "a/b/c.yml", "real/v.yaml"]  # fmt: skip
