"""Parallel downloads at flat memory: 4 binaries from a local server that sends each
connection at 25 MiB/s, against the same 4 downloaded one after another with httpx.

    .venv/bin/python benchmarks/fetch.py                 # 4 x 50 MiB
    .venv/bin/python benchmarks/fetch.py --file-mb 300   # 4 x 300 MiB: memory stays flat
    .venv/bin/python benchmarks/fetch.py --size tiny     # 4 x 2 MiB: the smoke test

Each timed run of ours starts with an empty cache, so every file is downloaded, hashed,
stored (fsync and rename) and inspected. Peak RSS is our process's own high-water mark.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _fetchkit import (
    FILES,
    SEQUENTIAL_HTTPX,
    add_workload_arguments,
    check_artifacts,
    file_size,
    make_binaries,
    serving,
    write_config,
)
from _harness import (
    MIB,
    Measured,
    Row,
    base_parser,
    child_env,
    cli,
    expect_exit,
    interleaved,
    max_rss,
    median_wall,
    ratio,
    report,
    run_measured,
    workspace,
)

TARGET_RATIO = 0.35
TARGET_RSS_MIB = 120


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    add_workload_arguments(parser)
    args = parser.parse_args(argv)
    size = file_size(args)
    times = args.repeat or (3 if args.size == "full" and size <= 100 * MIB else 1)
    with workspace(args.keep, "bench-fetch-") as scratch_name:
        scratch = Path(scratch_name)
        (scratch / "served").mkdir()
        binaries = make_binaries(scratch / "served", FILES, size)
        with serving(binaries, args.rate_mb * MIB) as server:
            config = write_config(scratch / "repo", server, binaries)
            env = child_env({"XDG_CACHE_HOME": str(scratch / "xdg-cache")})
            urls = [server.url(binary) for binary in binaries]
            problems: list[str] = []

            def sequential() -> Measured:
                target = Path(tempfile.mkdtemp(dir=scratch, prefix="sequential-"))
                command = [sys.executable, "-c", SEQUENTIAL_HTTPX, str(target), *urls]
                try:
                    return expect_exit(run_measured(command, scratch, env), (0,), "httpx")
                finally:
                    shutil.rmtree(target)

            def ours() -> Measured:
                cache = Path(tempfile.mkdtemp(dir=scratch, prefix="cache-"))
                command = cli("--allow-private-addresses", "--cache-dir", str(cache),
                              "--format", "json", ".")  # fmt: skip
                try:
                    run = run_measured(command, config.folder, env)
                    expect_exit(run, (0, 1), "rollouts-plugin-lint")
                    problems.extend(check_artifacts(json.loads(run.stdout), config))
                    return run
                finally:
                    shutil.rmtree(cache)

            # Warm-up: our bytecode is compiled and the served files are in the page cache.
            expect_exit(run_measured(cli("--offline", "--no-cache", "."), config.folder, env),
                        (0, 1), "rollouts-plugin-lint")  # fmt: skip
            sequential_runs, our_runs = interleaved((sequential, ours), times)
            server.take_log()

    sequential_s, our_s = median_wall(sequential_runs), median_wall(our_runs)
    speed = ratio(our_s, sequential_s)
    rss = max_rss(our_runs)
    label = f"{FILES} x {size // MIB} MiB at {args.rate_mb:g} MiB/s per connection"
    rows = [
        Row("fetch", f"sequential httpx, {label}", sequential_s, max_rss(sequential_runs)),
        Row("fetch", "ours, parallel, cold cache", our_s, rss, f"{speed:.2f}x sequential",
            f"<= {TARGET_RATIO}x", speed <= TARGET_RATIO),
        Row("fetch", "ours, peak RSS", None, rss, f"{rss / MIB:.0f} MB",
            f"< {TARGET_RSS_MIB} MB", rss < TARGET_RSS_MIB * MIB),
    ]  # fmt: skip
    ideal = size / (args.rate_mb * MIB)
    facts = {
        "files": FILES,
        "MiB each": size // MIB,
        "ideal parallel wall (s)": round(ideal, 3),
        "ideal ratio": round(ideal / sequential_s, 3) if sequential_s else None,
        "every download correct (sha256 of each file)": not problems,
        "repeats (median kept)": times,
    }
    report(f"fetch: {label}", rows, facts, problems[:5], args.json)
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
