"""Pydantic validation errors as ParamsErrors: every problem of a model, each with its field path, a fix and at
most a short excerpt of the input (never a whole value: a params file may hold a megabyte, lyrics a file's text)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from .errors import ParamsError
from .params_file import excerpt

# fields whose input is never quoted back: a key put there by mistake (base_url: in its user, password or query)
NOT_QUOTED = {"lyrics", "api_key_env", "base_url"}
T = TypeVar("T")


class FieldProblem(ValueError):
    """A ParamsError raised inside a validator, carried through pydantic as a ValueError so that pydantic goes
    on checking the model's other fields (any other exception stops validation at the first problem)."""

    def __init__(self, error: ParamsError):
        super().__init__(error.problem)
        self.error = error


def carried(check: Callable[[], T]) -> T:
    """check(), its ParamsError turned into a FieldProblem: for validators that call code raising ParamsError."""
    try:
        return check()
    except ParamsError as error:
        raise FieldProblem(error) from None


def validation_problems(error: ValidationError, fixes: Mapping[str, str], source: str | None = None,
                        prefix: str = "") -> list[ParamsError]:
    """Every error pydantic found, as a ParamsError under `prefix`; `fixes` maps a field name to its fix."""
    return [_problem(item, fixes, source, prefix) for item in error.errors()]


def field_path(loc: tuple | list) -> str:
    """('songs', 1, 'genre', 0) -> 'songs[1].genre[0]'."""
    return ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in loc).replace(".[", "[")


def _problem(item: Mapping[str, Any], fixes: Mapping[str, str], source: str | None, prefix: str) -> ParamsError:
    loc = tuple(item["loc"])
    inner = (item.get("ctx") or {}).get("error")
    if isinstance(inner, FieldProblem):  # the validator named the field (e.g. 'genre[1]') and the fix itself
        parent = field_path(loc[:-1])
        field = f"{parent}.{inner.error.field}" if parent else inner.error.field
        return ParamsError(_under(prefix, field), inner.error.problem, inner.error.fix, source)
    field = field_path(loc)
    name = next((str(part) for part in reversed(loc) if isinstance(part, str)), field)
    problem = item["msg"].removeprefix("Value error, ")
    if item["type"] == "missing":
        problem = "is required"
    elif "input" in item and item["type"] != "extra_forbidden" and name not in NOT_QUOTED:
        problem += f" (got {excerpt(item['input'])})"
    fix = fixes.get(name, "remove the field" if item["type"] == "extra_forbidden" else "correct the value")
    return ParamsError(_under(prefix, field), problem, fix, source)  # ParamsError clips a long problem


def _under(prefix: str, field: str) -> str:
    if not prefix:
        return field
    return f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}" if field else prefix
