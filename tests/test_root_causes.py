"""One finding per root cause (checks/causes.py): each case is a real file with one mistake
that used to be reported two or more times, checked at its exact rule, line and column."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from rollouts_plugin_lint.inspect.handshake import COOKIE_KEY, COOKIES
from rollouts_plugin_lint.model import PluginKind
from tests.conftest import Runner, at
from tests.servers import respond, serving

GITHUB = "https://github.com/acme/plugin"  # no catalogued plugin: its rules stay out
GOOD = f"{GITHUB}/releases/download/v0.4.0/gatewayapi-plugin-linux-amd64"


def values(entries: str) -> str:
    body = textwrap.indent(textwrap.dedent(entries).strip("\n"), "    ")
    return f"controller:\n  trafficRouterPlugins:\n{body}\n"


def configmap(entries: str) -> str:
    body = textwrap.indent(textwrap.dedent(entries).strip("\n"), "    ")
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\n"
        f"data:\n  trafficRouterPlugins: |-\n{body}\n"
    )


def findings(report: dict[str, Any], *ignored: str) -> list[tuple[str, int, int]]:
    return [
        (f["rule"], f["line"], f["column"]) for f in report["findings"] if f["rule"] not in ignored
    ]


def test_a_location_that_must_change_is_not_also_asked_for_a_digest(runner: Runner) -> None:
    page = f"{GITHUB}/releases/tag/v0.4.0"
    secret = GOOD.replace("https://", "https://user:ghp_example@")
    text = values(f"- name: a/page\n  location: {page}\n- name: a/secret\n  location: {secret}")
    runner.write("values.yaml", text)

    _, report = runner.json("values.yaml")

    assert findings(report, "not-verified") == [
        ("not-a-download-url", *at(text, page)),
        ("credentials-in-url", *at(text, secret)),
    ]


def test_a_right_location_is_still_asked_for_a_digest(runner: Runner) -> None:
    text = values(f"- name: a/b\n  location: {GOOD}")
    runner.write("values.yaml", text)

    _, report = runner.json("values.yaml")

    assert findings(report, "not-verified") == [("missing-sha256", *at(text, GOOD))]


def test_a_cause_the_policy_turns_off_hides_nothing(runner: Runner) -> None:
    darwin = GOOD.replace("linux-amd64", "darwin-arm64")
    text = values(f"- name: a/b\n  location: {darwin}")
    runner.write("values.yaml", text)
    runner.write(".rollouts-plugin-lint.yaml", "severity:\n  platform-mismatch: off\n")

    _, report = runner.json("values.yaml")

    assert findings(report, "not-verified") == [("missing-sha256", *at(text, darwin))]


def test_a_failed_download_is_not_also_asked_for_a_digest(runner: Runner) -> None:
    with serving(lambda conn, _request: respond(conn, 404, b"Not Found")) as server:
        location = server.url("/gone-linux-amd64")
        text = values(f"- name: a/gone\n  location: {location}")
        runner.write("values.yaml", text)
        code, out, err = runner.run(
            "--format", "json", "--allow-private-addresses", "--no-cache", "--timeout", "5",
            "--controller-version", "1.7.0", "values.yaml",
        )  # fmt: skip
    assert code == 1, err
    # insecure-location is another cause (plain http), so it stays; the v1.7 note that the
    # controller does not check the status is what download-failed itself says.
    assert findings(json.loads(out)) == [
        ("download-failed", *at(text, location)),
        ("insecure-location", *at(text, location)),
    ]


def test_a_misspelled_location_key_is_one_finding(runner: Runner) -> None:
    text = values(f"- name: a/b\n  pluginLocation: {GOOD}")
    runner.write("values.yaml", text)

    _, report = runner.json("values.yaml")

    assert findings(report) == [("unknown-field", *at(text, "pluginLocation"))]
    assert "so the plugin has no location and start-up fails" in report["findings"][0]["message"]


def test_a_misspelled_name_key_is_one_finding_and_a_missing_location_stays(
    runner: Runner,
) -> None:
    text = values("- pluginName: a/b\n  comment: no location at all")
    runner.write("values.yaml", text)

    _, report = runner.json("values.yaml")

    item = at(text, "pluginName")
    # `comment` stands for no field: the entry still has no location, and says so.
    assert sorted(findings(report)) == sorted(
        [
            ("schema", *item),
            ("unknown-field", *at(text, "comment")),
            ("unknown-field", *item),
        ]
    )
    (schema,) = (f for f in report["findings"] if f["rule"] == "schema")
    assert "no `location`" in schema["message"]


def test_version_notes_come_once_per_configuration(runner: Runner) -> None:
    other = GOOD.replace("v0.4.0", "v0.5.0")
    entries = f"- name: a/one\n  location: {GOOD}\n- name: a/two\n  location: {other}"
    first = configmap(entries)
    text = f"{first}---\n{configmap(entries)}"
    runner.write("configmaps.yaml", text)

    _, report = runner.json("--controller-version", "1.7.0", "configmaps.yaml")

    second_document = len(first) + len("---\n")
    second = text.index(GOOD, second_document)
    second_line = text.count("\n", 0, second) + 1
    second_column = second - text.rfind("\n", 0, second)
    notes = [(f["line"], f["column"]) for f in report["findings"] if f["rule"] == "version-gate"]
    assert notes == [at(text, GOOD), (second_line, second_column)]


KIND_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The plugin map key a traffic router registers: what the binary scan looks for. */
const char marker[] __attribute__((used)) = "RpcTrafficRouterPlugin";

int main(void) {
    const char *cookie = getenv(COOKIE_KEY);
    if (!cookie || strcmp(cookie, COOKIE) != 0) {
        fputs("This binary is a plugin. These are not meant to be executed directly.\n"
              "Please execute the program that consumes these plugins, which will\n"
              "load any plugins automatically\n", stderr);
        return 1;
    }
    const char *dir = getenv("PLUGIN_UNIX_SOCKET_DIR");
    printf("1|1|unix|%s/plugin42|netrpc|\n", dir ? dir : "/tmp");
    fflush(stdout);
    for (;;) pause();
}
"""


