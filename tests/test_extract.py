"""Extraction: every container, exact positions through every level of embedding, and bad
files that become findings instead of tracebacks."""

from __future__ import annotations

import codecs
import json

import pytest

from rollouts_plugin_lint.extract import MAX_FILE_BYTES, extract_file, extract_text
from rollouts_plugin_lint.model import Origin, PluginKind
from rollouts_plugin_lint.versions import Versions
from tests.conftest import SHA, at

LOC = "https://github.com/o/r/releases/download/v1.0.0/p-linux-amd64"


def location_position(text: str, path: str = "f.yaml") -> list[tuple[int, int, bool]]:
    result = extract_text(path, text)
    return [
        (
            e.spans[("location",)].line,
            e.spans[("location",)].column,
            e.spans[("location",)].approximate,
        )
        for e in result.entries
    ]


def rules(text: str, path: str = "f.yaml") -> list[tuple[str, int, int]]:
    return [(f.rule, f.span.line, f.span.column) for f in extract_text(path, text).findings]


def test_helm_values_at_any_depth() -> None:
    text = (
        f"argo-rollouts:\n  controller:\n    metricProviderPlugins:\n      - name: a/b\n"
        f"        location: {LOC}\n"
    )
    result = extract_text("values.yaml", text)
    (entry,) = result.entries
    assert entry.kind is PluginKind.METRIC_PROVIDER and entry.origin is Origin.HELM_VALUES
    assert (entry.span.line, entry.span.column) == at(text, "name: a/b")
    assert location_position(text) == [(*at(text, LOC), False)]


@pytest.mark.parametrize("indicator", ["|", "|-", "|+", "|2", "| # a comment"])
def test_configmap_literal_block_maps_exactly(indicator: str) -> None:
    text = (
        "kind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
        f"  stepPlugins: {indicator}\n\n    # comment inside the string\n"
        f"    - name: a/b\n      location: {LOC}\n"
    )
    result = extract_text("cm.yaml", text)
    (entry,) = result.entries
    assert entry.origin is Origin.CONFIGMAP and entry.kind is PluginKind.STEP
    assert location_position(text) == [(*at(text, LOC), False)]


def test_one_line_json_string_maps_exactly() -> None:
    text = f'data:\n  trafficRouterPlugins: \'[{{"name": "a/b", "location": "{LOC}"}}]\'\n'
    assert location_position(text) == [(*at(text, f'"{LOC}"'), False)]


def test_json_array_in_a_literal_block_maps_exactly() -> None:
    text = (
        f'data:\n  trafficRouterPlugins: |\n    [\n      {{"name": "a/b",\n'
        f'       "location": "{LOC}"}}\n    ]\n'
    )
    assert location_position(text) == [(*at(text, f'"{LOC}"'), False)]


def test_folded_and_escaped_strings_are_approximate() -> None:
    folded = f"data:\n  trafficRouterPlugins: >\n    - name: a/b\n\n      location: {LOC}\n"
    assert location_position(folded) == [(*at(folded, ">"), True)]
    escaped = 'data:\n  trafficRouterPlugins: "- name: a/b\\n  location: ' + LOC + '"\n'
    assert location_position(escaped) == [(*at(escaped, '"- name'), True)]


def test_multi_document_files() -> None:
    text = (
        "apiVersion: v1\nkind: Secret\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n"
        f"  metricProviderPlugins: |-\n    - name: a/b\n      location: {LOC}\n---\n"
        "kind: AnalysisTemplate\n"
    )
    assert location_position(text) == [(*at(text, LOC), False)]


