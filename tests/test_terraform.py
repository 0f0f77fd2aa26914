"""Terraform `helm_release` resources of the argo-rollouts chart: values from yamlencode,
heredocs and `set`, the chart version, and what Terraform computes. Every position is
checked exactly in the `.tf` file written for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts_plugin_lint.extract import extract_text
from rollouts_plugin_lint.model import Origin, PluginKind
from tests.conftest import Runner, at
from tests.hostile.helpers import run_cli

GATEWAY = (
    "https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi/releases/download"
)
DARWIN = f"{GATEWAY}/v0.4.0/gatewayapi-plugin-darwin-arm64"
LINUX = f"{GATEWAY}/v0.4.0/gatewayapi-plugin-linux-amd64"


def found(report: dict[str, Any], rule: str) -> list[tuple[str, int, int]]:
    return [(f["path"], f["line"], f["column"]) for f in report["findings"] if f["rule"] == rule]


def messages(report: dict[str, Any], rule: str) -> list[str]:
    return [f["message"] for f in report["findings"] if f["rule"] == rule]


YAMLENCODE = f"""\
# Argo Rollouts, with its plugins
resource "helm_release" "argo_rollouts" {{
  name       = "argo-rollouts"
  repository = "https://argoproj.github.io/argo-helm"
  chart      = "argo-rollouts"
  version    = "2.39.1" // the chart

  values = [
    yamlencode({{
      controller = {{
        /* traffic */
        trafficRouterPlugins = [{{
          name     = "argoproj-labs/gatewayAPI"
          location = "{DARWIN}"
        }}, {{
          "name"         = "bad name"
          pluginLocation = "{LINUX}"
        }}]
      }}
      trafficRouterPlugins = []
    }})
  ]
}}
"""


def test_yamlencode_values_are_checked_at_their_place_in_the_tf_file(runner: Runner) -> None:
    runner.write("infra/rollouts.tf", YAMLENCODE)
    code, report = runner.json(".")
    assert code == 1
    path = "infra/rollouts.tf"
    assert found(report, "platform-mismatch") == [(path, *at(YAMLENCODE, f'"{DARWIN}"'))]
    assert found(report, "name-format") == [(path, *at(YAMLENCODE, '"bad name"'))]
    assert found(report, "unknown-field") == [(path, *at(YAMLENCODE, "pluginLocation"))]
    # The chart reads `controller.trafficRouterPlugins` only.
    assert found(report, "misplaced-plugin-list") == [
        (path, *at(YAMLENCODE, "trafficRouterPlugins", 2))
    ]
    (plugin,) = [p for p in report["plugins"] if p["name"] == "argoproj-labs/gatewayAPI"]
    # An entry is its object, from the `{` that opens it.
    assert (plugin["path"], plugin["line"]) == (path, at(YAMLENCODE, "[{")[0])


def test_the_entries_are_helm_values_of_one_release() -> None:
    result = extract_text("main.tf", YAMLENCODE)
    first, second = result.entries
    assert first.origin is Origin.HELM_VALUES and first.kind is PluginKind.TRAFFIC_ROUTER
    assert first.group == second.group
    assert dict(first.value) == {"name": "argoproj-labs/gatewayAPI", "location": DARWIN}
    assert (first.versions.chart, first.versions.source) == (
        (2, 39, 1),
        "the helm_release version on line 6",
    )
    span = first.span_of("location")
    assert (span.line, span.column, span.end_column) == (
        *at(YAMLENCODE, f'"{DARWIN}"'),
        at(YAMLENCODE, f'"{DARWIN}"')[1] + len(DARWIN) + 2,
    )


HEREDOCS = f"""\
resource "helm_release" "rollouts" {{
  chart   = "oci://ghcr.io/argoproj/argo-helm/argo-rollouts"
  version = "2.38.0"
  values = [<<EOF
controller:
  metricProviderPlugins:
    - name: argoproj-labs/metric
      location: file:///plugins/metric
      sha256: ABC
EOF
    ,
    <<-YAML
      controller:
        trafficRouterPlugins:
          - name: argoproj-labs/gatewayAPI
            location: "{DARWIN}"
        stepPlugins:
          - name: argoproj-labs/step
            location: {LINUX}
      YAML
  ]
}}
"""


def test_heredoc_values_map_to_their_lines_and_the_indentation_removed(runner: Runner) -> None:
    runner.write("main.tf", HEREDOCS)
    _, report = runner.json(".")
    assert found(report, "sha256-ignored") == [("main.tf", *at(HEREDOCS, "sha256"))]
    # `<<-` removes the common indentation: the columns are the file's own.
    assert found(report, "platform-mismatch") == [("main.tf", *at(HEREDOCS, f'"{DARWIN}"'))]
    # Chart 2.38.0 (`version`) has no `controller.stepPlugins`.
    gates = [f for f in report["findings"] if f["rule"] == "version-gate"]
    assert [(f["severity"], f["line"], f["column"]) for f in gates] == [
        ("note", *at(HEREDOCS, f'"{DARWIN}"')),  # v1.7 does not check the HTTP status
        ("warning", *at(HEREDOCS, "stepPlugins")),
    ]
    assert "chart 2.38.0 (the helm_release version on line 3)" in gates[1]["message"]


def test_a_broken_heredoc_is_a_syntax_error_on_its_own_line(runner: Runner) -> None:
    text = (
        'resource "helm_release" "r" {\n'
        '  chart = "argo-rollouts"\n'
        "  values = [<<-EOF\n"
        "    controller:\n"
        "      trafficRouterPlugins: [\n"
        "    EOF\n"
        "  ]\n"
        "}\n"
    )
    runner.write("main.tf", text)
    _, report = runner.json(".")
    assert [f["line"] for f in report["findings"] if f["rule"] == "yaml-syntax"] == [6]


SETS = f"""\
resource "helm_release" "argo" {{
  chart = "argo/argo-rollouts"
  set {{
    name  = "controller.trafficRouterPlugins[0].name"
    value = "argoproj-labs/gatewayAPI"
  }}
  set {{
    name  = "controller.trafficRouterPlugins[0].location"
    value = "{DARWIN}"
  }}
  set {{
    name  = "controller.trafficRouterPlugins[0].sha256"
    value = "0123"
    type  = "string"
  }}
  set_sensitive {{
    name  = "controller.metricProviderPlugins[0].pluginLocation"
    value = "{LINUX}"
  }}
  set {{
    name  = "image.tag"
    value = "v1.8.3"
  }}
}}