@pytest.fixture(scope="module")
def traffic_router(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    gcc = shutil.which("gcc")
    if gcc is None or not sys.platform.startswith("linux"):
        pytest.skip("needs gcc on Linux: the handshake probe runs a real binary")
    binary = tmp_path_factory.mktemp("kind") / "router"
    built = subprocess.run(
        [
            gcc, "-O1", "-w", "-static", f'-DCOOKIE_KEY="{COOKIE_KEY}"',
            f'-DCOOKIE="{COOKIES[PluginKind.TRAFFIC_ROUTER]}"', "-x", "c", "-o", str(binary), "-",
        ],
        input=KIND_PROGRAM.encode(), capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    if built.returncode != 0:
        pytest.skip(f"gcc cannot link statically here: {built.stderr.decode()[-200:]}")
    return binary.read_bytes()


def test_the_handshake_does_not_repeat_the_scans_kind_mismatch(
    runner: Runner, traffic_router: bytes, tmp_path: Path
) -> None:
    with serving(lambda conn, _request: respond(conn, 200, traffic_router)) as server:
        location = server.url("/router-linux-amd64")
        text = (
            "controller:\n  metricProviderPlugins:\n"
            f"    - name: a/router\n      location: {location}\n"
        )
        runner.write("values.yaml", text)
        code, out, err = runner.run(
            "--format", "json", "--allow-private-addresses", "--no-cache", "--timeout", "10",
            "--handshake", "-v", "values.yaml",
        )  # fmt: skip
    assert code == 1, err
    # -v says what the probe saw and what contained it.
    (proven,) = [line for line in err.splitlines() if "a/router (metricProviderPlugins)" in line]
    assert "plugin kind traffic router" in proven
    assert "; handshake wrong-cookie, contained by " in proven
    report = json.loads(out)
    assert findings(report, "missing-sha256", "insecure-location") == [
        ("plugin-kind-mismatch", *at(text, location))
    ]
    (mismatch,) = (f for f in report["findings"] if f["rule"] == "plugin-kind-mismatch")
    assert mismatch["message"].startswith("the binary is a traffic router plugin")
