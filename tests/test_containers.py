"""Containers with a form of their own: kustomize configMapGenerator, RolloutManager,
helmfile and k3s/RKE2 HelmChart chart versions. Every position is checked exactly."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rollouts_plugin_lint.extract import extract_text
from rollouts_plugin_lint.model import Origin, PluginKind
from tests.conftest import Runner, at

URL = "https://github.com/o/r/releases/download/v1.0.0/plugin-linux-amd64"
INSTALL_172 = "https://github.com/argoproj/argo-rollouts/releases/download/v1.7.2/install.yaml"


def findings(report: dict[str, Any], rule: str) -> list[tuple[str, int, int]]:
    return [(f["path"], f["line"], f["column"]) for f in report["findings"] if f["rule"] == rule]


def messages(report: dict[str, Any], rule: str) -> list[str]:
    return [f["message"] for f in report["findings"] if f["rule"] == rule]


# -- kustomize configMapGenerator -----------------------------------------------------------

LITERALS = f"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
configMapGenerator:
  - name: argo-rollouts-config
    behavior: merge
    literals:
      - 'metricProviderPlugins=[{{name: argoproj-labs/metric, location: "{URL}", sah256: x}}]'
      - "trafficRouterPlugins='[{{name: argoproj-labs/router, location: {URL}}}]'"
      - trafficRouterPlugin=[]
  - name: other
    literals:
      - 'stepPlugins=[{{name: not/read, location: x}}]'
"""


def test_generator_literals_are_plugin_lists_at_their_exact_position() -> None:
    result = extract_text("kustomization.yaml", LITERALS)
    metric, router = result.entries
    assert metric.kind is PluginKind.METRIC_PROVIDER and metric.origin is Origin.CONFIGMAP
    span = metric.span_of("location")
    assert (span.line, span.column) == at(LITERALS, f'"{URL}"')
    assert not span.approximate
    # kustomize removes one pair of quotes around the value: the column moves past it.
    assert router.kind is PluginKind.TRAFFIC_ROUTER
    span = router.span_of("location")
    assert (span.line, span.column) == at(LITERALS, URL, 2)
    assert router.group == metric.group  # one ConfigMap
    typo = metric.key_spans[("sah256",)]
    assert (typo.line, typo.column) == at(LITERALS, "sah256")
    (misnamed,) = [f.span for f in result.findings if f.rule == "unknown-config-key"]
    assert (misnamed.line, misnamed.column) == at(LITERALS, "trafficRouterPlugin=")


def test_generator_files_point_into_the_file_they_name(runner: Runner) -> None:
    traffic = f"- name: argoproj-labs/gatewayAPI\n  location: {URL}\n  sha256: abc\n"
    runner.write("deploy/plugins/traffic.yaml", traffic)
    runner.write("deploy/plugins/stepPlugins", "- name: bad name\n  location: file:///p\n")
    kustomization = (
        "configMapGenerator:\n"
        "  - name: argo-rollouts-config\n"
        "    files:\n"
        "      - trafficRouterPlugins=plugins/traffic.yaml\n"
        "      - plugins/stepPlugins\n"
        "      - plugins/metricProviderPlugins.yaml\n"
    )
    runner.write("deploy/kustomization.yaml", kustomization)
    runner.write("deploy/plugins/metricProviderPlugins.yaml", "- name: a/b\n  location: x\n")
    _, report = runner.json(".")
    assert findings(report, "sha256-format") == [("deploy/plugins/traffic.yaml", 3, 11)]
    assert findings(report, "name-format") == [("deploy/plugins/stepPlugins", 1, 9)]
    # A path's base name is the key: `metricProviderPlugins.yaml` is never read.
    line, column = at(kustomization, "plugins/metricProviderPlugins.yaml")
    assert findings(report, "unknown-config-key") == [("deploy/kustomization.yaml", line, column)]
    assert "write `metricProviderPlugins=plugins/metricProviderPlugins.yaml`" in str(report)
    assert sorted(p["path"] for p in report["plugins"]) == [
        "deploy/plugins/stepPlugins",
        "deploy/plugins/traffic.yaml",
    ]


ENV_FILE = f"""\
# plugins for prod
  trafficRouterPlugins=[{{name: argoproj-labs/gatewayAPI, location: "{URL}", sha256: abc}}]
metricProviderPlugin=[]
stepPlugins
"""


