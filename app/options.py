"""Typer options made from a params model's fields: the field is the one definition of its option's type (a
Literal's values as choices), default, range and help, and a bad value gets a params file's error line.

    @yue_app.command("stage2")
    @options_from(Stage2Params, ("model", "compat", "batch_size", "dtype"))
    def stage2_command(vtrack: Path = typer.Argument(...), **settings) -> None:
        params = parsed(Stage2Params, settings)

The options are appended to the command's signature (`__signature__`, which typer reads); typer then passes
them as keyword arguments named after the fields.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Optional, TypeVar, get_args, get_origin

import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from songforge.errors import ParamsError
from songforge.problems import validation_problems

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)
_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def option_name(field: str) -> str:
    """'low_band_hz' -> '--low-band-hz'."""
    return "--" + field.replace("_", "-")


def options_from(model: type[BaseModel], fields: Sequence[str], aliases: Mapping[str, str] | None = None,
                 unset_keeps: str | None = None) -> Callable[[F], F]:
    """Decorator: the command also takes `fields` of `model` as options, as keyword arguments named after them.

    aliases: field -> an older option name that still works (e.g. codec_model -> '--codec').
    unset_keeps: the options default to None, meaning "keep what `unset_keeps` says" (e.g. "the song's value"):
    for overrides of values read from a file; pass only the ones given on to the model.
    """
    def decorate(command: F) -> F:
        signature = inspect.signature(command)
        kept = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        added = [_parameter(name, model.model_fields[name], (aliases or {}).get(name), unset_keeps) for name in fields]
        command.__signature__ = signature.replace(parameters=kept + added)  # type: ignore[attr-defined]
        return command

    return decorate


def parsed(model: type[M], values: Mapping[str, Any]) -> M:
    """`values` (options named after fields) validated by `model`; a ParamsError naming each bad option otherwise,
    worded as a params file's errors are."""
    try:
        return model.model_validate(plain(values))
    except ValidationError as error:
        fixes = {name: f"give {option_name(name)} a value it accepts ({info.description})"
                 for name, info in model.model_fields.items() if info.description}
        problems = validation_problems(error, fixes)
        raise ParamsError.all_of([ParamsError(option_name(p.field), p.problem, p.fix) for p in problems]) from None


def plain(values: Mapping[str, Any]) -> dict[str, Any]:
    """Options as typer passes them, a choice (an Enum member) as its value."""
    return {name: value.value if isinstance(value, enum.Enum) else value for name, value in values.items()}


def given(values: Mapping[str, Any]) -> dict[str, Any]:
    """The options of an `unset_keeps` command that were given (not None)."""
    return {name: value for name, value in plain(values).items() if value is not None}


def _parameter(name: str, info: FieldInfo, alias: str | None, unset_keeps: str | None) -> inspect.Parameter:
    kind, default = _cli_type(name, info.annotation), info.get_default()
    if isinstance(kind, type) and issubclass(kind, enum.Enum) and default is not None:
        default = kind(default)
    help_text = " ".join(part for part in (info.description, _range(info)) if part)
    if unset_keeps is not None:
        kind, default, help_text = Optional[kind], None, f"{help_text} (default: {unset_keeps})"
    names = (option_name(name), alias) if alias else ()  # none: typer's own (--rescale/--no-rescale for a bool)
    option = typer.Option(default, *names, help=help_text, show_default=unset_keeps is None)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)


def _cli_type(name: str, annotation: Any) -> Any:
    """The option's type: a Literal's values as an Enum (typer shows and checks them as choices, as every typer
    this project allows does; Literal itself only recent ones); int | None as Optional[int]."""
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    if get_origin(annotation) is Literal:
        return enum.Enum(name, {str(value): value for value in args}, type=str)
    if len(args) == 1 and type(None) in get_args(annotation):
        return Optional[_cli_type(name, args[0])]
    return annotation


def _range(info: FieldInfo) -> str:
    """'(x > 0, x <= 5)' from a field's bounds (pydantic's gt/ge/lt/le), '' without any. Not in square brackets:
    typer's help would read them as markup."""
    bounds = [f"x {sign} {getattr(rule, key)}" for rule in info.metadata for key, sign in _BOUNDS
              if getattr(rule, key, None) is not None]
    return f"({', '.join(bounds)})" if bounds else ""
