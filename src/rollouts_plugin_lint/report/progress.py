"""A download progress display on a terminal (rich), silent everywhere else."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

from rollouts_plugin_lint.model import ProgressCallback


@contextlib.contextmanager
def terminal_progress(enabled: bool) -> Iterator[ProgressCallback | None]:
    """Yields a progress callback when stderr is a terminal and `enabled`, else None. rich
    is imported only here, and only then."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    tasks: dict[str, int] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:

        def update(url: str, received: int, total: int | None) -> None:
            if url not in tasks:
                name = urlsplit(url).path.rsplit("/", 1)[-1] or url
                tasks[url] = bar.add_task(name[:48], total=total)
            bar.update(tasks[url], completed=received, total=total)

        yield update
