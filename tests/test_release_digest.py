"""GitHub's published asset digest, checked online (`release-digest-mismatch`): real
servers on 127.0.0.1 stand in for GitHub, through GITHUB_SERVER_URL (the download host)
and GITHUB_API_URL (the REST API), with --allow-private-addresses."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from rollouts_plugin_lint.fetch.github import MAX_API_REQUESTS
from tests.conftest import Runner
from tests.hostile.helpers import Certificate, run_cli, self_signed_certificate, serving_tls
from tests.servers import RawServer, Request, respond, serving
from tests.test_fetch import STATIC_ELF, config, online

SERVED = hashlib.sha256(STATIC_ELF).hexdigest()
OTHER = hashlib.sha256(b"the file GitHub publishes").hexdigest()
THIRD = hashlib.sha256(b"a pin of neither").hexdigest()
ASSET = "router-linux-amd64"
JSON = {"Content-Type": "application/json"}
MIB = 1024 * 1024
# What a digest may be in an API answer: each of these is a digest GitHub does not
# publish, so nothing is known from it.
MALFORMED = {
    "short": "sha256:" + OTHER[:63],
    "long": "sha256:" + OTHER + "0",
    "not hex": "sha256:" + "g" * 64,
    "no prefix": OTHER,
    "another algorithm": "sha512:" + OTHER,
    "upper-case prefix": "SHA256:" + OTHER,
    "spaces": f" sha256:{OTHER}",
    "a number": 42,
    "a list": ["sha256:" + OTHER],
}


def release(tag: str, assets: Mapping[str, object]) -> bytes:
    """A release as GET /repos/{owner}/{repo}/releases/tags/{tag} answers it; an asset whose
    digest is `...` has no `digest` field at all (assets uploaded before June 2025)."""
    listed = []
    for name, digest in assets.items():
        asset: dict[str, object] = {"name": name, "size": 1, "uploader": {"login": "bot"}}
        if digest is not ...:
            asset["digest"] = digest
        listed.append(asset)
    return json.dumps({"tag_name": tag, "draft": False, "body": "notes", "assets": listed}).encode()


def github(answers: Mapping[str, tuple[int, bytes]], files: Mapping[str, bytes] | None = None):  # type: ignore[no-untyped-def]
    """One loopback server for both: `/api/...` answers from `answers` (404 for the rest);
    any other path serves `files[path]`, or STATIC_ELF."""

    def handler(conn: socket.socket, request: Request) -> None:
        if request.target.startswith("/api/"):
            status, body = answers.get(request.target[4:], (404, b'{"message":"Not Found"}'))
            respond(conn, status, body, JSON)
        else:
            respond(conn, 200, (files or {}).get(request.target, STATIC_ELF))

    return serving(handler)


def wired(server: RawServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", f"http://127.0.0.1:{server.port}")
    monkeypatch.setenv("GITHUB_API_URL", server.url("/api"))


def download(server: RawServer, repo: str = "o/r", tag: str = "v1.0.0", asset: str = ASSET) -> str:
    return server.url(f"/{repo}/releases/download/{tag}/{asset}")


def api_requests(server: RawServer) -> list[str]:
    return [request.target for request in server.requests if request.target.startswith("/api/")]


def of_rule(report: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [finding for finding in report["findings"] if finding["rule"] == rule]


def tag_answer(assets: Mapping[str, object], tag: str = "v1.0.0", repo: str = "o/r") -> dict:
    return {f"/repos/{repo}/releases/tags/{tag}": (200, release(tag, assets))}


def test_a_download_equal_to_githubs_digest_passes_with_one_request_per_tag(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two assets of one release: one API request, no finding, the pin hint stands."""
    assets = {ASSET: f"sha256:{SERVED}", "router-linux-arm64": f"sha256:{SERVED}"}
    with github(tag_answer(assets)) as server:
        wired(server, monkeypatch)
        runner.write(
            "values.yaml", config(download(server), download(server, asset="router-linux-arm64"))
        )
        code, report = online(runner, "values.yaml")
    assert api_requests(server) == ["/api/repos/o/r/releases/tags/v1.0.0"]
    assert of_rule(report, "release-digest-mismatch") == []
    hints = [finding["hint"] for finding in of_rule(report, "missing-sha256")]
    assert hints == [f'pin the file checked just now: sha256: "{SERVED}"'] * 2
    assert code == 0