def test_generator_env_files_give_one_line_per_key_at_its_position(runner: Runner) -> None:
    runner.write("deploy/plugins.env", ENV_FILE)
    # The list written over lines, as in a ConfigMap: kustomize takes one line per key.
    runner.write("deploy/legacy.env", f"stepPlugins=\n- name: a/b\n  location: {URL}\n")
    runner.write(
        "deploy/kustomization.yaml",
        "configMapGenerator:\n"
        "  - name: argo-rollouts-config\n"
        "    envs: [plugins.env, ../outside.env]\n"
        "    env: legacy.env\n",
    )
    _, report = runner.json(".")
    path = "deploy/plugins.env"
    # No quotes are removed from an env value: the list is the rest of the line.
    assert findings(report, "sha256-format") == [(path, *at(ENV_FILE, "abc"))]
    assert findings(report, "unknown-config-key") == [(path, 3, 1)]
    assert [(f["path"], f["line"], f["column"], f["severity"]) for f in report["findings"]
            if f["rule"] == "skipped-file"] == [
        ("deploy/kustomization.yaml", 3, 25, "warning"),  # outside its folder
        ("deploy/legacy.env", 2, 1, "warning"),  # `- name: a/b` is no key: kustomize fails
        (path, 4, 1, "note"),  # no `=`: the value comes from the environment
    ]  # fmt: skip
    (plugin,) = report["plugins"]
    assert (plugin["path"], plugin["line"], plugin["location"]) == (path, 2, URL)


def test_generator_files_outside_the_kustomization_are_not_read(
    runner: Runner, tmp_path: Path
) -> None:
    secret = tmp_path / "outside.yaml"
    secret.write_text(f"- name: a/b\n  location: {URL}\n  sha256: abc\n")
    runner.write("shared.yaml", f"- name: a/b\n  location: {URL}\n  sha256: abc\n")
    (runner.root / "deploy").mkdir()
    os.symlink(secret, runner.root / "deploy" / "link.yaml")
    kustomization = (
        "configMapGenerator:\n"
        "  - name: argo-rollouts-config\n"
        "    files:\n"
        "      - trafficRouterPlugins=../shared.yaml\n"
        "      - metricProviderPlugins=link.yaml\n"
        "      - stepPlugins=missing.yaml\n"
    )
    runner.write("deploy/kustomization.yaml", kustomization)
    _, report = runner.json("deploy")
    assert report["plugins"] == [] and findings(report, "sha256-format") == []
    skipped = sorted(f for f in findings(report, "skipped-file") if f[0].endswith("n.yaml"))
    assert skipped == [
        ("deploy/kustomization.yaml", *at(kustomization, "trafficRouterPlugins=")),
        ("deploy/kustomization.yaml", *at(kustomization, "metricProviderPlugins=")),
        ("deploy/kustomization.yaml", *at(kustomization, "stepPlugins=")),
    ]
    text = " ".join(messages(report, "skipped-file"))
    assert "outside the kustomization's folder" in text and "cannot read" in text


def test_generator_version_of_a_kustomization_without_kind(runner: Runner) -> None:
    runner.write("k/stepPlugins", "- name: a/b\n  location: file:///p\n")
    kustomization = (
        f"resources:\n  - {INSTALL_172}\n"
        "configMapGenerator:\n  - name: argo-rollouts-config\n    files: [stepPlugins]\n"
    )
    runner.write("k/kustomization.yaml", kustomization)
    _, report = runner.json(".")
    assert findings(report, "version-gate") == [
        ("k/kustomization.yaml", *at(kustomization, "stepPlugins]"))
    ]
    assert "controller v1.7.2" in messages(report, "version-gate")[0]
    assert report["plugins"] == []


def test_a_file_a_generator_reads_is_not_counted_as_not_checked(runner: Runner) -> None:
    runner.write("k/plugins.txt", f"- name: a/trafficrouterplugin\n  location: {URL}\n")
    runner.write("k/notes.txt", "trafficRouterPlugins are set in plugins.txt\n")
    runner.write(
        "k/kustomization.yaml",
        "configMapGenerator:\n  - name: argo-rollouts-config\n"
        "    files: [trafficRouterPlugins=plugins.txt]\n",
    )
    code, _, err = runner.run("--format", "json", "--offline", "--no-cache", ".")
    assert code in (0, 1)
    assert (
        "1 file is not YAML, JSON, Markdown or Terraform but mention a plugin key (1 text)" in err
    )


