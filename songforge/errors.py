"""Project errors: every message names where the problem is and how to fix it."""

from __future__ import annotations


class SongforgeError(Exception):
    """Base class for errors a user can act on."""


MAX_FIELD_CHARS = 200
MAX_PROBLEM_CHARS = 1000


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


class ParamsError(SongforgeError):
    """Bad input in a params file or argument: names the file, the field and the fix."""

    def __init__(self, field: str, problem: str, fix: str, source: str | None = None):
        # A field or problem quoting input (a YAML key, a value) never echoes more than an excerpt of it.
        field, problem = _clip(field, MAX_FIELD_CHARS), _clip(problem, MAX_PROBLEM_CHARS)
        self.field, self.problem, self.fix, self.source = field, problem, fix, source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{field}: {problem}. Fix: {fix}")

    @property
    def problems(self) -> tuple["ParamsError", ...]:
        """Every problem this error reports, one line each (just itself unless made by `all_of`)."""
        return getattr(self, "_problems", (self,))

    @classmethod
    def all_of(cls, problems: "list[ParamsError]") -> "ParamsError":
        """One error reporting every problem of a file, a line each; field, problem and fix are the first's."""
        flat = [one for error in problems for one in error.problems]
        first = flat[0]
        error = cls(first.field, first.problem, first.fix, first.source)
        if len(flat) > 1:
            error._problems = tuple(flat)
            error.args = ("\n".join(str(one) for one in flat),)
        return error

    def located(self, source: str, prefix: str = "") -> "ParamsError":
        """The same error (every problem of it), placed in a file and under a parent field."""
        if len(self.problems) > 1:
            return ParamsError.all_of([one.located(source, prefix) for one in self.problems])
        field = f"{prefix}.{self.field}" if prefix else self.field
        return ParamsError(field, self.problem, self.fix, source)


class EngineError(SongforgeError):
    """An engine could not produce audio (missing weights, bad params for this engine)."""


class AudioError(SongforgeError):
    """An audio file is missing, unreadable, or unusable for the step asked of it."""
