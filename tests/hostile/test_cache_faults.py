"""The download cache under faults, with real processes: a run killed with SIGKILL in the
middle of a download, four runs sharing one cache at once, a cache folder that breaks in
the middle of a run, records and objects that are garbage, FIFOs or devices. The cache is
never poisoned (no object fails its own hash, no partial file is ever trusted) and the run
always ends in a report.

Already elsewhere (tests/test_fetch.py): a cache folder that cannot be created (a warning,
a run without cache), and a cached object whose bytes were changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from subprocess import PIPE
from typing import Any

import pytest

from tests.conftest import Runner
from tests.hostile.helpers import (
    Gate,
    assert_cache_is_sound,
    cache_objects,
    cli_command,
    kill_group,
    run_cli,
    start_cli,
)
from tests.inspect_fixtures import Elf, elf_with_inline_buildinfo
from tests.servers import Request, respond, serving

PLUGIN = elf_with_inline_buildinfo()
OTHER = Elf(machine=183).build()  # an arm64 ELF: a different file, a different verdict
DIGEST = hashlib.sha256(PLUGIN).hexdigest()


def values(*locations: str, sha256: str | None = None) -> str:
    entries = ""
    for index, location in enumerate(locations):
        entries += f"    - name: acme/p{index}\n      location: {location}\n"
        if sha256:
            entries += f'      sha256: "{sha256}"\n'
    return f"controller:\n  trafficRouterPlugins:\n{entries}"


def cli_args(cache: Path, *extra: str) -> list[str]:
    return [
        "--format", "json", "--allow-private-addresses", "--timeout", "5",
        "--cache-dir", str(cache), *extra, "values.yaml",
    ]  # fmt: skip


def online(runner: Runner, cache: Path, *extra: str) -> tuple[dict[str, Any], str]:
    code, out, err = runner.run(*cli_args(cache, *extra))
    assert code in (0, 1), err
    assert "Traceback" not in err
    return json.loads(out), err


# --- SIGKILL mid-download ------------------------------------------------------------------


def test_a_run_killed_mid_download_never_poisons_the_cache(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    cache = tmp_path / "cache"
    gate = Gate()
    serve_full = threading.Event()

    def handler(conn: socket.socket, _request: Request) -> None:
        if serve_full.is_set():
            respond(conn, 200, OTHER)
            return
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(PLUGIN)}\r\n\r\n".encode()
        conn.sendall(head + PLUGIN[: len(PLUGIN) // 2])
        gate.wait()  # half a body, then nothing: the run is killed while it waits

    with serving(handler) as server:
        (project / "values.yaml").write_text(values(server.url("/p")), encoding="utf-8")
        child = start_cli(cli_args(cache), project)
        try:
            partial = _wait_for_partial_download(cache / "tmp")
            time.sleep(0.3)  # the half body is read (it may sit in the writer's buffer)
            kill_group(child)
            assert child.wait(10) == -9
        finally:
            kill_group(child)
            gate.open()
        assert partial.exists()  # the killed run left its temporary file...
        assert cache_objects(cache) == []  # ...and nothing else
        assert list((cache / "urls").iterdir()) == []

        offline = run_cli(cli_args(cache, "--offline"), project)
        offline.assert_report()
        assert sorted(f["rule"] for f in json.loads(offline.out)["findings"]) == [
            "insecure-location",
            "missing-sha256",
            "not-verified",  # the partial file is never taken for the download
        ]

        serve_full.set()
        rerun = run_cli(cli_args(cache), project)
    rerun.assert_report()
    artifact = json.loads(rerun.out)["plugins"][0]["artifact"]
    assert artifact["sha256"] == hashlib.sha256(OTHER).hexdigest()
    assert artifact["arch"] == "arm64"
    assert_cache_is_sound(cache)
    assert [p.name for p in cache_objects(cache)] == [hashlib.sha256(OTHER).hexdigest()]


def _wait_for_partial_download(folder: Path, limit: float = 20.0) -> Path:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if folder.is_dir():
            for path in folder.iterdir():
                if path.name.startswith("download-"):
                    return path
        time.sleep(0.02)
    raise AssertionError(f"no partial download appeared in {folder}")


# --- four runs at once ---------------------------------------------------------------------


def test_four_runs_sharing_one_cache_agree_and_leave_it_sound(tmp_path: Path) -> None:
    """Four processes on the same config and cache, against one server that answers slowly
    enough for their downloads to overlap. Their reports must be identical except
    `from_cache` and `final_url` (see `_without_from_cache`): which run stores a file first
    is a race, and whichever loses it is served that file from the cache."""
    project = tmp_path / "project"
    project.mkdir()
    cache = tmp_path / "cache"
    bodies = {
        "/good": PLUGIN,
        "/pinned": PLUGIN,
        "/arm": OTHER,
        "/page": b"<html><title>Login</title></html>",
    }

    def slow(conn: socket.socket, request: Request) -> None:
        body = bodies.get(request.target)
        if body is None:
            respond(conn, 404, b"Not Found")
            return
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        conn.sendall(head + body[: len(body) // 2])
        time.sleep(0.3)  # every download is in flight in all four runs at once
        conn.sendall(body[len(body) // 2 :])

    with serving(slow) as server:
        config = values(*(server.url(path) for path in ("/good", "/arm", "/page", "/missing")))
        config += f"    - name: acme/pinned\n      location: {server.url('/pinned')}\n"
        config += f'      sha256: "{DIGEST}"\n'
        (project / "values.yaml").write_text(config, encoding="utf-8")
        children = [start_cli(cli_args(cache), project, stdout=PIPE, stderr=PIPE) for _ in range(4)]
        outputs = [child.communicate(timeout=60) for child in children]
    reports = []
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode in (0, 1), err.decode()
        assert b"Traceback" not in err
        reports.append(_without_from_cache(json.loads(out)))
    for report in reports[1:]:
        assert report == reports[0]
    rules = sorted({f["rule"] for f in reports[0]["findings"]})
    assert {"wrong-arch", "not-executable", "download-failed"} <= set(rules), rules
    assert_cache_is_sound(cache)
    stored = {p.name for p in cache_objects(cache)}
    expected = {hashlib.sha256(b).hexdigest() for b in bodies.values()}
    assert stored == expected
    assert list((cache / "tmp").iterdir()) == []  # every run cleaned up after itself
    for record in (cache / "urls").iterdir():
        assert json.loads(record.read_text())["sha256"] in stored


def _without_from_cache(report: dict[str, Any]) -> dict[str, Any]:
    """A pinned file that another run stored is served from the cache: `from_cache` is true,
    and `final_url` is unknown (null) when that run had not yet written this URL's record.
    Everything that judges the file stays the same."""
    for plugin in report["plugins"]:
        if plugin["artifact"] is not None:
            plugin["artifact"].pop("from_cache")
            plugin["artifact"].pop("final_url")
    return report


# --- a cache that breaks during the run ----------------------------------------------------

_URL: list[str] = []


def _object_folder_is_a_file(cache: Path) -> None:
    (cache / "objects").mkdir(parents=True)
    (cache / "objects" / DIGEST[:2]).write_text("not a folder")


def _record_is_a_folder(cache: Path) -> None:
    url_key = hashlib.sha256(_URL[0].encode()).hexdigest()
    (cache / "urls" / f"{url_key}.json").mkdir(parents=True)


@pytest.mark.parametrize(
    "breakage",
    [_object_folder_is_a_file, _record_is_a_folder],
    ids=["object-folder-is-a-file", "url-record-is-a-folder"],
)
def test_a_cache_that_cannot_be_written_mid_run_is_a_warning(runner: Runner, breakage: Any) -> None:
    cache = runner.root.parent / "cache"
    with serving(lambda conn, _r: respond(conn, 200, PLUGIN)) as server:
        _URL[:] = [server.url("/p")]
        breakage(cache)
        runner.write("values.yaml", values(server.url("/p")))
        report, err = online(runner, cache)
    artifact = report["plugins"][0]["artifact"]
    assert artifact["sha256"] == DIGEST and artifact["format"] == "elf"  # still checked
    assert "could not be written" in err and str(cache) in err
    assert list((cache / "tmp").iterdir()) == []  # nothing left behind in the cache


# --- garbage in the cache ------------------------------------------------------------------

GARBAGE_RECORDS = {
    "sha256-is-a-number": lambda r: {**r, "sha256": 5},
    # objects/<first two>/<digest> would be objects/../../canary: a file outside the cache,
    # which a hash mismatch would delete
    "sha256-climbs-out": lambda r: {**r, "sha256": "../canary"},
    "etag-is-a-number": lambda r: {**r, "etag": 7},
    "etag-with-a-line-break": lambda r: {**r, "etag": '"v1"\r\nX-Injected: 1'},
    "final-url-missing": lambda r: {k: v for k, v in r.items() if k != "final_url"},
    "extra-field": lambda r: {**r, "extra": 1},
    "a-list": lambda r: [r],
    "null": lambda r: None,
}


@pytest.mark.parametrize("name", [*GARBAGE_RECORDS, "truncated-json", "not-utf-8"])
def test_garbage_url_records_are_ignored(runner: Runner, name: str) -> None:
    cache = runner.root.parent / "cache"
    canary = runner.root.parent / "canary"  # where `sha256-climbs-out` points
    canary.write_text("precious")
    with serving(lambda conn, _r: respond(conn, 200, PLUGIN, {"ETag": '"v1"'})) as server:
        runner.write("values.yaml", values(server.url("/p")))
        online(runner, cache)
        (record,) = (cache / "urls").iterdir()
        if name == "truncated-json":
            record.write_text(record.read_text()[:20])
        elif name == "not-utf-8":
            record.write_bytes(b'{"url": "\xff\xfe"}')
        else:
            record.write_text(json.dumps(GARBAGE_RECORDS[name](json.loads(record.read_text()))))
        report, _ = online(runner, cache)
        second = server.requests[-1]
    artifact = report["plugins"][0]["artifact"]
    assert artifact["sha256"] == DIGEST and artifact["status"] == 200
    assert "x-injected" not in second.headers
    assert_cache_is_sound(cache)
    assert canary.read_text() == "precious"


def test_a_server_etag_that_is_not_ascii_never_breaks_the_next_run(runner: Runner) -> None:
    """The ETag is a header the server chose; the next run sends it back."""

    def handler(conn: socket.socket, _request: Request) -> None:
        conn.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Length: {len(PLUGIN)}\r\n".encode()
            + b'ETag: "\xc3\xa9t\xe9"\r\nLast-Modified: \xff\r\n\r\n'
            + PLUGIN
        )

    cache = runner.root.parent / "cache"
    with serving(handler) as server:
        runner.write("values.yaml", values(server.url("/p")))
        first, _ = online(runner, cache)
        second, _ = online(runner, cache)
    for report in (first, second):
        assert report["plugins"][0]["artifact"]["sha256"] == DIGEST


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_an_object_that_is_not_a_regular_file_is_never_read(tmp_path: Path, kind: str) -> None:
    """A FIFO would block the read forever, /dev/zero would never end: the object is taken
    as absent and downloaded again. In a process of its own, so a hang can be ended."""
    project = tmp_path / "project"
    project.mkdir()
    cache = tmp_path / "cache"
    target = cache / "objects" / DIGEST[:2] / DIGEST
    target.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    else:
        target.symlink_to("/dev/zero")
    with serving(lambda conn, _r: respond(conn, 200, PLUGIN)) as server:
        (project / "values.yaml").write_text(values(server.url("/p"), sha256=DIGEST))
        outcome = run_cli(cli_args(cache), project, limit=20)
    outcome.assert_report()
    assert json.loads(outcome.out)["plugins"][0]["artifact"]["sha256"] == DIGEST
    assert len(server.requests) == 1


# --- a disk that fills up mid-download -----------------------------------------------------

BIG = PLUGIN + bytes(1024 * 1024)  # still the plugin's ELF, with a megabyte of padding
BIG_DIGEST = hashlib.sha256(BIG).hexdigest()


def _big_or_small(conn: socket.socket, request: Request) -> None:
    respond(conn, 200, BIG if request.target == "/big" else PLUGIN)


def _run_limited(args: list[str], cwd: Path, file_size_limit: int) -> tuple[int, str, str]:
    """The CLI with RLIMIT_FSIZE lowered: a write past the limit fails with EFBIG (Python
    ignores SIGXFSZ), the way a full disk fails with ENOSPC. The report goes to files that
    stay under the limit."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    out_path, err_path = cwd.parent / "out.json", cwd.parent / "err.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        child = start_cli(args, cwd, stdout=out, stderr=err, preexec_fn=limit)
        try:
            code = child.wait(60)
        finally:
            kill_group(child)
    return code, out_path.read_text(), err_path.read_text()