# -- RolloutManager -------------------------------------------------------------------------

ROLLOUT_MANAGER = f"""\
apiVersion: argoproj.io/v1alpha1
kind: RolloutManager
metadata:
  name: argo-rollout
spec:
  version: v1.7.2
  plugins:
    trafficManagement:
      - name: argoproj-labs/openshift
        location: {URL}
      - name: argoproj-labs/gatewayAPI
        location: {URL}
        args: ["--verbose"]
    metric:
      - name: argoproj-labs/prometheus
        location: file:///plugins/prometheus
    step:
      - name: a/b
"""


def test_rollout_manager_plugins_with_exact_positions(runner: Runner) -> None:
    runner.write("gitops/rollout-manager.yaml", ROLLOUT_MANAGER)
    _, report = runner.json(".")
    names = [(p["kind"], p["name"], p["line"]) for p in report["plugins"]]
    assert names == [
        ("trafficRouterPlugins", "argoproj-labs/openshift", at(ROLLOUT_MANAGER, "- name")[0]),
        ("trafficRouterPlugins", "argoproj-labs/gatewayAPI", at(ROLLOUT_MANAGER, "- name", 2)[0]),
        ("metricProviderPlugins", "argoproj-labs/prometheus", at(ROLLOUT_MANAGER, "- name", 3)[0]),
    ]
    path = "gitops/rollout-manager.yaml"
    assert findings(report, "unknown-field") == [
        (path, *at(ROLLOUT_MANAGER, "args")),
        (path, *at(ROLLOUT_MANAGER, "step:")),
    ]
    assert findings(report, "duplicate-name") == [
        (path, *at(ROLLOUT_MANAGER, "argoproj-labs/openshift"))
    ]
    (operator_note,) = [
        (f["path"], f["line"], f["column"], f["severity"])
        for f in report["findings"]
        if "`metricPlugins`" in f["message"]
    ]
    assert operator_note == (path, *at(ROLLOUT_MANAGER, "metric:"), "note")


def test_rollout_manager_version_is_the_controller_version() -> None:
    (entry, *_) = extract_text("rm.yaml", ROLLOUT_MANAGER).entries
    assert entry.origin is Origin.ROLLOUT_MANAGER
    assert entry.versions.controller == (1, 7, 2)
    assert entry.versions.source == "the RolloutManager spec.version on line 6"


# -- helmfile, HelmChart --------------------------------------------------------------------

HELMFILE = f"""\
repositories:
  - name: argo
    url: https://argoproj.github.io/argo-helm
releases:
  - name: argo-rollouts
    namespace: argo-rollouts
    chart: argo/argo-rollouts
    version: 2.37.7
    values:
      - controller:
          trafficRouterPlugins:
            - name: argoproj-labs/gatewayAPI
              location: {URL}
"""

HELM_CHART = f"""\
apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata:
  name: argo-rollouts
  namespace: kube-system
spec:
  repo: https://argoproj.github.io/argo-helm
  chart: argo-rollouts
  version: 2.37.7
  valuesContent: |-
    controller:
      metricProviderPlugins:
        - name: argoproj-labs/metric
          location: {URL}
"""


def test_helmfile_release_version_is_the_chart_version() -> None:
    result = extract_text("helmfile.yaml", HELMFILE)
    (shape,) = [f for f in result.findings if f.rule == "plugin-list-shape"]
    assert (shape.span.line, shape.span.column) == at(HELMFILE, "trafficRouterPlugins")
    assert "chart 2.37.7 (the helmfile release version on line 8)" in shape.message


def test_helm_chart_version_is_the_chart_version() -> None:
    result = extract_text("argo-rollouts.yaml", HELM_CHART)
    (shape,) = [f for f in result.findings if f.rule == "plugin-list-shape"]
    assert (shape.span.line, shape.span.column) == at(HELM_CHART, "metricProviderPlugins")
    assert "chart 2.37.7 (the HelmChart spec.version on line 9)" in shape.message
    (entry,) = result.entries
    span = entry.span_of("location")
    assert (span.line, span.column) == at(HELM_CHART, URL)