def test_kustomize_json6902_patch_three_levels_deep() -> None:
    text = (
        "kind: Kustomization\npatchesJson6902:\n  - target: {kind: ConfigMap}\n"
        "    patch: |\n      - op: add\n        path: /data\n        value:\n"
        "          trafficRouterPlugins: |\n"
        f"            - name: a/b\n              location: {LOC}\n"
        "      - op: add\n        path: /data/stepPlugins\n        value: |\n"
        f"          - name: a/b\n            location: {LOC}\n"
    )
    result = extract_text("kustomization.yaml", text)
    assert [e.origin for e in result.entries] == [Origin.CONFIGMAP, Origin.CONFIGMAP]
    assert [e.kind for e in result.entries] == [PluginKind.TRAFFIC_ROUTER, PluginKind.STEP]
    assert location_position(text) == [(*at(text, LOC, 1), False), (*at(text, LOC, 2), False)]
    # Both operations write the same ConfigMap, so the two `a/b` collide.
    assert len({e.group for e in result.entries}) == 1


def test_strategic_merge_patch_string() -> None:
    text = (
        "patches:\n- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n"
        "    metadata:\n      name: argo-rollouts-config\n    data:\n"
        f"      trafficRouterPlugins: |-\n        - name: a/b\n          location: {LOC}\n"
    )
    assert location_position(text) == [(*at(text, LOC), False)]


@pytest.mark.parametrize("source", ["source", "sources:\n    -"])
def test_argocd_helm_values_string(source: str) -> None:
    text = (
        (
            f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  {source} "
            "helm:\n        values: |\n          controller:\n            trafficRouterPlugins:\n"
            f"              - name: a/b\n                location: {LOC}\n"
        )
        .replace("  source helm", "  source:\n      helm")
        .replace("    - helm", "    - helm")
    )
    result = extract_text("app.yaml", text)
    assert [e.origin for e in result.entries] == [Origin.HELM_VALUES]
    assert location_position(text) == [(*at(text, LOC), False)]


def test_argocd_values_syntax_error_maps_to_the_file() -> None:
    text = (
        "kind: Application\nspec:\n  source:\n    helm:\n      values: |\n"
        "        controller:\n          trafficRouterPlugins:\n            - name: [a\n"
    )
    (finding,) = extract_text("app.yaml", text).findings
    assert finding.rule == "yaml-syntax" and finding.span.line == 9


def test_flux_helmrelease_and_valuesobject() -> None:
    text = (
        "kind: HelmRelease\nspec:\n  values:\n    controller:\n      stepPlugins:\n"
        f"        - name: a/b\n          location: {LOC}\n---\n"
        "kind: Application\nspec:\n  source:\n    helm:\n      valuesObject:\n"
        f"        controller:\n          stepPlugins:\n            - name: a/c\n"
        f"              location: {LOC}\n"
    )
    assert location_position(text) == [(*at(text, LOC, 1), False), (*at(text, LOC, 2), False)]


def test_json_files() -> None:
    document = {"controller": {"trafficRouterPlugins": [{"name": "a/b", "location": LOC}]}}
    text = json.dumps(document, indent=2)
    assert location_position(text, "values.json") == [(*at(text, f'"{LOC}"'), False)]


def test_old_nested_chart_form_is_a_shape_error_and_still_checked() -> None:
    text = (
        "controller:\n  trafficRouterPlugins:\n    trafficRouterPlugins: |-\n"
        f"      - name: a/b\n        location: {LOC}\n"
    )
    result = extract_text("values.yaml", text)
    assert [(f.rule, f.span.line) for f in result.findings] == [("plugin-list-shape", 2)]
    assert location_position(text) == [(*at(text, LOC), False)]


def test_configmap_data_as_a_list_is_a_shape_error() -> None:
    text = f"kind: ConfigMap\ndata:\n  stepPlugins:\n    - name: a/b\n      location: {LOC}\n"
    result = extract_text("cm.yaml", text)
    assert [f.rule for f in result.findings] == ["plugin-list-shape"]
    assert len(result.entries) == 1


def test_empty_values_render_nothing() -> None:
    text = "controller:\n  trafficRouterPlugins: []\n  metricProviderPlugins: {}\n  stepPlugins:\n"
    result = extract_text("values.yaml", text)
    assert result.entries == [] and result.findings == []


def test_syntax_error_inside_a_data_string_points_into_the_file() -> None:
    text = "data:\n  trafficRouterPlugins: |-\n    - name: a/b\n      location: [oops\n"
    # The parser notices at the end of the string, right after `oops`.
    assert rules(text) == [("yaml-syntax", 4, at(text, "oops")[1] + 4)]


