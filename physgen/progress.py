"""Rich progress bars with a rate column, shared by every long-running command: one per unit of
work (events, steps) or per dask task of the computations inside a block."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dask.callbacks import Callback
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

__all__ = ["dask_progress", "event_progress"]


class _RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "ev")
        return Text(f"{speed:,.0f} {unit}/s" if speed else f"– {unit}/s", style="progress.data.speed")


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


class _TaskCallback(Callback):
    """Advance a progress bar by one per finished dask task (local schedulers)."""

    def __init__(self, advance: Callable[[int], None], on_start: Callable[[int], None]):
        super().__init__()
        self._advance, self._on_start = advance, on_start

    def _start_state(self, dsk, state):
        self._on_start(len(state["ready"]) + len(state["waiting"]) + len(state["finished"]) + len(state["running"]))

    def _posttask(self, key, result, dsk, state, worker_id):
        self._advance(1)


@contextmanager
def dask_progress(description: str, enabled: bool = True) -> Iterator[None]:
    """A bar over the tasks of every dask computation inside the block (local schedulers)."""
    if not enabled:
        yield
        return
    with _bar() as progress:
        task = progress.add_task(description, total=None, unit="task")

        def start(total: int) -> None:
            progress.update(task, total=total, completed=0)

        with _TaskCallback(lambda n: progress.advance(task, n), start):
            yield
