"""The catalog of known plugins: its data checked against the plugins' own repositories,
and the offline rules it gives, each at its exact line and column."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from rollouts_plugin_lint.catalog import known_plugins, split_image, version_of
from rollouts_plugin_lint.checks.artifact import check_artifact
from rollouts_plugin_lint.extract import extract_file
from rollouts_plugin_lint.fetch.cache import Cache, UrlRecord
from rollouts_plugin_lint.model import DEFAULT_PLATFORMS, PLUGIN_KEYS, Artifact, ReleaseLookup
from tests.conftest import SHA, Runner, at
from tests.inspect_fixtures import elf_with_inline_buildinfo

GATEWAYAPI = "https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi"
PROMETHEUS = "https://github.com/argoproj-labs/rollouts-plugin-metric-sample-prometheus"
CONSUL = "https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-consul"
CATALOG_RULES = {"release-tag", "release-asset", "plugin-config-name", "wrong-plugin-list"}
MIRRORS = Path("/work/.mirror")
# The controller's name rule (utils/config/config.go, unchanged v1.5.0..v1.9.1).
NAME_FORMAT = re.compile(r"[a-zA-Z0-9\-]+/[a-zA-Z0-9_\-.]+")


def configmap(entries: str, key: str = "trafficRouterPlugins") -> str:
    body = textwrap.indent(textwrap.dedent(entries).strip("\n"), "    ")
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\n"
        f"data:\n  {key}: |-\n{body}\n"
    )


def values(entries: str, key: str = "trafficRouterPlugins") -> str:
    body = textwrap.indent(textwrap.dedent(entries).strip("\n"), "    ")
    return f"controller:\n  {key}:\n{body}\n"


def catalog_findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["rule"] in CATALOG_RULES]


def lint(runner: Runner, text: str, *args: str) -> list[dict[str, Any]]:
    runner.write("config.yaml", text)
    _, report = runner.json(*args, "config.yaml")
    return catalog_findings(report)


# -- the data --------------------------------------------------------------------------


def test_every_fact_has_a_source_and_a_usable_value() -> None:
    plugins = known_plugins()
    repositories = {plugin.repository for plugin in plugins.values()}
    for needed in (
        "argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi",
        "argoproj-labs/rollouts-plugin-trafficrouter-contour",
        "argoproj-labs/rollouts-plugin-trafficrouter-consul",
        "argoproj-labs/rollouts-plugin-trafficrouter-openshift",
        "argoproj-labs/rollouts-plugin-trafficrouter-glooplatform",
        "argoproj-labs/rollouts-plugin-trafficrouter-glooedge",
        "argoproj-labs/rollouts-plugin-metric-sample-prometheus",
        "argoproj-labs/rollouts-plugin-metric-honeycomb",
        "argoproj-labs/rollouts-plugin-metric-ai",
        "argoproj-labs/rollouts-plugin-metric-signalfx",
        "argoproj-labs/rollouts-plugin-metric-datadog",
        "argoproj-labs/rollouts-opsmx-metric-plugin",
    ):
        assert needed in repositories
    for plugin in plugins.values():
        assert plugin.kind.value in PLUGIN_KEYS and plugin.kind.source
        assert plugin.tags_source
        if plugin.config_key is not None:
            assert NAME_FORMAT.fullmatch(plugin.config_key.value), plugin.repository
            assert re.search(r"@ [0-9a-f]{8}", plugin.config_key.source), plugin.repository
        for tag in plugin.known_tags:
            assert (
                plugin.tag_pattern is None
                or plugin.tag_pattern.fullmatch(tag)
                or (tag.startswith("release-"))
            ), (plugin.repository, tag)
        for release in plugin.releases:
            assert release.first <= release.last and release.assets and release.source
            assert re.search(r"@ [0-9a-f]{8}", release.source), plugin.repository
        if plugin.image is not None:
            assert plugin.image_binary and plugin.image_binary.startswith("/")
    assert known_plugins()["argoproj-labs/rollouts-plugin-trafficrouter-consul"].config_key
    consul = known_plugins()["argoproj-labs/rollouts-plugin-trafficrouter-consul"].config_key
    assert consul is not None and consul.value == "hashicorp/consul"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


GATEWAYAPI_MIRROR = MIRRORS / "argoproj-labs+rollouts-plugin-trafficrouter-gatewayapi" / "repo"


@pytest.mark.skipif(not GATEWAYAPI_MIRROR.is_dir(), reason="no mirror of the gatewayapi plugin")
def test_gatewayapi_facts_match_its_repository() -> None:
    """The tags, the asset names of every release and the plugin key, read again from the
    repository's own release workflow and code at each tag."""
    plugin = known_plugins()["argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi"]
    tags = _git(GATEWAYAPI_MIRROR, "tag").split()
    assert sorted(tags) == sorted(plugin.known_tags)
    for tag in tags:
        version = version_of(tag.removeprefix("release-"))
        assert version is not None
        release = plugin.assets_for(version)
        assert release is not None, tag
        workflow = _git(GATEWAYAPI_MIRROR, "show", f"{tag}:.github/workflows/release.yaml")
        assert tuple(re.findall(r"asset_name: (\S+)", workflow)) == release.assets, tag
        code = _git(GATEWAYAPI_MIRROR, "show", f"{tag}:pkg/plugin/plugin.go")
        assert plugin.config_key is not None
        assert f'"{plugin.config_key.value}"' in code, tag


