"""`--statistics`: how many findings each rule produced, like `ruff --statistics`."""

from __future__ import annotations

import json
from collections import Counter
from typing import TextIO

from rollouts_plugin_lint.lint import LintResult
from rollouts_plugin_lint.rules import RULES
from rollouts_plugin_lint.settings import Settings


def write_statistics(result: LintResult, settings: Settings, stream: TextIO) -> None:
    """A line per (rule, severity after the policy), most frequent first; a JSON list with
    `--format json`. Rule ids and summaries are ours, so nothing here needs escaping."""
    counts = Counter((finding.rule, finding.severity) for finding in result.findings)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0][1].rank, item[0][0]))
    if settings.format == "json":
        table = [
            {
                "rule": rule,
                "severity": severity.value,
                "count": count,
                "summary": RULES[rule].summary,
            }
            for (rule, severity), count in rows
        ]
        stream.write(json.dumps(table, indent=2) + "\n")
        return
    if not rows:
        stream.write("no findings\n")
        return
    digits = len(str(rows[0][1]))
    width = max(len(rule) for (rule, _), _ in rows)
    for (rule, severity), count in rows:
        stream.write(
            f"{count:>{digits}}  {rule:<{width}}  {severity.value:<7}  {RULES[rule].summary}\n"
        )