resource "helm_release" "v3" {{
  chart = "argo-rollouts"
  set = [
    {{ name = "controller.trafficRouterPlugins[0].name", value = "argoproj-labs/gatewayAPI" }},
    {{
      name  = "controller.trafficRouterPlugins[0].location"
      value = "http://example.org/plugin-linux-amd64"
    }},
    {{ name = "controller.trafficRouterPlugins[0].disabled", value = "true" }},
  ]
}}
"""


def test_set_blocks_and_lists_assemble_entries_with_each_value_in_place(
    runner: Runner,
) -> None:
    runner.write("main.tf", SETS)
    _, report = runner.json(".")
    assert found(report, "platform-mismatch") == [("main.tf", *at(SETS, f'"{DARWIN}"'))]
    # `type = "string"` keeps "0123" a string: its length is wrong, at the value.
    assert found(report, "sha256-format") == [("main.tf", *at(SETS, '"0123"'))]
    # A misspelled field in a name points at that step of the name.
    assert found(report, "unknown-field") == [("main.tf", *at(SETS, "pluginLocation"))]
    # Provider v3's list form, one object per setting; `--set` reads "true" as a boolean.
    assert found(report, "disabled-ignored") == [("main.tf", *at(SETS, "disabled"))]
    assert found(report, "placeholder") == [("main.tf", *at(SETS, '"http://example.org'))]
    # An entry starts at the first `set` that makes it; each release is its own ConfigMap.
    assert [(p["name"], p["kind"], p["line"]) for p in report["plugins"]] == [
        ("argoproj-labs/gatewayAPI", "trafficRouterPlugins", 4),
        (None, "metricProviderPlugins", 17),
        ("argoproj-labs/gatewayAPI", "trafficRouterPlugins", 29),
    ]
    assert found(report, "duplicate-name") == []


def test_set_values_merge_into_the_values_list_as_the_provider_does() -> None:
    text = (
        'resource "helm_release" "r" {\n'
        '  chart  = "argo-rollouts"\n'
        "  values = [yamlencode({ controller = { trafficRouterPlugins = [\n"
        '    { name = "argoproj-labs/gatewayAPI", location = "https://old" } ] } })]\n'
        "  set {\n"
        '    name  = "controller.trafficRouterPlugins[0].location"\n'
        f'    value = "{LINUX}"\n'
        "  }\n"
        "}\n"
    )
    (entry,) = extract_text("main.tf", text).entries
    assert dict(entry.value) == {"name": "argoproj-labs/gatewayAPI", "location": LINUX}
    span = entry.span_of("location")
    assert (span.line, span.column) == at(text, f'"{LINUX}"')


COMPUTED = f"""\
variable "gateway_version" {{}}
resource "helm_release" "r" {{
  chart   = "argo-rollouts"
  version = var.chart_version
  values = [
    file("${{path.module}}/values.yaml"),
    templatefile("values.tpl", {{}}),
    local.more_values,
    yamlencode({{
      controller = {{
        trafficRouterPlugins = [{{
          name     = "argoproj-labs/gatewayAPI"
          location = "{GATEWAY}/${{var.gateway_version}}/gatewayapi-plugin-linux-amd64"
        }}]
        metricProviderPlugins = local.metric_plugins
      }}
    }}),
  ]
}}
"""


def test_values_terraform_computes_are_named_never_judged(runner: Runner) -> None:
    runner.write("main.tf", COMPUTED)
    code, report = runner.json(".")
    assert code == 0
    assert [(f["rule"], f["severity"], f["line"], f["column"]) for f in report["findings"]] == [
        ("skipped-file", "note", *at(COMPUTED, "file(")),
        ("skipped-file", "note", *at(COMPUTED, "templatefile(")),
        ("skipped-file", "note", *at(COMPUTED, "local.more_values")),
        ("placeholder", "note", *at(COMPUTED, f'"{GATEWAY}')),
        ("skipped-file", "note", *at(COMPUTED, "local.metric_plugins")),
    ]
    placeholder = messages(report, "placeholder")[0]
    assert placeholder.startswith(
        "`location` holds `${var.gateway_version}`, which Terraform computes: this entry is "
        "checked only with the value filled in"
    )
    assert report["plugins"] == []


def test_heredoc_interpolation_leaves_its_entry_unjudged(runner: Runner) -> None:
    text = (
        'resource "helm_release" "r" {\n'
        '  chart = "argo-rollouts"\n'
        "  values = [<<EOT\n"
        "controller:\n"
        "  trafficRouterPlugins:\n"
        "    - name: argoproj-labs/gatewayAPI\n"
        "      location: ${var.url}\n"
        "    - name: bad name\n"
        f"      location: {LINUX}\n"
        "EOT\n"
        "  ]\n"
        "}\n"
    )
    runner.write("main.tf", text)
    _, report = runner.json(".")
    # The entry with `${var.url}` gets one note; the one beside it is judged in full.
    assert [(f["rule"], f["severity"], f["line"], f["column"]) for f in report["findings"]] == [
        ("placeholder", "note", 7, 17),
        ("name-format", "error", 8, 13),
        ("plugin-config-name", "error", 8, 13),
        ("missing-sha256", "warning", 9, 17),
        ("not-verified", "note", 9, 17),
    ]


def test_other_charts_and_other_resources_get_one_note(runner: Runner) -> None:
    text = (
        "# trafficRouterPlugins are set below /* in a comment: configures nothing */\n"
        'resource "helm_release" "mine" {\n'
        '  chart = "./charts/platform"\n'
        '  set {\n    name = "controller.trafficRouterPlugins[0].name"\n    value = "x"\n  }\n'
        "}\n"
        'resource "kubernetes_config_map_v1" "cm" {\n'
        '  data = { trafficRouterPlugins = "- name: x" }\n'
        "}\n"
    )
    runner.write("main.tf", text)
    _, report = runner.json(".")
    assert [(f["rule"], f["line"], f["column"]) for f in report["findings"]] == [
        ("skipped-file", 2, 1),
        ("skipped-file", *at(text, "trafficRouterPlugins", 3)),
    ]
    assert (
        "installs `./charts/platform`, not the argo-rollouts chart"
        in report["findings"][0]["message"]
    )


def test_a_tf_file_without_a_plugin_key_is_never_parsed(runner: Runner) -> None:
    broken = 'resource "x" "y" {\n  a = <<EOF\n'
    runner.write("broken.tf", broken)
    runner.write("keyed.tf", "# trafficRouterPlugins\n" + broken)
    code, report = runner.json(".")
    # The same broken text is reported only where a plugin key made it worth parsing.
    assert (code, found(report, "skipped-file")) == (0, [("keyed.tf", 3, 7)])


# -- hostile input --------------------------------------------------------------------------


def _one_warning(report: dict[str, Any]) -> tuple[str, int, str]:
    (finding,) = report["findings"]
    assert (finding["rule"], finding["severity"]) == ("skipped-file", "warning")
    return finding["path"], finding["line"], finding["message"]


def test_an_unterminated_heredoc_is_one_finding_at_its_start(runner: Runner) -> None:
    text = 'resource "helm_release" "r" {\n  chart = "argo-rollouts"\n  values = [<<-EOF\n'
    text += "    controller:\n      trafficRouterPlugins: []\n" * 1000
    runner.write("main.tf", text)
    _, report = runner.json(".")
    assert _one_warning(report) == (
        "main.tf",
        3,
        "Terraform file not read: the heredoc `<<-EOF` is never closed (no line `EOF` after it)",
    )


def test_unclosed_strings_comments_and_blocks_are_one_finding_each(runner: Runner) -> None:
    cases = {
        "string.tf": ('# trafficRouterPlugins\na = "open\n', 2, "a string is not closed"),
        "comment.tf": ("# trafficRouterPlugins\n/* open\n", 2, "a `/*` comment is never"),
        "block.tf": ('# trafficRouterPlugins\nresource "a" "b" {\n', 3, "a block is not closed"),
        "escape.tf": ('# trafficRouterPlugins\na = "\\q"\n', 2, "invalid escape `\\q`"),
    }
    for name, (text, _, _) in cases.items():
        runner.write(name, text)
    _, report = runner.json(".")
    got = {f["path"]: (f["line"], f["message"]) for f in report["findings"]}
    assert len(report["findings"]) == len(cases)
    for name, (_, line, message) in cases.items():
        assert got[name][0] == line and message in got[name][1], (name, got[name])


def test_deep_nesting_and_a_huge_file_end_in_one_finding_each(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    deep = '# trafficRouterPlugins\nresource "helm_release" "r" {\n  values = '
    (project / "deep.tf").write_text(deep + "[" * 10_000 + "]" * 10_000 + "\n}\n")
    (project / "braces.tf").write_text('# stepPlugins\na = "' + "${" * 10_000 + '"\n')
    # Near the 8 MiB read bound: a million tiny attributes.
    (project / "huge.tf").write_text("# metricProviderPlugins\n" + "a = 1\n" * 1_300_000)
    (project / "values.yaml").write_text(
        f"controller:\n  trafficRouterPlugins:\n    - name: a/b\n      location: {DARWIN}\n"
    )
    outcome = run_cli(["--format", "json", "--offline", "--no-cache", "."], project, limit=180)
    outcome.assert_report()
    report = json.loads(outcome.out)
    by_path = {f["path"]: f for f in report["findings"] if f["path"].endswith(".tf")}
    assert "nest deeper than 64" in by_path["deep.tf"]["message"]
    assert "nest deeper than 64" in by_path["braces.tf"]["message"]
    assert "more than 200,000 tokens" in by_path["huge.tf"]["message"]
    assert found(report, "platform-mismatch") == [("values.yaml", 4, 17)]  # still checked
    assert len([f for f in report["findings"] if f["path"].endswith(".tf")]) == 3


SET_TYPES = f"""\
resource "helm_release" "r" {{
  chart = "argo-rollouts"
  set {{
    name  = "controller.metricProviderPlugins[0].name"
    value = "argoproj-labs/metric"
  }}
  set {{
    name  = "controller.metricProviderPlugins[0].location"
    value = "{LINUX}"
  }}
  set_list {{
    name  = "controller.metricProviderPlugins[0].args"
    value = ["--verbose", "5"]
  }}
  set {{
    name  = "controller.metricProviderPlugins[1].location"
    value = "https://a/b,c"
  }}
}}
"""


def test_set_values_are_typed_and_cut_as_helm_does() -> None:
    result = extract_text("main.tf", SET_TYPES)
    (entry,) = result.entries
    # strvals types each item of a set_list: "5" is the number 5, which `args` refuses.
    assert dict(entry.value) == {
        "name": "argoproj-labs/metric",
        "location": LINUX,
        "args": ["--verbose", 5],
    }
    span = entry.span_of("args", 1)
    assert (span.line, span.column) == at(SET_TYPES, '"5"')
    # A value with a comma is cut by Helm: said, never read as half a URL.
    (note,) = result.findings
    assert (note.rule, note.span.line, note.span.column) == (
        "skipped-file",
        *at(SET_TYPES, '"https://a/b,c"'),
    )
    assert "cuts this value at its `,`" in note.message


LOCALS = f"""\
locals {{
  plugins = {{ traffic = [{{
    name     = "argoproj-labs/gatewayAPI"
    location = "{DARWIN}"
  }}] }}
  rollouts_values = yamlencode({{ controller = {{ trafficRouterPlugins = local.plugins.traffic }}}})
  cycle = local.cycle
}}

