"""Resource bombs: every one is a real file in a real run of the CLI, in its own process,
under a wall-clock limit and with its peak memory measured. Each must end in a report with
a clear finding for the bomb, and a good file in the same run must still be checked.

(An alias bomb inside one plugin entry is tests/test_extract.py's
`test_alias_bomb_inside_an_entry_is_bounded`; these are the other places a bomb can sit.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.helpers import Outcome, run_cli

# Seconds before the run is killed: it bounds a hang, not speed (a loaded 2-core machine is
# several times slower than an idle one; benchmarks/ measures speed).
TIME_LIMIT = 180.0
MEMORY_LIMIT = 1024**3  # bytes of peak resident memory
GOOD = (
    "controller:\n  trafficRouterPlugins:\n    - name: acme/good\n"
    "      location: https://plugins.acme.io/good-darwin-arm64\n"
)
DEPTH = 10_000


def _laughs(prefix: str, levels: int = 30, fan: int = 9) -> list[str]:
    """`levels` anchors, each a list of `fan` aliases of the one before: fan**levels nodes
    once expanded (9**29, about 10**27), in a few kilobytes."""
    lines = [f'{prefix}0: &{prefix}0 ["lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*{prefix}{level - 1}"] * fan)
        lines.append(f"{prefix}{level}: &{prefix}{level} [{refs}]")
    return lines


def laughs_around_a_plugin_list() -> str:
    return "\n".join(
        [
            *_laughs("a"),
            "controller:",
            "  trafficRouterPlugins:",
            "    - name: acme/bomb",
            "      location: https://plugins.acme.io/bomb-darwin-arm64",
            "  metricProviderPlugins: *a29",
            "",
        ]
    )


def laughs_inside_a_configmap_string() -> str:
    items = ["- &a0 {name: acme/bomb, location: https://plugins.acme.io/bomb-darwin-arm64}"]
    items += [f"- &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 30)]
    items.append("- *a29")
    block = "".join(f"    {item}\n" for item in items)
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\n"
        f"data:\n  trafficRouterPlugins: |\n{block}"
    )


def merge_key_bomb() -> str:
    """`<<` merges nine copies of the mapping before, thirty levels deep."""
    lines = ["m0: &m0 {k0: v}"]
    for level in range(1, 30):
        refs = ", ".join([f"*m{level - 1}"] * 9)
        lines.append(f"m{level}: &m{level} {{<<: [{refs}], k{level}: v}}")
    lines += [
        "controller:",
        "  trafficRouterPlugins:",
        "    - <<: *m29",
        "      name: acme/bomb",
        "      location: https://plugins.acme.io/bomb-darwin-arm64",
        "",
    ]
    return "\n".join(lines)


def deep_flow_sequences() -> str:
    return f"controller:\n  trafficRouterPlugins: {'[' * DEPTH}{']' * DEPTH}\n"


def deep_flow_mappings() -> str:
    return f"controller:\n  trafficRouterPlugins: {'{a: ' * DEPTH}b{'}' * DEPTH}\n"


def deep_block_sequences() -> str:
    """`- - - ... x`: block sequences nested 10,000 deep on one line (the indented form would
    be 100 MB)."""
    return f"controller:\n  trafficRouterPlugins:\n    {'- ' * DEPTH}x\n"


def deep_inside_a_configmap_string() -> str:
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argo-rollouts-config\n"
        f"data:\n  stepPlugins: |\n    {'[' * DEPTH}{']' * DEPTH}\n"
    )


def deep_inside_an_argocd_values_string() -> str:
    return (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    helm:\n"
        "      values: |\n        controller:\n"
        f"          trafficRouterPlugins: {'{a: ' * DEPTH}b{'}' * DEPTH}\n"
    )


def run_bomb(tmp_path: Path, bomb: str | bytes, *extra: str) -> tuple[Outcome, dict[str, Any]]:
    project = tmp_path / "project"
    project.mkdir()
    data = bomb.encode() if isinstance(bomb, str) else bomb
    (project / "bomb.yaml").write_bytes(data)
    (project / "good.yaml").write_text(GOOD, encoding="utf-8")
    outcome = run_cli(
        ["--offline", "--no-cache", "--format", "json", *extra, "."], project, limit=TIME_LIMIT
    )
    assert outcome.code is not None, f"killed: still running after {TIME_LIMIT:.0f} s"
    outcome.assert_report()
    assert outcome.peak_rss < MEMORY_LIMIT, f"peak memory {outcome.peak_rss / 1024**2:.0f} MiB"
    report = json.loads(outcome.out)
    good = [f["rule"] for f in report["findings"] if f["path"] == "good.yaml"]
    assert "platform-mismatch" in good, "the good file beside the bomb was not checked"
    assert report["files"] == 2
    return outcome, report


def findings_in_bomb(report: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [
        (f["rule"], f["plugin"], f["message"])
        for f in report["findings"]
        if f["path"] == "bomb.yaml"
    ]


ALIAS_BOMBS: dict[str, tuple[Callable[[], str], str, str]] = {
    # name: (the file, a rule it must get, words of that finding's message)
    "laughs-around-a-plugin-list": (laughs_around_a_plugin_list, "plugin-list-shape", "a list"),
    "laughs-in-a-configmap-string": (
        laughs_inside_a_configmap_string,
        "plugin-list-shape",
        "a list",
    ),
    "merge-key-bomb": (merge_key_bomb, "schema", "expands to more than 10,000 nodes"),
}


@pytest.mark.parametrize("name", list(ALIAS_BOMBS))
def test_alias_expansion_is_never_expanded(tmp_path: Path, name: str) -> None:
    make, rule, words = ALIAS_BOMBS[name]
    _, report = run_bomb(tmp_path, make())
    found = findings_in_bomb(report)
    assert any(r == rule and words in message for r, _, message in found), found
    # The entry beside the bomb is still read and judged.
    assert ("platform-mismatch", "acme/bomb") in {(r, p) for r, p, _ in found}, found


DEEP_BOMBS: dict[str, Callable[[], str]] = {
    "flow-sequences": deep_flow_sequences,
    "flow-mappings": deep_flow_mappings,
    "block-sequences": deep_block_sequences,
    "in-a-configmap-string": deep_inside_a_configmap_string,
    "in-an-argocd-values-string": deep_inside_an_argocd_values_string,
}


@pytest.mark.parametrize("name", list(DEEP_BOMBS))
def test_ten_thousand_deep_nesting(tmp_path: Path, name: str) -> None:
    _, report = run_bomb(tmp_path, DEEP_BOMBS[name]())
    found = findings_in_bomb(report)
    assert [(rule, "too deep" in message) for rule, _, message in found] == [
        ("yaml-syntax", True)
    ], found


def test_a_50_mb_single_line(tmp_path: Path) -> None:
    location = "https://plugins.acme.io/" + "x" * (50 * 1024 * 1024)
    bomb = f"controller: {{trafficRouterPlugins: [{{name: acme/bomb, location: {location}}}]}}\n"
    _, report = run_bomb(tmp_path, bomb)
    found = findings_in_bomb(report)
    assert [(rule, "larger than 8 MiB" in message) for rule, _, message in found] == [
        ("skipped-file", True)
    ]


def test_a_line_just_under_the_size_cap_is_parsed(tmp_path: Path) -> None:
    """The largest file that is parsed at all: one 8 MiB line with two bad values on it."""
    half = (8 * 1024 * 1024 - 300) // 2
    bomb = (
        "controller: {trafficRouterPlugins: [{name: acme/bomb, "
        f"location: https://plugins.acme.io/{'x' * half}-darwin-arm64, "
        f"pluginLocation: {'y' * half}}}]}}\n"
    )
    assert len(bomb) < 8 * 1024 * 1024
    _, report = run_bomb(tmp_path, bomb)
    rules = {rule for rule, _, _ in findings_in_bomb(report)}
    assert {"platform-mismatch", "unknown-field"} <= rules


def test_a_hundred_thousand_plugin_entries(tmp_path: Path) -> None:
    count = 100_000
    entries = "".join(
        f"    - {{name: acme/p{i}, location: https://plugins.acme.io/p{i}-darwin-arm64}}\n"
        for i in range(count)
    )
    bomb = f"controller:\n  trafficRouterPlugins:\n{entries}"
    assert len(bomb) < 8 * 1024 * 1024  # under the size cap: it is parsed
    _, report = run_bomb(tmp_path, bomb)
    checked = sum(1 for plugin in report["plugins"] if plugin["path"] == "bomb.yaml")
    found = findings_in_bomb(report)
    # Every entry is checked, or one finding says clearly what was not.
    assert checked == count or any(
        rule in ("skipped-file", "yaml-syntax") and "not" in message for rule, _, message in found
    )


def test_a_stream_of_ten_thousand_documents(tmp_path: Path) -> None:
    count = 10_000
    documents = "".join(
        f"---\ncontroller:\n  trafficRouterPlugins:\n    - name: acme/p{i}\n"
        f"      location: file:///plugins/p{i}\n"
        for i in range(count)
    )
    _, report = run_bomb(tmp_path, documents + "---\n" + GOOD.replace("good", "last"))
    notes = [p for rule, p, _ in findings_in_bomb(report) if rule == "file-location"]
    assert len(notes) == count  # every document is read, none is lost
    last = [p for rule, p, _ in findings_in_bomb(report) if rule == "platform-mismatch"]
    assert last == ["acme/last"]


def test_eight_mib_of_key_heads_before_a_plugin_list(tmp_path: Path) -> None:
    """The prefilter's old `(?i)(?:...|step|...)[a-z]*plugin` retried its unbounded gap from
    every `step` of a run of letters: quadratic, 31 s for 80 KB, years for 8 MiB."""
    tail = (
        "\ncontroller:\n  trafficRouterPlugins:\n    - name: acme/bomb\n"
        "      location: https://plugins.acme.io/bomb-darwin-arm64\n"
    )
    heads = "step" * ((8 * 1024 * 1024 - 64 - len(tail)) // 4)
    outcome, report = run_bomb(tmp_path, f"heads: {heads}{tail}")
    print(f"8 MiB of `step` before a plugin list: {outcome.seconds:.1f} s")
    assert ("platform-mismatch", "acme/bomb") in {(r, p) for r, p, _ in findings_in_bomb(report)}


def test_an_entry_with_ten_thousand_keys_of_its_own_is_no_merge_bomb(tmp_path: Path) -> None:
    """The merge budget counts what `<<` brings: an entry's own keys, however many, were
    counted too, and the run ended in a traceback looking for the `<<` to blame."""
    keys = "".join(f"      k{number}: 1\n" for number in range(10_001))
    bomb = (
        "controller:\n  trafficRouterPlugins:\n    - name: acme/bomb\n"
        "      location: https://plugins.acme.io/bomb-darwin-arm64\n" + keys
    )
    _, report = run_bomb(tmp_path, bomb)
    found = findings_in_bomb(report)
    assert ("platform-mismatch", "acme/bomb") in {(r, p) for r, p, _ in found}, found
    assert sum(rule == "unknown-field" for rule, _, _ in found) == 10_001
