"""Project errors: every message names where the problem is and how to fix it."""

from __future__ import annotations


class SongforgeError(Exception):
    """Base class for errors a user can act on."""


class ParamsError(SongforgeError):
    """Bad input in a params file or argument: names the file, the field and the fix."""

    def __init__(self, field: str, problem: str, fix: str, source: str | None = None):
        self.field, self.problem, self.fix, self.source = field, problem, fix, source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{field}: {problem}. Fix: {fix}")

    def located(self, source: str, prefix: str = "") -> "ParamsError":
        """The same error, placed in a file and under a parent field."""
        field = f"{prefix}.{self.field}" if prefix else self.field
        return ParamsError(field, self.problem, self.fix, source)


class EngineError(SongforgeError):
    """An engine could not produce audio (missing weights, bad params for this engine)."""


class AudioError(SongforgeError):
    """An audio file is missing, unreadable, or unusable for the step asked of it."""
