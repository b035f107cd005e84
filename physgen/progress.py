"""Rich progress bars with a rate column, shared by every long-running command: one per unit of
work (events, steps)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

__all__ = ["event_progress"]


class _RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "ev")
        if not speed:
            return Text(f"– {unit}/s", style="progress.data.speed")
        shown = f"{speed:,.0f}" if speed >= 100 else f"{speed:.1f}" if speed >= 1 else f"{speed:.2g}"
        return Text(f"{shown} {unit}/s", style="progress.data.speed")


def _bar() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
                    TimeRemainingColumn(), transient=False)


@contextmanager
def event_progress(description: str, total: int, completed: int = 0, *, enabled: bool = True,
                   unit: str = "ev") -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; shows a bar with count and rate (``unit``/s) when ``enabled``."""
    if not enabled:
        yield lambda n: None
        return
    with _bar() as progress:
        task = progress.add_task(description, total=total, completed=completed, unit=unit)
        yield lambda n: progress.advance(task, n)
        progress.update(task, completed=total)  # a finished command shows a full bar
