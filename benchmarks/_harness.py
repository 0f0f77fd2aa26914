"""What every benchmark shares: running the real CLI as a child process with its wall time
and peak RSS, medians over repeats, and a Markdown table that benchmarks/README.md can
show as printed.

Every time is measured in the same run as its baseline, and every verdict is a ratio,
because absolute times on a shared 2-core machine drift from one run to the next.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class Measured:
    """One finished child process."""

    wall: float  # seconds, from spawn to exit
    peak_rss: int  # bytes: the child's own high-water mark (ru_maxrss of wait4)
    returncode: int
    stdout: str
    stderr: str


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every measured child.

    PYTHONDONTWRITEBYTECODE is dropped: a pip-installed package ships compiled bytecode,
    so a run that recompiles our modules every time measures a development setup, not the
    hook people install. The variables that change the tool's behaviour (GitHub Actions,
    proxies, tokens) are dropped too, so every child sees the same world.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "PYTHONDONTWRITEBYTECODE"
        and not name.startswith(("GITHUB_", "ROLLOUTS_PLUGIN_LINT"))
        and not name.lower().endswith("_proxy")
    }
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def cli(*args: str) -> list[str]:
    """The real command line: a fresh interpreter, so start-up and imports are measured."""
    return [sys.executable, "-m", "rollouts_plugin_lint", *args]


def run_measured(
    command: Sequence[str], cwd: Path | str, env: Mapping[str, str] | None = None
) -> Measured:
    """Run `command` to its end. Output goes to files, not pipes, so a chatty child never
    blocks on a full pipe while we wait; wait4 gives this very child's peak RSS (the
    RUSAGE_CHILDREN total would mix in every earlier child)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env) if env is not None else None, stdout=out,
            stderr=err, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        out.seek(0)
        err.seek(0)
        return Measured(
            wall=wall,
            peak_rss=usage.ru_maxrss * 1024,  # Linux reports KiB
            returncode=process.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def interleaved(actions: Sequence[Callable[[], Measured]], times: int) -> list[list[Measured]]:
    """Each action `times` times, taking turns: a burst of load from elsewhere on the
    machine then slows a measurement and its baseline alike, and the ratio holds."""
    runs: list[list[Measured]] = [[] for _ in actions]
    for _ in range(max(times, 1)):
        for action, results in zip(actions, runs, strict=True):
            results.append(action())
    return runs


def median_wall(runs: Sequence[Measured]) -> float:
    return statistics.median(run.wall for run in runs)


def max_rss(runs: Sequence[Measured]) -> int:
    return max(run.peak_rss for run in runs)


def expect_exit(run: Measured, allowed: Sequence[int], what: str) -> Measured:
    """Our CLI exits 1 when findings fail the run (the generated data has some on purpose);
    anything else means the benchmark measured a crash."""
    if run.returncode not in allowed:
        raise SystemExit(
            f"{what} exited {run.returncode}, expected one of {list(allowed)}:\n"
            f"{run.stderr[-4000:]}"
        )
    return run


@dataclass(frozen=True)
class Row:
    benchmark: str
    measured: str  # what this row timed
    seconds: float | None
    peak_rss: int | None = None  # bytes
    ratio: str = ""  # the ratio the target speaks about, rendered
    target: str = ""
    met: bool | None = None  # None: a baseline or informational row


def render_table(rows: Sequence[Row]) -> str:
    header = "| benchmark | measured | wall (s) | peak RSS (MB) | ratio | target | met |"
    lines = [header, "|---|---|---:|---:|---:|---|---|"]
    for row in rows:
        seconds = "" if row.seconds is None else f"{row.seconds:.3f}"
        rss = "" if row.peak_rss is None else f"{row.peak_rss / MIB:.0f}"
        met = {None: "", True: "yes", False: "**no**"}[row.met]
        lines.append(
            f"| {row.benchmark} | {row.measured} | {seconds} | {rss} | {row.ratio} | "
            f"{row.target} | {met} |"
        )
    return "\n".join(lines)


def machine_line() -> str:
    """What the README must say next to a table: when, on what, and how busy the machine
    was (other work on a 2-core machine changes every ratio that involves parallelism)."""
    today = datetime.date.today().isoformat()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{today}, {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}, "
        f"load average {load}"
    )


def report(
    title: str,
    rows: Sequence[Row],
    facts: Mapping[str, Any],
    notes: Sequence[str],
    json_path: str | None,
) -> None:
    """Print the table (and the correctness facts under it); optionally write both as JSON
    for the smoke test."""
    print(f"## {title}\n")
    print(machine_line() + "\n")
    print(render_table(rows))
    if facts:
        print()
        for name, value in facts.items():
            print(f"- {name}: {value}")
    for note in notes:
        print(f"\n{note}")
    if json_path:
        document = {
            "title": title,
            "machine": machine_line(),
            "rows": [row.__dict__ for row in rows],
            "facts": dict(facts),
        }
        Path(json_path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--size",
        choices=("tiny", "full"),
        default="full",
        help="full: the sizes of issue 6 (default); tiny: seconds, for the smoke test",
    )
    parser.add_argument("--repeat", type=int, help="timed runs per measurement (median kept)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    return parser


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline > 0 else float("inf")


def workspace(keep: bool, prefix: str) -> tempfile.TemporaryDirectory[str] | _Kept:
    """A scratch folder for generated data; never inside the repository."""
    if keep:
        return _Kept(tempfile.mkdtemp(prefix=prefix))
    return tempfile.TemporaryDirectory(prefix=prefix)


class _Kept:
    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> str:
        print(f"generated files kept in {self.path}", file=sys.stderr)
        return self.path

    def __exit__(self, *exc: object) -> None:
        return None
