"""`--fix`, `--diff` and `--unsafe-fixes`: each fix on a file written for it, byte for byte;
what is never written; fix-then-lint; and, on every real-world file, that nothing but the
spans of fixable findings changes. The real CLI, real files, a real loopback server."""

from __future__ import annotations

import hashlib
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollouts_plugin_lint.extract import extract_file
from tests.conftest import Runner, corpus_files, requires_corpus
from tests.inspect_fixtures import elf_with_inline_buildinfo
from tests.servers import RawServer, Request, respond, serving

GATEWAY = "https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi"
OFFLINE = ("--offline", "--no-cache")


def fix(runner: Runner, *args: str, path: str = ".") -> tuple[int, str, str]:
    return runner.run(*OFFLINE, "--fix", *args, path)


def fixable(runner: Runner, path: str = ".") -> list[str]:
    """The rules of findings that still carry a fix."""
    _, report = runner.json(path)
    return [finding["rule"] for finding in report["findings"] if finding["fix"]]


GATEWAY_IMAGE = "ghcr.io/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi"


def _values_copying_from(image: str) -> str:
    return (
        "controller:\n  trafficRouterPlugins:\n    - name: argoproj-labs/gatewayAPI\n"
        "      location: file:///plugins/rollouts-plugin-trafficrouter-gatewayapi\n"
        "  initContainers:\n    - name: copy\n"
        f"      image: {image}   # the plugin's image\n"
        '      command: ["/bin/sh", "-c"]\n'
        "      args: [cp /bin/rollouts-plugin-trafficrouter-gatewayapi /plugins/]\n"
        "      volumeMounts: [{name: plugins, mountPath: /plugins}]\n"
        "  volumes: [{name: plugins, emptyDir: {}}]\n"
        "  volumeMounts: [{name: plugins, mountPath: /plugins}]\n"
    )


CASES = {
    "unknown-field, one obvious meaning": (
        "controller:\n  trafficRouterPlugins:\n    - name: a/b\n"
        "      pluginLocation: file:///plugins/b   # the binary\n",
        "controller:\n  trafficRouterPlugins:\n    - name: a/b\n"
        "      location: file:///plugins/b   # the binary\n",
    ),
    "unknown-field sha265 in a JSON file": (
        '{"controller": {"trafficRouterPlugins": [{"name": "a/b", "location": '
        '"file:///plugins/b", "sha265": "x"}]}}\n',
        '{"controller": {"trafficRouterPlugins": [{"name": "a/b", "location": '
        '"file:///plugins/b", "sha256": "x"}]}}\n',
    ),
    "a field spelled in another case": (
        "controller:\n  stepPlugins:\n    - Name: a/b\n      LOCATION: file:///p/b\n",
        "controller:\n  stepPlugins:\n    - name: a/b\n      location: file:///p/b\n",
    ),
    "uppercase digest with a prefix": (
        "controller:\n  metricProviderPlugins:\n    - name: a/b\n"
        "      location: https://example.com/b-linux-amd64\n"
        f"      sha256: 'SHA256:{'AB' * 32}'\n",
        "controller:\n  metricProviderPlugins:\n    - name: a/b\n"
        "      location: https://example.com/b-linux-amd64\n"
        f"      sha256: '{'ab' * 32}'\n",
    ),
    "file://localhost": (
        "controller:\n  stepPlugins:\n    - name: a/b\n      location: file://localhost/p/b\n",
        "controller:\n  stepPlugins:\n    - name: a/b\n      location: file:///p/b\n",
    ),
    "quoted booleans and a one-word args string": (
        "controller:\n  stepPlugins:\n    - name: a/b\n      location: file:///p/b\n"
        '      disabled: "false"\n      args: --verbose\n'
        "    - name: a/c\n      location: file:///p/c\n      disabled: 'yes'\n",
        "controller:\n  stepPlugins:\n    - name: a/b\n      location: file:///p/b\n"
        '      disabled: false\n      args: ["--verbose"]\n'
        "    - name: a/c\n      location: file:///p/c\n      disabled: true\n",
    ),
    "catalogued tag without its v, in a ConfigMap literal block": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
        '  trafficRouterPlugins: |-\n    - name: "argoproj-labs/gatewayAPI"\n'
        f"      location: {GATEWAY}/releases/download/0.4.0/gatewayapi-plugin-linux-amd64\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
        '  trafficRouterPlugins: |-\n    - name: "argoproj-labs/gatewayAPI"\n'
        f"      location: {GATEWAY}/releases/download/v0.4.0/gatewayapi-plugin-linux-amd64\n",
    ),
    "renamed asset, CRLF line endings and a BOM kept": (
        "\ufeffcontroller:\r\n  trafficRouterPlugins:\r\n    - name: argoproj-labs/gatewayAPI\r\n"
        f'      location: "{GATEWAY}/releases/download/v0.4.0/gateway-api-plugin-linux-amd64"\r\n',
        "\ufeffcontroller:\r\n  trafficRouterPlugins:\r\n    - name: argoproj-labs/gatewayAPI\r\n"
        f'      location: "{GATEWAY}/releases/download/v0.4.0/gatewayapi-plugin-linux-amd64"\r\n',
    ),
    "the image tag of a file:// plugin's init container": (
        _values_copying_from(f"{GATEWAY_IMAGE}:0.5.0"),
        _values_copying_from(f"{GATEWAY_IMAGE}:v0.5.0"),
    ),
    "an Argo CD helm.values string": (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: rollouts\n"
        "spec:\n  source:\n    chart: argo-rollouts\n    targetRevision: 2.40.0\n    helm:\n"
        "      values: |\n        controller:\n          trafficRouterPlugins:\n"
        "            - name: a/b\n              url: file:///p/b\n",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: rollouts\n"
        "spec:\n  source:\n    chart: argo-rollouts\n    targetRevision: 2.40.0\n    helm:\n"
        "      values: |\n        controller:\n          trafficRouterPlugins:\n"
        "            - name: a/b\n              location: file:///p/b\n",
    ),
}


