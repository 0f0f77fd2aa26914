"""References across files: the plugin names Rollouts and analysis resources use, matched
against the entries the checked files configure, in several layouts, at exact lines."""

from __future__ import annotations

import textwrap
from typing import Any

from rollouts_plugin_lint.discover import might_hold_plugins
from tests.conftest import Runner, at

GATEWAYAPI = (
    "https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi"
    "/releases/download/v0.4.0/gatewayapi-plugin-linux-amd64"
)
PROMETHEUS = (
    "https://github.com/argoproj-labs/rollouts-plugin-metric-sample-prometheus"
    "/releases/download/v0.0.4/metric-plugin-linux-amd64"
)
REFERENCE_RULES = {"unknown-plugin-reference", "plugin-reference-kind", "unreferenced-plugin"}

CONFIGMAP = textwrap.dedent(f"""\
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: argo-rollouts-config
    data:
      trafficRouterPlugins: |-
        - name: argoproj-labs/gatewayAPI
          location: {GATEWAYAPI}
      metricProviderPlugins: |-
        - name: argoproj-labs/sample-prometheus
          location: {PROMETHEUS}
    """)


def rollout(router: str, step: str | None = None) -> str:
    steps = f"      steps:\n        - plugin:\n            name: {step}\n" if step else ""
    return (
        textwrap.dedent(f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: Rollout
        metadata:
          name: shop
        spec:
          strategy:
            canary:
              trafficRouting:
                plugins:
                  {router}:
                    httpRoute: shop
        """)
        + steps
    )


def analysis(metric: str, kind: str = "AnalysisTemplate") -> str:
    return textwrap.dedent(f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: {kind}
        metadata:
          name: success-rate
        spec:
          metrics:
            - name: success-rate
              provider:
                plugin:
                  {metric}:
                    query: up
        """)


def references(report: dict[str, Any]) -> list[tuple[str, str, str, int, int]]:
    return [
        (f["rule"], f["severity"], f["path"], f["line"], f["column"])
        for f in report["findings"]
        if f["rule"] in REFERENCE_RULES
    ]


def lint(runner: Runner, *args: str) -> dict[str, Any]:
    _, report = runner.json(*args)
    return report


def test_one_file_resolves_and_a_misspelling_gets_did_you_mean(runner: Runner) -> None:
    text = "---\n".join(
        [
            CONFIGMAP,
            rollout("argoproj-labs/gatewayapi"),
            analysis("argoproj-labs/sample-prometheus"),
        ]
    )
    runner.write("all.yaml", text)
    report = lint(runner, "all.yaml")
    [finding] = [f for f in report["findings"] if f["rule"] in REFERENCE_RULES]
    assert references(report) == [
        ("unknown-plugin-reference", "error", "all.yaml", *at(text, "argoproj-labs/gatewayapi:"))
    ]
    line = at(text, "argoproj-labs/gatewayAPI")[0]
    assert f"did you mean `argoproj-labs/gatewayAPI` (all.yaml:{line})?" in finding["message"]
    assert (
        "Rollout shop uses the traffic router plugin `argoproj-labs/gatewayapi`"
        in (finding["message"])
    )
    assert "`plugin argoproj-labs/gatewayapi not configured in configmap`" in finding["message"]
    assert finding["end_column"] - finding["column"] == len("argoproj-labs/gatewayapi")


def test_several_files_and_no_close_name(runner: Runner) -> None:
    runner.write("config/argo-rollouts-config.yaml", CONFIGMAP)
    text = rollout("acme/router", step="acme/step") + "---\n" + analysis("acme/metric")
    runner.write("apps/shop.yaml", text)
    report = lint(runner, ".")
    assert references(report) == [
        ("unknown-plugin-reference", "error", "apps/shop.yaml", *at(text, "acme/router:")),
        ("unknown-plugin-reference", "note", "apps/shop.yaml", *at(text, "acme/step")),
        ("unknown-plugin-reference", "error", "apps/shop.yaml", *at(text, "acme/metric:")),
        ("unreferenced-plugin", "note", "config/argo-rollouts-config.yaml", 7, 13),
        ("unreferenced-plugin", "note", "config/argo-rollouts-config.yaml", 10, 13),
    ]
    router = next(f for f in report["findings"] if f.get("plugin") == "acme/router")
    assert (
        "configure `argoproj-labs/gatewayAPI` (config/argo-rollouts-config.yaml:7)"
        in (router["message"])
    )
    step = next(f for f in report["findings"] if f.get("plugin") == "acme/step")
    assert "configure no step plugins" in step["message"]


def test_argo_cd_application_beside_raw_manifests(runner: Runner) -> None:
    application = textwrap.dedent(f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata:
          name: argo-rollouts
        spec:
          source:
            chart: argo-rollouts
            repoURL: https://argoproj.github.io/argo-helm
            targetRevision: 2.40.8
            helm:
              valuesObject:
                controller:
                  trafficRouterPlugins:
                    - name: argoproj-labs/gatewayAPI
                      location: {GATEWAYAPI}
        """)
    runner.write("argocd/argo-rollouts.yaml", application)
    runner.write("manifests/rollout.yaml", rollout("argoproj-labs/gatewayAPI"))
    runner.write("manifests/analysis.yaml", analysis("argoproj-labs/gatewayAPI", "AnalysisRun"))
    report = lint(runner, ".")
    [finding] = [f for f in report["findings"] if f["rule"] in REFERENCE_RULES]
    assert references(report) == [
        ("plugin-reference-kind", "error", "manifests/analysis.yaml", 10, 11),
    ]
    assert (
        "configured as a traffic router plugin (argocd/argo-rollouts.yaml:14)"
        in (finding["message"])
    )


def test_configured_plugin_nothing_uses_is_a_note(runner: Runner) -> None:
    runner.write("config.yaml", CONFIGMAP)
    runner.write("rollout.yaml", rollout("argoproj-labs/gatewayAPI"))
    report = lint(runner, ".")
    assert references(report) == [
        ("unreferenced-plugin", "note", "config.yaml", *at(CONFIGMAP, "argoproj-labs/sample-")),
    ]
    # Without a single reference in the checked files, the users live elsewhere.
    assert references(lint(runner, "config.yaml")) == []


def test_cluster_analysis_template_and_step_plugin_resolve(runner: Runner) -> None:
    config = CONFIGMAP + "  stepPlugins: |-\n    - name: acme/step\n      location: file:///p/x\n"
    runner.write("config.yaml", config)
    text = (
        rollout("argoproj-labs/gatewayAPI", step="acme/stepp")
        + "---\n"
        + analysis("argoproj-labs/sample-prometheus", "ClusterAnalysisTemplate")
    )
    runner.write("rollout.yaml", text)
    report = lint(runner, ".")
    assert references(report) == [
        ("unknown-plugin-reference", "error", "rollout.yaml", *at(text, "acme/stepp")),
    ]


def test_other_api_groups_are_not_rollouts(runner: Runner) -> None:
    runner.write("config.yaml", CONFIGMAP)
    runner.write("rollout.yaml", rollout("acme/router"))
    assert ("unknown-plugin-reference", "error") in {r[:2] for r in references(lint(runner, "."))}
    text = rollout("acme/router").replace("argoproj.io/v1alpha1", "example.com/v1")
    runner.write("rollout.yaml", text)
    assert references(lint(runner, ".")) == []


def test_prefilter_passes_a_rollout_that_names_no_plugin_key() -> None:
    assert might_hold_plugins(rollout("acme/router").encode())
    assert might_hold_plugins(b'{"kind": "AnalysisRun", "spec": {"plugin": 1}}')
    # Still nothing for a manifest that mentions no plugin at all.
    assert not might_hold_plugins(b"apiVersion: argoproj.io/v1alpha1\nkind: Rollout\n")
