"""Download and verify, end to end through the CLI against real servers on 127.0.0.1."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import tarfile
import threading
import time
from typing import Any

import pytest

from tests.conftest import Runner
from tests.inspect_fixtures import Elf, elf_with_inline_buildinfo, macho
from tests.servers import Request, reset, respond, serving

STATIC_ELF = elf_with_inline_buildinfo()  # a static linux/amd64 Go plugin
NAME = "acme/router"


def config(*locations: str, sha256: str | None = None, key: str = "trafficRouterPlugins") -> str:
    entries = ""
    for index, location in enumerate(locations):
        entries += f"    - name: {NAME}{index}\n      location: {location}\n"
        if sha256:
            entries += f'      sha256: "{sha256}"\n'
    return f"controller:\n  {key}:\n{entries}"


def online(runner: Runner, *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = runner.run(
        "--format", "json", "--allow-private-addresses", "--timeout", "2",
        "--cache-dir", str(runner.root.parent / "cache"), *args,
    )  # fmt: skip
    assert code in (0, 1), err
    return code, json.loads(out)


def rules_at_location(report: dict[str, Any]) -> list[str]:
    """The verdicts, without what every plain-http test server entry also gets."""
    routine = {"missing-sha256", "insecure-location"}
    return sorted(f["rule"] for f in report["findings"] if f["rule"] not in routine)


def only(report: dict[str, Any], rule: str) -> dict[str, Any]:
    matches = [f for f in report["findings"] if f["rule"] == rule]
    assert len(matches) == 1, report["findings"]
    return matches[0]


def serve_body(body: bytes, status: int = 200, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return serving(lambda conn, _request: respond(conn, status, body, headers))


def test_a_good_binary_passes_and_the_hint_gives_its_digest(runner: Runner) -> None:
    with serve_body(STATIC_ELF) as server:
        runner.write("values.yaml", config(server.url("/router-linux-amd64")))
        code, report = online(runner, "values.yaml")
    digest = hashlib.sha256(STATIC_ELF).hexdigest()
    assert rules_at_location(report) == []
    assert only(report, "missing-sha256")["hint"] == (
        f'pin the file checked just now: sha256: "{digest}"'
    )
    artifact = report["plugins"][0]["artifact"]
    assert (artifact["sha256"], artifact["format"], artifact["arch"]) == (digest, "elf", "amd64")
    assert code == 0


def test_github_not_found_body_is_named(runner: Runner) -> None:
    with serve_body(b"Not Found", 404, {"Content-Type": "text/plain; charset=utf-8"}) as server:
        runner.write("values.yaml", config(server.url("/o/r/releases/download/0.3.0/x")))
        code, report = online(runner, "values.yaml")
    finding = only(report, "download-failed")
    assert "404 Not Found" in finding["message"]
    assert "GitHub's 9-byte `Not Found`" in finding["message"]
    assert (finding["line"], finding["column"]) == (4, 17)
    assert code == 1


def test_release_hint_from_a_fake_github_api(runner: Runner, monkeypatch: pytest.MonkeyPatch) \
        -> None:  # fmt: skip
    releases = [
        {"tag_name": "v0.3.0", "draft": False, "assets": [
            {"name": "gatewayapi-plugin-linux-amd64"}, {"name": "gatewayapi-plugin-darwin-arm64"}]},
        {"tag_name": "v0.2.0", "draft": False, "assets": []},
    ]  # fmt: skip

    def handler(conn: socket.socket, request: Request) -> None:
        if request.target.startswith("/api/repos/o/r/releases?"):
            respond(conn, 200, json.dumps(releases).encode(), {"Content-Type": "application/json"})
        elif request.target.startswith("/api/"):
            respond(conn, 404, b'{"message":"Not Found"}', {"Content-Type": "application/json"})
        else:
            respond(conn, 404, b"Not Found")

    with serving(handler) as server:
        monkeypatch.setenv("GITHUB_SERVER_URL", f"http://127.0.0.1:{server.port}")
        monkeypatch.setenv("GITHUB_API_URL", server.url("/api"))
        runner.write("values.yaml", config(
            server.url("/o/r/releases/download/0.3.0/gatewayapi-plugin-linux-amd64"),
            server.url("/o/r/releases/download/v0.3.0/gateway-api-plugin-linux-amd64"),
            server.url("/o/r/releases/download/v9.9.9/gatewayapi-plugin-linux-amd64"),
        ))  # fmt: skip
        _, report = online(runner, "values.yaml")
        listings = [r for r in server.requests if r.target.startswith("/api/repos/o/r/releases?")]
    failures = [f for f in report["findings"] if f["rule"] == "download-failed"]
    base = f"http://127.0.0.1:{server.port}/o/r/releases/download"
    assert "The tag is `v0.3.0`, not `0.3.0`" in failures[0]["message"]
    assert failures[0]["hint"] == f"location: {base}/v0.3.0/gatewayapi-plugin-linux-amd64"
    assert "did you mean `gatewayapi-plugin-linux-amd64`?" in failures[1]["message"]
    assert "has no release `v9.9.9`; its newest: `v0.3.0`, `v0.2.0`" in failures[2]["message"]
    assert len(listings) == 1  # one listing per repository, however many entries


def test_html_page_with_status_200(runner: Runner) -> None:
    page = b"<!DOCTYPE html><html><head><title>Sign in to Acme SSO</title></head></html>"
    with serve_body(page, headers={"Content-Type": "text/html"}) as server:
        runner.write("values.yaml", config(server.url("/plugin")))
        _, report = online(runner, "values.yaml")
    finding = only(report, "not-executable")
    assert "an HTML page" in finding["message"] and "Sign in to Acme SSO" in finding["message"]


def test_json_error_body(runner: Runner) -> None:
    body = b'{"message":"Bad credentials","documentation_url":"https://docs"}'
    with serve_body(body, 401, {"Content-Type": "application/json"}) as server:
        runner.write("values.yaml", config(server.url("/plugin")))
        _, report = online(runner, "values.yaml")
    assert "Bad credentials" in only(report, "download-failed")["message"]


def test_redirect_chain_is_followed_and_reported(runner: Runner) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        hops = {"/a": "/b", "/b": "/c"}
        if request.target in hops:
            respond(conn, 302, b"", {"Location": hops[request.target]})
        else:
            respond(conn, 200, STATIC_ELF)

    with serving(handler) as server:
        runner.write("values.yaml", config(server.url("/a")))
        _, report = online(runner, "values.yaml")
    assert report["plugins"][0]["artifact"]["final_url"] == server.url("/c")
    assert [r.target for r in server.requests] == ["/a", "/b", "/c"]


def test_redirect_loop(runner: Runner) -> None:
    with serving(lambda conn, _r: respond(conn, 302, b"", {"Location": "/loop"})) as server:
        runner.write("values.yaml", config(server.url("/loop")))
        _, report = online(runner, "values.yaml")
    assert "more than 10 redirects" in only(report, "unreachable")["message"]
    assert len(server.requests) == 11


def test_503_then_200_is_retried(runner: Runner) -> None:
    answers = iter([503, 200])

    def handler(conn: socket.socket, _request: Request) -> None:
        status = next(answers)
        respond(conn, status, STATIC_ELF if status == 200 else b"busy")

    with serving(handler) as server:
        runner.write("values.yaml", config(server.url("/p")))
        _, report = online(runner, "values.yaml")
    assert report["plugins"][0]["artifact"]["status"] == 200
    assert len(server.requests) == 2


def test_429_honours_retry_after(runner: Runner) -> None:
    seen: list[float] = []

    def handler(conn: socket.socket, _request: Request) -> None:
        seen.append(time.monotonic())
        if len(seen) == 1:
            respond(conn, 429, b"slow down", {"Retry-After": "1"})
        else:
            respond(conn, 200, STATIC_ELF)

    with serving(handler) as server:
        runner.write("values.yaml", config(server.url("/p")))
        _, report = online(runner, "values.yaml")
    assert report["plugins"][0]["artifact"]["status"] == 200
    assert seen[1] - seen[0] >= 0.95


def test_persistent_5xx_is_a_download_failure_after_three_attempts(runner: Runner) -> None:
    with serve_body(b"oops", 502) as server:
        runner.write("values.yaml", config(server.url("/p")))
        _, report = online(runner, "values.yaml")
    assert "502 Bad Gateway" in only(report, "download-failed")["message"]
    assert len(server.requests) == 3


def test_404_is_never_retried(runner: Runner) -> None:
    with serve_body(b"Not Found", 404) as server:
        runner.write("values.yaml", config(server.url("/p")))
        online(runner, "values.yaml")
    assert len(server.requests) == 1


def test_truncated_body_is_unreachable_not_a_plugin(runner: Runner) -> None:
    def handler(conn: socket.socket, _request: Request) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + STATIC_ELF)
        reset(conn)

    with serving(handler) as server:
        runner.write("values.yaml", config(server.url("/p")))
        _, report = online(runner, "values.yaml")
    finding = only(report, "unreachable")
    assert "broke after" in finding["message"] and "never used" in finding["message"]
    assert len(server.requests) == 3  # retried, never accepted


def test_stalled_body_times_out(runner: Runner) -> None:
    release = threading.Event()

    def handler(conn: socket.socket, _request: Request) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n\x7fELF")
        release.wait(20)

    with serving(handler) as server:
        runner.write("values.yaml", config(server.url("/p")))
        started = time.monotonic()
        _, report = online(runner, "--timeout", "0.5", "values.yaml")
        release.set()
    assert "timed out" in only(report, "unreachable")["message"]
    assert time.monotonic() - started < 10


def test_connection_refused(runner: Runner) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    runner.write("values.yaml", config(f"http://127.0.0.1:{port}/p"))
    _, report = online(runner, "values.yaml")
    assert "cannot connect" in only(report, "unreachable")["message"]


def test_over_the_size_cap(runner: Runner) -> None:
    body = STATIC_ELF + b"\0" * 5000

    def chunked(conn: socket.socket, _request: Request) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for start in range(0, len(body), 1000):
            piece = body[start : start + 1000]
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.sendall(b"0\r\n\r\n")

    with serve_body(body) as declared, serving(chunked) as streamed:
        runner.write("values.yaml", config(declared.url("/a"), streamed.url("/b")))
        _, report = online(runner, "--max-size", "4096", "values.yaml")
    messages = [f["message"] for f in report["findings"] if f["rule"] == "too-large"]
    assert len(messages) == 2
    assert "declares 5,064 bytes" in messages[0] or "declares" in messages[0]
    assert "sent more than" in messages[1]


def test_gzip_content_encoding_is_decoded_like_go(runner: Runner) -> None:
    with serve_body(gzip.compress(STATIC_ELF), headers={"Content-Encoding": "gzip"}) as server:
        runner.write("values.yaml", config(server.url("/p")))
        _, report = online(runner, "values.yaml")
    assert report["plugins"][0]["artifact"]["format"] == "elf"


def test_archive_download_names_the_binary_inside(runner: Runner) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (("README.md", b"hello"), ("router-linux-amd64", STATIC_ELF)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    with serve_body(buffer.getvalue()) as server:
        runner.write("values.yaml", config(server.url("/router_linux_amd64.tar.gz")))
        _, report = online(runner, "values.yaml")
    finding = only(report, "archive")  # the static guess is replaced by the verdict
    assert "`router-linux-amd64`" in finding["message"]
    assert "router-linux-amd64" in (finding["hint"] or "")


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (macho(), "wrong-os"),
        (b"MZ" + b"\0" * 62, "not-executable"),
        (b"#!/bin/sh\necho hi\n", "wrong-os"),
        (Elf(machine=183).build(), "wrong-arch"),
        (
            b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n",
            "not-executable",
        ),
        (b"", "not-executable"),
    ],
    ids=["macho", "bare-mz", "script", "arm64", "lfs", "empty"],
)
def test_wrong_downloads(runner: Runner, body: bytes, rule: str) -> None:
    with serve_body(body) as server:
        runner.write("values.yaml", config(server.url("/plugin")))
        _, report = online(runner, "values.yaml")
    assert rule in rules_at_location(report), report["findings"]


def test_dynamic_binary(runner: Runner) -> None:
    with serve_body(Elf(interpreter=b"/lib64/ld-linux-x86-64.so.2").build()) as server:
        runner.write("values.yaml", config(server.url("/plugin")))
        _, report = online(runner, "values.yaml")
    assert "/lib64/ld-linux-x86-64.so.2" in only(report, "dynamic-binary")["message"]


def test_checksum_mismatch_gives_both_digests(runner: Runner) -> None:
    wrong = "0" * 63 + "1"
    with serve_body(STATIC_ELF) as server:
        runner.write("values.yaml", config(server.url("/p"), sha256=wrong))
        _, report = online(runner, "values.yaml")
    finding = only(report, "checksum-mismatch")
    actual = hashlib.sha256(STATIC_ELF).hexdigest()
    assert wrong in finding["message"] and actual in finding["message"]
    assert finding["hint"].startswith(f'sha256: "{actual}"')


def test_warm_cache_costs_nothing_for_pinned_entries(runner: Runner) -> None:
    digest = hashlib.sha256(STATIC_ELF).hexdigest()
    with serve_body(STATIC_ELF) as server:
        runner.write("values.yaml", config(server.url("/p"), sha256=digest))
        online(runner, "values.yaml")
        online(runner, "values.yaml")
        _, offline = online(runner, "--offline", "values.yaml")
    assert len(server.requests) == 1
    assert offline["plugins"][0]["artifact"]["from_cache"] is True


def test_unpinned_entries_revalidate_with_one_conditional_request(runner: Runner) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        if request.headers.get("if-none-match") == '"v1"':
            respond(conn, 304, b"", {"ETag": '"v1"'})
        else:
            respond(conn, 200, STATIC_ELF, {"ETag": '"v1"'})

    with serving(handler) as server:
        runner.write("values.yaml", config(server.url("/p")))
        online(runner, "values.yaml")
        _, second = online(runner, "values.yaml")
    assert [r.headers.get("if-none-match") for r in server.requests] == [None, '"v1"']
    assert second["plugins"][0]["artifact"]["from_cache"] is True


def test_offline_says_what_it_could_not_verify(runner: Runner) -> None:
    runner.write("values.yaml", config("https://plugins.acme.test/plugin-linux-amd64"))
    _, report = online(runner, "--offline", "values.yaml")
    finding = only(report, "not-verified")
    assert finding["severity"] == "note"


def test_a_corrupted_cache_object_is_never_trusted(runner: Runner) -> None:
    digest = hashlib.sha256(STATIC_ELF).hexdigest()
    with serve_body(STATIC_ELF) as server:
        runner.write("values.yaml", config(server.url("/p"), sha256=digest))
        online(runner, "values.yaml")
        cached = runner.root.parent / "cache" / "objects" / digest[:2] / digest
        cached.write_bytes(b"tampered")
        _, report = online(runner, "values.yaml")
    assert len(server.requests) == 2
    assert not any(f["rule"] == "checksum-mismatch" for f in report["findings"])


def test_unwritable_cache_is_a_warning_and_the_run_goes_on(runner: Runner) -> None:
    blocker = runner.root.parent / "not-a-dir"
    blocker.write_text("file")
    with serve_body(STATIC_ELF) as server:
        runner.write("values.yaml", config(server.url("/p")))
        _, out, err = runner.run(
            "--format",
            "json",
            "--allow-private-addresses",
            "--cache-dir",
            str(blocker / "cache"),
            "values.yaml",
        )
    assert "not usable" in err and "running without a cache" in err
    assert json.loads(out)["plugins"][0]["artifact"]["status"] == 200


def test_loopback_is_blocked_without_the_flag(runner: Runner) -> None:
    with serve_body(STATIC_ELF) as server:
        runner.write(
            "values.yaml",
            config(
                server.url("/p"),
                server.url("/p", host="localhost"),
                "http://169.254.169.254/latest/meta-data/",
            ),
        )
        code, out, _ = runner.run("--format", "json", "--no-cache", "values.yaml")
    report = json.loads(out)
    blocked = [f["message"] for f in report["findings"] if f["rule"] == "blocked-address"]
    assert len(blocked) == 3
    assert "loopback" in blocked[0] and "the cloud metadata service" in blocked[2]
    assert server.requests == []
    assert code == 1


def test_the_token_goes_only_to_the_api_host(runner: Runner, monkeypatch: pytest.MonkeyPatch) \
        -> None:  # fmt: skip
    token = "ghp_secret_value_123"
    monkeypatch.setenv("GITHUB_TOKEN", token)

    def storage(conn: socket.socket, _request: Request) -> None:
        respond(conn, 404, b"Not Found")

    with serving(storage) as other:

        def front(conn: socket.socket, request: Request) -> None:
            if request.target.startswith("/api/"):
                respond(conn, 200, b"[]", {"Content-Type": "application/json"})
            else:
                respond(conn, 302, b"", {"Location": other.url("/blob", host="localhost")})

        with serving(front) as server:
            monkeypatch.setenv("GITHUB_SERVER_URL", f"http://127.0.0.1:{server.port}")
            monkeypatch.setenv("GITHUB_API_URL", server.url("/api").replace("http:", "https:"))
            runner.write("values.yaml", config(server.url("/o/r/releases/download/v1/x")))
            _, out, err = runner.run(
                "--format",
                "json",
                "--allow-private-addresses",
                "--no-cache",
                "--timeout",
                "1",
                "values.yaml",
            )
    everything = [*server.requests, *other.requests]
    assert all("authorization" not in r.headers for r in everything)
    assert token not in out and token not in err