LAYOUTS = {
    "a kustomize patch and a configMapGenerator file": {
        "kustomization.yaml": (
            "resources: [rollouts.yaml]\nconfigMapGenerator:\n  - name: argo-rollouts-config\n"
            "    behavior: merge\n    files:\n      - stepPlugins=plugins/steps.yaml\n"
            "patches:\n  - path: patch.yaml\n",
            None,
        ),
        "rollouts.yaml": ("kind: Namespace\napiVersion: v1\nmetadata: {name: x}\n", None),
        "plugins/steps.yaml": (
            "- name: a/s   # ours\n  location: file://localhost/p/s\n",
            "- name: a/s   # ours\n  location: file:///p/s\n",
        ),
        "patch.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
            "  metricProviderPlugins: |\n    - name: a/m\n      pluginLocation: file:///p/m\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
            "  metricProviderPlugins: |\n    - name: a/m\n      location: file:///p/m\n",
        ),
    },
    "a Terraform helm_release": {
        "main.tf": (
            'resource "helm_release" "rollouts" {\n  chart   = "argo-rollouts"\n'
            '  version = "2.40.0"\n  values = [yamlencode({\n    controller = {\n'
            '      stepPlugins = [{ name = "a/s", pluginLocation = "file:///p/s" }]\n'
            "    }\n  })]\n  set {\n"
            '    name  = "controller.metricProviderPlugins[0].name"\n    value = "a/m"\n  }\n'
            "  set {\n"
            '    name  = "controller.metricProviderPlugins[0].location"\n'
            '    value = "file://localhost/p/m"   # copied in\n  }\n}\n',
            'resource "helm_release" "rollouts" {\n  chart   = "argo-rollouts"\n'
            '  version = "2.40.0"\n  values = [yamlencode({\n    controller = {\n'
            '      stepPlugins = [{ name = "a/s", location = "file:///p/s" }]\n'
            "    }\n  })]\n  set {\n"
            '    name  = "controller.metricProviderPlugins[0].name"\n    value = "a/m"\n  }\n'
            "  set {\n"
            '    name  = "controller.metricProviderPlugins[0].location"\n'
            '    value = "file:///p/m"   # copied in\n  }\n}\n',
        ),
    },
    "a Markdown code block": {
        "docs/install.md": (
            "# Install\n\nAdd this to your values:\n\n```yaml\ncontroller:\n"
            "  trafficRouterPlugins:\n    - name: a/b\n      url: file:///p/b\n```\n\nDone.\n",
            "# Install\n\nAdd this to your values:\n\n```yaml\ncontroller:\n"
            "  trafficRouterPlugins:\n    - name: a/b\n      location: file:///p/b\n```\n"
            "\nDone.\n",
        ),
    },
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_fixes_land_in_the_file_each_finding_points_into(runner: Runner, layout: str) -> None:
    for name, (before, _) in LAYOUTS[layout].items():
        runner.write(name, before)

    fix(runner)

    for name, (before, after) in LAYOUTS[layout].items():
        assert (runner.root / name).read_text() == (after or before), name
    assert fixable(runner) == []


