"""A hook the CLI sets to hear about finished stages (drives its progress bar)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Callable

Listener = Callable[[str, str], None]
"""Called with (song title, stage name) each time a stage finishes, cached or not."""

listener: ContextVar[Listener | None] = ContextVar("songforge_progress", default=None)


def stage_done(song: str, stage: str) -> None:
    if (hear := listener.get()) is not None:
        hear(song, stage)
