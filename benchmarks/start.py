"""Fast pre-commit start-up: the offline hook's command on one small file, against
`python -c pass`.

    .venv/bin/python benchmarks/start.py                # 20 runs of each, interleaved
    .venv/bin/python benchmarks/start.py --size tiny    # 3 runs of each: the smoke test

pre-commit calls the hook with the names of the files a commit touches, in the
repository's root. Two such calls: a manifest that mentions no plugin key (most commits),
and a values file with one plugin entry. A third run under `python -X importtime` lists
what each call imports: httpx, rich and anyio must not be among them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import (
    Measured,
    Row,
    base_parser,
    child_env,
    cli,
    expect_exit,
    interleaved,
    max_rss,
    median_wall,
    report,
    run_measured,
    workspace,
)

TARGET_SECONDS = 0.25
FORBIDDEN = ("httpx", "rich", "anyio")
HOOK = ("--format", "text", "--offline")  # the entry of the offline hook

MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout
  labels: {app.kubernetes.io/name: checkout}
spec:
  replicas: 2
  selector:
    matchLabels: {app.kubernetes.io/name: checkout}
  template:
    metadata:
      labels: {app.kubernetes.io/name: checkout}
    spec:
      containers:
        - name: checkout
          image: registry.example.org/checkout:1.4.2
          ports: [{containerPort: 8080, name: http}]
          resources:
            requests: {cpu: 100m, memory: 128Mi}
"""

VALUES = """# argo-rollouts chart values
controller:
  replicas: 2
  metrics:
    enabled: true
  trafficRouterPlugins:
    - name: argoproj-labs/gatewayAPI
      location: https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi/releases/download/v0.4.0/gatewayapi-plugin-linux-amd64
      sha256: "3f129e6a1ea948932f440b16dfb9eae636a065857eb27311928e5790593103c1"
dashboard:
  enabled: false
"""


def imported_modules(stderr: str) -> set[str]:
    """Top-level package names from `python -X importtime` output."""
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)\s*$", stderr, re.M)
    return {name.split(".")[0] for name in names}


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    times = args.repeat or (20 if args.size == "full" else 3)
    with workspace(args.keep, "bench-start-") as scratch_name:
        repo = Path(scratch_name) / "repo"
        repo.mkdir()
        (repo / "deployment.yaml").write_text(MANIFEST, encoding="utf-8")
        (repo / "values.yaml").write_text(VALUES, encoding="utf-8")
        if shutil.which("git"):
            subprocess.run(["git", "init", "-q"], cwd=repo, check=True, capture_output=True)
        env = child_env({"XDG_CACHE_HOME": str(Path(scratch_name) / "cache")})

        def python_pass() -> Measured:
            return expect_exit(run_measured([sys.executable, "-c", "pass"], repo, env), (0,),
                               "python -c pass")  # fmt: skip

        def hook(name: str) -> Measured:
            run = run_measured(cli(*HOOK, name), repo, env)
            return expect_exit(run, (0, 1), f"rollouts-plugin-lint {name}")

        # Warm-up: our bytecode is compiled, the interpreter's files are in the page cache.
        for name in ("deployment.yaml", "values.yaml"):
            hook(name)
        baseline, manifest, values = interleaved(
            (python_pass, lambda: hook("deployment.yaml"), lambda: hook("values.yaml")), times
        )
        imports = {}
        for name in ("deployment.yaml", "values.yaml"):
            traced = run_measured(
                [sys.executable, "-X", "importtime", "-m", "rollouts_plugin_lint", *HOOK, name],
                repo,
                env,
            )
            imports[name] = imported_modules(expect_exit(traced, (0, 1), "importtime").stderr)
        summary = values[-1].stdout.splitlines()[-1]

    base_s = median_wall(baseline)
    rows = [Row("start", "python -c pass", base_s, max_rss(baseline))]
    met_all = True
    for label, runs in (
        ("hook on a manifest without plugin keys", manifest),
        ("hook on a values file with one plugin entry", values),
    ):
        seconds = median_wall(runs)
        above = seconds - base_s
        met = above <= TARGET_SECONDS
        met_all = met_all and met
        rows.append(
            Row("start", label, seconds, max_rss(runs), f"+{above:.3f} s",
                f"<= +{TARGET_SECONDS} s", met)
        )  # fmt: skip
    forbidden = {name: sorted(set(FORBIDDEN) & modules) for name, modules in imports.items()}
    facts = {
        f"{', '.join(FORBIDDEN)} imported for {name}": ", ".join(found_) or "none"
        for name, found_ in forbidden.items()
    }
    for name, modules in imports.items():
        heavy = [module for module in ("ruamel", "jsonschema", "asyncio") if module in modules]
        facts[f"imported for {name}, of ruamel, jsonschema, asyncio"] = ", ".join(heavy) or "none"
    found = "(1 plugin entry in 1 file checked)" in summary
    facts["the values-file call found its plugin entry"] = found
    facts["repeats (median kept)"] = times
    report("start: the offline pre-commit hook on one small file", rows, facts, [], args.json)
    clean = not any(forbidden.values()) and found
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