resource "helm_release" "r" {{
  chart  = "argo-rollouts"
  values = [local.rollouts_values, local.cycle, yamlencode(local.plugins.none), yamlencode({{
    controller = {{
      metricProviderPlugins = <<-EOT
        - name: bad name
          location: file:///plugins/metric
      EOT
    }}
  }})]
  dynamic "set" {{
    for_each = var.plugins
    content {{
      name  = "controller.stepPlugins[${{set.key}}].name"
      value = set.value
    }}
  }}
}}
"""


def test_locals_are_read_where_they_are_defined(runner: Runner) -> None:
    runner.write("main.tf", LOCALS)
    _, report = runner.json(".")
    assert found(report, "platform-mismatch") == [("main.tf", *at(LOCALS, f'"{DARWIN}"'))]
    # A heredoc string in yamlencode is a literal block: its YAML maps to its lines.
    assert found(report, "plugin-list-shape") == [("main.tf", *at(LOCALS, "metricProviderPlugins"))]
    assert found(report, "name-format") == [("main.tf", *at(LOCALS, "bad name"))]
    assert [(f["line"], f["message"][:40]) for f in report["findings"]
            if f["rule"] == "skipped-file"] == [
        (at(LOCALS, "local.cycle")[0], "a `values` item Terraform computes (`loc"),
        (at(LOCALS, "yamlencode(local")[0], "a `values` item Terraform computes (`yam"),
        (at(LOCALS, "dynamic")[0], 'a `dynamic "set"` block is expanded by T'),
    ]  # fmt: skip


def test_locals_that_expand_without_bound_are_one_note() -> None:
    levels = "".join(f"  l{i} = [{', '.join([f'local.l{i + 1}'] * 8)}]\n" for i in range(8))
    text = (
        f'locals {{\n{levels}  l8 = "x"\n}}\n'
        'resource "helm_release" "r" {\n  chart = "argo-rollouts"\n'
        "  values = [yamlencode({ controller = { trafficRouterPlugins = local.l0 } })]\n}\n"
    )
    result = extract_text("main.tf", text)
    (note,) = result.findings
    assert "expands to more than 100,000 values" in note.message
    assert note.span.line == at(text, "resource")[0]


def _run_bound(project: Path, text: str) -> dict[str, Any]:
    """One `.tf` file in a real run, under a limit that bounds a hang (the fixed run takes
    seconds) and 1 GiB of peak memory."""
    project.mkdir()
    (project / "main.tf").write_text(text)
    outcome = run_cli(["--format", "json", "--offline", "--no-cache", "."], project, limit=180)
    outcome.assert_report()
    assert outcome.peak_rss < 1024**3, f"peak memory {outcome.peak_rss / 1024**2:.0f} MiB"
    report: dict[str, Any] = json.loads(outcome.out)
    return report


def test_set_indices_far_apart_count_against_the_release_bound(tmp_path: Path) -> None:
    """strvals pads a list with nulls up to a `set` index: 2,000 `set`s of `[9999]`, each
    into a list of its own, made 20 million nodes (4.4 GB, a minute) of a 160 KB file."""
    sets = "".join(
        f'  set {{\n    name  = "controller.trafficRouterPlugins[{number}][9999]"\n'
        '    value = "x"\n  }\n'
        for number in range(2_000)
    )
    text = 'resource "helm_release" "r" {\n  chart = "argo-rollouts"\n' + sets + "}\n"
    report = _run_bound(tmp_path / "project", text)
    (note,) = report["findings"]
    assert "expands to more than 100,000 values" in note["message"]
    assert note["line"] == 1


def test_two_large_yamlencode_values_merge_in_linear_time(tmp_path: Path) -> None:
    """Helm merges the `values` items key by key: each key was looked up by a scan of the
    other object's keys, 24,000² steps for two objects of 24,000 keys (minutes)."""
    keys = "{" + ", ".join(f"k{number} = 1" for number in range(24_000)) + "}"
    text = (
        'resource "helm_release" "r" {\n  chart = "argo-rollouts"\n  values = [\n'
        '    yamlencode({ controller = { trafficRouterPlugins = [{ name = "a/b" }] } }),\n'
        f"    yamlencode({keys}),\n    yamlencode({keys}),\n  ]\n}}\n"
    )
    report = _run_bound(tmp_path / "project", text)
    assert found(report, "schema") == [("main.tf", *at(text, "{ name"))]  # no location: judged


