"""Decode data values with the controller's code (a Go program of ours built against
sigs.k8s.io/yaml) and with our reader, and compare them case by case."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from rollouts_plugin_lint.checks.schema import check_schema
from rollouts_plugin_lint.extract import extract_text
from rollouts_plugin_lint.gostrings import go_string

SOURCE = Path(__file__).with_name("decode") / "main.go"
# GOPATH mode over Debian's golang-k8s-sigs-yaml-dev (and golang-gopkg-yaml.v2-dev): nothing
# reaches the module proxy, and no configuration of the environment or repository applies.
GOPATH = Path("/usr/share/gocode")
SIGS_YAML = GOPATH / "src" / "sigs.k8s.io" / "yaml" / "yaml.go"
BUILD_LIMIT_SECONDS = 600
RUN_LIMIT_SECONDS = 600


def missing_toolchain() -> str | None:
    """Why the Go side cannot be built here, or None."""
    if shutil.which("go") is None:
        return "no `go` on PATH (apt-get install golang-go golang-k8s-sigs-yaml-dev)"
    if not SIGS_YAML.is_file():
        return f"no sigs.k8s.io/yaml sources at {SIGS_YAML} (golang-k8s-sigs-yaml-dev)"
    return None


def build(directory: Path) -> Path:
    binary = directory / "decode"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(directory),
        "GOENV": "off",
        "GO111MODULE": "off",
        "GOPATH": str(GOPATH),
        "GOCACHE": str(directory / "cache"),
        "GOFLAGS": "",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }
    subprocess.run(
        ["go", "build", "-o", str(binary), str(SOURCE)],
        env=environment,
        cwd=directory,
        check=True,
        capture_output=True,
        timeout=BUILD_LIMIT_SECONDS,
    )
    return binary


def run_go(binary: Path, requests: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
    lines = "".join(json.dumps(request) + "\n" for request in requests)
    done = subprocess.run(
        [str(binary)],
        input=lines.encode(),
        capture_output=True,
        check=True,
        timeout=RUN_LIMIT_SECONDS,
        env={"PATH": "/usr/bin:/bin"},
    )
    answers = [json.loads(line) for line in done.stdout.decode().split("\n") if line]
    return {answer["id"]: answer for answer in answers}


@dataclass(frozen=True)
class Verdict:
    """What a reader makes of one data value: refused, or the entries it decodes."""

    error: str | None
    items: tuple[str, ...] = ()

    @property
    def refused(self) -> bool:
        return self.error is not None


def go_verdict(answer: dict[str, Any]) -> Verdict:
    if answer["error"] is not None:
        return Verdict(answer["error"])
    items = answer.get("items") or ()
    return Verdict(None, tuple(_canonical(_without_type(item)) for item in items))


def _without_type(item: dict[str, Any]) -> dict[str, Any]:
    # utils/config/config.go overwrites Type with the list's type after decoding.
    return {key: value for key, value in item.items() if key != "Type"}


def our_verdict(data: str) -> Verdict:
    """Our reader on an argo-rollouts-config ConfigMap whose trafficRouterPlugins holds
    `data`: refused when the walker or the schema says the controller fails to decode."""
    text = _configmap(data)
    result = extract_text("argo-rollouts-config.json", text)
    for finding in result.findings:
        if finding.rule in ("yaml-syntax", "plugin-list-shape"):
            return Verdict(f"{finding.rule}: {finding.message}")
    items = []
    for entry in result.entries:
        for finding in check_schema(entry):
            if "cannot unmarshal" in finding.message:
                return Verdict(f"{finding.rule}: {finding.message}")
        items.append(_canonical(_as_go(entry.value)))
    return Verdict(None, tuple(items))


def _configmap(data: str) -> str:
    """The value as a JSON string, with the line breaks YAML 1.1 folds written as escapes."""
    document = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argo-rollouts-config"},
        "data": {"trafficRouterPlugins": data},
    }
    text = json.dumps(document, ensure_ascii=False)
    return text.replace("\x85", "\\N").replace("\u2028", "\\L").replace("\u2029", "\\P")


def _as_go(value: Any) -> dict[str, Any]:
    """An entry's value as Go's PluginItem would hold it."""

    def text(scalar: Any) -> str:
        if scalar is None:
            return ""
        return go_string(scalar) if isinstance(scalar, (bool, int, float)) else str(scalar)

    args = value.get("args")
    headers = value.get("headersFrom")
    return {
        "name": text(value.get("name")),
        "location": text(value.get("location")),
        "sha256": text(value.get("sha256")),
        "disabled": bool(value.get("disabled") or False),
        "args": None if args is None else [text(arg) for arg in args],
        "headersFrom": None
        if headers is None
        else [
            {"secretRef": {"name": text((header.get("secretRef") or {}).get("name"))}}
            for header in headers
        ],
    }


def _canonical(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    data: str


@dataclass
class Tally:
    cases: Counter[str]
    agree: Counter[str]
    disagreements: list[tuple[Case, Verdict, Verdict]]

    def summary(self) -> str:
        rows = [
            f"{family}: {self.agree[family]}/{count} agree"
            for family, count in sorted(self.cases.items())
        ]
        total = sum(self.cases.values())
        return f"{sum(self.agree.values())}/{total} agree (" + "; ".join(rows) + ")"


def compare(cases: list[Case], answers: dict[str, dict[str, Any]]) -> Tally:
    tally = Tally(Counter(), Counter(), [])
    for case in cases:
        theirs = go_verdict(answers[case.id])
        ours = our_verdict(case.data)
        tally.cases[case.family] += 1
        same = theirs.refused == ours.refused and theirs.items == ours.items
        if same:
            tally.agree[case.family] += 1
        else:
            tally.disagreements.append((case, theirs, ours))
    return tally


def go_url_verdict(answer: dict[str, Any]) -> tuple[bool, tuple[str, ...]]:
    """Refused or not, and (scheme, host, path, opaque) of what was parsed."""
    if answer["error"] is not None:
        return True, ()
    url = answer["url"]
    return False, (url["scheme"], url["host"], url["path"], url["opaque"])


def our_url_verdict(raw: str) -> tuple[bool, tuple[str, ...]]:
    from rollouts_plugin_lint.checks.locations import LocationError, parse_request_uri

    try:
        location = parse_request_uri(raw)
    except LocationError:
        return True, ()
    # Go keeps the host unescaped; we keep it as written.
    return False, (location.scheme, unquote(location.host), location.path, location.opaque)
