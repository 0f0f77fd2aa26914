"""Every benchmark at a tiny size, so none of them can rot: it runs, prints its table,
and the facts that are about correctness, not speed, hold (every plugin entry found,
every download intact, no request for a pinned entry on a warm run, no network or
terminal library imported by an offline call). The speed targets are not asserted here:
on a shared machine they are noise. benchmarks/README.md has the real numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
TABLE_HEADER = "| benchmark | measured | wall (s) | peak RSS (MB) | ratio | target | met |"


def run_benchmark(name: str, tmp_path: Path) -> dict[str, Any]:
    """Run `benchmarks/<name>.py --size tiny` the way the README says; its results."""
    results = tmp_path / f"{name}.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), "--size", "tiny", "--json", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert TABLE_HEADER in done.stdout.splitlines()
    document: dict[str, Any] = json.loads(results.read_text(encoding="utf-8"))
    assert all(row["benchmark"] == name for row in document["rows"])
    return document


def test_scan_finds_every_plugin_entry_and_nothing_else(tmp_path: Path) -> None:
    facts = run_benchmark("scan", tmp_path)["facts"]
    assert facts["plugin entries found"] == facts["plugin entries expected"] > 0
    assert facts["unexpected entries"] == 0
    assert facts["every plugin entry found"] is True
    # The grep floor looks at exactly the files that hold the three keys.
    assert facts["files grep lists"] == facts["files with plugin entries"]


def test_fetch_downloads_every_file_intact(tmp_path: Path) -> None:
    document = run_benchmark("fetch", tmp_path)
    assert document["facts"]["every download correct (sha256 of each file)"] is True
    assert all(row["peak_rss"] for row in document["rows"])


def test_warm_run_asks_nothing_for_pinned_entries(tmp_path: Path) -> None:
    facts = run_benchmark("warm", tmp_path)["facts"]
    assert facts["requests per warm run, every entry pinned"] == 0
    # Two of the four entries are unpinned: one conditional request each, answered 304.
    assert facts["requests per warm run, half pinned"] == 2
    assert facts["of those, conditional and answered 304"] == 2
    assert facts["every warm-run request expected (none for pinned, at most one 304 for unpinned)"]
    # Every download's inspection is remembered, so the warm runs inspect nothing again.
    assert facts["facts records after each cold run (one per download)"] == 4


def test_offline_start_imports_no_network_or_terminal_library(tmp_path: Path) -> None:
    facts = run_benchmark("start", tmp_path)["facts"]
    assert facts["httpx, rich, anyio imported for deployment.yaml"] == "none"
    assert facts["httpx, rich, anyio imported for values.yaml"] == "none"
    assert facts["the values-file call found its plugin entry"] is True
    # A file that no plugin key is in is never parsed.
    assert "ruamel" not in facts["imported for deployment.yaml, of ruamel, jsonschema, asyncio"]
