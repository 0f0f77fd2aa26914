#!/usr/bin/env python3
"""Regenerate src/rollouts_plugin_lint/data/chart_versions.json: every release of the
`argo-rollouts` Helm chart and the controller version (`appVersion`) it ships.

    python3 scripts/chart_versions.py /path/to/argo-helm \
        > src/rollouts_plugin_lint/data/chart_versions.json

The argument is a clone (or bare mirror) of https://github.com/argoproj/argo-helm with full
history. Every commit that changed `version:` in charts/argo-rollouts/Chart.yaml is a chart
release; its `appVersion:` at that commit is the controller the release ships. Standard
library and git plumbing only; git runs without any system or global configuration.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

CHART_YAML = "charts/argo-rollouts/Chart.yaml"
SOURCE = "https://github.com/argoproj/argo-helm"
_TOP_LEVEL = re.compile(r"^(version|appVersion):\s*[\"']?([^\"'#\s]+)[\"']?\s*(?:#.*)?$", re.M)


def _git(repo: str, *args: str) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
    }
    return subprocess.run(
        ["git", "-C", repo, "-c", "core.fsmonitor=false", "--no-pager", *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    ).stdout


def chart_releases(repo: str) -> dict[str, object]:
    head = _git(repo, "rev-parse", "HEAD").strip()
    commits = _git(repo, "rev-list", "--reverse", "--full-history", head, "--", CHART_YAML)
    releases: list[dict[str, str]] = []
    seen: set[str] = set()
    previous = None
    for commit in commits.split():
        try:
            text = _git(repo, "cat-file", "blob", f"{commit}:{CHART_YAML}")
        except subprocess.CalledProcessError:
            continue  # the file was deleted at this commit
        fields = dict(_TOP_LEVEL.findall(text))
        version = fields.get("version")
        if version is None or version == previous:
            continue
        previous = version
        if version in seen:
            continue  # a revert to an already released version
        seen.add(version)
        releases.append(
            {"chart": version, "appVersion": fields.get("appVersion", ""), "commit": commit}
        )
    return {
        "source": SOURCE,
        "path": CHART_YAML,
        "commit": head,
        "generated_by": "scripts/chart_versions.py",
        "charts": releases,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} ARGO_HELM_CLONE", file=sys.stderr)
        return 2
    json.dump(chart_releases(argv[1]), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
