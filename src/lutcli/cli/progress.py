"""Progress bars on stderr (rich), silenced by --quiet, so stdout stays for results."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

stderr = Console(stderr=True)


@contextlib.contextmanager
def progress_bar(quiet: bool) -> Iterator[Progress]:
    """A rich Progress on stderr; disabled (but still usable) with ``quiet``."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        disable=quiet,
        transient=False,
    )
    with progress:
        try:
            yield progress
        except Exception:
            # The error is to be the one line left to read: take the bar away (and skip the
            # blank line Progress.stop prints where stderr is not a terminal).
            progress.live.transient = True
            progress.live.stop()
            progress.disable = True
            raise


def warn(message: str) -> None:
    """A warning line on stderr (shown even with --quiet: it may matter to the result)."""
    stderr.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)