def test_a_download_other_than_githubs_digest_is_an_error_with_both_digests(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    with github(tag_answer({ASSET: f"sha256:{OTHER.upper()}"})) as server:
        wired(server, monkeypatch)
        runner.write("values.yaml", config(download(server)))
        code, report = online(runner, "values.yaml")
    (finding,) = of_rule(report, "release-digest-mismatch")
    assert finding["severity"] == "error"
    assert SERVED in finding["message"] and OTHER in finding["message"]
    assert (
        "a mirror, proxy or cache served other bytes than GitHub publishes" in (finding["message"])
    )
    assert f'sha256: "{OTHER}"' in finding["hint"]
    assert (finding["line"], finding["column"]) == (4, 17)  # the location value
    # The served file is not GitHub's: its digest is no pin to suggest.
    assert all(SERVED not in (f.get("hint") or "") for f in report["findings"])
    assert code == 1


def test_no_published_digest_says_nothing(runner: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    """Assets uploaded before June 2025 have no `digest`, or null: nothing is known. The
    third asset of the same release proves the release was read."""
    assets = {"absent": ..., "null": None, "differs": f"sha256:{OTHER}"}
    with github(tag_answer(assets)) as server:
        wired(server, monkeypatch)
        runner.write("values.yaml", config(*(download(server, asset=name) for name in assets)))
        _, report = online(runner, "values.yaml")
    (finding,) = of_rule(report, "release-digest-mismatch")
    assert finding["plugin"] == "acme/router2"
    assert len(api_requests(server)) == 1


def test_a_malformed_digest_says_nothing(runner: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    assets: dict[str, object] = {
        f"asset-{n}": digest for n, digest in enumerate(MALFORMED.values())
    }
    assets["well-formed"] = f"sha256:{OTHER}"
    with github(tag_answer(assets)) as server:
        wired(server, monkeypatch)
        runner.write("values.yaml", config(*(download(server, asset=name) for name in assets)))
        _, report = online(runner, "values.yaml")
    findings = of_rule(report, "release-digest-mismatch")
    assert [finding["plugin"] for finding in findings] == [f"acme/router{len(MALFORMED)}"]


@pytest.mark.parametrize(
    "answer",
    [
        (403, b'{"message":"API rate limit exceeded for 127.0.0.1."}'),
        (429, b'{"message":"You have exceeded a secondary rate limit."}'),
        (500, b"oops"),
        (200, b"{not json"),
        (200, b'["a list, not a release"]'),
        (200, b'{"tag_name": "v1.0.0", "assets": {"not": "a list"}}'),
    ],
    ids=["403", "429", "500", "not-json", "a-list", "assets-not-a-list"],
)
def test_api_trouble_drops_the_fact_silently(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, answer: tuple[int, bytes]
) -> None:
    """The run completes; the repository the API answered for gets its finding."""
    answers = {"/repos/o/r/releases/tags/v1.0.0": answer}
    answers.update(tag_answer({ASSET: f"sha256:{OTHER}"}, repo="o/s"))
    with github(answers) as server:
        wired(server, monkeypatch)
        runner.write("values.yaml", config(download(server), download(server, repo="o/s")))
        code, report = online(runner, "values.yaml")
    findings = of_rule(report, "release-digest-mismatch")
    assert [finding["plugin"] for finding in findings] == ["acme/router1"]
    assert code == 1
    assert not report.get("warnings")  # nothing about the API: it only gives facts


def test_forty_release_urls_cost_at_most_the_runs_api_budget(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 repositories, each serving other bytes than it publishes: the budget is spent
    (one request per repository and tag), never exceeded; the rest stay unknown."""
    repos = [f"o{n}/r" for n in range(40)]
    answers: dict[str, tuple[int, bytes]] = {}
    for repo in repos:
        answers.update(tag_answer({ASSET: f"sha256:{OTHER}"}, repo=repo))
    with github(answers) as server:
        wired(server, monkeypatch)
        runner.write("values.yaml", config(*(download(server, repo=repo) for repo in repos)))
        _, report = online(runner, "values.yaml", "--jobs", "8")
    print(f"{len(api_requests(server))} API requests for {len(repos)} release URLs")
    assert len(api_requests(server)) == MAX_API_REQUESTS
    assert len(set(api_requests(server))) == MAX_API_REQUESTS
    assert len(of_rule(report, "release-digest-mismatch")) == MAX_API_REQUESTS


def test_the_budget_is_shared_with_failure_lookups(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 failing URLs (a listing and a repository lookup each, all answered 404 here) and
    20 served ones: one budget for all of them."""
    missing = {f"/f{n}/r/releases/download/v1/x": b"" for n in range(20)}

    def handler(conn: socket.socket, request: Request) -> None:
        if request.target.startswith("/api/"):
            respond(conn, 200, release("v1.0.0", {ASSET: f"sha256:{OTHER}"}), JSON)
        elif request.target in missing:
            respond(conn, 404, b"Not Found")
        else:
            respond(conn, 200, STATIC_ELF)

    with serving(handler) as server:
        wired(server, monkeypatch)
        served = [download(server, repo=f"s{n}/r") for n in range(20)]
        runner.write("values.yaml", config(*served, *(server.url(p) for p in missing)))
        _, report = online(runner, "values.yaml", "--jobs", "8")
    assert len(api_requests(server)) == MAX_API_REQUESTS  # not a budget for each kind
    assert of_rule(report, "release-digest-mismatch")


def test_the_digest_settles_what_a_wrong_pin_means(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three entries pinned to the same release assets, one root cause each:
    - pinned other bytes, GitHub publishes the download's: the pin is stale;
    - pinned GitHub's digest, other bytes served: the bytes are wrong, not the pin;
    - pinned neither, other bytes served: both are wrong, two findings."""
    assets = {"stale-pin": SERVED, "right-pin": OTHER, "neither": OTHER}
    assets = {name: f"sha256:{digest}" for name, digest in assets.items()}
    pins = {"stale-pin": THIRD, "right-pin": OTHER, "neither": THIRD}
    with github(tag_answer(assets)) as server:
        wired(server, monkeypatch)
        entries = "".join(
            f"    - name: acme/{name}\n      location: {download(server, asset=name)}\n"
            f'      sha256: "{pin}"\n'
            for name, pin in pins.items()
        )
        runner.write("values.yaml", f"controller:\n  trafficRouterPlugins:\n{entries}")
        _, report = online(runner, "values.yaml")
    by_plugin: dict[str, list[dict[str, Any]]] = {}
    for finding in report["findings"]:
        if finding["rule"] in ("checksum-mismatch", "release-digest-mismatch"):
            by_plugin.setdefault(finding["plugin"], []).append(finding)

    (stale,) = by_plugin["acme/stale-pin"]
    assert stale["rule"] == "checksum-mismatch"
    assert (
        "GitHub publishes this very digest for the asset: the pinned value is likely stale or "
        "wrong" in stale["message"]
    )
    assert THIRD in stale["message"] and SERVED in stale["message"]
    assert stale["hint"] == f'sha256: "{SERVED}"'

    (right,) = by_plugin["acme/right-pin"]
    assert right["rule"] == "release-digest-mismatch"
    assert "the configured sha256 is GitHub's" in right["message"]
    assert "the pin is right" in right["hint"]

    neither = {finding["rule"]: finding for finding in by_plugin["acme/neither"]}
    assert set(neither) == {"checksum-mismatch", "release-digest-mismatch"}
    # Pinning the served file would pin bytes GitHub never published.
    assert neither["checksum-mismatch"]["hint"].startswith(f'sha256: "{OTHER}"')


def test_an_api_answer_past_the_bound_is_dropped_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid release whose answer inflates to 64 MiB (gzip, as the API may send it): read
    no further than MAX_API_BODY (8 MiB) and dropped. Read whole, it would give a finding."""
    padded = release("v1.0.0", {ASSET: f"sha256:{OTHER}"})[:-1] + b" " * (64 * MIB) + b"}"
    big = gzip.compress(padded, 9)
    small = release("v1.0.0", {ASSET: f"sha256:{OTHER}"})

    def handler(conn: socket.socket, request: Request) -> None:
        if request.target == "/api/repos/o/big/releases/tags/v1.0.0":
            respond(conn, 200, big, {**JSON, "Content-Encoding": "gzip"})
        elif request.target.startswith("/api/"):
            respond(conn, 200, small, JSON)
        else:
            respond(conn, 200, STATIC_ELF)

    project = tmp_path / "project"
    project.mkdir()
    with serving(handler) as server:
        wired(server, monkeypatch)
        text = config(download(server, repo="o/big"), download(server, repo="o/small"))
        (project / "values.yaml").write_text(text, encoding="utf-8")
        outcome = run_cli(
            ["--format", "json", "--allow-private-addresses", "--no-cache", "--timeout", "5",
             "values.yaml"],
            project,
            limit=120,
        )  # fmt: skip
    outcome.assert_report()
    print(f"\n{outcome.seconds:.1f} s, peak RSS {outcome.peak_rss / MIB:.0f} MiB")
    findings = of_rule(json.loads(outcome.out), "release-digest-mismatch")
    assert [finding["plugin"] for finding in findings] == ["acme/router1"]
    assert outcome.peak_rss < 64 * MIB + 60 * MIB  # never the whole answer


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    if shutil.which("openssl") is None:  # pragma: no cover - the project's machines have it
        pytest.skip("the openssl command makes the test certificate")
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def github_over_tls(
    certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Mapping[str, tuple[int, bytes]]], Any]]:
    """(API over https, download host over plain http), as GitHub Enterprise is wired."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))

    def start(answers: Mapping[str, tuple[int, bytes]]) -> Any:
        def handler(conn: socket.socket, request: Request) -> None:
            status, body = answers.get(request.target, (404, b'{"message":"Not Found"}'))
            respond(conn, status, body, JSON)

        return serving_tls(handler, certificate)

    yield start


def test_the_token_goes_only_with_the_workflow_owners_releases(
    runner: Runner,
    monkeypatch: pytest.MonkeyPatch,
    github_over_tls: Callable[[Mapping[str, tuple[int, bytes]]], Any],
) -> None:
    token = "ghp_digest_token_0123456789"
    monkeypatch.setenv("GITHUB_TOKEN", token)
    monkeypatch.setenv("GITHUB_REPOSITORY", "O/deploy")  # the owner, in other letter case
    answers = {
        **tag_answer({ASSET: f"sha256:{OTHER}"}, repo="o/r"),
        **tag_answer({ASSET: f"sha256:{OTHER}"}, repo="x/r"),
    }
    with (
        github_over_tls(answers) as api,
        serving(lambda conn, _request: respond(conn, 200, STATIC_ELF)) as downloads,
    ):
        monkeypatch.setenv("GITHUB_API_URL", api.url("").rstrip("/"))
        monkeypatch.setenv("GITHUB_SERVER_URL", f"http://127.0.0.1:{downloads.port}")
        runner.write("values.yaml", config(download(downloads), download(downloads, repo="x/r")))
        _, out, err = runner.run(
            "--format", "json", "--allow-private-addresses", "--no-cache", "--timeout", "5",
            "values.yaml",
        )  # fmt: skip
    sent = {request.target: request.headers.get("authorization") for request in api.requests}
    assert sent == {
        "/repos/o/r/releases/tags/v1.0.0": f"Bearer {token}",
        "/repos/x/r/releases/tags/v1.0.0": None,
    }
    assert all("authorization" not in request.headers for request in downloads.requests)
    assert token not in out + err
    assert len(of_rule(json.loads(out), "release-digest-mismatch")) == 2


def pinned(location: str, digest: str) -> str:
    return f"controller:\n  trafficRouterPlugins:\n{entry(location, digest)}"


def entry(location: str, digest: str) -> str:
    return f'    - name: acme/router\n      location: {location}\n      sha256: "{digest}"\n'


def test_a_warm_cache_and_offline_still_know_githubs_digest(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pinned to the bytes served: the first run downloads and asks the API; the next runs
    are answered by the cache alone (no request at all, online or --offline) and still say
    that GitHub publishes other bytes."""
    with github(tag_answer({ASSET: f"sha256:{OTHER}"})) as server:
        wired(server, monkeypatch)
        runner.write("values.yaml", pinned(download(server), SERVED))
        reports = [online(runner, "values.yaml")[1]]
        asked = len(server.requests)
        reports.append(online(runner, "values.yaml")[1])
        reports.append(online(runner, "--offline", "values.yaml")[1])
    assert asked == 2  # the download and the release
    assert len(server.requests) == asked
    for report in reports:
        (finding,) = of_rule(report, "release-digest-mismatch")
        assert OTHER in finding["message"] and SERVED in finding["message"]


def test_a_revalidated_download_is_not_asked_about_again(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unpinned, the URL is revalidated on every run; a 304 means the same bytes, whose
    published digest the cache already holds: the API is asked once."""
    answer = (200, release("v1.0.0", {ASSET: f"sha256:{OTHER}"}))

    def handler(conn: socket.socket, request: Request) -> None:
        if request.target.startswith("/api/"):
            respond(conn, *answer, JSON)
        elif request.headers.get("if-none-match") == '"v1"':
            respond(conn, 304, b"", {"ETag": '"v1"'})
        else:
            respond(conn, 200, STATIC_ELF, {"ETag": '"v1"'})

    with serving(handler) as server:
        wired(server, monkeypatch)
        runner.write("values.yaml", config(download(server)))
        reports = [online(runner, "values.yaml")[1] for _ in range(2)]
        statuses = [r.target for r in server.requests]
    assert len(api_requests(server)) == 1, statuses
    for report in reports:
        assert len(of_rule(report, "release-digest-mismatch")) == 1


def test_a_planted_published_digest_makes_the_record_untrusted(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    with github(tag_answer({ASSET: f"sha256:{OTHER}"})) as server:
        wired(server, monkeypatch)
        runner.write("values.yaml", pinned(download(server), SERVED))
        online(runner, "values.yaml")
        (record,) = (runner.root.parent / "cache" / "urls").glob("*.json")
        data = json.loads(record.read_text())
        assert data["published_sha256"] == OTHER
        record.write_text(json.dumps({**data, "published_sha256": "\x1b[31m" + OTHER}))
        _, report = online(runner, "--offline", "values.yaml")
    assert of_rule(report, "release-digest-mismatch") == []
    assert sorted(f["rule"] for f in report["findings"]) == ["insecure-location", "not-verified"]


def test_a_listing_past_the_bound_drops_the_failure_hint(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound is the oracle's, for every answer: a listing that inflates to 64 MiB is
    read no further than MAX_API_BODY, so the failing URL keeps its finding without a hint
    (read whole, the listing would say the tag is `v1.0.0`)."""
    listing = b"[" + release("v1.0.0", {ASSET: None}) + b" " * (64 * MIB) + b"]"
    big = gzip.compress(listing, 9)

    def handler(conn: socket.socket, request: Request) -> None:
        if request.target.startswith("/api/repos/o/r/releases?"):
            respond(conn, 200, big, {**JSON, "Content-Encoding": "gzip"})
        elif request.target.startswith("/api/"):
            respond(conn, 200, b'{"full_name": "o/r"}', JSON)
        else:
            respond(conn, 404, b"Not Found")

    with serving(handler) as server:
        wired(server, monkeypatch)
        runner.write("values.yaml", config(download(server, tag="1.0.0")))
        _, report = online(runner, "values.yaml")
    (failure,) = of_rule(report, "download-failed")
    assert "404 Not Found" in failure["message"]
    assert "v1.0.0" not in failure["message"] + (failure.get("hint") or "")
    assert "has no release" not in failure["message"]  # nothing is said that is not known


def test_the_listing_a_failure_lookup_fetched_answers_the_digest_too(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing URL of o/r makes the oracle list o/r's releases; the served asset of the
    same repository, finished after that listing, is read from it: no tag lookup."""
    listed = threading.Event()
    listing = b"[" + release("v1.0.0", {ASSET: f"sha256:{OTHER}"}) + b"]"

    def handler(conn: socket.socket, request: Request) -> None:
        if request.target.startswith("/api/repos/o/r/releases?"):
            respond(conn, 200, listing, JSON)
            listed.set()
        elif request.target.startswith("/api/"):
            respond(conn, 404, b'{"message":"Not Found"}', JSON)
        elif "/1.0.0/" in request.target:
            respond(conn, 404, b"Not Found")
        else:
            listed.wait(30)
            respond(conn, 200, STATIC_ELF)

    with serving(handler) as server:
        wired(server, monkeypatch)
        runner.write(
            "values.yaml", config(download(server, tag="1.0.0"), download(server, tag="v1.0.0"))
        )
        _, report = online(runner, "values.yaml")
    assert api_requests(server) == ["/api/repos/o/r/releases?per_page=100"]
    assert len(of_rule(report, "release-digest-mismatch")) == 1
    assert "The tag is `v1.0.0`" in of_rule(report, "download-failed")[0]["message"]


def test_a_draft_of_the_same_tag_in_the_listing_is_not_the_release_served(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A draft may carry the tag of a published release (the listing shows drafts to a
    token with push access, newest first); a download URL serves the published one's
    asset. The draft's digest made a false release-digest-mismatch."""
    listed = threading.Event()
    draft = json.loads(release("v1.0.0", {ASSET: f"sha256:{OTHER}"}))
    draft["draft"] = True
    listing = json.dumps(
        [draft, json.loads(release("v1.0.0", {ASSET: f"sha256:{SERVED}"}))]
    ).encode()

    def handler(conn: socket.socket, request: Request) -> None:
        if request.target.startswith("/api/repos/o/r/releases?"):
            respond(conn, 200, listing, JSON)
            listed.set()
        elif request.target.startswith("/api/"):
            respond(conn, 404, b'{"message":"Not Found"}', JSON)
        elif "/1.0.0/" in request.target:
            respond(conn, 404, b"Not Found")
        else:
            listed.wait(30)
            respond(conn, 200, STATIC_ELF)

    with serving(handler) as server:
        wired(server, monkeypatch)
        runner.write(
            "values.yaml", config(download(server, tag="1.0.0"), download(server, tag="v1.0.0"))
        )
        _, report = online(runner, "values.yaml")
    assert api_requests(server) == ["/api/repos/o/r/releases?per_page=100"]
    assert of_rule(report, "release-digest-mismatch") == []
    assert "The tag is `v1.0.0`" in of_rule(report, "download-failed")[0]["message"]
