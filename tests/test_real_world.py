"""What real repositories get wrong: chart-version-aware shapes, misplaced and misspelled
keys, placeholders, and file:// paths the controller cannot see."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import rollouts_plugin_lint
from tests.conftest import CORPUS, SHA, Runner, at, requires_corpus
from tests.servers import respond, serving

LOC = "https://github.com/o/r/releases/download/v1.0.0/p-linux-amd64"
NESTED = (
    "controller:\n  trafficRouterPlugins:\n    trafficRouterPlugins: |-\n"
    f"      - name: a/b\n        location: {LOC}\n        sha256: {SHA}\n"
)
LISTED = (
    "controller:\n  trafficRouterPlugins:\n"
    f"    - name: a/b\n      location: {LOC}\n      sha256: {SHA}\n"
)


def rules(report: dict, *wanted: str) -> list[tuple[str, int, int]]:
    return [
        (f["rule"], f["line"], f["column"])
        for f in report["findings"]
        if not wanted or f["rule"] in wanted
    ]


def chart_yaml(version: str) -> str:
    return (
        "apiVersion: v2\nname: platform\nversion: 0.1.0\ndependencies:\n"
        f"  - name: argo-rollouts\n    version: {version}\n"
        "    repository: https://argoproj.github.io/argo-helm\n"
    )


@pytest.mark.parametrize(
    ("chart", "text", "shape_error"),
    [
        ("2.37.2", NESTED, False),  # right for its chart
        ("2.37.7", NESTED, False),
        ("2.37.8", NESTED, True),
        ("2.41.0", NESTED, True),
        ("2.37.2", LISTED, True),  # a list under an old chart
        ("2.37.8", LISTED, False),
        ("2.41.0", LISTED, False),
    ],
)
def test_shape_follows_the_chart_yaml_beside_the_values(
    runner: Runner, chart: str, text: str, shape_error: bool
) -> None:
    runner.write("Chart.yaml", chart_yaml(chart))
    runner.write("values.yaml", text)
    _, report = runner.json("values.yaml")
    shapes = [f for f in report["findings"] if f["rule"] == "plugin-list-shape"]
    assert bool(shapes) is shape_error, report["findings"]
    if shapes:
        assert f"chart {chart}" in shapes[0]["message"]
        assert "Chart.yaml" in shapes[0]["message"]


def test_unknown_chart_version_assumes_the_current_chart_and_says_so(runner: Runner) -> None:
    runner.write("values.yaml", NESTED)
    _, report = runner.json("values.yaml")
    (shape,) = [f for f in report["findings"] if f["rule"] == "plugin-list-shape"]
    assert "no chart version found; pass --chart-version" in shape["message"]
    assert "up to 2.37.7" in shape["hint"]


def test_flags_override_what_the_repository_states(runner: Runner) -> None:
    runner.write("Chart.yaml", chart_yaml("2.41.0"))
    runner.write("values.yaml", NESTED)
    _, report = runner.json("--chart-version", "2.37.2", "values.yaml")
    assert rules(report, "plugin-list-shape") == []
    code, _, err = runner.run("--offline", "--chart-version", "latest", "values.yaml")
    assert code == 2 and "is not a version; write one such as 2.39.1" in err


@pytest.mark.parametrize(
    ("revision", "shape_error"), [("2.35.1", False), ("2.39.1", True)]
)  # fmt: skip
def test_argocd_target_revision_decides(runner: Runner, revision: str, shape_error: bool) -> None:
    text = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n"
        f"    chart: argo-rollouts\n    targetRevision: {revision}\n    helm:\n"
        "      valuesObject:\n" + textwrap.indent(NESTED, "        ")
    )
    runner.write("app.yaml", text)
    _, report = runner.json("app.yaml")
    shapes = rules(report, "plugin-list-shape")
    assert bool(shapes) is shape_error
    if shape_error:
        assert "targetRevision on line 6" in report["findings"][0]["message"]


def test_flux_helmrelease_version_decides(runner: Runner) -> None:
    text = (
        "kind: HelmRelease\nspec:\n  chart:\n    spec:\n      chart: argo-rollouts\n"
        "      version: 2.37.0\n  values:\n" + textwrap.indent(NESTED, "    ")
    )
    runner.write("release.yaml", text)
    _, report = runner.json("release.yaml")
    assert rules(report, "plugin-list-shape") == []


def test_step_plugins_on_a_chart_that_ignores_them(runner: Runner) -> None:
    runner.write("Chart.yaml", chart_yaml("2.38.1"))
    text = LISTED.replace("trafficRouterPlugins", "stepPlugins")
    runner.write("values.yaml", text)
    _, report = runner.json("values.yaml")
    (gate,) = [f for f in report["findings"] if f["rule"] == "version-gate" and
               f["severity"] == "warning"]  # fmt: skip
    assert (gate["line"], gate["column"]) == at(text, "stepPlugins")
    assert "2.39.1" in gate["message"]


@pytest.mark.parametrize(
    ("field", "value", "controller", "expected"),
    [
        ("args", "[--x]", "v1.6.6", True),
        ("args", "[--x]", "v1.7.0", False),
        ("disabled", "false", "v1.7.2", True),
        ("headersFrom", "[{secretRef: {name: s}}]", "v1.7.2", True),
        ("headersFrom", "[{secretRef: {name: s}}]", "v1.8.0", False),
    ],
)
def test_fields_newer_than_the_controller(
    runner: Runner, field: str, value: str, controller: str, expected: bool
) -> None:
    text = (
        "kind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
        "  metricProviderPlugins: |-\n    - name: a/b\n      location: {LOC}\n      sha256: {SHA}\n"
        f"      {field}: {value}\n"
    )
    runner.write("cm.yaml", text)
    _, report = runner.json("--controller-version", controller, "cm.yaml")
    gates = [f for f in report["findings"] if f["rule"] == "version-gate" and
             f["severity"] == "warning"]  # fmt: skip
    assert [(g["line"], g["column"]) for g in gates] == ([at(text, field)] if expected else [])


def test_older_controllers_get_notes_about_status_and_sha256(runner: Runner) -> None:
    text = (
        "kind: Kustomization\nresources:\n"
        "  - https://github.com/argoproj/argo-rollouts/releases/download/v1.7.2/install.yaml\n"
        "patches:\n  - patch: |-\n      kind: ConfigMap\n      metadata:\n"
        "        name: argo-rollouts-config\n      data:\n        metricProviderPlugins: |-\n"
        f"          - name: a/b\n            location: {LOC}\n            sha256: {SHA}\n"
    )
    runner.write("kustomization.yaml", text)
    _, report = runner.json("kustomization.yaml")
    notes = [f for f in report["findings"] if f["rule"] == "version-gate"]
    # v1.7.2 has the sha256 fix (#3520 shipped in v1.7.0), not the HTTP status check (v1.8.0).
    assert [(n["line"], n["column"], n["severity"]) for n in notes] == [
        (*at(text, LOC), "note")]  # fmt: skip
    assert "install.yaml release on line 3" in notes[0]["message"]


@pytest.mark.parametrize(
    ("controller", "expected"), [("v1.6.6", [("error", "#3520 in v1.7.0")]), ("v1.7.0", [])]
)
def test_controllers_before_v1_7_refuse_every_correct_sha256(
    runner: Runner, controller: str, expected: list[tuple[str, str]]
) -> None:
    text = (
        "kind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
        f"  metricProviderPlugins: |-\n    - name: a/b\n      location: {LOC}\n"
        f"      sha256: {SHA}\n"
    )
    runner.write("cm.yaml", text)
    _, report = runner.json("--controller-version", controller, "cm.yaml")
    gates = [f for f in report["findings"] if f["rule"] == "version-gate" and
             (f["line"], f["column"]) == at(text, SHA)]  # fmt: skip
    assert [(g["severity"], "#3520 in v1.7.0") for g in gates] == expected
    for gate in gates:
        assert "refuses the correct digest" in gate["message"]


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("canaryStepPlugins", "stepPlugins"),
        ("trafficRouterPlugin", "trafficRouterPlugins"),
        ("metricPlugins", "metricProviderPlugins"),
        ("TrafficRouterPlugins", "trafficRouterPlugins"),
        ("plugins", "metricProviderPlugins"),
    ],
)
def test_unknown_config_keys(runner: Runner, key: str, meant: str) -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
        f"  {key}: |-\n    - name: a/b\n      location: {LOC}\n"
    )
    runner.write("cm.yaml", text)
    _, report = runner.json("cm.yaml")
    (finding,) = [f for f in report["findings"] if f["rule"] == "unknown-config-key"]
    assert (finding["line"], finding["column"]) == (6, 3)
    assert finding["hint"] == f"rename `{key}` to `{meant}`"


def test_other_configmaps_and_other_keys_are_left_alone(runner: Runner) -> None:
    text = (
        "kind: ConfigMap\nmetadata:\n  name: grafana\ndata:\n  stepPluginsNote: hello\n---\n"
        "kind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
        "  logLevel: info\n  metricProviderPlugins: ''\n"
    )
    runner.write("cm.yaml", text)
    _, report = runner.json("cm.yaml")
    assert report["findings"] == []


def test_misplaced_plugin_lists(runner: Runner) -> None:
    top = LISTED.replace("controller:\n  ", "").replace("\n  ", "\n")
    umbrella = "argo-rollouts:\n" + textwrap.indent(top, "  ")
    runner.write("top.yaml", top)
    runner.write("umbrella.yaml", umbrella)
    _, report = runner.json(".")
    found = [(f["path"], f["line"], f["column"], f["hint"]) for f in report["findings"]
             if f["rule"] == "misplaced-plugin-list"]  # fmt: skip
    assert found == [
        ("top.yaml", 1, 1, "move it under `controller:` (controller.trafficRouterPlugins)"),
        ("umbrella.yaml", 2, 3,
         "move it under `controller:` (argo-rollouts.controller.trafficRouterPlugins)"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("location", "CHANGEME_ARGO_ROLLOUTS_PLUGIN_URL"),
        ("location", "https://<your-mirror>/plugin"),
        ("location", "${PLUGIN_URL}"),
        ("location", "file:///path/to/plugin"),
        ("location", "https://plugins.example.com/x-linux-amd64"),
        ("sha256", "<sha256-of-the-binary>"),
        ("sha256", "0" * 64),
    ],
)
def test_placeholders_are_one_clear_error(runner: Runner, field: str, value: str) -> None:
    entry = {"location": LOC, "sha256": SHA, field: value}
    text = (
        "controller:\n  trafficRouterPlugins:\n    - name: a/b\n"
        f'      location: "{entry["location"]}"\n      sha256: "{entry["sha256"]}"\n'
    )
    runner.write("values.yaml", text)
    _, report = runner.json("values.yaml")
    # The sha256 of a file:// entry is ignored whatever the path: not the placeholder's doing.
    ignored = [("sha256-ignored", 5, 7)] if value.startswith("file:") else []
    found = [rule for rule in rules(report) if rule[0] != "not-verified"]  # offline, no cache
    assert found == [("placeholder", *at(text, f'"{value}"')), *ignored]


@pytest.mark.parametrize(
    ("location", "independent"),
    [
        ("ftp://example.com/x", ["location-format"]),
        (" https://example.com/p", ["location-format"]),
        ("http://u:p@example.com/x", ["credentials-in-url", "insecure-location"]),
        ("https://<host>/x", []),  # the `<...>` itself makes it unparsable
        ("CHANGEME_PLUGIN_URL", []),  # the placeholder is the whole location
    ],
)
def test_placeholders_keep_the_findings_they_do_not_cause(
    runner: Runner, location: str, independent: list[str]
) -> None:
    text = (
        "controller:\n  trafficRouterPlugins:\n    - name: a/b\n"
        f'      location: "{location}"\n      sha256: "{SHA}"\n'
    )
    runner.write("values.yaml", text)
    _, report = runner.json("values.yaml")
    here = at(text, f'"{location}"')
    assert sorted(rules(report)) == sorted(
        [("placeholder", *here), *((rule, *here) for rule in independent)]
    )


def test_template_expressions_are_a_note(runner: Runner) -> None:
    text = (
        "controller:\n  trafficRouterPlugins:\n    - name: a/b\n"
        '      location: "{{ .Values.pluginUrl }}"\n'
    )
    runner.write("values.yaml", text)
    code, report = runner.json("values.yaml")
    assert [(f["rule"], f["severity"]) for f in report["findings"]] == [("placeholder", "note")]
    assert code == 0


INIT_COPY = """\
controller:
  volumes:
    - name: plugins
      emptyDir: {}
  volumeMounts:
    - name: plugins
      mountPath: /plugins
  initContainers:
    - name: copy
      image: ghcr.io/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi:v0.5.0
      command: ["/bin/sh", "-c"]
      args: ["cp /bin/rollouts-plugin-trafficrouter-gatewayapi /work/"]
      volumeMounts:
        - name: plugins
          mountPath: /work
  trafficRouterPlugins:
    - name: argoproj-labs/gatewayAPI
      location: LOCATION
