"""The corpus files whose mistake is a URL that answers 404, replayed against a fake
GitHub on 127.0.0.1 that knows the real release and asset names (FACTS.md section 7):
the gatewayapi assets were `gateway-api-plugin-*` up to v0.3.0 and `gatewayapi-plugin-*`
from v0.4.0; the cilium plugin repository and the misspelled repository do not exist."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

import pytest

from tests.conftest import CORPUS, Runner, requires_corpus
from tests.inspect_fixtures import elf_with_inline_buildinfo
from tests.servers import Request, respond, serving

GATEWAY = "argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi"
PLATFORMS = ["linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64", "windows-amd64.exe"]
TAGS = ["v0.0.0-rc1", *(f"v0.{minor}.0" for minor in range(17))]


def _assets(tag: str) -> list[str]:
    prefix = (
        "gateway-api-plugin"
        if tag in ("v0.0.0-rc1", "v0.1.0", "v0.2.0", "v0.3.0")
        else ("gatewayapi-plugin")
    )
    return [f"{prefix}-{platform}" for platform in PLATFORMS]


RELEASES = {GATEWAY: {tag: _assets(tag) for tag in TAGS}}
BINARY = {arch: elf_with_inline_buildinfo(machine=m) for arch, m in (("amd64", 62), ("arm64", 183))}


def fake_github(conn: socket.socket, request: Request) -> None:
    api = re.fullmatch(r"/api/repos/([^/]+/[^/]+)(/releases.*)?", request.target.split("?")[0])
    if api:
        repo = api.group(1)
        if repo not in RELEASES:
            respond(conn, 404, b'{"message":"Not Found"}', {"Content-Type": "application/json"})
            return
        listing = [
            {"tag_name": tag, "draft": False, "assets": [{"name": name} for name in assets]}
            for tag, assets in reversed(RELEASES[repo].items())
        ]
        respond(conn, 200, json.dumps(listing).encode(), {"Content-Type": "application/json"})
        return
    download = re.fullmatch(r"/([^/]+/[^/]+)/releases/download/([^/]+)/([^/]+)", request.target)
    if download and download.group(3) in RELEASES.get(download.group(1), {}).get(
        download.group(2), []
    ):
        arch = "arm64" if "arm64" in download.group(3) else "amd64"
        respond(conn, 200, BINARY[arch], {"Content-Type": "application/octet-stream"})
        return
    respond(conn, 404, b"Not Found", {"Content-Type": "text/plain; charset=utf-8"})


def replay(runner: Runner, monkeypatch: pytest.MonkeyPatch, name: str) -> list[dict[str, Any]]:
    with serving(fake_github) as server:
        base = f"http://127.0.0.1:{server.port}"
        monkeypatch.setenv("GITHUB_SERVER_URL", base)
        monkeypatch.setenv("GITHUB_API_URL", f"{base}/api")
        text = (CORPUS / name).read_text(encoding="utf-8")
        runner.write("config.yaml", text.replace("https://github.com/", f"{base}/"))
        code, out, err = runner.run(
            "--format", "json", "--allow-private-addresses", "--no-cache", "--timeout", "5",
            "config.yaml",
        )  # fmt: skip
    assert code in (0, 1), err
    findings: list[dict[str, Any]] = json.loads(out)["findings"]
    return findings


REPLAYS = [
    # The asset was renamed at v0.4.0; these URLs keep the old name.
    ("rohitpotato__k8s-apps__argo-rollouts__config.yaml", 9,
     "did you mean `gatewayapi-plugin-linux-amd64`?"),
    ("Itamar-Ratson__devsecops__helm__argo-rollouts__values@ea1f8c2.yaml", 23,
     "did you mean `gatewayapi-plugin-linux-amd64`?"),
    ("angelenriquep__infra-k3s__argocd__applications__argo-rollouts@a55e94a.yaml", 29,
     "did you mean `gatewayapi-plugin-linux-amd64`?"),
    ("MYanello__gateway-api-argo__argo__gw-clusterrole.yaml", 9,
     "did you mean `gatewayapi-plugin-linux-arm64`?"),
    # An underscore where the asset has a dash.
    ("sumicare__opentofu-kubernetes-modules__packages__gitops-argo-rollouts__scripts__values"
     ".yaml", 254, "did you mean `gatewayapi-plugin-linux-amd64`?"),
    # A repository path missing `plugin-`.
    ("hanazzang__BABAMBA-gitops__platform__argo-rollouts__values@078efed.yaml", 8,
     "does not exist, or it is private"),
    # The plugin repository that never existed: 21 days of crash loop.
    ("derio-net__frank__apps__argo-rollouts-extras__manifests__plugin-config.yaml", 12,
     "does not exist, or it is private"),
]  # fmt: skip


@requires_corpus
@pytest.mark.parametrize(("name", "line", "explanation"), REPLAYS, ids=lambda v: str(v)[:40])
def test_404_mistakes_are_explained(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, name: str, line: int, explanation: str
) -> None:
    findings = replay(runner, monkeypatch, name)
    failed = [f for f in findings if f["rule"] == "download-failed"]
    assert [f["line"] for f in failed] == [line]
    assert "404 Not Found" in failed[0]["message"]
    assert explanation in failed[0]["message"]


@requires_corpus
@pytest.mark.parametrize(
    "name",
    [
        "Alt3rius__argo-rollouts-app__argo-rollouts__gateway-api-plugin.yaml",  # v0.4.0, new name
        "maverick96k__argo-project__argo-rollout__plugin-configmap.yaml",  # v0.3.0, old name
        "MYanello__gateway-api-argo__gateway-plugin.yaml",  # v0.2.0, old name
        "nguyentin05__nexus-gitops__platform__argo-rollouts__values.yaml",  # v0.8.0
    ],
    ids=lambda name: name[:40],
)
def test_right_urls_download(runner: Runner, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    findings = replay(runner, monkeypatch, name)
    assert [f for f in findings if f["severity"] == "error"] == []
    assert not any(f["rule"] == "download-failed" for f in findings)


def test_replay_server_knows_both_asset_namings() -> None:
    assert _assets("v0.3.0")[0] == "gateway-api-plugin-linux-amd64"
    assert _assets("v0.4.0")[0] == "gatewayapi-plugin-linux-amd64"