def test_keys_match_the_plugins_code_in_every_mirror() -> None:
    """Each catalogued key is the string the plugin's code reads its configuration under,
    at the commit its source names, in every plugin repository mirrored here (a default
    branch can lack the code: the opsmx plugin's holds only its first commit)."""
    checked = 0
    for plugin in known_plugins().values():
        mirror = MIRRORS / plugin.repository.replace("/", "+") / "repo"
        if plugin.config_key is None or not mirror.is_dir():
            continue
        cited = re.search(r"@ ([0-9a-f]{8})", plugin.config_key.source)
        assert cited is not None, plugin.repository
        grep = subprocess.run(
            ["git", "-C", str(mirror), "grep", "-F", f'"{plugin.config_key.value}"', cited[1],
             "--", "*.go"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert grep.returncode == 0, plugin.repository
        checked += 1
    if checked == 0:
        pytest.skip("no plugin mirror here")


def test_complete_tag_lists_match_every_mirror() -> None:
    """A tag list the catalog calls complete is every tag of the plugin's repository."""
    checked = 0
    for plugin in known_plugins().values():
        mirror = MIRRORS / plugin.repository.replace("/", "+") / "repo"
        if not plugin.tags_complete or not mirror.is_dir():
            continue
        assert sorted(_git(mirror, "tag").split()) == sorted(plugin.known_tags), plugin.repository
        checked += 1
    if checked == 0:
        pytest.skip("no plugin mirror here")


# -- tags --------------------------------------------------------------------------------


def test_tag_without_its_v_is_found_offline(runner: Runner) -> None:
    location = f"{GATEWAYAPI}/releases/download/0.4.0/gatewayapi-plugin-linux-amd64"
    text = configmap(f'- name: argoproj-labs/gatewayAPI\n  location: "{location}"')
    [finding] = lint(runner, text)
    assert finding["rule"] == "release-tag" and finding["severity"] == "error"
    assert (finding["line"], finding["column"]) == at(text, f'"{location}"')
    assert "its tags are `vX.Y.Z`" in finding["message"]
    assert "did you mean `v0.4.0`?" in finding["message"]
    assert finding["hint"] == (
        f"location: {GATEWAYAPI}/releases/download/v0.4.0/gatewayapi-plugin-linux-amd64"
    )


@pytest.mark.parametrize(
    ("repository", "written", "meant", "asset"),
    [
        ("rollouts-plugin-metric-datadog", "0.1.0-alpha.1", "v0.1.0-alpha.1",
         "rollouts-plugin-metric-datadog-linux-amd64"),
        ("rollouts-plugin-metric-signalfx", "0.2.0", "v0.2.0", "metric-plugin-linux-amd64"),
    ],
)  # fmt: skip
def test_signalfx_and_datadog_tags_are_in_the_catalog(
    runner: Runner, repository: str, written: str, meant: str, asset: str
) -> None:
    base = f"https://github.com/argoproj-labs/{repository}"
    location = f"{base}/releases/download/{written}/{asset}"
    text = configmap(
        f'- name: argoproj-labs/{repository}\n  location: "{location}"', "metricProviderPlugins"
    )
    [finding] = lint(runner, text)
    assert finding["rule"] == "release-tag"
    assert (finding["line"], finding["column"]) == at(text, f'"{location}"')
    assert f"did you mean `{meant}`?" in finding["message"]
    assert finding["hint"] == f"location: {base}/releases/download/{meant}/{asset}"


def test_tag_and_asset_both_wrong_give_one_fixed_location(runner: Runner) -> None:
    # The #3708 URL: no `v`, and on 0.3.0 the asset still had its old name.
    location = f"{GATEWAYAPI}/releases/download/0.3.0/gatewayapi-plugin-linux-amd64"
    text = values(f"- name: argoproj-labs/gatewayAPI\n  location: {location}")
    findings = lint(runner, text)
    assert [(f["rule"], f["line"], f["column"]) for f in findings] == [
        ("release-asset", *at(text, location)),
        ("release-tag", *at(text, location)),
    ]
    fixed = f"location: {GATEWAYAPI}/releases/download/v0.3.0/gateway-api-plugin-linux-amd64"
    assert findings[0]["hint"] == fixed == findings[1]["hint"]


@pytest.mark.parametrize(
    "tag",
    ["v0.4.0", "v0.15.0", "v0.0.0-rc1", "release-v0.14.0", "v0.99.0", "${VERSION}"],
)
def test_tags_in_the_format_known_or_templated_are_left_alone(runner: Runner, tag: str) -> None:
    location = f"{GATEWAYAPI}/releases/download/{tag}/gatewayapi-plugin-linux-amd64"
    if version_of(tag) is not None and version_of(tag) <= (0, 3, 0):  # type: ignore[operator]
        location = location.replace("gatewayapi-plugin", "gateway-api-plugin")
    text = values(f"- name: argoproj-labs/gatewayAPI\n  location: {location}\n  sha256: {SHA}")
    assert lint(runner, text) == []


# -- assets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "written", "right"),
    [
        ("v0.4.0", "gateway-api-plugin-linux-amd64", "gatewayapi-plugin-linux-amd64"),
        ("v0.8.0", "gatewayapi-plugin-amd64", "gatewayapi-plugin-linux-amd64"),
        ("v0.1.1", "gatewayapi-plugin-linux-amd64", "gateway-api-plugin-linux-amd64"),
        # A darwin build on the old name: the right one is for the controller's platform.
        ("v0.6.0", "gateway-api-plugin-darwin-arm64", "gatewayapi-plugin-linux-amd64"),
    ],
)
def test_asset_the_release_does_not_publish(
    runner: Runner, tag: str, written: str, right: str
) -> None:
    location = f"{GATEWAYAPI}/releases/download/{tag}/{written}"
    text = values(f"- name: argoproj-labs/gatewayAPI\n  location: {location}")
    [finding] = lint(runner, text)
    assert finding["rule"] == "release-asset"
    assert (finding["line"], finding["column"]) == at(text, location)
    assert (
        f"release `{tag}` of argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi"
        in (finding["message"])
    )
    assert f"publishes no asset `{written}`" in finding["message"]
    assert f"did you mean `{right}`?" in finding["message"]
    assert finding["hint"] == f"location: {GATEWAYAPI}/releases/download/{tag}/{right}"


def test_right_asset_for_another_target_platform(runner: Runner) -> None:
    location = f"{GATEWAYAPI}/releases/download/v0.4.0/gateway-api-plugin-linux-arm64"
    text = values(f"- name: argoproj-labs/gatewayAPI\n  location: {location}")
    [finding] = lint(runner, text, "--platform", "linux/arm64")
    assert finding["hint"].endswith("/v0.4.0/gatewayapi-plugin-linux-arm64")


def test_owner_and_repository_match_in_any_case(runner: Runner) -> None:
    location = (
        "https://github.com/ArgoProj-Labs/Rollouts-Plugin-TrafficRouter-GatewayAPI"
        "/releases/download/v0.4.0/gateway-api-plugin-linux-amd64"
    )
    text = values(f"- name: argoproj-labs/gatewayAPI\n  location: {location}")
    assert [f["rule"] for f in lint(runner, text)] == ["release-asset"]


# -- the plugin's own key ------------------------------------------------------------------


def test_name_that_differs_from_the_plugins_key_is_an_error(runner: Runner) -> None:
    text = configmap(
        f"- name: argoproj-labs/consul\n"
        f"  location: file:///plugin-bin/x\n"
        f"- name: argoproj-labs/gatewayapi\n"
        f"  location: {GATEWAYAPI}/releases/download/v0.4.0/gatewayapi-plugin-linux-amd64"
    )
    text = text.replace("file:///plugin-bin/x", f"{CONSUL}/releases/download/v0.0.1/consul")
    findings = lint(runner, text)
    assert [(f["rule"], f["severity"], f["line"], f["column"]) for f in findings] == [
        ("plugin-config-name", "error", *at(text, "argoproj-labs/consul")),
        ("plugin-config-name", "error", *at(text, "argoproj-labs/gatewayapi")),
    ]
    assert "its code reads `hashicorp/consul` (pkg/plugin/types.go" in findings[0]["message"]
    assert "not configured in configmap" in findings[0]["message"]
    assert findings[0]["hint"].startswith("name: hashicorp/consul")
    # Go's map lookup is exact: a case difference is the same mistake.
    assert "reads `argoproj-labs/gatewayAPI`" in findings[1]["message"]


# -- the list ------------------------------------------------------------------------------


def test_catalogued_plugin_under_the_wrong_list(runner: Runner) -> None:
    location = f"{PROMETHEUS}/releases/download/v0.0.4/metric-plugin-linux-amd64"
    text = configmap(f"- name: argoproj-labs/sample-prometheus\n  location: {location}")
    [finding] = lint(runner, text)
    assert (finding["rule"], finding["severity"]) == ("wrong-plugin-list", "error")
    assert (finding["line"], finding["column"]) == at(text, location)
    assert finding["hint"] == "move the entry to `metricProviderPlugins`"
    # In its own list it is fine.
    right = configmap(
        f"- name: argoproj-labs/sample-prometheus\n  location: {location}",
        key="metricProviderPlugins",
    )
    assert lint(runner, right) == []


def test_unknown_repository_gets_only_the_naming_conventions_warning(runner: Runner) -> None:
    # A fork: the catalog's tag, asset and key facts are not its facts.
    fork = "https://github.com/acme/rollouts-plugin-metric-gatewayapi"
    text = values(
        f"- name: acme/x\n  location: {fork}/releases/download/0.4.0/gateway-api-plugin-linux-amd64"
    )
    [finding] = lint(runner, text)
    assert (finding["rule"], finding["severity"]) == ("wrong-plugin-list", "warning")
    assert "rollouts-plugin-metric-gatewayapi" in finding["message"]
    plain = values(
        "- name: acme/x\n  location: https://github.com/acme/router/releases/download/0.4.0/r"
    )
    assert lint(runner, plain) == []


# -- the server and the listing win ---------------------------------------------------------


def test_a_download_that_works_overrules_the_catalog(runner: Runner) -> None:
    """A cached download of the URL (what the server served) settles the question: the
    catalog's asset verdict is dropped."""
    location = f"{GATEWAYAPI}/releases/download/v0.4.0/gateway-api-plugin-linux-amd64"
    text = values(f"- name: argoproj-labs/gatewayAPI\n  location: {location}")
    runner.write("config.yaml", text)
    _, report = runner.json("config.yaml")
    assert [f["rule"] for f in catalog_findings(report)] == ["release-asset"]

    binary = elf_with_inline_buildinfo()
    digest = hashlib.sha256(binary).hexdigest()
    cache = Cache(runner.root.parent / "cache")
    cache.prepare()
    temporary = cache.temporary_file()
    temporary.write_bytes(binary)
    cache.store(temporary, digest)
    cache.remember(UrlRecord(location, digest, len(binary), location, None, None, None))
    code, out, err = runner.run(
        "--format", "json", "--offline", "--cache-dir", str(cache.root), "config.yaml"
    )  # fmt: skip
    assert code in (0, 1), err
    report = json.loads(out)
    assert report["plugins"][0]["artifact"]["sha256"] == digest
    assert catalog_findings(report) == []


def test_download_failed_hint_says_the_listing_wins_over_the_catalog() -> None:
    location = f"{GATEWAYAPI}/releases/download/v0.4.0/gateway-api-plugin-linux-amd64"
    text = values(f"- name: argoproj-labs/gatewayAPI\n  location: {location}")
    [entry] = extract_file("values.yaml", text.encode()).entries
    # The listing (as if the release had been re-published) holds only the old name.
    listing = ReleaseLookup(
        "argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi", "v0.4.0",
        "gateway-api-plugin-linux-amd64", repo_exists=True, tag_found="v0.4.0",
        assets=("gateway-api-plugin-linux-amd64x",),
    )  # fmt: skip
    failed = Artifact(location, status=404, release=listing)
    [finding] = check_artifact(entry, failed, None, DEFAULT_PLATFORMS)
    assert finding.rule == "download-failed"
    assert finding.hint is not None
    assert finding.hint.startswith(f"location: {GATEWAYAPI}/releases/download/v0.4.0/")
    assert "the catalog of known plugins expected `v0.4.0/gatewayapi-plugin-linux-amd64`" in (
        finding.hint
    )
    assert "the listing wins" in finding.hint
    # When the listing agrees with the catalog, the hint is the listing's alone.
    agreeing = ReleaseLookup(
        listing.repo, "v0.4.0", "gateway-api-plugin-linux-amd64", repo_exists=True,
        tag_found="v0.4.0", assets=("gatewayapi-plugin-linux-amd64",),
    )  # fmt: skip
    [finding] = check_artifact(
        entry, Artifact(location, status=404, release=agreeing), None, DEFAULT_PLATFORMS
    )
    assert finding.hint == (
        f"location: {GATEWAYAPI}/releases/download/v0.4.0/gatewayapi-plugin-linux-amd64"
    )


@pytest.mark.parametrize(
    ("repository", "tag", "asset", "nearest"),
    [
        # v0.14.0 was never tagged: release-v0.14.0 and v0.14.1 were.
        (GATEWAYAPI, "v0.14.0", "gatewayapi-plugin-linux-amd64", "v0.14.1"),
        (GATEWAYAPI, "v0.4.2", "gateway-api-plugin-linux-amd64", "v0.5.0"),
        (
            "https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-glooplatform",
            "v0.0.0-beta0",
            "glooplatform-api-plugin-linux-amd64",
            "v0.0.0-beta1",
        ),
    ],
)
def test_tag_in_the_format_that_the_repository_never_had(
    runner: Runner, repository: str, tag: str, asset: str, nearest: str
) -> None:
    location = f"{repository}/releases/download/{tag}/{asset}"
    text = values(f"- name: x/y\n  location: {location}")
    [finding] = [f for f in lint(runner, text) if f["rule"] == "release-tag"]
    assert (finding["line"], finding["column"]) == at(text, location)
    assert f"has no tag `{tag}`" in finding["message"]
    assert f"did you mean `{nearest}`?" in finding["message"]
    # The hint gives the nearest release's own asset name.
    release = known_plugins()[repository.removeprefix("https://github.com/")]
    version = version_of(nearest)
    assert version is not None
    published = release.assets_for(version)
    assert published is not None
    assert finding["hint"].rsplit("/", 1)[1] in published.assets


def test_the_docs_sample_nginx_url_has_no_release(runner: Runner) -> None:
    # argo-rollouts docs/features/traffic-management/plugins.md L66 at v1.9.1.
    location = (
        "https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-sample-nginx"
        "/releases/download/v0.0.1/metric-plugin-linux-amd64"
    )
    text = values(f"- name: argoproj-labs/sample-nginx\n  location: {location}")
    [finding] = lint(runner, text)
    assert finding["rule"] == "release-tag"
    assert (finding["line"], finding["column"]) == at(text, location)
    assert "has no tags" in finding["message"]


def test_a_tag_newer_than_the_catalog_is_left_to_the_network(runner: Runner) -> None:
    for tag in ("v0.16.0", "v1.0.0-rc1"):
        location = f"{GATEWAYAPI}/releases/download/{tag}/gatewayapi-plugin-linux-amd64"
        assert (
            lint(runner, values(f"- name: argoproj-labs/gatewayAPI\n  location: {location}")) == []
        )


def test_fixed_location_is_built_from_the_parsed_url(runner: Runner) -> None:
    # The path as Go decodes it holds `0.4.0`; the text holds `0.4%2E0`.
    location = f"{GATEWAYAPI}/releases/download/0.4%2E0/gatewayapi-plugin-linux-amd64"
    [finding] = lint(runner, values(f"- name: argoproj-labs/gatewayAPI\n  location: {location}"))
    assert "did you mean `v0.4.0`?" in finding["message"]
    assert finding["hint"] == (
        f"location: {GATEWAYAPI}/releases/download/v0.4.0/gatewayapi-plugin-linux-amd64"
    )


# -- file:// plugins known by their image ---------------------------------------------------

GATEWAYAPI_IMAGE = "ghcr.io/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi"
GATEWAYAPI_BINARY = "/bin/rollouts-plugin-trafficrouter-gatewayapi"


def values_copying(name: str, image: str, key: str = "trafficRouterPlugins") -> str:
    """Chart values whose init container copies the gatewayapi binary from `image` into a
    volume the controller mounts at /plugins, as the plugin's docs/installation.md does."""
    return textwrap.dedent(f"""\
        controller:
          {key}:
            - name: {name}
              location: file:///plugins/rollouts-plugin-trafficrouter-gatewayapi
          initContainers:
            - name: copy-gatewayapi
              image: {image}
              command: ["/bin/sh", "-c"]
              args:
                - cp {GATEWAYAPI_BINARY} /plugins/
              volumeMounts:
                - name: plugins
                  mountPath: /plugins
          volumes:
            - name: plugins
              emptyDir: {{}}
          volumeMounts:
            - name: plugins
              mountPath: /plugins
        """)


def manifests_copying(key: str, name: str, image: str) -> str:
    """The ConfigMap and the controller's Deployment in one file, the Deployment first: an
    init container copies the binary from `image` into the plugin-bin volume."""
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: argo-rollouts
        spec:
          template:
            spec:
              initContainers:
                - name: copy-plugin
                  image: {image}
                  command:
                    - cp
                    - {GATEWAYAPI_BINARY}
                    - /home/argo-rollouts/plugin-bin/gatewayapi-src
                  volumeMounts:
                    - name: plugin-bin
                      mountPath: /home/argo-rollouts/plugin-bin
              containers:
                - name: argo-rollouts
                  image: quay.io/argoproj/argo-rollouts:v1.9.1
                  volumeMounts:
                    - name: plugin-bin
                      mountPath: /home/argo-rollouts/plugin-bin
              volumes:
                - name: plugin-bin
                  emptyDir: {{}}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: argo-rollouts-config
        data:
          {key}: |-
            - name: {name}
              location: file://./plugin-bin/gatewayapi-src
        """)


def test_values_init_container_image_names_the_plugin(runner: Runner) -> None:
    """The name the plugin reads and the image tag's format, for a file:// location whose
    file an init container copies from the plugin's image."""
    image = f"{GATEWAYAPI_IMAGE}:0.5.0"
    text = values_copying("argoproj-labs/gateway-api", image)
    name_finding, tag_finding = lint(runner, text)
    assert name_finding["rule"] == "plugin-config-name"
    assert (name_finding["line"], name_finding["column"]) == at(text, "argoproj-labs/gateway-api")
    assert name_finding["hint"].startswith("name: argoproj-labs/gatewayAPI")
    assert f"comes from its image `{image}` (line 7)" in name_finding["message"]
    assert tag_finding["rule"] == "release-tag" and tag_finding["severity"] == "error"
    assert (tag_finding["line"], tag_finding["column"]) == at(text, image)
    assert (tag_finding["end_line"], tag_finding["end_column"]) == (7, 14 + len(image))
    assert "its tags are `vX.Y.Z` (.github/workflows/docker-publish.yaml" in tag_finding["message"]
    assert "did you mean `v0.5.0`?" in tag_finding["message"]
    assert tag_finding["hint"] == f"image: {GATEWAYAPI_IMAGE}:v0.5.0"


def test_deployment_init_container_image_in_the_same_file(runner: Runner) -> None:
    """A raw Deployment of the controller and its ConfigMap: a traffic router listed as a
    metric plugin, and the image tag without its `v`."""
    image = f"{GATEWAYAPI_IMAGE}:0.15.0"
    text = manifests_copying("metricProviderPlugins", "argoproj-labs/gatewayAPI", image)
    tag_finding, list_finding = lint(runner, text)
    assert tag_finding["rule"] == "release-tag"
    assert (tag_finding["line"], tag_finding["column"]) == at(text, image)
    assert tag_finding["hint"] == f"image: {GATEWAYAPI_IMAGE}:v0.15.0"
    assert list_finding["rule"] == "wrong-plugin-list" and list_finding["severity"] == "error"
    location = "file://./plugin-bin/gatewayapi-src"
    assert (list_finding["line"], list_finding["column"]) == at(text, location)
    assert list_finding["hint"] == "move the entry to `trafficRouterPlugins`"
    assert (
        "`/home/argo-rollouts/plugin-bin/gatewayapi-src` comes from its image "
        f"`{image}` (line 10)" in list_finding["message"]
    )


def test_image_volume_mounted_into_the_controller(runner: Runner) -> None:
    """A Kubernetes image volume (volumes[].image.reference, k8s 1.31+): the image's files
    appear under the controller's mount path."""
    reference = "ghcr.io/argoproj-labs/rollouts-plugin-metric-ai:0.0.1"
    text = textwrap.dedent(f"""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: argo-rollouts-config
        data:
          metricProviderPlugins: |-
            - name: argoproj-labs/ai
              location: file:///plugin-image/home/argo-rollouts/rollouts-plugin-metric-ai
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: argo-rollouts
        spec:
          template:
            spec:
              containers:
                - name: controller
                  image: quay.io/argoproj/argo-rollouts:v1.9.1
                  volumeMounts:
                    - name: metric-ai
                      mountPath: /plugin-image
              volumes:
                - name: metric-ai
                  image:
                    reference: {reference}
                    pullPolicy: IfNotPresent
        """)
    name_finding, tag_finding = lint(runner, text)
    assert name_finding["rule"] == "plugin-config-name"
    assert (name_finding["line"], name_finding["column"]) == at(text, "argoproj-labs/ai")
    assert name_finding["hint"].startswith("name: argoproj-labs/metric-ai")
    assert tag_finding["rule"] == "release-tag"
    assert (tag_finding["line"], tag_finding["column"]) == at(text, reference)
    assert tag_finding["hint"] == (
        "reference: ghcr.io/argoproj-labs/rollouts-plugin-metric-ai:v0.0.1"
    )


def test_docker_hub_spellings_name_one_image(runner: Runner) -> None:
    """The consul plugin's README configures `argoproj-labs/consul` for a plugin that
    reads `hashicorp/consul`; its image is found however Docker Hub is spelled."""
    text = textwrap.dedent("""\
        controller:
          trafficRouterPlugins:
            - name: argoproj-labs/consul
              location: file:///plugin-bin/hashicorp/rollouts-plugin-trafficrouter-consul
          initContainers:
            - name: copy-consul-plugin
              image: docker.io/hashicorp/rollouts-plugin-trafficrouter-consul:latest
              command: ["/bin/sh", "-c"]
              args:
                - cp /bin/rollouts-plugin-trafficrouter-consul /plugin-bin/hashicorp
              volumeMounts:
                - name: consul-plugin
                  mountPath: /plugin-bin/hashicorp
          volumeMounts:
            - name: consul-plugin
              mountPath: /plugin-bin/hashicorp
        """)
    [finding] = lint(runner, text)
    assert finding["rule"] == "plugin-config-name"
    assert (finding["line"], finding["column"]) == at(text, "argoproj-labs/consul")
    assert finding["hint"].startswith("name: hashicorp/consul")


@pytest.mark.parametrize(
    "image",
    [
        f"{GATEWAYAPI_IMAGE}:v0.5.0",
        f"{GATEWAYAPI_IMAGE}:latest",
        f"{GATEWAYAPI_IMAGE}:main",
        f"{GATEWAYAPI_IMAGE}",
        f"{GATEWAYAPI_IMAGE}:0.5.0@sha256:{SHA}",
        f"'{GATEWAYAPI_IMAGE}:{{{{ .Values.tag }}}}'",
        "registry.example:5000/mirror/rollouts-plugin-trafficrouter-gatewayapi:0.5.0",
    ],
)
def test_image_tags_in_the_format_or_not_versions_are_left_alone(
    runner: Runner, image: str
) -> None:
    assert lint(runner, values_copying("argoproj-labs/gatewayAPI", image)) == []


def test_a_location_the_image_does_not_bring_recognises_nothing(runner: Runner) -> None:
    """The init container copies the plugin's image elsewhere: the location is not its
    file (file-location-unmounted says so), so no catalog rule judges it."""
    text = values_copying("argoproj-labs/gateway-api", f"{GATEWAYAPI_IMAGE}:0.5.0").replace(
        "file:///plugins/rollouts-plugin-trafficrouter-gatewayapi", "file:///plugins/other"
    )
    runner.write("config.yaml", text)
    _, report = runner.json("config.yaml")
    assert catalog_findings(report) == []
    assert "file-location-unmounted" in {f["rule"] for f in report["findings"]}


def test_a_deployment_of_another_program_mounts_nothing_for_the_controller(
    runner: Runner,
) -> None:
    text = (
        manifests_copying(
            "metricProviderPlugins", "argoproj-labs/gatewayAPI", f"{GATEWAYAPI_IMAGE}:0.15.0"
        )
        .replace("- name: argo-rollouts\n", "- name: web\n")
        .replace("quay.io/argoproj/argo-rollouts:v1.9.1", "nginx:1.27")
    )
    assert lint(runner, text) == []


@pytest.mark.parametrize(
    ("reference", "parts"),
    [
        ("ghcr.io/o/p:v1.0.0", ("ghcr.io/o/p", "v1.0.0", False)),
        ("localhost:5000/o/p", ("localhost:5000/o/p", None, False)),
        ("localhost:5000/o/p:1.0@sha256:ab", ("localhost:5000/o/p", "1.0", True)),
        ("p@sha256:ab", ("p", None, True)),
    ],
)
def test_an_image_reference_splits_at_the_tag_after_the_last_slash(
    reference: str, parts: tuple[str, str | None, bool]
) -> None:
    assert split_image(reference) == parts


def test_a_controller_built_into_another_image_may_hold_the_file_itself(
    runner: Runner,
) -> None:
    """metric-ai's Dockerfile builds a controller image with the plugin inside: the
    Deployment's mounts then do not say where the file can be."""
    text = manifests_copying(
        "trafficRouterPlugins", "argoproj-labs/gatewayAPI", f"{GATEWAYAPI_IMAGE}:v0.15.0"
    ).replace("quay.io/argoproj/argo-rollouts:v1.9.1", "registry.example/rollouts-custom:v1")
    text = text.replace("file://./plugin-bin/gatewayapi-src", "file:///opt/baked-in-plugin")
    runner.write("config.yaml", text)
    _, report = runner.json("config.yaml")
    assert {f["rule"] for f in report["findings"]} == {"file-location"}
    unmounted = text.replace(
        "registry.example/rollouts-custom:v1", "quay.io/argoproj/argo-rollouts:v1.9.1"
    )
    runner.write("config.yaml", unmounted)
    _, report = runner.json("config.yaml")
    [finding] = [f for f in report["findings"] if f["rule"] == "file-location-unmounted"]
    assert (finding["line"], finding["column"]) == at(unmounted, "file:///opt/baked-in-plugin")
