"""`--list-rules` and `--explain RULE`: the rule table and one rule's documentation, as
text for a terminal. Reads rules.py only, so it answers without importing any stage."""

from __future__ import annotations

import difflib
import textwrap

from rollouts_plugin_lint.rules import RULES

_WIDTH = 88


def list_rules() -> str:
    """One line per rule: id, default severity, `fix` when --fix has a fix for it (`fix*`:
    some of its fixes need --unsafe-fixes), summary."""
    width = max(len(rule_id) for rule_id in RULES)
    lines = [
        f"{rule.id:<{width}}  {rule.severity.value:<7}  {_fixable(rule.autofix)}  {rule.summary}"
        for rule in RULES.values()
    ]
    return "\n".join(lines) + "\n"


def _fixable(autofix: str | None) -> str:
    """The --list-rules column: whether --fix has a fix for the rule, and of which kind."""
    if autofix is None:
        return "     "
    return "fix  " if "unsafe" not in autofix else "fix* "


def explain_rule(rule_id: str) -> str:
    """The rule's documentation, an example that triggers it and its fix. An unknown id
    raises KeyError with a one-line message that suggests the closest id."""
    rule = RULES.get(rule_id.strip())
    if rule is None:
        close = difflib.get_close_matches(rule_id.strip(), list(RULES), n=1)
        suggestion = f"did you mean `{close[0]}`?" if close else "see --list-rules"
        raise KeyError(f"unknown rule `{rule_id}`; {suggestion}")
    sections = [
        f"{rule.id} ({rule.severity.value} by default): {rule.summary}",
        textwrap.fill(rule.help, _WIDTH),
    ]
    if rule.network:
        sections.append(
            textwrap.fill(
                "Network trouble, not misconfiguration: --lenient reports it as a warning.",
                _WIDTH,
            )
        )
    sections.append("Example:\n" + textwrap.indent(rule.example, "    "))
    sections.append(textwrap.fill(f"Fix: {rule.fix}", _WIDTH))
    automatic = rule.autofix or "none; --fix leaves this finding to you."
    sections.append(
        textwrap.fill(f"Automatic fix (--fix): {automatic}", _WIDTH, break_on_hyphens=False)
    )
    sections.append(
        textwrap.fill(
            f"Change its severity with `severity: {{{rule.id}: warning}}` in the config, "
            f"or leave it out with --ignore {rule.id}. Silence it on one line with:",
            _WIDTH,
        )
        + f"\n    # rollouts-plugin-lint: disable={rule.id}"
    )
    return "\n\n".join(sections) + "\n"
