"""Bounds on the network phase, on real sockets on 127.0.0.1 and the CLI as a real process:
content codings decoded only as the controller's Go client decodes them and never past
--max-size in memory; one deadline for the whole phase; bounded, finite settings; a capped
number of GitHub API calls, with the token only for the workflow's own owner.

Figures (peak RSS, seconds) are printed with `-s`; the assertions hold wide margins.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rollouts_plugin_lint.fetch.client import Downloader, FetchOptions, make_client
from rollouts_plugin_lint.model import Artifact
from tests.hostile.helpers import Gate, Outcome, run_cli
from tests.hostile.test_network_faults import PLUGIN, gzip_bomb, the_verdict, trickle, values
from tests.servers import Request, respond, serving

MIB = 1024 * 1024


def cli(project: Path, *args: str, limit: float = 120.0) -> Outcome:
    outcome = run_cli(
        ["--format", "json", "--allow-private-addresses", "--no-cache", "--timeout", "5",
         *args, "values.yaml"],
        project,
        limit=limit,
    )  # fmt: skip
    print(f"\n{args}: {outcome.seconds:.1f} s, peak RSS {outcome.peak_rss / MIB:.0f} MiB")
    return outcome


def project_with(tmp_path: Path, *locations: str) -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "values.yaml").write_text(values(*locations), encoding="utf-8")
    return project


def report_of(outcome: Outcome) -> dict[str, Any]:
    outcome.assert_report()
    return json.loads(outcome.out)  # type: ignore[no-any-return]


# --- content codings ---------------------------------------------------------------------


def test_stacked_gzip_codings_are_saved_as_sent_like_go(tmp_path: Path) -> None:
    """`gzip, gzip`: 1 GiB of zeros in 1.8 kB. Go's client decodes only an exact `gzip`,
    so the controller saves these bytes as they came; we take them raw too (no inflating
    at all) and say which coding was left alone."""
    inner = gzip_bomb(64)  # 1 GiB of zeros in 1 MB, then 1.8 kB once gzipped again
    body = gzip.compress(inner, 9)
    with serving(
        lambda conn, _r: respond(conn, 200, body, {"Content-Encoding": "gzip, gzip"})
    ) as server:
        outcome = cli(project_with(tmp_path, server.url("/p")))
    rule, message = the_verdict(report_of(outcome))
    assert rule == "archive" and "gzip archive" in message, message
    assert "`Content-Encoding: gzip, gzip`" in message and "does not decode" in message, message
    assert outcome.peak_rss < 300 * MIB, f"{outcome.peak_rss / MIB:.0f} MiB"


def test_a_gzip_bomb_never_inflates_past_what_max_size_still_allows(tmp_path: Path) -> None:
    """One `gzip` coding, decoded, with --max-size 1 MiB: one 64 KiB read of a bomb inflates
    to 64 MiB; the decoder must stop at the 1 MiB that is left, so memory stays at the
    interpreter's own."""
    bomb = gzip_bomb(16)
    with serving(lambda conn, _r: respond(conn, 200, bomb, {"Content-Encoding": "GZip"})) as server:
        project = project_with(tmp_path, server.url("/p"))
        outcome = cli(project, "--max-size", str(MIB))
        plain = cli(project, "--offline")  # the same process without any download
    rule, message = the_verdict(report_of(outcome))
    assert rule == "too-large" and "sent more than 1,048,576 bytes" in message, message
    grown = outcome.peak_rss - plain.peak_rss
    assert grown < 40 * MIB, f"{grown / MIB:.0f} MiB over an offline run"


def test_an_encoding_go_does_not_decode_is_saved_as_sent(tmp_path: Path) -> None:
    """`br`: Go never asks for it nor decodes it: the controller saves the bytes as sent."""
    body = b"\x1b\x03\x00\xf8\xa5\x00\x00\x00brotli-ish bytes" * 4
    with serving(lambda conn, _r: respond(conn, 200, body, {"Content-Encoding": "br"})) as server:
        report = report_of(cli(project_with(tmp_path, server.url("/p"))))
    rule, message = the_verdict(report)
    assert rule == "not-executable", message
    assert "`Content-Encoding: br`" in message and "does not decode" in message, message
    assert report["plugins"][0]["artifact"]["sha256"] == hashlib.sha256(body).hexdigest()