@pytest.mark.parametrize("case", CASES)
def test_each_fix_writes_exactly_the_expected_bytes(runner: Runner, case: str) -> None:
    before, expected = CASES[case]
    name = "values.json" if before.startswith("{") else "values.yaml"
    path = runner.write(name, before.encode("utf-8"))

    fix(runner, path=name)
    _, out, _ = fix(runner, path=name)

    assert path.read_bytes() == expected.encode("utf-8")
    assert fixable(runner, name) == []  # fix-then-lint leaves nothing to fix
    assert path.read_bytes() == expected.encode("utf-8")  # a second --fix changed nothing
    assert "fixed" not in out.splitlines()[-1]


def test_fix_reports_what_is_left_and_exits_for_it(runner: Runner) -> None:
    runner.write(
        "values.yaml",
        "controller:\n  trafficRouterPlugins:\n    - name: a/b\n      pluginLocation: file:///p/b\n"
        "    - name: c\n      location: file:///p/c\n",
    )

    code, out, _ = fix(runner)

    assert code == 1  # the name without a namespace has no fix
    assert out.splitlines()[-1].startswith("fixed 1 finding, 1 error, 0 warnings, 2 notes left")
    assert "[unknown-field]" not in out and "[name-format]" in out


def test_fix_of_every_finding_exits_zero(runner: Runner) -> None:
    runner.write("values.yaml", CASES["file://localhost"][0])

    code, out, _ = fix(runner)

    assert code == 0
    assert out.splitlines()[-1].startswith("fixed 1 finding, 0 errors, 0 warnings, 1 note left")


def test_diff_prints_the_fixes_and_writes_nothing(runner: Runner) -> None:
    before, _ = CASES["quoted booleans and a one-word args string"]
    path = runner.write("values.yaml", before)

    code, out, err = runner.run(*OFFLINE, "--diff", ".")

    assert path.read_text() == before
    assert code == 1
    assert out.splitlines()[:2] == ["--- a/values.yaml", "+++ b/values.yaml"]
    assert '-      disabled: "false"' in out.splitlines()
    assert '+      args: ["--verbose"]' in out.splitlines()
    assert "3 fixes to apply with --fix" in err


def test_a_fix_that_changes_meaning_needs_unsafe_fixes(runner: Runner) -> None:
    before = (
        "controller:\n  stepPlugins:\n    - name: a/b\n      location: file:///p/b\n"
        "      args: --level debug\n"
    )
    path = runner.write("values.yaml", before)

    fix(runner)
    unchanged = path.read_text()
    code, _, _ = runner.run(*OFFLINE, "--fix", "--unsafe-fixes", ".")

    assert unchanged == before
    assert path.read_text() == before.replace("--level debug", '["--level", "debug"]')
    assert code == 0


def test_unsafe_fixes_without_fix_is_a_usage_error(runner: Runner) -> None:
    runner.write("values.yaml", CASES["file://localhost"][0])

    code, _, err = runner.run(*OFFLINE, "--unsafe-fixes", ".")

    assert code == 2
    assert "--unsafe-fixes goes with --fix or --diff" in err


def test_an_approximate_position_gets_the_fix_as_a_hint_never_written(runner: Runner) -> None:
    # A double-quoted data string with escapes: positions inside it are approximate.
    before = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
        '  stepPlugins: "- name: a/b\\n  location: file://localhost/p/b\\n"\n'
    )
    path = runner.write("cm.yaml", before)

    code, out, _ = fix(runner)

    assert path.read_text() == before
    assert code == 1
    assert "location: file:///p/b" in out  # the fix, as the hint


def test_a_file_changed_since_it_was_checked_is_not_written(runner: Runner) -> None:
    from rollouts_plugin_lint.fix import NotWritten, plan_fixes, write_fixed
    from rollouts_plugin_lint.lint import run
    from rollouts_plugin_lint.settings import load_settings

    path = runner.write("values.yaml", CASES["file://localhost"][0])
    result = run(load_settings({"paths": ["."], "offline": True, "no-cache": True}))
    plan = plan_fixes(result.findings, result.source_files)
    path.write_text(path.read_text() + "# edited meanwhile\n")

    with pytest.raises(NotWritten, match="changed since it was checked"):
        write_fixed(result.source_files["values.yaml"], plan.texts["values.yaml"])
    assert path.read_text().endswith("# edited meanwhile\n")


