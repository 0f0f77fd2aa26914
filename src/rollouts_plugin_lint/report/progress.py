"""A download progress display on a terminal (rich), silent everywhere else: one bar per
location, labelled by the plugin's name, with the size received, the speed and the time left."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rollouts_plugin_lint.model import DownloadProgress
from rollouts_plugin_lint.printable import printable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

DESCRIPTION_LIMIT = 48


@contextlib.contextmanager
def terminal_progress(
    enabled: bool, console: Console | None = None
) -> Iterator[DownloadProgress | None]:
    """Yields a progress display when `enabled` and the console (default: stderr) is a
    terminal, else None. rich is imported only here, and only then."""
    if not (enabled and (console is not None or sys.stderr.isatty())):
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=True,
    ) as bar:
        yield _Bars(bar)


class _Bars:
    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._plugins: dict[str, str] = {}  # by location
        self._tasks: dict[str, TaskID] = {}

    def label(self, url: str, plugin: str | None) -> None:
        if plugin:  # entries sharing a location share one download: the first name shows
            self._plugins.setdefault(url, plugin)

    def __call__(self, url: str, received: int, total: int | None) -> None:
        if url not in self._tasks:
            from rich.markup import escape

            # Names and URLs are the pull request's: their rich markup (`[link=...]`,
            # `[blink]`) and control characters are shown, never obeyed.
            name = self._plugins.get(url) or urlsplit(url).path.rsplit("/", 1)[-1] or url
            description = escape(printable(name, DESCRIPTION_LIMIT))
            self._tasks[url] = self._bar.add_task(description, total=total)
        self._bar.update(self._tasks[url], completed=received, total=total)
