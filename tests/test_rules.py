"""Every static rule, at its exact line and column, in the containers people write."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from tests.conftest import SHA, Runner, at

GITHUB = "https://github.com/acme/plugin"  # no catalogued plugin: its rules stay out
GOOD = f"{GITHUB}/releases/download/v0.4.0/gatewayapi-plugin-linux-amd64"


def values(entries: str, key: str = "trafficRouterPlugins") -> str:
    body = textwrap.indent(textwrap.dedent(entries).strip("\n"), "    ")
    return f"controller:\n  replicas: 1\n  {key}:\n{body}\n"


def configmap(entries: str, key: str = "trafficRouterPlugins") -> str:
    body = textwrap.indent(textwrap.dedent(entries).strip("\n"), "    ")
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\n"
        f"data:\n  {key}: |-\n{body}\n"
    )


def found(report: dict, rule: str) -> list[tuple[int, int]]:
    return [(f["line"], f["column"]) for f in report["findings"] if f["rule"] == rule]


def only(report: dict, rule: str) -> dict:
    matches = [f for f in report["findings"] if f["rule"] == rule]
    assert len(matches) == 1, report["findings"]
    return matches[0]


CASES = [
    # (id, text, rule, token whose position the finding must have)
    (
        "name-no-namespace",
        values(f"- name: gatewayAPI\n  location: {GOOD}\n  sha256: {SHA}"),
        "name-format",
        "gatewayAPI",
    ),
    (
        "name-two-slashes",
        configmap(f"- name: a/b/c\n  location: {GOOD}\n  sha256: {SHA}"),
        "name-format",
        "a/b/c",
    ),
    (
        "name-dotdot",
        configmap(f"- name: a/..\n  location: {GOOD}\n  sha256: {SHA}"),
        "name-format",
        "a/..",
    ),
    (
        "name-space",
        configmap(f"- name: 'argoproj labs/x'\n  location: {GOOD}\n  sha256: {SHA}"),
        "name-format",
        "'argoproj labs/x'",
    ),
    ("unknown-url", values(f"- name: a/b\n  url: {GOOD}\n  sha256: {SHA}"), "unknown-field", "url"),
    (
        "unknown-sha265",
        values(f"- name: a/b\n  location: {GOOD}\n  sha265: {SHA}"),
        "unknown-field",
        "sha265",
    ),
    (
        "unknown-pluginLocation",
        configmap(f"- name: a/b\n  pluginLocation: {GOOD}"),
        "unknown-field",
        "pluginLocation",
    ),
    (
        "unknown-type",
        values(f"- name: a/b\n  location: {GOOD}\n  sha256: {SHA}\n  type: x"),
        "unknown-field",
        "type",
    ),
    (
        "case-folded-field",
        values(f"- name: a/b\n  Location: {GOOD}\n  sha256: {SHA}"),
        "unknown-field",
        "Location",
    ),
    ("missing-location", values("- name: a/b\n  sha256: " + SHA), "schema", "name"),
    (
        "disabled-string",
        configmap(f'- name: a/b\n  location: {GOOD}\n  disabled: "true"', key="stepPlugins"),
        "schema",
        '"true"',
    ),
    (
        "args-string",
        values(f"- name: a/b\n  location: {GOOD}\n  sha256: {SHA}\n  args: --x"),
        "schema",
        "--x",
    ),
    (
        "sha256-number",
        values(f"- name: a/b\n  location: {GOOD}\n  sha256: 1234e56"),
        "schema",
        "1234e56",
    ),
    (
        "duplicate-key",
        values(f"- name: a/b\n  location: {GOOD}\n  name: a/c\n  sha256: {SHA}"),
        "schema",
        "name: a/c",
    ),
    ("empty-location", values('- name: a/b\n  location: ""'), "location-format", '""'),
    ("null-location", values("- name: a/b\n  location:"), "location-format", "location"),
    (
        "leading-space",
        configmap(f'- name: a/b\n  location: " {GOOD}"\n  sha256: {SHA}'),
        "location-format",
        f'" {GOOD}"',
    ),
    (
        "bare-path",
        configmap("- name: a/b\n  location: /plugins/x"),
        "location-format",
        "/plugins/x",
    ),
    ("ftp-scheme", configmap("- name: a/b\n  location: ftp://h/x"), "location-format", "ftp://h/x"),
    (
        "opaque-file",
        configmap("- name: a/b\n  location: file:plugin"),
        "location-format",
        "file:plugin",
    ),
    (
        "file-localhost",
        configmap("- name: a/b\n  location: file://localhost/p/x"),
        "location-format",
        "file://localhost/p/x",
    ),
    (
        "file-onto-itself",
        configmap("- name: a/b\n  location: file://plugin-bin/a/b"),
        "location-format",
        "file://plugin-bin/a/b",
    ),
    (
        "fragment",
        configmap(f"- name: a/b\n  location: {GOOD}#x\n  sha256: {SHA}"),
        "location-format",
        GOOD,
    ),
    (
        "bad-port",
        configmap(f"- name: a/b\n  location: https://h:x/p\n  sha256: {SHA}"),
        "location-format",
        "https://h:x/p",
    ),
    (
        "http",
        configmap(
            f"- name: a/b\n  location: http://mirror.acme.test/x-linux-amd64\n  sha256: {SHA}"
        ),
        "insecure-location",
        "http://",
    ),
    (
        "credentials",
        configmap(f"- name: a/b\n  location: https://u:pw@h.org/x\n  sha256: {SHA}"),
        "credentials-in-url",
        "https://u:pw@",
    ),
    (
        "sha256-40",
        values(
            f"- name: a/b\n  location: {GOOD}\n  sha256: 08f588b1c799a37bbe8d0fc74cc1b1492dd70b2c"
        ),
        "sha256-format",
        "08f588b1",
    ),
    (
        "sha256-upper",
        values(f"- name: a/b\n  location: {GOOD}\n  sha256: '{SHA.upper()}'"),
        "sha256-format",
        f"'{SHA.upper()}'",
    ),
    ("missing-sha256", values(f"- name: a/b\n  location: {GOOD}"), "missing-sha256", GOOD),
    (
        "latest",
        values(
            f"- name: a/b\n  location: {GITHUB}/releases/latest/download/x-linux-amd64"
            f"\n  sha256: {SHA}"
        ),
        "unpinned-location",
        GITHUB,
    ),
    (
        "raw-main",
        values(
            "- name: a/b\n  location: https://raw.githubusercontent.com/o/r/main/"
            f"bin/x\n  sha256: {SHA}"
        ),
        "unpinned-location",
        "https://raw",
    ),
    (
        "blob",
        values(f"- name: a/b\n  location: {GITHUB}/blob/v1/bin/x\n  sha256: {SHA}"),
        "not-a-download-url",
        GITHUB,
    ),
    (
        "release-tag-page",
        values(f"- name: a/b\n  location: {GITHUB}/releases/tag/v0.4.0\n  sha256: {SHA}"),
        "not-a-download-url",
        GITHUB,
    ),
    (
        "darwin",
        values(
            f"- name: a/b\n  location: {GITHUB}/releases/download/v0.4.0/"
            f"gatewayapi-plugin-darwin-arm64\n  sha256: {SHA}"
        ),
        "platform-mismatch",
        GITHUB,
    ),
    (
        "windows-exe",
        values(
            f"- name: a/b\n  location: {GITHUB}/releases/download/v0.4.0/"
            f"gatewayapi-plugin-windows-amd64.exe\n  sha256: {SHA}"
        ),
        "platform-mismatch",
        GITHUB,
    ),
    (
        "arm64-on-amd64",
        configmap("- name: a/b\n  location: file:///plugins/x-linux-aarch64"),
        "platform-mismatch",
        "file:///plugins",
    ),
    (
        "tarball",
        values(
            f"- name: a/b\n  location: {GITHUB}/releases/download/v1/x_linux_amd64"
            f".tar.gz\n  sha256: {SHA}"
        ),
        "archive",
        GITHUB,
    ),
    (
        "file-note",
        configmap("- name: a/b\n  location: file://./bin/x"),
        "file-location",
        "file://./bin/x",
    ),
    (
        "disabled-traffic",
        values(f"- name: a/b\n  location: {GOOD}\n  sha256: {SHA}\n  disabled: true"),
        "disabled-ignored",
        "disabled",
    ),
    (
        "item-not-mapping",
        values("- argoproj-labs/gatewayAPI"),
        "plugin-list-shape",
        "argoproj-labs/gatewayAPI",
    ),
]


@pytest.mark.parametrize(
    ("text", "rule", "token"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_position(runner: Runner, text: str, rule: str, token: str) -> None:
    runner.write("config.yaml", text)
    _, report = runner.json("config.yaml")
    assert found(report, rule) == [at(text, token)], report["findings"]


def test_clean_entries_have_no_findings(runner: Runner) -> None:
    text = values(f"- name: argoproj-labs/gatewayAPI\n  location: {GOOD}\n  sha256: {SHA}")
    runner.write("values.yaml", text)
    code, report = runner.json("values.yaml")
    assert code == 0
    # offline without a cache, only the note that the download was not checked
    assert [f["rule"] for f in report["findings"]] == ["not-verified"]
    assert [p["name"] for p in report["plugins"]] == ["argoproj-labs/gatewayAPI"]


def test_duplicate_name_across_lists_of_one_configmap(runner: Runner) -> None:
    text = (
        "kind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
        "  trafficRouterPlugins: |-\n"
        f"    - name: a/b\n      location: {GOOD}\n      sha256: {SHA}\n"
        "  stepPlugins: |-\n"
        f"    - name: a/c\n      location: {GOOD}\n      sha256: {SHA}\n"
        f"    - name: a/b\n      location: {GOOD}\n      sha256: {SHA}\n"
    )
    runner.write("cm.yaml", text)
    _, report = runner.json("cm.yaml")
    finding = only(report, "duplicate-name")
    assert (finding["line"], finding["column"]) == at(text, "name: a/b", 2)
    assert "line 6, in trafficRouterPlugins" in finding["message"]


def test_same_name_in_two_files_is_no_duplicate(runner: Runner) -> None:
    entry = f"- name: a/b\n  location: {GOOD}\n  sha256: {SHA}"
    runner.write("one.yaml", values(entry))
    runner.write("two.yaml", values(entry))
    _, report = runner.json(".")
    assert found(report, "duplicate-name") == []


def test_disabled_is_fine_on_step_plugins(runner: Runner) -> None:
    text = values(
        f"- name: a/b\n  location: {GOOD}\n  sha256: {SHA}\n  disabled: yes", key="stepPlugins"
    )
    runner.write("values.yaml", text)
    code, report = runner.json("values.yaml")
    assert [f["rule"] for f in report["findings"]] == ["not-verified"] and code == 0


def test_args_number_is_a_warning_not_an_error(runner: Runner) -> None:
    text = values(f"- name: a/b\n  location: {GOOD}\n  sha256: {SHA}\n  args: [--port, 8080]")
    runner.write("values.yaml", text)
    code, report = runner.json("values.yaml")
    finding = only(report, "schema")
    assert finding["severity"] == "warning" and (finding["line"], finding["column"]) == at(
        text, "8080"
    )
    assert code == 0


def test_platform_flag_accepts_arm64_assets(runner: Runner) -> None:
    text = values(
        f"- name: a/b\n  location: {GITHUB}/releases/download/v1/p-linux-arm64\n  sha256: {SHA}"
    )
    runner.write("values.yaml", text)
    _, default = runner.json("values.yaml")
    assert found(default, "platform-mismatch")
    assert "p-linux-amd64" in only(default, "platform-mismatch")["hint"]
    _, arm = runner.json("--platform", "linux/arm64", "values.yaml")
    assert found(arm, "platform-mismatch") == []


def test_unknown_field_suggests_the_field(runner: Runner) -> None:
    runner.write("values.yaml", values(f"- name: a/b\n  pluginLocation: {GOOD}"))
    _, report = runner.json("values.yaml")
    finding = only(report, "unknown-field")
    assert "did you mean `location`?" in finding["message"]
    assert finding["hint"] == "rename `pluginLocation` to `location`"


def test_docs_sha1_example_is_explained(runner: Runner) -> None:
    runner.write(
        "values.yaml",
        values(
            f"- name: a/b\n  location: {GOOD}\n  sha256: 08f588b1c799a37bbe8d0fc74cc1b1492dd70b2c"
        ),
    )
    _, report = runner.json("values.yaml")
    assert "SHA-1" in only(report, "sha256-format")["message"]


def test_empty_sha256_is_no_digest_for_the_controller(runner: Runner) -> None:
    # downloader.go (v1.9.1) checks sha256 only when it is non-empty: nothing can fail.
    text = values(f'- name: a/b\n  location: {GOOD}\n  sha256: ""')
    runner.write("values.yaml", text)
    code, report = runner.json("values.yaml")
    # Offline without a cache, the download itself is only noted as not verified.
    assert [(f["rule"], f["severity"]) for f in report["findings"]] == [
        ("missing-sha256", "warning"),
        ("not-verified", "note"),
    ]
    assert "`sha256` is empty" in report["findings"][0]["message"]
    assert code == 0


@pytest.mark.parametrize("digest", [SHA, "not-a-digest", "'ABC'"])
def test_sha256_on_a_file_location_is_one_warning_that_it_is_ignored(
    runner: Runner, digest: str
) -> None:
    text = configmap(f"- name: a/b\n  location: file:///plugins/x\n  sha256: {digest}")
    runner.write("cm.yaml", text)
    code, report = runner.json("cm.yaml")
    assert [(f["rule"], f["severity"], f["line"], f["column"]) for f in report["findings"]] == [
        ("file-location", "note", *at(text, "file:///plugins/x")),
        ("sha256-ignored", "warning", *at(text, "sha256")),
    ]
    assert "sha256" not in report["findings"][0]["message"]
    assert code == 0


@pytest.mark.parametrize(
    ("field", "value", "controller"),
    [
        ("disabled", '"true"', "v1.7.2"),
        ("headersFrom", "[{secretRef: x}]", "v1.7.2"),
        ("args", "--x", "v1.6.6"),
    ],
)
def test_fields_the_controller_lacks_are_ignored_not_errors(
    runner: Runner, field: str, value: str, controller: str
) -> None:
    # v1.7.x PluginItem has no disabled/headersFrom, v1.5-1.6 no args (types.go at each tag):
    # encoding/json drops the field, so whatever it holds cannot fail.
    text = configmap(f"- name: a/b\n  location: {GOOD}\n  sha256: {SHA}\n  {field}: {value}")
    runner.write("cm.yaml", text)
    _, report = runner.json("--controller-version", controller, "cm.yaml")
    found_here = [(f["rule"], f["severity"]) for f in report["findings"]
                  if f["line"] == at(text, field)[0]]  # fmt: skip
    assert found_here == [("version-gate", "warning")], report["findings"]
    _, newest = runner.json("--controller-version", "v1.9.1", "cm.yaml")
    assert "schema" in {f["rule"] for f in newest["findings"]}


def test_a_file_entry_sha256_that_cannot_be_decoded_is_still_an_error(runner: Runner) -> None:
    # Ignored for file:// means never compared; a list still fails to decode into a string.
    text = configmap("- name: a/b\n  location: file:///plugins/x\n  sha256: [a]")
    runner.write("cm.yaml", text)
    _, report = runner.json("cm.yaml")
    assert {f["rule"] for f in report["findings"]} == {"file-location", "schema", "sha256-ignored"}


def findings_at(report: dict) -> list[tuple[str, str, int, int]]:
    return [(f["rule"], f["severity"], f["line"], f["column"]) for f in report["findings"]]


@pytest.mark.parametrize("port", ["70000", "65536", "99999999999999999999", "0000070000"])
def test_a_port_no_socket_can_have_is_a_location_error(runner: Runner, port: str) -> None:
    # url.ParseRequestURI takes any digits; the dial refuses (net.LookupPort: 0..65535).
    location = f"https://plugins.acme.io:{port}/p-linux-amd64"
    text = configmap(f"- name: a/b\n  location: {location}\n  sha256: {SHA}")
    runner.write("cm.yaml", text)
    code, report = runner.json("cm.yaml")
    assert findings_at(report) == [("location-format", "error", *at(text, location))]
    assert f"`dial tcp: address {port}: invalid port`" in report["findings"][0]["message"]
    assert code == 1


@pytest.mark.parametrize("port", ["65535", "000443", ""])
def test_a_port_a_socket_can_have_is_fine(runner: Runner, port: str) -> None:
    text = configmap(f"- name: a/b\n  location: https://plugins.acme.io:{port}/p\n  sha256: {SHA}")
    runner.write("cm.yaml", text)
    _, report = runner.json("cm.yaml")
    assert found(report, "location-format") == []


@pytest.mark.parametrize(
    ("location", "source"),
    [
        ("file://", "/home/argo-rollouts"),
        ("file:///", "/"),
        ("file:///tmp", "/tmp"),
        ("file:////tmp/", "/tmp"),  # Go's filepath.Clean: one leading slash
        ("file://plugin-bin", "/home/argo-rollouts/plugin-bin"),
        ("file:///home/argo-rollouts/plugin-bin/a", "/home/argo-rollouts/plugin-bin/a"),
    ],
)
def test_a_directory_source_is_one_error(runner: Runner, location: str, source: str) -> None:
    # The controller's mounts are known here, so main also called `/` unmounted.
    text = (
        "controller:\n  volumeMounts:\n    - {name: plugins, mountPath: /plugins}\n"
        f"  trafficRouterPlugins:\n    - name: a/b\n      location: {location}\n"
    )
    runner.write("values.yaml", text)
    code, report = runner.json("values.yaml")
    assert findings_at(report) == [("location-format", "error", *at(text, location))]
    assert (
        f"`failed to copy plugin from {source} to /home/argo-rollouts/plugin-bin/a/b: {source} "
        "is not a regular file`" in report["findings"][0]["message"]
    )
    assert code == 1


def test_a_plugin_folder_is_a_directory_once_the_controller_made_it(runner: Runner) -> None:
    # DownloadPlugins walks trafficRouter, metricProvider, then step plugins (config.go,
    # v1.9.1) and makes each entry's plugin-bin/<namespace> before copying it.
    made = "file:///home/argo-rollouts/plugin-bin/zed"
    later = "file:///home/argo-rollouts/plugin-bin/late"
    text = (
        "kind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\ndata:\n"
        "  stepPlugins: |-\n"
        f"    - name: q/a\n      location: {made}\n"
        f"    - name: q/b\n      location: {later}\n"
        "    - name: late/c\n      location: file:///plugins/c\n"
        "  trafficRouterPlugins: |-\n"
        "    - name: zed/t\n      location: file:///plugins/t\n"
    )
    runner.write("cm.yaml", text)
    _, report = runner.json("cm.yaml")
    assert found(report, "location-format") == [at(text, made)]
    assert at(text, later) in found(report, "file-location")


@pytest.mark.parametrize(
    ("value", "decodes"),
    [("[{secretRef: {name: token}}]", True), ("[{secretRef: {}}]", True), ("x", False)],
)
def test_headers_on_a_file_location_are_one_warning_that_they_are_ignored(
    runner: Runner, value: str, decodes: bool
) -> None:
    text = configmap(f"- name: a/b\n  location: file:///plugins/x\n  headersFrom: {value}")
    runner.write("cm.yaml", text)
    code, report = runner.json("cm.yaml")
    expected = [
        ("file-location", "note", *at(text, "file:///plugins/x")),
        ("headers-ignored", "warning", *at(text, "headersFrom")),
    ]
    if not decodes:  # never used, but a string still cannot fill a list
        expected.append(("schema", "error", *at(text, value, 2)))
    assert findings_at(report) == expected
    assert code == (0 if decodes else 1)
    # A controller without headersFrom drops the field: only the version gate says so.
    _, old = runner.json("--controller-version", "v1.7.2", "cm.yaml")
    assert [f["rule"] for f in old["findings"]] == ["file-location", "version-gate"]


@pytest.mark.parametrize("container", [values, configmap])
def test_a_block_scalar_digest_keeps_its_line_break(runner: Runner, container: Any) -> None:
    # `sha256: |` is the digest plus "\n": 65 characters, which checkShaOfPlugin never matches.
    # (Not last in the entry: at the end of a `|-` ConfigMap string there is no line break.)
    text = container(f"- name: a/b\n  sha256: |\n    {SHA}\n  location: {GOOD}")
    runner.write("config.yaml", text)
    code, report = runner.json("config.yaml")
    finding = only(report, "sha256-format")
    line, column = at(text, "sha256: |")
    assert (finding["line"], finding["column"]) == (line, column + len("sha256: "))
    assert finding["hint"] == f'sha256: "{SHA}"'
    assert code == 1


def test_sha256_pattern_is_exact_on_both_schema_paths() -> None:
    from rollouts_plugin_lint.checks.schema import _validator, _verdict, entry_schema

    digest = entry_schema()["properties"]["sha256"]
    for value in (SHA, SHA + "\n", SHA + "\r\n", SHA.upper(), SHA[:-1], " " + SHA):
        valid = _validator().evolve(schema=digest).is_valid(value)
        assert _verdict(value, digest) is valid is (value == SHA), repr(value)


def test_an_unquoted_number_digest_is_never_a_digest(runner: Runner) -> None:
    text = configmap(f"- name: a/b\n  location: {GOOD}\n  sha256: 12345")
    runner.write("cm.yaml", text)
    _, report = runner.json("cm.yaml")
    assert found(report, "schema") == found(report, "sha256-format") == [at(text, "12345")]
    assert "5 characters" in only(report, "sha256-format")["message"]