def test_syntax_error_in_the_file() -> None:
    text = "controller:\n  trafficRouterPlugins:\n    - name: a/b\n   bad: [\n"
    assert [r[0] for r in rules(text)] == ["yaml-syntax"]


def test_crlf_and_bom() -> None:
    text = f"controller:\r\n  trafficRouterPlugins:\r\n    - name: a/b\r\n      location: {LOC}\r\n"
    result = extract_file("values.yaml", codecs.BOM_UTF8 + text.encode())
    assert [
        (e.spans[("location",)].line, e.spans[("location",)].column) for e in result.entries
    ] == [(4, 17)]


def test_merge_keys_are_applied() -> None:
    text = (
        f"base: &base\n  location: {LOC}\n  sha256: {SHA}\n"
        "controller:\n  trafficRouterPlugins:\n    - <<: *base\n      name: a/b\n"
    )
    (entry,) = extract_text("values.yaml", text).entries
    assert entry.location == LOC and entry.sha256 == SHA and entry.name == "a/b"


def test_alias_bomb_inside_an_entry_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    text = (
        "\n".join(lines) + f"\ncontroller:\n  stepPlugins:\n    - name: a/b\n"
        f"      location: {LOC}\n      args: *a8\n"
    )
    result = extract_text("values.yaml", text)
    assert [f.rule for f in result.findings] == ["schema"]
    assert "more than" in result.findings[0].message


def test_templates_that_are_not_yaml_are_skipped_with_a_note() -> None:
    text = (
        "{{- with .Values.controller.trafficRouterPlugins }}\ntrafficRouterPlugins: |-\n"
        "  {{- toYaml . | nindent 4 }}\n{{- end }}\n"
    )
    (finding,) = extract_text("chart/templates/configmap.yaml", text).findings
    assert finding.rule == "skipped-file" and finding.severity.value == "note"


def test_templates_that_parse_are_checked() -> None:
    text = (
        "kind: ConfigMap\nmetadata:\n  namespace: {{ .Values.namespace }}\ndata:\n"
        "  trafficRouterPlugins: |-\n    - name: a\n      location: x\n"
    )
    assert {r[0] for r in rules(text, "templates/cm.yaml")} == set()
    assert len(extract_text("templates/cm.yaml", text).entries) == 1


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"\x7fELF\x02\x01\x01\0\0\0trafficRouterPlugins", "skipped-file"),
        (b"controller:\n  trafficRouterPlugins:\n    - name: caf\xe9\n", "yaml-syntax"),
        (b"x" * (MAX_FILE_BYTES + 1), "skipped-file"),
        (b"trafficRouterPlugins: [\x00]\n", "skipped-file"),
        (b'data:\n  trafficRouterPlugins: "\\x1b[31m"\n', "yaml-syntax"),
    ],
    ids=["elf", "latin-1", "huge", "nul", "escape"],
)
def test_bad_files_become_findings(data: bytes, rule: str) -> None:
    result = extract_file("f.yaml", data)
    assert [f.rule for f in result.findings] == [rule]


def test_empty_file() -> None:
    assert extract_file("f.yaml", b"").findings == []


def test_non_printable_characters_are_a_syntax_finding() -> None:
    (finding,) = extract_file("f.yaml", b"a: b\ntrafficRouterPlugins: \x07\n").findings
    assert finding.rule == "yaml-syntax" and finding.span.line == 2


