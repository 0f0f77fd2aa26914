"""`--fix` and `--diff` against a hostile pull request: edits that would spread through a
YAML alias, file names that forge diff headers, folders swapped for links between the read
and the write, and a file with 100,000 fixes. Real files, the real CLI, real processes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from rollouts_plugin_lint.fix import NotWritten, plan_fixes, write_fixed
from rollouts_plugin_lint.lint import run
from rollouts_plugin_lint.model import Edit, Finding, Fix, Severity, SourceFile, Span
from rollouts_plugin_lint.settings import load_settings
from tests.conftest import Runner
from tests.hostile.helpers import run_cli
from tests.inspect_fixtures import elf_with_inline_buildinfo
from tests.servers import RawServer, Request, respond, serving

OFFLINE = ("--offline", "--no-cache")
LOCALHOST = "controller:\n  stepPlugins:\n    - name: a/b\n      location: file://localhost/p/b\n"

# Each file has a fixable finding whose text is read in more than one place.
SHARED = {
    "an alias of a value outside the plugin list": (
        "env:\n  PLUGIN_URL: &url file://localhost/p/b\n"
        "controller:\n  stepPlugins:\n    - name: a/b\n      location: *url\n"
    ),
    "an alias on the line after its key, lines ending in CR alone": (
        "env:\r  PLUGIN_URL: &url file://localhost/p/b\r"
        "controller:\r  stepPlugins:\r    - name: a/b\r      location:\r        *url\r"
    ),
    "a merge key shared with a mapping that is no plugin entry": (
        "defaults: &plugin\n  pluginLocation: file:///p/b\n"
        "mirror:\n  <<: *plugin\n"
        "controller:\n  stepPlugins:\n    - name: a/b\n      <<: *plugin\n"
    ),
    "an alias inside an Argo CD helm.values string": (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: rollouts\n"
        "spec:\n  source:\n    chart: argo-rollouts\n    targetRevision: 2.40.0\n    helm:\n"
        "      values: |\n        env:\n          url: &url file://localhost/p/b\n"
        "        controller:\n          stepPlugins:\n"
        "            - name: a/b\n              location: *url\n"
    ),
}


@pytest.mark.parametrize("case", SHARED)
def test_an_edit_never_spreads_through_a_yaml_alias(runner: Runner, case: str) -> None:
    path = runner.write("values.yaml", SHARED[case])

    _, out, _ = runner.run(*OFFLINE, "--fix", ".")

    assert path.read_bytes() == SHARED[case].encode()
    assert "hint: " in out  # the fix, shown and not written


# 100,000 edits of one file, planned in a child process: accepted edits were compared
# with each other (10^10 comparisons, hours) and the text copied once per edit. The file
# is one comment line, so composing it costs nothing and the planning is what is timed.
_PLAN_MANY = """
import sys
from rollouts_plugin_lint.fix import plan_fixes
from rollouts_plugin_lint.model import Edit, Finding, Fix, Severity, SourceFile, Span

count = int(sys.argv[1])
text = "controller: {}\\n#" + " ab" * count + "\\n"
findings = []
for number in range(count):
    column = 3 + 3 * number
    span = Span("v.yaml", 2, column, 2, column + 2)
    fix = Fix("ab -> cd", (Edit(span, "ab", "cd"),))
    findings.append(Finding("unknown-field", Severity.ERROR, span, "m", fix=fix))
