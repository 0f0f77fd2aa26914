"""The download progress bars: one per location, labelled by the plugin's name (the URL's
last path segment when the entry has none), with the size received, the speed and the time
left. Rendered by rich to a terminal console, and shown by the real CLI on a real pty."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

from rich.console import Console

from rollouts_plugin_lint.report.progress import terminal_progress
from tests.hostile.helpers import start_cli
from tests.inspect_fixtures import elf_with_inline_buildinfo
from tests.servers import respond, serving

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def terminal() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=160), screen


def test_a_bar_is_labelled_by_its_plugin_with_size_and_time_left() -> None:
    console, screen = terminal()
    named = "https://github.com/o/r/releases/download/v1.0.0/plugin-linux-amd64"
    unnamed = "https://example.com/plugins/bare-linux-amd64?x=1"
    with terminal_progress(True, console) as progress:
        assert progress is not None
        progress.label(named, "argoproj-labs/gatewayAPI")
        progress.label(named, "second/entry")  # same location: the first name stays
        progress.label(unnamed, None)
        progress(named, 1_000_000, 4_000_000)
        progress(unnamed, 500, None)
        time.sleep(0.3)  # two samples apart in time give a speed, and so a time left
        progress(named, 2_000_000, 4_000_000)
    lines = [ANSI.sub("", line) for line in screen.getvalue().splitlines()]
    bar = next(line for line in reversed(lines) if "argoproj-labs/gatewayAPI" in line)
    assert "2.0/4.0 MB" in bar
    assert re.search(r"\d+(\.\d+)? [kM]?B/s", bar)
    assert re.search(r"\b0:00:\d\d\b", bar)  # the time left, not `-:--:--`
    assert "second/entry" not in screen.getvalue()
    assert any("bare-linux-amd64" in line and "500/? bytes" in line for line in lines)


def test_a_hostile_plugin_name_is_shown_never_obeyed() -> None:
    console, screen = terminal()
    url = "https://example.com/p"
    with terminal_progress(True, console) as progress:
        assert progress is not None
        progress.label(url, "[link=https://evil.example][blink]a/b\x1b[2J\x07")
        progress(url, 10, 100)
    shown = screen.getvalue()
    assert "\x1b]8;" not in shown and "\x1b[5m" not in shown and "\x1b[2J" not in shown
    assert "\x07" not in shown
    assert "[link=https://evil.example][blink]a/b\\x1b[2J\\x07" in shown


def test_the_cli_labels_its_bars_by_the_plugin_names(tmp_path: Path) -> None:
    """The real CLI with stderr on a pty, downloading from a loopback server: the bar says
    which plugin it is for, not only the file name of its URL."""
    body = elf_with_inline_buildinfo() + b"\0" * 200_000
    with serving(lambda conn, _request: respond(conn, 200, body)) as server:
        (tmp_path / "values.yaml").write_text(
            "controller:\n  trafficRouterPlugins:\n"
            "    - name: argoproj-labs/gatewayAPI\n"
            f"      location: {server.url('/download/plugin-linux-amd64')}\n",
            encoding="utf-8",
        )
        leader, follower = pty.openpty()
        env = {**os.environ, "TERM": "xterm", "COLUMNS": "160"}
        args = ["--allow-private-addresses", "--cache-dir", str(tmp_path / "cache"), "."]
        child = start_cli(args, tmp_path, env, stdout=subprocess.DEVNULL, stderr=follower)
        os.close(follower)
        shown = bytearray()
        deadline = time.monotonic() + 120  # bounds a hang only
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the child closed its end
                    break
                if not chunk:
                    break
                shown += chunk
            elif child.poll() is not None:
                break
        os.close(leader)
        child.kill()
        child.wait()
    text = ANSI.sub("", shown.decode("utf-8", "replace"))
    assert "argoproj-labs/gatewayAPI" in text, text[-2000:]
    assert "plugin-linux-amd64" not in text
