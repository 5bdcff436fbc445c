"""What every `songforge` command prints on failure and for warnings: `error: ...` and `warning: ...` lines on stderr."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterator

import typer

from songforge.errors import ParamsError


def fail(error: Exception) -> None:
    """Print the error (every problem of a params file, a line each) and exit 2."""
    for line in [str(one) for one in error.problems] if isinstance(error, ParamsError) else [str(error)]:
        typer.secho(f"error: {line}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@contextmanager
def warnings_echoed(category: type[Warning]) -> Iterator[None]:
    """Warnings of `category` raised inside, printed as `warning: ...` lines on stderr (others shown as usual)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", category)
        yield
    for warning in caught:
        if issubclass(warning.category, category):
            typer.secho(f"warning: {warning.message}", fg=typer.colors.YELLOW, err=True)
        else:  # not ours: shown as Python would have
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
