"""Engines by name. Engines import lazily so that listing them loads no model code."""

from __future__ import annotations

from importlib import import_module

from ..errors import ParamsError
from .base import Engine

_ENGINES = {
    "sketch": "songforge.engine.sketch.engine:SketchEngine",
    "yue": "songforge.engine.yue.engine:YuEEngine",
}


def register_engine(name: str, target: str) -> None:
    """Add an engine as 'module:Class' (a plugin's, or a test's); songs name it as engine.name.

    Registration is per process: a worker on another host needs it registered there too.
    """
    _ENGINES[name] = target


def available_engines() -> list[str]:
    return sorted(_ENGINES)


def get_engine(name: str) -> Engine:
    """An engine instance by registry name; ParamsError naming the choices otherwise."""
    if name not in _ENGINES:
        raise ParamsError("engine.name", f"unknown engine '{name}'", f"use one of: {', '.join(available_engines())}")
    module, cls = _ENGINES[name].split(":")
    return getattr(import_module(module), cls)()
