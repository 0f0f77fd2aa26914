"""Which findings get one of the 10 annotations per level GitHub shows (report/github.py
`pick_annotations`): every plugin with an error gets one before any plugin gets two, and
errors that stop the controller come before the others. Real CLI runs on real files."""

from __future__ import annotations

from tests.conftest import SHA, Runner, at
from tests.test_report_github import runner_commands

GOOD = (
    "https://github.com/argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi/releases/"
    "download/v0.4.0/gatewayapi-plugin-linux-amd64"
)


def error_annotations(runner: Runner, path: str) -> list[tuple[str, int, int]]:
    _, out, _ = runner.run("--format", "github", "--offline", "--no-cache", path)
    return [
        (c.properties["title"].split(":")[0], int(c.properties["line"]), int(c.properties["col"]))
        for c in runner_commands(out)
        if c.name == "error"
    ]


def entry(name: str, *extra: str) -> str:
    lines = [f"    - name: {name}\n", f"      location: {GOOD}\n", f"      sha256: {SHA}\n"]
    return "".join(lines) + "".join(f"      {field}: 1\n" for field in extra)


def test_each_plugin_with_an_error_gets_one_before_any_gets_two(runner: Runner) -> None:
    # Twelve misspelled fields on the first plugin, one bad name on the second: ranked by
    # line alone, the second plugin's error would be the 13th and get no annotation.
    text = (
        "controller:\n  trafficRouterPlugins:\n"
        + entry("a/first", *(f"extra{i}" for i in range(12)))
        + entry("second")
    )
    runner.write("values.yaml", text)

    shown = error_annotations(runner, "values.yaml")

    assert len(shown) == 10
    assert ("name-format", *at(text, "second")) in shown
    assert shown.count(("unknown-field", *at(text, "extra0"))) == 1
    assert ("unknown-field", *at(text, "extra9")) not in shown  # the first plugin's 10th


def test_errors_that_stop_the_controller_come_before_the_others(runner: Runner) -> None:
    # Ten plugins with a field the controller drops (it starts fine without it), then one
    # whose name makes the controller refuse to start.
    text = (
        "controller:\n  trafficRouterPlugins:\n"
        + "".join(entry(f"a/p{i}", f"extra{i}") for i in range(10))
        + entry("bad")
    )
    runner.write("values.yaml", text)

    shown = error_annotations(runner, "values.yaml")

    assert len(shown) == 10
    assert ("name-format", *at(text, "bad")) in shown
    assert ("unknown-field", *at(text, "extra9")) not in shown
    # Written in file order, whatever the choice.
    assert shown == sorted(shown, key=lambda item: item[1:])
