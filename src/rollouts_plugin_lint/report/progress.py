"""A download progress display on a terminal (rich), silent everywhere else."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rollouts_plugin_lint.model import ProgressCallback
from rollouts_plugin_lint.printable import printable

if TYPE_CHECKING:
    from rich.console import Console

DESCRIPTION_LIMIT = 48


@contextlib.contextmanager
def terminal_progress(
    enabled: bool, console: Console | None = None
) -> Iterator[ProgressCallback | None]:
    """Yields a progress callback when `enabled` and the console (default: stderr) is a
    terminal, else None. rich is imported only here, and only then."""
    if not (enabled and (console is not None or sys.stderr.isatty())):
        yield None
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    tasks: dict[str, int] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        console=console or Console(stderr=True),
        transient=True,
    ) as bar:

        def update(url: str, received: int, total: int | None) -> None:
            if url not in tasks:
                # The URL is the pull request's: its rich markup (`[link=...]`, `[blink]`)
                # and control characters are shown, never obeyed.
                name = urlsplit(url).path.rsplit("/", 1)[-1] or url
                description = escape(printable(name, DESCRIPTION_LIMIT))
                tasks[url] = bar.add_task(description, total=total)
            bar.update(tasks[url], completed=received, total=total)

        yield update
