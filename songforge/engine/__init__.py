"""Engines turn a song spec into stems: `generate(song, params, seed) -> Stems`."""

from .base import Engine, Stems
from .registry import available_engines, get_engine

__all__ = ["Engine", "Stems", "available_engines", "get_engine"]
