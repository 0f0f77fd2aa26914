"""Findings -> text, json, github, sarif. Reporters know nothing of how findings were made;
they write to the stream they are given."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from rollouts_plugin_lint.lint import LintResult
from rollouts_plugin_lint.report.github import write_github
from rollouts_plugin_lint.report.json_report import write_json
from rollouts_plugin_lint.report.proof import write_proof
from rollouts_plugin_lint.report.sarif import write_sarif
from rollouts_plugin_lint.report.text import write_text
from rollouts_plugin_lint.settings import Settings

Reporter = Callable[[LintResult, Settings, TextIO], None]

REPORTERS: dict[str, Reporter] = {
    "text": write_text,
    "json": write_json,
    "github": write_github,
    "sarif": write_sarif,
}


def write_report(result: LintResult, settings: Settings, stream: TextIO) -> None:
    """The report, once per run; with -v, what was proven about each plugin goes to stderr
    beside it, so no format's output changes."""
    write_proof(result, settings, sys.stderr)
    REPORTERS[settings.format](result, settings, stream)
