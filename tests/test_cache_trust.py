"""What the download cache may vouch for: only what this very URL is recorded as having
served, and only through a record bound to an object that re-hashes to it. End to end
through the CLI against real servers on 127.0.0.1 and a real cache folder."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Runner
from tests.inspect_fixtures import Elf, elf_with_inline_buildinfo
from tests.servers import Request, respond, serving

PLUGIN = elf_with_inline_buildinfo()  # a static linux/amd64 Go plugin
OTHER = Elf(machine=183).build()  # an arm64 ELF: other bytes
DIGEST = hashlib.sha256(PLUGIN).hexdigest()
OTHER_DIGEST = hashlib.sha256(OTHER).hexdigest()


def values(location: str, sha256: str | None = None) -> str:
    pin = f'      sha256: "{sha256}"\n' if sha256 else ""
    entry = f"    - name: acme/p\n      location: {location}\n{pin}"
    return f"controller:\n  trafficRouterPlugins:\n{entry}"


def lint(runner: Runner, *extra: str) -> dict[str, Any]:
    code, out, err = runner.run(
        "--format", "json", "--allow-private-addresses", "--timeout", "5",
        "--cache-dir", str(cache_of(runner)), *extra, "values.yaml",
    )  # fmt: skip
    assert code in (0, 1), err
    assert "Traceback" not in err
    report: dict[str, Any] = json.loads(out)
    return report


def cache_of(runner: Runner) -> Path:
    return runner.root.parent / "cache"


def rules(report: dict[str, Any]) -> list[str]:
    routine = {"missing-sha256", "insecure-location"}
    return sorted(f["rule"] for f in report["findings"] if f["rule"] not in routine)


def record_path(cache: Path, url: str) -> Path:
    return cache / "urls" / f"{hashlib.sha256(url.encode()).hexdigest()}.json"


def good_or_missing(conn: socket.socket, request: Request) -> None:
    if request.target == "/good":
        respond(conn, 200, PLUGIN, {"ETag": '"v1"'})
    else:
        respond(conn, 404, b"Not Found")


# --- item 1: a cached file vouches only for the URL that served it ------------------------


@pytest.mark.parametrize("broken", ["/v0.4.0/missing", "/Good"])
def test_a_cached_digest_never_vouches_for_another_url(runner: Runner, broken: str) -> None:
    with serving(good_or_missing) as server:
        runner.write("values.yaml", values(server.url("/good"), DIGEST))
        assert rules(lint(runner)) == []
        before = len(server.requests)
        # Same digest, a URL that was never seen (another tag, a typo): it must be asked,
        # and it 404s.
        url = server.url(broken)
        runner.write("values.yaml", values(url, DIGEST))
        report = lint(runner)
        assert len(server.requests) - before == 1
        assert "download-failed" in rules(report), report["findings"]
        # The URL that did serve it: the cache answers, no request.
        runner.write("values.yaml", values(server.url("/good"), DIGEST))
        before = len(server.requests)
        report = lint(runner)
        assert len(server.requests) == before
        assert rules(report) == []
        assert report["plugins"][0]["artifact"]["from_cache"] is True


def test_an_unseen_url_with_a_cached_digest_is_checked_with_a_full_get(runner: Runner) -> None:
    """HEAD would not do: the controller compares the digest itself, so the URL must be shown
    to serve the pinned bytes, not merely to answer."""
    with serving(lambda conn, r: respond(conn, 200, PLUGIN if r.target == "/a" else OTHER)) as srv:
        runner.write("values.yaml", values(srv.url("/a"), DIGEST))
        lint(runner)
        runner.write("values.yaml", values(srv.url("/b"), DIGEST))
        report = lint(runner)
    assert [(r.method, r.target) for r in srv.requests] == [("GET", "/a"), ("GET", "/b")]
    assert "if-none-match" not in srv.requests[-1].headers
    assert "checksum-mismatch" in rules(report)
    assert report["plugins"][0]["artifact"]["sha256"] == OTHER_DIGEST


def test_a_url_recorded_with_another_digest_is_revalidated(runner: Runner) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        if request.headers.get("if-none-match") == '"v1"':
            respond(conn, 304, b"", {"ETag": '"v1"'})
        else:
            respond(conn, 200, OTHER, {"ETag": '"v1"'})

    with serving(handler) as server:
        runner.write("values.yaml", values(server.url("/p")))
        lint(runner)  # the record: /p served OTHER
        runner.write("values.yaml", values(server.url("/p"), DIGEST))
        report = lint(runner)
    assert [r.headers.get("if-none-match") for r in server.requests] == [None, '"v1"']
    assert "checksum-mismatch" in rules(report)


# --- item 2: offline, what the cache did not prove is said -------------------------------


def test_offline_without_a_cache_notes_every_unchecked_location(runner: Runner) -> None:
    runner.write("values.yaml", values("https://plugins.acme.test/p-linux-amd64", "a" * 64))
    code, out, err = runner.run("--format", "json", "--offline", "--no-cache", "values.yaml")
    assert code in (0, 1), err
    assert "not-verified" in [f["rule"] for f in json.loads(out)["findings"]]


def test_offline_a_cached_digest_never_vouches_for_another_url(runner: Runner) -> None:
    with serving(good_or_missing) as server:
        runner.write("values.yaml", values(server.url("/good"), DIGEST))
        lint(runner)
        runner.write("values.yaml", values(server.url("/v0.4.0/missing"), DIGEST))
        report = lint(runner, "--offline")
        assert rules(report) == ["not-verified"]
        runner.write("values.yaml", values(server.url("/good"), DIGEST))
        assert rules(lint(runner, "--offline")) == []


# --- item 3: a record counts only when bound to its object --------------------------------


def _plant_absent(cache: Path, record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "sha256": OTHER_DIGEST, "size": len(OTHER)}


def _plant_differs(cache: Path, record: dict[str, Any]) -> dict[str, Any]:
    target = cache / "objects" / OTHER_DIGEST[:2] / OTHER_DIGEST
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"not the bytes this name promises")
    return {**record, "sha256": OTHER_DIGEST, "size": len(OTHER)}


def _plant_wrong_size(cache: Path, record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "sha256": DIGEST, "size": len(PLUGIN) + 1}


@pytest.mark.parametrize(
    "plant",
    [_plant_absent, _plant_differs, _plant_wrong_size],
    ids=["object-absent", "object-differs", "size-differs"],
)
def test_a_planted_record_is_never_confirmed_by_a_304(runner: Runner, plant: Any) -> None:
    """The server answers 304 to any conditional request: only a GET without the planted
    validators shows what it really serves."""

    def handler(conn: socket.socket, request: Request) -> None:
        if request.target == "/seed":
            respond(conn, 200, PLUGIN)
        elif "if-none-match" in request.headers or "if-modified-since" in request.headers:
            respond(conn, 304, b"")
        else:
            respond(conn, 200, OTHER)

    cache = cache_of(runner)
    with serving(handler) as server:
        runner.write("values.yaml", values(server.url("/seed"), DIGEST))
        lint(runner)  # the pinned file is genuinely in the cache
        url = server.url("/p")
        record = {
            "url": url, "sha256": DIGEST, "size": len(PLUGIN), "final_url": url,
            "content_type": None, "etag": '"planted"', "last_modified": "Mon, 01 Jan 2024",
        }  # fmt: skip
        record_path(cache, url).write_text(json.dumps(plant(cache, record)))
        runner.write("values.yaml", values(url, DIGEST))
        report = lint(runner)
    asked = [r for r in server.requests if r.target == "/p"]
    assert len(asked) == 1 and "if-none-match" not in asked[0].headers
    assert "if-modified-since" not in asked[0].headers
    assert report["plugins"][0]["artifact"]["sha256"] == OTHER_DIGEST
    assert "checksum-mismatch" in rules(report)


def test_an_oversized_record_is_not_read(runner: Runner) -> None:
    """A record is a few hundred bytes; a huge one (valid JSON padded with blanks) is not ours."""
    with serving(lambda conn, _r: respond(conn, 200, PLUGIN, {"ETag": '"v1"'})) as server:
        runner.write("values.yaml", values(server.url("/p")))
        lint(runner)
        path = record_path(cache_of(runner), server.url("/p"))
        path.write_text(path.read_text() + " " * (1024 * 1024))
        lint(runner)
    assert len(server.requests) == 2
    assert "if-none-match" not in server.requests[1].headers


def test_a_record_that_is_a_symlink_is_not_followed(runner: Runner, tmp_path: Path) -> None:
    with serving(lambda conn, _r: respond(conn, 200, PLUGIN, {"ETag": '"v1"'})) as server:
        runner.write("values.yaml", values(server.url("/p")))
        lint(runner)
        path = record_path(cache_of(runner), server.url("/p"))
        outside = tmp_path / "outside.json"
        outside.write_text(path.read_text())
        path.unlink()
        path.symlink_to(outside)
        lint(runner)
    assert len(server.requests) == 2
    assert "if-none-match" not in server.requests[1].headers


def test_a_record_nested_past_the_json_readers_recursion_is_not_read(runner: Runner) -> None:
    """64 KiB of `[` is within the size bound and raised RecursionError, which is no
    ValueError: a traceback instead of a record not read."""
    with serving(lambda conn, _r: respond(conn, 200, PLUGIN, {"ETag": '"v1"'})) as server:
        runner.write("values.yaml", values(server.url("/p"), DIGEST))
        lint(runner)
        path = record_path(cache_of(runner), server.url("/p"))
        assert path.is_file()
        path.write_text("[" * 60_000)
        report = lint(runner)
    assert rules(report) == []
    assert len(server.requests) == 2


def test_an_object_folder_that_leads_out_of_the_cache_is_not_used(
    runner: Runner, tmp_path: Path
) -> None:
    """objects/ab as a symlink to a folder elsewhere: nothing there is read, deleted or
    written."""
    cache = cache_of(runner)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / DIGEST).write_bytes(PLUGIN)
    (outside / OTHER_DIGEST).write_bytes(b"precious")
    with serving(lambda conn, _r: respond(conn, 200, PLUGIN)) as server:
        runner.write("values.yaml", values(server.url("/p"), DIGEST))
        (cache / "objects").mkdir(parents=True)
        (cache / "objects" / DIGEST[:2]).symlink_to(outside)
        if OTHER_DIGEST[:2] != DIGEST[:2]:
            (cache / "objects" / OTHER_DIGEST[:2]).symlink_to(outside)
        report = lint(runner)
    assert report["plugins"][0]["artifact"]["sha256"] == DIGEST
    assert len(server.requests) == 1
    assert (outside / OTHER_DIGEST).read_bytes() == b"precious"
    assert sorted(p.name for p in outside.iterdir()) == sorted([DIGEST, OTHER_DIGEST])


def test_a_temporary_folder_that_leads_out_of_the_cache_is_never_swept(
    runner: Runner, tmp_path: Path
) -> None:
    """The sweep deletes day-old leftovers in tmp/: through a symlink that would be anyone's
    files."""
    cache = cache_of(runner)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    old = outside / "download-precious"
    old.write_text("precious")
    day_ago = time.time() - 3 * 24 * 3600
    os.utime(old, (day_ago, day_ago))
    cache.mkdir()
    (cache / "tmp").symlink_to(outside)
    with serving(lambda conn, _r: respond(conn, 200, PLUGIN)) as server:
        runner.write("values.yaml", values(server.url("/p"), DIGEST))
        report = lint(runner)
    assert report["plugins"][0]["artifact"]["sha256"] == DIGEST
    assert old.read_text() == "precious"


# --- item 4: a size budget, least recently used out first ---------------------------------


def test_the_cache_keeps_to_its_size_budget(runner: Runner) -> None:
    bodies = {f"/{name}": PLUGIN + bytes([index]) * 50_000 for index, name in enumerate("abc")}
    digests = {path: hashlib.sha256(body).hexdigest() for path, body in bodies.items()}
    cache = cache_of(runner)
    with serving(lambda conn, r: respond(conn, 200, bodies[r.target])) as server:
        for path in ("/a", "/b"):
            runner.write("values.yaml", values(server.url(path), digests[path]))
            lint(runner)
        time.sleep(0.05)
        runner.write("values.yaml", values(server.url("/a"), digests["/a"]))
        lint(runner)  # /a is used again (from the cache): /b is now the least recently used
        assert len(server.requests) == 2
        budget = len(bodies["/a"]) + len(bodies["/c"])
        runner.write("values.yaml", values(server.url("/c"), digests["/c"]))
        lint(runner, "--cache-max-size", str(budget))
    kept = sorted(p.name for p in (cache / "objects").rglob("*") if p.is_file())
    # Each object with what inspecting it found; /b's record went with it.
    assert kept == sorted(f"{digests[p]}{suffix}" for p in ("/a", "/c")
                          for suffix in ("", ".facts.json"))  # fmt: skip
    records = [json.loads(p.read_text())["url"] for p in (cache / "urls").iterdir()]
    assert sorted(records) == sorted([server.url("/a"), server.url("/c")])


# --- every run re-hashes: a record of the object's stat would be forged -------------------


def test_bytes_planted_with_a_matching_stat_record_are_never_trusted(runner: Runner) -> None:
    """A pull request's job on a shared self-hosted runner writes the cache as the same
    user: other bytes under the pinned digest, and a record of their inode, size, mtime and
    ctime beside them (what a stat-record cache would trust). The next run hashes the file,
    drops it, and downloads the real one."""
    with serving(lambda conn, _r: respond(conn, 200, PLUGIN)) as server:
        runner.write("values.yaml", values(server.url("/p"), DIGEST))
        lint(runner)
        planted = cache_of(runner) / "objects" / DIGEST[:2] / DIGEST
        # Other bytes (linux/arm64) of the pinned file's very size, so the URL record fits.
        planted.write_bytes(OTHER.ljust(len(PLUGIN), b"\0"))
        status = planted.stat()
        stamp = [status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns]
        planted.with_name(f"{DIGEST}.hashed.json").write_text(json.dumps(stamp))
        report = lint(runner)
    assert rules(report) == []  # the real plugin, inspected as such
    assert len(server.requests) == 2  # the planted file was dropped and the real one fetched
    assert hashlib.sha256(planted.read_bytes()).hexdigest() == DIGEST


def test_a_facts_record_nested_past_the_json_readers_recursion_is_not_read(
    runner: Runner,
) -> None:
    """The facts record beside an object (inspect/memo.py) is read like the URL record:
    64 KiB of `[` is a record not read, and the file is inspected again."""
    with serving(lambda conn, _r: respond(conn, 200, PLUGIN)) as server:
        runner.write("values.yaml", values(server.url("/p"), DIGEST))
        lint(runner)
        facts = cache_of(runner) / "objects" / DIGEST[:2] / f"{DIGEST}.facts.json"
        assert facts.is_file()
        facts.write_text("[" * 60_000)
        report = lint(runner)
    assert rules(report) == []
    assert json.loads(facts.read_text())["sha256"] == DIGEST  # written anew