def test_many_set_blocks_into_one_mapping_are_linear(tmp_path: Path) -> None:
    """Each `set` looked its key up by a scan of the mapping it writes into: 15,000 keys
    set into one entry took some 90 s."""
    sets = "".join(
        f'  set {{\n    name  = "controller.trafficRouterPlugins[0].k{number}"\n'
        '    value = "x"\n  }\n'
        for number in range(15_000)
    )
    text = 'resource "helm_release" "r" {\n  chart = "argo-rollouts"\n' + sets + "}\n"
    report = _run_bound(tmp_path / "project", text)
    assert len(found(report, "unknown-field")) == 15_000


_FRAGMENTS = [
    'resource "helm_release" "r" {', "}", "{", "[", "]", "(", ")", "=", ",", ":", "\n", " ",
    'chart = "argo-rollouts"', "values = [", "yamlencode(", "<<EOF\n", "<<-EOF\n", "EOF\n",
    "controller:\n  trafficRouterPlugins:\n", "- name: a/b\n  location: x\n",
    "trafficRouterPlugins", '"controller.stepPlugins[0].name"', "set {", "name =", "value =",
    '"${var.x}"', '"$${x}"', '"%{ if a }b%{ endif }"', '"\\u00e9\\q"', "# c\n", "/* c */",
    "locals {", "local.l", "l = local.l", "var.x ? 1 : 2", "[for x in y : x]", "-1.5e3",
    "true", "null", "\t", "\r", "\u2028", "\x00", "é",
]  # fmt: skip


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=60))
def test_any_terraform_text_gives_findings_never_an_exception(parts: list[str]) -> None:
    text = "".join(parts)
    result = extract_text("main.tf", text)
    lines = text.count("\n") + text.count("\r") + text.count("\u2028") + 1
    for finding in result.findings:
        assert 1 <= finding.span.line <= lines, (finding, text)