@pytest.mark.parametrize(
    ("operation", "key", "meant"),
    [
        ("path: /data/canaryStepPlugins\n        value: |-\n", "/data/canaryStepPlugins",
         "stepPlugins"),
        ("path: /data/trafficRouterPlugin\n        value: |-\n", "/data/trafficRouterPlugin",
         "trafficRouterPlugins"),
        ("path: /data\n        value:\n          canaryStepPlugins: |-\n", "canaryStepPlugins",
         "stepPlugins"),
    ],
)  # fmt: skip
def test_json6902_patch_adding_an_unknown_data_key(operation: str, key: str, meant: str) -> None:
    # The same keys in a strategic-merge patch are `unknown-config-key`; so are these.
    text = (
        "kind: Kustomization\npatches:\n  - target: {kind: ConfigMap, name: argo-rollouts-config}\n"
        f"    patch: |-\n      - op: add\n        {operation}"
        f"            - name: a/b\n              location: {LOC}\n"
    )
    result = extract_text("kustomization.yaml", text)
    (finding,) = result.findings
    assert (finding.rule, finding.span.line, finding.span.column) == (
        "unknown-config-key", *at(text, key))  # fmt: skip
    assert finding.hint == f"rename `{key.removeprefix('/data/')}` to `{meant}`"
    assert result.entries == []
    other = text.replace(key, key.replace("Plugin", "Note").replace("canaryStep", "log"))
    assert extract_text("kustomization.yaml", other).findings == []


def test_wrong_case_key_in_the_old_nested_chart_form() -> None:
    # Chart 2.37.7 writes `controller.trafficRouterPlugins` straight under the ConfigMap's
    # `data:`, so the nested key is a data key the controller never reads.
    text = (
        "controller:\n  trafficRouterPlugins:\n    trafficrouterPlugins: |-\n"
        f"      - name: a/b\n        location: {LOC}\n"
    )
    old = extract_file("values.yaml", text.encode(), forced=Versions(chart=(2, 37, 7)))
    (finding,) = old.findings
    assert (finding.rule, finding.span.line, finding.span.column) == (
        "unknown-config-key", *at(text, "trafficrouterPlugins"))  # fmt: skip
    assert "did you mean `trafficRouterPlugins`?" in finding.message
    # On a list-form chart the nested form itself is the error (and the key with it).
    new = extract_file("values.yaml", text.encode(), forced=Versions(chart=(2, 40, 9)))
    assert [(f.rule, f.span.line) for f in new.findings] == [("plugin-list-shape", 2)]
    assert "nested `trafficrouterPlugins`" in new.findings[0].message


CONFIGMAP_STEPS = (
    "kind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
    f"  stepPlugins: |-\n    - name: a/b\n      location: {LOC}\n      disabled: maybe\n"
)


@pytest.mark.parametrize(
    ("forced", "gated"),
    [
        (Versions(controller=(1, 7, 2)), True),
        (Versions(chart=(2, 38, 2)), True),  # ships v1.7.2
        (Versions(chart=(2, 39, 0)), False),  # ships v1.8.0
        (Versions(controller=(1, 8, 0)), False),
        (Versions(), False),
    ],
)
def test_step_plugins_before_controller_v1_8_are_never_read(forced: Versions, gated: bool) -> None:
    result = extract_file("cm.yaml", CONFIGMAP_STEPS.encode(), forced=forced)
    gates = [(f.rule, f.severity.value, f.span.line, f.span.column) for f in result.findings]
    if gated:
        assert gates == [("version-gate", "warning", *at(CONFIGMAP_STEPS, "stepPlugins"))]
        assert "never reads `stepPlugins`" in result.findings[0].message
        assert result.entries == []  # nothing in it is loaded, so nothing in it can fail
    else:
        assert gates == [] and len(result.entries) == 1


def test_step_plugins_in_a_kustomize_patch_on_an_old_install_yaml() -> None:
    text = (
        "kind: Kustomization\nresources:\n"
        "  - https://github.com/argoproj/argo-rollouts/releases/download/v1.7.2/install.yaml\n"
        "patches:\n  - patch: |-\n      kind: ConfigMap\n      metadata:\n"
        "        name: argo-rollouts-config\n      data:\n        stepPlugins: |-\n"
        f"          - name: a/b\n            location: {LOC}\n"
    )
    (finding,) = extract_text("kustomization.yaml", text).findings
    assert (finding.rule, finding.span.line, finding.span.column) == (
        "version-gate", *at(text, "stepPlugins"))  # fmt: skip
    assert "controller v1.7.2 (the install.yaml release on line 3)" in finding.message