def test_fix_keeps_permission_bits_and_writes_no_stray_file(runner: Runner) -> None:
    path = runner.write("values.yaml", CASES["file://localhost"][0])
    path.chmod(0o640)

    fix(runner)

    assert path.read_text() == CASES["file://localhost"][1]
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in runner.root.iterdir()) == ["values.yaml"]


def test_fix_never_writes_through_a_symlink_out_of_the_checkout(
    runner: Runner, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(CASES["file://localhost"][0])
    (runner.root / "values.yaml").symlink_to(outside)

    fix(runner)

    assert outside.read_text() == CASES["file://localhost"][0]
    assert (runner.root / "values.yaml").is_symlink()


def test_fix_does_not_read_stdin(runner: Runner) -> None:
    code, _, err = runner.run(*OFFLINE, "--fix", "-")

    assert code == 2
    assert "use --diff" in err


def test_a_config_file_cannot_turn_fix_on(runner: Runner) -> None:
    before = CASES["file://localhost"][0]
    path = runner.write("values.yaml", before)
    runner.write(".rollouts-plugin-lint.yaml", "fix: true\n")

    code, _, err = runner.run(*OFFLINE, ".")

    assert path.read_text() == before
    assert code == 2 and "fix" in err


# -- online: pinning the file just checked -------------------------------------------------

PLUGIN = elf_with_inline_buildinfo()  # a static linux/amd64 Go plugin
DIGEST = hashlib.sha256(PLUGIN).hexdigest()


@pytest.fixture
def server() -> Iterator[RawServer]:
    def handler(connection: socket.socket, request: Request) -> None:
        if "missing" in request.target:
            respond(connection, 404, b"Not Found")
        elif "page" in request.target:
            respond(connection, 200, b"<!DOCTYPE html><title>Releases</title>")
        else:
            respond(connection, 200, PLUGIN)

    with serving(handler) as running:
        yield running


def online(runner: Runner, *args: str) -> tuple[int, str, str]:
    return runner.run("--allow-private-addresses", "--no-cache", *args, ".")


def test_fix_pins_the_sha256_of_a_download_that_passed_every_check(
    runner: Runner, server: RawServer
) -> None:
    url = server.url("/b-linux-amd64")
    path = runner.write(
        "values.yaml",
        "controller:\n  trafficRouterPlugins:\n"
        f"    - name: a/b\n      location: {url}   # pinned below\n"
        f"    - {{name: a/c, location: {url}?flow}}\n",
    )

    online(runner, "--fix")

    assert path.read_text() == (
        "controller:\n  trafficRouterPlugins:\n"
        f"    - name: a/b\n      location: {url}   # pinned below\n"
        f'      sha256: "{DIGEST}"\n'
        f'    - {{name: a/c, location: {url}?flow, sha256: "{DIGEST}"}}\n'
    )


def test_a_failed_or_unverified_download_pins_nothing(runner: Runner, server: RawServer) -> None:
    before = (
        "controller:\n  trafficRouterPlugins:\n"
        f"    - name: a/b\n      location: {server.url('/missing-linux-amd64')}\n"
        f"    - name: a/c\n      location: {server.url('/page-linux-amd64')}\n"
        f"    - name: a/d\n      location: {server.url('/d-linux-amd64')}\n"
    )
    path = runner.write("values.yaml", before)

    # Offline, with the cache of a run that downloaded /d: no request this run, no pin.
    cache = str(runner.root.parent / "cache")
    runner.run("--allow-private-addresses", "--cache-dir", cache, ".")
    runner.run("--offline", "--cache-dir", cache, "--fix", ".")
    unverified = path.read_text()
    online(runner, "--fix")

    assert unverified == before
    pinned = f'      sha256: "{DIGEST}"\n'
    assert path.read_text() == before + pinned  # only /d, the one that passed every check


# -- the real-world corpus: nothing changes but the spans of fixable findings ---------------


@requires_corpus
def test_fix_on_the_corpus_changes_only_the_spans_of_fixable_findings(
    runner: Runner, tmp_path: Path
) -> None:
    files, changed, fixed_total, outside = 0, 0, 0, 0
    for source in corpus_files():
        files += 1
        target = runner.root / source.name
        shutil.copyfile(source, target)
        _, report = runner.json(source.name)
        spans = [f for f in report["findings"] if f["fix"] and f["fix"]["safe"]]
        fix(runner, path=source.name)
        before, after = source.read_bytes(), target.read_bytes()
        if before != after:
            changed += 1
            fixed_total += len(spans)
            outside += _bytes_outside(before, after, spans)
            assert _entries(source.name, after) == _entries(source.name, before)
        target.unlink()
    print(f"corpus: {files} files, {changed} fixed, {fixed_total} fixable findings, "
          f"{outside} bytes changed outside fixes")  # fmt: skip
    assert changed > 0 and outside == 0


def _bytes_outside(before: bytes, after: bytes, findings: list[dict]) -> int:  # type: ignore[type-arg]
    """Bytes that differ on lines no fixable finding points at (a sha256 inserted after a
    location is on a line of its own, and the corpus is linted offline: no insertions)."""
    touched = {line for f in findings for line in range(f["line"], f["end_line"] + 1)}
    old, new = before.splitlines(), after.splitlines()
    if len(old) != len(new):
        return abs(len(before) - len(after)) or 1
    return sum(
        max(len(a), len(b))
        for n, (a, b) in enumerate(zip(old, new, strict=True), 1)
        if a != b and n not in touched
    )


def _entries(name: str, data: bytes) -> list[dict]:  # type: ignore[type-arg]
    """The entries as the controller decodes them, in order, without the fields a fix may
    change."""
    entries = extract_file(name, data).entries
    return [
        {key: value for key, value in entry.value.items() if key not in _FIXED_FIELDS}
        for entry in entries
    ]


_FIXED_FIELDS = {"location", "sha256", "disabled", "args", "pluginLocation", "url", "sha265"}


def test_json_report_says_which_findings_have_a_fix(runner: Runner) -> None:
    runner.write("values.yaml", CASES["file://localhost"][0])

    _, report = runner.json(".")

    (finding,) = [f for f in report["findings"] if f["rule"] == "location-format"]
    assert finding["fix"] == {"description": "location: file:///p/b", "safe": True}


def test_every_rule_with_a_fix_documents_it(runner: Runner) -> None:
    from rollouts_plugin_lint.explain import explain_rule
    from rollouts_plugin_lint.rules import RULES

    rules = set()
    for number, (before, _) in enumerate(CASES.values()):
        name = f"{number}.json" if before.startswith("{") else f"{number}.yaml"
        runner.write(name, before)
        _, report = runner.json(name)
        rules |= {finding["rule"] for finding in report["findings"] if finding["fix"]}

    assert rules >= {"unknown-field", "sha256-format", "schema", "location-format", "release-tag"}
    for rule in rules:
        assert RULES[rule].autofix is not None
        assert "Automatic fix (--fix): safe" in explain_rule(rule)
    assert "Automatic fix (--fix): none" in explain_rule("name-format")


UNSAFE_CASES = {
    "the nested string of old charts, on a current chart": (
        (),
        "controller:\n  trafficRouterPlugins:\n    trafficRouterPlugins: |-\n"
        '      - name: "a/b"   # the plugin\n        location: file:///p/b\n\n'
        "      - name: a/c\n        location: file:///p/c\n  replicas: 2\n",
        "controller:\n  trafficRouterPlugins:\n"
        '    - name: "a/b"   # the plugin\n      location: file:///p/b\n\n'
        "    - name: a/c\n      location: file:///p/c\n  replicas: 2\n",
    ),
    "a string list on a current chart": (
        ("--chart-version", "2.40.0"),
        "controller:\n  metricProviderPlugins: |\n    - name: a/m\n      location: file:///p/m\n",
        "controller:\n  metricProviderPlugins:\n    - name: a/m\n      location: file:///p/m\n",
    ),
    "a list on an old chart, written at its key's indentation": (
        ("--chart-version", "2.35.0"),
        "controller:\r\n  trafficRouterPlugins:\r\n  # ours\r\n  - name: a/b\r\n"
        "    location: file:///p/b   # copied by an init container\r\n  replicas: 2\r\n",
        "controller:\r\n  trafficRouterPlugins:\r\n  # ours\r\n"
        "    trafficRouterPlugins: |-\r\n      - name: a/b\r\n"
        "        location: file:///p/b   # copied by an init container\r\n  replicas: 2\r\n",
    ),
}


@pytest.mark.parametrize("case", UNSAFE_CASES)
def test_the_chart_forms_are_rewritten_only_with_unsafe_fixes(runner: Runner, case: str) -> None:
    args, before, expected = UNSAFE_CASES[case]
    path = runner.write("values.yaml", before.encode())

    runner.run(*OFFLINE, *args, "--fix", ".")
    safe_only = path.read_bytes()
    runner.run(*OFFLINE, *args, "--fix", "--unsafe-fixes", ".")

    assert safe_only == before.encode()
    assert path.read_bytes() == expected.encode()
    _, report = runner.json(*args, ".")
    assert [f["rule"] for f in report["findings"] if f["rule"] == "plugin-list-shape"] == []


def test_a_list_form_with_text_around_gets_no_rewrite(runner: Runner) -> None:
    before = (
        "controller:\n  trafficRouterPlugins: [{name: a/b, location: 'file:///p/b'}]\n"
        "  metricProviderPlugins: |2-\n      - name: a/m\n        location: file:///p/m\n"
    )
    path = runner.write("values.yaml", before)

    runner.run(*OFFLINE, "--chart-version", "2.35.0", "--fix", "--unsafe-fixes", ".")

    assert path.read_text() == before


# -- GitHub's published digest: a pin only from bytes that match it ------------------------


def test_github_digest_decides_what_fix_may_pin(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three release assets: GitHub publishes the served file's digest for `good` and
    `stale` (pinned to other bytes), and another digest for `bad`. `--fix` pins `good`;
    `--unsafe-fixes` replaces the stale pin; nothing ever pins `bad`."""
    from tests.test_release_digest import OTHER, SERVED, THIRD, download, github, tag_answer, wired

    assets = {"good": f"sha256:{SERVED}", "stale": f"sha256:{SERVED}", "bad": f"sha256:{OTHER}"}
    with github(tag_answer(assets)) as server:
        wired(server, monkeypatch)
        urls = {name: download(server, asset=name) for name in assets}
        before = (
            "controller:\n  trafficRouterPlugins:\n"
            f"    - name: acme/good\n      location: {urls['good']}\n"
            f'    - name: acme/stale\n      location: {urls["stale"]}\n      sha256: "{THIRD}"\n'
            f"    - name: acme/bad\n      location: {urls['bad']}\n"
        )
        path = runner.write("values.yaml", before)
        online(runner, "--fix")
        safe = path.read_text()
        online(runner, "--fix", "--unsafe-fixes")
        unsafe = path.read_text()

    pin = f'      sha256: "{SERVED}"\n'
    good = f"    - name: acme/good\n      location: {urls['good']}\n"
    assert safe == before.replace(good, good + pin)
    assert unsafe == safe.replace(THIRD, SERVED)
    assert f"location: {urls['bad']}\n" in unsafe and unsafe.count(SERVED) == 2


def test_the_text_report_counts_what_fix_would_fix(runner: Runner) -> None:
    runner.write("values.yaml", CASES["quoted booleans and a one-word args string"][0])
    runner.write("old.yaml", UNSAFE_CASES["the nested string of old charts, on a current chart"][1])

    _, out, _ = runner.run(*OFFLINE, ".")
    _, fixed, _ = runner.run(*OFFLINE, "--fix", ".")

    assert out.splitlines()[-2] == "3 fixable with --fix (1 more with --unsafe-fixes)"
    assert fixed.splitlines()[-2] == "1 fixable with --fix --unsafe-fixes"


def test_a_file_edited_during_the_run_is_not_fixed_and_the_run_says_so(runner: Runner) -> None:
    """The server of one location edits the file while the run is downloading: the fix
    planned from the bytes read before is not written, and a warning names the file, also
    when the run lints again for the fixes of another file."""
    path = runner.root / "values.yaml"

    def handler(connection: socket.socket, _request: Request) -> None:
        path.write_text(path.read_text() + "# edited meanwhile\n")
        respond(connection, 200, PLUGIN)

    with serving(handler) as server:
        before = (
            "controller:\n  stepPlugins:\n    - name: a/s\n      pluginLocation: file:///p/s\n"
            f"    - name: a/d\n      location: {server.url('/d-linux-amd64')}\n"
        )
        runner.write("values.yaml", before)
        # Another file is fixed in the same round, so the run lints again after it.
        other = runner.write("other.yaml", CASES["file://localhost"][0])
        code, _, err = online(runner, "--fix")

    assert other.read_text() == CASES["file://localhost"][1]
    assert path.read_text().startswith(before + "# edited meanwhile\n")
    assert (
        "rollouts-plugin-lint: warning: values.yaml: not fixed: changed since it was checked" in err
    )
    assert code == 1