def test_helmfile_releases_that_disagree_state_no_version() -> None:
    agreeing = HELMFILE + "  - name: second\n    chart: oci://ghcr.io/argoproj/argo-rollouts\n"
    agreeing += "    version: 2.37.7\n"
    result = extract_text("helmfile.yaml", agreeing)
    assert [f.rule for f in result.findings if f.rule == "plugin-list-shape"] == [
        "plugin-list-shape"
    ]
    text = HELMFILE + "  - name: second\n    chart: oci://ghcr.io/argoproj/argo-rollouts\n"
    text += "    version: 2.38.0\n"
    result = extract_text("helmfile.yaml", text)
    assert [f.rule for f in result.findings if f.rule == "plugin-list-shape"] == []


def test_helmfile_values_files_are_judged_for_their_release_version(runner: Runner) -> None:
    nested = (
        "controller:\n  trafficRouterPlugins:\n    trafficRouterPlugins: |-\n      - name: a/b\n"
    )
    runner.write("deploy/values/rollouts.yaml", nested)
    runner.write("deploy/values/templated.yaml", nested)
    runner.write("deploy/values/other.yaml", nested)
    runner.write(
        "deploy/helmfile.yaml",
        "releases:\n"
        "  - name: argo-rollouts\n"
        "    chart: argo/argo-rollouts\n"
        "    version: 2.37.7\n"
        "    values:\n"
        "      - values/rollouts.yaml\n"
        "      - values/{{ .Environment.Name }}.yaml\n"
        "      - controller: {}\n"
        "  - name: other\n"
        "    chart: bitnami/nginx\n"
        "    version: 1.0.0\n"
        "    values: [values/other.yaml]\n",
    )
    _, report = runner.json(".")
    shapes = {
        f["path"]: f["message"] for f in report["findings"] if f["rule"] == "plugin-list-shape"
    }
    # Chart 2.37.7 takes the nested string form: the file that release reads is fine.
    assert "deploy/values/rollouts.yaml" not in shapes
    # A file no argo-rollouts release names is judged for the current chart.
    assert "no chart version found" in shapes["deploy/values/other.yaml"]
    assert "no chart version found" in shapes["deploy/values/templated.yaml"]
    (entry,) = [p for p in report["plugins"] if p["path"] == "deploy/values/rollouts.yaml"]
    assert entry["name"] == "a/b"


def test_generator_file_references_are_bounded() -> None:
    sources = "".join(f"      - trafficRouterPlugins=p{i}.yaml\n" for i in range(20))
    text = f"configMapGenerator:\n  - name: argo-rollouts-config\n    files:\n{sources}"
    result = extract_text("kustomization.yaml", text)
    assert [r.path for r in result.data_files] == [f"p{i}.yaml" for i in range(16)]
    skipped = [f.span.line for f in result.findings if f.rule == "skipped-file"]
    assert skipped == list(range(20, 24))


# -- Markdown -------------------------------------------------------------------------------

MARKDOWN = f"""\
# The plugin

Install the chart:

```shell
helm install argo-rollouts argo/argo-rollouts --version 2.37.7
```

Then configure it:

```yaml
controller:
  trafficRouterPlugins:
    - name: argoproj-labs/gatewayAPI
      location: {URL}
```

1. Or in the ConfigMap:

   ~~~
   apiVersion: v1
   kind: ConfigMap
   metadata:
     name: argo-rollouts-config
   data:
     metricProviderPlugins: |-
       - name: argoproj-labs/metric
         location: {URL}
         sha256: 1234567890abcdef1234567890abcdef12345678
   ~~~

```bash
kubectl patch configmap argo-rollouts-config --patch "trafficRouterPlugins: []"
```

```yaml
data:
  stepPlugins: |-
    - name: argoproj-labs/step
      location: https://example.test/${{VERSION}}/step
```

```yml
trafficRouterPlugins: [unclosed
```
"""