"""


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("file:///plugins/rollouts-plugin-trafficrouter-gatewayapi", None),
        ("file:///plugin-bin/rollouts-plugin-trafficrouter-gatewayapi", "under no volume"),
        ("file:///plugins/gatewayapi", "copies the plugin to"),
        ("file:///tmp/anything", None),  # the chart mounts /tmp
    ],
)
def test_file_locations_against_the_controller_mounts(
    runner: Runner, location: str, expected: str | None
) -> None:
    text = INIT_COPY.replace("LOCATION", location)
    runner.write("values.yaml", text)
    _, report = runner.json("values.yaml")
    found = [f for f in report["findings"] if f["rule"] == "file-location-unmounted"]
    if expected is None:
        assert found == []
        return
    (finding,) = found
    assert expected in finding["message"]
    # The init container mounts the volume at /work; the controller sees it at /plugins.
    assert finding["hint"] == "location: file:///plugins/rollouts-plugin-trafficrouter-gatewayapi"


@requires_corpus
@pytest.mark.parametrize(
    ("name", "chart", "expected"),
    [
        # Umbrella values on chart 2.37.2: the nested form is right, no error.
        (
            "hanazzang__BABAMBA-gitops__platform__argo-rollouts__values.yaml",
            "2.37.2",
            [("file-location", 37, 21)],
        ),
        # Attempt 1 of 4 on the same chart: a list where 2.37.2 takes the nested form.
        (
            "hanazzang__BABAMBA-gitops__platform__argo-rollouts__values@078efed.yaml",
            "2.37.2",
            [
                ("plugin-list-shape", 6, 5),
                ("missing-sha256", 8, 19),
                ("not-verified", 8, 19),  # offline, no cache
                ("version-gate", 8, 19),
            ],
        ),
        # Attempt 4 of 4: right form, but the init container copies to /plugins.
        (
            "hanazzang__BABAMBA-gitops__platform__argo-rollouts__values@c155f70.yaml",
            "2.37.2",
            [("file-location-unmounted", 28, 21), ("file-location", 28, 21)],
        ),
        # The nested form on chart 2.38.1, and the asset name of before v0.4.0 on v0.4.0.
        (
            "Itamar-Ratson__devsecops__helm__argo-rollouts__values@67c948f.yaml",
            "2.38.1",
            [
                ("plugin-list-shape", 21, 5),
                ("release-asset", 24, 21),  # the location must change: no missing-sha256
                ("not-verified", 24, 21),  # offline, no cache
                ("version-gate", 24, 21),
            ],
        ),
    ],
    ids=["2.37.2-right", "2.37.2-list", "2.37.2-unmounted", "2.38.1-nested"],
)
def test_corpus_umbrella_values_with_their_chart(
    runner: Runner, name: str, chart: str, expected: list[tuple[str, int, int]]
) -> None:
    shutil.copy(CORPUS / name, runner.root / "values.yaml")
    runner.write("Chart.yaml", chart_yaml(chart))
    _, report = runner.json("values.yaml")
    assert rules(report) == expected
    shapes = [f for f in report["findings"] if f["rule"] == "plugin-list-shape"]
    assert all(f"chart {chart}" in f["message"] for f in shapes)


TABLE = Path(rollouts_plugin_lint.__file__).parent / "data" / "chart_versions.json"
ARGO_HELM = Path("/work/.mirror/argoproj+argo-helm/repo")


def test_chart_table_is_every_release_in_order_with_its_source() -> None:
    from rollouts_plugin_lint.versions import chart_table, parse_version

    data = json.loads(TABLE.read_text(encoding="utf-8"))
    assert data["source"] == "https://github.com/argoproj/argo-helm"
    assert data["path"] == "charts/argo-rollouts/Chart.yaml"
    assert re.fullmatch(r"[0-9a-f]{40}", data["commit"])
    charts = [parse_version(r["chart"]) for r in data["charts"]]
    assert None not in charts and charts == sorted(charts) and len(set(charts)) == len(charts)
    assert all(re.fullmatch(r"[0-9a-f]{40}", r["commit"]) for r in data["charts"])
    table = chart_table()
    # Points from argo-helm's Chart.yaml history, including those between the old table's.
    for chart, app in [((2, 31, 1), (1, 5, 1)), ((2, 37, 7), (1, 7, 2)), ((2, 38, 0), (1, 7, 2)),
                       ((2, 39, 0), (1, 8, 0)), ((2, 39, 1), (1, 8, 0)), ((2, 40, 8), (1, 9, 0)),
                       ((2, 40, 9), (1, 9, 0)), ((2, 40, 10), (1, 9, 0)),
                       ((2, 41, 0), (1, 9, 0))]:  # fmt: skip
        assert table.app_versions[chart] == app, chart


@pytest.mark.skipif(not ARGO_HELM.is_dir(), reason="no argo-helm mirror on this machine")
def test_chart_table_regenerates_from_argo_helm() -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "chart_versions.py"
    commit = json.loads(TABLE.read_text(encoding="utf-8"))["commit"]
    head = subprocess.run(["git", "-C", str(ARGO_HELM), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    if head != commit:
        pytest.skip(f"the mirror is at {head[:8]}, the table at {commit[:8]}")
    generated = subprocess.run([sys.executable, str(script), str(ARGO_HELM)],
                               capture_output=True, text=True, check=True, timeout=600)  # fmt: skip
    assert generated.stdout == TABLE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("chart", "gated"), [("2.37.7", True), ("2.38.2", True), ("2.39.0", False), ("2.40.9", False)]
)
def test_gates_read_the_chart_table(runner: Runner, chart: str, gated: bool) -> None:
    runner.write("Chart.yaml", chart_yaml(chart))
    headers = "headersFrom: [{secretRef: {name: s}}]\n"
    if chart == "2.37.7":  # the nested string form of its time
        runner.write("values.yaml", NESTED + "        " + headers)
    else:
        runner.write("values.yaml", LISTED + "      " + headers)
    _, report = runner.json("values.yaml")
    gates = [f["message"] for f in report["findings"] if f["rule"] == "version-gate"]
    if gated:
        assert any(f"chart {chart} (controller v1.7.2)" in g and "`headersFrom`" in g
                   for g in gates), gates  # fmt: skip
    else:
        assert gates == []


def test_step_plugins_on_chart_2_39_0_which_ships_v1_8_0_but_not_the_key(runner: Runner) -> None:
    runner.write("Chart.yaml", chart_yaml("2.39.0"))
    runner.write("values.yaml", LISTED.replace("trafficRouterPlugins", "stepPlugins"))
    _, report = runner.json("values.yaml")
    (gate,) = [f for f in report["findings"] if f["rule"] == "version-gate"]
    assert "chart 2.39.0" in gate["message"] and "2.39.1" in gate["message"]


def test_a_chart_newer_than_the_table_says_its_controller_is_unknown(runner: Runner) -> None:
    runner.write("Chart.yaml", chart_yaml("2.99.0"))
    runner.write("values.yaml", LISTED + "      headersFrom: [{secretRef: {name: s}}]\n")
    _, report = runner.json("values.yaml")
    (note,) = [f for f in report["findings"] if f["rule"] == "version-gate"]
    assert note["severity"] == "note"
    assert "chart 2.99.0" in note["message"] and "controller it ships is unknown" in note["message"]


def _online(runner: Runner, *args: str) -> dict:
    code, out, err = runner.run(
        "--format", "json", "--allow-private-addresses", "--timeout", "5",
        "--cache-dir", str(runner.root.parent / "cache"), *args,
    )  # fmt: skip
    assert code in (0, 1), err
    return json.loads(out)


def _configmap_at(location: str, sha256: str = "") -> str:
    pin = f"      sha256: {sha256}\n" if sha256 else ""
    return (
        "kind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
        f"  trafficRouterPlugins: |-\n    - name: a/b\n      location: {location}\n{pin}"
    )


@pytest.mark.parametrize(
    ("flags", "says", "not_says"),
    [
        (("--controller-version", "v1.7.2"), ["does not check the status", "exec format error",
                                              "Stdout already set"], ["refuses it"]),
        (("--controller-version", "v1.8.0"), ["refuses it at start-up", "response code Not Found"],
         ["Stdout already set"]),
        ((), ["a controller >= v1.8 refuses it", "an older one saves the body"], []),
    ],
)  # fmt: skip
def test_download_failed_is_worded_for_the_controller_in_force(
    runner: Runner, flags: tuple[str, ...], says: list[str], not_says: list[str]
) -> None:
    with serving(lambda conn, _r: respond(conn, 404, b"Not Found", reason="Not Found")) as server:
        url = server.url("/o/r/releases/download/v1/p-linux-amd64")
        runner.write("cm.yaml", _configmap_at(url))
        report = _online(runner, *flags, "cm.yaml")
    (failed,) = [f for f in report["findings"] if f["rule"] == "download-failed"]
    for words in says:
        assert words in failed["message"]
    for words in not_says:
        assert words not in failed["message"]
    if "v1.8.0" in flags:
        assert f"`failed to download file from {url}: response code Not Found`" in failed["message"]
    # One finding per root cause: no "does not check the HTTP status" note beside it.
    assert [f for f in report["findings"] if f["rule"] == "version-gate"] == []


def test_a_placeholder_digest_gets_no_checksum_verdict(runner: Runner) -> None:
    with serving(lambda conn, _r: respond(conn, 200, b"#!/bin/sh\n", reason="OK")) as server:
        runner.write("cm.yaml", _configmap_at(server.url("/p-linux-amd64"), '"' + "0" * 64 + '"'))
        report = _online(runner, "cm.yaml")
    assert "placeholder" in {f["rule"] for f in report["findings"]}
    assert "checksum-mismatch" not in {f["rule"] for f in report["findings"]}
    assert "wrong-os" in {f["rule"] for f in report["findings"]}  # the download was judged