def test_a_values_file_a_release_reads_is_judged_for_its_version(runner: Runner) -> None:
    nested = "controller:\n  trafficRouterPlugins:\n    trafficRouterPlugins: |-\n"
    nested += "      - name: a/b\n"
    for name in ("rollouts.yaml", "templated.yaml", "plain.yaml", "other.yaml"):
        runner.write(f"infra/values/{name}", nested)
    main = (
        'resource "helm_release" "argo_rollouts" {\n'
        '  chart   = "argo-rollouts"\n'
        '  version = "2.37.7"\n'
        "  # trafficRouterPlugins: in values/rollouts.yaml\n"
        "  values  = [\n"
        '    file("${path.module}/values/rollouts.yaml"),\n'
        '    templatefile("values/templated.yaml", {}),\n'
        '    file("${path.root}/values/other.yaml"),\n'
        "  ]\n"
        "}\n"
    )
    runner.write("infra/main.tf", main)
    _, report = runner.json(".")
    shapes = {f["path"] for f in report["findings"] if f["rule"] == "plugin-list-shape"}
    # Chart 2.37.7 takes the nested string form: the files the release reads are fine;
    # `path.root` is wherever Terraform runs, so that file is judged for the current chart.
    assert shapes == {"infra/values/plain.yaml", "infra/values/other.yaml"}
    notes = [f["message"] for f in report["findings"] if f["path"] == "infra/main.tf"]
    assert notes == [
        "`file(...)` values come from that file: it is checked on its own when the walk "
        "reaches it, for this release's chart 2.37.7",
        "`templatefile(...)` values come from that file (Terraform fills in its `${...}` "
        "first): it is checked on its own when the walk reaches it, for this release's chart "
        "2.37.7",
        "`file(...)` values come from that file: it is checked on its own when the walk "
        "reaches it, without this release's chart version (its path is computed)",
    ]