def test_markdown_yaml_blocks_with_positions_in_the_markdown_file() -> None:
    result = extract_text("docs/README.md", MARKDOWN)
    router, metric = result.entries
    span = router.span_of("location")
    assert (span.line, span.column) == at(MARKDOWN, URL)
    # An untagged block inside a list item: the fence's indentation is removed.
    span = metric.span_of("sha256")
    assert (span.line, span.column) == at(MARKDOWN, "1234567890abcdef")
    assert not span.approximate
    by_rule = {f.rule: f for f in result.findings}
    # The `helm --version` beside the block decides the chart the list form is judged for.
    shape = by_rule["plugin-list-shape"]
    assert (shape.span.line, shape.span.column) == at(MARKDOWN, "trafficRouterPlugins")
    assert "chart 2.37.7 (the `helm --version` on line 6)" in shape.message
    # Shell expansions: a note, never a verdict.
    shell = by_rule["skipped-file"]
    assert shell.severity.value == "note"
    assert shell.span.line == at(MARKDOWN, "```yaml", 2)[0]
    syntax = by_rule["yaml-syntax"]
    assert syntax.severity.value == "warning"
    assert syntax.span.line == at(MARKDOWN, "[unclosed")[0] + 1  # where the block ends


def test_markdown_is_walked_and_named_files_are_checked(runner: Runner) -> None:
    block = "```yaml\ncontroller:\n  trafficRouterPlugins:\n    - name: bad\n"
    block += f"      location: {URL}\n```\n"
    runner.write("docs/plugin.md", "# Plugin\n\n" + block)
    runner.write("notes.markdown", "trafficRouterPlugins go in values.yaml\n")
    for args in ((".",), ("docs/plugin.md",)):
        code, out, err = runner.run("--format", "json", "--offline", "--no-cache", *args)
        assert code == 1 and err == ""
        report = json.loads(out)
        assert findings(report, "name-format") == [("docs/plugin.md", 6, 13)]


def test_markdown_blocks_walked_are_bounded() -> None:
    text = "```yaml\nstepPlugins: [{name: a/b, location: file:///p}]\n```\n" * 102
    result = extract_text("many.md", text)
    assert len(result.entries) == 100
    (skipped,) = [f for f in result.findings if f.rule == "skipped-file"]
    assert skipped.span.line == 100 * 3 + 1 and skipped.severity.value == "warning"


def test_markdown_fragment_of_configmap_data_is_not_misplaced_values() -> None:
    text = (
        "Add to `argo-rollouts-config`:\n\n```yaml\n"
        f"trafficRouterPlugins: |-\n  - name: argoproj-labs/gatewayAPI\n    location: {URL}\n"
        "metricPlugins: |-\n  - name: a/b\n```\n"
    )
    result = extract_text("README.md", text)
    (entry,) = result.entries
    assert entry.origin is Origin.CONFIGMAP
    span = entry.span_of("location")
    assert (span.line, span.column) == at(text, URL)
    assert [(f.rule, f.span.line, f.span.column) for f in result.findings] == [
        ("unknown-config-key", *at(text, "metricPlugins"))
    ]


QUOTED = f"""\
> **Note**
> Configure the plugin:
>
> ```yaml
> controller:
>   trafficRouterPlugins:
>     - name: bad
>       location: {URL}
> ```

> > ```json
> > {{"stepPlugins": [{{"name": "argoproj-labs/step", "location": "{URL}", "sha256": "x"}}]}}
> > ```

```json
{{"metricProviderPlugins": [{{"name": "a b", "location": "file:///p"}}]}}
```

>```yaml
>trafficRouterPlugins:
>   - name: argoproj-labs/gw
> ```
after the quote
"""


def test_markdown_blocks_in_blockquotes_and_json_blocks_map_to_the_file(runner: Runner) -> None:
    runner.write("README.md", QUOTED)
    _, report = runner.json(".")
    # The `> ` markers are removed, and their width added back to every column.
    assert findings(report, "name-format") == [
        ("README.md", *at(QUOTED, "bad")),
        ("README.md", *at(QUOTED, '"a b"')),
    ]
    assert findings(report, "sha256-format") == [("README.md", *at(QUOTED, '"x"'))]
    # `>x` and `> x` in one block: its lines start at different columns, so positions are
    # the fence's, flagged approximate; the block still ends with its blockquote.
    (last,) = [p for p in report["plugins"] if p["name"] == "argoproj-labs/gw"]
    assert last["line"] == at(QUOTED, ">```yaml")[0]
    assert len(report["plugins"]) == 4