def test_a_gzip_body_in_several_members_is_decoded_whole_like_go(tmp_path: Path) -> None:
    """compress/gzip reads concatenated members one after another (Go's client decodes with
    it); the file is the plugin whole, not its first member."""
    half = len(PLUGIN) // 2
    body = gzip.compress(PLUGIN[:half]) + gzip.compress(PLUGIN[half:])
    with serving(lambda conn, _r: respond(conn, 200, body, {"Content-Encoding": "gzip"})) as server:
        report = report_of(cli(project_with(tmp_path, server.url("/p"))))
    artifact = report["plugins"][0]["artifact"]
    assert artifact["sha256"] == hashlib.sha256(PLUGIN).hexdigest(), report["findings"]


def test_a_gzip_body_cut_inside_a_member_is_refused(tmp_path: Path) -> None:
    """The controller's copy fails on a truncated gzip stream (io.ErrUnexpectedEOF): no
    file, a finding that says the coding did not decode."""
    body = gzip.compress(PLUGIN)[:-100]
    with serving(lambda conn, _r: respond(conn, 200, body, {"Content-Encoding": "gzip"})) as server:
        report = report_of(cli(project_with(tmp_path, server.url("/p"))))
    rule, message = the_verdict(report)
    assert rule == "unreachable" and "does not decode" in message, message
    assert report["plugins"][0]["artifact"]["sha256"] is None


# --- one deadline for the network phase --------------------------------------------------


def test_trickling_servers_end_at_the_runs_deadline(tmp_path: Path) -> None:
    """8 servers that send a byte every 50 ms (never a read timeout): one download's own
    bound is 60 s, so 8 of them with 4 jobs took 121 s. The run's deadline ends them all."""
    gate = Gate()
    with serving(trickle(gate)) as server:
        project = project_with(tmp_path, *(server.url(f"/p{n}") for n in range(8)))
        outcome = cli(project, "--timeout", "1", "--deadline", "3", limit=90)
        gate.open()
    report = report_of(outcome)
    unfinished = [f for f in report["findings"] if f["rule"] == "unreachable"]
    assert len(unfinished) == 8, report["findings"]
    for finding in unfinished:
        assert "the run's deadline of 3 s" in finding["message"], finding


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ("timeout: 1000000\njobs: 1\n", "greater than the maximum of 300"),
        ("jobs: 50\n", "maximum of 32"),
        (f"max-size: {8 * 1024**3}\n", "maximum of 4294967296"),
        ("deadline: 86400\n", "maximum of 3600"),
        ("timeout: .inf\n", "timeout"),
        ("timeout: .nan\n", "must be a finite number, not nan"),
        ("deadline: .nan\n", "must be a finite number, not nan"),
    ],
)
def test_the_config_file_cannot_set_unbounded_network_settings(
    tmp_path: Path, config: str, says: str
) -> None:
    project = project_with(tmp_path, "https://example.invalid/p")
    (project / ".rollouts-plugin-lint.yaml").write_text(config, encoding="utf-8")
    outcome = cli(project, "--handshake", "--offline")
    assert outcome.code == 2, (outcome.code, outcome.err[-2000:])
    assert says in outcome.err and "Traceback" not in outcome.err, outcome.err
    assert len(outcome.err.strip().splitlines()) == 1, outcome.err


@pytest.mark.parametrize(
    "flags",
    [
        ("--timeout", "inf"),
        ("--timeout", "nan"),
        ("--timeout", "301"),
        ("--deadline", "inf"),
        ("--deadline", "-1"),
        ("--jobs", "33"),
        ("--max-size", str(5 * 1024**3)),
    ],
)
def test_flags_are_bounded_and_finite(tmp_path: Path, flags: tuple[str, str]) -> None:
    outcome = cli(project_with(tmp_path, "https://example.invalid/p"), "--offline", *flags)
    assert outcome.code == 2, (outcome.code, outcome.err[-2000:])
    assert f"{flags[0]}: must be" in outcome.err and "Traceback" not in outcome.err, outcome.err
    assert len(outcome.err.strip().splitlines()) == 1, outcome.err


def test_a_pyproject_infinity_is_refused(tmp_path: Path) -> None:
    project = project_with(tmp_path, "https://example.invalid/p")
    (project / "pyproject.toml").write_text(
        "[tool.rollouts-plugin-lint]\ntimeout = inf\n", encoding="utf-8"
    )
    outcome = cli(project, "--offline")
    assert outcome.code == 2, (outcome.code, outcome.err[-2000:])
    assert "pyproject.toml" in outcome.err and "timeout" in outcome.err, outcome.err