@pytest.mark.parametrize("cached", [True, False], ids=["with-cache", "no-cache"])
def test_a_download_that_cannot_be_saved_is_a_finding(tmp_path: Path, cached: bool) -> None:
    project = tmp_path / "project"
    project.mkdir()
    cache = tmp_path / "cache"
    with serving(_big_or_small) as server:
        (project / "values.yaml").write_text(values(server.url("/big"), server.url("/small")))
        args = cli_args(cache) if cached else [*cli_args(cache), "--no-cache"]
        code, out, err = _run_limited(args, project, file_size_limit=256 * 1024)
    assert code in (0, 1), (code, err[-3000:])
    assert "Traceback" not in err
    report = json.loads(out)
    big, small = report["plugins"]
    assert big["artifact"]["problem"] == "not-verified"
    (finding,) = [f for f in report["findings"] if f["rule"] == "not-verified"]
    assert finding["severity"] == "warning" and finding["line"] == 4
    assert "could not be saved on this machine: File too large" in finding["message"]
    assert small["artifact"]["sha256"] == DIGEST  # the rest of the run goes on
    if cached:
        assert "could not be written" in err
        assert list((cache / "tmp").iterdir()) == []
        assert_cache_is_sound(cache)


def _tmpfs_available() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = subprocess.run(
        [unshare, "-rm", "sh", "-c", "mount -t tmpfs -o size=64k none /mnt"],
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _tmpfs_available(), reason="no unprivileged mount namespace for a tmpfs")
def test_a_full_cache_disk_falls_back_to_the_scratch_folder(tmp_path: Path) -> None:
    """The cache on a 256 KiB tmpfs (mounted in a user and mount namespace of the run's own)
    fills up mid-download: the bytes move to the run's scratch folder and are judged."""
    project = tmp_path / "project"
    project.mkdir()
    cache = tmp_path / "cache"
    cache.mkdir()
    with serving(_big_or_small) as server:
        (project / "values.yaml").write_text(values(server.url("/big")))
        script = 'mount -t tmpfs -o size=256k none "$0" && exec "$@"'
        command = ["unshare", "-rm", "sh", "-c", script, str(cache), *cli_command(*cli_args(cache))]
        done = subprocess.run(
            command, cwd=project, capture_output=True, text=True, timeout=60, check=False
        )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "could not be written" in done.stderr and "No space left on device" in done.stderr
    artifact = json.loads(done.stdout)["plugins"][0]["artifact"]
    assert artifact["sha256"] == BIG_DIGEST and artifact["problem"] is None


def test_the_cache_never_vouches_for_an_object_above_the_download_bound(runner: Runner) -> None:
    """A cache restored from elsewhere can hold objects of any size (zeros compress well):
    one above `--max-size` would have been refused as a download, and hashing a planted one
    of gigabytes takes minutes, so it is neither hashed nor trusted."""
    cache = runner.root.parent / "cache"
    with serving(lambda conn, _r: respond(conn, 200, PLUGIN)) as server:
        runner.write("values.yaml", values(server.url("/p"), sha256=DIGEST))
        online(runner, cache)
    bound = str(len(PLUGIN) - 1)

    within, _ = online(runner, cache, "--offline")
    above, _ = online(runner, cache, "--offline", "--max-size", bound)

    assert within["plugins"][0]["artifact"]["sha256"] == DIGEST
    artifact = above["plugins"][0]["artifact"]
    assert artifact["sha256"] is None
    assert artifact["problem"] == "not-verified"
    assert_cache_is_sound(cache)
