"""One rich progress bar on stderr, silent when stderr is not a terminal or when asked.

Results go to stdout; progress never does, so `--json` output stays machine-readable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Bar:
    """A handle on one progress bar: ``advance`` it, and ``set_total`` once the work is counted.

    A bar made with ``progress=None`` draws nothing, so library code can call it unconditionally.
    """

    def __init__(
        self, progress: Progress | None = None, task: TaskID | None = None, unit: str = "items"
    ) -> None:
        self._progress = progress
        self._task = task
        self._unit = unit

    def set_total(self, total: int | None) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total)

    def advance(self, n: int = 1) -> None:
        if self._progress is None or self._task is None:
            return
        self._progress.advance(self._task, n)
        speed = self._progress.tasks[self._task].speed
        if speed:
            self._progress.update(self._task, rate=f"{speed:,.1f} {self._unit}/s")


@contextmanager
def progress_bar(
    description: str, total: int | None = None, *, quiet: bool = False, unit: str = "items"
) -> Iterator[Bar]:
    """Show a progress bar while the block runs.

    Args:
        description: what is being done, shown left of the bar.
        total: the number of steps, or None until ``Bar.set_total`` says.
        quiet: never draw anything.
        unit: the name of a step, shown with the rate.
    """
    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield Bar()
        return
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(description, total=total, rate="")
        yield Bar(progress, task, unit)