# --- the GitHub API: a budget per run, one listing per repository ------------------------


def counting_api(releases: int, more_pages: bool) -> Callable[[socket.socket, Request], None]:
    """GitHub's REST API where every repository has `releases` releases on its first page
    (and a `next` page if `more_pages`); tags and repositories it is asked about exist."""
    listing = json.dumps(
        [{"tag_name": f"v0.{n}.0", "draft": False, "assets": []} for n in range(releases)]
    ).encode()

    def handler(conn: socket.socket, request: Request) -> None:
        headers = {"Content-Type": "application/json"}
        if "/releases?" in request.target:
            if more_pages:
                headers["Link"] = f'<{request.target}&page=2>; rel="next"'
            respond(conn, 200, listing, headers)
        elif "/releases/tags/" in request.target:
            respond(conn, 404, b'{"message":"Not Found"}', headers)
        else:
            respond(conn, 200, b'{"full_name":"x"}', headers)

    return handler


def release_lookups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api_handler: Any, paths: list[str]
) -> tuple[int, dict[str, Any]]:
    """Run the CLI on release URLs that all answer 404; the API requests it made."""
    with (
        serving(api_handler) as api,
        serving(lambda conn, _r: respond(conn, 404, b"Not Found")) as downloads,
    ):
        monkeypatch.setenv("GITHUB_API_URL", api.url("/api"))
        monkeypatch.setenv("GITHUB_SERVER_URL", f"http://127.0.0.1:{downloads.port}")
        project = project_with(tmp_path, *(downloads.url(path) for path in paths))
        report = report_of(cli(project, "--jobs", "8"))
        assert len(downloads.requests) == len(paths)
    print(f"{len(api.requests)} API requests for {len(paths)} failing release URLs")
    return len(api.requests), report


def test_a_hundred_repositories_cost_at_most_the_runs_api_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: 100 repositories named by a pull request cost 300 API calls."""
    paths = [f"/o{n}/r/releases/download/1.0.0/x" for n in range(100)]
    requests, report = release_lookups(tmp_path, monkeypatch, counting_api(100, True), paths)
    assert requests <= 30
    failures = [f for f in report["findings"] if f["rule"] == "download-failed"]
    assert len(failures) == 100  # every finding stays; only hints are dropped


def test_a_complete_listing_answers_every_tag_of_its_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: one repository with 100 failing tags cost 201 API calls. Its one-page listing
    (fewer releases than a page, no `next` link) holds every release: no tag lookup."""
    paths = [f"/o/r/releases/download/1.{n}.0/x" for n in range(100)]
    requests, report = release_lookups(tmp_path, monkeypatch, counting_api(5, False), paths)
    assert requests == 1
    failure = next(f for f in report["findings"] if f["rule"] == "download-failed")
    assert "v0.4.0" in failure["message"] + (failure.get("hint") or ""), failure


def test_an_incomplete_listing_looks_tags_up_within_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [f"/o/r/releases/download/1.{n}.0/x" for n in range(100)]
    requests, _ = release_lookups(tmp_path, monkeypatch, counting_api(100, True), paths)
    assert 2 < requests <= 30


# --- error bodies ------------------------------------------------------------------------


def test_an_error_body_keeps_one_block_of_scratch(tmp_path: Path) -> None:
    """Every failing location's body waits in the scratch folder until the report is
    written: 2,000 of them at 64 KiB were 126 MB. The start (where the title, the API's
    message or the first words are) is kept, and it still makes the verdict."""
    page = (
        b"<!DOCTYPE html><html><head><title>Sign in to Acme SSO</title></head><body>"
        + b"<p>sign in</p>" * 20_000
        + b"</body></html>"
    )
    with serving(
        lambda conn, _r: respond(conn, 401, page, {"Content-Type": "text/html"})
    ) as server:
        project = project_with(tmp_path, server.url("/p"))
        report = report_of(cli(project))

        options = FetchOptions(timeout=5, allow_private=True)

        async def go() -> Artifact:
            async with make_client(options, 1) as client:
                return await Downloader(client, options, None, tmp_path).fetch(server.url("/p"))

        artifact = asyncio.run(go())
    assert artifact.status == 401 and artifact.path is not None
    assert artifact.path.stat().st_size <= 4096 and artifact.size <= 4096
    rule, message = the_verdict(report)
    assert rule == "download-failed" and "`Sign in to Acme SSO`" in message, message