plan = plan_fixes(findings, {"v.yaml": SourceFile("v.yaml", None, text.encode())})
assert plan.texts["v.yaml"].decode() == "controller: {}\\n#" + " cd" * count + "\\n"
print(len(plan.fixed))
"""


def test_a_hundred_thousand_fixes_of_one_file_are_planned_in_linear_time() -> None:
    count = 100_000
    # A hang bound, not a speed test: planned in about a second.
    done = subprocess.run(
        [sys.executable, "-c", _PLAN_MANY, str(count)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    assert done.stdout.strip() == str(count)


def test_a_file_name_cannot_forge_a_diff_header(runner: Runner) -> None:
    runner.write("v.yaml\n+++ b\n@@ -1 +1 @@ evil.yaml", LOCALHOST)

    _, out, _ = runner.run(*OFFLINE, "--diff", ".")

    lines = out.splitlines()
    assert lines[0] == "--- a/v.yaml\\n+++ b\\n@@ -1 +1 @@ evil.yaml"
    assert [line for line in lines if line.startswith(("---", "+++"))] == lines[:2]


def test_a_folder_swapped_for_a_link_after_the_read_is_not_written_through(
    runner: Runner, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "values.yaml").write_text(LOCALHOST)  # the bytes the fix expects to find
    runner.write("deploy/values.yaml", LOCALHOST)
    result = run(load_settings({"paths": ["."], "offline": True, "no-cache": True}))
    plan = plan_fixes(result.findings, result.source_files)
    (runner.root / "deploy").rename(runner.root / "deploy-read")
    (runner.root / "deploy").symlink_to(outside)

    with pytest.raises(NotWritten, match="symbolic link"):
        write_fixed(result.source_files["deploy/values.yaml"], plan.texts["deploy/values.yaml"])
    assert (outside / "values.yaml").read_text() == LOCALHOST
    assert sorted(p.name for p in outside.iterdir()) == ["values.yaml"]


PLUGIN = elf_with_inline_buildinfo()  # a static linux/amd64 Go plugin: passes every check
DIGEST = hashlib.sha256(PLUGIN).hexdigest()


@pytest.fixture
def server() -> Iterator[RawServer]:
    def handler(connection: socket.socket, request: Request) -> None:
        respond(connection, 200, PLUGIN)

    with serving(handler) as running:
        yield running


def test_a_pin_that_would_change_another_field_is_not_written(
    runner: Runner, server: RawServer
) -> None:
    # `, sha256: "..."` after the value of an explicit key made `location` a mapping
    # ({"<url>, sha256": "<digest>"}) with as many entries as before, and it was written.
    before = (
        "controller:\n  trafficRouterPlugins:\n"
        f"    - name: a/b\n      ? location\n      : {server.url('/b-linux-amd64')}\n"
    )
    path = runner.write("values.yaml", before)

    _, out, _ = runner.run("--allow-private-addresses", "--no-cache", "--fix", ".")

    assert path.read_text() == before
    assert f'hint: pin the file checked just now: sha256: "{DIGEST}"' in out


# A release listing names the asset a fix writes into `location`: each name below would
# add a comment, a key, a flow mapping or a line to the file; only the plain one is written.
HOSTILE_ASSETS = [
    "b-linux-amd64 #x",
    'b-linux-amd64"',
    "b-linux-amd64\n      sha256: x",
    "b-linux-amd64{a: 1}",
    "b-linux-amd64, c",
    "b-linux-amd64\u2028x",
]


@pytest.mark.parametrize("asset", [*HOSTILE_ASSETS, "b_linux_amd64"])
def test_an_asset_name_from_a_release_listing_is_written_only_as_plain_text(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, asset: str
) -> None:
    listing = json.dumps(
        [{"tag_name": "v1.0.0", "draft": False, "assets": [{"name": asset}]}]
    ).encode()

    def api(connection: socket.socket, request: Request) -> None:
        respond(connection, 200, listing, {"Content-Type": "application/json"})

    with (
        serving(api) as github,
        serving(lambda connection, _: respond(connection, 404, b"Not Found")) as downloads,
    ):
        monkeypatch.setenv("GITHUB_API_URL", github.url("/api"))
        monkeypatch.setenv("GITHUB_SERVER_URL", f"http://127.0.0.1:{downloads.port}")
        url = downloads.url("/o/r/releases/download/v1.0.0/b-linux-amd64")
        before = f"controller:\n  trafficRouterPlugins:\n    - name: a/b\n      location: {url}\n"
        path = runner.write("values.yaml", before)
        runner.run("--allow-private-addresses", "--no-cache", "--fix", ".")

    if asset in HOSTILE_ASSETS:
        assert path.read_text() == before
    else:
        assert path.read_text() == before.replace("b-linux-amd64", asset)


def test_diff_context_cannot_reach_the_terminal_or_the_actions_runner(tmp_path: Path) -> None:
    # Markdown prose around a fixed code block is context in the diff: escapes and
    # workflow commands there are shown, never obeyed.
    (tmp_path / "README.md").write_text(
        "```yaml\ncontroller:\n  stepPlugins:\n    - name: a/b\n"
        "      location: file://localhost/p/b\n```\n"
        "  ::warning::owned\n\x1b]0;title\x07\x1b[2J ##[error]owned\rx::error::cr\n"
    )
    environment = {**os.environ, "GITHUB_ACTIONS": "true"}

    outcome = run_cli([*OFFLINE, "--diff", "."], tmp_path, environment)

    assert "+      location: file:///p/b" in outcome.out.splitlines()
    assert "\x1b" not in outcome.out and "\x07" not in outcome.out
    assert "##[" not in outcome.out
    lines = re.split(r"\r\n|\r|\n", outcome.out + outcome.err)
    assert not [line for line in lines if line.lstrip().startswith("::")]


@pytest.mark.parametrize("explicit_key", [False, True])
def test_a_configmap_generator_data_file_is_checked_as_it_was_read(
    runner: Runner, server: RawServer, explicit_key: bool
) -> None:
    # Read again as a file of its own, the bare list held no entries, so any edit of it
    # "parsed to the same entries": the pin after `? location` was written here too.
    runner.write(
        "kustomization.yaml",
        "configMapGenerator:\n  - name: argo-rollouts-config\n"
        "    files:\n      - trafficRouterPlugins=plugins.yaml\n",
    )
    url = server.url("/b-linux-amd64")
    location = f"  ? location\n  : {url}\n" if explicit_key else f"  location: {url}\n"
    before = f"- name: a/b\n{location}"
    path = runner.write("plugins.yaml", before)

    runner.run("--allow-private-addresses", "--no-cache", "--fix", ".")

    pinned = f'{before}  sha256: "{DIGEST}"\n'
    assert path.read_text() == (before if explicit_key else pinned)


def test_a_hard_link_to_a_file_outside_is_broken_never_written_through(
    runner: Runner, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(LOCALHOST)
    os.link(outside, runner.root / "values.yaml")

    runner.run(*OFFLINE, "--fix", ".")

    assert (runner.root / "values.yaml").read_text() == LOCALHOST.replace("localhost", "")
    assert outside.read_text() == LOCALHOST


def test_a_linked_folder_is_never_fixed(runner: Runner, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "values.yaml").write_text(LOCALHOST)
    (runner.root / "deploy").symlink_to(outside)

    runner.run(*OFFLINE, "--fix", ".")
    runner.run(*OFFLINE, "--fix", "deploy/values.yaml")

    assert (outside / "values.yaml").read_text() == LOCALHOST
    assert sorted(p.name for p in outside.iterdir()) == ["values.yaml"]


def test_an_edit_is_applied_only_to_the_file_its_span_names() -> None:
    # The same text at the same place in two files: an edit of an image reference (no
    # entry's field, so the entries say nothing) that names the other file's span was
    # applied to the finding's file.
    text = f"{LOCALHOST}image: repo/plugin:0.5.0\n".encode()
    at = Span("deploy.yaml", 5, 8, 5, 25)
    fix = Fix("image: repo/plugin:v0.5.0", (Edit(at, "repo/plugin:0.5.0", "repo/plugin:v0.5.0"),))
    finding = Finding("release-tag", Severity.ERROR, replace(at, path="values.yaml"), "m",
                      fix=fix)  # fmt: skip
    files = {"values.yaml": SourceFile("values.yaml", None, text)}

    assert plan_fixes([finding], files).texts == {}
    assert plan_fixes([replace(finding, fix=_in(fix, "values.yaml"))], files).texts == {
        "values.yaml": text.replace(b":0.5.0", b":v0.5.0")
    }


def _in(fix: Fix, path: str) -> Fix:
    return replace(fix, edits=tuple(replace(e, span=replace(e.span, path=path)) for e in fix.edits))


def test_a_fixed_file_location_keeps_its_escapes(runner: Runner) -> None:
    # Decoded, `/p%3Fx` (the file `/p?x`) was written `file:///p?x`: the file `/p`.
    path = runner.write("values.yaml", LOCALHOST.replace("/p/b", "/p%3Fx"))

    runner.run(*OFFLINE, "--fix", ".")

    assert path.read_text() == LOCALHOST.replace("localhost/p/b", "/p%3Fx")
