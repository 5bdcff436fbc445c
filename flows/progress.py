"""A hook the CLI sets to hear about finished stages (drives its progress bar), and console quiet for failures."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Protocol


class Listener(Protocol):
    def __call__(self, song: str, stage: str, failed: str | None = None) -> None:
        """A stage of `song` finished, cached or not; `failed`: why the song failed, on its first failed stage."""


listener: ContextVar[Listener | None] = ContextVar("songforge_progress", default=None)


def stage_done(song: str, stage: str, failed: str | None = None) -> None:
    if (hear := listener.get()) is not None:
        hear(song, stage, failed)


class _NoTaskStates(logging.Filter):
    """Drops Prefect's 'Task run ... Finished in state ...' lines: one per stage downstream of a failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("prefect.task_runs") and "Finished in state" in record.getMessage())


@contextmanager
def task_states_off_the_console() -> Iterator[None]:
    """While the CLI prints one line per failed song itself, keep Prefect's per-task state lines off the
    console; they still reach the run's logs in the Prefect UI."""
    from prefect.logging.handlers import PrefectConsoleHandler

    quiet = _NoTaskStates()
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)
