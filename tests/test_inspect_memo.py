"""A warm run re-checks its downloads from what inspecting them found, remembered next to
the cache object; a record that is not provably about the object re-hashed in this run,
or not one we could have written, is ignored and rewritten. End to end through the CLI
against a real server on 127.0.0.1 and a real cache folder."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Runner
from tests.inspect_fixtures import elf_with_inline_buildinfo
from tests.servers import Request, respond, serving

PLUGIN = elf_with_inline_buildinfo()  # a static linux/amd64 Go plugin
DIGEST = hashlib.sha256(PLUGIN).hexdigest()


def serve_plugin(conn: socket.socket, request: Request) -> None:
    respond(conn, 200, PLUGIN, {"Content-Type": "application/octet-stream"})


def lint(runner: Runner, location: str) -> dict[str, Any]:
    runner.write(
        "values.yaml",
        "controller:\n  trafficRouterPlugins:\n    - name: acme/p\n"
        f'      location: {location}\n      sha256: "{DIGEST}"\n',
    )
    code, out, err = runner.run(
        "--format", "json", "--allow-private-addresses", "--timeout", "5",
        "--cache-dir", str(runner.root.parent / "cache"), "values.yaml",
    )  # fmt: skip
    assert code in (0, 1), err
    assert "Traceback" not in err
    report: dict[str, Any] = json.loads(out)
    return report


def rules(report: dict[str, Any]) -> list[str]:
    routine = {"insecure-location"}
    return sorted(f["rule"] for f in report["findings"] if f["rule"] not in routine)


def facts_record(runner: Runner) -> Path:
    return runner.root.parent / "cache" / "objects" / DIGEST[:2] / f"{DIGEST}.facts.json"


def as_arm64(record: dict[str, Any]) -> dict[str, Any]:
    """A record that differs from what inspecting the file finds: a run that uses it says
    so (wrong-arch), one that inspects the file does not."""
    forged = json.loads(json.dumps(record))
    forged["facts"]["arch"] = "arm64"
    return forged


def test_a_warm_run_reads_the_remembered_facts_instead_of_the_file(runner: Runner) -> None:
    with serving(serve_plugin) as server:
        url = server.url("/p-linux-amd64")
        assert rules(lint(runner, url)) == []
        record = json.loads(facts_record(runner).read_text(encoding="utf-8"))
        assert isinstance(record["version"], int) and record["sha256"] == DIGEST
        assert record["facts"]["format"] == "elf" and record["facts"]["arch"] == "amd64"
        facts_record(runner).write_text(json.dumps(as_arm64(record)), encoding="utf-8")
        requests = len(server.requests)
        assert "wrong-arch" in rules(lint(runner, url))
        assert len(server.requests) == requests  # pinned and cached: no request at all


def _other_version(record: dict[str, Any]) -> Any:
    return {**as_arm64(record), "version": record["version"] - 1}


def _other_digest(record: dict[str, Any]) -> Any:
    return {**as_arm64(record), "sha256": "0" * 64}


def _other_size(record: dict[str, Any]) -> Any:
    forged = as_arm64(record)
    forged["size"] = forged["facts"]["size"] = record["size"] + 1
    return forged


def _other_content_type(record: dict[str, Any]) -> Any:
    return {**as_arm64(record), "content_type": "text/html"}


def _unknown_format(record: dict[str, Any]) -> Any:
    forged = as_arm64(record)
    forged["facts"]["format"] = "rocket"
    return forged


def _terminal_escape(record: dict[str, Any]) -> Any:
    forged = as_arm64(record)
    forged["facts"]["detail"] = "\x1b]8;;https://evil.test\x07click\x1b[2J"
    return forged


def _bad_kind(record: dict[str, Any]) -> Any:
    forged = as_arm64(record)
    forged["facts"]["plugin_kinds"] = ["everything"]
    return forged


def _missing_field(record: dict[str, Any]) -> Any:
    forged = as_arm64(record)
    del forged["facts"]["head"]
    return forged


def _wrong_types(record: dict[str, Any]) -> Any:
    forged = as_arm64(record)
    forged["facts"]["members"] = "abc"
    forged["facts"]["go"] = {"version": 5}
    return forged


def _oversized(record: dict[str, Any]) -> Any:
    forged = as_arm64(record)
    forged["padding"] = "x" * (300 * 1024)
    return forged


@pytest.mark.parametrize(
    "forge",
    [_other_version, _other_digest, _other_size, _other_content_type, _unknown_format,
     _terminal_escape, _bad_kind, _missing_field, _wrong_types, _oversized,
     lambda record: [record], lambda record: "not json {"],
    ids=["version", "sha256", "size", "content-type", "format", "escape", "kind",
         "missing", "types", "oversized", "list", "garbage"],
)  # fmt: skip
def test_a_record_we_could_not_have_written_is_ignored_and_rewritten(
    runner: Runner, forge: Any
) -> None:
    with serving(serve_plugin) as server:
        url = server.url("/p-linux-amd64")
        lint(runner, url)
        path = facts_record(runner)
        record = json.loads(path.read_text(encoding="utf-8"))
        forged = forge(record)
        path.write_text(forged if isinstance(forged, str) else json.dumps(forged), "utf-8")
        assert rules(lint(runner, url)) == []
        assert json.loads(path.read_text(encoding="utf-8")) == record


def test_a_record_is_not_followed_through_a_symlink(runner: Runner) -> None:
    with serving(serve_plugin) as server:
        url = server.url("/p-linux-amd64")
        lint(runner, url)
        path = facts_record(runner)
        record = json.loads(path.read_text(encoding="utf-8"))
        elsewhere = runner.root.parent / "planted.json"
        elsewhere.write_text(json.dumps(as_arm64(record)), encoding="utf-8")
        path.unlink()
        path.symlink_to(elsewhere)
        assert rules(lint(runner, url)) == []
        assert not path.is_symlink() and json.loads(path.read_text("utf-8")) == record
        assert json.loads(elsewhere.read_text("utf-8")) == as_arm64(record)


def test_a_record_counts_only_for_an_object_that_re_hashes(runner: Runner) -> None:
    """The object was replaced by other bytes: the cache drops it and downloads again,
    and the record about the old bytes is not believed for the new download."""
    with serving(serve_plugin) as server:
        url = server.url("/p-linux-amd64")
        lint(runner, url)
        path = facts_record(runner)
        record = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps(as_arm64(record)), encoding="utf-8")
        obj = path.with_name(DIGEST)
        os.chmod(obj, 0o644)
        obj.write_bytes(PLUGIN[:-1] + bytes([PLUGIN[-1] ^ 1]))
        requests = len(server.requests)
        assert rules(lint(runner, url)) == []
        assert len(server.requests) == requests + 1
        assert json.loads(path.read_text(encoding="utf-8")) == record
